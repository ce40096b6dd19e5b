//! The volume service works like EBS with grants: an encrypted volume (created, restored
//! from a snapshot, or re-encrypted from one) holds a grant on its key for
//! `ebs.amazonaws.com`, constrained to the context its data key is wrapped under; the
//! service Decrypts at mount with it and retires it when the volume is deleted, and the
//! audit trail shows it. Each lifecycle runs once on the embedded KMS and once through a
//! real `kmsfs serve` (where the service acts as the endpoint access key's principal).

mod common;
use common::cli::{create_key, init, kmsfs_env, ok, s};
use common::kms::{ACCOUNT, env};
use common::serve::{ACCESS_KEY_ID, SECRET_ACCESS_KEY, Server};
use kmsfs::kms::Embedded;
use kmsfs::kms::audit::AuditLine;
use kmsfs::volume::grant::GRANT_OPERATIONS;
use kmsfs::volume::{CreateVolume, VolumeService};
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const EBS: &str = "ebs.amazonaws.com";

/// A client home whose services reach the KMS of `kms_home`: the same home (embedded), or
/// through a `kmsfs serve` of another home (`--kms-endpoint`).
/// Fields drop in order: the server stops before its home is removed.
struct Setup {
    server: Option<Server>,
    home: PathBuf,
    kms_home: PathBuf,
    remote: bool,
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(remote: bool) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let home = init(&dir.path().join("client"));
        let (kms_home, server) = if remote {
            let kms_home = init(&dir.path().join("kms"));
            let server = Server::start(&kms_home, &[]);
            (kms_home, Some(server))
        } else {
            (home.clone(), None)
        };
        Setup {
            dir,
            home,
            kms_home,
            server,
            remote,
        }
    }

    /// `kmsfs ARGS` on the client home (through the endpoint when there is one).
    fn run(&self, args: &[&str]) -> Value {
        let mut a: Vec<&str> = Vec::new();
        if let Some(s) = &self.server {
            a.extend(["--kms-endpoint", s.endpoint.as_str()]);
        }
        a.extend_from_slice(args);
        let env = [
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY),
            ("AWS_REGION", "us-east-1"),
        ];
        ok(&kmsfs_env(&self.home, &a, &env))
    }

    /// `kmsfs kms ARGS` on the KMS's own home.
    fn kms(&self, args: &[&str]) -> Value {
        let mut a = vec!["kms"];
        a.extend_from_slice(args);
        ok(&kmsfs_env(&self.kms_home, &a, &[]))
    }

    /// Who the volume service acts as: itself, or the endpoint access key's principal.
    fn principal(&self) -> String {
        match self.remote {
            true => format!("arn:aws:iam::{ACCOUNT}:root"),
            false => EBS.to_string(),
        }
    }

    fn new_key(&self) -> String {
        create_key(&self.kms_home, "Arn")
    }

    fn grants(&self, key: &str) -> Vec<Value> {
        self.kms(&["list-grants", "--key-id", key])["Grants"]
            .as_array()
            .unwrap()
            .clone()
    }

    fn volume(&self, args: &[&str]) -> String {
        let mut a = vec!["volume", "create", "--size", "64MiB"];
        a.extend_from_slice(args);
        self.run(&a)["VolumeId"].as_str().unwrap().to_string()
    }

    fn grant_file(&self, vol: &str) -> PathBuf {
        self.home.join("volumes").join(vol).join("grant.json")
    }

    /// The grant id `grant.json` of `vol` keeps.
    fn kept_grant(&self, vol: &str) -> String {
        let g: Value = serde_json::from_slice(&std::fs::read(self.grant_file(vol)).unwrap())
            .unwrap_or_else(|e| panic!("grant.json of {vol}: {e}"));
        g["GrantId"].as_str().unwrap().to_string()
    }

    /// Mount `vol`, run `f` on the mount point, unmount (also when `f` panics).
    fn mounted(&self, vol: &str, f: impl FnOnce(&Path)) {
        let mnt = self.dir.path().join(format!("mnt-{vol}"));
        let _ = std::fs::create_dir(&mnt);
        let m = self.run(&["mount", vol, s(&mnt)]);
        assert_eq!(m["State"], "in-use", "{m}");
        struct Unmount<'a>(&'a Setup, &'a Path);
        impl Drop for Unmount<'_> {
            fn drop(&mut self) {
                self.0.run(&["umount", s(self.1)]);
            }
        }
        let _u = Unmount(self, &mnt);
        f(&mnt);
    }

    /// The audit lines of the KMS's home recording `operation` on `key`.
    fn trail(&self, operation: &str, key: &str) -> Vec<AuditLine> {
        let o = kmsfs_env(
            &self.kms_home,
            &["audit", "show", "--operation", operation, "--key-id", key],
            &[],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str::<AuditLine>(l).unwrap())
            .filter(|l| l.outcome != "Pending")
            .collect()
    }

    /// How many successful `operation` lines on `key` the volume service left, with the
    /// encryption context `{aws:ebs:id: ctx_vol}` when given.
    fn by_service(&self, operation: &str, key: &str, ctx_vol: Option<&str>) -> usize {
        let me = self.principal();
        self.trail(operation, key)
            .iter()
            .filter(|l| l.principal == me && l.outcome == "Success")
            .filter(|l| {
                ctx_vol.is_none_or(|v| {
                    l.encryption_context
                        .as_ref()
                        .is_some_and(|c| c.get("aws:ebs:id").map(String::as_str) == Some(v))
                })
            })
            .count()
    }
}

/// The grant volume `vol` must hold: for the service, Decrypt only, under `{aws:ebs:id:
/// ctx_vol}` (the context its data key is wrapped under), named after the volume.
fn check_grant(g: &Value, vol: &str, ctx_vol: &str) {
    assert_eq!(g["GranteePrincipal"], EBS, "{g}");
    assert_eq!(g["RetiringPrincipal"], EBS, "{g}");
    assert_eq!(g["Operations"], json!(GRANT_OPERATIONS), "{g}");
    assert_eq!(g["Name"], vol, "{g}");
    assert_eq!(
        g["Constraints"],
        json!({"EncryptionContextSubset": {"aws:ebs:id": ctx_vol}}),
        "{g}"
    );
}

/// Create → one grant; mount and read → Decrypt by the service; delete → the grant is
/// retired and gone.
fn lifecycle(remote: bool) {
    let mut t = Setup::new(remote);
    let key = t.new_key();
    let vol = t.volume(&["--kms-key-id", &key]);
    let grants = t.grants(&key);
    assert_eq!(grants.len(), 1, "{grants:?}");
    check_grant(&grants[0], &vol, &vol);
    assert_eq!(grants[0]["GrantId"], t.kept_grant(&vol));
    let mode = std::fs::metadata(t.grant_file(&vol))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    t.mounted(&vol, |m| std::fs::write(m.join("f"), &data).unwrap());
    t.mounted(&vol, |m| {
        assert_eq!(std::fs::read(m.join("f")).unwrap(), data)
    });
    assert_eq!(t.grants(&key).len(), 1, "the same grant still");

    t.run(&["volume", "delete", &vol]);
    assert_eq!(t.grants(&key), Vec::<Value>::new());
    if let Some(s) = t.server.take() {
        s.stop(); // its audit lines reach the disk
    }
    assert_eq!(t.by_service("CreateGrant", &key, None), 1);
    // One Decrypt at create (the header's MAC key), one per mount.
    assert_eq!(t.by_service("Decrypt", &key, Some(&vol)), 3);
    assert_eq!(t.by_service("RetireGrant", &key, None), 1);
    assert_eq!(t.trail("RevokeGrant", &key).len(), 0);
}

#[test]
fn a_volume_holds_a_grant_from_create_to_delete() {
    if common::mount::fuse_or_skip("a_volume_holds_a_grant_from_create_to_delete") {
        lifecycle(false);
    }
}

#[test]
fn a_volume_holds_a_grant_from_create_to_delete_through_the_endpoint() {
    if common::mount::fuse_or_skip(
        "a_volume_holds_a_grant_from_create_to_delete_through_the_endpoint",
    ) {
        lifecycle(true);
    }
}

/// A volume restored from a snapshot (same key) gets its own grant, under the context its
/// data key keeps; one restored under another key gets a grant on that key under its own
/// context; a snapshot copy under another key leaves no grant behind.
fn restores(remote: bool) {
    let mut t = Setup::new(remote);
    let (key, key2) = (t.new_key(), t.new_key());
    let vol = t.volume(&["--kms-key-id", &key]);
    t.mounted(&vol, |m| std::fs::write(m.join("f"), b"restored").unwrap());
    let snap = t.run(&["snapshot", "create", &vol])["SnapshotId"]
        .as_str()
        .unwrap()
        .to_string();
    let same = t.volume(&["--snapshot-id", &snap]);
    let grants = t.grants(&key);
    assert_eq!(grants.len(), 2, "{grants:?}");
    let g = grants.iter().find(|g| g["Name"] == same.as_str()).unwrap();
    check_grant(g, &same, &vol);
    assert_eq!(g["GrantId"], t.kept_grant(&same));
    t.mounted(&same, |m| {
        assert_eq!(std::fs::read(m.join("f")).unwrap(), b"restored")
    });

    let other = t.volume(&["--snapshot-id", &snap, "--kms-key-id", &key2]);
    let grants2 = t.grants(&key2);
    assert_eq!(grants2.len(), 1, "{grants2:?}");
    check_grant(&grants2[0], &other, &other);
    t.mounted(&other, |m| {
        assert_eq!(std::fs::read(m.join("f")).unwrap(), b"restored")
    });

    t.run(&["snapshot", "copy", &snap, "--kms-key-id", &key2]);
    assert_eq!(
        t.grants(&key2).len(),
        1,
        "the copy's scratch volume keeps no grant"
    );
    for v in [&same, &other] {
        t.run(&["volume", "delete", v]);
    }
    assert_eq!(t.grants(&key).len(), 1);
    assert!(t.grants(&key2).is_empty());
    if let Some(s) = t.server.take() {
        s.stop();
    }
    // Create, mount, the restored mount, and the snapshot layer's unwraps of the
    // snapshot's key (the restore, the restore under key2, the copy).
    assert_eq!(t.by_service("Decrypt", &key, Some(&vol)), 6);
    assert_eq!(t.by_service("CreateGrant", &key2, None), 1);
    assert_eq!(t.by_service("RetireGrant", &key2, None), 1);
}

#[test]
fn restored_volumes_get_their_own_grants() {
    if common::mount::fuse_or_skip("restored_volumes_get_their_own_grants") {
        restores(false);
    }
}

#[test]
fn restored_volumes_get_their_own_grants_through_the_endpoint() {
    if common::mount::fuse_or_skip("restored_volumes_get_their_own_grants_through_the_endpoint") {
        restores(true);
    }
}

/// A volume made before volumes had grants (no `grant.json`, no grant on its key) gets its
/// grant at its next mount, and keeps it.
#[test]
fn an_old_volume_gets_its_grant_at_mount() {
    if !common::mount::fuse_or_skip("an_old_volume_gets_its_grant_at_mount") {
        return;
    }
    let t = Setup::new(false);
    let key = t.new_key();
    let vol = t.volume(&["--kms-key-id", &key]);
    let old = t.kept_grant(&vol);
    t.kms(&["revoke-grant", "--key-id", &key, "--grant-id", &old]);
    std::fs::remove_file(t.grant_file(&vol)).unwrap();
    assert!(t.grants(&key).is_empty());
    t.mounted(&vol, |m| std::fs::write(m.join("f"), b"x").unwrap());
    let grants = t.grants(&key);
    assert_eq!(grants.len(), 1, "{grants:?}");
    check_grant(&grants[0], &vol, &vol);
    let new = t.kept_grant(&vol);
    assert_ne!(new, old);
    assert_eq!(grants[0]["GrantId"], new.as_str());
    t.mounted(&vol, |m| {
        assert_eq!(std::fs::read(m.join("f")).unwrap(), b"x")
    });
    assert_eq!(t.kept_grant(&vol), new, "a second mount keeps the grant");
    assert_eq!(t.by_service("CreateGrant", &key, None), 2);
}

/// Revoking a volume's grant by hand: on AWS, the volume then fails to attach once the
/// key's policy does not allow the service otherwise. kmsfs does not enforce policies yet,
/// so the mount still works; deleting the volume then finds no grant to retire, and
/// succeeds.
#[test]
fn a_grant_revoked_by_hand() {
    if !common::mount::fuse_or_skip("a_grant_revoked_by_hand") {
        return;
    }
    let t = Setup::new(false);
    let key = t.new_key();
    let vol = t.volume(&["--kms-key-id", &key]);
    let gid = t.kept_grant(&vol);
    t.kms(&["revoke-grant", "--key-id", &key, "--grant-id", &gid]);
    t.mounted(&vol, |m| std::fs::write(m.join("f"), b"x").unwrap());
    assert!(
        t.grants(&key).is_empty(),
        "a mount does not remake a kept grant"
    );
    t.run(&["volume", "delete", &vol]);
    assert!(!t.home.join("volumes").join(&vol).exists());
    assert_eq!(t.trail("RetireGrant", &key).len(), 1);
    assert_eq!(t.trail("RetireGrant", &key)[0].outcome, "Failure");
}

/// Without FUSE: the service's requests in order (the grant before the first Decrypt,
/// which uses it); an unencrypted volume has no grant.
#[test]
fn the_service_creates_its_grant_before_it_decrypts_and_unencrypted_volumes_have_none() {
    let e = env();
    let svc = VolumeService::new(e.home.clone(), Arc::new(Embedded::new(e.kms.clone(), EBS)));
    let key = e.create_key();
    let v = svc
        .create(&CreateVolume {
            size: 64 << 20,
            kms_key_id: Some(key.clone()),
            ..Default::default()
        })
        .unwrap();
    let g = svc.grant(&v.volume_id).unwrap().unwrap();
    assert!(g.key_arn.ends_with(&key));
    drop(svc.open(&v.volume_id).unwrap());
    let ebs: Vec<String> = e
        .audit_lines()
        .into_iter()
        .filter(|l| l.principal == EBS)
        .map(|l| l.operation)
        .collect();
    assert_eq!(
        ebs,
        [
            "GenerateDataKeyWithoutPlaintext",
            "CreateGrant",
            "Decrypt",
            "Decrypt"
        ]
    );
    let mut s = svc.settings().unwrap();
    s.encryption_by_default = false;
    svc.set_settings(&s).unwrap();
    let plain = svc.create(&CreateVolume {
        size: 64 << 20,
        ..Default::default()
    });
    let plain = plain.unwrap().volume_id;
    assert_eq!(svc.grant(&plain).unwrap(), None);
    drop(svc.open(&plain).unwrap());
    assert_eq!(svc.grant(&plain).unwrap(), None);
    svc.delete(&plain).unwrap();
    svc.delete(&v.volume_id).unwrap();
    assert!(
        e.audit_lines()
            .iter()
            .any(|l| l.operation == "RetireGrant" && l.principal == EBS && l.outcome == "Success")
    );
}
