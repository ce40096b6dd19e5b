//! Helpers shared by the integration tests. Each test binary includes this module
//! (`mod common;`) and compiles it on its own, using only some of it: hence the
//! `dead_code` allowance.
#![allow(dead_code)]

pub mod cli;
pub mod iam;
pub mod kms;
pub mod mount;
pub mod object;
pub mod pattern;
pub mod posix;
pub mod serve;
pub mod skip;
pub mod vectors;

/// The value of the environment variable `name` parsed, or `default` when it is unset or
/// does not parse (sizes and counts a run may override).
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Two writers each store their version `rounds` times through `put` (given the version: a
/// byte and how many of it), one `(b'A', ..)` and one `(b'B', ..)`, while a reader `get`s the
/// object until they are done (and at least `min_reads` times): every read must be one whole
/// version. How many reads there were.
pub fn race_whole_versions(
    versions: [(u8, usize); 2],
    rounds: usize,
    min_reads: usize,
    put: impl Fn(u8, usize) + Sync,
    get: impl Fn() -> Vec<u8> + Sync,
) -> usize {
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut reads = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || reads < min_reads {
                let got = get();
                assert!(
                    versions
                        .iter()
                        .any(|&(c, n)| got.len() == n && got.iter().all(|&x| x == c)),
                    "a reader saw a mix: {} bytes",
                    got.len()
                );
                reads += 1;
            }
            reads
        });
        let writers: Vec<_> = versions
            .iter()
            .map(|&(c, n)| {
                let put = &put;
                scope.spawn(move || {
                    for _ in 0..rounds {
                        put(c, n);
                    }
                })
            })
            .collect();
        // Stop the reader before a writer's panic goes on (the scope would wait for it).
        let done: Vec<_> = writers.into_iter().map(|w| w.join()).collect();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let reads = reader.join().unwrap();
        for d in done {
            d.unwrap_or_else(|p| std::panic::resume_unwind(p));
        }
        reads
    })
}
