//! Multi-Region keys: `mrk-` ids, ReplicateKey, UpdatePrimaryRegion, shared material and
//! rotation, each Region's own policy/aliases/tags/state, deletion of a set; through the
//! kms API, the CLI (global `--region`, AWS_REGION) and boto3 over a real `kmsfs serve`.

mod common;
use common::cli::{init, kmsfs, kmsfs_env, run_ok};
use common::kms::*;
use common::serve::*;
use kmsfs::kms::types::*;
use kmsfs::kms::{Client, Embedded};

const EU: &str = "eu-west-1";

/// A new multi-Region key in the env's Region (us-east-1): its id.
fn mrk(e: &Env) -> String {
    e.c.create_key(CreateKeyRequest {
        multi_region: Some(true),
        ..Default::default()
    })
    .unwrap()
    .key_metadata
    .key_id
}

fn replicate(
    c: &Embedded,
    key: &str,
    region: &str,
) -> Result<ReplicateKeyResponse, kmsfs::kms::KmsError> {
    c.replicate_key(ReplicateKeyRequest {
        key_id: key.into(),
        replica_region: region.into(),
        ..Default::default()
    })
}

/// The client of the same caller in `region`.
fn in_region(e: &Env, region: &str) -> Embedded {
    Embedded::new(e.kms.in_region(region).unwrap(), PRINCIPAL)
}

fn describe(c: &Embedded, key: &str) -> Result<KeyMetadata, kmsfs::kms::KmsError> {
    c.describe_key(KeyIdRequest {
        key_id: key.into(),
        grant_tokens: None,
    })
    .map(|r| r.key_metadata)
}

fn encrypt(c: &Embedded, key: &str, pt: &[u8]) -> Vec<u8> {
    c.encrypt(EncryptRequest {
        key_id: key.into(),
        plaintext: kmsfs::crypto::SecretBytes::from_slice(pt),
        ..Default::default()
    })
    .unwrap()
    .ciphertext_blob
}

fn decrypt(c: &Embedded, blob: &[u8]) -> Result<Vec<u8>, kmsfs::kms::KmsError> {
    c.decrypt(DecryptRequest {
        ciphertext_blob: blob.to_vec(),
        ..Default::default()
    })
    .map(|r| r.plaintext.expose().to_vec())
}

fn material_ids(c: &Embedded, key: &str) -> Vec<String> {
    c.list_key_rotations(of_key(key))
        .unwrap()
        .rotations
        .into_iter()
        .map(|r| r.key_material_id)
        .collect()
}

#[test]
fn create_replicate_and_describe_both_sides() {
    let e = env();
    let id = mrk(&e);
    assert!(id.starts_with("mrk-") && id.len() == 36, "{id}");
    assert!(
        id[4..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    let m = e.describe(&id).unwrap();
    assert!(m.multi_region);
    assert_eq!(m.arn, format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{id}"));
    let conf = m.multi_region_configuration.unwrap();
    assert_eq!(conf.multi_region_key_type, "PRIMARY");
    assert!(conf.replica_keys.is_empty());
    // A single-Region key is no mrk.
    let single = e.create_key();
    assert!(!single.starts_with("mrk-"));
    assert!(!e.describe(&single).unwrap().multi_region);

    let r = replicate(&e.c, &id, EU).unwrap();
    let rm = &r.replica_key_metadata;
    assert_eq!(rm.key_id, id);
    assert_eq!(rm.arn, format!("arn:aws:kms:{EU}:{ACCOUNT}:key/{id}"));
    let rconf = rm.multi_region_configuration.as_ref().unwrap();
    assert_eq!(rconf.multi_region_key_type, "REPLICA");
    assert_eq!(rconf.primary_key.region, "us-east-1");
    assert!(r.replica_policy.contains("kms:*"));

    let eu = in_region(&e, EU);
    let seen = describe(&eu, &id).unwrap();
    assert_eq!(seen.arn, rm.arn);
    assert_eq!(
        seen.multi_region_configuration
            .unwrap()
            .multi_region_key_type,
        "REPLICA"
    );
    let conf = e.describe(&id).unwrap().multi_region_configuration.unwrap();
    assert_eq!(conf.replica_keys.len(), 1);
    assert_eq!(conf.replica_keys[0].region, EU);
    assert_eq!(conf.replica_keys[0].arn, rm.arn);
    // By ARN, in ListKeys, and never by the UUID spelling of its bytes.
    describe(&eu, &rm.arn).unwrap();
    let listed = eu.list_keys(ListRequest::default()).unwrap().keys;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].key_id, id);
    let hex = &id[4..];
    let uuid = format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    );
    assert_eq!(code(e.describe(&uuid)), "NotFoundException");
    // The single-Region key is not in the other Region.
    assert_eq!(code(describe(&eu, &single)), "NotFoundException");
    // The trail has the replica's creation in the destination's ARN.
    let lines = e.audit_lines();
    assert!(lines.iter().any(|l| l.operation == "ReplicateKey"));
}

#[test]
fn a_replica_decrypts_what_the_primary_encrypted_and_the_reverse() {
    let e = env();
    let id = mrk(&e);
    replicate(&e.c, &id, EU).unwrap();
    let eu = in_region(&e, EU);
    let blob = encrypt(&e.c, &id, b"from us-east-1");
    assert_eq!(decrypt(&eu, &blob).unwrap(), b"from us-east-1");
    let back = encrypt(&eu, &id, b"from eu-west-1");
    assert_eq!(decrypt(&e.c, &back).unwrap(), b"from eu-west-1");
    // A ciphertext of a single-Region key does not decrypt in another Region.
    let single = e.create_key();
    let blob = encrypt(&e.c, &single, b"stays home");
    assert!(decrypt(&eu, &blob).is_err());
    assert_eq!(decrypt(&e.c, &blob).unwrap(), b"stays home");
}

#[test]
fn rotation_is_shared_and_only_the_primary_changes_it() {
    let e = env();
    let id = mrk(&e);
    replicate(&e.c, &id, EU).unwrap();
    let eu = in_region(&e, EU);
    e.c.rotate_key_on_demand(e.kid(&id)).unwrap();
    // ListKeyRotations lists the rotations (material versions after the first).
    assert_eq!(material_ids(&e.c, &id).len(), 1);
    assert_eq!(material_ids(&eu, &id), material_ids(&e.c, &id));
    let blob = encrypt(&e.c, &id, b"version 2");
    assert_eq!(decrypt(&eu, &blob).unwrap(), b"version 2");

    let enable = |c: &Embedded| {
        c.enable_key_rotation(EnableKeyRotationRequest {
            key_id: id.clone(),
            rotation_period_in_days: Some(90),
        })
    };
    assert_eq!(code(enable(&eu)), "UnsupportedOperationException");
    assert_eq!(
        code(eu.rotate_key_on_demand(e.kid(&id))),
        "UnsupportedOperationException"
    );
    enable(&e.c).unwrap();
    let status = eu.get_key_rotation_status(e.kid(&id)).unwrap();
    assert!(status.key_rotation_enabled);
    assert_eq!(status.rotation_period_in_days, Some(90));
    // Automatic rotation: the replica, read first, asks its primary; same material.
    e.clock.advance_days(91);
    assert_eq!(material_ids(&eu, &id).len(), 2);
    assert_eq!(material_ids(&e.c, &id), material_ids(&eu, &id));
}

#[test]
fn aliases_policy_tags_and_state_are_each_regions_own() {
    let e = env();
    let id = mrk(&e);
    e.tag(&id, &[("team", "a")]).unwrap();
    let r = eu_replica_with_tags(&e, &id);
    assert_eq!(r.replica_tags, vec![tag("region", "eu")]);
    let eu = in_region(&e, EU);
    assert_eq!(
        eu.list_resource_tags(of_key(&id)).unwrap().tags,
        vec![tag("region", "eu")]
    );
    assert_eq!(e.tags(&id), vec![tag("team", "a")]);
    assert_eq!(describe(&eu, &id).unwrap().description, "the EU copy");
    eu.create_alias(alias("alias/eu-only", &id)).unwrap();
    assert_eq!(code(e.describe("alias/eu-only")), "NotFoundException");
    let aliases = eu.list_aliases(of_key(&id)).unwrap().aliases;
    assert_eq!(aliases[0].target_key_id.as_deref(), Some(id.as_str()));
    // Disable the replica: the primary still works, the replica refuses.
    eu.disable_key(e.kid(&id)).unwrap();
    let blob = encrypt(&e.c, &id, b"still fine");
    assert_eq!(code(decrypt(&eu, &blob)), "DisabledException");
    assert_eq!(decrypt(&e.c, &blob).unwrap(), b"still fine");
    assert!(e.describe(&id).unwrap().enabled);
}

fn eu_replica_with_tags(e: &Env, id: &str) -> ReplicateKeyResponse {
    e.c.replicate_key(ReplicateKeyRequest {
        key_id: id.into(),
        replica_region: EU.into(),
        description: Some("the EU copy".into()),
        tags: Some(vec![tag("region", "eu")]),
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn update_primary_region_swaps_the_roles_everywhere() {
    let e = env();
    let id = mrk(&e);
    replicate(&e.c, &id, EU).unwrap();
    replicate(&e.c, &id, "ap-south-1").unwrap();
    e.c.update_primary_region(UpdatePrimaryRegionRequest {
        key_id: id.clone(),
        primary_region: EU.into(),
    })
    .unwrap();
    for (region, kind) in [
        ("us-east-1", "REPLICA"),
        (EU, "PRIMARY"),
        ("ap-south-1", "REPLICA"),
    ] {
        let conf = describe(&in_region(&e, region), &id)
            .unwrap()
            .multi_region_configuration
            .unwrap();
        assert_eq!(conf.multi_region_key_type, kind, "{region}");
        assert_eq!(conf.primary_key.region, EU);
        let mut replicas: Vec<_> = conf
            .replica_keys
            .iter()
            .map(|k| k.region.as_str())
            .collect();
        replicas.sort();
        assert_eq!(replicas, ["ap-south-1", "us-east-1"]);
    }
    // The old primary is a replica now: it neither replicates nor rotates.
    assert_eq!(
        code(replicate(&e.c, &id, "us-west-2")),
        "UnsupportedOperationException"
    );
    assert_eq!(
        code(e.c.rotate_key_on_demand(e.kid(&id))),
        "UnsupportedOperationException"
    );
    in_region(&e, EU).rotate_key_on_demand(e.kid(&id)).unwrap();
    assert_eq!(material_ids(&e.c, &id).len(), 1);
}

#[test]
fn errors_as_aws_names_them() {
    let e = env();
    let single = e.create_key();
    assert_eq!(
        code(replicate(&e.c, &single, EU)),
        "UnsupportedOperationException"
    );
    let id = mrk(&e);
    assert_eq!(
        code(replicate(&e.c, &id, "us-east-1")),
        "AlreadyExistsException"
    );
    replicate(&e.c, &id, EU).unwrap();
    assert_eq!(code(replicate(&e.c, &id, EU)), "AlreadyExistsException");
    let eu = in_region(&e, EU);
    assert_eq!(
        code(replicate(&eu, &id, "us-west-2")),
        "UnsupportedOperationException"
    );
    assert_eq!(
        code(replicate(&e.c, &id, "not a region")),
        "ValidationException"
    );
    let update = |c: &Embedded, region: &str| {
        c.update_primary_region(UpdatePrimaryRegionRequest {
            key_id: id.clone(),
            primary_region: region.into(),
        })
    };
    assert_eq!(code(update(&e.c, "us-west-2")), "NotFoundException");
    assert_eq!(
        code(update(&eu, "us-east-1")),
        "UnsupportedOperationException"
    );
    e.c.disable_key(e.kid(&id)).unwrap();
    assert_eq!(code(replicate(&e.c, &id, "us-west-2")), "DisabledException");
}

#[test]
fn deleting_a_primary_waits_for_its_replicas() {
    let e = env();
    let id = mrk(&e);
    replicate(&e.c, &id, EU).unwrap();
    let eu = in_region(&e, EU);
    let r = e.schedule_deletion(&id, Some(7)).unwrap();
    assert_eq!(r.key_state, "PendingReplicaDeletion");
    assert_eq!(e.describe(&id).unwrap().key_state, "PendingReplicaDeletion");
    eu.schedule_key_deletion(ScheduleKeyDeletionRequest {
        key_id: id.clone(),
        pending_window_in_days: Some(7),
    })
    .unwrap();
    e.clock.advance_days(8);
    assert_eq!(code(describe(&eu, &id)), "NotFoundException");
    let m = e.describe(&id).unwrap();
    assert_eq!(m.key_state, "PendingDeletion");
    assert!(m.deletion_date.is_some());
    assert!(
        m.multi_region_configuration
            .unwrap()
            .replica_keys
            .is_empty()
    );
    e.clock.advance_days(8);
    assert_eq!(code(e.describe(&id)), "NotFoundException");
}

#[test]
fn cli_global_region_and_the_multi_region_verbs() {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let created = run_ok(&home, &["kms", "create-key", "--multi-region"]);
    let id = created["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(id.starts_with("mrk-"), "{id}");
    let r = run_ok(
        &home,
        &[
            "kms",
            "replicate-key",
            "--key-id",
            &id,
            "--replica-region",
            EU,
        ],
    );
    assert_eq!(
        r["ReplicaKeyMetadata"]["MultiRegionConfiguration"]["MultiRegionKeyType"],
        "REPLICA"
    );
    // `--region` before the command, as `aws --region R kms ...`, or after it.
    let eu = run_ok(
        &home,
        &["--region", EU, "kms", "describe-key", "--key-id", &id],
    );
    assert!(
        eu["KeyMetadata"]["Arn"]
            .as_str()
            .unwrap()
            .contains(":eu-west-1:")
    );
    let blob = run_ok(
        &home,
        &[
            "kms",
            "encrypt",
            "--key-id",
            &id,
            "--plaintext",
            "hello",
            "--query",
            "CiphertextBlob",
        ],
    );
    let blob = blob.as_str().unwrap();
    let pt = run_ok(
        &home,
        &[
            "kms",
            "decrypt",
            "--ciphertext-blob",
            blob,
            "--region",
            EU,
            "--query",
            "Plaintext",
        ],
    );
    assert_eq!(pt.as_str().unwrap(), "aGVsbG8=");
    // AWS_REGION (then AWS_DEFAULT_REGION) as the AWS CLI reads them.
    for var in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
        let o = kmsfs_env(
            &home,
            &["kms", "describe-key", "--key-id", &id],
            &[(var, EU)],
        );
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("REPLICA"),
            "{var}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    run_ok(
        &home,
        &[
            "kms",
            "update-primary-region",
            "--key-id",
            &id,
            "--primary-region",
            EU,
        ],
    );
    let us = run_ok(&home, &["kms", "describe-key", "--key-id", &id]);
    assert_eq!(
        us["KeyMetadata"]["MultiRegionConfiguration"]["PrimaryKey"]["Region"],
        EU
    );
    // A failure names the verb and AWS's reason.
    let args = [
        "--region",
        EU,
        "kms",
        "replicate-key",
        "--key-id",
        &id,
        "--replica-region",
        EU,
    ];
    let o = kmsfs(&home, &args);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("kmsfs: ReplicateKey failed") && err.contains("already exists"),
        "{err}"
    );
    // The replica's creation is in the trail: the trail and the keystore agree.
    run_ok(&home, &["audit", "verify"]);
}

#[test]
fn boto3_create_replicate_describe_over_kmsfs_serve() {
    let Some(bin) = python_or_skip("boto3_create_replicate_describe_over_kmsfs_serve") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let s = Server::start(&home, &[]);
    let script = r#"
import boto3
us = boto3.client("kms", region_name="us-east-1")
eu = boto3.client("kms", region_name="eu-west-1")
m = us.create_key(MultiRegion=True, Description="mrk")["KeyMetadata"]
kid = m["KeyId"]
assert kid.startswith("mrk-") and len(kid) == 36, kid
assert m["MultiRegion"] and m["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY"
r = us.replicate_key(KeyId=kid, ReplicaRegion="eu-west-1", Description="replica")
assert r["ReplicaKeyMetadata"]["Arn"].startswith("arn:aws:kms:eu-west-1:"), r
d = eu.describe_key(KeyId=kid)["KeyMetadata"]
c = d["MultiRegionConfiguration"]
assert c["MultiRegionKeyType"] == "REPLICA" and c["PrimaryKey"]["Region"] == "us-east-1", c
blob = us.encrypt(KeyId=kid, Plaintext=b"across")["CiphertextBlob"]
assert eu.decrypt(CiphertextBlob=blob)["Plaintext"] == b"across"
try:
    us.replicate_key(KeyId=kid, ReplicaRegion="eu-west-1")
    raise SystemExit("replicated twice")
except us.exceptions.AlreadyExistsException:
    pass
us.update_primary_region(KeyId=kid, PrimaryRegion="eu-west-1")
assert eu.describe_key(KeyId=kid)["KeyMetadata"]["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY"
print("mrk ok")
"#;
    let o = aws_tool(&bin, "python3", &s.endpoint)
        .args(["-c", script])
        .output()
        .unwrap();
    let out = check(&o, "boto3 multi-Region script");
    assert!(out.contains("mrk ok"), "{out}");
    s.stop();
}
