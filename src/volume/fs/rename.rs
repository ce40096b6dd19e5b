//! Rename: plain (replacing a file or an empty directory), RENAME_NOREPLACE and
//! RENAME_EXCHANGE, with long-name sidecars and the inode table kept in step.

use super::{FsError, FsResult, Ino, VolumeFs, check_rc, cpath, entry_meta};
use crate::volume::names::Stored;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Both ends of a rename: the stored names, their directories and backing paths.
struct Ends {
    from: Stored,
    to: Stored,
    fdir: PathBuf,
    tdir: PathBuf,
    fp: PathBuf,
    tp: PathBuf,
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
        let victim = fs::symlink_metadata(&e.tp).ok();
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
        self.put_sidecar(&e.tdir, &e.to)?;
        if let Err(err) = fs::rename(&e.fp, &e.tp) {
            if let Some(vm) = &victim
                && vm.is_dir()
            {
                self.restore_diriv(&e.tp, vm.ino());
            }
            return Err(err.into());
        }
        if e.from.backing() != e.to.backing() || e.fdir != e.tdir {
            self.drop_sidecar(&e.fdir, e.from.backing());
        }
        if let Some(vm) = victim {
            self.replaced(&fm, &vm, newparent, e.to.backing());
        }
        self.relink(
            self.fuse_ino(fm.ino()),
            (parent, e.from.backing()),
            (newparent, e.to.backing()),
        );
        Ok(())
    }

    fn ends(&self, parent: Ino, name: &OsStr, newparent: Ino, newname: &OsStr) -> FsResult<Ends> {
        let from = self.stored(parent, name)?;
        let to = self.stored(newparent, newname)?;
        let fdir = self.path(parent)?;
        let tdir = self.path(newparent)?;
        let fp = fdir.join(from.backing());
        let tp = tdir.join(to.backing());
        Ok(Ends {
            from,
            to,
            fdir,
            tdir,
            fp,
            tp,
        })
    }

    /// RENAME_EXCHANGE of `fm` (at `e.fp`) and `vm` (at `e.tp`); `parents` are (from, to).
    fn exchange(
        &self,
        e: &Ends,
        (parent, newparent): (Ino, Ino),
        fm: &fs::Metadata,
        vm: &fs::Metadata,
    ) -> FsResult<()> {
        self.put_sidecar(&e.tdir, &e.from)?;
        self.put_sidecar(&e.fdir, &e.to)?;
        renameat2(&e.fp, &e.tp, libc::RENAME_EXCHANGE)?;
        let (a, b) = (self.fuse_ino(fm.ino()), self.fuse_ino(vm.ino()));
        self.relink(a, (parent, e.from.backing()), (newparent, e.to.backing()));
        self.relink(b, (newparent, e.to.backing()), (parent, e.from.backing()));
        Ok(())
    }

    /// Before `fm` replaces `vm` (at `tp`): both of a kind, and a directory empty (its id
    /// file removed).
    fn clear_victim(&self, fm: &fs::Metadata, vm: &fs::Metadata, tp: &Path) -> FsResult<()> {
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
    fn replaced(&self, fm: &fs::Metadata, vm: &fs::Metadata, newparent: Ino, to: &OsStr) {
        let vino = self.fuse_ino(vm.ino());
        if vino != self.fuse_ino(fm.ino()) {
            self.unlink_node(vino, newparent, to);
            if !vm.is_dir() && vm.nlink() <= 1 {
                self.account(vm.blocks() * 512, 0);
            }
        }
    }
}

fn renameat2(from: &Path, to: &Path, flags: u32) -> FsResult<()> {
    let (a, b) = (cpath(from)?, cpath(to)?);
    // SAFETY: valid C strings.
    check_rc(unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            flags,
        )
    })
}
