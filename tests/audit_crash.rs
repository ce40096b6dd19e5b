//! kill -9 during a request load with the batched audit trail: what reached the disk still
//! verifies, a torn last line is cut by the next writer, and the chain goes on.

mod common;
use kmsfs::crypto::SecretBytes;
use kmsfs::home::Home;
use kmsfs::kms::types::*;
use kmsfs::kms::{Client, Embedded, Kms, KmsOptions};
use std::sync::Arc;
use std::time::Duration;

/// The worker: runs requests until killed. Only active when the parent sets the env var.
#[test]
fn crash_worker() {
    let Ok(home) = std::env::var("KMSFS_CRASH_WORKER_HOME") else {
        return;
    };
    let home = Home::open(std::path::Path::new(&home)).unwrap();
    let kms = Kms::open(
        &home,
        KmsOptions {
            audit_interval: Some(Duration::from_millis(5)),
            ..KmsOptions::default()
        },
    )
    .unwrap();
    let c = Embedded::new(kms, "arn:aws:iam::111122223333:user/worker");
    let key = std::env::var("KMSFS_CRASH_WORKER_KEY").unwrap();
    loop {
        let b = c
            .encrypt(EncryptRequest {
                key_id: key.clone(),
                plaintext: SecretBytes::from_slice(b"x"),
                ..Default::default()
            })
            .unwrap();
        c.decrypt(DecryptRequest {
            ciphertext_blob: b.ciphertext_blob,
            ..Default::default()
        })
        .unwrap();
    }
}

#[test]
fn kill_9_during_load_leaves_a_verifiable_trail() {
    if std::env::var("KMSFS_CRASH_WORKER_HOME").is_ok() {
        return;
    }
    let e = common::kms::env();
    let key = e.create_key();
    e.kms.flush_audit().unwrap();
    let path = e.kms.audit_path().to_path_buf();
    for round in 0..3 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "crash_worker",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env("KMSFS_CRASH_WORKER_HOME", e.home.root())
            .env("KMSFS_CRASH_WORKER_KEY", &key)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(400 + 150 * round));
        // SAFETY: plain kill(2) on our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        child.wait().unwrap();
        let rep =
            kmsfs::kms::audit::verify(&path).unwrap_or_else(|err| panic!("round {round}: {err}"));
        assert!(
            rep.lines > 10,
            "round {round}: the worker wrote only {} lines",
            rep.lines
        );
    }
    // A new writer continues the chain after whatever the crash left.
    let kms: Arc<Kms> = common::kms::open(&e.home, &e.clock);
    let c = Embedded::new(kms.clone(), common::kms::PRINCIPAL);
    c.describe_key(e.kid(&key)).unwrap();
    kms.flush_audit().unwrap();
    let rep = kmsfs::kms::audit::verify(&path).unwrap();
    assert_eq!(rep.torn_tail_bytes, 0);
    let lines = kmsfs::kms::audit::read_lines(&path).unwrap();
    assert_eq!(lines.last().unwrap().operation, "DescribeKey");
}
