//! A home with a volume mounted through the real binary, unmounted on drop; and the checks
//! that skip a mount test where it cannot run (but fail it under CI).

use super::cli::{cmd, create_key, init, run_ok};
use std::path::{Path, PathBuf};
use std::process::Command;

/// True when FUSE mounts can run here. With CI=true, its absence fails the test.
pub fn fuse_or_skip(test: &str) -> bool {
    available(
        test,
        Path::new("/dev/fuse").exists(),
        "/dev/fuse is missing but CI=true: mount tests must not be skipped",
        "/dev/fuse is missing (set CI=true to make this a failure)",
    )
}

/// True when `tool` is on PATH. With CI=true, its absence fails the test (CI installs it).
pub fn tool_or_skip(test: &str, tool: &str) -> bool {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success());
    available(
        test,
        ok,
        &format!("{tool} is not installed but CI=true (.ci/run installs it)"),
        &format!("{tool} is not installed"),
    )
}

/// True when running as root (tests that act as other users or tune devices). With CI=true
/// (CI runs as root), not being root fails the test.
pub fn root_or_skip(test: &str) -> bool {
    available(
        test,
        nix::unistd::geteuid().is_root(),
        "CI=true but not root: this test needs root",
        "needs root",
    )
}

fn available(test: &str, ok: bool, under_ci: &str, skipped: &str) -> bool {
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{test}: {under_ci}");
        }
        eprintln!("{test}: SKIPPED: {skipped}");
    }
    ok
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
