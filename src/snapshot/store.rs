//! The content-addressed object store under snapshots: put if absent, get, list, delete,
//! each object named by the SHA-256 of its bytes. [`LocalStore`] keeps objects in a local
//! directory (`snapshots/objects/ab/abcd...`); an object store can implement the same trait.

use crate::crypto::{hex, sha256, unhex};
// An object's temp file: `.tmp.<pid>.<16 hex digits of its name>`.
use crate::fsutil::TEMP_PREFIX as TMP_PREFIX;
use std::collections::HashSet;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// An object's name: the SHA-256 of its bytes.
pub type Hash = [u8; 32];

/// Where snapshot chunks and manifests live.
pub trait ObjectStore: Send + Sync {
    /// Store `data` under `hash` unless an object of that name exists; true if it was added.
    /// The caller guarantees `hash == sha256(data)`.
    fn put_if_absent(&self, hash: &Hash, data: &[u8]) -> io::Result<bool>;
    /// The object's bytes (`NotFound` if absent). Not checked against the name: callers do.
    fn get(&self, hash: &Hash) -> io::Result<Vec<u8>>;
    /// Whether the object exists.
    fn contains(&self, hash: &Hash) -> io::Result<bool>;
    /// Every object's name. The same walk removes the temp files of writers that died
    /// before renaming them into place (a live writer's stay).
    fn list(&self) -> io::Result<Vec<Hash>>;
    /// Remove the object (no error if absent).
    fn delete(&self, hash: &Hash) -> io::Result<()>;
    /// Make every `put_if_absent` so far durable.
    fn flush(&self) -> io::Result<()>;
}

/// Objects as files in a local directory, fanned out by the first byte of the name.
pub struct LocalStore {
    root: PathBuf,
    /// Fan-out directories with new entries not yet fsynced.
    dirty: Mutex<HashSet<PathBuf>>,
}

impl LocalStore {
    pub(crate) fn new(root: &Path) -> LocalStore {
        LocalStore {
            root: root.to_path_buf(),
            dirty: Mutex::new(HashSet::new()),
        }
    }

    /// The file of object `hash`.
    pub fn path(&self, hash: &Hash) -> PathBuf {
        let h = hex(hash);
        self.root.join(&h[..2]).join(&h)
    }
}

impl ObjectStore for LocalStore {
    fn put_if_absent(&self, hash: &Hash, data: &[u8]) -> io::Result<bool> {
        let p = self.path(hash);
        if p.exists() {
            return Ok(false);
        }
        let dir = p.parent().expect("fan-out dir").to_path_buf();
        if !dir.is_dir() {
            crate::fsutil::create_dir_durable(&dir, 0o700).map_err(|e| at(&dir, e))?;
        }
        let tmp = dir.join(format!(
            "{TMP_PREFIX}{}.{}",
            std::process::id(),
            &hex(hash)[..16]
        ));
        let written = write_new(&tmp, data).and_then(|()| std::fs::rename(&tmp, &p));
        if let Err(e) = written {
            // A full store keeps no partial object.
            let _ = std::fs::remove_file(&tmp);
            return Err(at(&tmp, e));
        }
        self.dirty.lock().expect("dirty").insert(dir);
        Ok(true)
    }

    fn get(&self, hash: &Hash) -> io::Result<Vec<u8>> {
        std::fs::read(self.path(hash))
    }

    fn contains(&self, hash: &Hash) -> io::Result<bool> {
        Ok(self.path(hash).exists())
    }

    fn list(&self) -> io::Result<Vec<Hash>> {
        let mut out = Vec::new();
        let rd = match std::fs::read_dir(&self.root) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        for d in rd {
            let d = d?;
            if !d.file_type()?.is_dir() {
                continue;
            }
            for f in std::fs::read_dir(d.path())? {
                let f = f?;
                let name = f.file_name();
                if crate::fsutil::dead_writers_temp(&name) {
                    let _ = std::fs::remove_file(f.path());
                    continue;
                }
                let Some(n) = name.to_str() else { continue };
                if let Some(h) = unhex(n).and_then(|v| <Hash>::try_from(v).ok()) {
                    out.push(h);
                }
            }
        }
        Ok(out)
    }

    fn delete(&self, hash: &Hash) -> io::Result<()> {
        let p = self.path(hash);
        match std::fs::remove_file(&p) {
            Ok(()) => {
                self.dirty
                    .lock()
                    .expect("dirty")
                    .insert(p.parent().expect("fan-out").to_path_buf());
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn flush(&self) -> io::Result<()> {
        let dirs: Vec<PathBuf> = self.dirty.lock().expect("dirty").drain().collect();
        for d in dirs {
            crate::fsutil::fsync_dir(&d)?;
        }
        Ok(())
    }
}

/// `e` naming the store's file `p` (a full store names the store, not what was copied).
fn at(p: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", p.display()))
}

/// Write `data` to the new file `p`, durably.
fn write_new(p: &Path, data: &[u8]) -> io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(p)?;
    f.write_all(data)?;
    f.sync_data()
}

/// `data`'s object name.
pub(crate) fn name_of(data: &[u8]) -> Hash {
    sha256(data)
}
