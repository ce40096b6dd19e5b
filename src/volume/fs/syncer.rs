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

use super::background::{Background, Config};
use std::fs::File;
use std::io;

/// Files queued at most.
const DEPTH: usize = 1024;

static SYNCER: Config<File> = Config {
    name: "syncer",
    threads: 1,
    depth: DEPTH,
    batch: 1,
    linger: None,
    work: |files| {
        let mut failed = None;
        for f in &files {
            if let Err(e) = f.sync_all() {
                failed.get_or_insert(e);
            }
        }
        failed.map_or(Ok(()), Err)
    },
};

pub(super) struct Syncer(Background<File>);

impl Default for Syncer {
    fn default() -> Self {
        Syncer(Background::new(&SYNCER))
    }
}

impl Syncer {
    /// Make `f` durable soon (at once if the queue is full or no thread runs).
    pub(super) fn sync_later(&self, f: File) -> io::Result<()> {
        match self.0.push(f) {
            Ok(()) => Ok(()),
            Err(f) => f.sync_all(),
        }
    }

    /// Wait until every file handed over so far is durable; the first failure since the
    /// last wait, if any.
    pub(super) fn wait(&self) -> io::Result<()> {
        self.0.wait()
    }

    /// Fsync everything queued and stop the thread (a later [`sync_later`](Self::sync_later)
    /// fsyncs at once).
    #[cfg(test)]
    fn finish(&self) {
        self.0.finish();
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
        let (queued, done) = s.0.counts();
        assert_eq!(done, queued);
        s.finish();
        s.sync_later(File::create(dir.path().join("late")).unwrap())
            .unwrap();
        s.wait().unwrap();
    }

    fn counts(fs: &crate::volume::VolumeFs) -> (u64, u64) {
        fs.syncer.0.counts()
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
