//! The volume layer without mounting: the EBS rules for creation and mounting, and the
//! filesystem core (`VolumeFs`) doing real work on an encrypted backing tree that holds no
//! plaintext.

mod common;
use common::kms::*;
use kmsfs::kms::{Client, Embedded};
use kmsfs::volume::fs::{Caller, ROOT, SetAttr};
use kmsfs::volume::{CreateVolume, VolumeError, VolumeFs, VolumeInfo, VolumeService};
use std::ffi::OsStr;
use std::sync::Arc;

const ME: Caller = Caller { uid: 0, gid: 0 };

/// A fresh KMS and volume service.
fn setup() -> (Env, VolumeService) {
    let e = env();
    let svc = service(&e);
    (e, svc)
}

/// As [`setup`], with a volume under a new key: (env, service, key, volume).
fn setup_with_key() -> (Env, VolumeService, String, String) {
    let (e, svc) = setup();
    let k = e.create_key();
    let id = vol(&svc, Some(&k));
    (e, svc, k, id)
}

fn service(e: &Env) -> VolumeService {
    VolumeService::new(
        e.home.clone(),
        Arc::new(Embedded::new(e.kms.clone(), "ebs.amazonaws.com")),
    )
}

/// A volume of `size` with the default key, encrypted or not as `encrypted` asks.
fn create(
    svc: &VolumeService,
    size: u64,
    encrypted: Option<bool>,
) -> Result<VolumeInfo, VolumeError> {
    svc.create(&CreateVolume {
        size,
        encrypted,
        ..Default::default()
    })
}

/// Turn encryption by default on or off.
fn set_ebd(svc: &VolumeService, on: bool) {
    let mut s = svc.settings().unwrap();
    s.encryption_by_default = on;
    svc.set_settings(&s).unwrap();
}

/// A new file `name` in the root, open: its handle.
fn new_file(fs: &VolumeFs, name: &str) -> u64 {
    fs.create(ROOT, OsStr::new(name), 0o644, 0, ME).unwrap().1
}

fn vol(svc: &VolumeService, key: Option<&str>) -> String {
    svc.create(&CreateVolume {
        size: 64 << 20,
        kms_key_id: key.map(String::from),
        encrypted: None,
        snapshot_id: None,
    })
    .unwrap()
    .volume_id
}

#[test]
fn encryption_by_default_and_default_key() {
    let (e, svc) = setup();
    assert!(svc.settings().unwrap().encryption_by_default);
    let v = create(&svc, 1 << 30, None).unwrap();
    assert!(v.encrypted);
    let ebs = e.describe("alias/aws/ebs").unwrap();
    assert_eq!(v.kms_key_id.as_deref(), Some(ebs.arn.as_str()));
    assert_eq!(ebs.key_manager, "AWS");
    let r = create(&svc, 1 << 30, Some(false));
    assert!(matches!(r, Err(VolumeError::EncryptionRequired)));
    // A customer default key.
    let k = e.create_key();
    svc.set_default_key(&k).unwrap();
    let v2 = create(&svc, 1 << 30, None).unwrap();
    assert!(v2.kms_key_id.unwrap().ends_with(&k));
    // Off: unencrypted allowed, and the default is unencrypted.
    set_ebd(&svc, false);
    assert!(!create(&svc, 1 << 30, None).unwrap().encrypted);
    assert!(create(&svc, 1 << 30, Some(true)).unwrap().encrypted);
    assert_eq!(svc.list().unwrap().len(), 4);
}

#[test]
fn dek_is_wrapped_under_the_volume_context_and_the_service_is_audited() {
    let (e, svc, _, id) = setup_with_key();
    let h = svc.header(&id).unwrap();
    assert_eq!(h.body.dek_context.get("aws:ebs:id"), Some(&id));
    let blob = h.body.wrapped_dek.clone().unwrap();
    // The wrapped DEK opens only under the volume's context.
    assert!(e.decrypt(&blob, None).is_err());
    assert_eq!(
        e.decrypt(&blob, Some(h.body.dek_context.clone()))
            .unwrap()
            .len(),
        32
    );
    let _open = svc.open(&id).unwrap();
    let lines = e.audit_lines();
    let ebs: Vec<_> = lines
        .iter()
        .filter(|l| l.principal == "ebs.amazonaws.com")
        .map(|l| l.operation.as_str())
        .collect();
    assert_eq!(
        ebs,
        [
            "GenerateDataKeyWithoutPlaintext",
            "CreateGrant",
            "Decrypt",
            "Decrypt"
        ]
    );
}

#[test]
fn unusable_key_fails_before_mount_naming_key_and_state() {
    let (e, svc, k, id) = setup_with_key();
    let open = svc.open(&id).unwrap();
    // Disabling the key while mounted does not break the mount (the DEK is in memory).
    e.c.disable_key(e.kid(&k)).unwrap();
    let fh = new_file(&open.fs, "still-works");
    open.fs.write(fh, 0, b"yes").unwrap();
    assert_eq!(open.fs.read(fh, 0, 10).unwrap(), b"yes");
    open.fs.release(fh);
    drop(open);
    let err = svc.open(&id).err().expect("the next mount fails");
    let msg = err.to_string();
    assert!(msg.contains(&k) && msg.contains("is disabled"), "{msg}");
    e.c.enable_key(e.kid(&k)).unwrap();
    e.schedule_deletion(&k, Some(7)).unwrap();
    let msg = svc.open(&id).err().unwrap().to_string();
    assert!(msg.contains("pending deletion"), "{msg}");
    e.clock.advance_days(8);
    let msg = svc.open(&id).err().unwrap().to_string();
    assert!(msg.contains(&k), "{msg}");
}

#[test]
fn damaged_header_is_named_and_other_volumes_are_fine() {
    let (e, svc) = setup();
    let a = vol(&svc, None);
    let b = vol(&svc, None);
    let hp = e.home.root().join("volumes").join(&a).join("volume.hdr");
    let orig = std::fs::read(&hp).unwrap();
    for i in [
        0,
        9,
        20,
        50,
        60,
        orig.len() / 2,
        orig.len() - 40,
        orig.len() - 1,
    ] {
        let mut bad = orig.clone();
        bad[i] ^= 0x10;
        std::fs::write(&hp, &bad).unwrap();
        let err = svc
            .open(&a)
            .err()
            .unwrap_or_else(|| panic!("flip at {i} accepted"));
        let msg = err.to_string();
        assert!(
            msg.contains("volume.hdr") || msg.contains(&a),
            "flip at {i}: {msg}"
        );
    }
    std::fs::write(&hp, &orig).unwrap();
    svc.open(&a).unwrap();
    svc.open(&b).unwrap();
    assert!(matches!(
        svc.open("vol-00000000000000000"),
        Err(VolumeError::NotFound(_))
    ));
}

#[test]
fn one_mount_at_a_time_and_no_delete_while_mounted() {
    let (_e, svc) = setup();
    let id = vol(&svc, None);
    let open = svc.open(&id).unwrap();
    open.mounted_at(std::path::Path::new("/mnt/x")).unwrap();
    // Mounted: refused at once, not after the lock timeout.
    let t0 = std::time::Instant::now();
    assert!(matches!(svc.open(&id), Err(VolumeError::InUse(_))));
    assert!(matches!(svc.delete(&id), Err(VolumeError::InUse(_))));
    assert!(t0.elapsed() < std::time::Duration::from_secs(2));
    drop(open);
    svc.delete(&id).unwrap();
    assert!(svc.list().unwrap().is_empty());
}

/// `umount` returns when the kernel lets the mount go, while its daemon still settles
/// (holding the lock, its mount record removed): a mount or a delete right then waits
/// for the daemon, as a mount after gocryptfs's `fusermount -u` just works.
#[test]
fn a_mount_or_delete_waits_for_a_daemon_settling_after_its_unmount() {
    let (_e, svc) = setup();
    let id = vol(&svc, None);
    for delete in [false, true] {
        let open = svc.open(&id).unwrap();
        open.mounted_at(std::path::Path::new("/mnt/x")).unwrap();
        open.unmounted();
        let settle = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            drop(open);
        });
        if delete {
            svc.delete(&id).unwrap();
        } else {
            drop(svc.open(&id).unwrap());
        }
        settle.join().unwrap();
    }
    assert!(svc.list().unwrap().is_empty());
}

fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() && !p.is_symlink() {
            walk(&p, out);
        }
        out.push(p);
    }
}

#[test]
fn posix_work_on_the_core_leaves_no_plaintext() {
    let (_e, svc) = setup();
    let id = vol(&svc, None);
    let open = svc.open(&id).unwrap();
    let fs = &open.fs;
    let secret = b"TOP-SECRET-CONTENT-0123456789";
    let d = fs
        .mkdir(ROOT, OsStr::new("secret-directory"), 0o755, ME)
        .unwrap();
    let (f, fh) = fs
        .create(d.ino, OsStr::new("secret-file-name.txt"), 0o600, 0, ME)
        .unwrap();
    let mut data = Vec::new();
    for _ in 0..2000 {
        data.extend_from_slice(secret);
    }
    fs.write(fh, 0, &data).unwrap();
    assert_eq!(fs.read(fh, 0, data.len() as u32).unwrap(), data);
    assert_eq!(fs.getattr(f.ino).unwrap().size, data.len() as u64);
    // Partial overwrite in the middle of a block, and reads at odd offsets.
    fs.write(fh, 5000, b"XYZ").unwrap();
    data[5000..5003].copy_from_slice(b"XYZ");
    assert_eq!(fs.read(fh, 4990, 20).unwrap(), data[4990..5010]);
    // Sparse: write far past the end; the gap reads as zeros.
    fs.write(fh, 1 << 20, b"end").unwrap();
    let gap = fs.read(fh, data.len() as u64, 4096).unwrap();
    assert!(gap.iter().all(|&b| b == 0));
    assert_eq!(fs.getattr(f.ino).unwrap().size, (1 << 20) + 3);
    // Truncate down and up.
    let truncate = |n: u64| {
        let size = SetAttr {
            size: Some(n),
            ..Default::default()
        };
        fs.setattr(f.ino, size, Some(fh)).unwrap();
    };
    truncate(10);
    assert_eq!(fs.read(fh, 0, 100).unwrap(), data[..10]);
    truncate(9000);
    let r = fs.read(fh, 0, 9000).unwrap();
    assert_eq!(&r[..10], &data[..10]);
    assert!(r[10..].iter().all(|&b| b == 0));
    for n in [1u64, 15, 16, 17, 4095, 4096, 4097] {
        truncate(n);
        assert_eq!(fs.read(fh, 0, 9000).unwrap().len() as u64, n);
    }
    fs.release(fh);
    // Symlink, hard link, rename across directories, xattr.
    fs.symlink(
        ROOT,
        OsStr::new("secret-link"),
        OsStr::new("secret-directory/secret-file-name.txt"),
        ME,
    )
    .unwrap();
    let l = fs.lookup(ROOT, OsStr::new("secret-link")).unwrap();
    assert_eq!(
        fs.readlink(l.ino).unwrap(),
        b"secret-directory/secret-file-name.txt"
    );
    fs.link(f.ino, ROOT, OsStr::new("secret-hardlink")).unwrap();
    assert_eq!(fs.getattr(f.ino).unwrap().nlink, 2);
    fs.rename(
        ROOT,
        OsStr::new("secret-hardlink"),
        d.ino,
        OsStr::new("moved-secret"),
        0,
    )
    .unwrap();
    assert!(fs.lookup(d.ino, OsStr::new("moved-secret")).is_ok());
    fs.setxattr(f.ino, OsStr::new("user.secret-attr"), b"secret-value", 0)
        .unwrap();
    assert_eq!(
        fs.getxattr(f.ino, OsStr::new("user.secret-attr")).unwrap(),
        b"secret-value"
    );
    assert!(
        fs.listxattr(f.ino)
            .unwrap()
            .windows(16)
            .any(|w| w == b"user.secret-attr")
    );
    let long = "secret-long-".repeat(20);
    fs.release(new_file(fs, &long));
    let dh = fs.opendir(ROOT).unwrap();
    let names: Vec<String> = fs
        .readdir(dh, 0)
        .unwrap()
        .into_iter()
        .map(|(_, e)| e.name.to_string_lossy().into_owned())
        .collect();
    fs.releasedir(dh);
    assert_eq!(names.len(), 5, "{names:?}");
    assert!(names.contains(&long) && names.contains(&"secret-link".to_string()));
    // Nothing in the backing tree shows a name, a content fragment, or the link target.
    let mut files = Vec::new();
    walk(&open.dir.join("data"), &mut files);
    for p in &files {
        let name = p.file_name().unwrap().to_string_lossy();
        assert!(
            !name.contains("secret"),
            "plaintext name on disk: {}",
            p.display()
        );
        if p.is_symlink() {
            assert!(
                !std::fs::read_link(p)
                    .unwrap()
                    .to_string_lossy()
                    .contains("secret")
            );
        } else if p.is_file() {
            let b = std::fs::read(p).unwrap();
            assert!(
                !b.windows(10).any(|w| w == &secret[..10]),
                "plaintext in {}",
                p.display()
            );
            assert!(
                !b.windows(6).any(|w| w == b"secret"),
                "plaintext in {}",
                p.display()
            );
        }
    }
    // Unlink while open; rmdir of a non-empty dir fails.
    let fh = new_file(fs, "tmp");
    fs.write(fh, 0, b"still here").unwrap();
    fs.unlink(ROOT, OsStr::new("tmp")).unwrap();
    assert_eq!(fs.read(fh, 0, 100).unwrap(), b"still here");
    fs.release(fh);
    assert_eq!(
        fs.rmdir(ROOT, OsStr::new("secret-directory"))
            .unwrap_err()
            .errno(),
        libc::ENOTEMPTY
    );
}

#[test]
fn the_size_is_enforced() {
    let (_e, svc) = setup();
    let id = create(&svc, 2 << 20, None).unwrap().volume_id;
    let open = svc.open(&id).unwrap();
    let fh = new_file(&open.fs, "big");
    let chunk = vec![7u8; 256 << 10];
    let mut written = 0u64;
    let err = loop {
        match open.fs.write(fh, written, &chunk) {
            Ok(n) => written += n as u64,
            Err(e) => break e,
        }
        assert!(written < 8 << 20, "never hit the limit");
    };
    assert_eq!(err.errno(), libc::ENOSPC);
    assert!(written >= 1 << 20, "{written}");
    let st = open.fs.statfs();
    assert_eq!(st.blocks * st.bsize as u64, 2 << 20);
    open.fs.release(fh);
    open.fs.unlink(ROOT, OsStr::new("big")).unwrap();
    assert!(open.fs.statfs().bfree > st.bfree);
}

/// Creates link in backing files made ahead (`volume/fs/tmpfiles.rs`): past the first
/// batches too, each new file has the mode asked (less the umask, as an `openat` gives;
/// the files are made with the plain mode the last create asked for, so others are set
/// at the create), the current times, a header of its own (its file id drawn ahead: every
/// id differs) and its content; no name is left in the backing tree but the files'. A name that is taken stays EEXIST. The same
/// holds on an unencrypted volume, whose files have no header.
#[test]
fn creates_from_files_made_ahead_are_new_files() {
    made_ahead_files_on(true);
}

#[test]
fn creates_from_files_made_ahead_are_new_files_unencrypted() {
    made_ahead_files_on(false);
}

fn made_ahead_files_on(encrypted: bool) {
    let (_e, svc) = setup();
    set_ebd(&svc, encrypted);
    let id = create(&svc, 64 << 20, None).unwrap().volume_id;
    let open = svc.open(&id).unwrap();
    let fs = &open.fs;
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let umask = status
        .lines()
        .find_map(|l| l.strip_prefix("Umask:"))
        .map(|v| u32::from_str_radix(v.trim(), 8).unwrap())
        .unwrap();
    let before = std::fs::read_dir(open.dir.join("data")).unwrap().count();
    // The first create starts the thread; the files it makes are then older than `start`,
    // by a second. (File times come from the kernel's coarse clock, up to a tick (10 ms at
    // HZ=100) behind SystemTime::now(): `start` allows 100 ms for that.)
    let fh = fs.create(ROOT, OsStr::new("f0"), 0o640, 0, ME).unwrap().1;
    fs.write(fh, 0, b"f0").unwrap();
    fs.release(fh);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let start = std::time::SystemTime::now() - std::time::Duration::from_millis(100);
    let n = 400;
    let modes = [0o644, 0o640, 0o755, 0o600, 0o4755];
    for i in 1..n {
        let name = format!("f{i}");
        let mode = modes[i % modes.len()];
        let (attr, fh) = fs.create(ROOT, OsStr::new(&name), mode, 0, ME).unwrap();
        assert_eq!(attr.perm as u32, mode & !umask, "{name}");
        assert!(
            attr.atime >= start && attr.mtime >= start,
            "{name}: {attr:?}"
        );
        fs.write(fh, 0, name.as_bytes()).unwrap();
        fs.release(fh);
        if i % 100 == 0 {
            // Let the thread catch up, so that later creates take files made ahead.
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    let err = fs.create(ROOT, OsStr::new("f7"), 0o640, 0, ME).unwrap_err();
    assert_eq!(err.errno(), libc::EEXIST);
    for i in 1..n {
        let name = format!("f{i}");
        let a = fs.lookup(ROOT, OsStr::new(&name)).unwrap();
        assert_eq!(a.perm as u32, modes[i % modes.len()] & !umask, "{name}");
        let fh = fs.open(a.ino, libc::O_RDONLY).unwrap();
        assert_eq!(fs.read(fh, 0, 100).unwrap(), name.as_bytes());
        fs.release(fh);
    }
    let after = std::fs::read_dir(open.dir.join("data")).unwrap().count();
    assert_eq!(after, before + n);
    // Each backing file holds its header (encrypted) or its plaintext (not).
    let mut ids = std::collections::HashSet::new();
    for e in std::fs::read_dir(open.dir.join("data")).unwrap() {
        let b = std::fs::read(e.unwrap().path()).unwrap();
        if encrypted && b.starts_with(&kmsfs::volume::content::MAGIC) {
            assert!(ids.insert(b[16..32].to_vec()), "a file id was used twice");
        } else if !encrypted && b.starts_with(b"f") {
            ids.insert(b);
        }
    }
    assert_eq!(ids.len(), n, "one backing file per new file, each its own");
    // They were made in this process's staging directory beside the tree (`made/`), which
    // holds no name and goes with the file system.
    let made = open.dir.join("made");
    let staged: Vec<_> = std::fs::read_dir(&made)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(staged.len(), 1, "{staged:?}");
    assert_eq!(std::fs::read_dir(&staged[0]).unwrap().count(), 0);
    drop(open);
    assert_eq!(std::fs::read_dir(&made).unwrap().count(), 0);
}

/// With extended attributes off (`kmsfs mount --no-xattr`), every xattr call is refused with
/// ENOSYS (so that the kernel stops asking), and what was stored before is kept for a mount
/// that serves them again.
#[test]
fn xattrs_off_refuses_every_xattr_call_and_keeps_what_is_stored() {
    let (_e, svc) = setup();
    let id = create(&svc, 8 << 20, None).unwrap().volume_id;
    let name = OsStr::new("user.kept");
    {
        let open = svc.open(&id).unwrap();
        let fh = new_file(&open.fs, "f");
        open.fs.release(fh);
        let f = open.fs.lookup(ROOT, OsStr::new("f")).unwrap();
        open.fs.setxattr(f.ino, name, b"v1", 0).unwrap();
        open.fs.set_xattrs(false);
        let enosys = |r: Result<(), kmsfs::volume::fs::FsError>| {
            assert_eq!(r.unwrap_err().errno(), libc::ENOSYS);
        };
        enosys(open.fs.getxattr(f.ino, name).map(drop));
        enosys(
            open.fs
                .getxattr(f.ino, OsStr::new("security.capability"))
                .map(drop),
        );
        enosys(open.fs.listxattr(f.ino).map(drop));
        enosys(open.fs.setxattr(f.ino, name, b"v2", 0));
        enosys(open.fs.removexattr(f.ino, name));
        // Everything else still works.
        let fh = open.fs.open(f.ino, libc::O_RDWR).unwrap();
        open.fs.write(fh, 0, b"data").unwrap();
        assert_eq!(open.fs.read(fh, 0, 10).unwrap(), b"data");
        open.fs.release(fh);
    }
    let open = svc.open(&id).unwrap();
    let f = open.fs.lookup(ROOT, OsStr::new("f")).unwrap();
    assert_eq!(open.fs.getxattr(f.ino, name).unwrap(), b"v1");
}

#[test]
fn unencrypted_volume_stores_plaintext() {
    let (_e, svc) = setup();
    set_ebd(&svc, false);
    let id = create(&svc, 8 << 20, None).unwrap().volume_id;
    let open = svc.open(&id).unwrap();
    let fh = new_file(&open.fs, "plain.txt");
    open.fs.write(fh, 0, b"visible").unwrap();
    open.fs.release(fh);
    assert_eq!(
        std::fs::read(open.dir.join("data/plain.txt")).unwrap(),
        b"visible"
    );
}

#[test]
fn a_damaged_file_header_is_an_error_naming_the_file_and_nothing_else_breaks() {
    let (e, svc) = setup();
    let id = vol(&svc, None);
    let open = svc.open(&id).unwrap();
    let fs = &open.fs;
    for name in ["victim", "bystander"] {
        let fh = new_file(fs, name);
        fs.write(fh, 0, name.as_bytes()).unwrap();
        fs.release(fh);
    }
    let victim = fs.lookup(ROOT, OsStr::new("victim")).unwrap();
    drop(open);
    // Damage the victim's backing header (find it by its size: 32 + 6 bytes).
    let data = e.home.root().join("volumes").join(&id).join("data");
    let backing = std::fs::read_dir(&data)
        .unwrap()
        .map(|d| d.unwrap().path())
        .find(|p| std::fs::metadata(p).unwrap().len() == 32 + 6)
        .unwrap();
    let mut b = std::fs::read(&backing).unwrap();
    b[3] ^= 0xff;
    std::fs::write(&backing, b).unwrap();
    let open = svc.open(&id).unwrap();
    let fs = &open.fs;
    let v = fs.lookup(ROOT, OsStr::new("victim")).unwrap();
    assert_eq!(v.ino, victim.ino);
    let err = fs.open(v.ino, libc::O_RDONLY).unwrap_err();
    assert_eq!(err.errno(), libc::EIO);
    let msg = err.to_string();
    assert!(
        msg.contains(&backing.file_name().unwrap().to_string_lossy().to_string())
            && msg.contains("bad magic"),
        "{msg}"
    );
    let b = fs.lookup(ROOT, OsStr::new("bystander")).unwrap();
    let fh = fs.open(b.ino, libc::O_RDONLY).unwrap();
    assert_eq!(fs.read(fh, 0, 100).unwrap(), b"bystander");
}

/// The backing directories of `dir` (not following symlinks).
fn backing_dirs(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && !p.is_symlink())
        .collect()
}

#[test]
fn a_mkdir_cut_short_by_a_crash_is_usable_and_a_damaged_directory_is_named() {
    let (e, svc) = setup();
    let id = vol(&svc, None);
    let open = svc.open(&id).unwrap();
    open.fs.mkdir(ROOT, OsStr::new("cut"), 0o755, ME).unwrap();
    let d = open.fs.mkdir(ROOT, OsStr::new("full"), 0o755, ME).unwrap();
    let (_, fh) = open
        .fs
        .create(d.ino, OsStr::new("f"), 0o600, 0, ME)
        .unwrap();
    open.fs.release(fh);
    drop(open);
    // What a kill -9 between making a directory and writing its id leaves: no id file; and
    // a directory holding entries whose id file is gone (damage).
    let data = e.home.root().join("volumes").join(&id).join("data");
    for dir in backing_dirs(&data) {
        std::fs::remove_file(dir.join(".kmsfs.diriv")).unwrap();
    }
    let open = svc.open(&id).unwrap();
    let fs = &open.fs;
    let cut = fs.lookup(ROOT, OsStr::new("cut")).unwrap();
    let (_, fh) = fs
        .create(cut.ino, OsStr::new("now-usable"), 0o600, 0, ME)
        .unwrap();
    fs.release(fh);
    let listed = fs.readdir(fs.opendir(cut.ino).unwrap(), 0).unwrap();
    assert!(listed.iter().any(|(_, e)| e.name == "now-usable"));
    let full = fs.lookup(ROOT, OsStr::new("full")).unwrap();
    let err = fs.opendir(full.ino).expect_err("a damaged directory lists");
    assert_eq!(err.errno(), libc::EIO);
    assert!(err.to_string().contains(".kmsfs.diriv"), "{err}");
}

/// With the writeback cache the kernel flushes its times after unlinking a file's last link
/// (a times-only SETATTR): with no link and no open handle left it succeeds and touches
/// nothing; any other change of such an inode is still ENOENT, and an open handle still
/// takes the times.
#[test]
fn times_of_an_unlinked_file_are_taken_and_other_changes_refused() {
    let (_e, svc, _k, id) = setup_with_key();
    let open = svc.open(&id).unwrap();
    let fs = &open.fs;
    let (a, fh) = fs.create(ROOT, OsStr::new("gone"), 0o644, 0, ME).unwrap();
    fs.write(fh, 0, b"bytes").unwrap();
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    let times = SetAttr {
        mtime: Some(Some(t)),
        ..SetAttr::default()
    };
    // Unlinked while open: the handle takes the times.
    fs.unlink(ROOT, OsStr::new("gone")).unwrap();
    let got = fs.setattr(a.ino, times, None).unwrap();
    assert_eq!(got.mtime, t);
    assert_eq!(fs.getattr(a.ino).unwrap().mtime, t);
    // Closed: nothing is left to take them, and the flush succeeds.
    fs.release(fh);
    let got = fs.setattr(a.ino, times, None).unwrap();
    assert_eq!((got.ino, got.nlink, got.mtime), (a.ino, 0, t));
    let chmod = SetAttr {
        mode: Some(0o600),
        ..SetAttr::default()
    };
    assert_eq!(
        fs.setattr(a.ino, chmod, None).unwrap_err().errno(),
        libc::ENOENT
    );
    let grow = SetAttr {
        size: Some(10),
        ..times
    };
    assert_eq!(
        fs.setattr(a.ino, grow, None).unwrap_err().errno(),
        libc::ENOENT
    );
    assert!(fs.lookup(ROOT, OsStr::new("gone")).is_err());
}

/// This process's descriptors on removed entries under `dir` (`/proc/self/fd` links that
/// end in " (deleted)").
fn removed_but_open(dir: &std::path::Path) -> usize {
    let prefix = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .map(|t| t.to_string_lossy().into_owned())
        .filter(|t| t.starts_with(&prefix) && t.ends_with(" (deleted)"))
        .count()
}

/// Unlink and rmdir remove the backing names before they answer; the blocks of what they
/// removed are freed (the entries' last descriptors closed) after the answer, and all of
/// them by the time the file system is gone.
#[test]
fn removed_entries_are_gone_at_once_and_freed_by_the_end() {
    let (_e, svc, _k, id) = setup_with_key();
    let open = svc.open(&id).unwrap();
    let data = open.dir.join("data");
    let fs = open.fs.clone();
    let d = fs.mkdir(ROOT, OsStr::new("d"), 0o755, ME).unwrap();
    for i in 0..600 {
        let name = format!("f{i}");
        let (_, fh) = fs.create(d.ino, OsStr::new(&name), 0o644, 0, ME).unwrap();
        fs.write(fh, 0, &[7u8; 8192]).unwrap();
        fs.release(fh);
        fs.unlink(d.ino, OsStr::new(&name)).unwrap();
        assert!(fs.lookup(d.ino, OsStr::new(&name)).is_err());
    }
    fs.rmdir(ROOT, OsStr::new("d")).unwrap();
    let left: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from(".kmsfs.diriv")]);
    drop(fs);
    drop(open);
    assert_eq!(removed_but_open(&data), 0);
}
