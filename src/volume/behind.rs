//! Write-behind for streams of writes. The kernel starts writing a file's dirty pages back
//! only when the dirty-page budget (gigabytes here) fills, when they are 30 s old or at an
//! fsync, so a long write that ends in an fsync (a copy, `fio --end_fsync`, a backup) paid
//! first for the encryption of all of it and then for all of the disk writes. Every `STEP`
//! bytes of a dense stream of writes to one open file, start the write-back of that range
//! of the backing file (`sync_file_range(SYNC_FILE_RANGE_WRITE)`: queue the pages for the
//! disk, do not wait for them), as RocksDB's `bytes_per_sync` does, so the two overlap.
//! Writes scattered over a window much wider than the bytes written never start it: their
//! pages may yet be overwritten in the cache, and the kernel's own write-back stays in charge.
//! Durability is unchanged: only fsync promises anything, and it still waits for everything.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::Mutex;

/// Bytes of a dense stream between two write-back starts.
pub(crate) const STEP: u64 = 8 << 20;

/// The writes of one open file since its last write-back start.
#[derive(Default)]
pub(crate) struct WriteBehind {
    window: Mutex<Window>,
}

#[derive(Default, Debug, PartialEq)]
struct Window {
    lo: u64,
    hi: u64,
    bytes: u64,
}

impl Window {
    /// Add a write of `len` bytes at `off`; the range to write back when the window is a
    /// dense stream of at least `STEP` bytes (the window then starts afresh).
    fn add(&mut self, off: u64, len: u64) -> Option<(u64, u64)> {
        let end = off.saturating_add(len);
        if self.bytes == 0 {
            (self.lo, self.hi) = (off, end);
        } else {
            (self.lo, self.hi) = (self.lo.min(off), self.hi.max(end));
        }
        self.bytes += len;
        let span = self.hi - self.lo;
        // Dense: the writes cover at least half of their span (a stream whose requests
        // arrive a little out of order across the dispatch loops still is).
        if span > 2 * self.bytes {
            if span > 4 * STEP {
                *self = Window::default(); // scattered: forget it
            }
            return None;
        }
        if self.bytes < STEP {
            return None;
        }
        let r = (self.lo, span);
        *self = Window::default();
        Some(r)
    }
}

impl WriteBehind {
    /// Note a write of `len` bytes at plaintext offset `off` of `file`, whose backing data
    /// sits at most `shift` bytes further on (the file header). Returns whether write-back
    /// was started.
    pub(crate) fn note(&self, file: &File, off: u64, len: u64, shift: u64) -> bool {
        let r = self.window.lock().expect("write-behind").add(off, len);
        let Some((start, n)) = r else {
            return false;
        };
        // SAFETY: a valid descriptor; the call only queues the range's dirty pages for I/O.
        let rc = unsafe {
            libc::sync_file_range(
                file.as_raw_fd(),
                start as libc::off64_t,
                (n + shift) as libc::off64_t,
                libc::SYNC_FILE_RANGE_WRITE,
            )
        };
        // Best effort: a failure here changes nothing that fsync does not check again.
        rc == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_starts_write_back_every_step() {
        let mut w = Window::default();
        let mb = 1 << 20;
        let mut starts = vec![];
        for i in 0..32u64 {
            if let Some(r) = w.add(i * mb, mb) {
                starts.push(r);
            }
        }
        assert_eq!(
            starts,
            vec![(0, STEP), (STEP, STEP), (2 * STEP, STEP), (3 * STEP, STEP)]
        );
    }

    #[test]
    fn a_stream_out_of_order_still_counts() {
        let mut w = Window::default();
        let mb = 1 << 20;
        let order = [1u64, 0, 3, 2, 5, 4, 7, 6];
        let r: Vec<_> = order.iter().filter_map(|&i| w.add(i * mb, mb)).collect();
        assert_eq!(r, vec![(0, 8 * mb)]);
    }

    #[test]
    fn scattered_writes_never_start_it() {
        let mut w = Window::default();
        let mut x = 12345u64;
        for _ in 0..100_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let off = (x >> 20) % (1 << 30) / 4096 * 4096;
            assert_eq!(w.add(off, 4096), None);
        }
    }

    #[test]
    fn note_starts_write_back_of_a_real_file() {
        use std::os::unix::fs::FileExt;
        let d = tempfile::tempdir().unwrap();
        let f = File::create(d.path().join("f")).unwrap();
        let wb = WriteBehind::default();
        let buf = vec![7u8; 1 << 20];
        let mut started = 0;
        for i in 0..16u64 {
            f.write_all_at(&buf, 32 + i * buf.len() as u64).unwrap();
            started += wb.note(&f, i << 20, 1 << 20, 32) as u32;
        }
        assert_eq!(started, 2);
    }
}
