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
    /// Drop every `put_if_absent` since the last flush (a change that failed part-way).
    fn discard(&self);
}

/// Objects as files in a local directory, fanned out by the first byte of the name.
///
/// A new object is written to a temp file beside its final name, without an fsync of its
/// own; [`ObjectStore::flush`] makes every pending temp file durable with one `syncfs`, then
/// renames them into place and fsyncs the fan-out directories. An object's final name thus
/// always holds its whole bytes, even after a crash (which leaves only temp files, swept by
/// the next [`ObjectStore::list`]), and a batch of objects costs one journal commit, not one
/// per object.
pub struct LocalStore {
    root: PathBuf,
    /// Objects written to their temp files, not yet renamed into place.
    pending: Mutex<HashSet<Hash>>,
    /// Fan-out directories with new entries not yet fsynced.
    dirty: Mutex<HashSet<PathBuf>>,
}

impl LocalStore {
    pub(crate) fn new(root: &Path) -> LocalStore {
        LocalStore {
            root: root.to_path_buf(),
            pending: Mutex::new(HashSet::new()),
            dirty: Mutex::new(HashSet::new()),
        }
    }

    /// The file of object `hash`.
    pub fn path(&self, hash: &Hash) -> PathBuf {
        let h = hex(hash);
        self.root.join(&h[..2]).join(&h)
    }

    /// The temp file object `hash` waits in until the next flush (named after this process,
    /// so a listing removes it only once the process is gone).
    fn temp(&self, hash: &Hash) -> PathBuf {
        let h = hex(hash);
        let name = format!("{TMP_PREFIX}{}.{h}", std::process::id());
        self.root.join(&h[..2]).join(name)
    }

    fn is_pending(&self, hash: &Hash) -> bool {
        self.pending.lock().expect("pending").contains(hash)
    }

    /// Write pending object `hash`'s temp file.
    fn write_pending(&self, hash: &Hash, data: &[u8]) -> io::Result<()> {
        let tmp = self.temp(hash);
        let dir = tmp.parent().expect("fan-out dir");
        if !dir.is_dir() {
            crate::fsutil::create_dir_durable(dir, 0o700).map_err(|e| at(dir, e))?;
        }
        if let Err(e) = write_new(&tmp, data) {
            // A full store keeps no partial object.
            let _ = std::fs::remove_file(&tmp);
            return Err(at(&tmp, e));
        }
        Ok(())
    }
}

impl ObjectStore for LocalStore {
    fn put_if_absent(&self, hash: &Hash, data: &[u8]) -> io::Result<bool> {
        // Reserve the name first: of writers racing on one object, one writes it.
        if !self.pending.lock().expect("pending").insert(*hash) {
            return Ok(false);
        }
        let r = match self.path(hash).try_exists() {
            Ok(true) => Ok(false),
            Ok(false) => self.write_pending(hash, data).map(|()| true),
            Err(e) => Err(e),
        };
        if !matches!(r, Ok(true)) {
            self.pending.lock().expect("pending").remove(hash);
        }
        r
    }

    fn get(&self, hash: &Hash) -> io::Result<Vec<u8>> {
        if self.is_pending(hash) {
            return std::fs::read(self.temp(hash));
        }
        std::fs::read(self.path(hash))
    }

    fn contains(&self, hash: &Hash) -> io::Result<bool> {
        Ok(self.is_pending(hash) || self.path(hash).exists())
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
        let pending: Vec<Hash> = self.pending.lock().expect("pending").drain().collect();
        if !pending.is_empty() {
            // The bytes of every pending object reach the disk before any takes its name.
            let root = std::fs::File::open(&self.root).map_err(|e| at(&self.root, e))?;
            nix::unistd::syncfs(&root).map_err(|e| at(&self.root, e.into()))?;
            let mut dirty = self.dirty.lock().expect("dirty");
            for h in &pending {
                let (tmp, p) = (self.temp(h), self.path(h));
                std::fs::rename(&tmp, &p).map_err(|e| at(&tmp, e))?;
                dirty.insert(p.parent().expect("fan-out").to_path_buf());
            }
        }
        let dirs: Vec<PathBuf> = self.dirty.lock().expect("dirty").drain().collect();
        for d in dirs {
            crate::fsutil::fsync_dir(&d)?;
        }
        Ok(())
    }

    fn discard(&self) {
        let pending: Vec<Hash> = self.pending.lock().expect("pending").drain().collect();
        for h in pending {
            let _ = std::fs::remove_file(self.temp(&h));
        }
    }
}

/// `e` naming the store's file `p` (a full store names the store, not what was copied).
fn at(p: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", p.display()))
}

/// Write `data` to the new file `p` and start its writeback (the flush waits for it).
fn write_new(p: &Path, data: &[u8]) -> io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(p)?;
    f.write_all(data)?;
    // Queue the pages for writeback now, so the flush's syncfs finds them mostly written.
    // SAFETY: a valid fd and range; the call only starts writeback.
    unsafe {
        libc::sync_file_range(
            std::os::fd::AsRawFd::as_raw_fd(&f),
            0,
            0,
            libc::SYNC_FILE_RANGE_WRITE,
        );
    }
    Ok(())
}

/// `data`'s object name.
pub(crate) fn name_of(data: &[u8]) -> Hash {
    sha256(data)
}
