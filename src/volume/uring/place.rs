//! Where a ring queue's thread runs. The kernel hands a request to the queue of the CPU its
//! caller runs on, so a thread pinned to that CPU answers a caller that waits (a lookup, a
//! create, a chmod: a tar, a build) with a switch on one CPU: the caller sleeps, the thread
//! runs, the caller runs again. An unpinned thread may be on another CPU, and then each
//! round trip costs two cross-CPU wake-ups: 7 µs against 50-70 µs on a 2-vCPU VM whose idle
//! vCPUs halt (`getxattr` in a loop, caller pinned). But a stream of large reads or writes
//! served on its caller's CPU runs the caller's copies, the cipher and the kernel's copy of
//! the reply on one CPU, one after the other: reads at 1,700 MB/s against 2,600 unpinned
//! (backing file cached). So a pinned thread leaves its CPU for a data request of
//! [`HEAVY`] bytes or more, and goes back for the next smaller one. (libfuse's
//! `lib/fuse_uring.c` pins its queue threads too; docs/BENCHMARKS.md, twelfth section, has
//! the measurements. The caller's own CPU is `stay`'s.)

use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::unistd::Pid;

/// READs and WRITEs of at least this many bytes are served unpinned.
pub(crate) const HEAVY: u32 = 128 << 10;

/// A pinned queue thread's two affinities and which one it has.
pub(crate) struct Place {
    /// Its queue's CPU alone.
    home: CpuSet,
    /// The CPUs it was allowed on before it was pinned (the process's: `taskset`, cpusets).
    wide: CpuSet,
    at_home: bool,
}

impl Place {
    /// Pin the calling thread to `cpu`. None (and the thread stays where it may run) when
    /// the CPU is not one it may use (`taskset`, cpusets) or the kernel refuses.
    pub(crate) fn pin(cpu: usize) -> Option<Place> {
        let me = Pid::from_raw(0);
        let wide = sched_getaffinity(me).ok()?;
        if !wide.is_set(cpu).unwrap_or(false) {
            return None;
        }
        let mut home = CpuSet::new();
        home.set(cpu).ok()?;
        sched_setaffinity(me, &home).ok()?;
        Some(Place {
            home,
            wide,
            at_home: true,
        })
    }

    /// Before serving a request (`data_len`: the bytes a READ or WRITE moves): at home for
    /// all but large data requests, unpinned for those. A system call only when it changes.
    pub(crate) fn before(&mut self, data_len: Option<u32>) {
        let away = data_len.is_some_and(|n| n >= HEAVY);
        if away != self.at_home {
            return;
        }
        let set = if away { &self.wide } else { &self.home };
        if sched_setaffinity(Pid::from_raw(0), set).is_ok() {
            self.at_home = !away;
        }
    }

    #[cfg(test)]
    fn at_home(&self) -> bool {
        self.at_home
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<usize> {
        let set = sched_getaffinity(Pid::from_raw(0)).unwrap();
        (0..CpuSet::count())
            .filter(|&c| set.is_set(c).unwrap())
            .collect()
    }

    /// Pinned at home; a large data request widens the affinity back to what the thread
    /// had, a small one (or any other request) pins it again.
    #[test]
    fn large_data_requests_leave_home_and_the_rest_come_back() {
        std::thread::spawn(|| {
            let before = allowed();
            let cpu = before[before.len() - 1];
            let mut p = Place::pin(cpu).unwrap();
            assert_eq!(allowed(), [cpu]);
            p.before(Some(4096));
            p.before(None);
            assert!(p.at_home());
            assert_eq!(allowed(), [cpu]);
            p.before(Some(HEAVY));
            assert!(!p.at_home());
            assert_eq!(allowed(), before);
            p.before(Some(1 << 20));
            assert_eq!(allowed(), before);
            p.before(None);
            assert!(p.at_home());
            assert_eq!(allowed(), [cpu]);
        })
        .join()
        .unwrap();
    }

    /// A CPU outside the thread's affinity (here: restricted to one CPU, as by `taskset`)
    /// or beyond any CPU set is left alone: the thread keeps its affinity.
    #[test]
    fn a_cpu_the_thread_may_not_use_is_not_pinned() {
        std::thread::spawn(|| {
            let before = allowed();
            assert!(Place::pin(CpuSet::count() + 5).is_none());
            assert_eq!(allowed(), before);
            let (first, last) = (before[0], before[before.len() - 1]);
            let mut one = CpuSet::new();
            one.set(last).unwrap();
            sched_setaffinity(Pid::from_raw(0), &one).unwrap();
            if first != last {
                assert!(Place::pin(first).is_none());
            }
            assert_eq!(allowed(), [last]);
        })
        .join()
        .unwrap();
    }
}
