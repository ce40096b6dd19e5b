//! Bucket operations: create, list, delete, and the default encryption (put and get).

use super::ObjectError;
use super::bucket::{self, BucketConfig, BucketEncryption, BucketInfo};
use super::format::Sse;
use super::service::ObjectService;
use crate::fsutil::{self, FileLock};
use crate::kms::types::KeyIdRequest;
use crate::timefmt::now_ms;
use std::time::Duration;

/// How long `delete_bucket` waits for the mounts of a bucket to end before it refuses.
const UNMOUNT_GRACE: Duration = Duration::from_secs(2);

impl ObjectService {
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
        let _l = bucket::lock(name, &p.lock(), true, self.opts.lock_timeout)?;
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

    /// Delete a bucket: refused while it is mounted, and while it holds objects unless
    /// `force` (which deletes them).
    pub fn delete_bucket(&self, name: &str, force: bool) -> Result<(), ObjectError> {
        let (p, _) = self.existing(name)?;
        let _l = self.lock(name, &p, true)?;
        // Every mount holds the mount lock shared while it is mounted; a daemon just
        // unmounted gets a moment to exit.
        let _m = FileLock::acquire(&p.mount_lock(), UNMOUNT_GRACE).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock => ObjectError::Mounted(name.to_string()),
            _ => ObjectError::io(p.mount_lock(), e),
        })?;
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
        self.check_default_encryption(name, enc)?;
        let _l = self.lock(name, &p, true)?;
        let mut c = BucketConfig::read(&p.config())?;
        c.encryption = enc.clone();
        if c.encryption.sse_algorithm != Sse::Kms {
            c.encryption.bucket_key_enabled = false;
        }
        c.write(&p.config())?;
        Ok(c.encryption)
    }

    /// Whether `enc` can be bucket `name`'s default: not SSE-C, a KMS key only with
    /// `aws:kms`, and a customer's KMS key that KMS knows.
    fn check_default_encryption(
        &self,
        name: &str,
        enc: &BucketEncryption,
    ) -> Result<(), ObjectError> {
        match (enc.sse_algorithm, &enc.kms_master_key_id) {
            (Sse::Customer, _) => Err(ObjectError::InvalidArgument(
                "SSE-C cannot be a bucket's default encryption".into(),
            )),
            (Sse::Aes256, Some(_)) => Err(ObjectError::InvalidArgument(
                "a KMS key id needs the aws:kms algorithm".into(),
            )),
            (Sse::Kms, Some(k)) if !k.starts_with("alias/aws/") => {
                let req = KeyIdRequest {
                    key_id: k.clone(),
                    grant_tokens: None,
                };
                self.kms.describe_key(req).map_err(|e| ObjectError::Kms {
                    what: format!("bucket {name}"),
                    key: k.clone(),
                    source: e,
                })?;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    pub fn get_bucket_encryption(&self, name: &str) -> Result<BucketEncryption, ObjectError> {
        Ok(self.existing(name)?.1.encryption)
    }
}
