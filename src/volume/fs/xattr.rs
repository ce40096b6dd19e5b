//! Extended attributes: only the `user.` namespace; on an encrypted volume the names are
//! encrypted (deterministically, one context for all) and the values sealed. A mount may
//! turn them off (`kmsfs mount --no-xattr`, as gocryptfs's `-noxattr`): every xattr call
//! then fails with [`FsError::XattrsOff`] (ENOSYS), so the kernel stops asking, including
//! for the `security.capability` it reads at a file's first write and at every chown.

use super::at;
use super::{FsError, FsResult, Ino, VolumeFs, names, open_meta, seal_meta};
use crate::fsutil::xattr;
use crate::volume::names::Stored;
use std::ffi::{CString, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::Ordering;

/// The name-encryption context of xattr names (they have no directory).
pub(in crate::volume) const XATTR_DIRID: [u8; 16] = [0xA5; 16];

impl VolumeFs {
    /// Serve extended attributes (`on`, the default) or refuse every xattr call.
    pub fn set_xattrs(&self, on: bool) {
        self.xattrs.store(on, Ordering::Relaxed);
    }

    fn xattrs_on(&self) -> FsResult<()> {
        match self.xattrs.load(Ordering::Relaxed) {
            true => Ok(()),
            false => Err(FsError::XattrsOff),
        }
    }

    /// The entry `ino` as a path for the xattr calls: `/proc/self/fd/N` of an `O_PATH`
    /// descriptor of it (the xattr calls take no directory handle), with the descriptor.
    fn xattr_target(&self, ino: Ino) -> FsResult<(CString, std::os::fd::OwnedFd)> {
        let fd = at::open_path(&self.at(ino)?)?;
        Ok((at::fd_path(&fd), fd))
    }

    fn xattr_name(&self, name: &OsStr) -> FsResult<CString> {
        let b = name.as_bytes();
        if !b.starts_with(b"user.") {
            return Err(FsError::NotSupported);
        }
        let stored = match &self.keys {
            None => b.to_vec(),
            Some(k) => {
                let s = names::encrypt(&k.names, &XATTR_DIRID, name);
                match s {
                    Stored::Direct(n) => [b"user.".as_slice(), n.as_bytes()].concat(),
                    Stored::Long { .. } => return Err(FsError::Range),
                }
            }
        };
        CString::new(stored).map_err(|_| FsError::Invalid)
    }

    pub fn setxattr(&self, ino: Ino, name: &OsStr, value: &[u8], flags: i32) -> FsResult<()> {
        self.xattrs_on()?;
        let _hold = self.hold();
        let (p, _fd) = self.xattr_target(ino)?;
        let n = self.xattr_name(name)?;
        let v = match &self.keys {
            None => value.to_vec(),
            Some(k) => seal_meta(k, n.as_bytes(), value)?,
        };
        Ok(xattr::set(&p, &n, &v, flags, true)?)
    }

    pub fn getxattr(&self, ino: Ino, name: &OsStr) -> FsResult<Vec<u8>> {
        // The name first: the kernel asks for `security.capability` before every write, and
        // that answer must cost no path lookup and no syscall.
        self.xattrs_on()?;
        let n = self.xattr_name(name)?;
        let (p, _fd) = self.xattr_target(ino)?;
        let raw = xattr::get(&p, &n, true)?;
        match &self.keys {
            None => Ok(raw),
            Some(k) => open_meta(k, n.as_bytes(), &raw)
                .ok_or_else(|| FsError::Io(io::Error::from_raw_os_error(libc::EIO))),
        }
    }

    pub fn listxattr(&self, ino: Ino) -> FsResult<Vec<u8>> {
        self.xattrs_on()?;
        let (p, _fd) = self.xattr_target(ino)?;
        let buf = xattr::list(&p, true)?;
        let mut out = Vec::new();
        for name in buf.split(|&b| b == 0).filter(|s| !s.is_empty()) {
            let Some(rest) = name.strip_prefix(b"user.") else {
                continue;
            };
            let plain = match &self.keys {
                None => name.to_vec(),
                Some(k) => match std::str::from_utf8(rest)
                    .ok()
                    .and_then(|s| names::decrypt(&k.names, &XATTR_DIRID, s))
                {
                    Some(n) => n.as_bytes().to_vec(),
                    None => continue,
                },
            };
            out.extend_from_slice(&plain);
            out.push(0);
        }
        Ok(out)
    }

    pub fn removexattr(&self, ino: Ino, name: &OsStr) -> FsResult<()> {
        self.xattrs_on()?;
        let _hold = self.hold();
        let (p, _fd) = self.xattr_target(ino)?;
        let n = self.xattr_name(name)?;
        Ok(xattr::remove(&p, &n, true)?)
    }
}
