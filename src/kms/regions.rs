//! Regions: one home serves every region, and a key lives in one region, as in AWS. The
//! home's region keeps its keys and aliases where they always were (`kms/keys/`,
//! `kms/aliases.kms`); each other region has its own in `kms/regions/<region>/`, sealed
//! under the same root key. Every region shares the home's audit trail (one hash chain)
//! and clock. [`Kms::in_region`] opens a region's KMS on first use and keeps it;
//! [`Kms::reset`] wipes every region, then applies the seeds applied so far again.

use super::caller::Caller;
use super::error::KmsError;
use super::seed::Seed;
use super::service::Kms;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};

/// A KMS's place among the regions of its home.
pub(super) struct Regions {
    /// The KMS of the home's region (the KMS itself, in the home's).
    home: Weak<Kms>,
    /// In the home's KMS only: the other regions.
    others: Option<Others>,
}

/// What the home's KMS keeps about the other regions and the seeds.
struct Others {
    /// `kms/regions/`.
    dir: PathBuf,
    /// The KMS of each region opened so far.
    open: Mutex<BTreeMap<String, Arc<Kms>>>,
    /// The seeds applied through this home's KMS, in order, to apply again after a reset.
    seeds: Mutex<Vec<AppliedSeed>>,
}

/// A seed as it was applied: by whom, with which default region.
#[derive(Clone)]
struct AppliedSeed {
    seed: Arc<Seed>,
    principal: Caller,
    region: String,
}

impl Regions {
    /// The regions of the home whose KMS is `me`; the others' keystores are in `dir`.
    pub(super) fn of_home(me: Weak<Kms>, dir: PathBuf) -> Regions {
        Regions {
            home: me,
            others: Some(Others {
                dir,
                open: Mutex::default(),
                seeds: Mutex::default(),
            }),
        }
    }

    fn member(home: Weak<Kms>) -> Regions {
        Regions { home, others: None }
    }

    fn others(&self) -> &Others {
        self.others
            .as_ref()
            .expect("the home's KMS keeps the other regions")
    }
}

impl Kms {
    /// The KMS of the home's region.
    fn home_kms(&self) -> Result<Arc<Kms>, KmsError> {
        self.regions
            .home
            .upgrade()
            .ok_or_else(|| KmsError::Internal("the home's KMS is closed".into()))
    }

    /// The KMS of `region` in the same home (this one for its own region): its own keys
    /// and aliases, the home's root key, audit trail and clock. Opened on first use (lazy
    /// maintenance runs over its keys then) and kept. A region name that is not like
    /// `us-east-1` is a ValidationException.
    pub fn in_region(&self, region: &str) -> Result<Arc<Kms>, KmsError> {
        let home = self.home_kms()?;
        if region == home.account.region {
            return Ok(home);
        }
        let account = home
            .account
            .in_region(region)
            .map_err(|e| KmsError::Validation(e.to_string()))?;
        let others = home.regions.others();
        let mut open = others.open.lock().expect("regions lock");
        if let Some(k) = open.get(region) {
            return Ok(k.clone());
        }
        let ks = home.ks.for_region(&others.dir.join(region), region);
        let member = Regions::member(Arc::downgrade(&home));
        let kms = Arc::new(home.sibling(ks, account, member)?);
        kms.purge()?;
        open.insert(region.to_string(), kms.clone());
        Ok(kms)
    }

    /// The regions other than the home's that have (or had) keys, or were opened.
    fn other_regions(&self) -> Result<Vec<String>, KmsError> {
        let home = self.home_kms()?;
        let others = home.regions.others();
        let mut names: Vec<String> = others
            .open
            .lock()
            .expect("regions lock")
            .keys()
            .cloned()
            .collect();
        let rd = match std::fs::read_dir(&others.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(names),
            Err(e) => return Err(super::error::StoreError::io(&others.dir, e).into()),
        };
        for ent in rd.flatten() {
            let name = ent.file_name().to_string_lossy().into_owned();
            let valid = crate::home::check_region(&name).is_ok();
            if valid && ent.path().is_dir() && !names.contains(&name) {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// Delete every key (customer and AWS-managed), alias and tag of EVERY region of the
    /// home, as moto's `POST /moto-api/reset` does (the endpoint offers it to test suites
    /// when told to), then apply the seeds applied so far again, so that a reset goes back
    /// to the seeded state. Access keys and the audit trail stay. How many keys were
    /// deleted.
    pub fn reset(&self, principal: &Caller) -> Result<usize, KmsError> {
        let home = self.home_kms()?;
        let deleted = home.run(principal, "Reset", |_| {
            let mut n = home.wipe()?;
            for region in home.other_regions()? {
                n += home.in_region(&region)?.wipe()?;
            }
            Ok(n)
        })?;
        let seeds = home
            .regions
            .others()
            .seeds
            .lock()
            .expect("seeds lock")
            .clone();
        for s in seeds {
            home.in_region(&s.region)?
                .apply_seed_once(&s.principal, &s.seed)?;
        }
        Ok(deleted)
    }

    /// Remember a seed applied in this KMS's region, to apply it again after a reset.
    pub(super) fn remember_seed(
        &self,
        principal: &Caller,
        seed: &Arc<Seed>,
    ) -> Result<(), KmsError> {
        let home = self.home_kms()?;
        let mut seeds = home.regions.others().seeds.lock().expect("seeds lock");
        if !seeds
            .iter()
            .any(|s| Arc::ptr_eq(&s.seed, seed) && s.region == self.account.region)
        {
            seeds.push(AppliedSeed {
                seed: seed.clone(),
                principal: principal.clone(),
                region: self.account.region.clone(),
            });
        }
        Ok(())
    }
}
