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
            files: 1 << 32,
            ffree: (1 << 32) - 1,
            bsize: bs as u32,
            namelen: names::NAME_MAX as u32,
        }
    }
}

/// Allocated bytes under the directory `root` (hard links counted once), walked through
/// directory handles: a directory waiting to be walked is its parent's handle and its name,
/// so that the descriptors open at once stay at most one per level.
pub(super) fn du(root: BorrowedFd) -> io::Result<u64> {
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    let mut stack: Vec<(DirFd, OsString)> = Vec::new();
    // The root is opened once, here; every other directory when it is popped.
    let mut d: DirFd = Arc::new(at::open_dir(root, ".".as_ref())?);
    loop {
        for e in at::list(d.as_fd())? {
            if e.kind == Kind::Dir {
                stack.push((d.clone(), e.name));
            } else {
                let m = at::stat(d.as_fd(), &e.name)?;
                if seen.insert(m.ino) {
                    total += m.blocks * 512;
                }
            }
        }
        let Some((parent, name)) = stack.pop() else {
            return Ok(total);
        };
        d = Arc::new(at::open_dir(parent.as_fd(), &name)?);
    }
}
