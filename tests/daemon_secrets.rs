//! What a live mount daemon holds, read from outside as an attacker with the daemon's uid
//! would: its memory (/proc/<pid>/mem through /proc/<pid>/maps) holds no run of the home's
//! root key, nor the passphrase or the remote KMS's secret access key; its environment
//! (/proc/<pid>/environ) has no secret variable. The volume still mounts, reads, writes and
//! remounts. (That daemons are undumpable is checked in `mount::secrets`' unit tests: on the
//! kernels tried, root without CAP_SYS_PTRACE still reads an undumpable root process's
//! /proc files, so it cannot be observed from here.) The daemons are started without
//! CAP_SYS_PTRACE, as a local attacker of the same uid would be.

mod common;
use common::cli::{cmd, create_key, init, kmsfs_env, ok, run_ok, s};
use common::mount::{fuse_or_skip, root_or_skip};
use common::serve::{ACCESS_KEY_ID, SECRET_ACCESS_KEY, Server};
use kmsfs::kms::Client;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

/// Capability number of CAP_SYS_PTRACE (linux/capability.h).
const CAP_SYS_PTRACE: libc::c_ulong = 19;

/// `c` runs without CAP_SYS_PTRACE (dropped from its bounding set, so from what a root
/// process gets at exec), as a local attacker of the same uid has none.
fn without_ptrace(c: &mut Command) -> &mut Command {
    // SAFETY: prctl is async-signal-safe and touches only the child's own capabilities.
    unsafe {
        c.pre_exec(|| {
            if libc::prctl(libc::PR_CAPBSET_DROP, CAP_SYS_PTRACE, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// The mount daemon's pid, from the volume's `mount.json`.
fn daemon_pid(home: &Path, vol: &str) -> i32 {
    let m: serde_json::Value = serde_json::from_slice(
        &std::fs::read(home.join("volumes").join(vol).join("mount.json")).unwrap(),
    )
    .unwrap();
    m["Pid"].as_i64().unwrap() as i32
}

/// Every readable mapping of process `pid`, concatenated (regions that cannot be read,
/// such as [vvar], are left out).
fn memory(pid: i32) -> Vec<u8> {
    use std::io::{Read, Seek, SeekFrom};
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut all = Vec::new();
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (range, perms) = (f.next().unwrap(), f.next().unwrap());
        if !perms.starts_with('r') {
            continue;
        }
        let (a, b) = range.split_once('-').unwrap();
        let (a, b) = (
            u64::from_str_radix(a, 16).unwrap(),
            u64::from_str_radix(b, 16).unwrap(),
        );
        let mut buf = vec![0u8; (b - a) as usize];
        if mem.seek(SeekFrom::Start(a)).is_ok() && mem.read_exact(&mut buf).is_ok() {
            all.extend_from_slice(&buf);
        }
    }
    all
}

/// How many times any 8-byte run of `secret` occurs in `mem`.
fn runs_of(secret: &[u8], mem: &[u8]) -> usize {
    secret
        .windows(8)
        .map(|w| mem.windows(8).filter(|m| m == &w).count())
        .sum()
}

/// `/proc/<pid>/environ` as `NAME=value` strings.
fn environ(pid: i32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/environ"))
        .unwrap()
        .split(|&b| b == 0)
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .collect()
}

/// `kmsfs mount` of `vol` at `mnt` on `home`, the daemon started without CAP_SYS_PTRACE,
/// with `env` and `args` before the command.
fn mount(home: &Path, vol: &str, mnt: &Path, global: &[&str], env: &[(&str, &str)]) {
    let mut a = global.to_vec();
    a.extend(["mount", vol, s(mnt)]);
    let mut c = cmd(home, &a);
    c.envs(env.iter().copied());
    let v = ok(&without_ptrace(&mut c).output().unwrap());
    assert_eq!(v["State"], "in-use", "{v}");
}

/// Write, unmount, remount with `remount`, read back; unmount (`kmsfs umount` with `env`).
fn round_trip(home: &Path, mnt: &Path, env: &[(&str, &str)], remount: impl Fn()) {
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(mnt.join("f"), &data).unwrap();
    ok(&kmsfs_env(home, &["umount", s(mnt)], env));
    remount();
    assert_eq!(std::fs::read(mnt.join("f")).unwrap(), data);
    ok(&kmsfs_env(home, &["umount", s(mnt)], env));
}

fn can_run(test: &str) -> bool {
    fuse_or_skip(test) && root_or_skip(test)
}

/// A volume daemon of a home with `kms/root.key` holds no 8-byte run of it (it never opens
/// the KMS: `kmsfs mount` Decrypts the data key and hands it over a pipe). Before: the
/// first 8 bytes of the root key were left in its heap (the KMS it had opened).
#[test]
fn volume_daemon_holds_no_root_key() {
    if !can_run("volume_daemon_holds_no_root_key") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let key = create_key(&home, "KeyId");
    let v = run_ok(
        &home,
        &["volume", "create", "--size", "64MiB", "--kms-key-id", &key],
    );
    let vol = v["VolumeId"].as_str().unwrap().to_string();
    let mnt = d.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    mount(&home, &vol, &mnt, &[], &[]);
    let pid = daemon_pid(&home, &vol);
    std::fs::write(mnt.join("warm"), b"some traffic first").unwrap();
    let root = std::fs::read(home.join("kms/root.key")).unwrap();
    assert_eq!(root.len(), 32);
    let mem = memory(pid);
    assert!(mem.len() > 1 << 20, "read only {} bytes", mem.len());
    assert_eq!(runs_of(&root, &mem), 0, "the daemon holds root key bytes");
    round_trip(&home, &mnt, &[], || mount(&home, &vol, &mnt, &[], &[]));
}

/// A passphrase home: the volume daemon's environment has no KMSFS_PASSPHRASE and its
/// memory no copy of the passphrase; with `--foreground`, the process that Decrypted the
/// key itself wipes the variable (and /proc/<pid>/environ) before it serves.
#[test]
fn passphrase_never_reaches_the_daemon() {
    if !can_run("passphrase_never_reaches_the_daemon") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    // No English words: they occur in the binary.
    let secret = "pw-Zq8vX3kT9mWb2Lr7Jh4Nc";
    let pw = [("KMSFS_PASSPHRASE", secret)];
    ok(&kmsfs_env(&home, &["init", "--passphrase"], &pw));
    let key = ok(&kmsfs_env(&home, &["kms", "create-key"], &pw))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let create = ["volume", "create", "--size", "64MiB", "--kms-key-id", &key];
    let vol = ok(&kmsfs_env(&home, &create, &pw))["VolumeId"]
        .as_str()
        .unwrap()
        .to_string();
    let mnt = d.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    mount(&home, &vol, &mnt, &[], &pw);
    let pid = daemon_pid(&home, &vol);
    let env = environ(pid);
    assert!(
        !env.iter()
            .any(|e| e.starts_with("KMSFS_PASSPHRASE=") || e.contains(secret)),
        "{env:?}"
    );
    assert_eq!(
        runs_of(secret.as_bytes(), &memory(pid)),
        0,
        "passphrase in memory"
    );
    round_trip(&home, &mnt, &pw, || mount(&home, &vol, &mnt, &[], &pw));

    // `kmsfs mount --foreground`, started by the user with the passphrase in its environment.
    let mut c = cmd(&home, &["mount", &vol, s(&mnt), "--foreground"]);
    let mut child = c.envs(pw).spawn().unwrap();
    let t0 = std::time::Instant::now();
    while !home.join("volumes").join(&vol).join("mount.json").exists() {
        assert!(t0.elapsed().as_secs() < 60, "no foreground mount");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let env = environ(child.id() as i32);
    ok(&kmsfs_env(&home, &["umount", s(&mnt)], &pw));
    assert!(child.wait().unwrap().success());
    assert!(
        !env.iter()
            .any(|e| e.starts_with("KMSFS_PASSPHRASE=") || e.contains(secret)),
        "{env:?}"
    );
}

/// With the key served by a `kmsfs serve` of another home (`--kms-endpoint`), the daemon
/// gets neither the secret access key (in its environment) nor the client home's root key: `kmsfs mount` Decrypts through the endpoint and hands the data key over.
#[test]
fn remote_kms_daemon_holds_no_credentials() {
    if !can_run("remote_kms_daemon_holds_no_credentials") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let kms_home = init(&d.path().join("kms"));
    let home = init(&d.path().join("client"));
    let server = Server::start(&kms_home, &[]);
    let ep = server.endpoint.clone();
    let env = [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY),
        ("AWS_REGION", "us-east-1"),
    ];
    let global = ["--kms-endpoint", ep.as_str()];
    let via = |args: &[&str]| {
        let mut a = global.to_vec();
        a.extend_from_slice(args);
        ok(&kmsfs_env(&home, &a, &env))
    };
    // `kms` verbs act on the client home's own KMS: the volume's key is made remotely.
    let c = kmsfs::kms::Remote::new(
        &ep,
        "us-east-1",
        ACCESS_KEY_ID,
        zeroize::Zeroizing::new(SECRET_ACCESS_KEY.to_string()),
    )
    .unwrap();
    let key = c
        .create_key(Default::default())
        .unwrap()
        .key_metadata
        .key_id;
    let v = via(&["volume", "create", "--size", "64MiB", "--kms-key-id", &key]);
    let vol = v["VolumeId"].as_str().unwrap().to_string();
    let mnt = d.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    mount(&home, &vol, &mnt, &global, &env);
    let pid = daemon_pid(&home, &vol);
    let e = environ(pid);
    assert!(
        !e.iter().any(|v| v.starts_with("AWS_SECRET_ACCESS_KEY=")),
        "{e:?}"
    );
    let mem = memory(pid);
    let root = std::fs::read(home.join("kms/root.key")).unwrap();
    assert_eq!(
        runs_of(&root, &mem),
        0,
        "the client home's root key in memory"
    );
    round_trip(&home, &mnt, &env, || {
        mount(&home, &vol, &mnt, &global, &env)
    });
    server.stop();
}
