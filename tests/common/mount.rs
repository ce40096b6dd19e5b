//! A home with a volume mounted through the real binary, unmounted on drop; and the checks
//! that fail a mount test where it cannot run, unless the user opted out (`common::skip`).

use super::cli::{cmd, create_key, init, run_ok};
use super::skip::available;
use std::path::{Path, PathBuf};
use std::process::Command;

/// True when FUSE mounts can run here; else the test fails (or is skipped if the user set
/// `KMSFS_SKIP_UNAVAILABLE=fuse`).
pub fn fuse_or_skip(test: &str) -> bool {
    available(
        test,
        "fuse",
        Path::new("/dev/fuse").exists(),
        "/dev/fuse is missing",
        "load the fuse module, or give the container /dev/fuse",
    )
}

/// True when `tool` is on PATH; else the test fails (or is skipped if the user set
/// `KMSFS_SKIP_UNAVAILABLE=TOOL`).
pub fn tool_or_skip(test: &str, tool: &str) -> bool {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success());
    available(
        test,
        tool,
        ok,
        &format!("{tool} is not installed"),
        ".ci/run installs it",
    )
}

/// True when running as root (tests that act as other users or tune devices); else the
/// test fails (or is skipped if the user set `KMSFS_SKIP_UNAVAILABLE=root`).
pub fn root_or_skip(test: &str) -> bool {
    available(
        test,
        "root",
        nix::unistd::geteuid().is_root(),
        "this test needs root",
        "run the tests as root; CI does",
    )
}

pub struct Mounted {
    pub dir: tempfile::TempDir,
    pub home: PathBuf,
    pub mnt: PathBuf,
    pub vol: String,
    pub mounted: bool,
}

impl Mounted {
    /// A fresh home and a volume of `size` under a new key, mounted.
    pub fn new(size: &str) -> Mounted {
        Mounted::with_options(size, &[])
    }

    /// As [`Mounted::new`], with extra `kmsfs mount` flags (e.g. `--allow-other`).
    pub fn with_options(size: &str, flags: &[&str]) -> Mounted {
        let dir = tempfile::tempdir().unwrap();
        let home = init(dir.path());
        let key = create_key(&home, "KeyId");
        let v = run_ok(
            &home,
            &["volume", "create", "--size", size, "--kms-key-id", &key],
        );
        let vol = v["VolumeId"].as_str().unwrap().to_string();
        Mounted::at(dir, home, vol, "mnt", flags)
    }

    /// The volume `vol` of `home` mounted on `dir/name` (made here), with `kmsfs mount` flags.
    pub fn at(
        dir: tempfile::TempDir,
        home: PathBuf,
        vol: String,
        name: &str,
        flags: &[&str],
    ) -> Mounted {
        let mnt = dir.path().join(name);
        std::fs::create_dir(&mnt).unwrap();
        let mut m = Mounted {
            dir,
            home,
            mnt,
            vol,
            mounted: false,
        };
        m.mount_with(flags);
        m
    }

    pub fn mount(&mut self) {
        self.mount_with(&[]);
    }

    pub fn mount_with(&mut self, flags: &[&str]) {
        let mut args = vec!["mount", &self.vol, self.mnt.to_str().unwrap()];
        args.extend_from_slice(flags);
        let v = run_ok(&self.home, &args);
        assert_eq!(v["State"], "in-use", "{v}");
        self.mounted = true;
    }

    pub fn umount(&mut self) {
        run_ok(&self.home, &["umount", self.mnt.to_str().unwrap()]);
        self.mounted = false;
    }

    pub fn backing(&self) -> PathBuf {
        self.home.join("volumes").join(&self.vol).join("data")
    }

    pub fn daemon_pid(&self) -> i32 {
        let m: serde_json::Value = serde_json::from_slice(
            &std::fs::read(self.home.join("volumes").join(&self.vol).join("mount.json")).unwrap(),
        )
        .unwrap();
        m["Pid"].as_i64().unwrap() as i32
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if self.mounted {
            let _ = cmd(&self.home, &["umount", self.mnt.to_str().unwrap()]).output();
            let _ = nix::mount::umount2(&self.mnt, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}
