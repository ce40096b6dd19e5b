//! Golden vectors for envelope messages (`tests/vectors/envelope.json`, docs/FORMAT.md
//! section 10): messages made under a fixed data key and message id with a stand-in wrapped
//! key (a keyring that maps that wrapped key to the data key replaces KMS), each with its
//! plaintext and decoded header; and bad messages, each with the error `decrypt` must give.
//! Regenerate (only when the format changes on purpose) with
//! `KMSFS_REGEN_VECTORS=1 cargo test --test envelope_vectors`.

mod common;
use common::kms::ctx;
use common::vectors::{self, bytes, edited};
use kmsfs::crypto::{AeadKey, SecretKey, hex, hkdf_sha256, sha256, stream::StreamKey};
use kmsfs::envelope::format::{HEADER_NONCE, MAGIC, VERSION};
use kmsfs::envelope::{
    self, DecryptOptions, DecryptionMaterials, EncryptOptions, EncryptedDataKey,
    EncryptionMaterials, EnvelopeError, Header, Keyring,
};
use kmsfs::kms::EncryptionContext;
use serde_json::{Value, json};

const ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000001";
const DATA_KEY: [u8; 32] = [0x11; 32];
const MESSAGE_ID: [u8; 32] = [0x4d; 32];

/// Unwraps only the stand-in wrapped key `ab` × 88, to DATA_KEY.
struct FixedKeyring;

fn edk() -> EncryptedDataKey {
    EncryptedDataKey {
        provider_id: "aws-kms".into(),
        provider_info: ARN.into(),
        ciphertext: vec![0xab; 88],
    }
}

impl Keyring for FixedKeyring {
    fn id(&self) -> String {
        "fixed".into()
    }
    fn encryption_materials(
        &self,
        _: &EncryptionContext,
        _: Option<u64>,
    ) -> Result<EncryptionMaterials, EnvelopeError> {
        Ok(EncryptionMaterials {
            data_key: SecretKey::from_bytes(DATA_KEY),
            edks: vec![edk()],
        })
    }
    fn decryption_materials(
        &self,
        edks: &[EncryptedDataKey],
        _: &EncryptionContext,
    ) -> Result<DecryptionMaterials, EnvelopeError> {
        // Like KMS, only the wrapped bytes matter (not the ARN the header records).
        if edks.iter().any(|e| e.ciphertext == edk().ciphertext) {
            Ok(DecryptionMaterials {
                data_key: SecretKey::from_bytes(DATA_KEY),
                key_arn: ARN.into(),
            })
        } else {
            Err(EnvelopeError::NoUsableDataKey(
                "not the vectors' key".into(),
            ))
        }
    }
}

fn seal(c: &EncryptionContext, pt: &[u8], frame_len: u32) -> Vec<u8> {
    let mut m = Vec::new();
    let opts = EncryptOptions {
        frame_len,
        message_id: Some(MESSAGE_ID),
        plaintext_len: None,
    };
    envelope::encrypt(&FixedKeyring, c, pt, &mut m, &opts).unwrap();
    m
}

/// The good messages: (name, context, plaintext, frame length).
fn good() -> Vec<(&'static str, EncryptionContext, Vec<u8>, u32)> {
    vec![
        (
            "example",
            ctx(&[("app", "x")]),
            b"hello, envelope world".to_vec(),
            16,
        ),
        ("empty", ctx(&[]), Vec::new(), envelope::DEFAULT_FRAME_LEN),
        (
            "three_frames",
            ctx(&[("purpose", "test"), ("app", "x")]),
            (0..40u8).collect(),
            16,
        ),
    ]
}

/// Bad messages: (name, bytes, required context, substring of the error).
fn bad() -> Vec<(&'static str, Vec<u8>, EncryptionContext, &'static str)> {
    let ex = seal(&ctx(&[("app", "x")]), b"hello, envelope world", 16);
    let three = seal(
        &ctx(&[("purpose", "test"), ("app", "x")]),
        &(0..40u8).collect::<Vec<_>>(),
        16,
    );
    let hl = Header::parse(&ex).unwrap().1;
    let h3 = Header::parse(&three).unwrap().1;
    let frame3 = |i: usize| three[h3 + 33 * i..h3 + 33 * (i + 1)].to_vec();
    let none = EncryptionContext::new();
    let header = Header::parse(&ex).unwrap().0;
    let reencoded = |f: &dyn Fn(&mut Header)| {
        let mut h = header.clone();
        f(&mut h);
        let mut b = h.encode();
        b.extend_from_slice(&ex[hl..]);
        b
    };
    vec![
        (
            "wrong magic",
            edited(&ex, &|b| b[0] = b'X'),
            none.clone(),
            "no KMSE magic",
        ),
        (
            "version 2",
            edited(&ex, &|b| b[4] = 2),
            none.clone(),
            "unknown version 2",
        ),
        (
            "unknown suite",
            edited(&ex, &|b| b[6] = 2),
            none.clone(),
            "unknown algorithm suite 0x0002",
        ),
        (
            "flipped header byte (in the key ARN)",
            edited(&ex, &|b| b[hl - 16 - 32 - 4 - 88 - 2 - 1] ^= 1),
            none.clone(),
            "the message header failed authentication",
        ),
        (
            "context changed in the header (x -> y)",
            edited(&ex, &|b| b[39 + 4 + 4 + 4 + 3 + 4] = b'y'),
            none.clone(),
            "the message header failed authentication",
        ),
        (
            "wrong commitment",
            edited(&ex, &|b| b[hl - 16 - 1] ^= 1),
            none.clone(),
            "the key commitment does not match the data key",
        ),
        (
            "message id changed",
            edited(&ex, &|b| b[7] ^= 1),
            none.clone(),
            "the key commitment does not match the data key",
        ),
        (
            "header ends early",
            ex[..hl - 1].to_vec(),
            none.clone(),
            "the header ends inside the header tag",
        ),
        (
            "frame length 8",
            reencoded(&|h| h.frame_len = 8),
            none.clone(),
            "the frame length 8 is outside 16..=16777216",
        ),
        (
            "no encrypted data keys",
            reencoded(&|h| h.edks.clear()),
            none.clone(),
            "0 encrypted data keys (1..=16 allowed)",
        ),
        (
            "another wrapped key",
            reencoded(&|h| h.edks[0].ciphertext = vec![0xac; 88]),
            none.clone(),
            "no encrypted data key in the message can be unwrapped here",
        ),
        (
            "frames swapped",
            [&three[..h3], &frame3(1), &frame3(0), &three[h3 + 66..]].concat(),
            none.clone(),
            "frame 0 failed authentication",
        ),
        (
            "final frame missing",
            three[..h3 + 66].to_vec(),
            none.clone(),
            "truncated: it ends after 2 complete frames",
        ),
        (
            "final frame cut by one byte",
            three[..three.len() - 1].to_vec(),
            none.clone(),
            "truncated: it ends after 2 complete frames",
        ),
        (
            "extended after the final frame",
            edited(&ex, &|b| b.push(0)),
            none.clone(),
            "bytes follow the final frame",
        ),
        (
            "frame type 0x02",
            edited(&ex, &|b| b[hl] = 2),
            none.clone(),
            "frame 0 has type 0x02",
        ),
        (
            "final frame longer than the frame length",
            edited(&ex, &|b| b[hl + 33 + 4] = 17),
            none.clone(),
            "the final frame holds 17 bytes, more than the frame length 16",
        ),
        (
            "a regular frame flagged final",
            edited(&ex, &|b| b[hl] = 1),
            none.clone(),
            "more than the frame length",
        ),
        (
            "wrong required context",
            ex.clone(),
            ctx(&[("app", "y")]),
            "has app=x, not the required app=y",
        ),
    ]
}

fn describe(h: &Header) -> Value {
    json!({
        "suite": format!("0x{:04x}", h.suite),
        "message_id": hex(&h.message_id),
        "context": h.context,
        "edks": h.edks.iter().map(|e| json!({
            "provider_id": e.provider_id,
            "provider_info": e.provider_info,
            "ciphertext": hex(&e.ciphertext),
        })).collect::<Vec<_>>(),
        "frame_len": h.frame_len,
        "commitment": hex(&h.commitment),
        "tag": hex(&h.tag),
    })
}

#[test]
fn envelope_vectors() {
    vectors::check("envelope", "the envelope format", compute());
}

fn compute() -> Value {
    json!({
        "data_key": hex(&DATA_KEY),
        "good": good().into_iter().map(|(name, c, pt, fl)| {
            let m = seal(&c, &pt, fl);
            let (h, n) = Header::parse(&m).unwrap();
            json!({
                "name": name,
                "plaintext": hex(&pt),
                "message": hex(&m),
                "header_len": n,
                "header": describe(&h),
            })
        }).collect::<Vec<_>>(),
        "bad": bad().into_iter().map(|(name, m, req, err)| json!({
            "name": name,
            "message": hex(&m),
            "required_context": req,
            "error": err,
        })).collect::<Vec<_>>(),
    })
}

fn decrypt(name: &str, m: &[u8], req: EncryptionContext) -> (Result<(), String>, Vec<u8>) {
    let mut out = Vec::new();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        envelope::decrypt(
            &FixedKeyring,
            m,
            &mut out,
            &DecryptOptions {
                required_context: req,
            },
        )
        .map(|_| ())
        .map_err(|e| e.to_string())
    }))
    .unwrap_or_else(|_| panic!("{name}: decrypt panicked"));
    (r, out)
}

#[test]
fn good_vectors_decrypt_and_every_cut_fails() {
    let v = vectors::load("envelope");
    for (name, g, m) in vectors::good(&v, "message") {
        let pt = bytes(&g["plaintext"]);
        let (r, out) = decrypt(name, &m, Default::default());
        r.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(out, pt, "{name}");
        let (h, n) = Header::parse(&m).unwrap();
        assert_eq!(describe(&h), g["header"], "{name}");
        assert_eq!(n as u64, g["header_len"].as_u64().unwrap());
        for cut in 0..m.len() {
            let (r, out) = decrypt(name, &m[..cut], Default::default());
            assert!(r.is_err(), "{name} cut to {cut} bytes");
            assert!(pt.starts_with(&out));
        }
    }
}

#[test]
fn bad_vectors_are_refused_with_their_error() {
    vectors::refuse_bad(&vectors::load("envelope"), "message", 15, |name, x, m| {
        let req: EncryptionContext = serde_json::from_value(x["required_context"].clone()).unwrap();
        decrypt(name, m, req).0
    });
}

/// The worked example of docs/FORMAT.md, field by field, with the keys derived and the
/// tags checked here independently of the envelope module.
#[test]
fn the_example_is_what_the_format_says() {
    let v = vectors::load("envelope");
    let m = bytes(&v["good"][0]["message"]);
    assert_eq!(&m[0..4], MAGIC);
    assert_eq!(m[4], VERSION);
    assert_eq!(&m[5..7], [0x00, 0x01]);
    assert_eq!(&m[7..39], MESSAGE_ID);
    // Context {"app":"x"}: length 16, then section 2's encoding.
    assert_eq!(&m[39..43], 16u32.to_be_bytes());
    assert_eq!(hex(&m[43..59]), "00000001000000036170700000000178");
    let mut at = 59;
    let mut take = |n: usize| {
        let s = m[at..at + n].to_vec();
        at += n;
        s
    };
    assert_eq!(take(2), [0, 1], "one encrypted data key");
    assert_eq!(take(2), [0, 7]);
    assert_eq!(take(7), b"aws-kms");
    assert_eq!(take(2), (ARN.len() as u16).to_be_bytes());
    assert_eq!(take(ARN.len()), ARN.as_bytes());
    assert_eq!(take(2), [0, 88]);
    assert_eq!(take(88), [0xab; 88]);
    assert_eq!(take(4), 16u32.to_be_bytes(), "frame length");
    let commitment = take(32);
    let tag = take(16);
    let hl = at;
    assert_eq!(hl, 59 + 2 + 2 + 7 + 2 + ARN.len() + 2 + 88 + 4 + 32 + 16);
    assert_eq!(hl, v["good"][0]["header_len"].as_u64().unwrap() as usize);
    // Key derivation and commitment: HKDF-SHA-256, salt = message id.
    let key = hkdf_sha256(&DATA_KEY, &MESSAGE_ID, b"KMSE v1 data key\x00\x01");
    let commit = hkdf_sha256(&DATA_KEY, &MESSAGE_ID, b"KMSE v1 commitment\x00\x01");
    assert_eq!(commitment, commit.expose());
    // Header tag: AES-256-GCM-SIV, nonce ff × 12, AAD = the header before the tag, no
    // plaintext.
    let aead = AeadKey::new(&key);
    assert_eq!(aead.seal(&HEADER_NONCE, &m[..hl - 16], b"").unwrap(), tag);
    // Frames: STREAM under the same key, AAD = SHA-256 of the whole header.
    let aad = sha256(&m[..hl]);
    let s = StreamKey::new(&key);
    assert_eq!(m[hl], 0x00, "regular frame");
    let f0 = s.open_segment(0, false, &aad, &m[hl + 1..hl + 33]).unwrap();
    assert_eq!(f0.expose(), b"hello, envelope ");
    assert_eq!(m[hl + 33], 0x01, "final frame");
    assert_eq!(&m[hl + 34..hl + 38], 5u32.to_be_bytes());
    let f1 = s.open_segment(1, true, &aad, &m[hl + 38..]).unwrap();
    assert_eq!(f1.expose(), b"world");
    assert_eq!(m.len(), hl + 38 + 5 + 16);
}
