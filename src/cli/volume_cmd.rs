//! `kmsfs volume ...` (create, list, describe, delete) and `kmsfs config ...` (encryption
//! by default, the default KMS key) over [`crate::volume::VolumeService`].

use super::error::{CliError, OrFail};
use super::session::Session;
use crate::volume::{CreateVolume, VolumeInfo};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum VolumeCommand {
    /// Create a volume; prints it (--size has units; `ec2 create-volume --size` is whole GiB).
    Create(CreateArgs),
    /// List volumes (kmsfs's fields; `ec2 describe-volumes` prints EC2's).
    List,
    /// Describe a volume, its id positional (`ec2 describe-volumes --volume-ids` as AWS).
    Describe { volume_id: String },
    /// Delete a volume that is not mounted.
    Delete { volume_id: String },
}

// `volume create`.
#[derive(Debug, clap::Args)]
pub(crate) struct CreateArgs {
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
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// enable | disable | status
    EncryptionByDefault {
        #[arg(value_parser = ["enable", "disable", "status"])]
        action: String,
    },
    /// The KMS key new encrypted volumes use by default: with KEY_ID set it, with --reset
    /// go back to alias/aws/ebs, with neither print it (as `ec2 get-ebs-default-kms-key-id`).
    DefaultKmsKeyId {
        key_id: Option<String>,
        #[arg(long, conflicts_with = "key_id")]
        reset: bool,
    },
}

/// `kmsfs volume <verb>`.
pub(super) fn volume(s: &Session, cmd: &VolumeCommand) -> Result<(), CliError> {
    let svc = s.volumes();
    match cmd {
        VolumeCommand::Create(a) => s.reply(create(s, a)),
        VolumeCommand::List => s.reply(svc.list().map(|v| serde_json::json!({ "Volumes": v }))),
        VolumeCommand::Describe { volume_id } => s.reply(svc.describe(volume_id)),
        VolumeCommand::Delete { volume_id } => s.done(svc.delete(volume_id)),
    }
}

/// `volume create`, empty or from a snapshot.
fn create(s: &Session, a: &CreateArgs) -> Result<VolumeInfo, CliError> {
    let size = match &a.size {
        Some(sz) => crate::volume::parse_size(sz).or_fail(s.what)?,
        None => 0,
    };
    let opts = CreateVolume {
        size,
        kms_key_id: a.kms_key_id.clone(),
        encrypted: match (a.unencrypted, a.encrypted) {
            (true, _) => Some(false),
            (false, true) => Some(true),
            (false, false) => None,
        },
        snapshot_id: None,
    };
    match &a.snapshot_id {
        None => s.volumes().create(&opts).or_fail(s.what),
        Some(snap) => super::snapshot_cmd::service(s)
            .restore(snap, &opts)
            .or_fail(s.what),
    }
}

/// `kmsfs config <setting>`.
pub(super) fn config(s: &Session, cmd: &ConfigCommand) -> Result<(), CliError> {
    let svc = s.volumes();
    match cmd {
        ConfigCommand::EncryptionByDefault { action } => {
            let mut set = svc.settings().or_fail(s.what)?;
            match action.as_str() {
                "enable" => set.encryption_by_default = true,
                "disable" => set.encryption_by_default = false,
                _ => {}
            }
            if action != "status" {
                svc.set_settings(&set).or_fail(s.what)?;
            }
            s.out
                .print(&serde_json::json!({ "EbsEncryptionByDefault": set.encryption_by_default }))
        }
        ConfigCommand::DefaultKmsKeyId {
            key_id: Some(key_id),
            ..
        } => {
            let set = svc.set_default_key(key_id).or_fail(s.what)?;
            s.out
                .print(&serde_json::json!({ "KmsKeyId": set.default_kms_key_id }))
        }
        ConfigCommand::DefaultKmsKeyId {
            key_id: None,
            reset,
        } => s.out.print(&super::ec2_cmd::default_key(s, *reset)?),
    }
}
