//! Backing operations relative to directory handles. Every call names an entry as an open
//! directory and one name in it (`openat`, `mkdirat`, `unlinkat`, `renameat2`, `fstatat`,
//! `fchownat`, `fchmodat`, `utimensat`, `readlinkat`, `mknodat`, `symlinkat`, `linkat`),
//! never as a path, and no call follows a symlink: an entry at any depth costs the lookup
//! of one name (no ENAMETOOLONG for deep trees, whose encrypted paths are far longer than
//! the plaintext ones), and a symlink planted in the backing tree is never followed (the
//! call fails with ELOOP or ENOTDIR instead). Directory handles are `O_PATH` descriptors.
//!
//! [`Meta`] is what `fstatat`/`fstat` answer, in the shape the filesystem uses. The volume's
//! file system (`volume::fs`) and snapshots (`snapshot::tree`, through [`super::at_path::AtPath`]) use it.

use nix::fcntl::{AtFlags, OFlag, RenameFlags};
use nix::sys::stat::{FchmodatFlags, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use std::ffi::{CString, OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::sync::Arc;

/// File types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
}

/// An open directory of the backing tree (an `O_PATH` descriptor), shared.
pub type DirFd = Arc<OwnedFd>;

/// An entry of the backing tree: an open directory and one name in it (`.`: the directory
/// itself, for the root).
#[derive(Clone)]
pub struct At {
    pub dir: DirFd,
    pub name: OsString,
}

impl At {
    #[inline]
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.dir.as_fd()
    }

    #[inline]
    pub fn name(&self) -> &OsStr {
        &self.name
    }
}

/// Attributes of a backing entry.
#[derive(Debug, Clone, Copy)]
pub struct Meta {
    pub ino: u64,
    pub mode: u32,
    pub nlink: u64,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: u64,
    pub blocks: u64,
    pub atime: (i64, i64),
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
}

impl Meta {
    /// The attributes of the open file `f`.
    pub fn of(f: &File) -> io::Result<Meta> {
        Ok(Meta::from(&f.metadata()?))
    }

    #[inline]
    pub fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }

    #[inline]
    pub fn kind(&self) -> Kind {
        kind_of_mode(self.mode)
    }
}

impl From<&fs::Metadata> for Meta {
    fn from(m: &fs::Metadata) -> Meta {
        Meta {
            ino: m.ino(),
            mode: m.mode(),
            nlink: m.nlink(),
            uid: m.uid(),
            gid: m.gid(),
            rdev: m.rdev(),
            size: m.size(),
            blocks: m.blocks(),
            atime: (m.atime(), m.atime_nsec()),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}

impl From<nix::sys::stat::FileStat> for Meta {
    fn from(s: nix::sys::stat::FileStat) -> Meta {
        Meta {
            ino: s.st_ino,
            mode: s.st_mode,
            nlink: s.st_nlink,
            uid: s.st_uid,
            gid: s.st_gid,
            rdev: s.st_rdev,
            size: s.st_size as u64,
            blocks: s.st_blocks as u64,
            atime: (s.st_atime, s.st_atime_nsec),
            mtime: (s.st_mtime, s.st_mtime_nsec),
            ctime: (s.st_ctime, s.st_ctime_nsec),
        }
    }
}

/// The kind of an entry from its `st_mode`.
pub fn kind_of_mode(mode: u32) -> Kind {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => Kind::Dir,
        libc::S_IFLNK => Kind::Symlink,
        libc::S_IFIFO => Kind::Fifo,
        libc::S_IFSOCK => Kind::Socket,
        libc::S_IFCHR => Kind::CharDevice,
        libc::S_IFBLK => Kind::BlockDevice,
        _ => Kind::File,
    }
}

#[inline]
fn err(e: nix::Error) -> io::Error {
    io::Error::from(e)
}

/// Open the directory at `path` (the backing root) as a directory handle.
pub fn open_root(path: &Path) -> io::Result<OwnedFd> {
    nix::fcntl::open(
        path,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(err)
}

/// Open the directory `name` of `dir` as a directory handle (a symlink is refused).
pub fn open_dir(dir: BorrowedFd, name: &OsStr) -> io::Result<OwnedFd> {
    nix::fcntl::openat(
        dir,
        name,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(err)
}

/// The attributes of `name` in `dir` (a symlink's own).
#[inline]
pub fn stat(dir: BorrowedFd, name: &OsStr) -> io::Result<Meta> {
    nix::sys::stat::fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)
        .map(Meta::from)
        .map_err(err)
}

/// Open `name` in `dir` with `flags` (`O_CREAT` makes it with `mode`); never follows a
/// symlink.
pub fn open(dir: BorrowedFd, name: &OsStr, flags: i32, mode: u32) -> io::Result<File> {
    let flags = OFlag::from_bits_retain(flags) | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    nix::fcntl::openat(dir, name, flags, Mode::from_bits_truncate(mode & 0o7777))
        .map(File::from)
        .map_err(err)
}

/// An unnamed file (`O_TMPFILE`, read-write) on the file system of `dir`, with `mode`, for
/// [`link_unnamed`] to name later; it vanishes when closed unnamed.
pub fn open_unnamed(dir: BorrowedFd, mode: u32) -> io::Result<File> {
    open(dir, OsStr::new("."), libc::O_TMPFILE | libc::O_RDWR, mode)
}

pub fn mkdir(dir: BorrowedFd, name: &OsStr, mode: u32) -> io::Result<()> {
    nix::sys::stat::mkdirat(dir, name, Mode::from_bits_truncate(mode & 0o7777)).map_err(err)
}

/// Remove `name` from `dir`: a directory when `is_dir`, else any other entry.
pub fn unlink(dir: BorrowedFd, name: &OsStr, is_dir: bool) -> io::Result<()> {
    let flag = if is_dir {
        nix::unistd::UnlinkatFlags::RemoveDir
    } else {
        nix::unistd::UnlinkatFlags::NoRemoveDir
    };
    nix::unistd::unlinkat(dir, name, flag).map_err(err)
}

/// Rename `name` of `dir` to `new_name` of `new_dir` (`renameat2`; `flags`:
/// `RENAME_NOREPLACE`, `RENAME_EXCHANGE`).
pub fn rename(
    (dir, name): (BorrowedFd, &OsStr),
    (new_dir, new_name): (BorrowedFd, &OsStr),
    flags: u32,
) -> io::Result<()> {
    let flags = RenameFlags::from_bits_retain(flags);
    nix::fcntl::renameat2(dir, name, new_dir, new_name, flags).map_err(err)
}

/// A hard link `to` of `from` (a symlink is linked itself, not its target).
pub fn link(from: &At, to: &At) -> io::Result<()> {
    nix::unistd::linkat(from.fd(), from.name(), to.fd(), to.name(), AtFlags::empty()).map_err(err)
}

/// Set once `linkat(AT_EMPTY_PATH)` was found refused (before Linux 6.10 it needs
/// `CAP_DAC_READ_SEARCH`).
static NO_EMPTY_PATH_LINK: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Give the unnamed file `f` (`O_TMPFILE`) the name `to`: `linkat` of the descriptor
/// itself (`AT_EMPTY_PATH`), or where that is refused, of its `/proc/self/fd` path (which
/// costs the kernel a walk through procfs, about 2 µs here).
pub fn link_unnamed(f: &File, to: &At) -> io::Result<()> {
    use std::sync::atomic::Ordering;
    if !NO_EMPTY_PATH_LINK.load(Ordering::Relaxed) {
        let e = match nix::unistd::linkat(f, "", to.fd(), to.name(), AtFlags::AT_EMPTY_PATH) {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        // A refusal is ENOENT, as is a parent directory removed meanwhile: the path below
        // tells them apart, and only its success turns this way off.
        if e != nix::errno::Errno::ENOENT {
            return Err(err(e));
        }
        link_unnamed_by_path(f, to)?;
        NO_EMPTY_PATH_LINK.store(true, Ordering::Relaxed);
        return Ok(());
    }
    link_unnamed_by_path(f, to)
}

fn link_unnamed_by_path(f: &File, to: &At) -> io::Result<()> {
    let from = fd_path(f);
    // An absolute path: the first directory handle is not used.
    nix::unistd::linkat(
        to.fd(),
        from.as_c_str(),
        to.fd(),
        to.name(),
        AtFlags::AT_SYMLINK_FOLLOW,
    )
    .map_err(err)
}

pub fn symlink(target: &OsStr, at: &At) -> io::Result<()> {
    nix::unistd::symlinkat(target, at.fd(), at.name()).map_err(err)
}

pub fn readlink(at: &At) -> io::Result<OsString> {
    nix::fcntl::readlinkat(at.fd(), at.name()).map_err(err)
}

/// A FIFO, socket or device node (`mode` holds the type and the permissions).
pub fn mknod(at: &At, mode: u32, rdev: u64) -> io::Result<()> {
    nix::sys::stat::mknodat(
        at.fd(),
        at.name(),
        SFlag::from_bits_truncate(mode & libc::S_IFMT),
        Mode::from_bits_truncate(mode & 0o7777),
        rdev,
    )
    .map_err(err)
}

pub fn chown(at: &At, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    nix::unistd::fchownat(
        at.fd(),
        at.name(),
        uid.map(nix::unistd::Uid::from_raw),
        gid.map(nix::unistd::Gid::from_raw),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(err)
}

/// `fchmodat2`'s number (Linux 6.6+; the same on every architecture).
const SYS_FCHMODAT2: libc::c_long = 452;
/// Set once `fchmodat2` was found missing (an older kernel).
static NO_FCHMODAT2: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Change an entry's mode without following a symlink: one `fchmodat2` call. The C
/// library's `fchmodat(AT_SYMLINK_NOFOLLOW)` may instead open the entry `O_PATH`, stat it
/// and chmod its `/proc/self/fd` path (five calls); that is the fallback on older kernels.
pub fn chmod(at: &At, mode: u32) -> io::Result<()> {
    use std::sync::atomic::Ordering;
    if !NO_FCHMODAT2.load(Ordering::Relaxed) {
        let name = CString::new(at.name().as_bytes())
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: a valid directory descriptor and a NUL-terminated name.
        let rc = unsafe {
            libc::syscall(
                SYS_FCHMODAT2,
                at.fd().as_raw_fd(),
                name.as_ptr(),
                (mode & 0o7777) as libc::mode_t,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ENOSYS) {
            return Err(e);
        }
        NO_FCHMODAT2.store(true, Ordering::Relaxed);
    }
    nix::sys::stat::fchmodat(
        at.fd(),
        at.name(),
        Mode::from_bits_truncate(mode & 0o7777),
        FchmodatFlags::NoFollowSymlink,
    )
    .map_err(err)
}

/// Set the times of an entry (each a timespec: `UTIME_NOW`, `UTIME_OMIT` or a time).
pub fn utimens(at: &At, atime: libc::timespec, mtime: libc::timespec) -> io::Result<()> {
    nix::sys::stat::utimensat(
        at.fd(),
        at.name(),
        &TimeSpec::from(atime),
        &TimeSpec::from(mtime),
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(err)
}

/// The bytes of the small file `name` in `dir` (at most `max`: more is an error).
pub fn read_small(dir: BorrowedFd, name: &OsStr, max: usize) -> io::Result<Vec<u8>> {
    let f = open(dir, name, libc::O_RDONLY, 0)?;
    let mut v = Vec::new();
    f.take(max as u64 + 1).read_to_end(&mut v)?;
    if v.len() > max {
        return Err(io::Error::from_raw_os_error(libc::EFBIG));
    }
    Ok(v)
}

/// Create the file `name` in `dir` (it must not exist) holding `bytes`, with `mode`,
/// synced when `sync`; the new file, still open. A failure (a full disk) leaves no file.
pub fn write_new(
    dir: BorrowedFd,
    name: &OsStr,
    bytes: &[u8],
    mode: u32,
    sync: bool,
) -> io::Result<File> {
    let f = open(
        dir,
        name,
        libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
        mode,
    )?;
    let written = f
        .write_all_at(bytes, 0)
        .and_then(|()| if sync { f.sync_all() } else { Ok(()) });
    if let Err(e) = written {
        let _ = unlink(dir, name, false);
        return Err(e);
    }
    Ok(f)
}

/// One entry of a directory listing.
pub struct Listed {
    pub name: OsString,
    pub ino: u64,
    pub kind: Kind,
}

/// The entries of the directory `dir` (without `.` and `..`).
pub fn list(dir: BorrowedFd) -> io::Result<Vec<Listed>> {
    use nix::dir::Type;
    let mut d = nix::dir::Dir::openat(
        dir,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(err)?;
    let mut out = Vec::new();
    for e in d.iter() {
        let e = e.map_err(err)?;
        let name = e.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let name = OsStr::from_bytes(name).to_os_string();
        let kind = match e.file_type() {
            Some(Type::Directory) => Kind::Dir,
            Some(Type::File) => Kind::File,
            Some(Type::Symlink) => Kind::Symlink,
            Some(Type::Fifo) => Kind::Fifo,
            Some(Type::Socket) => Kind::Socket,
            Some(Type::CharacterDevice) => Kind::CharDevice,
            Some(Type::BlockDevice) => Kind::BlockDevice,
            None => stat(dir, &name)?.kind(),
        };
        out.push(Listed {
            name,
            ino: e.ino(),
            kind,
        });
    }
    Ok(out)
}

/// A path that names the entry `fd` was opened on (an `O_PATH` descriptor, or any other)
/// for the calls that take only paths (the xattr calls, [`link_unnamed`]):
/// `/proc/self/fd/N`, which the kernel resolves through the descriptor, never through the
/// backing tree.
pub fn fd_path(fd: &impl AsRawFd) -> CString {
    CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).expect("no NUL")
}

/// Open `at` itself (whatever it is, a symlink included) as an `O_PATH` descriptor.
pub fn open_path(at: &At) -> io::Result<OwnedFd> {
    open_path_at(at.fd(), at.name())
}

/// Open the entry `name` of `dir` itself (whatever it is, a symlink included) as an
/// `O_PATH` descriptor.
pub fn open_path_at(dir: BorrowedFd, name: &OsStr) -> io::Result<OwnedFd> {
    nix::fcntl::openat(
        dir,
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// `chmod` sets a file's or a directory's mode (special bits kept, file type bits
    /// dropped), and refuses a symlink without touching what it points to.
    #[test]
    fn chmod_changes_the_entry_itself_never_a_symlink_target() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("f"), b"x").unwrap();
        std::fs::create_dir(tmp.path().join("d")).unwrap();
        std::os::unix::fs::symlink("f", tmp.path().join("l")).unwrap();
        let dir: DirFd = Arc::new(open_root(tmp.path()).unwrap());
        let at = |n: &str| At {
            dir: dir.clone(),
            name: n.into(),
        };
        let mode = |n: &str| {
            std::fs::symlink_metadata(tmp.path().join(n))
                .unwrap()
                .permissions()
                .mode()
        };
        // With fchmodat2, then with the fallback an older kernel gets (another test's chmod
        // meanwhile takes the fallback too: as correct, only slower).
        for fallback in [false, true] {
            NO_FCHMODAT2.store(fallback, std::sync::atomic::Ordering::Relaxed);
            chmod(&at("f"), 0o100_4640).unwrap();
            assert_eq!(mode("f") & 0o7777, 0o4640);
            chmod(&at("d"), 0o700).unwrap();
            assert_eq!(mode("d") & 0o7777, 0o700);
            let e = chmod(&at("l"), 0o600).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EOPNOTSUPP), "{e}");
            assert_eq!(mode("f") & 0o7777, 0o4640);
            let e = chmod(&at("missing"), 0o600).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::NotFound);
        }
        NO_FCHMODAT2.store(false, std::sync::atomic::Ordering::Relaxed);
    }

    /// `link_unnamed` names an `O_TMPFILE` file, by its descriptor and by the fallback
    /// (its `/proc/self/fd` path) alike; a taken name is EEXIST and a removed directory
    /// ENOENT, either way, and neither turns the first way off.
    #[test]
    fn link_unnamed_names_an_unnamed_file_either_way() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("gone")).unwrap();
        let dir: DirFd = Arc::new(open_root(tmp.path()).unwrap());
        let gone: DirFd = Arc::new(open_root(&tmp.path().join("gone")).unwrap());
        std::fs::remove_dir(tmp.path().join("gone")).unwrap();
        let at = |d: &DirFd, n: &str| At {
            dir: d.clone(),
            name: n.into(),
        };
        let unnamed = |content: &[u8]| {
            let f = open_unnamed(dir.as_fd(), 0o600).unwrap();
            f.write_all_at(content, 0).unwrap();
            f
        };
        for fallback in [false, true] {
            NO_EMPTY_PATH_LINK.store(fallback, std::sync::atomic::Ordering::Relaxed);
            let name = format!("f{fallback}");
            link_unnamed(&unnamed(b"one"), &at(&dir, &name)).unwrap();
            assert_eq!(std::fs::read(tmp.path().join(&name)).unwrap(), b"one");
            let e = link_unnamed(&unnamed(b"two"), &at(&dir, &name)).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::AlreadyExists, "{e}");
            assert_eq!(std::fs::read(tmp.path().join(&name)).unwrap(), b"one");
            let e = link_unnamed(&unnamed(b"three"), &at(&gone, "x")).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
            assert_eq!(
                NO_EMPTY_PATH_LINK.load(std::sync::atomic::Ordering::Relaxed),
                fallback
            );
        }
        NO_EMPTY_PATH_LINK.store(false, std::sync::atomic::Ordering::Relaxed);
    }
}
