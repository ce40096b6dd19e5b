//! Issue 16's cross-account snapshot flow, end to end with the real binary and real mounts:
//! (1) account A (the home's account, acting as the Unix root) snapshots a volume encrypted
//! under its customer key; (2) A's key policy allows account B `kms:Decrypt`,
//! `kms:DescribeKey`, `kms:CreateGrant`, `kms:ReEncrypt*`; (3) A shares the snapshot with B;
//! (4) B, acting as its own principal (bob's access key in `AWS_ACCESS_KEY_ID`), copies it
//! under a key of its own (a full copy); (5) B creates a volume from the copy and mounts it:
//! the data is identical. And the refusals: no copy before the share; never a snapshot under
//! A's AWS managed `aws/ebs` key; and (once key policies are enforced) no copy without the
//! policy statement, none after A revokes it, while B's finished copy stays B's.

mod common;
use common::cli::{fails, init, kmsfs, kmsfs_env, ok, run_ok, s};
use common::kms::ACCOUNT;
use common::mount::{Mounted, fuse_or_skip, root_or_skip};
use serde_json::Value;
use std::path::{Path, PathBuf};

const B: &str = "222222222222";
const ATTR: &str = "createVolumePermission";

/// The statement of step 2: account B may use A's key for copies of what A shares.
fn b_statement() -> Value {
    serde_json::json!({
        "Sid": "Allow account 222222222222 to copy shared snapshots",
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{B}:root")},
        "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant", "kms:ReEncrypt*"],
        "Resource": "*"
    })
}

/// A key policy: the default one of account A, plus `extra` statements.
fn policy(extra: &[Value]) -> String {
    let mut st = vec![serde_json::json!({
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
        "Action": "kms:*",
        "Resource": "*"
    })];
    st.extend_from_slice(extra);
    serde_json::json!({"Version": "2012-10-17", "Id": "key-default-1", "Statement": st}).to_string()
}

/// A home with account A (its own) and account B holding the IAM user bob, whose access
/// key the commands of B use; bob's identity policy lets him use KMS keys (AWS needs both
/// the key policy and the caller's identity policy across accounts).
struct Flow {
    dir: tempfile::TempDir,
    home: PathBuf,
    bob: (String, String),
}

impl Flow {
    fn new() -> Flow {
        let dir = tempfile::tempdir().unwrap();
        let home = init(dir.path());
        let bob = common::iam::account_user(&home, B, "bob");
        Flow { dir, home, bob }
    }

    /// `kmsfs ARGS` as bob (account B).
    fn as_b(&self, args: &[&str]) -> std::process::Output {
        kmsfs_env(
            &self.home,
            args,
            &[
                ("AWS_ACCESS_KEY_ID", &self.bob.0),
                ("AWS_SECRET_ACCESS_KEY", &self.bob.1),
            ],
        )
    }

    /// A new key of B: its ARN.
    fn b_key(&self) -> String {
        let k = ok(&self.as_b(&["kms", "create-key"]));
        let arn = k["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
        assert!(arn.contains(&format!(":{B}:key/")), "{arn}");
        arn
    }

    /// A new key of A with the key policy `policy`: its ARN.
    fn a_key(&self, policy: &str) -> String {
        let f = self.dir.path().join("policy.json");
        std::fs::write(&f, policy).unwrap();
        let arg = format!("file://{}", s(&f));
        let k = run_ok(&self.home, &["kms", "create-key", "--policy", &arg]);
        k["KeyMetadata"]["Arn"].as_str().unwrap().to_string()
    }

    /// Step 1: a volume of A under `key` (`None`: the default key, `aws/ebs`) holding
    /// `data` as `file`, written through a real mount, then snapshotted: the snapshot id.
    fn a_snapshot(&self, key: Option<&str>, data: &[u8], name: &str) -> String {
        let mut args = vec!["volume", "create", "--size", "64M", "--encrypted"];
        if let Some(k) = key {
            args.extend(["--kms-key-id", k]);
        }
        let vol = run_ok(&self.home, &args)["VolumeId"]
            .as_str()
            .unwrap()
            .to_string();
        let mut m = Mounted::at(
            tempfile::tempdir_in(self.dir.path()).unwrap(),
            self.home.clone(),
            vol.clone(),
            name,
            &[],
        );
        std::fs::write(m.mnt.join("file"), data).unwrap();
        m.umount();
        let snap = run_ok(&self.home, &["snapshot", "create", &vol]);
        assert_eq!(snap["OwnerId"], ACCOUNT);
        snap["SnapshotId"].as_str().unwrap().to_string()
    }

    /// Step 3 (`add`) or its undoing (`remove`), by A.
    fn share(&self, snap: &str, op: &str) -> std::process::Output {
        kmsfs(
            &self.home,
            &[
                "snapshot",
                "modify-attribute",
                snap,
                "--attribute",
                ATTR,
                "--operation-type",
                op,
                "--user-ids",
                B,
            ],
        )
    }

    /// Step 4: B's copy of `snap` under B's `key`.
    fn b_copy(&self, snap: &str, key: &str) -> std::process::Output {
        self.as_b(&["snapshot", "copy", snap, "--kms-key-id", key, "--encrypted"])
    }

    /// Step 5: B's volume from B's snapshot `snap`, mounted as B on `name`; `file` in it.
    fn b_restore_and_read(&self, snap: &str, name: &str) -> Vec<u8> {
        let v = ok(&self.as_b(&["volume", "create", "--snapshot-id", snap]));
        let vol = v["VolumeId"].as_str().unwrap();
        let mnt = self.dir.path().join(name);
        std::fs::create_dir(&mnt).unwrap();
        let m = ok(&self.as_b(&["mount", vol, s(&mnt)]));
        assert_eq!(m["State"], "in-use", "{m}");
        let data = std::fs::read(mnt.join("file"));
        let u = self.as_b(&["umount", s(&mnt)]);
        if !u.status.success() {
            let _ = nix::mount::umount2(&mnt, nix::mount::MntFlags::MNT_DETACH);
        }
        ok(&u);
        data.unwrap()
    }

    /// The snapshot ids B's `snapshot list` shows.
    fn b_sees(&self) -> Vec<String> {
        let l = ok(&self.as_b(&["snapshot", "list"]));
        l["Snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["SnapshotId"].as_str().unwrap().to_string())
            .collect()
    }
}

/// Whether the mount tests can run here.
fn can_mount(test: &str) -> bool {
    fuse_or_skip(test) && root_or_skip(test)
}

#[test]
fn five_steps_with_real_mounts() {
    if !can_mount("cross_account::five_steps_with_real_mounts") {
        return;
    }
    let f = Flow::new();
    let who = ok(&f.as_b(&["sts", "get-caller-identity"]));
    assert_eq!(who["Arn"], format!("arn:aws:iam::{B}:user/bob"));
    // Steps 1 and 2: A's key carries the statement for B from its creation.
    let key_a = f.a_key(&policy(&[b_statement()]));
    let p = run_ok(&f.home, &["kms", "get-key-policy", "--key-id", &key_a]);
    let p: Value = serde_json::from_str(p["Policy"].as_str().unwrap()).unwrap();
    assert_eq!(p["Statement"][1], b_statement());
    let data = common::pattern::pattern_seeded(16, (3 << 20) + 12_345);
    let snap = f.a_snapshot(Some(&key_a), &data, "mnt-a");
    let key_b = f.b_key();
    // Before step 3 the snapshot does not exist for B: no copy, no restore, not listed.
    let m = fails(&f.b_copy(&snap, &key_b), 5, "InvalidSnapshot.NotFound");
    assert!(
        m.contains(B) && m.contains(ATTR) && m.contains(&snap),
        "{m}"
    );
    let o = f.as_b(&["volume", "create", "--snapshot-id", &snap]);
    fails(&o, 5, "InvalidSnapshot.NotFound");
    assert!(!f.b_sees().contains(&snap));
    // Step 3.
    ok(&f.share(&snap, "add"));
    assert!(f.b_sees().contains(&snap));
    // Step 4: a full copy, B's, under B's key, shared with no one.
    let c = ok(&f.b_copy(&snap, &key_b));
    assert_eq!(c["OwnerId"], B);
    assert_eq!(c["KmsKeyId"], key_b.as_str());
    assert_eq!(c["Encrypted"], true);
    assert_eq!(c["SourceSnapshotId"], snap.as_str());
    assert_eq!(c["ChunksAdded"], c["ChunkCount"], "a full copy: {c}");
    assert!(c["BytesAdded"].as_u64().unwrap() > data.len() as u64);
    let copy = c["SnapshotId"].as_str().unwrap().to_string();
    let attr = ok(&f.as_b(&["snapshot", "describe-attribute", &copy, "--attribute", ATTR]));
    assert_eq!(attr["CreateVolumePermissions"], serde_json::json!([]));
    // A may not use B's copy, nor change it.
    let o = kmsfs(&f.home, &["volume", "create", "--snapshot-id", &copy]);
    fails(&o, 5, "InvalidSnapshot.NotFound");
    // Step 5: B's volume from the copy, under B's key, mounted: A's bytes.
    assert!(f.b_restore_and_read(&copy, "mnt-b") == data);
    // A stops sharing: no new copy; B's finished copy stays B's and still restores.
    ok(&f.share(&snap, "remove"));
    fails(&f.b_copy(&snap, &key_b), 5, "InvalidSnapshot.NotFound");
    assert!(f.b_restore_and_read(&copy, "mnt-b2") == data);
}

#[test]
fn aws_managed_key_snapshot_never_reaches_another_account() {
    if !can_mount("cross_account::aws_managed_key_snapshot_never_reaches_another_account") {
        return;
    }
    let f = Flow::new();
    let snap = f.a_snapshot(None, b"under aws/ebs", "mnt-a");
    let info = run_ok(&f.home, &["snapshot", "describe", &snap]);
    let ebs = run_ok(
        &f.home,
        &["kms", "describe-key", "--key-id", "alias/aws/ebs"],
    );
    assert_eq!(info["KmsKeyId"], ebs["KeyMetadata"]["Arn"]);
    let m = fails(
        &f.share(&snap, "add"),
        5,
        "InvalidParameter: Snapshots encrypted with the AWS Managed CMK can't be shared",
    );
    assert!(m.contains(&snap), "{m}");
    let attr = run_ok(
        &f.home,
        &["snapshot", "describe-attribute", &snap, "--attribute", ATTR],
    );
    assert_eq!(attr["CreateVolumePermissions"], serde_json::json!([]));
    let key_b = f.b_key();
    fails(&f.b_copy(&snap, &key_b), 5, "InvalidSnapshot.NotFound");
    fails(
        &f.as_b(&["snapshot", "copy", &snap]),
        5,
        "InvalidSnapshot.NotFound",
    );
    assert!(!f.b_sees().contains(&snap));
}

/// `kmsfs kms put-key-policy` by A on `key`.
fn put_key_policy(home: &Path, key: &str, policy: &str) {
    run_ok(
        home,
        &[
            "kms",
            "put-key-policy",
            "--key-id",
            key,
            "--policy-name",
            "default",
            "--policy",
            policy,
        ],
    );
}

/// A refusal of B's copy by the key policy of A's `key`: AccessDeniedException naming bob,
/// the action (the copy's first call on A's key, DescribeKey, as the statement's first
/// action) and the key.
fn denied(o: &std::process::Output, key: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "B's copy went through");
    assert!(err.starts_with("kmsfs: "), "{err}");
    for needle in [
        "AccessDeniedException",
        &format!("arn:aws:iam::{B}:user/bob"),
        "is not authorized to perform: kms:DescribeKey",
        key,
    ] {
        assert!(err.contains(needle), "expected '{needle}' in: {err}");
    }
}

#[test]
fn policy_statement_governs_cross_account_copies() {
    if !can_mount("cross_account::policy_statement_governs_cross_account_copies") {
        return;
    }
    let f = Flow::new();
    let key_a = f.a_key(&policy(&[]));
    let data = common::pattern::pattern_seeded(17, 1 << 20);
    let snap = f.a_snapshot(Some(&key_a), &data, "mnt-a");
    let key_b = f.b_key();
    ok(&f.share(&snap, "add"));
    // Shared, but A's key policy does not name B: refused, nothing made.
    let before = f.b_sees().len();
    denied(&f.b_copy(&snap, &key_b), &key_a);
    assert_eq!(f.b_sees().len(), before);
    // Step 2: A adds the statement; B's copy goes through.
    put_key_policy(&f.home, &key_a, &policy(&[b_statement()]));
    let c = ok(&f.b_copy(&snap, &key_b));
    let copy = c["SnapshotId"].as_str().unwrap().to_string();
    // A revokes it: new copies stop; B's finished copy (under B's key) is untouched.
    put_key_policy(&f.home, &key_a, &policy(&[]));
    denied(&f.b_copy(&snap, &key_b), &key_a);
    assert!(f.b_restore_and_read(&copy, "mnt-b") == data);
}

/// Volumes belong to their account (as EBS volumes do): B's `volume list` shows only B's
/// volumes; A's volume does not exist for B (describe, mount, delete, snapshot create all
/// fail as for a missing volume); A sees its own, and not B's.
#[test]
fn volumes_belong_to_their_account() {
    let f = Flow::new();
    let id = |v: Value| v["VolumeId"].as_str().unwrap().to_string();
    let a_vol = id(run_ok(&f.home, &["volume", "create", "--size", "16M"]));
    let b_vol = id(ok(&f.as_b(&["volume", "create", "--size", "16M"])));
    let ids = |v: Value| -> Vec<String> {
        let l = v["Volumes"].as_array().unwrap().iter();
        l.map(|x| x["VolumeId"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(ok(&f.as_b(&["volume", "list"]))), vec![b_vol.clone()]);
    assert_eq!(
        ids(run_ok(&f.home, &["volume", "list"])),
        vec![a_vol.clone()]
    );
    let missing = format!("volume {a_vol} does not exist");
    let mnt = f.dir.path().join("mnt-b");
    std::fs::create_dir(&mnt).unwrap();
    for (args, code) in [
        (vec!["volume", "describe", &a_vol], 8),
        (vec!["volume", "delete", &a_vol], 8),
        (vec!["mount", &a_vol, s(&mnt)], 8),
        (vec!["snapshot", "create", &a_vol], 8),
    ] {
        fails(&f.as_b(&args), code, &missing);
    }
    // A's volume is still there, A's; B's is not A's to see.
    let d = run_ok(&f.home, &["volume", "describe", &a_vol]);
    assert_eq!(d["State"], "available");
    let o = kmsfs(&f.home, &["volume", "describe", &b_vol]);
    fails(&o, 8, &format!("volume {b_vol} does not exist"));
    ok(&f.as_b(&["volume", "delete", &b_vol]));
    run_ok(&f.home, &["volume", "delete", &a_vol]);
}
