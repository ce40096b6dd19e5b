//! Directories and names: each directory's id (its `.kmsfs.diriv`, the name-encryption
//! context of its entries), how a plaintext name is stored (direct or long with a sidecar),
//! lookup, and directory listings kept per handle.

use super::at::{self, At};
use super::{Attr, DirEntry, FsError, FsResult, Ino, Kind, ROOT, VolumeFs, entry_meta, names};
use crate::volume::keys::VolumeKeys;
use crate::volume::names::Stored;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::Ordering;

/// The name of a directory's id file.
fn diriv() -> &'static OsStr {
    OsStr::new(names::DIRIV)
}

/// Longest long-name sidecar read (a name is at most 255 bytes; its encoding is longer).
const SIDECAR_MAX: usize = 4096;

fn check_name(name: &OsStr) -> FsResult<()> {
    let b = name.as_bytes();
    if b.is_empty() || b == b"." || b == b".." || b.contains(&b'/') {
        return Err(FsError::Invalid);
    }
    if b.len() > names::NAME_MAX {
        return Err(FsError::NameTooLong);
    }
    Ok(())
}

impl VolumeFs {
    /// Give the new directory `dir` a fresh random id, made durable by the syncer (before
    /// any later fsync). A failure (a full disk) leaves no id file: never an empty one.
    pub(super) fn write_diriv(&self, dir: BorrowedFd) -> FsResult<[u8; 16]> {
        let mut id = [0u8; 16];
        crate::crypto::fill_random(&mut id).map_err(|e| io::Error::other(e.to_string()))?;
        let f = at::write_new(dir, diriv(), &id, 0o400, false)?;
        self.syncer.sync_later(f)?;
        Ok(id)
    }

    /// Remember `id` as the id of directory `ino` (read from its id file, or just written
    /// there by mkdir, in place of any the cache still held for a removed directory of the
    /// same inode).
    pub(super) fn keep_dirid(&self, ino: Ino, id: [u8; 16]) {
        self.dirids.lock().expect("dirids").insert(ino, id);
    }

    /// Forget the id of directory `ino`, removed (a directory made later may get its inode)
    /// or forgotten by the kernel.
    pub(super) fn drop_dirid(&self, ino: Ino) {
        self.dirids.lock().expect("dirids").remove(&ino);
    }

    /// Put back the id of the directory at `a` (backing inode `backing_ino`) when removing
    /// it failed after its id file was removed (best effort, from the cached id).
    pub(super) fn restore_diriv(&self, a: &At, backing_ino: u64) {
        if self.keys.is_none() {
            return;
        }
        let Ok(dir) = at::open_dir(a.fd(), a.name()) else {
            return;
        };
        if at::stat(dir.as_fd(), diriv()).is_err() {
            let id = self
                .dirids
                .lock()
                .expect("dirids")
                .get(&self.fuse_ino(backing_ino))
                .copied();
            if let Some(id) = id {
                let _ = at::write_new(dir.as_fd(), diriv(), &id, 0o400, true);
            }
        }
    }

    /// Before removing or replacing the directory at `a`: it must hold nothing but its id
    /// file, which goes.
    pub(super) fn clear_dir(&self, a: &At) -> FsResult<OwnedFd> {
        let dir = at::open_dir(a.fd(), a.name())?;
        for e in at::list(dir.as_fd())? {
            if e.name != diriv() {
                return Err(FsError::NotEmpty);
            }
        }
        // Its last close frees its block: after the reply (`reaper.rs`).
        let id = at::open_path_at(dir.as_fd(), diriv()).ok();
        let _ = at::unlink(dir.as_fd(), diriv(), false);
        if let Some(fd) = id {
            self.reaper.close(fd);
        }
        Ok(dir)
    }

    fn dirid(&self, ino: Ino) -> FsResult<[u8; 16]> {
        if let Some(d) = self.dirids.lock().expect("dirids").get(&ino) {
            return Ok(*d);
        }
        let dir = self.dir_fd(ino)?;
        let damaged = |why: String| FsError::Damaged {
            path: self.describe(ino).join(names::DIRIV),
            why,
        };
        let read = || at::read_small(dir.as_fd(), diriv(), 16);
        let b = match read() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => self.give_id(ino, &dir, read)?,
            Err(e) if e.raw_os_error() == Some(libc::EFBIG) => {
                return Err(damaged(
                    "the directory id must be 16 bytes, found more".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let id: [u8; 16] = b.as_slice().try_into().map_err(|_| {
            damaged(format!(
                "the directory id must be 16 bytes, found {}",
                b.len()
            ))
        })?;
        self.keep_dirid(ino, id);
        Ok(id)
    }

    /// The id of directory `ino` (open as `dir`), which has no id file: an empty directory
    /// (a `mkdir` cut short between making the directory and writing its id, by a crash)
    /// gets a new one, as no name in it was encrypted under the old; one holding entries is
    /// damaged. `read` reads the id file (another request may write it first).
    fn give_id(
        &self,
        ino: Ino,
        dir: &at::DirFd,
        read: impl Fn() -> io::Result<Vec<u8>>,
    ) -> FsResult<Vec<u8>> {
        if at::list(dir.as_fd())?.iter().any(|e| e.name != diriv()) {
            return Err(FsError::Damaged {
                path: self.describe(ino).join(names::DIRIV),
                why: "the directory's id file is missing".into(),
            });
        }
        match self.write_diriv(dir.as_fd()) {
            Ok(id) => {
                eprintln!(
                    "kmsfs: {}: an empty directory without an id (a mkdir cut short); given one",
                    self.describe(ino).display()
                );
                Ok(id.to_vec())
            }
            Err(FsError::Io(e)) if e.kind() == io::ErrorKind::AlreadyExists => Ok(read()?),
            Err(e) => Err(e),
        }
    }

    /// How `name` is stored in directory `parent`.
    pub(super) fn stored(&self, parent: Ino, name: &OsStr) -> FsResult<Stored> {
        check_name(name)?;
        match &self.keys {
            None => Ok(Stored::Direct(name.to_os_string())),
            Some(k) => Ok(names::encrypt(&k.names, &self.dirid(parent)?, name)),
        }
    }

    /// Create a long-name sidecar in `dir` if needed (before creating the entry). It
    /// appears whole or not at all (written beside it, then renamed), and one already
    /// holding the same name (a rename onto an existing long name) is kept as it is.
    pub(super) fn put_sidecar(&self, dir: BorrowedFd, s: &Stored) -> FsResult<()> {
        let Stored::Long { backing, full } = s else {
            return Ok(());
        };
        let side = names::sidecar(backing);
        if at::read_small(dir, &side, SIDECAR_MAX).is_ok_and(|b| b == full.as_bytes()) {
            return Ok(());
        }
        let mut tmp = backing.to_os_string();
        tmp.push(format!(".{}{}", std::process::id(), names::LONG_SUFFIX));
        let _ = at::unlink(dir, &tmp, false);
        let f = at::write_new(dir, &tmp, full.as_bytes(), 0o644, false)?;
        if let Err(e) = at::rename((dir, &tmp), (dir, &side), 0) {
            let _ = at::unlink(dir, &tmp, false);
            return Err(e.into());
        }
        // Durable before any later fsync, as a directory id.
        self.syncer.sync_later(f)?;
        Ok(())
    }

    pub(super) fn drop_sidecar(&self, dir: BorrowedFd, backing: &OsStr) {
        if backing
            .as_bytes()
            .starts_with(names::LONG_PREFIX.as_bytes())
        {
            let _ = at::unlink(dir, &names::sidecar(backing), false);
        }
    }

    pub fn lookup(&self, parent: Ino, name: &OsStr) -> FsResult<Attr> {
        let s = self.stored(parent, name)?;
        self.lookup_backing(parent, s.backing())
    }

    /// The attributes of the entry stored as `backing` in `parent`, remembered.
    fn lookup_backing(&self, parent: Ino, backing: &OsStr) -> FsResult<Attr> {
        let m = entry_meta(&self.child(parent, backing)?)?;
        Ok(self.remember(parent, backing, &m))
    }

    /// List a directory (decrypting names); kept per handle so offsets are stable.
    pub fn opendir(&self, ino: Ino) -> FsResult<u64> {
        let dir = self.dir_fd(ino)?;
        let mut out = self.dots(ino);
        let dirid = match &self.keys {
            Some(_) => Some(self.dirid(ino)?),
            None => None,
        };
        for e in at::list(dir.as_fd())? {
            let backing = e.name;
            let name = match (&self.keys, dirid) {
                (Some(k), Some(d)) => {
                    if names::is_internal(&backing) || backing == names::DIRIV {
                        continue;
                    }
                    match self.plain_name(k, &d, (ino, dir.as_fd()), &backing) {
                        Some(n) => n,
                        None => continue,
                    }
                }
                _ => backing.clone(),
            };
            out.push(DirEntry {
                ino: self.fuse_ino(e.ino),
                kind: e.kind,
                name,
                backing,
            });
        }
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        self.dirs.lock().expect("dirs").insert(fh, out);
        Ok(fh)
    }

    /// The `.` and `..` entries of directory `ino`.
    fn dots(&self, ino: Ino) -> Vec<DirEntry> {
        vec![
            DirEntry {
                ino,
                kind: Kind::Dir,
                name: ".".into(),
                backing: ".".into(),
            },
            DirEntry {
                ino: if ino == ROOT {
                    ROOT
                } else {
                    self.parent_of(ino)
                },
                kind: Kind::Dir,
                name: "..".into(),
                backing: "..".into(),
            },
        ]
    }

    /// Entries from `offset` on (each entry's offset is its index + 1).
    pub fn readdir(&self, fh: u64, offset: u64) -> FsResult<Vec<(u64, DirEntry)>> {
        self.readdir_some(fh, offset, usize::MAX)
    }

    /// At most `max` entries from `offset` on: what one reply can carry (the kernel asks
    /// again from the next offset), so that listing a large directory copies each entry
    /// about once, not once per reply.
    pub(crate) fn readdir_some(
        &self,
        fh: u64,
        offset: u64,
        max: usize,
    ) -> FsResult<Vec<(u64, DirEntry)>> {
        let dirs = self.dirs.lock().expect("dirs");
        let d = dirs.get(&fh).ok_or(FsError::BadHandle)?;
        Ok(d.iter()
            .enumerate()
            .skip(offset as usize)
            .take(max)
            .map(|(i, e)| (i as u64 + 1, e.clone()))
            .collect())
    }

    /// For readdirplus: look an entry up by its backing name (counts a lookup) unless it
    /// is `.` or `..`.
    pub(crate) fn lookup_entry(&self, parent: Ino, e: &DirEntry) -> FsResult<Attr> {
        if e.name == "." || e.name == ".." {
            return self.getattr(e.ino);
        }
        self.lookup_backing(parent, &e.backing)
    }

    pub fn releasedir(&self, fh: u64) {
        self.dirs.lock().expect("dirs").remove(&fh);
    }

    /// The plaintext name of the entry `bname` of directory `ino` (open as `dir`, id
    /// `dirid`); None, and the entry hidden, if its sidecar is unreadable or the name does
    /// not decrypt.
    fn plain_name(
        &self,
        k: &VolumeKeys,
        dirid: &[u8; 16],
        (ino, dir): (Ino, BorrowedFd),
        bname: &OsStr,
    ) -> Option<OsString> {
        let b = bname.as_bytes();
        let encoded = if b.starts_with(names::LONG_PREFIX.as_bytes()) {
            let raw = at::read_small(dir, &names::sidecar(bname), SIDECAR_MAX).ok()?;
            String::from_utf8(raw).ok()?
        } else {
            bname.to_str()?.to_string()
        };
        let name = names::decrypt(&k.names, dirid, &encoded);
        if name.is_none() {
            eprintln!(
                "kmsfs: {}: name does not decrypt; hidden",
                self.describe(ino).join(bname).display()
            );
        }
        name
    }
}
