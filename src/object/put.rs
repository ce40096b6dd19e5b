//! Writing objects: PUT, copy (GET then PUT under a new data key) and DELETE.
//!
//! PUT streams the body through in segment-sized pieces into a temp file
//! `objects/.tmp.<pid>.<hex>` in the bucket, writes the header last, then fsyncs, renames
//! over the object and fsyncs the directory ([`PendingFile`]): readers see the old object
//! or the new one, and the last rename wins. The first PUT to a bucket in a process removes
//! the temp files of PUTs whose process died.

use super::ObjectError;
use super::bucket::{self, BucketPaths};
use super::format::{self, Header, MAX_CONTENT, ObjectKeys, Sse};
use super::info::ObjectInfo;
use super::service::{ObjectService, random};
use super::sse::{PutOptions, SseCustomerKey, plan};
use crate::crypto::{SecretBytes, TAG_LEN, hex, sha256};
use crate::fsutil::{self, PendingFile};
use crate::timefmt::now_ms;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;

/// The prefix of a PUT's temp file in `objects/`: `.tmp.<pid>.<16 hex digits>`.
use crate::fsutil::TEMP_PREFIX as TMP_PREFIX;

/// Why streaming a body into segments stopped.
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

/// S3 user metadata as an object keeps it: keys lowercased (a later duplicate replaces an
/// earlier one), at most [`format::MAX_METADATA`] bytes in all, else `MetadataTooLarge`.
fn user_metadata(given: &[(String, String)]) -> Result<Vec<(String, String)>, ObjectError> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(given.len());
    for (k, v) in given {
        let k = k.to_ascii_lowercase();
        if k.is_empty() {
            return Err(ObjectError::InvalidArgument(
                "a metadata key is empty".into(),
            ));
        }
        match out.iter_mut().find(|(ok, _)| *ok == k) {
            Some(e) => e.1 = v.clone(),
            None => out.push((k, v.clone())),
        }
    }
    let n = format::metadata_size(&out);
    if n > format::MAX_METADATA {
        return Err(ObjectError::MetadataTooLarge(format!(
            "the user metadata is {n} bytes; S3 allows at most {} (2 KB)",
            format::MAX_METADATA
        )));
    }
    Ok(out)
}

impl ObjectService {
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
        let metadata = user_metadata(&opts.metadata)?;
        let (p, cfg) = self.existing(bucket)?;
        let plan = plan(&cfg.encryption, opts)?;
        let _l = self.lock(bucket, &p, false)?;
        self.sweep_temp_files(bucket, &p);
        let arn = format::s3_arn(&self.partition, bucket, Some(key));
        let ctx = format::object_context(&arn, &plan.context);
        let sse_c = opts.sse_c.as_ref();
        let (data_key, mut record) = self.new_data_key(&p, (bucket, key), &plan, &ctx, sse_c)?;
        record.content_type = opts.content_type.clone();
        record.metadata = metadata;
        let mut header = Header {
            version: format::VERSION,
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
        self.write_object(&p, key, &mut header, &keys, body)?;
        Ok(ObjectInfo::of(&header, sse_c.map(|k| k.key_md5())))
    }

    /// Write the object file of `key`: room for the header, the sealed segments of `body`,
    /// then the header with the length and ETag filled in; then put it in place.
    fn write_object(
        &self,
        p: &BucketPaths,
        key: &str,
        header: &mut Header,
        keys: &ObjectKeys,
        body: impl Read,
    ) -> Result<(), ObjectError> {
        let hlen = header.len();
        let aad = format::segment_aad(&sha256(&header.record_bytes()));
        let dst = p.object(key);
        let tmp = p.objects().join(format!(
            "{TMP_PREFIX}{}.{}",
            std::process::id(),
            hex(&random::<8>()?)
        ));
        let f = PendingFile::create_as(&dst, tmp.clone(), 0o600)
            .map_err(|e| ObjectError::io(&tmp, e))?;
        let io = |e| ObjectError::io(&tmp, e);
        let mut w = std::io::BufWriter::with_capacity(256 * 1024, f.file());
        w.write_all(&vec![0u8; hlen]).map_err(io)?;
        let seg = self.opts.segment_size as usize;
        let plain_md5 = header.sse == Sse::Aes256;
        let (len, md5) =
            stream_segments(body, keys, &aad, seg, plain_md5, &mut w).map_err(|e| match e {
                StreamError::Read(e) => ObjectError::Stream {
                    what: "reading the object body",
                    source: e,
                },
                StreamError::Write(e) => io(e),
                StreamError::Object(e) => e,
            })?;
        w.flush().map_err(io)?;
        drop(w);
        header.content_length = len;
        header.etag = md5;
        let hb = header.encode(keys);
        debug_assert_eq!(hb.len(), hlen);
        f.file().write_all_at(&hb, 0).map_err(io)?;
        f.commit().map_err(|e| ObjectError::io(&dst, e))
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
            if crate::fsutil::dead_writers_temp(&e.file_name()) {
                let _ = std::fs::remove_file(e.path());
            }
        }
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
        let mut opts = opts.clone();
        if !opts.replace_metadata {
            opts.content_type = r.header.record.content_type.clone();
            opts.metadata = r.header.record.metadata.clone();
        }
        let mut err = None;
        let info = self.put_object(dst_bucket, dst_key, r.segments(&mut err), &opts);
        match (info, err) {
            (_, Some(e)) => Err(e),
            (i, None) => i,
        }
    }
}
