//! Seed files and regions, end to end: `kmsfs kms seed` (keys, aliases, tags, rotation as
//! written; applying again changes nothing; a conflict or a bad file changes nothing), the
//! same seed in two `kmsfs serve --ephemeral --seed` servers (a ciphertext of one decrypts
//! in the other, through the remote client), and boto3 clients of two regions against one
//! server (their own keys and aliases, a key ARN of one region NotFound in the other, a
//! reset wiping every region and applying the seed again), the audit trail verifying after.

mod common;
use common::cli::{fails, init, kmsfs, run_ok, s};
use common::serve::*;
use kmsfs::kms::types::*;
use kmsfs::kms::{Client, Remote};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

const APP: &str = "11111111-2222-3333-4444-555555555555";
const EU: &str = "11111111-2222-3333-4444-666666666666";
const M1: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
const M2: &str = "2122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40";

/// The seed of these tests: a key of the home's region with two material versions, and a
/// key in eu-west-1 behind an alias of the same name (with fixed material too, so that it
/// is the same key after a reset and in another server).
fn seed_text() -> String {
    format!(
        r#"# the seed of tests/kms_seed_regions.rs
[[keys]]
key_id = "{APP}"
description = "app key"
aliases = ["alias/app"]
tags = {{ Project = "demo", Owner = "qa" }}
rotation_period_days = 365
key_material = ["{M1}", "{M2}"]

[[keys]]
key_id = "{EU}"
region = "eu-west-1"
description = "eu key"
aliases = ["alias/app"]
key_material = ["{M2}"]
"#
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn remote(endpoint: &str, region: &str) -> Remote {
    let secret = Zeroizing::new(SECRET_ACCESS_KEY.to_string());
    Remote::new(endpoint, region, ACCESS_KEY_ID, secret).unwrap()
}

fn key(id: &str) -> KeyIdRequest {
    KeyIdRequest {
        key_id: id.into(),
        grant_tokens: None,
    }
}

/// moto's reset route, `POST /moto-api/reset` (not signed): the response's status line.
fn moto_reset(endpoint: &str) -> String {
    let addr = endpoint.trim_start_matches("http://");
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    let req = format!(
        "POST /moto-api/reset HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    c.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    out.lines().next().unwrap_or_default().to_string()
}

#[test]
fn kms_seed_applies_once_and_refuses_conflicts() {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let seed = write(d.path(), "seed.toml", &seed_text());
    let r = run_ok(&home, &["kms", "seed", s(&seed)]);
    assert_eq!(r["Changed"], true);
    assert_eq!(r["Keys"][0]["Result"], "created");
    assert_eq!(r["Keys"][1]["Region"], "eu-west-1");
    // As written: description, tags, rotation, two material versions, the alias.
    let m = &run_ok(&home, &["kms", "describe-key", "--key-id", "alias/app"])["KeyMetadata"];
    assert_eq!(
        (m["KeyId"].as_str(), m["Description"].as_str()),
        (Some(APP), Some("app key"))
    );
    let tags = run_ok(&home, &["kms", "list-resource-tags", "--key-id", APP]);
    assert_eq!(tags["Tags"].as_array().unwrap().len(), 2);
    let rot = run_ok(&home, &["kms", "get-key-rotation-status", "--key-id", APP]);
    assert_eq!(
        (
            rot["KeyRotationEnabled"].as_bool(),
            rot["RotationPeriodInDays"].as_u64()
        ),
        (Some(true), Some(365))
    );
    let rots = run_ok(&home, &["kms", "list-key-rotations", "--key-id", APP]);
    assert_eq!(rots["Rotations"].as_array().unwrap().len(), 1);
    let eu = run_ok(
        &home,
        &[
            "kms",
            "--region",
            "eu-west-1",
            "describe-key",
            "--key-id",
            "alias/app",
        ],
    );
    assert_eq!(eu["KeyMetadata"]["KeyId"], EU);
    assert!(
        eu["KeyMetadata"]["Arn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:kms:eu-west-1:")
    );
    // Each region lists its own keys only.
    let list = |region: &str| {
        run_ok(&home, &["kms", "list-keys", "--region", region])["Keys"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(
        (list("us-east-1"), list("eu-west-1"), list("ap-south-1")),
        (1, 1, 0)
    );
    // Again: nothing changes, and the output says so.
    let again = run_ok(&home, &["kms", "seed", s(&seed)]);
    assert_eq!(again["Changed"], false);
    assert_eq!(again["Keys"][0]["Result"], "kept");
    assert_eq!(again["Keys"][1]["AliasesKept"][0], "alias/app");
    // A conflict (a new key whose alias points elsewhere, after a key that would be new):
    // refused, naming the key, and nothing is changed.
    let other = "22222222-2222-3333-4444-555555555555";
    let conflict = write(
        d.path(),
        "conflict.toml",
        &format!(
            "[[keys]]\nkey_id = \"{other}\"\naliases = [\"alias/other\"]\n\n[[keys]]\nkey_id = \"{APP}\"\nkey_material = [\"{}\"]\n",
            "7".repeat(64)
        ),
    );
    let e = fails(
        &kmsfs(&home, &["kms", "seed", s(&conflict)]),
        5,
        "other key material",
    );
    assert!(
        e.contains(APP) && e.contains("line 5") && e.contains("nothing was changed"),
        "{e}"
    );
    assert!(!e.contains(&"7".repeat(64)), "{e}");
    assert_eq!(list("us-east-1"), 1);
    fails(
        &kmsfs(&home, &["kms", "describe-key", "--key-id", "alias/other"]),
        5,
        "NotFound",
    );
    // A bad file: the line, and exit 2.
    let bad = write(
        d.path(),
        "bad.toml",
        &format!("[[keys]]\nkey_id = \"{APP}\"\ncolor = 1\n"),
    );
    fails(
        &kmsfs(&home, &["kms", "seed", s(&bad)]),
        2,
        "line 3: unknown field `color`",
    );
    // The seed's audit lines, and a trail that verifies.
    let trail = std::fs::read_to_string(home.join("kms/audit.log")).unwrap();
    let seeded = |outcome: &str| {
        (trail.lines())
            .filter(|l| l.contains("\"operation\":\"SeedKey\"") && l.contains(outcome))
            .count()
    };
    // Written ahead (Pending), then with the outcome.
    assert_eq!((seeded("\"Pending\""), seeded("\"Success\"")), (2, 2));
    assert!(!trail.contains(M1) && !trail.contains(M2));
    assert_eq!(run_ok(&home, &["audit", "verify"])["Verified"], true);
}

#[test]
fn one_seed_in_two_ephemeral_servers_gives_the_same_keys() {
    let d = tempfile::tempdir().unwrap();
    let seed = write(d.path(), "seed.toml", &seed_text());
    let start = || Server::start(d.path(), &["--ephemeral", "--seed", s(&seed)]);
    let (a, b) = (start(), start());
    for region in ["us-east-1", "eu-west-1"] {
        let (ra, rb) = (remote(&a.endpoint, region), remote(&b.endpoint, region));
        let blob = ra
            .encrypt(EncryptRequest {
                key_id: "alias/app".into(),
                plaintext: kmsfs::crypto::SecretBytes::from_slice(b"seeded"),
                ..Default::default()
            })
            .unwrap()
            .ciphertext_blob;
        let out = rb
            .decrypt(DecryptRequest {
                ciphertext_blob: blob,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(out.plaintext.expose(), b"seeded");
        let ma = ra.describe_key(key("alias/app")).unwrap().key_metadata;
        let mb = rb.describe_key(key("alias/app")).unwrap().key_metadata;
        assert_eq!(ma.current_key_material_id, mb.current_key_material_id);
        assert_eq!(Some(out.key_material_id), ma.current_key_material_id);
    }
    // A reset goes back to the seeded state: keys made since are gone, in every region.
    let (us, eu) = (
        remote(&a.endpoint, "us-east-1"),
        remote(&a.endpoint, "eu-west-1"),
    );
    let made = eu
        .create_key(Default::default())
        .unwrap()
        .key_metadata
        .key_id;
    assert!(moto_reset(&a.endpoint).contains("200"));
    let ids = |c: &Remote| -> Vec<String> {
        c.list_keys(Default::default())
            .unwrap()
            .keys
            .into_iter()
            .map(|k| k.key_id)
            .collect()
    };
    assert_eq!(
        (ids(&us), ids(&eu)),
        (vec![APP.to_string()], vec![EU.to_string()])
    );
    assert!(!ids(&eu).contains(&made));
    a.stop();
    b.stop();
}

/// boto3 in two regions against one server.
const BOTO3_REGIONS: &str = r#"
import json, os, sys, urllib.request
import boto3, botocore
ep = os.environ["AWS_ENDPOINT_URL_KMS"]
us = boto3.client("kms", region_name="us-east-1")
eu = boto3.client("kms", region_name="eu-west-1")
ids = lambda c: sorted(k["KeyId"] for k in c.list_keys()["Keys"])
APP, EU = sys.argv[1], sys.argv[2]
assert ids(us) == [APP] and ids(eu) == [EU], (ids(us), ids(eu))
k_us = us.create_key(Description="us")["KeyMetadata"]
k_eu = eu.create_key(Description="eu")["KeyMetadata"]
assert ":us-east-1:" in k_us["Arn"] and ":eu-west-1:" in k_eu["Arn"]
assert k_us["KeyId"] not in ids(eu) and k_eu["KeyId"] not in ids(us)
# A key ARN (or id) of one region is NotFound in the other.
for c, k in ((eu, k_us), (us, k_eu)):
    for ref in (k["Arn"], k["KeyId"]):
        try:
            c.describe_key(KeyId=ref)
            raise SystemExit("found " + ref + " in the other region")
        except c.exceptions.NotFoundException:
            pass
# The same alias name in both regions, each to its region's key.
us.create_alias(AliasName="alias/same", TargetKeyId=k_us["KeyId"])
eu.create_alias(AliasName="alias/same", TargetKeyId=k_eu["KeyId"])
assert us.describe_key(KeyId="alias/same")["KeyMetadata"]["KeyId"] == k_us["KeyId"]
assert eu.describe_key(KeyId="alias/same")["KeyMetadata"]["KeyId"] == k_eu["KeyId"]
# AWS managed keys are per region.
assert us.describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]["KeyId"] != eu.describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]["KeyId"]
ct = eu.encrypt(KeyId="alias/app", Plaintext=b"x")["CiphertextBlob"]
# Reset: every region wiped, then the seed applied again.
r = urllib.request.urlopen(urllib.request.Request(ep + "/moto-api/reset", method="POST"))
assert json.loads(r.read()) == {"status": "ok"}
assert ids(us) == [APP] and ids(eu) == [EU], (ids(us), ids(eu))
assert [a["AliasName"] for a in eu.list_aliases()["Aliases"]] == ["alias/app"]
assert eu.decrypt(CiphertextBlob=ct)["Plaintext"] == b"x"
print("regions: all ok")
"#;

#[test]
fn boto3_sees_each_region_apart() {
    let Some(bin) = python_or_skip("boto3_sees_each_region_apart") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let seed = write(d.path(), "seed.toml", &seed_text());
    let srv = Server::start(&home, &["--allow-reset", "--seed", s(&seed)]);
    let o = aws_tool(&bin, "python3", &srv.endpoint)
        .args(["-c", BOTO3_REGIONS, APP, EU])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && out.contains("regions: all ok"),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    srv.stop();
    assert!(home.join("kms/regions/eu-west-1/keys").is_dir());
    assert_eq!(run_ok(&home, &["audit", "verify"])["Verified"], true);
    let trail = std::fs::read_to_string(home.join("kms/audit.log")).unwrap();
    // Each change has its `Pending` line, then its outcome.
    assert_eq!(trail.matches("\"operation\":\"Reset\"").count(), 2);
    assert_eq!(trail.matches("\"operation\":\"SeedKey\"").count(), 2 * 4);
}
