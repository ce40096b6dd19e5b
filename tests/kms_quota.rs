//! Request quotas (`kmsfs config kms-quota`): the setting verb; a CLI `kms encrypt` loop
//! (one process per request, no backoff: the buckets are shared across processes) throttled
//! with AWS's error, exit code and message, and audited; kmsfs's own services (a volume
//! mount, 1,000 object PUTs, a snapshot copy) completing under 20 requests/s, slower, with
//! backoff, their data intact; boto3 seeing `ThrottlingException` (HTTP 400) over `kmsfs
//! serve` with its retries off; and what a request costs with quotas on.

mod common;
use common::cli::{create_key, fails, init, kmsfs, run_ok};
use common::mount::{Mounted, fuse_or_skip};
use common::serve::{Server, aws_tool, python_or_skip};
use kmsfs::home::Home;
use kmsfs::kms::audit::{AuditLine, read_lines};
use kmsfs::kms::quota::{QuotaSettings, THROTTLED_MESSAGE};
use kmsfs::kms::types::GenerateRandomRequest;
use kmsfs::kms::{Client, Embedded, Kms, KmsOptions, Retrying};
use kmsfs::object::{ObjectService, PutOptions, S3_PRINCIPAL, Sse};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SYMMETRIC_OPS: &[&str] = &[
    "Encrypt",
    "Decrypt",
    "ReEncrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateRandom",
];

fn audit(home: &Path) -> Vec<AuditLine> {
    read_lines(&home.join("kms/audit.log")).unwrap()
}

fn throttled(l: &AuditLine) -> bool {
    l.error_code.as_deref() == Some("ThrottlingException")
}

/// Successful requests of the symmetric family in the trail.
fn symmetric_successes(lines: &[AuditLine]) -> usize {
    lines
        .iter()
        .filter(|l| SYMMETRIC_OPS.contains(&l.operation.as_str()) && l.outcome == "Success")
        .count()
}

/// The limiter's bounds: `n` successes at `rate`/s with a bucket of `rate` took at least
/// `(n - rate) / rate` seconds; in `elapsed` at most `rate + rate * elapsed` succeed.
fn check_bounds(n: usize, rate: f64, elapsed: Duration) {
    let floor = (n as f64 - rate) / rate;
    assert!(
        elapsed.as_secs_f64() >= floor,
        "{n} requests at {rate}/s in {elapsed:?}: faster than the quota allows ({floor} s)"
    );
    let ceiling = rate + rate * elapsed.as_secs_f64() + 1.0;
    assert!(
        (n as f64) <= ceiling,
        "{n} requests in {elapsed:?} at {rate}/s"
    );
}

#[test]
fn config_kms_quota_sets_shows_and_turns_off() {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let v = run_ok(&home, &["config", "kms-quota"]);
    assert_eq!(v["Enabled"], false);
    assert!(!home.join("kms/quota.json").exists());

    let v = run_ok(&home, &["config", "kms-quota", "aws"]);
    assert_eq!(v["Enabled"], true);
    assert_eq!(v["Base"], "aws");
    let r = &v["RequestsPerSecond"];
    assert_eq!(r["symmetric"], 50_000.0, "{v}");
    assert_eq!(r["DescribeKey"], 2000.0);
    assert_eq!(r["CreateKey"], 5.0);
    assert_eq!(r["GenerateDataKeyPair"], 1.0);

    let v = run_ok(
        &home,
        &["config", "kms-quota", "symmetric=20", "createkey=0"],
    );
    let r = &v["RequestsPerSecond"];
    assert_eq!(r["symmetric"], 20.0);
    assert!(r["CreateKey"].is_null(), "0 is unlimited: {v}");
    assert_eq!(r["DescribeKey"], 2000.0, "the others keep AWS's figures");
    assert_eq!(run_ok(&home, &["config", "kms-quota", "show"]), v);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(home.join("kms/quota.json"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    for (arg, needle) in [
        ("Frobnicate=3", "'Frobnicate' is not a quota family"),
        ("symmetric=-1", "expected FAMILY=N"),
        ("symmetric", "expected FAMILY=N"),
    ] {
        fails(&kmsfs(&home, &["config", "kms-quota", arg]), 2, needle);
    }
    // A damaged setting stops the KMS from opening, naming the file; `off` clears it.
    std::fs::write(home.join("kms/quota.json"), b"{").unwrap();
    fails(
        &kmsfs(&home, &["config", "kms-quota"]),
        3,
        "quota.json is damaged",
    );
    fails(
        &kmsfs(&home, &["kms", "list-keys"]),
        1,
        "quota.json is damaged",
    );
    let v = run_ok(&home, &["config", "kms-quota", "off"]);
    assert_eq!(v["Enabled"], false);
    run_ok(&home, &["kms", "list-keys"]);
    assert!(!home.join("kms/quota.json").exists());
    assert!(!home.join("kms/quota-state").exists());
}

#[test]
fn a_cli_encrypt_loop_without_backoff_is_throttled() {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let key = create_key(&home, "KeyId");
    run_ok(&home, &["config", "kms-quota", "symmetric=2"]);
    let t0 = Instant::now();
    let (mut ok, mut refused) = (0, 0);
    for _ in 0..10 {
        let o = kmsfs(
            &home,
            &["kms", "encrypt", "--key-id", &key, "--plaintext", "hi"],
        );
        if o.status.success() {
            ok += 1;
            continue;
        }
        refused += 1;
        let msg = fails(&o, 5, "Encrypt failed: ThrottlingException: ");
        assert!(msg.contains(THROTTLED_MESSAGE), "{msg}");
        assert!(msg.contains("kmsfs config kms-quota"), "a hint: {msg}");
    }
    let elapsed = t0.elapsed();
    assert!(
        refused > 0,
        "10 processes in {elapsed:?} at 2/s: none throttled"
    );
    check_bounds(ok, 2.0, elapsed);
    // Each throttled request is audited with its error, as CloudTrail records them.
    let lines = audit(&home);
    let t: Vec<_> = lines.iter().filter(|l| throttled(l)).collect();
    assert_eq!(t.len(), refused);
    assert!(t.iter().all(|l| l.operation == "Encrypt"
        && l.outcome == "Failure"
        && l.error_message.as_deref() == Some(THROTTLED_MESSAGE)));
    run_ok(&home, &["audit", "verify"]);
    // Other families are not throttled.
    for _ in 0..5 {
        run_ok(&home, &["kms", "describe-key", "--key-id", &key]);
    }
}

#[test]
fn signing_counts_against_its_keys_family() {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let key = |spec: &str| {
        let v = run_ok(
            &home,
            &[
                "kms",
                "create-key",
                "--key-spec",
                spec,
                "--key-usage",
                "SIGN_VERIFY",
            ],
        );
        v["KeyMetadata"]["KeyId"].as_str().unwrap().to_string()
    };
    let (rsa, ecc) = (key("RSA_2048"), key("ECC_NIST_P256"));
    let v = run_ok(&home, &["config", "kms-quota", "rsa=1", "symmetric=1000"]);
    assert_eq!(v["RequestsPerSecond"]["rsa"], 1.0, "{v}");
    let sign = |k: &str, alg: &str| {
        kmsfs(
            &home,
            &[
                "kms",
                "sign",
                "--key-id",
                k,
                "--message",
                "hi",
                "--signing-algorithm",
                alg,
            ],
        )
    };
    let t0 = Instant::now();
    let (mut ok, mut refused) = (0, 0);
    for _ in 0..6 {
        let o = sign(&rsa, "RSASSA_PSS_SHA_256");
        if o.status.success() {
            ok += 1;
        } else {
            refused += 1;
            fails(&o, 5, "Sign failed: ThrottlingException: ");
        }
    }
    assert!(
        refused > 0,
        "6 RSA signatures in {:?} at 1/s: none throttled",
        t0.elapsed()
    );
    check_bounds(ok, 1.0, t0.elapsed());
    // The ECC family is not the RSA family: unlimited here.
    for _ in 0..4 {
        run_ok(
            &home,
            &[
                "kms",
                "sign",
                "--key-id",
                &ecc,
                "--message",
                "hi",
                "--signing-algorithm",
                "ECDSA_SHA_256",
            ],
        );
    }
    run_ok(&home, &["config", "kms-quota", "ecc=1"]);
    let a = sign(&ecc, "ECDSA_SHA_256");
    let b = sign(&ecc, "ECDSA_SHA_256");
    assert!(
        !(a.status.success() && b.status.success()),
        "two ECC signatures at once under ecc=1"
    );
}

/// The KMS of `home` opened by this process (its quota shared with the CLI's processes).
fn open_kms(home: &Path) -> Arc<Kms> {
    let h = Home::open(home).unwrap();
    Kms::open(
        &h,
        KmsOptions {
            audit_interval: None,
            ..KmsOptions::default()
        },
    )
    .unwrap()
}

/// `n` SSE-KMS PUTs (no bucket key: one GenerateDataKey each) through the object service
/// as kmsfs's services get the KMS (backing off when throttled).
fn put_objects(home: &Path, kms: Arc<Kms>, key: &str, n: usize) {
    let h = Home::open(home).unwrap();
    let c = Retrying::new(Arc::new(Embedded::new(kms, S3_PRINCIPAL)));
    let svc = ObjectService::new(&h, Arc::new(c));
    let opts = PutOptions {
        sse: Some(Sse::Kms),
        kms_key_id: Some(key.into()),
        bucket_key_enabled: Some(false),
        ..Default::default()
    };
    for i in 0..n {
        let body = format!("object {i}");
        svc.put_object("quota", &format!("o/{i}"), body.as_bytes(), &opts)
            .unwrap_or_else(|e| panic!("PUT {i}: {e}"));
    }
    for i in (0..n).step_by(n.div_ceil(10).max(1)) {
        let mut out = Vec::new();
        svc.get_object("quota", &format!("o/{i}"), None, None, &mut out)
            .unwrap();
        assert_eq!(out, format!("object {i}").as_bytes());
    }
}

const DATA_LEN: usize = 300_000;

/// A volume of `home` under `key` with a file written through a mount, and a snapshot of
/// it (unmounted).
fn volume_with_a_snapshot(home: &Path, key: &str) -> (Mounted, String) {
    let args = ["volume", "create", "--size", "64MiB", "--kms-key-id", key];
    let vol = run_ok(home, &args)["VolumeId"]
        .as_str()
        .unwrap()
        .to_string();
    let mut m = Mounted::at(tempfile::tempdir().unwrap(), home.into(), vol, "m", &[]);
    std::fs::write(m.mnt.join("data.bin"), common::pattern::pattern(DATA_LEN)).unwrap();
    m.umount();
    let snap = run_ok(home, &["snapshot", "create", &m.vol])["SnapshotId"]
        .as_str()
        .unwrap()
        .to_string();
    (m, snap)
}

/// Mount `m` again (a Decrypt), then copy `snap` under `key` (a full re-encrypted copy),
/// restore the copy and mount it: the data is intact each time.
fn mount_and_copy(m: &mut Mounted, snap: &str, key: &str) {
    let data = common::pattern::pattern(DATA_LEN);
    m.mount();
    assert_eq!(std::fs::read(m.mnt.join("data.bin")).unwrap(), data);
    m.umount();
    let copy = run_ok(&m.home, &["snapshot", "copy", snap, "--kms-key-id", key])["SnapshotId"]
        .as_str()
        .unwrap()
        .to_string();
    let v = run_ok(&m.home, &["volume", "create", "--snapshot-id", &copy]);
    let vol = v["VolumeId"].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let restored = Mounted::at(dir, m.home.clone(), vol, "r", &[]);
    assert_eq!(std::fs::read(restored.mnt.join("data.bin")).unwrap(), data);
}

/// The trail after the run: one GenerateDataKey per PUT, no more requests than 20/s
/// allows and no faster, throttled requests (backed off), the volume service's requests
/// done. Returns the count of throttled requests.
fn check_trail(home: &Path, puts: usize, put_time: Duration, elapsed: Duration) -> usize {
    let lines = audit(home);
    let gdk = lines
        .iter()
        .filter(|l| l.principal == S3_PRINCIPAL && l.outcome == "Success")
        .filter(|l| l.operation == "GenerateDataKey")
        .count();
    assert_eq!(gdk, puts, "one GenerateDataKey per PUT");
    check_bounds(gdk, 20.0, put_time);
    check_bounds(symmetric_successes(&lines), 20.0, elapsed);
    let n_throttled = lines.iter().filter(|l| throttled(l)).count();
    assert!(
        n_throttled > 0,
        "the services were throttled and backed off"
    );
    let ebs_ops = ["Decrypt", "ReEncrypt", "GenerateDataKeyWithoutPlaintext"];
    let ebs = lines
        .iter()
        .filter(|l| l.principal.starts_with("ebs.") && l.outcome == "Success")
        .filter(|l| ebs_ops.contains(&l.operation.as_str()))
        .count();
    assert!(ebs >= 3, "the volume service's requests succeeded ({ebs})");
    n_throttled
}

#[test]
fn services_complete_under_a_quota_of_20_requests_per_second() {
    if !fuse_or_skip("services_complete_under_a_quota") {
        return;
    }
    let puts: usize = common::env_or("KMSFS_QUOTA_PUTS", 1000);
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let (key_a, key_b) = (create_key(&home, "KeyId"), create_key(&home, "KeyId"));
    run_ok(&home, &["bucket", "create", "quota"]);
    let t0 = Instant::now();
    run_ok(&home, &["config", "kms-quota", "symmetric=20"]);
    let (mut m, snap) = volume_with_a_snapshot(&home, &key_a);

    // The PUTs in this process, the mount and the copy in CLI processes, at once: the
    // processes share the buckets.
    let kms = open_kms(&home);
    let t_puts = Instant::now();
    let putter = {
        let (home, kms, key) = (home.clone(), kms.clone(), key_a.clone());
        std::thread::spawn(move || {
            put_objects(&home, kms, &key, puts);
            t_puts.elapsed()
        })
    };
    std::thread::sleep(Duration::from_secs(2));
    mount_and_copy(&mut m, &snap, &key_b);
    let put_time = putter.join().unwrap();
    let elapsed = t0.elapsed();
    kms.flush_audit().unwrap();
    let n_throttled = check_trail(&home, puts, put_time, elapsed);
    eprintln!(
        "{puts} PUTs in {put_time:?}; everything in {elapsed:?}; {n_throttled} throttled requests"
    );
    run_ok(&home, &["audit", "verify"]);
}

#[test]
fn boto3_sees_throttling_over_the_endpoint() {
    let Some(bin) = python_or_skip("boto3_sees_throttling") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let key = create_key(&home, "KeyId");
    run_ok(&home, &["config", "kms-quota", "symmetric=1"]);
    let srv = Server::start(&home, &[]);
    let script = format!(
        r#"
import boto3, botocore.config, botocore.exceptions
c = boto3.client("kms", config=botocore.config.Config(retries={{"total_max_attempts": 1, "mode": "standard"}}))
seen = None
for i in range(20):
    try:
        c.encrypt(KeyId="{key}", Plaintext=b"x")
    except botocore.exceptions.ClientError as e:
        seen = e.response
        break
assert seen is not None, "never throttled"
print(seen["Error"]["Code"], seen["ResponseMetadata"]["HTTPStatusCode"], seen["ResponseMetadata"]["RetryAttempts"])
print(seen["Error"]["Message"])
"#
    );
    let o = aws_tool(&bin, "python3", &srv.endpoint)
        .args(["-c", &script])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut l = out.lines();
    assert_eq!(l.next(), Some("ThrottlingException 400 0"), "{out}");
    assert_eq!(l.next(), Some(THROTTLED_MESSAGE));
    srv.stop();
    assert!(audit(&home).iter().any(throttled));
}

/// The cost of a request with quotas on (one flock'd read and write of the shared state)
/// against off, printed (README "Request quotas" quotes it).
#[test]
fn what_a_quota_costs_per_request() {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let n: u32 = common::env_or("KMSFS_QUOTA_COST_REQUESTS", 3000);
    let per_request = |home: &Path| {
        // The audit trail buffered (flushed every 100 ms), as `kmsfs serve` runs it.
        let kms = Kms::open(&Home::open(home).unwrap(), KmsOptions::default()).unwrap();
        let c = Embedded::new(kms, "arn:aws:iam::111122223333:root");
        let req = GenerateRandomRequest {
            number_of_bytes: Some(32),
        };
        let t = Instant::now();
        for _ in 0..n {
            c.generate_random(req.clone()).unwrap();
        }
        t.elapsed() / n
    };
    let off = per_request(&home);
    let mut s = QuotaSettings::unlimited();
    s.apply("symmetric=1000000000").unwrap();
    s.save(&home.join("kms")).unwrap();
    let on = per_request(&home);
    eprintln!(
        "GenerateRandom, {n} requests: {off:?}/request with quotas off, {on:?} on (+{:?})",
        on.saturating_sub(off)
    );
    assert!(home.join("kms/quota-state/111122223333.us-east-1").exists());
}
