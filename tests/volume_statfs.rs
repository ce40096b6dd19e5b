//! `df` and `df -i` on a mounted volume: the inodes in use are the volume's entries (the
//! root, directories, files once however many links, symlinks), not the backing file
//! system's id and long-name files; kept by creates, links, removals and renames over an
//! entry, and counted again the same at the next mount. Needs /dev/fuse (with CI=true, its
//! absence is a failure).

mod common;
use common::mount::*;
use std::path::Path;

fn used_inodes(p: &Path) -> u64 {
    let s = nix::sys::statvfs::statvfs(p).unwrap();
    (s.files() - s.files_free()) as u64
}

#[test]
fn df_i_counts_the_volumes_files() {
    if !fuse_or_skip("df_i_counts_the_volumes_files") {
        return;
    }
    let mut m = Mounted::new("64MiB");
    let mnt = m.mnt.clone();
    assert_eq!(used_inodes(&mnt), 1, "the root");
    std::fs::create_dir(mnt.join("d")).unwrap();
    std::fs::write(mnt.join("d/a"), b"a").unwrap();
    std::fs::write(mnt.join("b"), b"b").unwrap();
    // A name too long for the backing file system gets a sidecar: still one entry.
    std::fs::write(mnt.join("l".repeat(250)), b"l").unwrap();
    std::os::unix::fs::symlink("b", mnt.join("s")).unwrap();
    std::fs::hard_link(mnt.join("b"), mnt.join("b2")).unwrap();
    assert_eq!(
        used_inodes(&mnt),
        6,
        "root, d, d/a, b (two links), the long name, s"
    );
    std::fs::remove_file(mnt.join("b")).unwrap();
    assert_eq!(used_inodes(&mnt), 6, "b2 still holds the file");
    std::fs::rename(mnt.join("d/a"), mnt.join("b2")).unwrap();
    assert_eq!(used_inodes(&mnt), 5, "the rename replaced b2's file");
    m.umount();
    m.mount();
    assert_eq!(used_inodes(&mnt), 5, "counted again at mount");
    std::fs::remove_dir(mnt.join("d")).unwrap();
    assert_eq!(used_inodes(&mnt), 4);
    let s = nix::sys::statvfs::statvfs(&mnt).unwrap();
    assert!(
        s.blocks() > 0 && s.blocks_free() <= s.blocks(),
        "df shows the size"
    );
}

/// `df` on a mounted bucket shows the file system that holds its objects, not made-up
/// figures.
#[test]
fn df_on_a_bucket_shows_the_file_system_of_its_objects() {
    if !fuse_or_skip("df_on_a_bucket_shows_the_file_system_of_its_objects") {
        return;
    }
    use common::cli::{init, run_ok, s};
    let dir = tempfile::tempdir().unwrap();
    let home = init(dir.path());
    run_ok(&home, &["bucket", "create", "bkt"]);
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    run_ok(&home, &["mount-bucket", "bkt", s(&mnt)]);
    let got = nix::sys::statvfs::statvfs(&mnt);
    let want = nix::sys::statvfs::statvfs(&home).unwrap();
    run_ok(&home, &["umount", s(&mnt)]);
    let got = got.unwrap();
    assert_eq!(got.blocks(), want.blocks());
    assert_eq!(got.block_size(), want.block_size());
    assert_eq!(got.files(), want.files());
}
