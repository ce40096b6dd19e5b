//! The token buckets of one account and region, shared by every process of the home: the
//! file `kms/quota-state/<account>.<region>` (docs/FORMAT.md "KMS request quotas"), one
//! line per family with its tokens and the wall-clock time (µs) they were counted at. A
//! request takes the file's exclusive `flock` (and, within the process, a mutex: a `flock`
//! belongs to an open file, which threads share), reads it, refills its family's bucket
//! for the time passed, takes a token if there is one, and writes it back in place. The
//! file is runtime state, not metadata: a line that does not parse (a crash mid-write)
//! counts as a full bucket.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// The first line of a state file.
const MAGIC: &str = "kmsfs-quota-state 1";

/// The folder of the state files in the KMS directory.
pub(super) fn dir(kms_dir: &Path) -> PathBuf {
    kms_dir.join("quota-state")
}

/// The buckets of one account and region.
#[derive(Debug)]
pub(super) struct SharedBuckets {
    path: PathBuf,
    /// The state file, opened on the first request.
    file: Mutex<Option<File>>,
}

/// One family's bucket: tokens left, and when they were counted (µs since the epoch).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bucket {
    tokens: f64,
    at_us: u64,
}

impl Bucket {
    /// The bucket at `now_us`, refilled at `rate` per second up to `capacity`.
    fn refilled(self, now_us: u64, rate: f64, capacity: f64) -> Bucket {
        let elapsed = now_us.saturating_sub(self.at_us) as f64 / 1e6;
        Bucket {
            tokens: (self.tokens + elapsed * rate).min(capacity),
            at_us: now_us,
        }
    }
}

/// A bucket holds one second's worth of requests, and at least one.
fn capacity(rate: f64) -> f64 {
    rate.max(1.0)
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

impl SharedBuckets {
    pub(super) fn new(kms_dir: &Path, account_id: &str, region: &str) -> SharedBuckets {
        SharedBuckets {
            path: dir(kms_dir).join(format!("{account_id}.{region}")),
            file: Mutex::new(None),
        }
    }

    /// Take a token from `family`'s bucket (refilled at `rate` per second): whether there
    /// was one.
    pub(super) fn take(&self, family: &str, rate: f64) -> io::Result<bool> {
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            *guard = Some(self.open()?);
        }
        let file = guard.as_ref().expect("opened above");
        file.lock()?;
        let r = take_locked(file, family, rate, now_us());
        let u = file.unlock();
        let taken = r?;
        u?;
        Ok(taken)
    }

    fn open(&self) -> io::Result<File> {
        let ctx = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", self.path.display()));
        let dir = self.path.parent().expect("state files are in a folder");
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(ctx)?;
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&self.path)
            .map_err(ctx)
    }
}

/// [`SharedBuckets::take`] with the file locked.
fn take_locked(file: &File, family: &str, rate: f64, now: u64) -> io::Result<bool> {
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    loop {
        let n = file.read_at(&mut buf[len..], len as u64)?;
        if n == 0 {
            break;
        }
        len += n;
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
    }
    let mut lines = parse(&String::from_utf8_lossy(&buf[..len]));
    let cap = capacity(rate);
    let b = match lines.iter().position(|(f, _)| f == family) {
        Some(i) => lines.remove(i).1,
        None => Bucket {
            tokens: cap,
            at_us: now,
        },
    };
    let mut b = b.refilled(now, rate, cap);
    let taken = b.tokens >= 1.0;
    if taken {
        b.tokens -= 1.0;
    }
    lines.push((family.to_string(), b));
    let text = render(&lines);
    file.write_at(text.as_bytes(), 0)?;
    file.set_len(text.len() as u64)?;
    Ok(taken)
}

/// The buckets of a state file's text; lines that do not parse are left out.
fn parse(text: &str) -> Vec<(String, Bucket)> {
    let mut lines = text.lines();
    if lines.next() != Some(MAGIC) {
        return Vec::new();
    }
    lines
        .filter_map(|l| {
            let mut w = l.split(' ');
            let (f, t, a) = (w.next()?, w.next()?, w.next()?);
            let tokens: f64 = t.parse().ok().filter(|t: &f64| t.is_finite())?;
            let at_us: u64 = a.parse().ok()?;
            (w.next().is_none() && !f.is_empty()).then(|| (f.to_string(), Bucket { tokens, at_us }))
        })
        .collect()
}

fn render(lines: &[(String, Bucket)]) -> String {
    let mut s = format!("{MAGIC}\n");
    for (f, b) in lines {
        s.push_str(&format!("{f} {} {}\n", b.tokens, b.at_us));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_refills_at_its_rate_up_to_one_second() {
        let b = Bucket {
            tokens: 0.0,
            at_us: 1_000_000,
        };
        let r = b.refilled(1_500_000, 20.0, 20.0);
        assert!((r.tokens - 10.0).abs() < 1e-9);
        assert_eq!(b.refilled(9_000_000, 20.0, 20.0).tokens, 20.0);
        // A clock that went back refills nothing.
        assert_eq!(b.refilled(0, 20.0, 20.0).tokens, 0.0);
    }

    #[test]
    fn the_state_file_counts_tokens_and_survives_garbage() {
        let d = tempfile::tempdir().unwrap();
        let f = tempfile::tempfile_in(d.path()).unwrap();
        let t0 = 10_000_000;
        for _ in 0..5 {
            assert!(take_locked(&f, "symmetric", 5.0, t0).unwrap());
        }
        assert!(!take_locked(&f, "symmetric", 5.0, t0).unwrap());
        assert!(take_locked(&f, "DescribeKey", 5.0, t0).unwrap());
        // 200 ms later: one more token.
        assert!(take_locked(&f, "symmetric", 5.0, t0 + 200_000).unwrap());
        assert!(!take_locked(&f, "symmetric", 5.0, t0 + 200_000).unwrap());
        let mut text = String::new();
        std::io::Read::read_to_string(&mut &f, &mut text).unwrap();
        assert_eq!(parse(&text).len(), 2, "{text}");
        f.write_at(b"garbage\nsymmetric x y\n", 0).unwrap();
        assert!(take_locked(&f, "symmetric", 5.0, t0).unwrap());
    }

    #[test]
    fn threads_and_handles_share_the_buckets() {
        let d = tempfile::tempdir().unwrap();
        let a = SharedBuckets::new(d.path(), "111122223333", "us-east-1");
        let b = SharedBuckets::new(d.path(), "111122223333", "us-east-1");
        let taken = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|i| {
                    let q = if i % 2 == 0 { &a } else { &b };
                    s.spawn(move || (0..50).filter(|_| q.take("f", 0.001).unwrap()).count())
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum::<usize>()
        });
        assert_eq!(taken, 1, "a bucket of 1 token, shared");
    }
}
