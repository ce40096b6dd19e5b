//! A progress line for long operations (bytes done, rate, time left), drawn on stderr only
//! when it is a terminal, so that scripts stay quiet.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub(super) struct Progress {
    label: String,
    total: u64,
    done: u64,
    start: Instant,
    last: Instant,
    shown: bool,
    on: bool,
}

fn mib(b: u64) -> f64 {
    b as f64 / (1u64 << 20) as f64
}

impl Progress {
    /// A progress line for `total` bytes; drawn only if stderr is a terminal.
    pub(super) fn new(label: &str, total: u64) -> Progress {
        Progress::with(label, total, std::io::stderr().is_terminal())
    }

    /// Never drawn.
    pub(super) fn hidden() -> Progress {
        Progress::with("", 0, false)
    }

    fn with(label: &str, total: u64, on: bool) -> Progress {
        let now = Instant::now();
        Progress {
            label: label.to_string(),
            total,
            done: 0,
            start: now,
            last: now,
            shown: false,
            on,
        }
    }

    pub(super) fn add(&mut self, n: u64) {
        self.done += n;
        if self.on && self.last.elapsed() >= Duration::from_millis(200) {
            self.last = Instant::now();
            self.draw();
        }
    }

    fn draw(&mut self) {
        let secs = self.start.elapsed().as_secs_f64().max(1e-3);
        let rate = self.done as f64 / secs;
        let left = self.total.saturating_sub(self.done) as f64 / rate.max(1.0);
        let pct = if self.total == 0 {
            100.0
        } else {
            100.0 * self.done as f64 / self.total as f64
        };
        let mut e = std::io::stderr().lock();
        let _ = write!(
            e,
            "\r{}: {:>5.1}%  {:.1}/{:.1} MiB  {:.1} MiB/s  {:.0}s left   ",
            self.label,
            pct.min(100.0),
            mib(self.done),
            mib(self.total),
            mib(rate as u64),
            left
        );
        let _ = e.flush();
        self.shown = true;
    }

    /// Clear the line.
    pub(super) fn finish(&mut self) {
        if self.shown {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r{:80}\r", "");
            let _ = e.flush();
            self.shown = false;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
