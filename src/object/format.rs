//! The object file: a fixed header, a postcard record, a header tag, then the data as
//! STREAM segments (docs/FORMAT.md section 9).
//!
//! ```text
//! off      len  field (little-endian)
//!   0        8  magic "KMSFSOBJ"
//!   8        2  format version (2; 1 still reads)
//!  10        1  SSE mode: 1 AES256 (SSE-S3), 2 aws:kms (SSE-KMS), 3 SSE-C
//!  11        1  flags: bit 0 = the data key is wrapped by a bucket key
//!  12        4  segment size s (plaintext bytes per segment)
//!  16        8  content length L (plaintext bytes)
//!  24        4  record length n
//!  28        4  reserved, 0
//!  32       32  salt (random per object)
//!  64       16  ETag (MD5)
//!  80        8  last modified, ms since the epoch (signed)
//!  88        8  reserved, 0
//!  96        n  record: postcard(Record) (v1: without content type and metadata)
//!  96+n     32  header tag: HMAC-SHA-256(K_hdr, bytes 0..96+n)
//!  128+n     …  segments: ⌈L / s⌉ (at least 1), each ciphertext ‖ 16-byte tag
//! ```
//!
//! `K_data = HKDF-SHA-256(data key, salt, "kmsfs object data v1")`,
//! `K_hdr = HKDF-SHA-256(data key, salt, "kmsfs object header v1")`. Segment i is
//! AES-256-GCM-SIV under `K_data` with the STREAM nonce of (i, last) and the AAD
//! `"kmsfs object v1" ‖ SHA-256(record)`. Every parser here takes arbitrary bytes and never
//! panics.

use crate::crypto::stream::{self, StreamKey};
use crate::crypto::{AeadKey, CryptoError, SecretBytes, SecretKey, TAG_LEN, hkdf_sha256, sha256};
use crate::kms::EncryptionContext;
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use zerocopy::little_endian::{I64, U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

pub const MAGIC: [u8; 8] = *b"KMSFSOBJ";
/// The version new objects are written in: 2 (the record keeps Content-Type and user
/// metadata). Version 1 objects still read, as having neither.
pub const VERSION: u16 = 2;
/// The first version (no Content-Type, no user metadata in the record).
pub const VERSION_1: u16 = 1;
/// Bytes of the fixed header.
pub const FIXED_LEN: usize = 96;
/// Bytes of the header tag.
pub const HEADER_TAG_LEN: usize = 32;
/// The segment size new objects use.
pub(crate) const DEFAULT_SEGMENT: u32 = 64 * 1024;
/// Segment sizes a reader accepts.
pub(crate) const MIN_SEGMENT: u32 = 1024;
pub(crate) const MAX_SEGMENT: u32 = 16 << 20;
/// Largest record a reader accepts.
pub(crate) const MAX_RECORD: usize = 64 * 1024;
/// Largest object (S3's limit, 5 TiB).
pub(crate) const MAX_CONTENT: u64 = 5 << 40;
/// Bytes of a locally wrapped data key: nonce ‖ key ‖ tag.
pub(crate) const LOCAL_WRAP_LEN: usize = 12 + 32 + TAG_LEN;
/// Prefix of every segment's AAD.
pub(crate) const SEGMENT_AAD_LABEL: &[u8; 15] = b"kmsfs object v1";
const FLAG_BUCKET_KEY: u8 = 1;

/// How an object is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Sse {
    /// SSE-S3: the data key wrapped by KMS under `alias/aws/s3`.
    #[serde(rename = "AES256")]
    Aes256,
    /// SSE-KMS: the data key wrapped by KMS under the customer's key (or a bucket key).
    #[serde(rename = "aws:kms")]
    Kms,
    /// SSE-C: the data key wrapped under the caller's own key.
    #[serde(rename = "SSE-C")]
    Customer,
}

impl Sse {
    pub fn byte(self) -> u8 {
        match self {
            Sse::Aes256 => 1,
            Sse::Kms => 2,
            Sse::Customer => 3,
        }
    }

    pub fn from_byte(b: u8) -> Option<Sse> {
        match b {
            1 => Some(Sse::Aes256),
            2 => Some(Sse::Kms),
            3 => Some(Sse::Customer),
            _ => None,
        }
    }

    /// The `ServerSideEncryption` value S3 shows (SSE-C objects show none).
    pub fn s3_name(self) -> Option<&'static str> {
        match self {
            Sse::Aes256 => Some("AES256"),
            Sse::Kms => Some("aws:kms"),
            Sse::Customer => None,
        }
    }

    /// Parse `AES256` or `aws:kms` (what `--sse` takes).
    pub fn parse(s: &str) -> Option<Sse> {
        match s {
            "AES256" => Some(Sse::Aes256),
            "aws:kms" => Some(Sse::Kms),
            _ => None,
        }
    }
}

/// What lets a reader check an SSE-C key without storing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SseCCheck {
    /// Random per object.
    pub salt: [u8; 16],
    /// HMAC-SHA-256(customer key, "kmsfs sse-c v1" ‖ salt).
    pub hmac: [u8; 32],
}

/// The variable part of the header: who the object is and how its data key is wrapped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub bucket: String,
    pub key: String,
    /// ARN of the KMS key behind the data key (SSE-S3 and SSE-KMS).
    pub kms_key_arn: Option<String>,
    /// The caller's encryption context (SSE-KMS); the full context adds `aws:s3:arn`.
    pub context: EncryptionContext,
    /// The bucket key that wrapped the data key (`bucket-keys/<hex id>`).
    pub bucket_key_id: Option<[u8; 16]>,
    /// The data key: a KMS ciphertext blob, or nonce ‖ key ‖ tag when wrapped locally.
    pub wrapped_key: Vec<u8>,
    /// SSE-C only.
    pub sse_c: Option<SseCCheck>,
    /// The Content-Type given at PUT (v2; none in v1).
    pub content_type: Option<String>,
    /// S3 user metadata (`x-amz-meta-*`), keys lowercased, in the order given (v2).
    pub metadata: Vec<(String, String)>,
}

/// The record as version 1 writes it (the fields of [`Record`] before Content-Type and
/// metadata), to read and write v1 objects.
#[derive(Serialize, Deserialize)]
struct RecordV1 {
    bucket: String,
    key: String,
    kms_key_arn: Option<String>,
    context: EncryptionContext,
    bucket_key_id: Option<[u8; 16]>,
    wrapped_key: Vec<u8>,
    sse_c: Option<SseCCheck>,
}

impl Record {
    /// The record's bytes in format `version` (v1 drops Content-Type and metadata).
    fn encode(&self, version: u16) -> Vec<u8> {
        if version == VERSION_1 {
            let r = RecordV1 {
                bucket: self.bucket.clone(),
                key: self.key.clone(),
                kms_key_arn: self.kms_key_arn.clone(),
                context: self.context.clone(),
                bucket_key_id: self.bucket_key_id,
                wrapped_key: self.wrapped_key.clone(),
                sse_c: self.sse_c.clone(),
            };
            return postcard::to_allocvec(&r).expect("the record serializes");
        }
        postcard::to_allocvec(self).expect("the record serializes")
    }

    /// Parse the record bytes of format `version`; all of `bytes` must be the record.
    fn decode(version: u16, bytes: &[u8]) -> Result<Record, FormatError> {
        let record = if version == VERSION_1 {
            let (r, extra): (RecordV1, &[u8]) =
                postcard::take_from_bytes(bytes).map_err(|e| bad(format!("record: {e}")))?;
            if !extra.is_empty() {
                return Err(bad("trailing bytes after the record"));
            }
            Record {
                bucket: r.bucket,
                key: r.key,
                kms_key_arn: r.kms_key_arn,
                context: r.context,
                bucket_key_id: r.bucket_key_id,
                wrapped_key: r.wrapped_key,
                sse_c: r.sse_c,
                content_type: None,
                metadata: Vec::new(),
            }
        } else {
            let (r, extra): (Record, &[u8]) =
                postcard::take_from_bytes(bytes).map_err(|e| bad(format!("record: {e}")))?;
            if !extra.is_empty() {
                return Err(bad("trailing bytes after the record"));
            }
            r
        };
        Ok(record)
    }
}

/// The most bytes of user metadata an object keeps (S3's 2 KB: the UTF-8 bytes of every
/// key and value).
pub const MAX_METADATA: usize = 2048;

/// Bytes of user metadata as S3 counts them against [`MAX_METADATA`].
pub fn metadata_size(m: &[(String, String)]) -> usize {
    m.iter().map(|(k, v)| k.len() + v.len()).sum()
}

#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Clone, Copy)]
#[repr(C)]
struct Fixed {
    magic: [u8; 8],
    version: U16,
    sse: u8,
    flags: u8,
    segment_size: U32,
    content_length: U64,
    record_len: U32,
    reserved1: U32,
    salt: [u8; 32],
    etag: [u8; 16],
    last_modified_ms: I64,
    reserved2: U64,
}

const _: () = assert!(std::mem::size_of::<Fixed>() == FIXED_LEN);

/// A decoded header (fixed part and record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Format version: [`VERSION`] for new objects, [`VERSION_1`] for old ones.
    pub version: u16,
    pub sse: Sse,
    pub segment_size: u32,
    pub content_length: u64,
    pub salt: [u8; 32],
    pub etag: [u8; 16],
    pub last_modified_ms: i64,
    pub record: Record,
}

/// A format check failed; the text says which.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FormatError(pub String);

fn bad(why: impl Into<String>) -> FormatError {
    FormatError(why.into())
}

impl Header {
    pub fn bucket_key(&self) -> bool {
        self.record.bucket_key_id.is_some()
    }

    pub fn record_bytes(&self) -> Vec<u8> {
        self.record.encode(self.version)
    }

    /// Bytes from the start of the file to the first segment.
    pub fn len(&self) -> usize {
        FIXED_LEN + self.record_bytes().len() + HEADER_TAG_LEN
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// Fixed part and record, without the tag.
    pub fn encode_untagged(&self) -> Vec<u8> {
        let record = self.record_bytes();
        let fixed = Fixed {
            magic: MAGIC,
            version: U16::new(self.version),
            sse: self.sse.byte(),
            flags: if self.bucket_key() {
                FLAG_BUCKET_KEY
            } else {
                0
            },
            segment_size: U32::new(self.segment_size),
            content_length: U64::new(self.content_length),
            record_len: U32::new(record.len() as u32),
            reserved1: U32::new(0),
            salt: self.salt,
            etag: self.etag,
            last_modified_ms: I64::new(self.last_modified_ms),
            reserved2: U64::new(0),
        };
        let mut out = fixed.as_bytes().to_vec();
        out.extend_from_slice(&record);
        out
    }

    /// The whole header, tagged under `keys`.
    pub fn encode(&self, keys: &ObjectKeys) -> Vec<u8> {
        let mut out = self.encode_untagged();
        let tag = keys.header_tag(&out);
        out.extend_from_slice(&tag);
        out
    }

    /// The header's total length from its first [`FIXED_LEN`] bytes (to know how much to
    /// read). Checks only the magic, version and record bound.
    pub fn total_len(prefix: &[u8]) -> Result<usize, FormatError> {
        let (fixed, _) =
            Fixed::read_from_prefix(prefix).map_err(|_| bad("shorter than the 96-byte header"))?;
        if fixed.magic != MAGIC {
            return Err(bad("no KMSFSOBJ magic (not a kmsfs object)"));
        }
        if fixed.version.get() != VERSION && fixed.version.get() != VERSION_1 {
            return Err(bad(format!("unknown version {}", fixed.version.get())));
        }
        let n = fixed.record_len.get() as usize;
        if n > MAX_RECORD {
            return Err(bad(format!("record length {n} is above {MAX_RECORD}")));
        }
        Ok(FIXED_LEN + n + HEADER_TAG_LEN)
    }

    /// Parse a header from the start of `bytes` (which may hold more: the segments), without
    /// checking its tag (that needs the data key). Returns the header and its length.
    pub fn parse(bytes: &[u8]) -> Result<(Header, usize), FormatError> {
        let total = Header::total_len(bytes)?;
        let (fixed, rest) = Fixed::read_from_prefix(bytes).map_err(|_| bad("too short"))?;
        let n = total - FIXED_LEN - HEADER_TAG_LEN;
        if rest.len() < n + HEADER_TAG_LEN {
            return Err(bad("shorter than its header"));
        }
        let sse = Sse::from_byte(fixed.sse)
            .ok_or_else(|| bad(format!("unknown SSE mode {}", fixed.sse)))?;
        if fixed.flags & !FLAG_BUCKET_KEY != 0 {
            return Err(bad(format!("unknown flags {:#04x}", fixed.flags)));
        }
        if fixed.reserved1.get() != 0 || fixed.reserved2.get() != 0 {
            return Err(bad("reserved bytes are not zero"));
        }
        let seg = fixed.segment_size.get();
        if !(MIN_SEGMENT..=MAX_SEGMENT).contains(&seg) {
            return Err(bad(format!("segment size {seg} is out of range")));
        }
        let len = fixed.content_length.get();
        if len > MAX_CONTENT {
            return Err(bad(format!("content length {len} is above 5 TiB")));
        }
        let version = fixed.version.get();
        let record = Record::decode(version, &rest[..n])?;
        let bucket_key = fixed.flags & FLAG_BUCKET_KEY != 0;
        check_record(sse, bucket_key, &record)?;
        Ok((
            Header {
                version,
                sse,
                segment_size: seg,
                content_length: len,
                salt: fixed.salt,
                etag: fixed.etag,
                last_modified_ms: fixed.last_modified_ms.get(),
                record,
            },
            total,
        ))
    }

    /// SHA-256 of the record bytes as they are in `header_bytes` (the segment AAD's hash).
    pub fn record_hash(header_bytes: &[u8]) -> Result<[u8; 32], FormatError> {
        let total = Header::total_len(header_bytes)?;
        let rec = header_bytes
            .get(FIXED_LEN..total - HEADER_TAG_LEN)
            .ok_or_else(|| bad("shorter than its header"))?;
        Ok(sha256(rec))
    }

    pub fn segment_count(&self) -> u64 {
        stream::segment_count(self.content_length, self.segment_size as u64)
    }

    /// Bytes of all segments.
    pub fn sealed_len(&self) -> u64 {
        stream::sealed_len(self.content_length, self.segment_size as u64)
    }

    /// Plaintext bytes of segment `i`.
    pub fn segment_plain_len(&self, i: u64) -> usize {
        let seg = self.segment_size as u64;
        (self.content_length.saturating_sub(i * seg)).min(seg) as usize
    }

    /// Offset of segment `i` relative to the first segment.
    pub fn segment_offset(&self, i: u64) -> u64 {
        i * (self.segment_size as u64 + TAG_LEN as u64)
    }
}

fn check_record(sse: Sse, bucket_key: bool, r: &Record) -> Result<(), FormatError> {
    if r.bucket.is_empty() || r.key.is_empty() {
        return Err(bad("the record names no bucket or key"));
    }
    if metadata_size(&r.metadata) > MAX_METADATA {
        return Err(bad("the user metadata is above 2 KB"));
    }
    if bucket_key != r.bucket_key_id.is_some() {
        return Err(bad("the bucket-key flag and the record disagree"));
    }
    match sse {
        Sse::Aes256 | Sse::Kms => {
            if r.kms_key_arn.is_none() || r.sse_c.is_some() {
                return Err(bad("the SSE mode and the key fields disagree"));
            }
        }
        Sse::Customer => {
            if r.kms_key_arn.is_some() || r.sse_c.is_none() || bucket_key {
                return Err(bad("the SSE mode and the key fields disagree"));
            }
        }
    }
    if sse != Sse::Kms && (bucket_key || !r.context.is_empty()) {
        return Err(bad(
            "a bucket key or encryption context on a non-SSE-KMS object",
        ));
    }
    if r.context.contains_key(ARN_CONTEXT_KEY) {
        return Err(bad("the caller's context holds aws:s3:arn"));
    }
    let local = bucket_key || sse == Sse::Customer;
    if local && r.wrapped_key.len() != LOCAL_WRAP_LEN {
        return Err(bad("the locally wrapped data key is not 60 bytes"));
    }
    if !local && !(1..=6144).contains(&r.wrapped_key.len()) {
        return Err(bad("the wrapped data key has a bad length"));
    }
    Ok(())
}

/// The encryption-context key S3 binds objects and bucket keys to.
pub(crate) const ARN_CONTEXT_KEY: &str = "aws:s3:arn";

/// The keys of one object, derived from its data key and salt.
pub struct ObjectKeys {
    data: StreamKey,
    header: SecretKey,
}

impl std::fmt::Debug for ObjectKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ObjectKeys(<redacted>)")
    }
}

impl ObjectKeys {
    pub fn derive(data_key: &SecretKey, salt: &[u8; 32]) -> ObjectKeys {
        ObjectKeys {
            data: StreamKey::new(&hkdf_sha256(
                data_key.expose(),
                salt,
                b"kmsfs object data v1",
            )),
            header: hkdf_sha256(data_key.expose(), salt, b"kmsfs object header v1"),
        }
    }

    pub fn header_tag(&self, untagged: &[u8]) -> [u8; 32] {
        let mut m = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(self.header.expose())
            .expect("any key length");
        m.update(untagged);
        m.finalize().into_bytes().into()
    }

    /// Check the tag of a header (`header_bytes` = exactly the header, tag included).
    pub fn verify_header(&self, header_bytes: &[u8]) -> Result<(), FormatError> {
        let split = header_bytes
            .len()
            .checked_sub(HEADER_TAG_LEN)
            .ok_or_else(|| bad("shorter than its header"))?;
        let (data, tag) = header_bytes.split_at(split);
        if !crate::crypto::secret_eq(&self.header_tag(data), tag) {
            return Err(bad(
                "the header tag does not match (the header or record was changed, or the data key belongs to another object)",
            ));
        }
        Ok(())
    }

    pub fn seal_segment(
        &self,
        aad: &[u8],
        index: u64,
        last: bool,
        plain: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        self.data.seal_segment(index, last, aad, plain, out)
    }

    pub fn open_segment(
        &self,
        aad: &[u8],
        index: u64,
        last: bool,
        sealed: &[u8],
    ) -> Result<SecretBytes, FormatError> {
        self.data
            .open_segment(index, last, aad, sealed)
            .map_err(|_| {
                bad(format!(
                    "segment {index} does not authenticate (changed, moved, swapped or cut)"
                ))
            })
    }
}

/// The AAD of every segment of an object whose record hashes to `record_hash`.
pub fn segment_aad(record_hash: &[u8; 32]) -> [u8; 47] {
    let mut a = [0u8; 47];
    a[..15].copy_from_slice(SEGMENT_AAD_LABEL);
    a[15..].copy_from_slice(record_hash);
    a
}

/// `arn:<partition>:s3:::bucket` or `arn:<partition>:s3:::bucket/key`.
pub fn s3_arn(partition: &str, bucket: &str, key: Option<&str>) -> String {
    match key {
        Some(k) => format!("arn:{partition}:s3:::{bucket}/{k}"),
        None => format!("arn:{partition}:s3:::{bucket}"),
    }
}

/// The full encryption context of an object: `aws:s3:arn` plus the caller's.
pub fn object_context(arn: &str, caller: &EncryptionContext) -> EncryptionContext {
    let mut c = caller.clone();
    c.insert(ARN_CONTEXT_KEY.to_string(), arn.to_string());
    c
}

/// Which secret wraps a data key locally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalWrap {
    BucketKey,
    Customer,
}

impl LocalWrap {
    fn info(self) -> &'static [u8] {
        match self {
            LocalWrap::BucketKey => b"bucket key",
            LocalWrap::Customer => b"sse-c",
        }
    }
}

fn wrap_key(secret: &SecretKey, how: LocalWrap) -> AeadKey {
    AeadKey::new(&hkdf_sha256(
        secret.expose(),
        b"kmsfs object key wrap v1",
        how.info(),
    ))
}

/// Wrap `data_key` under `secret` (a bucket key or an SSE-C key), bound to the object's full
/// encryption context: nonce ‖ AES-256-GCM-SIV(KEK, nonce, aad = canonical context, key).
pub fn wrap_local(
    secret: &SecretKey,
    how: LocalWrap,
    context: &EncryptionContext,
    data_key: &SecretKey,
    nonce: [u8; 12],
) -> Result<Vec<u8>, CryptoError> {
    let aad = crate::encoding::encode(context);
    let mut out = nonce.to_vec();
    wrap_key(secret, how).seal_into(&nonce, &aad, data_key.expose(), &mut out)?;
    Ok(out)
}

/// Unwrap what [`wrap_local`] made; fails on a wrong secret or context.
pub(crate) fn unwrap_local(
    secret: &SecretKey,
    how: LocalWrap,
    context: &EncryptionContext,
    wrapped: &[u8],
) -> Result<SecretKey, CryptoError> {
    if wrapped.len() != LOCAL_WRAP_LEN {
        return Err(CryptoError::Authentication);
    }
    let nonce: [u8; 12] = wrapped[..12].try_into().expect("12 bytes");
    let aad = crate::encoding::encode(context);
    let k = wrap_key(secret, how).open(&nonce, &aad, &wrapped[12..])?;
    SecretKey::from_slice(k.expose()).ok_or(CryptoError::Authentication)
}

/// HMAC-SHA-256(customer key, "kmsfs sse-c v1" ‖ salt): what an SSE-C object keeps of its key.
pub fn sse_c_hmac(customer_key: &SecretKey, salt: &[u8; 16]) -> [u8; 32] {
    let mut m = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(customer_key.expose())
        .expect("any key length");
    m.update(b"kmsfs sse-c v1");
    m.update(salt);
    m.finalize().into_bytes().into()
}

/// Seal a whole object in memory (tests, vectors, fuzz seeds; the service streams).
/// `header.content_length` is set from `plain`; the ETag is left as given.
pub fn seal_object(
    header: &Header,
    data_key: &SecretKey,
    plain: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut h = header.clone();
    h.content_length = plain.len() as u64;
    let keys = ObjectKeys::derive(data_key, &h.salt);
    let mut out = h.encode(&keys);
    let aad = segment_aad(&sha256(&h.record_bytes()));
    let seg = h.segment_size.max(1) as usize;
    let n = h.segment_count();
    for i in 0..n {
        let start = (i as usize) * seg;
        let end = (start + seg).min(plain.len());
        keys.seal_segment(&aad, i, i + 1 == n, &plain[start..end], &mut out)?;
    }
    Ok(out)
}

/// Parse, authenticate and decrypt a whole object held in memory under `data_key`: the
/// header tag, the length, then every segment. Never panics.
pub fn open_object(
    bytes: &[u8],
    data_key: &SecretKey,
) -> Result<(Header, SecretBytes), FormatError> {
    let (h, hlen) = Header::parse(bytes)?;
    let keys = ObjectKeys::derive(data_key, &h.salt);
    keys.verify_header(&bytes[..hlen])?;
    let body = &bytes[hlen..];
    if body.len() as u64 != h.sealed_len() {
        return Err(bad(format!(
            "the segments are {} bytes; a {}-byte object has {}",
            body.len(),
            h.content_length,
            h.sealed_len()
        )));
    }
    let aad = segment_aad(&Header::record_hash(&bytes[..hlen])?);
    let mut out = SecretBytes::zeroed(0);
    let n = h.segment_count();
    for i in 0..n {
        let off = h.segment_offset(i) as usize;
        let len = h.segment_plain_len(i) + TAG_LEN;
        let sealed = body
            .get(off..off + len)
            .ok_or_else(|| bad("a segment is cut"))?;
        let p = keys.open_segment(&aad, i, i + 1 == n, sealed)?;
        out.expose_mut().extend_from_slice(p.expose());
    }
    Ok((h, out))
}

/// Open an SSE-C object held in memory with the caller's key, as a GET does: the key check
/// (`the SSE-C key does not match`), the local unwrap under the object's context
/// (`arn:<partition>:s3:::bucket/key`), then [`open_object`]. Never panics.
pub fn open_sse_c_object(
    bytes: &[u8],
    customer_key: &SecretKey,
    partition: &str,
) -> Result<(Header, SecretBytes), FormatError> {
    let (h, _) = Header::parse(bytes)?;
    let check = h
        .record
        .sse_c
        .as_ref()
        .ok_or_else(|| bad("not an SSE-C object"))?;
    if !crate::crypto::secret_eq(&sse_c_hmac(customer_key, &check.salt), &check.hmac) {
        return Err(bad("the SSE-C key does not match"));
    }
    let arn = s3_arn(partition, &h.record.bucket, Some(&h.record.key));
    let ctx = object_context(&arn, &h.record.context);
    let dk = unwrap_local(
        customer_key,
        LocalWrap::Customer,
        &ctx,
        &h.record.wrapped_key,
    )
    .map_err(|_| bad("the data key does not unwrap"))?;
    open_object(bytes, &dk)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            version: VERSION,
            sse: Sse::Aes256,
            segment_size: 1024,
            content_length: 0,
            salt: [7; 32],
            etag: [0; 16],
            last_modified_ms: 1,
            record: Record {
                bucket: "b".into(),
                key: "k".into(),
                kms_key_arn: Some("arn".into()),
                context: Default::default(),
                bucket_key_id: None,
                wrapped_key: vec![1; 10],
                sse_c: None,
                content_type: Some("text/plain".into()),
                metadata: vec![("a".into(), "b".into())],
            },
        }
    }

    #[test]
    fn round_trip_and_every_flip_is_found() {
        let k = SecretKey::from_bytes([9; 32]);
        for n in [0usize, 1, 1023, 1024, 1025, 3000] {
            let plain: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let b = seal_object(&header(), &k, &plain).unwrap();
            let (h, p) = open_object(&b, &k).unwrap();
            assert_eq!(p.expose(), &plain[..]);
            assert_eq!(h.content_length, n as u64);
            if n == 1025 {
                for i in 0..b.len() {
                    let mut c = b.clone();
                    c[i] ^= 1;
                    assert!(open_object(&c, &k).is_err(), "flip at {i}");
                }
                for cut in 0..b.len() {
                    assert!(open_object(&b[..cut], &k).is_err(), "cut at {cut}");
                }
            }
        }
    }

    #[test]
    fn v1_round_trips_without_metadata() {
        let k = SecretKey::from_bytes([9; 32]);
        let mut h = header();
        h.version = VERSION_1;
        let b = seal_object(&h, &k, b"old").unwrap();
        assert_eq!(&b[8..10], &VERSION_1.to_le_bytes());
        let (got, p) = open_object(&b, &k).unwrap();
        assert_eq!(p.expose(), b"old");
        assert_eq!(got.version, VERSION_1);
        assert_eq!(got.record.content_type, None);
        assert!(got.record.metadata.is_empty());
        let (v2, _) = open_object(&seal_object(&header(), &k, b"new").unwrap(), &k).unwrap();
        assert_eq!(v2.record, header().record);
    }

    #[test]
    fn local_wrap_binds_context() {
        let s = SecretKey::from_bytes([1; 32]);
        let dk = SecretKey::from_bytes([2; 32]);
        let c1 = object_context("arn:aws:s3:::b/k1", &Default::default());
        let c2 = object_context("arn:aws:s3:::b/k2", &Default::default());
        let w = wrap_local(&s, LocalWrap::BucketKey, &c1, &dk, [3; 12]).unwrap();
        assert_eq!(w.len(), LOCAL_WRAP_LEN);
        assert_eq!(unwrap_local(&s, LocalWrap::BucketKey, &c1, &w).unwrap(), dk);
        assert!(unwrap_local(&s, LocalWrap::BucketKey, &c2, &w).is_err());
        assert!(unwrap_local(&s, LocalWrap::Customer, &c1, &w).is_err());
    }
}
