//! Objects that were changed on disk or whose keys were swapped or disabled, through the
//! object service's Rust API: tampering in every region of an object file is refused with no
//! unauthenticated output, swapped wrapped keys and files are refused, and a disabled KMS key
//! stops only its own objects.

mod common;
use common::object::*;
use common::pattern::pattern_seeded;
use kmsfs::kms::Client;
use kmsfs::object::format::{FIXED_LEN, HEADER_TAG_LEN, Header};
use kmsfs::object::service::object_path;
use kmsfs::object::{ByteRange, ObjectError, PutOptions};

/// Byte offsets of each region of an object file.
fn regions(raw: &[u8]) -> (usize, usize, usize) {
    let (_, hlen) = Header::parse(raw).unwrap();
    let record_end = hlen - HEADER_TAG_LEN;
    (FIXED_LEN, record_end, hlen)
}

#[test]
fn tampering_anywhere_is_refused_with_no_unauthenticated_output() {
    let (e, s) = setup("tam");
    let key = e.create_key();
    let body = pattern_seeded(9, 3 * SEG + 100);
    for (name, opts, ck) in &wrapped_key_modes(&key, 4) {
        s.put_object("tam", name, &body[..], opts).unwrap();
        let path = object_path(e.home.root(), "tam", name);
        let good = std::fs::read(&path).unwrap();
        let (fixed_end, record_end, hlen) = regions(&good);
        let seg_sealed = SEG + 16;
        let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
        // One flipped byte in each region: magic, flags, length, salt, ETag, time, the
        // record's start, middle and end, the header tag, each segment (start, middle, tag).
        let mut offsets = vec![
            0,
            11,
            16,
            40,
            70,
            85,
            fixed_end,
            (fixed_end + record_end) / 2,
            record_end - 1,
            record_end,
            hlen - 1,
        ];
        for i in 0..4 {
            offsets.push(hlen + i * seg_sealed);
            offsets.push(hlen + i * seg_sealed + 50);
        }
        offsets.push(good.len() - 1);
        for off in offsets {
            let mut b = good.clone();
            b[off] ^= 0x20;
            cases.push((format!("flip at {off}"), b));
        }
        cases.push(("truncated by 1".into(), good[..good.len() - 1].to_vec()));
        cases.push((
            "last segment cut".into(),
            good[..hlen + 3 * seg_sealed].to_vec(),
        ));
        cases.push(("header only".into(), good[..hlen].to_vec()));
        cases.push(("extended by 1".into(), [&good[..], &[0]].concat()));
        let mut ext = good.clone();
        ext.extend_from_slice(&good[hlen..hlen + seg_sealed]);
        cases.push(("extended by a segment".into(), ext));
        let mut swapped = good.clone();
        swapped[hlen..hlen + seg_sealed]
            .copy_from_slice(&good[hlen + seg_sealed..hlen + 2 * seg_sealed]);
        swapped[hlen + seg_sealed..hlen + 2 * seg_sealed]
            .copy_from_slice(&good[hlen..hlen + seg_sealed]);
        cases.push(("segments 0 and 1 swapped".into(), swapped));
        for (what, bytes) in cases {
            std::fs::write(&path, &bytes).unwrap();
            let mut out = Vec::new();
            let r = s.get_object("tam", name, None, ck.as_ref(), &mut out);
            let err = r.expect_err(&format!("{name}: {what}: accepted"));
            let msg = err.to_string();
            assert!(
                matches!(err, ObjectError::Damaged { .. } | ObjectError::Kms { .. }),
                "{name}: {what}: {msg}"
            );
            // Whatever was written was authenticated: a true prefix of the object.
            assert!(
                body.starts_with(&out) && out.len() % SEG == 0,
                "{name}: {what}: unauthenticated output"
            );
            // A ranged read of the last bytes fails the same way, or succeeds only on
            // segments that are intact (a flip in segment 0 does not spoil segment 3).
            let mut tail = Vec::new();
            if s.get_object(
                "tam",
                name,
                Some(ByteRange::Suffix(10)),
                ck.as_ref(),
                &mut tail,
            )
            .is_ok()
            {
                assert_eq!(tail, body[body.len() - 10..], "{name}: {what}");
            }
        }
        std::fs::write(&path, &good).unwrap();
        assert_eq!(get(&s, "tam", name, ck.as_ref()), body);
    }
}

#[test]
fn swapped_wrapped_keys_and_files_are_refused() {
    let (e, s) = setup("swp");
    let key = e.create_key();
    for (name, opts, ck) in &wrapped_key_modes(&key, 5) {
        // Same-length keys, so the records have the same layout.
        let (a, b) = (format!("{name}-a"), format!("{name}-b"));
        s.put_object("swp", &a, &b"secret A"[..], opts).unwrap();
        s.put_object("swp", &b, &b"secret B"[..], opts).unwrap();
        let pa = object_path(e.home.root(), "swp", &a);
        let pb = object_path(e.home.root(), "swp", &b);
        let ra = std::fs::read(&pa).unwrap();
        let rb = std::fs::read(&pb).unwrap();
        let (ha, _) = Header::parse(&ra).unwrap();
        let (hb, hlen_b) = Header::parse(&rb).unwrap();
        // B's file with A's wrapped data key (B's header otherwise, B's tag).
        let mut h = hb.clone();
        h.record.wrapped_key = ha.record.wrapped_key.clone();
        h.record.bucket_key_id = ha.record.bucket_key_id;
        h.record.sse_c = ha.record.sse_c.clone();
        let mut forged = h.encode_untagged();
        assert_eq!(forged.len() + HEADER_TAG_LEN, hlen_b, "{name}");
        forged.extend_from_slice(&rb[hlen_b - HEADER_TAG_LEN..]);
        std::fs::write(&pb, &forged).unwrap();
        let (err, out) = get_err(&s, "swp", &b, ck.as_ref());
        assert!(
            matches!(err, ObjectError::Damaged { .. }),
            "{name}: swapped wrapped key: {err}"
        );
        assert!(out.is_empty());
        // A's whole file under B's name.
        std::fs::write(&pb, &ra).unwrap();
        let (err, out) = get_err(&s, "swp", &b, ck.as_ref());
        assert!(
            err.to_string().contains("moved or swapped"),
            "{name}: {err}"
        );
        assert!(out.is_empty());
        // A's segments after B's header (same length).
        let (_, hlen_a) = Header::parse(&ra).unwrap();
        std::fs::write(&pb, [&rb[..hlen_b], &ra[hlen_a..]].concat()).unwrap();
        let (err, out) = get_err(&s, "swp", &b, ck.as_ref());
        assert!(matches!(err, ObjectError::Damaged { .. }), "{name}: {err}");
        assert!(out.is_empty());
        std::fs::write(&pb, &rb).unwrap();
        assert_eq!(get(&s, "swp", &b, ck.as_ref()), b"secret B");
    }
}

#[test]
fn a_disabled_key_stops_only_its_own_objects() {
    let (e, s) = setup("dkb");
    let [k1, k2] = e.keys();
    s.put_object("dkb", "one", &b"one"[..], &kms_opts(&k1, None))
        .unwrap();
    s.put_object("dkb", "two", &b"two"[..], &kms_opts(&k2, None))
        .unwrap();
    s.put_object("dkb", "s3", &b"s3"[..], &PutOptions::default())
        .unwrap();
    e.c.disable_key(e.kid(&k1)).unwrap();
    let (err, out) = get_err(&s, "dkb", "one", None);
    let msg = err.to_string();
    assert_eq!(err.code(), "KMS.DisabledException", "{msg}");
    assert!(msg.contains(&k1) && msg.contains("dkb/one"), "{msg}");
    assert!(out.is_empty());
    assert_eq!(get(&s, "dkb", "two", None), b"two");
    assert_eq!(get(&s, "dkb", "s3", None), b"s3");
    // PUT under the disabled key is refused the same way; nothing is stored.
    let err = s
        .put_object("dkb", "three", &b"3"[..], &kms_opts(&k1, None))
        .unwrap_err();
    assert_eq!(err.code(), "KMS.DisabledException");
    assert!(matches!(
        s.head_object("dkb", "three", None),
        Err(ObjectError::NoSuchKey { .. })
    ));
    // Pending deletion names the state.
    e.schedule_deletion(&k2, Some(7)).unwrap();
    let (err, _) = get_err(&s, "dkb", "two", None);
    assert_eq!(err.code(), "KMS.KMSInvalidStateException", "{err}");
    assert!(err.to_string().contains("pending deletion"), "{err}");
    e.c.enable_key(e.kid(&k1)).unwrap();
    assert_eq!(get(&s, "dkb", "one", None), b"one");
    // No temp files were left behind by the refused PUT.
    let leftovers = std::fs::read_dir(e.home.root().join("buckets/dkb/objects"))
        .unwrap()
        .filter(|f| {
            f.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with('.')
        })
        .count();
    assert_eq!(leftovers, 0);
}
