//! The command line: `kmsfs init`, `kmsfs kms <verb>` (AWS CLI verbs and flags, JSON
//! output by default), `kmsfs audit show|verify`, volumes, snapshots, `kmsfs bucket|object`
//! and `kmsfs encrypt-file|decrypt-file` (envelope messages). Errors print as
//! `kmsfs: <what failed>: <why>` and exit with the codes in [`exit`].

mod args;
mod audit_cmd;
pub mod envelope_cmd;
mod kms_cmd;
pub mod object_cmd;
mod output;
pub mod snapshot_cmd;
pub mod volume_cmd;

use crate::home::{Home, HomeError, InitOptions};
use crate::kms::{Kms, KmsError, KmsOptions, RootKeySource, StoreError};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;

/// Exit codes (stable; documented in the README).
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// An unexpected internal failure.
    pub const INTERNAL: i32 = 1;
    /// Bad command line (clap's usage errors also exit 2).
    pub const USAGE: i32 = 2;
    /// The home is missing, not initialized, unreadable or damaged.
    pub const HOME: i32 = 3;
    /// The home is locked by another process (try again).
    pub const LOCKED: i32 = 4;
    /// The KMS refused the request (an AWS error such as NotFoundException).
    pub const REFUSED: i32 = 5;
    /// `audit verify` found a changed, removed or reordered line.
    pub const AUDIT: i32 = 6;
    /// Wrong passphrase or root key.
    pub const ROOT_KEY: i32 = 7;
    /// A volume problem: not found, in use, damaged header.
    pub const VOLUME: i32 = 8;
    /// Mounting or unmounting failed (FUSE unavailable, busy, not a mount point).
    pub const MOUNT: i32 = 9;
    /// A snapshot problem: not found, a missing or damaged chunk or manifest.
    pub const SNAPSHOT: i32 = 10;
    /// A bucket or object problem (S3 error names): NoSuchBucket, NoSuchKey, BucketNotEmpty,
    /// BucketAlreadyOwnedByYou, InvalidRange, AccessDenied (wrong SSE-C key), InvalidRequest
    /// (SSE-C key missing or not applicable), a damaged or tampered object. KMS refusals of
    /// an object's key exit with REFUSED (5), bad arguments with USAGE (2).
    pub const OBJECT: i32 = 11;
    /// An envelope message (`decrypt-file`) is malformed, altered, truncated or extended,
    /// or lacks a required encryption context pair. (11 is left for objects.)
    pub const ENVELOPE: i32 = 12;
}

/// A failure as the CLI reports it.
#[derive(Debug)]
pub struct CliError {
    pub what: String,
    pub why: String,
    pub hint: Option<String>,
    pub code: i32,
}

impl CliError {
    pub fn new(what: impl Into<String>, why: impl Into<String>, code: i32) -> CliError {
        CliError {
            what: what.into(),
            why: why.into(),
            hint: None,
            code,
        }
    }

    pub fn hint(mut self, h: impl Into<String>) -> CliError {
        self.hint = Some(h.into());
        self
    }

    pub fn usage(what: impl Into<String>, why: impl Into<String>) -> CliError {
        CliError::new(what, why, exit::USAGE)
    }

    /// Map a KMS error for the operation `what`.
    pub fn kms(what: &str, e: KmsError) -> CliError {
        match e {
            KmsError::Store(s) => CliError::store(what, s),
            KmsError::Internal(m) => {
                CliError::new(what, format!("KMSInternalException: {m}"), exit::INTERNAL)
            }
            e => {
                let hint = match &e {
                    KmsError::Disabled(_) => {
                        Some("enable the key with `kmsfs kms enable-key --key-id <id>`")
                    }
                    KmsError::InvalidState(m) if m.contains("pending deletion") => Some(
                        "cancel the deletion with `kmsfs kms cancel-key-deletion --key-id <id>`, then enable the key",
                    ),
                    KmsError::NotFound(_) => Some(
                        "list keys with `kmsfs kms list-keys` and aliases with `kmsfs kms list-aliases`",
                    ),
                    _ => None,
                };
                let mut c = CliError::new(what, e.to_string(), exit::REFUSED);
                c.hint = hint.map(String::from);
                c
            }
        }
    }

    pub fn store(what: &str, e: StoreError) -> CliError {
        match e {
            StoreError::Locked { .. } => CliError::new(what, e.to_string(), exit::LOCKED)
                .hint("wait for the other kmsfs command to finish, then try again"),
            StoreError::WrongRootKey(_) => CliError::new(what, e.to_string(), exit::ROOT_KEY),
            StoreError::NoRootKey(_) => CliError::new(what, e.to_string(), exit::HOME)
                .hint("create a home with `kmsfs init`"),
            StoreError::Damaged { .. } | StoreError::Io { .. } => {
                CliError::new(what, e.to_string(), exit::HOME)
            }
            StoreError::Crypto(_) => CliError::new(what, e.to_string(), exit::INTERNAL),
        }
    }

    pub fn home(what: &str, e: HomeError) -> CliError {
        match e {
            HomeError::NotInitialized(p) => CliError::new(
                what,
                format!("no kmsfs home at {}", p.display()),
                exit::HOME,
            )
            .hint(format!(
                "run `kmsfs --home {} init` first, or point --home/KMSFS_HOME at an existing home",
                p.display()
            )),
            HomeError::AlreadyInitialized(p) => CliError::new(
                what,
                format!("a kmsfs home already exists at {}", p.display()),
                exit::HOME,
            )
            .hint("use it as it is, or choose another --home"),
            HomeError::Invalid(m) => CliError::usage(what, m),
            e => CliError::new(what, e.to_string(), exit::HOME),
        }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "kmsfs: {}: {}", self.what, self.why)?;
        if let Some(h) = &self.hint {
            write!(f, "\nkmsfs: hint: {h}")?;
        }
        Ok(())
    }
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Text,
}

#[derive(Debug, Parser)]
#[command(
    name = "kmsfs",
    version,
    about = "Local KMS-backed encrypted storage: an embedded AWS KMS, encrypted volumes, SSE buckets"
)]
pub struct Cli {
    /// The kmsfs home (default: $KMSFS_HOME, else $XDG_DATA_HOME/kmsfs, else ~/.local/share/kmsfs).
    #[arg(long, global = true, env = "KMSFS_HOME")]
    pub home: Option<PathBuf>,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Format::Json)]
    pub output: Format,
    /// Print only this field of the result (e.g. `CiphertextBlob`, `KeyMetadata.KeyId`, `Keys[0].KeyId`).
    #[arg(long, global = true)]
    pub query: Option<String>,
    /// Read the keystore passphrase from this file (else $KMSFS_PASSPHRASE, else a prompt).
    #[arg(long, global = true)]
    pub passphrase_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a home: account id, region, KMS keystore and root key (mode 0600).
    Init {
        /// Derive the root key from a passphrase (Argon2id) instead of a random key file.
        #[arg(long)]
        passphrase: bool,
        /// 12-digit account id (default: random).
        #[arg(long)]
        account_id: Option<String>,
        /// Region (default: us-east-1).
        #[arg(long)]
        region: Option<String>,
    },
    /// Key Management Service operations (verbs and flags as in `aws kms`).
    #[command(subcommand)]
    Kms(kms_cmd::KmsCommand),
    /// The audit trail of every KMS request.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// EBS-style encrypted volumes.
    #[command(subcommand)]
    Volume(volume_cmd::VolumeCommand),
    /// Account settings (encryption by default, default KMS key).
    #[command(subcommand)]
    Config(volume_cmd::ConfigCommand),
    /// EBS-style snapshots of volumes: create, list, describe, delete, copy, verify.
    #[command(subcommand)]
    Snapshot(snapshot_cmd::SnapshotCommand),
    /// S3-style buckets: create, list, delete, default encryption.
    #[command(subcommand)]
    Bucket(object_cmd::BucketCommand),
    /// S3-style objects with server-side encryption (SSE-S3, SSE-KMS, bucket keys, SSE-C).
    #[command(subcommand)]
    Object(object_cmd::ObjectCommand),
    /// Mount a volume on a directory (in the background unless --foreground).
    Mount {
        volume_id: String,
        dir: PathBuf,
        /// Stay attached; unmount with Ctrl-C or `kmsfs umount`.
        #[arg(long)]
        foreground: bool,
        /// Let other users in (root, or `user_allow_other` in /etc/fuse.conf); the kernel then
        /// checks every access against the files' modes. Without it only the mounting user
        /// gets in, and the backing files' permissions apply to them, as with gocryptfs.
        #[arg(long)]
        allow_other: bool,
    },
    /// Mount a bucket as a directory: keys with `/` are folders, reading is a GET, closing a
    /// written file is a PUT with the bucket's default encryption, rename is copy + delete.
    MountBucket {
        bucket: String,
        dir: PathBuf,
        /// Stay attached; unmount with Ctrl-C or `kmsfs umount`.
        #[arg(long)]
        foreground: bool,
        /// Let other users in (root, or `user_allow_other` in /etc/fuse.conf).
        #[arg(long)]
        allow_other: bool,
    },
    /// Unmount a mounted volume or bucket and wait for its daemon to finish.
    Umount { dir: PathBuf },
    /// Encrypt a file or stream into an envelope message under a KMS key (AWS Encryption
    /// SDK style: a fresh data key per message, wrapped by KMS, bound to the context).
    EncryptFile(envelope_cmd::EncryptFileArgs),
    /// Decrypt an envelope message; the plaintext file appears only if all of it
    /// authenticated.
    DecryptFile(envelope_cmd::DecryptFileArgs),
}

/// Run the CLI; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return code;
        }
    };
    match run(cli) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("{e}");
            e.code
        }
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    let root = Home::locate(cli.home.as_deref());
    let out = output::Printer {
        format: cli.output,
        query: cli.query.clone(),
    };
    match &cli.command {
        Command::Init {
            passphrase,
            account_id,
            region,
        } => init(&cli, &root, *passphrase, account_id, region, &out),
        Command::Kms(cmd) => kms_cmd::run(&cli, &root, cmd, &out),
        Command::Audit(cmd) => audit_cmd::run(&cli, &root, cmd, &out),
        Command::Volume(cmd) => volume_cmd::run_volume(&cli, &root, cmd, &out),
        Command::Config(cmd) => volume_cmd::run_config(&cli, &root, cmd, &out),
        Command::Snapshot(cmd) => snapshot_cmd::run(&cli, &root, cmd, &out),
        Command::Bucket(cmd) => object_cmd::run_bucket(&cli, &root, cmd, &out),
        Command::Object(cmd) => object_cmd::run_object(&cli, &root, cmd, &out),
        Command::Mount {
            volume_id,
            dir,
            foreground,
            allow_other,
        } => volume_cmd::run_mount(
            &cli,
            &root,
            volume_id,
            dir,
            volume_cmd::MountOptions {
                foreground: *foreground,
                allow_other: *allow_other,
            },
            &out,
        ),
        Command::MountBucket {
            bucket,
            dir,
            foreground,
            allow_other,
        } => object_cmd::run_mount_bucket(
            &cli,
            &root,
            bucket,
            dir,
            volume_cmd::MountOptions {
                foreground: *foreground,
                allow_other: *allow_other,
            },
            &out,
        ),
        Command::Umount { dir } => volume_cmd::run_umount(&cli, &root, dir, &out),
        Command::EncryptFile(a) => envelope_cmd::run_encrypt(&cli, &root, a, &out),
        Command::DecryptFile(a) => envelope_cmd::run_decrypt(&cli, &root, a, &out),
    }
}

fn init(
    cli: &Cli,
    root: &std::path::Path,
    passphrase: bool,
    account_id: &Option<String>,
    region: &Option<String>,
    out: &output::Printer,
) -> Result<(), CliError> {
    let source = if passphrase {
        RootKeySource::Passphrase(args::read_passphrase(cli.passphrase_file.as_deref(), true)?)
    } else {
        RootKeySource::RandomFile
    };
    let home = Home::init(
        root,
        &InitOptions {
            account_id: account_id.clone(),
            region: region.clone(),
        },
    )
    .map_err(|e| CliError::home("init failed", e))?;
    Kms::create(&home, source).map_err(|e| CliError::kms("init failed", e))?;
    let c = home.config();
    out.print(&serde_json::json!({
        "Home": home.root(),
        "AccountId": c.account_id,
        "Region": c.region,
        "RootKey": if passphrase { "passphrase (Argon2id)" } else { "file (kms/root.key, mode 0600)" },
    }))
}

/// Open the home and its KMS for a command.
pub fn open_kms(
    cli: &Cli,
    root: &std::path::Path,
    what: &str,
) -> Result<(Home, Arc<Kms>), CliError> {
    let home = Home::open(root).map_err(|e| CliError::home(what, e))?;
    let passphrase = if Kms::needs_passphrase(&home).map_err(|e| CliError::kms(what, e))? {
        Some(args::read_passphrase(
            cli.passphrase_file.as_deref(),
            false,
        )?)
    } else {
        None
    };
    let kms = Kms::open(
        &home,
        KmsOptions {
            passphrase,
            audit_interval: None,
            ..KmsOptions::default()
        },
    )
    .map_err(|e| CliError::kms(what, e))?;
    Ok((home, kms))
}
