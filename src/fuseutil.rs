//! What the two FUSE adaptors (`volume::fuse` for volumes, `object::fuse` for bucket
//! views) share: the errno of an error, fuser's reply for an operation's result, and the
//! mount options common to both. Nothing here knows a volume or a bucket.

use fuser::{
    Errno, FileAttr, FileHandle, FopenFlags, Generation, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyWrite, ReplyXattr,
};
use std::time::Duration;

/// An error a FUSE adaptor answers with an errno.
pub(crate) trait ToErrno {
    /// The errno for this error.
    fn errno(&self) -> i32;
}

/// The errno of a failed backing call: its own, so that a full disk stays ENOSPC (or
/// EDQUOT) and never turns into EIO; errors without one by their kind; EIO otherwise.
pub(crate) fn io_errno(e: &std::io::Error) -> i32 {
    use std::io::ErrorKind::*;
    e.raw_os_error().unwrap_or(match e.kind() {
        StorageFull => libc::ENOSPC,
        QuotaExceeded => libc::EDQUOT,
        NotFound => libc::ENOENT,
        PermissionDenied => libc::EACCES,
        AlreadyExists => libc::EEXIST,
        _ => libc::EIO,
    })
}

/// fuser's errno for `e`.
#[inline]
pub(crate) fn errno(e: &impl ToErrno) -> Errno {
    Errno::from_i32(e.errno())
}

/// A reply that can carry an errno (every fuser reply has `error`, under no trait).
pub(crate) trait Fail {
    fn fail(self, e: Errno);
}

macro_rules! fail {
    ($($t:ty),*) => {
        $(impl Fail for $t {
            #[inline]
            fn fail(self, e: Errno) {
                self.error(e)
            }
        })*
    };
}
fail!(
    ReplyEmpty,
    ReplyData,
    ReplyEntry,
    ReplyAttr,
    ReplyOpen,
    ReplyWrite,
    ReplyCreate,
    ReplyXattr,
    ReplyDirectory,
    ReplyDirectoryPlus
);

/// Answer `reply` with `ok(reply, value)` on success and with the error's errno otherwise.
#[inline]
pub(crate) fn answer<R: Fail, T, E: ToErrno>(reply: R, r: Result<T, E>, ok: impl FnOnce(R, T)) {
    match r {
        Ok(v) => ok(reply, v),
        Err(e) => reply.fail(errno(&e)),
    }
}

/// An empty answer (or the errno).
#[inline]
pub(crate) fn empty<E: ToErrno>(reply: ReplyEmpty, r: Result<(), E>) {
    answer(reply, r, |reply, ()| reply.ok())
}

/// A new or found entry, valid for `ttl` (generation 0: inode numbers are not reused
/// while the kernel knows them).
#[inline]
pub(crate) fn entry<E: ToErrno>(reply: ReplyEntry, ttl: &Duration, r: Result<FileAttr, E>) {
    answer(reply, r, |reply, a| reply.entry(ttl, &a, Generation(0)))
}

/// Attributes, valid for `ttl`.
#[inline]
pub(crate) fn attr<E: ToErrno>(reply: ReplyAttr, ttl: &Duration, r: Result<FileAttr, E>) {
    answer(reply, r, |reply, a| reply.attr(ttl, &a))
}

/// Bytes read (or a symlink's target).
#[inline]
pub(crate) fn data<E: ToErrno>(reply: ReplyData, r: Result<Vec<u8>, E>) {
    answer(reply, r, |reply, d| reply.data(&d))
}

/// The count of bytes written.
#[inline]
pub(crate) fn written<E: ToErrno>(reply: ReplyWrite, r: Result<u32, E>) {
    answer(reply, r, |reply, n| reply.written(n))
}

/// An opened file or directory handle, with `flags` for the kernel.
#[inline]
pub(crate) fn opened<E: ToErrno>(reply: ReplyOpen, r: Result<u64, E>, flags: FopenFlags) {
    answer(reply, r, |reply, fh| reply.opened(FileHandle(fh), flags))
}

/// A created and opened file: its attributes (valid for `ttl`) and handle.
#[inline]
pub(crate) fn created<E: ToErrno>(
    reply: ReplyCreate,
    ttl: &Duration,
    r: Result<(FileAttr, u64), E>,
    flags: FopenFlags,
) {
    answer(reply, r, |reply, (a, fh)| {
        reply.created(ttl, &a, Generation(0), FileHandle(fh), flags)
    })
}

/// An xattr value or name list: its size when the caller asks with `size` 0, else the
/// bytes, or ERANGE when they do not fit `size`.
pub(crate) fn xattr<E: ToErrno>(reply: ReplyXattr, size: u32, r: Result<Vec<u8>, E>) {
    answer(reply, r, |reply, v| {
        if size == 0 {
            reply.size(v.len() as u32)
        } else if v.len() <= size as usize {
            reply.data(&v)
        } else {
            reply.error(Errno::from_i32(libc::ERANGE))
        }
    })
}

/// Mount options both mounts use: the file system's name and subtype, and with
/// `allow_other` other users let in, the kernel checking each access against the modes.
/// Neither `Dev` nor `Suid` is ever given, so fuser mounts `nodev,nosuid`: a device node in
/// a volume can be made (as root) but not opened, and set-id bits grant nothing.
pub(crate) fn config(fsname: String, subtype: &str, allow_other: bool) -> fuser::Config {
    let mut c = fuser::Config::default();
    c.mount_options = vec![
        fuser::MountOption::FSName(fsname),
        fuser::MountOption::Subtype(subtype.into()),
    ];
    if allow_other {
        c.mount_options.push(fuser::MountOption::DefaultPermissions);
        c.acl = fuser::SessionACL::All;
    }
    c
}

/// Mount `fs` at `mountpoint` with `config` (from [`config`]): as root, by mount(2) with the
/// type `fuse.<subtype>` (so `/proc/mounts` and `findmnt` show `fuse.kmsfs`, as libfuse's
/// mounts do; fuser's own mount(2) path says only `fuse`), the session then served on that
/// `/dev/fuse` descriptor; otherwise through fusermount3 (fuser), which names the subtype
/// too. Unmounting is the caller's (`kmsfs umount`, the signal handler, or the kernel).
pub(crate) fn mount_session<FS: fuser::Filesystem>(
    fs: FS,
    mountpoint: &std::path::Path,
    config: &fuser::Config,
) -> std::io::Result<fuser::Session<FS>> {
    if !nix::unistd::geteuid().is_root() {
        return fuser::Session::new(fs, mountpoint, config);
    }
    let fd = mount_as_root(mountpoint, config)?;
    fuser::Session::from_fd(fs, fd, config.acl, config.clone())
}

/// mount(2) of a new FUSE file system of type `fuse.<subtype>` at `mountpoint`: the
/// `/dev/fuse` descriptor that serves it. `nosuid,nodev` always (see [`config`]).
fn mount_as_root(
    mountpoint: &std::path::Path,
    config: &fuser::Config,
) -> std::io::Result<std::os::fd::OwnedFd> {
    use fuser::MountOption as O;
    use nix::mount::MsFlags;
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(mountpoint)?.permissions().mode();
    let dev: std::os::fd::OwnedFd = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")?
        .into();
    let (mut fsname, mut fstype) = ("kmsfs".to_string(), "fuse".to_string());
    let mut data = format!(
        "fd={},rootmode={:o},user_id={},group_id={}",
        dev.as_raw_fd(),
        mode,
        nix::unistd::getuid(),
        nix::unistd::getgid()
    );
    for o in &config.mount_options {
        match o {
            O::FSName(n) => fsname = n.clone(),
            O::Subtype(t) => fstype = format!("fuse.{t}"),
            O::DefaultPermissions => data.push_str(",default_permissions"),
            other => {
                return Err(std::io::Error::other(format!(
                    "mount option {other:?} is not supported by kmsfs's mount"
                )));
            }
        }
    }
    if config.acl == fuser::SessionACL::All {
        data.push_str(",allow_other");
    }
    nix::mount::mount(
        Some(fsname.as_str()),
        mountpoint,
        Some(fstype.as_str()),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(data.as_str()),
    )
    .map_err(|e| std::io::Error::from_raw_os_error(e as i32))?;
    Ok(dev)
}
