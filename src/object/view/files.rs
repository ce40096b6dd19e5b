//! Open files of the view: handles for reading (the object as it was at open) and writing
//! (an encrypted spool of the whole new content, PUT at flush), and the paths pending while
//! a writer has them open.

use super::{BucketView, NodeAttr, NodeKind, ViewError, ViewResult};
use crate::object::spool::Spool;
use crate::object::{ObjectError, ObjectReader, PutOptions};
use std::ffi::OsStr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// An open file.
pub(super) struct Handle {
    pub(super) key: String,
    /// Open for reading only: the object as it was at open.
    reader: Option<ObjectReader>,
    /// Open for writing: the whole new content, PUT at flush when `dirty`.
    pub(super) spool: Option<Spool>,
    dirty: bool,
    /// Opened for writing (the path stays pending until this handle goes).
    writer: bool,
}

impl BucketView {
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
}
