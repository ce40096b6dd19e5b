//! kmsfs as a mount(8) helper, through the real mount(8): `kmsfs install-mount-helper`
//! links `mount.kmsfs` and `mount.fuse.kmsfs` in /sbin, then `mount -t fuse.kmsfs` and an
//! fstab line (`mount -a -T FSTAB`) mount a volume that reads and writes, and `umount`
//! stops it. Needs root and /dev/fuse (with CI=true, their absence is a failure).

mod common;
use common::cli::*;
use common::mount::*;
use std::path::Path;
use std::process::Command;

fn mounted(mp: &Path) -> bool {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    let mp = mp.to_str().unwrap();
    mounts.lines().any(|l| l.split(' ').nth(1) == Some(mp))
}

fn run(c: &mut Command) -> std::process::Output {
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "{c:?}: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

#[test]
fn mount_t_fuse_kmsfs_and_fstab_lines_mount_a_volume() {
    const T: &str = "mount_t_fuse_kmsfs_and_fstab_lines_mount_a_volume";
    if !fuse_or_skip(T) || !root_or_skip(T) || !tool_or_skip(T, "mount") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let home = init(dir.path());
    let key = create_key(&home, "KeyId");
    let v = run_ok(
        &home,
        &["volume", "create", "--size", "64MiB", "--kms-key-id", &key],
    );
    let vol = v["VolumeId"].as_str().unwrap().to_string();
    let exe = env!("CARGO_BIN_EXE_kmsfs");
    let links = run_ok(&home, &["install-mount-helper"]);
    assert_eq!(links["Links"][1], "/sbin/mount.fuse.kmsfs", "{links}");
    assert_eq!(
        std::fs::read_link("/sbin/mount.fuse.kmsfs").unwrap(),
        Path::new(exe)
    );

    // mount -t fuse.kmsfs, as a user types it.
    let mp = dir.path().join("mnt");
    std::fs::create_dir(&mp).unwrap();
    let opts = format!("home={},nofail,_netdev", home.display());
    let o = run(Command::new("mount")
        .args(["-t", "fuse.kmsfs", &vol])
        .arg(&mp)
        .args(["-o", &opts]));
    assert!(o.stdout.is_empty(), "the helper is quiet");
    assert!(mounted(&mp));
    std::fs::write(mp.join("f"), b"through mount(8)").unwrap();
    run(Command::new("umount").arg(&mp));
    assert!(!mounted(&mp));

    // An fstab line, mounted with mount -a.
    let fstab = dir.path().join("fstab");
    let line = format!(
        "{vol} {} fuse.kmsfs home={},allow_other,nofail 0 0\n",
        mp.display(),
        home.display()
    );
    std::fs::write(&fstab, format!("# a test fstab\n{line}")).unwrap();
    run(Command::new("mount").arg("-a").arg("-T").arg(&fstab));
    assert!(mounted(&mp));
    assert_eq!(std::fs::read(mp.join("f")).unwrap(), b"through mount(8)");
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    let entry = mounts
        .lines()
        .find(|l| l.contains(mp.to_str().unwrap()))
        .unwrap()
        .to_string();
    assert!(
        entry.starts_with(&vol),
        "the mount names its volume: {entry}"
    );
    run_ok(&home, &["umount", mp.to_str().unwrap()]);
    assert!(!mounted(&mp));

    // A bad option is refused with a message, and nothing is mounted.
    let o = Command::new("mount")
        .args(["-t", "fuse.kmsfs", &vol])
        .arg(&mp)
        .args(["-o", "ro"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("read-write"),
        "{o:?}"
    );
    assert!(!mounted(&mp));
    for l in ["/sbin/mount.kmsfs", "/sbin/mount.fuse.kmsfs"] {
        if std::fs::read_link(l).is_ok_and(|t| t == Path::new(exe)) {
            let _ = std::fs::remove_file(l);
        }
    }
}
