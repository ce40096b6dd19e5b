//! The `kmsfs` binary as a user runs it: real processes, real homes in temp dirs. Checks
//! output shapes, exit codes, error messages, locking, passphrases, and two processes
//! working on one home at once.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_kmsfs");

fn kmsfs(home: &Path, args: &[&str]) -> Output {
    kmsfs_env(home, args, &[])
}

fn kmsfs_env(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.env_remove("KMSFS_PASSPHRASE")
        .env_remove("KMSFS_CLOCK_OFFSET_SECS")
        .env("KMSFS_HOME", home)
        .args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run kmsfs")
}

fn ok(o: &Output) -> serde_json::Value {
    assert!(
        o.status.success(),
        "kmsfs failed: {}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    let s = String::from_utf8_lossy(&o.stdout);
    if s.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
    }
}

fn fails(o: &Output, code: i32, needle: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert!(err.starts_with("kmsfs: "), "{err}");
    assert!(err.contains(needle), "expected '{needle}' in: {err}");
    err
}

fn init(dir: &Path) -> std::path::PathBuf {
    let home = dir.join("home");
    ok(&kmsfs(&home, &["init", "--account-id", "111122223333"]));
    home
}

#[test]
fn tour_of_the_cli() {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let m = ok(&kmsfs(
        &home,
        &[
            "kms",
            "create-key",
            "--description",
            "app key",
            "--tags",
            "TagKey=team,TagValue=storage",
        ],
    ));
    let id = m["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    assert_eq!(m["KeyMetadata"]["Description"], "app key");
    assert_eq!(m["KeyMetadata"]["KeyState"], "Enabled");
    assert!(
        ok(&kmsfs(
            &home,
            &[
                "kms",
                "create-alias",
                "--alias-name",
                "alias/app",
                "--target-key-id",
                &id
            ]
        ))
        .is_null()
    );
    let secret = d.path().join("secret.txt");
    std::fs::write(&secret, b"attack at dawn").unwrap();
    let e = ok(&kmsfs(
        &home,
        &[
            "kms",
            "encrypt",
            "--key-id",
            "alias/app",
            "--plaintext",
            &format!("fileb://{}", secret.display()),
            "--encryption-context",
            "purpose=test",
        ],
    ));
    let b64 = e["CiphertextBlob"].as_str().unwrap();
    let blob = kmsfs::kms::types::b64::decode(b64).unwrap();
    let blob_path = d.path().join("blob");
    std::fs::write(&blob_path, &blob).unwrap();
    let dec = ok(&kmsfs(
        &home,
        &[
            "kms",
            "decrypt",
            "--ciphertext-blob",
            &format!("fileb://{}", blob_path.display()),
            "--encryption-context",
            "purpose=test",
        ],
    ));
    assert_eq!(
        kmsfs::kms::types::b64::decode(dec["Plaintext"].as_str().unwrap()).unwrap(),
        b"attack at dawn"
    );
    assert!(dec["KeyId"].as_str().unwrap().ends_with(&id));
    // Base64 literal, JSON context, --query with text output.
    let o = kmsfs(
        &home,
        &[
            "kms",
            "decrypt",
            "--ciphertext-blob",
            b64,
            "--encryption-context",
            "{\"purpose\":\"test\"}",
            "--query",
            "Plaintext",
            "--output",
            "text",
        ],
    );
    assert!(o.status.success());
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        kmsfs::kms::types::b64::encode(b"attack at dawn")
    );
    let g = ok(&kmsfs(
        &home,
        &[
            "kms",
            "generate-data-key",
            "--key-id",
            "alias/app",
            "--key-spec",
            "AES_256",
        ],
    ));
    assert_eq!(
        kmsfs::kms::types::b64::decode(g["Plaintext"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
    let s = ok(&kmsfs(
        &home,
        &[
            "kms",
            "schedule-key-deletion",
            "--key-id",
            &id,
            "--pending-window-in-days",
            "7",
        ],
    ));
    assert_eq!(s["KeyState"], "PendingDeletion");
    assert_eq!(s["PendingWindowInDays"], 7);
    fails(
        &kmsfs(
            &home,
            &[
                "kms",
                "decrypt",
                "--ciphertext-blob",
                b64,
                "--encryption-context",
                "purpose=test",
            ],
        ),
        5,
        "KMSInvalidStateException",
    );
    ok(&kmsfs(
        &home,
        &["kms", "cancel-key-deletion", "--key-id", &id],
    ));
    ok(&kmsfs(&home, &["kms", "enable-key", "--key-id", &id]));
    let lst = ok(&kmsfs(&home, &["kms", "list-aliases", "--key-id", &id]));
    assert_eq!(lst["Aliases"][0]["AliasName"], "alias/app");
    let tags = ok(&kmsfs(
        &home,
        &["kms", "list-resource-tags", "--key-id", &id],
    ));
    assert_eq!(tags["Tags"][0]["TagKey"], "team");
    // The audit trail: every request, filterable, verifiable.
    let show = kmsfs(
        &home,
        &["audit", "show", "--key-id", &id, "--operation", "Decrypt"],
    );
    assert!(show.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&show.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["outcome"], "Success");
    assert_eq!(lines[2]["errorCode"], "KMSInvalidStateException");
    assert_eq!(lines[0]["principal"], "arn:aws:iam::111122223333:root");
    let fails_only = kmsfs(&home, &["audit", "show", "--failures", "--since", "1h"]);
    assert_eq!(
        String::from_utf8_lossy(&fails_only.stdout).lines().count(),
        1
    );
    let v = ok(&kmsfs(&home, &["audit", "verify"]));
    assert_eq!(v["Verified"], true);
    assert_eq!(v["Lines"], 12);
}

#[test]
fn exit_codes_and_messages() {
    let d = tempfile::tempdir().unwrap();
    let nohome = d.path().join("nothing-here");
    let err = fails(
        &kmsfs(&nohome, &["kms", "list-keys"]),
        3,
        "no kmsfs home at",
    );
    assert!(err.contains("hint: run `kmsfs --home"), "{err}");
    let home = init(d.path());
    fails(&kmsfs(&home, &["init"]), 3, "already exists");
    fails(
        &kmsfs(&home, &["kms", "describe-key", "--key-id", "alias/none"]),
        5,
        "NotFoundException: Alias arn:aws:kms:us-east-1:111122223333:alias/none is not found.",
    );
    let big = d.path().join("big");
    std::fs::write(&big, vec![b'a'; 4097]).unwrap();
    let id = ok(&kmsfs(&home, &["kms", "create-key"]))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    fails(
        &kmsfs(
            &home,
            &[
                "kms",
                "encrypt",
                "--key-id",
                &id,
                "--plaintext",
                &format!("fileb://{}", big.display()),
            ],
        ),
        5,
        "4096",
    );
    fails(
        &kmsfs(&home, &["kms", "decrypt", "--ciphertext-blob", "AAAA"]),
        5,
        "InvalidCiphertextException",
    );
    fails(
        &kmsfs(
            &home,
            &["kms", "decrypt", "--ciphertext-blob", "not base64!"],
        ),
        2,
        "not base64",
    );
    fails(
        &kmsfs(
            &home,
            &[
                "kms",
                "encrypt",
                "--key-id",
                &id,
                "--plaintext",
                "x",
                "--encryption-context",
                "novalue",
            ],
        ),
        2,
        "is not key=value",
    );
    let o = kmsfs(&home, &["kms", "no-such-verb"]);
    assert_eq!(o.status.code(), Some(2));
    // A home path that is a file.
    let f = d.path().join("file");
    std::fs::write(&f, b"x").unwrap();
    fails(&kmsfs(&f, &["kms", "list-keys"]), 3, "no kmsfs home");
    // A root key readable by others is refused.
    use std::os::unix::fs::PermissionsExt;
    let rk = home.join("kms/root.key");
    std::fs::set_permissions(&rk, std::fs::Permissions::from_mode(0o644)).unwrap();
    fails(&kmsfs(&home, &["kms", "list-keys"]), 3, "chmod 600");
    std::fs::set_permissions(&rk, std::fs::Permissions::from_mode(0o600)).unwrap();
    // A root key from another home.
    let other = tempfile::tempdir().unwrap();
    let ohome = init(other.path());
    std::fs::copy(ohome.join("kms/root.key"), &rk).unwrap();
    fails(
        &kmsfs(&home, &["kms", "list-keys"]),
        7,
        "does not belong to this keystore",
    );
}

#[test]
fn locked_home_is_a_clear_error() {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let held =
        kmsfs::fsutil::FileLock::acquire(&home.join("kms/lock"), std::time::Duration::from_secs(1))
            .unwrap();
    let o = kmsfs_env(
        &home,
        &["kms", "create-key"],
        &[("KMSFS_LOCK_TIMEOUT_MS", "300")],
    );
    let err = fails(&o, 4, "locked by another kmsfs process");
    assert!(
        err.contains("hint: wait for the other kmsfs command"),
        "{err}"
    );
    // Reads do not need the lock.
    ok(&kmsfs_env(
        &home,
        &["kms", "list-keys"],
        &[("KMSFS_LOCK_TIMEOUT_MS", "300")],
    ));
    drop(held);
    ok(&kmsfs(&home, &["kms", "create-key"]));
}

#[test]
fn passphrase_protected_keystore() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let pw = [("KMSFS_PASSPHRASE", "correct horse")];
    ok(&kmsfs_env(&home, &["init", "--passphrase"], &pw));
    assert!(
        !home.join("kms/root.key").exists(),
        "nothing secret on disk"
    );
    let id = ok(&kmsfs_env(&home, &["kms", "create-key"], &pw))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let e = ok(&kmsfs_env(
        &home,
        &["kms", "encrypt", "--key-id", &id, "--plaintext", "hi"],
        &pw,
    ));
    let b64 = e["CiphertextBlob"].as_str().unwrap();
    fails(
        &kmsfs_env(
            &home,
            &["kms", "decrypt", "--ciphertext-blob", b64],
            &[("KMSFS_PASSPHRASE", "wrong horse")],
        ),
        7,
        "wrong passphrase",
    );
    let pwfile = d.path().join("pw");
    std::fs::write(&pwfile, "correct horse\n").unwrap();
    let dec = ok(&kmsfs(
        &home,
        &[
            "--passphrase-file",
            pwfile.to_str().unwrap(),
            "kms",
            "decrypt",
            "--ciphertext-blob",
            b64,
        ],
    ));
    assert_eq!(dec["Plaintext"], kmsfs::kms::types::b64::encode(b"hi"));
    // Without any passphrase source and no terminal: a clear error, not a hang.
    let o = Command::new(BIN)
        .env("KMSFS_HOME", &home)
        .env_remove("KMSFS_PASSPHRASE")
        .args(["kms", "list-keys"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_ne!(o.status.code(), Some(0));
    // Audit verify needs no passphrase.
    ok(&kmsfs(&home, &["audit", "verify"]));
}

#[test]
fn deletion_after_the_window_with_a_moved_clock() {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let id = ok(&kmsfs(&home, &["kms", "create-key"]))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    ok(&kmsfs(
        &home,
        &[
            "kms",
            "schedule-key-deletion",
            "--key-id",
            &id,
            "--pending-window-in-days",
            "7",
        ],
    ));
    let six_days = (6 * 86400).to_string();
    let d6 = ok(&kmsfs_env(
        &home,
        &["kms", "describe-key", "--key-id", &id],
        &[("KMSFS_CLOCK_OFFSET_SECS", &six_days)],
    ));
    assert_eq!(d6["KeyMetadata"]["KeyState"], "PendingDeletion");
    let eight_days = (8 * 86400).to_string();
    let p = ok(&kmsfs_env(
        &home,
        &["kms", "purge"],
        &[("KMSFS_CLOCK_OFFSET_SECS", &eight_days)],
    ));
    assert_eq!(
        p["DeletedKeys"].as_array().unwrap().len(),
        0,
        "already deleted at start-up"
    );
    fails(
        &kmsfs(&home, &["kms", "describe-key", "--key-id", &id]),
        5,
        "NotFoundException",
    );
    assert!(!home.join(format!("kms/keys/{id}.key")).exists());
    let show = kmsfs(&home, &["audit", "show", "--operation", "DeleteKey"]);
    assert_eq!(String::from_utf8_lossy(&show.stdout).lines().count(), 1);
    ok(&kmsfs(&home, &["audit", "verify"]));
}

#[test]
fn audit_verify_fails_on_tampering() {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    for _ in 0..3 {
        ok(&kmsfs(&home, &["kms", "create-key"]));
    }
    let log = home.join("kms/audit.log");
    let text = std::fs::read_to_string(&log).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(1);
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    fails(&kmsfs(&home, &["audit", "verify"]), 6, "line 2");
}

#[test]
fn two_processes_on_one_home() {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let key = ok(&kmsfs(&home, &["kms", "create-key"]))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let script = |p: usize| {
        let mut s = String::from("set -e\n");
        for i in 0..12 {
            s += &format!(
                "\"{BIN}\" kms create-alias --alias-name alias/p{p}-{i} --target-key-id {key}\n\"{BIN}\" kms create-key --tags TagKey=p,TagValue={p} > /dev/null\n\"{BIN}\" kms encrypt --key-id alias/p{p}-{i} --plaintext x > /dev/null\n"
            );
        }
        s
    };
    let children: Vec<_> = (0..2)
        .map(|p| {
            Command::new("bash")
                .arg("-c")
                .arg(script(p))
                .env("KMSFS_HOME", &home)
                .env_remove("KMSFS_CLOCK_OFFSET_SECS")
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let aliases = ok(&kmsfs(&home, &["kms", "list-aliases", "--limit", "1000"]));
    assert_eq!(
        aliases["Aliases"].as_array().unwrap().len(),
        24,
        "no alias lost"
    );
    let keys = ok(&kmsfs(&home, &["kms", "list-keys", "--limit", "1000"]));
    assert_eq!(keys["Keys"].as_array().unwrap().len(), 25);
    let v = ok(&kmsfs(&home, &["audit", "verify"]));
    // create-key, then per process 12 × 3 requests, then list-aliases and list-keys.
    assert_eq!(v["Lines"], 1 + 2 * 36 + 2);
}
