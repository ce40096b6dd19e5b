//! Accounts and regions: one home holds one or more accounts and serves every region; each
//! account has its own KMS in each region (its own keys, aliases and AWS-managed keys), as
//! in AWS. The home's own account keeps its keystores where they always were (the home's
//! region in `kms/keys/`, `kms/aliases.kms`; each other region in `kms/regions/<region>/`)
//! and its trail in `kms/audit.log`; every other account of the home (`kmsfs account
//! create`) has `kms/accounts/<ACCOUNT>/<region>/` and its own trail,
//! `kms/accounts/<ACCOUNT>/audit.log` (CloudTrail keeps a trail per account). All are
//! sealed under the home's one root key and share its clock.
//!
//! [`Kms::in_account`] opens the KMS of an (account, region) on first use and keeps it
//! ([`Kms::in_region`] stays in the same account); [`Kms::reset`] wipes every account and
//! region, then applies the seeds applied so far again. Which KMS serves a request (the
//! key's account or the caller's) is decided in `resolve.rs`.

use super::audit::AuditLog;
use super::caller::Caller;
use super::error::{KmsError, StoreError};
use super::seed::Seed;
use super::service::Kms;
use crate::home::{Home, Layout};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// A KMS's place among the accounts and regions of its home.
pub(super) struct Regions {
    /// The KMS of the home's account in the home's region (the KMS itself, in that one).
    home: Weak<Kms>,
    /// In the home's KMS only: the other accounts and regions.
    others: Option<Others>,
}

/// What the home's KMS keeps about the other accounts and regions, and the seeds.
struct Others {
    /// The home (its layout, and the accounts its identity registry holds).
    home: Home,
    /// How often the trails of other accounts are flushed (as the home's).
    audit_interval: Option<Duration>,
    /// The KMS of each (account, region) opened so far.
    open: Mutex<BTreeMap<(String, String), Arc<Kms>>>,
    /// The trail of each other account opened so far.
    trails: Mutex<BTreeMap<String, Arc<AuditLog>>>,
    /// The seeds applied through this home's KMS, in order, to apply again after a reset.
    seeds: Mutex<Vec<AppliedSeed>>,
}

/// A seed as it was applied: by whom, in which account, with which default region.
#[derive(Clone)]
struct AppliedSeed {
    seed: Arc<Seed>,
    principal: Caller,
    account: String,
    region: String,
}

impl Regions {
    /// The accounts and regions of `home`, whose KMS (home account, home region) is `me`.
    pub(super) fn of_home(me: Weak<Kms>, home: &Home, audit_interval: Option<Duration>) -> Regions {
        Regions {
            home: me,
            others: Some(Others {
                home: home.clone(),
                audit_interval,
                open: Mutex::default(),
                trails: Mutex::default(),
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

impl Others {
    fn layout(&self) -> &Layout {
        self.home.layout()
    }

    /// Whether `account` is an account of the home other than its own.
    fn is_other_account(&self, account: &str) -> bool {
        account != self.home.config().account_id
            && crate::iam::Iam::open(&self.home)
                .account(Some(account))
                .is_ok()
    }

    /// The keystore directory of (`account`, `region`), except the home's own account in
    /// its region (`kms/`).
    fn keystore_dir(&self, account: &str, region: &str) -> PathBuf {
        if account == self.home.config().account_id {
            self.layout().kms_regions_dir().join(region)
        } else {
            self.layout().account_kms_dir(account).join(region)
        }
    }

    /// The trail of `account` (the home's own is the home KMS's).
    fn trail(&self, account: &str) -> Result<Arc<AuditLog>, KmsError> {
        let mut trails = self.trails.lock().expect("trails lock");
        if let Some(t) = trails.get(account) {
            return Ok(t.clone());
        }
        let dir = self.layout().account_kms_dir(account);
        crate::fsutil::create_dir_durable(&dir, 0o700).map_err(|e| StoreError::io(&dir, e))?;
        let log = AuditLog::open(
            &self.layout().account_audit_log(account),
            self.audit_interval,
        );
        trails.insert(account.to_string(), log.clone());
        Ok(log)
    }
}

impl Kms {
    /// The KMS of the home's account in the home's region.
    fn home_kms(&self) -> Result<Arc<Kms>, KmsError> {
        self.regions
            .home
            .upgrade()
            .ok_or_else(|| KmsError::Internal("the home's KMS is closed".into()))
    }

    /// The KMS of `region` in the same account (this one for its own region).
    pub fn in_region(&self, region: &str) -> Result<Arc<Kms>, KmsError> {
        let account = self.account.account_id.clone();
        self.in_account(&account, region)?.ok_or_else(|| {
            KmsError::Internal(format!("the account {account} is no longer in the home"))
        })
    }

    /// The KMS of `account` in `region`, or `None` if `account` is not an account of
    /// this home (`kmsfs account create`). Each has its own keys and aliases; all share
    /// the home's root key and clock; the home's own account has the home's trail, every
    /// other account its own. Opened on first use (lazy maintenance runs over its keys
    /// then) and kept. A region name that is not like `us-east-1` is a
    /// ValidationException.
    pub fn in_account(&self, account: &str, region: &str) -> Result<Option<Arc<Kms>>, KmsError> {
        let home = self.home_kms()?;
        let own = account == home.account.account_id;
        if own && region == home.account.region {
            return Ok(Some(home));
        }
        let others = home.regions.others();
        let key = (account.to_string(), region.to_string());
        if let Some(k) = others.open.lock().expect("regions lock").get(&key) {
            return Ok(Some(k.clone()));
        }
        let cfg = crate::home::AccountConfig {
            account_id: account.to_string(),
            ..home
                .account
                .in_region(region)
                .map_err(|e| KmsError::Validation(e.to_string()))?
        };
        if !own && !others.is_other_account(account) {
            return Ok(None);
        }
        let trail = if own {
            None
        } else {
            Some(others.trail(account)?)
        };
        let mut open = others.open.lock().expect("regions lock");
        if let Some(k) = open.get(&key) {
            return Ok(Some(k.clone()));
        }
        // The keystore's id binds the account and region into what it seals.
        let label = if own {
            region.to_string()
        } else {
            format!("{account}/{region}")
        };
        let ks = home
            .ks
            .for_region(&others.keystore_dir(account, region), &label);
        let member = Regions::member(Arc::downgrade(&home));
        let kms = Arc::new(home.sibling(ks, cfg, member, trail)?);
        open.insert(key, kms.clone());
        // Maintenance may reach other Regions (a multi-Region key's set): not under the lock.
        drop(open);
        kms.sweep_at_open()?;
        Ok(Some(kms))
    }

    /// The KMS of `region` for the account of `principal` (an IAM or STS ARN of an
    /// account of the home); the home's account for a service principal or an account
    /// the home does not hold.
    pub fn for_principal(&self, principal: &str, region: &str) -> Result<Arc<Kms>, KmsError> {
        let home = self.home_kms()?;
        match super::resolve::principal_account(principal) {
            Some(a) => match home.in_account(a, region)? {
                Some(k) => Ok(k),
                None => home.in_region(region),
            },
            None => home.in_region(region),
        }
    }

    /// Every (account, region) that has (or had) a keystore, or was opened, other than
    /// the home's account in its region.
    fn other_keystores(&self) -> Result<Vec<(String, String)>, KmsError> {
        let home = self.home_kms()?;
        let others = home.regions.others();
        let mut all: Vec<(String, String)> = others
            .open
            .lock()
            .expect("regions lock")
            .keys()
            .cloned()
            .collect();
        let own = &home.account.account_id;
        for region in dir_names(&others.layout().kms_regions_dir())? {
            all.push((own.clone(), region));
        }
        for account in dir_names(&others.layout().kms_accounts_dir())? {
            for region in dir_names(&others.layout().account_kms_dir(&account))? {
                all.push((account.clone(), region));
            }
        }
        all.retain(|(a, r)| {
            crate::home::check_region(r).is_ok() && !(a == own && *r == home.account.region)
        });
        all.sort();
        all.dedup();
        Ok(all)
    }

    /// Write the buffered lines of every trail (the home's and each account's opened).
    pub(super) fn flush_trails(&self) -> Result<(), KmsError> {
        let home = self.home_kms()?;
        let mut trails = vec![home.audit.clone()];
        trails.extend(
            home.regions
                .others()
                .trails
                .lock()
                .expect("trails lock")
                .values()
                .cloned(),
        );
        for t in trails {
            t.flush().map_err(|e| {
                KmsError::Internal(format!("the audit trail cannot be written: {e}"))
            })?;
        }
        Ok(())
    }

    /// Delete every key (customer and AWS-managed), alias and tag of EVERY account and
    /// region of the home, as moto's `POST /moto-api/reset` does (the endpoint offers it
    /// to test suites when told to), then apply the seeds applied so far again, so that a
    /// reset goes back to the seeded state. Access keys, identities and the audit trails
    /// stay. How many keys were deleted.
    pub fn reset(&self, principal: &Caller) -> Result<usize, KmsError> {
        let home = self.home_kms()?;
        let deleted = home.run(principal, "Reset", |_| {
            let mut n = home.wipe()?;
            for (account, region) in home.other_keystores()? {
                if let Some(k) = home.in_account(&account, &region)? {
                    n += k.wipe()?;
                }
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
            if let Some(k) = home.in_account(&s.account, &s.region)? {
                k.apply_seed_once(&s.principal, &s.seed)?;
            }
        }
        Ok(deleted)
    }

    /// Remember a seed applied in this KMS's account and region, to apply it again after
    /// a reset.
    pub(super) fn remember_seed(
        &self,
        principal: &Caller,
        seed: &Arc<Seed>,
    ) -> Result<(), KmsError> {
        let home = self.home_kms()?;
        let mut seeds = home.regions.others().seeds.lock().expect("seeds lock");
        let (account, region) = (&self.account.account_id, &self.account.region);
        if !seeds
            .iter()
            .any(|s| Arc::ptr_eq(&s.seed, seed) && s.region == *region && s.account == *account)
        {
            seeds.push(AppliedSeed {
                seed: seed.clone(),
                principal: principal.clone(),
                account: account.clone(),
                region: region.clone(),
            });
        }
        Ok(())
    }
}

/// The names of the directories in `dir` (none if it does not exist).
fn dir_names(dir: &std::path::Path) -> Result<Vec<String>, KmsError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io(dir, e).into()),
    };
    Ok(rd
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect())
}
