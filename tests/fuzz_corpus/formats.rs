//! Seeds of the file formats: snapshot manifests, object files, envelope messages.

use super::*;

/// A manifest entry with fixed metadata (for the snapshot seeds).
fn manifest_entry(path: &str, kind: EntryKind) -> Entry {
    Entry {
        path: path.as_bytes().to_vec(),
        kind,
        mode: 0o755,
        uid: 1000,
        gid: 1000,
        atime_ns: 1_800_000_000_123_456_789,
        mtime_ns: 1_800_000_000_123_456_789,
        ctime_ns: 1_800_000_000_123_456_789,
        ino: 2,
        size: 0,
        target: Vec::new(),
        xattrs: Vec::new(),
        chunks: Vec::new(),
    }
}

/// Valid manifests: a small unencrypted one, an encrypted one, one with every entry kind,
/// nested directories and a three-chunk file, and a bare root.
pub(super) fn manifest_seeds() -> Vec<Manifest> {
    let file = |path: &str, size: u64| {
        let mut e = manifest_entry(path, EntryKind::File);
        e.size = size;
        e.chunks = (0..size.div_ceil(CHUNK as u64))
            .map(|i| sha256(format!("{path} {i}").as_bytes()))
            .collect();
        e
    };
    let base = |encrypted: bool, entries: Vec<Entry>| Manifest {
        volume_id: "vol-0123456789abcdef0".into(),
        volume_size: 1 << 30,
        encrypted,
        kms_key_arn: encrypted.then(|| "arn:aws:kms:us-east-1:111122223333:key/x".to_string()),
        wrapped_dek: encrypted.then(|| vec![0xab; 88]),
        dek_context: if encrypted {
            [(
                "aws:ebs:id".to_string(),
                "vol-0123456789abcdef0".to_string(),
            )]
            .into()
        } else {
            Default::default()
        },
        entries,
    };
    let root = || manifest_entry("", EntryKind::Dir);
    let mut hello = file("hello.txt", 5);
    hello.xattrs = vec![(b"user.k".to_vec(), b"v".to_vec())];
    let mut link = manifest_entry("link", EntryKind::Symlink);
    link.target = b"hello.txt".to_vec();
    let small = base(false, vec![root(), hello.clone(), link.clone()]);
    let enc = base(
        true,
        vec![
            root(),
            file(".kmsfs.diriv", 16),
            file("MQHdFBwMPIvFt6QSlQooTh5eTfmP_xf_fA", 37),
        ],
    );
    let mut hard = manifest_entry("d/e/again", EntryKind::HardLink);
    hard.target = b"d/e/big".to_vec();
    let mut old = manifest_entry("d/old", EntryKind::Fifo);
    old.atime_ns = -1;
    old.mtime_ns = i64::MIN;
    old.ctime_ns = i64::MAX;
    old.uid = u32::MAX;
    old.ino = u64::MAX;
    old.mode = 0o7777;
    let every = base(
        false,
        vec![
            root(),
            manifest_entry("d", EntryKind::Dir),
            manifest_entry("d/e", EntryKind::Dir),
            file("d/e/big", 2 * CHUNK as u64 + 1),
            hard,
            file("d/e/empty", 0),
            old,
            manifest_entry("d/sock", EntryKind::Socket),
            hello,
            link,
        ],
    );
    let bare = base(true, vec![root()]);
    vec![small, enc, every, bare]
}

/// Object files sealed under FUZZ_KEY: SSE-S3 (empty, small, three segments), SSE-KMS with a
/// context and with a bucket key, and SSE-C whose data key is wrapped under FUZZ_KEY.
pub(super) fn object_seeds() -> Vec<Vec<u8>> {
    use kmsfs::object::format::{self, Header, LocalWrap, Record, Sse, SseCCheck};
    let fk = SecretKey::from_bytes(FUZZ_KEY);
    let header = |sse: Sse, key: &str| Header {
        version: format::VERSION_1,
        sse,
        segment_size: 1024,
        content_length: 0,
        salt: [3; 32],
        etag: [4; 16],
        last_modified_ms: 1_800_000_000_000,
        record: Record {
            bucket: "fuzz".into(),
            key: key.into(),
            kms_key_arn: Some("arn:aws:kms:us-east-1:111122223333:key/k".into()),
            context: Default::default(),
            bucket_key_id: None,
            wrapped_key: vec![0xab; 88],
            sse_c: None,
            content_type: None,
            metadata: Vec::new(),
        },
    };
    let mut out = Vec::new();
    let mut push = |h: &Header, dk: &SecretKey, p: &[u8]| {
        let b = format::seal_object(h, dk, p).unwrap();
        out.extend(damaged(&b));
        out.push(b);
    };
    let h = header(Sse::Aes256, "a");
    push(&h, &fk, b"");
    push(&h, &fk, b"hello");
    push(&h, &fk, &(0..2500u32).map(|i| i as u8).collect::<Vec<_>>());
    let mut k = header(Sse::Kms, "dir/b");
    k.record.context = [("team".to_string(), "x".to_string())].into();
    push(&k, &fk, b"kms");
    // Version 2: a Content-Type and user metadata in the record.
    let mut v2 = header(Sse::Aes256, "v2");
    v2.version = format::VERSION;
    v2.record.content_type = Some("text/plain".into());
    v2.record.metadata = vec![("owner".into(), "fuzz".into())];
    push(&v2, &fk, b"version 2");
    let ctx = |h: &Header| {
        format::object_context(
            &format::s3_arn("aws", "fuzz", Some(&h.record.key)),
            &h.record.context,
        )
    };
    let mut bk = header(Sse::Kms, "bk");
    bk.record.bucket_key_id = Some([9; 16]);
    bk.record.wrapped_key =
        format::wrap_local(&fk, LocalWrap::BucketKey, &ctx(&bk), &fk, [1; 12]).unwrap();
    push(&bk, &fk, b"bucket key");
    let dk = SecretKey::from_bytes([0x5c; 32]);
    let mut c = header(Sse::Customer, "ssec");
    c.record.kms_key_arn = None;
    c.record.wrapped_key =
        format::wrap_local(&fk, LocalWrap::Customer, &ctx(&c), &dk, [2; 12]).unwrap();
    c.record.sse_c = Some(SseCCheck {
        salt: [6; 16],
        hmac: format::sse_c_hmac(&fk, &[6; 16]),
    });
    push(&c, &dk, &[7u8; 1500]);
    out
}

/// Envelope messages under the fuzzing key (fixed message ids), each with damaged copies.
pub(super) fn envelope_seeds() -> Vec<Vec<u8>> {
    use kmsfs::envelope::{self, EncryptOptions};
    let mut out = Vec::new();
    for (i, (n, frame_len, ctx)) in [
        (0usize, 16u32, vec![]),
        (1, 16, vec![("app", "x")]),
        (40, 16, vec![("purpose", "test"), ("app", "x")]),
        (100, 32, vec![("a", "b")]),
        (300, 64, vec![]),
    ]
    .into_iter()
    .enumerate()
    {
        let ctx = common::kms::ctx(&ctx);
        let opts = EncryptOptions {
            frame_len,
            message_id: Some([i as u8; 32]),
            ..Default::default()
        };
        let pt: Vec<u8> = (0..n).map(|j| j as u8).collect();
        let mut m = Vec::new();
        envelope::encrypt(&fuzzing::FuzzKeyring, &ctx, &pt[..], &mut m, &opts).unwrap();
        out.extend(damaged(&m));
        out.push(m);
    }
    out
}
