//! `kmsfs snapshot ...`: create, list, describe, delete, copy and verify snapshots over
//! [`crate::snapshot::SnapshotService`].

use super::error::{self, CliError, OrFail};
use super::session::Session;
use crate::snapshot::SnapshotService;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum SnapshotCommand {
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

/// `kmsfs snapshot <verb>`.
pub(super) fn snapshot(s: &Session, cmd: &SnapshotCommand) -> Result<(), CliError> {
    let svc = s.snapshots();
    match cmd {
        SnapshotCommand::Create {
            volume_id,
            description,
        } => s.reply(svc.create(volume_id, description)),
        SnapshotCommand::List => s.reply(svc.list().map(|l| serde_json::json!({ "Snapshots": l }))),
        SnapshotCommand::Describe { snapshot_id } => s.reply(svc.describe(snapshot_id)),
        SnapshotCommand::Delete { snapshot_id } => {
            svc.delete(snapshot_id).or_fail(s.what)?;
            s.out
                .print(&serde_json::json!({ "SnapshotId": snapshot_id, "Deleted": true }))
        }
        SnapshotCommand::Copy {
            snapshot_id,
            kms_key_id,
            encrypted,
            description,
        } => s.reply(svc.copy(
            snapshot_id,
            kms_key_id.as_deref(),
            *encrypted,
            description.as_deref(),
        )),
        SnapshotCommand::Verify { snapshot_id } => verify(s, &svc, snapshot_id.as_deref()),
    }
}

/// `snapshot verify`: check one snapshot, or all; print the reports, then fail if any
/// chunk is missing or damaged.
fn verify(s: &Session, svc: &SnapshotService, snapshot_id: Option<&str>) -> Result<(), CliError> {
    let ids = match snapshot_id {
        Some(id) => vec![id.to_string()],
        None => svc
            .list()
            .or_fail(s.what)?
            .into_iter()
            .map(|s| s.snapshot_id)
            .collect(),
    };
    let reports = ids
        .iter()
        .map(|id| svc.verify(id).or_fail(s.what))
        .collect::<Result<Vec<_>, _>>()?;
    let bad: Vec<String> = reports
        .iter()
        .flat_map(|r| {
            r.problems
                .iter()
                .map(move |p| format!("{}: {p}", r.snapshot_id))
        })
        .collect();
    s.out.print(&serde_json::json!({ "Snapshots": reports }))?;
    if !bad.is_empty() {
        return Err(error::damaged_snapshots(s.what, &bad));
    }
    Ok(())
}
