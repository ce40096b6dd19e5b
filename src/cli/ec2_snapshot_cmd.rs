//! `kmsfs ec2 <snapshot verb>`: `create-snapshot`, `copy-snapshot`, `describe-snapshots`,
//! `delete-snapshot`, `modify-`/`describe-`/`reset-snapshot-attribute`, with `aws ec2`'s
//! flags and EC2's `Snapshot` shape, over the snapshot service `kmsfs snapshot` uses.

use super::aws_shorthand::{self, strings};
use super::ec2_cmd::Filters;
use super::error::{CliError, OrFail, exit};
use super::session::Session;
use crate::snapshot::{ListFilter, Operation, SnapshotInfo};
use clap::Subcommand;
use serde_json::{Value, json};

#[derive(Debug, Subcommand)]
pub(crate) enum SnapshotVerb {
    /// Snapshot a volume (`aws ec2 create-snapshot`); prints the snapshot.
    CreateSnapshot {
        #[arg(long)]
        volume_id: String,
        #[arg(long, default_value = "")]
        description: String,
        /// `ResourceType=snapshot,Tags=[{Key=k,Value=v}]` (or JSON): the new snapshot's tags.
        #[arg(long, num_args = 1..)]
        tag_specifications: Vec<String>,
    },
    /// Copy a snapshot (`aws ec2 copy-snapshot`); prints `{"SnapshotId"}`. Under the same
    /// key the copy shares every chunk; under --kms-key-id (or --encrypted from an
    /// unencrypted snapshot) it is a full re-encrypted copy.
    CopySnapshot {
        #[arg(long)]
        source_snapshot_id: String,
        /// The home's Region (kmsfs copies within one Region: another is refused).
        #[arg(long)]
        source_region: String,
        #[arg(long)]
        encrypted: bool,
        #[arg(long)]
        kms_key_id: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// `ResourceType=snapshot,Tags=[{Key=k,Value=v}]` (or JSON): the new snapshot's tags.
        #[arg(long, num_args = 1..)]
        tag_specifications: Vec<String>,
    },
    /// Describe the snapshots the account owns or that are shared with it.
    DescribeSnapshots {
        #[arg(long, num_args = 1..)]
        snapshot_ids: Vec<String>,
        /// Account ids, or `self`.
        #[arg(long, num_args = 1..)]
        owner_ids: Vec<String>,
        /// Account ids, `self`, or `all` (public).
        #[arg(long, num_args = 1..)]
        restorable_by_user_ids: Vec<String>,
        /// `Name=NAME,Values=V1,V2` (or JSON). Names: snapshot-id, volume-id, status,
        /// encrypted, owner-id, description, progress, volume-size, start-time, kms-key-id,
        /// tag:KEY (the tag's value), tag-key. `*` and `?` are wildcards.
        #[arg(long, num_args = 1..)]
        filters: Vec<String>,
    },
    /// Delete a snapshot (`aws ec2 delete-snapshot`); prints nothing.
    DeleteSnapshot {
        #[arg(long)]
        snapshot_id: String,
    },
    /// Share a snapshot or stop sharing it; prints nothing. Either --operation-type with
    /// --user-ids/--group-names, or --create-volume-permission 'Add=[{UserId=ID}]'.
    ModifySnapshotAttribute {
        #[arg(long)]
        snapshot_id: String,
        /// createVolumePermission (the only attribute of a kmsfs snapshot).
        #[arg(long, default_value = "createVolumePermission")]
        attribute: String,
        #[arg(long, value_parser = ["add", "remove"])]
        operation_type: Option<String>,
        #[arg(long, num_args = 1..)]
        user_ids: Vec<String>,
        #[arg(long, num_args = 1..)]
        group_names: Vec<String>,
        /// `Add=[{UserId=ID},{Group=all}],Remove=[...]` or its JSON.
        #[arg(long)]
        create_volume_permission: Option<String>,
    },
    /// Who may create volumes from (and copy) a snapshot.
    DescribeSnapshotAttribute {
        #[arg(long)]
        snapshot_id: String,
        /// createVolumePermission.
        #[arg(long)]
        attribute: String,
    },
    /// Share a snapshot with no one; prints nothing.
    ResetSnapshotAttribute {
        #[arg(long)]
        snapshot_id: String,
        /// createVolumePermission.
        #[arg(long)]
        attribute: String,
    },
}

/// Run a snapshot verb of `kmsfs ec2`.
pub(super) fn run(s: &Session, cmd: &SnapshotVerb) -> Result<(), CliError> {
    let svc = super::snapshot_cmd::service(s);
    match cmd {
        SnapshotVerb::CreateSnapshot {
            volume_id,
            description,
            tag_specifications,
        } => {
            let tags = checked_tags(s, tag_specifications)?;
            let info = svc.create(volume_id, description).or_fail(s.what)?;
            if !tags.is_empty() {
                svc.tag(&info.snapshot_id, &tags).or_fail(s.what)?;
            }
            s.out.print(&snapshot_json(&svc, &info))
        }
        SnapshotVerb::CopySnapshot {
            source_snapshot_id,
            source_region,
            encrypted,
            kms_key_id,
            description,
            tag_specifications,
        } => {
            let tags = checked_tags(s, tag_specifications)?;
            let here = s.home.config().region.clone();
            if *source_region != here {
                return Err(CliError::usage(
                    s.what,
                    format!("--source-region {source_region}: this home's snapshots are in {here}"),
                )
                .hint(format!("copy within {here}: --source-region {here}")));
            }
            let id = source_snapshot_id.as_str();
            let info = svc
                .copy(
                    id,
                    kms_key_id.as_deref(),
                    *encrypted,
                    description.as_deref(),
                )
                .or_fail(s.what)?;
            if !tags.is_empty() {
                svc.tag(&info.snapshot_id, &tags).or_fail(s.what)?;
            }
            s.out.print(&json!({ "SnapshotId": info.snapshot_id }))
        }
        SnapshotVerb::DescribeSnapshots { .. } => describe_snapshots(s, cmd),
        SnapshotVerb::DeleteSnapshot { snapshot_id } => {
            svc.delete(snapshot_id).or_fail(s.what)?;
            Ok(())
        }
        SnapshotVerb::ModifySnapshotAttribute { .. } => modify_attribute(s, cmd),
        SnapshotVerb::DescribeSnapshotAttribute {
            snapshot_id,
            attribute,
        } => s.reply(svc.describe_attribute(snapshot_id, attribute)),
        SnapshotVerb::ResetSnapshotAttribute {
            snapshot_id,
            attribute,
        } => {
            svc.reset_attribute(snapshot_id, attribute)
                .or_fail(s.what)?;
            Ok(())
        }
    }
}

/// `describe-snapshots`: the visible snapshots (as --owner-ids and
/// --restorable-by-user-ids narrow them), those of --snapshot-ids (each must be visible),
/// through --filters.
fn describe_snapshots(s: &Session, cmd: &SnapshotVerb) -> Result<(), CliError> {
    let SnapshotVerb::DescribeSnapshots {
        snapshot_ids,
        owner_ids,
        restorable_by_user_ids,
        filters,
    } = cmd
    else {
        unreachable!("called for describe-snapshots only")
    };
    let svc = super::snapshot_cmd::service(s);
    let filters = Filters::parse(filters, SNAPSHOT_FILTERS)?;
    let f = ListFilter {
        owner_ids: owner_ids.clone(),
        restorable_by_user_ids: restorable_by_user_ids.clone(),
    };
    let visible = svc.list_visible(&f).or_fail(s.what)?;
    for id in snapshot_ids {
        if !visible.iter().any(|v| v.snapshot_id == *id) {
            svc.describe(id).or_fail(s.what)?;
            return Err(not_found(s.what, id));
        }
    }
    let shown: Vec<Value> = visible
        .iter()
        .filter(|v| snapshot_ids.is_empty() || snapshot_ids.contains(&v.snapshot_id))
        .map(|i| snapshot_json(&svc, i))
        .filter(|v| filters.matches(v))
        .collect();
    s.out.print(&json!({ "Snapshots": shown }))
}

fn not_found(what: &str, id: &str) -> CliError {
    CliError::new(
        what,
        format!("InvalidSnapshot.NotFound: the snapshot '{id}' does not exist"),
        exit::SNAPSHOT,
    )
}

/// The tags of `--tag-specifications`, checked before anything is made.
fn checked_tags(s: &Session, specs: &[String]) -> Result<Vec<crate::tags::Tag>, CliError> {
    let tags = super::ec2_tags_cmd::from_specs(specs, "snapshot")?;
    crate::tags::apply(&[], &tags).map_err(|e| CliError::usage(s.what, e))?;
    Ok(tags)
}

/// `modify-snapshot-attribute`: the flags, or `--create-volume-permission`'s Add and
/// Remove lists (each applied in turn).
fn modify_attribute(s: &Session, cmd: &SnapshotVerb) -> Result<(), CliError> {
    let SnapshotVerb::ModifySnapshotAttribute {
        snapshot_id,
        attribute,
        operation_type,
        user_ids,
        group_names,
        create_volume_permission,
    } = cmd
    else {
        unreachable!("called for modify-snapshot-attribute only")
    };
    let mut changes = Vec::new();
    if let Some(op) = operation_type {
        let op = if op == "add" {
            Operation::Add
        } else {
            Operation::Remove
        };
        changes.push((op, user_ids.clone(), group_names.clone()));
    }
    if let Some(p) = create_volume_permission {
        let v = aws_shorthand::structure(p, "--create-volume-permission")?;
        for (key, op) in [("Add", Operation::Add), ("Remove", Operation::Remove)] {
            let list = v[key].as_array().cloned().unwrap_or_default();
            if list.is_empty() {
                continue;
            }
            let ids = list.iter().flat_map(|e| strings(&e["UserId"])).collect();
            let groups = list.iter().flat_map(|e| strings(&e["Group"])).collect();
            changes.push((op, ids, groups));
        }
    }
    if changes.is_empty() {
        return Err(CliError::usage(
            s.what,
            "nothing to change: give --operation-type with --user-ids or --group-names, or \
             --create-volume-permission 'Add=[{UserId=ID}]'",
        ));
    }
    let svc = super::snapshot_cmd::service(s);
    for (op, ids, groups) in changes {
        svc.modify_attribute(snapshot_id, attribute, op, &ids, &groups)
            .or_fail(s.what)?;
    }
    Ok(())
}

/// A snapshot in EC2's `Snapshot` shape.
fn snapshot_json(svc: &crate::snapshot::SnapshotService, i: &SnapshotInfo) -> Value {
    let mut out = json!({
        "Description": i.description,
        "Encrypted": i.encrypted,
        "OwnerId": i.owner_id,
        "Progress": i.progress,
        "SnapshotId": i.snapshot_id,
        "StartTime": i.start_time,
        "State": i.state,
        "VolumeId": i.volume_id,
        "VolumeSize": i.volume_size,
        "StorageTier": "standard",
        "FullSnapshotSizeInBytes": i.full_snapshot_size_in_bytes,
    });
    if let Some(k) = &i.kms_key_id {
        out["KmsKeyId"] = k.clone().into();
    }
    let tags = svc.tags(&i.snapshot_id).unwrap_or_default();
    super::ec2_tags_cmd::add_json(&mut out, &tags);
    out
}

/// describe-snapshots' filters: each name and where a snapshot (in EC2's shape) holds its
/// values (a JSON pointer).
const SNAPSHOT_FILTERS: &[(&str, &str)] = &[
    ("snapshot-id", "/SnapshotId"),
    ("volume-id", "/VolumeId"),
    ("status", "/State"),
    ("encrypted", "/Encrypted"),
    ("owner-id", "/OwnerId"),
    ("description", "/Description"),
    ("progress", "/Progress"),
    ("volume-size", "/VolumeSize"),
    ("start-time", "/StartTime"),
    ("kms-key-id", "/KmsKeyId"),
    ("storage-tier", "/StorageTier"),
];
