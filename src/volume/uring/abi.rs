//! The bytes of FUSE over io_uring (docs/FORMAT.md "FUSE over io_uring"): a ring entry's
//! header buffer (`struct fuse_uring_req_header` of include/uapi/linux/fuse.h), the request
//! it carries decoded into an [`Op`], and the replies encoded. Every read is bounds-checked:
//! a short or garbled request decodes to an error, never a panic (fuzz target
//! `uring_request`). Nothing here does I/O.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// `fuse_uring_req_header`: `in_out[128]`, `op_in[128]`, `fuse_uring_ent_in_out` (32 bytes).
pub(crate) const HEADER_LEN: usize = 288;
/// Where the op's fixed arguments start in the header buffer.
pub(crate) const OP_IN: usize = 128;
/// Where `fuse_uring_ent_in_out` starts: flags u64, commit_id u64, payload_sz u32, ...
pub(crate) const ENT_IN_OUT: usize = 256;

/// The ring commands (`cmd_op` of the SQE).
pub(crate) const CMD_REGISTER: u32 = 1;
pub(crate) const CMD_COMMIT_AND_FETCH: u32 = 2;

/// `struct fuse_uring_cmd_req` (the SQE's 80-byte command area): flags u64, commit_id u64,
/// qid u16, padding.
pub(crate) fn cmd_req(qid: u16, commit_id: u64) -> [u8; 80] {
    let mut c = [0u8; 80];
    c[8..16].copy_from_slice(&commit_id.to_le_bytes());
    c[16..18].copy_from_slice(&qid.to_le_bytes());
    c
}

/// `fuse_in_header`'s fields that matter here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InHeader {
    pub opcode: u32,
    pub unique: u64,
    pub nodeid: u64,
    pub uid: u32,
    pub gid: u32,
    pub pid: u32,
}

/// Attribute changes of SETATTR (`fuse_setattr_in`), as the kernel sent them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SetattrIn {
    pub valid: u32,
    pub fh: u64,
    pub size: u64,
    pub atime: (i64, u32),
    pub mtime: (i64, u32),
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// `fuse_setattr_in.valid` bits.
pub(crate) mod fattr {
    pub const MODE: u32 = 1;
    pub const UID: u32 = 1 << 1;
    pub const GID: u32 = 1 << 2;
    pub const SIZE: u32 = 1 << 3;
    pub const ATIME: u32 = 1 << 4;
    pub const MTIME: u32 = 1 << 5;
    pub const FH: u32 = 1 << 6;
    pub const ATIME_NOW: u32 = 1 << 7;
    pub const MTIME_NOW: u32 = 1 << 8;
}

/// The opcodes this transport serves (include/uapi/linux/fuse.h `enum fuse_opcode`).
pub(crate) mod opcode {
    pub const LOOKUP: u32 = 1;
    pub const GETATTR: u32 = 3;
    pub const SETATTR: u32 = 4;
    pub const READLINK: u32 = 5;
    pub const SYMLINK: u32 = 6;
    pub const MKNOD: u32 = 8;
    pub const MKDIR: u32 = 9;
    pub const UNLINK: u32 = 10;
    pub const RMDIR: u32 = 11;
    pub const RENAME: u32 = 12;
    pub const LINK: u32 = 13;
    pub const OPEN: u32 = 14;
    pub const READ: u32 = 15;
    pub const WRITE: u32 = 16;
    pub const STATFS: u32 = 17;
    pub const RELEASE: u32 = 18;
    pub const FSYNC: u32 = 20;
    pub const SETXATTR: u32 = 21;
    pub const GETXATTR: u32 = 22;
    pub const LISTXATTR: u32 = 23;
    pub const REMOVEXATTR: u32 = 24;
    pub const FLUSH: u32 = 25;
    pub const OPENDIR: u32 = 27;
    pub const READDIR: u32 = 28;
    pub const RELEASEDIR: u32 = 29;
    pub const FSYNCDIR: u32 = 30;
    pub const CREATE: u32 = 35;
    pub const DESTROY: u32 = 38;
    pub const READDIRPLUS: u32 = 44;
    pub const RENAME2: u32 = 45;
}

/// One decoded request. Names borrow the payload buffer (without their NUL).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Op<'a> {
    Lookup {
        name: &'a OsStr,
    },
    Getattr {
        fh: Option<u64>,
    },
    Setattr(SetattrIn),
    Readlink,
    Symlink {
        name: &'a OsStr,
        target: &'a OsStr,
    },
    Mknod {
        mode: u32,
        rdev: u32,
        umask: u32,
        name: &'a OsStr,
    },
    Mkdir {
        mode: u32,
        umask: u32,
        name: &'a OsStr,
    },
    Unlink {
        name: &'a OsStr,
    },
    Rmdir {
        name: &'a OsStr,
    },
    Rename {
        newdir: u64,
        flags: u32,
        name: &'a OsStr,
        newname: &'a OsStr,
    },
    Link {
        oldnodeid: u64,
        name: &'a OsStr,
    },
    Open {
        flags: u32,
    },
    Read {
        fh: u64,
        offset: u64,
        size: u32,
    },
    Write {
        fh: u64,
        offset: u64,
        write_flags: u32,
        data: &'a [u8],
    },
    Statfs,
    Release {
        fh: u64,
    },
    Fsync {
        fh: u64,
        datasync: bool,
    },
    Fsyncdir,
    Setxattr {
        flags: i32,
        name: &'a OsStr,
        value: &'a [u8],
    },
    Getxattr {
        size: u32,
        name: &'a OsStr,
    },
    Listxattr {
        size: u32,
    },
    Removexattr {
        name: &'a OsStr,
    },
    Flush,
    Opendir,
    Readdir {
        fh: u64,
        offset: u64,
        size: u32,
        plus: bool,
    },
    Releasedir {
        fh: u64,
    },
    Create {
        flags: u32,
        mode: u32,
        umask: u32,
        name: &'a OsStr,
    },
    Destroy,
    /// An opcode this transport does not serve (answered ENOSYS, as fuser does).
    Other(u32),
}

/// A request too short for its opcode, or a name without its NUL.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Garbled;

/// A bounds-checked little-endian reader.
struct Cur<'a>(&'a [u8]);

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Garbled> {
        if self.0.len() < n {
            return Err(Garbled);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u32(&mut self) -> Result<u32, Garbled> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, Garbled> {
        let lo = u64::from(self.u32()?);
        let hi = u64::from(self.u32()?);
        Ok(lo | hi << 32)
    }
    fn i64(&mut self) -> Result<i64, Garbled> {
        Ok(self.u64()? as i64)
    }
    /// A NUL-terminated name (the NUL consumed, not returned).
    fn name(&mut self) -> Result<&'a OsStr, Garbled> {
        let n = self.0.iter().position(|&b| b == 0).ok_or(Garbled)?;
        let s = self.take(n)?;
        self.take(1)?;
        Ok(OsStr::from_bytes(s))
    }
}

/// The `fuse_in_header` at the start of `in_out`.
pub(crate) fn in_header(in_out: &[u8]) -> Result<InHeader, Garbled> {
    let mut c = Cur(in_out);
    let _len = c.u32()?;
    Ok(InHeader {
        opcode: c.u32()?,
        unique: c.u64()?,
        nodeid: c.u64()?,
        uid: c.u32()?,
        gid: c.u32()?,
        pid: c.u32()?,
    })
}

/// `commit_id` and `payload_sz` of the entry's `fuse_uring_ent_in_out` (`ent` from offset
/// [`ENT_IN_OUT`]).
pub(crate) fn ent_in_out(ent: &[u8]) -> Result<(u64, u32), Garbled> {
    let mut c = Cur(ent);
    let _flags = c.u64()?;
    Ok((c.u64()?, c.u32()?))
}

/// The bytes a READ or WRITE moves (`size` of `fuse_read_in` / `fuse_write_in`), from an
/// entry's request header (`in_out` at 0, `op_in` at [`OP_IN`]); None for other requests.
pub(crate) fn data_len(header: &[u8]) -> Option<u32> {
    let u32_at = |at: usize| Cur(header.get(at..)?).u32().ok();
    match u32_at(4)? {
        opcode::READ | opcode::WRITE => u32_at(OP_IN + 16),
        _ => None,
    }
}

/// Decode a request: its header (`in_out`), the op's fixed arguments (`op_in`) and the rest
/// of its arguments (`payload`, already cut to `payload_sz`).
pub(crate) fn decode<'a>(
    in_out: &[u8],
    op_in: &'a [u8],
    payload: &'a [u8],
) -> Result<(InHeader, Op<'a>), Garbled> {
    let h = in_header(in_out)?;
    let op = decode_op(h.opcode, &mut Cur(op_in), &mut Cur(payload))?;
    Ok((h, op))
}

fn decode_op<'a>(code: u32, a: &mut Cur<'a>, p: &mut Cur<'a>) -> Result<Op<'a>, Garbled> {
    use opcode as o;
    Ok(match code {
        o::LOOKUP => Op::Lookup { name: p.name()? },
        o::GETATTR => {
            let flags = a.u32()?;
            a.u32()?;
            let fh = a.u64()?;
            Op::Getattr {
                fh: (flags & 1 != 0).then_some(fh),
            }
        }
        o::SETATTR => Op::Setattr(setattr_in(a)?),
        o::READLINK => Op::Readlink,
        o::SYMLINK => Op::Symlink {
            name: p.name()?,
            target: p.name()?,
        },
        o::MKNOD => Op::Mknod {
            mode: a.u32()?,
            rdev: a.u32()?,
            umask: a.u32()?,
            name: p.name()?,
        },
        o::MKDIR => Op::Mkdir {
            mode: a.u32()?,
            umask: a.u32()?,
            name: p.name()?,
        },
        o::UNLINK => Op::Unlink { name: p.name()? },
        o::RMDIR => Op::Rmdir { name: p.name()? },
        o::RENAME | o::RENAME2 => Op::Rename {
            newdir: a.u64()?,
            flags: if code == o::RENAME2 { a.u32()? } else { 0 },
            name: p.name()?,
            newname: p.name()?,
        },
        o::LINK => Op::Link {
            oldnodeid: a.u64()?,
            name: p.name()?,
        },
        other => decode_handle_op(other, a, p)?,
    })
}

/// The opcodes on open files and directories, xattrs and the rest (after [`decode_op`]).
fn decode_handle_op<'a>(code: u32, a: &mut Cur<'a>, p: &mut Cur<'a>) -> Result<Op<'a>, Garbled> {
    use opcode as o;
    Ok(match code {
        o::OPEN => Op::Open { flags: a.u32()? },
        o::READ | o::READDIR | o::READDIRPLUS => {
            let (fh, offset, size) = (a.u64()?, a.u64()?, a.u32()?);
            match code {
                o::READ => Op::Read { fh, offset, size },
                _ => Op::Readdir {
                    fh,
                    offset,
                    size,
                    plus: code == o::READDIRPLUS,
                },
            }
        }
        o::WRITE => {
            let (fh, offset, size, write_flags) = (a.u64()?, a.u64()?, a.u32()?, a.u32()?);
            Op::Write {
                fh,
                offset,
                write_flags,
                data: p.take(size as usize)?,
            }
        }
        o::STATFS => Op::Statfs,
        o::RELEASE => Op::Release { fh: a.u64()? },
        o::RELEASEDIR => Op::Releasedir { fh: a.u64()? },
        o::FSYNC => Op::Fsync {
            fh: a.u64()?,
            datasync: a.u32()? & 1 != 0,
        },
        o::FSYNCDIR => {
            // fuse_fsync_in, as FSYNC; a directory's fsync ignores both fields.
            let _ = (a.u64()?, a.u32()?);
            Op::Fsyncdir
        }
        o::SETXATTR => {
            // The 8-byte compat form: FUSE_SETXATTR_EXT is not negotiated.
            let (size, flags) = (a.u32()?, a.u32()?);
            let name = p.name()?;
            Op::Setxattr {
                flags: flags as i32,
                name,
                value: p.take(size as usize)?,
            }
        }
        o::GETXATTR => Op::Getxattr {
            size: a.u32()?,
            name: p.name()?,
        },
        o::LISTXATTR => Op::Listxattr { size: a.u32()? },
        o::REMOVEXATTR => Op::Removexattr { name: p.name()? },
        o::FLUSH => Op::Flush,
        o::OPENDIR => Op::Opendir,
        o::CREATE => Op::Create {
            flags: a.u32()?,
            mode: a.u32()?,
            umask: a.u32()?,
            name: p.name()?,
        },
        o::DESTROY => Op::Destroy,
        other => Op::Other(other),
    })
}

fn setattr_in(a: &mut Cur<'_>) -> Result<SetattrIn, Garbled> {
    let valid = a.u32()?;
    a.u32()?;
    let fh = a.u64()?;
    let size = a.u64()?;
    let _lock_owner = a.u64()?;
    let (atime, mtime, _ctime) = (a.i64()?, a.i64()?, a.i64()?);
    let (atimensec, mtimensec, _ctimensec) = (a.u32()?, a.u32()?, a.u32()?);
    let mode = a.u32()?;
    a.u32()?;
    Ok(SetattrIn {
        valid,
        fh,
        size,
        atime: (atime, atimensec),
        mtime: (mtime, mtimensec),
        mode,
        uid: a.u32()?,
        gid: a.u32()?,
    })
}

/// `fuse_out_header` (len, error, unique) for the `in_out` area.
pub(crate) fn out_header(len: u32, error: i32, unique: u64) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[..4].copy_from_slice(&len.to_le_bytes());
    h[4..8].copy_from_slice(&error.to_le_bytes());
    h[8..].copy_from_slice(&unique.to_le_bytes());
    h
}

/// `fuse_attr`, as fuser encodes it (88 bytes).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FuseAttr {
    pub ino: u64,
    pub size: u64,
    pub blocks: u64,
    pub atime: (i64, u32),
    pub mtime: (i64, u32),
    pub ctime: (i64, u32),
    /// File type bits and permissions.
    pub mode: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u32,
}

/// A little-endian writer.
#[derive(Default)]
pub(crate) struct Out(pub Vec<u8>);

impl Out {
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn attr(&mut self, a: &FuseAttr) -> &mut Self {
        self.u64(a.ino).u64(a.size).u64(a.blocks);
        self.u64(a.atime.0 as u64).u64(a.mtime.0 as u64);
        self.u64(a.ctime.0 as u64);
        self.u32(a.atime.1).u32(a.mtime.1).u32(a.ctime.1);
        self.u32(a.mode)
            .u32(a.nlink)
            .u32(a.uid)
            .u32(a.gid)
            .u32(a.rdev);
        self.u32(4096).u32(0)
    }
    /// `fuse_entry_out` (128 bytes), valid for `ttl` (seconds, nanoseconds).
    pub fn entry(&mut self, a: &FuseAttr, ttl: (u64, u32)) -> &mut Self {
        self.u64(a.ino).u64(0).u64(ttl.0).u64(ttl.0);
        self.u32(ttl.1).u32(ttl.1).attr(a)
    }
    /// `fuse_attr_out` (104 bytes).
    pub fn attr_out(&mut self, a: &FuseAttr, ttl: (u64, u32)) -> &mut Self {
        self.u64(ttl.0).u32(ttl.1).u32(0).attr(a)
    }
    /// `fuse_open_out` (16 bytes).
    pub fn open(&mut self, fh: u64, flags: u32) -> &mut Self {
        self.u64(fh).u32(flags).u32(0)
    }
    /// A `fuse_dirent` (`plus`: a `fuse_direntplus`, its entry first), padded to 8 bytes,
    /// if it fits in `max` bytes in all; whether it did.
    pub fn dirent(
        &mut self,
        max: usize,
        d: &Dirent<'_>,
        plus: Option<(&FuseAttr, (u64, u32))>,
    ) -> bool {
        let name = d.name.as_bytes();
        let len = plus.map_or(0, |_| 128) + 24 + name.len();
        let padded = len.div_ceil(8) * 8;
        if self.0.len() + padded > max {
            return false;
        }
        if let Some((a, ttl)) = plus {
            self.entry(a, ttl);
        }
        self.u64(d.ino).u64(d.off).u32(name.len() as u32).u32(d.typ);
        self.0.extend_from_slice(name);
        self.0.resize(self.0.len() + padded - len, 0);
        true
    }
}

/// One directory entry of a READDIR reply: its inode, the offset of the next, its type
/// (`DT_*`, the mode's type bits shifted down) and name.
pub(crate) struct Dirent<'a> {
    pub ino: u64,
    pub off: u64,
    pub typ: u32,
    pub name: &'a OsStr,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_len_is_the_size_of_reads_and_writes_only() {
        let entry = |opcode: u32, size: u32| {
            let mut e = header(opcode);
            e.resize(OP_IN, 0);
            let mut read_in = Out::default();
            read_in.u64(9).u64(4096).u32(size).u32(0);
            e.extend(read_in.0);
            e.resize(HEADER_LEN, 0);
            e
        };
        assert_eq!(data_len(&entry(opcode::READ, 1 << 20)), Some(1 << 20));
        assert_eq!(data_len(&entry(opcode::WRITE, 4096)), Some(4096));
        assert_eq!(data_len(&entry(opcode::LOOKUP, 1 << 20)), None);
        assert_eq!(data_len(&entry(opcode::GETXATTR, 1 << 20)), None);
        assert_eq!(data_len(&[]), None);
        assert_eq!(data_len(&entry(opcode::READ, 5)[..OP_IN + 18]), None);
    }

    fn header(opcode: u32) -> Vec<u8> {
        let mut h = Out::default();
        h.u32(0)
            .u32(opcode)
            .u64(7)
            .u64(1)
            .u32(1000)
            .u32(100)
            .u32(42)
            .u32(0);
        h.0
    }

    #[test]
    fn decodes_names_and_fixed_args() {
        let (h, op) = decode(&header(opcode::LOOKUP), &[], b"file\0").unwrap();
        assert_eq!((h.unique, h.uid, h.pid), (7, 1000, 42));
        assert_eq!(
            op,
            Op::Lookup {
                name: OsStr::new("file")
            }
        );
        let mut a = Out::default();
        a.u64(9).u32(1).u32(0);
        let (_, op) = decode(&header(opcode::RENAME2), &a.0, b"a\0b\0").unwrap();
        let want = Op::Rename {
            newdir: 9,
            flags: 1,
            name: OsStr::new("a"),
            newname: OsStr::new("b"),
        };
        assert_eq!(op, want);
        let mut w = Out::default();
        w.u64(3).u64(4096).u32(3).u32(4);
        let (_, op) = decode(&header(opcode::WRITE), &w.0, b"abcdef").unwrap();
        assert_eq!(
            op,
            Op::Write {
                fh: 3,
                offset: 4096,
                write_flags: 4,
                data: b"abc"
            }
        );
    }

    #[test]
    fn short_or_unterminated_is_garbled_not_a_panic() {
        assert_eq!(decode(&header(opcode::LOOKUP), &[], b"file"), Err(Garbled));
        assert_eq!(decode(&header(opcode::WRITE), &[0; 8], b""), Err(Garbled));
        let mut w = Out::default();
        w.u64(3).u64(0).u32(100).u32(0);
        assert_eq!(decode(&header(opcode::WRITE), &w.0, b"short"), Err(Garbled));
        assert_eq!(decode(&[0; 10], &[], &[]), Err(Garbled));
        assert_eq!(decode(&header(999), &[], &[]).unwrap().1, Op::Other(999));
        let mut f = Out::default();
        f.u64(5).u32(1).u32(0);
        let (_, op) = decode(&header(opcode::FSYNCDIR), &f.0, &[]).unwrap();
        assert_eq!(op, Op::Fsyncdir);
        assert_eq!(
            decode(&header(opcode::FSYNCDIR), &[0; 8], &[]),
            Err(Garbled)
        );
    }

    #[test]
    fn reply_structs_have_the_kernel_sizes() {
        let a = FuseAttr::default();
        assert_eq!(Out::default().attr(&a).0.len(), 88);
        assert_eq!(Out::default().entry(&a, (1, 0)).0.len(), 128);
        assert_eq!(Out::default().attr_out(&a, (1, 0)).0.len(), 104);
        assert_eq!(Out::default().open(1, 2).0.len(), 16);
        let d = Dirent {
            ino: 1,
            off: 1,
            typ: 4,
            name: OsStr::new("abc"),
        };
        let mut o = Out::default();
        assert!(o.dirent(4096, &d, None));
        assert_eq!(o.0.len(), 32);
        assert!(!o.dirent(40, &d, None));
        assert_eq!(o.0.len(), 32);
    }
}
