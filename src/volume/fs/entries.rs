//! Making and removing entries: mkdir, mknod, symlink (targets sealed), create, hard links,
//! unlink and rmdir, and reading a symlink's target back.

use super::{
    Attr, Caller, FsError, FsResult, Ino, VolumeFs, check_rc, cpath, entry_meta, open_meta,
    seal_meta,
};
use crate::volume::names::Stored;
use std::ffi::{OsStr, OsString};
use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Associated data of a sealed symlink target.
const SYMLINK_AAD: &[u8] = b"kmsfs symlink v1";

impl VolumeFs {
    /// Make a new entry in `parent` with `make(path)` and return its attributes (those
    /// `make` returns, from an open descriptor, else read through the path).
    fn make(
        &self,
        parent: Ino,
        name: &OsStr,
        caller: Caller,
        make: impl FnOnce(&Path) -> FsResult<Option<fs::Metadata>>,
    ) -> FsResult<Attr> {
        let _hold = self.hold();
        let s = self.stored(parent, name)?;
        let dir = self.path(parent)?;
        let p = dir.join(s.backing());
        if let Stored::Long { .. } = s {
            // The sidecar must not clobber another entry's.
            if fs::symlink_metadata(&p).is_ok() {
                return Err(FsError::Exists);
            }
            self.put_sidecar(&dir, &s)?;
        }
        let made = match make(&p) {
            Ok(m) => m,
            Err(e) => {
                if matches!(s, Stored::Long { .. }) {
                    self.drop_sidecar(&dir, s.backing());
                }
                return Err(match e {
                    FsError::Io(e) if e.kind() == io::ErrorKind::AlreadyExists => FsError::Exists,
                    e => e,
                });
            }
        };
        let mut m = match made {
            Some(m) => m,
            None => fs::symlink_metadata(&p)?,
        };
        if m.uid() != caller.uid || m.gid() != caller.gid {
            let _ = std::os::unix::fs::lchown(&p, Some(caller.uid), Some(caller.gid));
            m = fs::symlink_metadata(&p)?;
        }
        Ok(self.remember(parent, s.backing(), &m))
    }

    pub fn mkdir(&self, parent: Ino, name: &OsStr, mode: u32, caller: Caller) -> FsResult<Attr> {
        let enc = self.keys.is_some();
        self.make(parent, name, caller, |p| {
            fs::DirBuilder::new().mode(0o700).create(p)?;
            if enc {
                self.write_diriv(p)?;
            }
            fs::set_permissions(p, fs::Permissions::from_mode(mode & 0o7777))?;
            Ok(None)
        })
    }

    pub fn mknod(
        &self,
        parent: Ino,
        name: &OsStr,
        mode: u32,
        rdev: u32,
        caller: Caller,
    ) -> FsResult<Attr> {
        let fmt = mode & libc::S_IFMT;
        if fmt == libc::S_IFREG {
            let (a, fh) = self.create(parent, name, mode, libc::O_WRONLY, caller)?;
            self.release(fh);
            return Ok(a);
        }
        if fmt != libc::S_IFIFO && fmt != libc::S_IFSOCK {
            return Err(FsError::NotPermitted);
        }
        self.make(parent, name, caller, |p| {
            let c = cpath(p)?;
            // SAFETY: c is a valid C string.
            check_rc(unsafe { libc::mknod(c.as_ptr(), mode, rdev as libc::dev_t) })?;
            Ok(None)
        })
    }

    pub fn symlink(
        &self,
        parent: Ino,
        name: &OsStr,
        target: &OsStr,
        caller: Caller,
    ) -> FsResult<Attr> {
        let stored_target: OsString = match &self.keys {
            None => target.to_os_string(),
            Some(k) => {
                use base64::Engine;
                let raw = seal_meta(k, SYMLINK_AAD, target.as_bytes())?;
                let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
                if enc.len() >= 4096 {
                    return Err(FsError::NameTooLong);
                }
                OsString::from(enc)
            }
        };
        self.make(parent, name, caller, |p| {
            std::os::unix::fs::symlink(&stored_target, p)?;
            Ok(None)
        })
    }

    pub fn readlink(&self, ino: Ino) -> FsResult<Vec<u8>> {
        let p = self.path(ino)?;
        let t = fs::read_link(&p)?;
        match &self.keys {
            None => Ok(t.as_os_str().as_bytes().to_vec()),
            Some(k) => {
                use base64::Engine;
                let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(t.as_os_str().as_bytes())
                    .map_err(|_| FsError::Damaged {
                        path: p.clone(),
                        why: "symlink target is not kmsfs ciphertext".into(),
                    })?;
                if raw.len() < 12 + 16 {
                    return Err(FsError::Damaged {
                        path: p,
                        why: "symlink target too short".into(),
                    });
                }
                open_meta(k, SYMLINK_AAD, &raw).ok_or_else(|| FsError::Damaged {
                    path: p,
                    why: "symlink target does not authenticate".into(),
                })
            }
        }
    }

    /// The plaintext length of a symlink's target from its backing metadata.
    pub(super) fn symlink_plain_len(&self, m: &fs::Metadata) -> u64 {
        match &self.keys {
            None => m.size(),
            // base64url(nonce 12 ‖ ct ‖ tag 16) without padding.
            Some(_) => (m.size() * 3 / 4).saturating_sub(28),
        }
    }

    pub fn create(
        &self,
        parent: Ino,
        name: &OsStr,
        mode: u32,
        flags: i32,
        caller: Caller,
    ) -> FsResult<(Attr, u64)> {
        let mut file = None;
        let mut id = None;
        let attr = self.make(parent, name, caller, |p| {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(mode & 0o7777)
                .open(p)?;
            // The header before the attributes are read, so that they include its write.
            id = self
                .content()
                .init(&f)
                .map_err(|e| FsError::Io(io::Error::other(e.to_string())))?;
            let m = f.metadata()?;
            file = Some(f);
            Ok(Some(m))
        })?;
        let file = file.expect("created");
        let st = self.state(attr.ino);
        *st.id.lock().expect("file id") = Some(id);
        let _ = flags;
        let fh = self.add_handle(file, attr.ino, st);
        Ok((attr, fh))
    }

    pub fn link(&self, ino: Ino, newparent: Ino, newname: &OsStr) -> FsResult<Attr> {
        let _hold = self.hold();
        let src = self.path(ino)?;
        if fs::symlink_metadata(&src)?.is_dir() {
            return Err(FsError::NotPermitted);
        }
        let s = self.stored(newparent, newname)?;
        let dir = self.path(newparent)?;
        let p = dir.join(s.backing());
        if fs::symlink_metadata(&p).is_ok() {
            return Err(FsError::Exists);
        }
        self.put_sidecar(&dir, &s)?;
        fs::hard_link(&src, &p)?;
        let m = fs::symlink_metadata(&p)?;
        Ok(self.remember(newparent, s.backing(), &m))
    }

    pub fn unlink(&self, parent: Ino, name: &OsStr) -> FsResult<()> {
        self.unlink_entry(parent, name, false)
    }

    pub fn rmdir(&self, parent: Ino, name: &OsStr) -> FsResult<()> {
        self.unlink_entry(parent, name, true)
    }

    fn unlink_entry(&self, parent: Ino, name: &OsStr, dir_expected: bool) -> FsResult<()> {
        let _hold = self.hold();
        let s = self.stored(parent, name)?;
        let dir = self.path(parent)?;
        let p = dir.join(s.backing());
        let m = entry_meta(&p)?;
        let is_dir = m.is_dir();
        if dir_expected && !is_dir {
            return Err(FsError::NotDir);
        }
        if !dir_expected && is_dir {
            return Err(FsError::IsDir);
        }
        if is_dir {
            self.clear_dir(&p)?;
            if let Err(e) = fs::remove_dir(&p) {
                self.restore_diriv(&p, m.ino());
                return Err(e.into());
            }
        } else {
            fs::remove_file(&p)?;
            if m.nlink() <= 1 {
                self.account(m.blocks() * 512, 0);
            }
        }
        self.drop_sidecar(&dir, s.backing());
        self.unlink_node(self.fuse_ino(m.ino()), parent, s.backing());
        Ok(())
    }
}
