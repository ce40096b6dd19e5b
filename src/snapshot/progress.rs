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

/// What is left at `rate` bytes/s, once a second of it has been measured (before, or with
/// nothing measured, a guess would be noise: `--s left`).
fn time_left(left: u64, rate: f64, measured_secs: f64) -> String {
    if measured_secs < 1.0 || rate < 1.0 {
        return "--s left".into();
    }
    let s = (left as f64 / rate).round() as u64;
    match s {
        0..60 => format!("{s}s left"),
        60..3600 => format!("{}m{:02}s left", s / 60, s % 60),
        _ => format!("{}h{:02}m left", s / 3600, s % 3600 / 60),
    }
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
        if self.done == 0 {
            // The clock starts with the first bytes, not with the setup before them (KMS
            // calls, scratch space): a rate over the setup says nothing of what is left.
            self.start = Instant::now();
        }
        self.done += n;
        if self.on && self.last.elapsed() >= Duration::from_millis(200) {
            self.last = Instant::now();
            self.draw();
        }
    }

    fn draw(&mut self) {
        let secs = self.start.elapsed().as_secs_f64().max(1e-3);
        let rate = self.done as f64 / secs;
        let pct = if self.total == 0 {
            100.0
        } else {
            100.0 * self.done as f64 / self.total as f64
        };
        let mut e = std::io::stderr().lock();
        let _ = write!(
            e,
            "\r{}: {:>5.1}%  {:.1}/{:.1} MiB  {:.1} MiB/s  {}   ",
            self.label,
            pct.min(100.0),
            mib(self.done),
            mib(self.total),
            mib(rate as u64),
            time_left(self.total.saturating_sub(self.done), rate, secs)
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

#[cfg(test)]
mod tests {
    use super::time_left;

    #[test]
    fn time_left_is_not_guessed_from_nothing() {
        assert_eq!(time_left(23_277_806, 0.0, 0.001), "--s left");
        assert_eq!(time_left(1 << 30, 1e9, 0.2), "--s left");
        assert_eq!(time_left(100, 10.0, 2.0), "10s left");
        assert_eq!(time_left(6_000, 10.0, 2.0), "10m00s left");
        assert_eq!(time_left(72_000, 10.0, 2.0), "2h00m left");
    }
}
