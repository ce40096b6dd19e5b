//! Busy-polling of keep-alive connections. On a small VM a request that arrives on a
//! connection whose worker is parked costs a wake-up: the client's write wakes the worker
//! (on the other vCPU, halted meanwhile, through the hypervisor), and at one connection
//! that wake-up costs about as much as the request. So after a response, when the read for
//! the next request would block, the connection is read without blocking for up to
//! `window` (a raw `recv(MSG_DONTWAIT)`, not tokio's readiness, which only the reactor
//! renews; a `sched_yield` between two tries, so that a client waiting for this CPU gets it)
//! before it registers for readiness: a keep-alive client's next request is picked up by a
//! running thread.
//!
//! Spinning holds the worker and a CPU, so it is done only while it pays and hurts nobody,
//! like the FUSE loop's (`volume/spin.rs`):
//! - by one connection at a time, and only while no other request is being served (a
//!   request starting elsewhere ends a spin at once): with several clients busy, the
//!   workers are better left to their requests, and the wake-ups overlap anyway;
//! - only while the machine has no more runnable threads than CPUs (`/proc/loadavg`, looked
//!   at every [`LOOK_EVERY`]): on a crowded machine the spinning thread would take the CPU
//!   of a thread that has work, maybe the very client it waits for (measured: 10-11k ops/s
//!   instead of 15-17k at one connection under a load average of 13);
//! - on a connection whose client came back within the window: after [`MAX_MISSES`] spins
//!   in a row that found nothing, the connection waits parked until a request comes back
//!   within the window of the previous response again. An idle server never spins, and a
//!   connection idle between requests spins at most [`MAX_MISSES`] windows per burst.

use std::io;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The environment variable that sets the window in microseconds (0 turns spinning off).
pub(crate) const ENV: &str = "KMSFS_SERVE_SPIN_US";

/// Default window: longer than a keep-alive client's turnaround (reading the response,
/// signing the next request) even when its own thread has to be woken first.
pub(crate) const DEFAULT_WINDOW: Duration = Duration::from_micros(100);

/// Spins in a row that find nothing before a connection stops spinning.
pub(crate) const MAX_MISSES: u32 = 2;

/// `recv` calls between two looks at the clock and at the other connections.
const CALLS_PER_CHECK: u32 = 4;

/// How often [`Poller::crowded`] looks at the machine's load.
const LOOK_EVERY: Duration = Duration::from_millis(20);

/// The runnable threads of a `/proc/loadavg` line (its fourth field, `running/total`).
fn runnable(loadavg: &str) -> Option<usize> {
    loadavg
        .split_whitespace()
        .nth(3)?
        .split_once('/')?
        .0
        .parse()
        .ok()
}

/// What the connections of one endpoint share.
pub(crate) struct Poller {
    window: Option<Duration>,
    /// Requests being served now (see [`Poller::serving`]).
    serving: AtomicUsize,
    /// Whether a connection is spinning now.
    spinning: AtomicBool,
    /// The machine's CPUs, and whether it had more runnable threads than CPUs at the last
    /// look (see [`Poller::crowded`]), and when that was (µs since `born`).
    cpus: usize,
    crowded: AtomicBool,
    looked_us: AtomicU64,
    born: Instant,
    /// Spins so far, and those that found data.
    spins: AtomicU64,
    found: AtomicU64,
}

/// A request being served (see [`Poller::serving`]).
pub(crate) struct Serving<'a>(&'a Poller);

impl Drop for Serving<'_> {
    fn drop(&mut self) {
        self.0.serving.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Poller {
    /// Spinning `window` after each response (`None`: never).
    pub(crate) fn new(window: Option<Duration>) -> Poller {
        Poller {
            window,
            serving: AtomicUsize::new(0),
            spinning: AtomicBool::new(false),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            crowded: AtomicBool::new(false),
            looked_us: AtomicU64::new(0),
            born: Instant::now(),
            spins: AtomicU64::new(0),
            found: AtomicU64::new(0),
        }
    }

    /// The window from the environment ([`ENV`]; default [`DEFAULT_WINDOW`]).
    pub(crate) fn from_env() -> Poller {
        let window = match std::env::var(ENV).ok().and_then(|v| v.parse::<u64>().ok()) {
            Some(0) => None,
            Some(us) => Some(Duration::from_micros(us)),
            None => Some(DEFAULT_WINDOW),
        };
        Poller::new(window)
    }

    /// Count a request as being served until the guard is dropped.
    pub(crate) fn serving(&self) -> Serving<'_> {
        self.serving.fetch_add(1, Ordering::AcqRel);
        Serving(self)
    }

    /// Spins so far, and those that found data.
    #[cfg(test)]
    fn spins(&self) -> (u64, u64) {
        let n = self.spins.load(Ordering::Relaxed);
        (n, self.found.load(Ordering::Relaxed))
    }

    /// Whether the machine has more runnable threads than CPUs (the running count of
    /// `/proc/loadavg`, read at most once per [`LOOK_EVERY`]): then a spinning thread takes a
    /// CPU from someone who needs it, maybe the client it waits for.
    fn crowded(&self) -> bool {
        let now = self.born.elapsed().as_micros() as u64;
        let last = self.looked_us.load(Ordering::Relaxed);
        if now.saturating_sub(last) < LOOK_EVERY.as_micros() as u64
            || self
                .looked_us
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
        {
            return self.crowded.load(Ordering::Relaxed);
        }
        let crowded = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| runnable(&l))
            .is_some_and(|r| r > self.cpus);
        self.crowded.store(crowded, Ordering::Relaxed);
        crowded
    }

    fn others_busy(&self) -> bool {
        self.serving.load(Ordering::Acquire) > 0
    }
}

/// A TCP connection that spins briefly before it waits (see the module's doc).
pub(crate) struct SpinStream {
    io: TcpStream,
    poller: Arc<Poller>,
    /// Spins in a row that found nothing.
    misses: u32,
    /// When the read that is waiting now first found nothing.
    waiting_since: Option<Instant>,
    /// Whether something was written since the last read that found data: only the read
    /// for the next request spins, not hyper's reads in the middle of one (which look for
    /// the client's end while its request is served).
    replied: bool,
}

impl SpinStream {
    pub(crate) fn new(io: TcpStream, poller: Arc<Poller>) -> SpinStream {
        SpinStream {
            io,
            poller,
            misses: 0,
            waiting_since: None,
            replied: false,
        }
    }

    /// After a write, the next read that waits is one for the next request.
    fn wrote(&mut self, r: &Poll<io::Result<usize>>) {
        if matches!(r, Poll::Ready(Ok(n)) if *n > 0) {
            self.replied = true;
            self.waiting_since = None;
        }
    }

    /// Data (or the end) came through the parked path: a client back within the window of
    /// the previous response makes spinning worth trying again.
    fn arrived(&mut self) {
        if let (Some(since), Some(window)) = (self.waiting_since.take(), self.poller.window)
            && since.elapsed() <= window
        {
            self.misses = 0;
        }
    }

    /// Read without blocking until data comes, the window ends or another request starts
    /// being served. `None` when nothing came.
    fn spin(&mut self, window: Duration, buf: &mut ReadBuf<'_>) -> Option<io::Result<()>> {
        let p = &self.poller;
        if p.others_busy() || p.crowded() || p.spinning.swap(true, Ordering::AcqRel) {
            return None;
        }
        let deadline = Instant::now() + window;
        let fd = self.io.as_raw_fd();
        let found = 'spin: loop {
            for _ in 0..CALLS_PER_CHECK {
                if let Some(r) = recv_now(fd, buf) {
                    break 'spin Some(r);
                }
                // A client waiting for this CPU gets it at once.
                std::thread::yield_now();
            }
            if p.others_busy() || Instant::now() >= deadline {
                break None;
            }
        };
        p.spinning.store(false, Ordering::Release);
        p.spins.fetch_add(1, Ordering::Relaxed);
        if found.is_some() {
            p.found.fetch_add(1, Ordering::Relaxed);
        }
        found
    }
}

/// One non-blocking `recv` into `buf`: `None` when nothing is there yet.
fn recv_now(fd: i32, buf: &mut ReadBuf<'_>) -> Option<io::Result<()>> {
    // SAFETY: `recv` only writes into the unfilled part, at most its length; the `n` bytes
    // it wrote are then initialized.
    let n = unsafe {
        let unfilled = buf.unfilled_mut();
        libc::recv(
            fd,
            unfilled.as_mut_ptr().cast(),
            unfilled.len(),
            libc::MSG_DONTWAIT,
        )
    };
    if n >= 0 {
        let n = n as usize;
        // SAFETY: see above.
        unsafe { buf.assume_init(n) };
        buf.advance(n);
        return Some(Ok(()));
    }
    let e = io::Error::last_os_error();
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => None,
        _ => Some(Err(e)),
    }
}

impl AsyncRead for SpinStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Poll::Ready(r) = Pin::new(&mut this.io).poll_read(cx, buf) {
            this.arrived();
            this.replied = false;
            return Poll::Ready(r);
        }
        // Nothing yet; tokio has registered the waker. A read that finds data now leaves a
        // spurious wake-up behind, which finds nothing to read.
        let first = this.waiting_since.is_none();
        if first {
            this.waiting_since = Some(Instant::now());
        }
        let may_spin = first && this.replied && this.misses < MAX_MISSES;
        if let Some(window) = this.poller.window.filter(|_| may_spin) {
            match this.spin(window, buf) {
                Some(r) => {
                    this.waiting_since = None;
                    this.misses = 0;
                    this.replied = false;
                    return Poll::Ready(r);
                }
                None => this.misses += 1,
            }
        }
        Poll::Pending
    }
}

impl AsyncWrite for SpinStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write(cx, buf);
        this.wrote(&r);
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.wrote(&r);
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runnable_threads_of_loadavg() {
        assert_eq!(runnable("0.52 0.58 0.59 3/467 12345\n"), Some(3));
        assert_eq!(runnable("garbage"), None);
    }
    use std::io::{Read, Write};

    /// Write all of `data` (tokio's `io-util` is not a feature of this crate).
    fn write_all(rt: &tokio::runtime::Runtime, s: &mut SpinStream, mut data: &[u8]) {
        while !data.is_empty() {
            let n = rt
                .block_on(std::future::poll_fn(|cx| {
                    Pin::new(&mut *s).poll_write(cx, data)
                }))
                .unwrap();
            data = &data[n..];
        }
    }

    /// Read exactly 8 bytes.
    fn read8(rt: &tokio::runtime::Runtime, s: &mut SpinStream) -> [u8; 8] {
        let mut out = [0u8; 8];
        let mut buf = ReadBuf::new(&mut out);
        while buf.remaining() > 0 {
            let before = buf.filled().len();
            rt.block_on(std::future::poll_fn(|cx| {
                Pin::new(&mut *s).poll_read(cx, &mut buf)
            }))
            .unwrap();
            assert!(buf.filled().len() > before, "unexpected end");
        }
        out
    }

    /// A connection served through a [`SpinStream`] with `window`, its client, and the runtime.
    fn pair(window: Duration) -> (tokio::runtime::Runtime, SpinStream, std::net::TcpStream) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        let server = rt.block_on(async { TcpStream::from_std(server).unwrap() });
        let mut poller = Poller::new(Some(window));
        // Spin whatever the machine's load (other builds and tests run here too).
        poller.cpus = usize::MAX;
        let poller = Arc::new(poller);
        (rt, SpinStream::new(server, poller), client)
    }

    /// The server answers, then reads the next request, which the client sends after `gap`.
    fn exchange(
        rt: &tokio::runtime::Runtime,
        s: &mut SpinStream,
        c: &std::net::TcpStream,
        gap: Duration,
    ) {
        write_all(rt, s, b"response");
        let mut got = [0u8; 8];
        let mut reader = c;
        reader.read_exact(&mut got).unwrap();
        let mut c = c.try_clone().unwrap();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(gap);
            c.write_all(b"request!").unwrap();
        });
        assert_eq!(&read8(rt, s), b"request!");
        sender.join().unwrap();
    }

    #[test]
    fn a_request_within_the_window_is_found_by_spinning() {
        // A window long enough that a loaded machine's scheduling stalls do not end it.
        let (rt, mut s, c) = pair(Duration::from_secs(2));
        exchange(&rt, &mut s, &c, Duration::from_millis(5));
        assert_eq!(
            s.poller.spins(),
            (1, 1),
            "the request was found by the spin"
        );
    }

    #[test]
    fn reads_in_the_middle_of_a_request_do_not_spin() {
        let (rt, mut s, c) = pair(Duration::from_secs(2));
        exchange(&rt, &mut s, &c, Duration::from_millis(5));
        assert_eq!(s.poller.spins(), (1, 1));
        // The rest of the request, nothing written since its start: a read that waits.
        let mut c2 = c.try_clone().unwrap();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            c2.write_all(b"the rest").unwrap();
        });
        assert_eq!(&read8(&rt, &mut s), b"the rest");
        sender.join().unwrap();
        assert_eq!(
            s.poller.spins(),
            (1, 1),
            "nothing was written since the last read"
        );
    }

    #[test]
    fn no_spinning_while_another_request_is_served() {
        let (rt, mut s, c) = pair(Duration::from_secs(2));
        let poller = s.poller.clone();
        let serving = poller.serving();
        exchange(&rt, &mut s, &c, Duration::from_millis(5));
        assert_eq!(poller.spins(), (0, 0));
        drop(serving);
        exchange(&rt, &mut s, &c, Duration::from_millis(5));
        assert_eq!(poller.spins(), (1, 1));
    }

    #[test]
    fn an_idle_client_stops_the_spinning_until_it_comes_back_quickly() {
        let w = Duration::from_millis(30);
        let (rt, mut s, c) = pair(w);
        let slow = Duration::from_millis(150);
        for _ in 0..MAX_MISSES {
            exchange(&rt, &mut s, &c, slow);
        }
        assert_eq!(s.poller.spins(), (u64::from(MAX_MISSES), 0));
        exchange(&rt, &mut s, &c, slow);
        assert_eq!(
            s.poller.spins().0,
            u64::from(MAX_MISSES),
            "no spin after {MAX_MISSES} misses"
        );
        // A client back within the window (found parked) turns spinning on again (a loaded
        // machine may stall this thread past the window: then try again).
        for _ in 0..20 {
            exchange(&rt, &mut s, &c, Duration::from_millis(2));
            if s.misses == 0 {
                break;
            }
        }
        assert_eq!(s.misses, 0, "a quick client resets the misses");
        let before = s.poller.spins().0;
        exchange(&rt, &mut s, &c, Duration::from_millis(1));
        assert_eq!(s.poller.spins().0, before + 1, "spinning resumed");
    }
}
