//! Making and removing entries: mkdir, mknod, symlink (targets sealed), create, hard links,
//! unlink and rmdir, and reading a symlink's target back.

use super::{
    Attr, Caller, FsError, FsResult, Ino, VolumeFs, check_rc, cpath, entry_meta, open_meta,
    seal_meta,
};
use crate::volume::names::{self, Stored};
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Associated data of a sealed symlink target.
const SYMLINK_AAD: &[u8] = b"kmsfs symlink v1";

impl VolumeFs {
    /// Make a new entry in `parent`: `build(path)` is the one call that creates it,
    /// `finish(path, built)` completes it (a directory's id, a file's header, its mode) and
    /// may return its attributes from an open descriptor (else they are read through the
    /// path). Either the entry is whole, or nothing is left: a failure part-way (a full disk)
    /// removes what was made, its long-name sidecar included, and reports the backing
    /// call's error (ENOSPC stays ENOSPC).
    fn make<T>(
        &self,
        parent: Ino,
        name: &OsStr,
        caller: Caller,
        build: impl FnOnce(&Path) -> FsResult<T>,
        finish: impl FnOnce(&Path, &mut T) -> FsResult<Option<fs::Metadata>>,
    ) -> FsResult<(Attr, T)> {
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
        let undo = |e: FsError, made: bool| {
            if let FsError::Io(e) = &e
                && e.kind() == io::ErrorKind::AlreadyExists
            {
                // Another create won: the entry and its sidecar are its.
                return FsError::Exists;
            }
            if made {
                self.unmake(&p);
            }
            self.drop_sidecar(&dir, s.backing());
            e
        };
        let mut built = build(&p).map_err(|e| undo(e, false))?;
        let m = finish(&p, &mut built)
            .and_then(|m| self.own(&p, m, caller))
            .map_err(|e| undo(e, true))?;
        Ok((self.remember(parent, s.backing(), &m), built))
    }

    /// The attributes of the new entry `p` (`m` if known), owned by `caller`.
    fn own(&self, p: &Path, m: Option<fs::Metadata>, caller: Caller) -> FsResult<fs::Metadata> {
        let m = match m {
            Some(m) => m,
            None => fs::symlink_metadata(p)?,
        };
        if m.uid() == caller.uid && m.gid() == caller.gid {
            return Ok(m);
        }
        let _ = std::os::unix::fs::lchown(p, Some(caller.uid), Some(caller.gid));
        Ok(fs::symlink_metadata(p)?)
    }

    /// Remove the entry `p` that a create made but could not finish (a directory holds at
    /// most its id file then).
    fn unmake(&self, p: &Path) {
        match fs::symlink_metadata(p) {
            Ok(m) if m.is_dir() => {
                let _ = fs::remove_file(p.join(names::DIRIV));
                let _ = fs::remove_dir(p);
            }
            Ok(_) => {
                let _ = fs::remove_file(p);
            }
            Err(_) => {}
        }
    }

    pub fn mkdir(&self, parent: Ino, name: &OsStr, mode: u32, caller: Caller) -> FsResult<Attr> {
        let enc = self.keys.is_some();
        let build = |p: &Path| Ok(fs::DirBuilder::new().mode(0o700).create(p)?);
        let finish = |p: &Path, _: &mut ()| {
            if enc {
                self.write_diriv(p)?;
            }
            fs::set_permissions(p, fs::Permissions::from_mode(mode & 0o7777))?;
            Ok(None)
        };
        Ok(self.make(parent, name, caller, build, finish)?.0)
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
        // FIFOs, sockets and devices as the backing file system makes them: a device node
        // needs CAP_MKNOD there as on ext4, and the mount's `nodev` governs opening it.
        if ![libc::S_IFIFO, libc::S_IFSOCK, libc::S_IFCHR, libc::S_IFBLK].contains(&fmt) {
            return Err(FsError::Invalid);
        }
        let build = |p: &Path| {
            let c = cpath(p)?;
            // SAFETY: c is a valid C string.
            check_rc(unsafe { libc::mknod(c.as_ptr(), mode, rdev as libc::dev_t) })
        };
        Ok(self.make(parent, name, caller, build, |_, _| Ok(None))?.0)
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
        let build = |p: &Path| Ok(std::os::unix::fs::symlink(&stored_target, p)?);
        Ok(self.make(parent, name, caller, build, |_, _| Ok(None))?.0)
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
        let build = |p: &Path| {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(mode & 0o7777)
                .open(p)?;
            Ok((f, None))
        };
        // The header before the attributes are read, so that they include its write.
        let finish = |p: &Path, (f, id): &mut (File, Option<[u8; 16]>)| {
            *id = self.content().init(f).map_err(|e| self.damaged(p, e))?;
            Ok(Some(f.metadata()?))
        };
        let (attr, (file, id)) = self.make(parent, name, caller, build, finish)?;
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
        if let Err(e) = fs::hard_link(&src, &p) {
            self.drop_sidecar(&dir, s.backing());
            return Err(e.into());
        }
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
