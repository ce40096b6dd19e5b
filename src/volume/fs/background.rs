//! Work done after the reply: a bounded queue served by threads started on first use. The
//! reaper (`reaper.rs`: closing removed entries' last descriptors) and the syncer
//! (`syncer.rs`: fsyncing new directory ids) are each one of these, with their own
//! [`Config`].
//!
//! - [`Background::push`] queues an item, or hands it back when the queue is full or
//!   stopped: the caller then does the work at once, so nothing waits unbounded.
//! - A thread is woken when the queue stops being empty and when it holds `batch` items;
//!   it takes everything queued, after `linger` at the latest (batching spares most
//!   hand-overs a wake-up, a cross-CPU interrupt on a VM).
//! - [`Background::wait`] waits until everything pushed so far is done and returns the
//!   first failure since the last wait.
//! - [`Background::finish`] (and the drop) does everything queued and stops the threads;
//!   from then on `push` hands every item back. If no thread can be started the queue is
//!   stopped the same way.

use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

/// What a queue does and how it batches.
pub(super) struct Config<T> {
    /// Thread names: `kmsfs-{name}-{i}`.
    pub name: &'static str,
    pub threads: usize,
    /// Items queued at most.
    pub depth: usize,
    /// A thread is woken when this many are queued (1: at every first item).
    pub batch: usize,
    /// The longest a queued item waits for a batch to fill (`None`: not at all).
    pub linger: Option<Duration>,
    /// The work on one batch: its first failure.
    pub work: fn(Vec<T>) -> io::Result<()>,
}

struct State<T> {
    items: Vec<T>,
    /// Items ever queued, and of them done (or failed).
    queued: u64,
    done: u64,
    /// The first failure not yet returned by `wait`.
    failed: Option<io::Error>,
    /// Set by `finish` (or when no thread could start): do what is queued, then stop.
    stop: bool,
}

struct Shared<T> {
    st: Mutex<State<T>>,
    /// Wakes the threads: items queued, or stop.
    work: Condvar,
    /// Wakes waiters: items done.
    done: Condvar,
}

pub(super) struct Background<T: Send + 'static> {
    cfg: &'static Config<T>,
    shared: Arc<Shared<T>>,
    /// The threads, started on first use.
    threads: OnceLock<Mutex<Vec<JoinHandle<()>>>>,
}

impl<T: Send + 'static> Background<T> {
    pub(super) fn new(cfg: &'static Config<T>) -> Self {
        Background {
            cfg,
            shared: Arc::new(Shared {
                st: Mutex::new(State {
                    items: Vec::new(),
                    queued: 0,
                    done: 0,
                    failed: None,
                    stop: false,
                }),
                work: Condvar::new(),
                done: Condvar::new(),
            }),
            threads: OnceLock::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.shared.st.lock().expect("background queue")
    }

    /// Queue `item`; handed back when the queue is full or stopped (do it at once then).
    pub(super) fn push(&self, item: T) -> Result<(), T> {
        self.threads
            .get_or_init(|| Mutex::new(start(self.cfg, &self.shared)));
        let mut st = self.lock();
        if st.stop || st.items.len() >= self.cfg.depth {
            return Err(item);
        }
        st.items.push(item);
        st.queued += 1;
        let n = st.items.len();
        drop(st);
        if n == 1 || n == self.cfg.batch {
            self.shared.work.notify_one();
        }
        Ok(())
    }

    /// Wait until every item pushed so far is done; the first failure since the last wait.
    pub(super) fn wait(&self) -> io::Result<()> {
        let mut st = self.lock();
        let target = st.queued;
        while st.done < target {
            st = self.shared.done.wait(st).expect("background queue");
        }
        match st.failed.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Do everything queued and stop the threads (a later [`push`](Self::push) hands its
    /// item back).
    pub(super) fn finish(&self) {
        self.lock().stop = true;
        self.shared.work.notify_all();
        // Never started: none will be.
        let threads = self.threads.get_or_init(|| Mutex::new(Vec::new()));
        let threads = std::mem::take(&mut *threads.lock().expect("background queue"));
        for t in threads {
            let _ = t.join();
        }
    }

    /// Items (queued ever, done).
    #[cfg(test)]
    pub(super) fn counts(&self) -> (u64, u64) {
        let st = self.lock();
        (st.queued, st.done)
    }
}

impl<T: Send + 'static> Drop for Background<T> {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The threads serving `shared`; if none can be started, the queue is stopped.
fn start<T: Send + 'static>(
    cfg: &'static Config<T>,
    shared: &Arc<Shared<T>>,
) -> Vec<JoinHandle<()>> {
    let mut threads = Vec::with_capacity(cfg.threads);
    for i in 0..cfg.threads {
        let s = shared.clone();
        match std::thread::Builder::new()
            .name(format!("kmsfs-{}-{i}", cfg.name))
            .spawn(move || run(cfg, &s))
        {
            Ok(t) => threads.push(t),
            Err(_) => break,
        }
    }
    if threads.is_empty() {
        shared.st.lock().expect("background queue").stop = true;
    }
    threads
}

/// One thread: do batches until `finish` and the queue is empty.
fn run<T>(cfg: &Config<T>, s: &Shared<T>) {
    loop {
        let mut st = s.st.lock().expect("background queue");
        loop {
            if st.stop || st.items.len() >= cfg.batch {
                break;
            }
            if st.items.is_empty() {
                st = s.work.wait(st).expect("background queue");
                continue;
            }
            let Some(linger) = cfg.linger else { break };
            let (g, waited) = s.work.wait_timeout(st, linger).expect("background queue");
            st = g;
            if waited.timed_out() {
                break;
            }
        }
        if st.items.is_empty() {
            // Stopped, and nothing left.
            return;
        }
        // Everything queued: another thread takes the next batch meanwhile.
        let batch = std::mem::take(&mut st.items);
        drop(st);
        let n = batch.len() as u64;
        let r = (cfg.work)(batch);
        let mut st = s.st.lock().expect("background queue");
        st.done += n;
        if let Err(e) = r {
            st.failed.get_or_insert(e);
        }
        drop(st);
        s.done.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    static SEEN: AtomicU64 = AtomicU64::new(0);
    static SUM: Config<u64> = Config {
        name: "test",
        threads: 2,
        depth: 8,
        batch: 3,
        linger: Some(Duration::from_millis(1)),
        work: |v| {
            for x in v {
                if x == 0 {
                    return Err(io::Error::other("zero"));
                }
                SEEN.fetch_add(x, Ordering::SeqCst);
            }
            Ok(())
        },
    };

    /// Pushes beyond the depth are handed back or done; waits see every pushed item done,
    /// return a failure once; after finish every push is handed back.
    #[test]
    fn items_are_done_waited_for_and_handed_back_when_stopped() {
        let q = Background::new(&SUM);
        let mut back = 0;
        for x in 1..=100u64 {
            if let Err(x) = q.push(x) {
                back += x;
            }
        }
        q.wait().unwrap();
        let (queued, done) = q.counts();
        assert_eq!(queued, done);
        assert_eq!(SEEN.load(Ordering::SeqCst) + back, 5050);
        q.push(0).unwrap();
        assert!(q.wait().is_err());
        q.wait().unwrap();
        q.finish();
        assert_eq!(q.push(7), Err(7));
    }
}
