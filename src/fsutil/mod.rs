//! Durable file primitives: atomic replace (temp, fsync, rename, fsync dir), exclusive
//! creation of secret files (mode 0600), and advisory locks with a timeout.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub mod at;
pub mod at_path;
pub mod xattr;

/// Write `data` to `path` atomically: a reader sees the old contents or the new, never a mix,
/// and once this returns the new contents survive a crash. `mode` is applied to the new file.
pub fn atomic_write(path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    let mut f = PendingFile::create(path, mode)?;
    f.writer().write_all(data)?;
    f.commit()
}

/// A new file that replaces `path` only when committed: it is written as a temporary file
/// beside `path` (same directory, so the rename is atomic), and `commit` fsyncs it, renames it
/// over `path` and fsyncs the directory. Dropped uncommitted, the temporary file is removed,
/// so a failed write leaves neither a partial file nor litter.
#[derive(Debug)]
pub struct PendingFile {
    tmp: PathBuf,
    path: PathBuf,
    file: Option<File>,
}

impl PendingFile {
    /// A pending replacement of `path`, created with `mode`; the temporary file is
    /// `.NAME.tmp.PID.N` beside it.
    pub fn create(path: &Path, mode: u32) -> io::Result<PendingFile> {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
        let tmp = parent_dir(path).join(format!(
            ".{name}.tmp.{}.{}",
            std::process::id(),
            unique_suffix()
        ));
        PendingFile::create_as(path, tmp, mode)
    }

    /// As [`PendingFile::create`], with the temporary file's path chosen by the caller (it
    /// must be in the same file system as `path`).
    pub fn create_as(path: &Path, tmp: PathBuf, mode: u32) -> io::Result<PendingFile> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        Ok(PendingFile {
            tmp,
            path: path.to_path_buf(),
            file: Some(file),
        })
    }

    /// The file being written.
    pub fn file(&self) -> &File {
        self.file.as_ref().expect("open until committed")
    }

    /// The file being written, for `Write`.
    pub fn writer(&mut self) -> &mut File {
        self.file.as_mut().expect("open until committed")
    }

    /// Where the contents go while pending (for error messages).
    pub fn tmp_path(&self) -> &Path {
        &self.tmp
    }

    /// Make the contents durable and put them in place.
    pub fn commit(mut self) -> io::Result<()> {
        let f = self.file.take().expect("open until committed");
        let r = (|| {
            f.sync_all()?;
            drop(f);
            fs::rename(&self.tmp, &self.path)?;
            fsync_dir(&parent_dir(&self.path))
        })();
        if r.is_err() {
            let _ = fs::remove_file(&self.tmp);
        }
        r
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Fill `buf` from `r` until it is full or `r` ends; returns the bytes read (less than
/// `buf.len()` only at the end of the input). Interrupted reads are retried.
pub fn read_full(r: &mut impl io::Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The name prefix of temp files named after their writer's pid (`.tmp.<pid>.<n>`), as the
/// object PUTs and the snapshot store write them.
pub const TEMP_PREFIX: &str = ".tmp.";

/// Whether `name` is a temp file `.tmp.<pid>.…` of a writer whose process is gone (a crash
/// between create and rename); a live writer's pid is alive, so its file stays.
pub fn dead_writers_temp(name: &std::ffi::OsStr) -> bool {
    let Some(pid) = name
        .to_str()
        .and_then(|n| n.strip_prefix(TEMP_PREFIX))
        .and_then(|n| n.split('.').next())
        .and_then(|n| n.parse::<i32>().ok())
    else {
        return false;
    };
    pid <= 0
        || nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
            == Err(nix::errno::Errno::ESRCH)
}

/// Remove `path` and make the removal durable.
pub fn durable_remove(path: &Path) -> io::Result<()> {
    fs::remove_file(path)?;
    fsync_dir(&parent_dir(path))
}

/// fsync a directory so that renames and creations inside it are durable.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Create a directory (and parents) with the given mode, fsyncing the parent.
pub fn create_dir_durable(dir: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)?;
    fsync_dir(&parent_dir(dir))
}

/// The directory `path` is in (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn unique_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// An exclusive advisory lock on a file, released on drop.
#[derive(Debug)]
pub struct FileLock {
    file: File,
}

impl FileLock {
    /// Take the lock, waiting up to `timeout`. On timeout the error is `WouldBlock`.
    pub fn acquire(path: &Path, timeout: Duration) -> io::Result<FileLock> {
        FileLock::acquire_as(path, timeout, false)
    }

    /// As [`FileLock::acquire`], but shared: other shared holders may hold it too, an
    /// exclusive holder waits for all of them.
    pub fn acquire_shared(path: &Path, timeout: Duration) -> io::Result<FileLock> {
        FileLock::acquire_as(path, timeout, true)
    }

    fn acquire_as(path: &Path, timeout: Duration, shared: bool) -> io::Result<FileLock> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        let start = Instant::now();
        let mut sleep = Duration::from_micros(200);
        loop {
            let r = if shared {
                file.try_lock_shared()
            } else {
                file.try_lock()
            };
            match r {
                Ok(()) => return Ok(FileLock { file }),
                Err(TryLockError::WouldBlock) => {
                    if start.elapsed() >= timeout {
                        return Err(io::Error::new(
                            io::ErrorKind::WouldBlock,
                            "held by another process",
                        ));
                    }
                    std::thread::sleep(sleep);
                    sleep = (sleep * 2).min(Duration::from_millis(20));
                }
                Err(TryLockError::Error(e)) => return Err(e),
            }
        }
    }

    /// The locked file (for callers that keep data in it).
    pub fn file(&self) -> &File {
        &self.file
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// How long to wait for a lock held by another process: `KMSFS_LOCK_TIMEOUT_MS`, default 10 s.
pub fn lock_timeout() -> Duration {
    std::env::var("KMSFS_LOCK_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(10))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn atomic_write_replaces_and_sets_mode() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        atomic_write(&p, b"one", 0o600).unwrap();
        atomic_write(&p, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            fs::read_dir(d.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn pending_file_commits_or_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out");
        let mut f = PendingFile::create(&p, 0o600).unwrap();
        f.writer().write_all(b"partial").unwrap();
        drop(f);
        assert_eq!(
            fs::read_dir(d.path()).unwrap().count(),
            0,
            "dropped: no litter"
        );
        let mut f = PendingFile::create(&p, 0o644).unwrap();
        f.writer().write_all(b"whole").unwrap();
        assert!(!p.exists(), "not visible before commit");
        f.commit().unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"whole");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn read_full_fills_across_short_reads() {
        struct Dribble<'a>(&'a [u8]);
        impl io::Read for Dribble<'_> {
            fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(b.len()).min(3);
                b[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut buf = [0u8; 8];
        assert_eq!(read_full(&mut Dribble(b"0123456789"), &mut buf).unwrap(), 8);
        assert_eq!(&buf, b"01234567");
        assert_eq!(read_full(&mut Dribble(b"01"), &mut buf).unwrap(), 2);
    }

    #[test]
    fn lock_times_out_while_held() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("lock");
        let held = FileLock::acquire(&p, Duration::from_secs(1)).unwrap();
        let e = FileLock::acquire(&p, Duration::from_millis(50)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        drop(held);
        FileLock::acquire(&p, Duration::from_millis(50)).unwrap();
    }
}
