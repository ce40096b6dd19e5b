//! `kmsfs encrypt-file` / `decrypt-file` as a user runs them: files and pipes, the JSON
//! summary, exit codes and messages, no partial plaintext file after a failed decryption,
//! and a large stream through two processes in bounded memory (peak RSS of the children).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_kmsfs");

fn cmd(home: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env_remove("KMSFS_PASSPHRASE")
        .env_remove("KMSFS_CLOCK_OFFSET_SECS")
        .env("KMSFS_HOME", home);
    c
}

fn run(home: &Path, args: &[&str]) -> Output {
    cmd(home).args(args).output().expect("run kmsfs")
}

fn ok(o: &Output) -> serde_json::Value {
    assert!(
        o.status.success(),
        "kmsfs failed: {}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    let s = String::from_utf8_lossy(&o.stdout);
    if s.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
    }
}

fn fails(o: &Output, code: i32, needle: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert!(err.starts_with("kmsfs: "), "{err}");
    assert!(err.contains(needle), "expected '{needle}' in: {err}");
    err
}

/// A home with a key behind `alias/app`; returns (home, key ARN).
fn setup(dir: &Path) -> (PathBuf, String) {
    let home = dir.join("home");
    ok(&run(&home, &["init", "--account-id", "111122223333"]));
    let k = ok(&run(&home, &["kms", "create-key"]));
    let arn = k["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
    ok(&run(
        &home,
        &[
            "kms",
            "create-alias",
            "--alias-name",
            "alias/app",
            "--target-key-id",
            &arn,
        ],
    ));
    (home, arn)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Files in `dir` other than `keep`.
fn others(dir: &Path, keep: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect()
}

#[test]
fn files_pipes_summaries_and_errors() {
    let d = tempfile::tempdir().unwrap();
    let (home, arn) = setup(d.path());
    let w = d.path().join("w");
    std::fs::create_dir(&w).unwrap();
    let pt: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let (p, m, back) = (w.join("p"), w.join("p.kms"), w.join("back"));
    std::fs::write(&p, &pt).unwrap();

    let e = ok(&run(
        &home,
        &[
            "encrypt-file",
            "--key-id",
            "alias/app",
            "--input",
            s(&p),
            "--out",
            s(&m),
            "--encryption-context",
            "purpose=test",
            "app=x",
            "--frame-length",
            "65536",
        ],
    ));
    assert_eq!(e["KeyId"], arn.as_str());
    assert_eq!(
        e["EncryptionContext"],
        serde_json::json!({"app": "x", "purpose": "test"})
    );
    assert_eq!(e["PlaintextBytes"], 200_000);
    assert_eq!(e["Frames"], 4);
    assert_eq!(e["MessageId"].as_str().unwrap().len(), 64);
    assert_eq!(e["MessageBytes"], std::fs::metadata(&m).unwrap().len());

    let dj = ok(&run(
        &home,
        &[
            "decrypt-file",
            "-i",
            s(&m),
            "-o",
            s(&back),
            "--encryption-context",
            "purpose=test",
        ],
    ));
    assert_eq!(std::fs::read(&back).unwrap(), pt);
    assert_eq!(dj["MessageId"], e["MessageId"]);
    assert_eq!(dj["KeyId"], arn.as_str());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&back).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "plaintext files are private");

    // stdin to stdout, both ways: nothing but the data on stdout.
    let mut enc = cmd(&home)
        .args([
            "encrypt-file",
            "--key-id",
            "alias/app",
            "--input",
            "-",
            "--out",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let dec = cmd(&home)
        .args(["decrypt-file", "--input", "-", "--out", "-"])
        .stdin(Stdio::from(enc.stdout.take().unwrap()))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = enc.stdin.take().unwrap();
    let feed = pt.clone();
    let writer = std::thread::spawn(move || stdin.write_all(&feed).unwrap());
    let out = dec.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(enc.wait().unwrap().success());
    assert!(out.status.success());
    assert!(out.stdout == pt, "pipe round trip");

    // Wrong or missing required context: exit 12, no output file.
    let bad = w.join("bad");
    fails(
        &run(
            &home,
            &[
                "decrypt-file",
                "-i",
                s(&m),
                "-o",
                s(&bad),
                "--encryption-context",
                "purpose=prod",
            ],
        ),
        12,
        "has purpose=test, not the required purpose=prod",
    );
    // Truncated, flipped, extended: exit 12, and neither the output nor a temp file remains.
    let msg = std::fs::read(&m).unwrap();
    let mut flipped = msg.clone();
    let n = flipped.len();
    flipped[n - 100] ^= 1;
    let mut extended = msg.clone();
    extended.push(0);
    for (name, bytes, needle) in [
        (
            "cut",
            msg[..msg.len() - 20_000].to_vec(),
            "truncated: it ends after 2 complete frames",
        ),
        ("flipped", flipped, "frame 3 failed authentication"),
        ("extended", extended, "bytes follow the final frame"),
    ] {
        let f = w.join(name);
        std::fs::write(&f, bytes).unwrap();
        fails(
            &run(&home, &["decrypt-file", "-i", s(&f), "-o", s(&bad)]),
            12,
            needle,
        );
        assert!(!bad.exists(), "{name}: a partial plaintext file was left");
    }
    assert_eq!(
        others(&w, &["p", "p.kms", "back", "cut", "flipped", "extended"]),
        Vec::<String>::new(),
        "temporary files left behind"
    );
    fails(
        &run(&home, &["decrypt-file", "-i", s(&p), "-o", s(&bad)]),
        12,
        "no KMSE magic",
    );

    // Usage errors.
    fails(
        &run(
            &home,
            &[
                "encrypt-file",
                "--key-id",
                "alias/app",
                "-i",
                s(&p),
                "-o",
                s(&bad),
                "--frame-length",
                "8",
            ],
        ),
        2,
        "the frame length 8 is outside 16..=16777216",
    );
    fails(
        &run(
            &home,
            &[
                "encrypt-file",
                "--key-id",
                "alias/app",
                "-i",
                "/nonexistent",
                "-o",
                s(&bad),
            ],
        ),
        2,
        "cannot open the input /nonexistent",
    );
    fails(
        &run(
            &home,
            &[
                "encrypt-file",
                "--key-id",
                "alias/nope",
                "-i",
                s(&p),
                "-o",
                s(&bad),
            ],
        ),
        5,
        "NotFoundException",
    );

    // A disabled key: exit 5, the AWS error naming the state.
    ok(&run(&home, &["kms", "disable-key", "--key-id", &arn]));
    let err = fails(
        &run(&home, &["decrypt-file", "-i", s(&m), "-o", s(&bad)]),
        5,
        "DisabledException",
    );
    assert!(err.contains("is disabled"), "{err}");
    fails(
        &run(
            &home,
            &[
                "encrypt-file",
                "--key-id",
                "alias/app",
                "-i",
                s(&p),
                "-o",
                s(&bad),
            ],
        ),
        5,
        "DisabledException",
    );
    assert!(!bad.exists());

    // Every request is in the audit trail: one GenerateDataKey per encryption (2 made it).
    let trail = std::fs::read_to_string(home.join("kms/audit.log")).unwrap();
    let gdk = trail
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["operation"] == "GenerateDataKey" && v["outcome"] == "Success")
        .count();
    assert_eq!(gdk, 2);
}

/// Deterministic pseudo-random bytes: block `i` of 8 bytes is a function of `i`.
fn fill(buf: &mut [u8], offset: u64) {
    debug_assert!(offset.is_multiple_of(8) && buf.len().is_multiple_of(8));
    for (j, c) in buf.chunks_exact_mut(8).enumerate() {
        let mut x = (offset / 8 + j as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        x ^= x >> 29;
        c.copy_from_slice(&x.to_le_bytes());
    }
}

fn max_rss_children_kib() -> i64 {
    // SAFETY: getrusage writes into the struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) }, 0);
    u.ru_maxrss
}

/// A large stream (256 MiB, or `KMSFS_ENVELOPE_BIG_MIB`) from this process through `encrypt-file - -`, a pipe, and
/// `decrypt-file - -` back to this process, compared as it arrives. Neither child may use
/// more than a few MiB beyond its baseline.
#[test]
fn a_large_stream_through_pipes_in_bounded_memory() {
    let mib: u64 = std::env::var("KMSFS_ENVELOPE_BIG_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let size = mib << 20;
    let d = tempfile::tempdir().unwrap();
    let (home, _) = setup(d.path());
    let baseline = max_rss_children_kib();
    let t = std::time::Instant::now();
    let mut enc = cmd(&home)
        .args([
            "encrypt-file",
            "--key-id",
            "alias/app",
            "-i",
            "-",
            "-o",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut dec = cmd(&home)
        .args(["decrypt-file", "-i", "-", "-o", "-"])
        .stdin(Stdio::from(enc.stdout.take().unwrap()))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = enc.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 20];
        let mut off = 0;
        while off < size {
            fill(&mut buf, off);
            stdin.write_all(&buf).unwrap();
            off += buf.len() as u64;
        }
    });
    let mut out = dec.stdout.take().unwrap();
    let (mut got, mut want) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let mut off = 0u64;
    loop {
        let n = out.read(&mut got[..]).unwrap();
        if n == 0 {
            break;
        }
        // Compare against the generator, 8-byte aligned.
        let start = off - off % 8;
        let span = ((off + n as u64).div_ceil(8) * 8 - start) as usize;
        fill(&mut want[..span], start);
        let skip = (off - start) as usize;
        assert!(got[..n] == want[skip..skip + n], "mismatch near byte {off}");
        off += n as u64;
    }
    writer.join().unwrap();
    assert!(enc.wait().unwrap().success());
    assert!(dec.wait().unwrap().success());
    assert_eq!(off, size);
    let secs = t.elapsed().as_secs_f64();
    let peak = max_rss_children_kib();
    eprintln!(
        "{mib} MiB through encrypt | decrypt in {secs:.1} s ({:.0} MiB/s); peak child RSS {} KiB (baseline {baseline} KiB)",
        mib as f64 / secs,
        peak
    );
    assert!(peak < 40 * 1024, "a child used {peak} KiB");
}
