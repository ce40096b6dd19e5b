//! The SSE key-wrapping policies: which mode a PUT uses (the request against the bucket's
//! default encryption), how each mode makes and keeps an object's data key, and how a read
//! gets it back:
//!
//! - SSE-S3 (`AES256`) and SSE-KMS (`aws:kms`): KMS generates the data key under
//!   `alias/aws/s3` or the customer's key; the object keeps KMS's blob;
//! - SSE-KMS with a bucket key: a random data key wrapped locally under the bucket key
//!   ([`super::bucket_key`]); the object keeps the bucket key's id;
//! - SSE-C: a random data key wrapped locally under the caller's key; the object keeps a
//!   salted HMAC of that key, to tell a wrong key from a damaged object.

use super::ObjectError;
use super::bucket::{BucketEncryption, BucketPaths};
use super::format::{self, Header, LocalWrap, Record, Sse, SseCCheck};
use super::service::{ObjectService, random};
use crate::crypto::{SecretKey, secret_eq};
use crate::kms::types::{DecryptRequest, GenerateDataKeyRequest, b64};
use crate::kms::{EncryptionContext, KmsError};
use std::path::Path;

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
    /// The object's Content-Type (none: S3 reports `binary/octet-stream`).
    pub content_type: Option<String>,
    /// User metadata (keys are lowercased, as S3 does; at most 2 KB in all).
    pub metadata: Vec<(String, String)>,
    /// Copy only: take `content_type` and `metadata` (S3's `MetadataDirective=REPLACE`)
    /// instead of the source's (`COPY`, the default).
    pub replace_metadata: bool,
}

/// The AWS-managed key of SSE-S3 (and of SSE-KMS without a key id).
pub(crate) const DEFAULT_KEY_ALIAS: &str = "alias/aws/s3";

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

/// What a PUT will do.
pub(crate) struct Plan {
    pub(crate) sse: Sse,
    pub(crate) kms_key_id: String,
    pub(crate) context: EncryptionContext,
    pub(crate) bucket_key: bool,
}

fn invalid<T>(m: &str) -> Result<T, ObjectError> {
    Err(ObjectError::InvalidArgument(m.to_string()))
}

/// The plan of a PUT with options `o` in a bucket whose default encryption is `default`.
pub(crate) fn plan(default: &BucketEncryption, o: &PutOptions) -> Result<Plan, ObjectError> {
    if o.sse_c.is_some() {
        return plan_sse_c(o);
    }
    let sse = o.sse.unwrap_or(default.sse_algorithm);
    if o.sse == Some(Sse::Customer) {
        return invalid("SSE-C needs the customer key (--sse-c-key)");
    }
    if sse != Sse::Kms {
        if o.kms_key_id.is_some() {
            return invalid("a KMS key id needs --sse aws:kms");
        }
        if !o.encryption_context.is_empty() {
            return invalid("an encryption context needs --sse aws:kms");
        }
        return Ok(Plan {
            sse: Sse::Aes256,
            kms_key_id: DEFAULT_KEY_ALIAS.into(),
            context: Default::default(),
            bucket_key: false,
        });
    }
    if o.encryption_context.contains_key(format::ARN_CONTEXT_KEY) {
        return invalid("the encryption context must not set aws:s3:arn (the service sets it)");
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

/// The plan of an SSE-C PUT: nothing of KMS may be asked for.
fn plan_sse_c(o: &PutOptions) -> Result<Plan, ObjectError> {
    if o.sse.is_some() {
        return invalid("SSE-C cannot be combined with --sse (choose one)");
    }
    if o.kms_key_id.is_some() || !o.encryption_context.is_empty() {
        return invalid("a KMS key id or encryption context does not apply to SSE-C");
    }
    if o.bucket_key_enabled == Some(true) {
        return invalid("a bucket key does not apply to SSE-C");
    }
    Ok(Plan {
        sse: Sse::Customer,
        kms_key_id: String::new(),
        context: Default::default(),
        bucket_key: false,
    })
}

/// How a data key is kept in an object's record.
struct Wrapped {
    kms_key_arn: Option<String>,
    bucket_key_id: Option<[u8; 16]>,
    wrapped_key: Vec<u8>,
    sse_c: Option<SseCCheck>,
}

/// A new data key wrapped under the caller's SSE-C key, with the salted check of that key.
fn wrap_sse_c(
    ck: &SseCustomerKey,
    ctx: &EncryptionContext,
) -> Result<(SecretKey, Wrapped), ObjectError> {
    let dk = SecretKey::random()?;
    let wrapped = format::wrap_local(ck.secret(), LocalWrap::Customer, ctx, &dk, random()?)?;
    let salt = random::<16>()?;
    let check = SseCCheck {
        salt,
        hmac: format::sse_c_hmac(ck.secret(), &salt),
    };
    let w = Wrapped {
        kms_key_arn: None,
        bucket_key_id: None,
        wrapped_key: wrapped,
        sse_c: Some(check),
    };
    Ok((dk, w))
}

/// The SSE-C key of a request against the object's record: the key's MD5 for the answer
/// (`None` for an object not stored with SSE-C). A key that fails the stored check gives
/// `wrong(key)`; a key missing or given where it does not apply, `InvalidRequest`.
pub(crate) fn sse_c_md5(
    record: &Record,
    given: Option<&SseCustomerKey>,
    object: &str,
    wrong: impl FnOnce(&SseCustomerKey) -> ObjectError,
) -> Result<Option<String>, ObjectError> {
    match (&record.sse_c, given) {
        (Some(_), None) => Err(ObjectError::InvalidRequest(format!(
            "the object {object} is stored with SSE-C: the request must give its key (--sse-c-key)"
        ))),
        (None, Some(_)) => Err(ObjectError::InvalidRequest(format!(
            "the object {object} is not stored with SSE-C: the SSE-C key is not applicable"
        ))),
        (Some(check), Some(k)) => {
            if !secret_eq(&format::sse_c_hmac(k.secret(), &check.salt), &check.hmac) {
                return Err(wrong(k));
            }
            Ok(Some(k.key_md5()))
        }
        (None, None) => Ok(None),
    }
}

/// The refusal of an SSE-C key that is not the object's.
pub(crate) fn wrong_sse_c_key(object: &str) -> ObjectError {
    ObjectError::AccessDenied(format!(
        "the SSE-C key does not match the key the object {object} was stored with"
    ))
}

/// What a reader needs to unwrap an object's data key.
pub(crate) struct Unwrap<'a> {
    pub(crate) paths: &'a BucketPaths,
    pub(crate) bucket: &'a str,
    /// `bucket/key`, for messages.
    pub(crate) object: &'a str,
    /// The object file, for messages.
    pub(crate) path: &'a Path,
    pub(crate) header: &'a Header,
    pub(crate) ctx: EncryptionContext,
}

impl Unwrap<'_> {
    fn undecryptable(&self, why: &str) -> ObjectError {
        ObjectError::damaged(
            self.path,
            format!(
                "the data key does not unwrap ({why}): damaged, or swapped from another object"
            ),
        )
    }

    /// The SSE-C check failed for `k`: if `k` still unwraps the data key, the check itself
    /// was changed (damage); else the key is wrong.
    pub(crate) fn wrong_key(&self, k: &SseCustomerKey) -> ObjectError {
        let r = &self.header.record;
        if format::unwrap_local(k.secret(), LocalWrap::Customer, &self.ctx, &r.wrapped_key).is_ok()
        {
            return ObjectError::damaged(
                self.path,
                "the SSE-C key check does not match a key that unwraps the data key (the record was changed)",
            );
        }
        wrong_sse_c_key(self.object)
    }
}

impl ObjectService {
    /// A new data key for `bucket/key` (whose encryption context is `ctx`) and the record
    /// that keeps it, as `plan` says.
    pub(crate) fn new_data_key(
        &self,
        p: &BucketPaths,
        (bucket, key): (&str, &str),
        plan: &Plan,
        ctx: &EncryptionContext,
        sse_c: Option<&SseCustomerKey>,
    ) -> Result<(SecretKey, Record), ObjectError> {
        let (dk, w) = match plan.sse {
            Sse::Customer => wrap_sse_c(sse_c.expect("planned from sse_c"), ctx)?,
            Sse::Kms if plan.bucket_key => {
                let bk = self.bucket_key_for_write(p, bucket, &plan.kms_key_id)?;
                let dk = SecretKey::random()?;
                let wrapped =
                    format::wrap_local(&bk.key, LocalWrap::BucketKey, ctx, &dk, random()?)?;
                let w = Wrapped {
                    kms_key_arn: Some(bk.kms_key_arn),
                    bucket_key_id: Some(bk.id),
                    wrapped_key: wrapped,
                    sse_c: None,
                };
                (dk, w)
            }
            Sse::Aes256 | Sse::Kms => {
                let what = format!("object {bucket}/{key}");
                let (dk, arn, blob) =
                    self.generate_key(&plan.kms_key_id, ctx.clone(), what, "a data key")?;
                let w = Wrapped {
                    kms_key_arn: Some(arn),
                    bucket_key_id: None,
                    wrapped_key: blob,
                    sse_c: None,
                };
                (dk, w)
            }
        };
        let record = Record {
            bucket: bucket.into(),
            key: key.into(),
            kms_key_arn: w.kms_key_arn,
            context: plan.context.clone(),
            bucket_key_id: w.bucket_key_id,
            wrapped_key: w.wrapped_key,
            sse_c: w.sse_c,
            content_type: None,
            metadata: Vec::new(),
        };
        Ok((dk, record))
    }

    /// A 256-bit key from KMS GenerateDataKey under `key_id`: the key, the ARN of the KMS
    /// key and the blob. `what` names the object or bucket for errors, `kind` the key.
    pub(crate) fn generate_key(
        &self,
        key_id: &str,
        ctx: EncryptionContext,
        what: String,
        kind: &str,
    ) -> Result<(SecretKey, String, Vec<u8>), ObjectError> {
        let r = self
            .kms
            .generate_data_key(GenerateDataKeyRequest {
                key_id: key_id.to_string(),
                encryption_context: Some(ctx),
                key_spec: Some("AES_256".into()),
                ..Default::default()
            })
            .map_err(|e| ObjectError::Kms {
                what,
                key: key_id.to_string(),
                source: e,
            })?;
        let dk = SecretKey::from_slice(r.plaintext.expose()).ok_or_else(|| {
            ObjectError::Internal(format!("KMS returned {kind} that is not 32 bytes"))
        })?;
        Ok((dk, r.key_id, r.ciphertext_blob))
    }

    /// KMS Decrypt of `blob` under `key_id` with `ctx`: the plaintext, if it is 256 bits
    /// (`None` if not).
    pub(crate) fn decrypt_key(
        &self,
        blob: Vec<u8>,
        ctx: EncryptionContext,
        key_id: &str,
    ) -> Result<Option<SecretKey>, KmsError> {
        let r = self.kms.decrypt(DecryptRequest {
            ciphertext_blob: blob,
            encryption_context: Some(ctx),
            key_id: Some(key_id.to_string()),
            ..Default::default()
        })?;
        Ok(SecretKey::from_slice(r.plaintext.expose()))
    }

    /// An object's data key, from the SSE-C key (already checked), the bucket key or KMS.
    pub(crate) fn unwrap_data_key(
        &self,
        u: &Unwrap<'_>,
        sse_c: Option<&SseCustomerKey>,
    ) -> Result<SecretKey, ObjectError> {
        let r = &u.header.record;
        if let Some(k) = sse_c {
            return format::unwrap_local(k.secret(), LocalWrap::Customer, &u.ctx, &r.wrapped_key)
                .map_err(|_| u.undecryptable("SSE-C"));
        }
        if let Some(id) = &r.bucket_key_id {
            let bk = self.bucket_key_for_read(u.paths, u.bucket, id, u.object)?;
            return format::unwrap_local(&bk, LocalWrap::BucketKey, &u.ctx, &r.wrapped_key)
                .map_err(|_| u.undecryptable("bucket key"));
        }
        let kms_key = r.kms_key_arn.clone().unwrap_or_default();
        let dk = self
            .decrypt_key(r.wrapped_key.clone(), u.ctx.clone(), &kms_key)
            .map_err(|e| match e {
                KmsError::InvalidCiphertext(m) => {
                    u.undecryptable(&format!("KMS: InvalidCiphertextException: {m}"))
                }
                e => ObjectError::Kms {
                    what: format!("object {}", u.object),
                    key: kms_key,
                    source: e,
                },
            })?;
        dk.ok_or_else(|| u.undecryptable("not 32 bytes"))
    }
}
