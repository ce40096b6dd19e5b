//! The directory view of a bucket (`kmsfs mount-bucket`), transport-free: keys with `/` show
//! as folders, reading a file is a GET, and closing a written file is a PUT with the bucket's
//! default encryption. Files being written live in encrypted spools until then; a partial
//! overwrite of an existing object rewrites it whole; rename is copy then delete; a folder is
//! a key prefix (an empty `dir/` object marks one made by `mkdir`, as the S3 console does).
//! The FUSE adaptor (`object::fuse`) maps these calls one to one and the errors to errno.

//!
//! - here: the view, its errors and nodes, inode numbers, attributes;
//! - `index`: the cached listing of the bucket's keys;
//! - `files`: open files (read handles, write spools, pending paths);
//! - `dir`: folders (readdir, mkdir, rmdir) and unlink;
//! - `rename`: rename as copy then delete.

mod dir;
mod files;
mod index;
mod rename;

use super::ObjectError;
use super::service::ObjectService;
use files::Handle;
use index::Index;
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// Inode number of the bucket's root.
pub const ROOT: u64 = 1;

/// Errors of the view, each with its errno.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error("no such file or folder")]
    NotFound,
    #[error("already exists")]
    Exists,
    #[error("the folder is not empty")]
    NotEmpty,
    #[error("is a folder")]
    IsDir,
    #[error("not a folder")]
    NotDir,
    #[error("bad file handle")]
    BadHandle,
    #[error("name not allowed as an S3 key: {0}")]
    BadName(String),
    #[error("not supported by a bucket view")]
    NotSupported,
    #[error(transparent)]
    Object(#[from] ObjectError),
    #[error("spool: {0}")]
    Spool(#[from] std::io::Error),
}

impl ViewError {
    /// The errno a FUSE reply carries.
    pub fn errno(&self) -> i32 {
        match self {
            ViewError::NotFound => libc::ENOENT,
            ViewError::Exists => libc::EEXIST,
            ViewError::NotEmpty => libc::ENOTEMPTY,
            ViewError::IsDir => libc::EISDIR,
            ViewError::NotDir => libc::ENOTDIR,
            ViewError::BadHandle => libc::EBADF,
            ViewError::BadName(_) => libc::EINVAL,
            ViewError::NotSupported => libc::EOPNOTSUPP,
            ViewError::Spool(e) => crate::fuseutil::io_errno(e),
            ViewError::Object(e) => match e {
                ObjectError::NoSuchKey { .. } | ObjectError::NoSuchBucket(_) => libc::ENOENT,
                ObjectError::KeyTooLong(_) => libc::ENAMETOOLONG,
                // A refused KMS key; an SSE-C object, whose key a mount never has.
                ObjectError::AccessDenied(_)
                | ObjectError::InvalidRequest(_)
                | ObjectError::Kms { .. } => libc::EACCES,
                ObjectError::Mounted(_) => libc::EBUSY,
                ObjectError::InvalidArgument(_) | ObjectError::InvalidRange(_) => libc::EINVAL,
                ObjectError::Locked(_) => libc::EAGAIN,
                _ => libc::EIO,
            },
        }
    }
}

pub type ViewResult<T> = Result<T, ViewError>;

/// What a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    File,
    Dir,
}

/// Attributes of a node.
#[derive(Debug, Clone)]
pub struct NodeAttr {
    pub ino: u64,
    pub kind: NodeKind,
    pub size: u64,
    pub mtime: SystemTime,
}

impl NodeAttr {
    fn file(ino: u64, size: u64, mtime: SystemTime) -> NodeAttr {
        NodeAttr {
            ino,
            kind: NodeKind::File,
            size,
            mtime,
        }
    }
}

/// One entry of a folder listing.
#[derive(Debug, Clone)]
pub struct DirEntry {
    pub name: String,
    pub attr: NodeAttr,
}

#[derive(Default)]
struct Inodes {
    by_ino: HashMap<u64, String>,
    by_path: HashMap<String, u64>,
}

/// A bucket seen as a directory tree.
pub struct BucketView {
    svc: Arc<ObjectService>,
    bucket: String,
    spool_dir: PathBuf,
    inodes: Mutex<Inodes>,
    next_ino: AtomicU64,
    handles: Mutex<HashMap<u64, Arc<Mutex<Handle>>>>,
    next_fh: AtomicU64,
    /// Files created or truncated through the view and not yet PUT: path -> open handles.
    pending: Mutex<BTreeMap<String, usize>>,
    /// Folders have no times of their own: they show the time the view started.
    started: SystemTime,
    /// The bucket's keys as last listed (a listing reads every object's header).
    index: Mutex<Option<Index>>,
    /// Held (shared) for the view's life: the bucket cannot be deleted while it is mounted.
    _mounted: crate::fsutil::FileLock,
}

impl std::fmt::Debug for BucketView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BucketView {{ bucket: {:?}, .. }}", self.bucket)
    }
}

fn millis(ms: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

impl BucketView {
    /// The view of `bucket` (which must exist); spools go to `spool_dir`.
    pub fn new(svc: Arc<ObjectService>, bucket: &str, spool_dir: PathBuf) -> ViewResult<Self> {
        let mounted = svc.hold_mounted(bucket)?;
        svc.get_bucket_encryption(bucket).or_else(|e| match e {
            ObjectError::NoEncryptionConfiguration(_) => Ok(Default::default()),
            e => Err(e),
        })?;
        let mut inodes = Inodes::default();
        inodes.by_ino.insert(ROOT, String::new());
        inodes.by_path.insert(String::new(), ROOT);
        Ok(BucketView {
            svc,
            bucket: bucket.to_string(),
            spool_dir,
            inodes: Mutex::new(inodes),
            next_ino: AtomicU64::new(ROOT + 1),
            handles: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
            pending: Mutex::new(BTreeMap::new()),
            started: SystemTime::now(),
            index: Mutex::new(None),
            _mounted: mounted,
        })
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Where the bucket's writes are spooled: in the bucket's directory, on the file
    /// system that holds its objects.
    pub fn spool_dir(&self) -> &std::path::Path {
        &self.spool_dir
    }

    fn ino_of(&self, path: &str) -> u64 {
        let mut t = self.inodes.lock().expect("inodes");
        if let Some(i) = t.by_path.get(path) {
            return *i;
        }
        let i = self.next_ino.fetch_add(1, Ordering::Relaxed);
        t.by_path.insert(path.to_string(), i);
        t.by_ino.insert(i, path.to_string());
        i
    }

    fn path_of(&self, ino: u64) -> ViewResult<String> {
        self.inodes
            .lock()
            .expect("inodes")
            .by_ino
            .get(&ino)
            .cloned()
            .ok_or(ViewError::NotFound)
    }

    fn child(&self, parent: u64, name: &OsStr) -> ViewResult<String> {
        let name = name
            .to_str()
            .ok_or_else(|| ViewError::BadName("not UTF-8".into()))?;
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(ViewError::BadName(name.into()));
        }
        Ok(join(&self.path_of(parent)?, name))
    }

    fn pending_len(&self, path: &str) -> Option<u64> {
        if !self.pending.lock().expect("pending").contains_key(path) {
            return None;
        }
        let hs = self.handles.lock().expect("handles").clone();
        hs.values()
            .filter_map(|h| {
                let h = h.lock().expect("handle");
                (h.key == path).then(|| h.spool.as_ref().map_or(0, |s| s.len()))
            })
            .max()
            .or(Some(0))
    }

    fn attr_of(&self, path: &str) -> ViewResult<NodeAttr> {
        let ino = self.ino_of(path);
        if let Some(size) = self.pending_len(path) {
            return Ok(NodeAttr::file(ino, size, SystemTime::now()));
        }
        if !path.is_empty()
            && let Some((size, ms)) = self.find_key(path)?
        {
            return Ok(NodeAttr::file(ino, size, millis(ms)));
        }
        if self.is_dir(path)? {
            return Ok(self.dir_attr(ino));
        }
        Err(ViewError::NotFound)
    }

    pub fn lookup(&self, parent: u64, name: &OsStr) -> ViewResult<NodeAttr> {
        let p = self.child(parent, name)?;
        self.attr_of(&p)
    }

    pub fn getattr(&self, ino: u64) -> ViewResult<NodeAttr> {
        let p = self.path_of(ino)?;
        self.attr_of(&p)
    }

    /// Whether a file below `prefix` is being written.
    fn pending_under(&self, prefix: &str) -> bool {
        self.pending
            .lock()
            .expect("pending")
            .keys()
            .any(|k| k.starts_with(prefix))
    }

    /// The attributes of the folder numbered `ino`.
    fn dir_attr(&self, ino: u64) -> NodeAttr {
        NodeAttr {
            ino,
            kind: NodeKind::Dir,
            size: 0,
            mtime: self.started,
        }
    }
}
