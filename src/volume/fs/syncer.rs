//! Making new directory ids (and long-name sidecars) durable off the reply path. A MKDIR
//! used to fsync the new directory's id file before answering: 400-850 µs on this
//! machine's ext4, most of a MKDIR, a fifth of an untar. Now the id file is written (a
//! crash of the daemon cannot lose it: it is in the page cache) and handed here; a
//! thread fsyncs it moments later. Every FSYNC and FSYNCDIR first waits until all that was
//! handed over before it is durable ([`Syncer::wait`]), so whatever a program fsyncs never
//! outlives the id its name was encrypted under, as before; only a system crash within
//! those moments can lose the id of a directory nothing in which was fsynced (as
//! gocryptfs, which never fsyncs its `gocryptfs.diriv`, can lose it at any time).
//!
//! The queue is bounded ([`DEPTH`]): when it is full the file is fsynced at once. A failed
//! fsync is kept and returned by the next [`Syncer::wait`]. The mount daemon waits for the
//! queue when its mount ends (`VolumeFs::settle`: other threads may keep the file system
//! alive past it), and dropping the syncer fsyncs everything queued first.

use std::fs::File;
use std::io;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;

/// Files queued at most.
const DEPTH: usize = 1024;

#[derive(Default)]
struct State {
    files: Vec<File>,
    /// Files ever queued, and of them fsynced (or failed).
    queued: u64,
    done: u64,
    /// The first failure not yet returned by `wait`.
    failed: Option<io::Error>,
    /// Set by `finish` (or when no thread could start): fsync at once from then on.
    stop: bool,
}

#[derive(Default)]
struct Shared {
    st: Mutex<State>,
    /// Wakes the thread: files queued, or stop.
    work: Condvar,
    /// Wakes waiters: files done.
    done: Condvar,
}

#[derive(Default)]
pub(super) struct Syncer {
    shared: Arc<Shared>,
    /// The thread, started on first use.
    thread: OnceLock<Mutex<Option<JoinHandle<()>>>>,
}

impl Syncer {
    /// Make `f` durable soon (at once if the queue is full or no thread runs).
    pub(super) fn sync_later(&self, f: File) -> io::Result<()> {
        self.thread.get_or_init(|| Mutex::new(start(&self.shared)));
        let mut st = self.shared.st.lock().expect("syncer");
        if st.stop || st.files.len() >= DEPTH {
            drop(st);
            return f.sync_all();
        }
        st.files.push(f);
        st.queued += 1;
        drop(st);
        self.shared.work.notify_one();
        Ok(())
    }

    /// Wait until every file handed over so far is durable; the first failure since the
    /// last wait, if any.
    pub(super) fn wait(&self) -> io::Result<()> {
        let mut st = self.shared.st.lock().expect("syncer");
        let target = st.queued;
        while st.done < target {
            st = self.shared.done.wait(st).expect("syncer");
        }
        match st.failed.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Fsync everything queued and stop the thread (a later [`sync_later`](Self::sync_later)
    /// fsyncs at once).
    pub(super) fn finish(&self) {
        self.shared.st.lock().expect("syncer").stop = true;
        self.shared.work.notify_all();
        // Never started: none will be.
        let thread = self.thread.get_or_init(|| Mutex::new(None));
        if let Some(t) = thread.lock().expect("syncer").take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
impl Syncer {
    fn st(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.st.lock().expect("syncer")
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The thread serving `shared`; if it cannot be started, the queue is stopped.
fn start(shared: &Arc<Shared>) -> Option<JoinHandle<()>> {
    let s = shared.clone();
    let t = std::thread::Builder::new()
        .name("kmsfs-syncer".into())
        .spawn(move || run(&s))
        .ok();
    if t.is_none() {
        shared.st.lock().expect("syncer").stop = true;
    }
    t
}

/// The thread: fsync what is queued, batch by batch, until `finish` and the queue is empty.
fn run(s: &Shared) {
    loop {
        let mut st = s.st.lock().expect("syncer");
        while st.files.is_empty() && !st.stop {
            st = s.work.wait(st).expect("syncer");
        }
        if st.files.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut st.files);
        drop(st);
        let mut failed = None;
        for f in &batch {
            if let Err(e) = f.sync_all() {
                failed.get_or_insert(e);
            }
        }
        let mut st = s.st.lock().expect("syncer");
        st.done += batch.len() as u64;
        if let Some(e) = failed {
            st.failed.get_or_insert(e);
        }
        drop(st);
        s.done.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What is handed over is waited for; a wait with nothing queued returns at once; after
    /// `finish` files are fsynced at once and `wait` still works.
    #[test]
    fn waits_cover_what_was_handed_over() {
        let dir = tempfile::tempdir().unwrap();
        let s = Syncer::default();
        s.wait().unwrap();
        for i in 0..(DEPTH + 10) {
            let f = File::create(dir.path().join(format!("f{i}"))).unwrap();
            s.sync_later(f).unwrap();
        }
        s.wait().unwrap();
        let st = s.st();
        assert_eq!(st.done, st.queued);
        assert!(st.files.is_empty());
        drop(st);
        s.finish();
        s.sync_later(File::create(dir.path().join("late")).unwrap())
            .unwrap();
        s.wait().unwrap();
    }

    fn counts(fs: &crate::volume::VolumeFs) -> (u64, u64) {
        let st = fs.syncer.st();
        (st.queued, st.done)
    }

    /// A new directory's id and a long name's sidecar are left to the syncer, and FSYNC
    /// and FSYNCDIR wait for them.
    #[test]
    fn mkdir_leaves_its_id_to_the_syncer_and_fsyncs_wait() {
        use crate::crypto::SecretKey;
        use crate::volume::fs::{Caller, ROOT};
        use crate::volume::keys::VolumeKeys;
        use std::ffi::OsStr;
        let me = Caller { uid: 0, gid: 0 };
        let tmp = tempfile::tempdir().unwrap();
        let keys = VolumeKeys::derive(&SecretKey::from_slice(&[9; 32]).unwrap());
        let fs = crate::volume::VolumeFs::new(tmp.path(), Some(keys), 1 << 30).unwrap();
        assert_eq!(counts(&fs), (1, 1), "the root's id, made durable at once");
        let d = fs.mkdir(ROOT, OsStr::new("d"), 0o755, me).unwrap();
        assert_eq!(counts(&fs).0, 2);
        fs.fsyncdir(ROOT).unwrap();
        assert_eq!(counts(&fs), (2, 2));
        let long = "n".repeat(200);
        let (_, fh) = fs
            .create(d.ino, OsStr::new(&long), 0o644, libc::O_RDWR, me)
            .unwrap();
        assert_eq!(counts(&fs).0, 3, "the long name's sidecar");
        fs.fsync(fh, false).unwrap();
        assert_eq!(counts(&fs), (3, 3));
        fs.release(fh);
        fs.mkdir(d.ino, OsStr::new("e"), 0o755, me).unwrap();
        fs.settle().unwrap();
        assert_eq!(counts(&fs), (4, 4), "settled, as at unmount");
    }

    /// A failed fsync is returned by the next wait, once.
    #[test]
    fn a_failure_is_returned_by_the_next_wait() {
        let s = Syncer::default();
        // fsync of a pipe fails (EINVAL).
        let (r, _w) = nix::unistd::pipe().unwrap();
        s.sync_later(File::from(r)).unwrap();
        assert!(s.wait().is_err());
        s.wait().unwrap();
    }
}
