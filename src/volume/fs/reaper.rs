//! Closing the last descriptor of removed backing entries after the reply. The backing file
//! system frees an unlinked inode's blocks when its last reference goes, and ext4 mounted
//! with `discard` (this machine's root) waits there for the device to discard them
//! (`ext4_evict_inode` → `ext4_free_blocks` → `blkdev_issue_discard`, `submit_bio_wait`):
//! inside the `unlinkat` of a file's last link, so inside every UNLINK's round trip. Unlink
//! and rmdir keep a descriptor of the entry across the `unlinkat`, which then only removes
//! the name, and hand it here; a reaper thread's close frees the blocks while the next
//! requests are served. The name is gone before the reply, as before; only the freeing
//! of blocks the volume no longer counts (its accounting drops them at the unlink) comes
//! later.
//!
//! The queue is bounded ([`DEPTH`]): when it is full the descriptor is closed at once, so
//! at most that many removed entries wait for their blocks to be freed. Descriptors are
//! closed in batches, so that handing one over rarely costs a wake-up (a cross-CPU
//! interrupt on a VM): a thread is woken when the queue stops being empty and when it holds
//! 32, and closes what is queued after 5 ms at the latest (`background.rs`). Dropping the
//! reaper (the file system's end, at unmount) closes every queued descriptor first.

use super::background::{Background, Config};
use std::os::fd::OwnedFd;
use std::time::Duration;

/// Descriptors queued at most.
pub(super) const DEPTH: usize = 256;

static REAPER: Config<OwnedFd> = Config {
    name: "reaper",
    // The device serves discards in parallel.
    threads: 2,
    depth: DEPTH,
    batch: 32,
    linger: Some(Duration::from_millis(5)),
    work: |fds| {
        drop(fds);
        Ok(())
    },
};

pub(super) struct Reaper(Background<OwnedFd>);

impl Default for Reaper {
    fn default() -> Self {
        Reaper(Background::new(&REAPER))
    }
}

impl Reaper {
    /// Close `fd` on a reaper thread (at once if the queue is full or no thread runs).
    pub(super) fn close(&self, fd: OwnedFd) {
        if let Err(fd) = self.0.push(fd) {
            drop(fd);
        }
    }

    /// Close every queued descriptor and stop the threads (a later [`close`](Self::close)
    /// closes at once).
    #[cfg(test)]
    fn finish(&self) {
        self.0.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// A pipe whose write end is handed to the reaper: its read end sees end-of-file once
    /// that end is closed, and `WouldBlock` while it is open.
    fn pipe() -> (std::fs::File, OwnedFd) {
        let (r, w) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_CLOEXEC)
                .unwrap();
        (std::fs::File::from(r), w)
    }

    fn closed(r: &mut std::fs::File) -> bool {
        match r.read(&mut [0u8; 1]) {
            Ok(0) => true,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
            other => panic!("{other:?}"),
        }
    }

    /// Every queued descriptor (more than the queue holds) is closed once the reaper
    /// finishes, and a descriptor handed over after that is closed at once.
    #[test]
    fn every_descriptor_is_closed_by_finish() {
        let r = Reaper::default();
        let mut reads = Vec::new();
        for _ in 0..(DEPTH * 2) {
            let (rd, w) = pipe();
            reads.push(rd);
            r.close(w);
        }
        r.finish();
        assert!(reads.iter_mut().all(closed));
        let (mut rd, w) = pipe();
        r.close(w);
        assert!(closed(&mut rd));
    }

    /// Without `finish`, the threads close what comes while the mount goes on.
    #[test]
    fn descriptors_are_closed_in_the_background() {
        let r = Reaper::default();
        let (mut rd, w) = pipe();
        r.close(w);
        let t = std::time::Instant::now();
        while !closed(&mut rd) {
            assert!(
                t.elapsed() < std::time::Duration::from_secs(10),
                "never closed"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}
