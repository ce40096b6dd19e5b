//! Embedded KMS throughput with the audit trail on (batched fsync every 100 ms, as the
//! KMS runs in a long-lived process): Encrypt, Decrypt of a 32-byte data key, and
//! GenerateDataKey, one thread. Run with `cargo bench --bench kms`; criterion prints the
//! time per request, and the thrpt line gives requests per second.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kmsfs::crypto::SecretBytes;
use kmsfs::home::{Home, InitOptions};
use kmsfs::kms::types::*;
use kmsfs::kms::{Client, Embedded, Kms, KmsOptions, RootKeySource};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::init(&dir.path().join("home"), &InitOptions::default()).unwrap();
    Kms::create(&home, RootKeySource::RandomFile).unwrap();
    let kms = Kms::open(&home, KmsOptions::default()).unwrap();
    let client = Embedded::new(kms.clone(), "arn:aws:iam::111122223333:user/bench");
    let key = client
        .create_key(CreateKeyRequest::default())
        .unwrap()
        .key_metadata
        .key_id;
    let ctx: kmsfs::kms::EncryptionContext = [(
        "aws:ebs:id".to_string(),
        "vol-0123456789abcdef0".to_string(),
    )]
    .into();
    let dk = client
        .generate_data_key(GenerateDataKeyRequest {
            key_id: key.clone(),
            key_spec: Some("AES_256".into()),
            encryption_context: Some(ctx.clone()),
            ..Default::default()
        })
        .unwrap();

    let mut g = c.benchmark_group("embedded_kms");
    g.throughput(Throughput::Elements(1));
    g.bench_function("decrypt_32B_data_key", |b| {
        b.iter(|| {
            let r = client
                .decrypt(DecryptRequest {
                    ciphertext_blob: dk.ciphertext_blob.clone(),
                    encryption_context: Some(ctx.clone()),
                    ..Default::default()
                })
                .unwrap();
            black_box(r.plaintext.len())
        })
    });
    g.bench_function("encrypt_32B", |b| {
        b.iter(|| {
            let r = client
                .encrypt(EncryptRequest {
                    key_id: key.clone(),
                    plaintext: SecretBytes::from_slice(&[7u8; 32]),
                    encryption_context: Some(ctx.clone()),
                    ..Default::default()
                })
                .unwrap();
            black_box(r.ciphertext_blob.len())
        })
    });
    g.bench_function("generate_data_key_AES_256", |b| {
        b.iter(|| {
            let r = client
                .generate_data_key(GenerateDataKeyRequest {
                    key_id: key.clone(),
                    key_spec: Some("AES_256".into()),
                    encryption_context: Some(ctx.clone()),
                    ..Default::default()
                })
                .unwrap();
            black_box(r.ciphertext_blob.len())
        })
    });
    g.finish();
    kms.flush_audit().unwrap();
    let lines = kmsfs::kms::audit::verify(kms.audit_path()).unwrap().lines;
    eprintln!("audit trail: {lines} lines written and verified");
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
