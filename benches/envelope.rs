//! Envelope message throughput: encrypt and decrypt of a 256 MiB stream in 64 KiB frames
//! through the embedded KMS (one GenerateDataKey or Decrypt per message, negligible at this
//! size), reading from memory and writing to a sink. Run with `cargo bench --bench envelope`;
//! the thrpt line gives MiB/s.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kmsfs::envelope::{self, DecryptOptions, EncryptOptions, KmsKeyring};
use kmsfs::home::{Home, InitOptions};
use kmsfs::kms::types::CreateKeyRequest;
use kmsfs::kms::{Client, Embedded, Kms, KmsOptions, RootKeySource};
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

const SIZE: u64 = 256 << 20;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::init(&dir.path().join("home"), &InitOptions::default()).unwrap();
    Kms::create(&home, RootKeySource::RandomFile).unwrap();
    let kms = Kms::open(&home, KmsOptions::default()).unwrap();
    let client = Arc::new(Embedded::new(kms, "arn:aws:iam::111122223333:user/bench"));
    let key = client
        .create_key(CreateKeyRequest::default())
        .unwrap()
        .key_metadata
        .key_id;
    let keyring = KmsKeyring::new(client, key);
    let ctx = [("purpose".to_string(), "bench".to_string())].into();
    let plain = || std::io::repeat(0x5a).take(SIZE);
    let mut msg = Vec::with_capacity(SIZE as usize + (1 << 20));
    envelope::encrypt(
        &keyring,
        &ctx,
        plain(),
        &mut msg,
        &EncryptOptions::default(),
    )
    .unwrap();

    let mut g = c.benchmark_group("envelope_256MiB");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Bytes(SIZE));
    g.bench_function("encrypt", |b| {
        b.iter(|| {
            envelope::encrypt(
                &keyring,
                &ctx,
                plain(),
                std::io::sink(),
                &EncryptOptions::default(),
            )
            .unwrap()
        })
    });
    g.bench_function("decrypt", |b| {
        b.iter(|| {
            envelope::decrypt(
                &keyring,
                &msg[..],
                std::io::sink(),
                &DecryptOptions::default(),
            )
            .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
