//! Applying a seed file ([`Seed`], parsed in `seed.rs`) to the KMS: every key it names is
//! created with its fixed id and material, or kept if it is already there with the same
//! material; missing aliases are added. The whole seed is checked against the store before
//! anything is written, under the write lock of every region it touches, so a seed that
//! conflicts with the store (a key with other material, an alias that points elsewhere)
//! changes nothing. Applying it again changes nothing and says so.
//!
//! The material ids of seeded material are derived from the material (HKDF-SHA-256), so
//! two homes seeded alike report the same `KeyMaterialId`s; their ciphertexts (which name
//! the key id and the material version) decrypt in either.

use super::caller::Caller;
use super::clock::{DAY_MS, Millis};
use super::error::KmsError;
use super::keystore::AliasEntry;
use super::maintenance::new_record;
use super::policy::default_policy;
use super::record::{
    AutoRotation, KeyManager, KeyRecord, KeySecret, KeyState, Material, MaterialOrigin,
};
use super::seed::{Seed, SeedKey};
use super::service::{Kms, MAX_ALIASES_PER_KEY};
use crate::crypto;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The audit operation of a key a seed created.
pub const SEED_KEY_OPERATION: &str = "SeedKey";
/// HKDF salt of a seeded material's id.
const MATERIAL_ID_SALT: &[u8] = b"kmsfs seeded key material id v1";

/// What applying a seed did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SeedReport {
    /// The seed file.
    pub seed: String,
    /// Whether anything was created.
    pub changed: bool,
    pub keys: Vec<SeededKey>,
}

/// What applying a seed did to one key.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SeededKey {
    pub key_id: String,
    pub arn: String,
    pub region: String,
    /// `created`, or `kept` (it was there with the same material; left as it is).
    pub result: &'static str,
    pub aliases_created: Vec<String>,
    pub aliases_kept: Vec<String>,
}

/// What to do for one key of the seed, decided before anything is written.
struct Step<'a> {
    kms: Arc<Kms>,
    key: &'a SeedKey,
    /// Create the key (else it is kept).
    create: bool,
    /// A key of that id is there, but its deletion is due: delete it first.
    delete_first: bool,
    new_aliases: Vec<String>,
    kept_aliases: Vec<String>,
}

impl Kms {
    /// Apply `seed` as `principal`: its keys without a region go to this KMS's region, the
    /// others to theirs. Remembered, so that [`Kms::reset`] applies it again.
    pub fn apply_seed(&self, principal: &Caller, seed: &Arc<Seed>) -> Result<SeedReport, KmsError> {
        let report = self.apply_seed_once(principal, seed)?;
        self.remember_seed(principal, seed)?;
        Ok(report)
    }

    /// Apply `seed` (see [`Kms::apply_seed`]) without remembering it.
    pub(super) fn apply_seed_once(
        &self,
        principal: &Caller,
        seed: &Seed,
    ) -> Result<SeedReport, KmsError> {
        let here = self.account.region.as_str();
        seed.check_unique(Some(here))?;
        let mut regions: BTreeMap<&str, Arc<Kms>> = BTreeMap::new();
        for k in &seed.keys {
            let r = k.region.as_deref().unwrap_or(here);
            if !regions.contains_key(r) {
                regions.insert(r, self.in_region(r)?);
            }
        }
        // Every region's write lock, in name order, for the whole check and write.
        let _locks = (regions.values())
            .map(|k| k.ks.lock())
            .collect::<Result<Vec<_>, _>>()?;
        let now = self.clock.now_ms();
        let mut steps = Vec::with_capacity(seed.keys.len());
        for k in &seed.keys {
            let kms = &regions[k.region.as_deref().unwrap_or(here)];
            steps.push(kms.plan_seed_key(seed, k, now)?);
        }
        let mut keys = Vec::with_capacity(steps.len());
        for s in steps {
            keys.push(s.kms.run_seed_step(principal, &s, now)?);
        }
        Ok(SeedReport {
            seed: seed.origin.clone(),
            changed: keys
                .iter()
                .any(|k| k.result == "created" || !k.aliases_created.is_empty()),
            keys,
        })
    }

    /// Decide what to do for `k` in this region; refuse a conflict with the store. The
    /// caller holds the lock.
    fn plan_seed_key<'a>(
        self: &Arc<Self>,
        seed: &Seed,
        k: &'a SeedKey,
        now: Millis,
    ) -> Result<Step<'a>, KmsError> {
        let arn = self.arn(&k.key_id);
        let conflict = |why: String| {
            KmsError::AlreadyExists(format!(
                "seed file {} line {}: key {arn}: {why}; nothing was changed",
                seed.origin, k.line
            ))
        };
        let existing = self.ks.load_uncached(&k.key_id)?;
        let delete_first = existing
            .as_ref()
            .is_some_and(|e| self.deletion_due(&e.record, now));
        let existing = existing.filter(|_| !delete_first);
        if let Some(e) = &existing {
            if e.record.manager == KeyManager::Aws {
                return Err(conflict("an AWS managed key has this id".into()));
            }
            if !same_material(&e.record, k) {
                return Err(conflict("it exists with other key material".into()));
            }
        }
        let target = k.uuid();
        let table = self.ks.aliases()?;
        let (mut new_aliases, mut kept_aliases) = (Vec::new(), Vec::new());
        for a in &k.aliases {
            match table.get(a) {
                // The aliases of a key deleted first go with it, and come back.
                Some(e) if e.target == target && delete_first => new_aliases.push(a.clone()),
                Some(e) if e.target == target => kept_aliases.push(a.clone()),
                Some(e) => {
                    return Err(conflict(format!(
                        "alias {a} exists and points to key {}",
                        e.target
                    )));
                }
                None => new_aliases.push(a.clone()),
            }
        }
        let had = table.values().filter(|e| e.target == target).count();
        if existing.is_some() && had + new_aliases.len() > MAX_ALIASES_PER_KEY {
            return Err(conflict(format!(
                "it would have more than {MAX_ALIASES_PER_KEY} aliases"
            )));
        }
        Ok(Step {
            kms: self.clone(),
            key: k,
            create: existing.is_none(),
            delete_first,
            new_aliases,
            kept_aliases,
        })
    }

    /// Carry out one step of a seed, each change with its audit line. The caller holds
    /// the lock.
    fn run_seed_step(
        &self,
        principal: &Caller,
        s: &Step,
        now: Millis,
    ) -> Result<SeededKey, KmsError> {
        let arn = self.arn(&s.key.key_id);
        if s.delete_first {
            self.delete_locked(&s.key.key_id)?;
        }
        if s.create {
            let rec = self.seeded_record(s.key, now)?;
            self.audited(principal, SEED_KEY_OPERATION, &arn, || {
                self.ks.put(rec)?;
                Ok(())
            })?;
        }
        for a in &s.new_aliases {
            self.audited(principal, "CreateAlias", &arn, || {
                let mut t = (*self.ks.aliases()?).clone();
                let entry = AliasEntry {
                    target: s.key.uuid(),
                    created_ms: now,
                    updated_ms: now,
                };
                t.insert(a.clone(), entry);
                self.ks.put_aliases(t)
            })?;
        }
        Ok(SeededKey {
            key_id: s.key.uuid(),
            arn,
            region: self.account.region.clone(),
            result: if s.create { "created" } else { "kept" },
            aliases_created: s.new_aliases.clone(),
            aliases_kept: s.kept_aliases.clone(),
        })
    }

    /// Run `f` as a request of `principal` on the key `arn`, with its audit line.
    fn audited(
        &self,
        principal: &Caller,
        operation: &'static str,
        arn: &str,
        f: impl FnOnce() -> Result<(), KmsError>,
    ) -> Result<(), KmsError> {
        self.run(principal, operation, |c| {
            // Applying a seed administers the home; it is no KMS API call to authorize.
            c.mark_authorized();
            c.note_key(arn.to_string());
            f()
        })
    }

    /// The record of a seeded key, as it is when created.
    fn seeded_record(&self, k: &SeedKey, now: Millis) -> Result<KeyRecord, KmsError> {
        let mut rec = new_record(
            now,
            k.description.clone(),
            KeyManager::Customer,
            k.tags.clone(),
        )?;
        rec.key_id = k.key_id;
        if !k.materials.is_empty() {
            rec.materials = (k.materials.iter().enumerate())
                .map(|(i, m)| {
                    let version = i as u32 + 1;
                    Material {
                        version,
                        id: material_id(&k.key_id, version, &m.0[..]),
                        created_ms: now,
                        origin: match version {
                            1 => MaterialOrigin::Created,
                            _ => MaterialOrigin::AutomaticRotation,
                        },
                        secret: KeySecret::Aes256(m.clone()),
                    }
                })
                .collect();
        }
        rec.state = match k.enabled {
            true => KeyState::Enabled,
            false => KeyState::Disabled,
        };
        rec.rotation = k.rotation_period_days.map(|d| AutoRotation {
            period_days: d,
            next_ms: now + i64::from(d) * DAY_MS,
        });
        rec.policy = default_policy(&self.account);
        Ok(rec)
    }
}

/// Whether a stored key has the seed's material (its first versions, oldest first; it
/// may have rotated since). A seed without material matches any.
fn same_material(r: &KeyRecord, k: &SeedKey) -> bool {
    r.materials.len() >= k.materials.len()
        && (r.materials.iter().zip(&k.materials))
            .all(|(have, want)| crypto::secret_eq(have.secret.bytes(), &want.0[..]))
}

/// The public id (`KeyMaterialId`) of seeded material: HKDF-SHA-256 of the material, salt
/// [`MATERIAL_ID_SALT`], info = key id ‖ version (u32 big-endian).
pub(super) fn material_id(key_id: &[u8; 16], version: u32, material: &[u8]) -> [u8; 32] {
    let mut info = key_id.to_vec();
    info.extend_from_slice(&version.to_be_bytes());
    *crypto::hkdf_sha256(material, MATERIAL_ID_SALT, &info).expose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SecretBytes;
    use crate::home::{Home, InitOptions};
    use crate::kms::types::*;
    use crate::kms::{KmsOptions, ManualClock, RootKeySource, audit};

    const ID: &str = "11111111-2222-3333-4444-555555555555";
    const ID2: &str = "11111111-2222-3333-4444-555555555556";
    const M1: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
    const M2: &str = "2122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40";

    fn home(dir: &std::path::Path) -> Arc<Kms> {
        let opts = InitOptions {
            account_id: Some("111122223333".into()),
            region: Some("us-east-1".into()),
        };
        let home = Home::init(dir, &opts).unwrap();
        Kms::create(&home, RootKeySource::RandomFile).unwrap();
        let opts = KmsOptions {
            clock: Arc::new(ManualClock::new(1_800_000_000_000)),
            passphrase: None,
            audit_interval: None,
        };
        Kms::open(&home, opts).unwrap()
    }

    fn seed(text: &str) -> Arc<Seed> {
        Arc::new(Seed::parse(text, "t.toml").unwrap())
    }

    fn full_seed() -> Arc<Seed> {
        seed(&format!(
            r#"
[[keys]]
key_id = "{ID}"
description = "app key"
aliases = ["alias/app"]
tags = {{ Project = "demo" }}
rotation_period_days = 180
key_material = ["{M1}", "{M2}"]

[[keys]]
key_id = "{ID2}"
region = "eu-west-1"
aliases = ["alias/app"]
enabled = false
"#
        ))
    }

    fn p() -> Caller {
        Caller::from("arn:aws:iam::111122223333:user/tester")
    }

    fn key(id: &str) -> KeyIdRequest {
        KeyIdRequest {
            key_id: id.into(),
            grant_tokens: None,
        }
    }

    fn encrypt(kms: &Kms, key_id: &str) -> Vec<u8> {
        let req = EncryptRequest {
            key_id: key_id.into(),
            plaintext: SecretBytes::from_slice(b"seeded"),
            ..Default::default()
        };
        kms.encrypt(&p(), req).unwrap().ciphertext_blob
    }

    fn decrypt(kms: &Kms, blob: Vec<u8>) -> Result<DecryptResponse, KmsError> {
        let req = DecryptRequest {
            ciphertext_blob: blob,
            ..Default::default()
        };
        kms.decrypt(&p(), req)
    }

    #[test]
    fn a_seed_creates_its_keys_then_keeps_them() {
        let d = tempfile::tempdir().unwrap();
        let kms = home(d.path());
        let r = kms.apply_seed(&p(), &full_seed()).unwrap();
        assert!(r.changed);
        assert_eq!(r.keys[0].result, "created");
        assert_eq!(r.keys[1].region, "eu-west-1");
        let m = kms
            .describe_key(&p(), key("alias/app"))
            .unwrap()
            .key_metadata;
        assert_eq!((m.key_id.as_str(), m.description.as_str()), (ID, "app key"));
        let m2: Vec<u8> = (0x21..=0x40).collect();
        let id = *uuid::Uuid::parse_str(ID).unwrap().as_bytes();
        let want = crypto::hex(&material_id(&id, 2, &m2));
        assert_eq!(m.current_key_material_id.as_deref(), Some(want.as_str()));
        let rot = kms.get_key_rotation_status(&p(), key(ID)).unwrap();
        assert_eq!(rot.rotation_period_in_days, Some(180));
        let tags = kms.list_resource_tags(
            &p(),
            ListRequest {
                key_id: Some(ID.into()),
                ..Default::default()
            },
        );
        assert_eq!(tags.unwrap().tags[0].tag_value, "demo");
        // The other region's key, disabled, behind an alias of the same name there.
        let eu = kms.in_region("eu-west-1").unwrap();
        let m2 = eu
            .describe_key(&p(), key("alias/app"))
            .unwrap()
            .key_metadata;
        assert_eq!((m2.key_id.as_str(), m2.enabled), (ID2, false));
        assert!(
            m2.arn
                .starts_with("arn:aws:kms:eu-west-1:111122223333:key/")
        );
        assert!(d.path().join("kms/regions/eu-west-1/keys").is_dir());
        // Again: nothing changes, and the report says so.
        let again = kms.apply_seed(&p(), &full_seed()).unwrap();
        assert!(!again.changed);
        assert!(again.keys.iter().all(|k| k.result == "kept"));
        assert_eq!(again.keys[0].aliases_kept, ["alias/app"]);
        kms.flush_audit().unwrap();
        let lines = audit::read_lines(kms.audit_path()).unwrap();
        let seeded = lines.iter().filter(|l| l.operation == SEED_KEY_OPERATION);
        assert_eq!(seeded.count(), 2);
        audit::verify(kms.audit_path()).unwrap();
    }

    #[test]
    fn two_homes_seeded_alike_decrypt_each_others_ciphertexts() {
        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (a, b) = (home(d1.path()), home(d2.path()));
        for k in [&a, &b] {
            k.apply_seed(&p(), &full_seed()).unwrap();
        }
        let blob = encrypt(&a, "alias/app");
        let out = decrypt(&b, blob).unwrap();
        assert_eq!(out.plaintext.expose(), b"seeded");
        let ma = a.describe_key(&p(), key(ID)).unwrap().key_metadata;
        let mb = b.describe_key(&p(), key(ID)).unwrap().key_metadata;
        assert_eq!(ma.current_key_material_id, mb.current_key_material_id);
        assert_eq!(Some(out.key_material_id), ma.current_key_material_id);
        // A key seeded with random material has the same id, not the same material.
        let id3 = "11111111-2222-3333-4444-555555555557";
        let s = seed(&format!("[[keys]]\nkey_id = \"{id3}\"\n"));
        a.apply_seed(&p(), &s).unwrap();
        b.apply_seed(&p(), &s).unwrap();
        let blob = encrypt(&a, id3);
        assert!(matches!(
            decrypt(&b, blob),
            Err(KmsError::InvalidCiphertext(_))
        ));
    }

    #[test]
    fn a_conflicting_seed_changes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let kms = home(d.path());
        kms.apply_seed(&p(), &full_seed()).unwrap();
        let other = "3".repeat(64);
        let fresh = "22222222-2222-3333-4444-555555555555";
        for (body, want) in [
            (
                format!("key_id = \"{ID}\"\nkey_material = [\"{other}\"]"),
                "other key material",
            ),
            (
                format!("key_id = \"{fresh}\"\naliases = [\"alias/app\"]"),
                "alias alias/app exists and points to key",
            ),
        ] {
            let text = format!(
                "[[keys]]\nkey_id = \"{ID2}\"\naliases = [\"alias/new\"]\n\n[[keys]]\n{body}\n"
            );
            let e = kms.apply_seed(&p(), &seed(&text)).unwrap_err();
            assert!(matches!(e, KmsError::AlreadyExists(_)), "{e}");
            assert!(
                e.message().contains(want) && e.message().contains("line 5"),
                "{e}"
            );
            assert!(kms.describe_key(&p(), key("alias/new")).is_err());
            assert!(kms.describe_key(&p(), key(fresh)).is_err());
            assert!(kms.describe_key(&p(), key(ID2)).is_err());
        }
    }

    #[test]
    fn regions_have_their_own_keys_and_reset_wipes_them_all() {
        let d = tempfile::tempdir().unwrap();
        let kms = home(d.path());
        let eu = kms.in_region("eu-west-1").unwrap();
        assert!(Arc::ptr_eq(&eu, &kms.in_region("eu-west-1").unwrap()));
        assert!(Arc::ptr_eq(&kms, &eu.in_region("us-east-1").unwrap()));
        assert!(matches!(kms.in_region("EU"), Err(KmsError::Validation(_))));
        let cn = kms.in_region("cn-north-1").unwrap();
        let created = cn
            .create_key(&p(), Default::default())
            .unwrap()
            .key_metadata;
        assert!(created.arn.starts_with("arn:aws-cn:kms:cn-north-1:"));
        let home_key = kms
            .create_key(&p(), Default::default())
            .unwrap()
            .key_metadata;
        // A key lives in one region: its ARN or id is NotFound in another.
        for id in [&home_key.arn, &home_key.key_id] {
            assert!(matches!(
                eu.describe_key(&p(), key(id)),
                Err(KmsError::NotFound(_))
            ));
        }
        let ebs_home = kms
            .describe_key(&p(), key("alias/aws/ebs"))
            .unwrap()
            .key_metadata;
        let ebs_eu = eu
            .describe_key(&p(), key("alias/aws/ebs"))
            .unwrap()
            .key_metadata;
        assert_ne!(ebs_home.key_id, ebs_eu.key_id);
        let list = |k: &Kms| k.list_keys(&p(), Default::default()).unwrap().keys.len();
        assert_eq!((list(&kms), list(&eu), list(&cn)), (2, 1, 1));
        // A reset empties every region (even one not opened by this KMS), then seeds again.
        kms.apply_seed(&p(), &full_seed()).unwrap();
        let d2 = home_again(d.path());
        let n = d2.reset(&p()).unwrap();
        assert_eq!(n, 2 + 2 + 1 + 1);
        assert_eq!(list(&kms), 0);
        assert_eq!(list(&eu), 0);
        assert_eq!(list(&cn), 0);
        kms.reset(&p()).unwrap();
        assert_eq!((list(&kms), list(&eu), list(&cn)), (1, 1, 0));
        assert_eq!(
            kms.describe_key(&p(), key("alias/app"))
                .unwrap()
                .key_metadata
                .key_id,
            ID
        );
        kms.flush_audit().unwrap();
        audit::verify(kms.audit_path()).unwrap();
    }

    /// A second KMS of the home in `dir` (as another process would open it).
    fn home_again(dir: &std::path::Path) -> Arc<Kms> {
        let home = Home::open(dir).unwrap();
        let opts = KmsOptions {
            clock: Arc::new(ManualClock::new(1_800_000_000_000)),
            passphrase: None,
            audit_interval: None,
        };
        Kms::open(&home, opts).unwrap()
    }
}
