//! boto3 over a real `kmsfs serve` with an IAM user's access key and a role session's
//! temporary credentials: each request acts as its key's principal (the audit trail's
//! principal, as CloudTrail's userIdentity); a session without its token is refused
//! (`UnrecognizedClientException`), an expired one with `ExpiredTokenException`.

mod common;
use common::cli::{cmd, init, run_ok};
use common::serve::*;
use serde_json::Value;
use std::path::Path;

/// A boto3 KMS client of `endpoint` with the credentials of the environment: it creates a
/// key and encrypts under it, printing `ok`, or prints the error code.
const SCRIPT: &str = r#"
import os, boto3, botocore
kms = boto3.client("kms", endpoint_url=os.environ["EP"], region_name="us-east-1")
try:
    k = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.encrypt(KeyId=k, Plaintext=b"x")
    print("ok")
except botocore.exceptions.ClientError as e:
    print(e.response["Error"]["Code"])
"#;

/// Run [`SCRIPT`] with `creds` (id, secret, optional token): its one output line.
fn boto3(bin: &Path, endpoint: &str, creds: (&str, &str, Option<&str>)) -> String {
    let mut c = aws_tool(bin, "python3", endpoint);
    c.env("EP", endpoint)
        .env("AWS_ACCESS_KEY_ID", creds.0)
        .env("AWS_SECRET_ACCESS_KEY", creds.1)
        .args(["-c", SCRIPT]);
    if let Some(t) = creds.2 {
        c.env("AWS_SESSION_TOKEN", t);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

/// Audit lines of `principal` for `operation`.
fn lines_of(home: &Path, principal: &str, operation: &str) -> usize {
    let o = common::cli::kmsfs(
        home,
        &[
            "audit",
            "show",
            "--principal",
            principal,
            "--operation",
            operation,
        ],
    );
    assert!(o.status.success());
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
}

/// A home with the user alice (and her key) and the role R: the home and alice's key.
fn setup(d: &Path) -> (std::path::PathBuf, Value) {
    let home = init(d);
    run_ok(&home, &["iam", "create-user", "--user-name", "alice"]);
    let k = run_ok(&home, &["iam", "create-access-key", "--user-name", "alice"]);
    common::iam::create_role(run_ok, &home);
    // Registered IAM users and roles use KMS only as their identity policies allow.
    for (holder, name) in [("--user-name", "alice"), ("--role-name", "R")] {
        common::iam::put_policy(run_ok, &home, holder, name, "kms", common::iam::ALLOW_KMS);
    }
    (home, k["AccessKey"].clone())
}

fn assume(home: &Path, duration: &str) -> Value {
    let arn = common::iam::ROLE;
    let c = run_ok(
        home,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            arn,
            "--role-session-name",
            "s1",
            "--duration-seconds",
            duration,
        ],
    );
    c["Credentials"].clone()
}

#[test]
fn boto3_acts_as_a_user_and_as_a_role_session() {
    let Some(bin) = python_or_skip("boto3_acts_as_a_user_and_as_a_role_session") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let (home, k) = setup(d.path());
    let c = assume(&home, "900");
    let srv = Server::start(&home, &[]);
    let user = (s(&k["AccessKeyId"]), s(&k["SecretAccessKey"]), None);
    assert_eq!(boto3(&bin, &srv.endpoint, user), "ok");
    let (id, secret, token) = (
        s(&c["AccessKeyId"]),
        s(&c["SecretAccessKey"]),
        s(&c["SessionToken"]),
    );
    assert_eq!(boto3(&bin, &srv.endpoint, (id, secret, Some(token))), "ok");
    // Without its token, or with another, a session key is unknown.
    assert_eq!(
        boto3(&bin, &srv.endpoint, (id, secret, None)),
        "UnrecognizedClientException"
    );
    assert_eq!(
        boto3(&bin, &srv.endpoint, (id, secret, Some("AAAA"))),
        "UnrecognizedClientException"
    );
    // A deleted user key is refused at once.
    let del = [
        "iam",
        "delete-access-key",
        "--user-name",
        "alice",
        "--access-key-id",
        user.0,
    ];
    run_ok(&home, &del);
    assert_eq!(
        boto3(&bin, &srv.endpoint, user),
        "UnrecognizedClientException"
    );
    srv.stop();
    let alice = "arn:aws:iam::111122223333:user/alice";
    let session = "arn:aws:sts::111122223333:assumed-role/R/s1";
    assert_eq!(lines_of(&home, alice, "Encrypt"), 1);
    assert_eq!(lines_of(&home, session, "Encrypt"), 1);
    assert_eq!(lines_of(&home, session, "CreateKey"), 1);
    run_ok(&home, &["audit", "verify"]);
}

#[test]
fn an_expired_session_is_refused_with_expired_token() {
    let Some(bin) = python_or_skip("an_expired_session_is_refused_with_expired_token") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let (home, _) = setup(d.path());
    let c = assume(&home, "900");
    let creds = (
        s(&c["AccessKeyId"]),
        s(&c["SecretAccessKey"]),
        Some(s(&c["SessionToken"])),
    );
    // The server's KMS clock 901 s on: the 900 s session is over.
    let mut serve = cmd(&home, &["serve", "--credentials", "testing:testing"]);
    serve.env("KMSFS_CLOCK_OFFSET_SECS", "901");
    let srv = Server::spawn(serve);
    assert_eq!(boto3(&bin, &srv.endpoint, creds), "ExpiredTokenException");
    srv.stop();
    let mut serve = cmd(&home, &["serve", "--credentials", "testing:testing"]);
    serve.env("KMSFS_CLOCK_OFFSET_SECS", "850");
    let srv = Server::spawn(serve);
    assert_eq!(boto3(&bin, &srv.endpoint, creds), "ok");
    srv.stop();
}
