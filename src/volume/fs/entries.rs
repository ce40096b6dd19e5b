//! Making and removing entries: mkdir, mknod, symlink (targets sealed), create, hard links,
//! unlink and rmdir, and reading a symlink's target back.

use super::at::{self, At, Meta};
use super::{Attr, Caller, FsError, FsResult, Ino, VolumeFs, entry_meta, open_meta, seal_meta};
use crate::volume::names::{self, Stored};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

/// Associated data of a sealed symlink target.
pub(in crate::volume) const SYMLINK_AAD: &[u8] = b"kmsfs symlink v1";

impl VolumeFs {
    /// Make a new entry in `parent`: `build(at)` is the one call that creates it,
    /// `finish(at, built)` completes it (a directory's id, a file's header, its mode) and
    /// may return its attributes from an open descriptor (else they are read through the
    /// entry). Either the entry is whole, or nothing is left: a failure part-way (a full disk)
    /// removes what was made, its long-name sidecar included, and reports the backing
    /// call's error (ENOSPC stays ENOSPC).
    fn make<T>(
        &self,
        parent: Ino,
        name: &OsStr,
        caller: Caller,
        build: impl FnOnce(&At) -> FsResult<T>,
        finish: impl FnOnce(&At, &mut T) -> FsResult<Option<Meta>>,
    ) -> FsResult<(Attr, T)> {
        let _hold = self.hold();
        let s = self.stored(parent, name)?;
        let p = self.child(parent, s.backing())?;
        if let Stored::Long { .. } = s {
            // The sidecar must not clobber another entry's.
            if entry_meta(&p).is_ok() {
                return Err(FsError::Exists);
            }
            self.put_sidecar(p.fd(), &s)?;
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
            self.drop_sidecar(p.fd(), s.backing());
            e
        };
        let mut built = build(&p).map_err(|e| undo(e, false))?;
        let m = finish(&p, &mut built)
            .and_then(|m| self.own(&p, m, caller))
            .map_err(|e| undo(e, true))?;
        self.inode_made();
        Ok((self.remember(parent, s.backing(), &m), built))
    }

    /// The attributes of the new entry `p` (`m` if known), owned by `caller`.
    fn own(&self, p: &At, m: Option<Meta>, caller: Caller) -> FsResult<Meta> {
        let m = match m {
            Some(m) => m,
            None => entry_meta(p)?,
        };
        if m.uid == caller.uid && m.gid == caller.gid {
            return Ok(m);
        }
        let _ = at::chown(p, Some(caller.uid), Some(caller.gid));
        entry_meta(p)
    }

    /// Remove the entry `p` that a create made but could not finish (a directory holds at
    /// most its id file then).
    fn unmake(&self, p: &At) {
        match entry_meta(p) {
            Ok(m) if m.is_dir() => {
                if let Ok(d) = at::open_dir(p.fd(), p.name()) {
                    let _ = at::unlink(d.as_fd(), OsStr::new(names::DIRIV), false);
                }
                let _ = at::unlink(p.fd(), p.name(), true);
            }
            Ok(_) => {
                let _ = at::unlink(p.fd(), p.name(), false);
            }
            Err(_) => {}
        }
    }

    pub fn mkdir(&self, parent: Ino, name: &OsStr, mode: u32, caller: Caller) -> FsResult<Attr> {
        let enc = self.keys.is_some();
        let build = |p: &At| {
            at::mkdir(p.fd(), p.name(), 0o700)?;
            Ok(None)
        };
        // The new directory's handle and id are kept: what is made next is likely made in
        // it, and its names are encrypted under its id.
        let id = std::cell::Cell::new(None);
        let finish = |p: &At, fd: &mut Option<OwnedFd>| {
            let d = at::open_dir(p.fd(), p.name())?;
            if enc {
                id.set(Some(self.write_diriv(d.as_fd())?));
            }
            at::chmod(p, mode)?;
            *fd = Some(d);
            Ok(None)
        };
        let (a, fd) = self.make(parent, name, caller, build, finish)?;
        if let Some(fd) = fd {
            self.keep_dir_fd(a.ino, Arc::new(fd));
        }
        if let Some(id) = id.get() {
            self.keep_dirid(a.ino, id);
        }
        Ok(a)
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
        let build = |p: &At| Ok(at::mknod(p, mode, u64::from(rdev))?);
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
        let build = |p: &At| Ok(at::symlink(&stored_target, p)?);
        Ok(self.make(parent, name, caller, build, |_, _| Ok(None))?.0)
    }

    pub fn readlink(&self, ino: Ino) -> FsResult<Vec<u8>> {
        let t = at::readlink(&self.at(ino)?)?;
        let Some(k) = &self.keys else {
            return Ok(t.as_bytes().to_vec());
        };
        let damaged = |why: &str| FsError::Damaged {
            path: self.describe(ino),
            why: why.into(),
        };
        use base64::Engine;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(t.as_bytes())
            .map_err(|_| damaged("symlink target is not kmsfs ciphertext"))?;
        if raw.len() < 12 + 16 {
            return Err(damaged("symlink target too short"));
        }
        open_meta(k, SYMLINK_AAD, &raw)
            .ok_or_else(|| damaged("symlink target does not authenticate"))
    }

    /// The plaintext length of a symlink's target from its backing metadata.
    pub(super) fn symlink_plain_len(&self, m: &Meta) -> u64 {
        match &self.keys {
            None => m.size,
            // base64url(nonce 12 ‖ ct ‖ tag 16) without padding.
            Some(_) => (m.size * 3 / 4).saturating_sub(28),
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
        // The new file and its file id once its header is written (`Some(None)`: an
        // unencrypted volume's file, which has none).
        let build = |p: &At| {
            // A file made ahead if one is ready (`tmpfiles`), its header written; else a new one.
            if let Some(m) = self.link_made_ahead(p, mode)? {
                return Ok((m.file, Some(m.id)));
            }
            let flags = libc::O_RDWR | libc::O_CREAT | libc::O_EXCL;
            Ok((at::open(p.fd(), p.name(), flags, mode)?, None))
        };
        // The header before the attributes are read, so that they include its write (and
        // the file's state takes its mtime from them: an owner change leaves it).
        let mtime = std::cell::Cell::new(None);
        let finish = |p: &At, (f, id): &mut (File, Option<Option<[u8; 16]>>)| {
            if id.is_none() {
                *id = Some(
                    self.content()
                        .init(f)
                        .map_err(|e| self.damaged(&self.describe(parent).join(p.name()), e))?,
                );
            }
            let m = Meta::of(f)?;
            mtime.set(Some(m.mtime));
            Ok(Some(m))
        };
        let (attr, (file, id)) = self.make(parent, name, caller, build, finish)?;
        let st = self.state_known(attr.ino, &file, mtime.get())?;
        *st.id.lock().expect("file id") = id;
        let _ = flags;
        let fh = self.add_handle(file, attr.ino, st);
        Ok((attr, fh))
    }

    pub fn link(&self, ino: Ino, newparent: Ino, newname: &OsStr) -> FsResult<Attr> {
        let _hold = self.hold();
        let src = self.at(ino)?;
        if entry_meta(&src)?.is_dir() {
            return Err(FsError::NotPermitted);
        }
        let s = self.stored(newparent, newname)?;
        let p = self.child(newparent, s.backing())?;
        if entry_meta(&p).is_ok() {
            return Err(FsError::Exists);
        }
        self.put_sidecar(p.fd(), &s)?;
        if let Err(e) = at::link(&src, &p) {
            self.drop_sidecar(p.fd(), s.backing());
            return Err(e.into());
        }
        let m = entry_meta(&p)?;
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
        let p = self.child(parent, s.backing())?;
        let m = entry_meta(&p)?;
        let is_dir = m.is_dir();
        if dir_expected && !is_dir {
            return Err(FsError::NotDir);
        }
        if !dir_expected && is_dir {
            return Err(FsError::IsDir);
        }
        // A descriptor of the entry is kept across the unlinkat when it is the last link of
        // something with blocks: the backing file system frees them at its close, which
        // the reaper does after the reply (`reaper.rs`).
        let kept = if is_dir {
            let dir = self.clear_dir(&p)?;
            if let Err(e) = at::unlink(p.fd(), p.name(), true) {
                self.restore_diriv(&p, m.ino);
                return Err(e.into());
            }
            self.drop_dir_fd(self.fuse_ino(m.ino));
            self.drop_dirid(self.fuse_ino(m.ino));
            self.inode_gone();
            Some(dir)
        } else {
            let last = m.nlink <= 1;
            let kept = (last && m.blocks > 0)
                .then(|| at::open_path(&p).ok())
                .flatten();
            at::unlink(p.fd(), p.name(), false)?;
            if last {
                self.account(m.blocks * 512, 0);
                self.inode_gone();
            }
            kept
        };
        self.drop_sidecar(p.fd(), s.backing());
        self.unlink_node(self.fuse_ino(m.ino), parent, s.backing());
        if let Some(fd) = kept {
            self.reaper.close(fd);
        }
        Ok(())
    }
}
