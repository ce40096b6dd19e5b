//! What enforcing permissions costs a Decrypt (issue 16: "Decrypt/s with a 10-statement
//! policy and 100 grants on the key vs with the default policy, within 20%"): one embedded
//! KMS with its audit trail flushed every 100 ms (as `kmsfs serve` runs), one thread,
//! Decrypt of a 1-byte ciphertext by
//! - `default_policy`: alice (an IAM user allowed `kms:*` by her identity policy) on a key
//!   with the default policy;
//! - `large_policy_100_grants`: alice on a key with a 10-statement policy (conditions on
//!   the encryption context) and 100 grants: allowed by the policies, grants not read;
//! - `large_policy_allowed_by_grant_100`: bob (an IAM user with no identity policy) on
//!   the same key, allowed only by its 100th grant: every grant is evaluated.
//!
//! Run with `cargo bench --bench authorize`; the thrpt lines give Decrypts per second, and
//! the ratios to `default_policy` go in docs/BENCHMARKS.md.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kmsfs::home::{Home, InitOptions};
use kmsfs::kms::types::*;
use kmsfs::kms::{Client, Embedded, Kms, KmsOptions, RootKeySource};
use serde_json::json;
use std::hint::black_box;
use std::time::Duration;

const ACCT: &str = "111122223333";
const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
const BOB: &str = "arn:aws:iam::111122223333:user/bob";
const ROOT: &str = "arn:aws:iam::111122223333:root";

/// The key policy of the large case: the account's delegation and 9 conditional statements.
fn large_policy() -> String {
    let mut statements = vec![json!({"Effect": "Allow", "Principal": {"AWS": ROOT},
        "Action": "kms:*", "Resource": "*"})];
    for i in 0..9 {
        statements.push(json!({"Sid": format!("s{i}"), "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{ACCT}:user/u{i}")},
            "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*",
            "Condition": {"StringEquals": {"kms:EncryptionContext:team": format!("t{i}")}}}));
    }
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let opts = InitOptions {
        account_id: Some(ACCT.into()),
        region: Some("us-east-1".into()),
    };
    let home = Home::init(&dir.path().join("home"), &opts).unwrap();
    Kms::create(&home, RootKeySource::RandomFile).unwrap();
    let iam = kmsfs::iam::Iam::open(&home);
    iam.create_user(ACCT, "alice").unwrap();
    iam.create_user(ACCT, "bob").unwrap();
    let doc = r#"{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#;
    iam.put_policy(ACCT, kmsfs::iam::Holder::User, "alice", "all", doc)
        .unwrap();
    let kms = Kms::open(
        &home,
        KmsOptions {
            audit_interval: Some(Duration::from_millis(100)),
            ..KmsOptions::default()
        },
    )
    .unwrap();
    let admin = Embedded::new(kms.clone(), "arn:aws:iam::111122223333:user/bench");
    let new_key = |policy: Option<String>| {
        let req = CreateKeyRequest {
            policy,
            ..Default::default()
        };
        admin.create_key(req).unwrap().key_metadata.key_id
    };
    let plain = new_key(None);
    let big = new_key(Some(large_policy()));
    for i in 0..100 {
        let grantee = match i {
            99 => BOB.to_string(),
            i => format!("arn:aws:iam::{ACCT}:user/g{i}"),
        };
        let req = CreateGrantRequest {
            key_id: big.clone(),
            grantee_principal: grantee,
            operations: vec!["Decrypt".into()],
            ..Default::default()
        };
        admin.create_grant(req).unwrap();
    }
    let (alice, bob) = (
        Embedded::new(kms.clone(), ALICE),
        Embedded::new(kms.clone(), BOB),
    );
    let blob = |key: &str| {
        let req = EncryptRequest {
            key_id: key.to_string(),
            plaintext: kmsfs::crypto::SecretBytes::from_slice(b"x"),
            ..Default::default()
        };
        admin.encrypt(req).unwrap().ciphertext_blob
    };
    let cases = [
        ("default_policy", &alice, blob(&plain)),
        ("large_policy_100_grants", &alice, blob(&big)),
        ("large_policy_allowed_by_grant_100", &bob, blob(&big)),
    ];
    // The grant folder's last change settles (the grant cache keeps only settled listings).
    std::thread::sleep(Duration::from_millis(2100));
    let mut g = c.benchmark_group("decrypt_authorized");
    g.throughput(Throughput::Elements(1));
    for (name, who, blob) in &cases {
        g.bench_function(*name, |b| {
            b.iter(|| {
                let r = who
                    .decrypt(DecryptRequest {
                        ciphertext_blob: blob.clone(),
                        ..Default::default()
                    })
                    .unwrap();
                black_box(r.plaintext.len())
            })
        });
    }
    g.finish();
    kms.flush_audit().unwrap();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
