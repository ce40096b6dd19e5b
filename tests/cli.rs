//! The `kmsfs` binary as a user runs it: real processes, real homes in temp dirs. Checks
//! output shapes, exit codes, error messages, locking, passphrases, and two processes
//! working on one home at once.

mod common;
use common::cli::*;
use std::path::Path;

/// `kms schedule-key-deletion` of `id` with a window of 7 days.
fn schedule_deletion(home: &Path, id: &str) -> serde_json::Value {
    run_ok(
        home,
        &[
            "kms",
            "schedule-key-deletion",
            "--key-id",
            id,
            "--pending-window-in-days",
            "7",
        ],
    )
}

#[test]
fn tour_of_the_cli() {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let m = run_ok(
        &home,
        &[
            "kms",
            "create-key",
            "--description",
            "app key",
            "--tags",
            "TagKey=team,TagValue=storage",
        ],
    );
    let id = m["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    assert_eq!(m["KeyMetadata"]["Description"], "app key");
    assert_eq!(m["KeyMetadata"]["KeyState"], "Enabled");
    assert!(
        run_ok(
            &home,
            &[
                "kms",
                "create-alias",
                "--alias-name",
                "alias/app",
                "--target-key-id",
                &id
            ]
        )
        .is_null()
    );
    let secret = d.path().join("secret.txt");
    std::fs::write(&secret, b"attack at dawn").unwrap();
    let e = run_ok(
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
    );
    let b64 = e["CiphertextBlob"].as_str().unwrap();
    let blob = kmsfs::kms::types::b64::decode(b64).unwrap();
    let blob_path = d.path().join("blob");
    std::fs::write(&blob_path, &blob).unwrap();
    // `kms decrypt` of `blob` (fileb:// or base64) under the context `ctx`, with `more`.
    let decrypt = |blob: &str, ctx: &str, more: &[&str]| {
        let args = ["kms", "decrypt", "--ciphertext-blob", blob];
        kmsfs(
            &home,
            &[&args[..], &["--encryption-context", ctx], more].concat(),
        )
    };
    let dec = ok(&decrypt(
        &format!("fileb://{}", blob_path.display()),
        "purpose=test",
        &[],
    ));
    assert_eq!(
        kmsfs::kms::types::b64::decode(dec["Plaintext"].as_str().unwrap()).unwrap(),
        b"attack at dawn"
    );
    assert!(dec["KeyId"].as_str().unwrap().ends_with(&id));
    // Base64 literal, JSON context, --query with text output.
    let text = ["--query", "Plaintext", "--output", "text"];
    let o = decrypt(b64, "{\"purpose\":\"test\"}", &text);
    assert!(o.status.success());
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        kmsfs::kms::types::b64::encode(b"attack at dawn")
    );
    let g = run_ok(
        &home,
        &[
            "kms",
            "generate-data-key",
            "--key-id",
            "alias/app",
            "--key-spec",
            "AES_256",
        ],
    );
    assert_eq!(
        kmsfs::kms::types::b64::decode(g["Plaintext"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
    let s = schedule_deletion(&home, &id);
    assert_eq!(s["KeyState"], "PendingDeletion");
    assert_eq!(s["PendingWindowInDays"], 7);
    fails(
        &decrypt(b64, "purpose=test", &[]),
        5,
        "KMSInvalidStateException",
    );
    run_ok(&home, &["kms", "cancel-key-deletion", "--key-id", &id]);
    run_ok(&home, &["kms", "enable-key", "--key-id", &id]);
    let lst = run_ok(&home, &["kms", "list-aliases", "--key-id", &id]);
    assert_eq!(lst["Aliases"][0]["AliasName"], "alias/app");
    let tags = run_ok(&home, &["kms", "list-resource-tags", "--key-id", &id]);
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
    let v = run_ok(&home, &["audit", "verify"]);
    assert_eq!(v["Verified"], true);
    // init's CreateAccessKey and 12 KMS requests, plus the `Pending` line each of the 6
    // changes among them writes before its effect.
    assert_eq!(v["Lines"], 13 + 6);
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
    let big = d.path().join("big");
    std::fs::write(&big, vec![b'a'; 4097]).unwrap();
    let big = format!("fileb://{}", big.display());
    let id = create_key(&home, "KeyId");
    let encrypt = ["kms", "encrypt", "--key-id", &id, "--plaintext"];
    all_fail(
        &home,
        &[
            (&["init"], 3, "already exists"),
            (
                &["kms", "describe-key", "--key-id", "alias/none"],
                5,
                "NotFoundException: Alias arn:aws:kms:us-east-1:111122223333:alias/none is not found.",
            ),
            (&[&encrypt[..], &[&big]].concat(), 5, "4096"),
            (
                &["kms", "decrypt", "--ciphertext-blob", "AAAA"],
                5,
                "InvalidCiphertextException",
            ),
            (
                &["kms", "decrypt", "--ciphertext-blob", "not base64!"],
                2,
                "not base64",
            ),
            (
                &[&encrypt[..], &["x", "--encryption-context", "novalue"]].concat(),
                2,
                "is not key=value",
            ),
        ],
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
    run_ok(&home, &["kms", "create-key"]);
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
    let dec = run_ok(
        &home,
        &[
            "--passphrase-file",
            pwfile.to_str().unwrap(),
            "kms",
            "decrypt",
            "--ciphertext-blob",
            b64,
        ],
    );
    assert_eq!(dec["Plaintext"], kmsfs::kms::types::b64::encode(b"hi"));
    // Without any passphrase source and no terminal: a clear error, not a hang.
    let o = cmd(&home, &["kms", "list-keys"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_ne!(o.status.code(), Some(0));
    // Audit verify needs no passphrase.
    run_ok(&home, &["audit", "verify"]);
}

#[test]
fn deletion_after_the_window_with_a_moved_clock() {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let id = create_key(&home, "KeyId");
    schedule_deletion(&home, &id);
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
    // Deleted by the sweep at start-up, and reported (issue 19: it used to say []).
    let deleted = p["DeletedKeys"].as_array().unwrap();
    assert_eq!(deleted.len(), 1, "{p}");
    assert!(deleted[0].as_str().unwrap().ends_with(&id), "{p}");
    fails(
        &kmsfs(&home, &["kms", "describe-key", "--key-id", &id]),
        5,
        "NotFoundException",
    );
    assert!(!home.join(format!("kms/keys/{id}.key")).exists());
    let show = kmsfs(&home, &["audit", "show", "--operation", "DeleteKey"]);
    assert_eq!(String::from_utf8_lossy(&show.stdout).lines().count(), 1);
    run_ok(&home, &["audit", "verify"]);
}

#[test]
fn audit_verify_fails_on_tampering() {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    for _ in 0..3 {
        run_ok(&home, &["kms", "create-key"]);
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
    let key = create_key(&home, "KeyId");
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
            std::process::Command::new("bash")
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
    let aliases = run_ok(&home, &["kms", "list-aliases", "--limit", "1000"]);
    assert_eq!(
        aliases["Aliases"].as_array().unwrap().len(),
        24,
        "no alias lost"
    );
    let keys = run_ok(&home, &["kms", "list-keys", "--limit", "1000"]);
    assert_eq!(keys["Keys"].as_array().unwrap().len(), 25);
    let v = run_ok(&home, &["audit", "verify"]);
    // init's CreateAccessKey, create-key, then per process 12 × 3 requests, then
    // list-aliases and list-keys; each change (init's, create-key, and per process 12 × 2)
    // also writes a `Pending` line before its effect.
    assert_eq!(v["Lines"], 1 + 1 + 2 * 36 + 2 + (2 + 2 * 24));
}
