//! File contents through handles: read, write (whole aligned blocks side by side, the rest
//! under the file's write lock; write-behind of what was written), fsync, and truncation
//! for setattr. The block format itself is `volume::content`'s.

use super::{FileState, FsError, FsResult, Handle, Ino, VolumeFs, check_rc};
use crate::fsutil::at;
use crate::volume::content::{BLOCK, ContentError, HEADER_LEN};
use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::Ordering;

impl VolumeFs {
    /// Whether the kernel is the keeper of file times (see the field).
    pub(crate) fn set_kernel_times(&self, on: bool) {
        self.kernel_times.store(on, Ordering::Relaxed);
    }

    /// Put the mtime the kernel keeps back on `h`'s file after a write moved it.
    fn keep_mtime(&self, h: &Handle) -> FsResult<()> {
        let kept = h.state.mtime.lock().expect("file mtime");
        let Some((secs, nsec)) = *kept else {
            return Ok(());
        };
        let times = [
            libc::timespec {
                tv_sec: 0,
                tv_nsec: libc::UTIME_OMIT,
            },
            libc::timespec {
                tv_sec: secs as libc::time_t,
                tv_nsec: nsec as libc::c_long,
            },
        ];
        use std::os::fd::AsRawFd;
        // SAFETY: a valid open fd and two timespecs.
        check_rc(unsafe { libc::futimens(h.file.as_raw_fd(), times.as_ptr()) })
    }

    /// The error for a content failure of the open file `ino`.
    #[cold]
    fn content_error(&self, ino: Ino, e: ContentError) -> FsError {
        self.damaged_ino(ino, e)
    }

    pub fn read(&self, fh: u64, offset: u64, size: u32) -> FsResult<Vec<u8>> {
        let h = self.handle(fh)?;
        let _r = h.state.lock.read().expect("file lock");
        let id = *h.state.id.lock().expect("file id");
        let id = id.flatten();
        self.content()
            .read(&h.file, id.as_ref(), offset, size as usize)
            .map_err(|e| self.content_error(h.ino, e))
    }

    pub fn write(&self, fh: u64, offset: u64, data: &[u8]) -> FsResult<u32> {
        let _hold = self.hold();
        let h = self.handle(fh)?;
        let id = h.state.id.lock().expect("file id").flatten();
        let bs = BLOCK as u64;
        let end = offset + data.len() as u64;
        // Whole blocks inside the file touch no other block and change no size: such writes
        // run side by side under the shared lock; the rest take the file's write lock.
        let aligned = offset.is_multiple_of(bs) && (data.len() as u64).is_multiple_of(bs);
        if aligned {
            let _r = h.state.lock.read().expect("file lock");
            let m = h.file.metadata()?;
            let cur = self.content().plain_size(m.len());
            // Only where no hole can be filled (holes would need counting against the size).
            let dense = m.blocks() * 512 >= m.len();
            if aligned && end <= cur && dense {
                self.content()
                    .write_at_len(&h.file, id.as_ref(), offset, data, m.len())
                    .map_err(|e| self.content_error(h.ino, e))?;
                self.keep_mtime(&h)?;
                drop(_r);
                self.write_behind(&h, offset, data.len());
                return Ok(data.len() as u32);
            }
        }
        let _w = h.state.lock.write().expect("file lock");
        let m = h.file.metadata()?;
        let cur = self.content().plain_size(m.len());
        let growth = end.saturating_sub(cur).min(data.len() as u64 + bs);
        if growth > 0 && self.over_limit(growth) {
            return Err(FsError::NoSpace);
        }
        let before = m.blocks() * 512;
        self.content()
            .write_at_len(&h.file, id.as_ref(), offset, data, m.len())
            .map_err(|e| self.content_error(h.ino, e))?;
        if growth > 0 || before < m.len() {
            self.account(before, h.file.metadata()?.blocks() * 512);
        }
        self.keep_mtime(&h)?;
        drop(_w);
        self.write_behind(&h, offset, data.len());
        Ok(data.len() as u32)
    }

    #[inline]
    fn write_behind(&self, h: &Handle, offset: u64, len: usize) {
        let shift = if self.keys.is_some() { HEADER_LEN } else { 0 };
        h.behind.note(&h.file, offset, len as u64, shift);
    }

    /// Make the file `fh` durable, and first every directory id and long-name sidecar made
    /// so far (its name may be encrypted under one).
    pub(crate) fn fsync(&self, fh: u64, datasync: bool) -> FsResult<()> {
        let h = self.handle(fh)?;
        self.syncer.wait()?;
        if datasync {
            h.file.sync_data()?
        } else {
            h.file.sync_all()?
        }
        Ok(())
    }

    /// At unmount: make every directory id and long-name sidecar made so far durable, and
    /// stop making files ahead (their staging directory is removed).
    pub fn settle(&self) -> FsResult<()> {
        if let Some(Some(t)) = self.tmpfiles.get() {
            t.stop();
        }
        Ok(self.syncer.wait()?)
    }

    /// Make the directory `ino`'s entries durable, and first every directory id and
    /// long-name sidecar made so far.
    pub fn fsyncdir(&self, ino: Ino) -> FsResult<()> {
        let dir = self.dir_fd(ino)?;
        self.syncer.wait()?;
        // The kept handle is O_PATH, which fsync refuses: the directory itself, read-only.
        let d = at::open(
            dir.as_fd(),
            OsStr::new("."),
            libc::O_RDONLY | libc::O_DIRECTORY,
            0,
        )?;
        d.sync_all()?;
        Ok(())
    }

    /// Cut or extend `file` (state `st`, of inode `ino`) to `size` plaintext bytes,
    /// under its write lock; growth counts against the size limit.
    pub(super) fn truncate(
        &self,
        file: &File,
        st: &FileState,
        ino: Ino,
        size: u64,
    ) -> FsResult<()> {
        let _w = st.lock.write().expect("file lock");
        let id = self.file_id(file, st, ino)?;
        let before = file.metadata()?.blocks() * 512;
        let cur = self.content().plain_size(file.metadata()?.len());
        if size > cur && self.over_limit((size - cur).min(1 << 20)) {
            return Err(FsError::NoSpace);
        }
        self.content()
            .truncate(file, id.as_ref(), size)
            .map_err(|e| self.damaged_ino(ino, e))?;
        self.account(before, file.metadata()?.blocks() * 512);
        Ok(())
    }
}
