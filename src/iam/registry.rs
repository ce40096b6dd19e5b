//! [`Iam`]: the accounts of a home and their users, roles and inline policies, on disk.
//!
//! One folder per account, `iam/accounts/<ACCOUNT>/` (room for what an account will own
//! next, such as its own KMS keystore), holding `account.json` (docs/FORMAT.md, "Identity
//! registry"): the account's users and roles with their inline policies. Every change
//! reads, changes and replaces that file atomically (mode 0600) under the exclusive lock
//! `iam/lock`, so two processes never lose each other's changes. The home's own account
//! (`config.json`) always exists, with or without a file; other accounts exist while
//! their folder holds an `account.json`.

use super::names::{self, Principal};
use super::{IamError, IdentityPolicies, KeyOwners};
use crate::fsutil;
use crate::home::Home;
use crate::policy::PolicyKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Version of `account.json`.
const FORMAT: u32 = 1;
/// The longest session IAM lets a role give, and its default (seconds).
pub(crate) const DEFAULT_MAX_SESSION: u32 = 3600;

/// An IAM user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct User {
    pub user_name: String,
    /// `AIDA` and 17 characters.
    pub user_id: String,
    pub path: String,
    pub created_ms: i64,
    /// Inline identity policies by name (JSON documents as given).
    #[serde(default)]
    pub policies: BTreeMap<String, String>,
}

/// An IAM role: who may assume it (its trust policy, kept for evaluation) and its inline
/// identity policies.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Role {
    pub role_name: String,
    /// `AROA` and 17 characters.
    pub role_id: String,
    pub path: String,
    pub created_ms: i64,
    pub assume_role_policy_document: String,
    /// Longest session `sts assume-role` gives (seconds, 3,600 to 43,200).
    pub max_session_duration: u32,
    #[serde(default)]
    pub policies: BTreeMap<String, String>,
}

/// An account's file.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AccountFile {
    format: u32,
    account_id: String,
    created_ms: i64,
    #[serde(default)]
    users: BTreeMap<String, User>,
    #[serde(default)]
    roles: BTreeMap<String, Role>,
}

/// An account of the home, as `account list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Account {
    pub account_id: String,
    /// The root principal's ARN.
    pub arn: String,
    /// Whether this is the home's own account (`config.json`).
    pub home: bool,
    pub users: usize,
    pub roles: usize,
}

/// Whose inline policies: a user's or a role's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    User,
    Role,
}

/// The identity registry of a home.
#[derive(Debug, Clone)]
pub struct Iam {
    dir: PathBuf,
    home_account: String,
    partition: String,
}

impl Iam {
    /// The registry of `home` (nothing is read until asked).
    pub fn open(home: &Home) -> Iam {
        let c = home.config();
        Iam {
            dir: home.layout().iam_dir(),
            home_account: c.account_id.clone(),
            partition: c.partition.clone(),
        }
    }

    /// The home's own account id.
    pub fn home_account(&self) -> &str {
        &self.home_account
    }

    pub fn root_arn(&self, account: &str) -> String {
        names::root_arn(&self.partition, account)
    }

    pub fn user_arn(&self, account: &str, u: &User) -> String {
        format!(
            "arn:{}:iam::{account}:user{}{}",
            self.partition, u.path, u.user_name
        )
    }

    pub fn role_arn(&self, account: &str, r: &Role) -> String {
        format!(
            "arn:{}:iam::{account}:role{}{}",
            self.partition, r.path, r.role_name
        )
    }

    /// The principal of a session of `role`: `arn:PARTITION:sts::ACCOUNT:assumed-role/R/S`.
    pub fn assumed_role_arn(&self, account: &str, role: &str, session: &str) -> String {
        format!(
            "arn:{}:sts::{account}:assumed-role/{role}/{session}",
            self.partition
        )
    }

    fn account_file(&self, account: &str) -> PathBuf {
        self.dir.join("accounts").join(account).join("account.json")
    }

    /// The account `account` names (default: the home's), checked to exist.
    pub fn account(&self, account: Option<&str>) -> Result<String, IamError> {
        let id = account.unwrap_or(&self.home_account);
        names::check_account_id(id)?;
        if id != self.home_account && !self.account_file(id).exists() {
            return Err(IamError::NoSuchEntity(format!(
                "The account with id {id} cannot be found."
            )));
        }
        Ok(id.to_string())
    }

    /// Read `account`'s file (the home's account without one is empty).
    fn read(&self, account: &str) -> Result<AccountFile, IamError> {
        let path = self.account_file(account);
        match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| IamError::Damaged {
                path,
                why: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if account == self.home_account {
                    Ok(AccountFile {
                        format: FORMAT,
                        account_id: account.to_string(),
                        created_ms: 0,
                        users: BTreeMap::new(),
                        roles: BTreeMap::new(),
                    })
                } else {
                    Err(IamError::NoSuchEntity(format!(
                        "The account with id {account} cannot be found."
                    )))
                }
            }
            Err(e) => Err(IamError::io(&path, e)),
        }
    }

    fn write(&self, f: &AccountFile) -> Result<(), IamError> {
        let path = self.account_file(&f.account_id);
        let dir = path.parent().expect("an account file has a folder");
        fsutil::create_dir_durable(dir, 0o700).map_err(|e| IamError::io(dir, e))?;
        let bytes = serde_json::to_vec_pretty(f).expect("an account file serializes");
        fsutil::atomic_write(&path, &bytes, 0o600).map_err(|e| IamError::io(&path, e))
    }

    /// The registry's lock, held while a file is read, changed and replaced.
    fn lock(&self) -> Result<fsutil::FileLock, IamError> {
        fsutil::create_dir_durable(&self.dir, 0o700).map_err(|e| IamError::io(&self.dir, e))?;
        let path = self.dir.join("lock");
        fsutil::FileLock::acquire(&path, fsutil::lock_timeout()).map_err(|e| {
            if e.kind() == std::io::ErrorKind::WouldBlock {
                IamError::Locked(path.clone())
            } else {
                IamError::io(&path, e)
            }
        })
    }

    /// Change `account`'s file with `f` under the lock; written only if `f` succeeds.
    fn update<T>(
        &self,
        account: &str,
        f: impl FnOnce(&mut AccountFile) -> Result<T, IamError>,
    ) -> Result<T, IamError> {
        let _g = self.lock()?;
        let mut file = self.read(account)?;
        let out = f(&mut file)?;
        if file.created_ms == 0 {
            file.created_ms = crate::timefmt::now_ms();
        }
        self.write(&file)?;
        Ok(out)
    }

    // ---- accounts ----

    /// Every account: the home's first, then the others by id.
    pub fn list_accounts(&self) -> Result<Vec<Account>, IamError> {
        let dir = self.dir.join("accounts");
        let mut ids = Vec::new();
        match std::fs::read_dir(&dir) {
            Ok(rd) => {
                for ent in rd {
                    let ent = ent.map_err(|e| IamError::io(&dir, e))?;
                    let name = ent.file_name().to_string_lossy().into_owned();
                    let listed = names::check_account_id(&name).is_ok()
                        && name != self.home_account
                        && ent.path().join("account.json").exists();
                    if listed {
                        ids.push(name);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(IamError::io(&dir, e)),
        }
        ids.sort();
        ids.insert(0, self.home_account.clone());
        ids.iter()
            .map(|id| {
                let f = self.read(id)?;
                Ok(Account {
                    account_id: id.clone(),
                    arn: self.root_arn(id),
                    home: *id == self.home_account,
                    users: f.users.len(),
                    roles: f.roles.len(),
                })
            })
            .collect()
    }

    /// Add the account `id` (12 digits) to the home.
    pub fn create_account(&self, id: &str) -> Result<Account, IamError> {
        names::check_account_id(id)?;
        let _g = self.lock()?;
        if id == self.home_account || self.account_file(id).exists() {
            return Err(IamError::EntityAlreadyExists(format!(
                "The account {id} already exists."
            )));
        }
        self.write(&AccountFile {
            format: FORMAT,
            account_id: id.to_string(),
            created_ms: crate::timefmt::now_ms(),
            users: BTreeMap::new(),
            roles: BTreeMap::new(),
        })?;
        Ok(Account {
            account_id: id.to_string(),
            arn: self.root_arn(id),
            home: false,
            users: 0,
            roles: 0,
        })
    }

    /// Remove the account `id`: not the home's, and only without users or roles.
    pub fn delete_account(&self, id: &str) -> Result<(), IamError> {
        names::check_account_id(id)?;
        if id == self.home_account {
            return Err(IamError::DeleteConflict(format!(
                "The account {id} is the home's own account (config.json) and cannot be deleted."
            )));
        }
        let _g = self.lock()?;
        let f = self.read(id)?;
        if !f.users.is_empty() || !f.roles.is_empty() {
            return Err(IamError::DeleteConflict(format!(
                "Cannot delete the account {id}: it has {} users and {} roles; delete them first.",
                f.users.len(),
                f.roles.len()
            )));
        }
        let path = self.account_file(id);
        fsutil::durable_remove(&path).map_err(|e| IamError::io(&path, e))?;
        let dir = path.parent().expect("an account file has a folder");
        let _ = std::fs::remove_dir(dir);
        Ok(())
    }

    // ---- users ----

    /// Create the user `name` in `account`.
    pub fn create_user(&self, account: &str, name: &str) -> Result<User, IamError> {
        names::check_user_name(name)?;
        let user_id = names::new_unique_id("AIDA")?;
        self.update(account, |f| {
            if f.users.keys().any(|n| n.eq_ignore_ascii_case(name)) {
                return Err(IamError::EntityAlreadyExists(format!(
                    "User with name {name} already exists."
                )));
            }
            let u = User {
                user_name: name.to_string(),
                user_id,
                path: "/".into(),
                created_ms: crate::timefmt::now_ms(),
                policies: BTreeMap::new(),
            };
            f.users.insert(name.to_string(), u.clone());
            Ok(u)
        })
    }

    /// The user `name` of `account`.
    pub fn get_user(&self, account: &str, name: &str) -> Result<User, IamError> {
        names::check_user_name(name)?;
        self.read(account)?
            .users
            .remove(name)
            .ok_or_else(|| no_user(name))
    }

    /// Every user of `account`, by name.
    pub fn list_users(&self, account: &str) -> Result<Vec<User>, IamError> {
        Ok(self.read(account)?.users.into_values().collect())
    }

    /// Delete the user `name`: refused (DeleteConflict) while it has access keys or
    /// inline policies, as IAM refuses it.
    pub fn delete_user(
        &self,
        account: &str,
        name: &str,
        keys: &dyn KeyOwners,
    ) -> Result<(), IamError> {
        names::check_user_name(name)?;
        self.update(account, |f| {
            let u = f.users.get(name).ok_or_else(|| no_user(name))?;
            let held = keys.access_keys_of(&self.user_arn(account, u))?;
            if !held.is_empty() || !u.policies.is_empty() {
                return Err(IamError::DeleteConflict(
                    "Cannot delete entity, must delete access keys and policies first.".into(),
                ));
            }
            f.users.remove(name);
            Ok(())
        })
    }

    // ---- roles ----

    /// Create the role `name` in `account`, assumable as its trust policy `trust` says.
    pub fn create_role(
        &self,
        account: &str,
        name: &str,
        trust: &str,
        max_session: Option<u32>,
    ) -> Result<Role, IamError> {
        names::check_role_name(name)?;
        let trust = names::check_policy_document(trust, PolicyKind::Key)?;
        let max = max_session.unwrap_or(DEFAULT_MAX_SESSION);
        if !(3600..=43_200).contains(&max) {
            return Err(IamError::Validation(format!(
                "MaxSessionDuration {max} must be between 3600 and 43200 seconds"
            )));
        }
        let role_id = names::new_unique_id("AROA")?;
        self.update(account, |f| {
            if f.roles.keys().any(|n| n.eq_ignore_ascii_case(name)) {
                return Err(IamError::EntityAlreadyExists(format!(
                    "Role with name {name} already exists."
                )));
            }
            let r = Role {
                role_name: name.to_string(),
                role_id,
                path: "/".into(),
                created_ms: crate::timefmt::now_ms(),
                assume_role_policy_document: trust,
                max_session_duration: max,
                policies: BTreeMap::new(),
            };
            f.roles.insert(name.to_string(), r.clone());
            Ok(r)
        })
    }

    pub fn get_role(&self, account: &str, name: &str) -> Result<Role, IamError> {
        names::check_role_name(name)?;
        self.read(account)?
            .roles
            .remove(name)
            .ok_or_else(|| no_role(name))
    }

    pub fn list_roles(&self, account: &str) -> Result<Vec<Role>, IamError> {
        Ok(self.read(account)?.roles.into_values().collect())
    }

    /// Delete the role `name`: refused (DeleteConflict) while it has inline policies.
    pub fn delete_role(&self, account: &str, name: &str) -> Result<(), IamError> {
        names::check_role_name(name)?;
        self.update(account, |f| {
            let r = f.roles.get(name).ok_or_else(|| no_role(name))?;
            if !r.policies.is_empty() {
                return Err(IamError::DeleteConflict(
                    "Cannot delete entity, must delete policies first.".into(),
                ));
            }
            f.roles.remove(name);
            Ok(())
        })
    }

    // ---- inline policies ----

    /// The inline policies of a user or role, mutably, or NoSuchEntity.
    fn policies_of<'f>(
        f: &'f mut AccountFile,
        holder: Holder,
        name: &str,
    ) -> Result<&'f mut BTreeMap<String, String>, IamError> {
        match holder {
            Holder::User => f
                .users
                .get_mut(name)
                .map(|u| &mut u.policies)
                .ok_or_else(|| no_user(name)),
            Holder::Role => f
                .roles
                .get_mut(name)
                .map(|r| &mut r.policies)
                .ok_or_else(|| no_role(name)),
        }
    }

    fn check_holder(holder: Holder, name: &str) -> Result<(), IamError> {
        match holder {
            Holder::User => names::check_user_name(name),
            Holder::Role => names::check_role_name(name),
        }
    }

    /// Add or replace the inline policy `policy` of a user or role.
    pub fn put_policy(
        &self,
        account: &str,
        holder: Holder,
        name: &str,
        policy: &str,
        document: &str,
    ) -> Result<(), IamError> {
        Self::check_holder(holder, name)?;
        names::check_policy_name(policy)?;
        let doc = names::check_policy_document(document, PolicyKind::Identity)?;
        self.update(account, |f| {
            Self::policies_of(f, holder, name)?.insert(policy.to_string(), doc);
            Ok(())
        })
    }

    /// The document of the inline policy `policy` of a user or role.
    pub fn get_policy(
        &self,
        account: &str,
        holder: Holder,
        name: &str,
        policy: &str,
    ) -> Result<String, IamError> {
        Self::check_holder(holder, name)?;
        names::check_policy_name(policy)?;
        let mut f = self.read(account)?;
        Self::policies_of(&mut f, holder, name)?
            .remove(policy)
            .ok_or_else(|| no_policy(policy))
    }

    /// The names of a user's or role's inline policies.
    pub fn list_policies(
        &self,
        account: &str,
        holder: Holder,
        name: &str,
    ) -> Result<Vec<String>, IamError> {
        Self::check_holder(holder, name)?;
        let mut f = self.read(account)?;
        Ok(Self::policies_of(&mut f, holder, name)?
            .keys()
            .cloned()
            .collect())
    }

    pub fn delete_policy(
        &self,
        account: &str,
        holder: Holder,
        name: &str,
        policy: &str,
    ) -> Result<(), IamError> {
        Self::check_holder(holder, name)?;
        names::check_policy_name(policy)?;
        self.update(account, |f| {
            Self::policies_of(f, holder, name)?
                .remove(policy)
                .map(|_| ())
                .ok_or_else(|| no_policy(policy))
        })
    }
}

impl IdentityPolicies for Iam {
    fn identity_policies(&self, principal_arn: &str) -> Result<Vec<(String, String)>, IamError> {
        let (account, holder, name) = match Principal::parse(principal_arn) {
            Some(Principal::User { account, name }) => (account, Holder::User, name),
            Some(Principal::Role { account, name }) => (account, Holder::Role, name),
            Some(Principal::AssumedRole { account, role, .. }) => (account, Holder::Role, role),
            _ => return Ok(Vec::new()),
        };
        let mut f = match self.read(&account) {
            Ok(f) => f,
            Err(IamError::NoSuchEntity(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(match Self::policies_of(&mut f, holder, &name) {
            Ok(p) => std::mem::take(p).into_iter().collect(),
            Err(_) => Vec::new(),
        })
    }
}

fn no_user(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The user with name {name} cannot be found."))
}

fn no_role(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The role with name {name} cannot be found."))
}

fn no_policy(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The policy with name {name} cannot be found."))
}
