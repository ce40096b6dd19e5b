//! Golden vectors of Secrets Manager's record format (`tests/vectors/secretsmanager.json`,
//! docs/FORMAT.md §14): four record files (a string secret with two versions and labels, a
//! binary secret, a deleted one in its recovery window, one with rotation configured), each
//! version sealed under a fixed data key, made now and compared with the checked-in bytes;
//! one sealed value with its AAD; and damaged files, each refused by the service's own read
//! and open with its error. Regenerate with `KMSFS_REGEN_VECTORS=1`.

mod common;

use common::vectors;
use kmsfs::crypto::{AeadKey, SecretKey, hex};
use kmsfs::fuzzing::FUZZ_KEY;
use kmsfs::secrets::manager::error::SmError;
use kmsfs::secrets::manager::record::{self, Rotation, SecretRecord, Version};
use kmsfs::secrets::manager::seal;
use serde_json::{Value, json};

/// The data key every version is sealed under (the fuzzer's key, so the seeds open).
const DATA_KEY: [u8; 32] = FUZZ_KEY;
const WRAPPED: &[u8] = b"(the KMS CiphertextBlob of the data key)";
const KEY_ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const T0: i64 = 1_800_000_000_000;
const DAY: i64 = 86_400_000;
const V1: &str = "EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE";
const V2: &str = "EXAMPLE2-90ab-cdef-fedc-ba987EXAMPLE";

fn arn(name: &str) -> String {
    format!("arn:aws:secretsmanager:us-east-1:111122223333:secret:{name}-AbCdEf")
}

fn data_key() -> SecretKey {
    SecretKey::from_bytes(DATA_KEY)
}

/// Version `id` of the secret `arn` holding `value`, sealed with nonce `n` × 12.
fn version(arn: &str, id: &str, stages: &[&str], binary: bool, value: &[u8], n: u8) -> Version {
    let sealed = AeadKey::new(&data_key())
        .seal(&[n; 12], &seal::aad(arn, id, binary), value)
        .unwrap();
    Version {
        id: id.into(),
        stages: stages.iter().map(|s| s.to_string()).collect(),
        created_ms: T0 + i64::from(n) * 1000,
        last_accessed_ms: (n == 1).then_some(T0 - T0 % DAY + DAY),
        key_arn: KEY_ARN.into(),
        binary,
        wrapped_key: WRAPPED.to_vec(),
        nonce: [n; 12],
        sealed,
    }
}

fn secret(name: &str, versions: Vec<Version>) -> SecretRecord {
    SecretRecord {
        name: name.into(),
        arn: arn(name),
        description: None,
        kms_key_id: None,
        created_ms: T0,
        last_changed_ms: T0,
        last_accessed_ms: None,
        deleted_ms: None,
        purge_ms: None,
        tags: vec![],
        policy: None,
        rotation: Rotation::default(),
        versions,
    }
}

/// The good records, and each version's value.
fn records() -> Vec<(&'static str, SecretRecord, Vec<Vec<u8>>)> {
    let a = arn("prod/db/password");
    let mut string = secret(
        "prod/db/password",
        vec![
            version(&a, V1, &["AWSPREVIOUS"], false, b"hunter1", 1),
            version(&a, V2, &["AWSCURRENT", "blue"], false, b"hunter2", 2),
        ],
    );
    string.description = Some("the database password".into());
    string.kms_key_id = Some("alias/prod".into());
    string.last_changed_ms = T0 + 2000;
    string.last_accessed_ms = Some(T0 - T0 % DAY + DAY);
    string.tags = vec![("team".into(), "core".into())];
    let binary = secret(
        "a",
        vec![version(
            &arn("a"),
            V1,
            &["AWSCURRENT"],
            true,
            &[0, 1, 0xfe, 0xff],
            3,
        )],
    );
    let mut deleted = secret(
        "old/token",
        vec![version(
            &arn("old/token"),
            V1,
            &["AWSCURRENT"],
            false,
            b"t0k3n",
            4,
        )],
    );
    deleted.deleted_ms = Some(T0 + DAY);
    deleted.purge_ms = Some(T0 + 8 * DAY);
    let r = arn("app/api-key");
    let mut rotating = secret(
        "app/api-key",
        vec![version(
            &r,
            V1,
            &["AWSCURRENT"],
            false,
            b"{\"key\":\"k1\"}",
            5,
        )],
    );
    rotating.rotation = Rotation {
        enabled: true,
        program: Some("/usr/local/bin/rotate-api-key".into()),
        after_days: Some(30),
        duration: Some("3h".into()),
        expression: None,
        last_rotated_ms: Some(T0 + 5000),
        next_rotation_ms: Some(T0 + 5000 + 30 * DAY),
    };
    rotating.policy = Some(r#"{"Version":"2012-10-17","Statement":[]}"#.into());
    vec![
        (
            "a string secret, two versions with labels",
            string,
            vec![b"hunter1".to_vec(), b"hunter2".to_vec()],
        ),
        ("a binary secret", binary, vec![vec![0, 1, 0xfe, 0xff]]),
        (
            "a deleted secret in its recovery window",
            deleted,
            vec![b"t0k3n".to_vec()],
        ),
        (
            "a secret with rotation configured",
            rotating,
            vec![b"{\"key\":\"k1\"}".to_vec()],
        ),
    ]
}

/// A good vector: the readable fields, then the file.
fn good(name: &str, r: &SecretRecord, values: &[Vec<u8>]) -> Value {
    let versions: Vec<Value> = r
        .versions
        .iter()
        .zip(values)
        .map(|(v, value)| {
            let value = match v.binary {
                true => json!({"binary": hex(value)}),
                false => json!({"string": String::from_utf8(value.clone()).unwrap()}),
            };
            json!({"id": v.id, "stages": v.stages, "value": value})
        })
        .collect();
    json!({
        "name": name,
        "secret": r.name,
        "arn": r.arn,
        "deleted_ms": r.deleted_ms,
        "purge_ms": r.purge_ms,
        "rotation_enabled": r.rotation.enabled,
        "versions": versions,
        "file": hex(&record::encode(r).unwrap()),
    })
}

fn bad_entry(name: &str, secret: &str, r: &[u8], code: &str, error: &str) -> Value {
    json!({"name": name, "secret": secret, "file": hex(r), "code": code, "error": error})
}

/// Bad files, each stored under the record file of its `secret`: damaged records, then
/// records whose values were moved or altered.
fn bad() -> Vec<Value> {
    [damaged_files(), moved_values()].concat()
}

fn damaged_files() -> Vec<Value> {
    let recs = records();
    let (s, d) = (&recs[0].1, &recs[2].1);
    let good = record::encode(s).unwrap();
    let name = s.name.as_str();
    const DAMAGED: &str = "InternalServiceError";
    vec![
        bad_entry(
            "wrong magic",
            name,
            &[b"KMSFSSX\x01", &good[8..]].concat(),
            DAMAGED,
            "does not start with KMSFSSM",
        ),
        bad_entry(
            "a future format version",
            name,
            &[b"KMSFSSM\x02", &good[8..]].concat(),
            DAMAGED,
            "does not start with KMSFSSM",
        ),
        bad_entry(
            "only the magic",
            name,
            record::MAGIC,
            DAMAGED,
            "truncated or malformed",
        ),
        bad_entry(
            "truncated",
            name,
            &good[..good.len() - 5],
            DAMAGED,
            "truncated or malformed",
        ),
        bad_entry(
            "a byte after the record",
            name,
            &[&good[..], b"\0"].concat(),
            DAMAGED,
            "1 trailing bytes after the record",
        ),
        bad_entry(
            "a swapped record (another secret's file)",
            name,
            &record::encode(d).unwrap(),
            DAMAGED,
            "it holds another secret",
        ),
    ]
}

fn moved_values() -> Vec<Value> {
    let recs = records();
    let (s, d) = (&recs[0].1, &recs[2].1);
    let name = s.name.as_str();
    let enc = |r: &SecretRecord| record::encode(r).unwrap();
    let edit = |f: &dyn Fn(&mut SecretRecord)| {
        let mut r = s.clone();
        f(&mut r);
        enc(&r)
    };
    const DECRYPT: &str = "DecryptionFailure";
    let mut flipped = s.clone();
    flipped.versions[1].sealed[0] ^= 0x01;
    vec![
        bad_entry(
            "a value moved to another version",
            name,
            &edit(&|r| {
                let (n, sealed) = (r.versions[0].nonce, r.versions[0].sealed.clone());
                (r.versions[1].nonce, r.versions[1].sealed) = (n, sealed);
            }),
            DECRYPT,
            &format!("version {V2} of {} does not authenticate", s.arn),
        ),
        bad_entry(
            "a value moved to another secret",
            name,
            &edit(&|r| r.versions[0] = d.versions[0].clone()),
            DECRYPT,
            &format!("version {V1} of {} does not authenticate", s.arn),
        ),
        bad_entry(
            "a flipped ciphertext byte",
            name,
            &enc(&flipped),
            DECRYPT,
            "does not authenticate",
        ),
        bad_entry(
            "a string value relabelled binary",
            name,
            &edit(&|r| r.versions[1].binary = true),
            DECRYPT,
            "does not authenticate",
        ),
    ]
}

/// The sealed value of version 2 of the string secret, with everything that opens it.
fn sealed_value() -> Value {
    let s = &records()[0].1;
    let v = &s.versions[1];
    json!({
        "arn": s.arn, "version_id": v.id, "binary": v.binary,
        "data_key": hex(&DATA_KEY), "nonce": hex(&v.nonce),
        "aad": hex(&seal::aad(&s.arn, &v.id, v.binary)),
        "plaintext": "hunter2", "sealed": hex(&v.sealed),
    })
}

#[test]
fn secret_records_match_their_vectors() {
    let got = json!({
        "format": "docs/FORMAT.md §14, Secrets Manager records",
        "sealed_value": sealed_value(),
        "good": records().iter().map(|(n, r, vals)| good(n, r, vals)).collect::<Vec<_>>(),
        "bad": bad(),
    });
    vectors::check("secretsmanager", "the secret record format", got);
}

/// Read `bytes` as the record file of `secret` the way the service does, then open each
/// version under the fixed data key: the record, or the service's error.
fn load(secret: &str, bytes: &[u8]) -> Result<(SecretRecord, Vec<Vec<u8>>), SmError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(record::path_of(dir.path(), secret), bytes).unwrap();
    let r = record::read_named(dir.path(), secret)?.expect("the file is there");
    let values = r
        .versions
        .iter()
        .map(|v| seal::open_with(&data_key(), &r.arn, v).map(|p| p.expose().to_vec()))
        .collect::<Result<_, _>>()?;
    Ok((r, values))
}

#[test]
fn good_vectors_decode_to_their_fields_and_encode_byte_identical() {
    let v = vectors::load("secretsmanager");
    let want = records();
    let good = vectors::good(&v, "file");
    assert_eq!(good.len(), want.len());
    for ((name, g, bytes), (_, rec, values)) in good.into_iter().zip(&want) {
        let (r, opened) =
            load(g["secret"].as_str().unwrap(), &bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&r, rec, "{name}");
        assert_eq!(&opened, values, "{name}");
        assert_eq!(record::encode(&r).unwrap(), bytes, "{name}: re-encoded");
        assert_eq!(r.arn, g["arn"].as_str().unwrap(), "{name}");
        assert_eq!(r.deleted_ms, g["deleted_ms"].as_i64(), "{name}");
        assert_eq!(r.purge_ms, g["purge_ms"].as_i64(), "{name}");
        assert_eq!(Some(r.rotation.enabled), g["rotation_enabled"].as_bool());
        for (ver, gv) in r.versions.iter().zip(g["versions"].as_array().unwrap()) {
            assert_eq!(ver.id, gv["id"].as_str().unwrap(), "{name}");
            assert_eq!(json!(ver.stages), gv["stages"], "{name}");
            assert_eq!(ver.binary, gv["value"].get("binary").is_some(), "{name}");
        }
        let file = record::path_of(std::path::Path::new(""), &r.name);
        assert_eq!(file.to_str().unwrap().len(), 64 + record::SUFFIX.len());
    }
}

#[test]
fn bad_vectors_are_refused_with_their_errors() {
    let v = vectors::load("secretsmanager");
    let errors = vectors::refuse_bad(&v, "file", 10, |name, x, bytes| {
        let e = load(x["secret"].as_str().unwrap(), bytes).err().ok_or("")?;
        assert_eq!(e.code(), x["code"].as_str().unwrap(), "{name}: {e}");
        Err(e.to_string())
    });
    for e in errors {
        assert!(!e.contains("hunter"), "a value in an error: {e}");
    }
}

#[test]
fn the_sealed_value_opens_only_with_its_arn_version_and_kind() {
    let v = vectors::load("secretsmanager");
    let s = &v["sealed_value"];
    let (sa, id) = (
        s["arn"].as_str().unwrap(),
        s["version_id"].as_str().unwrap(),
    );
    // The AAD as FORMAT.md §14 spells it.
    let aad = [
        b"kmsfs-secretsmanager-v1\0",
        sa.as_bytes(),
        b"\0",
        id.as_bytes(),
        b"\0\0",
    ]
    .concat();
    assert_eq!(vectors::bytes(&s["aad"]), aad);
    assert_eq!(seal::aad(sa, id, false), aad);
    let key = SecretKey::from_slice(&vectors::bytes(&s["data_key"])).unwrap();
    let ver = |id: &str, binary: bool| Version {
        id: id.into(),
        stages: vec![],
        created_ms: 0,
        last_accessed_ms: None,
        key_arn: KEY_ARN.into(),
        binary,
        wrapped_key: WRAPPED.to_vec(),
        nonce: vectors::bytes(&s["nonce"]).try_into().unwrap(),
        sealed: vectors::bytes(&s["sealed"]),
    };
    let opened = seal::open_with(&key, sa, &ver(id, false)).unwrap();
    assert_eq!(opened.expose(), s["plaintext"].as_str().unwrap().as_bytes());
    for (a, i, b) in [
        (arn("a").as_str(), id, false),
        (sa, V1, false),
        (sa, id, true),
    ] {
        let e = seal::open_with(&key, a, &ver(i, b)).unwrap_err();
        assert_eq!(e.code(), "DecryptionFailure");
    }
    let other = SecretKey::from_bytes([0x24; 32]);
    assert!(seal::open_with(&other, sa, &ver(id, false)).is_err());
}
