//! A full disk is an error, never damage: a home on a small file system (tmpfs, and a
//! loop-mounted ext4 image as users' disks are), filled through the mount. Every create
//! (directory, file, long name with its sidecar, symlink, FIFO) either completes or leaves
//! nothing behind, and fails with ENOSPC; once space is freed everything works and every
//! backing entry decrypts, also after a remount. A snapshot into a full store fails naming
//! the store and leaves no chunk and no temp file; temp files of dead writers are swept.

mod common;
use common::cli::{create_key, init, kmsfs, run_ok};
use common::mount::*;
use std::collections::BTreeSet;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A small file system mounted on `root`, unmounted on drop.
struct SmallFs {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl SmallFs {
    /// A tmpfs of `mb` MiB, or a loop-mounted ext4 image of `mb` MiB (no reserved blocks).
    fn new(kind: &str, mb: u64) -> SmallFs {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("fs");
        std::fs::create_dir(&root).unwrap();
        let mut mount = Command::new("mount");
        if kind == "ext4" {
            let img = dir.path().join("fs.img");
            std::fs::File::create(&img)
                .unwrap()
                .set_len(mb << 20)
                .unwrap();
            let o = Command::new("mkfs.ext4")
                .args(["-q", "-F", "-m", "0", "-b", "4096"])
                .arg(&img)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            mount.args(["-o", "loop"]).arg(&img);
        } else {
            mount.args(["-t", "tmpfs", "-o", &format!("size={mb}m"), "tmpfs"]);
        }
        let o = mount.arg(&root).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        SmallFs { _dir: dir, root }
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.root, nix::mount::MntFlags::MNT_DETACH);
    }
}

fn can_run(test: &str, kind: &str) -> bool {
    fuse_or_skip(test) && root_or_skip(test) && (kind != "ext4" || tool_or_skip(test, "mkfs.ext4"))
}

/// A home on `fs` with an encrypted volume of 1 GiB (larger than the file system: the disk
/// fills, not the volume), mounted.
fn mounted_on(fs: &SmallFs) -> Mounted {
    let dir = tempfile::tempdir_in(&fs.root).unwrap();
    let home = init(dir.path());
    let key = create_key(&home, "KeyId");
    let v = run_ok(
        &home,
        &["volume", "create", "--size", "1GiB", "--kms-key-id", &key],
    );
    let vol = v["VolumeId"].as_str().unwrap().to_string();
    Mounted::at(dir, home, vol, "mnt", &[])
}

/// Write `path` until the disk is full: the error must be ENOSPC (or EDQUOT).
fn fill(path: &Path) {
    let f = std::fs::File::create(path).unwrap();
    let block = vec![0x5au8; 64 << 10];
    let mut off = 0u64;
    let err = loop {
        if let Err(e) = f.write_all_at(&block, off) {
            break e;
        }
        off += block.len() as u64;
        if off.is_multiple_of(1 << 20)
            && let Err(e) = f.sync_data()
        {
            break e;
        }
        assert!(off < 1 << 30, "{}: never filled", path.display());
    };
    assert!(
        matches!(err.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT)),
        "filling {} failed with {err} (want ENOSPC)",
        path.display()
    );
}

/// Every path under `dir` (hidden ones too), relative, with its size for files.
fn tree(dir: &Path) -> BTreeSet<(String, u64)> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let m = e.path().symlink_metadata().unwrap();
            let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
            out.insert((rel, if m.is_file() { m.len() } else { 0 }));
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    out
}

/// `op` on a full disk: it completes, or it fails with ENOSPC/EDQUOT and changes neither
/// the backing tree nor the mount. `must_fail`: this file system has no room for it.
fn complete_or_nothing(m: &Mounted, what: &str, must_fail: bool, op: &dyn Fn() -> io::Result<()>) {
    let (backing, mount) = (tree(&m.backing()), tree(&m.mnt));
    match op() {
        Ok(()) => assert!(!must_fail, "{what} succeeded on a full disk"),
        Err(e) => {
            assert!(
                matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT)),
                "{what} on a full disk: {e} (want ENOSPC)"
            );
            assert_eq!(tree(&m.backing()), backing, "{what} left backing entries");
            assert_eq!(tree(&m.mnt), mount, "{what} left entries in the mount");
        }
    }
}

const LONG: usize = 200;

/// One create of the test, run as often as needed.
type Create<'a> = Box<dyn Fn() -> io::Result<()> + 'a>;

/// The creates of the test, each given the directory to make its entries in.
fn creates(d: &Path) -> Vec<(&'static str, Create<'_>)> {
    let long_target = "t".repeat(300);
    vec![
        (
            "mkdir",
            Box::new(move || std::fs::create_dir(d.join("dir"))),
        ),
        (
            "echo x > f",
            Box::new(move || std::fs::File::create(d.join("f"))?.write_all(b"x\n")),
        ),
        (
            "create with a long name",
            Box::new(move || std::fs::write(d.join("n".repeat(LONG)), b"long\n")),
        ),
        (
            "mkdir with a long name",
            Box::new(move || std::fs::create_dir(d.join("m".repeat(LONG)))),
        ),
        (
            "symlink",
            Box::new(move || std::os::unix::fs::symlink(&long_target, d.join("link"))),
        ),
        (
            "mkfifo",
            Box::new(move || {
                nix::unistd::mkfifo(
                    &d.join("fifo"),
                    nix::sys::stat::Mode::from_bits_truncate(0o644),
                )
                .map_err(io::Error::from)
            }),
        ),
    ]
}

/// The plaintext tree is whole: every file reads, every symlink's target decrypts, every
/// directory lists; and every backing entry is one the mount shows (each directory has its
/// 16-byte id, each long name its sidecar, nothing else is left over).
fn check_whole(m: &Mounted) {
    let mut shown = 0usize;
    let mut stack = vec![m.mnt.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let t = p.symlink_metadata().unwrap().file_type();
            shown += 1;
            if t.is_dir() {
                stack.push(p);
            } else if t.is_symlink() {
                std::fs::read_link(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            } else if t.is_file() {
                std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            }
        }
    }
    let mut entries = 0usize;
    for (rel, size) in tree(&m.backing()) {
        let name = rel.rsplit('/').next().unwrap().to_string();
        if name == ".kmsfs.diriv" {
            assert_eq!(size, 16, "{rel}: a directory id must be 16 bytes");
        } else if name.starts_with(".L.") && name.ends_with(".name") {
            let entry = m.backing().join(rel.strip_suffix(".name").unwrap());
            assert!(
                entry.symlink_metadata().is_ok(),
                "{rel}: a sidecar with no entry"
            );
        } else {
            entries += 1;
            let dir = m.backing().join(&rel);
            if dir.is_dir() && !dir.is_symlink() {
                assert!(dir.join(".kmsfs.diriv").exists(), "{rel}: no directory id");
            }
        }
    }
    assert_eq!(entries, shown, "backing entries the mount does not show");
}

fn full_disk(kind: &str) {
    let test = &format!("full_{kind}");
    if !can_run(test, kind) {
        return;
    }
    let fs = SmallFs::new(kind, if kind == "ext4" { 16 } else { 8 });
    let mut m = mounted_on(&fs);
    let sub = m.mnt.join("sub");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join("kept"), b"kept\n").unwrap();
    fill(&m.mnt.join("fill"));
    // tmpfs creates inodes without pages: only what needs a page must fail there.
    for d in [m.mnt.clone(), sub.clone()] {
        for (what, op) in creates(&d) {
            let must_fail = kind == "tmpfs" && what != "mkfifo";
            complete_or_nothing(
                &m,
                &format!("{kind}: {what} in {}", d.display()),
                must_fail,
                &op,
            );
        }
    }
    check_whole(&m);
    std::fs::remove_file(m.mnt.join("fill")).unwrap();
    for d in [m.mnt.clone(), sub.clone()] {
        // What a full disk still had room for (the FIFO on tmpfs) is made again.
        let _ = std::fs::remove_file(d.join("fifo"));
        let _ = std::fs::remove_file(d.join("link"));
        for (what, op) in creates(&d) {
            retry(|| match op() {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
                r => r,
            })
            .unwrap_or_else(|e| panic!("{what} in {} once space is free: {e}", d.display()));
        }
        assert_eq!(std::fs::read(d.join("f")).unwrap(), b"x\n");
        assert_eq!(std::fs::read(d.join("n".repeat(LONG))).unwrap(), b"long\n");
        std::fs::write(d.join("dir").join("inner"), b"inner").unwrap();
        std::fs::write(d.join("m".repeat(LONG)).join("inner"), b"inner").unwrap();
        assert_eq!(
            std::fs::read_link(d.join("link"))
                .unwrap()
                .as_os_str()
                .len(),
            300
        );
    }
    check_whole(&m);
    m.umount();
    m.mount();
    check_whole(&m);
    assert_eq!(std::fs::read(sub.join("kept")).unwrap(), b"kept\n");
}

/// `op` until it succeeds or 10 s pass (space freed by an unlink is returned when the
/// kernel's release of the file reaches the daemon).
fn retry(op: impl Fn() -> io::Result<()>) -> io::Result<()> {
    let t = Instant::now();
    loop {
        match op() {
            Err(e)
                if e.raw_os_error() == Some(libc::ENOSPC)
                    && t.elapsed() < Duration::from_secs(10) =>
            {
                std::thread::sleep(Duration::from_millis(100))
            }
            r => return r,
        }
    }
}

#[test]
fn full_tmpfs() {
    full_disk("tmpfs");
}

#[test]
fn full_ext4() {
    full_disk("ext4");
}

/// Every file under the snapshot store, relative.
fn store_files(home: &Path) -> Vec<String> {
    let objects = home.join("snapshots").join("objects");
    if !objects.exists() {
        return Vec::new();
    }
    tree(&objects)
        .into_iter()
        .filter(|(rel, _)| !objects.join(rel).is_dir())
        .map(|(rel, _)| rel)
        .collect()
}

#[test]
fn snapshot_into_a_full_store_leaves_nothing() {
    let test = "snapshot_into_a_full_store_leaves_nothing";
    if !can_run(test, "tmpfs") {
        return;
    }
    let fs = SmallFs::new("tmpfs", 24);
    let mut m = mounted_on(&fs);
    for i in 0..6u64 {
        let data: Vec<u8> = common::pattern::pattern_seeded(i + 1, 1 << 20);
        std::fs::write(m.mnt.join(format!("f{i}")), data).unwrap();
    }
    m.umount();
    // Leave about 2 MiB: room for some of the volume's 6 MiB of chunks, not all.
    let filler = fs.root.join("filler");
    fill(&filler);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&filler)
        .unwrap();
    f.set_len(f.metadata().unwrap().len().saturating_sub(2 << 20))
        .unwrap();
    drop(f);
    let o = kmsfs(&m.home, &["snapshot", "create", &m.vol]);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        !o.status.success(),
        "a snapshot into a full store succeeded"
    );
    let store = m.home.join("snapshots").join("objects");
    assert!(
        err.contains(&store.display().to_string()) && err.contains("No space left"),
        "the error must name the store and the cause: {err}"
    );
    assert!(
        !err.contains(&m.backing().display().to_string()),
        "the error names the volume's file, not the store: {err}"
    );
    assert_eq!(
        store_files(&m.home),
        Vec::<String>::new(),
        "a failed snapshot left files"
    );
    // A temp file of a writer that died (a pid no process has) is swept by the next run.
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let fan = store.join("ab");
    std::fs::create_dir_all(&fan).unwrap();
    let stale = fan.join(format!(".tmp.{dead}.0123456789abcdef"));
    std::fs::write(&stale, b"stale").unwrap();
    std::fs::remove_file(&filler).unwrap();
    let s = run_ok(&m.home, &["snapshot", "create", &m.vol]);
    assert!(!stale.exists(), "the temp file of a dead writer stayed");
    let files = store_files(&m.home);
    assert!(files.iter().all(|f| !f.contains(".tmp.")), "{files:?}");
    assert_eq!(
        files.len() as u64,
        s["ChunkCount"].as_u64().unwrap() + 1,
        "exactly the snapshot's chunks and its manifest: {files:?}"
    );
}
