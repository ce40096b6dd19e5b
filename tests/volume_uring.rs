//! Volume mounts over FUSE over io_uring (`--fuse-transport`): the rings really serve the
//! requests (the daemon says how many at unmount), and every kind of operation works over
//! them; `dev` keeps to /dev/fuse; a bad transport is refused.

mod common;
use common::cli::cmd;
use common::mount::*;
use common::pattern::pattern_seeded as pattern;
use common::posix::{c, getxattr, listxattr, setxattr};
use std::ffi::CString;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

const SWITCH: &str = "/sys/module/fuse/parameters/enable_uring";

/// FUSE over io_uring can be had here: the kernel has it, and its switch is on or we may
/// turn it on (root). Else the test fails (or is skipped, `KMSFS_SKIP_UNAVAILABLE=uring`).
fn uring_or_skip(test: &str) -> bool {
    let switch = std::fs::read_to_string(SWITCH).ok();
    let ok = switch.as_deref().map(str::trim) == Some("Y")
        || (switch.is_some() && nix::unistd::geteuid().is_root());
    common::skip::available(
        test,
        "uring",
        ok,
        "FUSE over io_uring is not available (no CONFIG_FUSE_IO_URING, or enable_uring is N and we are not root)",
        "run as root on a kernel with CONFIG_FUSE_IO_URING=y (6.14+)",
    )
}

fn log(m: &Mounted) -> String {
    std::fs::read_to_string(m.home.join("volumes").join(&m.vol).join("mount.log"))
        .unwrap_or_default()
}

/// How many requests the rings served, from the daemon's line at unmount.
fn served(log: &str) -> u64 {
    log.lines()
        .filter_map(|l| l.strip_prefix("kmsfs: FUSE io_uring served "))
        .filter_map(|l| l.split(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Files, directories, links and xattrs through a volume served over io_uring, across a
/// remount; the daemon said it served over the rings, and how much.
#[test]
fn operations_over_io_uring() {
    if !fuse_or_skip("uring_ops") || !uring_or_skip("uring_ops") {
        return;
    }
    let mut m = Mounted::with_options("64MiB", &["--fuse-transport", "uring"]);
    assert!(
        log(&m).contains("serving over FUSE io_uring"),
        "{}",
        log(&m)
    );
    let mnt = m.mnt.clone();
    std::fs::create_dir_all(mnt.join("d/e")).unwrap();
    let big = pattern(1, 3 << 20);
    std::fs::write(mnt.join("d/big"), &big).unwrap();
    std::fs::write(mnt.join("d/small"), b"hello").unwrap();
    assert_eq!(std::fs::read(mnt.join("d/big")).unwrap(), big);
    std::fs::rename(mnt.join("d/small"), mnt.join("d/e/moved")).unwrap();
    assert_eq!(std::fs::read(mnt.join("d/e/moved")).unwrap(), b"hello");
    std::os::unix::fs::symlink("e/moved", mnt.join("d/link")).unwrap();
    assert_eq!(
        std::fs::read_link(mnt.join("d/link")).unwrap(),
        Path::new("e/moved")
    );
    assert_eq!(std::fs::read(mnt.join("d/link")).unwrap(), b"hello");
    std::fs::hard_link(mnt.join("d/big"), mnt.join("d/hard")).unwrap();
    assert_eq!(std::fs::metadata(mnt.join("d/hard")).unwrap().nlink(), 2);
    let mut names: Vec<String> = std::fs::read_dir(mnt.join("d"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["big", "e", "hard", "link"]);
    // xattrs: set, get, list, remove.
    let f = mnt.join("d/big");
    assert_eq!(setxattr(&f, "user.tag", b"blue"), Ok(()), "setxattr");
    assert_eq!(getxattr(&f, "user.tag").ok().as_deref(), Some(&b"blue"[..]));
    assert_eq!(listxattr(&f).as_deref(), Ok(&b"user.tag\0"[..]));
    let n = CString::new("user.tag").unwrap();
    // SAFETY: valid C strings.
    assert_eq!(unsafe { libc::removexattr(c(&f).as_ptr(), n.as_ptr()) }, 0);
    assert_eq!(getxattr(&f, "user.tag").ok(), None);
    // Modes, truncation, unlink, rmdir, statfs.
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(std::fs::metadata(&f).unwrap().mode() & 0o777, 0o600);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&f)
        .unwrap()
        .set_len(1000)
        .unwrap();
    assert_eq!(std::fs::read(&f).unwrap(), big[..1000]);
    std::fs::remove_file(mnt.join("d/e/moved")).unwrap();
    std::fs::remove_dir(mnt.join("d/e")).unwrap();
    assert!(!mnt.join("d/e").exists());
    let st = nix::sys::statvfs::statvfs(&mnt).unwrap();
    assert_eq!(st.blocks() as u64 * st.fragment_size() as u64, 64 << 20);
    m.umount();
    let n = served(&log(&m));
    assert!(n > 20, "the rings served {n} requests:\n{}", log(&m));
    // What was written over the rings reads back after a remount (over them again).
    m.mount_with(&["--fuse-transport", "uring"]);
    assert_eq!(std::fs::read(mnt.join("d/hard")).unwrap(), big[..1000]);
    assert_eq!(
        std::fs::read_link(mnt.join("d/link")).unwrap(),
        Path::new("e/moved")
    );
    m.umount();
    assert!(served(&log(&m)) > n);
}

/// With neither the flag nor KMSFS_FUSE_TRANSPORT, a mount serves over io_uring where the
/// kernel offers it (`auto`, the default).
#[test]
fn the_default_transport_is_io_uring_where_offered() {
    if !fuse_or_skip("uring_default") || !uring_or_skip("uring_default") {
        return;
    }
    let mut m = Mounted::with_options("64MiB", &["--fuse-transport", "dev"]);
    m.umount();
    let out = cmd(&m.home, &["mount", &m.vol, m.mnt.to_str().unwrap()])
        .env_remove("KMSFS_FUSE_TRANSPORT")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    m.mounted = true;
    std::fs::write(m.mnt.join("f"), b"x").unwrap();
    assert_eq!(std::fs::read(m.mnt.join("f")).unwrap(), b"x");
    m.umount();
    assert!(served(&log(&m)) > 0, "{}", log(&m));
}

/// `dev` (flag or KMSFS_FUSE_TRANSPORT) keeps to /dev/fuse: no ring serves anything.
#[test]
fn dev_transport_uses_no_ring() {
    if !fuse_or_skip("uring_dev") {
        return;
    }
    let mut m = Mounted::with_options("64MiB", &["--fuse-transport", "dev"]);
    std::fs::write(m.mnt.join("f"), b"x").unwrap();
    assert_eq!(std::fs::read(m.mnt.join("f")).unwrap(), b"x");
    m.umount();
    assert!(!log(&m).contains("io_uring"), "{}", log(&m));
}

/// An unknown transport is refused, by the flag's parser and in the variable.
#[test]
fn unknown_transport_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let home = common::cli::init(dir.path());
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let out = cmd(
        &home,
        &[
            "mount",
            "vol-x",
            mnt.to_str().unwrap(),
            "--fuse-transport",
            "tcp",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("auto, uring, dev"),
        "{out:?}"
    );
}

/// The CPUs this machine has online (`/sys/devices/system/cpu/online`, e.g. `0-1,4`).
fn online_cpus() -> Vec<usize> {
    let s = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    let mut cpus = Vec::new();
    for part in s.trim().split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        cpus.extend(a.parse::<usize>().unwrap()..=b.parse::<usize>().unwrap());
    }
    cpus
}

/// Every thread of a ring queue runs on that queue's CPU only (the kernel hands a request to
/// the queue of its caller's CPU, and an answer from the same CPU wakes no other): the
/// daemon's `kmsfs-ring-Q.K` threads, their `Cpus_allowed_list` in /proc.
#[test]
fn every_ring_thread_is_pinned_to_its_queues_cpu() {
    if !fuse_or_skip("uring_pinned") || !uring_or_skip("uring_pinned") {
        return;
    }
    let mut m = Mounted::with_options("64MiB", &["--fuse-transport", "uring"]);
    std::fs::write(m.mnt.join("f"), b"x").unwrap();
    assert_eq!(std::fs::read(m.mnt.join("f")).unwrap(), b"x");
    let online = online_cpus();
    let task = format!("/proc/{}/task", m.daemon_pid());
    // The threads pin themselves once INIT is answered: wait for that.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let rings = loop {
        let mut rings = Vec::new();
        for t in std::fs::read_dir(&task).unwrap().flatten() {
            let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            let Some(qk) = comm.trim().strip_prefix("kmsfs-ring-") else {
                continue;
            };
            let q: usize = qk.split('.').next().unwrap().parse().unwrap();
            let status = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
            let allowed = status
                .lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(|v| v.trim().to_string())
                .unwrap_or_default();
            rings.push((comm.trim().to_string(), q, allowed));
        }
        let pinned = |(_, q, allowed): &(String, usize, String)| {
            !online.contains(q) || *allowed == q.to_string()
        };
        if (!rings.is_empty() && rings.iter().all(pinned)) || std::time::Instant::now() > deadline {
            break rings;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    // Two threads for each online CPU's queue, each allowed on that CPU alone.
    for q in &online {
        let mine: Vec<_> = rings.iter().filter(|r| r.1 == *q).collect();
        assert_eq!(mine.len(), 2, "queue {q}: {rings:?}");
        for (name, _, allowed) in mine {
            assert_eq!(*allowed, q.to_string(), "{name} may run on CPUs {allowed}");
        }
    }
    m.umount();
}

/// A queue thread may answer under `SCHED_IDLE` (so that the woken caller stays on its CPU)
/// but takes its own policy back at once: after a run of round trips, every
/// `kmsfs-ring-Q.K` thread is under `SCHED_OTHER` (field 41 of its /proc stat), and the
/// daemon's closing line says how many answers went under `SCHED_IDLE`.
#[test]
fn ring_threads_take_their_policy_back_after_answering() {
    if !fuse_or_skip("uring_policy") || !uring_or_skip("uring_policy") {
        return;
    }
    let mut m = Mounted::with_options("64MiB", &["--fuse-transport", "uring"]);
    let f = m.mnt.join("f");
    std::fs::write(&f, b"x").unwrap();
    for _ in 0..3000 {
        std::fs::metadata(&f).unwrap();
        let _ = getxattr(&f, "user.none");
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    let task = format!("/proc/{}/task", m.daemon_pid());
    let mut rings = 0;
    for t in std::fs::read_dir(&task).unwrap().flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if !comm.starts_with("kmsfs-ring-") {
            continue;
        }
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap();
        let after = &stat[stat.rfind(')').unwrap() + 1..];
        let policy: i32 = after.split_whitespace().nth(38).unwrap().parse().unwrap();
        assert_eq!(
            policy,
            libc::SCHED_OTHER,
            "{}: policy {policy}",
            comm.trim()
        );
        rings += 1;
    }
    assert!(rings > 0, "no ring threads in {task}");
    m.umount();
    let log = log(&m);
    let line = log
        .lines()
        .find(|l| l.starts_with("kmsfs: FUSE io_uring served "))
        .unwrap_or_else(|| panic!("no closing line in {log}"));
    assert!(line.ends_with("answers under SCHED_IDLE)"), "{line}");
    eprintln!("uring_policy: {line}");
}
