//! Rename: plain (replacing a file or an empty directory), RENAME_NOREPLACE and
//! RENAME_EXCHANGE, with long-name sidecars and the inode table kept in step.

use super::at::{self, At, Meta};
use super::{FsError, FsResult, Ino, VolumeFs, entry_meta};
use crate::volume::names::Stored;
use std::ffi::OsStr;

/// Both ends of a rename: the stored names and the backing entries.
struct Ends {
    from: Stored,
    to: Stored,
    fp: At,
    tp: At,
}

impl Ends {
    /// The rename itself.
    fn rename(&self, flags: u32) -> std::io::Result<()> {
        at::rename(
            (self.fp.fd(), self.fp.name()),
            (self.tp.fd(), self.tp.name()),
            flags,
        )
    }
}

impl VolumeFs {
    /// Rename; `flags` takes RENAME_NOREPLACE and RENAME_EXCHANGE.
    pub fn rename(
        &self,
        parent: Ino,
        name: &OsStr,
        newparent: Ino,
        newname: &OsStr,
        flags: u32,
    ) -> FsResult<()> {
        let _hold = self.hold();
        let e = self.ends(parent, name, newparent, newname)?;
        let fm = entry_meta(&e.fp)?;
        let victim = entry_meta(&e.tp).ok();
        if flags & libc::RENAME_NOREPLACE != 0 && victim.is_some() {
            return Err(FsError::Exists);
        }
        if flags & libc::RENAME_EXCHANGE != 0 {
            let Some(vm) = victim else {
                return Err(FsError::NotFound);
            };
            return self.exchange(&e, (parent, newparent), &fm, &vm);
        }
        if let Some(vm) = &victim {
            self.clear_victim(&fm, vm, &e.tp)?;
        }
        self.put_sidecar(e.tp.fd(), &e.to)?;
        if let Err(err) = e.rename(0) {
            if let Some(vm) = &victim
                && vm.is_dir()
            {
                self.restore_diriv(&e.tp, vm.ino);
            }
            return Err(err.into());
        }
        if e.from.backing() != e.to.backing() || parent != newparent {
            self.drop_sidecar(e.fp.fd(), e.from.backing());
        }
        if let Some(vm) = victim {
            self.replaced(&fm, &vm, newparent, e.to.backing());
        }
        self.relink(
            self.fuse_ino(fm.ino),
            (parent, e.from.backing()),
            (newparent, e.to.backing()),
        );
        Ok(())
    }

    fn ends(&self, parent: Ino, name: &OsStr, newparent: Ino, newname: &OsStr) -> FsResult<Ends> {
        let from = self.stored(parent, name)?;
        let to = self.stored(newparent, newname)?;
        let fp = self.child(parent, from.backing())?;
        let tp = self.child(newparent, to.backing())?;
        Ok(Ends { from, to, fp, tp })
    }

    /// RENAME_EXCHANGE of `fm` (at `e.fp`) and `vm` (at `e.tp`); `parents` are (from, to).
    fn exchange(
        &self,
        e: &Ends,
        (parent, newparent): (Ino, Ino),
        fm: &Meta,
        vm: &Meta,
    ) -> FsResult<()> {
        self.put_sidecar(e.tp.fd(), &e.from)?;
        self.put_sidecar(e.fp.fd(), &e.to)?;
        e.rename(libc::RENAME_EXCHANGE)?;
        let (a, b) = (self.fuse_ino(fm.ino), self.fuse_ino(vm.ino));
        self.relink(a, (parent, e.from.backing()), (newparent, e.to.backing()));
        self.relink(b, (newparent, e.to.backing()), (parent, e.from.backing()));
        Ok(())
    }

    /// Before `fm` replaces `vm` (at `tp`): both of a kind, and a directory empty (its id
    /// file removed).
    fn clear_victim(&self, fm: &Meta, vm: &Meta, tp: &At) -> FsResult<()> {
        if vm.is_dir() != fm.is_dir() {
            return Err(if vm.is_dir() {
                FsError::IsDir
            } else {
                FsError::NotDir
            });
        }
        if vm.is_dir() {
            self.clear_dir(tp)?;
        }
        Ok(())
    }

    /// After `fm` replaced `vm` at (`newparent`, `to`): that link of `vm` is gone, and the
    /// space of its last link is free.
    fn replaced(&self, fm: &Meta, vm: &Meta, newparent: Ino, to: &OsStr) {
        let vino = self.fuse_ino(vm.ino);
        if vino != self.fuse_ino(fm.ino) {
            self.unlink_node(vino, newparent, to);
            if vm.is_dir() {
                self.drop_dir_fd(vino);
                self.drop_dirid(vino);
                self.inode_gone();
            } else if vm.nlink <= 1 {
                self.account(vm.blocks * 512, 0);
                self.inode_gone();
            }
        }
    }
}
