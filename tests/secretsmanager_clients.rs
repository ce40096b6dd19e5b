//! Secrets Manager through a real `kmsfs serve` with boto3 and the AWS CLI (unmodified,
//! `--endpoint-url`), access control through the KMS (a user refused kms:Decrypt gets
//! AccessDeniedException), and ten concurrent CLI processes writing one secret.

mod common;
use common::cli::{BIN, init, kmsfs, ok, run_ok};
use common::serve::{Server, aws_json, aws_tool, check, python_or_skip};
use serde_json::Value;
use std::collections::BTreeSet;

const BOTO3_TOUR: &str = r#"
import boto3, json, os, sys, base64
c = boto3.client("secretsmanager", endpoint_url=os.environ["EP"], region_name="us-east-1")
r = c.create_secret(Name="app/db", SecretString='{"password":"p0"}', Tags=[{"Key":"env","Value":"dev"}])
arn = r["ARN"]
assert arn.startswith("arn:aws:secretsmanager:us-east-1:") and r["VersionId"]
assert c.get_secret_value(SecretId="app/db")["SecretString"] == '{"password":"p0"}'
p = c.put_secret_value(SecretId=arn, SecretString="p1", ClientRequestToken="a"*32)
assert p["VersionId"] == "a"*32 and p["VersionStages"] == ["AWSCURRENT"]
assert c.get_secret_value(SecretId="app/db", VersionStage="AWSPREVIOUS")["SecretString"] == '{"password":"p0"}'
try:
    c.put_secret_value(SecretId=arn, SecretString="other", ClientRequestToken="a"*32)
    raise SystemExit("no ResourceExistsException")
except c.exceptions.ResourceExistsException:
    pass
b = c.create_secret(Name="bin", SecretBinary=b"\x00\x01\xff")
assert c.get_secret_value(SecretId="bin")["SecretBinary"] == b"\x00\x01\xff"
d = c.describe_secret(SecretId="app/db")
assert d["Name"] == "app/db" and len(d["VersionIdsToStages"]) == 2, d
assert d["Tags"] == [{"Key":"env","Value":"dev"}]
names = [s["Name"] for s in c.list_secrets(Filters=[{"Key":"name","Values":["app"]}])["SecretList"]]
assert names == ["app/db"], names
pages = list(c.get_paginator("list_secrets").paginate(PaginationConfig={"PageSize": 1}))
assert sum(len(p["SecretList"]) for p in pages) == 2, pages
r = c.rotate_secret(SecretId="app/db", RotationRules={"AutomaticallyAfterDays": 7})
v = json.loads(c.get_secret_value(SecretId="app/db")["SecretString"]) if c.get_secret_value(SecretId="app/db")["SecretString"].startswith("{") else None
assert c.get_secret_value(SecretId="app/db")["VersionId"] == r["VersionId"]
assert c.describe_secret(SecretId="app/db")["RotationEnabled"] is True
dd = c.delete_secret(SecretId="bin", RecoveryWindowInDays=7)
assert "DeletionDate" in dd
try:
    c.get_secret_value(SecretId="bin")
    raise SystemExit("read a deleted secret")
except c.exceptions.InvalidRequestException as e:
    assert "marked for deletion" in str(e)
c.restore_secret(SecretId="bin")
c.get_secret_value(SecretId="bin")
try:
    c.get_secret_value(SecretId="nope")
    raise SystemExit("no ResourceNotFoundException")
except c.exceptions.ResourceNotFoundException:
    pass
pw = c.get_random_password(PasswordLength=24, ExcludePunctuation=True)["RandomPassword"]
assert len(pw) == 24
print("ok")
"#;

#[test]
fn boto3_and_the_aws_cli_use_secrets_manager() {
    let Some(bin) = python_or_skip("boto3_and_the_aws_cli_use_secrets_manager") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let home = init(dir.path());
    let s = Server::start(&home, &[]);
    let o = aws_tool(&bin, "python3", &s.endpoint)
        .env("EP", &s.endpoint)
        .args(["-c", BOTO3_TOUR])
        .output()
        .unwrap();
    assert_eq!(check(&o, "boto3 tour").trim(), "ok");
    // The AWS CLI, and what it wrote read back by kmsfs itself.
    let aws = |args: &[&str]| -> Value {
        let mut all = vec!["secretsmanager"];
        all.extend_from_slice(args);
        aws_json(&bin, &s.endpoint, &all)
    };
    aws(&[
        "create-secret",
        "--name",
        "cli",
        "--secret-string",
        "cli-secret-v0",
    ]);
    aws(&[
        "put-secret-value",
        "--secret-id",
        "cli",
        "--secret-string",
        "cli-secret-v1",
    ]);
    assert_eq!(
        aws(&["get-secret-value", "--secret-id", "cli"])["SecretString"],
        "cli-secret-v1"
    );
    let d = aws(&["describe-secret", "--secret-id", "cli"]);
    assert_eq!(d["VersionIdsToStages"].as_object().unwrap().len(), 2);
    assert_eq!(
        aws(&["list-secrets"])["SecretList"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    aws(&[
        "delete-secret",
        "--secret-id",
        "cli",
        "--recovery-window-in-days",
        "7",
    ]);
    aws(&["restore-secret", "--secret-id", "cli"]);
    let r = aws(&["rotate-secret", "--secret-id", "cli"]);
    let v = run_ok(
        &home,
        &["secretsmanager", "get-secret-value", "--secret-id", "cli"],
    );
    assert_eq!(v["VersionId"], r["VersionId"]);
    assert_ne!(v["SecretString"], "cli-secret-v1");
    // The service's line and its KMS calls via the service, in the trail.
    let trail = String::from_utf8_lossy(&kmsfs(&home, &["audit", "show"]).stdout).to_string();
    assert!(trail.contains("secretsmanager.amazonaws.com"), "{trail}");
    assert!(!trail.contains("cli-secret-v"), "no values in the trail");
    s.stop();
}

#[test]
fn a_user_refused_decrypt_gets_access_denied() {
    let Some(bin) = python_or_skip("a_user_refused_decrypt_gets_access_denied") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let home = init(dir.path());
    let deny = r#"{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"},{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}]}"#;
    run_ok(&home, &["iam", "create-user", "--user-name", "reader"]);
    run_ok(
        &home,
        &[
            "iam",
            "put-user-policy",
            "--user-name",
            "reader",
            "--policy-name",
            "p",
            "--policy-document",
            deny,
        ],
    );
    let k = run_ok(
        &home,
        &["iam", "create-access-key", "--user-name", "reader"],
    );
    let (id, secret) = (
        k["AccessKey"]["AccessKeyId"].as_str().unwrap(),
        k["AccessKey"]["SecretAccessKey"].as_str().unwrap(),
    );
    let s = Server::start(&home, &[]);
    let run = |as_user: bool, args: &[&str]| {
        let mut c = aws_tool(&bin, "aws", &s.endpoint);
        if as_user {
            c.env("AWS_ACCESS_KEY_ID", id)
                .env("AWS_SECRET_ACCESS_KEY", secret);
        }
        c.args(["--endpoint-url", &s.endpoint, "secretsmanager"])
            .args(args)
            .output()
            .unwrap()
    };
    check(
        &run(
            false,
            &["create-secret", "--name", "guarded", "--secret-string", "g"],
        ),
        "create",
    );
    check(
        &run(false, &["get-secret-value", "--secret-id", "guarded"]),
        "root reads",
    );
    let o = run(true, &["get-secret-value", "--secret-id", "guarded"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("AccessDeniedException"),
        "{err}"
    );
    // Writing needs only GenerateDataKey: allowed.
    check(
        &run(
            true,
            &[
                "put-secret-value",
                "--secret-id",
                "guarded",
                "--secret-string",
                "h",
            ],
        ),
        "user writes",
    );
    s.stop();
}

#[test]
fn ten_concurrent_cli_writers_of_one_secret() {
    let dir = tempfile::tempdir().unwrap();
    let home = init(dir.path());
    run_ok(
        &home,
        &[
            "secretsmanager",
            "create-secret",
            "--name",
            "c",
            "--secret-string",
            "start",
        ],
    );
    let children: Vec<_> = (0..10)
        .map(|i| {
            common::cli::cmd(
                &home,
                &[
                    "secretsmanager",
                    "put-secret-value",
                    "--secret-id",
                    "c",
                    "--secret-string",
                    &format!("w{i}"),
                ],
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let mut ids = BTreeSet::new();
    for c in children {
        let v = ok(&c.wait_with_output().unwrap());
        ids.insert(v["VersionId"].as_str().unwrap().to_string());
    }
    assert_eq!(ids.len(), 10, "every write is its own version");
    let l = run_ok(
        &home,
        &[
            "secretsmanager",
            "list-secret-version-ids",
            "--secret-id",
            "c",
            "--include-deprecated",
        ],
    );
    let versions = l["Versions"].as_array().unwrap();
    assert_eq!(versions.len(), 11);
    let with = |stage: &str| {
        versions
            .iter()
            .filter(|v| v["VersionStages"].to_string().contains(stage))
            .count()
    };
    assert_eq!((with("AWSCURRENT"), with("AWSPREVIOUS")), (1, 1));
    let mut values = BTreeSet::new();
    for v in versions {
        let id = v["VersionId"].as_str().unwrap();
        let g = run_ok(
            &home,
            &[
                "secretsmanager",
                "get-secret-value",
                "--secret-id",
                "c",
                "--version-id",
                id,
            ],
        );
        values.insert(g["SecretString"].as_str().unwrap().to_string());
    }
    let want: BTreeSet<String> = (0..10)
        .map(|i| format!("w{i}"))
        .chain(["start".to_string()])
        .collect();
    assert_eq!(values, want);
    let _ = BIN;
}
