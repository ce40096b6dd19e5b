//! The systemd units in contrib/systemd: `systemd-analyze verify` finds nothing wrong in
//! them, and the mount unit's commands, run as systemd runs them (its ExecStartPre and
//! ExecStart with its environment, then ExecStop), mount the volume and unmount it, the
//! daemon exiting 0. systemd need not be running (it is not PID 1 in CI's containers).
//! Needs root, /dev/fuse and systemd-analyze (with CI=true, their absence is a failure).

mod common;
use common::cli::*;
use common::mount::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const UNITS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/systemd");

/// The unit `name` with the installed binary's path replaced by this build's, and without
/// its man page reference (not installed here), written to `dir`.
fn unit_copy(name: &str, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(Path::new(UNITS).join(name)).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("Documentation="))
        .map(|l| l.replace("/usr/local/bin/kmsfs", env!("CARGO_BIN_EXE_kmsfs")) + "\n")
        .collect();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// The values of `key=` lines of the [Service] section.
fn values(unit: &str, key: &str) -> Vec<String> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(|v| v.trim_matches('"').to_string())
        .collect()
}

#[test]
fn units_verify() {
    const T: &str = "units_verify";
    if !tool_or_skip(T, "systemd-analyze") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for name in ["kmsfs-mount@.service", "kmsfs-serve.service"] {
        let p = unit_copy(name, dir.path());
        let target = if name.contains('@') {
            let inst = dir.path().join("kmsfs-mount@vol-0123456789abcdef0.service");
            std::fs::copy(&p, &inst).unwrap();
            inst
        } else {
            p
        };
        let o = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&target)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        let complaints: Vec<&str> = err
            .lines()
            .filter(|l| l.contains(name.split('@').next().unwrap()))
            .collect();
        assert!(complaints.is_empty(), "{name}: {err}");
    }
}

#[test]
fn the_mount_units_stop_unmounts() {
    const T: &str = "the_mount_units_stop_unmounts";
    if !fuse_or_skip(T) || !root_or_skip(T) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let home = init(dir.path());
    let key = create_key(&home, "KeyId");
    let v = run_ok(
        &home,
        &["volume", "create", "--size", "64MiB", "--kms-key-id", &key],
    );
    let vol = v["VolumeId"].as_str().unwrap().to_string();
    let unit = std::fs::read_to_string(unit_copy("kmsfs-mount@.service", dir.path())).unwrap();
    let mp = dir.path().join("mnt").join(&vol);
    // systemd's expansion: %i, then ${VAR} from Environment= (MOUNTPOINT moved under the
    // test's directory, KMSFS_HOME to the test's home).
    let expand = |s: &str| -> Vec<String> {
        s.replace("%i", &vol)
            .replace("${MOUNTPOINT}", mp.to_str().unwrap())
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert!(
        values(&unit, "Environment")
            .iter()
            .any(|e| e.starts_with("KMSFS_HOME="))
    );
    let command = |key: &str| {
        let line = values(&unit, key)
            .pop()
            .unwrap_or_else(|| panic!("{key}= in the unit"));
        let argv = expand(&line);
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..]).env("KMSFS_HOME", &home);
        c
    };
    assert!(command("ExecStartPre").status().unwrap().success());
    let mut daemon = command("ExecStart").spawn().unwrap();
    let t0 = std::time::Instant::now();
    let mounted = || {
        std::fs::read_to_string("/proc/mounts")
            .unwrap()
            .lines()
            .any(|l| l.split(' ').nth(1) == mp.to_str())
    };
    while !mounted() {
        assert!(t0.elapsed().as_secs() < 30, "ExecStart did not mount");
        assert!(daemon.try_wait().unwrap().is_none(), "ExecStart exited");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::fs::write(mp.join("f"), b"x").unwrap();
    // systemd reaps the main process as soon as it exits (`kmsfs umount` waits for it to
    // be gone): so does a thread here.
    let waiter = std::thread::spawn(move || daemon.wait().unwrap());
    let stop = command("ExecStop").output().unwrap();
    assert!(stop.status.success(), "ExecStop: {stop:?}");
    let st = waiter.join().unwrap();
    assert!(
        t0.elapsed().as_secs() < 20,
        "the stop took {:?}",
        t0.elapsed()
    );
    assert!(st.success(), "the daemon exits 0 when stopped: {st:?}");
    assert!(!mounted(), "stopped means unmounted");
}
