//! `kmsfs bucket` and `kmsfs object` as a user runs them: real processes on a real home.
//! Output fields and exit codes; a large object through PUT and GET in bounded memory (peak
//! RSS of the child); no partial output file from a failed GET; concurrent PUT processes with
//! a reader that only ever sees whole versions.

mod common;
use common::cli::*;
use common::pattern::{check_stream, write_stream};
use std::io::Read;
use std::path::PathBuf;
use std::process::Stdio;

/// A new home (in a new temporary directory) with the bucket `bucket`.
fn home_with_bucket(bucket: &str) -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    run_ok(&home, &["bucket", "create", bucket]);
    (d, home)
}

#[test]
fn tour_of_bucket_and_object_verbs() {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let v = run_ok(&home, &["bucket", "create", "photos"]);
    assert_eq!(v["Location"], "/photos");
    all_fail(
        &home,
        &[
            (
                &["bucket", "create", "photos"],
                11,
                "BucketAlreadyOwnedByYou",
            ),
            (&["bucket", "create", "No"], 2, "InvalidBucketName"),
        ],
    );
    let v = run_ok(&home, &["bucket", "list"]);
    assert_eq!(v["Buckets"][0]["Name"], "photos");
    let v = run_ok(&home, &["bucket", "get-encryption", "photos"]);
    let rule = &v["ServerSideEncryptionConfiguration"]["Rules"][0];
    assert_eq!(
        rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"],
        "AES256"
    );
    assert_eq!(rule["BucketKeyEnabled"], false);

    let key = key_with_alias(&home, "alias/app");
    let v = bucket_kms_default(&home, "photos", "alias/app");
    let rule = &v["ServerSideEncryptionConfiguration"]["Rules"][0];
    assert_eq!(
        rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"],
        "alias/app"
    );
    assert_eq!(rule["BucketKeyEnabled"], true);

    let body = d.path().join("cat.jpg");
    std::fs::write(&body, vec![7u8; 100_000]).unwrap();
    let v = run_ok(
        &home,
        &["object", "put", "photos/2024/cat.jpg", "--body", s(&body)],
    );
    assert_eq!(v["ServerSideEncryption"], "aws:kms");
    assert_eq!(v["SSEKMSKeyId"], key.as_str());
    assert_eq!(v["BucketKeyEnabled"], true);
    assert_eq!(v["ContentLength"], 100_000);
    let etag = v["ETag"].clone();
    let v = run_ok(&home, &["object", "head", "photos/2024/cat.jpg"]);
    assert_eq!(v["ETag"], etag);
    assert_eq!(v["SSEKMSKeyId"], key.as_str());
    assert!(v["LastModified"].as_str().unwrap().ends_with('Z'));
    // SSE-S3 overrides the bucket default; the encryption context must go with aws:kms.
    let v = run_ok(
        &home,
        &[
            "object",
            "put",
            "photos/2024/dog.jpg",
            "--body",
            s(&body),
            "--sse",
            "AES256",
        ],
    );
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
                s(&body),
                "--sse",
                "AES256",
                "--encryption-context",
                "a=b",
            ],
        ),
        2,
        "InvalidArgument",
    );
    let v = run_ok(
        &home,
        &[
            "object",
            "put",
            "photos/ctx",
            "--body",
            s(&body),
            "--sse",
            "aws:kms",
            "--kms-key-id",
            "alias/app",
            "--encryption-context",
            "team=cats",
            "--bucket-key-enabled",
            "false",
        ],
    );
    assert_eq!(v["BucketKeyEnabled"], false);
    assert!(v["SSEKMSEncryptionContext"].is_string());

    // SSE-C via fileb:// and base64.
    let k = d.path().join("key.bin");
    std::fs::write(&k, [0x42u8; 32]).unwrap();
    let fileb = format!("fileb://{}", s(&k));
    let v = run_ok(
        &home,
        &[
            "object",
            "put",
            "photos/secret",
            "--body",
            s(&body),
            "--sse-c-key",
            &fileb,
        ],
    );
    assert_eq!(v["SSECustomerAlgorithm"], "AES256");
    let md5 = v["SSECustomerKeyMD5"].as_str().unwrap().to_string();
    let b64 = kmsfs::kms::types::b64::encode(&[0x42u8; 32]);
    let v = run_ok(
        &home,
        &["object", "head", "photos/secret", "--sse-c-key", &b64],
    );
    assert_eq!(v["SSECustomerKeyMD5"], md5.as_str());
    let wrong = kmsfs::kms::types::b64::encode(&[0x43u8; 32]);
    let out = d.path().join("out.bin");
    let get = ["object", "get", "photos/secret", s(&out), "--sse-c-key"];
    all_fail(
        &home,
        &[
            (&["object", "head", "photos/secret"], 11, "InvalidRequest"),
            (&[&get[..], &[&wrong]].concat(), 11, "AccessDenied"),
            (&[&get[..], &["c2hvcnQ="]].concat(), 2, "256 bits"),
        ],
    );
    assert!(!out.exists());
    let v = run_ok(&home, &[&get[..], &[&fileb]].concat());
    assert_eq!(v["ContentLength"], 100_000);
    assert_eq!(std::fs::read(&out).unwrap(), vec![7u8; 100_000]);

    // Ranges, to a file and to standard output (the bytes only).
    let range = |to: &str, r: &str| {
        kmsfs(
            &home,
            &["object", "get", "photos/2024/cat.jpg", to, "--range", r],
        )
    };
    let v = ok(&range(s(&out), "bytes=-10"));
    assert_eq!(v["ContentRange"], "bytes 99990-99999/100000");
    assert_eq!(std::fs::read(&out).unwrap().len(), 10);
    fails(&range(s(&out), "bytes=100000-"), 11, "InvalidRange");
    let o = range("-", "bytes=0-4");
    assert!(o.status.success());
    assert_eq!(o.stdout, vec![7u8; 5]);

    // Listing (JSON and text) and deletion.
    let v = run_ok(&home, &["object", "list", "photos", "--prefix", "2024/"]);
    assert_eq!(v["KeyCount"], 2);
    assert_eq!(v["Contents"][0]["Key"], "2024/cat.jpg");
    assert_eq!(v["Contents"][0]["Size"], 100_000);
    let v = run_ok(&home, &["object", "list", "photos", "--delimiter", "/"]);
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
    let v = run_ok(&home, &["object", "delete", "photos/2024/cat.jpg"]);
    assert_eq!(v["Deleted"], true);
    all_fail(
        &home,
        &[
            (&["object", "head", "photos/2024/cat.jpg"], 11, "NoSuchKey"),
            (&["object", "list", "nobucket"], 11, "NoSuchBucket"),
            (&["object", "head", "photos"], 2, "BUCKET/KEY"),
        ],
    );
    // Copy (the copy takes the bucket default: SSE-KMS with the bucket key).
    let v = run_ok(
        &home,
        &[
            "object",
            "copy",
            "photos/secret",
            "photos/copy",
            "--copy-source-sse-c-key",
            &fileb,
        ],
    );
    assert_eq!(v["ServerSideEncryption"], "aws:kms");
    fails(
        &kmsfs(&home, &["bucket", "delete", "photos"]),
        11,
        "BucketNotEmpty",
    );
    run_ok(&home, &["bucket", "delete", "photos", "--force"]);
    assert_eq!(
        run_ok(&home, &["bucket", "list"])["Buckets"],
        serde_json::json!([])
    );
    run_ok(&home, &["audit", "verify"]);
}

#[test]
fn failed_gets_leave_no_output_file() {
    let (d, home) = home_with_bucket("tamper");
    let body = d.path().join("body");
    std::fs::write(&body, vec![1u8; 300_000]).unwrap();
    run_ok(&home, &["object", "put", "tamper/k", "--body", s(&body)]);
    let obj = kmsfs::object::service::object_path(&home, "tamper", "k");
    let mut raw = std::fs::read(&obj).unwrap();
    let n = raw.len();
    raw[n - 100] ^= 1; // in the last segment: the first four are fine
    std::fs::write(&obj, &raw).unwrap();
    let outdir = d.path().join("out");
    std::fs::create_dir(&outdir).unwrap();
    let out = outdir.join("o.bin");
    let err = fails(
        &kmsfs(&home, &["object", "get", "tamper/k", s(&out)]),
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
        &kmsfs(&home, &["object", "get", "tamper/k", s(&out)]),
        11,
        "ObjectDamaged",
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    // A disabled key: exit 5 (the KMS refused), naming the key state.
    let key = create_key(&home, "KeyId");
    run_ok(
        &home,
        &[
            "object",
            "put",
            "tamper/kms",
            "--body",
            s(&body),
            "--sse",
            "aws:kms",
            "--kms-key-id",
            &key,
        ],
    );
    run_ok(&home, &["kms", "disable-key", "--key-id", &key]);
    let err = fails(
        &kmsfs(&home, &["object", "get", "tamper/kms", s(&out)]),
        5,
        "KMS.DisabledException",
    );
    assert!(err.contains(&key) && err.contains("enable-key"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
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

#[test]
fn a_large_object_streams_through_put_and_get_in_bounded_memory() {
    const LIMIT_KIB: i64 = 32 * 1024;
    let (_d, home) = home_with_bucket("big");
    // 1 GiB (dev builds are optimized, see Cargo.toml), 32 times the 32 MiB bound.
    let len: u64 = common::env_or("KMSFS_BIG_OBJECT_MIB", 1024) << 20;
    let t = std::time::Instant::now();
    // PUT from standard input: the body never touches the disk.
    let mut child = cmd(&home, &["object", "put", "big/blob", "--body", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || write_stream(stdin, len));
    let mut put_out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut put_out)
        .unwrap();
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
    let total = check_stream(child.stdout.take().unwrap(), len);
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
    run_ok(&home, &["object", "delete", "big/blob"]);
}

#[test]
fn concurrent_put_processes_and_a_reader_see_whole_versions() {
    let (d, home) = home_with_bucket("race");
    let a = d.path().join("a");
    let b = d.path().join("b");
    std::fs::write(&a, vec![b'A'; 200_000]).unwrap();
    std::fs::write(&b, vec![b'B'; 70_000]).unwrap();
    run_ok(&home, &["object", "put", "race/k", "--body", s(&a)]);
    let reads = common::race_whole_versions(
        [(b'A', 200_000), (b'B', 70_000)],
        8,
        3,
        |c, _| {
            let body = if c == b'A' { &a } else { &b };
            run_ok(&home, &["object", "put", "race/k", "--body", s(body)]);
        },
        || {
            let o = kmsfs(&home, &["object", "get", "race/k", "-"]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            o.stdout
        },
    );
    assert!(reads >= 3);
    // Last writer wins.
    run_ok(&home, &["object", "put", "race/k", "--body", s(&b)]);
    let o = kmsfs(&home, &["object", "get", "race/k", "-"]);
    assert_eq!(o.stdout.len(), 70_000);
    let objects = std::fs::read_dir(home.join("buckets/race/objects"))
        .unwrap()
        .count();
    assert_eq!(objects, 1, "no temp files left");
}

/// The `GenerateDataKey` lines of the audit trail (`kmsfs audit show`), parsed.
fn generate_data_keys(home: &std::path::Path) -> Vec<serde_json::Value> {
    let o = kmsfs(home, &["audit", "show", "--operation", "GenerateDataKey"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn put_processes_share_one_bucket_key_per_period() {
    let (d, home) = home_with_bucket("shared");
    let key = create_key(&home, "Arn");
    bucket_kms_default(&home, "shared", &key);
    let body = d.path().join("body");
    std::fs::write(&body, b"one of many").unwrap();
    let put = |i: usize| {
        let k = format!("shared/o{i}");
        run_ok(&home, &["object", "put", &k, "--body", s(&body)]);
    };
    // 10 PUT processes one after another, then 40 more, 4 at a time.
    (0..10).for_each(put);
    std::thread::scope(|sc| {
        for t in 0..4 {
            sc.spawn(move || (0..10).for_each(|i| put(10 + t * 10 + i)));
        }
    });
    let gdk = generate_data_keys(&home);
    assert_eq!(gdk.len(), 1, "GenerateDataKey calls for 50 PUT processes");
    assert_eq!(
        gdk[0]["encryptionContext"]["aws:s3:arn"], "arn:aws:s3:::shared",
        "{gdk:?}"
    );
    for i in 0..50 {
        let o = kmsfs(&home, &["object", "get", &format!("shared/o{i}"), "-"]);
        assert_eq!(
            o.stdout,
            b"one of many",
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let h = run_ok(&home, &["object", "head", &format!("shared/o{i}")]);
        assert_eq!(h["BucketKeyEnabled"], true);
    }
    // The current-key file holds ids, not keys, and only its owner reads it.
    let cur = home.join("buckets/shared/bucket-key.json");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&cur).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&cur).unwrap()).unwrap();
    assert_eq!(v["Current"][0]["KmsKeyId"], key.as_str(), "{v}");
    // A damaged file: the next PUT makes a fresh bucket key, and everything stays readable.
    std::fs::write(&cur, b"{\"Format\": 1, \"Current\": [garbage").unwrap();
    put(50);
    put(51);
    assert_eq!(generate_data_keys(&home).len(), 2);
    for i in [0, 49, 50, 51] {
        let o = kmsfs(&home, &["object", "get", &format!("shared/o{i}"), "-"]);
        assert_eq!(
            o.stdout,
            b"one of many",
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
