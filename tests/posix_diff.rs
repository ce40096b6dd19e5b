//! Differential POSIX tests (issue 15 §2): every scenario runs on a plain directory of the
//! backing file system and on a mounted volume, and must give the same outcome (success or
//! the same errno) and change the same timestamps (mtime, ctime; atime is governed by mount
//! options) of the same paths: a failed call changes none. As root.

mod common;
use common::mount::{Mounted, fuse_or_skip, root_or_skip};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

type Outcome = Result<(), i32>;

fn c(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

fn errno<T: PartialOrd + Default>(r: T) -> Outcome {
    if r < T::default() {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(())
    }
}

fn open(p: &Path, flags: i32) -> Outcome {
    let fd = unsafe { libc::open(c(p).as_ptr(), flags | libc::O_CLOEXEC, 0o644) };
    if fd >= 0 {
        unsafe { libc::close(fd) };
    }
    errno(fd)
}

fn rename2(a: &Path, b: &Path, flags: u32) -> Outcome {
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            c(a).as_ptr(),
            libc::AT_FDCWD,
            c(b).as_ptr(),
            flags,
        )
    };
    errno(r)
}

fn file(p: &Path, data: &[u8]) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

fn dir(p: &Path) {
    std::fs::create_dir_all(p).unwrap();
}

fn utimes(p: &Path, atime: libc::timespec, mtime: libc::timespec) -> Outcome {
    let t = [atime, mtime];
    errno(unsafe { libc::utimensat(libc::AT_FDCWD, c(p).as_ptr(), t.as_ptr(), 0) })
}

fn ts(sec: i64, nsec: i64) -> libc::timespec {
    libc::timespec {
        tv_sec: sec,
        tv_nsec: nsec,
    }
}

/// One scenario: what to make first, what to do, which paths (relative to the scenario's
/// directory; "." is the directory itself) to watch.
struct Scenario {
    name: &'static str,
    setup: fn(&Path),
    act: fn(&Path) -> Outcome,
    watch: &'static [&'static str],
}

fn scenarios() -> Vec<Scenario> {
    let s = |name, setup: fn(&Path), act: fn(&Path) -> Outcome, watch| Scenario {
        name,
        setup,
        act,
        watch,
    };
    let none: fn(&Path) = |_| {};
    let f: fn(&Path) = |d| file(&d.join("f"), b"0123456789");
    let fg: fn(&Path) = |d| {
        file(&d.join("f"), b"first");
        file(&d.join("g"), b"second file");
    };
    let a: fn(&Path) = |d| dir(&d.join("a"));
    const WR: i32 = libc::O_WRONLY;
    vec![
        s(
            "creat",
            none,
            |d| open(&d.join("f"), libc::O_CREAT | WR),
            &[".", "f"],
        ),
        s(
            "creat O_EXCL on a file",
            f,
            |d| open(&d.join("f"), libc::O_CREAT | libc::O_EXCL | WR),
            &[".", "f"],
        ),
        s(
            "open a missing file",
            none,
            |d| open(&d.join("f"), libc::O_RDONLY),
            &["."],
        ),
        s(
            "O_DIRECTORY on a file",
            f,
            |d| open(&d.join("f"), libc::O_DIRECTORY),
            &["f"],
        ),
        s(
            "a file as a path component",
            f,
            |d| open(&d.join("f/x"), libc::O_CREAT | WR),
            &[".", "f"],
        ),
        s(
            "a 256-byte name",
            none,
            |d| open(&d.join("n".repeat(256)), libc::O_CREAT | WR),
            &["."],
        ),
        s(
            "a 255-byte name",
            none,
            |d| open(&d.join("n".repeat(255)), libc::O_CREAT | WR),
            &["."],
        ),
        s(
            "O_TRUNC",
            f,
            |d| open(&d.join("f"), libc::O_TRUNC | WR),
            &[".", "f"],
        ),
        s(
            "O_TRUNC on an empty file",
            |d| file(&d.join("f"), b""),
            |d| open(&d.join("f"), libc::O_TRUNC | WR),
            &["f"],
        ),
        s(
            "open O_RDWR of a directory",
            a,
            |d| open(&d.join("a"), libc::O_RDWR),
            &["a"],
        ),
        s(
            "link",
            f,
            |d| errno(unsafe { libc::link(c(&d.join("f")).as_ptr(), c(&d.join("g")).as_ptr()) }),
            &[".", "f"],
        ),
        s(
            "link onto a file",
            fg,
            |d| errno(unsafe { libc::link(c(&d.join("f")).as_ptr(), c(&d.join("g")).as_ptr()) }),
            &[".", "f", "g"],
        ),
        s(
            "link a directory",
            a,
            |d| errno(unsafe { libc::link(c(&d.join("a")).as_ptr(), c(&d.join("b")).as_ptr()) }),
            &[".", "a"],
        ),
        s(
            "rename a file",
            f,
            |d| rename2(&d.join("f"), &d.join("g"), 0),
            &["."],
        ),
        s(
            "rename over a file",
            fg,
            |d| rename2(&d.join("f"), &d.join("g"), 0),
            &[".", "g"],
        ),
        s(
            "RENAME_NOREPLACE onto a file",
            fg,
            |d| rename2(&d.join("f"), &d.join("g"), libc::RENAME_NOREPLACE),
            &[".", "f", "g"],
        ),
        s(
            "RENAME_EXCHANGE",
            fg,
            |d| rename2(&d.join("f"), &d.join("g"), libc::RENAME_EXCHANGE),
            &[".", "f", "g"],
        ),
        s(
            "RENAME_EXCHANGE with a missing name",
            f,
            |d| rename2(&d.join("f"), &d.join("g"), libc::RENAME_EXCHANGE),
            &[".", "f"],
        ),
        s(
            "rename a directory over a non-empty one",
            |d| {
                dir(&d.join("a"));
                file(&d.join("b/x"), b"x");
            },
            |d| rename2(&d.join("a"), &d.join("b"), 0),
            &[".", "a", "b"],
        ),
        s(
            "rename a directory over an empty one",
            |d| {
                dir(&d.join("a/in"));
                dir(&d.join("b"));
            },
            |d| rename2(&d.join("a"), &d.join("b"), 0),
            &["."],
        ),
        s(
            "rename a directory into its own child",
            |d| dir(&d.join("a/b")),
            |d| rename2(&d.join("a"), &d.join("a/b/c"), 0),
            &[".", "a", "a/b"],
        ),
        s(
            "rename a file over a directory",
            |d| {
                file(&d.join("f"), b"f");
                dir(&d.join("a"));
            },
            |d| rename2(&d.join("f"), &d.join("a"), 0),
            &[".", "f", "a"],
        ),
        s(
            "rename a directory over a file",
            |d| {
                file(&d.join("f"), b"f");
                dir(&d.join("a"));
            },
            |d| rename2(&d.join("a"), &d.join("f"), 0),
            &[".", "f", "a"],
        ),
        s(
            "rename a directory to another parent",
            |d| {
                dir(&d.join("a/x"));
                dir(&d.join("b"));
            },
            |d| rename2(&d.join("a/x"), &d.join("b/x"), 0),
            &["a", "b", "b/x"],
        ),
        s(
            "unlink",
            f,
            |d| errno(unsafe { libc::unlink(c(&d.join("f")).as_ptr()) }),
            &["."],
        ),
        s(
            "unlink a directory",
            a,
            |d| errno(unsafe { libc::unlink(c(&d.join("a")).as_ptr()) }),
            &[".", "a"],
        ),
        s(
            "unlink one of two links",
            |d| {
                file(&d.join("f"), b"f");
                std::fs::hard_link(d.join("f"), d.join("g")).unwrap();
            },
            |d| errno(unsafe { libc::unlink(c(&d.join("f")).as_ptr()) }),
            &[".", "g"],
        ),
        s(
            "rmdir",
            a,
            |d| errno(unsafe { libc::rmdir(c(&d.join("a")).as_ptr()) }),
            &["."],
        ),
        s(
            "rmdir a non-empty directory",
            |d| file(&d.join("a/x"), b"x"),
            |d| errno(unsafe { libc::rmdir(c(&d.join("a")).as_ptr()) }),
            &[".", "a"],
        ),
        s(
            "rmdir a file",
            f,
            |d| errno(unsafe { libc::rmdir(c(&d.join("f")).as_ptr()) }),
            &[".", "f"],
        ),
        s(
            "mkdir",
            none,
            |d| errno(unsafe { libc::mkdir(c(&d.join("a")).as_ptr(), 0o755) }),
            &["."],
        ),
        s(
            "mkdir over a directory",
            a,
            |d| errno(unsafe { libc::mkdir(c(&d.join("a")).as_ptr(), 0o755) }),
            &[".", "a"],
        ),
        s(
            "mkfifo",
            none,
            |d| errno(unsafe { libc::mkfifo(c(&d.join("p")).as_ptr(), 0o644) }),
            &[".", "p"],
        ),
        s(
            "mknod a character device",
            none,
            |d| {
                errno(unsafe {
                    libc::mknod(
                        c(&d.join("c")).as_ptr(),
                        libc::S_IFCHR | 0o644,
                        libc::makedev(1, 3),
                    )
                })
            },
            &[".", "c"],
        ),
        s(
            "mknod a block device",
            none,
            |d| {
                errno(unsafe {
                    libc::mknod(
                        c(&d.join("b")).as_ptr(),
                        libc::S_IFBLK | 0o644,
                        libc::makedev(7, 0),
                    )
                })
            },
            &[".", "b"],
        ),
        s(
            "mknod a socket",
            none,
            |d| errno(unsafe { libc::mknod(c(&d.join("s")).as_ptr(), libc::S_IFSOCK | 0o644, 0) }),
            &[".", "s"],
        ),
        s(
            "symlink",
            none,
            |d| {
                errno(unsafe {
                    libc::symlink(c(Path::new("target")).as_ptr(), c(&d.join("l")).as_ptr())
                })
            },
            &[".", "l"],
        ),
        s(
            "symlink over a file",
            f,
            |d| {
                errno(unsafe {
                    libc::symlink(c(Path::new("target")).as_ptr(), c(&d.join("f")).as_ptr())
                })
            },
            &[".", "f"],
        ),
        s(
            "open through a symlink loop",
            |d| std::os::unix::fs::symlink("l", d.join("l")).unwrap(),
            |d| open(&d.join("l"), libc::O_RDONLY),
            &["."],
        ),
        s(
            "O_NOFOLLOW on a symlink",
            |d| {
                file(&d.join("f"), b"f");
                std::os::unix::fs::symlink("f", d.join("l")).unwrap();
            },
            |d| open(&d.join("l"), libc::O_RDONLY | libc::O_NOFOLLOW),
            &[".", "f"],
        ),
        s(
            "chmod",
            f,
            |d| errno(unsafe { libc::chmod(c(&d.join("f")).as_ptr(), 0o600) }),
            &[".", "f"],
        ),
        s(
            "chmod to the same mode",
            f,
            |d| errno(unsafe { libc::chmod(c(&d.join("f")).as_ptr(), 0o644) }),
            &["f"],
        ),
        s(
            "chown",
            f,
            |d| errno(unsafe { libc::chown(c(&d.join("f")).as_ptr(), 1000, 1000) }),
            &[".", "f"],
        ),
        s(
            "chown keeping owner and group",
            f,
            |d| errno(unsafe { libc::chown(c(&d.join("f")).as_ptr(), u32::MAX, u32::MAX) }),
            &["f"],
        ),
        s(
            "chown clears setuid and setgid",
            |d| {
                file(&d.join("f"), b"f");
                std::fs::set_permissions(
                    d.join("f"),
                    std::os::unix::fs::PermissionsExt::from_mode(0o6755),
                )
                .unwrap();
            },
            |d| errno(unsafe { libc::chown(c(&d.join("f")).as_ptr(), 1000, 1000) }),
            &["f"],
        ),
        s(
            "lchown a symlink",
            |d| std::os::unix::fs::symlink("nowhere", d.join("l")).unwrap(),
            |d| errno(unsafe { libc::lchown(c(&d.join("l")).as_ptr(), 1000, 1000) }),
            &["l"],
        ),
        s(
            "truncate longer",
            f,
            |d| errno(unsafe { libc::truncate(c(&d.join("f")).as_ptr(), 100_000) }),
            &["f"],
        ),
        s(
            "truncate shorter",
            f,
            |d| errno(unsafe { libc::truncate(c(&d.join("f")).as_ptr(), 3) }),
            &["f"],
        ),
        s(
            "truncate to the same size",
            f,
            |d| errno(unsafe { libc::truncate(c(&d.join("f")).as_ptr(), 10) }),
            &["f"],
        ),
        s(
            "truncate a directory",
            a,
            |d| errno(unsafe { libc::truncate(c(&d.join("a")).as_ptr(), 0) }),
            &["a"],
        ),
        s(
            "truncate to a negative size",
            f,
            |d| errno(unsafe { libc::truncate(c(&d.join("f")).as_ptr(), -1) }),
            &["f"],
        ),
        s(
            "ftruncate",
            f,
            |d| {
                let fd = unsafe {
                    libc::open(c(&d.join("f")).as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC)
                };
                let r = errno(unsafe { libc::ftruncate(fd, 5000) });
                unsafe { libc::close(fd) };
                r
            },
            &["f"],
        ),
        s(
            "utimensat UTIME_NOW",
            f,
            |d| utimes(&d.join("f"), ts(0, libc::UTIME_NOW), ts(0, libc::UTIME_NOW)),
            &["f"],
        ),
        s(
            "utimensat UTIME_OMIT",
            f,
            |d| {
                utimes(
                    &d.join("f"),
                    ts(0, libc::UTIME_OMIT),
                    ts(0, libc::UTIME_OMIT),
                )
            },
            &["f"],
        ),
        s(
            "utimensat explicit times",
            f,
            |d| utimes(&d.join("f"), ts(1_000_000_000, 5), ts(1_200_000_000, 7)),
            &["f"],
        ),
        s(
            "utimensat an invalid nanosecond",
            f,
            |d| utimes(&d.join("f"), ts(0, 2_000_000_000), ts(0, 0)),
            &["f"],
        ),
        s(
            "posix_fallocate",
            f,
            |d| {
                let fd = unsafe {
                    libc::open(c(&d.join("f")).as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC)
                };
                let r = unsafe { libc::posix_fallocate(fd, 0, 70_000) };
                unsafe { libc::close(fd) };
                if r == 0 { Ok(()) } else { Err(r) }
            },
            &["f"],
        ),
        s(
            "write",
            f,
            |d| {
                use std::io::Write;
                let mut h = std::fs::OpenOptions::new()
                    .write(true)
                    .open(d.join("f"))
                    .unwrap();
                h.write_all(b"x").map_err(|e| e.raw_os_error().unwrap_or(0))
            },
            &[".", "f"],
        ),
        s(
            "append",
            f,
            |d| {
                use std::io::Write;
                let mut h = std::fs::OpenOptions::new()
                    .append(true)
                    .open(d.join("f"))
                    .unwrap();
                h.write_all(b"tail")
                    .map_err(|e| e.raw_os_error().unwrap_or(0))
            },
            &["f"],
        ),
    ]
}

/// What a path looks like for the comparison: absent, or its type, mode, size, link count,
/// owner and whether mtime and ctime changed since `before`.
#[derive(Debug, PartialEq, Eq, Clone)]
enum Seen {
    Absent,
    Present {
        kind_mode: u32,
        size: Option<u64>,
        nlink: u64,
        owner: (u32, u32),
        rdev: u64,
        mtime: i64,
        ctime: i64,
    },
}

fn seen(p: &Path) -> Seen {
    match std::fs::symlink_metadata(p) {
        Err(_) => Seen::Absent,
        Ok(m) => Seen::Present {
            kind_mode: m.mode(),
            // Directory sizes differ between file systems by design.
            size: (!m.is_dir()).then(|| m.size()),
            nlink: if m.is_dir() { 0 } else { m.nlink() },
            owner: (m.uid(), m.gid()),
            rdev: m.rdev(),
            mtime: m.mtime() * 1_000_000_000 + m.mtime_nsec(),
            ctime: m.ctime() * 1_000_000_000 + m.ctime_nsec(),
        },
    }
}

/// The comparable result of a watched path: its state after, and which of mtime/ctime changed.
fn change(before: &Seen, after: &Seen) -> String {
    match (before, after) {
        (_, Seen::Absent) => "absent".into(),
        (
            Seen::Absent,
            Seen::Present {
                kind_mode,
                size,
                nlink,
                owner,
                rdev,
                ..
            },
        ) => {
            format!(
                "new mode {kind_mode:o} size {size:?} nlink {nlink} owner {owner:?} rdev {rdev}"
            )
        }
        (
            Seen::Present {
                mtime: m0,
                ctime: c0,
                ..
            },
            Seen::Present {
                kind_mode,
                size,
                nlink,
                owner,
                rdev,
                mtime,
                ctime,
            },
        ) => format!(
            "mode {kind_mode:o} size {size:?} nlink {nlink} owner {owner:?} rdev {rdev} mtime {} ctime {}",
            if mtime != m0 { "changed" } else { "same" },
            if ctime != c0 { "changed" } else { "same" },
        ),
    }
}

/// Run `s` in a new directory of `root`: its outcome and what it did to the watched paths.
fn run(root: &Path, i: usize, s: &Scenario) -> (Outcome, Vec<String>) {
    let d = root.join(format!("s{i}"));
    dir(&d);
    (s.setup)(&d);
    let watched: Vec<PathBuf> = s.watch.iter().map(|w| d.join(w)).collect();
    std::thread::sleep(Duration::from_millis(20));
    let before: Vec<Seen> = watched.iter().map(|p| seen(p)).collect();
    std::thread::sleep(Duration::from_millis(20));
    let out = (s.act)(&d);
    let after: Vec<Seen> = watched.iter().map(|p| seen(p)).collect();
    let changes = s
        .watch
        .iter()
        .zip(before.iter().zip(&after))
        .map(|(w, (b, a))| format!("{w}: {}", change(b, a)))
        .collect();
    (out, changes)
}

/// Differences known and not fixed yet (issue 15 §2), each with why; the test fails when one
/// of them goes away too, so that this list stays true.
const KNOWN: &[(&str, &str)] = &[(
    "truncate to the same size",
    "ext4 updates mtime and ctime on a truncate() that keeps the size; with FUSE's writeback cache \
     the kernel keeps a regular file's mtime/ctime itself and a truncate() that keeps the size \
     sends no time change (do_truncate passes no ATTR_MTIME, fuse_do_setattr adds it only when \
     the size changes), so the daemon cannot see it",
)];

#[test]
fn syscalls_behave_as_on_the_backing_file_system() {
    if !fuse_or_skip("syscalls_behave_as_on_the_backing_file_system")
        || !root_or_skip("syscalls_behave_as_on_the_backing_file_system")
    {
        return;
    }
    let m = Mounted::new("256MiB");
    // A plain directory of the file system that holds the backing tree.
    let plain = m.dir.path().join("plain");
    dir(&plain);
    let mut differences = Vec::new();
    let all = scenarios();
    for (i, s) in all.iter().enumerate() {
        let want = run(&plain, i, s);
        let got = run(&m.mnt, i, s);
        let known = KNOWN.iter().any(|(n, _)| *n == s.name);
        if known {
            assert_ne!(
                want, got,
                "{}: now as on the backing fs; drop it from KNOWN",
                s.name
            );
            eprintln!("posix_diff: known difference: {}", s.name);
        } else if want != got {
            differences.push(format!(
                "{}:\n  backing fs: {:?}\n  kmsfs:      {:?}",
                s.name, want, got
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} scenarios differ from the backing file system:\n{}",
        differences.len(),
        all.len(),
        differences.join("\n")
    );
}

/// The unprivileged user of [`syscalls_behave_alike_for_an_unprivileged_user`] (nobody).
const USER: u32 = 65534;

/// The child half of [`syscalls_behave_alike_for_an_unprivileged_user`]: run as `USER`, every
/// scenario in `POSIX_DIFF_ROOT`, one `POSIX_DIFF` line each. Does nothing otherwise.
#[test]
fn as_user_child() {
    let Ok(root) = std::env::var("POSIX_DIFF_ROOT") else {
        return;
    };
    for (i, s) in scenarios().iter().enumerate() {
        println!("POSIX_DIFF {:?}", run(Path::new(&root), i, s));
    }
}

/// The same scenarios as an unprivileged user (on a mount with `--allow-other`, where the
/// kernel checks permissions), in directories the user owns: EPERM for chown and device
/// nodes, the same errors and timestamps as the backing file system otherwise.
#[test]
fn syscalls_behave_alike_for_an_unprivileged_user() {
    let test = "syscalls_behave_alike_for_an_unprivileged_user";
    if !fuse_or_skip(test) || !root_or_skip(test) {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let m = Mounted::with_options("256MiB", &["--allow-other"]);
    let top = m.dir.path();
    std::fs::set_permissions(top, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The test binary where the user can run it (a CI clone may sit in a 0700 directory).
    let exe = top.join("posix_diff");
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (plain, mounted) = (top.join("plain-user"), m.mnt.join("user"));
    for d in [&plain, &mounted] {
        dir(d);
        std::os::unix::fs::chown(d, Some(USER), Some(USER)).unwrap();
    }
    let child = |root: &Path| -> Vec<String> {
        let o = std::process::Command::new(&exe)
            .args([
                "--exact",
                "as_user_child",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env("POSIX_DIFF_ROOT", root)
            .uid(USER)
            .gid(USER)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            o.status.success(),
            "{out}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        out.lines()
            // (libtest may print its "test ... " in front of the first line)
            .filter_map(|l| l.split_once("POSIX_DIFF ").map(|(_, r)| r.to_string()))
            .collect()
    };
    let (want, got) = (child(&plain), child(&mounted));
    let all = scenarios();
    assert_eq!((want.len(), got.len()), (all.len(), all.len()));
    // The child really ran unprivileged: a character device is EPERM.
    let mknod = all
        .iter()
        .position(|s| s.name == "mknod a character device");
    assert!(
        want[mknod.unwrap()].starts_with("(Err(1)"),
        "{}",
        want[mknod.unwrap()]
    );
    let mut differences = Vec::new();
    for ((s, w), g) in all.iter().zip(&want).zip(&got) {
        if KNOWN.iter().any(|(n, _)| *n == s.name) {
            continue;
        }
        if w != g {
            differences.push(format!("{}:\n  backing fs: {w}\n  kmsfs:      {g}", s.name));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} scenarios differ as user {USER}:\n{}",
        differences.len(),
        all.len(),
        differences.join("\n")
    );
}
