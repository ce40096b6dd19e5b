//! Content-Type and user metadata through the object service's Rust API (no processes):
//! PUT keeps them (keys lowercased), HEAD and GET report them (S3's default Content-Type
//! when none was given), copy keeps them or replaces them, more than 2 KB is refused with
//! `MetadataTooLarge`, and version 1 object files (written before the record had them) still
//! read, as having neither.

mod common;
use common::object::*;
use kmsfs::crypto::SecretKey;
use kmsfs::object::format::{self, Header, LocalWrap, Record, Sse, SseCCheck};
use kmsfs::object::service::object_path;
use kmsfs::object::{ObjectError, PutOptions};

fn meta(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn put_keeps_them_head_and_get_report_them_copy_keeps_or_replaces() {
    let (_e, s) = setup("meta");
    let opts = PutOptions {
        content_type: Some("text/plain".into()),
        metadata: meta(&[("Owner", "alice"), ("project", "cats")]),
        ..Default::default()
    };
    let put = s.put_object("meta", "a.txt", &b"hello"[..], &opts).unwrap();
    assert_eq!(put.content_type, "text/plain");
    let h = s.head_object("meta", "a.txt", None).unwrap();
    assert_eq!(h.content_type, "text/plain");
    assert_eq!(h.metadata.len(), 2);
    assert_eq!(h.metadata["owner"], "alice", "keys are lowercased");
    assert_eq!(h.metadata["project"], "cats");
    let j = serde_json::to_value(&h).unwrap();
    assert_eq!(j["ContentType"], "text/plain");
    assert_eq!(j["Metadata"]["owner"], "alice");
    assert_eq!(get(&s, "meta", "a.txt", None), b"hello");

    // None given: S3's default type, and no Metadata field.
    s.put_object("meta", "plain", &b"x"[..], &PutOptions::default())
        .unwrap();
    let h = s.head_object("meta", "plain", None).unwrap();
    assert_eq!(h.content_type, "binary/octet-stream");
    let j = serde_json::to_value(&h).unwrap();
    assert!(j.get("Metadata").is_none(), "{j}");

    // Copy: COPY (the default) keeps them, even across SSE modes; REPLACE takes the new.
    let c = s
        .copy_object("meta", "a.txt", None, "meta", "b.txt", &sse_c_opts(3))
        .unwrap();
    assert_eq!(c.content_type, "text/plain");
    let h = s.head_object("meta", "b.txt", Some(&customer(3))).unwrap();
    assert_eq!(h.metadata["owner"], "alice");
    let replace = PutOptions {
        content_type: Some("application/json".into()),
        metadata: meta(&[("k", "v")]),
        replace_metadata: true,
        ..Default::default()
    };
    s.copy_object("meta", "a.txt", None, "meta", "c.txt", &replace)
        .unwrap();
    let h = s.head_object("meta", "c.txt", None).unwrap();
    assert_eq!(h.content_type, "application/json");
    assert_eq!(h.metadata.len(), 1);
    assert_eq!(h.metadata["k"], "v");
}

#[test]
fn metadata_above_2_kb_is_refused() {
    let (_e, s) = setup("big");
    let put = |m: Vec<(String, String)>| {
        let o = PutOptions {
            metadata: m,
            ..Default::default()
        };
        s.put_object("big", "k", &b"x"[..], &o)
    };
    // 2 KB in all (keys and values) is the limit, inclusive.
    put(meta(&[("k", &"v".repeat(2047))])).unwrap();
    let e = put(meta(&[("k", &"v".repeat(2048))])).unwrap_err();
    assert!(matches!(e, ObjectError::MetadataTooLarge(_)), "{e}");
    assert_eq!(e.code(), "MetadataTooLarge");
    assert_eq!(e.http_status(), 400);
    let e = put(meta(&[("a", &"v".repeat(1100)), ("b", &"v".repeat(1100))])).unwrap_err();
    assert_eq!(e.code(), "MetadataTooLarge");
    assert_eq!(s.head_object("big", "k", None).unwrap().metadata.len(), 1);
}

/// A version 1 object (as kmsfs wrote before Content-Type and metadata) placed in a bucket:
/// it reads, has S3's default type and no metadata; a copy of it is a version 2 object.
#[test]
fn version_1_objects_still_read() {
    let (e, s) = setup("old");
    let ck = SecretKey::from_bytes([5; 32]);
    let dk = SecretKey::from_bytes([6; 32]);
    let ctx = format::object_context(
        &format::s3_arn("aws", "old", Some("v1.txt")),
        &Default::default(),
    );
    let h = Header {
        version: format::VERSION_1,
        sse: Sse::Customer,
        segment_size: 1024,
        content_length: 0,
        salt: [7; 32],
        etag: [8; 16],
        last_modified_ms: 1_800_000_000_000,
        record: Record {
            bucket: "old".into(),
            key: "v1.txt".into(),
            kms_key_arn: None,
            context: Default::default(),
            bucket_key_id: None,
            wrapped_key: format::wrap_local(&ck, LocalWrap::Customer, &ctx, &dk, [9; 12]).unwrap(),
            sse_c: Some(SseCCheck {
                salt: [1; 16],
                hmac: format::sse_c_hmac(&ck, &[1; 16]),
            }),
            content_type: None,
            metadata: Vec::new(),
        },
    };
    let bytes = format::seal_object(&h, &dk, b"written by version 1").unwrap();
    assert_eq!(&bytes[8..10], &1u16.to_le_bytes());
    let path = object_path(e.home.root(), "old", "v1.txt");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &bytes).unwrap();

    let info = s.head_object("old", "v1.txt", Some(&customer(5))).unwrap();
    assert_eq!(info.content_type, "binary/octet-stream");
    assert!(info.metadata.is_empty());
    assert_eq!(
        get(&s, "old", "v1.txt", Some(&customer(5))),
        b"written by version 1"
    );
    s.copy_object(
        "old",
        "v1.txt",
        Some(&customer(5)),
        "old",
        "v2.txt",
        &PutOptions::default(),
    )
    .unwrap();
    let copied = std::fs::read(object_path(e.home.root(), "old", "v2.txt")).unwrap();
    assert_eq!(&copied[8..10], &format::VERSION.to_le_bytes());
    assert_eq!(get(&s, "old", "v2.txt", None), b"written by version 1");
}
