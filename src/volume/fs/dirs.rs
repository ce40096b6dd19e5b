//! Directories and names: each directory's id (its `.kmsfs.diriv`, the name-encryption
//! context of its entries), how a plaintext name is stored (direct or long with a sidecar),
//! lookup, and directory listings kept per handle.

use super::{
    Attr, DirEntry, FsError, FsResult, Ino, Kind, ROOT, VolumeFs, entry_meta, kind_of, names,
};
use crate::volume::keys::VolumeKeys;
use crate::volume::names::Stored;
use std::ffi::{OsStr, OsString};
use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirEntryExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::Ordering;

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
    /// Give the new directory `dir` a fresh random id. A failure (a full disk) leaves no id
    /// file: never an empty one.
    pub(super) fn write_diriv(&self, dir: &Path) -> FsResult<[u8; 16]> {
        let mut id = [0u8; 16];
        crate::crypto::fill_random(&mut id).map_err(|e| io::Error::other(e.to_string()))?;
        let p = dir.join(names::DIRIV);
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o400)
            .open(&p)?;
        let written =
            std::os::unix::fs::FileExt::write_all_at(&f, &id, 0).and_then(|()| f.sync_all());
        if let Err(e) = written {
            let _ = fs::remove_file(&p);
            return Err(e.into());
        }
        Ok(id)
    }

    /// Put back the id of directory `dir` (backing inode `backing_ino`) when removing it
    /// failed after its id file was removed (best effort, from the cached id).
    pub(super) fn restore_diriv(&self, dir: &Path, backing_ino: u64) {
        if self.keys.is_some() && !dir.join(names::DIRIV).exists() {
            let id = self
                .dirids
                .lock()
                .expect("dirids")
                .get(&self.fuse_ino(backing_ino))
                .copied();
            if let Some(id) = id {
                let _ = fs::write(dir.join(names::DIRIV), id);
            }
        }
    }

    /// Before removing or replacing directory `dir`: it must hold nothing but its id file,
    /// which goes.
    pub(super) fn clear_dir(&self, dir: &Path) -> FsResult<()> {
        for e in fs::read_dir(dir)? {
            if e?.file_name() != names::DIRIV {
                return Err(FsError::NotEmpty);
            }
        }
        let _ = fs::remove_file(dir.join(names::DIRIV));
        Ok(())
    }

    fn dirid(&self, ino: Ino) -> FsResult<[u8; 16]> {
        if let Some(d) = self.dirids.lock().expect("dirids").get(&ino) {
            return Ok(*d);
        }
        let p = self.path(ino)?.join(names::DIRIV);
        let b = fs::read(&p).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => FsError::Damaged {
                path: p.clone(),
                why: "the directory's id file is missing".into(),
            },
            _ => FsError::Io(e),
        })?;
        let id: [u8; 16] = b.as_slice().try_into().map_err(|_| FsError::Damaged {
            path: p.clone(),
            why: format!("the directory id must be 16 bytes, found {}", b.len()),
        })?;
        self.dirids.lock().expect("dirids").insert(ino, id);
        Ok(id)
    }

    /// How `name` is stored in directory `parent`.
    pub(super) fn stored(&self, parent: Ino, name: &OsStr) -> FsResult<Stored> {
        check_name(name)?;
        match &self.keys {
            None => Ok(Stored::Direct(name.to_os_string())),
            Some(k) => Ok(names::encrypt(&k.names, &self.dirid(parent)?, name)),
        }
    }

    /// Create a long-name sidecar if needed (before creating the entry). It appears whole
    /// or not at all (written beside it, then renamed), and one already holding the same
    /// name (a rename onto an existing long name) is kept as it is.
    pub(super) fn put_sidecar(&self, dir: &Path, s: &Stored) -> FsResult<()> {
        let Stored::Long { backing, full } = s else {
            return Ok(());
        };
        let p = dir.join(names::sidecar(backing));
        if fs::read(&p).is_ok_and(|b| b == full.as_bytes()) {
            return Ok(());
        }
        let mut tmp = backing.to_os_string();
        tmp.push(format!(".{}{}", std::process::id(), names::LONG_SUFFIX));
        let tmp = dir.join(tmp);
        if let Err(e) = fs::write(&tmp, full.as_bytes()).and_then(|()| fs::rename(&tmp, &p)) {
            let _ = fs::remove_file(&tmp);
            return Err(e.into());
        }
        Ok(())
    }

    pub(super) fn drop_sidecar(&self, dir: &Path, backing: &OsStr) {
        if backing
            .as_bytes()
            .starts_with(names::LONG_PREFIX.as_bytes())
        {
            let _ = fs::remove_file(dir.join(names::sidecar(backing)));
        }
    }

    pub fn lookup(&self, parent: Ino, name: &OsStr) -> FsResult<Attr> {
        let s = self.stored(parent, name)?;
        let p = self.path(parent)?.join(s.backing());
        let m = entry_meta(&p)?;
        Ok(self.remember(parent, s.backing(), &m))
    }

    /// List a directory (decrypting names); kept per handle so offsets are stable.
    pub fn opendir(&self, ino: Ino) -> FsResult<u64> {
        let p = self.path(ino)?;
        let mut out = self.dots(ino);
        let dirid = match &self.keys {
            Some(_) => Some(self.dirid(ino)?),
            None => None,
        };
        for e in fs::read_dir(&p)? {
            let e = e?;
            let bname = e.file_name();
            let name = match (&self.keys, dirid) {
                (Some(k), Some(d)) => {
                    if names::is_internal(&bname) || bname == names::DIRIV {
                        continue;
                    }
                    match plain_name(k, &d, &p, &bname) {
                        Some(n) => n,
                        None => continue,
                    }
                }
                _ => bname,
            };
            let ft = e.file_type()?;
            out.push(DirEntry {
                ino: self.fuse_ino(e.ino()),
                kind: kind_of(ft),
                name,
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
            },
            DirEntry {
                ino: if ino == ROOT {
                    ROOT
                } else {
                    self.parent_of(ino)
                },
                kind: Kind::Dir,
                name: "..".into(),
            },
        ]
    }

    /// Entries from `offset` on (each entry's offset is its index + 1).
    pub fn readdir(&self, fh: u64, offset: u64) -> FsResult<Vec<(u64, DirEntry)>> {
        let dirs = self.dirs.lock().expect("dirs");
        let d = dirs.get(&fh).ok_or(FsError::BadHandle)?;
        Ok(d.iter()
            .enumerate()
            .skip(offset as usize)
            .map(|(i, e)| (i as u64 + 1, e.clone()))
            .collect())
    }

    /// For readdirplus: look an entry up (counts a lookup) unless it is `.` or `..`.
    pub(crate) fn lookup_entry(&self, parent: Ino, e: &DirEntry) -> FsResult<Attr> {
        if e.name == "." || e.name == ".." {
            return self.getattr(e.ino);
        }
        self.lookup(parent, &e.name)
    }

    pub fn releasedir(&self, fh: u64) {
        self.dirs.lock().expect("dirs").remove(&fh);
    }
}

/// The plaintext name of the entry `bname` of directory `dir` (id `dirid`); None, and the
/// entry hidden, if its sidecar is unreadable or the name does not decrypt.
fn plain_name(k: &VolumeKeys, dirid: &[u8; 16], dir: &Path, bname: &OsStr) -> Option<OsString> {
    let b = bname.as_bytes();
    let encoded = if b.starts_with(names::LONG_PREFIX.as_bytes()) {
        fs::read_to_string(dir.join(names::sidecar(bname))).ok()?
    } else {
        bname.to_str()?.to_string()
    };
    let name = names::decrypt(&k.names, dirid, &encoded);
    if name.is_none() {
        eprintln!(
            "kmsfs: {}: name does not decrypt; hidden",
            dir.join(bname).display()
        );
    }
    name
}
