//! `kmsfs` as a mount(8) helper: called as `mount.kmsfs` or `mount.fuse.kmsfs` (links to
//! this binary that `kmsfs install-mount-helper` makes), it takes mount(8)'s calling
//! convention, `SOURCE DIR [-o OPTIONS] [-s] [-f] [-n] [-v]`, and runs `kmsfs mount SOURCE
//! DIR` (or `kmsfs mount-bucket BUCKET DIR` for a source `s3:BUCKET`) with the options as
//! flags. So `mount -t fuse.kmsfs vol-... /mnt -o home=/var/lib/kmsfs` and an `/etc/fstab`
//! line work:
//!
//! ```text
//! vol-0123456789abcdef0  /mnt/secure  fuse.kmsfs  home=/var/lib/kmsfs,nofail,_netdev  0 0
//! ```
//!
//! Options: `home=PATH`, `allow_other`, `nonempty`, `noxattr` (volumes), `kms_endpoint=URL`,
//! `kms_ca_bundle=PATH`, `passphrase_file=PATH`, `profile=NAME`, `region=NAME`; mount(8)'s
//! own (`defaults`, `rw`, `auto`, `noauto`, `nofail`, `_netdev`, `user`, `users`, `nouser`,
//! `exec`, `noexec`, `suid`, `nosuid`, `dev`, `nodev`, `atime`, `noatime`, `relatime`,
//! `async`, `x-*`, `comment=*`) are accepted and left to mount(8) and systemd. `ro` is
//! refused (kmsfs mounts are read-write). The helper prints nothing unless `-v`.

use std::ffi::OsString;
use std::path::Path;

/// The names this binary answers to as a mount helper.
pub(crate) const HELPER_NAMES: [&str; 2] = ["mount.kmsfs", "mount.fuse.kmsfs"];

/// What the helper does.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct HelperCall {
    /// The `kmsfs` command line to run (starting with the program name).
    pub argv: Vec<OsString>,
    /// `-v`: let the command print.
    pub verbose: bool,
    /// `-f` (fake): check, do not mount.
    pub fake: bool,
}

/// The command line to run: the process's own, unless it was called as a mount helper.
pub(crate) fn argv() -> Result<(Vec<OsString>, Option<HelperCall>), String> {
    let args: Vec<OsString> = std::env::args_os().collect();
    let name = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("");
    if !HELPER_NAMES.contains(&name) {
        return Ok((args, None));
    }
    let strs: Vec<String> = args[1..]
        .iter()
        .map(|a| {
            a.to_str()
                .map(str::to_string)
                .ok_or_else(|| format!("the argument {a:?} is not UTF-8"))
        })
        .collect::<Result<_, _>>()?;
    let call = translate(&strs)?;
    Ok((call.argv.clone(), Some(call)))
}

/// mount(8)'s arguments (after the program name) as a `kmsfs` command line.
pub(crate) fn translate(args: &[String]) -> Result<HelperCall, String> {
    let mut positional = Vec::new();
    let mut options = Vec::new();
    let (mut verbose, mut fake) = (false, false);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-o" => options.push(it.next().ok_or("-o needs its options")?.clone()),
            "-v" => verbose = true,
            "-f" => fake = true,
            // -s (sloppy), -n (no mtab), -r? : nothing to do.
            "-s" | "-n" => {}
            "-t" => {
                it.next();
            }
            o if o.starts_with("-o") => options.push(o[2..].to_string()),
            o if o.starts_with('-') => return Err(format!("unknown mount option {o}")),
            p => positional.push(p.to_string()),
        }
    }
    let [source, dir] = <[String; 2]>::try_from(positional)
        .map_err(|_| "usage: mount.kmsfs SOURCE DIR [-o OPTIONS]".to_string())?;
    // mount.fuse's "type#source" spelling.
    let source = source
        .strip_prefix("kmsfs#")
        .map_or(source.clone(), str::to_string);
    let mut global: Vec<OsString> = vec!["kmsfs".into()];
    let mut flags: Vec<OsString> = Vec::new();
    for o in options
        .iter()
        .flat_map(|o| o.split(','))
        .filter(|o| !o.is_empty())
    {
        option(o, &mut global, &mut flags)?;
    }
    global.extend([OsString::from("--output"), "text".into()]);
    match source.strip_prefix("s3:") {
        Some(_) if flags.iter().any(|f| f == "--no-xattr") => {
            return Err(
                "the option noxattr is for volumes: remove it from a bucket's mount".into(),
            );
        }
        Some(bucket) => global.extend(["mount-bucket".into(), bucket.into()]),
        None => global.extend(["mount".into(), source.into()]),
    }
    global.push(dir.into());
    global.extend(flags);
    Ok(HelperCall {
        argv: global,
        verbose,
        fake,
    })
}

/// One `-o` option: a global flag, a mount flag, one for mount(8) alone, or an error.
fn option(o: &str, global: &mut Vec<OsString>, flags: &mut Vec<OsString>) -> Result<(), String> {
    let (k, v) = match o.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (o, None),
    };
    let globals = [
        ("home", "--home"),
        ("kms_endpoint", "--kms-endpoint"),
        ("kms_ca_bundle", "--kms-ca-bundle"),
        ("passphrase_file", "--passphrase-file"),
        ("profile", "--profile"),
        ("region", "--region"),
    ];
    if let Some((_, flag)) = globals.iter().find(|(n, _)| *n == k.replace('-', "_")) {
        let v = v
            .filter(|v| !v.is_empty())
            .ok_or(format!("the option {k} needs a value ({k}=...)"))?;
        global.extend([OsString::from(*flag), v.into()]);
        return Ok(());
    }
    match (k, v) {
        ("allow_other", None) => flags.push("--allow-other".into()),
        ("nonempty", None) => flags.push("--nonempty".into()),
        ("noxattr", None) => flags.push("--no-xattr".into()),
        ("ro", None) => return Err("kmsfs mounts are read-write: remove the option ro".into()),
        (
            "defaults" | "rw" | "auto" | "noauto" | "nofail" | "_netdev" | "user" | "users"
            | "nouser" | "exec" | "noexec" | "suid" | "nosuid" | "dev" | "nodev" | "atime"
            | "noatime" | "relatime" | "async",
            None,
        ) => {}
        (k, _) if k.starts_with("x-") || k == "comment" => {}
        _ => return Err(format!("unknown mount option {o}")),
    }
    Ok(())
}

/// Send this process's stdout to /dev/null (a quiet helper).
pub(crate) fn silence_stdout() {
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        // On failure stdout stays as it was.
        let _ = nix::unistd::dup2_stdout(&null);
    }
}

/// `kmsfs install-mount-helper`: links `mount.kmsfs` and `mount.fuse.kmsfs` in `dir` to
/// `exe`; the paths made.
pub(crate) fn install(dir: &Path, exe: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut made = Vec::new();
    for name in HELPER_NAMES {
        let link = dir.join(name);
        match std::fs::symlink_metadata(&link) {
            Ok(m) if m.file_type().is_symlink() => std::fs::remove_file(&link)?,
            Ok(_) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    format!(
                        "{} exists and is not a link: remove it first",
                        link.display()
                    ),
                ));
            }
            Err(_) => {}
        }
        std::os::unix::fs::symlink(exe, &link)?;
        made.push(link);
    }
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(args: &[&str]) -> Result<Vec<String>, String> {
        let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        translate(&v).map(|c| {
            c.argv
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect()
        })
    }

    #[test]
    fn mount_calls_become_kmsfs_commands() {
        assert_eq!(
            t(&[
                "vol-1",
                "/mnt",
                "-o",
                "rw,home=/h,allow_other,noxattr,nofail,_netdev,x-systemd.after=x"
            ])
            .unwrap(),
            [
                "kmsfs",
                "--home",
                "/h",
                "--output",
                "text",
                "mount",
                "vol-1",
                "/mnt",
                "--allow-other",
                "--no-xattr"
            ]
        );
        assert_eq!(
            t(&[
                "s3:b",
                "/mnt",
                "-okms_endpoint=http://x,profile=p",
                "-n",
                "-s"
            ])
            .unwrap(),
            [
                "kmsfs",
                "--kms-endpoint",
                "http://x",
                "--profile",
                "p",
                "--output",
                "text",
                "mount-bucket",
                "b",
                "/mnt"
            ]
        );
        assert_eq!(
            t(&["kmsfs#vol-2", "/m"]).unwrap()[3..],
            ["mount", "vol-2", "/m"]
        );
        let c = translate(&["vol-1".into(), "/m".into(), "-v".into(), "-f".into()]).unwrap();
        assert!(c.verbose && c.fake);
    }

    #[test]
    fn bad_calls_are_refused() {
        assert!(t(&["vol-1"]).is_err());
        assert!(t(&["vol-1", "/m", "extra"]).is_err());
        assert!(
            t(&["vol-1", "/m", "-o", "ro"])
                .unwrap_err()
                .contains("read-write")
        );
        assert!(
            t(&["vol-1", "/m", "-o", "bogus"])
                .unwrap_err()
                .contains("bogus")
        );
        assert!(t(&["vol-1", "/m", "-o", "home="]).is_err());
        assert!(
            t(&["s3:b", "/m", "-o", "noxattr"])
                .unwrap_err()
                .contains("for volumes")
        );
        assert!(t(&["vol-1", "/m", "-o"]).is_err());
        assert!(t(&["vol-1", "/m", "-x"]).is_err());
    }
}
