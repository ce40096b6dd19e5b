//! Golden vectors for the object file (`tests/vectors/object.json`, docs/FORMAT.md section 9):
//! the subkeys of an example data key, a small SSE-S3 object (`hello`, the worked example), a
//! three-segment SSE-KMS object with a caller context, a bucket-key object and an SSE-C
//! object (local wraps with fixed nonces), each with its bytes and what it decodes to; and bad
//! objects (a flipped header byte, a flipped record byte, swapped segments, truncated,
//! extended, a wrong SSE-C key), each with the error it must give. Regenerate (only when the
//! format changes on purpose) with `KMSFS_REGEN_VECTORS=1 cargo test --test object_vectors`.

mod common;
use common::pattern::pattern as plaintext;
use common::vectors::{self, bytes, edited};
use kmsfs::crypto::{SecretKey, hex, hkdf_sha256, sha256, unhex};
use kmsfs::object::format::{
    self, FIXED_LEN, HEADER_TAG_LEN, Header, LocalWrap, MAGIC, Record, Sse, SseCCheck, VERSION,
    VERSION_1,
};
use serde_json::{Value, json};

const DATA_KEY: [u8; 32] = [0x11; 32];
const SALT: [u8; 32] = [0x22; 32];
const CUSTOMER_KEY: [u8; 32] = [0x33; 32];
const BUCKET_KEY: [u8; 32] = [0x66; 32];
const ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000001";
/// 2027-01-15T08:00:00Z.
const T: i64 = 1_800_000_000_000;

fn base(sse: Sse, key: &str) -> Header {
    Header {
        version: VERSION_1,
        sse,
        segment_size: 1024,
        content_length: 0,
        salt: SALT,
        etag: [0; 16],
        last_modified_ms: T,
        record: Record {
            bucket: "photos".into(),
            key: key.into(),
            kms_key_arn: Some(ARN.into()),
            context: Default::default(),
            bucket_key_id: None,
            // A stand-in for the KMS ciphertext blob of the data key.
            wrapped_key: vec![0xab; 88],
            sse_c: None,
            content_type: None,
            metadata: Vec::new(),
        },
    }
}

fn md5(b: &[u8]) -> [u8; 16] {
    use md5::Digest;
    md5::Md5::digest(b).into()
}

fn ctx(h: &Header) -> kmsfs::kms::EncryptionContext {
    format::object_context(
        &format::s3_arn("aws", &h.record.bucket, Some(&h.record.key)),
        &h.record.context,
    )
}

/// (name, header, plaintext): the good examples.
fn examples() -> Vec<(&'static str, Header, Vec<u8>)> {
    let dk = SecretKey::from_bytes(DATA_KEY);
    let mut hello = base(Sse::Aes256, "hello.txt");
    hello.etag = md5(b"hello");

    let big = plaintext(2500);
    let mut kms = base(Sse::Kms, "2024/cat.jpg");
    kms.record.context = [("team".to_string(), "cats".to_string())].into();

    let mut bk = base(Sse::Kms, "bk.txt");
    bk.record.bucket_key_id = Some([0x77; 16]);
    bk.record.wrapped_key = format::wrap_local(
        &SecretKey::from_bytes(BUCKET_KEY),
        LocalWrap::BucketKey,
        &ctx(&bk),
        &dk,
        [0x88; 12],
    )
    .unwrap();

    let mut ssec = base(Sse::Customer, "secret.txt");
    ssec.record.kms_key_arn = None;
    let ck = SecretKey::from_bytes(CUSTOMER_KEY);
    ssec.record.wrapped_key =
        format::wrap_local(&ck, LocalWrap::Customer, &ctx(&ssec), &dk, [0x55; 12]).unwrap();
    ssec.record.sse_c = Some(SseCCheck {
        salt: [0x44; 16],
        hmac: format::sse_c_hmac(&ck, &[0x44; 16]),
    });

    // Version 2: the record adds a Content-Type and user metadata.
    let mut v2 = base(Sse::Aes256, "notes.txt");
    v2.version = VERSION;
    v2.etag = md5(b"v2 object");
    v2.record.content_type = Some("text/plain".into());
    v2.record.metadata = vec![
        ("owner".into(), "alice".into()),
        ("project".into(), "cats".into()),
    ];

    let mut out = vec![
        ("hello", hello, b"hello".to_vec()),
        ("sse_kms_three_segments", kms, big.clone()),
        ("bucket_key", bk, b"bucket key".to_vec()),
        ("sse_c", ssec, b"customer".to_vec()),
        ("v2_content_type_and_metadata", v2, b"v2 object".to_vec()),
    ];
    for (_, h, p) in out.iter_mut() {
        h.content_length = p.len() as u64;
        if h.sse != Sse::Aes256 {
            // Not the MD5 of the plaintext (as in S3); the vectors fix it to the MD5 of
            // the plaintext's length in decimal, a stand-in the format does not check.
            h.etag = md5(p.len().to_string().as_bytes());
        }
    }
    out
}

fn seal(h: &Header, p: &[u8]) -> Vec<u8> {
    format::seal_object(h, &SecretKey::from_bytes(DATA_KEY), p).unwrap()
}

fn describe(h: &Header) -> Value {
    let mut v = json!({
        "sse": format!("{:?}", h.sse),
        "segment_size": h.segment_size,
        "content_length": h.content_length,
        "salt": hex(&h.salt),
        "etag": hex(&h.etag),
        "last_modified_ms": h.last_modified_ms,
        "bucket": h.record.bucket,
        "key": h.record.key,
        "kms_key_arn": h.record.kms_key_arn,
        "context": h.record.context,
        "bucket_key_id": h.record.bucket_key_id.map(|i| hex(&i)),
        "wrapped_key": hex(&h.record.wrapped_key),
        "sse_c": h.record.sse_c.as_ref().map(|c| json!({"salt": hex(&c.salt), "hmac": hex(&c.hmac)})),
    });
    // Version 2's fields (absent from the v1 vectors, which stay as they were).
    if h.version != VERSION_1 {
        v["version"] = json!(h.version);
        v["content_type"] = json!(h.record.content_type);
        v["metadata"] = json!(h.record.metadata);
    }
    v
}

/// Open as a GET would: SSE-C with the customer key, the others with the data key.
fn open(b: &[u8], customer: Option<[u8; 32]>) -> Result<Vec<u8>, String> {
    std::panic::catch_unwind(|| {
        let (h, _) = Header::parse(b).map_err(|e| e.0)?;
        let r = match (h.sse, customer) {
            (Sse::Customer, Some(c)) => {
                format::open_sse_c_object(b, &SecretKey::from_bytes(c), "aws")
            }
            _ => format::open_object(b, &SecretKey::from_bytes(DATA_KEY)),
        };
        r.map(|(_, p)| p.expose().to_vec()).map_err(|e| e.0)
    })
    .unwrap_or_else(|_| panic!("opening panicked"))
}

/// A bad object: name, bytes, the customer key to open it with, the error substring.
type Bad = (&'static str, Vec<u8>, Option<[u8; 32]>, &'static str);

fn bad() -> Vec<Bad> {
    let ex = examples();
    let (_, kh, kp) = &ex[1];
    let good = seal(kh, kp);
    let (_, hlen) = Header::parse(&good).unwrap();
    let seg = 1024 + 16;
    let with = |f: &dyn Fn(&mut Vec<u8>)| edited(&good, f);
    let (_, sh, sp) = &ex[3];
    let ssec = seal(sh, sp);
    vec![
        (
            "wrong magic",
            with(&|b| b[0] = b'X'),
            None,
            "no KMSFSOBJ magic",
        ),
        ("version 3", with(&|b| b[8] = 3), None, "unknown version 3"),
        (
            "SSE mode 4",
            with(&|b| b[10] = 4),
            None,
            "unknown SSE mode 4",
        ),
        ("unknown flag", with(&|b| b[11] = 2), None, "unknown flags"),
        (
            "segment size 512",
            with(&|b| b[12..16].copy_from_slice(&512u32.to_le_bytes())),
            None,
            "segment size 512 is out of range",
        ),
        (
            "flipped content length byte",
            with(&|b| b[16] ^= 1),
            None,
            "the header tag does not match",
        ),
        (
            "flipped ETag byte",
            with(&|b| b[64] ^= 1),
            None,
            "the header tag does not match",
        ),
        (
            "flipped salt byte",
            with(&|b| b[32] ^= 1),
            None,
            "the header tag does not match",
        ),
        (
            "flipped record byte (object key)",
            with(&|b| {
                let at = FIXED_LEN + 7 + 1; // "photos" then the key's length, then 'c' of "2024/cat"
                b[at + 5] ^= 0x20;
            }),
            None,
            "the header tag does not match",
        ),
        (
            "flipped header tag byte",
            with(&|b| b[hlen - HEADER_TAG_LEN] ^= 1),
            None,
            "the header tag does not match",
        ),
        (
            "segments 0 and 1 swapped",
            with(&|b| {
                let s0 = good[hlen..hlen + seg].to_vec();
                let s1 = good[hlen + seg..hlen + 2 * seg].to_vec();
                b[hlen..hlen + seg].copy_from_slice(&s1);
                b[hlen + seg..hlen + 2 * seg].copy_from_slice(&s0);
            }),
            None,
            "segment 0 does not authenticate",
        ),
        (
            "flipped byte in segment 1",
            with(&|b| b[hlen + seg + 10] ^= 1),
            None,
            "segment 1 does not authenticate",
        ),
        (
            "truncated by one byte",
            good[..good.len() - 1].to_vec(),
            None,
            "the segments are 2547 bytes; a 2500-byte object has 2548",
        ),
        (
            "truncated after segment 1 (last segment dropped)",
            good[..hlen + 2 * seg].to_vec(),
            None,
            "the segments are 2080 bytes",
        ),
        (
            "extended by a copy of segment 1",
            with(&|b| b.extend_from_slice(&good[hlen + seg..hlen + 2 * seg])),
            None,
            "the segments are 3588 bytes",
        ),
        (
            "header only",
            good[..hlen].to_vec(),
            None,
            "the segments are 0 bytes",
        ),
        (
            "cut inside the header",
            good[..hlen - 1].to_vec(),
            None,
            "shorter than its header",
        ),
        (
            "wrong SSE-C key",
            ssec.clone(),
            Some([0x34; 32]),
            "the SSE-C key does not match",
        ),
    ]
}

#[test]
fn object_vectors() {
    vectors::check("object", "the object format", compute());
}

fn compute() -> Value {
    let dk = DATA_KEY;
    json!({
        "data_key": hex(&dk),
        "salt": hex(&SALT),
        "k_data": hex(hkdf_sha256(&dk, &SALT, b"kmsfs object data v1").expose()),
        "k_hdr": hex(hkdf_sha256(&dk, &SALT, b"kmsfs object header v1").expose()),
        "customer_key": hex(&CUSTOMER_KEY),
        "bucket_key": hex(&BUCKET_KEY),
        "good": examples().into_iter().map(|(name, h, p)| {
            let b = seal(&h, &p);
            json!({
                "name": name,
                "object": hex(&b),
                "sha256": hex(&sha256(&b)),
                "plaintext": hex(&p),
                "decoded": describe(&h),
            })
        }).collect::<Vec<_>>(),
        "bad": bad().into_iter().map(|(name, b, ck, err)| json!({
            "name": name,
            "object": hex(&b),
            "customer_key": ck.map(|c| hex(&c)),
            "error": err,
        })).collect::<Vec<_>>(),
    })
}

#[test]
fn good_vectors_open_and_every_cut_or_flip_is_refused() {
    let v = vectors::load("object");
    for (name, g, b) in vectors::good(&v, "object") {
        let version = if name.starts_with("v2") {
            VERSION
        } else {
            VERSION_1
        };
        vectors::assert_magic(&b, &MAGIC, version);
        let (h, _) = Header::parse(&b).unwrap();
        assert_eq!(describe(&h), g["decoded"], "{name}");
        let ck = (h.sse == Sse::Customer).then_some(CUSTOMER_KEY);
        let p = open(&b, ck).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(hex(&p), g["plaintext"].as_str().unwrap(), "{name}");
        for n in 0..b.len() {
            assert!(open(&b[..n], ck).is_err(), "{name} cut to {n} bytes");
        }
        // Every single flipped bit of the small objects is refused.
        if b.len() < 600 {
            for i in 0..b.len() {
                let c = edited(&b, &|c| c[i] ^= 0x01);
                assert!(open(&c, ck).is_err(), "{name}: flip at {i}");
            }
        }
    }
}

#[test]
fn bad_vectors_are_refused_with_the_right_error() {
    vectors::refuse_bad(&vectors::load("object"), "object", 10, |_, x, b| {
        let ck = x["customer_key"]
            .as_str()
            .map(|c| unhex(c).unwrap().try_into().unwrap());
        open(b, ck).map(|_| ())
    });
}

#[test]
fn the_worked_example_is_what_the_format_says() {
    let v = vectors::load("object");
    let b = bytes(&v["good"][0]["object"]);
    let (h, hlen) = Header::parse(&b).unwrap();
    // 96 fixed bytes, the record, the 32-byte tag, one 5-byte segment and its tag.
    assert_eq!(b.len(), hlen + 5 + 16);
    assert_eq!(hlen, FIXED_LEN + h.record_bytes().len() + HEADER_TAG_LEN);
    assert_eq!(&b[FIXED_LEN..hlen - HEADER_TAG_LEN], &h.record_bytes()[..]);
    assert_eq!(h.etag, md5(b"hello"));
    // The segment's AAD is the label and the SHA-256 of the record.
    let aad = format::segment_aad(&sha256(&h.record_bytes()));
    assert_eq!(&aad[..15], b"kmsfs object v1");
    // The STREAM nonce of the only (last) segment.
    assert_eq!(
        hex(&kmsfs::crypto::stream::segment_nonce(0, true)),
        "000000000000000000000001"
    );
}
