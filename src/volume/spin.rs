//! Adaptive polling of `/dev/fuse`. Each FUSE round trip normally costs the daemon a sleep
//! and a wake-up; on a small VM that scheduling, not the work, is most of a metadata
//! operation's cost. While requests keep coming, one dispatch loop reads its `/dev/fuse`
//! descriptor without blocking (fuser retries `EAGAIN` at once), so it is already running
//! when the next request arrives; after `window` without a request it goes back to a
//! blocking read. The other loops always block, so at most one core ever spins, and only
//! for a short while after the last request. While polling is on, the other loops' threads
//! also park after serving a request, outside their read (see [`Spin::start`]): blocked in
//! it, one of them was woken at every request the polling loop then took, an interrupt and
//! two context switches per round trip (an untar ran 0.90x as long without them). Polling
//! pays only when requests come one at a time (a process doing one file operation after
//! another). When requests overlap (parallel I/O, e.g. two readers) or most of them move
//! file contents (streams, whose read-ahead and write-back already hide the wake-up), the
//! polling core is better left to the work, so polling stops for [`BACK_OFF`]; the parked
//! loops go back to their reads whenever polling stops. Overlapping requests that move no
//! contents (two processes making files) are not seen as two in service while the other
//! loops stand aside, but as a backlog on the polling loop ([`QUEUED`]), which stops
//! polling too.
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
/// While the other loops stand aside, overlap shows as a backlog: a request already queued
/// when the polling loop is done with the last one, so that it comes within [`QUEUED`] of
/// that (a caller that waits for each answer cannot send its next request that soon: it
/// has to be woken first). Polling stops when at least 1 in `QUEUED_SHARE` of the polling
/// loop's requests (and at least `QUEUED_MIN`) came so.
const QUEUED: Duration = Duration::from_micros(2);
const QUEUED_SHARE: u64 = 4;
const QUEUED_MIN: u64 = 8;

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
    /// The name of the thread whose loop reads `fd` (the polling one); `None`: nobody parks.
    poller: Option<String>,
    /// Whether a request was served on that thread: until then nobody parks (were the name
    /// wrong, every loop would).
    poller_seen: AtomicBool,
    /// Wakes the other loops' threads parked while polling is on.
    parked: Condvar,
    /// The clock of `done_at`.
    born: std::time::Instant,
    /// When the polling loop last answered a request (nanoseconds since `born`).
    done_at: AtomicU64,
    /// The polling loop's requests while polling, and of them those that were queued.
    polled: AtomicU64,
    queued: AtomicU64,
    /// Polling episodes ended so far (for tests).
    #[cfg(test)]
    ended: AtomicU64,
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

impl Inner {
    /// Whether this thread runs the polling loop (with no poller named, every thread does).
    fn is_poller(&self) -> bool {
        match &self.poller {
            None => true,
            Some(p) => std::thread::current().name() == Some(p.as_str()),
        }
    }

    fn now(&self) -> u64 {
        self.born.elapsed().as_nanos() as u64
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
    ///
    /// `poller` names the thread of the loop that reads `fd`. While polling is on, every
    /// other loop's thread parks after serving a request, until polling stops: blocked in
    /// its read of `/dev/fuse`, it was woken by the kernel at every request although the
    /// polling loop took it (an interrupt and two context switches per round trip).
    pub(crate) fn start(
        fd: BorrowedFd<'_>,
        window: Duration,
        poller: Option<String>,
    ) -> std::io::Result<Spin> {
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
            poller,
            poller_seen: AtomicBool::new(false),
            parked: Condvar::new(),
            born: std::time::Instant::now(),
            done_at: AtomicU64::new(0),
            polled: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            #[cfg(test)]
            ended: AtomicU64::new(0),
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
        let active = i.active.load(Ordering::Relaxed);
        if !active && !i.wanted.swap(true, Ordering::AcqRel) {
            let _g = i.stop.lock().expect("spin lock");
            i.wake.notify_one();
        }
        let poller = i.is_poller();
        if poller && !i.poller_seen.load(Ordering::Relaxed) {
            i.poller_seen.store(true, Ordering::Relaxed);
        }
        if waited && active && poller {
            i.polled.fetch_add(1, Ordering::Relaxed);
            let gap = i.now().saturating_sub(i.done_at.load(Ordering::Relaxed));
            if gap < QUEUED.as_nanos() as u64 {
                i.queued.fetch_add(1, Ordering::Relaxed);
            }
        }
        Busy {
            spin: self,
            waited,
            poller,
        }
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
    /// Served by the polling loop.
    poller: bool,
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        let i = &self.spin.inner;
        if self.waited {
            i.inflight.fetch_sub(1, Ordering::AcqRel);
            if self.poller {
                i.done_at.store(i.now(), Ordering::Relaxed);
            }
        }
        // Served (the reply is out): another loop's thread stands aside while polling is on.
        if !self.poller
            && i.poller.is_some()
            && i.active.load(Ordering::Relaxed)
            && i.poller_seen.load(Ordering::Relaxed)
        {
            let mut stop = i.stop.lock().expect("spin lock");
            while !*stop && i.active.load(Ordering::Acquire) {
                stop = i.parked.wait(stop).expect("spin lock");
            }
        }
    }
}

impl Drop for Spin {
    fn drop(&mut self) {
        *self.inner.stop.lock().expect("spin lock") = true;
        self.inner.wake.notify_one();
        self.inner.parked.notify_all();
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
        let (p0, q0) = (
            i.polled.load(Ordering::Relaxed),
            i.queued.load(Ordering::Relaxed),
        );
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
            let polled = i.polled.load(Ordering::Relaxed) - p0;
            let queued = i.queued.load(Ordering::Relaxed) - q0;
            if (crowded >= PARALLEL_MIN && crowded * PARALLEL_SHARE >= checks)
                || (data >= DATA_MIN && data * DATA_SHARE >= all)
                || (queued >= QUEUED_MIN && queued * QUEUED_SHARE >= polled)
            {
                break true;
            }
        };
        set_nonblocking(&i.fd, false);
        i.active.store(false, Ordering::Release);
        #[cfg(test)]
        i.ended.fetch_add(1, Ordering::AcqRel);
        // Under the lock: a thread about to park either sees `active` false or is waiting.
        drop(i.stop.lock().expect("spin lock"));
        i.parked.notify_all();
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

    /// Wait until `cond` holds, 5 s at most (the caller asserts what it needs).
    fn wait_until(cond: impl Fn() -> bool) {
        let t = std::time::Instant::now();
        while !cond() && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

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
        let s = Spin::start(fd.as_fd(), w, None).unwrap();
        assert!(!nonblocking(&fd));
        drop(s.note(Req::Meta));
        wait_until(|| s.spinning());
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
        wait_until(|| !s.spinning());
        assert!(!s.spinning() && !nonblocking(&fd), "idle stops spinning");
        drop(s.note(Req::Meta));
        wait_until(|| s.spinning());
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
        let s = Arc::new(Spin::start(fd.as_fd(), Duration::from_millis(20), None).unwrap());
        drop(s.note(Req::Meta));
        wait_until(|| s.spinning());
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

    /// While polling is on, a thread other than the poller's parks once its request is
    /// served, and goes on when polling stops (or the controller is dropped).
    #[test]
    fn other_loops_stand_aside_while_polling() {
        let (r, _w) = std::io::pipe().unwrap();
        let fd: OwnedFd = r.into();
        let w = Duration::from_millis(50);
        let s = Arc::new(Spin::start(fd.as_fd(), w, Some("poller".into())).unwrap());
        // Requests on the poller's thread every few ms keep polling on.
        let keep = Arc::new(AtomicBool::new(true));
        let poller = {
            let (s, keep) = (s.clone(), keep.clone());
            std::thread::Builder::new()
                .name("poller".into())
                .spawn(move || {
                    while keep.load(Ordering::Relaxed) {
                        drop(s.note(Req::Meta));
                        std::thread::sleep(Duration::from_millis(2));
                    }
                })
                .unwrap()
        };
        wait_until(|| s.spinning());
        assert!(s.spinning());
        let ended = s.inner.ended.load(Ordering::Acquire);
        let served = Arc::new(AtomicBool::new(false));
        let other = {
            let (s, served) = (s.clone(), served.clone());
            std::thread::Builder::new()
                .name("other".into())
                .spawn(move || {
                    drop(s.note(Req::Meta));
                    served.store(true, Ordering::SeqCst);
                })
                .unwrap()
        };
        std::thread::sleep(Duration::from_millis(30));
        let was_served = served.load(Ordering::SeqCst);
        // Unless this machine stalled the poller past the window (polling then ended).
        if s.inner.ended.load(Ordering::Acquire) == ended {
            assert!(!was_served, "parked while polling is on");
        }
        keep.store(false, Ordering::Relaxed);
        poller.join().unwrap();
        wait_until(|| served.load(Ordering::SeqCst));
        assert!(served.load(Ordering::SeqCst), "polling stopped: it goes on");
        other.join().unwrap();
        assert!(!s.spinning());
    }

    /// Requests the polling loop finds already queued when it is done with the last one
    /// (what overlap looks like while the other loops stand aside) stop polling.
    #[test]
    fn a_backlog_on_the_polling_loop_stops_polling() {
        let (r, _w) = std::io::pipe().unwrap();
        let fd: OwnedFd = r.into();
        let s = Arc::new(
            Spin::start(fd.as_fd(), Duration::from_millis(20), Some("poller".into())).unwrap(),
        );
        let s2 = s.clone();
        let stopped = std::thread::Builder::new()
            .name("poller".into())
            .spawn(move || {
                let s = s2;
                drop(s.note(Req::Meta));
                wait_until(|| s.spinning());
                assert!(s.spinning());
                // Back to back: each request comes as soon as the last was answered.
                let t = std::time::Instant::now();
                while t.elapsed() < Duration::from_secs(5) {
                    drop(s.note(Req::Meta));
                    if !s.spinning() {
                        return true;
                    }
                }
                false
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(stopped, "a backlog stops polling");
    }

    /// Were the polling loop's thread misnamed (it never serves a request), nobody parks.
    #[test]
    fn nobody_parks_before_the_poller_is_seen() {
        let (r, _w) = std::io::pipe().unwrap();
        let fd: OwnedFd = r.into();
        let s = Spin::start(
            fd.as_fd(),
            Duration::from_millis(200),
            Some("nobody".into()),
        )
        .unwrap();
        drop(s.note(Req::Meta));
        wait_until(|| s.spinning());
        let t = std::time::Instant::now();
        for _ in 0..10 {
            drop(s.note(Req::Meta));
        }
        assert!(
            t.elapsed() < Duration::from_millis(150),
            "a request's thread parked"
        );
    }
}
