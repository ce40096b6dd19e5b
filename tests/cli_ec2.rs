//! `kmsfs ec2 ...` run as the AWS documentation's `aws ec2` examples, with `aws` replaced
//! by `kmsfs`: real processes on a real home. Each JSON output is checked against
//! botocore's model of the operation (tests/aws_shape); operations EC2 answers with nothing
//! print nothing.

mod aws_shape;
mod common;
use aws_shape::{ec2, ids};
use common::cli::*;

#[test]
fn ebs_settings_as_aws_ec2() {
    let py = aws_shape::python("cli_ec2::ebs_settings_as_aws_ec2");
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let get = |op, verb| ec2(&home, &py, op, &[verb]);
    let v = get("GetEbsEncryptionByDefault", "get-ebs-encryption-by-default");
    assert_eq!(v["EbsEncryptionByDefault"], true);
    let v = get(
        "DisableEbsEncryptionByDefault",
        "disable-ebs-encryption-by-default",
    );
    assert_eq!(v["EbsEncryptionByDefault"], false);
    let v = get("GetEbsEncryptionByDefault", "get-ebs-encryption-by-default");
    assert_eq!(v["EbsEncryptionByDefault"], false);
    let v = get(
        "EnableEbsEncryptionByDefault",
        "enable-ebs-encryption-by-default",
    );
    assert_eq!(v["EbsEncryptionByDefault"], true);

    let aws_ebs = "arn:aws:kms:us-east-1:111122223333:alias/aws/ebs";
    let v = get("GetEbsDefaultKmsKeyId", "get-ebs-default-kms-key-id");
    assert_eq!(v["KmsKeyId"], aws_ebs);
    assert_eq!(
        run_ok(&home, &["config", "default-kms-key-id"])["KmsKeyId"],
        aws_ebs
    );
    let arn = key_with_alias(&home, "alias/ebs-default");
    let v = ec2(
        &home,
        &py,
        "ModifyEbsDefaultKmsKeyId",
        &[
            "modify-ebs-default-kms-key-id",
            "--kms-key-id",
            "alias/ebs-default",
        ],
    );
    assert_eq!(v["KmsKeyId"], arn);
    let v = get("GetEbsDefaultKmsKeyId", "get-ebs-default-kms-key-id");
    assert_eq!(v["KmsKeyId"], arn);
    assert_eq!(
        run_ok(&home, &["config", "default-kms-key-id"])["KmsKeyId"],
        arn
    );
    let v = get("ResetEbsDefaultKmsKeyId", "reset-ebs-default-kms-key-id");
    assert_eq!(v["KmsKeyId"], aws_ebs);
    // `config default-kms-key-id` sets, shows and resets the same setting.
    run_ok(&home, &["config", "default-kms-key-id", &arn]);
    let v = get("GetEbsDefaultKmsKeyId", "get-ebs-default-kms-key-id");
    assert_eq!(v["KmsKeyId"], arn);
    let v = run_ok(&home, &["config", "default-kms-key-id", "--reset"]);
    assert_eq!(v["KmsKeyId"], aws_ebs);
    // New encrypted volumes use the default key.
    run_ok(&home, &["config", "default-kms-key-id", &arn]);
    let v = ec2(
        &home,
        &py,
        "CreateVolume",
        &["create-volume", "--size", "1", "--encrypted"],
    );
    assert_eq!(v["KmsKeyId"], arn);
}

#[test]
fn volumes_as_aws_ec2() {
    let py = aws_shape::python("cli_ec2::volumes_as_aws_ec2");
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let app = key_with_alias(&home, "alias/app");
    // The AWS CLI documentation's example, tags and zone included.
    let o = kmsfs(
        &home,
        &[
            "ec2",
            "create-volume",
            "--volume-type",
            "gp3",
            "--size",
            "1",
            "--encrypted",
            "--availability-zone",
            "us-east-1a",
            "--tag-specifications",
            "ResourceType=volume,Tags=[{Key=purpose,Value=production},{Key=cost-center,Value=cc123}]",
        ],
    );
    let v1 = ok(&o);
    assert_eq!(
        v1["Tags"][0]["Key"], "cost-center",
        "tags are kept (sorted by key): {v1}"
    );
    aws_shape::check(&py, "ec2", "CreateVolume", &v1);
    assert_eq!(v1["Size"], 1);
    assert_eq!(v1["Encrypted"], true);
    assert_eq!(v1["State"], "available");
    assert_eq!(v1["AvailabilityZone"], "us-east-1a");
    assert!(v1["KmsKeyId"].as_str().unwrap().starts_with("arn:aws:kms:"));
    let id1 = v1["VolumeId"].as_str().unwrap().to_string();
    // A key id alone asks for encryption under it, as EC2.
    let v2 = ec2(
        &home,
        &py,
        "CreateVolume",
        &["create-volume", "--size", "2", "--kms-key-id", "alias/app"],
    );
    assert_eq!(
        (v2["Size"].clone(), v2["KmsKeyId"].clone()),
        (2.into(), app.clone().into())
    );
    let id2 = v2["VolumeId"].as_str().unwrap().to_string();

    let describe = |args: &[&str]| {
        let mut all = vec!["describe-volumes"];
        all.extend_from_slice(args);
        ids(
            &ec2(&home, &py, "DescribeVolumes", &all),
            "Volumes",
            "VolumeId",
        )
    };
    assert_eq!(describe(&[]), sorted(&[&id1, &id2]));
    assert_eq!(describe(&["--volume-ids", &id2]), vec![id2.clone()]);
    assert_eq!(describe(&["--volume-ids", &id1, &id2]).len(), 2);
    assert_eq!(
        describe(&["--filters", "Name=size,Values=2"]),
        vec![id2.clone()]
    );
    assert_eq!(
        describe(&["--filters", "Name=encrypted,Values=true"]).len(),
        2
    );
    assert_eq!(
        describe(&[
            "--filters",
            &format!("Name=volume-id,Values={id1},vol-none")
        ]),
        vec![id1.clone()]
    );
    assert_eq!(
        describe(&[
            "--filters",
            &format!(r#"[{{"Name":"kms-key-id","Values":["{app}"]}}]"#)
        ]),
        vec![id2.clone()]
    );
    // Several filters: all must match.
    assert!(
        describe(&[
            "--filters",
            "Name=size,Values=1",
            "Name=status,Values=in-use"
        ])
        .is_empty()
    );
    assert_eq!(
        describe(&[
            "--filters",
            "Name=size,Values=1",
            "Name=status,Values=available"
        ]),
        vec![id1.clone()]
    );
    assert_eq!(
        describe(&["--filters", "Name=tag:purpose,Values=production"]),
        vec![id1.clone()]
    );
    all_fail(
        &home,
        &[
            (
                &[
                    "ec2",
                    "describe-volumes",
                    "--filters",
                    "Name=colour,Values=red",
                ],
                2,
                "the filter 'colour' is invalid",
            ),
            (
                &[
                    "ec2",
                    "describe-volumes",
                    "--filters",
                    "Name=size,Values=[1",
                ],
                2,
                "bad --filters",
            ),
        ],
    );
    // Refused by the argument parser (clap's messages).
    for (args, needle) in [
        (&["ec2", "create-volume", "--encrypted"][..], "--size"),
        (&["ec2", "create-volume", "--size", "20GiB"][..], "20GiB"),
    ] {
        let o = kmsfs(&home, args);
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains(needle));
    }

    assert!(
        ec2(
            &home,
            &py,
            "DeleteVolume",
            &["delete-volume", "--volume-id", &id1]
        )
        .is_null()
    );
    assert_eq!(describe(&[]), vec![id2.clone()]);
    let o = kmsfs(&home, &["ec2", "describe-volumes", "--volume-ids", &id1]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains(&id1));

    // Unencrypted only when encryption by default is off.
    let o = kmsfs(
        &home,
        &["ec2", "create-volume", "--size", "1", "--no-encrypted"],
    );
    assert!(!o.status.success());
    run_ok(&home, &["ec2", "disable-ebs-encryption-by-default"]);
    let v = ec2(
        &home,
        &py,
        "CreateVolume",
        &["create-volume", "--size", "1"],
    );
    assert_eq!(v["Encrypted"], false);
    assert!(v.get("KmsKeyId").is_none());
}

fn sorted(v: &[&String]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[test]
fn snapshots_as_aws_ec2() {
    let py = aws_shape::python("cli_ec2::snapshots_as_aws_ec2");
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let app = key_with_alias(&home, "alias/app");
    let other = key_with_alias(&home, "alias/other");
    let vol = ec2(
        &home,
        &py,
        "CreateVolume",
        &[
            "create-volume",
            "--size",
            "1",
            "--encrypted",
            "--kms-key-id",
            &app,
        ],
    )["VolumeId"]
        .as_str()
        .unwrap()
        .to_string();
    let s = ec2(
        &home,
        &py,
        "CreateSnapshot",
        &[
            "create-snapshot",
            "--volume-id",
            &vol,
            "--description",
            "This is my root volume snapshot",
        ],
    );
    assert_eq!(s["VolumeId"], vol.as_str());
    assert_eq!(s["VolumeSize"], 1);
    assert_eq!(s["Description"], "This is my root volume snapshot");
    assert_eq!(s["OwnerId"], "111122223333");
    assert_eq!(s["KmsKeyId"], app.as_str());
    let snap = s["SnapshotId"].as_str().unwrap().to_string();

    let c = ec2(
        &home,
        &py,
        "CopySnapshot",
        &[
            "copy-snapshot",
            "--source-region",
            "us-east-1",
            "--source-snapshot-id",
            &snap,
            "--description",
            "This is my copied snapshot.",
            "--encrypted",
            "--kms-key-id",
            &other,
        ],
    );
    let copy = c["SnapshotId"].as_str().unwrap().to_string();
    assert_ne!(copy, snap);
    fails(
        &kmsfs(
            &home,
            &[
                "ec2",
                "copy-snapshot",
                "--source-region",
                "eu-west-1",
                "--source-snapshot-id",
                &snap,
            ],
        ),
        2,
        "us-east-1",
    );

    let describe = |args: &[&str]| {
        let mut all = vec!["describe-snapshots"];
        all.extend_from_slice(args);
        ec2(&home, &py, "DescribeSnapshots", &all)
    };
    let all = describe(&["--owner-ids", "self"]);
    assert_eq!(ids(&all, "Snapshots", "SnapshotId").len(), 2);
    let v = describe(&["--snapshot-ids", &copy]);
    assert_eq!(ids(&v, "Snapshots", "SnapshotId"), vec![copy.clone()]);
    assert_eq!(v["Snapshots"][0]["KmsKeyId"], other.as_str());
    assert_eq!(
        v["Snapshots"][0]["Description"],
        "This is my copied snapshot."
    );
    let v = describe(&["--filters", "Name=description,Values=*copied*"]);
    assert_eq!(ids(&v, "Snapshots", "SnapshotId"), vec![copy.clone()]);
    let v = describe(&[
        "--owner-ids",
        "111122223333",
        "--filters",
        "Name=status,Values=pending",
    ]);
    assert!(ids(&v, "Snapshots", "SnapshotId").is_empty());
    let o = kmsfs(
        &home,
        &[
            "ec2",
            "describe-snapshots",
            "--snapshot-ids",
            "snap-0123456789abcdef0",
        ],
    );
    assert!(
        !o.status.success(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    // Sharing, both ways AWS documents it.
    let attr = |what: &[&str]| {
        let mut all = vec!["describe-snapshot-attribute", "--snapshot-id", &snap];
        all.extend_from_slice(what);
        ec2(&home, &py, "DescribeSnapshotAttribute", &all)
    };
    let modify = |args: &[&str]| {
        let mut all = vec!["modify-snapshot-attribute", "--snapshot-id", &snap];
        all.extend_from_slice(args);
        assert!(ec2(&home, &py, "ModifySnapshotAttribute", &all).is_null());
    };
    modify(&[
        "--attribute",
        "createVolumePermission",
        "--operation-type",
        "add",
        "--user-ids",
        "123456789012",
    ]);
    let v = attr(&["--attribute", "createVolumePermission"]);
    assert_eq!(
        v["CreateVolumePermissions"],
        serde_json::json!([{"UserId": "123456789012"}])
    );
    modify(&[
        "--create-volume-permission",
        "Remove=[{UserId=123456789012}]",
    ]);
    modify(&[
        "--create-volume-permission",
        r#"{"Add":[{"UserId":"210987654321"}]}"#,
    ]);
    let v = attr(&["--attribute", "createVolumePermission"]);
    assert_eq!(
        v["CreateVolumePermissions"],
        serde_json::json!([{"UserId": "210987654321"}])
    );
    assert!(
        ec2(
            &home,
            &py,
            "ResetSnapshotAttribute",
            &[
                "reset-snapshot-attribute",
                "--snapshot-id",
                &snap,
                "--attribute",
                "createVolumePermission"
            ],
        )
        .is_null()
    );
    let v = attr(&["--attribute", "createVolumePermission"]);
    assert_eq!(v["CreateVolumePermissions"], serde_json::json!([]));

    // A volume from the snapshot names it.
    let v = ec2(
        &home,
        &py,
        "CreateVolume",
        &["create-volume", "--snapshot-id", &copy],
    );
    assert_eq!(v["SnapshotId"], copy.as_str());
    assert_eq!(v["Size"], 1);
    assert_eq!(v["KmsKeyId"], other.as_str());

    assert!(
        ec2(
            &home,
            &py,
            "DeleteSnapshot",
            &["delete-snapshot", "--snapshot-id", &snap]
        )
        .is_null()
    );
    let v = describe(&[]);
    assert_eq!(ids(&v, "Snapshots", "SnapshotId"), vec![copy]);
}
