//! The object service through its Rust API (no processes): round trips in every SSE mode and
//! at segment edges, ranged reads, default encryption, bucket keys and their KMS call counts
//! (from the audit trail), SSE-C key checks, atomic last-writer-wins PUTs, and the bucket and
//! listing rules. (Tampering, swapped keys and disabled keys: object_tamper.rs.)

mod common;
use common::kms::{Env, env};
use common::object::*;
use common::pattern::pattern_seeded;
use kmsfs::kms::types::*;
use kmsfs::kms::{Client, Embedded, Kms, KmsOptions};
use kmsfs::object::service::object_path;
use kmsfs::object::{
    BucketEncryption, ByteRange, ListObjects, ObjectError, ObjectOptions, ObjectService,
    PutOptions, S3_PRINCIPAL, Sse, SseCustomerKey,
};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn round_trips_in_every_mode_at_segment_edges() {
    let (e, s) = setup("rtb");
    let key = e.create_key();
    let modes: Vec<(&str, PutOptions, Option<SseCustomerKey>)> = vec![
        ("default", PutOptions::default(), None),
        ("sse-s3", sse_s3_opts(), None),
        ("sse-kms", kms_opts(&key, None), None),
        ("sse-kms-bucket-key", kms_opts(&key, Some(true)), None),
        ("sse-c", sse_c_opts(7), Some(customer(7))),
    ];
    let sizes = [0, 1, SEG - 1, SEG, SEG + 1, 3 * SEG + 7];
    for (name, opts, ck) in &modes {
        for &n in &sizes {
            let k = format!("{name}/{n}");
            let body = pattern_seeded(n as u64, n);
            let put = s.put_object("rtb", &k, &body[..], opts).unwrap();
            assert_eq!(put.content_length, n as u64);
            let got = get(&s, "rtb", &k, ck.as_ref());
            assert!(got == body, "{k}: round trip");
            let h = s.head_object("rtb", &k, ck.as_ref()).unwrap();
            assert_eq!(h.content_length, n as u64);
            assert_eq!(h.etag, put.etag);
            match *name {
                "default" | "sse-s3" => {
                    assert_eq!(h.server_side_encryption.as_deref(), Some("AES256"));
                    assert_eq!(h.ssekms_key_id, None);
                    // SSE-S3's ETag is the MD5 of the data, as in S3.
                    let md5 = {
                        use md5::Digest;
                        kmsfs::crypto::hex(&md5::Md5::digest(&body))
                    };
                    assert_eq!(h.etag, format!("\"{md5}\""));
                }
                "sse-kms" | "sse-kms-bucket-key" => {
                    assert_eq!(h.server_side_encryption.as_deref(), Some("aws:kms"));
                    assert!(h.ssekms_key_id.as_deref().unwrap().ends_with(&key));
                    assert_eq!(h.bucket_key_enabled, Some(*name == "sse-kms-bucket-key"));
                }
                _ => {
                    assert_eq!(h.server_side_encryption, None);
                    assert_eq!(h.sse_customer_algorithm.as_deref(), Some("AES256"));
                    assert_eq!(
                        h.sse_customer_key_md5.as_deref(),
                        Some(customer(7).key_md5().as_str())
                    );
                }
            }
            // The file holds no plaintext run of the body (n > 64 makes a match meaningful).
            if n > 64 {
                let raw = std::fs::read(object_path(e.home.root(), "rtb", &k)).unwrap();
                assert!(!raw.windows(64).any(|w| w == &body[n / 2 - 32..n / 2 + 32]));
            }
        }
        // Ranged reads at the segment edges of the largest object.
        let n = 3 * SEG + 7;
        let k = format!("{name}/{n}");
        let body = pattern_seeded(n as u64, n);
        let ranges = [
            (ByteRange::FromTo(0, 0), 0, 1),
            (ByteRange::FromTo(0, SEG as u64 - 1), 0, SEG),
            (
                ByteRange::FromTo(SEG as u64 - 1, SEG as u64),
                SEG - 1,
                SEG + 1,
            ),
            (ByteRange::FromTo(SEG as u64, SEG as u64), SEG, SEG + 1),
            (
                ByteRange::FromTo(SEG as u64 - 3, 2 * SEG as u64 + 3),
                SEG - 3,
                2 * SEG + 4,
            ),
            (ByteRange::FromTo(5, 10 * n as u64), 5, n),
            (ByteRange::From(3 * SEG as u64), 3 * SEG, n),
            (ByteRange::From(n as u64 - 1), n - 1, n),
            (ByteRange::Suffix(1), n - 1, n),
            (ByteRange::Suffix(8), n - 8, n),
            (ByteRange::Suffix(SEG as u64 + 8), n - SEG - 8, n),
            (ByteRange::Suffix(10 * n as u64), 0, n),
        ];
        for (r, a, b) in ranges {
            let mut out = Vec::new();
            let i = s
                .get_object("rtb", &k, Some(r), ck.as_ref(), &mut out)
                .unwrap();
            assert!(out == body[a..b], "{k} {r:?}");
            assert_eq!(i.content_length, (b - a) as u64);
            assert_eq!(
                i.content_range.as_deref(),
                Some(format!("bytes {a}-{}/{n}", b - 1).as_str())
            );
        }
        for r in [
            ByteRange::FromTo(n as u64, n as u64 + 5),
            ByteRange::From(n as u64),
            ByteRange::Suffix(0),
        ] {
            let mut out = Vec::new();
            let err = s
                .get_object("rtb", &k, Some(r), ck.as_ref(), &mut out)
                .unwrap_err();
            assert!(matches!(err, ObjectError::InvalidRange(_)), "{r:?}: {err}");
            assert!(out.is_empty());
        }
        let mut out = Vec::new();
        let err = s
            .get_object(
                "rtb",
                &format!("{name}/0"),
                Some(ByteRange::From(0)),
                ck.as_ref(),
                &mut out,
            )
            .unwrap_err();
        assert_eq!(err.code(), "InvalidRange");
        // Random-access reads (what the FUSE view uses).
        let r = s.open_object("rtb", &k, ck.as_ref()).unwrap();
        assert_eq!(r.len(), n as u64);
        for (off, len) in [(0, 10), (SEG - 2, 4), (n - 3, 100), (2 * SEG, SEG), (n, 5)] {
            let mut buf = vec![0u8; len];
            let got = r.read_at(off as u64, &mut buf).unwrap();
            let want = &body[off.min(n)..(off + len).min(n)];
            assert_eq!(&buf[..got], want, "{k} read_at({off}, {len})");
        }
    }
}

#[test]
fn default_encryption_and_request_overrides() {
    let e = env();
    let s = svc(&e);
    let key = e.create_key();
    let arn = e.describe(&key).unwrap().arn;
    e.create_alias("alias/app", &key).unwrap();
    s.create_bucket("enc").unwrap();
    assert_eq!(
        s.get_bucket_encryption("enc").unwrap(),
        BucketEncryption::default(),
        "new buckets default to SSE-S3"
    );
    let i = s
        .put_object("enc", "a", &b"x"[..], &PutOptions::default())
        .unwrap();
    assert_eq!(i.server_side_encryption.as_deref(), Some("AES256"));
    // The AWS-managed alias/aws/s3 exists now.
    let aliases = e.c.list_aliases(ListRequest::default()).unwrap().aliases;
    assert!(aliases.iter().any(|a| a.alias_name == "alias/aws/s3"));

    s.put_bucket_encryption(
        "enc",
        &BucketEncryption {
            sse_algorithm: Sse::Kms,
            kms_master_key_id: Some("alias/app".into()),
            bucket_key_enabled: true,
        },
    )
    .unwrap();
    let i = s
        .put_object("enc", "b", &b"x"[..], &PutOptions::default())
        .unwrap();
    assert_eq!(i.server_side_encryption.as_deref(), Some("aws:kms"));
    assert_eq!(i.ssekms_key_id.as_deref(), Some(arn.as_str()));
    assert_eq!(i.bucket_key_enabled, Some(true));
    // The request's choice overrides the bucket's.
    let i = s.put_object("enc", "c", &b"x"[..], &sse_s3_opts()).unwrap();
    assert_eq!(i.server_side_encryption.as_deref(), Some("AES256"));
    let i = s
        .put_object(
            "enc",
            "d",
            &b"x"[..],
            &PutOptions {
                bucket_key_enabled: Some(false),
                encryption_context: [("team".to_string(), "cats".to_string())].into(),
                sse: Some(Sse::Kms),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(i.bucket_key_enabled, Some(false));
    assert_eq!(i.ssekms_key_id.as_deref(), Some(arn.as_str()));
    let h = s.head_object("enc", "d", None).unwrap();
    assert_eq!(h, {
        let mut x = i.clone();
        x.content_range = None;
        x
    });
    // The object's KMS context: its ARN plus the caller's.
    let gdk = last_generate_data_key(&e);
    assert_eq!(
        gdk.encryption_context.unwrap(),
        [
            ("aws:s3:arn".to_string(), "arn:aws:s3:::enc/d".to_string()),
            ("team".to_string(), "cats".to_string())
        ]
        .into()
    );
    assert_eq!(get(&s, "enc", "d", None), b"x");
    // Contradictions are InvalidArgument.
    for bad in [
        PutOptions {
            sse: Some(Sse::Aes256),
            kms_key_id: Some(key.clone()),
            ..Default::default()
        },
        PutOptions {
            sse: Some(Sse::Aes256),
            encryption_context: [("a".to_string(), "b".to_string())].into(),
            ..Default::default()
        },
        PutOptions {
            sse: Some(Sse::Kms),
            sse_c: Some(customer(1)),
            ..Default::default()
        },
        PutOptions {
            sse: Some(Sse::Kms),
            encryption_context: [("aws:s3:arn".to_string(), "x".to_string())].into(),
            ..Default::default()
        },
    ] {
        let err = s.put_object("enc", "z", &b"x"[..], &bad).unwrap_err();
        assert!(matches!(err, ObjectError::InvalidArgument(_)), "{err}");
    }
    assert!(matches!(
        SseCustomerKey::from_bytes(&[0; 16]),
        Err(ObjectError::InvalidArgument(_))
    ));
    // A key that does not exist is named when the config is set.
    let err = s
        .put_bucket_encryption(
            "enc",
            &BucketEncryption {
                sse_algorithm: Sse::Kms,
                kms_master_key_id: Some("alias/nope".into()),
                bucket_key_enabled: false,
            },
        )
        .unwrap_err();
    assert_eq!(err.code(), "KMS.NotFoundException", "{err}");
}

/// A KMS whose audit trail is flushed in batches (10,000 fsyncs would dominate the test).
fn batched_kms(e: &Env) -> Arc<Kms> {
    Kms::open(
        &e.home,
        KmsOptions {
            clock: Arc::new(e.clock.clone()),
            passphrase: None,
            audit_interval: Some(Duration::from_millis(200)),
        },
    )
    .unwrap()
}

#[test]
fn bucket_keys_call_kms_once_per_period_not_per_object() {
    let e = env();
    let key = e.create_key();
    let kms = batched_kms(&e);
    let s = ObjectService::new(&e.home, Arc::new(Embedded::new(kms.clone(), S3_PRINCIPAL)));
    s.create_bucket("nobk").unwrap();
    s.create_bucket("bkb").unwrap();
    const N: usize = 10_000;
    let before = count(&e, "GenerateDataKey");
    for i in 0..N {
        s.put_object(
            "nobk",
            &format!("o{i}"),
            &b"small"[..],
            &kms_opts(&key, None),
        )
        .unwrap();
    }
    kms.flush_audit().unwrap();
    let per_object = count(&e, "GenerateDataKey") - before;
    assert_eq!(
        per_object, N,
        "without a bucket key: one GenerateDataKey per PUT"
    );
    for i in 0..N {
        s.put_object(
            "bkb",
            &format!("o{i}"),
            &b"small"[..],
            &kms_opts(&key, Some(true)),
        )
        .unwrap();
    }
    kms.flush_audit().unwrap();
    let with_bk = count(&e, "GenerateDataKey") - before - N;
    assert!(
        (1..=3).contains(&with_bk),
        "with a bucket key: {with_bk} GenerateDataKey calls for {N} PUTs"
    );
    // The bucket key's GenerateDataKey names the bucket, not an object.
    let last = last_generate_data_key(&e);
    assert_eq!(
        last.encryption_context.unwrap()["aws:s3:arn"],
        "arn:aws:s3:::bkb"
    );
    // A fresh process (empty cache) reads every bucket-key object with one Decrypt.
    let s2 = ObjectService::new(&e.home, Arc::new(Embedded::new(kms.clone(), S3_PRINCIPAL)));
    let d0 = count(&e, "Decrypt");
    for i in (0..N).step_by(97) {
        assert_eq!(get(&s2, "bkb", &format!("o{i}"), None), b"small");
    }
    kms.flush_audit().unwrap();
    assert_eq!(count(&e, "Decrypt") - d0, with_bk);
}

#[test]
fn objects_stay_readable_after_the_bucket_key_changes() {
    let e = env();
    let key = e.create_key();
    let s = svc_with(
        &e,
        ObjectOptions {
            bucket_key_ttl: Duration::from_millis(300),
            ..Default::default()
        },
    );
    s.create_bucket("rot").unwrap();
    s.put_object("rot", "old", &b"old"[..], &kms_opts(&key, Some(true)))
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    s.put_object("rot", "new", &b"new"[..], &kms_opts(&key, Some(true)))
        .unwrap();
    let keys_dir = e.home.root().join("buckets/rot/bucket-keys");
    let files: Vec<_> = std::fs::read_dir(&keys_dir).unwrap().collect();
    assert_eq!(files.len(), 2, "two bucket keys, one per period");
    for f in files {
        use std::os::unix::fs::PermissionsExt;
        let m = f.unwrap().metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(m, 0o600);
    }
    s.clear_bucket_key_cache();
    assert_eq!(get(&s, "rot", "old", None), b"old");
    assert_eq!(get(&s, "rot", "new", None), b"new");
    // Rotating the KMS key changes nothing for readers.
    e.c.rotate_key_on_demand(e.kid(&key)).unwrap();
    s.clear_bucket_key_cache();
    assert_eq!(get(&s, "rot", "old", None), b"old");
    // A missing bucket-key file is named.
    for f in std::fs::read_dir(&keys_dir).unwrap() {
        std::fs::remove_file(f.unwrap().path()).unwrap();
    }
    s.clear_bucket_key_cache();
    let (err, out) = get_err(&s, "rot", "old", None);
    assert!(err.to_string().contains("bucket key"), "{err}");
    assert!(out.is_empty());
}

/// Two services on one home stand for two processes: each has its own cache, and they share
/// the bucket's current key through `bucket-key.json`, until it expires for both.
#[test]
fn processes_share_the_current_bucket_key_until_it_expires() {
    let e = env();
    let key = e.create_key();
    let opts = || ObjectOptions {
        bucket_key_ttl: Duration::from_millis(700),
        ..Default::default()
    };
    let s1 = svc_with(&e, opts());
    let s2 = svc_with(&e, opts());
    s1.create_bucket("share").unwrap();
    let put = |s: &ObjectService, k: &str| {
        s.put_object("share", k, k.as_bytes(), &kms_opts(&key, Some(true)))
            .unwrap();
    };
    let (g0, d0) = (count(&e, "GenerateDataKey"), count(&e, "Decrypt"));
    put(&s1, "a");
    put(&s2, "b");
    put(&s2, "c");
    assert_eq!(
        count(&e, "GenerateDataKey") - g0,
        1,
        "one bucket key for both"
    );
    assert_eq!(
        count(&e, "Decrypt") - d0,
        1,
        "the second process Decrypts it once"
    );
    // Expired for both: the first writer after the period makes the next, the other uses it.
    std::thread::sleep(Duration::from_millis(800));
    put(&s2, "d");
    put(&s1, "e");
    assert_eq!(
        count(&e, "GenerateDataKey") - g0,
        2,
        "one more after the period"
    );
    let keys_dir = e.home.root().join("buckets/share/bucket-keys");
    assert_eq!(std::fs::read_dir(&keys_dir).unwrap().count(), 2);
    for k in ["a", "b", "c", "d", "e"] {
        assert_eq!(get(&s1, "share", k, None), k.as_bytes());
        assert_eq!(get(&s2, "share", k, None), k.as_bytes());
    }
    // A current key that names a missing blob is replaced by a fresh one, never used.
    std::thread::sleep(Duration::from_millis(800));
    put(&s1, "f");
    for f in std::fs::read_dir(&keys_dir).unwrap() {
        std::fs::remove_file(f.unwrap().path()).unwrap();
    }
    put(&s2, "g");
    assert_eq!(count(&e, "GenerateDataKey") - g0, 4);
    assert_eq!(get(&s2, "share", "g", None), b"g");
}

#[test]
fn sse_c_needs_the_same_key() {
    let (e, s) = setup("ssec");
    let body = pattern_seeded(1, 3 * SEG);
    let put = s
        .put_object("ssec", "k", &body[..], &sse_c_opts(1))
        .unwrap();
    assert_eq!(put.sse_customer_algorithm.as_deref(), Some("AES256"));
    // base64(MD5(32 × 0x01)), as S3 computes SSECustomerKeyMD5.
    assert_eq!(put.sse_customer_key_md5, Some(customer(1).key_md5()));
    let (err, out) = get_err(&s, "ssec", "k", Some(&customer(2)));
    assert!(matches!(err, ObjectError::AccessDenied(_)), "{err}");
    assert_eq!(err.http_status(), 403);
    assert!(out.is_empty());
    let (err, out) = get_err(&s, "ssec", "k", None);
    assert!(matches!(err, ObjectError::InvalidRequest(_)), "{err}");
    assert!(err.to_string().contains("SSE-C"));
    assert!(out.is_empty());
    assert!(matches!(
        s.head_object("ssec", "k", Some(&customer(3))),
        Err(ObjectError::AccessDenied(_))
    ));
    // Listings and stat need no key.
    assert_eq!(s.stat_object("ssec", "k").unwrap().size, body.len() as u64);
    assert_eq!(get(&s, "ssec", "k", Some(&customer(1))), body);
    // An SSE-C key for an object that is not SSE-C is refused.
    s.put_object("ssec", "plain", &b"x"[..], &PutOptions::default())
        .unwrap();
    let (err, _) = get_err(&s, "ssec", "plain", Some(&customer(1)));
    assert!(matches!(err, ObjectError::InvalidRequest(_)), "{err}");
    // The key is not in the file (only a salted HMAC).
    let raw = std::fs::read(object_path(e.home.root(), "ssec", "k")).unwrap();
    assert!(!raw.windows(32).any(|w| w == [1u8; 32]));
    // Debug output never shows it.
    assert!(format!("{:?}", customer(1)).contains("redacted"));
    // The copy of an SSE-C object needs its key; the copy is encrypted as asked.
    let c = s
        .copy_object(
            "ssec",
            "k",
            Some(&customer(1)),
            "ssec",
            "copy",
            &PutOptions::default(),
        )
        .unwrap();
    assert_eq!(c.server_side_encryption.as_deref(), Some("AES256"));
    assert_eq!(get(&s, "ssec", "copy", None), body);
    assert!(
        s.copy_object("ssec", "k", None, "ssec", "copy2", &PutOptions::default())
            .is_err()
    );
}

#[test]
fn concurrent_puts_are_atomic_and_the_last_writer_wins() {
    let (e, s) = setup("race");
    let (na, nb) = (2 * SEG + 5, SEG + 77);
    s.put_object("race", "k", &vec![b'A'; na][..], &PutOptions::default())
        .unwrap();
    let reads = common::race_whole_versions(
        [(b'A', na), (b'B', nb)],
        15,
        5,
        |c, n| {
            s.put_object("race", "k", &vec![c; n][..], &PutOptions::default())
                .unwrap();
        },
        || get(&s, "race", "k", None),
    );
    assert!(reads >= 5);
    // Sequential: the last PUT is what GET returns.
    s.put_object("race", "k", &b"first"[..], &PutOptions::default())
        .unwrap();
    s.put_object("race", "k", &b"second"[..], &PutOptions::default())
        .unwrap();
    assert_eq!(get(&s, "race", "k", None), b"second");
    // A reader opened before a PUT keeps its version.
    let r = s.open_object("race", "k", None).unwrap();
    s.put_object("race", "k", &b"third!"[..], &PutOptions::default())
        .unwrap();
    let mut buf = [0u8; 6];
    assert_eq!(r.read_at(0, &mut buf).unwrap(), 6);
    assert_eq!(&buf, b"second");
    let files = std::fs::read_dir(e.home.root().join("buckets/race/objects"))
        .unwrap()
        .count();
    assert_eq!(files, 1, "no temp files left");
}

#[test]
fn buckets_listing_and_deletion_follow_s3() {
    let e = env();
    let s = svc(&e);
    for bad in ["Ab", "ab", "a_b", "-ab", "192.168.1.1", &"a".repeat(64)] {
        assert!(
            matches!(s.create_bucket(bad), Err(ObjectError::InvalidBucketName(_))),
            "{bad}"
        );
    }
    s.create_bucket("photos").unwrap();
    s.create_bucket("a.b-c").unwrap();
    assert!(matches!(
        s.create_bucket("photos"),
        Err(ObjectError::BucketAlreadyOwnedByYou(_))
    ));
    let names: Vec<_> = s
        .list_buckets()
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(names, ["a.b-c", "photos"]);
    assert!(matches!(
        s.put_object("nope", "k", &b""[..], &PutOptions::default()),
        Err(ObjectError::NoSuchBucket(_))
    ));
    let (err, _) = get_err(&s, "photos", "missing", None);
    assert!(matches!(err, ObjectError::NoSuchKey { .. }), "{err}");
    assert_eq!(err.http_status(), 404);
    for k in [
        "2024/cat.jpg",
        "2024/dog.jpg",
        "2024/jan/a",
        "2024/jan/b",
        "2025/x",
        "top",
        "ünïcödé/ключ",
    ] {
        s.put_object("photos", k, k.as_bytes(), &PutOptions::default())
            .unwrap();
    }
    let long = "k".repeat(1024);
    s.put_object("photos", &long, &b""[..], &PutOptions::default())
        .unwrap();
    assert!(matches!(
        s.put_object(
            "photos",
            &"k".repeat(1025),
            &b""[..],
            &PutOptions::default()
        ),
        Err(ObjectError::KeyTooLong(_))
    ));
    let list = |prefix: &str, delim: Option<&str>, after: Option<&str>, max: usize| {
        s.list_objects(
            "photos",
            &ListObjects {
                prefix: prefix.into(),
                delimiter: delim.map(String::from),
                start_after: after.map(String::from),
                max_keys: max,
            },
        )
        .unwrap()
    };
    let r = list("2024/", None, None, 1000);
    let keys: Vec<_> = r.contents.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(
        keys,
        ["2024/cat.jpg", "2024/dog.jpg", "2024/jan/a", "2024/jan/b"]
    );
    assert_eq!(r.contents[0].size, 12);
    let r = list("2024/", Some("/"), None, 1000);
    assert_eq!(r.contents.len(), 2);
    assert_eq!(r.common_prefixes.len(), 1);
    assert_eq!(r.common_prefixes[0].prefix, "2024/jan/");
    let r = list("", Some("/"), None, 1000);
    let prefixes: Vec<_> = r
        .common_prefixes
        .iter()
        .map(|p| p.prefix.as_str())
        .collect();
    assert_eq!(prefixes, ["2024/", "2025/", "ünïcödé/"]);
    assert_eq!(r.contents.len(), 2, "{:?}", r.contents);
    // Paging: two at a time, through every key.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let r = list("", None, after.as_deref(), 2);
        seen.extend(r.contents.iter().map(|o| o.key.clone()));
        if !r.is_truncated {
            break;
        }
        after = r.next_continuation_token.clone();
    }
    assert_eq!(seen.len(), 8);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    // Paging with a delimiter continues after a common prefix.
    let r1 = list("", Some("/"), None, 1);
    assert_eq!(r1.common_prefixes[0].prefix, "2024/");
    let r2 = list("", Some("/"), r1.next_continuation_token.as_deref(), 1);
    assert_eq!(r2.common_prefixes[0].prefix, "2025/");
    // Delete: idempotent; bucket delete refused while not empty.
    assert!(s.delete_object("photos", "top").unwrap());
    assert!(!s.delete_object("photos", "top").unwrap());
    assert!(matches!(
        s.delete_bucket("photos", false),
        Err(ObjectError::BucketNotEmpty(_))
    ));
    s.delete_bucket("photos", true).unwrap();
    assert!(matches!(
        s.list_objects("photos", &ListObjects::default()),
        Err(ObjectError::NoSuchBucket(_))
    ));
    s.delete_bucket("a.b-c", false).unwrap();
    assert!(s.list_buckets().unwrap().is_empty());
    s.create_bucket("photos").unwrap();
    assert!(list_is_empty(&s, "photos"));
}

fn list_is_empty(s: &ObjectService, b: &str) -> bool {
    s.list_objects(b, &ListObjects::default())
        .unwrap()
        .contents
        .is_empty()
}

#[test]
fn files_holding_keys_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let (e, s) = setup("mod");
    s.put_object("mod", "k", &b"x"[..], &PutOptions::default())
        .unwrap();
    for p in [
        object_path(e.home.root(), "mod", "k"),
        e.home.root().join("buckets/mod/bucket.json"),
    ] {
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", p.display());
    }
}

/// A PUT whose process died between creating its temp file and the rename leaves
/// `objects/.tmp.<pid>.*`; the next PUT to the bucket (once per process) removes such files of
/// dead processes, and keeps those of live ones.
#[test]
fn temp_files_of_crashed_puts_are_swept() {
    let (e, s) = setup("sweep");
    s.put_object("sweep", "a", &b"x"[..], &Default::default())
        .unwrap();
    let objects = e.home.root().join("buckets/sweep/objects");
    // A pid above the kernel's maximum (4194304) is never alive.
    let dead = objects.join(".tmp.99999999.00112233aabbccdd");
    let live = objects.join(format!(".tmp.{}.00112233aabbccdd", std::process::id()));
    std::fs::write(&dead, b"half a put").unwrap();
    std::fs::write(&live, b"a put in progress").unwrap();
    let listed = |s: &ObjectService| {
        s.list_objects("sweep", &Default::default())
            .unwrap()
            .contents
            .len()
    };
    assert_eq!(listed(&s), 1, "temp files are never listed");
    let fresh = svc(&e);
    fresh
        .put_object("sweep", "b", &b"y"[..], &Default::default())
        .unwrap();
    assert!(!dead.exists(), "a dead process's temp file stays");
    assert!(live.exists(), "a live process's temp file was removed");
    assert_eq!(listed(&fresh), 2);
}
