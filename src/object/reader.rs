//! Reading an object file: its header, and [`ObjectReader`], an opened object whose
//! segments are read and authenticated one at a time (random access, ranges, a sequential
//! `Read`, and the segment stream a copy PUTs).

use super::ObjectError;
use super::format::{FIXED_LEN, Header, ObjectKeys};
use super::info::ObjectInfo;
use crate::crypto::{SecretBytes, TAG_LEN};
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Mutex;

/// Read and parse the header at the start of `f`; returns it and its bytes.
pub(crate) fn read_header_from(f: &File) -> Result<(Header, Vec<u8>), String> {
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

/// An object opened for reading (see [`super::ObjectService::open_object`]).
pub struct ObjectReader {
    pub(crate) info: ObjectInfo,
    pub(crate) file: File,
    pub(crate) path: PathBuf,
    pub(crate) header: Header,
    /// Where the segments start (the header's length).
    pub(crate) data_off: u64,
    pub(crate) keys: ObjectKeys,
    pub(crate) aad: [u8; 47],
    /// The last segment read (index, plaintext), for small sequential reads.
    pub(crate) cache: Mutex<Option<(u64, SecretBytes)>>,
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
        let failed = |e| ObjectError::Stream {
            what: "writing the object",
            source: e,
        };
        let seg = self.segment_size();
        let mut pos = start;
        while pos < end {
            let i = pos / seg;
            let p = self.segment(i)?;
            let within = (pos - i * seg) as usize;
            let take = ((p.len() - within) as u64).min(end - pos) as usize;
            out.write_all(&p.expose()[within..within + take])
                .map_err(failed)?;
            pos += take as u64;
        }
        out.flush().map_err(failed)?;
        Ok(end - start)
    }

    /// A sequential `Read` over the whole object (each segment authenticated before use).
    pub fn reader(&self) -> impl Read + '_ {
        ReaderAdapter { r: self, pos: 0 }
    }

    /// The segments in order as a `Read` (the body of a copy); an authentication failure
    /// is kept in `err` so the copy reports it as it is (not as an I/O error of the body).
    pub(crate) fn segments<'e>(&self, err: &'e mut Option<ObjectError>) -> SegmentRead<'_, 'e> {
        SegmentRead {
            r: self,
            next: 0,
            buf: SecretBytes::zeroed(0),
            pos: 0,
            err,
        }
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

/// See [`ObjectReader::segments`].
pub(crate) struct SegmentRead<'a, 'e> {
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
