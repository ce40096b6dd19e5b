//! Golden vectors for the KMS formats (`tests/vectors/kms.json`): the encryption-context
//! encoding, a ciphertext blob, a sealed key record, an audit chain; and bad inputs with the
//! error each must give. Regenerate (only when a format changes on purpose) with
//! `KMSFS_REGEN_VECTORS=1 cargo test --test kms_vectors`.

mod common;
use common::kms::ctx as ec;
use common::vectors::{self, bytes, edited};
use kmsfs::crypto::{AeadKey, SecretKey, hex, sha256};
use kmsfs::kms::audit::{AuditError, AuditEvent, AuditLine, GENESIS, Head, verify_bytes};
use kmsfs::kms::blob::{Blob, BlobError};
use kmsfs::kms::record::{self, RecordError};
use kmsfs::kms::{blob, context};
use serde_json::{Value, json};
use std::sync::Arc;

const MATERIAL: [u8; 32] = [0x42; 32];
const KEY_ID: [u8; 16] = [
    0x1b, 0x4e, 0x28, 0xba, 0x2f, 0xa1, 0x41, 0xd2, 0x88, 0x3f, 0x0e, 0xb1, 0x6f, 0xaa, 0xf2, 0x10,
];
const NONCE: [u8; 12] = [0x0c; 12];
const ROOT: [u8; 32] = [0x07; 32];

fn the_record() -> record::KeyRecord {
    record::KeyRecord {
        key_id: KEY_ID,
        created_ms: 1_800_000_000_000,
        description: "app key".into(),
        state: record::KeyState::Enabled,
        manager: record::KeyManager::Customer,
        deletion_ms: None,
        pending_window_days: None,
        rotation: None,
        materials: vec![record::Material {
            version: 1,
            id: [0x99; 32],
            created_ms: 1_800_000_000_000,
            origin: record::MaterialOrigin::Created,
            secret: record::KeySecret::Aes256(record::Material32(zeroize::Zeroizing::new(
                MATERIAL,
            ))),
        }],
        tags: Default::default(),
        policy: "{}".into(),
        spec: None,
        usage: record::KeyUsage::EncryptDecrypt,
        origin: record::Origin::AwsKms,
        multi_region: None,
        imported: None,
    }
}

/// A record of format version 2's other kinds: an imported HMAC_256 key of a multi-Region
/// set (material `5a` × 40, expiring), in PendingDeletion.
fn the_hmac_record() -> record::KeyRecord {
    let mut r = the_record();
    r.key_id[6] = 0x81; // a UUID version 8: a multi-Region key (`mrk-…`)
    r.description = "imported mac".into();
    r.state = record::KeyState::PendingDeletion;
    r.deletion_ms = Some(1_800_604_800_000);
    r.pending_window_days = Some(7);
    r.materials[0].secret =
        record::KeySecret::Hmac(record::SecretVec(zeroize::Zeroizing::new(vec![0x5a; 40])));
    r.spec = Some(kmsfs::crypto::asym::KeySpec::Hmac256);
    r.usage = record::KeyUsage::GenerateVerifyMac;
    r.origin = record::Origin::External;
    r.multi_region = Some(record::MultiRegion {
        primary_region: "us-east-1".into(),
        replica_regions: vec!["eu-west-1".into()],
    });
    r.imported = Some(record::Imported {
        valid_to_ms: Some(1_900_000_000_000),
        fingerprint: Some([0xf1; 32]),
    });
    r
}

/// The same record sealed in format version 1 (symmetric keys only, before key specs), by
/// kmsfs before version 2: still opened, as the same record.
const RECORD_V1: &str = "4b4d534b010000001b4e28ba2fa141d2883f0eb16faaf2100c0c0c0c0c0c0c0c0c0c0c0c87b8437d893782d45b7768c169cb86b3db2917b0d389211d48bd1df86d6bc84c88ee407aa5f8fe8fe5d2f27a74aef8fc986c0cf770a8bcba6afc7e0f3f3457fb0c7b5b70b408ab430e6b814f21d2179cdd01f95e1d27de6528e30356709c00c5451c154d3c133bf053a3a687bd2a807d68cebf1e0c84cc5117c3c4da24de31bff2";

fn audit_lines() -> Vec<Vec<u8>> {
    let mut prev = GENESIS.to_string();
    let mut out = Vec::new();
    for (seq, op, err) in [
        (1u64, "CreateKey", None),
        (2, "Encrypt", None),
        (
            3,
            "Decrypt",
            Some(("InvalidCiphertextException", "wrong context".to_string())),
        ),
    ] {
        let e = AuditEvent {
            time_ms: 1_800_000_000_000 + seq as i64 * 1000,
            request_id: format!("00000000-0000-4000-8000-00000000000{seq}"),
            principal: Arc::from("arn:aws:iam::111122223333:user/alice"),
            on_behalf_of: None,
            operation: op,
            event_source: None,
            resource_arn: None,
            aws_region: None,
            source_ip_address: None,
            user_agent: None,
            key_arn: Some(
                "arn:aws:kms:us-east-1:111122223333:key/1b4e28ba-2fa1-41d2-883f-0eb16faaf210"
                    .into(),
            ),
            destination_key_arn: None,
            encryption_context: (seq > 1).then(|| ec(&[("purpose", "test")])),
            destination_encryption_context: None,
            error: err,
        };
        let line = serde_json::to_vec(&AuditLine::from_event(&e, seq, &prev)).unwrap();
        prev = hex(&sha256(&line));
        out.push(line);
    }
    out
}

/// The line of a request through the endpoint: with the optional members `awsRegion`,
/// `sourceIPAddress` and `userAgent` (the first line of its own trail).
fn endpoint_audit_line() -> Vec<u8> {
    let e = AuditEvent {
        time_ms: 1_800_000_004_000,
        request_id: "6f1c4a52-83d0-4b4e-9d6e-0a4f1f7e2c11".into(),
        principal: Arc::from("arn:aws:iam::111122223333:root"),
        on_behalf_of: None,
        operation: "Encrypt",
        event_source: None,
        resource_arn: None,
        aws_region: Some("us-east-1".into()),
        source_ip_address: Some(Arc::from("127.0.0.1")),
        user_agent: Some(Arc::from("Boto3/1.35.0 md/Botocore#1.35.0 kmsfs-test/1")),
        key_arn: Some(
            "arn:aws:kms:us-east-1:111122223333:key/1b4e28ba-2fa1-41d2-883f-0eb16faaf210".into(),
        ),
        destination_key_arn: None,
        encryption_context: None,
        destination_encryption_context: None,
        error: Some(("DisabledException", "the key is disabled".to_string())),
    };
    serde_json::to_vec(&AuditLine::from_event(&e, 1, GENESIS)).unwrap()
}

#[test]
fn kms_formats_do_not_drift() {
    vectors::check("kms", "a KMS format", compute());
}

fn compute() -> Value {
    let k = AeadKey::new(&SecretKey::from_bytes(MATERIAL));
    let ctx = ec(&[("purpose", "test"), ("app", "x")]);
    let b = blob::seal(&k, &KEY_ID, 1, &NONCE, &ctx, b"hello").unwrap();
    let root = AeadKey::new(&SecretKey::from_bytes(ROOT));
    let sealed = record::seal(&root, &the_record(), &NONCE).unwrap();
    let lines = audit_lines();
    json!({
        "context": [
            {"ec": {}, "encoding": hex(&context::encode(&ec(&[])))},
            {"ec": {"purpose": "test"}, "encoding": hex(&context::encode(&ec(&[("purpose", "test")])))},
            {"ec": {"purpose": "test", "app": "x"}, "encoding": hex(&context::encode(&ctx))},
            {"ec": {"ab": "c"}, "encoding": hex(&context::encode(&ec(&[("ab", "c")])))},
            {"ec": {"a": "bc"}, "encoding": hex(&context::encode(&ec(&[("a", "bc")])))},
        ],
        "blob": {
            "material": hex(&MATERIAL), "key_id": hex(&KEY_ID), "material_version": 1,
            "nonce": hex(&NONCE), "ec": {"purpose": "test", "app": "x"}, "plaintext": "hello",
            "blob": hex(&b),
        },
        "record": {
            "root_key": hex(&ROOT), "nonce": hex(&NONCE),
            "postcard": hex(&postcard::to_allocvec(&the_record()).unwrap()),
            "sealed": hex(&sealed),
            "sealed_v1": RECORD_V1,
        },
        "record_hmac": {
            "postcard": hex(&postcard::to_allocvec(&the_hmac_record()).unwrap()),
            "sealed": hex(&record::seal(&root, &the_hmac_record(), &NONCE).unwrap()),
        },
        "audit": {
            "lines": lines.iter().map(|l| String::from_utf8(l.clone()).unwrap()).collect::<Vec<_>>(),
            "hashes": lines.iter().map(|l| hex(&sha256(l))).collect::<Vec<_>>(),
        },
        "audit_endpoint": {
            "line": String::from_utf8(endpoint_audit_line()).unwrap(),
            "hash": hex(&sha256(&endpoint_audit_line())),
        },
    })
}

/// The AEAD key of the hex field `v`.
fn key(v: &Value) -> AeadKey {
    AeadKey::new(&SecretKey::from_slice(&bytes(v)).unwrap())
}

/// The head of the vectors' audit trail (its third line).
fn trail_head(v: &Value) -> Head {
    Head {
        seq: 3,
        hash: v["audit"]["hashes"][2].as_str().unwrap().into(),
    }
}

#[test]
fn good_vectors_open() {
    let v = vectors::load("kms");
    let k = key(&v["blob"]["material"]);
    let b = bytes(&v["blob"]["blob"]);
    let p = Blob::parse(&b).unwrap();
    assert_eq!((p.key_id, p.material_version), (KEY_ID, 1));
    assert_eq!(
        p.open(&k, &ec(&[("app", "x"), ("purpose", "test")]))
            .unwrap()
            .expose(),
        b"hello"
    );
    let root = key(&v["record"]["root_key"]);
    let sealed = bytes(&v["record"]["sealed"]);
    let rec = record::open(&root, &sealed, &KEY_ID).unwrap();
    assert_eq!(rec.description, "app key");
    assert_eq!(rec.materials[0].secret.bytes(), MATERIAL);
    let v1 = record::open(&root, &bytes(&v["record"]["sealed_v1"]), &KEY_ID).unwrap();
    assert_eq!(format!("{v1:?}"), format!("{rec:?}"));
    assert_eq!(v1.materials[0].secret.bytes(), MATERIAL);
    let h = record::open(
        &root,
        &bytes(&v["record_hmac"]["sealed"]),
        &the_hmac_record().key_id,
    )
    .unwrap();
    assert_eq!(format!("{h:?}"), format!("{:?}", the_hmac_record()));
    assert_eq!(h.materials[0].secret.bytes(), [0x5a; 40]);
    let trail: String = v["audit"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string() + "\n")
        .collect();
    assert_eq!(
        verify_bytes(trail.as_bytes(), Some(trail_head(&v)))
            .unwrap()
            .lines,
        3
    );
}

#[test]
fn bad_blobs_are_refused_with_the_right_error() {
    let v = vectors::load("kms");
    let k = AeadKey::new(&SecretKey::from_bytes(MATERIAL));
    let good = bytes(&v["blob"]["blob"]);
    let ctx = ec(&[("purpose", "test"), ("app", "x")]);
    let with = |f: &dyn Fn(&mut Vec<u8>)| edited(&good, f);
    assert_eq!(
        Blob::parse(&good[..55]).unwrap_err(),
        BlobError::TooShort(55)
    );
    assert_eq!(
        Blob::parse(&with(&|b| b[0] = b'X')).unwrap_err(),
        BlobError::BadMagic
    );
    assert_eq!(
        Blob::parse(&with(&|b| b[4] = 2)).unwrap_err(),
        BlobError::BadVersion(2)
    );
    assert_eq!(
        Blob::parse(&with(&|b| b[5] = 7)).unwrap_err(),
        BlobError::BadAlgorithm(7)
    );
    assert_eq!(
        Blob::parse(&with(&|b| b[6] = 1)).unwrap_err(),
        BlobError::BadReserved
    );
    assert_eq!(
        Blob::parse(&with(&|b| b[24..28].copy_from_slice(&[0; 4]))).unwrap_err(),
        BlobError::BadMaterialVersion
    );
    // Authentication failures: a flipped tag, ciphertext, key id or version; extension; the
    // wrong context, including the pair that concatenation would confuse.
    for bad in [
        with(&|b| *b.last_mut().unwrap() ^= 1),
        with(&|b| b[40] ^= 1),
        with(&|b| b[8] ^= 1),
        with(&|b| b[27] = 2),
        with(&|b| b.push(0)),
    ] {
        assert!(
            Blob::parse(&bad)
                .map(|p| p.open(&k, &ctx).is_err())
                .unwrap_or(true)
        );
    }
    assert!(
        Blob::parse(&good)
            .unwrap()
            .open(&k, &ec(&[("purpose", "test")]))
            .is_err()
    );
    let amb = blob::seal(&k, &KEY_ID, 1, &NONCE, &ec(&[("ab", "c")]), b"x").unwrap();
    assert!(
        Blob::parse(&amb)
            .unwrap()
            .open(&k, &ec(&[("a", "bc")]))
            .is_err()
    );
}

#[test]
fn bad_records_are_refused_with_the_right_error() {
    let v = vectors::load("kms");
    let root = AeadKey::new(&SecretKey::from_bytes(ROOT));
    let good = bytes(&v["record"]["sealed"]);
    let flipped = edited(&good, &|b| {
        let n = b.len();
        b[n - 20] ^= 1;
    });
    assert_eq!(
        record::open(&root, &flipped, &KEY_ID).unwrap_err(),
        RecordError::Authentication
    );
    let other_root = AeadKey::new(&SecretKey::from_bytes([0x08; 32]));
    assert_eq!(
        record::open(&other_root, &good, &KEY_ID).unwrap_err(),
        RecordError::Authentication
    );
    assert!(matches!(
        record::open(&root, &good, &[0; 16]).unwrap_err(),
        RecordError::WrongKey { .. }
    ));
    let rehomed = edited(&good, &|b| b[8..24].copy_from_slice(&[0; 16]));
    assert_eq!(
        record::open(&root, &rehomed, &[0; 16]).unwrap_err(),
        RecordError::Authentication,
        "key id is AAD"
    );
    assert_eq!(
        record::open(&root, &good[..40], &KEY_ID).unwrap_err(),
        RecordError::TooShort(40)
    );
    let magic = edited(&good, &|b| b[0] = b'X');
    assert_eq!(
        record::open(&root, &magic, &KEY_ID).unwrap_err(),
        RecordError::BadMagic
    );
}

#[test]
fn an_endpoint_line_verifies_and_reads_back() {
    let v = vectors::load("kms");
    let line = v["audit_endpoint"]["line"].as_str().unwrap();
    let head = Head {
        seq: 1,
        hash: v["audit_endpoint"]["hash"].as_str().unwrap().into(),
    };
    let rep = verify_bytes(format!("{line}\n").as_bytes(), Some(head)).unwrap();
    assert_eq!(rep.lines, 1);
    let l: AuditLine = serde_json::from_str(line).unwrap();
    assert_eq!(l.aws_region.as_deref(), Some("us-east-1"));
    assert_eq!(l.source_ip_address.as_deref(), Some("127.0.0.1"));
    assert!(line.contains(r#""sourceIPAddress":"127.0.0.1""#));
    assert!(l.user_agent.unwrap().ends_with("kmsfs-test/1"));
    // The lines written before these members existed read back without them.
    let old: AuditLine = serde_json::from_str(v["audit"]["lines"][0].as_str().unwrap()).unwrap();
    assert_eq!(
        (old.aws_region, old.source_ip_address, old.user_agent),
        (None, None, None)
    );
}

#[test]
fn bad_trails_are_found_at_the_right_line() {
    let v = vectors::load("kms");
    let lines: Vec<String> = v["audit"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    let head = || Some(trail_head(&v));
    let broken_at =
        |ls: Vec<String>, h: Option<Head>| match verify_bytes((ls.join("\n") + "\n").as_bytes(), h)
        {
            Err(AuditError::Broken { line, .. }) => line,
            other => panic!("expected a broken line, got {other:?}"),
        };
    let mut changed = lines.clone();
    changed[1] = changed[1].replace("Encrypt", "Decrypt");
    assert_eq!(broken_at(changed, head()), 3);
    let mut removed = lines.clone();
    removed.remove(0);
    assert_eq!(broken_at(removed, head()), 1);
    let mut reordered = lines.clone();
    reordered.swap(1, 2);
    assert_eq!(broken_at(reordered, head()), 2);
    assert_eq!(
        broken_at(lines[..2].to_vec(), head()),
        3,
        "cut from the end"
    );
    let mut last = lines.clone();
    last[2] = last[2].replace("Decrypt", "Encrypt");
    assert_eq!(broken_at(last, head()), 3, "the head catches the last line");
}
