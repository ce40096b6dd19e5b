//! Golden vectors for the snapshot manifest (`tests/vectors/snapshot.json`, docs/FORMAT.md
//! section 8): an unencrypted example manifest (root, a 5-byte file with an xattr, a
//! symlink) and an encrypted one (key ARN, wrapped DEK, `aws:ebs:id` context, a real
//! `.kmsfs.diriv`, encrypted names and a two-chunk file), each with its encoding, its SHA-256
//! object name and what it decodes to; and bad manifests, each with the error
//! `Manifest::decode` must give. Regenerate (only when the format changes on purpose) with
//! `KMSFS_REGEN_VECTORS=1 cargo test --test snapshot_vectors`.

mod common;
use common::pattern::pattern;
use common::vectors::{self, backing_name, bytes, edited, encrypted_file};
use kmsfs::crypto::{SecretKey, hex, sha256};
use kmsfs::snapshot::Manifest;
use kmsfs::snapshot::manifest::{CHUNK, Entry, EntryKind, MAGIC, VERSION};
use kmsfs::volume::keys::VolumeKeys;
use kmsfs::volume::names;
use serde_json::{Value, json};

const VOLUME: &str = "vol-0123456789abcdef0";
const ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000001";
/// The same DEK, directory id and file id as the volume vectors.
const DEK: [u8; 32] = [0x11; 32];
const DIRID: [u8; 16] = [0x22; 16];
const FILE_ID: [u8; 16] = [0x33; 16];
/// 2027-01-15T08:00:00Z plus a few nanoseconds, so every time has a fraction.
const T: i64 = 1_800_000_000_123_456_789;

fn entry(path: &str, kind: EntryKind, mode: u32, ino: u64) -> Entry {
    Entry {
        path: path.as_bytes().to_vec(),
        kind,
        mode,
        uid: 1000,
        gid: 1000,
        atime_ns: T,
        mtime_ns: T,
        ctime_ns: T,
        ino,
        size: 0,
        target: Vec::new(),
        xattrs: Vec::new(),
        chunks: Vec::new(),
    }
}

/// A symbolic or hard link entry to `target`.
fn link(path: &str, kind: EntryKind, mode: u32, ino: u64, target: &str) -> Entry {
    let mut e = entry(path, kind, mode, ino);
    e.target = target.as_bytes().to_vec();
    e
}

/// A file entry holding `bytes`, cut into CHUNK-sized pieces as a capture does.
fn file(path: &str, mode: u32, ino: u64, bytes: &[u8]) -> Entry {
    let mut e = entry(path, EntryKind::File, mode, ino);
    e.size = bytes.len() as u64;
    e.chunks = bytes.chunks(CHUNK).map(sha256).collect();
    e
}

/// The worked example of docs/FORMAT.md: an unencrypted volume holding `hello.txt`
/// ("hello", xattr `user.k` = `v`) and the symlink `link` -> `hello.txt`.
fn example() -> Manifest {
    let mut f = file("hello.txt", 0o644, 12, b"hello");
    f.xattrs = vec![(b"user.k".to_vec(), b"v".to_vec())];
    let l = link("link", EntryKind::Symlink, 0o777, 13, "hello.txt");
    Manifest {
        volume_id: VOLUME.into(),
        volume_size: 1 << 30,
        encrypted: false,
        kms_key_arn: None,
        wrapped_dek: None,
        dek_context: Default::default(),
        entries: vec![entry("", EntryKind::Dir, 0o755, 2), f, l],
    }
}

/// An encrypted volume (DEK `11` × 32, stand-in wrapped DEK `ab` × 88) whose root holds its
/// `.kmsfs.diriv` (`22` × 16), `hello.txt` ("hello") and `big.bin` (512 KiB of `i % 251`,
/// so 524320 backing bytes: two chunks, the second 32 bytes long), as a capture sees them.
fn encrypted() -> Manifest {
    let keys = VolumeKeys::derive(&SecretKey::from_bytes(DEK));
    let hello = encrypted_file(&keys, &FILE_ID, b"hello");
    let big = encrypted_file(&keys, &FILE_ID, &pattern(CHUNK));
    let (hello_name, big_name) = (
        backing_name(&keys, &DIRID, "hello.txt"),
        backing_name(&keys, &DIRID, "big.bin"),
    );
    let mut entries = vec![
        entry("", EntryKind::Dir, 0o755, 2),
        file(names::DIRIV, 0o400, 11, &DIRID),
        file(&hello_name, 0o644, 12, &hello),
        file(&big_name, 0o600, 13, &big),
    ];
    // Byte order of the backing names, as a capture lists them.
    entries[1..].sort_by(|a, b| a.path.cmp(&b.path));
    Manifest {
        volume_id: VOLUME.into(),
        volume_size: 1 << 30,
        encrypted: true,
        kms_key_arn: Some(ARN.into()),
        wrapped_dek: Some(vec![0xab; 88]),
        dek_context: [("aws:ebs:id".to_string(), VOLUME.to_string())].into(),
        entries,
    }
}

/// Encode without the checks `decode` makes (`encode` writes whatever it is given).
fn raw(m: &Manifest) -> Vec<u8> {
    m.encode()
}

/// Bad manifests and the substring of the error each must give.
fn bad() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let good = raw(&example());
    let with = |f: &dyn Fn(&mut Vec<u8>)| edited(&good, f);
    let manifest = |f: &dyn Fn(&mut Manifest)| {
        let mut m = example();
        f(&mut m);
        raw(&m)
    };
    vec![
        ("wrong magic", with(&|b| b[0] = b'X'), "no KMSFSMAN magic"),
        (
            "shorter than the header",
            good[..9].to_vec(),
            "no KMSFSMAN magic",
        ),
        ("version 2", with(&|b| b[8] = 2), "unknown version 2"),
        (
            "truncated (last byte cut)",
            good[..good.len() - 1].to_vec(),
            "Hit the end of buffer, expected more data",
        ),
        ("trailing byte", with(&|b| b.push(0)), "trailing bytes"),
        (
            "child before its parent",
            manifest(&|m| {
                m.entries.truncate(1);
                m.entries.push(file("d/f", 0o644, 20, b"x"));
                m.entries.push(entry("d", EntryKind::Dir, 0o755, 21));
            }),
            "entry 1 comes before its directory",
        ),
        (
            "file with the wrong chunk count (512 KiB + 1 bytes, one chunk)",
            manifest(&|m| m.entries[1].size = CHUNK as u64 + 1),
            "entry 1 has 1 chunks for 524289 bytes",
        ),
        (
            "encrypted flag without a key",
            manifest(&|m| m.encrypted = true),
            "the key fields do not match the encrypted flag",
        ),
        (
            "first entry not the root",
            manifest(&|m| {
                m.entries.remove(0);
            }),
            "the first entry is not the root directory",
        ),
        (
            "key without the encrypted flag",
            manifest(&|m| m.kms_key_arn = Some(ARN.into())),
            "the key fields do not match the encrypted flag",
        ),
        (
            "no entries",
            manifest(&|m| m.entries.clear()),
            "no root directory",
        ),
        (
            "a path with ..",
            manifest(&|m| m.entries[2].path = b"../link".to_vec()),
            "entry 2 has a bad path",
        ),
        (
            "a directory twice",
            manifest(&|m| {
                let d = entry("d", EntryKind::Dir, 0o755, 21);
                m.entries.push(d.clone());
                m.entries.push(d);
            }),
            "entry 4 repeats a directory",
        ),
        (
            "a symlink with chunks",
            manifest(&|m| m.entries[2].chunks = vec![[0; 32]]),
            "entry 2 is not a file but has chunks",
        ),
        (
            "a hard link out of the tree",
            manifest(&|m| {
                let target = "../../../etc/passwd";
                m.entries
                    .push(link("escape", EntryKind::HardLink, 0o644, 22, target));
            }),
            "entry 3 links to something that is not an earlier file",
        ),
        (
            "a hard link to a directory",
            manifest(&|m| {
                m.entries.push(entry("d", EntryKind::Dir, 0o755, 21));
                m.entries
                    .push(link("l", EntryKind::HardLink, 0o644, 22, "d"));
            }),
            "entry 4 links to something that is not an earlier file",
        ),
        (
            "entry kind 6",
            // The root's kind byte: after the header, "vol-..." (1 + 21), size (5), flag,
            // two None, an empty map, the entry count and the root's empty path.
            with(&|b| {
                let at = 10 + 22 + 5 + 1 + 2 + 1 + 1 + 1;
                assert_eq!(b[at], 0, "the root's kind");
                b[at] = 6;
            }),
            "Serde Deserialization Error",
        ),
    ]
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).expect("the vectors' names are ASCII")
}

/// What a manifest holds, as the vectors record it (byte strings as text, hashes as hex).
fn describe(m: &Manifest) -> Value {
    json!({
        "volume_id": m.volume_id,
        "volume_size": m.volume_size,
        "encrypted": m.encrypted,
        "kms_key_arn": m.kms_key_arn,
        "wrapped_dek": m.wrapped_dek.as_ref().map(|w| hex(w)),
        "dek_context": m.dek_context,
        "entries": m.entries.iter().map(|e| json!({
            "path": text(&e.path),
            "kind": format!("{:?}", e.kind),
            "mode": format!("{:o}", e.mode),
            "uid": e.uid, "gid": e.gid,
            "atime_ns": e.atime_ns, "mtime_ns": e.mtime_ns, "ctime_ns": e.ctime_ns,
            "ino": e.ino,
            "size": e.size,
            "target": text(&e.target),
            "xattrs": e.xattrs.iter().map(|(n, v)| [text(n), text(v)]).collect::<Vec<_>>(),
            "chunks": e.chunks.iter().map(|c| hex(c)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

#[test]
fn snapshot_vectors() {
    vectors::check("snapshot", "the manifest format", compute());
}

fn compute() -> Value {
    let good = |name: &str, m: &Manifest| {
        let b = m.encode();
        json!({
            "name": name,
            "manifest": hex(&b),
            "sha256": hex(&sha256(&b)),
            "decoded": describe(m),
        })
    };
    json!({
        "chunk_size": CHUNK,
        "good": [
            good("example", &example()),
            good("encrypted", &encrypted()),
        ],
        "bad": bad().into_iter().map(|(name, b, err)| json!({
            "name": name, "manifest": hex(&b), "error": err,
        })).collect::<Vec<_>>(),
    })
}

/// Decode without letting a panic escape unnamed.
fn decode(what: &str, b: &[u8]) -> Result<Manifest, String> {
    std::panic::catch_unwind(|| Manifest::decode(b).map_err(|e| e.to_string()))
        .unwrap_or_else(|_| panic!("{what}: Manifest::decode panicked"))
}

#[test]
fn good_vectors_decode_and_encode_to_the_same_bytes() {
    let v = vectors::load("snapshot");
    for (name, g, b) in vectors::good(&v, "manifest") {
        vectors::assert_magic(&b, MAGIC, VERSION);
        assert_eq!(hex(&sha256(&b)), g["sha256"].as_str().unwrap(), "{name}");
        let m = decode(name, &b).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(describe(&m), g["decoded"], "{name}: decoded fields");
        assert_eq!(m.encode(), b, "{name}: encode(decode(bytes)) != bytes");
        // Every file's chunk count is ceil(size / 512 KiB); nothing else has chunks.
        for e in &m.entries {
            let want = match e.kind {
                EntryKind::File => e.size.div_ceil(CHUNK as u64) as usize,
                _ => 0,
            };
            assert_eq!(e.chunks.len(), want, "{name}: {:?}", e.path);
        }
        // Every cut is refused, never a panic.
        for n in 0..b.len() {
            assert!(decode(name, &b[..n]).is_err(), "{name} cut to {n} bytes");
        }
    }
}

#[test]
fn the_example_is_what_the_format_says() {
    let v = vectors::load("snapshot");
    let b = bytes(&v["good"][0]["manifest"]);
    let m = Manifest::decode(&b).unwrap();
    assert_eq!(m, example());
    // The chunk of "hello" is its SHA-256, stored as 32 raw bytes after a count of 1:
    // postcard writes fixed arrays as tuples, with no length prefix.
    let h = sha256(b"hello");
    assert_eq!(
        hex(&h),
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
    assert_eq!(postcard::to_allocvec(&h).unwrap(), h.to_vec());
    assert!(hex(&b).contains(&format!("01{}", hex(&h))));
    // The entry kinds are varint variant indexes in declaration order.
    for (k, i) in [
        (EntryKind::Dir, 0u8),
        (EntryKind::File, 1),
        (EntryKind::Symlink, 2),
        (EntryKind::Fifo, 3),
        (EntryKind::Socket, 4),
        (EntryKind::HardLink, 5),
    ] {
        assert_eq!(postcard::to_allocvec(&k).unwrap(), [i]);
    }
    // i64 times are zigzag varints: T takes 9 bytes.
    assert_eq!(postcard::to_allocvec(&T).unwrap().len(), 9);
}

#[test]
fn bad_vectors_are_refused_with_the_right_error() {
    let errors = vectors::refuse_bad(&vectors::load("snapshot"), "manifest", 8, |name, _, b| {
        decode(name, b).map(|_| ())
    });
    for e in errors {
        assert!(e.starts_with("the snapshot manifest is damaged: "), "{e}");
    }
}
