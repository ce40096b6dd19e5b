//! Snapshot capture, restore and re-encrypting copy move file contents on a pool of
//! workers: whatever their number, the manifest is byte for byte the one a single worker
//! makes, and restores and copies give back every file. One test in its own binary, as it
//! sets `KMSFS_COPY_WORKERS` (the process environment) between steps.

mod common;
use common::kms::*;
use common::pattern::pattern_seeded as pattern;
use kmsfs::kms::{Client, Embedded};
use kmsfs::snapshot::SnapshotService;
use kmsfs::snapshot::store::ObjectStore;
use kmsfs::volume::fs::{Caller, ROOT};
use kmsfs::volume::{CreateVolume, VolumeFs, VolumeService};
use std::ffi::OsStr;
use std::sync::Arc;

const ME: Caller = Caller { uid: 0, gid: 0 };

fn put(fs: &VolumeFs, name: &str, data: &[u8]) {
    let fh = fs
        .create(ROOT, OsStr::new(name), 0o644, libc::O_RDWR, ME)
        .unwrap()
        .1;
    for (i, piece) in data.chunks(1 << 20).enumerate() {
        fs.write(fh, (i << 20) as u64, piece).unwrap();
    }
    fs.release(fh);
}

fn contents(vols: &VolumeService, vol: &str) -> Vec<(String, Vec<u8>)> {
    let o = vols.open(vol).unwrap();
    let dh = o.fs.opendir(ROOT).unwrap();
    let mut names: Vec<String> =
        o.fs.readdir(dh, 0)
            .unwrap()
            .into_iter()
            .map(|(_, e)| e.name.to_string_lossy().into_owned())
            .filter(|n| n != "." && n != "..")
            .collect();
    o.fs.releasedir(dh);
    names.sort();
    let mut out = Vec::new();
    for n in names {
        let a = o.fs.lookup(ROOT, OsStr::new(&n)).unwrap();
        let fh = o.fs.open(a.ino, libc::O_RDONLY).unwrap();
        let mut b = Vec::new();
        loop {
            let piece = o.fs.read(fh, b.len() as u64, 1 << 20).unwrap();
            if piece.is_empty() {
                break;
            }
            b.extend(piece);
        }
        o.fs.release(fh);
        out.push((n, b));
    }
    out
}

fn set_workers(n: usize) {
    // SAFETY: this binary's only test; no other thread reads the environment meanwhile.
    unsafe { std::env::set_var("KMSFS_COPY_WORKERS", n.to_string()) };
}

#[test]
fn parallel_capture_restore_and_copy_match_one_worker() {
    let e = env();
    let client: Arc<dyn Client> = Arc::new(Embedded::new(e.kms.clone(), "ebs.amazonaws.com"));
    let vols = VolumeService::new(e.home.clone(), client.clone());
    let snaps = SnapshotService::new(e.home.clone(), client);
    let v = vols
        .create(&CreateVolume {
            size: 64 << 20,
            ..Default::default()
        })
        .unwrap()
        .volume_id;
    // Many small files, a few of several chunks, empty ones, a sparse one, and duplicates
    // (the same chunk from several files is added once, by one worker).
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..120u64 {
        let len = [0, 1, 4095, 4096, 9000, 70_000][i as usize % 6];
        files.push((format!("small{i:03}"), pattern(i, len)));
    }
    for i in 0..4u64 {
        files.push((format!("big{i}"), pattern(1000 + i, (3 << 19) + 12345)));
    }
    files.push(("dup-a".into(), pattern(7, 600_000)));
    files.push(("dup-b".into(), pattern(7, 600_000)));
    let mut sparse = vec![0u8; 2 << 20];
    sparse[1 << 20..(1 << 20) + 5000].copy_from_slice(&pattern(9, 5000));
    files.push(("sparse".into(), sparse));
    {
        let o = vols.open(&v).unwrap();
        for (n, d) in &files {
            put(&o.fs, n, d);
        }
    }
    files.sort();

    // A first read sets the backing files' atimes (which the manifest keeps); under
    // relatime later reads leave them.
    let warm = snaps.create(&v, "").unwrap();
    snaps.delete(&warm.snapshot_id).unwrap();
    set_workers(1);
    let one = snaps.create(&v, "").unwrap();
    snaps.delete(&one.snapshot_id).unwrap();
    assert_eq!(snaps.store().list().unwrap().len(), 0, "delete left chunks");
    set_workers(8);
    let many = snaps.create(&v, "").unwrap();
    assert_eq!(
        many.manifest_sha256, one.manifest_sha256,
        "manifests differ"
    );
    assert_eq!(
        (many.chunks_added, many.bytes_added),
        (one.chunks_added, one.bytes_added),
        "what the store gained differs"
    );
    assert!(snaps.verify(&many.snapshot_id).unwrap().problems.is_empty());

    // Restore under the same key (stored tree written by the pool) and copy under a new
    // key (restore, re-encrypting copy and capture, each on the pool).
    let same = snaps
        .restore(&many.snapshot_id, &CreateVolume::default())
        .unwrap();
    assert_eq!(contents(&vols, &same.volume_id), files, "restore differs");
    let k2 = e.create_key();
    let copy = snaps
        .copy(&many.snapshot_id, Some(&k2), false, None)
        .unwrap();
    assert_ne!(copy.manifest_sha256, many.manifest_sha256);
    let back = snaps
        .restore(&copy.snapshot_id, &CreateVolume::default())
        .unwrap();
    assert_eq!(contents(&vols, &back.volume_id), files, "copy differs");
}
