//! The directory view of a bucket (`kmsfs mount-bucket`), transport-free: keys with `/` show
//! as folders, reading a file is a GET, and closing a written file is a PUT with the bucket's
//! default encryption. Files being written live in encrypted [`Spool`]s until then; a partial
//! overwrite of an existing object rewrites it whole; rename is copy then delete; a folder is
//! a key prefix (an empty `dir/` object marks one made by `mkdir`, as the S3 console does).
//! The FUSE adaptor (`object::fuse`) maps these calls one to one and the errors to errno.

use super::ObjectError;
use super::service::{ListObjects, ObjectReader, ObjectService, PutOptions};
use super::spool::Spool;
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// How long one listing of the bucket answers lookups before it is read again: changes made
/// by other processes show within this time, changes made through the view at once.
const INDEX_TTL: Duration = Duration::from_secs(1);

/// Every key of the bucket with its size and last-modified time (ms).
type Keys = BTreeMap<String, (u64, i64)>;

struct Index {
    at: Instant,
    keys: Keys,
}

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
            ViewError::Spool(e) => e.raw_os_error().unwrap_or(libc::EIO),
            ViewError::Object(e) => match e {
                ObjectError::NoSuchKey { .. } | ObjectError::NoSuchBucket(_) => libc::ENOENT,
                ObjectError::KeyTooLong(_) => libc::ENAMETOOLONG,
                ObjectError::AccessDenied(_) | ObjectError::Kms { .. } => libc::EACCES,
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

/// One entry of a folder listing.
#[derive(Debug, Clone)]
pub struct DirEntry {
    pub name: String,
    pub attr: NodeAttr,
}

struct Handle {
    key: String,
    /// Open for reading only: the object as it was at open.
    reader: Option<ObjectReader>,
    /// Open for writing: the whole new content, PUT at flush when `dirty`.
    spool: Option<Spool>,
    dirty: bool,
    /// Opened for writing (the path stays pending until this handle goes).
    writer: bool,
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
}

impl std::fmt::Debug for BucketView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketView")
            .field("bucket", &self.bucket)
            .finish_non_exhaustive()
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
        })
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
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

    /// Run `f` on the key index, listing the bucket again if the index is older than
    /// [`INDEX_TTL`].
    fn with_index<R>(&self, f: impl FnOnce(&Keys) -> R) -> ViewResult<R> {
        let mut g = self.index.lock().expect("index");
        if g.as_ref().is_none_or(|i| i.at.elapsed() > INDEX_TTL) {
            let keys = self
                .list_all("")?
                .into_iter()
                .map(|o| (o.key, (o.size, o.last_modified_ms)))
                .collect();
            *g = Some(Index {
                at: Instant::now(),
                keys,
            });
        }
        Ok(f(&g.as_ref().expect("just listed").keys))
    }

    /// Every object whose key starts with `prefix`, through all pages of the listing.
    fn list_all(&self, prefix: &str) -> ViewResult<Vec<super::ObjectSummary>> {
        let mut all = Vec::new();
        let mut req = ListObjects {
            prefix: prefix.to_string(),
            ..Default::default()
        };
        loop {
            let r = self.svc.list_objects(&self.bucket, &req)?;
            all.extend(r.contents);
            match r.next_continuation_token {
                Some(t) if r.is_truncated => req.start_after = Some(t),
                _ => return Ok(all),
            }
        }
    }

    /// Record a PUT made through the view in the index.
    fn indexed_put(&self, info: &super::ObjectInfo) {
        self.index_insert(&info.key, info.size, info.last_modified_ms);
    }

    /// Add a key (size, last-modified ms) to the index, if there is one.
    fn index_insert(&self, key: &str, size: u64, ms: i64) {
        if let Some(i) = self.index.lock().expect("index").as_mut() {
            i.keys.insert(key.to_string(), (size, ms));
        }
    }

    /// Record a delete made through the view in the index.
    fn indexed_delete(&self, key: &str) {
        if let Some(i) = self.index.lock().expect("index").as_mut() {
            i.keys.remove(key);
        }
    }

    /// Forget the index (after changes to many keys).
    fn reindex(&self) {
        *self.index.lock().expect("index") = None;
    }

    /// Whether `path/` holds anything (a marker or keys below it, or pending files).
    fn is_dir(&self, path: &str) -> ViewResult<bool> {
        if path.is_empty() {
            return Ok(true);
        }
        let prefix = format!("{path}/");
        let under = |m: &Keys| {
            m.range(prefix.clone()..)
                .next()
                .is_some_and(|(k, _)| k.starts_with(&prefix))
        };
        if self
            .pending
            .lock()
            .expect("pending")
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(k, _)| k.starts_with(&prefix))
        {
            return Ok(true);
        }
        self.with_index(under)
    }

    fn attr_of(&self, path: &str) -> ViewResult<NodeAttr> {
        let ino = self.ino_of(path);
        if let Some(size) = self.pending_len(path) {
            return Ok(NodeAttr {
                ino,
                kind: NodeKind::File,
                size,
                mtime: SystemTime::now(),
            });
        }
        if !path.is_empty() {
            // The index, else the object itself (one file, found by its key's hash): a key
            // another process just PUT is found at once.
            let found = match self.with_index(|m| m.get(path).copied())? {
                Some(f) => Some(f),
                None => match self.svc.stat_object(&self.bucket, path) {
                    Ok(o) => {
                        self.index_insert(path, o.size, o.last_modified_ms);
                        Some((o.size, o.last_modified_ms))
                    }
                    Err(ObjectError::NoSuchKey { .. }) => None,
                    Err(e) => return Err(e.into()),
                },
            };
            if let Some((size, ms)) = found {
                return Ok(NodeAttr {
                    ino,
                    kind: NodeKind::File,
                    size,
                    mtime: millis(ms),
                });
            }
        }
        if self.is_dir(path)? {
            return Ok(NodeAttr {
                ino,
                kind: NodeKind::Dir,
                size: 0,
                mtime: self.started,
            });
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

    /// The folder `ino`'s entries (without `.` and `..`), in key order.
    pub fn readdir(&self, ino: u64) -> ViewResult<Vec<DirEntry>> {
        let dir = self.path_of(ino)?;
        if !self.is_dir(&dir)? {
            return Err(ViewError::NotDir);
        }
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let listed: Vec<(String, u64, i64)> = self.with_index(|m| {
            m.range(prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&prefix))
                .map(|(k, (size, ms))| (k.clone(), *size, *ms))
                .collect()
        })?;
        let mut out: BTreeMap<String, NodeAttr> = BTreeMap::new();
        for (key, size, ms) in listed {
            let rest = &key[prefix.len()..];
            if rest.is_empty() {
                continue; // the folder's own marker
            }
            match rest.split_once('/') {
                Some((d, _)) => {
                    if d.is_empty() || out.contains_key(d) {
                        continue;
                    }
                    let path = join(&dir, d);
                    out.insert(
                        d.to_string(),
                        NodeAttr {
                            ino: self.ino_of(&path),
                            kind: NodeKind::Dir,
                            size: 0,
                            mtime: self.started,
                        },
                    );
                }
                None => {
                    out.insert(
                        rest.to_string(),
                        NodeAttr {
                            ino: self.ino_of(&key),
                            kind: NodeKind::File,
                            size,
                            mtime: millis(ms),
                        },
                    );
                }
            }
        }
        let pend: Vec<String> = self
            .pending
            .lock()
            .expect("pending")
            .keys()
            .filter(|k| k.starts_with(&prefix))
            .cloned()
            .collect();
        for k in pend {
            let rest = &k[prefix.len()..];
            let (name, kind) = match rest.split_once('/') {
                Some((d, _)) => (d.to_string(), NodeKind::Dir),
                None => (rest.to_string(), NodeKind::File),
            };
            if out.contains_key(&name) {
                continue;
            }
            let path = join(&dir, &name);
            let size = self.pending_len(&path).unwrap_or(0);
            out.insert(
                name,
                NodeAttr {
                    ino: self.ino_of(&path),
                    kind,
                    size,
                    mtime: SystemTime::now(),
                },
            );
        }
        Ok(out
            .into_iter()
            .map(|(name, attr)| DirEntry { name, attr })
            .collect())
    }

    fn add_handle(&self, h: Handle) -> u64 {
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        self.handles
            .lock()
            .expect("handles")
            .insert(fh, Arc::new(Mutex::new(h)));
        fh
    }

    fn handle(&self, fh: u64) -> ViewResult<Arc<Mutex<Handle>>> {
        self.handles
            .lock()
            .expect("handles")
            .get(&fh)
            .cloned()
            .ok_or(ViewError::BadHandle)
    }

    fn mark_pending(&self, path: &str) {
        *self
            .pending
            .lock()
            .expect("pending")
            .entry(path.to_string())
            .or_insert(0) += 1;
    }

    fn unmark_pending(&self, path: &str) {
        let mut p = self.pending.lock().expect("pending");
        if let Some(n) = p.get_mut(path) {
            *n -= 1;
            if *n == 0 {
                p.remove(path);
            }
        }
    }

    /// A spool holding the object's current content (empty if there is none).
    fn spool_of(&self, path: &str) -> ViewResult<Spool> {
        let mut s = Spool::new(&self.spool_dir)?;
        match self.svc.open_object(&self.bucket, path, None) {
            Ok(r) => {
                let mut buf = vec![0u8; r.segment_size().max(4096) as usize];
                let mut off = 0u64;
                loop {
                    let n = r.read_at(off, &mut buf)?;
                    if n == 0 {
                        break;
                    }
                    s.write_at(off, &buf[..n])?;
                    off += n as u64;
                }
            }
            Err(ObjectError::NoSuchKey { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(s)
    }

    /// Create `name` in `parent` and open it for writing; it shows at once and becomes an
    /// object (empty if nothing is written) at the first flush.
    pub fn create(&self, parent: u64, name: &OsStr) -> ViewResult<(NodeAttr, u64)> {
        let path = self.child(parent, name)?;
        if self.is_dir(&path)? {
            return Err(ViewError::IsDir);
        }
        let spool = Spool::new(&self.spool_dir)?;
        self.mark_pending(&path);
        let fh = self.add_handle(Handle {
            key: path.clone(),
            reader: None,
            spool: Some(spool),
            dirty: true,
            writer: true,
        });
        Ok((self.attr_of(&path)?, fh))
    }

    /// Open `ino`: for reading, the object as it is now; for writing, a spool of its
    /// content (empty with `O_TRUNC`) that the next flush PUTs whole.
    pub fn open(&self, ino: u64, flags: i32) -> ViewResult<u64> {
        let path = self.path_of(ino)?;
        let write = flags & libc::O_ACCMODE != libc::O_RDONLY;
        let trunc = flags & libc::O_TRUNC != 0;
        if self.attr_of(&path)?.kind == NodeKind::Dir {
            return Err(ViewError::IsDir);
        }
        let pending = self.pending_len(&path).is_some();
        if !write {
            let reader = if pending {
                None
            } else {
                Some(self.svc.open_object(&self.bucket, &path, None)?)
            };
            return Ok(self.add_handle(Handle {
                key: path,
                reader,
                // A file still being written reads as empty until its first PUT.
                spool: if pending {
                    Some(Spool::new(&self.spool_dir)?)
                } else {
                    None
                },
                dirty: false,
                writer: false,
            }));
        }
        let spool = if trunc || pending {
            Spool::new(&self.spool_dir)?
        } else {
            self.spool_of(&path)?
        };
        self.mark_pending(&path);
        Ok(self.add_handle(Handle {
            key: path,
            reader: None,
            spool: Some(spool),
            dirty: trunc || pending,
            writer: true,
        }))
    }

    pub fn read(&self, fh: u64, offset: u64, size: u32) -> ViewResult<Vec<u8>> {
        let h = self.handle(fh)?;
        let h = h.lock().expect("handle");
        let mut buf = vec![0u8; size as usize];
        let n = match (&h.spool, &h.reader) {
            (Some(s), _) => s.read_at(offset, &mut buf)?,
            (None, Some(r)) => r.read_at(offset, &mut buf)?,
            (None, None) => 0,
        };
        buf.truncate(n);
        Ok(buf)
    }

    pub fn write(&self, fh: u64, offset: u64, data: &[u8]) -> ViewResult<u32> {
        let h = self.handle(fh)?;
        let mut h = h.lock().expect("handle");
        if !h.writer {
            return Err(ViewError::BadHandle);
        }
        let s = h.spool.as_mut().ok_or(ViewError::BadHandle)?;
        s.write_at(offset, data)?;
        h.dirty = true;
        Ok(data.len() as u32)
    }

    /// PUT the handle's content if it changed (close() does this).
    pub fn flush(&self, fh: u64) -> ViewResult<()> {
        let h = self.handle(fh)?;
        let mut h = h.lock().expect("handle");
        if !h.dirty {
            return Ok(());
        }
        let s = h.spool.as_ref().ok_or(ViewError::BadHandle)?;
        self.svc
            .put_object(&self.bucket, &h.key, s.reader(), &PutOptions::default())
            .inspect(|i| self.indexed_put(i))?;
        h.dirty = false;
        Ok(())
    }

    /// Close the handle (PUT first if needed; an error there is returned, the handle goes).
    pub fn release(&self, fh: u64) -> ViewResult<()> {
        let r = self.flush(fh);
        let h = self.handles.lock().expect("handles").remove(&fh);
        if let Some(h) = h {
            let h = h.lock().expect("handle");
            if h.writer {
                self.unmark_pending(&h.key);
            }
        }
        r
    }

    /// Change the size (truncate): through the handle if there is one, else as a whole
    /// rewrite of the object.
    pub fn set_size(&self, ino: u64, size: u64, fh: Option<u64>) -> ViewResult<NodeAttr> {
        let path = self.path_of(ino)?;
        if let Some(fh) = fh {
            let h = self.handle(fh)?;
            let mut h = h.lock().expect("handle");
            let writer = h.writer;
            if let Some(s) = h.spool.as_mut().filter(|_| writer) {
                s.set_len(size)?;
                h.dirty = true;
                drop(h);
                return self.attr_of(&path);
            }
        }
        let mut s = self.spool_of(&path)?;
        s.set_len(size)?;
        self.svc
            .put_object(&self.bucket, &path, s.reader(), &PutOptions::default())
            .inspect(|i| self.indexed_put(i))?;
        self.attr_of(&path)
    }

    pub fn unlink(&self, parent: u64, name: &OsStr) -> ViewResult<()> {
        let path = self.child(parent, name)?;
        let existed = self.svc.delete_object(&self.bucket, &path)?;
        self.indexed_delete(&path);
        if !existed {
            if self.pending_len(&path).is_some() {
                return Ok(());
            }
            return Err(if self.is_dir(&path)? {
                ViewError::IsDir
            } else {
                ViewError::NotFound
            });
        }
        Ok(())
    }

    /// Make a folder: an empty `path/` object, as the S3 console does.
    pub fn mkdir(&self, parent: u64, name: &OsStr) -> ViewResult<NodeAttr> {
        let path = self.child(parent, name)?;
        if self.attr_of(&path).is_ok() {
            return Err(ViewError::Exists);
        }
        let info = self.svc.put_object(
            &self.bucket,
            &format!("{path}/"),
            std::io::empty(),
            &PutOptions::default(),
        )?;
        self.indexed_put(&info);
        self.attr_of(&path)
    }

    pub fn rmdir(&self, parent: u64, name: &OsStr) -> ViewResult<()> {
        let path = self.child(parent, name)?;
        let marker = format!("{path}/");
        let r = self.svc.list_objects(
            &self.bucket,
            &ListObjects {
                prefix: marker.clone(),
                max_keys: 2,
                ..Default::default()
            },
        )?;
        if r.contents.iter().any(|o| o.key != marker) || self.pending_under(&marker) {
            return Err(ViewError::NotEmpty);
        }
        if r.contents.is_empty() {
            return Err(if self.attr_of(&path).is_ok() {
                ViewError::NotDir
            } else {
                ViewError::NotFound
            });
        }
        self.svc.delete_object(&self.bucket, &marker)?;
        self.indexed_delete(&marker);
        Ok(())
    }

    fn pending_under(&self, prefix: &str) -> bool {
        self.pending
            .lock()
            .expect("pending")
            .keys()
            .any(|k| k.starts_with(prefix))
    }

    /// Rename: copy then delete (every key below, for a folder), as S3 tools do. With
    /// `no_replace` an existing target is refused.
    pub fn rename(
        &self,
        parent: u64,
        name: &OsStr,
        newparent: u64,
        newname: &OsStr,
        no_replace: bool,
    ) -> ViewResult<()> {
        let r = self.rename_keys(parent, name, newparent, newname, no_replace);
        // Many keys may have changed, even when a step failed: list again.
        self.reindex();
        r
    }

    fn rename_keys(
        &self,
        parent: u64,
        name: &OsStr,
        newparent: u64,
        newname: &OsStr,
        no_replace: bool,
    ) -> ViewResult<()> {
        let from = self.child(parent, name)?;
        let to = self.child(newparent, newname)?;
        let a = self.attr_of(&from)?;
        if no_replace && self.attr_of(&to).is_ok() {
            return Err(ViewError::Exists);
        }
        if self.pending_len(&from).is_some() {
            return Err(ViewError::NotSupported);
        }
        let opts = PutOptions::default();
        match a.kind {
            NodeKind::File => {
                if let Ok(t) = self.attr_of(&to)
                    && t.kind == NodeKind::Dir
                {
                    return Err(ViewError::IsDir);
                }
                self.svc
                    .copy_object(&self.bucket, &from, None, &self.bucket, &to, &opts)?;
                self.svc.delete_object(&self.bucket, &from)?;
            }
            NodeKind::Dir => {
                if self.pending_under(&format!("{from}/")) {
                    return Err(ViewError::NotSupported);
                }
                if let Ok(t) = self.attr_of(&to) {
                    if t.kind != NodeKind::Dir {
                        return Err(ViewError::NotDir);
                    }
                    if !self.readdir(t.ino)?.is_empty() {
                        return Err(ViewError::NotEmpty);
                    }
                }
                let src = format!("{from}/");
                let keys: Vec<String> = self.list_all(&src)?.into_iter().map(|o| o.key).collect();
                for k in &keys {
                    let dst = format!("{to}/{}", &k[src.len()..]);
                    self.svc
                        .copy_object(&self.bucket, k, None, &self.bucket, &dst, &opts)?;
                }
                for k in &keys {
                    self.svc.delete_object(&self.bucket, k)?;
                }
            }
        }
        // The old path's inode now names the new path.
        let mut t = self.inodes.lock().expect("inodes");
        if let Some(ino) = t.by_path.remove(&from) {
            t.by_path.remove(&to);
            t.by_path.insert(to.clone(), ino);
            t.by_ino.insert(ino, to);
        }
        Ok(())
    }
}
