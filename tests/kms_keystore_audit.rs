//! The embedded KMS's keystore and audit trail, against AWS's rules: keys survive a reopen,
//! a tampered keystore record or audit line is found and named, secrets stay out of debug
//! output, the audit trail and errors; threads share one KMS; errors map to AWS's HTTP codes.
//! (Operations, key states, rotation and deletion are in kms_semantics.rs.)

mod common;
use common::kms::*;
use kmsfs::crypto::SecretBytes;
use kmsfs::kms::types::*;
use kmsfs::kms::{Client, Embedded, KmsError};

#[test]
fn keys_survive_reopen() {
    let e = env();
    let id = e.create_key();
    let blob = e.encrypt(&id, b"persist", None);
    e.create_alias("alias/p", &id).unwrap();
    drop(e.c);
    let kms = open(&e.home, &e.clock);
    let c = Embedded::new(kms, PRINCIPAL);
    let r = c
        .decrypt(DecryptRequest {
            ciphertext_blob: blob,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(r.plaintext.expose(), b"persist");
    assert!(
        c.describe_key(KeyIdRequest {
            key_id: "alias/p".into(),
            grant_tokens: None
        })
        .is_ok()
    );
}

#[test]
fn tampered_keystore_record_is_detected_by_name() {
    let e = env();
    let [a, b] = e.keys();
    let blob_b = e.encrypt(&b, b"b", None);
    let path_a = e.home.kms_dir().join(format!("keys/{a}.key"));
    let mut bytes = std::fs::read(&path_a).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 1;
    std::fs::write(&path_a, &bytes).unwrap();
    let err = e.describe(&a).unwrap_err();
    assert_eq!(err.code(), "KMSInternalException");
    assert!(
        err.message().contains(&path_a.display().to_string()),
        "{}",
        err.message()
    );
    assert!(err.message().contains("damaged"), "{}", err.message());
    // The other key is unaffected.
    assert_eq!(e.decrypt(&blob_b, None).unwrap(), b"b");
    // A record copied over another key's file is refused too.
    let path_b = e.home.kms_dir().join(format!("keys/{b}.key"));
    let c = e.create_key();
    std::fs::copy(&path_b, e.home.kms_dir().join(format!("keys/{c}.key"))).unwrap();
    let err = e.describe(&c).unwrap_err();
    assert!(
        err.message().contains("belongs to key"),
        "{}",
        err.message()
    );
    // Opening the KMS still works (damage is reported, not fatal) and purge names it.
    let k2 = open(&e.home, &e.clock);
    let rep = k2.purge().unwrap();
    assert_eq!(rep.damaged.len(), 2, "{rep:?}");
    // A tampered alias table is detected too.
    e.create_alias("alias/z", &b).unwrap();
    let ap = e.home.kms_dir().join("aliases.kms");
    let mut ab = std::fs::read(&ap).unwrap();
    let last = ab.len() - 1;
    ab[last] ^= 1;
    std::fs::write(&ap, ab).unwrap();
    let err = e.describe("alias/z").unwrap_err();
    assert!(err.message().contains("aliases.kms"), "{}", err.message());
}

#[test]
fn secrets_stay_out_of_debug_audit_and_errors() {
    let e = env();
    let id = e.create_key();
    let secret = b"correct horse battery staple";
    let blob = e.encrypt(&id, secret, ec(&[("k", "v")]));
    let r =
        e.c.decrypt(DecryptRequest {
            ciphertext_blob: blob.clone(),
            encryption_context: ec(&[("k", "v")]),
            ..Default::default()
        })
        .unwrap();
    let dbg = format!("{r:?}");
    assert!(!dbg.contains("correct horse"), "{dbg}");
    let g = e.c.generate_data_key(aes_256(&id)).unwrap();
    let b64 = kmsfs::kms::types::b64::encode(g.plaintext.expose());
    assert!(!format!("{g:?}").contains(&b64));
    let _ = e.decrypt(&blob, ec(&[("k", "wrong")]));
    e.kms.flush_audit().unwrap();
    let trail = std::fs::read(e.kms.audit_path()).unwrap();
    let hay = String::from_utf8_lossy(&trail);
    assert!(!hay.contains("correct horse"));
    assert!(!hay.contains(&kmsfs::kms::types::b64::encode(secret)));
    assert!(!hay.contains(&b64));
    // Key material never appears in the Debug of the KMS or its records.
    assert!(!format!("{:?}", e.kms).contains("secret"));
    // Files that hold keys are 0600.
    use std::os::unix::fs::PermissionsExt;
    for p in [
        e.home.kms_dir().join("root.key"),
        e.home.kms_dir().join(format!("keys/{id}.key")),
    ] {
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600,
            "{}",
            p.display()
        );
    }
}

#[test]
fn audit_trail_records_every_request_and_verifies() {
    let e = env();
    let id = e.create_key();
    let blob = e.encrypt(&id, b"x", ec(&[("purpose", "test")]));
    let _ = e.decrypt(&blob, ec(&[("purpose", "test")]));
    let _ = e.decrypt(&blob, None);
    let _ = e.describe("alias/missing");
    let lines = e.audit_lines();
    let ops: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (l.operation.as_str(), l.outcome.as_str()))
        .collect();
    assert_eq!(
        ops,
        [
            ("CreateKey", "Success"),
            ("Encrypt", "Success"),
            ("Decrypt", "Success"),
            ("Decrypt", "Failure"),
            ("DescribeKey", "Failure")
        ]
    );
    assert_eq!(
        lines[3].error_code.as_deref(),
        Some("InvalidCiphertextException")
    );
    assert_eq!(lines[4].error_code.as_deref(), Some("NotFoundException"));
    assert_eq!(lines[1].principal, PRINCIPAL);
    assert_eq!(lines[1].encryption_context, ec(&[("purpose", "test")]));
    assert!(lines[2].key_arn.as_deref().unwrap().ends_with(&id));
    let ids: std::collections::HashSet<_> = lines.iter().map(|l| l.request_id.clone()).collect();
    assert_eq!(ids.len(), lines.len(), "request ids are unique");
    // CreateKey changes state: its `Pending` line was written ahead of the key.
    let rep = kmsfs::kms::audit::verify(e.kms.audit_path()).unwrap();
    assert_eq!(rep.lines, 6);
    let all = kmsfs::kms::audit::read_all_lines(e.kms.audit_path()).unwrap();
    assert_eq!(
        (all[0].operation.as_str(), all[0].outcome.as_str()),
        ("CreateKey", "Pending")
    );
    assert_eq!(all[0].request_id, all[1].request_id);
}

#[test]
fn audit_tampering_is_found_and_named() {
    use kmsfs::kms::audit::{AuditError, verify};
    let e = env();
    let id = e.create_key();
    for _ in 0..5 {
        e.encrypt(&id, b"x", None);
    }
    e.kms.flush_audit().unwrap();
    let path = e.kms.audit_path().to_path_buf();
    let orig = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = orig.lines().collect();
    // CreateKey's Pending and Success lines, five Encrypt lines.
    assert_eq!(lines.len(), 7);
    let check = |content: String, want_line: u64| {
        std::fs::write(&path, content).unwrap();
        match verify(&path) {
            Err(AuditError::Broken { line, .. }) => assert_eq!(line, want_line),
            other => panic!("expected broken at line {want_line}, got {other:?}"),
        }
    };
    let join = |v: Vec<&str>| v.join("\n") + "\n";
    // Changed: line 3's operation edited -> line 4 no longer chains.
    let mut v = lines.clone();
    let changed = v[2].replace("Encrypt", "Decrypt");
    v[2] = &changed;
    check(join(v), 4);
    // Removed line 2.
    let mut v = lines.clone();
    v.remove(1);
    check(join(v), 2);
    // Reordered 3 and 4.
    let mut v = lines.clone();
    v.swap(2, 3);
    check(join(v), 3);
    // Last line changed: the head catches it.
    let mut v = lines.clone();
    let changed = v[6].replace("Encrypt", "Decrypt");
    v[6] = &changed;
    check(join(v), 7);
    // Cut from the end.
    check(join(lines[..4].to_vec()), 5);
    // Restored: passes; a torn tail is tolerated and reported.
    std::fs::write(&path, format!("{orig}{{\"seq\":8,\"ti")).unwrap();
    let rep = verify(&path).unwrap();
    assert_eq!((rep.lines, rep.torn_tail_bytes), (7, 12));
    // The next writer cuts the torn tail and goes on chaining.
    e.encrypt(&id, b"x", None);
    e.kms.flush_audit().unwrap();
    assert_eq!(verify(&path).unwrap().lines, 8);
}

#[test]
fn concurrent_threads_share_one_kms() {
    let e = env();
    let id = e.create_key();
    std::thread::scope(|s| {
        for t in 0..4 {
            let c = e.c.clone();
            let id = id.clone();
            s.spawn(move || {
                for i in 0..50 {
                    let pt = format!("{t}-{i}");
                    let blob = c
                        .encrypt(EncryptRequest {
                            key_id: id.clone(),
                            plaintext: SecretBytes::from_slice(pt.as_bytes()),
                            ..Default::default()
                        })
                        .unwrap()
                        .ciphertext_blob;
                    let back = c
                        .decrypt(DecryptRequest {
                            ciphertext_blob: blob,
                            ..Default::default()
                        })
                        .unwrap();
                    assert_eq!(back.plaintext.expose(), pt.as_bytes());
                    if i % 10 == 0 {
                        c.create_alias(AliasRequest {
                            alias_name: format!("alias/t{t}-{i}"),
                            target_key_id: id.clone(),
                        })
                        .unwrap();
                    }
                }
            });
        }
    });
    assert_eq!(
        e.c.list_aliases(ListRequest::default())
            .unwrap()
            .aliases
            .len(),
        20
    );
    e.kms.flush_audit().unwrap();
    // CreateKey, 400 Encrypt/Decrypt, 20 CreateAlias, the ListAliases above; the two
    // changes (CreateKey, CreateAlias) have a Pending line each as well.
    assert_eq!(
        kmsfs::kms::audit::verify(e.kms.audit_path()).unwrap().lines,
        2 + 4 * 50 * 2 + 2 * 20 + 1
    );
}

#[test]
fn errors_map_to_aws_status() {
    assert_eq!(KmsError::NotFound("x".into()).http_status(), 400);
    assert_eq!(KmsError::Internal("x".into()).http_status(), 500);
    assert_eq!(
        KmsError::Disabled("m".into()).to_string(),
        "DisabledException: m"
    );
}

/// A refused Encrypt with a 10 MB encryption context adds at most one capped line to the
/// trail, which says what was cut; the trail still verifies.
#[test]
fn oversized_context_is_refused_and_its_line_is_capped() {
    let e = env();
    let id = e.create_key();
    let path = e.kms.audit_path().to_path_buf();
    e.kms.flush_audit().unwrap();
    let before = std::fs::metadata(&path).unwrap().len();
    let big: kmsfs::kms::EncryptionContext = [("k".to_string(), "\u{1}".repeat(10 << 20))].into();
    for _ in 0..3 {
        let r = e.c.encrypt(EncryptRequest {
            key_id: id.clone(),
            plaintext: SecretBytes::from_slice(b"x"),
            encryption_context: Some(big.clone()),
            ..Default::default()
        });
        assert_eq!(code(r), "ValidationException");
    }
    e.kms.flush_audit().unwrap();
    let grown = std::fs::metadata(&path).unwrap().len() - before;
    let cap = kmsfs::kms::audit::MAX_LINE as u64 + 1;
    assert!(grown <= 3 * cap, "the trail grew by {grown} bytes");
    kmsfs::kms::audit::verify(&path).unwrap();
    let last = e.audit_lines().pop().unwrap();
    assert_eq!(last.operation, "Encrypt");
    assert_eq!(last.encryption_context, None);
    assert_eq!(
        last.truncated.as_deref(),
        Some(&["encryptionContext".to_string()][..])
    );
}
