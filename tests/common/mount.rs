// Shared by the mount tests (included as `mod common_mount` with #[path]): a home with a volume
// mounted through the real binary, unmounted on drop.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_kmsfs");

/// True when FUSE mounts can run here. With CI=true, its absence fails the test.
pub fn fuse_or_skip(test: &str) -> bool {
    let ok = Path::new("/dev/fuse").exists();
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{test}: /dev/fuse is missing but CI=true: mount tests must not be skipped");
        }
        eprintln!("{test}: SKIPPED: /dev/fuse is missing (set CI=true to make this a failure)");
    }
    ok
}

/// True when `tool` is on PATH. With CI=true, its absence fails the test (CI installs it).
pub fn tool_or_skip(test: &str, tool: &str) -> bool {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{test}: {tool} is not installed but CI=true (.ci/run installs it)");
        }
        eprintln!("{test}: SKIPPED: {tool} is not installed");
    }
    ok
}

pub fn run(home: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .env("KMSFS_HOME", home)
        .env_remove("KMSFS_CLOCK_OFFSET_SECS")
        .args(args)
        .output()
        .expect("run kmsfs")
}

pub fn ok(home: &Path, args: &[&str]) -> serde_json::Value {
    let o = run(home, args);
    assert!(
        o.status.success(),
        "kmsfs {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let s = String::from_utf8_lossy(&o.stdout);
    if s.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&s).unwrap()
    }
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
        let home = dir.path().join("home");
        ok(&home, &["init"]);
        let key = ok(&home, &["kms", "create-key"])["KeyMetadata"]["KeyId"]
            .as_str()
            .unwrap()
            .to_string();
        let vol = ok(
            &home,
            &["volume", "create", "--size", size, "--kms-key-id", &key],
        )["VolumeId"]
            .as_str()
            .unwrap()
            .to_string();
        let mnt = dir.path().join("mnt");
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
        let v = ok(&self.home, &args);
        assert_eq!(v["State"], "in-use", "{v}");
        self.mounted = true;
    }

    pub fn umount(&mut self) {
        ok(&self.home, &["umount", self.mnt.to_str().unwrap()]);
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
            let _ = Command::new(BIN)
                .env("KMSFS_HOME", &self.home)
                .args(["umount", self.mnt.to_str().unwrap()])
                .output();
            let _ = nix::mount::umount2(&self.mnt, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}
