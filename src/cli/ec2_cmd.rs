//! `kmsfs ec2 <verb>`: the `aws ec2` verbs and flags for EBS volumes, snapshots and the
//! account's EBS encryption settings, so that commands copied from AWS documentation run
//! with `aws` replaced by `kmsfs`. Volumes and settings here, snapshots in
//! `ec2_snapshot_cmd.rs`; both over the services the short verbs use (`volume_cmd.rs`,
//! `snapshot_cmd.rs`). Output in EC2's field names and shapes (sizes in whole GiB); verbs
//! that EC2 answers with nothing print nothing.

use super::aws_shorthand::{self, strings};
use super::ec2_snapshot_cmd::{self as snap, SnapshotVerb};
use super::error::{CliError, OrFail};
use super::session::Session;
use crate::volume::{CreateVolume, VolumeInfo, VolumeService};
use clap::Subcommand;
use serde_json::{Value, json};

const GIB: u64 = 1 << 30;

#[derive(Debug, Subcommand)]
pub(crate) enum Ec2Command {
    /// Create a volume (`aws ec2 create-volume`): prints the volume.
    CreateVolume(CreateVolumeArgs),
    /// Describe volumes (`aws ec2 describe-volumes`), all or those named, narrowed by
    /// --filters.
    DescribeVolumes {
        /// Volume ids (vol-...).
        #[arg(long, num_args = 1..)]
        volume_ids: Vec<String>,
        /// `Name=NAME,Values=V1,V2` (or JSON). Names: volume-id, status, encrypted,
        /// snapshot-id, size (GiB), create-time, availability-zone, volume-type, kms-key-id,
        /// tag:KEY (the tag's value), tag-key. `*` and `?` are wildcards.
        #[arg(long, num_args = 1..)]
        filters: Vec<String>,
    },
    /// Delete a volume that is not mounted (`aws ec2 delete-volume`); prints nothing.
    DeleteVolume {
        #[arg(long)]
        volume_id: String,
    },
    /// Whether new volumes are encrypted by default.
    GetEbsEncryptionByDefault,
    /// Encrypt new volumes by default.
    EnableEbsEncryptionByDefault,
    /// Allow unencrypted volumes (`create-volume` without --encrypted).
    DisableEbsEncryptionByDefault,
    /// The KMS key new encrypted volumes use by default (alias/aws/ebs unless modified).
    GetEbsDefaultKmsKeyId,
    /// Use this KMS key (id, ARN or alias) for new encrypted volumes by default.
    ModifyEbsDefaultKmsKeyId {
        #[arg(long)]
        kms_key_id: String,
    },
    /// Go back to alias/aws/ebs as the default KMS key.
    ResetEbsDefaultKmsKeyId,
    #[command(flatten)]
    Snapshot(SnapshotVerb),
    #[command(flatten)]
    Tags(super::ec2_tags_cmd::TagVerb),
}

// `ec2 create-volume`.
#[derive(Debug, clap::Args)]
pub(crate) struct CreateVolumeArgs {
    /// Size in GiB (an integer, as EBS); with --snapshot-id at least the snapshot's, default
    /// it. (`kmsfs volume create --size` takes units: 20GiB, 512MiB.)
    #[arg(long, required_unless_present = "snapshot_id")]
    size: Option<u64>,
    /// Encrypt the volume (with --kms-key-id, else the default KMS key).
    #[arg(long)]
    encrypted: bool,
    /// Leave the volume unencrypted (refused while encryption by default is on).
    #[arg(long, conflicts_with = "encrypted")]
    no_encrypted: bool,
    /// KMS key for the volume's data key (key id, ARN or alias).
    #[arg(long)]
    kms_key_id: Option<String>,
    /// Make the volume from this snapshot.
    #[arg(long)]
    snapshot_id: Option<String>,
    /// Accepted and ignored: every kmsfs volume is in the Region's zone `a`.
    #[arg(long)]
    availability_zone: Option<String>,
    /// Accepted and ignored: kmsfs volumes have one type (shown as gp3).
    #[arg(long)]
    volume_type: Option<String>,
    /// `ResourceType=volume,Tags=[{Key=k,Value=v}]` (or JSON): the new volume's tags.
    #[arg(long, num_args = 1..)]
    tag_specifications: Vec<String>,
    /// Accepted and ignored (kmsfs volumes have no IOPS or throughput settings).
    #[arg(long)]
    iops: Option<u64>,
    #[arg(long, hide = true)]
    throughput: Option<u64>,
}

/// The failure name of a verb: `ec2 create-volume failed`.
pub(super) fn failed(cmd: &Ec2Command) -> String {
    match cmd {
        Ec2Command::Snapshot(v) => super::error::failed("ec2", v),
        Ec2Command::Tags(v) => super::error::failed("ec2", v),
        c => super::error::failed("ec2", c),
    }
}

/// `kmsfs ec2 <verb>`.
pub(super) fn run(s: &Session, cmd: &Ec2Command) -> Result<(), CliError> {
    let svc = s.volumes();
    match cmd {
        Ec2Command::CreateVolume(a) => {
            let v = create_volume(s, a)?;
            s.out.print(&volume_json(s, &svc, &v))
        }
        Ec2Command::DescribeVolumes {
            volume_ids,
            filters,
        } => {
            let filters = Filters::parse(filters, VOLUME_FILTERS)?;
            let all = if volume_ids.is_empty() {
                svc.list().or_fail(s.what)?
            } else {
                let one = |id: &String| svc.describe(id).or_fail(s.what);
                volume_ids.iter().map(one).collect::<Result<_, _>>()?
            };
            let shown: Vec<Value> = all
                .iter()
                .map(|v| volume_json(s, &svc, v))
                .filter(|v| filters.matches(v))
                .collect();
            s.out.print(&json!({ "Volumes": shown }))
        }
        Ec2Command::DeleteVolume { volume_id } => s.done(svc.delete(volume_id)),
        Ec2Command::GetEbsEncryptionByDefault => encryption_by_default(s, None),
        Ec2Command::EnableEbsEncryptionByDefault => encryption_by_default(s, Some(true)),
        Ec2Command::DisableEbsEncryptionByDefault => encryption_by_default(s, Some(false)),
        Ec2Command::GetEbsDefaultKmsKeyId => s.out.print(&default_key(s, false)?),
        Ec2Command::ModifyEbsDefaultKmsKeyId { kms_key_id } => {
            let set = svc.set_default_key(kms_key_id).or_fail(s.what)?;
            s.out.print(&json!({ "KmsKeyId": set.default_kms_key_id }))
        }
        Ec2Command::ResetEbsDefaultKmsKeyId => s.out.print(&default_key(s, true)?),
        Ec2Command::Snapshot(v) => snap::run(s, v),
        Ec2Command::Tags(v) => super::ec2_tags_cmd::run(s, v),
    }
}

fn create_volume(s: &Session, a: &CreateVolumeArgs) -> Result<VolumeInfo, CliError> {
    // Checked before the volume is made, so that a bad tag makes nothing.
    let tags = super::ec2_tags_cmd::from_specs(&a.tag_specifications, "volume")?;
    crate::tags::apply(&[], &tags).map_err(|e| CliError::usage(s.what, e))?;
    let size = match a.size {
        Some(gib) => gib
            .checked_mul(GIB)
            .ok_or_else(|| CliError::usage(s.what, format!("--size {gib} GiB is too large")))?,
        None => 0,
    };
    let opts = CreateVolume {
        size,
        kms_key_id: a.kms_key_id.clone(),
        encrypted: match (a.encrypted, a.no_encrypted) {
            (true, _) => Some(true),
            (false, true) => Some(false),
            // EC2: a key id alone asks for encryption too.
            (false, false) => a.kms_key_id.as_ref().map(|_| true),
        },
        snapshot_id: None,
    };
    let v = match &a.snapshot_id {
        None => s.volumes().create(&opts).or_fail(s.what)?,
        Some(id) => super::snapshot_cmd::service(s)
            .restore(id, &opts)
            .or_fail(s.what)?,
    };
    if !tags.is_empty() {
        s.volumes().tag(&v.volume_id, &tags).or_fail(s.what)?;
    }
    Ok(v)
}

/// The Availability Zone every volume is shown in: the home Region's zone `a`.
pub(super) fn zone(s: &Session) -> String {
    format!("{}a", s.home.config().region)
}

/// A volume in EC2's `Volume` shape.
fn volume_json(s: &Session, svc: &VolumeService, v: &VolumeInfo) -> Value {
    let mut out = json!({
        "AvailabilityZone": zone(s),
        "CreateTime": v.create_time,
        "Encrypted": v.encrypted,
        "Size": v.size_bytes.div_ceil(GIB),
        "SnapshotId": v.snapshot_id.clone().unwrap_or_default(),
        "State": v.state,
        "VolumeId": v.volume_id,
        "Iops": 3000,
        "VolumeType": "gp3",
        "MultiAttachEnabled": false,
        "Throughput": 125,
        "Attachments": [],
    });
    if let Some(k) = &v.kms_key_id {
        out["KmsKeyId"] = k.clone().into();
    }
    let tags = svc.tags(&v.volume_id).unwrap_or_default();
    super::ec2_tags_cmd::add_json(&mut out, &tags);
    if let Some(m) = &v.mount_point {
        out["Attachments"] = json!([{
            "Device": m, "State": "attached", "VolumeId": v.volume_id,
            "DeleteOnTermination": false,
        }]);
    }
    out
}

/// describe-volumes' filters: each name and where a volume (in EC2's shape) holds its
/// values (a JSON pointer).
const VOLUME_FILTERS: &[(&str, &str)] = &[
    ("volume-id", "/VolumeId"),
    ("status", "/State"),
    ("encrypted", "/Encrypted"),
    ("snapshot-id", "/SnapshotId"),
    ("size", "/Size"),
    ("create-time", "/CreateTime"),
    ("availability-zone", "/AvailabilityZone"),
    ("volume-type", "/VolumeType"),
    ("kms-key-id", "/KmsKeyId"),
    ("attachment.device", "/Attachments/0/Device"),
];

/// `--filters`: each a name and the values one of which must match (all filters must).
/// `known` names each filter the verb takes and where an item holds its values; `tag:KEY`
/// and `tag-key` work on every verb.
pub(super) struct Filters {
    known: &'static [(&'static str, &'static str)],
    list: Vec<(String, Vec<String>)>,
}

impl Filters {
    /// Parse `--filters` values; a name not in `known` (nor `tag:KEY`, `tag-key`) is refused,
    /// as EC2 refuses it.
    pub(super) fn parse(
        args: &[String],
        known: &'static [(&'static str, &'static str)],
    ) -> Result<Filters, CliError> {
        let mut out = Vec::new();
        for f in aws_shorthand::structures(args, "--filters")? {
            let name = f["Name"].as_str().unwrap_or_default().to_string();
            let tag = name.starts_with("tag:") || name == "tag-key";
            if !tag && !known.iter().any(|(n, _)| *n == name) {
                return Err(CliError::usage(
                    "bad --filters",
                    format!("InvalidParameterValue: the filter '{name}' is invalid"),
                )
                .hint(format!("filters here: {}", names(known))));
            }
            out.push((name, strings(&f["Values"])));
        }
        Ok(Filters { known, list: out })
    }

    /// Whether `item` (in EC2's shape) passes every filter.
    pub(super) fn matches(&self, item: &Value) -> bool {
        self.list.iter().all(|(name, wanted)| {
            let have = self.values(item, name);
            have.iter().any(|h| wanted.iter().any(|w| glob(w, h)))
        })
    }

    /// The values of `item` filter `name` compares.
    fn values(&self, item: &Value, name: &str) -> Vec<String> {
        if let Some(tags) = super::ec2_tags_cmd::filter_values(item, name) {
            return tags;
        }
        match self.known.iter().find(|(n, _)| *n == name) {
            Some((_, at)) => strings(item.pointer(at).unwrap_or(&Value::Null)),
            None => vec![],
        }
    }
}

/// The names of `known`, for a hint.
fn names(known: &[(&str, &str)]) -> String {
    known.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

/// EC2's filter wildcards: `*` any run of characters, `?` one.
fn glob(pattern: &str, s: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pattern.chars().collect(), s.chars().collect());
    let (mut pi, mut si, mut star, mut mark) = (0, 0, None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// `get-`/`enable-`/`disable-ebs-encryption-by-default`.
fn encryption_by_default(s: &Session, set_to: Option<bool>) -> Result<(), CliError> {
    let svc = s.volumes();
    let mut set = svc.settings().or_fail(s.what)?;
    if let Some(on) = set_to {
        set.encryption_by_default = on;
        svc.set_settings(&set).or_fail(s.what)?;
    }
    s.out
        .print(&json!({ "EbsEncryptionByDefault": set.encryption_by_default }))
}

/// `get-ebs-default-kms-key-id` (`reset`: after going back to alias/aws/ebs, which it shows
/// as EC2 does, as the alias's ARN). Also `kmsfs config default-kms-key-id [--reset]`.
pub(super) fn default_key(s: &Session, reset: bool) -> Result<Value, CliError> {
    let svc = s.volumes();
    let mut set = svc.settings().or_fail(s.what)?;
    if reset {
        set.default_kms_key_id = None;
        svc.set_settings(&set).or_fail(s.what)?;
    }
    let key = set.default_kms_key_id.unwrap_or_else(|| {
        let c = s.home.config();
        format!("arn:aws:kms:{}:{}:alias/aws/ebs", c.region, s.account())
    });
    Ok(json!({ "KmsKeyId": key }))
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn wildcards() {
        assert!(glob("vol-*", "vol-123"));
        assert!(glob("t?ue", "true"));
        assert!(glob("*", ""));
        assert!(!glob("vol-1", "vol-12"));
        assert!(glob("*-1*3", "vol-123"));
        assert!(!glob("*-2*", "vol-123"));
        assert!(!glob("snap-*", "vol-1"));
    }
}
