//! The volume's filesystem, independent of FUSE: every operation takes inode numbers and
//! plaintext names and works on the encrypted backing tree. The FUSE adaptor (`fuse.rs`)
//! is a thin layer over this; tests call it directly.
//!
//! Backing layout: a directory tree mirroring the plaintext one, names encrypted per
//! directory (`names.rs`), contents per `content.rs`, modes, owners, times, hard links and
//! special files kept by the backing filesystem itself. Inode numbers are the backing ones
//! (the backing root swapped with 1, FUSE's root).

use super::behind::WriteBehind;
use super::content::{Content, ContentError};
use super::keys::VolumeKeys;
use super::names::{self, Stored};
use crate::fsutil::xattr;
use std::collections::HashMap;
use std::ffi::{CString, OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{
    DirBuilderExt, DirEntryExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
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
            BadHandle => libc::EBADF,
            Damaged { .. } => libc::EIO,
            Io(e) => e.raw_os_error().unwrap_or(libc::EIO),
        }
    }
}

pub type FsResult<T> = Result<T, FsError>;

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
pub struct FileState {
    lock: RwLock<()>,
    id: Mutex<Option<Option<[u8; 16]>>>,
}

/// What an attribute request acts on: an open file or a path.
enum Target {
    Open(Arc<Handle>),
    Path(PathBuf),
}

struct Handle {
    file: File,
    ino: Ino,
    state: Arc<FileState>,
    behind: WriteBehind,
}

/// The filesystem of one mounted volume.
pub struct VolumeFs {
    data: PathBuf,
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
    /// Every change to the backing tree holds this shared; a snapshot holds it exclusive
    /// so that it reads the tree at one point in time.
    freeze: RwLock<()>,
    /// The kernel keeps the times (FUSE writeback cache) and sends them with SETATTR:
    /// a WRITE, which may arrive after that SETATTR, must not move the file's mtime.
    kernel_times: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for VolumeFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VolumeFs")
            .field("data", &self.data)
            .finish_non_exhaustive()
    }
}

fn kind_of(ft: fs::FileType) -> Kind {
    if ft.is_dir() {
        Kind::Dir
    } else if ft.is_symlink() {
        Kind::Symlink
    } else if ft.is_fifo() {
        Kind::Fifo
    } else if ft.is_socket() {
        Kind::Socket
    } else if ft.is_char_device() {
        Kind::CharDevice
    } else if ft.is_block_device() {
        Kind::BlockDevice
    } else {
        Kind::File
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

fn cpath(p: &Path) -> FsResult<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| FsError::Invalid)
}

fn check_name(name: &OsStr) -> FsResult<()> {
    let b = name.as_bytes();
    if b.is_empty() || b == b"." || b == b".." || b.contains(&b'/') {
        return Err(FsError::Invalid);
    }
    if b.len() > names::NAME_MAX {
        return Err(FsError::NameTooLong);
    }
    Ok(())
}

impl VolumeFs {
    /// Open the backing tree at `data` (created if missing). `keys` is None for an
    /// unencrypted volume. `size_limit` is the volume size in bytes.
    pub fn new(data: &Path, keys: Option<VolumeKeys>, size_limit: u64) -> FsResult<VolumeFs> {
        fs::create_dir_all(data)?;
        let meta = fs::symlink_metadata(data)?;
        let fs = VolumeFs {
            data: data.to_path_buf(),
            keys,
            size_limit,
            root_backing_ino: meta.ino(),
            nodes: Mutex::new(HashMap::new()),
            dirids: Mutex::new(HashMap::new()),
            handles: RwLock::new(HashMap::new()),
            dirs: Mutex::new(HashMap::new()),
            states: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
            used: AtomicU64::new(0),
            freeze: RwLock::new(()),
            kernel_times: std::sync::atomic::AtomicBool::new(false),
        };
        if fs.keys.is_some() && !data.join(names::DIRIV).exists() {
            fs.write_diriv(data)?;
        }
        fs.used.store(du(data)?, Ordering::Relaxed);
        Ok(fs)
    }

    /// Whether the kernel is the keeper of file times (see the field).
    pub fn set_kernel_times(&self, on: bool) {
        self.kernel_times.store(on, Ordering::Relaxed);
    }

    /// Put `m`'s mtime back on `f` after a write, when the kernel keeps the times.
    fn keep_mtime(&self, f: &File, m: &fs::Metadata) -> FsResult<()> {
        if !self.kernel_times.load(Ordering::Relaxed) {
            return Ok(());
        }
        let times = [
            libc::timespec {
                tv_sec: 0,
                tv_nsec: libc::UTIME_OMIT,
            },
            libc::timespec {
                tv_sec: m.mtime() as libc::time_t,
                tv_nsec: m.mtime_nsec() as libc::c_long,
            },
        ];
        use std::os::fd::AsRawFd;
        // SAFETY: a valid open fd and two timespecs.
        if unsafe { libc::futimens(f.as_raw_fd(), times.as_ptr()) } != 0 {
            return Err(io::Error::last_os_error().into());
        }
        Ok(())
    }

    /// Held (shared) by every change to the backing tree.
    fn hold(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.freeze.read().expect("freeze lock")
    }

    /// Holds every change to the backing tree until the guard is dropped (reads go on), so
    /// that a snapshot sees the tree at one point in time.
    pub fn freeze(&self) -> std::sync::RwLockWriteGuard<'_, ()> {
        self.freeze.write().expect("freeze lock")
    }

    fn content(&self) -> Content<'_> {
        Content {
            keys: self.keys.as_ref(),
        }
    }

    /// Bytes the volume's data uses on disk.
    pub fn used_bytes(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    fn fuse_ino(&self, backing: u64) -> Ino {
        if backing == self.root_backing_ino {
            ROOT
        } else if backing == ROOT {
            self.root_backing_ino
        } else {
            backing
        }
    }

    /// The backing path of `ino` (through the first known link).
    fn path(&self, ino: Ino) -> FsResult<PathBuf> {
        let nodes = self.nodes.lock().expect("nodes");
        let mut parts = Vec::new();
        let mut cur = ino;
        let mut depth = 0;
        while cur != ROOT {
            let n = nodes.get(&cur).ok_or(FsError::NotFound)?;
            let (p, name) = n.links.first().ok_or(FsError::NotFound)?;
            parts.push(name.clone());
            cur = *p;
            depth += 1;
            if depth > 4096 {
                return Err(FsError::Invalid);
            }
        }
        let mut path = self.data.clone();
        for p in parts.iter().rev() {
            path.push(p);
        }
        Ok(path)
    }

    fn write_diriv(&self, dir: &Path) -> FsResult<[u8; 16]> {
        let mut id = [0u8; 16];
        crate::crypto::fill_random(&mut id).map_err(|e| io::Error::other(e.to_string()))?;
        let p = dir.join(names::DIRIV);
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o400)
            .open(&p)?;
        std::os::unix::fs::FileExt::write_all_at(&f, &id, 0)?;
        f.sync_all()?;
        Ok(id)
    }

    fn dirid(&self, ino: Ino) -> FsResult<[u8; 16]> {
        if let Some(d) = self.dirids.lock().expect("dirids").get(&ino) {
            return Ok(*d);
        }
        let p = self.path(ino)?.join(names::DIRIV);
        let b = fs::read(&p).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => FsError::Damaged {
                path: p.clone(),
                why: "the directory's id file is missing".into(),
            },
            _ => FsError::Io(e),
        })?;
        let id: [u8; 16] = b.as_slice().try_into().map_err(|_| FsError::Damaged {
            path: p.clone(),
            why: format!("the directory id must be 16 bytes, found {}", b.len()),
        })?;
        self.dirids.lock().expect("dirids").insert(ino, id);
        Ok(id)
    }

    /// How `name` is stored in directory `parent`.
    fn stored(&self, parent: Ino, name: &OsStr) -> FsResult<Stored> {
        check_name(name)?;
        match &self.keys {
            None => Ok(Stored::Direct(name.to_os_string())),
            Some(k) => Ok(names::encrypt(&k.names, &self.dirid(parent)?, name)),
        }
    }

    /// Create a long-name sidecar if needed (before creating the entry).
    fn put_sidecar(&self, dir: &Path, s: &Stored) -> FsResult<()> {
        if let Stored::Long { backing, full } = s {
            let p = dir.join(names::sidecar(backing));
            fs::write(&p, full.as_bytes())?;
        }
        Ok(())
    }

    fn drop_sidecar(&self, dir: &Path, backing: &OsStr) {
        if backing
            .as_bytes()
            .starts_with(names::LONG_PREFIX.as_bytes())
        {
            let _ = fs::remove_file(dir.join(names::sidecar(backing)));
        }
    }

    fn attr_of(&self, ino: Ino, m: &fs::Metadata) -> Attr {
        let kind = kind_of(m.file_type());
        let size = match kind {
            Kind::File => self.content().plain_size(m.size()),
            Kind::Symlink => self.symlink_plain_len(m),
            _ => m.size(),
        };
        Attr {
            ino,
            size,
            blocks: m.blocks(),
            atime: time(m.atime(), m.atime_nsec()),
            mtime: time(m.mtime(), m.mtime_nsec()),
            ctime: time(m.ctime(), m.ctime_nsec()),
            kind,
            perm: (m.mode() & 0o7777) as u16,
            nlink: m.nlink() as u32,
            uid: m.uid(),
            gid: m.gid(),
            rdev: m.rdev() as u32,
        }
    }

    fn symlink_plain_len(&self, m: &fs::Metadata) -> u64 {
        match &self.keys {
            None => m.size(),
            // base64url(nonce 12 ‖ ct ‖ tag 16) without padding.
            Some(_) => (m.size() * 3 / 4).saturating_sub(28),
        }
    }

    /// Register a link and count a lookup.
    fn remember(&self, parent: Ino, backing: &OsStr, m: &fs::Metadata) -> Attr {
        let ino = self.fuse_ino(m.ino());
        let mut nodes = self.nodes.lock().expect("nodes");
        let n = nodes.entry(ino).or_insert_with(|| Node {
            links: Vec::new(),
            nlookup: 0,
        });
        n.nlookup += 1;
        let link = (parent, backing.to_os_string());
        if !n.links.contains(&link) {
            n.links.insert(0, link);
        }
        drop(nodes);
        self.attr_of(ino, m)
    }

    pub fn lookup(&self, parent: Ino, name: &OsStr) -> FsResult<Attr> {
        let s = self.stored(parent, name)?;
        let p = self.path(parent)?.join(s.backing());
        let m = fs::symlink_metadata(&p).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => FsError::NotFound,
            _ => FsError::Io(e),
        })?;
        Ok(self.remember(parent, s.backing(), &m))
    }

    pub fn forget(&self, ino: Ino, n: u64) {
        if ino == ROOT {
            return;
        }
        let mut nodes = self.nodes.lock().expect("nodes");
        if let Some(node) = nodes.get_mut(&ino) {
            node.nlookup = node.nlookup.saturating_sub(n);
            if node.nlookup == 0 {
                nodes.remove(&ino);
                self.dirids.lock().expect("dirids").remove(&ino);
            }
        }
    }

    pub fn getattr(&self, ino: Ino) -> FsResult<Attr> {
        self.getattr_fh(ino, None)
    }

    /// Attributes through the handle `fh` (or any open handle of `ino`) when there is one,
    /// so that files unlinked while open keep answering.
    pub fn getattr_fh(&self, ino: Ino, fh: Option<u64>) -> FsResult<Attr> {
        let t = self.target(ino, fh)?;
        self.attr_of_target(ino, &t)
    }

    fn attr_of_target(&self, ino: Ino, t: &Target) -> FsResult<Attr> {
        let m = match t {
            Target::Open(h) => h.file.metadata()?,
            Target::Path(p) => fs::symlink_metadata(p)?,
        };
        Ok(self.attr_of(ino, &m))
    }

    /// What a request on `ino` acts on: the handle `fh` if it is of `ino`; else the inode's
    /// path; else (the path is gone: unlinked while open) any open handle of `ino`.
    fn target(&self, ino: Ino, fh: Option<u64>) -> FsResult<Target> {
        let hs = self.handles.read().expect("handles");
        if let Some(h) = fh.and_then(|f| hs.get(&f)).filter(|h| h.ino == ino) {
            return Ok(Target::Open(h.clone()));
        }
        drop(hs);
        match self.path(ino) {
            Ok(p) => Ok(Target::Path(p)),
            Err(e) => self
                .handles
                .read()
                .expect("handles")
                .values()
                .find(|h| h.ino == ino)
                .map(|h| Target::Open(h.clone()))
                .ok_or(e),
        }
    }

    fn state(&self, ino: Ino) -> Arc<FileState> {
        let mut st = self.states.lock().expect("states");
        if let Some(s) = st.get(&ino).and_then(|w| w.upgrade()) {
            return s;
        }
        let s = Arc::new(FileState {
            lock: RwLock::new(()),
            id: Mutex::new(None),
        });
        st.insert(ino, Arc::downgrade(&s));
        if st.len() > 4096 {
            st.retain(|_, w| w.strong_count() > 0);
        }
        s
    }

    fn file_id(&self, f: &File, st: &FileState, path: &Path) -> FsResult<Option<[u8; 16]>> {
        let mut id = st.id.lock().expect("file id");
        if let Some(i) = *id {
            return Ok(i);
        }
        let got = self
            .content()
            .file_id(f)
            .map_err(|e| self.damaged(path, e))?;
        *id = Some(got);
        Ok(got)
    }

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

    /// Clears set-user-ID, and set-group-ID when group-execute is set, as the kernel does
    /// after a write or truncate by a caller without CAP_FSETID. With
    /// `FUSE_HANDLE_KILLPRIV_V2` (which spares every write a `security.capability` lookup)
    /// this is the filesystem's job.
    /// Returns whether the mode changed.
    pub fn kill_suidgid(&self, ino: Ino, fh: Option<u64>) -> FsResult<bool> {
        let m = u32::from(self.getattr_fh(ino, fh)?.perm);
        let mut kept = m & !0o4000;
        if m & 0o010 != 0 {
            kept &= !0o2000;
        }
        if kept == m {
            return Ok(false);
        }
        let a = SetAttr {
            mode: Some(kept),
            ..SetAttr::default()
        };
        self.setattr(ino, a, fh).map(|_| true)
    }

    pub fn setattr(&self, ino: Ino, a: SetAttr, fh: Option<u64>) -> FsResult<Attr> {
        let _hold = self.hold();
        let t = self.target(ino, fh)?;
        if let Some(mode) = a.mode {
            let perm = fs::Permissions::from_mode(mode & 0o7777);
            match &t {
                Target::Open(h) => h.file.set_permissions(perm)?,
                Target::Path(p) => fs::set_permissions(p, perm)?,
            }
        }
        if a.uid.is_some() || a.gid.is_some() {
            match &t {
                Target::Open(h) => std::os::unix::fs::fchown(&h.file, a.uid, a.gid)?,
                Target::Path(p) => std::os::unix::fs::lchown(p, a.uid, a.gid)?,
            }
        }
        if let Some(size) = a.size {
            let (file, st, path) = match &t {
                Target::Open(h) => (
                    h.file.try_clone()?,
                    h.state.clone(),
                    PathBuf::from(format!("inode {ino}")),
                ),
                Target::Path(p) => {
                    let p = p.clone();
                    (
                        OpenOptions::new().read(true).write(true).open(&p)?,
                        self.state(ino),
                        p,
                    )
                }
            };
            let _w = st.lock.write().expect("file lock");
            let id = self.file_id(&file, &st, &path)?;
            let before = file.metadata()?.blocks() * 512;
            let cur = self.content().plain_size(file.metadata()?.len());
            if size > cur && self.used_bytes() + (size - cur).min(1 << 20) > self.size_limit {
                return Err(FsError::NoSpace);
            }
            self.content()
                .truncate(&file, id.as_ref(), size)
                .map_err(|e| self.damaged(&path, e))?;
            self.account(before, file.metadata()?.blocks() * 512);
        }
        if a.atime.is_some() || a.mtime.is_some() {
            let ts = |t: Option<Option<SystemTime>>| match t {
                None => libc::timespec {
                    tv_sec: 0,
                    tv_nsec: libc::UTIME_OMIT,
                },
                Some(None) => libc::timespec {
                    tv_sec: 0,
                    tv_nsec: libc::UTIME_NOW,
                },
                Some(Some(t)) => {
                    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
                    libc::timespec {
                        tv_sec: d.as_secs() as i64,
                        tv_nsec: d.subsec_nanos() as i64,
                    }
                }
            };
            let times = [ts(a.atime), ts(a.mtime)];
            // SAFETY: a valid fd or C string, and two timespecs.
            let r = match &t {
                Target::Open(h) => {
                    use std::os::fd::AsRawFd;
                    unsafe { libc::futimens(h.file.as_raw_fd(), times.as_ptr()) }
                }
                Target::Path(p) => {
                    let c = cpath(p)?;
                    unsafe {
                        libc::utimensat(
                            libc::AT_FDCWD,
                            c.as_ptr(),
                            times.as_ptr(),
                            libc::AT_SYMLINK_NOFOLLOW,
                        )
                    }
                }
            };
            if r != 0 {
                return Err(io::Error::last_os_error().into());
            }
        }
        self.attr_of_target(ino, &t)
    }

    fn account(&self, before: u64, after: u64) {
        if after >= before {
            self.used.fetch_add(after - before, Ordering::Relaxed);
        } else {
            let _ = self
                .used
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                    Some(u.saturating_sub(before - after))
                });
        }
    }

    pub fn readlink(&self, ino: Ino) -> FsResult<Vec<u8>> {
        let p = self.path(ino)?;
        let t = fs::read_link(&p)?;
        match &self.keys {
            None => Ok(t.as_os_str().as_bytes().to_vec()),
            Some(k) => {
                use base64::Engine;
                let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(t.as_os_str().as_bytes())
                    .map_err(|_| FsError::Damaged {
                        path: p.clone(),
                        why: "symlink target is not kmsfs ciphertext".into(),
                    })?;
                if raw.len() < 12 + 16 {
                    return Err(FsError::Damaged {
                        path: p,
                        why: "symlink target too short".into(),
                    });
                }
                let nonce: [u8; 12] = raw[..12].try_into().expect("12 bytes");
                let pt = k
                    .meta
                    .open(&nonce, b"kmsfs symlink v1", &raw[12..])
                    .map_err(|_| FsError::Damaged {
                        path: p.clone(),
                        why: "symlink target does not authenticate".into(),
                    })?;
                Ok(pt.expose().to_vec())
            }
        }
    }

    /// Make a new entry in `parent` with `make(path)` and return its attributes (those
    /// `make` returns, from an open descriptor, else read through the path).
    fn make(
        &self,
        parent: Ino,
        name: &OsStr,
        caller: Caller,
        make: impl FnOnce(&Path) -> FsResult<Option<fs::Metadata>>,
    ) -> FsResult<Attr> {
        let _hold = self.hold();
        let s = self.stored(parent, name)?;
        let dir = self.path(parent)?;
        let p = dir.join(s.backing());
        if let Stored::Long { .. } = s {
            // The sidecar must not clobber another entry's.
            if fs::symlink_metadata(&p).is_ok() {
                return Err(FsError::Exists);
            }
            self.put_sidecar(&dir, &s)?;
        }
        let made = match make(&p) {
            Ok(m) => m,
            Err(e) => {
                if matches!(s, Stored::Long { .. }) {
                    self.drop_sidecar(&dir, s.backing());
                }
                return Err(match e {
                    FsError::Io(e) if e.kind() == io::ErrorKind::AlreadyExists => FsError::Exists,
                    e => e,
                });
            }
        };
        let mut m = match made {
            Some(m) => m,
            None => fs::symlink_metadata(&p)?,
        };
        if m.uid() != caller.uid || m.gid() != caller.gid {
            let _ = std::os::unix::fs::lchown(&p, Some(caller.uid), Some(caller.gid));
            m = fs::symlink_metadata(&p)?;
        }
        Ok(self.remember(parent, s.backing(), &m))
    }

    pub fn mkdir(&self, parent: Ino, name: &OsStr, mode: u32, caller: Caller) -> FsResult<Attr> {
        let enc = self.keys.is_some();
        self.make(parent, name, caller, |p| {
            fs::DirBuilder::new().mode(0o700).create(p)?;
            if enc {
                self.write_diriv(p)?;
            }
            fs::set_permissions(p, fs::Permissions::from_mode(mode & 0o7777))?;
            Ok(None)
        })
    }

    pub fn mknod(
        &self,
        parent: Ino,
        name: &OsStr,
        mode: u32,
        rdev: u32,
        caller: Caller,
    ) -> FsResult<Attr> {
        let fmt = mode & libc::S_IFMT;
        if fmt == libc::S_IFREG {
            let (a, fh) = self.create(parent, name, mode, libc::O_WRONLY, caller)?;
            self.release(fh);
            return Ok(a);
        }
        if fmt != libc::S_IFIFO && fmt != libc::S_IFSOCK {
            return Err(FsError::NotPermitted);
        }
        self.make(parent, name, caller, |p| {
            let c = cpath(p)?;
            // SAFETY: c is a valid C string.
            if unsafe { libc::mknod(c.as_ptr(), mode, rdev as libc::dev_t) } != 0 {
                return Err(io::Error::last_os_error().into());
            }
            Ok(None)
        })
    }

    pub fn symlink(
        &self,
        parent: Ino,
        name: &OsStr,
        target: &OsStr,
        caller: Caller,
    ) -> FsResult<Attr> {
        let stored_target: OsString = match &self.keys {
            None => target.to_os_string(),
            Some(k) => {
                use base64::Engine;
                let nonce =
                    crate::crypto::random_nonce().map_err(|e| io::Error::other(e.to_string()))?;
                let mut raw = nonce.to_vec();
                raw.extend(
                    k.meta
                        .seal(&nonce, b"kmsfs symlink v1", target.as_bytes())
                        .map_err(|_| FsError::Invalid)?,
                );
                let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
                if enc.len() >= 4096 {
                    return Err(FsError::NameTooLong);
                }
                OsString::from(enc)
            }
        };
        self.make(parent, name, caller, |p| {
            std::os::unix::fs::symlink(&stored_target, p)?;
            Ok(None)
        })
    }

    pub fn create(
        &self,
        parent: Ino,
        name: &OsStr,
        mode: u32,
        flags: i32,
        caller: Caller,
    ) -> FsResult<(Attr, u64)> {
        let mut file = None;
        let mut id = None;
        let attr = self.make(parent, name, caller, |p| {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(mode & 0o7777)
                .open(p)?;
            // The header before the attributes are read, so that they include its write.
            id = self
                .content()
                .init(&f)
                .map_err(|e| FsError::Io(io::Error::other(e.to_string())))?;
            let m = f.metadata()?;
            file = Some(f);
            Ok(Some(m))
        })?;
        let file = file.expect("created");
        let st = self.state(attr.ino);
        *st.id.lock().expect("file id") = Some(id);
        let _ = flags;
        let fh = self.add_handle(file, attr.ino, st);
        Ok((attr, fh))
    }

    fn add_handle(&self, file: File, ino: Ino, state: Arc<FileState>) -> u64 {
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        self.handles.write().expect("handles").insert(
            fh,
            Arc::new(Handle {
                file,
                ino,
                state,
                behind: WriteBehind::default(),
            }),
        );
        fh
    }

    pub fn open(&self, ino: Ino, flags: i32) -> FsResult<u64> {
        let p = self.path(ino)?;
        // Read access is always needed: partial-block writes read, and the kernel's
        // writeback cache reads pages of write-only files.
        let f = match OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&p)
        {
            Ok(f) => f,
            Err(e)
                if e.raw_os_error() == Some(libc::EACCES)
                    || e.raw_os_error() == Some(libc::EROFS) =>
            {
                if flags & libc::O_ACCMODE != libc::O_RDONLY {
                    return Err(e.into());
                }
                OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&p)?
            }
            Err(e) => return Err(e.into()),
        };
        let st = self.state(ino);
        self.file_id(&f, &st, &p)?;
        if flags & libc::O_TRUNC != 0 {
            self.setattr(
                ino,
                SetAttr {
                    size: Some(0),
                    ..Default::default()
                },
                None,
            )?;
        }
        Ok(self.add_handle(f, ino, st))
    }

    fn handle(&self, fh: u64) -> FsResult<Arc<Handle>> {
        self.handles
            .read()
            .expect("handles")
            .get(&fh)
            .cloned()
            .ok_or(FsError::BadHandle)
    }

    pub fn read(&self, fh: u64, offset: u64, size: u32) -> FsResult<Vec<u8>> {
        let h = self.handle(fh)?;
        let _r = h.state.lock.read().expect("file lock");
        let id = *h.state.id.lock().expect("file id");
        let id = id.flatten();
        self.content()
            .read(&h.file, id.as_ref(), offset, size as usize)
            .map_err(|e| self.damaged(Path::new(&format!("inode {}", h.ino)), e))
    }

    pub fn write(&self, fh: u64, offset: u64, data: &[u8]) -> FsResult<u32> {
        let _hold = self.hold();
        let h = self.handle(fh)?;
        let id = h.state.id.lock().expect("file id").flatten();
        let bs = super::content::BLOCK as u64;
        let end = offset + data.len() as u64;
        // Whole blocks inside the file touch no other block and change no size: such writes
        // run side by side under the shared lock; the rest take the file's write lock.
        let aligned = offset.is_multiple_of(bs) && (data.len() as u64).is_multiple_of(bs);
        if aligned {
            let _r = h.state.lock.read().expect("file lock");
            let m = h.file.metadata()?;
            let cur = self.content().plain_size(m.len());
            // Only where no hole can be filled (holes would need counting against the size).
            let dense = m.blocks() * 512 >= m.len();
            if aligned && end <= cur && dense {
                self.content()
                    .write_at_len(&h.file, id.as_ref(), offset, data, m.len())
                    .map_err(|e| self.damaged(Path::new(&format!("inode {}", h.ino)), e))?;
                self.keep_mtime(&h.file, &m)?;
                drop(_r);
                self.write_behind(&h, offset, data.len());
                return Ok(data.len() as u32);
            }
        }
        let _w = h.state.lock.write().expect("file lock");
        let m = h.file.metadata()?;
        let cur = self.content().plain_size(m.len());
        let growth = end.saturating_sub(cur).min(data.len() as u64 + bs);
        if growth > 0 && self.used_bytes() + growth > self.size_limit {
            return Err(FsError::NoSpace);
        }
        let before = m.blocks() * 512;
        self.content()
            .write_at_len(&h.file, id.as_ref(), offset, data, m.len())
            .map_err(|e| self.damaged(Path::new(&format!("inode {}", h.ino)), e))?;
        if growth > 0 || before < m.len() {
            self.account(before, h.file.metadata()?.blocks() * 512);
        }
        self.keep_mtime(&h.file, &m)?;
        drop(_w);
        self.write_behind(&h, offset, data.len());
        Ok(data.len() as u32)
    }

    fn write_behind(&self, h: &Handle, offset: u64, len: usize) {
        let shift = if self.keys.is_some() {
            super::content::HEADER_LEN
        } else {
            0
        };
        h.behind.note(&h.file, offset, len as u64, shift);
    }

    pub fn fsync(&self, fh: u64, datasync: bool) -> FsResult<()> {
        let h = self.handle(fh)?;
        if datasync {
            h.file.sync_data()?
        } else {
            h.file.sync_all()?
        }
        Ok(())
    }

    pub fn release(&self, fh: u64) {
        let h = self.handles.write().expect("handles").remove(&fh);
        // The backing file is closed here, outside the lock, so that requests looking up
        // other handles do not wait for the close.
        drop(h);
    }

    fn unlink_entry(&self, parent: Ino, name: &OsStr, dir_expected: bool) -> FsResult<()> {
        let _hold = self.hold();
        let s = self.stored(parent, name)?;
        let dir = self.path(parent)?;
        let p = dir.join(s.backing());
        let m = fs::symlink_metadata(&p).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => FsError::NotFound,
            _ => FsError::Io(e),
        })?;
        let is_dir = m.is_dir();
        if dir_expected && !is_dir {
            return Err(FsError::NotDir);
        }
        if !dir_expected && is_dir {
            return Err(FsError::IsDir);
        }
        if is_dir {
            for e in fs::read_dir(&p)? {
                if e?.file_name() != names::DIRIV {
                    return Err(FsError::NotEmpty);
                }
            }
            let _ = fs::remove_file(p.join(names::DIRIV));
            if let Err(e) = fs::remove_dir(&p) {
                if self.keys.is_some() && !p.join(names::DIRIV).exists() {
                    let _ = self.write_diriv_with(
                        &p,
                        self.dirids
                            .lock()
                            .expect("dirids")
                            .get(&self.fuse_ino(m.ino()))
                            .copied(),
                    );
                }
                return Err(e.into());
            }
        } else {
            fs::remove_file(&p)?;
            if m.nlink() <= 1 {
                self.account(m.blocks() * 512, 0);
            }
        }
        self.drop_sidecar(&dir, s.backing());
        let ino = self.fuse_ino(m.ino());
        let mut nodes = self.nodes.lock().expect("nodes");
        if let Some(n) = nodes.get_mut(&ino) {
            n.links
                .retain(|(pp, nn)| !(*pp == parent && nn == s.backing()));
        }
        Ok(())
    }

    fn write_diriv_with(&self, dir: &Path, id: Option<[u8; 16]>) -> FsResult<()> {
        if let Some(id) = id {
            fs::write(dir.join(names::DIRIV), id)?;
        }
        Ok(())
    }

    pub fn unlink(&self, parent: Ino, name: &OsStr) -> FsResult<()> {
        self.unlink_entry(parent, name, false)
    }

    pub fn rmdir(&self, parent: Ino, name: &OsStr) -> FsResult<()> {
        self.unlink_entry(parent, name, true)
    }

    /// Rename; `flags` takes RENAME_NOREPLACE and RENAME_EXCHANGE.
    pub fn rename(
        &self,
        parent: Ino,
        name: &OsStr,
        newparent: Ino,
        newname: &OsStr,
        flags: u32,
    ) -> FsResult<()> {
        let _hold = self.hold();
        let from = self.stored(parent, name)?;
        let to = self.stored(newparent, newname)?;
        let fdir = self.path(parent)?;
        let tdir = self.path(newparent)?;
        let fp = fdir.join(from.backing());
        let tp = tdir.join(to.backing());
        let fm = fs::symlink_metadata(&fp).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => FsError::NotFound,
            _ => FsError::Io(e),
        })?;
        let victim = fs::symlink_metadata(&tp).ok();
        if flags & libc::RENAME_NOREPLACE != 0 && victim.is_some() {
            return Err(FsError::Exists);
        }
        if flags & libc::RENAME_EXCHANGE != 0 {
            let Some(vm) = victim else {
                return Err(FsError::NotFound);
            };
            self.put_sidecar(&tdir, &from)?;
            self.put_sidecar(&fdir, &to)?;
            renameat2(&fp, &tp, libc::RENAME_EXCHANGE)?;
            let (a, b) = (self.fuse_ino(fm.ino()), self.fuse_ino(vm.ino()));
            self.relink(a, (parent, from.backing()), (newparent, to.backing()));
            self.relink(b, (newparent, to.backing()), (parent, from.backing()));
            return Ok(());
        }
        if let Some(vm) = &victim {
            if vm.is_dir() != fm.is_dir() {
                return Err(if vm.is_dir() {
                    FsError::IsDir
                } else {
                    FsError::NotDir
                });
            }
            if vm.is_dir() {
                for e in fs::read_dir(&tp)? {
                    if e?.file_name() != names::DIRIV {
                        return Err(FsError::NotEmpty);
                    }
                }
                let _ = fs::remove_file(tp.join(names::DIRIV));
            }
        }
        self.put_sidecar(&tdir, &to)?;
        if let Err(e) = fs::rename(&fp, &tp) {
            if let (Some(vm), true) = (&victim, self.keys.is_some())
                && vm.is_dir()
                && !tp.join(names::DIRIV).exists()
            {
                let id = self
                    .dirids
                    .lock()
                    .expect("dirids")
                    .get(&self.fuse_ino(vm.ino()))
                    .copied();
                let _ = self.write_diriv_with(&tp, id);
            }
            return Err(e.into());
        }
        if from.backing() != to.backing() || fdir != tdir {
            self.drop_sidecar(&fdir, from.backing());
        }
        if let Some(vm) = victim {
            let vino = self.fuse_ino(vm.ino());
            if vino != self.fuse_ino(fm.ino()) {
                let mut nodes = self.nodes.lock().expect("nodes");
                if let Some(n) = nodes.get_mut(&vino) {
                    n.links
                        .retain(|(pp, nn)| !(*pp == newparent && nn == to.backing()));
                }
                if !vm.is_dir() && vm.nlink() <= 1 {
                    self.account(vm.blocks() * 512, 0);
                }
            }
        }
        self.relink(
            self.fuse_ino(fm.ino()),
            (parent, from.backing()),
            (newparent, to.backing()),
        );
        Ok(())
    }

    fn relink(&self, ino: Ino, old: (Ino, &OsStr), new: (Ino, &OsStr)) {
        let mut nodes = self.nodes.lock().expect("nodes");
        if let Some(n) = nodes.get_mut(&ino) {
            n.links.retain(|(p, nm)| !(*p == old.0 && nm == old.1));
            n.links.insert(0, (new.0, new.1.to_os_string()));
        }
    }

    pub fn link(&self, ino: Ino, newparent: Ino, newname: &OsStr) -> FsResult<Attr> {
        let _hold = self.hold();
        let src = self.path(ino)?;
        if fs::symlink_metadata(&src)?.is_dir() {
            return Err(FsError::NotPermitted);
        }
        let s = self.stored(newparent, newname)?;
        let dir = self.path(newparent)?;
        let p = dir.join(s.backing());
        if fs::symlink_metadata(&p).is_ok() {
            return Err(FsError::Exists);
        }
        self.put_sidecar(&dir, &s)?;
        fs::hard_link(&src, &p)?;
        let m = fs::symlink_metadata(&p)?;
        Ok(self.remember(newparent, s.backing(), &m))
    }

    /// List a directory (decrypting names); kept per handle so offsets are stable.
    pub fn opendir(&self, ino: Ino) -> FsResult<u64> {
        let p = self.path(ino)?;
        let mut out = vec![
            DirEntry {
                ino,
                kind: Kind::Dir,
                name: ".".into(),
            },
            DirEntry {
                ino: if ino == ROOT {
                    ROOT
                } else {
                    self.parent_of(ino)
                },
                kind: Kind::Dir,
                name: "..".into(),
            },
        ];
        let dirid = match &self.keys {
            Some(_) => Some(self.dirid(ino)?),
            None => None,
        };
        for e in fs::read_dir(&p)? {
            let e = e?;
            let bname = e.file_name();
            if self.keys.is_some() && (names::is_internal(&bname) || bname == names::DIRIV) {
                continue;
            }
            let name = match (&self.keys, dirid) {
                (Some(k), Some(d)) => {
                    let b = bname.as_bytes();
                    let encoded = if b.starts_with(names::LONG_PREFIX.as_bytes()) {
                        match fs::read_to_string(p.join(names::sidecar(&bname))) {
                            Ok(s) => s,
                            Err(_) => continue,
                        }
                    } else {
                        match bname.to_str() {
                            Some(s) => s.to_string(),
                            None => continue,
                        }
                    };
                    match names::decrypt(&k.names, &d, &encoded) {
                        Some(n) => n,
                        None => {
                            eprintln!(
                                "kmsfs: {}: name does not decrypt; hidden",
                                p.join(&bname).display()
                            );
                            continue;
                        }
                    }
                }
                _ => bname,
            };
            let ft = e.file_type()?;
            out.push(DirEntry {
                ino: self.fuse_ino(e.ino()),
                kind: kind_of(ft),
                name,
            });
        }
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        self.dirs.lock().expect("dirs").insert(fh, out);
        Ok(fh)
    }

    fn parent_of(&self, ino: Ino) -> Ino {
        self.nodes
            .lock()
            .expect("nodes")
            .get(&ino)
            .and_then(|n| n.links.first().map(|l| l.0))
            .unwrap_or(ROOT)
    }

    /// Entries from `offset` on (each entry's offset is its index + 1).
    pub fn readdir(&self, fh: u64, offset: u64) -> FsResult<Vec<(u64, DirEntry)>> {
        let dirs = self.dirs.lock().expect("dirs");
        let d = dirs.get(&fh).ok_or(FsError::BadHandle)?;
        Ok(d.iter()
            .enumerate()
            .skip(offset as usize)
            .map(|(i, e)| (i as u64 + 1, e.clone()))
            .collect())
    }

    /// For readdirplus: look an entry up (counts a lookup) unless it is `.` or `..`.
    pub fn lookup_entry(&self, parent: Ino, e: &DirEntry) -> FsResult<Attr> {
        if e.name == "." || e.name == ".." {
            return self.getattr(e.ino);
        }
        self.lookup(parent, &e.name)
    }

    pub fn releasedir(&self, fh: u64) {
        self.dirs.lock().expect("dirs").remove(&fh);
    }

    pub fn statfs(&self) -> Statfs {
        let bs = 4096u64;
        let blocks = self.size_limit / bs;
        let used = self.used_bytes().div_ceil(bs);
        Statfs {
            blocks,
            bfree: blocks.saturating_sub(used),
            files: 1 << 32,
            ffree: (1 << 32) - 1,
            bsize: bs as u32,
            namelen: names::NAME_MAX as u32,
        }
    }

    fn xattr_name(&self, name: &OsStr) -> FsResult<CString> {
        let b = name.as_bytes();
        if !b.starts_with(b"user.") {
            return Err(FsError::NotSupported);
        }
        let stored = match &self.keys {
            None => b.to_vec(),
            Some(k) => {
                let s = names::encrypt(&k.names, &[0xA5; 16], name);
                match s {
                    Stored::Direct(n) => [b"user.".as_slice(), n.as_bytes()].concat(),
                    Stored::Long { .. } => return Err(FsError::Range),
                }
            }
        };
        CString::new(stored).map_err(|_| FsError::Invalid)
    }

    pub fn setxattr(&self, ino: Ino, name: &OsStr, value: &[u8], flags: i32) -> FsResult<()> {
        let _hold = self.hold();
        let p = cpath(&self.path(ino)?)?;
        let n = self.xattr_name(name)?;
        let v = match &self.keys {
            None => value.to_vec(),
            Some(k) => {
                let nonce =
                    crate::crypto::random_nonce().map_err(|e| io::Error::other(e.to_string()))?;
                let mut v = nonce.to_vec();
                v.extend(
                    k.meta
                        .seal(&nonce, n.as_bytes(), value)
                        .map_err(|_| FsError::Invalid)?,
                );
                v
            }
        };
        Ok(xattr::set(&p, &n, &v, flags)?)
    }

    pub fn getxattr(&self, ino: Ino, name: &OsStr) -> FsResult<Vec<u8>> {
        // The name first: the kernel asks for `security.capability` before every write, and
        // that answer must cost no path lookup and no syscall.
        let n = self.xattr_name(name)?;
        let p = cpath(&self.path(ino)?)?;
        let raw = xattr::get(&p, &n)?;
        match &self.keys {
            None => Ok(raw),
            Some(k) => {
                if raw.len() < 28 {
                    return Err(FsError::Io(io::Error::from_raw_os_error(libc::EIO)));
                }
                let nonce: [u8; 12] = raw[..12].try_into().expect("12 bytes");
                k.meta
                    .open(&nonce, n.as_bytes(), &raw[12..])
                    .map(|v| v.expose().to_vec())
                    .map_err(|_| FsError::Io(io::Error::from_raw_os_error(libc::EIO)))
            }
        }
    }

    pub fn listxattr(&self, ino: Ino) -> FsResult<Vec<u8>> {
        let p = cpath(&self.path(ino)?)?;
        let buf = xattr::list(&p)?;
        let mut out = Vec::new();
        for name in buf.split(|&b| b == 0).filter(|s| !s.is_empty()) {
            let Some(rest) = name.strip_prefix(b"user.") else {
                continue;
            };
            let plain = match &self.keys {
                None => name.to_vec(),
                Some(k) => match std::str::from_utf8(rest)
                    .ok()
                    .and_then(|s| names::decrypt(&k.names, &[0xA5; 16], s))
                {
                    Some(n) => n.as_bytes().to_vec(),
                    None => continue,
                },
            };
            out.extend_from_slice(&plain);
            out.push(0);
        }
        Ok(out)
    }

    pub fn removexattr(&self, ino: Ino, name: &OsStr) -> FsResult<()> {
        let _hold = self.hold();
        let p = cpath(&self.path(ino)?)?;
        let n = self.xattr_name(name)?;
        Ok(xattr::remove(&p, &n)?)
    }
}

fn renameat2(from: &Path, to: &Path, flags: u32) -> FsResult<()> {
    let (a, b) = (cpath(from)?, cpath(to)?);
    // SAFETY: valid C strings.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            flags,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error().into());
    }
    Ok(())
}

/// Allocated bytes under `dir` (hard links counted once).
fn du(dir: &Path) -> io::Result<u64> {
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d)? {
            let e = e?;
            let m = e.metadata()?;
            if m.is_dir() {
                stack.push(e.path());
            } else if seen.insert(m.ino()) {
                total += m.blocks() * 512;
            }
        }
    }
    Ok(total)
}
