//! Secrets Manager's safety through its Rust API: values sealed under the secret's key (a
//! changed key seals the next version), a disabled key failing only its secrets, tampered
//! records and values moved between versions refused clearly, one audit line per request
//! without values, and ten concurrent writers losing no version.

mod common;
#[path = "secretsmanager/helpers.rs"]
mod helpers;
use common::kms::env;
use helpers::*;
use kmsfs::kms::Client;
use kmsfs::secrets::manager::*;

#[test]
fn changing_the_key_seals_the_next_version_under_it() {
    let e = env();
    let s = sm(&e);
    let k1 = e.create_key();
    let c = s
        .create_secret(CreateSecretRequest {
            name: "k".into(),
            kms_key_id: Some(k1.clone()),
            secret_string: Some(SecretText::new("one")),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(describe(&s, "k").kms_key_id.as_deref(), Some(k1.as_str()));
    let k2 = e.create_key();
    let u = s
        .update_secret(UpdateSecretRequest {
            secret_id: "k".into(),
            kms_key_id: Some(k2.clone()),
            secret_string: Some(SecretText::new("two")),
            description: Some("rotated key".into()),
            ..Default::default()
        })
        .unwrap();
    let l = s
        .list_secret_version_ids(ListSecretVersionIdsRequest {
            secret_id: "k".into(),
            ..Default::default()
        })
        .unwrap();
    let key_of = |v: &str| {
        l.versions
            .iter()
            .find(|x| x.version_id == v)
            .unwrap()
            .kms_key_ids
            .clone()
            .unwrap()[0]
            .clone()
    };
    let arn = |k: &str| e.describe(k).unwrap().arn;
    assert_eq!(key_of(&c.version_id.unwrap()), arn(&k1));
    assert_eq!(key_of(&u.version_id.unwrap()), arn(&k2));
    assert_eq!(
        describe(&s, "k").description.as_deref(),
        Some("rotated key")
    );
    // The default key: not shown by DescribeSecret.
    create(&s, "dflt", "v");
    assert!(describe(&s, "dflt").kms_key_id.is_none());
    // The data key's encryption context is AWS's.
    let lines = e.audit_lines();
    let line = lines
        .iter()
        .rev()
        .find(|l| l.operation == "GenerateDataKey")
        .unwrap();
    let text = serde_json::to_string(&line).unwrap();
    assert!(
        text.contains("SecretARN") && text.contains("SecretVersionId"),
        "{text}"
    );
}

#[test]
fn a_disabled_key_fails_its_secrets_only() {
    let e = env();
    let s = sm(&e);
    let k1 = e.create_key();
    s.create_secret(CreateSecretRequest {
        name: "off".into(),
        kms_key_id: Some(k1.clone()),
        secret_string: Some(SecretText::new("a")),
        ..Default::default()
    })
    .unwrap();
    create(&s, "on", "b");
    e.c.disable_key(e.kid(&k1)).unwrap();
    let err = get(&s, "off").unwrap_err();
    assert_eq!(err.code(), "DecryptionFailure");
    assert!(
        err.to_string().contains("Access to KMS is not allowed"),
        "{err}"
    );
    assert_eq!(
        put(&s, "off", "c", None).unwrap_err().code(),
        "EncryptionFailure"
    );
    assert_eq!(get(&s, "on").unwrap().secret_string.unwrap().expose(), "b");
}

#[test]
fn tampered_records_and_moved_values_fail_clearly() {
    let e = env();
    let s = sm(&e);
    create(&s, "t", "one");
    put(&s, "t", "two", None).unwrap();
    let dir = s.context().dir.clone();
    let path = record::path_of(&dir, "t");
    let good = std::fs::read(&path).unwrap();
    // Truncated: a clear Damaged error.
    std::fs::write(&path, &good[..good.len() / 2]).unwrap();
    let err = get(&s, "t").unwrap_err();
    assert_eq!(err.code(), "InternalServiceError");
    assert!(err.to_string().contains("damaged"), "{err}");
    // A flipped magic byte.
    let mut bad = good.clone();
    bad[0] ^= 1;
    std::fs::write(&path, &bad).unwrap();
    assert!(get(&s, "t").unwrap_err().to_string().contains("KMSFSSM"));
    // The sealed value of one version moved into the other: refused, not garbage.
    let mut r = record::decode(&good).unwrap();
    let (a, b) = (r.versions[0].clone(), r.versions[1].clone());
    r.versions[1].sealed = a.sealed.clone();
    r.versions[1].nonce = a.nonce;
    r.versions[1].wrapped_key = a.wrapped_key.clone();
    std::fs::write(&path, record::encode(&r).unwrap()).unwrap();
    assert_eq!(get(&s, "t").unwrap_err().code(), "DecryptionFailure");
    // Only the ciphertext swapped (the data key kept): the AAD refuses it.
    r.versions[1].wrapped_key = b.wrapped_key.clone();
    r.versions[1].sealed = b.sealed.clone();
    r.versions[1].sealed[0] ^= 0x80;
    std::fs::write(&path, record::encode(&r).unwrap()).unwrap();
    assert_eq!(get(&s, "t").unwrap_err().code(), "DecryptionFailure");
    // The whole record of another secret under this name: refused.
    create(&s, "u", "x");
    std::fs::copy(record::path_of(&dir, "u"), &path).unwrap();
    assert!(
        get(&s, "t")
            .unwrap_err()
            .to_string()
            .contains("another secret")
    );
    // No value in any file.
    for f in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(f.unwrap().path()).unwrap();
        assert!(!bytes.windows(3).any(|w| w == b"one" || w == b"two"));
    }
}

#[test]
fn every_request_writes_one_service_line_without_values() {
    let e = env();
    let s = sm(&e);
    let before = e.audit_lines().len();
    create(&s, "au", "topsecretvalue");
    get(&s, "au").unwrap();
    get(&s, "missing").unwrap_err();
    let lines = e.audit_lines();
    let new: Vec<_> = lines[before..]
        .iter()
        .map(|l| serde_json::to_string(l).unwrap())
        .collect();
    let service: Vec<&String> = new
        .iter()
        .filter(|l| l.contains("\"eventSource\":\"secretsmanager.amazonaws.com\""))
        .collect();
    assert_eq!(service.len(), 3, "{new:#?}");
    assert!(
        new.iter()
            .any(|l| l.contains("GenerateDataKey") && l.contains("secretsmanager.amazonaws.com"))
    );
    assert!(new.iter().all(|l| !l.contains("topsecretvalue")));
}

#[test]
fn ten_concurrent_writer_threads_keep_every_version() {
    let e = env();
    let s = std::sync::Arc::new(sm(&e));
    create(&s, "c", "start");
    let handles: Vec<_> = (0..10)
        .map(|i| {
            let s = s.clone();
            std::thread::spawn(move || put(&s, "c", &format!("w{i}"), None).unwrap().version_id)
        })
        .collect();
    let ids: std::collections::BTreeSet<String> =
        handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(ids.len(), 10);
    let l = s
        .list_secret_version_ids(ListSecretVersionIdsRequest {
            secret_id: "c".into(),
            include_deprecated: Some(true),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(l.versions.len(), 11);
    let count = |st: &str| {
        l.versions
            .iter()
            .filter(|v| {
                v.version_stages
                    .as_ref()
                    .is_some_and(|x| x.iter().any(|y| y == st))
            })
            .count()
    };
    assert_eq!((count("AWSCURRENT"), count("AWSPREVIOUS")), (1, 1));
    let mut values = std::collections::BTreeSet::new();
    for v in &l.versions {
        let g = s
            .get_secret_value(GetSecretValueRequest {
                secret_id: "c".into(),
                version_id: Some(v.version_id.clone()),
                ..Default::default()
            })
            .unwrap();
        values.insert(g.secret_string.unwrap().expose().to_string());
    }
    let want: std::collections::BTreeSet<String> = (0..10)
        .map(|i| format!("w{i}"))
        .chain(["start".to_string()])
        .collect();
    assert_eq!(values, want);
}
