//! The volume's filesystem, independent of FUSE: every operation takes inode numbers and
//! plaintext names and works on the encrypted backing tree. The FUSE adaptor (`fuse.rs`)
//! is a thin layer over this; tests call it directly.
//!
//! Backing layout: a directory tree mirroring the plaintext one, names encrypted per
//! directory (`names.rs`), contents per `content.rs`, modes, owners, times, hard links and
//! special files kept by the backing filesystem itself. Inode numbers are the backing ones
//! (the backing root swapped with 1, FUSE's root).
//!
//! Every backing operation is relative to an open directory handle (`at.rs`: `openat`,
//! `mkdirat`, `renameat2`, ... never a path, never following a symlink); the handles of
//! directories in use are kept in an LRU cache, opened on a miss from the nearest cached
//! ancestor down.
//!
//! This file holds the types, the [`VolumeFs`] state and the helpers every operation
//! family shares; each family has its own file:
//! - `at.rs`: the backing calls on (directory handle, name), and [`Meta`](at::Meta);
//! - `inodes.rs`: the inode table (links and lookup counts), directory handles,
//!   attributes, forget;
//! - `handles.rs`: open files, their shared state and handles, open/release;
//! - `dirs.rs`: directory ids, stored names and long-name sidecars, lookup and listings;
//! - `entries.rs`: making and removing entries (mkdir, mknod, symlink, create, link,
//!   unlink, rmdir) and symlink targets;
//! - `contents.rs`: read, write, fsync and truncation;
//! - `setattr.rs`: modes, owners, sizes and times;
//! - `rename.rs`: rename and exchange;
//! - `xattr.rs`: extended attributes;
//! - `accounting.rs`: the size limit, the bytes used and statfs;
//! - `reaper.rs`: closing removed entries' last descriptors (where the backing file
//!   system frees their blocks) after the reply;
//! - `syncer.rs`: fsyncing new directory ids and long-name sidecars after the reply
//!   (every fsync waits for them first);
//! - `background.rs`: the bounded queue and threads both of those are;
//! - `tmpfiles.rs`: backing files made ahead for creates, in the directory `staging.rs`
//!   keeps beside the backing tree.

mod accounting;
mod background;
use crate::fsutil::at;
mod contents;
mod dirs;
mod entries;
mod handles;
mod inodes;
mod reaper;
mod rename;
mod setattr;
mod staging;
mod syncer;
mod tmpfiles;
mod xattr;

use super::behind::WriteBehind;
use super::content::{Content, ContentError};
use super::keys::VolumeKeys;
use super::names;
use at::{At, DirFd, Meta};
use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io;
use std::num::NonZeroUsize;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

pub type Ino = u64;
pub const ROOT: Ino = 1;

/// Errors of the filesystem core, mapped to errno at the FUSE edge.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("no such file or directory")]
    NotFound,
    #[error("file exists")]
    Exists,
    #[error("not a directory")]
    NotDir,
    #[error("is a directory")]
    IsDir,
    #[error("directory not empty")]
    NotEmpty,
    #[error("no space left on the volume")]
    NoSpace,
    #[error("name too long")]
    NameTooLong,
    #[error("invalid argument")]
    Invalid,
    #[error("operation not permitted")]
    NotPermitted,
    #[error("operation not supported")]
    NotSupported,
    #[error("no such attribute")]
    NoAttr,
    #[error("result does not fit the buffer")]
    Range,
    /// Extended attributes are off on this mount (`kmsfs mount --no-xattr`): ENOSYS, after
    /// which the kernel stops sending that kind of request and answers EOPNOTSUPP itself.
    #[error("extended attributes are off on this mount")]
    XattrsOff,
    #[error("bad file handle")]
    BadHandle,
    #[error("{path}: {why}")]
    Damaged { path: PathBuf, why: String },
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl FsError {
    /// The errno for this error.
    pub fn errno(&self) -> i32 {
        use FsError::*;
        match self {
            NotFound => libc::ENOENT,
            Exists => libc::EEXIST,
            NotDir => libc::ENOTDIR,
            IsDir => libc::EISDIR,
            NotEmpty => libc::ENOTEMPTY,
            NoSpace => libc::ENOSPC,
            NameTooLong => libc::ENAMETOOLONG,
            Invalid => libc::EINVAL,
            NotPermitted => libc::EPERM,
            NotSupported => libc::EOPNOTSUPP,
            NoAttr => libc::ENODATA,
            Range => libc::ERANGE,
            XattrsOff => libc::ENOSYS,
            BadHandle => libc::EBADF,
            Damaged { .. } => libc::EIO,
            Io(e) => crate::fuseutil::io_errno(e),
        }
    }
}

pub type FsResult<T> = Result<T, FsError>;

pub use crate::fsutil::at::Kind;
pub(in crate::volume) use entries::SYMLINK_AAD;
pub(in crate::volume) use xattr::XATTR_DIRID;

/// Attributes of a plaintext file.
#[derive(Debug, Clone, Copy)]
pub struct Attr {
    pub ino: Ino,
    pub size: u64,
    pub blocks: u64,
    pub atime: SystemTime,
    pub mtime: SystemTime,
    pub ctime: SystemTime,
    pub kind: Kind,
    pub perm: u16,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u32,
}

/// Who is asking (for the owner of new files).
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub uid: u32,
    pub gid: u32,
}

/// Requested attribute changes.
#[derive(Debug, Clone, Copy, Default)]
pub struct SetAttr {
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub size: Option<u64>,
    pub atime: Option<Option<SystemTime>>,
    pub mtime: Option<Option<SystemTime>>,
}

/// One directory entry.
#[derive(Debug, Clone)]
pub struct DirEntry {
    pub ino: Ino,
    pub kind: Kind,
    pub name: OsString,
    /// Its name in the backing directory (READDIRPLUS looks it up without encrypting the
    /// name again).
    backing: OsString,
}

/// Filesystem statistics.
#[derive(Debug, Clone, Copy)]
pub struct Statfs {
    pub blocks: u64,
    pub bfree: u64,
    pub files: u64,
    pub ffree: u64,
    pub bsize: u32,
    pub namelen: u32,
}

struct Node {
    /// (parent, backing name) of every link we know.
    links: Vec<(Ino, OsString)>,
    nlookup: u64,
}

/// Per-inode content state shared by every handle of the file.
struct FileState {
    lock: RwLock<()>,
    id: Mutex<Option<Option<[u8; 16]>>>,
    /// When the kernel keeps the times: the mtime (seconds, nanoseconds) it last set, or the
    /// file's when this state was made (no write of the file was in flight then). Every write
    /// puts it back under this lock, and SETATTR changes it under this lock, so that neither
    /// a write racing another write nor one racing the kernel's SETATTR leaves a moved mtime.
    mtime: Mutex<Option<(i64, i64)>>,
}

/// What an attribute request acts on: an open file or an entry of the backing tree.
enum Target {
    Open(Arc<Handle>),
    At(At),
}

struct Handle {
    file: File,
    ino: Ino,
    state: Arc<FileState>,
    behind: WriteBehind,
}

/// The filesystem of one mounted volume.
pub struct VolumeFs {
    /// The backing tree's root (named in messages only: operations use `root`).
    data: PathBuf,
    /// The backing root, open.
    root: DirFd,
    /// Open handles of directories in use, by inode.
    dirfds: Mutex<lru::LruCache<Ino, DirFd>>,
    keys: Option<VolumeKeys>,
    size_limit: u64,
    root_backing_ino: u64,
    nodes: Mutex<HashMap<Ino, Node>>,
    dirids: Mutex<HashMap<Ino, [u8; 16]>>,
    handles: RwLock<HashMap<u64, Arc<Handle>>>,
    dirs: Mutex<HashMap<u64, Vec<DirEntry>>>,
    states: Mutex<HashMap<Ino, std::sync::Weak<FileState>>>,
    next_fh: AtomicU64,
    used: AtomicU64,
    /// The volume's entries (`df -i`), counted at open, kept by every create and removal.
    inodes: AtomicU64,
    /// Every change to the backing tree holds this shared; a snapshot holds it exclusive
    /// so that it reads the tree at one point in time.
    freeze: RwLock<()>,
    /// The kernel keeps the times (FUSE writeback cache) and sends them with SETATTR:
    /// a WRITE, which may arrive after that SETATTR, must not move the file's mtime
    /// (`FileState::mtime`).
    kernel_times: std::sync::atomic::AtomicBool,
    /// Extended attributes served (the default); off with `kmsfs mount --no-xattr`.
    xattrs: std::sync::atomic::AtomicBool,
    /// Closes the last descriptors of removed entries off the reply path.
    reaper: reaper::Reaper,
    /// Makes new directory ids and long-name sidecars durable off the reply path.
    syncer: syncer::Syncer,
    /// Backing files made ahead for creates (started by the first create).
    tmpfiles: std::sync::OnceLock<Option<tmpfiles::TmpFiles>>,
    /// The volume's directory, whose `made/` holds the staging directory of the files made
    /// ahead (`staging.rs`); `None`: they are made in the backing root.
    staging: Option<PathBuf>,
}

impl std::fmt::Debug for VolumeFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VolumeFs")
            .field("data", &self.data)
            .finish_non_exhaustive()
    }
}

fn time(secs: i64, nsec: i64) -> SystemTime {
    if secs >= 0 {
        SystemTime::UNIX_EPOCH + Duration::new(secs as u64, nsec as u32)
    } else {
        SystemTime::UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
            + Duration::from_nanos(nsec as u64)
    }
}

/// Most directory handles kept open (each is a descriptor).
const DIR_HANDLES: usize = 4096;

/// The attributes of the entry `a` (not following a symlink); a missing entry is
/// [`FsError::NotFound`].
fn entry_meta(a: &At) -> FsResult<Meta> {
    at::stat(a.fd(), a.name()).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => FsError::NotFound,
        _ => FsError::Io(e),
    })
}

/// The errno-carrying error of the last failed libc call when `r` is not 0.
#[inline]
fn check_rc(r: libc::c_int) -> FsResult<()> {
    if r != 0 {
        return Err(io::Error::last_os_error().into());
    }
    Ok(())
}

impl VolumeFs {
    /// Open the backing tree at `data` (created if missing). `keys` is None for an
    /// unencrypted volume. `size_limit` is the volume size in bytes.
    pub fn new(data: &Path, keys: Option<VolumeKeys>, size_limit: u64) -> FsResult<VolumeFs> {
        fs::create_dir_all(data)?;
        let meta = fs::symlink_metadata(data)?;
        let root: DirFd = Arc::new(at::open_root(data)?);
        let fs = VolumeFs {
            data: data.to_path_buf(),
            root: root.clone(),
            dirfds: Mutex::new(lru::LruCache::new(
                NonZeroUsize::new(DIR_HANDLES).expect("not zero"),
            )),
            keys,
            size_limit,
            root_backing_ino: std::os::unix::fs::MetadataExt::ino(&meta),
            nodes: Mutex::new(HashMap::new()),
            dirids: Mutex::new(HashMap::new()),
            handles: RwLock::new(HashMap::new()),
            dirs: Mutex::new(HashMap::new()),
            states: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
            used: AtomicU64::new(0),
            inodes: AtomicU64::new(0),
            freeze: RwLock::new(()),
            kernel_times: AtomicBool::new(false),
            xattrs: AtomicBool::new(true),
            reaper: reaper::Reaper::default(),
            syncer: syncer::Syncer::default(),
            tmpfiles: std::sync::OnceLock::new(),
            staging: None,
        };
        if fs.keys.is_some() && at::stat(root.as_fd(), names::DIRIV.as_ref()).is_err() {
            fs.write_diriv(root.as_fd())?;
            fs.syncer.wait()?;
        }
        let (bytes, entries) = accounting::du(root.as_fd())?;
        fs.used.store(bytes, Ordering::Relaxed);
        fs.inodes.store(entries, Ordering::Relaxed);
        Ok(fs)
    }

    /// Make the files made ahead for creates in `volume_dir/made/` (`staging.rs`), the
    /// directory that holds this volume's backing tree.
    pub fn with_staging(mut self, volume_dir: &Path) -> VolumeFs {
        self.staging = Some(volume_dir.to_path_buf());
        self
    }

    /// Held (shared) by every change to the backing tree.
    #[inline]
    fn hold(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.freeze.read().expect("freeze lock")
    }

    /// Holds every change to the backing tree until the guard is dropped (reads go on), so
    /// that a snapshot sees the tree at one point in time.
    pub fn freeze(&self) -> std::sync::RwLockWriteGuard<'_, ()> {
        self.freeze.write().expect("freeze lock")
    }

    #[inline]
    fn content(&self) -> Content<'_> {
        Content {
            keys: self.keys.as_ref(),
        }
    }

    /// The error for a content failure of the file `ino` (damage is logged).
    #[cold]
    fn damaged_ino(&self, ino: Ino, e: ContentError) -> FsError {
        self.damaged(&self.describe(ino), e)
    }

    /// The error for a content failure of the file at `path` (damage is logged).
    #[cold]
    fn damaged(&self, path: &Path, e: ContentError) -> FsError {
        match e {
            ContentError::Io(e) => FsError::Io(e),
            ContentError::Damaged(why) => {
                eprintln!("kmsfs: {}: {why}; answering EIO", path.display());
                FsError::Damaged {
                    path: path.to_path_buf(),
                    why: why.into(),
                }
            }
        }
    }
}

/// `nonce ‖ ciphertext ‖ tag` of `plain` under the metadata key (symlink targets, xattrs).
pub(in crate::volume) fn seal_meta(k: &VolumeKeys, aad: &[u8], plain: &[u8]) -> FsResult<Vec<u8>> {
    let nonce = crate::crypto::random_nonce().map_err(|e| io::Error::other(e.to_string()))?;
    let mut v = nonce.to_vec();
    v.extend(
        k.meta
            .seal(&nonce, aad, plain)
            .map_err(|_| FsError::Invalid)?,
    );
    Ok(v)
}

/// The plaintext of what [`seal_meta`] made; None if it is short or does not authenticate.
pub(in crate::volume) fn open_meta(k: &VolumeKeys, aad: &[u8], raw: &[u8]) -> Option<Vec<u8>> {
    if raw.len() < 12 + 16 {
        return None;
    }
    let nonce: [u8; 12] = raw[..12].try_into().expect("12 bytes");
    k.meta
        .open(&nonce, aad, &raw[12..])
        .ok()
        .map(|v| v.expose().to_vec())
}
