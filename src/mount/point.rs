//! Mount points: what /proc/self/mountinfo says is mounted where, whether a mount is one a
//! kmsfs daemon serves, and the checks before mounting on a directory or unmounting it.

use super::MountError;
use std::path::{Path, PathBuf};

/// One mount, as a line of /proc/self/mountinfo describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    pub mount_point: PathBuf,
    /// `fuse.<subtype>` (kmsfs mounts as root with that type, fusermount3 names it too);
    /// plain `fuse` for mounts made by older kmsfs builds as root.
    pub fstype: String,
    /// The mount's source: a kmsfs daemon names it after what it serves (its FSName).
    pub device: String,
}

impl MountEntry {
    /// `ID PARENT MAJ:MIN ROOT MOUNT-POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER-OPTIONS`.
    fn parse(line: &str) -> Option<MountEntry> {
        let (left, right) = line.split_once(" - ")?;
        let mount_point = left.split(' ').nth(4)?;
        let mut right = right.split(' ');
        Some(MountEntry {
            mount_point: PathBuf::from(unescape(mount_point)),
            fstype: unescape(right.next()?),
            device: unescape(right.next()?),
        })
    }

    /// Whether a kmsfs daemon serves this mount: a volume daemon names its mount after the
    /// volume id with subtype `kmsfs` (`volume::fuse::config`), a bucket daemon `s3:BUCKET`
    /// with subtype `kmsfs-bucket` (`object::fuse::serve`).
    pub fn is_kmsfs(&self) -> bool {
        match self.fstype.as_str() {
            "fuse.kmsfs" | "fuse.kmsfs-bucket" => true,
            "fuse" => self.device.starts_with("vol-") || self.device.starts_with("s3:"),
            _ => false,
        }
    }
}

/// mountinfo escapes space, tab, newline and backslash in octal.
fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// The mount on `dir` (the topmost when several are stacked there), per
/// /proc/self/mountinfo.
pub fn mount_at(dir: &Path) -> Option<MountEntry> {
    let dir = dir.canonicalize().ok()?;
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines()
        .rev()
        .filter_map(MountEntry::parse)
        .find(|m| m.mount_point == dir)
}

/// Whether `dir` is a mount point (per /proc/self/mountinfo).
pub fn is_mount_point(dir: &Path) -> bool {
    mount_at(dir).is_some()
}

/// Check that FUSE is here and that `dir` is a directory not yet mounted on, and empty
/// unless `nonempty` (a mount hides the files below it; gocryptfs refuses too); its
/// canonical path.
pub fn check_mount_point(dir: &Path, nonempty: bool) -> Result<PathBuf, MountError> {
    if !Path::new("/dev/fuse").exists() {
        return Err(MountError::NoFuse);
    }
    let mp = dir.canonicalize().map_err(|e| MountError::io(dir, e))?;
    if !mp.is_dir() {
        return Err(MountError::NotADirectory(mp));
    }
    if is_mount_point(&mp) {
        return Err(MountError::AlreadyMounted(mp));
    }
    if !nonempty {
        let mut entries = std::fs::read_dir(&mp).map_err(|e| MountError::io(&mp, e))?;
        if entries.next().is_some() {
            return Err(MountError::NotEmpty(mp));
        }
    }
    Ok(mp)
}

/// The canonical path of `dir` if a kmsfs daemon's mount is on it; any other mount is
/// refused ([`MountError::NotKmsfs`]).
pub fn kmsfs_mount_at(dir: &Path) -> Result<PathBuf, MountError> {
    let mp = dir.canonicalize().map_err(MountError::Resolve)?;
    match mount_at(&mp) {
        None => Err(MountError::NotMounted(mp)),
        Some(m) if !m.is_kmsfs() => Err(MountError::NotKmsfs {
            path: mp,
            fstype: m.fstype,
            device: m.device,
        }),
        Some(_) => Ok(mp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mountinfo_lines() {
        let m = MountEntry::parse(
            "42 27 0:39 / /tmp/a\\040b rw,nosuid,nodev,relatime shared:1 - fuse vol-479c89ade1c5af221 rw,user_id=0",
        )
        .unwrap();
        assert_eq!(m.mount_point, Path::new("/tmp/a b"));
        assert_eq!(
            (m.fstype.as_str(), m.device.as_str()),
            ("fuse", "vol-479c89ade1c5af221")
        );
        assert!(m.is_kmsfs());
        let b = MountEntry::parse("43 27 0:40 / /m rw - fuse.kmsfs-bucket s3:photos rw").unwrap();
        assert!(b.is_kmsfs());
        let t = MountEntry::parse("44 27 0:41 / /t rw - tmpfs tmpfs rw").unwrap();
        assert!(!t.is_kmsfs());
        let other = MountEntry::parse("45 27 0:42 / /s rw - fuse.sshfs host:/x rw").unwrap();
        assert!(!other.is_kmsfs());
        assert!(MountEntry::parse("garbage").is_none());
    }
}
