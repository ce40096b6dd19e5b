//! Sharing snapshots across accounts, as EBS has it: the `createVolumePermission` attribute
//! (`modify-`, `describe-`, `reset-attribute`), EBS's refusals (an encrypted snapshot made
//! public, a snapshot under the AWS managed `aws/ebs` key shared at all, a non-owner changing
//! it), `SnapshotService::may_copy` and what it stops (copies and restores by an account the
//! snapshot is not shared with), the `--owner-ids` / `--restorable-by-user-ids` filters, the
//! CLI verbs, and a shared snapshot copied by another account, restored and mounted.
//!
//! Another account is the service acting for another account id (`acting_for`): the CLI
//! acts for the account of its principal, which is the home's until accounts have their own
//! principals on the command line.

#![allow(clippy::result_large_err)] // the helpers hand back the layer's own error

mod common;
use common::cli::{fails, kmsfs, run_ok};
use common::kms::*;
use common::mount::{Mounted, fuse_or_skip};
use kmsfs::kms::{Client, Embedded};
use kmsfs::snapshot::{ListFilter, Operation, Permission, SnapshotError, SnapshotService};
use kmsfs::volume::fs::{Caller, ROOT};
use kmsfs::volume::{CreateVolume, VolumeService};
use std::ffi::OsStr;
use std::sync::Arc;

const B: &str = "222222222222";
const C: &str = "333333333333";
const ATTR: &str = "createVolumePermission";

struct T {
    e: Env,
    vols: VolumeService,
    client: Arc<dyn Client>,
}

fn setup() -> T {
    let e = env();
    let client: Arc<dyn Client> = Arc::new(Embedded::new(e.kms.clone(), "ebs.amazonaws.com"));
    T {
        vols: VolumeService::new(e.home.clone(), client.clone()),
        client,
        e,
    }
}

impl T {
    /// The snapshot service acting for `account`.
    fn as_account(&self, account: &str) -> SnapshotService {
        SnapshotService::new(self.e.home.clone(), self.client.clone()).acting_for(account)
    }

    /// The owner's (the home's account's) snapshot service.
    fn a(&self) -> SnapshotService {
        self.as_account(ACCOUNT)
    }

    /// A snapshot of a small volume holding `hello` (encrypted under `key`, or the default
    /// key `aws/ebs` when `None`; unencrypted when `encrypted` is false).
    fn snapshot(&self, key: Option<&str>, encrypted: bool) -> String {
        let mut set = self.vols.settings().unwrap();
        set.encryption_by_default = encrypted;
        self.vols.set_settings(&set).unwrap();
        let v = self
            .vols
            .create(&CreateVolume {
                size: 16 << 20,
                kms_key_id: key.map(String::from),
                encrypted: Some(encrypted),
                snapshot_id: None,
            })
            .unwrap()
            .volume_id;
        let o = self.vols.open(&v).unwrap();
        let me = Caller { uid: 0, gid: 0 };
        let (_, fh) =
            o.fs.create(ROOT, OsStr::new("hello"), 0o644, libc::O_RDWR, me)
                .unwrap();
        o.fs.write(fh, 0, b"shared bytes").unwrap();
        o.fs.release(fh);
        drop(o);
        self.a().create(&v, "").unwrap().snapshot_id
    }
}

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn user(id: &str) -> Permission {
    Permission::UserId(id.into())
}

fn share(svc: &SnapshotService, snap: &str, op: Operation, users: &[&str], groups: &[&str]) {
    svc.modify_attribute(snap, ATTR, op, &ids(users), &ids(groups))
        .unwrap();
}

fn perms(t: &T, snap: &str) -> Vec<Permission> {
    t.a()
        .describe_attribute(snap, ATTR)
        .unwrap()
        .create_volume_permissions
}

#[test]
fn add_remove_reset_describe() {
    let t = setup();
    let key = t.e.create_key();
    let s = t.snapshot(Some(&key), true);
    assert!(perms(&t, &s).is_empty());
    share(&t.a(), &s, Operation::Add, &[C, B], &[]);
    share(&t.a(), &s, Operation::Add, &[B], &[]); // adding again changes nothing
    assert_eq!(perms(&t, &s), vec![user(B), user(C)]);
    let d = t.a().describe_attribute(&s, ATTR).unwrap();
    assert_eq!(
        serde_json::to_value(&d).unwrap(),
        serde_json::json!({"SnapshotId": s, "CreateVolumePermissions": [{"UserId": B}, {"UserId": C}]})
    );
    share(&t.a(), &s, Operation::Remove, &[C, "444444444444"], &[]);
    assert_eq!(perms(&t, &s), vec![user(B)]);
    // The list is kept in the snapshot's record (0600); `describe` does not print it.
    let rec =
        t.e.home
            .root()
            .join("snapshots/records")
            .join(format!("{s}.json"));
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&rec).unwrap()).unwrap();
    assert_eq!(
        r["CreateVolumePermissions"],
        serde_json::json!([{"UserId": B}])
    );
    assert_eq!(r["OwnerId"], ACCOUNT);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(rec.metadata().unwrap().permissions().mode() & 0o777, 0o600);
    let info = serde_json::to_value(t.a().describe(&s).unwrap()).unwrap();
    assert!(info.get("CreateVolumePermissions").is_none());
    assert_eq!(info["OwnerId"], ACCOUNT);
    let reset = t.a().reset_attribute(&s, ATTR).unwrap();
    assert!(reset.create_volume_permissions.is_empty());
    assert!(perms(&t, &s).is_empty());
    // Bad arguments: not 12 digits, another group, nothing to change, another attribute.
    let bad = |users: &[&str], groups: &[&str], attr: &str| {
        t.a()
            .modify_attribute(&s, attr, Operation::Add, &ids(users), &ids(groups))
            .unwrap_err()
    };
    for e in [
        bad(&["22222222222"], &[], ATTR),
        bad(&["22222222222a"], &[], ATTR),
        bad(&[], &["everyone"], ATTR),
        bad(&[], &[], ATTR),
        bad(&[B], &[], "productCodes"),
    ] {
        assert!(matches!(e, SnapshotError::InvalidParameter(_)), "{e}");
    }
    assert!(perms(&t, &s).is_empty());
}

#[test]
fn aws_ebs_snapshot_cannot_be_shared() {
    let t = setup();
    let s = t.snapshot(None, true);
    let info = t.a().describe(&s).unwrap();
    let ebs = t.e.describe("alias/aws/ebs").unwrap();
    assert_eq!(info.kms_key_id.as_deref(), Some(ebs.arn.as_str()));
    let e = t
        .a()
        .modify_attribute(&s, ATTR, Operation::Add, &ids(&[B]), &[])
        .unwrap_err();
    assert!(matches!(e, SnapshotError::AwsManagedKey { .. }), "{e}");
    assert!(
        e.to_string().contains(
            "InvalidParameter: Snapshots encrypted with the AWS Managed CMK can't be shared"
        ),
        "{e}"
    );
    assert!(perms(&t, &s).is_empty());
    // So B can never copy it.
    let e = t.as_account(B).copy(&s, None, false, None).unwrap_err();
    assert!(matches!(e, SnapshotError::NotShared { .. }), "{e}");
}

#[test]
fn encrypted_snapshot_cannot_be_public() {
    let t = setup();
    let key = t.e.create_key();
    let enc = t.snapshot(Some(&key), true);
    let e = t
        .a()
        .modify_attribute(&enc, ATTR, Operation::Add, &ids(&[B]), &ids(&["all"]))
        .unwrap_err();
    assert!(matches!(e, SnapshotError::EncryptedPublic(_)), "{e}");
    assert!(
        e.to_string()
            .contains("UnsupportedOperation: Encrypted snapshots can't be shared publicly"),
        "{e}"
    );
    assert!(
        perms(&t, &enc).is_empty(),
        "nothing of a refused change is kept"
    );
    // An unencrypted snapshot can be made public: every account may then copy it.
    let plain = t.snapshot(None, false);
    share(&t.a(), &plain, Operation::Add, &[], &["all"]);
    assert_eq!(perms(&t, &plain), vec![Permission::Group("all".into())]);
    for acct in [B, C] {
        t.a().may_copy(&plain, acct).unwrap();
    }
    share(&t.a(), &plain, Operation::Remove, &[], &["all"]);
    assert!(t.a().may_copy(&plain, B).is_err());
}

#[test]
fn may_copy_outcomes() {
    let t = setup();
    let key = t.e.create_key();
    let s = t.snapshot(Some(&key), true);
    let a = t.a();
    a.may_copy(&s, ACCOUNT).unwrap();
    let e = a.may_copy(&s, B).unwrap_err();
    assert!(matches!(e, SnapshotError::NotShared { .. }), "{e}");
    let m = e.to_string();
    assert!(m.starts_with("InvalidSnapshot.NotFound: "), "{m}");
    assert!(m.contains(B) && m.contains("createVolumePermission"), "{m}");
    // Not shared: B can neither copy nor restore it, nor see or change its attribute.
    let b = t.as_account(B);
    let refused = |r: Result<(), SnapshotError>| {
        assert!(matches!(r, Err(SnapshotError::NotShared { .. })), "{r:?}")
    };
    refused(b.copy(&s, None, false, None).map(|_| ()));
    refused(b.restore(&s, &CreateVolume::default()).map(|_| ()));
    refused(b.describe_attribute(&s, ATTR).map(|_| ()));
    refused(
        b.modify_attribute(&s, ATTR, Operation::Add, &ids(&[B]), &[])
            .map(|_| ()),
    );
    let before = a.list().unwrap().len();
    // Shared with B: B may copy it (the copy is B's, shared with no one) and restore it.
    share(&a, &s, Operation::Add, &[B], &[]);
    a.may_copy(&s, B).unwrap();
    assert!(a.may_copy(&s, C).is_err());
    let c = b.copy(&s, None, false, None).unwrap();
    assert_eq!(c.owner_id, B);
    assert_eq!(a.list().unwrap().len(), before + 1);
    b.restore(&s, &CreateVolume::default()).unwrap();
    assert!(
        b.describe_attribute(&c.snapshot_id, ATTR)
            .unwrap()
            .create_volume_permissions
            .is_empty()
    );
    // B sees A's snapshot but may not change who it is shared with; A may not use B's copy.
    let e = b.reset_attribute(&s, ATTR).unwrap_err();
    assert!(matches!(e, SnapshotError::NotOwner { .. }), "{e}");
    assert!(e.to_string().starts_with("UnauthorizedOperation: "), "{e}");
    assert!(matches!(
        a.may_copy(&c.snapshot_id, ACCOUNT),
        Err(SnapshotError::NotShared { .. })
    ));
    // Unshared again: new copies stop; B's finished copy stays B's.
    share(&a, &s, Operation::Remove, &[B], &[]);
    refused(b.copy(&s, None, false, None).map(|_| ()));
    b.may_copy(&c.snapshot_id, B).unwrap();
    b.restore(&c.snapshot_id, &CreateVolume::default()).unwrap();
    assert!(matches!(
        a.may_copy("snap-0123456789abcdef0", B),
        Err(SnapshotError::NotFound(_))
    ));
}

#[test]
fn list_filters() {
    let t = setup();
    let key = t.e.create_key();
    let shared = t.snapshot(Some(&key), true);
    let private = t.snapshot(Some(&key), true);
    let public = t.snapshot(None, false);
    share(&t.a(), &shared, Operation::Add, &[B], &[]);
    share(&t.a(), &public, Operation::Add, &[], &["all"]);
    let copy = t
        .as_account(B)
        .copy(&shared, None, false, None)
        .unwrap()
        .snapshot_id;
    let list = |acct: &str, owners: &[&str], restorable: &[&str]| -> Vec<String> {
        let f = ListFilter {
            owner_ids: ids(owners),
            restorable_by_user_ids: ids(restorable),
        };
        let mut v: Vec<String> = t
            .as_account(acct)
            .list_visible(&f)
            .unwrap()
            .into_iter()
            .map(|i| i.snapshot_id)
            .collect();
        v.sort();
        v
    };
    let sorted = |v: &[&String]| {
        let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(
        list(ACCOUNT, &[], &[]),
        sorted(&[&shared, &private, &public])
    );
    assert_eq!(list(B, &[], &[]), sorted(&[&shared, &public, &copy]));
    assert_eq!(list(C, &[], &[]), sorted(&[&public]));
    assert_eq!(list(B, &["self"], &[]), sorted(&[&copy]));
    assert_eq!(list(B, &[ACCOUNT], &[]), sorted(&[&shared, &public]));
    assert_eq!(list(B, &["amazon"], &[]), Vec::<String>::new());
    assert_eq!(list(B, &[], &["self"]), sorted(&[&shared, &copy]));
    assert_eq!(list(B, &[], &["all"]), sorted(&[&public]));
    assert_eq!(list(ACCOUNT, &[], &[B]), sorted(&[&shared]));
    assert_eq!(
        list(ACCOUNT, &["self"], &[B, "all"]),
        sorted(&[&shared, &public])
    );
    // B cannot learn whom A's snapshots are shared with.
    assert_eq!(list(B, &[], &[C]), Vec::<String>::new());
    for (o, r) in [(&["nobody"][..], &[][..]), (&[], &["amazon"])] {
        let f = ListFilter {
            owner_ids: ids(o),
            restorable_by_user_ids: ids(r),
        };
        let e = t.a().list_visible(&f).unwrap_err();
        assert!(matches!(e, SnapshotError::InvalidParameter(_)), "{e}");
    }
}

#[test]
fn cli_verbs() {
    let dir = tempfile::tempdir().unwrap();
    let home = common::cli::init(dir.path());
    let key = common::cli::create_key(&home, "KeyId");
    let vol = run_ok(
        &home,
        &["volume", "create", "--size", "16M", "--kms-key-id", &key],
    )["VolumeId"]
        .as_str()
        .unwrap()
        .to_string();
    let snap = run_ok(&home, &["snapshot", "create", &vol])["SnapshotId"]
        .as_str()
        .unwrap()
        .to_string();
    let modify = |op: &str, extra: &[&str]| {
        let mut a = vec![
            "snapshot",
            "modify-attribute",
            &snap,
            "--attribute",
            ATTR,
            "--operation-type",
            op,
        ];
        a.extend_from_slice(extra);
        kmsfs(&home, &a)
    };
    common::cli::ok(&modify("add", &["--user-ids", B, C]));
    common::cli::ok(&modify("remove", &["--user-ids", C]));
    let d = run_ok(
        &home,
        &["snapshot", "describe-attribute", &snap, "--attribute", ATTR],
    );
    assert_eq!(
        d,
        serde_json::json!({"SnapshotId": snap, "CreateVolumePermissions": [{"UserId": B}]})
    );
    let l = run_ok(&home, &["snapshot", "list", "--restorable-by-user-ids", B]);
    assert_eq!(l["Snapshots"][0]["SnapshotId"], snap.as_str());
    assert_eq!(l["Snapshots"][0]["OwnerId"], ACCOUNT);
    let l = run_ok(
        &home,
        &["snapshot", "list", "--restorable-by-user-ids", "all"],
    );
    assert_eq!(l["Snapshots"], serde_json::json!([]));
    let m = fails(
        &modify("add", &["--group-names", "all"]),
        5,
        "UnsupportedOperation: Encrypted snapshots can't be shared publicly",
    );
    assert!(m.contains("--user-ids"), "the fix: {m}");
    fails(&modify("add", &["--user-ids", "1234"]), 2, "12 digits");
    fails(
        &kmsfs(
            &home,
            &["snapshot", "describe-attribute", &snap, "--attribute", "x"],
        ),
        2,
        "createVolumePermission",
    );
    let r = run_ok(
        &home,
        &["snapshot", "reset-attribute", &snap, "--attribute", ATTR],
    );
    assert_eq!(r["CreateVolumePermissions"], serde_json::json!([]));
    // The owner (the CLI acts for the home's account) still copies and restores.
    run_ok(&home, &["snapshot", "copy", &snap]);
    run_ok(&home, &["volume", "create", "--snapshot-id", &snap]);
}

/// Steps 1, 3, 4 and 5 of the cross-account flow with a real mount: A snapshots a volume
/// under its customer key; B's copy is refused until A shares the snapshot; B copies it,
/// creates a volume from the copy, and the mounted volume holds A's bytes.
#[test]
fn shared_snapshot_copied_restored_and_mounted() {
    if !fuse_or_skip("snapshot_share::shared_snapshot_copied_restored_and_mounted") {
        return;
    }
    let mut m = Mounted::new("64M");
    let data = common::pattern::pattern_seeded(7, 3 << 20);
    std::fs::write(m.mnt.join("file"), &data).unwrap();
    m.umount();
    let snap = run_ok(&m.home, &["snapshot", "create", &m.vol])["SnapshotId"]
        .as_str()
        .unwrap()
        .to_string();
    let b = || {
        let home = kmsfs::home::Home::open(&m.home).unwrap();
        let kms = kmsfs::kms::Kms::open(&home, kmsfs::kms::KmsOptions::default()).unwrap();
        let c: Arc<dyn Client> = Arc::new(Embedded::new(kms, "ebs.amazonaws.com"));
        SnapshotService::new(home, c).acting_for(B)
    };
    let e = b().copy(&snap, None, false, None).unwrap_err();
    assert!(matches!(e, SnapshotError::NotShared { .. }), "{e}");
    run_ok(
        &m.home,
        &[
            "snapshot",
            "modify-attribute",
            &snap,
            "--attribute",
            ATTR,
            "--operation-type",
            "add",
            "--user-ids",
            B,
        ],
    );
    let copy = b().copy(&snap, None, false, None).unwrap();
    assert_eq!(copy.owner_id, B);
    let vol = b()
        .restore(&copy.snapshot_id, &CreateVolume::default())
        .unwrap()
        .volume_id;
    // The volume is B's: B mounts it (with an access key of a user of B).
    let bob = common::iam::account_user(&m.home, B, "bob");
    let env = [
        ("AWS_ACCESS_KEY_ID", bob.0.as_str()),
        ("AWS_SECRET_ACCESS_KEY", bob.1.as_str()),
    ];
    let mnt = m.dir.path().join("mnt-b");
    std::fs::create_dir(&mnt).unwrap();
    let mnt_s = mnt.to_str().unwrap();
    let o = common::cli::kmsfs_env(&m.home, &["mount", &vol, mnt_s], &env);
    assert_eq!(common::cli::ok(&o)["State"], "in-use");
    let read = std::fs::read(mnt.join("file"));
    let u = common::cli::kmsfs_env(&m.home, &["umount", mnt_s], &env);
    if !u.status.success() {
        let _ = nix::mount::umount2(&mnt, nix::mount::MntFlags::MNT_DETACH);
    }
    common::cli::ok(&u);
    assert!(read.unwrap() == data);
}
