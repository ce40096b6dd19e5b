//! `kmsfs snapshot ...`: create, list, describe, delete, copy and verify snapshots.

use super::output::Printer;
use super::volume_cmd::volume_error;
use super::{Cli, CliError, exit, open_kms};
use crate::kms::Embedded;
use crate::snapshot::{SnapshotError, SnapshotService};
use crate::volume::service::EBS_PRINCIPAL;
use clap::Subcommand;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Snapshot a volume (mounted or not); prints the snapshot as JSON.
    Create {
        volume_id: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    List,
    Describe {
        snapshot_id: String,
    },
    /// Delete a snapshot; frees the chunks no other snapshot needs.
    Delete {
        snapshot_id: String,
    },
    /// Copy a snapshot (under the same key: shares every chunk; under --kms-key-id, or with
    /// --encrypted from an unencrypted snapshot: a full re-encrypted copy).
    Copy {
        snapshot_id: String,
        #[arg(long)]
        kms_key_id: Option<String>,
        #[arg(long)]
        encrypted: bool,
        #[arg(long)]
        description: Option<String>,
    },
    /// Check that every chunk a snapshot needs (all snapshots without an id) is present
    /// and intact; exits 10 if not.
    Verify {
        snapshot_id: Option<String>,
    },
}

pub fn snapshot_error(what: &str, e: SnapshotError) -> CliError {
    match e {
        SnapshotError::Volume(v) => volume_error(what, v),
        SnapshotError::Kms(k) => CliError::kms(what, k),
        SnapshotError::KeyUnusable { .. } => CliError::new(what, e.to_string(), exit::REFUSED)
            .hint("check the key with `kmsfs kms describe-key --key-id <arn>`"),
        SnapshotError::BadId(_)
        | SnapshotError::Invalid(_)
        | SnapshotError::MustStayEncrypted(_) => CliError::new(what, e.to_string(), exit::USAGE),
        SnapshotError::NotFound(_) => CliError::new(what, e.to_string(), exit::SNAPSHOT)
            .hint("list snapshots with `kmsfs snapshot list`"),
        e => CliError::new(what, e.to_string(), exit::SNAPSHOT),
    }
}

pub fn run(cli: &Cli, root: &Path, cmd: &SnapshotCommand, out: &Printer) -> Result<(), CliError> {
    let what = match cmd {
        SnapshotCommand::Create { .. } => "snapshot create failed",
        SnapshotCommand::List => "snapshot list failed",
        SnapshotCommand::Describe { .. } => "snapshot describe failed",
        SnapshotCommand::Delete { .. } => "snapshot delete failed",
        SnapshotCommand::Copy { .. } => "snapshot copy failed",
        SnapshotCommand::Verify { .. } => "snapshot verify failed",
    };
    let (home, kms) = open_kms(cli, root, what)?;
    let client = Arc::new(Embedded::new(kms.clone(), EBS_PRINCIPAL));
    let svc = SnapshotService::new(home, client);
    let err = |e| snapshot_error(what, e);
    let r = match cmd {
        SnapshotCommand::Create {
            volume_id,
            description,
        } => out.print(&svc.create(volume_id, description).map_err(err)?),
        SnapshotCommand::List => {
            out.print(&serde_json::json!({ "Snapshots": svc.list().map_err(err)? }))
        }
        SnapshotCommand::Describe { snapshot_id } => {
            out.print(&svc.describe(snapshot_id).map_err(err)?)
        }
        SnapshotCommand::Delete { snapshot_id } => {
            svc.delete(snapshot_id).map_err(err)?;
            out.print(&serde_json::json!({ "SnapshotId": snapshot_id, "Deleted": true }))
        }
        SnapshotCommand::Copy {
            snapshot_id,
            kms_key_id,
            encrypted,
            description,
        } => out.print(
            &svc.copy(
                snapshot_id,
                kms_key_id.as_deref(),
                *encrypted,
                description.as_deref(),
            )
            .map_err(err)?,
        ),
        SnapshotCommand::Verify { snapshot_id } => {
            let ids = match snapshot_id {
                Some(id) => vec![id.clone()],
                None => svc
                    .list()
                    .map_err(err)?
                    .into_iter()
                    .map(|s| s.snapshot_id)
                    .collect(),
            };
            let mut reports = Vec::new();
            for id in &ids {
                reports.push(svc.verify(id).map_err(err)?);
            }
            let bad: Vec<String> = reports
                .iter()
                .flat_map(|r| {
                    r.problems
                        .iter()
                        .map(move |p| format!("{}: {p}", r.snapshot_id))
                })
                .collect();
            out.print(&serde_json::json!({ "Snapshots": reports }))?;
            if !bad.is_empty() {
                return Err(CliError::new(what, bad.join("; "), exit::SNAPSHOT)
                    .hint("restore what you need from an intact snapshot; a damaged one cannot be repaired"));
            }
            Ok(())
        }
    };
    kms.flush_audit().map_err(|e| CliError::kms(what, e))?;
    r
}
