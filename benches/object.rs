//! Object service throughput (release build, one thread, the home on the local disk; every
//! PUT fsyncs its file and the directory, as in use): PUT and GET of 1 MiB and 64 MiB
//! objects (SSE-S3), and 4 KiB PUTs under SSE-KMS with and without a bucket key (objects
//! per second). Run with `cargo bench --bench object`; criterion's thrpt line gives MiB/s or
//! objects/s.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kmsfs::home::{Home, InitOptions};
use kmsfs::kms::types::CreateKeyRequest;
use kmsfs::kms::{Client, Embedded, Kms, KmsOptions, RootKeySource};
use kmsfs::object::{ObjectService, PutOptions, S3_PRINCIPAL, Sse};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let dir =
        tempfile::tempdir_in(std::env::var("KMSFS_BENCH_DIR").unwrap_or("/tmp".into())).unwrap();
    let home = Home::init(&dir.path().join("home"), &InitOptions::default()).unwrap();
    Kms::create(&home, RootKeySource::RandomFile).unwrap();
    let kms = Kms::open(&home, KmsOptions::default()).unwrap();
    let user = Embedded::new(kms.clone(), "arn:aws:iam::111122223333:user/bench");
    let key = user
        .create_key(CreateKeyRequest::default())
        .unwrap()
        .key_metadata
        .key_id;
    let s = ObjectService::new(&home, Arc::new(Embedded::new(kms.clone(), S3_PRINCIPAL)));
    s.create_bucket("bench").unwrap();

    for (name, size, samples) in [("1MiB", 1usize << 20, 30), ("64MiB", 64 << 20, 10)] {
        let body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let mut g = c.benchmark_group(format!("object_{name}"));
        g.throughput(Throughput::Bytes(size as u64))
            .sample_size(samples)
            .measurement_time(Duration::from_secs(8));
        g.bench_function("put_sse_s3", |b| {
            b.iter(|| {
                s.put_object("bench", name, &body[..], &PutOptions::default())
                    .unwrap()
            })
        });
        let mut out = Vec::with_capacity(size);
        g.bench_function("get_sse_s3", |b| {
            b.iter(|| {
                out.clear();
                s.get_object("bench", name, None, None, &mut out).unwrap();
                black_box(out.len())
            })
        });
        g.finish();
    }

    let small = vec![7u8; 4096];
    let mut g = c.benchmark_group("object_4KiB");
    g.throughput(Throughput::Elements(1))
        .measurement_time(Duration::from_secs(8));
    for (label, bk) in [("put_sse_kms", false), ("put_sse_kms_bucket_key", true)] {
        let opts = PutOptions {
            sse: Some(Sse::Kms),
            kms_key_id: Some(key.clone()),
            bucket_key_enabled: Some(bk),
            ..Default::default()
        };
        let mut i = 0u64;
        g.bench_function(label, |b| {
            b.iter(|| {
                i += 1;
                s.put_object(
                    "bench",
                    &format!("small/{label}/{}", i % 1000),
                    &small[..],
                    &opts,
                )
                .unwrap()
            })
        });
        g.bench_function(format!("get_after_{label}"), |b| {
            let mut out = Vec::with_capacity(4096);
            b.iter(|| {
                out.clear();
                s.get_object("bench", &format!("small/{label}/1"), None, None, &mut out)
                    .unwrap();
                black_box(out.len())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
