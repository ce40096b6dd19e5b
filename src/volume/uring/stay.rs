//! Keep a waiting caller on its CPU when a queue thread answers it. The answer wakes the
//! caller while the queue thread still runs on the caller's CPU, so the scheduler
//! (`select_idle_sibling`) moves the caller to an idle CPU if there is one, and its next
//! request goes to that CPU's queue: on an idle machine every round trip of a
//! single-threaded caller (a `tar`) then wakes a halted CPU. A CPU whose running tasks all
//! have the `SCHED_IDLE` policy counts as idle to that choice, so the thread answers under
//! `SCHED_IDLE` and takes its own policy back right after.
//!
//! Only while nothing but the queue's own threads runs on the machine (`/proc/loadavg`'s
//! running count, the siblings' states in `/proc/self/task/<tid>/stat`). A `SCHED_IDLE`
//! thread gets about 0.3% of a CPU some other task is busy on, and the entry it has just
//! handed back takes the next request from that CPU before the thread runs again; so when
//! any other task runs, the thread answers under its own policy (some CPU is busy then
//! anyway). A task that starts in the microseconds between the check and the switch back
//! costs one slow round trip, once. A sibling that is runnable is let run first: it runs
//! under its own policy while this thread has taken `SCHED_IDLE`, so it is done before the
//! answer wakes the caller (an asynchronous RELEASE after a `close`, then the next file's
//! LOOKUP on the other thread).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

/// The thread ids of a queue's threads, each set by its thread (0 until then).
pub(crate) type Tids = Arc<Vec<AtomicI32>>;

/// A queue thread's means of answering under `SCHED_IDLE`.
pub(crate) struct Stay {
    loadavg: File,
    /// The thread's own scheduling attributes, put back after each answer (policy, nice,
    /// slice).
    own: libc::sched_attr,
    queue: Tids,
    /// This thread's index in `queue`.
    me: usize,
    /// `/proc/self/task/<tid>/stat` of the other threads, opened at first use.
    stats: Vec<Option<File>>,
}

fn set_policy(policy: i32) -> bool {
    let Some(mut attr) = get_attr() else {
        return false;
    };
    attr.sched_policy = policy as u32;
    set_attr(&attr)
}

/// The calling thread's scheduling attributes (policy, nice, and for a fair policy its
/// slice in `sched_runtime`).
fn get_attr() -> Option<libc::sched_attr> {
    // SAFETY: sched_attr is plain integers; all zeroes is a valid value.
    let mut attr: libc::sched_attr = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::sched_attr>() as u32;
    // SAFETY: pid 0 is the calling thread; `attr` has room for `size` bytes.
    let r = unsafe { libc::syscall(libc::SYS_sched_getattr, 0, &mut attr, size, 0) };
    (r == 0).then_some(attr)
}

/// Set the calling thread's scheduling attributes.
fn set_attr(attr: &libc::sched_attr) -> bool {
    let mut a = *attr;
    a.size = std::mem::size_of::<libc::sched_attr>() as u32;
    // SAFETY: pid 0 is the calling thread; `a` is a sched_attr of the size it says.
    unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &a, 0) == 0 }
}

fn policy() -> i32 {
    // SAFETY: pid 0 is the calling thread.
    unsafe { libc::sched_getscheduler(0) }
}

impl Stay {
    /// For the calling thread, thread `me` of `queue` (its id is recorded there). None
    /// when it runs under a real-time or idle policy already, could not take its policy
    /// back from `SCHED_IDLE` (an unprivileged daemon with `RLIMIT_NICE` under 20: tried
    /// on a throwaway thread), or there is no `/proc/loadavg`.
    pub(crate) fn new(queue: Tids, me: usize) -> Option<Stay> {
        // SAFETY: gettid has no preconditions.
        queue
            .get(me)?
            .store(unsafe { libc::gettid() }, Ordering::Relaxed);
        let policy = policy();
        if policy != libc::SCHED_OTHER && policy != libc::SCHED_BATCH {
            return None;
        }
        let back = std::thread::spawn(move || set_policy(libc::SCHED_IDLE) && set_policy(policy))
            .join()
            .unwrap_or(false);
        if !back {
            return None;
        }
        let loadavg = File::open("/proc/loadavg").ok()?;
        let stats = queue.iter().map(|_| None).collect();
        Some(Stay {
            loadavg,
            own: get_attr()?,
            queue,
            me,
            stats,
        })
    }

    /// Submit the answer (`submit`: the system call that commits it and wakes the caller)
    /// under `SCHED_IDLE` when only the queue's threads run; else as it is. True when it
    /// went under `SCHED_IDLE`.
    pub(crate) fn answer<T>(&mut self, submit: impl FnOnce() -> T) -> (T, bool) {
        let alone = self.alone();
        self.answer_if(alone, submit)
    }

    /// [`Stay::answer`] once it is known whether the thread is `alone`.
    fn answer_if<T>(&self, alone: bool, submit: impl FnOnce() -> T) -> (T, bool) {
        let idle = alone && {
            let mut a = self.own;
            a.sched_policy = libc::SCHED_IDLE as u32;
            set_attr(&a)
        };
        let r = submit();
        if idle && !set_attr(&self.own) {
            // Tried in `new`; said rather than serving on under SCHED_IDLE unnoticed.
            eprintln!("kmsfs: io_uring queue thread: could not leave SCHED_IDLE");
        }
        (r, idle)
    }

    /// Whether every running task on the machine is one of the queue's threads.
    fn alone(&mut self) -> bool {
        let mut buf = [0u8; 128];
        let running = match self.loadavg.read_at(&mut buf, 0) {
            Ok(n) => running(&buf[..n]),
            Err(_) => None,
        };
        only_the_queue(running, self.queue.len(), || self.runnable_siblings())
    }

    /// How many of the queue's other threads are running or runnable (state `R`).
    fn runnable_siblings(&mut self) -> u32 {
        let mut n = 0;
        for (i, tid) in self.queue.iter().enumerate() {
            let tid = tid.load(Ordering::Relaxed);
            if i == self.me || tid == 0 {
                continue;
            }
            if self.stats[i].is_none() {
                self.stats[i] = File::open(format!("/proc/self/task/{tid}/stat")).ok();
            }
            let mut buf = [0u8; 512];
            let read = self.stats[i]
                .as_ref()
                .and_then(|f| f.read_at(&mut buf, 0).ok());
            if read.and_then(|k| state(&buf[..k])) == Some(b'R') {
                n += 1;
            }
        }
        n
    }
}

/// Whether the `running` tasks (this thread among them) are all threads of a queue of
/// `threads`: one, or this one and as many runnable siblings (asked only then).
fn only_the_queue(running: Option<u32>, threads: usize, siblings: impl FnOnce() -> u32) -> bool {
    match running {
        Some(1) => true,
        Some(r) if r >= 2 && r as usize <= threads => siblings() == r - 1,
        _ => false,
    }
}

/// The running count of a `/proc/loadavg` line (`0.00 0.01 0.05 1/123 4567`).
fn running(line: &[u8]) -> Option<u32> {
    let field = line.split(|&b| b == b' ').nth(3)?;
    let n = field.split(|&b| b == b'/').next()?;
    std::str::from_utf8(n).ok()?.parse().ok()
}

/// The state letter of a `/proc/self/task/<tid>/stat` line (`123 (name) S 1 ...`; the name
/// may hold spaces and parentheses, so the letter after the last `)`).
fn state(stat: &[u8]) -> Option<u8> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    stat.get(close + 2).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_count_is_the_fourth_fields_numerator() {
        assert_eq!(running(b"0.00 0.01 0.05 1/123 4567\n"), Some(1));
        assert_eq!(running(b"2.50 1.00 0.75 17/2048 99\n"), Some(17));
        assert_eq!(running(b"0.00 0.01 0.05"), None);
        assert_eq!(running(b"0.00 0.01 0.05 x/1 2"), None);
        assert_eq!(running(b""), None);
    }

    #[test]
    fn the_state_follows_the_last_parenthesis() {
        assert_eq!(state(b"4242 (kmsfs-ring-0.1) R 1 2 3"), Some(b'R'));
        assert_eq!(state(b"4242 (a) b) (c) S 1"), Some(b'S'));
        assert_eq!(state(b"4242 (a)"), None);
        assert_eq!(state(b"garbage"), None);
    }

    /// Alone: the only running task, or running beside runnable siblings only. Any other
    /// running task (a busy loop, the caller itself after an asynchronous request) or an
    /// unreadable count: not alone.
    #[test]
    fn alone_means_no_running_task_but_the_queues_threads() {
        let never = || -> u32 { panic!("siblings asked") };
        assert!(only_the_queue(Some(1), 2, never));
        assert!(only_the_queue(Some(2), 2, || 1));
        assert!(!only_the_queue(Some(2), 2, || 0));
        assert!(only_the_queue(Some(3), 3, || 2));
        assert!(!only_the_queue(Some(3), 3, || 1));
        assert!(!only_the_queue(Some(3), 2, never));
        assert!(!only_the_queue(Some(2), 1, never));
        assert!(!only_the_queue(Some(0), 2, never));
        assert!(!only_the_queue(None, 2, never));
    }

    /// A sibling's state as the stat file shows it: a thread in a busy loop is `R`, one
    /// waiting on a channel is not.
    #[test]
    fn a_busy_sibling_is_runnable_and_a_waiting_one_is_not() {
        use std::sync::atomic::AtomicBool;
        let tids: Tids = Arc::new((0..3).map(|_| AtomicI32::new(0)).collect());
        let stop = Arc::new(AtomicBool::new(false));
        let (t, s) = (tids.clone(), stop.clone());
        let busy = std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            t[1].store(unsafe { libc::gettid() }, Ordering::Relaxed);
            while !s.load(Ordering::Relaxed) {
                std::hint::spin_loop();
            }
        });
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t = tids.clone();
        let waiting = std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            t[2].store(unsafe { libc::gettid() }, Ordering::Relaxed);
            let _ = rx.recv();
        });
        while tids.iter().skip(1).any(|t| t.load(Ordering::Relaxed) == 0) {
            std::thread::yield_now();
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        let loadavg = File::open("/proc/loadavg").unwrap();
        let mut stay = Stay {
            loadavg,
            own: get_attr().unwrap(),
            queue: tids.clone(),
            me: 0,
            stats: vec![None, None, None],
        };
        assert_eq!(stay.runnable_siblings(), 1);
        stop.store(true, Ordering::Relaxed);
        busy.join().unwrap();
        drop(tx);
        waiting.join().unwrap();
    }

    /// Under `SCHED_IDLE` during the submission exactly when it said so, and under the
    /// thread's own policy before and after, either way (needs the right to take the
    /// policy back: root, or `RLIMIT_NICE` 20; without it `Stay::new` is None, and that
    /// is checked instead).
    #[test]
    fn the_answer_goes_idle_only_when_it_says_so_and_the_policy_comes_back() {
        std::thread::spawn(|| {
            let tids: Tids = Arc::new(vec![AtomicI32::new(0)]);
            let Some(mut stay) = Stay::new(tids.clone(), 0) else {
                assert!(!(set_policy(libc::SCHED_IDLE) && set_policy(libc::SCHED_OTHER)));
                return;
            };
            // SAFETY: gettid has no preconditions.
            assert_eq!(tids[0].load(Ordering::Relaxed), unsafe { libc::gettid() });
            let own = policy();
            assert_eq!(stay.answer_if(true, policy), (libc::SCHED_IDLE, true));
            assert_eq!(policy(), own);
            assert_eq!(stay.answer_if(false, policy), (own, false));
            assert_eq!(policy(), own);
            for _ in 0..200 {
                let (during, idle) = stay.answer(policy);
                assert_eq!(during, if idle { libc::SCHED_IDLE } else { own });
                assert_eq!(policy(), own);
            }
            // Forced both ways: a busy loop beside it is never alone.
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let s = stop.clone();
            let hog = std::thread::spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            });
            std::thread::sleep(std::time::Duration::from_millis(20));
            let (during, idle) = stay.answer(policy);
            stop.store(true, Ordering::Relaxed);
            hog.join().unwrap();
            assert!(!idle);
            assert_eq!(during, own);
            assert_eq!(policy(), own);
        })
        .join()
        .unwrap();
    }
}
