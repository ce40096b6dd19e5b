//! Paths of any depth, and a backing tree that is never walked through a symlink (issue 15
//! §1). The mount works on the backing tree through directory handles (`openat`,
//! `mkdirat`, `renameat2`, ...), so a plaintext path is limited only as on ext4 (PATH_MAX
//! for a whole path given at once, nothing for a tree walked one directory at a time),
//! although every encrypted name is longer than its plaintext; and a symlink planted in
//! the backing tree is never followed.

mod common;
use common::mount::{Mounted, fuse_or_skip, root_or_skip};
use nix::fcntl::{OFlag, RenameFlags, open, openat, renameat2};
use nix::sys::stat::{Mode, mkdirat};
use nix::unistd::{UnlinkatFlags, unlinkat};
use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// Levels of the deep tree: 2,000 one-letter directories are 4,000 plaintext bytes.
const LEVELS: usize = 2000;

fn can_run(test: &str) -> bool {
    fuse_or_skip(test) && root_or_skip(test)
}

fn dir_at(fd: impl AsFd, name: &str) -> OwnedFd {
    openat(
        fd,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .unwrap_or_else(|e| panic!("open directory {name}: {e}"))
}

/// The names in the directory `fd`, without `.` and `..`.
fn names_in(fd: impl AsFd) -> BTreeSet<String> {
    let mut d =
        nix::dir::Dir::openat(fd, ".", OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()).unwrap();
    d.iter()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "." && n != "..")
        .collect()
}

/// Walk `names` down from `root`, one directory at a time; every level's handle.
fn walk(root: &Path, names: impl Iterator<Item = String>) -> Vec<OwnedFd> {
    // Every descriptor close-on-exec: the other tests of this process start daemons.
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let mut fds = vec![open(root, flags, Mode::empty()).unwrap()];
    for n in names {
        let next = dir_at(fds.last().unwrap(), &n);
        fds.push(next);
    }
    fds
}

fn read_at(dir: impl AsFd, name: &str) -> String {
    let fd = openat(dir, name, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()).unwrap();
    let mut s = String::new();
    fs::File::from(fd).read_to_string(&mut s).unwrap();
    s
}

/// The level names of the deep tree once level `MID`'s directory is renamed `b`.
const MID: usize = 1000;

fn level_name(i: usize, renamed: bool) -> String {
    if renamed && i == MID { "b" } else { "a" }.to_string()
}

#[test]
fn a_tree_2000_levels_deep_is_made_listed_renamed_and_removed() {
    if !can_run("a_tree_2000_levels_deep_is_made_listed_renamed_and_removed") {
        return;
    }
    let mut m = Mounted::new("1G");
    // Made, one level at a time (mkdirat in the level above).
    let mut fds = walk(&m.mnt, std::iter::empty());
    for level in 0..LEVELS {
        let top = fds.last().unwrap();
        mkdirat(top, "a", Mode::from_bits_truncate(0o755))
            .unwrap_or_else(|e| panic!("mkdir at depth {}: {e}", level + 1));
        let next = dir_at(top, "a");
        fds.push(next);
    }
    let bottom = fds.last().unwrap();
    let f = openat(
        bottom,
        "leaf",
        OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    fs::File::from(f).write_all(b"deep down").unwrap();
    // Listed: every level holds exactly its one child.
    for (level, fd) in fds.iter().enumerate().take(LEVELS) {
        assert_eq!(
            names_in(fd),
            BTreeSet::from(["a".to_string()]),
            "level {level}"
        );
    }
    assert_eq!(names_in(bottom), BTreeSet::from(["leaf".to_string()]));
    drop(fds);

    // Read back after a remount (no directory handle cached in the daemon).
    m.umount();
    m.mount();
    let fds = walk(&m.mnt, (0..LEVELS).map(|i| level_name(i, false)));
    assert_eq!(read_at(fds.last().unwrap(), "leaf"), "deep down");

    // Renamed: a directory half-way down, and the leaf up to the top.
    renameat2(&fds[MID], "a", &fds[MID], "b", RenameFlags::empty()).unwrap();
    assert_eq!(names_in(&fds[MID]), BTreeSet::from(["b".to_string()]));
    renameat2(
        fds.last().unwrap(),
        "leaf",
        &fds[0],
        "leaf-up",
        RenameFlags::empty(),
    )
    .unwrap();
    drop(fds);
    m.umount();
    m.mount();
    let fds = walk(&m.mnt, (0..LEVELS).map(|i| level_name(i, true)));
    assert!(names_in(fds.last().unwrap()).is_empty());
    assert_eq!(read_at(&fds[0], "leaf-up"), "deep down");

    // Removed, from the bottom up.
    for level in (0..LEVELS).rev() {
        unlinkat(
            &fds[level],
            level_name(level, true).as_str(),
            UnlinkatFlags::RemoveDir,
        )
        .unwrap_or_else(|e| panic!("rmdir at depth {}: {e}", level + 1));
    }
    unlinkat(&fds[0], "leaf-up", UnlinkatFlags::NoRemoveDir).unwrap();
    drop(fds);
    assert_eq!(fs::read_dir(&m.mnt).unwrap().count(), 0);
    let left: Vec<_> = fs::read_dir(m.backing())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        [".kmsfs.diriv"],
        "the backing tree holds only the root's id"
    );
}

#[test]
fn paths_of_4000_plaintext_bytes_work_as_paths() {
    if !can_run("paths_of_4000_plaintext_bytes_work_as_paths") {
        return;
    }
    let m = Mounted::new("1G");
    // 39 directories of 99-byte names (each encrypted to a longer name), then a file: a
    // path of 4,000 plaintext bytes below the mount point, under PATH_MAX with it.
    let name = |i: usize| format!("{i:02}{}", "x".repeat(97));
    let mut dir = m.mnt.clone();
    for i in 0..39 {
        dir.push(name(i));
    }
    let rel_len = dir.strip_prefix(&m.mnt).unwrap().as_os_str().len();
    let file = dir.join("f".repeat(4000 - rel_len - 1));
    assert_eq!(file.strip_prefix(&m.mnt).unwrap().as_os_str().len(), 4000);
    assert!(file.as_os_str().len() < 4096, "{}", file.as_os_str().len());
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir -p: {e}"));
    fs::write(&file, "at 4000 bytes").unwrap();
    assert_eq!(fs::read_to_string(&file).unwrap(), "at 4000 bytes");
    // Listed through the whole path.
    let listed: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(listed, std::slice::from_ref(&file));
    // Renamed (the deepest directory, through full paths).
    let renamed = dir.with_file_name(name(99));
    fs::rename(&dir, &renamed).unwrap();
    let moved = renamed.join(file.file_name().unwrap());
    assert_eq!(fs::read_to_string(&moved).unwrap(), "at 4000 bytes");
    // Removed.
    fs::remove_dir_all(m.mnt.join(name(0))).unwrap();
    assert_eq!(fs::read_dir(&m.mnt).unwrap().count(), 0);
}

/// The one backing directory of the backing root (the encrypted name of the mount's only
/// directory).
fn only_backing_dir(backing: &Path) -> std::path::PathBuf {
    let dirs: Vec<_> = fs::read_dir(backing)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

#[test]
fn a_symlink_planted_in_the_backing_tree_is_never_followed() {
    if !can_run("a_symlink_planted_in_the_backing_tree_is_never_followed") {
        return;
    }
    let mut m = Mounted::new("1G");
    fs::create_dir(m.mnt.join("d")).unwrap();
    fs::write(m.mnt.join("d/f"), "inside").unwrap();
    // An attacker with access to the backing tree (not to the key) swaps the backing
    // directory for a symlink to a copy of it elsewhere, while mounted.
    let real = only_backing_dir(&m.backing());
    let outside = m.dir.path().join("outside");
    let o = std::process::Command::new("cp")
        .arg("-a")
        .arg(&real)
        .arg(&outside)
        .output()
        .unwrap();
    assert!(o.status.success());
    let before: BTreeSet<_> = fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let aside = real.with_extension("aside");
    fs::rename(&real, &aside).unwrap();
    std::os::unix::fs::symlink(&outside, &real).unwrap();

    // While mounted: whatever the mount does in d, nothing happens in `outside`.
    let _ = fs::write(m.mnt.join("d/new"), "x");
    let _ = fs::create_dir(m.mnt.join("d/sub"));
    let _ = fs::remove_file(m.mnt.join("d/f"));
    let after: BTreeSet<_> = fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after, "the mount changed the symlink's target");

    // Remounted (no handle cached): d is what the backing tree holds, a symlink (whose
    // target is not a sealed kmsfs target), and nothing is reached through it.
    m.umount();
    m.mount();
    assert!(
        fs::read_to_string(m.mnt.join("d/f")).is_err(),
        "d/f was read through the planted symlink"
    );
    assert!(fs::read_dir(m.mnt.join("d")).is_err());
    assert!(fs::write(m.mnt.join("d/g"), "x").is_err());
    let after: BTreeSet<_> = fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after, "the mount changed the symlink's target");
    // Put back, the directory is whole again.
    fs::remove_file(&real).unwrap();
    fs::rename(&aside, &real).unwrap();
    m.umount();
    m.mount();
    assert!(fs::read_dir(m.mnt.join("d")).is_ok());
}

/// Levels of the tree a snapshot keeps: its backing path (encrypted names of 20-odd bytes
/// each) is over 4,096 bytes long, so no path-based walk could read it.
const SNAP_LEVELS: usize = 300;

#[test]
fn a_tree_deeper_than_path_max_is_snapshotted_and_restored() {
    if !can_run("a_tree_deeper_than_path_max_is_snapshotted_and_restored") {
        return;
    }
    let m = Mounted::new("1G");
    let names = || (0..SNAP_LEVELS).map(|i| format!("l{i:03}"));
    let mut fds = walk(&m.mnt, std::iter::empty());
    for n in names() {
        mkdirat(
            fds.last().unwrap(),
            n.as_str(),
            Mode::from_bits_truncate(0o755),
        )
        .unwrap();
        let next = dir_at(fds.last().unwrap(), &n);
        fds.push(next);
    }
    let leaf = openat(
        fds.last().unwrap(),
        "bottom.txt",
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o640),
    )
    .unwrap();
    let mut f = fs::File::from(leaf);
    f.write_all(b"kept at the bottom").unwrap();
    f.sync_all().unwrap();
    drop((f, fds));
    // The backing path of the deepest directory is longer than PATH_MAX (walked by handles).
    let mut dir = walk(&m.backing(), std::iter::empty()).pop().unwrap();
    let mut depth_bytes = 0;
    for _ in 0..SNAP_LEVELS {
        let (name, sub) = names_in(&dir)
            .into_iter()
            .find_map(|n| {
                let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
                openat(&dir, n.as_str(), flags, Mode::empty())
                    .ok()
                    .map(|fd| (n, fd))
            })
            .expect("a directory at every level");
        depth_bytes += name.len() + 1;
        dir = sub;
    }
    assert!(depth_bytes > 4096, "backing path only {depth_bytes} bytes");

    let snap = common::cli::run_ok(&m.home, &["snapshot", "create", &m.vol]);
    let snap = snap["SnapshotId"].as_str().unwrap().to_string();
    let v = common::cli::run_ok(&m.home, &["volume", "create", "--snapshot-id", &snap]);
    let vol = v["VolumeId"].as_str().unwrap().to_string();
    let r = Mounted::at(
        tempfile::tempdir().unwrap(),
        m.home.clone(),
        vol,
        "restored",
        &[],
    );
    let fds = walk(&r.mnt, names());
    assert_eq!(
        read_at(fds.last().unwrap(), "bottom.txt"),
        "kept at the bottom"
    );
    assert_eq!(names_in(&fds[SNAP_LEVELS / 2]).len(), 1);
}
