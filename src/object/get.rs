//! Reading objects: open (unwrap the data key, authenticate the header, check the length),
//! GET of the whole object or a [`ByteRange`], HEAD, and a key-free stat. GET authenticates
//! each segment before writing any of its bytes.

use super::ObjectError;
use super::bucket::{self, BucketPaths};
use super::format::{self, Header, ObjectKeys};
use super::info::{ObjectInfo, ObjectSummary};
use super::reader::{ObjectReader, read_header_from};
use super::service::{ObjectService, io_or};
use super::sse::{SseCustomerKey, Unwrap, sse_c_md5, wrong_sse_c_key};
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

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

/// An object file opened and its header parsed (no key needed, nothing authenticated yet).
struct ObjectFile {
    paths: BucketPaths,
    path: PathBuf,
    file: File,
    header: Header,
    /// The header's bytes.
    bytes: Vec<u8>,
}

impl ObjectService {
    /// Read and parse an object's header, checking it names the object.
    fn read_header(&self, bucket: &str, key: &str) -> Result<ObjectFile, ObjectError> {
        bucket::check_key(key)?;
        let (paths, _) = self.existing(bucket)?;
        let path = paths.object(key);
        let file = File::open(&path).map_err(|e| {
            io_or(&path, e, || ObjectError::NoSuchKey {
                bucket: bucket.into(),
                key: key.into(),
            })
        })?;
        let (header, bytes) =
            read_header_from(&file).map_err(|why| ObjectError::damaged(&path, why))?;
        if header.record.bucket != bucket || header.record.key != key {
            return Err(ObjectError::damaged(
                &path,
                format!(
                    "the file holds {}/{} (moved or swapped)",
                    header.record.bucket, header.record.key
                ),
            ));
        }
        Ok(ObjectFile {
            paths,
            path,
            file,
            header,
            bytes,
        })
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
        let o = self.read_header(bucket, key)?;
        let (h, hb, path) = (&o.header, &o.bytes, &o.path);
        let object = format!("{bucket}/{key}");
        let arn = format::s3_arn(&self.partition, bucket, Some(key));
        let u = Unwrap {
            paths: &o.paths,
            bucket,
            object: &object,
            path,
            header: h,
            ctx: format::object_context(&arn, &h.record.context),
        };
        let md5 = sse_c_md5(&h.record, sse_c, &object, |k| u.wrong_key(k))?;
        let data_key = self.unwrap_data_key(&u, sse_c)?;
        let keys = ObjectKeys::derive(&data_key, &h.salt);
        drop(data_key);
        keys.verify_header(hb)
            .map_err(|e| ObjectError::damaged(path, e.0))?;
        let data_off = hb.len() as u64;
        let flen = o
            .file
            .metadata()
            .map_err(|e| ObjectError::io(path, e))?
            .len();
        if flen != data_off + h.sealed_len() {
            return Err(ObjectError::damaged(
                path,
                format!(
                    "the file is {flen} bytes; a {}-byte object takes {} (truncated or extended)",
                    h.content_length,
                    data_off + h.sealed_len()
                ),
            ));
        }
        let hash = Header::record_hash(hb).map_err(|e| ObjectError::damaged(path, e.0))?;
        Ok(ObjectReader {
            info: ObjectInfo::of(h, md5),
            file: o.file,
            path: o.path,
            header: o.header,
            data_off,
            keys,
            aad: format::segment_aad(&hash),
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
        let object = format!("{bucket}/{key}");
        let h = self.read_header(bucket, key)?.header;
        let md5 = sse_c_md5(&h.record, sse_c, &object, |_| wrong_sse_c_key(&object))?;
        Ok(ObjectInfo::of(&h, md5))
    }

    /// An object's size, ETag and time without any key, even for SSE-C (for listings and
    /// the FUSE view's getattr). Not authenticated.
    pub fn stat_object(&self, bucket: &str, key: &str) -> Result<ObjectSummary, ObjectError> {
        let h = self.read_header(bucket, key)?.header;
        Ok(ObjectSummary::of(&h))
    }
}
