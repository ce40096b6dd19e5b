use super::*;
use std::collections::HashMap;

const CONFIG: &str = "\
# a comment
[default]
region = eu-west-1

[profile local]
region = us-west-2
services = local-kms
ca_bundle = /etc/kmsfs/ca.pem

[profile plain]
endpoint_url = http://127.0.0.1:4599
s3 =
  max_concurrent_requests = 10

[services local-kms]
kms =
  endpoint_url = https://127.0.0.1:4599
  ; a comment inside
";

const CREDENTIALS: &str = "\
[default]
aws_access_key_id = AKIADEFAULT
aws_secret_access_key = default-secret

[local]
aws_access_key_id=AKIALOCAL
aws_secret_access_key : local-secret
aws_session_token = token
";

fn files(dir: &Path) -> HashMap<String, String> {
    std::fs::write(dir.join("config"), CONFIG).unwrap();
    std::fs::write(dir.join("credentials"), CREDENTIALS).unwrap();
    let mut env = HashMap::new();
    env.insert(
        "AWS_CONFIG_FILE".into(),
        dir.join("config").display().to_string(),
    );
    env.insert(
        "AWS_SHARED_CREDENTIALS_FILE".into(),
        dir.join("credentials").display().to_string(),
    );
    env
}

fn resolve_with(env: &HashMap<String, String>, profile: Option<&str>) -> ClientSettings {
    resolve("kms", profile, &|k| env.get(k).cloned()).unwrap()
}

#[test]
fn parses_configparser_files_with_nested_sections() {
    let s = parse(CONFIG, "config").unwrap();
    assert_eq!(s["default"]["region"], Value::Text("eu-west-1".into()));
    let Value::Nested(n) = &s["services local-kms"]["kms"] else {
        panic!("nested section expected");
    };
    assert_eq!(n["endpoint_url"], "https://127.0.0.1:4599");
    assert!(matches!(&s["profile plain"]["s3"], Value::Nested(_)));
    let c = parse(CREDENTIALS, "credentials").unwrap();
    assert_eq!(
        c["local"]["aws_secret_access_key"],
        Value::Text("local-secret".into())
    );
    // Keys are case-insensitive; continuation lines of a text value are joined.
    let t = parse("[a]\nKey = one\n  two\n", "t").unwrap();
    assert_eq!(t["a"]["key"], Value::Text("one\ntwo".into()));
}

#[test]
fn bad_files_are_errors_with_the_line() {
    for (text, line) in [
        ("key = v\n", 1),
        ("[a\n", 1),
        ("[a]\n[a]\n", 2),
        ("[a]\nk = 1\nK = 2\n", 3),
        ("[a]\njust words\n", 2),
        ("[a]\n = v\n", 2),
        ("[a]\nk =\n  no equals sign\n", 3),
    ] {
        match parse(text, "f") {
            Err(AwsConfigError::Parse { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
            other => panic!("{text:?}: {other:?}"),
        }
    }
}

#[test]
fn explicit_profile_wins_over_the_environment() {
    let d = tempfile::tempdir().unwrap();
    let mut env = files(d.path());
    env.insert("AWS_ACCESS_KEY_ID".into(), "AKIAENV".into());
    env.insert("AWS_SECRET_ACCESS_KEY".into(), "env-secret".into());
    let s = resolve_with(&env, Some("local"));
    assert_eq!(s.access_key_id.as_deref(), Some("AKIALOCAL"));
    assert_eq!(
        s.secret_access_key.as_deref().map(String::as_str),
        Some("local-secret")
    );
    assert_eq!(
        s.session_token.as_deref().map(String::as_str),
        Some("token")
    );
    assert_eq!(s.region.as_deref(), Some("us-west-2"));
    assert_eq!(s.endpoint_url.as_deref(), Some("https://127.0.0.1:4599"));
    assert_eq!(s.ca_bundle.as_deref(), Some(Path::new("/etc/kmsfs/ca.pem")));
    // Without --profile the environment's key is used, the default profile's region.
    let s = resolve_with(&env, None);
    assert_eq!(s.access_key_id.as_deref(), Some("AKIAENV"));
    assert_eq!(s.region.as_deref(), Some("eu-west-1"));
    assert_eq!(s.endpoint_url, None);
    assert!(!format!("{s:?}").contains("secret"));
}

#[test]
fn environment_overrides_region_and_endpoint() {
    let d = tempfile::tempdir().unwrap();
    let mut env = files(d.path());
    env.insert("AWS_PROFILE".into(), "plain".into());
    let s = resolve_with(&env, None);
    assert_eq!(s.endpoint_url.as_deref(), Some("http://127.0.0.1:4599"));
    assert_eq!(
        s.access_key_id, None,
        "the plain profile has no credentials"
    );
    env.insert("AWS_ENDPOINT_URL".into(), "http://all".into());
    assert_eq!(
        resolve_with(&env, None).endpoint_url.as_deref(),
        Some("http://all")
    );
    env.insert("AWS_ENDPOINT_URL_KMS".into(), "http://kms".into());
    env.insert("AWS_REGION".into(), "ap-south-1".into());
    let s = resolve_with(&env, Some("local"));
    assert_eq!(s.endpoint_url.as_deref(), Some("http://kms"));
    assert_eq!(s.region.as_deref(), Some("ap-south-1"));
    env.remove("AWS_ENDPOINT_URL_KMS");
    env.remove("AWS_ENDPOINT_URL");
    env.insert("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS".into(), "true".into());
    assert_eq!(resolve_with(&env, Some("local")).endpoint_url, None);
}

#[test]
fn missing_profiles_and_services_are_errors() {
    let d = tempfile::tempdir().unwrap();
    let mut env = files(d.path());
    let r = resolve("kms", Some("nope"), &|k| env.get(k).cloned());
    assert!(matches!(r, Err(AwsConfigError::NoSuchProfile(p)) if p == "nope"));
    std::fs::write(d.path().join("config"), "[profile x]\nservices = gone\n").unwrap();
    let r = resolve("kms", Some("x"), &|k| env.get(k).cloned());
    assert!(matches!(r, Err(AwsConfigError::NoSuchServices { .. })));
    // No files at all: only the environment.
    env.insert(
        "AWS_CONFIG_FILE".into(),
        d.path().join("none").display().to_string(),
    );
    env.insert("AWS_SHARED_CREDENTIALS_FILE".into(), "/dev/null".into());
    let s = resolve("kms", None, &|k| env.get(k).cloned()).unwrap();
    assert!(s.profile.is_none() && s.access_key_id.is_none());
}
