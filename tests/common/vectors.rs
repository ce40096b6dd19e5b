//! The golden vectors (`tests/vectors/NAME.json`): load them, compare what the code makes now
//! with them, or write them again with `KMSFS_REGEN_VECTORS=1` (only when a format changes on
//! purpose); walk their good and bad entries. And the encrypted volume files that both the
//! volume and the snapshot vectors hold.

use kmsfs::crypto::unhex;
use kmsfs::volume::content::{Content, HEADER_LEN, MAGIC};
use kmsfs::volume::keys::VolumeKeys;
use kmsfs::volume::names;
use serde_json::Value;
use std::ffi::OsStr;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

pub fn path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(format!("{name}.json"))
}

/// The vectors of `tests/vectors/NAME.json`.
pub fn load(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path(name)).unwrap()).unwrap()
}

/// `got` must be the vectors of `NAME` ("`what` drifted from ..." if not). With
/// `KMSFS_REGEN_VECTORS` set, `got` is written there first.
pub fn check(name: &str, what: &str, got: Value) {
    if std::env::var("KMSFS_REGEN_VECTORS").is_ok() {
        std::fs::write(
            path(name),
            serde_json::to_string_pretty(&got).unwrap() + "\n",
        )
        .unwrap();
    }
    assert_eq!(
        got,
        load(name),
        "{what} drifted from tests/vectors/{name}.json"
    );
}

/// The bytes of a hex string.
pub fn bytes(v: &Value) -> Vec<u8> {
    unhex(v.as_str().unwrap()).unwrap()
}

/// `b` starts with `magic` and then `version` (little-endian), as the object file and the
/// snapshot manifest do.
pub fn assert_magic(b: &[u8], magic: &[u8], version: u16) {
    assert_eq!(&b[..magic.len()], magic);
    assert_eq!(b[magic.len()..magic.len() + 2], version.to_le_bytes());
}

/// A copy of `good` changed by `f` (to make a bad input).
pub fn edited(good: &[u8], f: &dyn Fn(&mut Vec<u8>)) -> Vec<u8> {
    let mut b = good.to_vec();
    f(&mut b);
    b
}

/// Each good vector of `v`: its name, its entry, and the bytes of its hex field `field`.
pub fn good<'a>(v: &'a Value, field: &str) -> Vec<(&'a str, &'a Value, Vec<u8>)> {
    v["good"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["name"].as_str().unwrap(), g, bytes(&g[field])))
        .collect()
}

/// Each bad vector of `v` (there must be at least `min`) must be refused by `open` (given
/// its name, its entry and the bytes of its hex field `field`) with an error that holds its
/// `error`. The errors.
pub fn refuse_bad(
    v: &Value,
    field: &str,
    min: usize,
    open: impl Fn(&str, &Value, &[u8]) -> Result<(), String>,
) -> Vec<String> {
    let bad = v["bad"].as_array().unwrap();
    assert!(bad.len() >= min);
    bad.iter()
        .map(|x| {
            let name = x["name"].as_str().unwrap();
            let want = x["error"].as_str().unwrap();
            match open(name, x, &bytes(&x[field])) {
                Ok(()) => panic!("{name}: accepted"),
                Err(e) => {
                    assert!(
                        e.contains(want),
                        "{name}: error {e:?} does not contain {want:?}"
                    );
                    e
                }
            }
        })
        .collect()
}

/// The backing bytes of an encrypted volume file with id `file_id` holding `plain`, written
/// through the real content layer.
pub fn encrypted_file(keys: &VolumeKeys, file_id: &[u8; 16], plain: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f");
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&p)
        .unwrap();
    let mut hdr = [0u8; HEADER_LEN as usize];
    hdr[..16].copy_from_slice(&MAGIC);
    hdr[16..].copy_from_slice(file_id);
    f.write_all_at(&hdr, 0).unwrap();
    Content { keys: Some(keys) }
        .write(&f, Some(file_id), 0, plain)
        .unwrap();
    std::fs::read(&p).unwrap()
}

/// The backing name of the short name `name` in the directory `dirid`.
pub fn backing_name(keys: &VolumeKeys, dirid: &[u8; 16], name: &str) -> String {
    match names::encrypt(&keys.names, dirid, OsStr::new(name)) {
        names::Stored::Direct(n) => n.into_string().unwrap(),
        names::Stored::Long { .. } => unreachable!("short names"),
    }
}
