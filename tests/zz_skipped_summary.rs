//! The last test binary of `cargo test` (cargo runs integration test binaries in the
//! alphabetical order of their names): prints, in one line, every test this run skipped
//! because the user opted out with `KMSFS_SKIP_UNAVAILABLE` (see `common::skip`), and removes
//! the run's records.

mod common;
use common::skip;
use std::io::Write;

#[test]
fn summary_of_skipped_tests() {
    let prefix = format!("{}-", skip::run_id());
    let Ok(rd) = std::fs::read_dir(skip::dir()) else {
        return;
    };
    let mut files: Vec<_> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect();
    files.sort();
    let mut skipped = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        skipped.extend(
            text.lines()
                .filter_map(|l| Some(l.split_once(": SKIPPED")?.0.to_string())),
        );
        let _ = std::fs::remove_file(f);
    }
    if !skipped.is_empty() {
        // Straight to the terminal: the harness captures eprintln! of a passing test.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {} test{} ({}): {}",
            skipped.len(),
            if skipped.len() == 1 { "" } else { "s" },
            skip::OPT_OUT,
            skipped.join(", ")
        );
    }
}
