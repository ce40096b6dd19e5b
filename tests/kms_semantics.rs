//! The embedded KMS's behaviour, operation by operation, against AWS's rules: key states,
//! encryption context, rotation, deletion, aliases, AWS-managed keys, validation limits,
//! and a keystore that detects tampering. Time comes from a manual clock.

mod common;
use common::kms::*;
use kmsfs::crypto::SecretBytes;
use kmsfs::kms::clock::DAY_MS;
use kmsfs::kms::types::*;
use kmsfs::kms::{Client, blob::Blob};

/// A fresh KMS with a key and the blob of `x` encrypted under it.
fn key_and_blob() -> (Env, String, Vec<u8>) {
    let e = env();
    let id = e.create_key();
    let blob = e.encrypt(&id, b"x", None);
    (e, id, blob)
}

#[test]
fn create_describe_list() {
    let e = env();
    let id = e.create_key();
    let m = e.describe(&id).unwrap();
    assert_eq!(m.key_id, id);
    assert_eq!(m.arn, format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{id}"));
    assert_eq!(m.aws_account_id, ACCOUNT);
    assert_eq!(
        (
            m.key_state.as_str(),
            m.enabled,
            m.key_usage.as_str(),
            m.key_spec.as_str()
        ),
        ("Enabled", true, "ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT")
    );
    assert_eq!(
        (m.key_manager.as_str(), m.origin.as_str()),
        ("CUSTOMER", "AWS_KMS")
    );
    assert_eq!(m.creation_date, 1_800_000_000.0);
    // By ARN too.
    assert_eq!(e.describe(&m.arn).unwrap().key_id, id);
    let ids: Vec<String> = (0..4).map(|_| e.create_key()).collect();
    let page1 =
        e.c.list_keys(ListRequest {
            limit: Some(3),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page1.keys.len(), 3);
    assert!(page1.truncated);
    let page2 =
        e.c.list_keys(ListRequest {
            limit: Some(3),
            marker: page1.next_marker.clone(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page2.keys.len(), 2);
    assert!(!page2.truncated);
    let mut all: Vec<String> = page1
        .keys
        .iter()
        .chain(&page2.keys)
        .map(|k| k.key_id.clone())
        .collect();
    all.sort();
    let mut want = ids;
    want.push(id);
    want.sort();
    assert_eq!(all, want);
}

#[test]
fn unsupported_and_invalid_create_options() {
    let e = env();
    let create = |f: &dyn Fn(&mut CreateKeyRequest)| {
        let mut r = CreateKeyRequest::default();
        f(&mut r);
        code(e.c.create_key(r))
    };
    let spec = |s: &str| create(&|r| r.key_spec = Some(s.into()));
    assert_eq!(spec("SM2"), "UnsupportedOperationException");
    assert_eq!(spec("AES_999"), "ValidationException");
    assert_eq!(
        create(&|r| r.policy = Some("{not json".into())),
        "MalformedPolicyDocumentException"
    );
    assert_eq!(
        create(&|r| r.description = Some("x".repeat(8193))),
        "ValidationException"
    );
}

#[test]
fn encrypt_decrypt_with_context() {
    let e = env();
    let id = e.create_key();
    let blob = e.encrypt(&id, b"hello", ec(&[("purpose", "test"), ("app", "x")]));
    assert_eq!(blob.len(), 5 + 56);
    let out = e
        .decrypt(&blob, ec(&[("app", "x"), ("purpose", "test")]))
        .unwrap();
    assert_eq!(out, b"hello");
    for wrong in [
        None,
        ec(&[("purpose", "test")]),
        ec(&[("purpose", "Test"), ("app", "x")]),
    ] {
        assert_eq!(code(e.decrypt(&blob, wrong)), "InvalidCiphertextException");
    }
    let r =
        e.c.decrypt(DecryptRequest {
            ciphertext_blob: blob.clone(),
            encryption_context: ec(&[("purpose", "test"), ("app", "x")]),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(r.key_id, e.describe(&id).unwrap().arn);
    assert_eq!(r.encryption_algorithm, "SYMMETRIC_DEFAULT");
}

#[test]
fn context_is_not_ambiguous() {
    // moto, LocalStack and local-kms concatenate keys and values; these pairs collide there.
    let e = env();
    let id = e.create_key();
    let pairs = [
        (ec(&[("ab", "c")]), ec(&[("a", "bc")])),
        (ec(&[("a", "b"), ("c", "d")]), ec(&[("a", "bcd")])),
        (ec(&[("ab", "")]), ec(&[("a", "b")])),
    ];
    for (made, tried) in pairs {
        let blob = e.encrypt(&id, b"x", made.clone());
        assert_eq!(code(e.decrypt(&blob, tried)), "InvalidCiphertextException");
        assert!(e.decrypt(&blob, made).is_ok());
    }
}

#[test]
fn plaintext_limits() {
    let e = env();
    let id = e.create_key();
    let big = e.c.encrypt(EncryptRequest {
        key_id: id.clone(),
        plaintext: SecretBytes::new(vec![1; 4097]),
        ..Default::default()
    });
    let err = big.unwrap_err();
    assert_eq!(err.code(), "ValidationException");
    assert!(err.message().contains("4096"), "{}", err.message());
    assert_eq!(
        e.decrypt(&e.encrypt(&id, &[7; 4096], None), None).unwrap(),
        vec![7; 4096]
    );
    let empty = e.c.encrypt(EncryptRequest {
        key_id: id,
        plaintext: SecretBytes::default(),
        ..Default::default()
    });
    assert_eq!(code(empty), "ValidationException");
    assert_eq!(code(e.decrypt(&[], None)), "ValidationException");
    assert_eq!(code(e.decrypt(&vec![0; 6145], None)), "ValidationException");
}

#[test]
fn every_damaged_blob_is_invalid_ciphertext() {
    let e = env();
    let id = e.create_key();
    let ctx = ec(&[("k", "v")]);
    let blob = e.encrypt(&id, b"a 32-byte data key goes here....", ctx.clone());
    for i in 0..blob.len() {
        for bit in [0x01, 0x80] {
            let mut b = blob.clone();
            b[i] ^= bit;
            assert_eq!(
                code(e.decrypt(&b, ctx.clone())),
                "InvalidCiphertextException",
                "flip byte {i}"
            );
        }
    }
    for n in 1..blob.len() {
        assert_eq!(
            code(e.decrypt(&blob[..n], ctx.clone())),
            "InvalidCiphertextException",
            "truncate to {n}"
        );
    }
    let mut ext = blob.clone();
    ext.push(0);
    assert_eq!(
        code(e.decrypt(&ext, ctx.clone())),
        "InvalidCiphertextException"
    );
    // A blob from another home (its key does not exist here).
    let other = env();
    let oid = other.create_key();
    let foreign = other.encrypt(&oid, b"x", None);
    assert_eq!(
        code(e.decrypt(&foreign, None)),
        "InvalidCiphertextException"
    );
}

#[test]
fn unknown_keys_and_aliases() {
    let e = env();
    let none = "00000000-0000-4000-8000-000000000000";
    assert_eq!(code(e.describe(none)), "NotFoundException");
    assert_eq!(code(e.describe("alias/nope")), "NotFoundException");
    assert_eq!(code(e.describe("not-a-key")), "NotFoundException");
    assert_eq!(
        code(e.describe(&format!("arn:aws:kms:eu-west-1:{ACCOUNT}:key/{none}"))),
        "NotFoundException"
    );
    let r = e.c.encrypt(EncryptRequest {
        key_id: "alias/nope".into(),
        plaintext: SecretBytes::from_slice(b"x"),
        ..Default::default()
    });
    assert_eq!(code(r), "NotFoundException");
    let msg = e.describe("alias/nope").unwrap_err().message();
    assert_eq!(
        msg,
        format!("Alias arn:aws:kms:us-east-1:{ACCOUNT}:alias/nope is not found.")
    );
}

#[test]
fn decrypt_with_wrong_key_id_is_incorrect_key() {
    let e = env();
    let [a, b] = e.keys();
    e.create_alias("alias/a", &a).unwrap();
    let blob = e.encrypt(&a, b"x", None);
    let with = |k: &str| {
        e.c.decrypt(DecryptRequest {
            ciphertext_blob: blob.clone(),
            key_id: Some(k.into()),
            ..Default::default()
        })
    };
    assert_eq!(code(with(&b)), "IncorrectKeyException");
    assert!(with(&a).is_ok());
    assert!(with("alias/a").is_ok());
}

#[test]
fn on_demand_rotation_keeps_old_ciphertexts() {
    let e = env();
    let id = e.create_key();
    let old = e.encrypt(&id, b"before", None);
    let m1 = e.describe(&id).unwrap().current_key_material_id;
    e.c.rotate_key_on_demand(e.kid(&id)).unwrap();
    let m2 = e.describe(&id).unwrap().current_key_material_id;
    assert_ne!(m1, m2);
    let new = e.encrypt(&id, b"after", None);
    assert_eq!(Blob::parse(&old).unwrap().material_version, 1);
    assert_eq!(Blob::parse(&new).unwrap().material_version, 2);
    assert_eq!(e.decrypt(&old, None).unwrap(), b"before");
    assert_eq!(e.decrypt(&new, None).unwrap(), b"after");
    let rot = e.rotations(&id);
    assert_eq!(rot.len(), 1);
    assert_eq!(rot[0].rotation_type, "ON_DEMAND");
    assert_eq!(rot[0].key_material_state, "CURRENT");
    for _ in 1..25 {
        e.c.rotate_key_on_demand(e.kid(&id)).unwrap();
    }
    assert_eq!(
        code(e.c.rotate_key_on_demand(e.kid(&id))),
        "LimitExceededException"
    );
    assert_eq!(e.decrypt(&old, None).unwrap(), b"before");
    // Pagination of rotations.
    let p =
        e.c.list_key_rotations(ListRequest {
            key_id: Some(id.clone()),
            limit: Some(10),
            marker: None,
        })
        .unwrap();
    assert!(p.truncated && p.rotations.len() == 10);
    let p2 =
        e.c.list_key_rotations(ListRequest {
            key_id: Some(id),
            limit: Some(100),
            marker: p.next_marker,
        })
        .unwrap();
    assert_eq!(p2.rotations.len(), 15);
}

#[test]
fn automatic_rotation_when_due() {
    let e = env();
    let id = e.create_key();
    assert_eq!(
        code(e.c.enable_key_rotation(EnableKeyRotationRequest {
            key_id: id.clone(),
            rotation_period_in_days: Some(89)
        })),
        "ValidationException"
    );
    e.c.enable_key_rotation(EnableKeyRotationRequest {
        key_id: id.clone(),
        rotation_period_in_days: Some(90),
    })
    .unwrap();
    let st = e.c.get_key_rotation_status(e.kid(&id)).unwrap();
    assert!(st.key_rotation_enabled);
    assert_eq!(st.rotation_period_in_days, Some(90));
    assert_eq!(
        st.next_rotation_date,
        Some(1_800_000_000.0 + 90.0 * 86400.0)
    );
    let old = e.encrypt(&id, b"old", None);
    e.clock.advance_days(89);
    assert_eq!(
        Blob::parse(&e.encrypt(&id, b"x", None))
            .unwrap()
            .material_version,
        1
    );
    e.clock.advance_days(2);
    let new = e.encrypt(&id, b"new", None);
    assert_eq!(Blob::parse(&new).unwrap().material_version, 2);
    assert_eq!(e.decrypt(&old, None).unwrap(), b"old");
    let st = e.c.get_key_rotation_status(e.kid(&id)).unwrap();
    assert_eq!(
        st.next_rotation_date,
        Some(1_800_000_000.0 + 180.0 * 86400.0)
    );
    // Three periods later: three more versions.
    e.clock.advance_days(270);
    e.kms.purge().unwrap();
    let rot = e.rotations(&id);
    assert_eq!(rot.len(), 4);
    assert!(rot.iter().all(|r| r.rotation_type == "AUTOMATIC"));
    assert!(
        e.audit_lines()
            .iter()
            .any(|l| l.operation == "RotateKey" && l.principal == "kms.amazonaws.com")
    );
    e.c.disable_key_rotation(e.kid(&id)).unwrap();
    assert!(
        !e.c.get_key_rotation_status(e.kid(&id))
            .unwrap()
            .key_rotation_enabled
    );
}

#[test]
fn disabled_key_states() {
    let (e, id, blob) = key_and_blob();
    e.c.disable_key(e.kid(&id)).unwrap();
    let m = e.describe(&id).unwrap();
    assert_eq!((m.key_state.as_str(), m.enabled), ("Disabled", false));
    let r = e.c.encrypt(EncryptRequest {
        key_id: id.clone(),
        plaintext: SecretBytes::from_slice(b"x"),
        ..Default::default()
    });
    let err = r.unwrap_err();
    assert_eq!(err.code(), "DisabledException");
    assert_eq!(err.message(), format!("{} is disabled.", m.arn));
    assert_eq!(code(e.decrypt(&blob, None)), "DisabledException");
    let r = e.c.generate_data_key(aes_256(&id));
    assert_eq!(code(r), "DisabledException");
    assert_eq!(
        code(e.c.rotate_key_on_demand(e.kid(&id))),
        "DisabledException"
    );
    assert_eq!(
        code(e.c.enable_key_rotation(EnableKeyRotationRequest {
            key_id: id.clone(),
            rotation_period_in_days: None
        })),
        "DisabledException"
    );
    // Management still works on a disabled key.
    e.tag(&id, &[("a", "b")]).unwrap();
    e.c.enable_key(e.kid(&id)).unwrap();
    assert_eq!(e.decrypt(&blob, None).unwrap(), b"x");
}

#[test]
fn pending_deletion_states_and_cancel() {
    let (e, id, blob) = key_and_blob();
    for bad in [6, 31] {
        let r = e.schedule_deletion(&id, Some(bad));
        assert_eq!(code(r), "ValidationException");
    }
    let r = e.schedule_deletion(&id, None).unwrap();
    assert_eq!(
        (r.key_state.as_str(), r.pending_window_in_days),
        ("PendingDeletion", 30)
    );
    assert_eq!(r.deletion_date, 1_800_000_000.0 + 30.0 * 86400.0);
    let m = e.describe(&id).unwrap();
    assert_eq!(m.deletion_date, Some(r.deletion_date));
    assert_eq!(m.pending_deletion_window_in_days, Some(30));
    let pending = format!("{} is pending deletion.", m.arn);
    let err = e.decrypt(&blob, None).unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        ("KMSInvalidStateException", pending.clone())
    );
    assert_eq!(code(e.c.enable_key(e.kid(&id))), "KMSInvalidStateException");
    assert_eq!(
        code(e.c.disable_key(e.kid(&id))),
        "KMSInvalidStateException"
    );
    assert_eq!(code(e.tag(&id, &[])), "KMSInvalidStateException");
    assert_eq!(
        code(e.c.update_key_description(UpdateKeyDescriptionRequest {
            key_id: id.clone(),
            description: "d".into()
        })),
        "KMSInvalidStateException"
    );
    assert_eq!(
        code(e.create_alias("alias/p", &id)),
        "KMSInvalidStateException"
    );
    assert_eq!(
        code(e.schedule_deletion(&id, Some(7))),
        "KMSInvalidStateException"
    );
    // Always allowed.
    e.tags(&id);
    e.c.get_key_policy(GetKeyPolicyRequest {
        key_id: id.clone(),
        policy_name: None,
    })
    .unwrap();
    // Cancel leaves it Disabled, as AWS does.
    e.c.cancel_key_deletion(e.kid(&id)).unwrap();
    let m = e.describe(&id).unwrap();
    assert_eq!((m.key_state.as_str(), m.deletion_date), ("Disabled", None));
    let err = e.c.cancel_key_deletion(e.kid(&id)).unwrap_err();
    assert_eq!(err.code(), "KMSInvalidStateException");
    assert!(err.message().ends_with("is not pending deletion."));
    e.c.enable_key(e.kid(&id)).unwrap();
    assert_eq!(e.decrypt(&blob, None).unwrap(), b"x");
}

#[test]
fn deletion_happens_when_the_window_is_over() {
    let e = env();
    let [id, keep] = e.keys();
    e.create_alias("alias/doomed", &id).unwrap();
    let blob = e.encrypt(&id, b"x", None);
    e.schedule_deletion(&id, Some(7)).unwrap();
    e.clock.advance_days(6);
    assert_eq!(e.describe(&id).unwrap().key_state, "PendingDeletion");
    e.clock.advance_ms(DAY_MS + 1);
    assert_eq!(code(e.describe(&id)), "NotFoundException");
    assert_eq!(code(e.describe("alias/doomed")), "NotFoundException");
    assert_eq!(code(e.decrypt(&blob, None)), "InvalidCiphertextException");
    let keys = e.c.list_keys(ListRequest::default()).unwrap();
    assert_eq!(keys.keys.len(), 1);
    assert_eq!(keys.keys[0].key_id, keep);
    assert!(
        e.c.list_aliases(ListRequest::default())
            .unwrap()
            .aliases
            .iter()
            .all(|a| a.alias_name != "alias/doomed")
    );
    assert!(
        e.audit_lines()
            .iter()
            .any(|l| l.operation == "DeleteKey" && l.key_arn.as_deref().unwrap().ends_with(&id))
    );
    assert!(!e.kms.purge().unwrap().deleted.contains(&id));
}

#[test]
fn deletion_is_applied_on_open_and_by_purge() {
    let e = env();
    let a = e.create_key();
    e.schedule_deletion(&a, Some(7)).unwrap();
    let b = e.create_key();
    e.schedule_deletion(&b, Some(30)).unwrap();
    e.clock.advance_days(8);
    // Opening a second instance sweeps: a is gone from disk.
    let _k2 = open(&e.home, &e.clock);
    assert!(!e.home.kms_dir().join(format!("keys/{a}.key")).exists());
    assert!(e.home.kms_dir().join(format!("keys/{b}.key")).exists());
    e.clock.advance_days(30);
    let rep = e.kms.purge().unwrap();
    assert_eq!(rep.deleted.len(), 1);
    assert!(rep.deleted[0].ends_with(&b));
}

#[test]
fn aws_managed_keys() {
    let e = env();
    let m = e.describe("alias/aws/ebs").unwrap();
    assert_eq!(m.key_manager, "AWS");
    assert_eq!(
        e.describe("alias/aws/ebs").unwrap().key_id,
        m.key_id,
        "created once"
    );
    // Usable only through its service (kms:ViaService), not directly.
    let enc = |c: &kmsfs::kms::Embedded, key: &str, pt: &[u8]| {
        c.encrypt(EncryptRequest {
            key_id: key.into(),
            plaintext: SecretBytes::from_slice(pt),
            ..Default::default()
        })
        .map(|r| r.ciphertext_blob)
    };
    assert_eq!(
        code(enc(&e.c, "alias/aws/s3", b"x")),
        "AccessDeniedException"
    );
    let via = |svc: &str| {
        let caller = kmsfs::kms::Caller::new(svc).on_behalf_of(PRINCIPAL);
        kmsfs::kms::Embedded::new(e.kms.clone(), caller)
    };
    let (s3, ec2) = (via("s3.amazonaws.com"), via("ebs.amazonaws.com"));
    let blob = enc(&s3, "alias/aws/s3", b"obj key").unwrap();
    let dec = |c: &kmsfs::kms::Embedded, blob: &[u8]| {
        c.decrypt(DecryptRequest {
            ciphertext_blob: blob.to_vec(),
            ..Default::default()
        })
        .unwrap()
        .plaintext
    };
    assert_eq!(dec(&s3, &blob).expose(), b"obj key");
    assert_eq!(
        code(enc(&s3, "alias/aws/ebs", b"x")),
        "AccessDeniedException"
    );
    assert_eq!(
        code(e.describe("alias/aws/unknown-service")),
        "NotFoundException"
    );
    let st = e.c.get_key_rotation_status(e.kid(&m.key_id)).unwrap();
    assert!(st.key_rotation_enabled);
    assert_eq!(st.rotation_period_in_days, Some(365));
    assert_eq!(
        code(e.c.disable_key(e.kid(&m.key_id))),
        "AccessDeniedException"
    );
    assert_eq!(
        code(e.schedule_deletion(&m.key_id, Some(7))),
        "AccessDeniedException"
    );
    // AWS's policy of the key does not allow it: refused before the operation looks.
    assert_eq!(
        code(e.c.disable_key_rotation(e.kid(&m.key_id))),
        "AccessDeniedException"
    );
    assert_eq!(
        code(e.create_alias("alias/mine", &m.key_id)),
        "AccessDeniedException"
    );
    assert_eq!(
        code(e.create_alias("alias/aws/mine", &e.create_key())),
        "InvalidAliasNameException"
    );
    assert_eq!(
        code(e.c.delete_alias("alias/aws/ebs")),
        "InvalidAliasNameException"
    );
    // It rotates every year by itself.
    e.clock.advance_days(366);
    enc(&ec2, "alias/aws/ebs", b"y").unwrap();
    assert_eq!(e.rotations(&m.key_id).len(), 1);
    assert_eq!(dec(&s3, &blob).expose(), b"obj key");
}

#[test]
fn aliases() {
    let e = env();
    let [a, b] = e.keys();
    let arn_a = e.describe(&a).unwrap().arn;
    e.create_alias("alias/app", &arn_a).unwrap();
    assert_eq!(
        code(e.create_alias("alias/app", &b)),
        "AlreadyExistsException"
    );
    assert_eq!(code(e.create_alias("app", &b)), "InvalidAliasNameException");
    assert_eq!(
        code(e.create_alias("alias/bad name", &b)),
        "ValidationException"
    );
    assert_eq!(
        code(e.create_alias("alias/x", "alias/app")),
        "NotFoundException"
    );
    assert_eq!(e.describe("alias/app").unwrap().key_id, a);
    assert_eq!(
        e.describe(&format!("arn:aws:kms:us-east-1:{ACCOUNT}:alias/app"))
            .unwrap()
            .key_id,
        a
    );
    let blob = e.encrypt("alias/app", b"x", None);
    e.c.update_alias(alias("alias/app", &b)).unwrap();
    assert_eq!(e.describe("alias/app").unwrap().key_id, b);
    assert_eq!(
        e.decrypt(&blob, None).unwrap(),
        b"x",
        "the blob names its key, not the alias"
    );
    e.create_alias("alias/other", &a).unwrap();
    let only_a = e.c.list_aliases(of_key(&a)).unwrap();
    assert_eq!(
        only_a
            .aliases
            .iter()
            .map(|x| x.alias_name.as_str())
            .collect::<Vec<_>>(),
        ["alias/other"]
    );
    let all =
        e.c.list_aliases(ListRequest {
            limit: Some(1),
            ..Default::default()
        })
        .unwrap();
    assert!(all.truncated);
    e.c.delete_alias("alias/app").unwrap();
    assert_eq!(code(e.c.delete_alias("alias/app")), "NotFoundException");
    assert_eq!(
        code(e.c.update_alias(alias("alias/app", &a))),
        "NotFoundException"
    );
    // Management operations take a key id or ARN, not an alias.
    assert_eq!(
        code(e.c.disable_key(e.kid("alias/other"))),
        "NotFoundException"
    );
}

#[test]
fn data_keys_and_random() {
    let e = env();
    let id = e.create_key();
    let mk = |spec: Option<&str>, n: Option<u32>| {
        e.c.generate_data_key(GenerateDataKeyRequest {
            key_id: id.clone(),
            key_spec: spec.map(String::from),
            number_of_bytes: n,
            encryption_context: ec(&[("aws:ebs:id", "vol-1")]),
            grant_tokens: None,
        })
    };
    let k = mk(Some("AES_256"), None).unwrap();
    assert_eq!(k.plaintext.len(), 32);
    assert_eq!(
        e.decrypt(&k.ciphertext_blob, ec(&[("aws:ebs:id", "vol-1")]))
            .unwrap(),
        k.plaintext.expose()
    );
    assert_eq!(mk(Some("AES_128"), None).unwrap().plaintext.len(), 16);
    assert_eq!(mk(None, Some(1)).unwrap().plaintext.len(), 1);
    assert_eq!(mk(None, Some(1024)).unwrap().plaintext.len(), 1024);
    for (s, n) in [
        (None, None),
        (Some("AES_256"), Some(32)),
        (None, Some(0)),
        (None, Some(1025)),
        (Some("AES_512"), None),
    ] {
        assert_eq!(code(mk(s, n)), "ValidationException", "{s:?} {n:?}");
    }
    let w =
        e.c.generate_data_key_without_plaintext(aes_256(&id))
            .unwrap();
    assert_eq!(e.decrypt(&w.ciphertext_blob, None).unwrap().len(), 32);
    let r =
        e.c.generate_random(GenerateRandomRequest {
            number_of_bytes: Some(64),
        })
        .unwrap();
    assert_eq!(r.plaintext.len(), 64);
    assert_ne!(r.plaintext.expose(), &[0u8; 64][..]);
    for n in [None, Some(0), Some(1025)] {
        assert_eq!(
            code(e.c.generate_random(GenerateRandomRequest { number_of_bytes: n })),
            "ValidationException"
        );
    }
}

#[test]
fn re_encrypt_moves_between_keys_and_contexts() {
    let e = env();
    let [a, b] = e.keys();
    let blob = e.encrypt(&a, b"moving", ec(&[("x", "1")]));
    let r =
        e.c.re_encrypt(ReEncryptRequest {
            ciphertext_blob: blob.clone(),
            source_encryption_context: ec(&[("x", "1")]),
            destination_key_id: b.clone(),
            destination_encryption_context: ec(&[("y", "2")]),
            ..Default::default()
        })
        .unwrap();
    assert!(r.source_key_id.ends_with(&a) && r.key_id.ends_with(&b));
    assert_eq!(
        e.decrypt(&r.ciphertext_blob, ec(&[("y", "2")])).unwrap(),
        b"moving"
    );
    let bad = e.c.re_encrypt(ReEncryptRequest {
        ciphertext_blob: blob.clone(),
        destination_key_id: b.clone(),
        ..Default::default()
    });
    assert_eq!(code(bad), "InvalidCiphertextException");
    let bad = e.c.re_encrypt(ReEncryptRequest {
        ciphertext_blob: blob,
        source_key_id: Some(b.clone()),
        source_encryption_context: ec(&[("x", "1")]),
        destination_key_id: b,
        ..Default::default()
    });
    assert_eq!(code(bad), "IncorrectKeyException");
}

#[test]
fn tags_and_descriptions() {
    let e = env();
    let id = e.create_key();
    e.tag(&id, &[("b", "2"), ("a", "1")]).unwrap();
    e.tag(&id, &[("a", "one")]).unwrap();
    assert_eq!(e.tags(&id), [tag("a", "one"), tag("b", "2")]);
    assert_eq!(code(e.tag(&id, &[("aws:x", "1")])), "TagException");
    assert_eq!(code(e.tag(&id, &[("d", "1"), ("d", "2")])), "TagException");
    let many: Vec<Tag> = (0..51).map(|i| tag(&format!("k{i}"), "v")).collect();
    assert_eq!(
        code(e.c.tag_resource(TagResourceRequest {
            key_id: id.clone(),
            tags: many
        })),
        "TagException"
    );
    e.c.untag_resource(UntagResourceRequest {
        key_id: id.clone(),
        tag_keys: vec!["a".into()],
    })
    .unwrap();
    assert_eq!(e.tags(&id), [tag("b", "2")]);
    e.c.update_key_description(UpdateKeyDescriptionRequest {
        key_id: id.clone(),
        description: "new".into(),
    })
    .unwrap();
    assert_eq!(e.describe(&id).unwrap().description, "new");
    let p =
        e.c.get_key_policy(GetKeyPolicyRequest {
            key_id: id.clone(),
            policy_name: None,
        })
        .unwrap();
    assert!(p.policy.contains(&format!("arn:aws:iam::{ACCOUNT}:root")));
    assert_eq!(
        code(e.c.get_key_policy(GetKeyPolicyRequest {
            key_id: id,
            policy_name: Some("other".into())
        })),
        "NotFoundException"
    );
}
