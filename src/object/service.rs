//! The object service: buckets (create, list, delete, default encryption) and objects (put,
//! get, ranged get, head, list, delete, copy, random-access readers). A plain Rust API: the
//! CLI and the FUSE bucket view sit on it. It acts as its own principal
//! (`s3.amazonaws.com`) through `kms::Client`.
//!
//! PUT streams the body through in segment-sized pieces into a temp file in the bucket's
//! `objects/` directory, writes the header last, fsyncs, renames over the object and fsyncs
//! the directory: readers see the old object or the new one, and the last rename wins. GET
//! authenticates the header, then each segment before writing any of its bytes.

use super::ObjectError;
use super::bucket::{self, BucketConfig, BucketEncryption, BucketInfo, BucketLock, BucketPaths};
use super::bucket_key::{BucketKey, BucketKeyCache};
use super::format::{
    self, DEFAULT_SEGMENT, FIXED_LEN, Header, LocalWrap, MAX_CONTENT, ObjectKeys, Record, Sse,
    SseCCheck,
};
use crate::crypto::{SecretBytes, SecretKey, TAG_LEN, fill_random, hex, sha256};
use crate::fsutil;
use crate::home::Home;
use crate::kms::types::{DecryptRequest, GenerateDataKeyRequest, KeyIdRequest, b64};
use crate::kms::{Client, EncryptionContext, KmsError};
use crate::timefmt::now_ms;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
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
/// The AWS-managed key of SSE-S3 (and of SSE-KMS without a key id).
pub const DEFAULT_KEY_ALIAS: &str = "alias/aws/s3";

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

/// A caller's SSE-C key (256 bits). Zeroized on drop; `Debug` shows nothing of it.
#[derive(Clone)]
pub struct SseCustomerKey(SecretKey);

impl std::fmt::Debug for SseCustomerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SseCustomerKey(<redacted>)")
    }
}

impl SseCustomerKey {
    /// Exactly 32 bytes, else `InvalidArgument`.
    pub fn from_bytes(b: &[u8]) -> Result<SseCustomerKey, ObjectError> {
        SecretKey::from_slice(b).map(SseCustomerKey).ok_or_else(|| {
            ObjectError::InvalidArgument(format!(
                "the SSE-C key is {} bytes; it must be 256 bits (32 bytes)",
                b.len()
            ))
        })
    }

    pub fn secret(&self) -> &SecretKey {
        &self.0
    }

    /// Base64 of the key's MD5, as S3 shows it (`SSECustomerKeyMD5`).
    pub fn key_md5(&self) -> String {
        use md5::Digest;
        b64::encode(&md5::Md5::digest(self.0.expose()))
    }
}

/// Options of a PUT (and of the destination of a copy).
#[derive(Debug, Clone, Default)]
pub struct PutOptions {
    /// `AES256` or `aws:kms`; `None` takes the bucket's default. Not with `sse_c`.
    pub sse: Option<Sse>,
    /// With `aws:kms`: the key (id, ARN or alias); default the bucket's, else `alias/aws/s3`.
    pub kms_key_id: Option<String>,
    /// With `aws:kms`: added to `{"aws:s3:arn": ...}`.
    pub encryption_context: EncryptionContext,
    /// SSE-C: encrypt under this key (which is not stored).
    pub sse_c: Option<SseCustomerKey>,
    /// With `aws:kms`: use a bucket key; `None` takes the bucket's setting.
    pub bucket_key_enabled: Option<bool>,
}

/// An object as PUT, GET and HEAD report it (S3's field names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ObjectInfo {
    pub bucket: String,
    pub key: String,
    /// Bytes of the object (of the range, for a ranged GET).
    pub content_length: u64,
    /// `bytes a-b/total` for a ranged GET.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub content_range: Option<String>,
    /// The whole object's length.
    #[serde(skip)]
    pub size: u64,
    #[serde(rename = "ETag")]
    pub etag: String,
    pub last_modified: String,
    #[serde(skip)]
    pub last_modified_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub server_side_encryption: Option<String>,
    #[serde(
        rename = "SSEKMSKeyId",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub ssekms_key_id: Option<String>,
    /// Base64 of the caller's encryption context as JSON (when there is one).
    #[serde(
        rename = "SSEKMSEncryptionContext",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub ssekms_encryption_context: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub bucket_key_enabled: Option<bool>,
    #[serde(
        rename = "SSECustomerAlgorithm",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub sse_customer_algorithm: Option<String>,
    #[serde(
        rename = "SSECustomerKeyMD5",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub sse_customer_key_md5: Option<String>,
}

/// An entry of a listing (no key needed to produce it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ObjectSummary {
    pub key: String,
    pub last_modified: String,
    #[serde(skip)]
    pub last_modified_ms: i64,
    #[serde(rename = "ETag")]
    pub etag: String,
    pub size: u64,
    pub storage_class: String,
    /// `AES256`, `aws:kms` or `SSE-C` (not an S3 list field; kmsfs adds it).
    pub server_side_encryption: String,
}

/// A listing request (ListObjectsV2).
#[derive(Debug, Clone)]
pub struct ListObjects {
    pub prefix: String,
    /// Group keys by the part after the prefix up to this (e.g. `/`) into CommonPrefixes.
    pub delimiter: Option<String>,
    /// Start after this key (or the continuation token a truncated listing returned).
    pub start_after: Option<String>,
    /// At most this many keys and common prefixes (S3's default 1000).
    pub max_keys: usize,
}

impl Default for ListObjects {
    fn default() -> Self {
        ListObjects {
            prefix: String::new(),
            delimiter: None,
            start_after: None,
            max_keys: 1000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CommonPrefix {
    pub prefix: String,
}

/// A listing (ListObjectsV2's shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListObjectsResult {
    pub name: String,
    pub prefix: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub delimiter: Option<String>,
    pub max_keys: usize,
    pub key_count: usize,
    pub is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub next_continuation_token: Option<String>,
    pub contents: Vec<ObjectSummary>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub common_prefixes: Vec<CommonPrefix>,
}

/// A byte range of a GET, as S3's `Range: bytes=...` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=a-b` (b inclusive; clamped to the object).
    FromTo(u64, u64),
    /// `bytes=a-`.
    From(u64),
    /// `bytes=-n`: the last n bytes.
    Suffix(u64),
}

impl ByteRange {
    /// Parse `bytes=a-b`, `bytes=a-` or `bytes=-n`.
    ///
    /// ```
    /// use kmsfs::object::ByteRange;
    /// assert_eq!(ByteRange::parse("bytes=0-1023").unwrap(), ByteRange::FromTo(0, 1023));
    /// assert_eq!(ByteRange::parse("bytes=10-").unwrap(), ByteRange::From(10));
    /// assert_eq!(ByteRange::parse("bytes=-5").unwrap(), ByteRange::Suffix(5));
    /// assert!(ByteRange::parse("bytes=5-1").is_err());
    /// assert!(ByteRange::parse("items=0-1").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<ByteRange, ObjectError> {
        let bad = || {
            ObjectError::InvalidRange(format!(
                "'{s}' is not bytes=FIRST-LAST, bytes=FIRST- or bytes=-SUFFIX"
            ))
        };
        let spec = s.trim().strip_prefix("bytes=").ok_or_else(bad)?;
        let (a, b) = spec.split_once('-').ok_or_else(bad)?;
        let num = |x: &str| x.trim().parse::<u64>().map_err(|_| bad());
        match (a.trim().is_empty(), b.trim().is_empty()) {
            (true, false) => Ok(ByteRange::Suffix(num(b)?)),
            (false, true) => Ok(ByteRange::From(num(a)?)),
            (false, false) => {
                let (a, b) = (num(a)?, num(b)?);
                if b < a {
                    return Err(bad());
                }
                Ok(ByteRange::FromTo(a, b))
            }
            (true, true) => Err(bad()),
        }
    }

    /// The inclusive byte span of this range in an object of `len` bytes.
    pub fn resolve(self, len: u64) -> Result<(u64, u64), ObjectError> {
        let unsatisfiable = || {
            ObjectError::InvalidRange(format!(
                "the requested range is not satisfiable (the object is {len} bytes)"
            ))
        };
        if len == 0 {
            return Err(unsatisfiable());
        }
        match self {
            ByteRange::FromTo(a, b) if a < len => Ok((a, b.min(len - 1))),
            ByteRange::From(a) if a < len => Ok((a, len - 1)),
            ByteRange::Suffix(n) if n > 0 => Ok((len - n.min(len), len - 1)),
            _ => Err(unsatisfiable()),
        }
    }
}

/// The object service of one home.
pub struct ObjectService {
    kms: Arc<dyn Client>,
    dir: PathBuf,
    partition: String,
    opts: ObjectOptions,
    cache: BucketKeyCache,
    /// Buckets whose leftover temp files (of PUTs whose process died) were swept.
    swept: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl std::fmt::Debug for ObjectService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ObjectService {{ dir: {} }}", self.dir.display())
    }
}

fn random<const N: usize>() -> Result<[u8; N], ObjectError> {
    let mut b = [0u8; N];
    fill_random(&mut b)?;
    Ok(b)
}

fn etag(md5: &[u8; 16]) -> String {
    format!("\"{}\"", hex(md5))
}

/// The bucket-key file: which KMS key made it and its blob.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BucketKeyFile {
    kms_key_arn: String,
    #[serde(with = "b64")]
    ciphertext_blob: Vec<u8>,
    created_ms: i64,
}

fn bucket_key_id(blob: &[u8]) -> [u8; 16] {
    sha256(blob)[..16].try_into().expect("16 bytes")
}

impl ObjectService {
    /// The service of `home`, acting through `kms` (a client for [`S3_PRINCIPAL`]).
    pub fn new(home: &Home, kms: Arc<dyn Client>) -> ObjectService {
        ObjectService::with_options(home, kms, ObjectOptions::default())
    }

    pub fn with_options(home: &Home, kms: Arc<dyn Client>, opts: ObjectOptions) -> ObjectService {
        ObjectService {
            kms,
            dir: home.root().join("buckets"),
            partition: home.config().partition.clone(),
            cache: BucketKeyCache::new(opts.bucket_key_ttl),
            opts,
            swept: Default::default(),
        }
    }

    /// Once per bucket and process: remove `objects/.tmp.<pid>.*` files of PUTs whose
    /// process is gone (a crash between create and rename). A live PUT's pid is alive, so its
    /// file stays; listings never show temp files either way.
    fn sweep_temp_files(&self, bucket: &str, p: &BucketPaths) {
        if !self.swept.lock().expect("swept").insert(bucket.to_string()) {
            return;
        }
        let Ok(rd) = std::fs::read_dir(p.objects()) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(pid) = name
                .to_str()
                .and_then(|n| n.strip_prefix(".tmp."))
                .and_then(|n| n.split('.').next())
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            let gone = pid <= 0
                || nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
                    == Err(nix::errno::Errno::ESRCH);
            if gone {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    pub fn options(&self) -> &ObjectOptions {
        &self.opts
    }

    /// Forget every cached bucket key.
    pub fn clear_bucket_key_cache(&self) {
        self.cache.clear()
    }

    fn paths(&self, bucket: &str) -> BucketPaths {
        BucketPaths {
            dir: self.dir.join(bucket),
        }
    }

    /// The bucket's files, if the bucket exists.
    fn existing(&self, bucket: &str) -> Result<(BucketPaths, BucketConfig), ObjectError> {
        bucket::check_name(bucket).map_err(|_| ObjectError::NoSuchBucket(bucket.to_string()))?;
        let p = self.paths(bucket);
        let cfg = p.config();
        if !cfg.exists() {
            return Err(ObjectError::NoSuchBucket(bucket.to_string()));
        }
        let c = BucketConfig::read(&cfg).map_err(|e| match e {
            ObjectError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                ObjectError::NoSuchBucket(bucket.to_string())
            }
            e => e,
        })?;
        Ok((p, c))
    }

    fn lock(
        &self,
        bucket: &str,
        p: &BucketPaths,
        exclusive: bool,
    ) -> Result<BucketLock, ObjectError> {
        let l = BucketLock::acquire(bucket, &p.lock(), exclusive, self.opts.lock_timeout).map_err(
            |e| match e {
                ObjectError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                    ObjectError::NoSuchBucket(bucket.to_string())
                }
                e => e,
            },
        )?;
        // The bucket may have been deleted while we waited.
        if !p.config().exists() {
            return Err(ObjectError::NoSuchBucket(bucket.to_string()));
        }
        Ok(l)
    }

    // ---- buckets -------------------------------------------------------------------------

    /// Create a bucket with S3's default encryption (SSE-S3).
    pub fn create_bucket(&self, name: &str) -> Result<BucketInfo, ObjectError> {
        bucket::check_name(name)?;
        fsutil::create_dir_durable(&self.dir, 0o700).map_err(|e| ObjectError::io(&self.dir, e))?;
        let p = self.paths(name);
        match std::fs::DirBuilder::new().create(&p.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(ObjectError::io(&p.dir, e)),
        }
        let _l = BucketLock::acquire(name, &p.lock(), true, self.opts.lock_timeout)?;
        if p.config().exists() {
            return Err(ObjectError::BucketAlreadyOwnedByYou(name.to_string()));
        }
        for d in [p.objects(), p.bucket_keys()] {
            fsutil::create_dir_durable(&d, 0o700).map_err(|e| ObjectError::io(&d, e))?;
        }
        let c = BucketConfig {
            format: 1,
            name: name.to_string(),
            creation_date_ms: now_ms(),
            encryption: BucketEncryption::default(),
        };
        c.write(&p.config())?;
        fsutil::fsync_dir(&self.dir).map_err(|e| ObjectError::io(&self.dir, e))?;
        Ok(c.info())
    }

    /// Every bucket, by name.
    pub fn list_buckets(&self) -> Result<Vec<BucketInfo>, ObjectError> {
        let rd = match std::fs::read_dir(&self.dir) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(ObjectError::io(&self.dir, e)),
        };
        let mut names: Vec<String> = rd
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| bucket::check_name(n).is_ok())
            .collect();
        names.sort();
        let mut out = Vec::new();
        for n in names {
            match self.existing(&n) {
                Ok((_, c)) => out.push(c.info()),
                Err(ObjectError::NoSuchBucket(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Delete a bucket: refused while it holds objects unless `force` (which deletes them).
    pub fn delete_bucket(&self, name: &str, force: bool) -> Result<(), ObjectError> {
        let (p, _) = self.existing(name)?;
        let _l = self.lock(name, &p, true)?;
        if !force && self.object_files(&p)?.next().is_some() {
            return Err(ObjectError::BucketNotEmpty(name.to_string()));
        }
        // bucket.json goes first: from then on the bucket does not exist.
        fsutil::durable_remove(&p.config()).map_err(|e| ObjectError::io(p.config(), e))?;
        std::fs::remove_dir_all(&p.dir).map_err(|e| ObjectError::io(&p.dir, e))?;
        fsutil::fsync_dir(&self.dir).map_err(|e| ObjectError::io(&self.dir, e))
    }

    /// Set a bucket's default encryption. A KMS key given is checked (DescribeKey) and
    /// stored as given.
    pub fn put_bucket_encryption(
        &self,
        name: &str,
        enc: &BucketEncryption,
    ) -> Result<BucketEncryption, ObjectError> {
        let (p, _) = self.existing(name)?;
        match (enc.sse_algorithm, &enc.kms_master_key_id) {
            (Sse::Customer, _) => {
                return Err(ObjectError::InvalidArgument(
                    "SSE-C cannot be a bucket's default encryption".into(),
                ));
            }
            (Sse::Aes256, Some(_)) => {
                return Err(ObjectError::InvalidArgument(
                    "a KMS key id needs the aws:kms algorithm".into(),
                ));
            }
            (Sse::Kms, Some(k)) if !k.starts_with("alias/aws/") => {
                self.kms
                    .describe_key(KeyIdRequest {
                        key_id: k.clone(),
                        grant_tokens: None,
                    })
                    .map_err(|e| ObjectError::Kms {
                        what: format!("bucket {name}"),
                        key: k.clone(),
                        source: e,
                    })?;
            }
            _ => {}
        }
        let _l = self.lock(name, &p, true)?;
        let mut c = BucketConfig::read(&p.config())?;
        c.encryption = enc.clone();
        if c.encryption.sse_algorithm != Sse::Kms {
            c.encryption.bucket_key_enabled = false;
        }
        c.write(&p.config())?;
        Ok(c.encryption)
    }

    pub fn get_bucket_encryption(&self, name: &str) -> Result<BucketEncryption, ObjectError> {
        Ok(self.existing(name)?.1.encryption)
    }

    // ---- put -----------------------------------------------------------------------------

    /// Store `body` as `bucket/key` (replacing any object there). Streams in segment-sized
    /// pieces: memory use does not depend on the object's size.
    pub fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: impl Read,
        opts: &PutOptions,
    ) -> Result<ObjectInfo, ObjectError> {
        bucket::check_key(key)?;
        let (p, cfg) = self.existing(bucket)?;
        let plan = plan(&cfg.encryption, opts)?;
        let _l = self.lock(bucket, &p, false)?;
        self.sweep_temp_files(bucket, &p);
        let arn = format::s3_arn(&self.partition, bucket, Some(key));
        let ctx = format::object_context(&arn, &plan.context);
        let what = || format!("object {bucket}/{key}");

        // The data key and how it is kept.
        let (data_key, record) = match plan.sse {
            Sse::Customer => {
                let ck = opts.sse_c.as_ref().expect("planned from sse_c");
                let dk = SecretKey::random()?;
                let wrapped =
                    format::wrap_local(ck.secret(), LocalWrap::Customer, &ctx, &dk, random()?)?;
                let salt = random::<16>()?;
                let check = SseCCheck {
                    salt,
                    hmac: format::sse_c_hmac(ck.secret(), &salt),
                };
                (
                    dk,
                    Record {
                        bucket: bucket.into(),
                        key: key.into(),
                        kms_key_arn: None,
                        context: Default::default(),
                        bucket_key_id: None,
                        wrapped_key: wrapped,
                        sse_c: Some(check),
                    },
                )
            }
            Sse::Kms if plan.bucket_key => {
                let bk = self.bucket_key_for_write(&p, bucket, &plan.kms_key_id)?;
                let dk = SecretKey::random()?;
                let wrapped =
                    format::wrap_local(&bk.key, LocalWrap::BucketKey, &ctx, &dk, random()?)?;
                (
                    dk,
                    Record {
                        bucket: bucket.into(),
                        key: key.into(),
                        kms_key_arn: Some(bk.kms_key_arn),
                        context: plan.context.clone(),
                        bucket_key_id: Some(bk.id),
                        wrapped_key: wrapped,
                        sse_c: None,
                    },
                )
            }
            Sse::Aes256 | Sse::Kms => {
                let r = self
                    .kms
                    .generate_data_key(GenerateDataKeyRequest {
                        key_id: plan.kms_key_id.clone(),
                        encryption_context: Some(ctx.clone()),
                        key_spec: Some("AES_256".into()),
                        ..Default::default()
                    })
                    .map_err(|e| ObjectError::Kms {
                        what: what(),
                        key: plan.kms_key_id.clone(),
                        source: e,
                    })?;
                let dk = SecretKey::from_slice(r.plaintext.expose()).ok_or_else(|| {
                    ObjectError::Internal("KMS returned a data key that is not 32 bytes".into())
                })?;
                (
                    dk,
                    Record {
                        bucket: bucket.into(),
                        key: key.into(),
                        kms_key_arn: Some(r.key_id),
                        context: plan.context.clone(),
                        bucket_key_id: None,
                        wrapped_key: r.ciphertext_blob,
                        sse_c: None,
                    },
                )
            }
        };
        let mut header = Header {
            sse: plan.sse,
            segment_size: self.opts.segment_size,
            content_length: 0,
            salt: random()?,
            etag: [0; 16],
            last_modified_ms: now_ms(),
            record,
        };
        let keys = ObjectKeys::derive(&data_key, &header.salt);
        drop(data_key);
        let hlen = header.len();
        let aad = format::segment_aad(&sha256(&header.record_bytes()));

        let objects = p.objects();
        let tmp = objects.join(format!(
            ".tmp.{}.{}",
            std::process::id(),
            hex(&random::<8>()?)
        ));
        let result = (|| -> Result<(), ObjectError> {
            let f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(|e| ObjectError::io(&tmp, e))?;
            let mut w = std::io::BufWriter::with_capacity(256 * 1024, &f);
            w.write_all(&vec![0u8; hlen])
                .map_err(|e| ObjectError::io(&tmp, e))?;
            let (len, md5) = stream_segments(
                body,
                &keys,
                &aad,
                self.opts.segment_size as usize,
                plan.sse == Sse::Aes256,
                &mut w,
            )
            .map_err(|e| match e {
                StreamError::Read(e) => ObjectError::Stream {
                    what: "reading the object body",
                    source: e,
                },
                StreamError::Write(e) => ObjectError::io(&tmp, e),
                StreamError::Object(e) => e,
            })?;
            w.flush().map_err(|e| ObjectError::io(&tmp, e))?;
            drop(w);
            header.content_length = len;
            header.etag = md5;
            let hb = header.encode(&keys);
            debug_assert_eq!(hb.len(), hlen);
            f.write_all_at(&hb, 0)
                .map_err(|e| ObjectError::io(&tmp, e))?;
            f.sync_all().map_err(|e| ObjectError::io(&tmp, e))?;
            let dst = p.object(key);
            std::fs::rename(&tmp, &dst).map_err(|e| ObjectError::io(&dst, e))?;
            fsutil::fsync_dir(&objects).map_err(|e| ObjectError::io(&objects, e))
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(info(&header, opts.sse_c.as_ref().map(|k| k.key_md5())))
    }

    /// The current bucket key of `bucket` under `kms_key_id`: cached, or a new one from KMS
    /// whose blob is stored in `bucket-keys/` before it is used.
    fn bucket_key_for_write(
        &self,
        p: &BucketPaths,
        bucket: &str,
        kms_key_id: &str,
    ) -> Result<BucketKey, ObjectError> {
        self.cache.current(bucket, kms_key_id, || {
            let ctx: EncryptionContext = [(
                format::ARN_CONTEXT_KEY.to_string(),
                format::s3_arn(&self.partition, bucket, None),
            )]
            .into();
            let r = self
                .kms
                .generate_data_key(GenerateDataKeyRequest {
                    key_id: kms_key_id.to_string(),
                    encryption_context: Some(ctx),
                    key_spec: Some("AES_256".into()),
                    ..Default::default()
                })
                .map_err(|e| ObjectError::Kms {
                    what: format!("the bucket key of {bucket}"),
                    key: kms_key_id.to_string(),
                    source: e,
                })?;
            let key = SecretKey::from_slice(r.plaintext.expose()).ok_or_else(|| {
                ObjectError::Internal("KMS returned a bucket key that is not 32 bytes".into())
            })?;
            let id = bucket_key_id(&r.ciphertext_blob);
            let file = BucketKeyFile {
                kms_key_arn: r.key_id.clone(),
                ciphertext_blob: r.ciphertext_blob,
                created_ms: now_ms(),
            };
            let dir = p.bucket_keys();
            fsutil::create_dir_durable(&dir, 0o700).map_err(|e| ObjectError::io(&dir, e))?;
            let path = dir.join(hex(&id));
            fsutil::atomic_write(
                &path,
                &serde_json::to_vec_pretty(&file).expect("serializes"),
                0o600,
            )
            .map_err(|e| ObjectError::io(&path, e))?;
            Ok(BucketKey {
                id,
                kms_key_arn: r.key_id,
                key,
            })
        })
    }

    /// A bucket key for reading: cached, or its blob decrypted by KMS.
    fn bucket_key_for_read(
        &self,
        p: &BucketPaths,
        bucket: &str,
        id: &[u8; 16],
        object: &str,
    ) -> Result<SecretKey, ObjectError> {
        if let Some(k) = self.cache.get_for_read(id) {
            return Ok(k);
        }
        let path = p.bucket_keys().join(hex(id));
        let b = std::fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ObjectError::damaged(&path, format!("the bucket key of {object} is missing"))
            } else {
                ObjectError::io(&path, e)
            }
        })?;
        let f: BucketKeyFile = serde_json::from_slice(&b)
            .map_err(|e| ObjectError::damaged(&path, format!("bucket key file: {e}")))?;
        if bucket_key_id(&f.ciphertext_blob) != *id {
            return Err(ObjectError::damaged(
                &path,
                "the bucket key's blob does not match its id",
            ));
        }
        let ctx: EncryptionContext = [(
            format::ARN_CONTEXT_KEY.to_string(),
            format::s3_arn(&self.partition, bucket, None),
        )]
        .into();
        let r = self
            .kms
            .decrypt(DecryptRequest {
                ciphertext_blob: f.ciphertext_blob,
                encryption_context: Some(ctx),
                key_id: Some(f.kms_key_arn.clone()),
                ..Default::default()
            })
            .map_err(|e| ObjectError::Kms {
                what: format!("object {object} (through the bucket key of {bucket})"),
                key: f.kms_key_arn.clone(),
                source: e,
            })?;
        let k = SecretKey::from_slice(r.plaintext.expose())
            .ok_or_else(|| ObjectError::damaged(&path, "the bucket key is not 32 bytes"))?;
        self.cache.insert_for_read(*id, k.clone());
        Ok(k)
    }

    // ---- read ----------------------------------------------------------------------------

    /// Read and parse an object's header (no key needed, nothing authenticated yet).
    fn read_header(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<(BucketPaths, PathBuf, File, Header, Vec<u8>), ObjectError> {
        bucket::check_key(key)?;
        let (p, _) = self.existing(bucket)?;
        let path = p.object(key);
        let f = File::open(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ObjectError::NoSuchKey {
                    bucket: bucket.into(),
                    key: key.into(),
                }
            } else {
                ObjectError::io(&path, e)
            }
        })?;
        let (h, hb) = read_header_from(&f).map_err(|why| ObjectError::damaged(&path, why))?;
        if h.record.bucket != bucket || h.record.key != key {
            return Err(ObjectError::damaged(
                &path,
                format!(
                    "the file holds {}/{} (moved or swapped)",
                    h.record.bucket, h.record.key
                ),
            ));
        }
        Ok((p, path, f, h, hb))
    }

    /// Open an object for reading: unwraps its data key (KMS, a bucket key or the SSE-C
    /// key), authenticates the header and checks the file's length. The reader keeps the
    /// version it opened even if the object is replaced; it is `Send + Sync` and cheap to
    /// read from at any offset ([`ObjectReader::read_at`]).
    pub fn open_object(
        &self,
        bucket: &str,
        key: &str,
        sse_c: Option<&SseCustomerKey>,
    ) -> Result<ObjectReader, ObjectError> {
        let (p, path, file, h, hb) = self.read_header(bucket, key)?;
        let object = format!("{bucket}/{key}");
        let arn = format::s3_arn(&self.partition, bucket, Some(key));
        let ctx = format::object_context(&arn, &h.record.context);
        let undecryptable = |why: &str| {
            ObjectError::damaged(
                &path,
                format!(
                    "the data key does not unwrap ({why}): damaged, or swapped from another object"
                ),
            )
        };
        let md5 = match (&h.record.sse_c, sse_c) {
            (Some(_), None) => {
                return Err(ObjectError::InvalidRequest(format!(
                    "the object {object} is stored with SSE-C: the request must give its key (--sse-c-key)"
                )));
            }
            (None, Some(_)) => {
                return Err(ObjectError::InvalidRequest(format!(
                    "the object {object} is not stored with SSE-C: the SSE-C key is not applicable"
                )));
            }
            (Some(check), Some(k)) => {
                if !crate::crypto::secret_eq(
                    &format::sse_c_hmac(k.secret(), &check.salt),
                    &check.hmac,
                ) {
                    // A key that still unwraps the data key is the right one: the check
                    // itself was changed.
                    if format::unwrap_local(
                        k.secret(),
                        LocalWrap::Customer,
                        &ctx,
                        &h.record.wrapped_key,
                    )
                    .is_ok()
                    {
                        return Err(ObjectError::damaged(
                            &path,
                            "the SSE-C key check does not match a key that unwraps the data key (the record was changed)",
                        ));
                    }
                    return Err(ObjectError::AccessDenied(format!(
                        "the SSE-C key does not match the key the object {object} was stored with"
                    )));
                }
                Some(k.key_md5())
            }
            (None, None) => None,
        };
        let data_key = if let Some(k) = sse_c {
            format::unwrap_local(k.secret(), LocalWrap::Customer, &ctx, &h.record.wrapped_key)
                .map_err(|_| undecryptable("SSE-C"))?
        } else if let Some(id) = &h.record.bucket_key_id {
            let bk = self.bucket_key_for_read(&p, bucket, id, &object)?;
            format::unwrap_local(&bk, LocalWrap::BucketKey, &ctx, &h.record.wrapped_key)
                .map_err(|_| undecryptable("bucket key"))?
        } else {
            let kms_key = h.record.kms_key_arn.clone().unwrap_or_default();
            let r = self
                .kms
                .decrypt(DecryptRequest {
                    ciphertext_blob: h.record.wrapped_key.clone(),
                    encryption_context: Some(ctx),
                    key_id: Some(kms_key.clone()),
                    ..Default::default()
                })
                .map_err(|e| match e {
                    KmsError::InvalidCiphertext(m) => {
                        undecryptable(&format!("KMS: InvalidCiphertextException: {m}"))
                    }
                    e => ObjectError::Kms {
                        what: format!("object {object}"),
                        key: kms_key,
                        source: e,
                    },
                })?;
            SecretKey::from_slice(r.plaintext.expose())
                .ok_or_else(|| undecryptable("not 32 bytes"))?
        };
        let keys = ObjectKeys::derive(&data_key, &h.salt);
        drop(data_key);
        keys.verify_header(&hb)
            .map_err(|e| ObjectError::damaged(&path, e.0))?;
        let data_off = hb.len() as u64;
        let flen = file
            .metadata()
            .map_err(|e| ObjectError::io(&path, e))?
            .len();
        if flen != data_off + h.sealed_len() {
            return Err(ObjectError::damaged(
                &path,
                format!(
                    "the file is {flen} bytes; a {}-byte object takes {} (truncated or extended)",
                    h.content_length,
                    data_off + h.sealed_len()
                ),
            ));
        }
        let aad = format::segment_aad(
            &Header::record_hash(&hb).map_err(|e| ObjectError::damaged(&path, e.0))?,
        );
        Ok(ObjectReader {
            info: info(&h, md5),
            file,
            path,
            header: h,
            data_off,
            keys,
            aad,
            cache: Mutex::new(None),
        })
    }

    /// GET: write the object (or `range` of it) to `out`. Each segment is authenticated
    /// before any of its bytes are written; if one fails, the error says so and what was
    /// written before it is the object's true prefix (callers writing a file should write
    /// to a temp file and rename on success, as the CLI does).
    pub fn get_object(
        &self,
        bucket: &str,
        key: &str,
        range: Option<ByteRange>,
        sse_c: Option<&SseCustomerKey>,
        out: impl Write,
    ) -> Result<ObjectInfo, ObjectError> {
        let r = self.open_object(bucket, key, sse_c)?;
        let len = r.len();
        let mut info = r.info().clone();
        let (a, b) = match range {
            Some(rg) => {
                let (a, b) = rg.resolve(len)?;
                info.content_range = Some(format!("bytes {a}-{b}/{len}"));
                (a, b + 1)
            }
            None => (0, len),
        };
        info.content_length = b - a;
        r.copy_range(a, b, out)?;
        Ok(info)
    }

    /// HEAD: an object's metadata. For an SSE-C object the key must be given (as S3
    /// requires) and match; nothing else needs a key or KMS.
    pub fn head_object(
        &self,
        bucket: &str,
        key: &str,
        sse_c: Option<&SseCustomerKey>,
    ) -> Result<ObjectInfo, ObjectError> {
        let (_, _, _, h, _) = self.read_header(bucket, key)?;
        let object = format!("{bucket}/{key}");
        let md5 = match (&h.record.sse_c, sse_c) {
            (Some(_), None) => {
                return Err(ObjectError::InvalidRequest(format!(
                    "the object {object} is stored with SSE-C: the request must give its key (--sse-c-key)"
                )));
            }
            (None, Some(_)) => {
                return Err(ObjectError::InvalidRequest(format!(
                    "the object {object} is not stored with SSE-C: the SSE-C key is not applicable"
                )));
            }
            (Some(check), Some(k)) => {
                if !crate::crypto::secret_eq(
                    &format::sse_c_hmac(k.secret(), &check.salt),
                    &check.hmac,
                ) {
                    return Err(ObjectError::AccessDenied(format!(
                        "the SSE-C key does not match the key the object {object} was stored with"
                    )));
                }
                Some(k.key_md5())
            }
            (None, None) => None,
        };
        Ok(info(&h, md5))
    }

    /// An object's size, ETag and time without any key, even for SSE-C (for listings and
    /// the FUSE view's getattr). Not authenticated.
    pub fn stat_object(&self, bucket: &str, key: &str) -> Result<ObjectSummary, ObjectError> {
        let (_, _, _, h, _) = self.read_header(bucket, key)?;
        Ok(summary(&h))
    }

    fn object_files(
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

    /// List objects (ListObjectsV2): keys in byte order, filtered by prefix, grouped by a
    /// delimiter, paged by `start_after` / `max_keys`. Reads each object's header; files
    /// that do not parse or are not where their key says are skipped.
    pub fn list_objects(
        &self,
        bucket: &str,
        req: &ListObjects,
    ) -> Result<ListObjectsResult, ObjectError> {
        let (p, _) = self.existing(bucket)?;
        let mut all: Vec<ObjectSummary> = Vec::new();
        for path in self.object_files(&p)? {
            let Ok(f) = File::open(&path) else { continue };
            let Ok((h, _)) = read_header_from(&f) else {
                continue;
            };
            if h.record.bucket != bucket
                || !h.record.key.starts_with(&req.prefix)
                || path.file_name().and_then(|n| n.to_str())
                    != Some(&hex(&sha256(h.record.key.as_bytes())))
            {
                continue;
            }
            all.push(summary(&h));
        }
        all.sort_by(|a, b| a.key.cmp(&b.key));
        let delim = req.delimiter.as_deref().filter(|d| !d.is_empty());
        let mut contents = Vec::new();
        let mut prefixes: Vec<CommonPrefix> = Vec::new();
        let mut truncated = false;
        let mut last: Option<String> = None;
        let max = req.max_keys;
        for o in all {
            if let Some(s) = &req.start_after {
                if o.key.as_str() <= s.as_str() {
                    continue;
                }
                if delim.is_some_and(|d| s.ends_with(d)) && o.key.starts_with(s.as_str()) {
                    continue;
                }
            }
            let group = delim.and_then(|d| {
                o.key[req.prefix.len()..]
                    .find(d)
                    .map(|i| o.key[..req.prefix.len() + i + d.len()].to_string())
            });
            if let Some(g) = &group
                && prefixes.last().is_some_and(|p| &p.prefix == g)
            {
                continue;
            }
            if contents.len() + prefixes.len() >= max {
                truncated = true;
                break;
            }
            match group {
                Some(g) => {
                    last = Some(g.clone());
                    prefixes.push(CommonPrefix { prefix: g });
                }
                None => {
                    last = Some(o.key.clone());
                    contents.push(o);
                }
            }
        }
        Ok(ListObjectsResult {
            name: bucket.to_string(),
            prefix: req.prefix.clone(),
            delimiter: req.delimiter.clone(),
            max_keys: max,
            key_count: contents.len() + prefixes.len(),
            is_truncated: truncated,
            next_continuation_token: if truncated { last } else { None },
            contents,
            common_prefixes: prefixes,
        })
    }

    /// Delete an object. Deleting a key that does not exist succeeds, as in S3; the result
    /// says whether there was one.
    pub fn delete_object(&self, bucket: &str, key: &str) -> Result<bool, ObjectError> {
        bucket::check_key(key)?;
        let (p, _) = self.existing(bucket)?;
        let _l = self.lock(bucket, &p, false)?;
        let path = p.object(key);
        match fsutil::durable_remove(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(ObjectError::io(&path, e)),
        }
    }

    /// Copy an object (within or across buckets): the source is decrypted (with
    /// `src_sse_c` if it is SSE-C) and re-encrypted under a new data key as `opts` says
    /// (the destination's defaults when `opts` chooses nothing), as S3's CopyObject does.
    pub fn copy_object(
        &self,
        src_bucket: &str,
        src_key: &str,
        src_sse_c: Option<&SseCustomerKey>,
        dst_bucket: &str,
        dst_key: &str,
        opts: &PutOptions,
    ) -> Result<ObjectInfo, ObjectError> {
        let r = self.open_object(src_bucket, src_key, src_sse_c)?;
        let mut err = None;
        let info = self.put_object(
            dst_bucket,
            dst_key,
            SegmentRead {
                r: &r,
                next: 0,
                buf: SecretBytes::zeroed(0),
                pos: 0,
                err: &mut err,
            },
            opts,
        );
        match (info, err) {
            (_, Some(e)) => Err(e),
            (i, None) => i,
        }
    }
}

/// What a PUT will do.
struct Plan {
    sse: Sse,
    kms_key_id: String,
    context: EncryptionContext,
    bucket_key: bool,
}

fn plan(default: &BucketEncryption, o: &PutOptions) -> Result<Plan, ObjectError> {
    let inv = |m: &str| Err(ObjectError::InvalidArgument(m.to_string()));
    if o.sse_c.is_some() {
        if o.sse.is_some() {
            return inv("SSE-C cannot be combined with --sse (choose one)");
        }
        if o.kms_key_id.is_some() || !o.encryption_context.is_empty() {
            return inv("a KMS key id or encryption context does not apply to SSE-C");
        }
        if o.bucket_key_enabled == Some(true) {
            return inv("a bucket key does not apply to SSE-C");
        }
        return Ok(Plan {
            sse: Sse::Customer,
            kms_key_id: String::new(),
            context: Default::default(),
            bucket_key: false,
        });
    }
    let sse = o.sse.unwrap_or(default.sse_algorithm);
    if o.sse == Some(Sse::Customer) {
        return inv("SSE-C needs the customer key (--sse-c-key)");
    }
    if sse != Sse::Kms {
        if o.kms_key_id.is_some() {
            return inv("a KMS key id needs --sse aws:kms");
        }
        if !o.encryption_context.is_empty() {
            return inv("an encryption context needs --sse aws:kms");
        }
        return Ok(Plan {
            sse: Sse::Aes256,
            kms_key_id: DEFAULT_KEY_ALIAS.into(),
            context: Default::default(),
            bucket_key: false,
        });
    }
    if o.encryption_context.contains_key(format::ARN_CONTEXT_KEY) {
        return inv("the encryption context must not set aws:s3:arn (the service sets it)");
    }
    crate::encoding::check(&o.encryption_context)
        .map_err(|e| ObjectError::InvalidArgument(format!("encryption context: {e}")))?;
    let bucket_default_kms = default.sse_algorithm == Sse::Kms;
    let kms_key_id = o
        .kms_key_id
        .clone()
        .or_else(|| {
            bucket_default_kms
                .then(|| default.kms_master_key_id.clone())
                .flatten()
        })
        .unwrap_or_else(|| DEFAULT_KEY_ALIAS.into());
    let bucket_key = o
        .bucket_key_enabled
        .unwrap_or(bucket_default_kms && default.bucket_key_enabled);
    Ok(Plan {
        sse: Sse::Kms,
        kms_key_id,
        context: o.encryption_context.clone(),
        bucket_key,
    })
}

fn info(h: &Header, sse_c_md5: Option<String>) -> ObjectInfo {
    let kms = h.sse != Sse::Customer;
    ObjectInfo {
        bucket: h.record.bucket.clone(),
        key: h.record.key.clone(),
        content_length: h.content_length,
        content_range: None,
        size: h.content_length,
        etag: etag(&h.etag),
        last_modified: crate::timefmt::rfc3339(h.last_modified_ms),
        last_modified_ms: h.last_modified_ms,
        server_side_encryption: h.sse.s3_name().map(String::from),
        ssekms_key_id: if h.sse == Sse::Kms {
            h.record.kms_key_arn.clone()
        } else {
            None
        },
        ssekms_encryption_context: (!h.record.context.is_empty())
            .then(|| b64::encode(&serde_json::to_vec(&h.record.context).expect("serializes"))),
        bucket_key_enabled: (kms && h.sse == Sse::Kms).then_some(h.bucket_key()),
        sse_customer_algorithm: (!kms).then(|| "AES256".to_string()),
        sse_customer_key_md5: sse_c_md5,
    }
}

fn summary(h: &Header) -> ObjectSummary {
    ObjectSummary {
        key: h.record.key.clone(),
        last_modified: crate::timefmt::rfc3339(h.last_modified_ms),
        last_modified_ms: h.last_modified_ms,
        etag: etag(&h.etag),
        size: h.content_length,
        storage_class: "STANDARD".into(),
        server_side_encryption: match h.sse {
            Sse::Aes256 => "AES256",
            Sse::Kms => "aws:kms",
            Sse::Customer => "SSE-C",
        }
        .into(),
    }
}

/// Read and parse the header at the start of `f`; returns it and its bytes.
fn read_header_from(f: &File) -> Result<(Header, Vec<u8>), String> {
    let mut fixed = [0u8; FIXED_LEN];
    read_exact_at(f, &mut fixed, 0).map_err(|e| format!("reading the header: {e}"))?;
    let total = Header::total_len(&fixed).map_err(|e| e.0)?;
    let mut hb = vec![0u8; total];
    read_exact_at(f, &mut hb, 0).map_err(|e| format!("reading the header: {e}"))?;
    let (h, n) = Header::parse(&hb).map_err(|e| e.0)?;
    debug_assert_eq!(n, total);
    Ok((h, hb))
}

fn read_exact_at(f: &File, buf: &mut [u8], off: u64) -> std::io::Result<()> {
    f.read_exact_at(buf, off).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            std::io::Error::new(e.kind(), "the file is shorter than its header says")
        } else {
            e
        }
    })
}

enum StreamError {
    Read(std::io::Error),
    Write(std::io::Error),
    Object(ObjectError),
}

/// Seal `body` into segments written to `out`; returns the plaintext length and the ETag
/// (MD5 of the plaintext when `plain_md5`, else of the sealed segments).
fn stream_segments(
    mut body: impl Read,
    keys: &ObjectKeys,
    aad: &[u8],
    seg: usize,
    plain_md5: bool,
    out: &mut impl Write,
) -> Result<(u64, [u8; 16]), StreamError> {
    use md5::Digest;
    let mut md5 = md5::Md5::new();
    let mut cur = SecretBytes::zeroed(seg);
    let mut next = SecretBytes::zeroed(seg);
    let mut sealed = Vec::with_capacity(seg + TAG_LEN);
    let mut n_cur = fsutil::read_full(&mut body, cur.expose_mut()).map_err(StreamError::Read)?;
    let mut total: u64 = 0;
    let mut index: u64 = 0;
    loop {
        // A segment is the last one when the body has nothing after it.
        let n_next = if n_cur == seg {
            fsutil::read_full(&mut body, next.expose_mut()).map_err(StreamError::Read)?
        } else {
            0
        };
        let last = n_next == 0;
        total += n_cur as u64;
        if total > MAX_CONTENT {
            return Err(StreamError::Object(ObjectError::InvalidArgument(
                "the object is larger than 5 TiB".into(),
            )));
        }
        let plain = &cur.expose()[..n_cur];
        sealed.clear();
        keys.seal_segment(aad, index, last, plain, &mut sealed)
            .map_err(|e| StreamError::Object(e.into()))?;
        if plain_md5 {
            md5.update(plain);
        } else {
            md5.update(&sealed);
        }
        out.write_all(&sealed).map_err(StreamError::Write)?;
        if last {
            break;
        }
        std::mem::swap(&mut cur, &mut next);
        n_cur = n_next;
        index += 1;
    }
    Ok((total, md5.finalize().into()))
}

/// An object opened for reading (see [`ObjectService::open_object`]).
pub struct ObjectReader {
    info: ObjectInfo,
    file: File,
    path: PathBuf,
    header: Header,
    data_off: u64,
    keys: ObjectKeys,
    aad: [u8; 47],
    /// The last segment read (index, plaintext), for small sequential reads.
    cache: Mutex<Option<(u64, SecretBytes)>>,
}

impl std::fmt::Debug for ObjectReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ObjectReader {{ {} }}", self.path.display())
    }
}

impl ObjectReader {
    /// What HEAD would say of the opened version.
    pub fn info(&self) -> &ObjectInfo {
        &self.info
    }

    /// The object's length in bytes.
    pub fn len(&self) -> u64 {
        self.header.content_length
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn segment_size(&self) -> u64 {
        self.header.segment_size as u64
    }

    /// Read and authenticate segment `i`.
    pub fn segment(&self, i: u64) -> Result<SecretBytes, ObjectError> {
        let n = self.header.segment_count();
        if i >= n {
            return Err(ObjectError::InvalidRange(format!(
                "segment {i} is past the end"
            )));
        }
        {
            let c = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((ci, p)) = &*c
                && *ci == i
            {
                return Ok(p.clone());
            }
        }
        let len = self.header.segment_plain_len(i) + TAG_LEN;
        let mut sealed = vec![0u8; len];
        let off = self.data_off + self.header.segment_offset(i);
        read_exact_at(&self.file, &mut sealed, off).map_err(|e| ObjectError::io(&self.path, e))?;
        let p = self
            .keys
            .open_segment(&self.aad, i, i + 1 == n, &sealed)
            .map_err(|e| ObjectError::damaged(&self.path, e.0))?;
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = Some((i, p.clone()));
        Ok(p)
    }

    /// Read up to `buf.len()` bytes at `offset`; returns how many (0 at or past the end).
    /// Only the segments the span touches are read and authenticated.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, ObjectError> {
        let len = self.len();
        if offset >= len || buf.is_empty() {
            return Ok(0);
        }
        let want = (buf.len() as u64).min(len - offset) as usize;
        let seg = self.segment_size();
        let mut done = 0usize;
        while done < want {
            let pos = offset + done as u64;
            let i = pos / seg;
            let within = (pos % seg) as usize;
            let p = self.segment(i)?;
            let take = (p.len() - within).min(want - done);
            buf[done..done + take].copy_from_slice(&p.expose()[within..within + take]);
            done += take;
        }
        Ok(done)
    }

    /// Write bytes `start..end` to `out`, segment by segment, each authenticated before
    /// any of its bytes are written.
    pub fn copy_range(
        &self,
        start: u64,
        end: u64,
        mut out: impl Write,
    ) -> Result<u64, ObjectError> {
        let end = end.min(self.len());
        if start >= end {
            // An empty object (or range) still has its final segment checked.
            if self.is_empty() {
                self.segment(0)?;
            }
            return Ok(0);
        }
        let seg = self.segment_size();
        let mut pos = start;
        while pos < end {
            let i = pos / seg;
            let p = self.segment(i)?;
            let within = (pos - i * seg) as usize;
            let take = ((p.len() - within) as u64).min(end - pos) as usize;
            out.write_all(&p.expose()[within..within + take])
                .map_err(|e| ObjectError::Stream {
                    what: "writing the object",
                    source: e,
                })?;
            pos += take as u64;
        }
        out.flush().map_err(|e| ObjectError::Stream {
            what: "writing the object",
            source: e,
        })?;
        Ok(end - start)
    }

    /// A sequential `Read` over the whole object (each segment authenticated before use).
    pub fn reader(&self) -> impl Read + '_ {
        ReaderAdapter { r: self, pos: 0 }
    }
}

struct ReaderAdapter<'a> {
    r: &'a ObjectReader,
    pos: u64,
}

impl Read for ReaderAdapter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self
            .r
            .read_at(self.pos, buf)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// The body of a copy: the source's segments in order; an authentication failure is kept
/// in `err` so the copy reports it as it is (not as an I/O error of the body).
struct SegmentRead<'a, 'e> {
    r: &'a ObjectReader,
    next: u64,
    buf: SecretBytes,
    pos: usize,
    err: &'e mut Option<ObjectError>,
}

impl Read for SegmentRead<'_, '_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.buf.len() {
            if self.next >= self.r.header.segment_count() {
                return Ok(0);
            }
            match self.r.segment(self.next) {
                Ok(p) => {
                    self.buf = p;
                    self.pos = 0;
                    self.next += 1;
                }
                Err(e) => {
                    let msg = e.to_string();
                    *self.err = Some(e);
                    return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, msg));
                }
            }
            if self.buf.is_empty() {
                return Ok(0);
            }
        }
        let n = (self.buf.len() - self.pos).min(out.len());
        out[..n].copy_from_slice(&self.buf.expose()[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Object files' paths, for tests and tools that look at the bytes.
pub fn object_path(home: &Path, bucket: &str, key: &str) -> PathBuf {
    BucketPaths {
        dir: home.join("buckets").join(bucket),
    }
    .object(key)
}
