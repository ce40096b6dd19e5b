//! Snapshots of mounted volumes through the real binary: a mixed tree (small files, a
//! 300 MiB file, sparse files, symlinks, hard links, modes, times, xattrs) snapshotted,
//! changed and snapshotted again while mounted; each snapshot restored to a new volume,
//! mounted and compared with what was there at snapshot time. And a snapshot taken under
//! a write load is consistent at one point in time while the mount keeps working.

mod common;
use common::cli::run_ok;
use common::mount::*;
use common::pattern::pattern_seeded as pattern;
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

#[derive(Debug, PartialEq, Eq)]
struct Desc {
    kind: &'static str,
    mode: u32,
    mtime: (i64, i64),
    size: u64,
    sha: String,
    target: String,
    /// The other names of this inode (hard links), sorted.
    links: Vec<String>,
    xattr: Option<Vec<u8>>,
}

fn describe_tree(root: &Path) -> BTreeMap<String, Desc> {
    let mut out = BTreeMap::new();
    let mut by_ino: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let ft = m.file_type();
            let (kind, sha, target) = if ft.is_dir() {
                stack.push(p.clone());
                ("dir", String::new(), String::new())
            } else if ft.is_symlink() {
                let t = std::fs::read_link(&p).unwrap();
                ("symlink", String::new(), t.to_string_lossy().into_owned())
            } else if std::os::unix::fs::FileTypeExt::is_fifo(&ft) {
                ("fifo", String::new(), String::new())
            } else {
                let b = std::fs::read(&p).unwrap();
                (
                    "file",
                    kmsfs::crypto::hex(&kmsfs::crypto::sha256(&b)),
                    String::new(),
                )
            };
            if ft.is_file() {
                by_ino.entry(m.ino()).or_default().push(rel.clone());
            }
            let xattr = if ft.is_symlink() {
                None
            } else {
                xattr_get(&p, "user.tag")
            };
            out.insert(
                rel,
                Desc {
                    kind,
                    mode: if ft.is_symlink() {
                        0
                    } else {
                        m.mode() & 0o7777
                    },
                    // Directory times change as entries come and go; files' and modes stay.
                    mtime: if ft.is_file() {
                        (m.mtime(), m.mtime_nsec())
                    } else {
                        (0, 0)
                    },
                    size: if ft.is_dir() { 0 } else { m.len() },
                    sha,
                    target,
                    links: Vec::new(),
                    xattr,
                },
            );
        }
    }
    for names in by_ino.values() {
        if names.len() > 1 {
            let mut s = names.clone();
            s.sort();
            for n in names {
                out.get_mut(n).unwrap().links = s.clone();
            }
        }
    }
    out
}

fn xattr_get(p: &Path, name: &str) -> Option<Vec<u8>> {
    common::posix::getxattr(p, name).ok()
}

fn xattr_set(p: &Path, name: &str, v: &[u8]) {
    assert_eq!(common::posix::setxattr(p, name, v), Ok(()), "setxattr");
}

/// fsync every regular file under `root`, as a user would before a snapshot. (With the
/// writeback cache the kernel owns a file's mtime; the daemon puts the kernel's time back
/// after every WRITE, also when WRITEs run side by side or race the kernel's SETATTR.)
fn fsync_files(root: &Path) {
    for e in std::fs::read_dir(root).unwrap() {
        let e = e.unwrap();
        let t = e.file_type().unwrap();
        if t.is_dir() {
            fsync_files(&e.path());
        } else if t.is_file() {
            std::fs::File::open(e.path()).unwrap().sync_all().unwrap();
        }
    }
}

fn set_mtime(p: &Path, secs: i64) {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs as u64);
    std::fs::File::options()
        .write(true)
        .open(p)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

fn mount_restored(m: &Mounted, snap: &str, name: &str) -> Mounted {
    let v = run_ok(&m.home, &["volume", "create", "--snapshot-id", snap]);
    assert_eq!(v["SnapshotId"], snap);
    let vol = v["VolumeId"].as_str().unwrap().to_string();
    Mounted::at(tempfile::tempdir().unwrap(), m.home.clone(), vol, name, &[])
}

#[test]
fn restore_round_trip_of_a_mixed_tree() {
    if !fuse_or_skip("restore_round_trip") {
        return;
    }
    let m = Mounted::new("2GiB");
    let d = &m.mnt;
    std::fs::create_dir_all(d.join("src/deep/er")).unwrap();
    for i in 0..150u64 {
        let p = d.join(format!("src/deep/f{i}.txt"));
        std::fs::write(&p, pattern(i, (i as usize * 37) % 9000)).unwrap();
    }
    std::fs::write(d.join("big.bin"), pattern(99, 300 << 20)).unwrap();
    // Sparse: data at 0 and at 100 MiB, size 200 MiB.
    {
        let f = std::fs::File::create(d.join("sparse")).unwrap();
        use std::os::unix::fs::FileExt;
        f.write_all_at(b"head", 0).unwrap();
        f.write_all_at(b"middle", 100 << 20).unwrap();
        f.set_len(200 << 20).unwrap();
    }
    std::os::unix::fs::symlink("src/deep/f3.txt", d.join("link")).unwrap();
    std::os::unix::fs::symlink("/nowhere/at/all", d.join("dangling")).unwrap();
    std::fs::hard_link(d.join("src/deep/f5.txt"), d.join("src/deep/er/hard")).unwrap();
    std::fs::set_permissions(
        d.join("src/deep/f7.txt"),
        std::fs::Permissions::from_mode(0o4750),
    )
    .unwrap();
    std::fs::set_permissions(
        d.join("src/deep/er"),
        std::fs::Permissions::from_mode(0o711),
    )
    .unwrap();
    xattr_set(&d.join("src/deep/f1.txt"), "user.tag", b"kept");
    // Long names (stored hashed, with a sidecar): a file, and a directory with a file.
    let long = |c: char| std::iter::repeat_n(c, 230).collect::<String>();
    std::fs::write(d.join("src").join(long('n')), b"long named").unwrap();
    std::fs::create_dir(d.join(long('d'))).unwrap();
    std::fs::write(d.join(long('d')).join("inner"), pattern(3, 5000)).unwrap();
    xattr_set(&d.join(long('d')), "user.tag", b"on a long dir");
    nix::unistd::mkfifo(
        &d.join("fifo"),
        nix::sys::stat::Mode::from_bits(0o640).unwrap(),
    )
    .unwrap();
    set_mtime(&d.join("src/deep/f2.txt"), 1_000_000_000);
    fsync_files(d);
    let state1 = describe_tree(d);

    // Snapshot while mounted; the mount keeps working.
    let s1 = run_ok(
        &m.home,
        &["snapshot", "create", &m.vol, "--description", "one"],
    );
    let s1 = s1["SnapshotId"].as_str().unwrap().to_string();
    assert!(
        run_ok(&m.home, &["snapshot", "describe", &s1])["FullSnapshotSizeInBytes"]
            .as_u64()
            .unwrap()
            > 300 << 20
    );

    // Change: part of the big file, deletions, a new file, a rename, a chmod.
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(d.join("big.bin"))
            .unwrap();
        f.write_all_at(&pattern(5, 3 << 20), 77 << 20).unwrap();
    }
    for i in 10..20 {
        std::fs::remove_file(d.join(format!("src/deep/f{i}.txt"))).unwrap();
    }
    std::fs::write(d.join("new.txt"), b"after the first snapshot").unwrap();
    std::fs::rename(d.join("src/deep/f30.txt"), d.join("moved.txt")).unwrap();
    std::fs::set_permissions(d.join("new.txt"), std::fs::Permissions::from_mode(0o600)).unwrap();
    fsync_files(d);
    let state2 = describe_tree(d);
    let s2 = run_ok(
        &m.home,
        &["snapshot", "create", &m.vol, "--description", "two"],
    );
    let added = s2["BytesAdded"].as_u64().unwrap();
    assert!(added < 8 << 20, "incremental: {added} bytes added");
    let s2 = s2["SnapshotId"].as_str().unwrap().to_string();

    // A copy of the first under another KMS key: every name, target, xattr and block
    // re-encrypted from the store into the store.
    let key2 = run_ok(&m.home, &["kms", "create-key"])["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let c1 = run_ok(
        &m.home,
        &[
            "snapshot",
            "copy",
            &s1,
            "--kms-key-id",
            &key2,
            "--encrypted",
        ],
    );
    let c1 = c1["SnapshotId"].as_str().unwrap().to_string();

    for (snap, want, name) in [
        (&s1, &state1, "r1"),
        (&s2, &state2, "r2"),
        (&c1, &state1, "c1"),
    ] {
        let r = mount_restored(&m, snap, name);
        let got = describe_tree(&r.mnt);
        assert_eq!(got.len(), want.len(), "{name}: entries");
        for (k, v) in want {
            assert_eq!(got.get(k), Some(v), "{name}: {k}");
        }
    }
    let v = run_ok(&m.home, &["snapshot", "verify"]);
    assert_eq!(v["Snapshots"].as_array().unwrap().len(), 3);
    // The source mount still works.
    std::fs::write(d.join("still.txt"), b"ok").unwrap();
    assert_eq!(std::fs::read(d.join("still.txt")).unwrap(), b"ok");
}

#[test]
fn a_snapshot_under_load_is_consistent() {
    if !fuse_or_skip("a_snapshot_under_load_is_consistent") {
        return;
    }
    let m = Mounted::new("1GiB");
    std::fs::write(m.mnt.join("big"), pattern(1, 64 << 20)).unwrap();
    // A writer replaces `state` atomically (write a temp file, rename over) and keeps a
    // counter in two files that always change together, under one rename each.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mnt = m.mnt.clone();
    let s = stop.clone();
    let writer = std::thread::spawn(move || {
        let mut n = 0u64;
        while !s.load(std::sync::atomic::Ordering::Relaxed) {
            n += 1;
            let body = format!("{n}\n").repeat(1000);
            std::fs::write(mnt.join("state.tmp"), &body).unwrap();
            std::fs::rename(mnt.join("state.tmp"), mnt.join("state")).unwrap();
        }
        n
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    let snap = run_ok(&m.home, &["snapshot", "create", &m.vol]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let writes = writer.join().unwrap();
    assert!(writes > 10, "the writer kept going ({writes} updates)");
    let r = mount_restored(&m, snap["SnapshotId"].as_str().unwrap(), "r");
    let state = std::fs::read_to_string(r.mnt.join("state")).unwrap();
    let first = state.lines().next().unwrap().to_string();
    assert_eq!(state, format!("{first}\n").repeat(1000), "whole, not torn");
    assert_eq!(
        std::fs::read(r.mnt.join("big")).unwrap(),
        pattern(1, 64 << 20)
    );
}
