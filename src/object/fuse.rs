//! The FUSE adaptor of the bucket view: maps fuser's requests onto [`BucketView`] and its
//! errors onto errno. No writeback cache and short attribute lifetimes: other processes may
//! PUT and delete objects behind the mount, and close() must be the PUT.

use super::view::{BucketView, NodeAttr, NodeKind, ROOT, ViewError};
use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo,
    KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow,
    WriteFlags,
};
use std::ffi::OsStr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

const TTL: Duration = Duration::from_secs(1);

/// fuser's face of a bucket view.
pub struct FuseBucket {
    view: Arc<BucketView>,
    uid: u32,
    gid: u32,
}

fn errno(e: &ViewError) -> Errno {
    Errno::from_i32(e.errno())
}

impl FuseBucket {
    pub fn new(view: Arc<BucketView>) -> FuseBucket {
        FuseBucket {
            view,
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
        }
    }

    fn fattr(&self, a: &NodeAttr) -> FileAttr {
        let (kind, perm, nlink) = match a.kind {
            NodeKind::File => (FileType::RegularFile, 0o644, 1),
            NodeKind::Dir => (FileType::Directory, 0o755, 2),
        };
        FileAttr {
            ino: INodeNo(a.ino),
            size: a.size,
            blocks: a.size.div_ceil(512),
            atime: a.mtime,
            mtime: a.mtime,
            ctime: a.mtime,
            crtime: a.mtime,
            kind,
            perm,
            nlink,
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }
}

/// Mount `view` at `mountpoint` and serve until it is unmounted.
pub fn serve(view: Arc<BucketView>, mountpoint: &Path, allow_other: bool) -> std::io::Result<()> {
    let mut c = fuser::Config::default();
    c.mount_options = vec![
        fuser::MountOption::FSName(format!("s3:{}", view.bucket())),
        fuser::MountOption::Subtype("kmsfs-bucket".into()),
    ];
    if allow_other {
        c.mount_options.push(fuser::MountOption::DefaultPermissions);
        c.acl = fuser::SessionACL::All;
    }
    c.n_threads = Some(2);
    fuser::Session::new(FuseBucket::new(view), mountpoint, &c)?.run()
}

impl Filesystem for FuseBucket {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        let _ = config.set_max_write(1 << 20);
        let _ = config.set_max_readahead(1 << 20);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.view.lookup(parent.0, name) {
            Ok(a) => reply.entry(&TTL, &self.fattr(&a), Generation(0)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.view.getattr(ino.0) {
            Ok(a) => reply.attr(&TTL, &self.fattr(&a)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        _mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        // Objects have no modes, owners or settable times: only the size can change.
        let r = match size {
            Some(s) => self.view.set_size(ino.0, s, fh.map(|f| f.0)),
            None => self.view.getattr(ino.0),
        };
        match r {
            Ok(a) => reply.attr(&TTL, &self.fattr(&a)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        match self.view.mkdir(parent.0, name) {
            Ok(a) => reply.entry(&TTL, &self.fattr(&a), Generation(0)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self.view.unlink(parent.0, name) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self.view.rmdir(parent.0, name) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let bits = flags.bits();
        if bits & !libc::RENAME_NOREPLACE != 0 {
            return reply.error(Errno::from_i32(libc::EINVAL));
        }
        let no_replace = bits & libc::RENAME_NOREPLACE != 0;
        match self
            .view
            .rename(parent.0, name, newparent.0, newname, no_replace)
        {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        match self.view.open(ino.0, flags.0) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self.view.read(fh.0, offset, size) {
            Ok(d) => reply.data(&d),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        match self.view.write(fh.0, offset, data) {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // close(): the PUT, so that its error reaches the caller.
        match self.view.flush(fh.0) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        match self.view.flush(fh.0) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        match self.view.release(fh.0) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let entries = match self.view.readdir(ino.0) {
            Ok(e) => e,
            Err(e) => return reply.error(errno(&e)),
        };
        let dots = [
            (ino.0, FileType::Directory, ".".to_string()),
            (ROOT, FileType::Directory, "..".to_string()),
        ];
        let all = dots.into_iter().chain(entries.into_iter().map(|e| {
            let t = match e.attr.kind {
                NodeKind::File => FileType::RegularFile,
                NodeKind::Dir => FileType::Directory,
            };
            (e.attr.ino, t, e.name)
        }));
        for (i, (ino, kind, name)) in all.enumerate().skip(offset as usize) {
            if reply.add(INodeNo(ino), (i + 1) as u64, kind, &name) {
                break;
            }
        }
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        // Buckets have no size limit: report a large, mostly free filesystem.
        reply.statfs(
            1 << 40,
            1 << 39,
            1 << 39,
            1 << 32,
            1 << 31,
            4096,
            1024,
            4096,
        );
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        match self.view.create(parent.0, name) {
            Ok((a, fh)) => reply.created(
                &TTL,
                &self.fattr(&a),
                Generation(0),
                FileHandle(fh),
                FopenFlags::empty(),
            ),
            Err(e) => reply.error(errno(&e)),
        }
    }
}
