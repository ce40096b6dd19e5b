//! What a test does when something it needs is missing here (`/dev/fuse`, a tool, root, the
//! Python venv): it FAILS, unless the user opted out of that kind of test explicitly with
//! `KMSFS_SKIP_UNAVAILABLE` (`1` or `all`: every kind; else a comma-separated list of kinds:
//! `fuse`, `root`, `python`, or a tool's name such as `fio`). Under `CI=true` nothing may be
//! skipped. An opted-out skip prints one `SKIPPED` line on the terminal at once (past the
//! test harness's capture) and appends it to `target/tmp/skipped-tests/RUN-BINARY.txt`, where
//! RUN names the `cargo test` that ran this binary (its pid and start time); the last test
//! binary, `tests/zz_skipped_summary.rs`, prints that run's skips in one summary line.

use std::io::Write;
use std::path::PathBuf;

/// The variable that lists the kinds of unavailable tests the user lets skip.
pub const OPT_OUT: &str = "KMSFS_SKIP_UNAVAILABLE";

/// `ok` when the test can run; otherwise, `false` if the user opted out of `kind` (the skip
/// is recorded), else a panic that says what is missing (`why`), how to get it (`fix`) and
/// how to opt out.
pub fn available(test: &str, kind: &str, ok: bool, why: &str, fix: &str) -> bool {
    if ok {
        return true;
    }
    let ci = std::env::var("CI").as_deref() == Ok("true");
    if ci || !opted_out(kind) {
        let optout = if ci {
            "CI=true: nothing may be skipped".to_string()
        } else {
            format!("to skip such tests, set {OPT_OUT}={kind} (or =1 for every kind)")
        };
        panic!("{test}: cannot run: {why} ({fix}); {optout}");
    }
    let line = format!("{test}: SKIPPED ({OPT_OUT}): {why}");
    // Straight to the terminal: the harness captures eprintln! of a passing test.
    let _ = writeln!(std::io::stderr(), "{line}");
    record(&line);
    false
}

/// Whether `KMSFS_SKIP_UNAVAILABLE` names `kind` (or is `1`/`all`).
fn opted_out(kind: &str) -> bool {
    let Ok(v) = std::env::var(OPT_OUT) else {
        return false;
    };
    v.split(',')
        .map(str::trim)
        .any(|k| k == "1" || k == "all" || k == kind)
}

/// Where this run's skips go: one directory for all runs, a file per run and test binary.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("skipped-tests")
}

/// The `cargo test` (or whatever ran this binary) as `PID-STARTTIME`: the same for every
/// test binary of one run, different for the next run.
pub fn run_id() -> String {
    run_id_of(std::os::unix::process::parent_id())
}

/// The run a test binary started by process `pid` belongs to.
pub fn run_id_of(pid: u32) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Field 22 (starttime), counted after the parenthesised command name.
    let start = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(19))
        .unwrap_or("0");
    format!("{pid}-{start}")
}

/// Append `line` to this run's file of skips for this test binary.
fn record(line: &str) {
    let exe = std::env::current_exe().unwrap_or_default();
    let bin = exe
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("tests")
        .split('-')
        .next()
        .unwrap_or("tests")
        .to_string();
    let d = dir();
    let _ = std::fs::create_dir_all(&d);
    let path = d.join(format!("{}-{bin}.txt", run_id()));
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{bin}::{line}");
    }
}
