//! The mount daemon as the system sees it, through real FUSE mounts: who gets in
//! (`--allow-other`, set-user-ID cleared after an unprivileged write), polling `/dev/fuse`
//! only while busy, the tuning of its backing device, extended attributes turned off
//! (`--no-xattr`), and `kmsfs umount` refusing mounts kmsfs did not make. Several need
//! root; with CI=true, not being root is a failure.

mod common;
use common::cli::kmsfs;
use common::mount::*;
use std::process::Command;

/// With FUSE_HANDLE_KILLPRIV_V2 (no `security.capability` lookup before every write) the
/// filesystem clears set-user-ID after an unprivileged write, as ext4 does; the kernel's
/// cached mode follows at once. Needs root (to drop to another user, who gets in through
/// `--allow-other`).
#[test]
fn unprivileged_write_drops_setuid() {
    if !fuse_or_skip("unprivileged_write_drops_setuid")
        || !root_or_skip("unprivileged_write_drops_setuid")
    {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let m = Mounted::with_options("64MiB", &["--allow-other"]);
    let f = m.mnt.join("suid");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    let write_as_nobody = |p: &std::path::Path| {
        // The shell (root) opens the file; the write happens after dropping to uid 65534.
        let st = Command::new("sh")
            .arg("-c")
            .arg("exec 3>>\"$1\"; setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'echo x >&3'")
            .arg("sh")
            .arg(p)
            .status()
            .unwrap();
        assert!(st.success());
    };
    std::fs::write(&f, b"a").unwrap();
    for (set, want) in [
        (0o4777, 0o777),
        (0o2777, 0o777),
        // (no group-execute, but the writer is outside the file's group: ext4 drops it too)
        (0o2767, 0o767),
        (0o755, 0o755),
    ] {
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(set)).unwrap();
        write_as_nobody(&f);
        assert_eq!(mode(&f), want, "mode {set:o} after an unprivileged write");
    }
    // A root write keeps the bits.
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o4755)).unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&f)
        .and_then(|mut h| std::io::Write::write_all(&mut h, b"y"))
        .unwrap();
    assert_eq!(mode(&f), 0o4755);
}

/// Who gets in: without `--allow-other` only the mounting user (other users get EACCES from
/// the kernel); with it everyone, and the kernel checks each access against the modes.
/// Needs root (to act as another user).
#[test]
fn allow_other_decides_who_gets_in() {
    if !fuse_or_skip("allow_other_decides_who_gets_in")
        || !root_or_skip("allow_other_decides_who_gets_in")
    {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let as_nobody = |script: &str, p: &std::path::Path| {
        Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "sh",
                "-c",
            ])
            .arg(script)
            .arg("sh")
            .arg(p)
            .output()
            .unwrap()
    };
    let mut m = Mounted::new("64MiB");
    std::fs::set_permissions(&m.dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let open = m.mnt.join("open");
    let secret = m.mnt.join("secret");
    std::fs::write(&open, b"for everyone").unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&secret, b"for root").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = as_nobody("cat \"$1\"", &open);
    assert!(
        !o.status.success(),
        "another user read the mount without --allow-other"
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Permission denied"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    m.umount();
    m.mount_with(&["--allow-other"]);
    let o = as_nobody("cat \"$1\"", &open);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.stdout, b"for everyone");
    assert!(
        !as_nobody("cat \"$1\"", &secret).status.success(),
        "0600 read by another user"
    );
    assert!(
        !as_nobody("echo x >> \"$1\"", &open).status.success(),
        "0644 written by another user"
    );
    assert!(
        !as_nobody("rm -f \"$1\"", &open).status.success(),
        "unlinked in root's 0755 dir"
    );
    assert_eq!(std::fs::read(&open).unwrap(), b"for everyone");
}

/// Of the daemon's `/dev/fuse` descriptors: how many read without blocking now (polling),
/// and how many there are.
fn polling_fds(pid: i32) -> (usize, usize) {
    let (mut n, mut all) = (0, 0);
    for e in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
    {
        if std::fs::read_link(e.path()).ok().as_deref() != Some(std::path::Path::new("/dev/fuse")) {
            continue;
        }
        all += 1;
        let info = std::fs::read_to_string(format!(
            "/proc/{pid}/fdinfo/{}",
            e.file_name().to_string_lossy()
        ))
        .unwrap_or_default();
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
            .unwrap_or(0);
        if flags & libc::O_NONBLOCK as u32 != 0 {
            n += 1;
        }
    }
    (n, all)
}

/// CPU time (user + system, in clock ticks) the daemon has used so far.
fn cpu_ticks(pid: i32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    // Fields 14 and 15 of stat (utime, stime) are the 12th and 13th after the name.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// While requests keep coming, one dispatch loop polls `/dev/fuse` (no sleep and wake-up
/// per round trip) and the others block; once the mount is idle, none polls and the daemon
/// uses no CPU. (The polling loop's descriptor is seen twice: the controller holds a `dup`.)
#[test]
fn polling_only_while_busy() {
    if !fuse_or_skip("polling_only_while_busy") {
        return;
    }
    let m = Mounted::new("64MiB");
    let pid = m.daemon_pid();
    let dir = m.mnt.join("burst");
    std::fs::create_dir(&dir).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let worker = {
        let (dir, stop) = (dir.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let p = dir.join(format!("f{}", i % 64));
                std::fs::write(&p, b"x").unwrap();
                let _ = std::fs::metadata(&p).unwrap();
                std::fs::remove_file(&p).unwrap();
                i += 1;
            }
            i
        })
    };
    let t = std::time::Instant::now();
    let (mut most, mut all) = (0, 0);
    while t.elapsed() < std::time::Duration::from_secs(2) {
        let (n, a) = polling_fds(pid);
        (most, all) = (most.max(n), a);
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let ops = worker.join().unwrap();
    assert!(ops > 100, "the burst made only {ops} rounds");
    assert!(most >= 1, "no loop polled while busy");
    assert!(
        most < all,
        "every loop polled ({most} of {all} descriptors)"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(polling_fds(pid).0, 0, "a loop still polls on an idle mount");
    let before = cpu_ticks(pid);
    std::thread::sleep(std::time::Duration::from_secs(1));
    let used = cpu_ticks(pid) - before;
    assert!(used <= 3, "the idle daemon used {used} ticks of CPU in 1 s");
}

/// As root, the daemon gives its mount's backing device a 1 MiB readahead (the kernel's
/// default of 128 KiB would cap the negotiated one) and half the dirty-page budget, under
/// its own limit (`strict_limit`).
#[test]
fn mount_tunes_its_backing_device() {
    if !fuse_or_skip("mount_tunes_its_backing_device") {
        return;
    }
    if !root_or_skip("mount_tunes_its_backing_device") {
        return;
    }
    use std::os::unix::fs::MetadataExt;
    let m = Mounted::new("64MiB");
    let dev = std::fs::metadata(&m.mnt).unwrap().dev();
    let (maj, min) = (libc::major(dev), libc::minor(dev));
    let bdi = std::path::PathBuf::from(format!("/sys/class/bdi/{maj}:{min}"));
    let read = |f: &str| {
        std::fs::read_to_string(bdi.join(f))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(read("read_ahead_kb"), "1024");
    assert_eq!(read("strict_limit"), "1");
    assert_eq!(read("max_ratio"), "50");
}

/// `kmsfs umount` unmounts only what kmsfs mounted: a tmpfs (or any other mount) on the
/// directory is refused with the MOUNT exit code and left mounted, and a plain directory is
/// "not mounted".
#[test]
fn umount_refuses_what_kmsfs_did_not_mount() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let dir = d.path().join("t");
    std::fs::create_dir(&dir).unwrap();
    let o = kmsfs(&home, &["umount", dir.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(9), "{err}");
    assert!(err.contains("is not mounted"), "{err}");

    if !root_or_skip("umount_refuses_what_kmsfs_did_not_mount") {
        return;
    }
    nix::mount::mount(
        Some("tmpfs"),
        &dir,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    struct Unmount<'a>(&'a std::path::Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = nix::mount::umount2(self.0, nix::mount::MntFlags::MNT_DETACH);
        }
    }
    let _guard = Unmount(&dir);
    let o = kmsfs(&home, &["umount", dir.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(9), "{err}");
    assert!(err.contains("is not a kmsfs mount"), "{err}");
    let still = kmsfs::mount::mount_at(&dir).expect("the tmpfs is still mounted");
    assert_eq!(still.fstype, "tmpfs");
    assert!(!still.is_kmsfs());
}

/// Wait (up to 30 s) until `cond` holds; whether it did.
fn wait_for(mut cond: impl FnMut() -> bool) -> bool {
    let t0 = std::time::Instant::now();
    while t0.elapsed() < std::time::Duration::from_secs(30) {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    false
}

/// SIGTERM, SIGINT (Ctrl-C) and SIGHUP end `kmsfs mount --foreground` as `kmsfs umount`
/// does: the mount is gone from /proc/self/mountinfo (no dead "Transport endpoint is not
/// connected" mount), the daemon exits 0, and what was written before the signal (not
/// fsync'ed: still in the kernel's writeback cache) is there after a remount.
#[test]
fn signals_unmount_a_foreground_mount_and_exit_0() {
    if !fuse_or_skip("signals_unmount_a_foreground_mount_and_exit_0") {
        return;
    }
    use nix::sys::signal::Signal;
    let mut m = Mounted::new("1GiB");
    m.umount();
    let mnt = m.mnt.to_str().unwrap().to_string();
    for sig in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        let log = m.dir.path().join(format!("{sig}.log"));
        let mut child = common::cli::cmd(&m.home, &["mount", &m.vol, &mnt, "--foreground"])
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        assert!(
            wait_for(|| kmsfs::mount::mount_at(&m.mnt).is_some()),
            "not mounted: {}",
            std::fs::read_to_string(&log).unwrap()
        );
        let body = format!("written before {sig}\n").repeat(1000);
        std::fs::write(m.mnt.join(sig.as_str()), &body).unwrap();
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
        let mut status = None;
        assert!(
            wait_for(|| {
                status = child.try_wait().unwrap();
                status.is_some()
            }),
            "the daemon did not exit on {sig}"
        );
        let logged = std::fs::read_to_string(&log).unwrap();
        assert_eq!(status.unwrap().code(), Some(0), "{sig}: {logged}");
        assert!(
            kmsfs::mount::mount_at(&m.mnt).is_none(),
            "{sig} left a mount behind: {logged}"
        );
        assert!(std::fs::read_dir(&m.mnt).is_ok(), "{sig}: dead mount point");
        // The staging directory of the files made ahead went with the daemon.
        let made = m.backing().parent().unwrap().join("made");
        assert_eq!(
            std::fs::read_dir(&made).unwrap().count(),
            0,
            "{sig}: {made:?} left"
        );
    }
    m.mount();
    for sig in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        let got = std::fs::read_to_string(m.mnt.join(sig.as_str())).unwrap();
        assert_eq!(got, format!("written before {sig}\n").repeat(1000));
    }
}

/// The same signal mechanism serves bucket mounts: SIGTERM to a `kmsfs mount-bucket` daemon
/// unmounts it, the daemon exits, and a file written through the mount is an object.
#[test]
fn sigterm_unmounts_a_bucket_daemon() {
    if !fuse_or_skip("sigterm_unmounts_a_bucket_daemon") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let home = common::cli::init(d.path());
    common::cli::run_ok(&home, &["bucket", "create", "photos"]);
    let mnt = d.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let v = common::cli::run_ok(&home, &["mount-bucket", "photos", mnt.to_str().unwrap()]);
    let pid = nix::unistd::Pid::from_raw(v["Pid"].as_i64().unwrap() as i32);
    std::fs::write(mnt.join("cat.txt"), b"meow").unwrap();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let log = home.join("buckets/photos/mount.log");
    assert!(
        wait_for(|| nix::sys::signal::kill(pid, None).is_err()),
        "the bucket daemon did not exit: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    let left = kmsfs::mount::mount_at(&mnt);
    if left.is_some() {
        let _ = nix::mount::umount2(&mnt, nix::mount::MntFlags::MNT_DETACH);
    }
    assert!(left.is_none(), "SIGTERM left a mount behind: {logged}");
    assert!(logged.contains("unmounted"), "{logged}");
    let body = d.path().join("out");
    common::cli::run_ok(
        &home,
        &["object", "get", "photos/cat.txt", body.to_str().unwrap()],
    );
    assert_eq!(std::fs::read(&body).unwrap(), b"meow");
}

/// A mount would hide the files of a non-empty directory: `kmsfs mount` and `kmsfs
/// mount-bucket` refuse it (exit 9, "is not empty", a hint naming `--nonempty`), as gocryptfs
/// does, and mount over it with `--nonempty`.
#[test]
fn mounting_over_a_nonempty_directory_needs_nonempty() {
    if !fuse_or_skip("mounting_over_a_nonempty_directory_needs_nonempty") {
        return;
    }
    let mut m = Mounted::new("1GiB");
    m.umount();
    std::fs::write(m.mnt.join("hidden"), b"x").unwrap();
    let mnt_path = m.mnt.to_str().unwrap().to_string();
    let mnt = mnt_path.as_str();
    for args in [
        vec!["mount", &m.vol, mnt],
        vec!["mount", &m.vol, mnt, "--foreground"],
        vec!["mount-bucket", "bkt", mnt],
    ] {
        if args[0] == "mount-bucket" {
            common::cli::run_ok(&m.home, &["bucket", "create", "bkt"]);
        }
        let o = kmsfs(&m.home, &args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(9), "{args:?}: {err}");
        assert!(
            err.contains("is not empty") && err.contains("--nonempty"),
            "{err}"
        );
        assert!(kmsfs::mount::mount_at(&m.mnt).is_none());
    }
    m.mount_with(&["--nonempty"]);
    assert!(!m.mnt.join("hidden").exists());
    m.umount();
    let v = common::cli::run_ok(&m.home, &["mount-bucket", "bkt", mnt, "--nonempty"]);
    assert_eq!(v["Bucket"], "bkt");
    common::cli::run_ok(&m.home, &["umount", mnt]);
    assert_eq!(std::fs::read(m.mnt.join("hidden")).unwrap(), b"x");
}

/// `kmsfs mount --no-xattr` (gocryptfs's `-noxattr`): every xattr call fails with "operation
/// not supported", files and tools work as before, and the attributes stored earlier are
/// there again at the next mount without the flag.
#[test]
fn no_xattr_turns_extended_attributes_off() {
    if !fuse_or_skip("no_xattr_turns_extended_attributes_off") {
        return;
    }
    use common::posix::{getxattr, listxattr, setxattr};
    let mut m = Mounted::new("64MiB");
    let f = m.mnt.join("f");
    std::fs::write(&f, b"contents").unwrap();
    setxattr(&f, "user.k", b"v").unwrap();
    m.umount();
    m.mount_with(&["--no-xattr"]);
    assert_eq!(getxattr(&f, "user.k"), Err(libc::EOPNOTSUPP));
    assert_eq!(getxattr(&f, "security.capability"), Err(libc::EOPNOTSUPP));
    assert_eq!(setxattr(&f, "user.k", b"w"), Err(libc::EOPNOTSUPP));
    assert_eq!(listxattr(&f), Err(libc::EOPNOTSUPP));
    assert_eq!(std::fs::read(&f).unwrap(), b"contents");
    let st = Command::new("cp")
        .arg("-a")
        .arg(&f)
        .arg(m.mnt.join("g"))
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::write(m.mnt.join("h"), b"new").unwrap();
    assert_eq!(std::fs::read(m.mnt.join("g")).unwrap(), b"contents");
    m.umount();
    m.mount();
    assert_eq!(getxattr(&f, "user.k").unwrap(), b"v");
    assert_eq!(getxattr(&m.mnt.join("h"), "user.k"), Err(libc::ENODATA));
}

/// `kmsfs umount` of a volume mounted on a passphrase home asks for no passphrase (nor reads
/// a key): without one, with no terminal, it unmounts and exits 0.
#[test]
fn umount_needs_no_passphrase() {
    if !fuse_or_skip("umount_needs_no_passphrase") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let pw = [("KMSFS_PASSPHRASE", "correct horse battery staple")];
    let run = |args: &[&str]| common::cli::ok(&common::cli::kmsfs_env(&home, args, &pw));
    run(&["init", "--passphrase"]);
    let key = run(&["kms", "create-key"])["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let v = run(&["volume", "create", "--size", "1GiB", "--kms-key-id", &key]);
    let vol = v["VolumeId"].as_str().unwrap();
    let mnt = d.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    run(&["mount", vol, mnt.to_str().unwrap()]);
    let o = common::cli::cmd(&home, &["umount", mnt.to_str().unwrap()])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let left = kmsfs::mount::mount_at(&mnt);
    if left.is_some() {
        let _ = nix::mount::umount2(&mnt, nix::mount::MntFlags::MNT_DETACH);
    }
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(left.is_none());
    assert_eq!(common::cli::ok(&o)["VolumeId"], vol);
}

/// An id that is a path (`../../h2/volumes/VOL`, a volume of another home) is refused (exit
/// 2) before anything is written: no `mount.log` appears outside the home, nothing is
/// mounted. Bucket names likewise.
#[test]
fn ids_that_are_paths_are_refused_before_any_effect() {
    let d = tempfile::tempdir().unwrap();
    let h1 = common::cli::init(&d.path().join("1"));
    let h2 = common::cli::init(&d.path().join("2"));
    let key = common::cli::create_key(&h2, "KeyId");
    let v = common::cli::run_ok(
        &h2,
        &["volume", "create", "--size", "1GiB", "--kms-key-id", &key],
    );
    let vol = v["VolumeId"].as_str().unwrap();
    let other = h2.join("volumes").join(vol);
    // From h1/volumes/ (d/1/home/volumes/) to d/2/home/volumes/VOL.
    let rel = format!("../../../2/home/volumes/{vol}");
    std::fs::create_dir_all(h1.join("volumes")).unwrap();
    assert!(h1.join("volumes").join(&rel).join("volume.hdr").exists());
    let mnt = d.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let m = mnt.to_str().unwrap();
    for args in [
        vec!["mount", &rel, m],
        vec!["mount", &rel, m, "--foreground"],
        vec!["mount-bucket", "../x", m],
        vec!["mount-bucket", "../x", m, "--foreground"],
    ] {
        let o = kmsfs(&h1, &args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            !other.join("mount.log").exists(),
            "{args:?} wrote {}",
            other.display()
        );
        assert!(!h1.join("x").exists(), "{args:?} wrote outside buckets/");
        assert!(kmsfs::mount::mount_at(&mnt).is_none());
    }
}

/// Run by [`an_unavailable_requirement_fails_unless_opted_out`] in a child process (with
/// `KMSFS_TEST_SKIP_PROBE` set); on its own it does nothing.
#[test]
fn skip_probe() {
    if std::env::var_os("KMSFS_TEST_SKIP_PROBE").is_some() {
        tool_or_skip("skip_probe", "kmsfs-no-such-tool");
    }
}

/// A test whose requirement (here a tool) is missing FAILS, unless the user opted out of that
/// kind with KMSFS_SKIP_UNAVAILABLE: then it passes, says SKIPPED on the terminal, and is
/// recorded for the run's summary line; under CI=true it fails even then.
#[test]
fn an_unavailable_requirement_fails_unless_opted_out() {
    let exe = std::env::current_exe().unwrap();
    let probe = |env: &[(&str, &str)]| {
        let mut c = Command::new(&exe);
        c.args(["--exact", "skip_probe", "--test-threads=1"])
            .env("KMSFS_TEST_SKIP_PROBE", "1")
            .env_remove("CI")
            .env_remove(common::skip::OPT_OUT);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let record = common::skip::dir().join(format!(
        "{}-mount_daemon.txt",
        common::skip::run_id_of(std::process::id())
    ));
    let _ = std::fs::remove_file(&record);

    let o = probe(&[]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!o.status.success(), "a missing tool passed: {out}");
    assert!(
        out.contains("KMSFS_SKIP_UNAVAILABLE=kmsfs-no-such-tool"),
        "{out}"
    );
    assert!(!record.exists());

    for optout in ["kmsfs-no-such-tool", "fio,kmsfs-no-such-tool", "1"] {
        let o = probe(&[(common::skip::OPT_OUT, optout)]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{optout}: {err}");
        assert!(err.contains("skip_probe: SKIPPED"), "{optout}: {err}");
    }
    let recorded = std::fs::read_to_string(&record).unwrap_or_default();
    let _ = std::fs::remove_file(&record);
    assert_eq!(
        recorded
            .matches("mount_daemon::skip_probe: SKIPPED")
            .count(),
        3,
        "{recorded}"
    );

    let o = probe(&[(common::skip::OPT_OUT, "fio")]);
    assert!(
        !o.status.success(),
        "opting out of fio skipped another tool"
    );
    let o = probe(&[(common::skip::OPT_OUT, "1"), ("CI", "true")]);
    assert!(!o.status.success(), "CI=true skipped a test");
    let _ = std::fs::remove_file(&record);
}

/// `kmsfs umount` of a mount busy for a moment (a file open in it, closed 300 ms later)
/// tries again and succeeds; one that stays busy fails with exit 9 and the hint.
#[test]
fn umount_waits_out_a_moment_of_busy() {
    if !fuse_or_skip("umount_waits_out_a_moment_of_busy") {
        return;
    }
    let mut m = Mounted::new("64MiB");
    let mnt = m.mnt.to_str().unwrap().to_string();
    let held = std::fs::File::create(m.mnt.join("held")).unwrap();
    let o = common::cli::cmd(&m.home, &["umount", &mnt])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(9), "{err}");
    assert!(err.contains("close files and leave the directory"), "{err}");
    let closer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        drop(held);
    });
    let t = std::time::Instant::now();
    m.umount();
    closer.join().unwrap();
    assert!(t.elapsed() >= std::time::Duration::from_millis(250));
    assert!(kmsfs::mount::mount_at(&m.mnt).is_none());
}
