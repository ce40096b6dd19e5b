//! `kmsfs encrypt-file` / `decrypt-file` as a user runs them: files and pipes, the JSON
//! summary, exit codes and messages, no partial plaintext file after a failed decryption,
//! and a large stream through two processes in bounded memory (peak RSS of the children).

mod common;
use common::cli::*;
use common::pattern::{check_stream, write_stream};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

/// A home with a key behind `alias/app`; returns (home, key ARN).
fn setup(dir: &Path) -> (PathBuf, String) {
    let home = init(dir);
    let arn = key_with_alias(&home, "alias/app");
    (home, arn)
}

/// `encrypt-file` under `alias/app` from a pipe into `decrypt-file` to a pipe, with `io` as
/// the input and output flags (the long or the short forms): (encryptor, decryptor).
fn pipeline(home: &Path, io: [&str; 2]) -> (Child, Child) {
    let [i, o] = io;
    let mut enc = cmd(
        home,
        &["encrypt-file", "--key-id", "alias/app", i, "-", o, "-"],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let dec = cmd(home, &["decrypt-file", i, "-", o, "-"])
        .stdin(Stdio::from(enc.stdout.take().unwrap()))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    (enc, dec)
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

    let e = run_ok(
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
    );
    assert_eq!(e["KeyId"], arn.as_str());
    assert_eq!(
        e["EncryptionContext"],
        serde_json::json!({"app": "x", "purpose": "test"})
    );
    assert_eq!(e["PlaintextBytes"], 200_000);
    assert_eq!(e["Frames"], 4);
    assert_eq!(e["MessageId"].as_str().unwrap().len(), 64);
    assert_eq!(e["MessageBytes"], std::fs::metadata(&m).unwrap().len());

    let dj = run_ok(
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
    );
    assert_eq!(std::fs::read(&back).unwrap(), pt);
    assert_eq!(dj["MessageId"], e["MessageId"]);
    assert_eq!(dj["KeyId"], arn.as_str());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&back).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "plaintext files are private");

    // stdin to stdout, both ways: nothing but the data on stdout.
    let (mut enc, dec) = pipeline(&home, ["--input", "--out"]);
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
    let to_bad = |verb: &[&str], input: &str, extra: &[&str]| {
        kmsfs(
            &home,
            &[verb, &["-i", input, "-o", s(&bad)], extra].concat(),
        )
    };
    let decrypt = |input: &Path, extra: &[&str]| to_bad(&["decrypt-file"], s(input), extra);
    let encrypt = |key: &str, input: &str, extra: &[&str]| {
        to_bad(&["encrypt-file", "--key-id", key], input, extra)
    };
    fails(
        &decrypt(&m, &["--encryption-context", "purpose=prod"]),
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
        fails(&decrypt(&f, &[]), 12, needle);
        assert!(!bad.exists(), "{name}: a partial plaintext file was left");
    }
    assert_eq!(
        others(&w, &["p", "p.kms", "back", "cut", "flipped", "extended"]),
        Vec::<String>::new(),
        "temporary files left behind"
    );
    fails(&decrypt(&p, &[]), 12, "no KMSE magic");

    // Usage errors.
    for (key, input, extra, code, needle) in [
        (
            "alias/app",
            s(&p),
            &["--frame-length", "8"][..],
            2,
            "the frame length 8 is outside 16..=16777216",
        ),
        (
            "alias/app",
            "/nonexistent",
            &[],
            2,
            "cannot open the input /nonexistent",
        ),
        ("alias/nope", s(&p), &[], 5, "NotFoundException"),
    ] {
        fails(&encrypt(key, input, extra), code, needle);
    }

    // A disabled key: exit 5, the AWS error naming the state.
    run_ok(&home, &["kms", "disable-key", "--key-id", &arn]);
    let err = fails(&decrypt(&m, &[]), 5, "DisabledException");
    assert!(err.contains("is disabled"), "{err}");
    fails(&encrypt("alias/app", s(&p), &[]), 5, "DisabledException");
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
    let mib: u64 = common::env_or("KMSFS_ENVELOPE_BIG_MIB", 256);
    let size = mib << 20;
    let d = tempfile::tempdir().unwrap();
    let (home, _) = setup(d.path());
    let baseline = max_rss_children_kib();
    let t = std::time::Instant::now();
    let (mut enc, mut dec) = pipeline(&home, ["-i", "-o"]);
    let stdin = enc.stdin.take().unwrap();
    let writer = std::thread::spawn(move || write_stream(stdin, size));
    let off = check_stream(dec.stdout.take().unwrap(), size);
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
