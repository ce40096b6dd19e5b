//! Envelope messages through the embedded KMS, in process: round trips at every frame
//! boundary, tampering of every kind (each byte flipped, truncation after each frame,
//! reordered frames, extension, another context), key states, and the data key cache
//! (KMS calls counted in the audit trail; max messages, bytes and age; LRU capacity; threads).

mod common;
use common::kms::{Env, ctx, env};
use common::pattern::pattern;
use kmsfs::envelope::{
    self, CacheLimits, CachingKeyring, DataKeyCache, DecryptOptions, EncryptOptions, EnvelopeError,
    Keyring, KmsKeyring,
};
use kmsfs::kms::{Client, EncryptionContext};
use std::sync::Arc;
use std::time::Duration;

fn keyring(e: &Env, key: &str) -> KmsKeyring {
    KmsKeyring::new(Arc::new(e.c.clone()), key)
}

fn seal(k: &dyn Keyring, c: &EncryptionContext, pt: &[u8], frame_len: u32) -> Vec<u8> {
    let mut m = Vec::new();
    let opts = EncryptOptions {
        frame_len,
        plaintext_len: Some(pt.len() as u64),
        ..Default::default()
    };
    envelope::encrypt(k, c, pt, &mut m, &opts).unwrap();
    m
}

fn open(
    k: &dyn Keyring,
    m: &[u8],
    required: EncryptionContext,
) -> (Result<envelope::DecryptInfo, EnvelopeError>, Vec<u8>) {
    let mut out = Vec::new();
    let opts = DecryptOptions {
        required_context: required,
    };
    let r = envelope::decrypt(k, m, &mut out, &opts);
    (r, out)
}

fn count(e: &Env, op: &str) -> usize {
    e.audit_lines().iter().filter(|l| l.operation == op).count()
}

/// Header length of a message (where the first frame starts).
fn header_len(m: &[u8]) -> usize {
    envelope::Header::parse(m).unwrap().1
}

/// A message of `n` bytes of [`pattern`] under context `c` in frames of `frame_len`, sealed
/// under a new key: (its keyring, the plaintext, the message, its header length).
fn sealed(
    e: &Env,
    c: &EncryptionContext,
    n: usize,
    frame_len: u32,
) -> (KmsKeyring, Vec<u8>, Vec<u8>, usize) {
    let k = keyring(e, &e.create_key());
    let pt = pattern(n);
    let m = seal(&k, c, &pt, frame_len);
    let h = header_len(&m);
    (k, pt, m, h)
}

#[test]
fn round_trips_at_every_frame_boundary() {
    let e = env();
    let key = e.create_key();
    let k = keyring(&e, &key);
    let c = ctx(&[("purpose", "test"), ("app", "x")]);
    const F: usize = 1024;
    for n in [0, 1, F - 1, F, F + 1, 2 * F, 7 * F + 3] {
        let pt = pattern(n);
        let m = seal(&k, &c, &pt, F as u32);
        let (r, out) = open(&k, &m, ctx(&[("app", "x")]));
        let info = r.unwrap_or_else(|err| panic!("{n} bytes: {err}"));
        assert_eq!(out, pt, "{n} bytes");
        assert_eq!(info.frames, (n as u64).div_ceil(F as u64).max(1), "{n}");
        assert_eq!(info.plaintext_bytes, n as u64);
        assert_eq!(info.message_bytes, m.len() as u64);
        assert_eq!(info.context, c);
        assert!(info.key_arn.ends_with(&key));
        // Overhead: header, then per frame a type byte and a tag, plus 4 length bytes.
        let frames = info.frames as usize;
        assert_eq!(m.len(), header_len(&m) + n + frames * 17 + 4, "{n}");
    }
    // The default 64 KiB frame, a few MiB.
    let pt = pattern(3 << 20 | 12345);
    let m = seal(&k, &c, &pt, envelope::DEFAULT_FRAME_LEN);
    let (r, out) = open(&k, &m, Default::default());
    assert_eq!(r.unwrap().frames, 49);
    assert!(out == pt);
}

#[test]
fn every_flipped_byte_fails_and_releases_only_earlier_frames() {
    let e = env();
    let (k, pt, m, h) = sealed(&e, &ctx(&[("a", "b")]), 40, 16);
    // Frames: two regular (1 + 16 + 16 bytes), a final (1 + 4 + 8 + 16).
    assert_eq!(m.len(), h + 33 + 33 + 29);
    for i in 0..m.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = m.clone();
            bad[i] ^= bit;
            let (r, out) = open(&k, &bad, Default::default());
            assert!(r.is_err(), "byte {i} ^ {bit:#x} accepted");
            let frames_before = if i < h { 0 } else { ((i - h) / 33).min(2) };
            assert_eq!(
                out,
                pt[..16 * frames_before],
                "byte {i}: only the frames before the flipped one may be written"
            );
        }
    }
}

#[test]
fn truncated_after_each_frame_and_extended_fail() {
    let e = env();
    let (k, pt, m, h) = sealed(&e, &Default::default(), 100, 32);
    // 3 regular frames of 49 bytes, a final of 1 + 4 + 4 + 16.
    for i in 0..=3 {
        let (r, out) = open(&k, &m[..h + 49 * i], Default::default());
        match r {
            Err(EnvelopeError::Truncated { frames }) => assert_eq!(frames, i as u64),
            other => panic!("cut after frame {i}: {other:?}"),
        }
        assert_eq!(out, pt[..32 * i]);
        let msg = open(&k, &m[..h + 49 * i], Default::default())
            .0
            .unwrap_err()
            .to_string();
        assert!(msg.contains("truncated"), "{msg}");
    }
    // Cut inside the final frame, and one byte short of the end.
    for cut in [h + 49 * 3 + 3, m.len() - 1] {
        let (r, out) = open(&k, &m[..cut], Default::default());
        assert!(matches!(r, Err(EnvelopeError::Truncated { frames: 3 })));
        assert_eq!(out, pt[..96]);
    }
    let mut ext = m.clone();
    ext.extend_from_slice(&m[h..h + 49]);
    let (r, out) = open(&k, &ext, Default::default());
    assert!(matches!(r, Err(EnvelopeError::TrailingBytes)));
    assert_eq!(out, pt[..96], "the final frame is held back");
}

#[test]
fn reordered_or_duplicated_frames_fail() {
    let e = env();
    let (k, pt, m, h) = sealed(&e, &Default::default(), 100, 32);
    let f = |i: usize| m[h + 49 * i..h + 49 * (i + 1)].to_vec();
    let tail = m[h + 49 * 3..].to_vec();
    let build = |order: &[usize]| {
        let mut b = m[..h].to_vec();
        for &i in order {
            b.extend(f(i));
        }
        b.extend(&tail);
        b
    };
    for (order, bad_at) in [
        (&[1, 0, 2][..], 0u64),
        (&[0, 2, 1], 1),
        (&[0, 0, 1, 2], 1),
        (&[0, 1], 2),
    ] {
        let (r, out) = open(&k, &build(order), Default::default());
        match r {
            Err(EnvelopeError::FrameAuthentication { index }) => assert_eq!(index, bad_at),
            other => panic!("{order:?}: {other:?}"),
        }
        assert_eq!(out, pt[..32 * bad_at as usize]);
    }
    // A frame from another message with the same key fails too.
    let m2 = seal(&k, &Default::default(), &pt, 32);
    let mut mixed = m.clone();
    mixed[h..h + 49].copy_from_slice(&m2[h..h + 49]);
    assert!(matches!(
        open(&k, &mixed, Default::default()).0,
        Err(EnvelopeError::FrameAuthentication { index: 0 })
    ));
}

#[test]
fn the_encryption_context_is_required_and_bound() {
    let e = env();
    let k = keyring(&e, &e.create_key());
    let c = ctx(&[("purpose", "test"), ("app", "x")]);
    let m = seal(&k, &c, b"secret", 1024);
    for (req, want) in [
        (
            ctx(&[("purpose", "prod")]),
            "has purpose=test, not the required purpose=prod",
        ),
        (ctx(&[("tenant", "1")]), "has no key \"tenant\""),
    ] {
        let (r, out) = open(&k, &m, req);
        let err = r.unwrap_err();
        assert!(matches!(err, EnvelopeError::ContextMismatch(_)));
        assert!(err.to_string().contains(want), "{err}");
        assert!(out.is_empty());
    }
    assert!(open(&k, &m, c.clone()).0.is_ok());
    // The context in the header is what KMS bound the data key to: change it in the header
    // ("test" -> "tesT") and KMS refuses to unwrap.
    let at = m.windows(4).position(|w| w == b"test").unwrap();
    let mut bad = m.clone();
    bad[at + 3] = b'T';
    let err = open(&k, &bad, Default::default()).0.unwrap_err();
    assert!(
        err.to_string().starts_with("InvalidCiphertextException"),
        "{err}"
    );
}

#[test]
fn key_states_give_clear_errors() {
    let e = env();
    let key = e.create_key();
    let k = keyring(&e, &key);
    let m = seal(&k, &Default::default(), b"x", 1024);
    e.c.disable_key(e.kid(&key)).unwrap();
    let mut sink = Vec::new();
    let err = envelope::encrypt(
        &k,
        &Default::default(),
        &b"y"[..],
        &mut sink,
        &Default::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, EnvelopeError::Kms(kmsfs::kms::KmsError::Disabled(_))),
        "{err}"
    );
    assert!(err.to_string().starts_with("DisabledException: "), "{err}");
    assert!(err.to_string().contains("is disabled"), "{err}");
    let err = open(&k, &m, Default::default()).0.unwrap_err();
    assert!(err.to_string().starts_with("DisabledException: "), "{err}");
    e.c.enable_key(e.kid(&key)).unwrap();
    e.schedule_deletion(&key, Some(7)).unwrap();
    let err = open(&k, &m, Default::default()).0.unwrap_err();
    assert!(
        err.to_string().starts_with("KMSInvalidStateException: ")
            && err.to_string().contains("pending deletion"),
        "{err}"
    );
    // A keyring for another key refuses the message (strict mode).
    e.c.cancel_key_deletion(e.kid(&key)).unwrap();
    e.c.enable_key(e.kid(&key)).unwrap();
    let other = keyring(&e, &e.create_key());
    let err = open(&other, &m, Default::default()).0.unwrap_err();
    assert!(
        err.to_string().starts_with("IncorrectKeyException"),
        "{err}"
    );
    let discovery = KmsKeyring::discovery(Arc::new(e.c.clone()));
    assert!(open(&discovery, &m, Default::default()).0.is_ok());
    assert!(
        envelope::encrypt(
            &discovery,
            &Default::default(),
            &b""[..],
            &mut sink,
            &Default::default()
        )
        .is_err()
    );
}

fn limits(max_messages: u64, max_bytes: u64, max_age_s: u64) -> CacheLimits {
    CacheLimits {
        max_age: Duration::from_secs(max_age_s),
        max_messages,
        max_bytes,
    }
}

/// A keyring for `key` behind a new cache of `capacity` entries with `limits`.
fn caching(e: &Env, key: &str, capacity: usize, limits: CacheLimits) -> CachingKeyring<KmsKeyring> {
    let cache = DataKeyCache::new(capacity, Arc::new(e.clock.clone()));
    CachingKeyring::new(keyring(e, key), Arc::new(cache), limits)
}

#[test]
fn the_cache_cuts_kms_calls() {
    let e = env();
    let key = e.create_key();
    let c = ctx(&[("app", "x")]);
    let caching = caching(&e, &key, 10, limits(100, 1 << 30, 600));
    let messages: Vec<Vec<u8>> = (0..1000)
        .map(|i| seal(&caching, &c, format!("message {i}").as_bytes(), 64))
        .collect();
    assert_eq!(
        count(&e, "GenerateDataKey"),
        10,
        "1000 messages, 100 per data key"
    );
    // Decrypt side: one Decrypt per distinct wrapped key.
    for (i, m) in messages.iter().enumerate() {
        let (r, out) = open(&caching, m, Default::default());
        r.unwrap();
        assert_eq!(out, format!("message {i}").as_bytes());
    }
    assert_eq!(count(&e, "Decrypt"), 10);
    let s = caching.cache().stats();
    assert_eq!((s.hits, s.misses), (990 + 990, 10 + 10));

    // Without a cache: one call per message.
    let plain = keyring(&e, &key);
    for i in 0..1000 {
        seal(&plain, &c, format!("message {i}").as_bytes(), 64);
    }
    assert_eq!(count(&e, "GenerateDataKey"), 10 + 1000);
    for m in &messages[..100] {
        open(&plain, m, Default::default()).0.unwrap();
    }
    assert_eq!(count(&e, "Decrypt"), 10 + 100);
}

#[test]
fn the_cache_honors_max_bytes_and_unknown_lengths() {
    let e = env();
    let key = e.create_key();
    let k = caching(&e, &key, 10, limits(1000, 1000, 600));
    for _ in 0..6 {
        seal(&k, &Default::default(), &[1; 400], 64); // two fit in 1000 bytes
    }
    assert_eq!(count(&e, "GenerateDataKey"), 3);
    seal(&k, &Default::default(), &[1; 1001], 64); // alone over the limit: bypasses
    seal(&k, &Default::default(), &[1; 1001], 64);
    assert_eq!(count(&e, "GenerateDataKey"), 5);
    // Unknown length (a stream): bypasses, as in the AWS Encryption SDK.
    for _ in 0..2 {
        let mut m = Vec::new();
        envelope::encrypt(
            &k,
            &Default::default(),
            &[1u8; 10][..],
            &mut m,
            &Default::default(),
        )
        .unwrap();
    }
    assert_eq!(count(&e, "GenerateDataKey"), 7);
    // A declared length is enforced, so the cache's accounting holds.
    let mut m = Vec::new();
    let opts = EncryptOptions {
        plaintext_len: Some(5),
        frame_len: 16,
        ..Default::default()
    };
    let err =
        envelope::encrypt(&k, &Default::default(), &[1u8; 40][..], &mut m, &opts).unwrap_err();
    assert!(matches!(err, EnvelopeError::LengthExceeded { declared: 5 }));
}

#[test]
fn the_cache_honors_max_age_on_both_sides() {
    let e = env();
    let key = e.create_key();
    let k = caching(&e, &key, 10, limits(1000, 1 << 30, 60));
    let m = seal(&k, &Default::default(), b"a", 64);
    seal(&k, &Default::default(), b"b", 64);
    open(&k, &m, Default::default()).0.unwrap();
    open(&k, &m, Default::default()).0.unwrap();
    assert_eq!(count(&e, "GenerateDataKey"), 1);
    assert_eq!(count(&e, "Decrypt"), 1);
    e.clock.advance_ms(59_999);
    seal(&k, &Default::default(), b"c", 64);
    open(&k, &m, Default::default()).0.unwrap();
    assert_eq!((count(&e, "GenerateDataKey"), count(&e, "Decrypt")), (1, 1));
    e.clock.advance_ms(1);
    seal(&k, &Default::default(), b"d", 64);
    open(&k, &m, Default::default()).0.unwrap();
    assert_eq!((count(&e, "GenerateDataKey"), count(&e, "Decrypt")), (2, 2));
}

#[test]
fn the_cache_is_keyed_by_context_and_bounded() {
    let e = env();
    let key = e.create_key();
    let k = caching(&e, &key, 2, limits(1000, 1 << 30, 600));
    let (a, b, c) = (ctx(&[("t", "a")]), ctx(&[("t", "b")]), ctx(&[("t", "c")]));
    let ma = seal(&k, &a, b"1", 64);
    let mb = seal(&k, &b, b"1", 64);
    assert_ne!(
        envelope::Header::parse(&ma).unwrap().0.edks,
        envelope::Header::parse(&mb).unwrap().0.edks,
        "two contexts never share a data key"
    );
    seal(&k, &a, b"2", 64);
    seal(&k, &b, b"2", 64);
    assert_eq!(count(&e, "GenerateDataKey"), 2);
    seal(&k, &c, b"1", 64); // evicts a (least recently used)
    seal(&k, &b, b"3", 64);
    assert_eq!(count(&e, "GenerateDataKey"), 3);
    seal(&k, &a, b"3", 64);
    assert_eq!(count(&e, "GenerateDataKey"), 4);
    assert_eq!(k.cache().stats().entries, 2);
    // Two keyrings (two keys) sharing one cache never share entries.
    let key2 = e.create_key();
    let k2 = CachingKeyring::new(
        keyring(&e, &key2),
        k.cache().clone(),
        limits(1000, 1 << 30, 600),
    );
    let m2 = seal(&k2, &a, b"x", 64);
    assert!(
        envelope::Header::parse(&m2).unwrap().0.edks[0]
            .provider_info
            .ends_with(&key2)
    );
}

#[test]
fn the_cache_is_thread_safe() {
    let e = env();
    let key = e.create_key();
    let k = Arc::new(caching(&e, &key, 10, limits(1000, 1 << 30, 600)));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let k = k.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    let pt = format!("{t}/{i}");
                    let m = seal(&*k, &Default::default(), pt.as_bytes(), 64);
                    let (r, out) = open(&*k, &m, Default::default());
                    r.unwrap();
                    assert_eq!(out, pt.as_bytes());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // Concurrent first misses may each call KMS; never more than one per thread.
    assert!(count(&e, "GenerateDataKey") <= 4);
    assert_eq!(k.cache().stats().hits + k.cache().stats().misses, 400);
}
