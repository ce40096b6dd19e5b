//! EC2 tags on volumes and snapshots in the `aws ec2` shapes: `--tag-specifications` of
//! create-volume, create-snapshot and copy-snapshot, the `Tags` member of described
//! resources, the `tag:KEY` and `tag-key` filters, and the verbs `create-tags`,
//! `delete-tags` and `describe-tags`, over the services' tag stores (`volume/tags.rs`, the
//! snapshot record) with `crate::tags`'s rules.

use super::aws_shorthand::{self, strings};
use super::error::{CliError, OrFail};
use super::session::Session;
use crate::tags::Tag;
use clap::Subcommand;
use serde_json::{Value, json};

// The verbs are EC2's names (CreateTags, DeleteTags, DescribeTags).
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Subcommand)]
pub(crate) enum TagVerb {
    /// Tag volumes and snapshots (`aws ec2 create-tags`); a key set again takes the new
    /// value. Prints nothing.
    CreateTags {
        /// The volumes (vol-...) and snapshots (snap-...) to tag.
        #[arg(long, num_args = 1.., required = true)]
        resources: Vec<String>,
        /// `Key=k,Value=v` (repeatable) or a JSON list.
        #[arg(long, num_args = 1.., required = true)]
        tags: Vec<String>,
    },
    /// Remove tags (`aws ec2 delete-tags`): `Key=k` removes the tag, `Key=k,Value=v` only
    /// with that value; without --tags, every tag. Prints nothing.
    DeleteTags {
        /// The volumes and snapshots.
        #[arg(long, num_args = 1.., required = true)]
        resources: Vec<String>,
        /// `Key=k[,Value=v]` (repeatable) or a JSON list.
        #[arg(long, num_args = 1..)]
        tags: Vec<String>,
    },
    /// The tags of your volumes and snapshots (`aws ec2 describe-tags`), narrowed by
    /// --filters: resource-id, resource-type (volume, snapshot), key, value.
    DescribeTags {
        /// `Name=NAME,Values=V1,V2` (or JSON).
        #[arg(long, num_args = 1..)]
        filters: Vec<String>,
    },
}

/// The tags of `--tag-specifications` meant for `resource_type` (`volume`, `snapshot`).
pub(super) fn from_specs(specs: &[String], resource_type: &str) -> Result<Vec<Tag>, CliError> {
    let mut out = Vec::new();
    for spec in aws_shorthand::structures(specs, "--tag-specifications")? {
        let rt = spec["ResourceType"].as_str().unwrap_or(resource_type);
        if rt != resource_type {
            return Err(CliError::usage(
                "bad --tag-specifications",
                format!("InvalidParameterValue: ResourceType '{rt}' here: use '{resource_type}'"),
            ));
        }
        out.extend(parse_tags(&spec["Tags"])?);
    }
    Ok(out)
}

fn parse_tags(v: &Value) -> Result<Vec<Tag>, CliError> {
    let list = match v {
        Value::Array(a) => a.clone(),
        Value::Object(_) => vec![v.clone()],
        Value::Null => vec![],
        _ => return Err(CliError::usage("bad tags", "tags are Key=k,Value=v items")),
    };
    list.iter()
        .map(|t| {
            let key = t["Key"]
                .as_str()
                .ok_or_else(|| CliError::usage("bad tags", format!("a tag without a Key: {t}")))?;
            Ok(Tag {
                key: key.to_string(),
                value: scalar(&t["Value"]).unwrap_or_default(),
            })
        })
        .collect()
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        v => Some(v.to_string()),
    }
}

/// `Tags` as EC2 shows them (absent when there are none).
pub(super) fn add_json(out: &mut Value, tags: &[Tag]) {
    if !tags.is_empty() {
        out["Tags"] = serde_json::to_value(tags).expect("tags serialize");
    }
}

/// A resource's values for `tag:KEY` (the tag's value) and `tag-key` (its keys) filters.
pub(super) fn filter_values(item: &Value, name: &str) -> Option<Vec<String>> {
    let tags = item["Tags"].as_array().cloned().unwrap_or_default();
    if name == "tag-key" {
        return Some(tags.iter().flat_map(|t| strings(&t["Key"])).collect());
    }
    let key = name.strip_prefix("tag:")?;
    Some(
        tags.iter()
            .filter(|t| t["Key"] == key)
            .flat_map(|t| strings(&t["Value"]))
            .collect(),
    )
}

/// Run a tag verb.
pub(super) fn run(s: &Session, cmd: &TagVerb) -> Result<(), CliError> {
    match cmd {
        TagVerb::CreateTags { resources, tags } => {
            let add = all_tags(tags)?;
            for r in resources {
                on_resource(s, r, |vols, snaps| match kind(r) {
                    Kind::Volume => vols.tag(r, &add).map(drop).or_fail(s.what),
                    Kind::Snapshot => snaps.tag(r, &add).map(drop).or_fail(s.what),
                })?;
            }
            Ok(())
        }
        TagVerb::DeleteTags { resources, tags } => {
            let given = all_tags(tags)?;
            for r in resources {
                on_resource(s, r, |vols, snaps| {
                    let current = match kind(r) {
                        Kind::Volume => vols.tags(r).or_fail(s.what)?,
                        Kind::Snapshot => snaps.tags(r).or_fail(s.what)?,
                    };
                    let remove: Vec<(String, Option<String>)> = if tags.is_empty() {
                        current.iter().map(|t| (t.key.clone(), None)).collect()
                    } else {
                        removal(&given, tags)?
                    };
                    match kind(r) {
                        Kind::Volume => vols.untag(r, &remove).map(drop).or_fail(s.what),
                        Kind::Snapshot => snaps.untag(r, &remove).map(drop).or_fail(s.what),
                    }
                })?;
            }
            Ok(())
        }
        TagVerb::DescribeTags { filters } => describe(s, filters),
    }
}

/// `--tags` of delete-tags: a key alone matches any value (`Value` absent, not empty).
fn removal(given: &[Tag], raw: &[String]) -> Result<Vec<(String, Option<String>)>, CliError> {
    let items = aws_shorthand::structures(raw, "--tags")?;
    Ok(given
        .iter()
        .zip(items.iter())
        .map(|(t, item)| {
            let v = item.get("Value").and_then(scalar);
            (t.key.clone(), v)
        })
        .collect())
}

fn all_tags(raw: &[String]) -> Result<Vec<Tag>, CliError> {
    let mut out = Vec::new();
    for item in aws_shorthand::structures(raw, "--tags")? {
        out.extend(parse_tags(&item)?);
    }
    Ok(out)
}

enum Kind {
    Volume,
    Snapshot,
}

fn kind(id: &str) -> Kind {
    if id.starts_with("snap-") {
        Kind::Snapshot
    } else {
        Kind::Volume
    }
}

fn on_resource(
    s: &Session,
    id: &str,
    f: impl FnOnce(
        &crate::volume::VolumeService,
        &crate::snapshot::SnapshotService,
    ) -> Result<(), CliError>,
) -> Result<(), CliError> {
    if !id.starts_with("vol-") && !id.starts_with("snap-") {
        return Err(CliError::usage(
            s.what,
            format!("InvalidID: '{id}' is not a volume (vol-...) or snapshot (snap-...) id"),
        ));
    }
    f(&s.volumes(), &super::snapshot_cmd::service(s))
}

/// describe-tags' filters: each name and where a row (in EC2's `TagDescription` shape) holds
/// its value (a JSON pointer).
const TAG_FILTERS: &[(&str, &str)] = &[
    ("resource-id", "/ResourceId"),
    ("resource-type", "/ResourceType"),
    ("key", "/Key"),
    ("value", "/Value"),
];

/// `describe-tags`: every tag of the caller's volumes and snapshots, filtered.
fn describe(s: &Session, filters: &[String]) -> Result<(), CliError> {
    let filters = super::ec2_cmd::Filters::parse(filters, TAG_FILTERS)?;
    let vols = s.volumes();
    let snaps = super::snapshot_cmd::service(s);
    let mut rows = Vec::new();
    for v in vols.list().or_fail(s.what)? {
        for t in vols.tags(&v.volume_id).or_fail(s.what)? {
            rows.push(json!({"Key": t.key, "ResourceId": v.volume_id, "ResourceType": "volume", "Value": t.value}));
        }
    }
    for i in snaps.list().or_fail(s.what)? {
        if i.owner_id != snaps.account() {
            continue;
        }
        for t in snaps.tags(&i.snapshot_id).or_fail(s.what)? {
            rows.push(json!({"Key": t.key, "ResourceId": i.snapshot_id, "ResourceType": "snapshot", "Value": t.value}));
        }
    }
    let shown: Vec<Value> = rows.into_iter().filter(|r| filters.matches(r)).collect();
    s.out.print(&json!({ "Tags": shown }))
}
