//! EC2 tags on volumes and snapshots, through the binary as `aws ec2` documents them:
//! `--tag-specifications` on create-volume, create-snapshot and copy-snapshot, `Tags` in
//! describe-volumes/describe-snapshots, the `tag:KEY` and `tag-key` filters, create-tags
//! (a key set again takes the new value), delete-tags (by key, or key and value),
//! describe-tags; a bad tag is refused before anything is made. Outputs are checked against
//! botocore's shapes.

mod aws_shape;
mod common;
use aws_shape::{ec2, ids};
use common::cli::*;

#[test]
fn tags_as_aws_ec2() {
    let py = aws_shape::python("cli_ec2_tags::tags_as_aws_ec2");
    let dir = tempfile::tempdir().unwrap();
    let home = init(dir.path());
    let spec = "ResourceType=volume,Tags=[{Key=Name,Value=db},{Key=team,Value=core}]";
    let v1 = ec2(
        &home,
        &py,
        "CreateVolume",
        &["create-volume", "--size", "1", "--tag-specifications", spec],
    );
    let vol = v1["VolumeId"].as_str().unwrap().to_string();
    assert_eq!(v1["Tags"][0]["Key"], "Name", "{v1}");
    let v2 = ec2(
        &home,
        &py,
        "CreateVolume",
        &["create-volume", "--size", "1"],
    );
    let other = v2["VolumeId"].as_str().unwrap().to_string();
    assert!(
        v2.get("Tags").is_none(),
        "no Tags member when there are none: {v2}"
    );
    // Filters.
    let d = ec2(
        &home,
        &py,
        "DescribeVolumes",
        &["describe-volumes", "--filters", "Name=tag:Name,Values=db"],
    );
    assert_eq!(ids(&d, "Volumes", "VolumeId"), [vol.as_str()]);
    let d = ec2(
        &home,
        &py,
        "DescribeVolumes",
        &["describe-volumes", "--filters", "Name=tag-key,Values=team"],
    );
    assert_eq!(ids(&d, "Volumes", "VolumeId"), [vol.as_str()]);
    // create-tags on both; a key set again takes the new value.
    ec2(
        &home,
        &py,
        "CreateTags",
        &[
            "create-tags",
            "--resources",
            &vol,
            &other,
            "--tags",
            "Key=env,Value=prod",
            "Key=Name,Value=db2",
        ],
    );
    let d = ec2(
        &home,
        &py,
        "DescribeVolumes",
        &["describe-volumes", "--volume-ids", &vol],
    );
    let tags = &d["Volumes"][0]["Tags"];
    assert_eq!(tags.as_array().unwrap().len(), 3, "{tags}");
    assert!(
        tags.as_array()
            .unwrap()
            .iter()
            .any(|t| t["Key"] == "Name" && t["Value"] == "db2")
    );
    // delete-tags: key and a wrong value keeps it; key alone removes it.
    ec2(
        &home,
        &py,
        "DeleteTags",
        &[
            "delete-tags",
            "--resources",
            &vol,
            "--tags",
            "Key=env,Value=dev",
        ],
    );
    let dt = ec2(
        &home,
        &py,
        "DescribeTags",
        &[
            "describe-tags",
            "--filters",
            &format!("Name=resource-id,Values={vol}"),
        ],
    );
    assert_eq!(dt["Tags"].as_array().unwrap().len(), 3, "{dt}");
    ec2(
        &home,
        &py,
        "DeleteTags",
        &["delete-tags", "--resources", &vol, "--tags", "Key=env"],
    );
    let dt = ec2(
        &home,
        &py,
        "DescribeTags",
        &[
            "describe-tags",
            "--filters",
            &format!("Name=resource-id,Values={vol}"),
        ],
    );
    assert_eq!(dt["Tags"].as_array().unwrap().len(), 2, "{dt}");
    // Snapshots: tagged at creation and at copy; filtered; describe-tags sees them.
    let sspec = "ResourceType=snapshot,Tags=[{Key=backup,Value=daily}]";
    let snap = ec2(
        &home,
        &py,
        "CreateSnapshot",
        &[
            "create-snapshot",
            "--volume-id",
            &vol,
            "--tag-specifications",
            sspec,
        ],
    );
    let sid = snap["SnapshotId"].as_str().unwrap().to_string();
    assert_eq!(snap["Tags"][0]["Value"], "daily", "{snap}");
    let region = "us-east-1";
    let copy = ec2(
        &home,
        &py,
        "CopySnapshot",
        &[
            "copy-snapshot",
            "--source-snapshot-id",
            &sid,
            "--source-region",
            region,
            "--tag-specifications",
            "ResourceType=snapshot,Tags=[{Key=copy,Value=yes}]",
        ],
    );
    let cid = copy["SnapshotId"].as_str().unwrap().to_string();
    let d = ec2(
        &home,
        &py,
        "DescribeSnapshots",
        &[
            "describe-snapshots",
            "--filters",
            "Name=tag:copy,Values=yes",
        ],
    );
    assert_eq!(ids(&d, "Snapshots", "SnapshotId"), [cid.as_str()]);
    let dt = ec2(
        &home,
        &py,
        "DescribeTags",
        &[
            "describe-tags",
            "--filters",
            "Name=resource-type,Values=snapshot",
        ],
    );
    assert_eq!(dt["Tags"].as_array().unwrap().len(), 2, "{dt}");
    ec2(
        &home,
        &py,
        "DeleteTags",
        &["delete-tags", "--resources", &sid],
    );
    let d = ec2(
        &home,
        &py,
        "DescribeSnapshots",
        &["describe-snapshots", "--snapshot-ids", &sid],
    );
    assert!(d["Snapshots"][0].get("Tags").is_none(), "{d}");
    // A bad tag is refused before anything is made; reserved keys too.
    let before = run_ok(&home, &["ec2", "describe-volumes"])["Volumes"]
        .as_array()
        .unwrap()
        .len();
    let o = kmsfs(
        &home,
        &[
            "ec2",
            "create-volume",
            "--size",
            "1",
            "--tag-specifications",
            "ResourceType=volume,Tags=[{Key=aws:x,Value=y}]",
        ],
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("aws:"), "{o:?}");
    let after = run_ok(&home, &["ec2", "describe-volumes"])["Volumes"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after);
    let o = kmsfs(
        &home,
        &[
            "ec2",
            "create-tags",
            "--resources",
            "i-123",
            "--tags",
            "Key=a,Value=b",
        ],
    );
    assert!(!o.status.success());
}
