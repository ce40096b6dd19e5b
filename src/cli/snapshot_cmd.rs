//! `kmsfs snapshot ...`: create, list, describe, delete, copy and verify snapshots, and
//! share them (`modify-`, `describe-`, `reset-attribute`), over
//! [`crate::snapshot::SnapshotService`] acting for the caller's account.

use super::error::{self, CliError, OrFail};
use super::session::Session;
use crate::snapshot::{ListFilter, Operation, SnapshotService};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum SnapshotCommand {
    /// Snapshot a volume (mounted or not); prints it (`ec2 create-snapshot --volume-id` as AWS).
    Create {
        volume_id: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// The snapshots the caller's account owns or that are shared with it (as
    /// `describe-snapshots`: --owner-ids ID|self, --restorable-by-user-ids ID|self|all).
    List {
        #[arg(long, num_args = 1..)]
        owner_ids: Vec<String>,
        #[arg(long, num_args = 1..)]
        restorable_by_user_ids: Vec<String>,
    },
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
    /// Share a snapshot with accounts (--user-ids), or publicly (--group-names all:
    /// unencrypted snapshots only), or stop sharing it; prints who may use it.
    ModifyAttribute {
        snapshot_id: String,
        /// createVolumePermission (the only attribute of a snapshot kmsfs has).
        #[arg(long)]
        attribute: String,
        #[arg(long, value_parser = ["add", "remove"])]
        operation_type: String,
        #[arg(long, num_args = 1..)]
        user_ids: Vec<String>,
        #[arg(long, num_args = 1..)]
        group_names: Vec<String>,
    },
    /// Who may create volumes from (and copy) a snapshot.
    DescribeAttribute {
        snapshot_id: String,
        /// createVolumePermission (the only attribute of a snapshot kmsfs has).
        #[arg(long)]
        attribute: String,
    },
    /// Share a snapshot with no one.
    ResetAttribute {
        snapshot_id: String,
        /// createVolumePermission (the only attribute of a snapshot kmsfs has).
        #[arg(long)]
        attribute: String,
    },
}

/// The snapshot service acting for the caller's account (what `volume create
/// --snapshot-id` restores with, too).
pub(super) fn service(s: &Session) -> SnapshotService {
    s.snapshots().acting_for(&s.account())
}

/// `kmsfs snapshot <verb>`.
pub(super) fn snapshot(s: &Session, cmd: &SnapshotCommand) -> Result<(), CliError> {
    let svc = service(s);
    match cmd {
        SnapshotCommand::Create {
            volume_id,
            description,
        } => s.reply(svc.create(volume_id, description)),
        SnapshotCommand::List {
            owner_ids,
            restorable_by_user_ids,
        } => {
            let f = ListFilter {
                owner_ids: owner_ids.clone(),
                restorable_by_user_ids: restorable_by_user_ids.clone(),
            };
            s.reply(
                svc.list_visible(&f)
                    .map(|l| serde_json::json!({ "Snapshots": l })),
            )
        }
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
        SnapshotCommand::ModifyAttribute {
            snapshot_id,
            attribute,
            operation_type,
            user_ids,
            group_names,
        } => {
            let op = match operation_type.as_str() {
                "add" => Operation::Add,
                _ => Operation::Remove,
            };
            s.reply(svc.modify_attribute(snapshot_id, attribute, op, user_ids, group_names))
        }
        SnapshotCommand::DescribeAttribute {
            snapshot_id,
            attribute,
        } => s.reply(svc.describe_attribute(snapshot_id, attribute)),
        SnapshotCommand::ResetAttribute {
            snapshot_id,
            attribute,
        } => s.reply(svc.reset_attribute(snapshot_id, attribute)),
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
