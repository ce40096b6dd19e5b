//! `kmsfs volume ...`, `kmsfs config ...`, `kmsfs mount` and `kmsfs umount`.

use super::output::Printer;
use super::{Cli, CliError, exit, open_kms};
use crate::kms::Embedded;
use crate::volume::service::EBS_PRINCIPAL;
use crate::volume::{CreateVolume, VolumeError, VolumeService};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a volume; prints it as JSON.
    Create {
        /// Size, e.g. 20GiB, 512MiB (with --snapshot-id: at least the snapshot's, default it).
        #[arg(long, required_unless_present = "snapshot_id")]
        size: Option<String>,
        /// Make the volume from this snapshot (the data key is kept under the same KMS key;
        /// another key, or encrypting an unencrypted snapshot, re-encrypts every block).
        #[arg(long)]
        snapshot_id: Option<String>,
        /// KMS key for the volume's data key (key id, ARN or alias).
        #[arg(long)]
        kms_key_id: Option<String>,
        /// Encrypt with the default key (alias/aws/ebs, or the configured default).
        #[arg(long, conflicts_with = "unencrypted")]
        encrypted: bool,
        /// Store blocks in plaintext (refused while encryption by default is on).
        #[arg(long)]
        unencrypted: bool,
    },
    List,
    Describe {
        volume_id: String,
    },
    /// Delete a volume that is not mounted.
    Delete {
        volume_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// enable | disable | status
    EncryptionByDefault {
        #[arg(value_parser = ["enable", "disable", "status"])]
        action: String,
    },
    /// Set the KMS key new encrypted volumes use by default.
    DefaultKmsKeyId { key_id: String },
}

pub fn volume_error(what: &str, e: VolumeError) -> CliError {
    match e {
        VolumeError::Kms(k) => CliError::kms(what, k),
        VolumeError::KeyUnusable { .. } => CliError::new(what, e.to_string(), exit::REFUSED)
            .hint("check the key with `kmsfs kms describe-key --key-id <arn>`"),
        VolumeError::EncryptionRequired => CliError::new(what, e.to_string(), exit::USAGE)
            .hint("drop --unencrypted, or run `kmsfs config encryption-by-default disable`"),
        VolumeError::Invalid(_) | VolumeError::BadId(_) => {
            CliError::new(what, e.to_string(), exit::USAGE)
        }
        VolumeError::NotFound(_) => CliError::new(what, e.to_string(), exit::VOLUME)
            .hint("list volumes with `kmsfs volume list`"),
        VolumeError::InUse(_) => CliError::new(what, e.to_string(), exit::VOLUME)
            .hint("unmount it first with `kmsfs umount <dir>`"),
        e => CliError::new(what, e.to_string(), exit::VOLUME),
    }
}

fn service(
    cli: &Cli,
    root: &Path,
    what: &str,
) -> Result<(VolumeService, Arc<crate::kms::Kms>), CliError> {
    let (home, kms) = open_kms(cli, root, what)?;
    let client = Arc::new(Embedded::new(kms.clone(), EBS_PRINCIPAL));
    Ok((VolumeService::new(home, client), kms))
}

pub fn run_volume(
    cli: &Cli,
    root: &Path,
    cmd: &VolumeCommand,
    out: &Printer,
) -> Result<(), CliError> {
    let what = match cmd {
        VolumeCommand::Create { .. } => "volume create failed",
        VolumeCommand::List => "volume list failed",
        VolumeCommand::Describe { .. } => "volume describe failed",
        VolumeCommand::Delete { .. } => "volume delete failed",
    };
    let (svc, kms) = service(cli, root, what)?;
    let err = |e| volume_error(what, e);
    let r = match cmd {
        VolumeCommand::Create {
            size,
            snapshot_id,
            kms_key_id,
            encrypted,
            unencrypted,
        } => {
            let size = match size {
                Some(s) => crate::volume::parse_size(s).map_err(err)?,
                None => 0,
            };
            let enc = if *unencrypted {
                Some(false)
            } else if *encrypted {
                Some(true)
            } else {
                None
            };
            let opts = CreateVolume {
                size,
                kms_key_id: kms_key_id.clone(),
                encrypted: enc,
                snapshot_id: None,
            };
            let v = match snapshot_id {
                None => svc.create(&opts).map_err(err)?,
                Some(snap) => {
                    let snaps =
                        crate::snapshot::SnapshotService::new(svc.home().clone(), svc.kms_client());
                    snaps
                        .restore(snap, &opts)
                        .map_err(|e| super::snapshot_cmd::snapshot_error(what, e))?
                }
            };
            out.print(&v)
        }
        VolumeCommand::List => {
            out.print(&serde_json::json!({ "Volumes": svc.list().map_err(err)? }))
        }
        VolumeCommand::Describe { volume_id } => out.print(&svc.describe(volume_id).map_err(err)?),
        VolumeCommand::Delete { volume_id } => svc.delete(volume_id).map_err(err),
    };
    kms.flush_audit().map_err(|e| CliError::kms(what, e))?;
    r
}

pub fn run_config(
    cli: &Cli,
    root: &Path,
    cmd: &ConfigCommand,
    out: &Printer,
) -> Result<(), CliError> {
    let what = "config failed";
    let (svc, kms) = service(cli, root, what)?;
    let err = |e| volume_error(what, e);
    let r = match cmd {
        ConfigCommand::EncryptionByDefault { action } => {
            let mut s = svc.settings().map_err(err)?;
            match action.as_str() {
                "enable" => s.encryption_by_default = true,
                "disable" => s.encryption_by_default = false,
                _ => {}
            }
            if action != "status" {
                svc.set_settings(&s).map_err(err)?;
            }
            out.print(&serde_json::json!({ "EbsEncryptionByDefault": s.encryption_by_default }))
        }
        ConfigCommand::DefaultKmsKeyId { key_id } => {
            let s = svc.set_default_key(key_id).map_err(err)?;
            out.print(&serde_json::json!({ "KmsKeyId": s.default_kms_key_id }))
        }
    };
    kms.flush_audit().map_err(|e| CliError::kms(what, e))?;
    r
}

/// Whether `dir` is a mount point (per /proc/self/mountinfo).
pub fn is_mount_point(dir: &Path) -> bool {
    let Ok(dir) = dir.canonicalize() else {
        return false;
    };
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    info.lines().any(|l| {
        l.split(' ')
            .nth(4)
            .is_some_and(|m| unescape(m) == dir.as_os_str().to_string_lossy())
    })
}

fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// How `kmsfs mount` runs.
#[derive(Debug, Clone, Copy)]
pub struct MountOptions {
    pub foreground: bool,
    pub allow_other: bool,
}

/// Check that FUSE is here and that `dir` is a directory not yet mounted on; its canonical
/// path.
pub(crate) fn mount_point(dir: &Path, what: &str) -> Result<PathBuf, CliError> {
    if !Path::new("/dev/fuse").exists() {
        return Err(CliError::new(
            what,
            "/dev/fuse does not exist (FUSE is not available here)",
            exit::MOUNT,
        )
        .hint("load the fuse module (modprobe fuse) or run where /dev/fuse exists"));
    }
    let mp = dir
        .canonicalize()
        .map_err(|e| CliError::new(what, format!("{}: {e}", dir.display()), exit::MOUNT))?;
    if !mp.is_dir() {
        return Err(CliError::new(
            what,
            format!("{} is not a directory", mp.display()),
            exit::MOUNT,
        ));
    }
    if is_mount_point(&mp) {
        return Err(CliError::new(
            what,
            format!("{} is already a mount point", mp.display()),
            exit::MOUNT,
        ));
    }
    Ok(mp)
}

pub fn run_mount(
    cli: &Cli,
    root: &Path,
    volume_id: &str,
    dir: &Path,
    opts: MountOptions,
    out: &Printer,
) -> Result<(), CliError> {
    let what = format!("mount of {volume_id} failed");
    let mp = mount_point(dir, &what)?;
    if !opts.foreground {
        return mount_in_background(cli, root, volume_id, &mp, opts, &what, out);
    }
    let (svc, kms) = service(cli, root, &what)?;
    let opened = svc.open(volume_id).map_err(|e| volume_error(&what, e));
    kms.flush_audit().map_err(|e| CliError::kms(&what, e))?;
    let opened = opened?;
    drop(kms);
    opened.mounted_at(&mp).map_err(|e| volume_error(&what, e))?;
    // The control socket lets `snapshot create` hold changes while it reads the volume.
    crate::volume::control::serve(&opened.dir, opened.fs.clone())
        .map_err(|e| CliError::new(&what, format!("control socket: {e}"), exit::MOUNT))?;
    let stop = mp.clone();
    watch_signals(stop);
    eprintln!(
        "kmsfs: {volume_id} mounted at {} (pid {})",
        mp.display(),
        std::process::id()
    );
    let r = crate::volume::fuse::serve(opened.fs.clone(), &mp, volume_id, opts.allow_other);
    opened.unmounted();
    r.map_err(|e| CliError::new(&what, e.to_string(), exit::MOUNT))?;
    eprintln!("kmsfs: {volume_id} unmounted from {}", mp.display());
    Ok(())
}

/// On SIGTERM, SIGINT or SIGHUP, unmount so that the session ends cleanly.
pub(crate) fn watch_signals(mp: PathBuf) {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        set.add(s);
    }
    let _ = set.thread_block();
    std::thread::spawn(move || {
        if set.wait().is_ok() {
            let _ = unmount(&mp, true);
        }
    });
}

/// Unmount `mp` (lazily when `lazy`).
pub fn unmount(mp: &Path, lazy: bool) -> Result<(), String> {
    if nix::unistd::getuid().is_root() {
        let flags = if lazy {
            nix::mount::MntFlags::MNT_DETACH
        } else {
            nix::mount::MntFlags::empty()
        };
        nix::mount::umount2(mp, flags).map_err(|e| e.desc().to_string())
    } else {
        let mut c = std::process::Command::new("fusermount3");
        c.arg("-u");
        if lazy {
            c.arg("-z");
        }
        let o = c
            .arg(mp)
            .output()
            .map_err(|e| format!("fusermount3: {e}"))?;
        if o.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&o.stderr).trim().to_string())
        }
    }
}

fn mount_in_background(
    cli: &Cli,
    root: &Path,
    volume_id: &str,
    mp: &Path,
    opts: MountOptions,
    what: &str,
    out: &Printer,
) -> Result<(), CliError> {
    let vdir = root.join("volumes").join(volume_id);
    if !vdir.join("volume.hdr").exists() {
        return Err(volume_error(what, VolumeError::NotFound(volume_id.into())));
    }
    spawn_mount_daemon(
        cli,
        root,
        &["mount", volume_id],
        mp,
        opts,
        &vdir.join("mount.log"),
        what,
    )?;
    let (svc, _kms) = service(cli, root, what)?;
    let mut v = svc.describe(volume_id).map_err(|e| volume_error(what, e))?;
    for _ in 0..100 {
        if v.state == "in-use" {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        v = svc.describe(volume_id).map_err(|e| volume_error(what, e))?;
    }
    out.print(&v)
}

/// Start `kmsfs <command...> <mp> --foreground` as a detached daemon logging to `log_path`,
/// and wait until `mp` is mounted; its pid. If the daemon exits first, its first logged
/// line (without the `kmsfs: <what>: ` prefix) and exit code are the error.
pub(crate) fn spawn_mount_daemon(
    cli: &Cli,
    root: &Path,
    command: &[&str],
    mp: &Path,
    opts: MountOptions,
    log_path: &Path,
    what: &str,
) -> Result<u32, CliError> {
    use std::os::unix::process::CommandExt;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .map_err(|e| CliError::new(what, format!("{}: {e}", log_path.display()), exit::MOUNT))?;
    let start = std::fs::metadata(log_path).map(|m| m.len()).unwrap_or(0);
    let exe =
        std::env::current_exe().map_err(|e| CliError::new(what, e.to_string(), exit::INTERNAL))?;
    let mut c = std::process::Command::new(exe);
    c.arg("--home").arg(root);
    if let Some(p) = &cli.passphrase_file {
        c.arg("--passphrase-file").arg(p);
    }
    c.args(command).arg(mp).arg("--foreground");
    if opts.allow_other {
        c.arg("--allow-other");
    }
    c.stdin(std::process::Stdio::null())
        .stdout(
            log.try_clone()
                .map_err(|e| CliError::new(what, e.to_string(), exit::INTERNAL))?,
        )
        .stderr(log)
        .process_group(0);
    let mut child = c
        .spawn()
        .map_err(|e| CliError::new(what, e.to_string(), exit::MOUNT))?;
    let t0 = Instant::now();
    loop {
        if is_mount_point(mp) {
            return Ok(child.id());
        }
        if let Ok(Some(status)) = child.try_wait() {
            let logged = std::fs::read(log_path).unwrap_or_default();
            let tail = String::from_utf8_lossy(&logged[start as usize..])
                .trim()
                .to_string();
            let why = tail
                .strip_prefix(&format!("kmsfs: {what}: "))
                .unwrap_or(&tail)
                .to_string();
            let code = status.code().unwrap_or(exit::MOUNT);
            return Err(CliError::new(
                what,
                why.lines()
                    .next()
                    .unwrap_or("the mount daemon exited")
                    .to_string(),
                code,
            ));
        }
        if t0.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            return Err(CliError::new(
                what,
                "the mount did not come up within 60 s",
                exit::MOUNT,
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn run_umount(cli: &Cli, root: &Path, dir: &Path, out: &Printer) -> Result<(), CliError> {
    let what = format!("umount of {} failed", dir.display());
    let mp = dir
        .canonicalize()
        .map_err(|e| CliError::new(&what, e.to_string(), exit::MOUNT))?;
    if !is_mount_point(&mp) {
        return Err(CliError::new(
            &what,
            format!("{} is not mounted", mp.display()),
            exit::MOUNT,
        ));
    }
    // Find the daemon (to wait for it to finish writing).
    let (svc, _kms) = service(cli, root, &what)?;
    let owner = svc
        .list()
        .unwrap_or_default()
        .into_iter()
        .find_map(|v| svc.mounted(&v.volume_id).filter(|m| m.mount_point == mp));
    unmount(&mp, false).map_err(|e| {
        CliError::new(&what, e, exit::MOUNT)
            .hint("close files and leave the directory, then try again")
    })?;
    if let Some(m) = &owner {
        let t0 = Instant::now();
        while nix::sys::signal::kill(nix::unistd::Pid::from_raw(m.pid as i32), None).is_ok()
            && t0.elapsed() < Duration::from_secs(30)
        {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    out.print(&serde_json::json!({ "Unmounted": mp, "VolumeId": owner.map(|m| m.volume_id) }))
}
