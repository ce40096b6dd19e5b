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
//! [`BATCH`], and closes what is queued after [`LINGER`] at the latest. Dropping the reaper
//! (the file system's end, at unmount) closes every queued descriptor first.

use std::os::fd::OwnedFd;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

/// Descriptors queued at most.
pub(super) const DEPTH: usize = 256;
/// A thread is woken when this many are queued.
const BATCH: usize = 32;
/// The longest a queued descriptor waits for a batch to fill.
const LINGER: Duration = Duration::from_millis(5);
/// Reaper threads: the device serves discards in parallel.
const THREADS: usize = 2;

#[derive(Default)]
struct Queue {
    fds: Vec<OwnedFd>,
    /// Set by `finish` (or when no thread could start): close everything, then stop.
    stop: bool,
}

#[derive(Default)]
struct Shared {
    q: Mutex<Queue>,
    cv: Condvar,
}

#[derive(Default)]
pub(super) struct Reaper {
    shared: Arc<Shared>,
    /// The threads, started on first use.
    threads: OnceLock<Mutex<Vec<JoinHandle<()>>>>,
}

impl Reaper {
    /// Close `fd` on a reaper thread (at once if the queue is full or no thread runs).
    pub(super) fn close(&self, fd: OwnedFd) {
        self.threads.get_or_init(|| Mutex::new(start(&self.shared)));
        let mut q = self.shared.q.lock().expect("reaper queue");
        if q.stop || q.fds.len() >= DEPTH {
            drop(q);
            drop(fd);
            return;
        }
        q.fds.push(fd);
        let n = q.fds.len();
        drop(q);
        if n == 1 || n == BATCH {
            self.shared.cv.notify_one();
        }
    }

    /// Close every queued descriptor and stop the threads (a later [`close`](Self::close)
    /// closes at once).
    pub(super) fn finish(&self) {
        self.shared.q.lock().expect("reaper queue").stop = true;
        self.shared.cv.notify_all();
        // Never started: none will be.
        let threads = self.threads.get_or_init(|| Mutex::new(Vec::new()));
        let threads = std::mem::take(&mut *threads.lock().expect("reaper"));
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The threads serving `shared`; if none can be started, the queue is stopped (descriptors
/// are then closed at once).
fn start(shared: &Arc<Shared>) -> Vec<JoinHandle<()>> {
    let mut threads = Vec::with_capacity(THREADS);
    for i in 0..THREADS {
        let s = shared.clone();
        match std::thread::Builder::new()
            .name(format!("kmsfs-reaper-{i}"))
            .spawn(move || reap(&s))
        {
            Ok(t) => threads.push(t),
            Err(_) => break,
        }
    }
    if threads.is_empty() {
        shared.q.lock().expect("reaper queue").stop = true;
    }
    threads
}

/// One reaper thread: close batches until `finish`, then what is left.
fn reap(s: &Shared) {
    loop {
        let mut q = s.q.lock().expect("reaper queue");
        loop {
            if q.stop || q.fds.len() >= BATCH {
                break;
            }
            if q.fds.is_empty() {
                q = s.cv.wait(q).expect("reaper queue");
                continue;
            }
            let (g, waited) = s.cv.wait_timeout(q, LINGER).expect("reaper queue");
            q = g;
            if waited.timed_out() {
                break;
            }
        }
        // Everything queued: the other thread takes the next batch meanwhile.
        let batch = std::mem::take(&mut q.fds);
        let stop = q.stop;
        drop(q);
        drop(batch);
        if stop {
            return;
        }
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
