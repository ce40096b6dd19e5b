//! The directory view of a bucket (`kmsfs mount-bucket`): the transport-free `BucketView`
//! called directly, and a real FUSE mount driven by the binary and ordinary tools. Closing a
//! written file is a PUT with the bucket's default encryption; folders are key prefixes;
//! rename is copy then delete; a partial overwrite rewrites the whole object; errors map to
//! errno; nothing of the plaintext reaches the home.

mod common;
use common::cli::{bucket_kms_default, create_key, init, run_ok, s};
use common::mount::fuse_or_skip;
use kmsfs::home::{Home, InitOptions};
use kmsfs::kms::{Embedded, Kms, KmsOptions, RootKeySource};
use kmsfs::object::view::{BucketView, NodeKind, ROOT};
use kmsfs::object::{ObjectService, S3_PRINCIPAL};
use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

fn service(dir: &Path) -> Arc<ObjectService> {
    let home = Home::init(&dir.join("home"), &InitOptions::default()).unwrap();
    Kms::create(&home, RootKeySource::RandomFile).unwrap();
    let kms = Kms::open(&home, KmsOptions::default()).unwrap();
    Arc::new(ObjectService::new(
        &home,
        Arc::new(Embedded::new(kms, S3_PRINCIPAL)),
    ))
}

fn get(svc: &ObjectService, key: &str) -> Vec<u8> {
    let mut out = Vec::new();
    svc.get_object("bkt", key, None, None, &mut out).unwrap();
    out
}

#[test]
fn the_view_maps_files_and_folders_onto_keys() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path());
    svc.create_bucket("bkt").unwrap();
    svc.put_object("bkt", "a/b/c.txt", &b"deep"[..], &Default::default())
        .unwrap();
    let v = BucketView::new(svc.clone(), "bkt", dir.path().join("spool")).unwrap();
    // Folders come from prefixes.
    let a = v.lookup(ROOT, OsStr::new("a")).unwrap();
    assert_eq!(a.kind, NodeKind::Dir);
    let names: Vec<String> = v
        .readdir(a.ino)
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["b"]);
    // A created file shows at once and becomes an object at flush.
    let (f, fh) = v.create(a.ino, OsStr::new("new.txt")).unwrap();
    assert_eq!(f.kind, NodeKind::File);
    v.write(fh, 0, b"hello world").unwrap();
    assert_eq!(v.getattr(f.ino).unwrap().size, 11);
    assert!(
        svc.stat_object("bkt", "a/new.txt").is_err(),
        "no PUT before close"
    );
    v.flush(fh).unwrap();
    v.release(fh).unwrap();
    assert_eq!(get(&svc, "a/new.txt"), b"hello world");
    // A partial overwrite rewrites the whole object.
    let fh = v.open(f.ino, libc::O_WRONLY).unwrap();
    v.write(fh, 6, b"WORLD").unwrap();
    v.release(fh).unwrap();
    assert_eq!(get(&svc, "a/new.txt"), b"hello WORLD");
    // Truncate through a path.
    v.set_size(f.ino, 5, None).unwrap();
    assert_eq!(get(&svc, "a/new.txt"), b"hello");
    // Rename is copy then delete; a folder rename moves every key below it.
    v.rename(
        a.ino,
        OsStr::new("new.txt"),
        ROOT,
        OsStr::new("top.txt"),
        false,
    )
    .unwrap();
    assert_eq!(get(&svc, "top.txt"), b"hello");
    assert!(svc.stat_object("bkt", "a/new.txt").is_err());
    v.rename(ROOT, OsStr::new("a"), ROOT, OsStr::new("z"), false)
        .unwrap();
    assert_eq!(get(&svc, "z/b/c.txt"), b"deep");
    // mkdir is an empty marker object; rmdir refuses a non-empty folder.
    let m = v.mkdir(ROOT, OsStr::new("empty")).unwrap();
    assert_eq!(m.kind, NodeKind::Dir);
    assert_eq!(get(&svc, "empty/"), b"");
    let z = v.lookup(ROOT, OsStr::new("z")).unwrap();
    assert_eq!(
        v.rmdir(ROOT, OsStr::new("z")).unwrap_err().errno(),
        libc::ENOTEMPTY
    );
    v.rmdir(ROOT, OsStr::new("empty")).unwrap();
    assert_eq!(
        v.lookup(ROOT, OsStr::new("empty")).unwrap_err().errno(),
        libc::ENOENT
    );
    let names: Vec<String> = v
        .readdir(ROOT)
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["top.txt", "z"]);
    assert_eq!(
        v.unlink(z.ino, OsStr::new("nothing")).unwrap_err().errno(),
        libc::ENOENT
    );
    assert_eq!(
        v.lookup(ROOT, OsStr::new("a/b")).unwrap_err().errno(),
        libc::EINVAL
    );
}

fn sh(script: &str) -> std::process::Output {
    Command::new("sh").arg("-c").arg(script).output().unwrap()
}

#[test]
fn a_mounted_bucket_works_with_ordinary_tools() {
    if !fuse_or_skip("a_mounted_bucket_works_with_ordinary_tools") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let home = init(dir.path());
    let key = create_key(&home, "Arn");
    run_ok(&home, &["bucket", "create", "photos"]);
    bucket_kms_default(&home, "photos", &key);
    let body = dir.path().join("body");
    std::fs::write(&body, b"an existing cat").unwrap();
    run_ok(
        &home,
        &["object", "put", "photos/2024/cat.jpg", "--body", s(&body)],
    );
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let v = run_ok(&home, &["mount-bucket", "photos", s(&mnt)]);
    assert_eq!(v["Bucket"], "photos");
    let m = s(&mnt);
    let secret = b"MOUNTED-PLAINTEXT-0123456789".repeat(1000);
    let check = || -> Result<(), String> {
        if std::fs::read(mnt.join("2024/cat.jpg")).map_err(|e| e.to_string())? != b"an existing cat"
        {
            return Err("cat.jpg differs".into());
        }
        std::fs::write(mnt.join("2024/secret.txt"), &secret).map_err(|e| e.to_string())?;
        // close() was the PUT, under the bucket's default encryption.
        let h = run_ok(&home, &["object", "head", "photos/2024/secret.txt"]);
        if h["ServerSideEncryption"] != "aws:kms" || h["SSEKMSKeyId"] != key.as_str() {
            return Err(format!("head: {h}"));
        }
        if h["BucketKeyEnabled"] != true || h["ContentLength"] != secret.len() {
            return Err(format!("head: {h}"));
        }
        // Tools: cp, dd (partial overwrite), mv (copy + delete), mkdir, ls, rm, rmdir.
        let o = sh(&format!(
            "set -e; cd '{m}'; mkdir docs; cp 2024/secret.txt docs/copy.txt; \
             printf XYZ | dd of=docs/copy.txt bs=1 seek=5 conv=notrunc status=none; \
             mv docs/copy.txt docs/moved.txt; ls docs; rm 2024/cat.jpg; ls 2024; \
             mkdir gone; rmdir gone; ls"
        ));
        if !o.status.success() {
            return Err(String::from_utf8_lossy(&o.stderr).into());
        }
        let ls = String::from_utf8_lossy(&o.stdout).to_string();
        if ls != "moved.txt\nsecret.txt\n2024\ndocs\n" {
            return Err(format!("ls gave {ls:?}"));
        }
        let mut want = secret.clone();
        want[5..8].copy_from_slice(b"XYZ");
        if std::fs::read(mnt.join("docs/moved.txt")).map_err(|e| e.to_string())? != want {
            return Err("the overwritten copy differs".into());
        }
        let l = run_ok(&home, &["object", "list", "photos"]);
        let keys: Vec<&str> = l["Contents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["Key"].as_str().unwrap())
            .collect();
        if keys != ["2024/secret.txt", "docs/", "docs/moved.txt"] {
            return Err(format!("keys {keys:?}"));
        }
        // Errors map to errno.
        let o = sh(&format!("rmdir '{m}/docs'"));
        if o.status.success() || !String::from_utf8_lossy(&o.stderr).contains("not empty") {
            return Err(format!("rmdir: {}", String::from_utf8_lossy(&o.stderr)));
        }
        if std::fs::read(mnt.join("nothing")).map_err(|e| e.kind())
            != Err(std::io::ErrorKind::NotFound)
        {
            return Err("a missing file did not give ENOENT".into());
        }
        // A disabled key: reading an object wrapped by KMS directly (no bucket key cached
        // by the daemon) fails with EACCES; the mount goes on.
        run_ok(
            &home,
            &[
                "object",
                "put",
                "photos/direct.txt",
                "--body",
                s(&body),
                "--bucket-key-enabled",
                "false",
            ],
        );
        run_ok(&home, &["kms", "disable-key", "--key-id", &key]);
        let r = std::fs::read(mnt.join("direct.txt"));
        run_ok(&home, &["kms", "enable-key", "--key-id", &key]);
        match r.map(|v| v.len()) {
            Err(e) if e.raw_os_error() == Some(libc::EACCES) => {}
            other => return Err(format!("read under a disabled key: {other:?}")),
        }
        if std::fs::read(mnt.join("direct.txt")).map_err(|e| e.to_string())? != b"an existing cat" {
            return Err("direct.txt after enable-key".into());
        }
        Ok(())
    };
    let r = check();
    run_ok(&home, &["umount", m]);
    r.unwrap();
    // Nothing of what went through the mount is in the home in plaintext.
    let o = sh(&format!(
        "grep -rl MOUNTED-PLAINTEXT '{}' || true",
        home.display()
    ));
    assert!(
        o.stdout.is_empty(),
        "plaintext in {}",
        String::from_utf8_lossy(&o.stdout)
    );
}

/// A mounted bucket, unmounted when dropped (also when a check fails).
struct BucketMount<'a> {
    home: &'a Path,
    mnt: std::path::PathBuf,
}

impl<'a> BucketMount<'a> {
    fn new(home: &'a Path, bucket: &str, mnt: std::path::PathBuf) -> BucketMount<'a> {
        std::fs::create_dir_all(&mnt).unwrap();
        run_ok(home, &["mount-bucket", bucket, s(&mnt)]);
        BucketMount { home, mnt }
    }
}

impl Drop for BucketMount<'_> {
    fn drop(&mut self) {
        let _ = common::cli::kmsfs(self.home, &["umount", s(&self.mnt)]);
    }
}

/// `ls -a1` of `dir`.
fn ls_a(dir: &Path) -> String {
    let o = sh(&format!("ls -a1 '{}'", dir.display()));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into()
}

#[test]
fn a_mount_hides_dot_keys_denies_sse_c_and_blocks_bucket_delete() {
    if !fuse_or_skip("a_mount_hides_dot_keys_denies_sse_c_and_blocks_bucket_delete") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let home = init(dir.path());
    run_ok(&home, &["bucket", "create", "odd"]);
    let body = dir.path().join("body");
    std::fs::write(&body, b"body").unwrap();
    let ck = dir.path().join("customer.key");
    std::fs::write(&ck, [7u8; 32]).unwrap();
    let ck_arg = format!("fileb://{}", s(&ck));
    for k in [
        "a/.",
        "a/..",
        "a/./b",
        "a/../c",
        "a/real.txt",
        "/lead",
        "//double",
        "a//x",
    ] {
        run_ok(
            &home,
            &["object", "put", &format!("odd/{k}"), "--body", s(&body)],
        );
    }
    run_ok(
        &home,
        &[
            "object",
            "put",
            "odd/secret.txt",
            "--body",
            s(&body),
            "--sse-c-key",
            &ck_arg,
        ],
    );
    let m = BucketMount::new(&home, "odd", dir.path().join("mnt"));
    // Keys whose segments cannot be file names are not shown (`kmsfs object list` has them).
    assert_eq!(ls_a(&m.mnt), ".\n..\na\nsecret.txt\n");
    assert_eq!(ls_a(&m.mnt.join("a")), ".\n..\nreal.txt\n");
    assert_eq!(std::fs::read(m.mnt.join("a/real.txt")).unwrap(), b"body");
    // An SSE-C object: the mount has no key for it, so EACCES, as the README says.
    let e = std::fs::read(m.mnt.join("secret.txt")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EACCES), "{e}");
    // `bucket delete --force` is refused while the bucket is mounted; nothing is deleted.
    let o = common::cli::kmsfs(&home, &["bucket", "delete", "odd", "--force"]);
    common::cli::fails(&o, 11, "mounted");
    assert_eq!(std::fs::read(m.mnt.join("a/real.txt")).unwrap(), b"body");
    let l = run_ok(&home, &["object", "list", "odd"]);
    assert_eq!(l["Contents"].as_array().unwrap().len(), 9, "{l}");
    drop(m);
    run_ok(&home, &["bucket", "delete", "odd", "--force"]);
}
