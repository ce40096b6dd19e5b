//! Adaptive polling of `/dev/fuse`. Each FUSE round trip normally costs the daemon a sleep
//! and a wake-up; on a small VM that scheduling, not the work, is most of a metadata
//! operation's cost. While requests keep coming, one dispatch loop reads its `/dev/fuse`
//! descriptor without blocking (fuser retries `EAGAIN` at once), so it is already running
//! when the next request arrives; after `window` without a request it goes back to a
//! blocking read. The other loops always block, so at most one core ever spins, and only
//! for a short while after the last request. Polling pays only when requests come one at a
//! time (a process doing one file operation after another). When requests overlap (parallel
//! I/O, e.g. two readers) or most of them move file contents (streams, whose read-ahead
//! and write-back already hide the wake-up), the polling core is better left to the work,
//! so polling stops for [`BACK_OFF`].
//!
//! fuser owns the read loop, so this works from outside it: `O_NONBLOCK` is a flag of the
//! open file description, shared by a `dup` of the session's descriptor, and a small
//! controller thread sets and clears it. The FUSE adaptor calls [`Spin::note`] on every
//! request.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The environment variable that sets the idle window in microseconds (0 turns spinning off).
pub(crate) const ENV: &str = "KMSFS_FUSE_SPIN_US";

/// Default idle window: a little longer than the gap between the requests of one
/// process's back-to-back file operations, short enough that an idle mount is idle.
pub(crate) const DEFAULT_WINDOW: Duration = Duration::from_micros(250);

/// How long polling stays off once requests were found to come in parallel.
pub(crate) const BACK_OFF: Duration = Duration::from_millis(100);

/// Requests are "in parallel" when, at the controller's checks (one per window) of a polling
/// episode, two or more were being served at once at least 1 time in `PARALLEL_SHARE`
/// (and at least `PARALLEL_MIN` times).
const PARALLEL_SHARE: u64 = 4;
const PARALLEL_MIN: u64 = 4;
/// Polling stops (for [`BACK_OFF`]) as well when at least 1 in `DATA_SHARE` requests of an
/// episode (and at least `DATA_MIN`) read or write file contents: streams of reads and
/// writes keep several requests in flight through read-ahead and write-back, so the
/// round trip's wake-up is hidden there, and the polling core is better used for their work.
const DATA_SHARE: u64 = 2;
const DATA_MIN: u64 = 4;

struct Inner {
    fd: OwnedFd,
    window: Duration,
    /// Requests seen so far (compared across one window to detect idleness).
    hits: AtomicU64,
    /// Requests being served now (not counting those nobody waits for).
    inflight: AtomicU64,
    /// Of those, the reads and writes of file contents.
    data: AtomicU64,
    /// Whether the descriptor is non-blocking now.
    active: AtomicBool,
    /// Whether a request asked the controller to start spinning.
    wanted: AtomicBool,
    /// `true` once the session has ended.
    stop: Mutex<bool>,
    wake: Condvar,
}

/// The spin controller of one mount. Dropping it stops the controller and restores
/// blocking reads.
pub(crate) struct Spin {
    inner: Arc<Inner>,
    thread: Option<JoinHandle<()>>,
}

/// The idle window from the environment (`None` when spinning is off).
pub(crate) fn window_from_env() -> Option<Duration> {
    match std::env::var(ENV).ok().and_then(|v| v.parse::<u64>().ok()) {
        Some(0) => None,
        Some(us) => Some(Duration::from_micros(us)),
        None => Some(DEFAULT_WINDOW),
    }
}

fn set_nonblocking(fd: &OwnedFd, on: bool) {
    // SAFETY: fcntl on a descriptor we own; F_GETFL/F_SETFL take no pointers.
    unsafe {
        let fl = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        if fl < 0 {
            return;
        }
        let want = if on {
            fl | libc::O_NONBLOCK
        } else {
            fl & !libc::O_NONBLOCK
        };
        if want != fl {
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, want);
        }
    }
}

impl Spin {
    /// Start a controller for the session descriptor `fd` (duplicated; the caller keeps its own).
    pub(crate) fn start(fd: BorrowedFd<'_>, window: Duration) -> std::io::Result<Spin> {
        let inner = Arc::new(Inner {
            fd: fd.try_clone_to_owned()?,
            window,
            hits: AtomicU64::new(0),
            inflight: AtomicU64::new(0),
            data: AtomicU64::new(0),
            active: AtomicBool::new(false),
            wanted: AtomicBool::new(false),
            stop: Mutex::new(false),
            wake: Condvar::new(),
        });
        let i = inner.clone();
        let thread = std::thread::Builder::new()
            .name("fuse-spin".into())
            .spawn(move || control(&i))?;
        Ok(Spin {
            inner,
            thread: Some(thread),
        })
    }

    /// Count a request of kind `k`; the returned guard marks it served when dropped. Starts
    /// spinning if the loop is blocking now. Cheap when spinning.
    pub(crate) fn note(&self, k: Req) -> Busy<'_> {
        let i = &self.inner;
        let waited = k != Req::Async;
        if waited {
            i.inflight.fetch_add(1, Ordering::AcqRel);
        }
        if k == Req::Data {
            i.data.fetch_add(1, Ordering::Relaxed);
        }
        i.hits.fetch_add(1, Ordering::Relaxed);
        if !i.active.load(Ordering::Relaxed) && !i.wanted.swap(true, Ordering::AcqRel) {
            let _g = i.stop.lock().expect("spin lock");
            i.wake.notify_one();
        }
        Busy { spin: self, waited }
    }

    /// Whether the descriptor is non-blocking now (for tests).
    #[cfg(test)]
    fn spinning(&self) -> bool {
        self.inner.active.load(Ordering::Relaxed)
    }
}

/// What a request is, for the polling rules.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Req {
    /// A request its caller waits for that does not move file contents (lookup, create, ...).
    Meta,
    /// A read or write of file contents.
    Data,
    /// A request nobody waits for (release, forget).
    Async,
}

/// A request being served (see [`Spin::note`]).
pub(crate) struct Busy<'a> {
    spin: &'a Spin,
    waited: bool,
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        if self.waited {
            self.spin.inner.inflight.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Drop for Spin {
    fn drop(&mut self) {
        *self.inner.stop.lock().expect("spin lock") = true;
        self.inner.wake.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        set_nonblocking(&self.inner.fd, false);
    }
}

fn control(i: &Inner) {
    loop {
        {
            let mut stop = i.stop.lock().expect("spin lock");
            while !*stop && !i.wanted.load(Ordering::Acquire) {
                stop = i.wake.wait(stop).expect("spin lock");
            }
            if *stop {
                return;
            }
        }
        set_nonblocking(&i.fd, true);
        i.active.store(true, Ordering::Release);
        i.wanted.store(false, Ordering::Release);
        let h0 = i.hits.load(Ordering::Relaxed);
        let (mut checks, mut crowded) = (0u64, 0u64);
        let d0 = i.data.load(Ordering::Relaxed);
        let mut last = h0;
        let parallel = loop {
            std::thread::sleep(i.window);
            if *i.stop.lock().expect("spin lock") {
                return;
            }
            let now = i.hits.load(Ordering::Relaxed);
            if now == last {
                break false;
            }
            last = now;
            checks += 1;
            if i.inflight.load(Ordering::Acquire) >= 2 {
                crowded += 1;
            }
            let data = i.data.load(Ordering::Relaxed) - d0;
            let all = now - h0;
            if (crowded >= PARALLEL_MIN && crowded * PARALLEL_SHARE >= checks)
                || (data >= DATA_MIN && data * DATA_SHARE >= all)
            {
                break true;
            }
        };
        set_nonblocking(&i.fd, false);
        i.active.store(false, Ordering::Release);
        // A request that came between the last check and now finds `active` false and
        // sets `wanted` again, so spinning resumes with the next burst.
        if parallel {
            let until = std::time::Instant::now() + BACK_OFF;
            let mut stop = i.stop.lock().expect("spin lock");
            while !*stop {
                let Some(left) = until.checked_duration_since(std::time::Instant::now()) else {
                    break;
                };
                stop = i.wake.wait_timeout(stop, left).expect("spin lock").0;
            }
            if *stop {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    fn nonblocking(fd: &impl AsRawFd) -> bool {
        // SAFETY: F_GETFL on an open descriptor.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) & libc::O_NONBLOCK != 0 }
    }

    #[test]
    fn spins_while_busy_and_stops_when_idle() {
        let (r, _w) = std::io::pipe().unwrap();
        let fd: OwnedFd = r.into();
        // A window long enough that a loaded machine's scheduling stalls do not end it.
        let w = Duration::from_millis(100);
        let s = Spin::start(fd.as_fd(), w).unwrap();
        assert!(!nonblocking(&fd));
        drop(s.note(Req::Meta));
        let t = std::time::Instant::now();
        while !s.spinning() && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(
            s.spinning() && nonblocking(&fd),
            "a request starts spinning"
        );
        // Busy: requests within the window keep it spinning.
        for _ in 0..10 {
            drop(s.note(Req::Meta));
            let t = std::time::Instant::now();
            std::thread::sleep(Duration::from_millis(5));
            let on = nonblocking(&fd);
            // Only when this thread kept up: a stall longer than the window is idleness.
            if t.elapsed() < w / 2 {
                assert!(on, "requests within the window keep it spinning");
            }
        }
        // Idle: it goes back to blocking reads after one to two windows.
        let t = std::time::Instant::now();
        while s.spinning() && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(!s.spinning() && !nonblocking(&fd), "idle stops spinning");
        drop(s.note(Req::Meta));
        let t = std::time::Instant::now();
        while !s.spinning() && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(nonblocking(&fd), "the next burst spins again");
        drop(s);
        assert!(
            !nonblocking(&fd),
            "dropping the controller restores blocking reads"
        );
    }

    #[test]
    fn parallel_requests_stop_polling() {
        let (r, _w) = std::io::pipe().unwrap();
        let fd: OwnedFd = r.into();
        let s = Arc::new(Spin::start(fd.as_fd(), Duration::from_millis(20)).unwrap());
        drop(s.note(Req::Meta));
        let t = std::time::Instant::now();
        while !s.spinning() && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(s.spinning());
        // Another loop serves long requests while this one's come: they overlap, and polling
        // stops although requests keep coming, and stays off for the back-off.
        let done = Arc::new(AtomicBool::new(false));
        let other = {
            let (s, done) = (s.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    let _b = s.note(Req::Meta);
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
        };
        let t = std::time::Instant::now();
        let mut stopped = false;
        while t.elapsed() < Duration::from_secs(2) {
            let _b = s.note(Req::Meta);
            std::thread::sleep(Duration::from_millis(1));
            if !s.spinning() {
                stopped = true;
                break;
            }
        }
        done.store(true, Ordering::Relaxed);
        other.join().unwrap();
        assert!(stopped, "parallel requests kept polling on");
        let t = std::time::Instant::now();
        for _ in 0..10 {
            drop(s.note(Req::Meta));
            std::thread::sleep(Duration::from_millis(1));
        }
        // (Only meaningful if this thread was not held up past the back-off.)
        if t.elapsed() < BACK_OFF / 2 {
            assert!(!s.spinning(), "polling resumed during the back-off");
        }
        assert!(!nonblocking(&fd));
    }
}
