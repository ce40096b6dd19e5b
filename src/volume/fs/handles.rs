//! Open files: the per-inode state every handle of a file shares (its content lock and
//! file id), the handle table, open and release.

use super::at;
use super::{FileState, FsError, FsResult, Handle, Ino, Meta, SetAttr, VolumeFs, WriteBehind};
use std::fs::File;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};

impl VolumeFs {
    /// The shared state of `ino`'s content, open as `f` (made on first use, kept while a
    /// handle has it).
    pub(super) fn state(&self, ino: Ino, f: &File) -> FsResult<Arc<FileState>> {
        self.state_known(ino, f, None)
    }

    /// [`state`](Self::state), with `f`'s mtime if the caller just read it.
    pub(super) fn state_known(
        &self,
        ino: Ino,
        f: &File,
        mtime: Option<(i64, i64)>,
    ) -> FsResult<Arc<FileState>> {
        let mut st = self.states.lock().expect("states");
        if let Some(s) = st.get(&ino).and_then(|w| w.upgrade()) {
            return Ok(s);
        }
        // No handle of `ino` is open, so no write of it is in flight: its mtime is settled.
        let mtime = match (self.kernel_times.load(Ordering::Relaxed), mtime) {
            (false, _) => None,
            (true, Some(m)) => Some(m),
            (true, None) => Some(Meta::of(f)?.mtime),
        };
        let s = Arc::new(FileState {
            lock: RwLock::new(()),
            id: Mutex::new(None),
            mtime: Mutex::new(mtime),
        });
        st.insert(ino, Arc::downgrade(&s));
        if st.len() > 4096 {
            st.retain(|_, w| w.strong_count() > 0);
        }
        Ok(s)
    }

    /// The shared state of `ino` if a handle of it is open.
    pub(super) fn open_state(&self, ino: Ino) -> Option<Arc<FileState>> {
        let st = self.states.lock().expect("states");
        st.get(&ino).and_then(|w| w.upgrade())
    }

    /// The file id of `f` (read from its header once, then kept in `st`).
    pub(super) fn file_id(&self, f: &File, st: &FileState, ino: Ino) -> FsResult<Option<[u8; 16]>> {
        let mut id = st.id.lock().expect("file id");
        if let Some(i) = *id {
            return Ok(i);
        }
        let got = self
            .content()
            .file_id(f)
            .map_err(|e| self.damaged_ino(ino, e))?;
        *id = Some(got);
        Ok(got)
    }

    pub(super) fn add_handle(&self, file: File, ino: Ino, state: Arc<FileState>) -> u64 {
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        self.handles.write().expect("handles").insert(
            fh,
            Arc::new(Handle {
                file,
                ino,
                state,
                behind: WriteBehind::default(),
            }),
        );
        fh
    }

    pub(super) fn handle(&self, fh: u64) -> FsResult<Arc<Handle>> {
        self.handles
            .read()
            .expect("handles")
            .get(&fh)
            .cloned()
            .ok_or(FsError::BadHandle)
    }

    pub fn open(&self, ino: Ino, flags: i32) -> FsResult<u64> {
        let p = self.at(ino)?;
        // Read access is always needed: partial-block writes read, and the kernel's
        // writeback cache reads pages of write-only files.
        let f = match at::open(p.fd(), p.name(), libc::O_RDWR, 0) {
            Ok(f) => f,
            Err(e)
                if e.raw_os_error() == Some(libc::EACCES)
                    || e.raw_os_error() == Some(libc::EROFS) =>
            {
                if flags & libc::O_ACCMODE != libc::O_RDONLY {
                    return Err(e.into());
                }
                at::open(p.fd(), p.name(), libc::O_RDONLY, 0)?
            }
            Err(e) => return Err(e.into()),
        };
        let st = self.state(ino, &f)?;
        self.file_id(&f, &st, ino)?;
        if flags & libc::O_TRUNC != 0 {
            self.setattr(
                ino,
                SetAttr {
                    size: Some(0),
                    ..Default::default()
                },
                None,
            )?;
        }
        Ok(self.add_handle(f, ino, st))
    }

    pub fn release(&self, fh: u64) {
        let h = self.handles.write().expect("handles").remove(&fh);
        // The backing file is closed here, outside the lock, so that requests looking up
        // other handles do not wait for the close.
        drop(h);
    }
}
