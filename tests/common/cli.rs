//! The `kmsfs` binary as a user runs it: a command on a home (`KMSFS_HOME`), with none of the
//! environment that would change its behaviour (a passphrase, a clock offset), its JSON
//! output when it succeeds, its exit code and message when it fails.

use super::kms::ACCOUNT;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_kmsfs");

/// `kmsfs ARGS` on `home`, not yet run (for pipes and children).
pub fn cmd(home: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.env_remove("KMSFS_PASSPHRASE")
        .env_remove("KMSFS_CLOCK_OFFSET_SECS")
        .env("KMSFS_HOME", home)
        .args(args);
    c
}

/// Run `kmsfs ARGS` on `home`.
pub fn kmsfs(home: &Path, args: &[&str]) -> Output {
    kmsfs_env(home, args, &[])
}

/// Run `kmsfs ARGS` on `home` with extra environment variables.
pub fn kmsfs_env(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = cmd(home, args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run kmsfs")
}

/// A run that must have succeeded: its JSON output (`Null` when it printed nothing).
pub fn ok(o: &Output) -> Value {
    json(o, "kmsfs")
}

/// Run `kmsfs ARGS` on `home`; it must succeed: its JSON output.
pub fn run_ok(home: &Path, args: &[&str]) -> Value {
    json(&kmsfs(home, args), &format!("kmsfs {args:?}"))
}

fn json(o: &Output, what: &str) -> Value {
    assert!(
        o.status.success(),
        "{what} failed: {}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    let s = String::from_utf8_lossy(&o.stdout);
    if s.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
    }
}

/// A run that must have failed with exit `code` and a `kmsfs: ` message holding `needle`:
/// the message.
pub fn fails(o: &Output, code: i32, needle: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert!(err.starts_with("kmsfs: "), "{err}");
    assert!(err.contains(needle), "expected '{needle}' in: {err}");
    err
}

/// Each `(args, code, needle)` run on `home` must fail as [`fails`] says.
pub fn all_fail(home: &Path, cases: &[(&[&str], i32, &str)]) {
    for (args, code, needle) in cases {
        fails(&kmsfs(home, args), *code, needle);
    }
}

/// A new home `dir/home` for the account 111122223333.
pub fn init(dir: &Path) -> PathBuf {
    let home = dir.join("home");
    ok(&kmsfs(&home, &["init", "--account-id", ACCOUNT]));
    home
}

/// A new key in `home`: the field `field` of its metadata (`KeyId` or `Arn`).
pub fn create_key(home: &Path, field: &str) -> String {
    run_ok(home, &["kms", "create-key"])["KeyMetadata"][field]
        .as_str()
        .unwrap()
        .to_string()
}

/// A new key in `home` behind the alias `alias`: its ARN.
pub fn key_with_alias(home: &Path, alias: &str) -> String {
    let arn = create_key(home, "Arn");
    run_ok(
        home,
        &[
            "kms",
            "create-alias",
            "--alias-name",
            alias,
            "--target-key-id",
            &arn,
        ],
    );
    arn
}

/// `bucket put-encryption`: SSE-KMS under `key` with a bucket key becomes the default of
/// `bucket`. The output.
pub fn bucket_kms_default(home: &Path, bucket: &str, key: &str) -> Value {
    run_ok(
        home,
        &[
            "bucket",
            "put-encryption",
            bucket,
            "--sse",
            "aws:kms",
            "--kms-key-id",
            key,
            "--bucket-key-enabled",
        ],
    )
}

/// A path as a command-line argument.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// An IAM user `user` made on `home` with one access key: (access key id, secret).
pub fn access_key(home: &Path, user: &str) -> (String, String) {
    run_ok(home, &["iam", "create-user", "--user-name", user]);
    let k = run_ok(home, &["iam", "create-access-key", "--user-name", user]);
    let s = |f: &str| k["AccessKey"][f].as_str().unwrap().to_string();
    (s("AccessKeyId"), s("SecretAccessKey"))
}
