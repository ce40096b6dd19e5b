//! A snapshot's manifest: the volume's key (ARN and wrapped DEK, never the DEK) and, per
//! entry of the backing tree, its metadata and the chunks of its bytes. Stored in the
//! object store under its own SHA-256, which the snapshot record names. Layout (see
//! docs/FORMAT.md): magic `KMSFSMAN`, u16 LE version 1, then the postcard of [`Manifest`].

use super::SnapshotError;
use super::store::Hash;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const MAGIC: &[u8; 8] = b"KMSFSMAN";
pub const VERSION: u16 = 1;
/// The chunk size: the EBS snapshot block size.
pub const CHUNK: usize = 512 * 1024;

/// One snapshot's view of a volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The volume the snapshot was taken of.
    pub volume_id: String,
    /// The volume's size in bytes.
    pub volume_size: u64,
    pub encrypted: bool,
    pub kms_key_arn: Option<String>,
    pub wrapped_dek: Option<Vec<u8>>,
    pub dek_context: BTreeMap<String, String>,
    /// Entries of the backing tree, parents before children; the root has the path "".
    pub entries: Vec<Entry>,
}

/// The kind of a backing entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryKind {
    Dir,
    File,
    Symlink,
    Fifo,
    Socket,
    /// Another name of an earlier `File` (its path is in `target`).
    HardLink,
}

/// One entry of the backing tree (names and contents as stored: ciphertext when encrypted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Path under the volume's `data/`, `/`-separated.
    pub path: Vec<u8>,
    pub kind: EntryKind,
    /// Permission bits (07777).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub atime_ns: i64,
    pub mtime_ns: i64,
    /// Change time and inode of the backing file when read (to skip unchanged files).
    pub ctime_ns: i64,
    pub ino: u64,
    /// Bytes of the backing file.
    pub size: u64,
    /// Symlink target (as stored), or the first path of a hard link.
    pub target: Vec<u8>,
    /// Extended attributes (as stored).
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// SHA-256 of each CHUNK-sized piece of the backing file, in order.
    pub chunks: Vec<Hash>,
}

impl Manifest {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend(postcard::to_allocvec(self).expect("manifest serializes"));
        out
    }

    /// Parse a manifest (its name was checked by the caller). Any damage is an error.
    pub fn decode(b: &[u8]) -> Result<Manifest, SnapshotError> {
        let bad = |why: &str| SnapshotError::DamagedManifest(why.to_string());
        if b.len() < 10 || &b[..8] != MAGIC {
            return Err(bad("no KMSFSMAN magic"));
        }
        let v = u16::from_le_bytes([b[8], b[9]]);
        if v != VERSION {
            return Err(bad(&format!("unknown version {v}")));
        }
        let (m, rest): (Manifest, &[u8]) =
            postcard::take_from_bytes(&b[10..]).map_err(|e| bad(&format!("{e}")))?;
        if !rest.is_empty() {
            return Err(bad("trailing bytes"));
        }
        m.check().map_err(|w| bad(&w))?;
        Ok(m)
    }

    /// Structural rules a restore relies on.
    fn check(&self) -> Result<(), String> {
        if self.encrypted != self.wrapped_dek.is_some()
            || self.encrypted != self.kms_key_arn.is_some()
        {
            return Err("the key fields do not match the encrypted flag".into());
        }
        let mut seen = std::collections::HashSet::new();
        let mut files = std::collections::HashSet::new();
        for (i, e) in self.entries.iter().enumerate() {
            if i == 0 {
                if !e.path.is_empty() || e.kind != EntryKind::Dir {
                    return Err("the first entry is not the root directory".into());
                }
            } else {
                let parts: Vec<&[u8]> = e.path.split(|&c| c == b'/').collect();
                if parts
                    .iter()
                    .any(|p| p.is_empty() || *p == b"." || *p == b".." || p.contains(&0))
                {
                    return Err(format!("entry {i} has a bad path"));
                }
                let parent = &e.path[..e.path.len() - parts.last().map_or(0, |p| p.len())];
                let parent = parent.strip_suffix(b"/").unwrap_or(parent);
                if !seen.contains(parent) {
                    return Err(format!("entry {i} comes before its directory"));
                }
            }
            // A hard link may only name an earlier file of this manifest (whose path passed the
            // rules above), so a restore never links to anything outside its own tree.
            if e.kind == EntryKind::HardLink && !files.contains(e.target.as_slice()) {
                return Err(format!(
                    "entry {i} links to something that is not an earlier file"
                ));
            }
            if e.kind == EntryKind::File {
                files.insert(e.path.as_slice());
            }
            if e.kind == EntryKind::Dir && !seen.insert(e.path.as_slice()) {
                return Err(format!("entry {i} repeats a directory"));
            }
            let want = e.size.div_ceil(CHUNK as u64);
            if e.kind == EntryKind::File && e.chunks.len() as u64 != want {
                return Err(format!(
                    "entry {i} has {} chunks for {} bytes",
                    e.chunks.len(),
                    e.size
                ));
            }
            if e.kind != EntryKind::File && !e.chunks.is_empty() {
                return Err(format!("entry {i} is not a file but has chunks"));
            }
        }
        if self.entries.is_empty() {
            return Err("no root directory".into());
        }
        Ok(())
    }

    /// Every chunk the manifest needs, once each.
    pub fn chunk_set(&self) -> std::collections::BTreeSet<Hash> {
        self.entries
            .iter()
            .flat_map(|e| e.chunks.iter().copied())
            .collect()
    }

    /// Bytes of all backing files (the snapshot's full size).
    pub(crate) fn data_bytes(&self) -> u64 {
        self.entries
            .iter()
            .filter(|e| e.kind == EntryKind::File)
            .map(|e| e.size)
            .sum()
    }
}
