//! The EBS snapshot rules, one test named after each, on the plain API (no mount): the
//! volume's files are written and read through `VolumeFs`, snapshots through
//! `SnapshotService`. Figures for 1 GiB volumes are printed by `incremental`.

#![allow(clippy::result_large_err)] // the helpers hand back the layer's own error

mod common;
use common::kms::*;
use common::pattern::pattern_seeded as pattern;
use kmsfs::kms::{Client, Embedded};
use kmsfs::snapshot::store::ObjectStore;
use kmsfs::snapshot::{SnapshotError, SnapshotService};
use kmsfs::volume::fs::{Caller, ROOT};
use kmsfs::volume::{CreateVolume, VolumeFs, VolumeService};
use std::ffi::OsStr;
use std::sync::Arc;
use std::time::Instant;

const ME: Caller = Caller { uid: 0, gid: 0 };

struct T {
    e: Env,
    vols: VolumeService,
    snaps: SnapshotService,
}

fn setup() -> T {
    let e = env();
    let client: Arc<dyn Client> = Arc::new(Embedded::new(e.kms.clone(), "ebs.amazonaws.com"));
    T {
        vols: VolumeService::new(e.home.clone(), client.clone()),
        snaps: SnapshotService::new(e.home.clone(), client),
        e,
    }
}

impl T {
    fn volume(&self, size: u64, key: Option<&str>, encrypted: Option<bool>) -> String {
        self.vols
            .create(&CreateVolume {
                size,
                kms_key_id: key.map(String::from),
                encrypted,
                snapshot_id: None,
            })
            .unwrap()
            .volume_id
    }

    /// A 64 MiB volume under `key` (the default key for `None`) holding `files`.
    fn filled(&self, key: Option<&str>, files: &[(&str, Vec<u8>)]) -> String {
        let v = self.volume(64 << 20, key, None);
        fill(self, &v, files);
        v
    }

    fn restore(&self, snap: &str, key: Option<&str>) -> Result<String, SnapshotError> {
        self.snaps
            .restore(
                snap,
                &CreateVolume {
                    kms_key_id: key.map(String::from),
                    ..Default::default()
                },
            )
            .map(|v| v.volume_id)
    }

    fn ebd(&self, on: bool) {
        let mut s = self.vols.settings().unwrap();
        s.encryption_by_default = on;
        self.vols.set_settings(&s).unwrap();
    }

    fn backing(&self, vol: &str) -> std::path::PathBuf {
        self.vols.volume_dir(vol).unwrap().join("data")
    }

    /// The file of the record of the snapshot `snap`.
    fn record(&self, snap: &str) -> std::path::PathBuf {
        self.e
            .home
            .root()
            .join("snapshots/records")
            .join(format!("{snap}.json"))
    }
}

/// Write `data` at `off` into `name` in the root (created if missing).
fn put(fs: &VolumeFs, name: &str, off: u64, data: &[u8]) {
    let fh = match fs.lookup(ROOT, OsStr::new(name)) {
        Ok(a) => fs.open(a.ino, libc::O_RDWR).unwrap(),
        Err(_) => {
            fs.create(ROOT, OsStr::new(name), 0o644, libc::O_RDWR, ME)
                .unwrap()
                .1
        }
    };
    for (i, piece) in data.chunks(1 << 20).enumerate() {
        fs.write(fh, off + (i << 20) as u64, piece).unwrap();
    }
    fs.release(fh);
}

fn get(fs: &VolumeFs, name: &str) -> Vec<u8> {
    let a = fs.lookup(ROOT, OsStr::new(name)).unwrap();
    let fh = fs.open(a.ino, libc::O_RDONLY).unwrap();
    let mut out = Vec::new();
    loop {
        let b = fs.read(fh, out.len() as u64, 1 << 20).unwrap();
        if b.is_empty() {
            break;
        }
        out.extend(b);
    }
    fs.release(fh);
    out
}

/// The files of a volume and their bytes, read through its own keys.
fn contents(t: &T, vol: &str) -> Vec<(String, Vec<u8>)> {
    let o = t.vols.open(vol).unwrap();
    let fh = o.fs.opendir(ROOT).unwrap();
    let mut names: Vec<String> =
        o.fs.readdir(fh, 0)
            .unwrap()
            .into_iter()
            .map(|(_, e)| e.name.to_string_lossy().into_owned())
            .filter(|n| n != "." && n != "..")
            .collect();
    o.fs.releasedir(fh);
    names.sort();
    names
        .into_iter()
        .map(|n| (n.clone(), get(&o.fs, &n)))
        .collect()
}

fn fill(t: &T, vol: &str, files: &[(&str, Vec<u8>)]) {
    let o = t.vols.open(vol).unwrap();
    for (n, d) in files {
        put(&o.fs, n, 0, d);
    }
}

fn header_dek(t: &T, vol: &str) -> Vec<u8> {
    t.vols.header(vol).unwrap().body.wrapped_dek.unwrap()
}

fn objects(t: &T) -> usize {
    t.snaps.store().list().unwrap().len()
}

#[test]
fn snapshots_of_an_encrypted_volume_are_encrypted() {
    let t = setup();
    let key = t.e.create_key();
    let secret = b"the plaintext that must never reach the store".repeat(100);
    let v = t.filled(Some(&key), &[("secret-name.txt", secret.clone())]);
    let s = t.snaps.create(&v, "first").unwrap();
    assert!(s.encrypted);
    assert!(s.kms_key_id.as_deref().unwrap().ends_with(&key));
    let (_, m) = t.snaps.load(&s.snapshot_id).unwrap();
    assert_eq!(m.wrapped_dek.unwrap(), header_dek(&t, &v));
    assert_eq!(m.kms_key_arn, t.vols.header(&v).unwrap().body.kms_key_arn);
    // Neither the contents nor the name is in any object of the store.
    for h in t.snaps.store().list().unwrap() {
        let b = t.snaps.store().get(&h).unwrap();
        assert!(!b.windows(20).any(|w| w == &secret[..20]));
        assert!(!b.windows(11).any(|w| w == b"secret-name"));
    }
    assert!(t.snaps.verify(&s.snapshot_id).unwrap().problems.is_empty());
}

#[test]
fn shared_dek() {
    let t = setup();
    let key = t.e.create_key();
    let v = t.filled(
        Some(&key),
        &[("a", pattern(1, 3 << 20)), ("b", pattern(2, 5000))],
    );
    let s = t.snaps.create(&v, "").unwrap();
    for explicit in [None, Some(key.as_str())] {
        let r = t.restore(&s.snapshot_id, explicit).unwrap();
        assert_eq!(header_dek(&t, &r), header_dek(&t, &v), "same wrapped DEK");
        assert_eq!(
            t.vols.header(&r).unwrap().body.snapshot_id.as_deref(),
            Some(s.snapshot_id.as_str())
        );
        // No block re-encrypted: the backing trees are byte-identical.
        for e in std::fs::read_dir(t.backing(&v)).unwrap() {
            let e = e.unwrap();
            let other = t.backing(&r).join(e.file_name());
            assert_eq!(
                std::fs::read(e.path()).unwrap(),
                std::fs::read(other).unwrap()
            );
        }
        assert_eq!(contents(&t, &r), contents(&t, &v));
        // Its first snapshot adds nothing: every chunk is already there.
        let s2 = t.snaps.create(&r, "").unwrap();
        assert_eq!(s2.bytes_added, 0);
    }
}

#[test]
fn incremental() {
    let t = setup();
    let [key, key2] = t.e.keys();
    let v = t.volume(2 << 30, Some(&key), None);
    let big = pattern(7, 1 << 30);
    fill(
        &t,
        &v,
        &[("big", big.clone()), ("small", pattern(8, 10_000))],
    );
    drop(big);
    let t0 = Instant::now();
    let s1 = t.snaps.create(&v, "full").unwrap();
    let full_time = t0.elapsed();
    assert!(s1.bytes_added >= 1 << 30, "{}", s1.bytes_added);
    // Change 10 MiB in the middle.
    {
        let o = t.vols.open(&v).unwrap();
        put(&o.fs, "big", 300 << 20, &pattern(9, 10 << 20));
    }
    let t0 = Instant::now();
    let s2 = t.snaps.create(&v, "incremental").unwrap();
    let inc_time = t0.elapsed();
    let chunk = 512 << 10;
    assert!(
        s2.bytes_added >= 10 << 20 && s2.bytes_added <= (10 << 20) + 2 * chunk,
        "10 MiB changed, {} bytes added",
        s2.bytes_added
    );
    let t0 = Instant::now();
    let c1 = t.snaps.copy(&s2.snapshot_id, None, false, None).unwrap();
    let copy_same = t0.elapsed();
    let t0 = Instant::now();
    let c2 = t
        .snaps
        .copy(&s2.snapshot_id, Some(&key2), false, None)
        .unwrap();
    let copy_other = t0.elapsed();
    assert_eq!(c1.bytes_added, 0);
    assert!(c2.bytes_added >= 1 << 30);
    eprintln!(
        "FIGURES 1 GiB volume: first snapshot {:.2} s, {} bytes added; after 10 MiB changed {:.2} s, {} bytes added; same-key copy {:.2} s, {} bytes added; other-key copy {:.2} s, {} bytes added",
        full_time.as_secs_f64(),
        s1.bytes_added,
        inc_time.as_secs_f64(),
        s2.bytes_added,
        copy_same.as_secs_f64(),
        c1.bytes_added,
        copy_other.as_secs_f64(),
        c2.bytes_added
    );
}

#[test]
fn copy_same_key() {
    let t = setup();
    let v = t.filled(None, &[("a", pattern(3, 2 << 20))]);
    let s = t.snaps.create(&v, "").unwrap();
    let before = objects(&t);
    let c = t.snaps.copy(&s.snapshot_id, None, false, None).unwrap();
    assert_eq!((c.bytes_added, c.chunks_added), (0, 0));
    assert_eq!(objects(&t), before, "no chunk added");
    assert_eq!(c.kms_key_id, s.kms_key_id);
    assert_eq!(
        c.source_snapshot_id.as_deref(),
        Some(s.snapshot_id.as_str())
    );
    let r = t.restore(&c.snapshot_id, None).unwrap();
    assert_eq!(header_dek(&t, &r), header_dek(&t, &v));
    assert_eq!(contents(&t, &r), contents(&t, &v));
}

#[test]
fn copy_or_restore_under_a_different_key() {
    let t = setup();
    let [k1, k2] = t.e.keys();
    let v = t.filled(
        Some(&k1),
        &[
            ("a", pattern(4, 3 << 20)),
            ("b", Vec::new()),
            ("c", pattern(5, 4097)),
        ],
    );
    let want = contents(&t, &v);
    let s = t.snaps.create(&v, "").unwrap();
    let c = t
        .snaps
        .copy(&s.snapshot_id, Some(&k2), false, None)
        .unwrap();
    assert!(c.kms_key_id.as_deref().unwrap().ends_with(&k2));
    assert!(c.bytes_added >= 3 << 20, "a full copy: {}", c.bytes_added);
    let (_, cm) = t.snaps.load(&c.snapshot_id).unwrap();
    assert_ne!(cm.wrapped_dek.unwrap(), header_dek(&t, &v), "a new DEK");
    // Every block re-encrypted: no chunk of the copy is one of the original's.
    let (_, om) = t.snaps.load(&s.snapshot_id).unwrap();
    let orig = om.chunk_set();
    let (_, cm) = t.snaps.load(&c.snapshot_id).unwrap();
    assert!(cm.chunk_set().is_disjoint(&orig));
    let r = t.restore(&c.snapshot_id, None).unwrap();
    assert_eq!(contents(&t, &r), want);
    // Restore straight under another key.
    let r2 = t.restore(&s.snapshot_id, Some(&k2)).unwrap();
    let h = t.vols.header(&r2).unwrap();
    assert!(h.body.kms_key_arn.unwrap().ends_with(&k2));
    assert_ne!(h.body.wrapped_dek.unwrap(), header_dek(&t, &v));
    assert_eq!(contents(&t, &r2), want);
    // The original snapshot still names its own key.
    assert_eq!(
        t.snaps.describe(&s.snapshot_id).unwrap().kms_key_id,
        s.kms_key_id
    );
}

#[test]
fn first_snapshot_after_a_key_change_is_full() {
    let t = setup();
    let [k1, k2] = t.e.keys();
    let v = t.filled(Some(&k1), &[("a", pattern(6, 4 << 20))]);
    let s = t.snaps.create(&v, "").unwrap();
    let r = t.restore(&s.snapshot_id, Some(&k2)).unwrap();
    let f = t.snaps.create(&r, "").unwrap();
    assert!(f.bytes_added >= 4 << 20, "full: {}", f.bytes_added);
    {
        let o = t.vols.open(&r).unwrap();
        put(&o.fs, "a", 1 << 20, b"changed");
    }
    let i = t.snaps.create(&r, "").unwrap();
    assert!(
        i.bytes_added <= 2 * (512 << 10),
        "incremental again: {}",
        i.bytes_added
    );
}

#[test]
fn unencrypted_snapshot() {
    let t = setup();
    t.ebd(false);
    let k = t.e.create_key();
    let v = t.volume(64 << 20, None, Some(false));
    fill(&t, &v, &[("plain", pattern(10, 1 << 20))]);
    let want = contents(&t, &v);
    let s = t.snaps.create(&v, "").unwrap();
    assert!(!s.encrypted);
    // Copied as encrypted: a full copy under the default key.
    let c = t.snaps.copy(&s.snapshot_id, None, true, None).unwrap();
    assert!(c.encrypted && c.bytes_added >= 1 << 20);
    assert!(c.kms_key_id.is_some());
    // Restored as encrypted under a key.
    let r = t.restore(&s.snapshot_id, Some(&k)).unwrap();
    assert!(t.vols.describe(&r).unwrap().encrypted);
    assert_eq!(contents(&t, &r), want);
    // Unencrypted stays possible while encryption by default is off.
    let u = t.restore(&s.snapshot_id, None).unwrap();
    assert!(!t.vols.describe(&u).unwrap().encrypted);
    // The reverse is refused.
    let r = t.snaps.restore(
        &c.snapshot_id,
        &CreateVolume {
            encrypted: Some(false),
            ..Default::default()
        },
    );
    assert!(
        matches!(r, Err(SnapshotError::MustStayEncrypted(_))),
        "{r:?}"
    );
}

#[test]
fn encryption_by_default() {
    let t = setup();
    t.ebd(false);
    let v = t.volume(64 << 20, None, Some(false));
    fill(&t, &v, &[("x", pattern(11, 70_000))]);
    let s = t.snaps.create(&v, "").unwrap();
    t.ebd(true);
    let r = t.restore(&s.snapshot_id, None).unwrap();
    let d = t.vols.describe(&r).unwrap();
    assert!(
        d.encrypted,
        "restored under encryption by default: encrypted"
    );
    assert!(d.kms_key_id.is_some());
    assert_eq!(contents(&t, &r), contents(&t, &v));
    let c = t.snaps.copy(&s.snapshot_id, None, false, None).unwrap();
    assert!(c.encrypted, "copies too");
}

#[test]
fn key_cannot_change_in_place() {
    let t = setup();
    let [k1, k2] = t.e.keys();
    let v = t.filled(Some(&k1), &[("x", pattern(12, 1000))]);
    let s = t.snaps.create(&v, "").unwrap();
    let before = std::fs::read(t.record(&s.snapshot_id)).unwrap();
    // A copy or a restore under k2 makes new objects; the originals keep k1.
    t.snaps
        .copy(&s.snapshot_id, Some(&k2), false, None)
        .unwrap();
    t.restore(&s.snapshot_id, Some(&k2)).unwrap();
    let after = std::fs::read(t.record(&s.snapshot_id)).unwrap();
    assert_eq!(before, after);
    assert!(
        t.vols
            .describe(&v)
            .unwrap()
            .kms_key_id
            .unwrap()
            .ends_with(&k1)
    );
    // And the CLI has no verb for it.
    for args in [
        ["volume", "modify", &v, "--kms-key-id", &k2],
        ["snapshot", "modify", &s.snapshot_id, "--kms-key-id", &k2],
    ] {
        let out = common::cli::kmsfs(t.e.home.root(), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?} is not a command");
    }
}

#[test]
fn a_disabled_or_deleted_key() {
    let t = setup();
    let [k1, k2] = t.e.keys();
    let v1 = t.filled(Some(&k1), &[("x", pattern(13, 5000))]);
    let v2 = t.filled(Some(&k2), &[("y", pattern(14, 5000))]);
    let s1 = t.snaps.create(&v1, "").unwrap();
    let s2 = t.snaps.create(&v2, "").unwrap();
    t.e.c.disable_key(t.e.kid(&k1)).unwrap();
    for r in [
        t.restore(&s1.snapshot_id, None).map(|_| ()),
        t.snaps.copy(&s1.snapshot_id, None, false, None).map(|_| ()),
        t.snaps
            .copy(&s1.snapshot_id, Some(&k2), false, None)
            .map(|_| ()),
    ] {
        let e = r.unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, SnapshotError::KeyUnusable { .. }), "{msg}");
        assert!(
            msg.contains(&k1) && msg.contains("DisabledException"),
            "{msg}"
        );
    }
    // Other snapshots are unaffected.
    let r = t.restore(&s2.snapshot_id, None).unwrap();
    assert_eq!(contents(&t, &r), contents(&t, &v2));
    // Pending deletion names that state.
    t.e.c.enable_key(t.e.kid(&k1)).unwrap();
    t.e.schedule_deletion(&k1, Some(7)).unwrap();
    let msg = t.restore(&s1.snapshot_id, None).unwrap_err().to_string();
    assert!(
        msg.contains("KMSInvalidStateException") && msg.contains("pending deletion"),
        "{msg}"
    );
    assert!(t.snaps.verify(&s2.snapshot_id).unwrap().problems.is_empty());
}

#[test]
fn deletion() {
    let t = setup();
    let v = t.volume(64 << 20, None, None);
    let mut states = Vec::new();
    let mut snaps = Vec::new();
    for i in 0..3u64 {
        {
            let o = t.vols.open(&v).unwrap();
            put(&o.fs, "f", i * (1 << 20), &pattern(20 + i, 1 << 20));
            put(&o.fs, &format!("only-{i}"), 0, &pattern(30 + i, 700_000));
        }
        states.push(contents(&t, &v));
        snaps.push(t.snaps.create(&v, &format!("#{i}")).unwrap().snapshot_id);
    }
    t.snaps.delete(&snaps[1]).unwrap();
    assert!(matches!(
        t.snaps.describe(&snaps[1]),
        Err(SnapshotError::NotFound(_))
    ));
    // Exactly the live objects remain: the manifests of 0 and 2 and their chunks.
    let mut live = std::collections::BTreeSet::new();
    for s in [&snaps[0], &snaps[2]] {
        let (i, m) = t.snaps.load(s).unwrap();
        live.extend(m.chunk_set());
        live.insert(
            kmsfs::crypto::unhex(&i.manifest_sha256)
                .unwrap()
                .try_into()
                .unwrap(),
        );
    }
    let have: std::collections::BTreeSet<_> = t.snaps.store().list().unwrap().into_iter().collect();
    assert_eq!(have, live);
    for (i, s) in [(0, &snaps[0]), (2, &snaps[2])] {
        assert!(t.snaps.verify(s).unwrap().problems.is_empty());
        let r = t.restore(s, None).unwrap();
        assert_eq!(contents(&t, &r), states[i], "snapshot {i} byte-identical");
    }
}

#[test]
fn tampering_is_found_by_verify_and_restore() {
    let t = setup();
    let v = t.filled(None, &[("a", pattern(40, 2 << 20))]);
    let s = t.snaps.create(&v, "").unwrap();
    let (_, m) = t.snaps.load(&s.snapshot_id).unwrap();
    let victim = m.entries.iter().max_by_key(|e| e.size).unwrap().chunks[0];
    let name = kmsfs::crypto::hex(&victim);
    let p = t.snaps.store().path(&victim);
    let mut b = std::fs::read(&p).unwrap();
    b[1000] ^= 1;
    std::fs::write(&p, &b).unwrap();
    let r = t.snaps.verify(&s.snapshot_id).unwrap();
    assert_eq!(r.problems.len(), 1);
    assert!(r.problems[0].contains(&name), "{:?}", r.problems);
    let e = t.restore(&s.snapshot_id, None).unwrap_err().to_string();
    assert!(e.contains(&name), "{e}");
    // No half volume is left behind.
    assert_eq!(t.vols.list().unwrap().len(), 1);
    // A missing chunk is named too.
    std::fs::remove_file(&p).unwrap();
    let r = t.snaps.verify(&s.snapshot_id).unwrap();
    assert!(r.problems[0].contains("missing") && r.problems[0].contains(&name));
    // A damaged manifest.
    let mh = kmsfs::crypto::unhex(&s.manifest_sha256)
        .unwrap()
        .try_into()
        .unwrap();
    let mp = t.snaps.store().path(&mh);
    let mut b = std::fs::read(&mp).unwrap();
    let n = b.len();
    b[n - 3] ^= 0x40;
    std::fs::write(&mp, &b).unwrap();
    let r = t.snaps.verify(&s.snapshot_id).unwrap();
    assert!(
        r.problems[0].contains(&s.manifest_sha256),
        "{:?}",
        r.problems
    );
    assert!(
        t.restore(&s.snapshot_id, None)
            .unwrap_err()
            .to_string()
            .contains("manifest")
    );
}

#[test]
fn a_crash_leaves_the_old_state_or_the_new() {
    let t = setup();
    let v = t.filled(None, &[("a", pattern(50, 1 << 20))]);
    let s = t.snaps.create(&v, "").unwrap();
    // A create that died after writing chunks but before its record: invisible.
    let orphan = b"a chunk of a snapshot that never finished".to_vec();
    let oh = kmsfs::crypto::sha256(&orphan);
    t.snaps.store().put_if_absent(&oh, &orphan).unwrap();
    assert_eq!(t.snaps.list().unwrap().len(), 1);
    assert!(t.snaps.verify(&s.snapshot_id).unwrap().problems.is_empty());
    // The next delete collects it with the deleted snapshot's own chunks.
    let s2 = t.snaps.create(&v, "").unwrap();
    t.snaps.delete(&s2.snapshot_id).unwrap();
    assert!(!t.snaps.store().contains(&oh).unwrap());
    assert!(t.snaps.verify(&s.snapshot_id).unwrap().problems.is_empty());
    // A delete that died after removing the record: the snapshot is gone, the rest intact.
    let s3 = t.snaps.create(&v, "").unwrap();
    std::fs::remove_file(t.record(&s3.snapshot_id)).unwrap();
    assert_eq!(t.snaps.list().unwrap().len(), 1);
    assert!(t.snaps.verify(&s.snapshot_id).unwrap().problems.is_empty());
}

#[test]
fn a_new_object_takes_its_name_only_once_durable() {
    let t = setup();
    let store = t.snaps.store();
    let data = b"an object written but not yet flushed".to_vec();
    let h = kmsfs::crypto::sha256(&data);
    assert!(store.put_if_absent(&h, &data).unwrap());
    // Pending: readable, but its final name (what a manifest names) does not exist yet, so
    // a crash now leaves only a temp file, which the next listing sweeps.
    assert!(!store.path(&h).exists(), "named before it was durable");
    assert!(store.contains(&h).unwrap());
    assert_eq!(store.get(&h).unwrap(), data);
    assert!(!store.put_if_absent(&h, &data).unwrap(), "added twice");
    store.flush().unwrap();
    assert!(store.path(&h).exists());
    let dir = store.path(&h).parent().unwrap().to_path_buf();
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(names.len(), 1, "a temp file stayed beside the object");
    // A change that failed drops what it had written.
    let other = b"an object of a change that failed".to_vec();
    let oh = kmsfs::crypto::sha256(&other);
    assert!(store.put_if_absent(&oh, &other).unwrap());
    store.discard();
    assert!(!store.contains(&oh).unwrap());
    let odir = store.path(&oh).parent().unwrap().to_path_buf();
    let left = std::fs::read_dir(&odir).map_or(0, |r| r.count());
    assert_eq!(
        left,
        usize::from(odir == dir),
        "the failed change left a file"
    );
}
