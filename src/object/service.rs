//! The object service: [`ObjectService`] and the plumbing its operations share (the bucket's
//! files, the bucket lock, the KMS client). A plain Rust API: the CLI and the FUSE bucket
//! view sit on it. It acts as its own principal (`s3.amazonaws.com`) through `kms::Client`.
//!
//! The operations live beside it by family: `buckets` (create, list, delete, default
//! encryption), `put` (PUT, copy, DELETE), `get` (open, GET, HEAD, stat), `list`
//! (ListObjectsV2); how a data key is made, wrapped and unwrapped in each SSE mode is `sse`
//! and `bucket_key`.

use super::ObjectError;
use super::bucket::{self, BucketConfig, BucketPaths};
use super::bucket_key::cache::BucketKeyCache;
use super::format::DEFAULT_SEGMENT;
use super::reader::ObjectReader;
use crate::crypto::fill_random;
use crate::fsutil::{self, FileLock};
use crate::home::Home;
use crate::kms::Client;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

// The FUSE view shares one service and its readers between threads.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<ObjectService>();
    send_sync::<ObjectReader>();
};

/// The principal the object service acts as.
pub const S3_PRINCIPAL: &str = "s3.amazonaws.com";

/// Tunables of the service.
#[derive(Debug, Clone)]
pub struct ObjectOptions {
    /// How long a bucket key is used (for writing) and kept (for reading). Default 1 hour.
    pub bucket_key_ttl: Duration,
    /// Plaintext bytes per segment of new objects (1 KiB to 16 MiB). Default 64 KiB.
    pub segment_size: u32,
    /// How long to wait for a bucket lock held by another process.
    pub lock_timeout: Duration,
}

impl Default for ObjectOptions {
    fn default() -> Self {
        ObjectOptions {
            bucket_key_ttl: Duration::from_secs(3600),
            segment_size: DEFAULT_SEGMENT,
            lock_timeout: fsutil::lock_timeout(),
        }
    }
}

/// The object service of one home.
pub struct ObjectService {
    pub(crate) kms: Arc<dyn Client>,
    pub(crate) dir: PathBuf,
    pub(crate) partition: String,
    pub(crate) opts: ObjectOptions,
    pub(crate) cache: BucketKeyCache,
    /// Buckets whose leftover temp files (of PUTs whose process died) were swept.
    pub(crate) swept: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for ObjectService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ObjectService {{ dir: {} }}", self.dir.display())
    }
}

/// `N` random bytes.
pub(crate) fn random<const N: usize>() -> Result<[u8; N], ObjectError> {
    let mut b = [0u8; N];
    fill_random(&mut b)?;
    Ok(b)
}

/// `e` as `not_found()` when it is `NotFound`, else as an I/O error of `path`.
pub(crate) fn io_or(
    path: &Path,
    e: std::io::Error,
    not_found: impl FnOnce() -> ObjectError,
) -> ObjectError {
    if e.kind() == std::io::ErrorKind::NotFound {
        not_found()
    } else {
        ObjectError::io(path, e)
    }
}

/// `e`, unless it is an I/O error for a file that is not there: then the bucket is gone.
fn gone_bucket(bucket: &str, e: ObjectError) -> ObjectError {
    match e {
        ObjectError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            ObjectError::NoSuchBucket(bucket.to_string())
        }
        e => e,
    }
}

impl ObjectService {
    /// The service of `home`, acting through `kms` (a client for [`S3_PRINCIPAL`]).
    pub fn new(home: &Home, kms: Arc<dyn Client>) -> ObjectService {
        ObjectService::with_options(home, kms, ObjectOptions::default())
    }

    pub fn with_options(home: &Home, kms: Arc<dyn Client>, opts: ObjectOptions) -> ObjectService {
        ObjectService {
            kms,
            dir: home.buckets_dir(),
            partition: home.config().partition.clone(),
            cache: BucketKeyCache::new(opts.bucket_key_ttl),
            opts,
            swept: Default::default(),
        }
    }

    pub fn options(&self) -> &ObjectOptions {
        &self.opts
    }

    /// Forget every cached bucket key.
    pub fn clear_bucket_key_cache(&self) {
        self.cache.clear()
    }

    pub(crate) fn paths(&self, bucket: &str) -> BucketPaths {
        BucketPaths {
            dir: self.dir.join(bucket),
        }
    }

    /// The bucket's files, if the bucket exists.
    pub(crate) fn existing(
        &self,
        bucket: &str,
    ) -> Result<(BucketPaths, BucketConfig), ObjectError> {
        bucket::check_name(bucket).map_err(|_| ObjectError::NoSuchBucket(bucket.to_string()))?;
        let p = self.paths(bucket);
        let cfg = p.config();
        if !cfg.exists() {
            return Err(ObjectError::NoSuchBucket(bucket.to_string()));
        }
        let c = BucketConfig::read(&cfg).map_err(|e| gone_bucket(bucket, e))?;
        Ok((p, c))
    }

    /// Lock an existing bucket (shared, or `exclusive`), checking it still exists once held.
    pub(crate) fn lock(
        &self,
        bucket: &str,
        p: &BucketPaths,
        exclusive: bool,
    ) -> Result<FileLock, ObjectError> {
        let l = bucket::lock(bucket, &p.lock(), exclusive, self.opts.lock_timeout)
            .map_err(|e| gone_bucket(bucket, e))?;
        // The bucket may have been deleted while we waited.
        if !p.config().exists() {
            return Err(ObjectError::NoSuchBucket(bucket.to_string()));
        }
        Ok(l)
    }

    /// Mark an existing bucket mounted until the lock drops: `delete_bucket` is refused
    /// meanwhile. Any number of mounts may hold it.
    pub(crate) fn hold_mounted(&self, bucket: &str) -> Result<FileLock, ObjectError> {
        let (p, _) = self.existing(bucket)?;
        let l = bucket::lock(bucket, &p.mount_lock(), false, self.opts.lock_timeout)
            .map_err(|e| gone_bucket(bucket, e))?;
        // The bucket may have been deleted while we waited.
        if !p.config().exists() {
            return Err(ObjectError::NoSuchBucket(bucket.to_string()));
        }
        Ok(l)
    }

    /// The object files of a bucket (not the temp files of PUTs under way).
    pub(crate) fn object_files(
        &self,
        p: &BucketPaths,
    ) -> Result<impl Iterator<Item = PathBuf> + use<>, ObjectError> {
        let dir = p.objects();
        let rd = match std::fs::read_dir(&dir) {
            Ok(r) => Some(r),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(ObjectError::io(&dir, e)),
        };
        Ok(rd.into_iter().flatten().filter_map(|e| {
            let e = e.ok()?;
            let n = e.file_name();
            let n = n.to_str()?;
            (n.len() == 64 && !n.starts_with('.')).then(|| e.path())
        }))
    }
}

/// Object files' paths, for tests and tools that look at the bytes.
pub fn object_path(home: &Path, bucket: &str, key: &str) -> PathBuf {
    BucketPaths {
        dir: crate::home::Layout::new(home).buckets_dir().join(bucket),
    }
    .object(key)
}
