//! Real AWS clients against a real `kmsfs serve`: boto3 (every operation of the CLI tour,
//! error names as exceptions, paginators), the AWS CLI v1, and the AWS Encryption SDK
//! (pointed at the endpoint only by `AWS_ENDPOINT_URL_KMS`; its caching CMM's KMS calls
//! counted in the audit trail; with its own boto3 client, and the MPL keyring; 1 MiB and
//! 100 MiB messages). The clients come from the Python venv `.ci/run` makes.

mod common;
use common::cli::{init, run_ok};
use common::serve::*;
use std::path::{Path, PathBuf};

fn script(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

/// The venv's `bin/` (or `None`: the test is skipped, see [`python_or_skip`]), a temporary
/// directory and a home initialized in it.
fn setup(test: &str) -> Option<(PathBuf, tempfile::TempDir, PathBuf)> {
    let bin = python_or_skip(test)?;
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    Some((bin, d, home))
}

#[test]
fn boto3_tour() {
    let Some((bin, _dir, home)) = setup("boto3_tour") else {
        return;
    };
    let s = Server::start(&home, &[]);
    let o = aws_tool(&bin, "python3", &s.endpoint)
        .arg(script("boto3_tour.py"))
        .output()
        .unwrap();
    let out = check(&o, "boto3_tour.py");
    assert!(out.contains("boto3 tour: all ok"), "{out}");
    s.stop();
    // Every request is in the trail under the access key's principal, and it verifies.
    run_ok(&home, &["audit", "verify"]);
    let n = audit_lines(&home, &["--principal", "arn:aws:iam::111122223333:root"]);
    assert!(n > 30, "{n} audit lines of the access key's principal");
}

#[test]
fn aws_cli_round_trip() {
    let Some((bin, d, home)) = setup("aws_cli_round_trip") else {
        return;
    };
    let s = Server::start(&home, &[]);
    let aws = |args: &[&str]| aws_json(&bin, &s.endpoint, args);
    let key = aws(&["kms", "create-key", "--description", "cli"]);
    let id = key["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    let pt = d.path().join("pt");
    std::fs::write(&pt, b"hello from the aws cli").unwrap();
    let fileb = format!("fileb://{}", pt.display());
    let ct = aws(&[
        "kms",
        "encrypt",
        "--key-id",
        &id,
        "--plaintext",
        &fileb,
        "--encryption-context",
        "purpose=test",
    ]);
    let blob = ct["CiphertextBlob"].as_str().unwrap();
    let ctf = d.path().join("ct");
    std::fs::write(&ctf, base64_decode(blob)).unwrap();
    let ctb = format!("fileb://{}", ctf.display());
    let back = aws(&[
        "kms",
        "decrypt",
        "--ciphertext-blob",
        &ctb,
        "--encryption-context",
        "purpose=test",
    ]);
    assert_eq!(
        base64_decode(back["Plaintext"].as_str().unwrap()),
        b"hello from the aws cli"
    );
    // A refusal is AWS's error name on stderr and a non-zero exit.
    let o = aws_tool(&bin, "aws", &s.endpoint)
        .args(["kms", "decrypt", "--ciphertext-blob", &ctb])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("InvalidCiphertextException"), "{err}");
    s.stop();
}

#[test]
fn encryption_sdk_through_the_endpoint_variable() {
    let Some((bin, _dir, home)) = setup("encryption_sdk_through_the_endpoint_variable") else {
        return;
    };
    let key = run_ok(&home, &["kms", "create-key"]);
    let arn = key["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
    let s = Server::start(&home, &[]);
    let o = aws_tool(&bin, "python3", &s.endpoint)
        .args([script("esdk_tour.py"), arn])
        .output()
        .unwrap();
    let out = check(&o, "esdk_tour.py");
    assert!(out.contains("ok: caching CMM"), "{out}");
    s.stop();
    // One data key for the 1 MiB message, then one per 10 messages through the cache.
    assert_eq!(
        audit_lines(&home, &["--operation", "GenerateDataKey"]),
        1 + 3
    );
}

/// The Encryption SDK with a KMS client the application builds (the legacy provider's
/// `add_regional_client` overridden, and the Material Providers Library's AWS KMS keyring),
/// with `AWS_ENDPOINT_URL_KMS` removed: 1 MiB in memory and 100 MiB streamed, each way.
#[test]
fn encryption_sdk_with_its_own_client_and_the_mpl_keyring() {
    let Some((bin, dir, home)) = setup("encryption_sdk_with_its_own_client_and_the_mpl_keyring")
    else {
        return;
    };
    let key = run_ok(&home, &["kms", "create-key"]);
    let arn = key["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
    let s = Server::start(&home, &[]);
    let scratch = dir.path().join("esdk");
    std::fs::create_dir(&scratch).unwrap();
    let o = aws_tool(&bin, "python3", &s.endpoint)
        .args([script("esdk_clients.py"), arn, s.endpoint.clone()])
        .arg(&scratch)
        .output()
        .unwrap();
    let out = check(&o, "esdk_clients.py");
    for step in [
        "ok: custom client, 1 MiB",
        "ok: custom-client, 100 MiB streamed",
        "ok: MPL keyring, 1 MiB",
        "ok: mpl-keyring, 100 MiB streamed",
    ] {
        assert!(out.contains(step), "{step} missing from:\n{out}");
    }
    s.stop();
    // Four messages: one data key and one unwrap each, all through the endpoint.
    assert_eq!(audit_lines(&home, &["--operation", "GenerateDataKey"]), 4);
    assert_eq!(audit_lines(&home, &["--operation", "Decrypt"]), 4);
    assert_eq!(audit_lines(&home, &["--failures"]), 0);
}

/// How many audit lines `kmsfs audit show FILTERS` prints (one JSON object a line).
fn audit_lines(home: &Path, filters: &[&str]) -> usize {
    let mut args = vec!["audit", "show"];
    args.extend_from_slice(filters);
    let o = common::cli::kmsfs(home, &args);
    check(&o, "kmsfs audit show")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// `kmsfs credentials export` prints a profile that boto3 uses as it is: the credentials
/// and the config file with `endpoint_url`, nothing else set; the access key is the one
/// `kmsfs init` made for the account root.
#[test]
fn exported_profile_points_boto3_at_the_endpoint() {
    let Some((bin, d, home)) = setup("exported_profile_points_boto3_at_the_endpoint") else {
        return;
    };
    let s = Server::start(&home, &[]);
    // The account root's access key that `kmsfs init` made (beside the test's `testing`).
    let keys = run_ok(&home, &["credentials", "list"]);
    let keys = keys["AccessKeyMetadata"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{keys:?}");
    let id = root_access_key(&home);
    let o = common::cli::kmsfs(
        &home,
        &[
            "credentials",
            "export",
            "--profile",
            "local",
            "--access-key-id",
            &id,
            "--endpoint-url",
            &s.endpoint,
        ],
    );
    let text = check(&o, "kmsfs credentials export");
    let (creds, config) = text.split_once("# ~/.aws/config").unwrap();
    assert!(
        creds.contains("[local]") && creds.contains(&format!("aws_access_key_id = {id}")),
        "{text}"
    );
    std::fs::write(d.path().join("credentials"), creds).unwrap();
    std::fs::write(d.path().join("config"), config).unwrap();
    let o = std::process::Command::new(bin.join("python3"))
        .args([
            "-c",
            "import boto3; k = boto3.client('kms').create_key()['KeyMetadata']; print(k['Arn'])",
        ])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("AWS_SHARED_CREDENTIALS_FILE", d.path().join("credentials"))
        .env("AWS_CONFIG_FILE", d.path().join("config"))
        .env("AWS_PROFILE", "local")
        .output()
        .unwrap();
    let out = check(&o, "boto3 with the exported profile");
    assert!(
        out.starts_with("arn:aws:kms:us-east-1:111122223333:key/"),
        "{out}"
    );
    s.stop();
}

/// The audit line of a boto3 request carries what CloudTrail records: the access key's
/// principal, `sourceIPAddress` 127.0.0.1, boto3's user agent with the custom suffix,
/// `awsRegion`, and as `requestId` the id boto3 reports (`ResponseMetadata.RequestId`, from
/// `x-amzn-RequestId`), for a refused request too.
#[test]
fn boto3_requests_are_audited_with_their_caller() {
    let Some((bin, _dir, home)) = setup("boto3_requests_are_audited_with_their_caller") else {
        return;
    };
    let s = Server::start(&home, &[]);
    let o = aws_tool(&bin, "python3", &s.endpoint)
        .arg(script("boto3_caller.py"))
        .output()
        .unwrap();
    let ids: serde_json::Value = serde_json::from_str(&check(&o, "boto3_caller.py")).unwrap();
    s.stop();
    run_ok(&home, &["audit", "verify"]);
    for (which, outcome) in [("ok", "Success"), ("refused", "Failure")] {
        let id = ids[which].as_str().unwrap();
        let o = common::cli::kmsfs(&home, &["audit", "show", "--request-id", id]);
        let out = check(&o, "kmsfs audit show --request-id");
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 1, "{which}: the lines of request {id}: {out}");
        let l = &lines[0];
        assert_eq!(l["requestId"], id);
        assert_eq!(l["operation"], "Encrypt");
        assert_eq!(l["outcome"], outcome);
        assert_eq!(l["principal"], "arn:aws:iam::111122223333:root");
        assert_eq!(l["sourceIPAddress"], "127.0.0.1");
        assert_eq!(l["awsRegion"], "us-east-1");
        let ua = l["userAgent"].as_str().unwrap_or_default();
        assert!(
            ua.contains("Boto3/") && ua.contains("kmsfs-test/1"),
            "{which}: user agent {ua:?}"
        );
        let key = ids["key_id"].as_str().unwrap();
        assert!(l["keyArn"].as_str().unwrap().ends_with(key), "{l}");
        if outcome == "Failure" {
            assert_eq!(l["errorCode"], "DisabledException");
        }
    }
}
