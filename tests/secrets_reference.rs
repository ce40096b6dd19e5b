//! `/aws/reference/secretsmanager/<secret-id>`: Parameter Store reads a Secrets Manager
//! secret, through the CLI (`kmsfs ssm get-parameter`) and through a real `kmsfs serve`
//! with boto3's ssm client, as AWS allows: WithDecryption is required, a version stage or
//! id may be selected (`:AWSPREVIOUS`), a missing secret is ParameterNotFound, and both
//! services write their audit lines.

mod common;
use common::cli::{init, kmsfs, run_ok};
use common::serve::*;
use serde_json::Value;

const REF: &str = "/aws/reference/secretsmanager/app/db";

#[test]
fn get_parameter_reads_a_secret_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let home = init(dir.path());
    run_ok(
        &home,
        &[
            "secretsmanager",
            "create-secret",
            "--name",
            "app/db",
            "--secret-string",
            "first",
        ],
    );
    run_ok(
        &home,
        &[
            "secretsmanager",
            "put-secret-value",
            "--secret-id",
            "app/db",
            "--secret-string",
            "second",
        ],
    );
    let v = run_ok(
        &home,
        &["ssm", "get-parameter", "--name", REF, "--with-decryption"],
    );
    let p = &v["Parameter"];
    assert_eq!(p["Value"], "second", "{v}");
    assert_eq!(p["Type"], "SecureString");
    assert_eq!(p["Name"], REF);
    assert!(p["SourceResult"].is_string() || p["ARN"].is_string(), "{v}");
    let prev = run_ok(
        &home,
        &[
            "ssm",
            "get-parameter",
            "--name",
            &format!("{REF}:AWSPREVIOUS"),
            "--with-decryption",
        ],
    );
    assert_eq!(prev["Parameter"]["Value"], "first", "{prev}");
    // Without decryption: refused, as AWS does.
    let o = kmsfs(&home, &["ssm", "get-parameter", "--name", REF]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("WithDecryption"),
        "{o:?}"
    );
    // A secret that does not exist.
    let o = kmsfs(
        &home,
        &[
            "ssm",
            "get-parameter",
            "--name",
            "/aws/reference/secretsmanager/nope",
            "--with-decryption",
        ],
    );
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("ParameterNotFound"),
        "{o:?}"
    );
    // Both services wrote their lines.
    let trail = std::fs::read_to_string(home.join("kms").join("audit.log")).unwrap_or_default();
    let lines: Vec<Value> = trail
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let has = |src: &str, op: &str| {
        lines
            .iter()
            .any(|l| l["eventSource"] == src && l["operation"] == op)
    };
    assert!(has("ssm.amazonaws.com", "GetParameter"), "{trail}");
    assert!(
        has("secretsmanager.amazonaws.com", "GetSecretValue"),
        "{trail}"
    );
    assert!(
        !trail.contains("second") && !trail.contains("first\""),
        "no values in the trail"
    );
}

#[test]
fn boto3_reads_a_secret_through_get_parameter() {
    let Some(bin) = python_or_skip("boto3_reads_a_secret_through_get_parameter") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let home = init(dir.path());
    let srv = Server::start(&home, &[]);
    let script = r#"
import json, os, boto3, botocore
kw = dict(endpoint_url=os.environ["EP"], region_name="us-east-1")
sm = boto3.client("secretsmanager", **kw)
ssm = boto3.client("ssm", **kw)
sm.create_secret(Name="app/db", SecretString='{"password":"pw1"}')
r = ssm.get_parameter(Name="/aws/reference/secretsmanager/app/db", WithDecryption=True)
out = {"value": r["Parameter"]["Value"], "type": r["Parameter"]["Type"]}
try:
    ssm.get_parameter(Name="/aws/reference/secretsmanager/app/db")
    out["plain"] = "allowed"
except botocore.exceptions.ClientError as e:
    out["plain"] = e.response["Error"]["Code"]
print(json.dumps(out))
"#;
    let o = aws_tool(&bin, "python3", &srv.endpoint)
        .env("EP", &srv.endpoint)
        .args(["-c", script])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["value"], r#"{"password":"pw1"}"#, "{v}");
    assert_eq!(v["type"], "SecureString");
    assert_eq!(v["plain"], "ValidationException", "{v}");
    drop(srv);
}
