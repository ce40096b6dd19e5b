//! Space accounting: the bytes the volume's data uses on disk (counted at open, kept up to
//! date by every write, truncate and removal), the size limit, and statfs.

use super::at::{self, DirFd};
use super::{Kind, Statfs, VolumeFs, names};
use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::sync::atomic::Ordering;

impl VolumeFs {
    /// Bytes the volume's data uses on disk.
    #[inline]
    pub(crate) fn used_bytes(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Whether `growth` more bytes would take the volume over its size.
    #[inline]
    pub(super) fn over_limit(&self, growth: u64) -> bool {
        self.used_bytes() + growth > self.size_limit
    }

    /// A file went from `before` to `after` allocated bytes.
    pub(super) fn account(&self, before: u64, after: u64) {
        if after >= before {
            self.used.fetch_add(after - before, Ordering::Relaxed);
        } else {
            let _ = self
                .used
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                    Some(u.saturating_sub(before - after))
                });
        }
    }

    pub fn statfs(&self) -> Statfs {
        let bs = 4096u64;
        let blocks = self.size_limit / bs;
        let used = self.used_bytes().div_ceil(bs);
        Statfs {
            blocks,
            bfree: blocks.saturating_sub(used),
            // `df -i`: IUsed (files - ffree) is the volume's count of files, directories,
            // links and special files; the backing file system's id and long-name files are
            // not the volume's. There is no inode table to run out of.
            files: FILES,
            ffree: FILES.saturating_sub(self.inodes.load(Ordering::Relaxed)),
            bsize: bs as u32,
            namelen: names::NAME_MAX as u32,
        }
    }
}

/// The inode count `statfs` reports (the volume has no inode table; its files are the
/// backing file system's).
const FILES: u64 = 1 << 32;

impl VolumeFs {
    /// An entry (file, directory, symlink, node) was made.
    pub(super) fn inode_made(&self) {
        self.inodes.fetch_add(1, Ordering::Relaxed);
    }

    /// An entry's last link went.
    pub(super) fn inode_gone(&self) {
        let _ = self
            .inodes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(1))
            });
    }
}

/// Whether a backing name is the file system's own (a directory's id file, a long name's
/// sidecar), not an entry of the volume.
fn internal(name: &std::ffi::OsStr) -> bool {
    let n = name.as_encoded_bytes();
    n == names::DIRIV.as_bytes()
        || (n.starts_with(names::LONG_PREFIX.as_bytes())
            && n.ends_with(names::LONG_SUFFIX.as_bytes()))
}

/// Allocated bytes under the directory `root` (hard links counted once), and the entries of
/// the volume in it (the root, directories, and files counted once however many links),
/// walked through
/// directory handles: a directory waiting to be walked is its parent's handle and its name,
/// so that the descriptors open at once stay at most one per level.
pub(super) fn du(root: BorrowedFd) -> io::Result<(u64, u64)> {
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    let mut entries = 1;
    let mut stack: Vec<(DirFd, OsString)> = Vec::new();
    // The root is opened once, here; every other directory when it is popped.
    let mut d: DirFd = Arc::new(at::open_dir(root, ".".as_ref())?);
    loop {
        for e in at::list(d.as_fd())? {
            if e.kind == Kind::Dir {
                entries += 1;
                stack.push((d.clone(), e.name));
            } else {
                let m = at::stat(d.as_fd(), &e.name)?;
                if seen.insert(m.ino) {
                    total += m.blocks * 512;
                    entries += u64::from(!internal(&e.name));
                }
            }
        }
        let Some((parent, name)) = stack.pop() else {
            return Ok((total, entries));
        };
        d = Arc::new(at::open_dir(parent.as_fd(), &name)?);
    }
}
