//! `kmsfs bucket` and `kmsfs object` as a user runs them: real processes on a real home.
//! Output fields and exit codes; a large object through PUT and GET in bounded memory (peak
//! RSS of the child); no partial output file from a failed GET; concurrent PUT processes with
//! a reader that only ever sees whole versions.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_kmsfs");

fn cmd(home: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.env_remove("KMSFS_PASSPHRASE")
        .env_remove("KMSFS_CLOCK_OFFSET_SECS")
        .env("KMSFS_HOME", home)
        .args(args);
    c
}

fn kmsfs(home: &Path, args: &[&str]) -> Output {
    cmd(home, args).output().expect("run kmsfs")
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

fn init(dir: &Path) -> PathBuf {
    let home = dir.join("home");
    ok(&kmsfs(&home, &["init", "--account-id", "111122223333"]));
    home
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn tour_of_bucket_and_object_verbs() {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let v = ok(&kmsfs(&home, &["bucket", "create", "photos"]));
    assert_eq!(v["Location"], "/photos");
    fails(
        &kmsfs(&home, &["bucket", "create", "photos"]),
        11,
        "BucketAlreadyOwnedByYou",
    );
    fails(
        &kmsfs(&home, &["bucket", "create", "No"]),
        2,
        "InvalidBucketName",
    );
    let v = ok(&kmsfs(&home, &["bucket", "list"]));
    assert_eq!(v["Buckets"][0]["Name"], "photos");
    let v = ok(&kmsfs(&home, &["bucket", "get-encryption", "photos"]));
    let rule = &v["ServerSideEncryptionConfiguration"]["Rules"][0];
    assert_eq!(
        rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"],
        "AES256"
    );
    assert_eq!(rule["BucketKeyEnabled"], false);

    let key = ok(&kmsfs(&home, &["kms", "create-key"]))["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_string();
    ok(&kmsfs(
        &home,
        &[
            "kms",
            "create-alias",
            "--alias-name",
            "alias/app",
            "--target-key-id",
            &key,
        ],
    ));
    let v = ok(&kmsfs(
        &home,
        &[
            "bucket",
            "put-encryption",
            "photos",
            "--sse",
            "aws:kms",
            "--kms-key-id",
            "alias/app",
            "--bucket-key-enabled",
        ],
    ));
    let rule = &v["ServerSideEncryptionConfiguration"]["Rules"][0];
    assert_eq!(
        rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"],
        "alias/app"
    );
    assert_eq!(rule["BucketKeyEnabled"], true);

    let body = d.path().join("cat.jpg");
    std::fs::write(&body, vec![7u8; 100_000]).unwrap();
    let v = ok(&kmsfs(
        &home,
        &["object", "put", "photos/2024/cat.jpg", "--body", p(&body)],
    ));
    assert_eq!(v["ServerSideEncryption"], "aws:kms");
    assert_eq!(v["SSEKMSKeyId"], key.as_str());
    assert_eq!(v["BucketKeyEnabled"], true);
    assert_eq!(v["ContentLength"], 100_000);
    let etag = v["ETag"].clone();
    let v = ok(&kmsfs(&home, &["object", "head", "photos/2024/cat.jpg"]));
    assert_eq!(v["ETag"], etag);
    assert_eq!(v["SSEKMSKeyId"], key.as_str());
    assert!(v["LastModified"].as_str().unwrap().ends_with('Z'));
    // SSE-S3 overrides the bucket default; the encryption context must go with aws:kms.
    let v = ok(&kmsfs(
        &home,
        &[
            "object",
            "put",
            "photos/2024/dog.jpg",
            "--body",
            p(&body),
            "--sse",
            "AES256",
        ],
    ));
    assert_eq!(v["ServerSideEncryption"], "AES256");
    assert!(v.get("SSEKMSKeyId").is_none());
    fails(
        &kmsfs(
            &home,
            &[
                "object",
                "put",
                "photos/x",
                "--body",
                p(&body),
                "--sse",
                "AES256",
                "--encryption-context",
                "a=b",
            ],
        ),
        2,
        "InvalidArgument",
    );
    let v = ok(&kmsfs(
        &home,
        &[
            "object",
            "put",
            "photos/ctx",
            "--body",
            p(&body),
            "--sse",
            "aws:kms",
            "--kms-key-id",
            "alias/app",
            "--encryption-context",
            "team=cats",
            "--bucket-key-enabled",
            "false",
        ],
    ));
    assert_eq!(v["BucketKeyEnabled"], false);
    assert!(v["SSEKMSEncryptionContext"].is_string());

    // SSE-C via fileb:// and base64.
    let k = d.path().join("key.bin");
    std::fs::write(&k, [0x42u8; 32]).unwrap();
    let fileb = format!("fileb://{}", p(&k));
    let v = ok(&kmsfs(
        &home,
        &[
            "object",
            "put",
            "photos/secret",
            "--body",
            p(&body),
            "--sse-c-key",
            &fileb,
        ],
    ));
    assert_eq!(v["SSECustomerAlgorithm"], "AES256");
    let md5 = v["SSECustomerKeyMD5"].as_str().unwrap().to_string();
    let b64 = kmsfs::kms::types::b64::encode(&[0x42u8; 32]);
    let v = ok(&kmsfs(
        &home,
        &["object", "head", "photos/secret", "--sse-c-key", &b64],
    ));
    assert_eq!(v["SSECustomerKeyMD5"], md5.as_str());
    fails(
        &kmsfs(&home, &["object", "head", "photos/secret"]),
        11,
        "InvalidRequest",
    );
    let wrong = kmsfs::kms::types::b64::encode(&[0x43u8; 32]);
    let out = d.path().join("out.bin");
    fails(
        &kmsfs(
            &home,
            &[
                "object",
                "get",
                "photos/secret",
                p(&out),
                "--sse-c-key",
                &wrong,
            ],
        ),
        11,
        "AccessDenied",
    );
    assert!(!out.exists());
    fails(
        &kmsfs(
            &home,
            &[
                "object",
                "get",
                "photos/secret",
                p(&out),
                "--sse-c-key",
                "c2hvcnQ=",
            ],
        ),
        2,
        "256 bits",
    );
    let v = ok(&kmsfs(
        &home,
        &[
            "object",
            "get",
            "photos/secret",
            p(&out),
            "--sse-c-key",
            &fileb,
        ],
    ));
    assert_eq!(v["ContentLength"], 100_000);
    assert_eq!(std::fs::read(&out).unwrap(), vec![7u8; 100_000]);

    // Ranges.
    let v = ok(&kmsfs(
        &home,
        &[
            "object",
            "get",
            "photos/2024/cat.jpg",
            p(&out),
            "--range",
            "bytes=-10",
        ],
    ));
    assert_eq!(v["ContentRange"], "bytes 99990-99999/100000");
    assert_eq!(std::fs::read(&out).unwrap().len(), 10);
    fails(
        &kmsfs(
            &home,
            &[
                "object",
                "get",
                "photos/2024/cat.jpg",
                p(&out),
                "--range",
                "bytes=100000-",
            ],
        ),
        11,
        "InvalidRange",
    );
    // To standard output: the bytes only.
    let o = kmsfs(
        &home,
        &[
            "object",
            "get",
            "photos/2024/cat.jpg",
            "-",
            "--range",
            "bytes=0-4",
        ],
    );
    assert!(o.status.success());
    assert_eq!(o.stdout, vec![7u8; 5]);

    // Listing (JSON and text) and deletion.
    let v = ok(&kmsfs(
        &home,
        &["object", "list", "photos", "--prefix", "2024/"],
    ));
    assert_eq!(v["KeyCount"], 2);
    assert_eq!(v["Contents"][0]["Key"], "2024/cat.jpg");
    assert_eq!(v["Contents"][0]["Size"], 100_000);
    let v = ok(&kmsfs(
        &home,
        &["object", "list", "photos", "--delimiter", "/"],
    ));
    assert_eq!(v["CommonPrefixes"][0]["Prefix"], "2024/");
    let o = kmsfs(
        &home,
        &[
            "--output", "text", "object", "list", "photos", "--prefix", "2024/",
        ],
    );
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("CONTENTS\t") && l.contains("2024/dog.jpg")),
        "{text}"
    );
    let v = ok(&kmsfs(&home, &["object", "delete", "photos/2024/cat.jpg"]));
    assert_eq!(v["Deleted"], true);
    fails(
        &kmsfs(&home, &["object", "head", "photos/2024/cat.jpg"]),
        11,
        "NoSuchKey",
    );
    fails(
        &kmsfs(&home, &["object", "list", "nobucket"]),
        11,
        "NoSuchBucket",
    );
    fails(
        &kmsfs(&home, &["object", "head", "photos"]),
        2,
        "BUCKET/KEY",
    );
    // Copy (the copy takes the bucket default: SSE-KMS with the bucket key).
    let v = ok(&kmsfs(
        &home,
        &[
            "object",
            "copy",
            "photos/secret",
            "photos/copy",
            "--copy-source-sse-c-key",
            &fileb,
        ],
    ));
    assert_eq!(v["ServerSideEncryption"], "aws:kms");
    fails(
        &kmsfs(&home, &["bucket", "delete", "photos"]),
        11,
        "BucketNotEmpty",
    );
    ok(&kmsfs(&home, &["bucket", "delete", "photos", "--force"]));
    assert_eq!(
        ok(&kmsfs(&home, &["bucket", "list"]))["Buckets"],
        serde_json::json!([])
    );
    ok(&kmsfs(&home, &["audit", "verify"]));
}

#[test]
fn failed_gets_leave_no_output_file() {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    ok(&kmsfs(&home, &["bucket", "create", "tamper"]));
    let body = d.path().join("body");
    std::fs::write(&body, vec![1u8; 300_000]).unwrap();
    ok(&kmsfs(
        &home,
        &["object", "put", "tamper/k", "--body", p(&body)],
    ));
    let obj = kmsfs::object::service::object_path(&home, "tamper", "k");
    let mut raw = std::fs::read(&obj).unwrap();
    let n = raw.len();
    raw[n - 100] ^= 1; // in the last segment: the first four are fine
    std::fs::write(&obj, &raw).unwrap();
    let outdir = d.path().join("out");
    std::fs::create_dir(&outdir).unwrap();
    let out = outdir.join("o.bin");
    let err = fails(
        &kmsfs(&home, &["object", "get", "tamper/k", p(&out)]),
        11,
        "ObjectDamaged",
    );
    assert!(err.contains("segment 4"), "{err}");
    assert_eq!(
        std::fs::read_dir(&outdir).unwrap().count(),
        0,
        "no partial or temp file"
    );
    // An existing file is left as it was.
    std::fs::write(&out, b"keep me").unwrap();
    fails(
        &kmsfs(&home, &["object", "get", "tamper/k", p(&out)]),
        11,
        "ObjectDamaged",
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    // A disabled key: exit 5 (the KMS refused), naming the key state.
    let key = ok(&kmsfs(&home, &["kms", "create-key"]))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    ok(&kmsfs(
        &home,
        &[
            "object",
            "put",
            "tamper/kms",
            "--body",
            p(&body),
            "--sse",
            "aws:kms",
            "--kms-key-id",
            &key,
        ],
    ));
    ok(&kmsfs(&home, &["kms", "disable-key", "--key-id", &key]));
    let err = fails(
        &kmsfs(&home, &["object", "get", "tamper/kms", p(&out)]),
        5,
        "KMS.DisabledException",
    );
    assert!(err.contains(&key) && err.contains("enable-key"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
}

/// Deterministic pseudo-random bytes (xorshift64, 8 bytes per step), generated cheaply;
/// the stream does not depend on how it is cut into calls.
struct Gen {
    state: u64,
    word: [u8; 8],
    used: usize,
    left: u64,
}

impl Gen {
    fn new(len: u64) -> Gen {
        Gen {
            state: 0x9E3779B97F4A7C15,
            word: [0; 8],
            used: 8,
            left: len,
        }
    }

    fn fill(&mut self, buf: &mut [u8]) -> usize {
        let n = (buf.len() as u64).min(self.left) as usize;
        for b in &mut buf[..n] {
            if self.used == 8 {
                self.state ^= self.state << 13;
                self.state ^= self.state >> 7;
                self.state ^= self.state << 17;
                self.word = self.state.to_le_bytes();
                self.used = 0;
            }
            *b = self.word[self.used];
            self.used += 1;
        }
        self.left -= n as u64;
        n
    }
}

/// Wait for `pid` and return its peak RSS in KiB (ru_maxrss of that child alone).
fn wait_rss(pid: u32) -> (i32, i64) {
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for the child we spawned and did not reap.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid as i32, &mut status, 0, &mut ru) };
    assert_eq!(r, pid as i32, "wait4");
    (libc::WEXITSTATUS(status), ru.ru_maxrss)
}

/// How big the large object is: 1 GiB (dev builds are optimized, see Cargo.toml), 32 times
/// the 32 MiB bound. `KMSFS_BIG_OBJECT_MIB` overrides.
fn big_len() -> u64 {
    let mib = std::env::var("KMSFS_BIG_OBJECT_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    mib << 20
}

#[test]
fn a_large_object_streams_through_put_and_get_in_bounded_memory() {
    const LIMIT_KIB: i64 = 32 * 1024;
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    ok(&kmsfs(&home, &["bucket", "create", "big"]));
    let len = big_len();
    let t = std::time::Instant::now();
    // PUT from standard input: the body never touches the disk.
    let mut child = cmd(&home, &["object", "put", "big/blob", "--body", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let mut g = Gen::new(len);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = g.fill(&mut buf);
            if n == 0 {
                break;
            }
            stdin.write_all(&buf[..n]).unwrap();
        }
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut put_out = String::new();
    stdout.read_to_string(&mut put_out).unwrap();
    feeder.join().unwrap();
    let (code, put_rss) = wait_rss(child.id());
    std::mem::forget(child);
    assert_eq!(code, 0, "put failed");
    let v: serde_json::Value = serde_json::from_str(&put_out).unwrap();
    assert_eq!(v["ContentLength"], len);
    let put_secs = t.elapsed().as_secs_f64();

    // GET to standard output, compared with the generator as it streams.
    let t = std::time::Instant::now();
    let mut child = cmd(&home, &["object", "get", "big/blob", "-"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut g = Gen::new(len);
    let mut want = vec![0u8; 1 << 20];
    let mut got = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = stdout.read(&mut got).unwrap();
        if n == 0 {
            break;
        }
        let mut done = 0;
        while done < n {
            let need = n - done;
            let m = g.fill(&mut want[..need]);
            assert!(m > 0, "GET returned more than was stored");
            assert!(
                want[..m] == got[done..done + m],
                "GET differs at byte {}",
                total + done as u64
            );
            done += m;
        }
        total += n as u64;
    }
    let (code, get_rss) = wait_rss(child.id());
    std::mem::forget(child);
    assert_eq!(code, 0, "get failed");
    assert_eq!(total, len);
    let get_secs = t.elapsed().as_secs_f64();
    eprintln!(
        "{} MiB: put {put_secs:.1} s, peak RSS {} KiB; get {get_secs:.1} s, peak RSS {} KiB",
        len >> 20,
        put_rss,
        get_rss
    );
    assert!(put_rss < LIMIT_KIB, "put peak RSS {put_rss} KiB");
    assert!(get_rss < LIMIT_KIB, "get peak RSS {get_rss} KiB");
    assert!(
        len as i64 / 1024 > 2 * LIMIT_KIB,
        "the object must dwarf the bound"
    );
    ok(&kmsfs(&home, &["object", "delete", "big/blob"]));
}

#[test]
fn concurrent_put_processes_and_a_reader_see_whole_versions() {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    ok(&kmsfs(&home, &["bucket", "create", "race"]));
    let a = d.path().join("a");
    let b = d.path().join("b");
    std::fs::write(&a, vec![b'A'; 200_000]).unwrap();
    std::fs::write(&b, vec![b'B'; 70_000]).unwrap();
    ok(&kmsfs(&home, &["object", "put", "race/k", "--body", p(&a)]));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .map(|body| {
            let home = home.clone();
            std::thread::spawn(move || {
                for _ in 0..8 {
                    ok(&kmsfs(
                        &home,
                        &["object", "put", "race/k", "--body", p(&body)],
                    ));
                }
            })
        })
        .collect();
    let reader = {
        let home = home.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut reads = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || reads < 3 {
                let o = kmsfs(&home, &["object", "get", "race/k", "-"]);
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
                let s = &o.stdout;
                assert!(
                    (s.len() == 200_000 && s.iter().all(|&x| x == b'A'))
                        || (s.len() == 70_000 && s.iter().all(|&x| x == b'B')),
                    "a reader saw {} mixed bytes",
                    s.len()
                );
                reads += 1;
            }
            reads
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(reader.join().unwrap() >= 3);
    // Last writer wins.
    ok(&kmsfs(&home, &["object", "put", "race/k", "--body", p(&b)]));
    let o = kmsfs(&home, &["object", "get", "race/k", "-"]);
    assert_eq!(o.stdout.len(), 70_000);
    let objects = std::fs::read_dir(home.join("buckets/race/objects"))
        .unwrap()
        .count();
    assert_eq!(objects, 1, "no temp files left");
}
