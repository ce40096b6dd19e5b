//! Golden vectors of Parameter Store's formats (`tests/vectors/ssm.json`, docs/FORMAT.md
//! "Parameter Store records"): record files (magic, postcard record) and an Advanced
//! envelope sealed under a fixed data key, made now and compared with the checked-in bytes;
//! and damaged files, each refused with its error. Regenerate with `KMSFS_REGEN_VECTORS=1`.

mod common;

use common::vectors;
use kmsfs::crypto::AeadKey;
use kmsfs::crypto::{SecretKey, hex};
use kmsfs::secrets::params::record::{self, Record, Stored, Version};
use kmsfs::secrets::params::seal;
use serde_json::{Value, json};

const ARN: &str = "arn:aws:ssm:us-east-1:111122223333:parameter/app/db/pw";
const DATA_KEY: [u8; 32] = [0x24; 32];
const NONCE: [u8; 12] = [0x07; 12];
const WRAPPED: &[u8] = b"(the KMS CiphertextBlob of the data key)";

fn version(n: u64, kind: &str, value: Stored, tier: &str, labels: &[&str]) -> Version {
    Version {
        version: n,
        kind: kind.into(),
        value,
        key_id: (kind == "SecureString").then(|| "alias/aws/ssm".into()),
        description: (n == 1).then(|| "the database password".into()),
        allowed_pattern: None,
        tier: tier.into(),
        data_type: "text".into(),
        policies: None,
        labels: labels.iter().map(|s| s.to_string()).collect(),
        modified_ms: 1_800_000_000_000 + n as i64,
        modified_by: "arn:aws:iam::111122223333:root".into(),
    }
}

fn envelope() -> Vec<u8> {
    let sealed = AeadKey::new(&SecretKey::from_bytes(DATA_KEY))
        .seal(&NONCE, &seal::aad(ARN, 2), b"hunter2")
        .unwrap();
    seal::envelope(WRAPPED, &NONCE, &sealed).unwrap()
}

fn records() -> Vec<(&'static str, Record)> {
    let string = Record {
        name: "/app/url".into(),
        tags: vec![("team".into(), "core".into())],
        versions: vec![version(
            1,
            "String",
            Stored::Plain("https://example.com".into()),
            "Standard",
            &[],
        )],
        notified: vec![],
    };
    let secure = Record {
        name: "/app/db/pw".into(),
        tags: vec![],
        versions: vec![
            version(
                1,
                "SecureString",
                Stored::Kms(b"(a KMS ciphertext blob)".to_vec()),
                "Standard",
                &["old"],
            ),
            version(
                2,
                "SecureString",
                Stored::Envelope(envelope()),
                "Advanced",
                &[],
            ),
        ],
        notified: vec![("NoChangeNotification".into(), 2)],
    };
    vec![
        ("a String parameter", string),
        ("a SecureString, Standard then Advanced", secure),
    ]
}

fn bad(good: &[u8]) -> Vec<Value> {
    let mut out = vec![
        json!({"name": "wrong magic", "file": hex(&[b"KMSFSPX\x01", &good[8..]].concat()), "error": "wrong magic"}),
        json!({"name": "a future version", "file": hex(&[b"KMSFSPS\x02", &good[8..]].concat()), "error": "wrong magic"}),
        json!({"name": "truncated", "file": hex(&good[..good.len() - 5]), "error": "truncated"}),
        json!({"name": "a byte after the record", "file": hex(&[good, b"\0"].concat()), "error": "after the record"}),
        json!({"name": "only the magic", "file": hex(record::MAGIC), "error": "truncated"}),
    ];
    let mut r = records().remove(1).1;
    r.versions.swap(0, 1);
    out.push(json!({"name": "versions out of order", "file": hex(&record::encode(&r).unwrap()), "error": "out of order"}));
    r.versions.clear();
    out.push(json!({"name": "no version", "file": hex(&record::encode(&r).unwrap()), "error": "missing"}));
    out
}

#[test]
fn parameter_records_match_their_vectors() {
    let good: Vec<Value> = records()
        .into_iter()
        .map(|(name, r)| json!({"name": name, "parameter": r.name, "file": hex(&record::encode(&r).unwrap())}))
        .collect();
    let first = vectors::bytes(&good[1]["file"]);
    let got = json!({
        "format": "docs/FORMAT.md, Parameter Store records",
        "envelope": {"arn": ARN, "version": 2, "data_key": hex(&DATA_KEY), "plaintext": "hunter2", "bytes": hex(&envelope())},
        "good": good,
        "bad": bad(&first),
    });
    vectors::check("ssm", "the parameter record format", got);
}

#[test]
fn good_vectors_decode_and_bad_ones_are_refused() {
    let v = vectors::load("ssm");
    let want = records();
    for (i, (name, _, bytes)) in vectors::good(&v, "file").into_iter().enumerate() {
        let r = record::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r, want[i].1, "{name}");
        assert_eq!(record::file_name(&r.name).len(), 64 + ".param".len());
    }
    vectors::refuse_bad(&v, "file", 6, |_, _, b| record::decode(b).map(|_| ()));
    // The envelope opens under its data key only with its ARN and version.
    let e = vectors::bytes(&v["envelope"]["bytes"]);
    let (wrapped, nonce, sealed) = seal::parse_envelope(&e).unwrap();
    assert_eq!(wrapped, WRAPPED);
    let k = AeadKey::new(&SecretKey::from_bytes(DATA_KEY));
    assert_eq!(
        k.open(&nonce, &seal::aad(ARN, 2), sealed).unwrap().expose(),
        b"hunter2"
    );
    assert!(k.open(&nonce, &seal::aad(ARN, 1), sealed).is_err());
    assert!(seal::parse_envelope(&e[..20]).is_err());
    assert!(seal::parse_envelope(b"KMSFSPX\x01\0\0").is_err());
}
