//! `kmsfs mount`, `kmsfs mount-bucket` and `kmsfs umount` over [`crate::mount`]. In the
//! background (the default), a mount is served by a daemon: this binary run again with
//! `--foreground`, its output in the volume's or bucket's mount log.

use super::error::{CliError, OrFail};
use super::session::Ctx;
use crate::home::Layout;
use crate::mount::{self, VolumeMount};
use crate::volume::uring::Transport;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

// The arguments of both mounts: where, and whether to stay attached.
#[derive(Debug, clap::Args)]
pub(crate) struct MountPointArgs {
    dir: PathBuf,
    /// Stay attached; unmount with Ctrl-C (or SIGTERM, SIGHUP) or `kmsfs umount`.
    #[arg(long)]
    foreground: bool,
    /// Mount even if the directory is not empty (its files are hidden while mounted).
    #[arg(long)]
    nonempty: bool,
}

// `kmsfs mount`.
#[derive(Debug, clap::Args)]
pub(crate) struct MountArgs {
    volume_id: String,
    #[command(flatten)]
    at: MountPointArgs,
    /// Let other users in (root, or `user_allow_other` in /etc/fuse.conf); the kernel then
    /// checks every access against the files' modes. Without it only the mounting user
    /// gets in, and the backing files' permissions apply to them, as with gocryptfs.
    #[arg(long)]
    allow_other: bool,
    /// How the mount talks to the kernel: `uring` (FUSE over io_uring, or no mount), `dev`
    /// (/dev/fuse), or `auto`: io_uring when the kernel offers it (as root, its switch
    /// /sys/module/fuse/parameters/enable_uring is turned on), /dev/fuse otherwise. Default:
    /// $KMSFS_FUSE_TRANSPORT, else auto.
    #[arg(long, value_name = "TRANSPORT", value_parser = ["auto", "uring", "dev"])]
    fuse_transport: Option<String>,
    /// Turn extended attributes off (as gocryptfs's `-noxattr`): every xattr call fails
    /// with "operation not supported", and the kernel stops asking for the
    /// `security.capability` attribute it reads at each file's first write and at each
    /// chown, a round trip each.
    #[arg(long)]
    no_xattr: bool,
    /// (The daemon `kmsfs mount` starts:) read the volume's data key from stdin, in the
    /// format of docs/FORMAT.md "Mount daemon key pipe", instead of opening the KMS.
    #[arg(long, hide = true, requires = "foreground")]
    key_from_stdin: bool,
}

// `kmsfs mount-bucket`.
#[derive(Debug, clap::Args)]
pub(crate) struct MountBucketArgs {
    bucket: String,
    #[command(flatten)]
    at: MountPointArgs,
    /// Let other users in (root, or `user_allow_other` in /etc/fuse.conf).
    #[arg(long)]
    allow_other: bool,
}

/// The arguments that make this binary serve `command` at `mp` in the foreground, as a
/// mount daemon. Only a daemon that opens the KMS (`kms`: a bucket's) is told how to reach
/// it; a volume daemon gets its key over its stdin instead.
fn daemon_args(
    ctx: &Ctx,
    command: &[&str],
    at: &MountPointArgs,
    mp: &Path,
    allow_other: bool,
    kms: bool,
) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec!["--home".into(), ctx.root.clone().into()];
    a.extend(command.iter().map(OsString::from));
    a.extend([mp.into(), "--foreground".into()]);
    if at.nonempty {
        a.push("--nonempty".into());
    }
    if allow_other {
        a.push("--allow-other".into());
    }
    if !kms {
        a.push("--key-from-stdin".into());
        return a;
    }
    if let Some(p) = &ctx.cli.passphrase_file {
        a.extend(["--passphrase-file".into(), p.into()]);
    }
    // The daemon reaches the same KMS (the credentials come with the environment).
    if let Some(url) = &ctx.cli.kms_endpoint {
        a.extend(["--kms-endpoint".into(), url.into()]);
    }
    if let Some(p) = &ctx.cli.profile {
        a.extend(["--profile".into(), p.into()]);
    }
    if let Some(ca) = &ctx.cli.kms_ca_bundle {
        a.extend(["--kms-ca-bundle".into(), ca.into()]);
    }
    a
}

pub(super) fn run_mount(ctx: &Ctx, a: &MountArgs) -> Result<(), CliError> {
    let what = format!("mount of {} failed", a.volume_id);
    let layout = Layout::new(&ctx.root);
    let log = layout.volume_mount_log(&a.volume_id).or_fail(&what)?;
    let mp = mount::check_mount_point(&a.at.dir, a.at.nonempty).or_fail(&what)?;
    if a.at.foreground {
        return serve_volume(ctx, a, &mp, &what);
    }
    mount::check_volume_exists(&layout, &a.volume_id).or_fail(&what)?;
    // The KMS is used here only: the daemon gets the data key over its stdin.
    let mut args = daemon_args(
        ctx,
        &["mount", &a.volume_id],
        &a.at,
        &mp,
        a.allow_other,
        false,
    );
    if let Some(t) = &a.fuse_transport {
        args.extend(["--fuse-transport".into(), t.into()]);
    }
    if a.no_xattr {
        args.push("--no-xattr".into());
    }
    ctx.session(&what, |s| {
        let svc = s.volumes();
        let dek = mount::unlock_volume(&svc, &a.volume_id).or_fail(&what)?;
        let msg = mount::encode_key(dek.as_ref());
        drop(dek);
        mount::spawn_daemon(&args, &mp, &log, Some(&msg.0[..msg.1])).or_fail(&what)?;
        drop(msg);
        s.reply(mount::describe_when_in_use(&svc, &a.volume_id))
    })
}

/// `kmsfs mount --foreground`: serve the volume until it is unmounted. The process holds
/// only the volume's subkeys while it serves: its data key comes over stdin (the daemon of
/// `kmsfs mount`) or is Decrypted here by a KMS that is closed (and zeroized) before the
/// mount; it is undumpable and wipes the secret variables from its environment.
fn serve_volume(ctx: &Ctx, a: &MountArgs, mp: &Path, what: &str) -> Result<(), CliError> {
    let id = &a.volume_id;
    mount::protect_process();
    let layout = Layout::new(&ctx.root);
    let dek = if a.key_from_stdin {
        mount::read_key_from_stdin().or_fail(what)?
    } else {
        mount::check_volume_exists(&layout, id).or_fail(what)?;
        let dek = ctx.session(what, |s| {
            mount::unlock_volume(&s.volumes(), id).or_fail(what)
        })?;
        dek.map(mount::lock_key)
    };
    mount::scrub_environment();
    let m = VolumeMount::open(&layout, id, dek.as_deref(), mp).or_fail(what)?;
    drop(dek);
    let opts = mount::ServeOptions {
        allow_other: a.allow_other,
        transport: transport(a).or_fail(what)?,
        xattrs: !a.no_xattr,
    };
    m.serve(opts, || {
        eprintln!(
            "kmsfs: {id} mounted at {} (pid {})",
            mp.display(),
            std::process::id()
        )
    })
    .or_fail(what)?;
    eprintln!("kmsfs: {id} unmounted from {}", mp.display());
    Ok(())
}

/// The FUSE transport of a volume mount: `--fuse-transport`, else $KMSFS_FUSE_TRANSPORT,
/// else auto.
fn transport(a: &MountArgs) -> Result<Transport, mount::MountError> {
    let flag = a.fuse_transport.as_deref().map(str::parse).transpose();
    flag.and_then(Transport::chosen)
        .map_err(mount::MountError::Transport)
}

/// `kmsfs mount-bucket`: serve the bucket's directory view at `dir` (in a background daemon
/// unless `--foreground`), until `kmsfs umount`.
pub(super) fn run_mount_bucket(ctx: &Ctx, a: &MountBucketArgs) -> Result<(), CliError> {
    let bucket = &a.bucket;
    let what = format!("mount of bucket {bucket} failed");
    let log = Layout::new(&ctx.root)
        .bucket_mount_log(bucket)
        .or_fail(&what)?;
    let mp = mount::check_mount_point(&a.at.dir, a.at.nonempty).or_fail(&what)?;
    // The bucket must exist before anything is started.
    let s = ctx.open(&what)?;
    let svc = s.objects();
    svc.get_bucket_encryption(bucket).or_fail(&what)?;
    if !a.at.foreground {
        drop((svc, s));
        let args = daemon_args(
            ctx,
            &["mount-bucket", bucket],
            &a.at,
            &mp,
            a.allow_other,
            true,
        );
        let pid = mount::spawn_daemon(&args, &mp, &log, None).or_fail(&what)?;
        return ctx.out.print(&serde_json::json!({
            "Bucket": bucket,
            "MountPoint": mp,
            "Pid": pid,
        }));
    }
    // A bucket daemon holds the KMS (it makes a data key per object), but not the secrets
    // that opened it.
    mount::protect_process();
    mount::scrub_environment();
    let spool = s.home.layout().bucket_spool(bucket).or_fail(&what)?;
    let r = mount::serve_bucket(Arc::new(svc), bucket, spool, &mp, a.allow_other, || {
        eprintln!(
            "kmsfs: bucket {bucket} mounted at {} (pid {})",
            mp.display(),
            std::process::id()
        )
    });
    let _ = s.kms.flush_audit();
    r.or_fail(&what)?;
    eprintln!("kmsfs: bucket {bucket} unmounted from {}", mp.display());
    Ok(())
}

/// `kmsfs umount`: unmount a kmsfs mount (and no other) and wait for its daemon to finish
/// writing. Opens no KMS: unmounting needs no key (nor a passphrase).
pub(super) fn run_umount(ctx: &Ctx, dir: &Path) -> Result<(), CliError> {
    let what = format!("umount of {} failed", dir.display());
    let mp = mount::kmsfs_mount_at(dir).or_fail(&what)?;
    // Find the daemon (to wait for it to finish writing).
    let owner = mount::volume_daemon(&Layout::new(&ctx.root), &mp);
    mount::unmount_and_wait(&mp, owner.as_ref().map(|m| m.pid)).or_fail(&what)?;
    ctx.out
        .print(&serde_json::json!({ "Unmounted": mp, "VolumeId": owner.map(|m| m.volume_id) }))
}

/// `kmsfs install-mount-helper`: the mount(8) helper links to this binary.
pub(super) fn run_install_helper(ctx: &Ctx, dir: &Path) -> Result<(), CliError> {
    const WHAT: &str = "install-mount-helper failed";
    let exe = std::env::current_exe().map_err(|e| {
        CliError::new(
            WHAT,
            format!("which binary is this: {e}"),
            super::error::exit::INTERNAL,
        )
    })?;
    let made = super::mount_helper::install(dir, &exe).map_err(|e| {
        CliError::new(
            WHAT,
            format!("{}: {e}", dir.display()),
            super::error::exit::INTERNAL,
        )
    })?;
    let links: Vec<String> = made.iter().map(|p| p.display().to_string()).collect();
    ctx.out
        .print(&serde_json::json!({ "Links": links, "Target": exe.display().to_string() }))
}
