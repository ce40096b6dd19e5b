//! The differential POSIX tests' tools (issue 15 §2): system calls that give an errno, what a
//! path looks like before and after a call, a scenario run in a directory of its own, and a
//! thread acting as another user (`posix_diff`, `posix_users`).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A call's result: success, or its errno.
pub type Outcome = Result<(), i32>;

pub fn c(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

/// A libc return value as an [`Outcome`] (negative: the errno).
pub fn errno<T: PartialOrd + Default>(r: T) -> Outcome {
    if r < T::default() {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(())
    }
}

pub fn open(p: &Path, flags: i32) -> Outcome {
    let fd = unsafe { libc::open(c(p).as_ptr(), flags | libc::O_CLOEXEC, 0o644) };
    if fd >= 0 {
        unsafe { libc::close(fd) };
    }
    errno(fd)
}

/// `f` on a descriptor of `p` opened write-only (the open's errno if that fails).
pub fn with_fd(p: &Path, f: impl FnOnce(i32) -> Outcome) -> Outcome {
    let fd = unsafe { libc::open(c(p).as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    errno(fd)?;
    let r = f(fd);
    unsafe { libc::close(fd) };
    r
}

pub fn rename2(a: &Path, b: &Path, flags: u32) -> Outcome {
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

pub fn link(a: &Path, b: &Path) -> Outcome {
    errno(unsafe { libc::link(c(a).as_ptr(), c(b).as_ptr()) })
}

pub fn unlink(p: &Path) -> Outcome {
    errno(unsafe { libc::unlink(c(p).as_ptr()) })
}

pub fn rmdir(p: &Path) -> Outcome {
    errno(unsafe { libc::rmdir(c(p).as_ptr()) })
}

pub fn mkdir(p: &Path) -> Outcome {
    errno(unsafe { libc::mkdir(c(p).as_ptr(), 0o755) })
}

pub fn mknod(p: &Path, mode: u32, dev: u64) -> Outcome {
    errno(unsafe { libc::mknod(c(p).as_ptr(), mode | 0o644, dev) })
}

pub fn symlink(target: &str, p: &Path) -> Outcome {
    errno(unsafe { libc::symlink(c(Path::new(target)).as_ptr(), c(p).as_ptr()) })
}

pub fn chmod(p: &Path, mode: u32) -> Outcome {
    errno(unsafe { libc::chmod(c(p).as_ptr(), mode) })
}

pub fn chown(p: &Path, uid: u32, gid: u32) -> Outcome {
    errno(unsafe { libc::chown(c(p).as_ptr(), uid, gid) })
}

pub fn lchown(p: &Path, uid: u32, gid: u32) -> Outcome {
    errno(unsafe { libc::lchown(c(p).as_ptr(), uid, gid) })
}

pub fn truncate(p: &Path, len: i64) -> Outcome {
    errno(unsafe { libc::truncate(c(p).as_ptr(), len) })
}

pub fn ftruncate(p: &Path, len: i64) -> Outcome {
    with_fd(p, |fd| errno(unsafe { libc::ftruncate(fd, len) }))
}

pub fn fallocate(p: &Path, len: i64) -> Outcome {
    with_fd(p, |fd| match unsafe { libc::posix_fallocate(fd, 0, len) } {
        0 => Ok(()),
        e => Err(e),
    })
}

/// Write `data` to `p` (at the start, or appended): the open's or the write's errno.
pub fn write(p: &Path, data: &[u8], append: bool) -> Outcome {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .write(!append)
        .append(append)
        .open(p)
        .and_then(|mut h| h.write_all(data))
        .map_err(|e| e.raw_os_error().unwrap_or(0))
}

/// `getxattr(p, name)`: the value (up to 256 bytes), or the errno.
pub fn getxattr(p: &Path, name: &str) -> Result<Vec<u8>, i32> {
    let n = CString::new(name).unwrap();
    let mut buf = vec![0u8; 256];
    // SAFETY: valid C strings and a buffer of the length given.
    let r = unsafe {
        libc::getxattr(
            c(p).as_ptr(),
            n.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    errno(r)?;
    buf.truncate(r as usize);
    Ok(buf)
}

pub fn setxattr(p: &Path, name: &str, v: &[u8]) -> Outcome {
    let n = CString::new(name).unwrap();
    // SAFETY: valid C strings and a value of the length given.
    errno(unsafe { libc::setxattr(c(p).as_ptr(), n.as_ptr(), v.as_ptr().cast(), v.len(), 0) })
}

/// `listxattr(p)`: the names, each NUL-terminated (up to 256 bytes), or the errno.
pub fn listxattr(p: &Path) -> Result<Vec<u8>, i32> {
    let mut buf = vec![0u8; 256];
    // SAFETY: a valid C string and a buffer of the length given.
    let r = unsafe { libc::listxattr(c(p).as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    errno(r)?;
    buf.truncate(r as usize);
    Ok(buf)
}

pub fn utimes(p: &Path, atime: libc::timespec, mtime: libc::timespec) -> Outcome {
    let t = [atime, mtime];
    errno(unsafe { libc::utimensat(libc::AT_FDCWD, c(p).as_ptr(), t.as_ptr(), 0) })
}

pub fn ts(sec: i64, nsec: i64) -> libc::timespec {
    libc::timespec {
        tv_sec: sec,
        tv_nsec: nsec,
    }
}

/// A new file `p` (and its parents) holding `data`.
pub fn file(p: &Path, data: &[u8]) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

pub fn dir(p: &Path) {
    std::fs::create_dir_all(p).unwrap();
}

/// Set `p`'s mode bits (including setuid, setgid, sticky).
pub fn set_mode(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
}

/// Give `p` (not following a symlink) to `uid`:`gid`.
pub fn give(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid)).unwrap();
}

/// One scenario: what to make first, what to do, which paths (relative to the scenario's
/// directory; "." is the directory itself) to watch.
pub struct Scenario {
    pub name: &'static str,
    pub setup: fn(&Path),
    pub act: fn(&Path) -> Outcome,
    pub watch: &'static [&'static str],
}

/// What a path looks like for the comparison: absent, or its type, mode, size, link count,
/// owner and its mtime and ctime (compared as changed or not).
#[derive(Debug, PartialEq, Eq, Clone)]
pub enum Seen {
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

pub fn seen(p: &Path) -> Seen {
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
pub fn change(before: &Seen, after: &Seen) -> String {
    let Seen::Present {
        kind_mode,
        size,
        nlink,
        owner,
        rdev,
        mtime,
        ctime,
    } = after
    else {
        return "absent".into();
    };
    let state =
        format!("mode {kind_mode:o} size {size:?} nlink {nlink} owner {owner:?} rdev {rdev}");
    match before {
        Seen::Absent => format!("new {state}"),
        Seen::Present {
            mtime: m0,
            ctime: c0,
            ..
        } => format!(
            "{state} mtime {} ctime {}",
            if mtime != m0 { "changed" } else { "same" },
            if ctime != c0 { "changed" } else { "same" },
        ),
    }
}

/// Run `s` in the new directory `root/s<i>` (set up by the caller's user, acted on through
/// `act_as`): its outcome and what it did to the watched paths.
pub fn run_as(
    root: &Path,
    i: usize,
    s: &Scenario,
    act_as: impl FnOnce(&(dyn Fn() -> Outcome + Sync)) -> Outcome,
) -> (Outcome, Vec<String>) {
    let d = root.join(format!("s{i}"));
    dir(&d);
    (s.setup)(&d);
    let watched: Vec<PathBuf> = s.watch.iter().map(|w| d.join(w)).collect();
    std::thread::sleep(Duration::from_millis(20));
    let before: Vec<Seen> = watched.iter().map(|p| seen(p)).collect();
    std::thread::sleep(Duration::from_millis(20));
    let out = act_as(&|| (s.act)(&d));
    let after: Vec<Seen> = watched.iter().map(|p| seen(p)).collect();
    let changes = s
        .watch
        .iter()
        .zip(before.iter().zip(&after))
        .map(|(w, (b, a))| format!("{w}: {}", change(b, a)))
        .collect();
    (out, changes)
}

/// [`run_as`] by the caller's own user.
pub fn run(root: &Path, i: usize, s: &Scenario) -> (Outcome, Vec<String>) {
    run_as(root, i, s, |act| act())
}

/// `f` run by a new thread whose credentials alone are `uid`:`gid` with no supplementary
/// groups (raw setresuid/setresgid/setgroups act on the calling thread only; glibc's
/// wrappers would change every thread of the test). Needs root.
pub fn as_user<T: Send>(uid: u32, gid: u32, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(move || {
            let drop_to = unsafe {
                libc::syscall(libc::SYS_setgroups, 0usize, std::ptr::null::<libc::gid_t>()) == 0
                    && libc::syscall(libc::SYS_setresgid, gid, gid, gid) == 0
                    && libc::syscall(libc::SYS_setresuid, uid, uid, uid) == 0
            };
            assert!(
                drop_to,
                "become {uid}:{gid}: {}",
                std::io::Error::last_os_error()
            );
            f()
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}
