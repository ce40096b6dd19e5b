//! Space accounting: the bytes the volume's data uses on disk (counted at open, kept up to
//! date by every write, truncate and removal), the size limit, and statfs.

use super::{Statfs, VolumeFs, names};
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
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

/// Allocated bytes under `dir` (hard links counted once).
pub(super) fn du(dir: &Path) -> io::Result<u64> {
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d)? {
            let e = e?;
            let m = e.metadata()?;
            if m.is_dir() {
                stack.push(e.path());
            } else if seen.insert(m.ino()) {
                total += m.blocks() * 512;
            }
        }
    }
    Ok(total)
}
