//! The embedded KMS: every operation, with AWS's validation, key-state rules and error
//! names, writing one audit line per request. Lazy maintenance (deletion when the waiting
//! period is over, automatic rotation when due) runs on every access and at open.

use super::audit::{AuditEvent, AuditLog};
use super::blob::{self, Blob};
use super::clock::{Clock, DAY_MS, Millis};
use super::context::{self, EncryptionContext};
use super::error::{KmsError, StoreError};
use super::keystore::{AliasEntry, Keystore, LoadedKey, RootKeySource};
use super::record::{
    AutoRotation, KeyManager, KeyRecord, KeyState, Material, Material32, MaterialOrigin,
};
use super::types::*;
use crate::crypto::{self, SecretBytes};
use crate::home::{AccountConfig, Home};
use crate::timefmt::epoch_secs;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Largest Encrypt plaintext.
pub const MAX_PLAINTEXT: usize = 4096;
/// Largest NumberOfBytes for GenerateDataKey and GenerateRandom.
pub const MAX_RANDOM: u32 = 1024;
/// On-demand rotations allowed per key.
pub const MAX_ON_DEMAND_ROTATIONS: usize = 25;
/// Aliases allowed per key.
pub const MAX_ALIASES_PER_KEY: usize = 50;
/// Tags allowed per key.
pub const MAX_TAGS: usize = 50;
/// Principal recorded for the KMS's own actions (deletion, rotation, AWS-managed keys).
pub const KMS_SERVICE_PRINCIPAL: &str = "kms.amazonaws.com";

/// Services whose AWS-managed key (`alias/aws/<service>`) is created on first use.
pub const MANAGED_SERVICES: &[(&str, &str)] = &[
    (
        "ebs",
        "Default key that protects my EBS volumes when no other key is defined",
    ),
    (
        "s3",
        "Default key that protects my S3 objects when no other key is defined",
    ),
];

/// How to open the KMS.
pub struct KmsOptions {
    pub clock: Arc<dyn Clock>,
    pub passphrase: Option<SecretBytes>,
    /// Flush the audit trail this often; `None` flushes on every request.
    pub audit_interval: Option<Duration>,
}

impl Default for KmsOptions {
    fn default() -> Self {
        KmsOptions {
            clock: Arc::new(super::clock::SystemClock::from_env()),
            passphrase: None,
            audit_interval: Some(Duration::from_millis(100)),
        }
    }
}

/// What a request touched, for its audit line.
#[derive(Default)]
struct Trail {
    key_arn: Option<String>,
    dest_arn: Option<String>,
    ec: Option<EncryptionContext>,
    dest_ec: Option<EncryptionContext>,
}

/// The embedded KMS of one home.
pub struct Kms {
    ks: Keystore,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    account: AccountConfig,
    req_base: u128,
    req_ctr: AtomicU64,
}

impl std::fmt::Debug for Kms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kms")
            .field("keystore", &self.ks)
            .finish_non_exhaustive()
    }
}

/// Result of a purge sweep.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PurgeReport {
    /// ARNs of keys deleted because their waiting period was over.
    pub deleted: Vec<String>,
    /// ARNs of keys rotated because rotation was due.
    pub rotated: Vec<String>,
    /// Records that could not be read, with the reason.
    pub damaged: Vec<String>,
}

enum KeyRef {
    Id([u8; 16]),
    Alias(String),
}

fn ec_of(o: &Option<EncryptionContext>) -> EncryptionContext {
    o.clone().unwrap_or_default()
}

fn ec_for_trail(o: &Option<EncryptionContext>) -> Option<EncryptionContext> {
    o.as_ref().filter(|e| !e.is_empty()).cloned()
}

impl Kms {
    /// Create the keystore of `home` (part of `kmsfs init`).
    pub fn create(home: &Home, source: RootKeySource) -> Result<(), KmsError> {
        Keystore::create(&home.kms_dir(), source)?;
        Ok(())
    }

    /// Open the KMS of `home`, deleting keys whose waiting period is over.
    pub fn open(home: &Home, opts: KmsOptions) -> Result<Arc<Kms>, KmsError> {
        let dir = home.kms_dir();
        if !Keystore::exists(&dir) {
            return Err(StoreError::NoRootKey(dir).into());
        }
        let ks = Keystore::open(&dir, opts.passphrase.as_ref())?;
        let audit = AuditLog::open(&dir.join("audit.log"), opts.audit_interval);
        let mut b = [0u8; 16];
        crypto::fill_random(&mut b)?;
        let kms = Arc::new(Kms {
            ks,
            audit,
            clock: opts.clock,
            account: home.config().clone(),
            req_base: u128::from_le_bytes(b),
            req_ctr: AtomicU64::new(0),
        });
        kms.purge()?;
        Ok(kms)
    }

    /// Whether the keystore of `home` needs a passphrase to open.
    pub fn needs_passphrase(home: &Home) -> Result<bool, KmsError> {
        Ok(Keystore::needs_passphrase(&home.kms_dir())?)
    }

    pub fn account(&self) -> &AccountConfig {
        &self.account
    }

    pub fn now_ms(&self) -> Millis {
        self.clock.now_ms()
    }

    /// Path of the audit trail.
    pub fn audit_path(&self) -> &std::path::Path {
        self.audit.path()
    }

    /// Write buffered audit lines now.
    pub fn flush_audit(&self) -> Result<(), KmsError> {
        self.audit
            .flush()
            .map_err(|e| KmsError::Internal(format!("the audit trail cannot be written: {e}")))
    }

    /// The key ARN of `id`.
    pub fn arn(&self, id: &[u8; 16]) -> String {
        format!(
            "arn:{}:kms:{}:{}:key/{}",
            self.account.partition,
            self.account.region,
            self.account.account_id,
            uuid::Uuid::from_bytes(*id)
        )
    }

    /// The ARN of a loaded key (formatted once per load).
    fn key_arn<'a>(&self, k: &'a LoadedKey) -> &'a str {
        k.arn.get_or_init(|| self.arn(&k.record.key_id))
    }

    fn alias_arn(&self, name: &str) -> String {
        format!(
            "arn:{}:kms:{}:{}:{}",
            self.account.partition, self.account.region, self.account.account_id, name
        )
    }

    /// The principal of the calling Unix user: the account root for uid 0, else
    /// `arn:aws:iam::ACCOUNT:user/NAME`.
    pub fn os_principal(&self) -> String {
        let uid = nix::unistd::getuid();
        let acct = &self.account.account_id;
        let part = &self.account.partition;
        if uid.is_root() {
            return format!("arn:{part}:iam::{acct}:root");
        }
        let name = nix::unistd::User::from_uid(uid)
            .ok()
            .flatten()
            .map(|u| u.name)
            .unwrap_or_else(|| format!("uid-{uid}"));
        format!("arn:{part}:iam::{acct}:user/{name}")
    }

    fn request_id(&self) -> String {
        let n = self.req_ctr.fetch_add(1, Ordering::Relaxed) as u128;
        uuid::Uuid::from_u128(
            self.req_base
                .wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        )
        .hyphenated()
        .to_string()
    }

    /// Run one request and write its audit line.
    fn run<T>(
        &self,
        principal: &Arc<str>,
        operation: &'static str,
        f: impl FnOnce(&mut Trail) -> Result<T, KmsError>,
    ) -> Result<T, KmsError> {
        let mut trail = Trail::default();
        let r = match self.audit.check_healthy() {
            Ok(()) => f(&mut trail),
            Err(e) => Err(KmsError::Internal(e)),
        };
        self.audit.record(AuditEvent {
            time_ms: self.clock.now_ms(),
            request_id: self.request_id(),
            principal: principal.clone(),
            operation,
            key_arn: trail.key_arn,
            destination_key_arn: trail.dest_arn,
            encryption_context: trail.ec,
            destination_encryption_context: trail.dest_ec,
            error: r.as_ref().err().map(|e| (e.code(), e.message())),
        });
        r
    }

    fn system_event(&self, operation: &'static str, key_arn: String) {
        self.audit.record(AuditEvent {
            time_ms: self.clock.now_ms(),
            request_id: self.request_id(),
            principal: Arc::from(KMS_SERVICE_PRINCIPAL),
            operation,
            key_arn: Some(key_arn),
            destination_key_arn: None,
            encryption_context: None,
            destination_encryption_context: None,
            error: None,
        });
    }

    // ----- key resolution ---------------------------------------------------------------

    fn parse_key_ref(&self, s: &str, allow_alias: bool) -> Result<KeyRef, KmsError> {
        if s.is_empty() {
            return Err(KmsError::bound("null", "keyId", "Member must not be null"));
        }
        if s.len() > 2048 {
            return Err(KmsError::bound(
                s.len(),
                "keyId",
                "Member must have length less than or equal to 2048",
            ));
        }
        let invalid = || KmsError::NotFound(format!("Invalid keyId '{s}'"));
        let resource = if let Some(rest) = s.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            if parts.len() != 5 || parts[1] != "kms" {
                return Err(KmsError::InvalidArn(format!("Invalid arn {s}")));
            }
            if parts[0] != self.account.partition
                || parts[2] != self.account.region
                || parts[3] != self.account.account_id
            {
                return Err(KmsError::NotFound(format!("Key '{s}' does not exist")));
            }
            parts[4]
        } else {
            s
        };
        if resource.starts_with("alias/") {
            if !allow_alias {
                return Err(invalid());
            }
            return Ok(KeyRef::Alias(resource.to_string()));
        }
        let id = resource.strip_prefix("key/").unwrap_or(resource);
        if s.starts_with("arn:") && !resource.starts_with("key/") {
            return Err(KmsError::InvalidArn(format!("Invalid arn {s}")));
        }
        match uuid::Uuid::try_parse(id) {
            Ok(u) if u.hyphenated().to_string() == id.to_ascii_lowercase() => {
                Ok(KeyRef::Id(*u.as_bytes()))
            }
            _ => Err(invalid()),
        }
    }

    /// Resolve a KeyId (id, ARN, and with `allow_alias` also alias name or ARN) to a live key.
    fn resolve(&self, s: &str, allow_alias: bool) -> Result<Arc<LoadedKey>, KmsError> {
        let id = match self.parse_key_ref(s, allow_alias)? {
            KeyRef::Id(id) => id,
            KeyRef::Alias(name) => {
                let table = self.ks.aliases()?;
                match table.get(&name) {
                    Some(e) => parse_uuid(&e.target)?,
                    None => match managed_service(&name) {
                        Some((svc, desc)) => return self.managed_key(svc, desc),
                        None => {
                            return Err(KmsError::NotFound(format!(
                                "Alias {} is not found.",
                                self.alias_arn(&name)
                            )));
                        }
                    },
                }
            }
        };
        self.get_live(&id)?
            .ok_or_else(|| KmsError::NotFound(format!("Key '{}' does not exist", self.arn(&id))))
    }

    /// The key `id` after lazy maintenance, or `None` if it does not (or no longer) exist.
    fn get_live(&self, id: &[u8; 16]) -> Result<Option<Arc<LoadedKey>>, KmsError> {
        match self.ks.get(id)? {
            Some(k) => self.maintain(k),
            None => Ok(None),
        }
    }

    fn deletion_due(&self, r: &KeyRecord, now: Millis) -> bool {
        r.state == KeyState::PendingDeletion && r.deletion_ms.is_some_and(|d| now >= d)
    }

    fn rotation_due(&self, r: &KeyRecord, now: Millis) -> bool {
        r.state == KeyState::Enabled && r.rotation.is_some_and(|rot| now >= rot.next_ms)
    }

    /// Delete the key if its waiting period is over; rotate it if rotation is due.
    fn maintain(&self, k: Arc<LoadedKey>) -> Result<Option<Arc<LoadedKey>>, KmsError> {
        let now = self.clock.now_ms();
        if !self.deletion_due(&k.record, now) && !self.rotation_due(&k.record, now) {
            return Ok(Some(k));
        }
        let id = k.record.key_id;
        let _g = self.ks.lock()?;
        let Some(cur) = self.ks.load_uncached(&id)? else {
            return Ok(None);
        };
        if self.deletion_due(&cur.record, now) {
            self.delete_locked(&id)?;
            return Ok(None);
        }
        if self.rotation_due(&cur.record, now) {
            let mut rec = cur.record.clone();
            let mut rot = rec.rotation.expect("rotation is due");
            let mut n = 0;
            while now >= rot.next_ms && n < 10_000 {
                push_material(&mut rec, rot.next_ms, MaterialOrigin::AutomaticRotation)?;
                rot.next_ms += rot.period_days as i64 * DAY_MS;
                n += 1;
            }
            rec.rotation = Some(rot);
            let arn = self.arn(&id);
            let loaded = self.ks.put(rec)?;
            self.system_event("RotateKey", arn);
            return Ok(Some(loaded));
        }
        Ok(Some(cur))
    }

    /// Delete a key and its aliases. The caller holds the lock.
    fn delete_locked(&self, id: &[u8; 16]) -> Result<(), KmsError> {
        let target = uuid::Uuid::from_bytes(*id).to_string();
        let table = self.ks.aliases()?;
        if table.values().any(|e| e.target == target) {
            let mut t = (*table).clone();
            t.retain(|_, e| e.target != target);
            self.ks.put_aliases(t)?;
        }
        self.ks.remove(id)?;
        self.system_event("DeleteKey", self.arn(id));
        Ok(())
    }

    /// Run lazy maintenance over every key (at open, and for `kmsfs kms purge`).
    pub fn purge(&self) -> Result<PurgeReport, KmsError> {
        let mut rep = PurgeReport::default();
        for id in self.ks.list_ids()? {
            let before = match self.ks.get(&id) {
                Ok(Some(k)) => k,
                Ok(None) => continue,
                Err(e) => {
                    rep.damaged.push(e.to_string());
                    continue;
                }
            };
            let versions = before.record.materials.len();
            match self.maintain(before)? {
                None => rep.deleted.push(self.arn(&id)),
                Some(k) if k.record.materials.len() != versions => rep.rotated.push(self.arn(&id)),
                Some(_) => {}
            }
        }
        Ok(rep)
    }

    /// The AWS-managed key of `service`, created on first use.
    fn managed_key(&self, service: &str, description: &str) -> Result<Arc<LoadedKey>, KmsError> {
        let alias = format!("alias/aws/{service}");
        let _g = self.ks.lock()?;
        let table = self.ks.aliases()?;
        if let Some(e) = table.get(&alias) {
            let id = parse_uuid(&e.target)?;
            if let Some(k) = self.ks.load_uncached(&id)? {
                return Ok(k);
            }
        }
        let now = self.clock.now_ms();
        let mut rec = new_record(
            now,
            description.to_string(),
            KeyManager::Aws,
            BTreeMap::new(),
        )?;
        rec.policy = self.managed_policy(service);
        rec.rotation = Some(AutoRotation {
            period_days: 365,
            next_ms: now + 365 * DAY_MS,
        });
        let id = rec.key_id;
        let loaded = self.ks.put(rec)?;
        let mut t = (*table).clone();
        t.insert(
            alias,
            AliasEntry {
                target: uuid::Uuid::from_bytes(id).to_string(),
                created_ms: now,
                updated_ms: now,
            },
        );
        self.ks.put_aliases(t)?;
        self.system_event("CreateKey", self.arn(&id));
        Ok(loaded)
    }

    fn default_policy(&self) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Id":"key-default-1","Statement":[{{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{{"AWS":"arn:{}:iam::{}:root"}},"Action":"kms:*","Resource":"*"}}]}}"#,
            self.account.partition, self.account.account_id
        )
    }

    fn managed_policy(&self, service: &str) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Id":"auto-{service}-1","Statement":[{{"Sid":"Allow access through {service} for all principals in the account that are authorized to use {service}","Effect":"Allow","Principal":{{"AWS":"*"}},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:CreateGrant","kms:DescribeKey"],"Resource":"*","Condition":{{"StringEquals":{{"kms:CallerAccount":"{acct}","kms:ViaService":"{service}.{region}.amazonaws.com"}}}}}},{{"Sid":"Allow direct access to key metadata to the account","Effect":"Allow","Principal":{{"AWS":"arn:{part}:iam::{acct}:root"}},"Action":["kms:Describe*","kms:Get*","kms:List*"],"Resource":"*"}}]}}"#,
            acct = self.account.account_id,
            region = self.account.region,
            part = self.account.partition,
        )
    }

    fn require_usable(&self, k: &LoadedKey) -> Result<(), KmsError> {
        let arn = self.arn(&k.record.key_id);
        match k.record.state {
            KeyState::Enabled => Ok(()),
            KeyState::Disabled => Err(KmsError::Disabled(format!("{arn} is disabled."))),
            KeyState::PendingDeletion => Err(KmsError::InvalidState(format!(
                "{arn} is pending deletion."
            ))),
        }
    }

    fn require_not_pending_deletion(&self, r: &KeyRecord) -> Result<(), KmsError> {
        if r.state == KeyState::PendingDeletion {
            return Err(KmsError::InvalidState(format!(
                "{} is pending deletion.",
                self.arn(&r.key_id)
            )));
        }
        Ok(())
    }

    fn require_customer_managed(&self, r: &KeyRecord, what: &str) -> Result<(), KmsError> {
        if r.manager == KeyManager::Aws {
            return Err(KmsError::AccessDenied(format!(
                "{} is an AWS managed key; {what}",
                self.arn(&r.key_id)
            )));
        }
        Ok(())
    }

    /// Apply `f` to the freshest record of `id` under the lock and store the result.
    fn mutate<T>(
        &self,
        id: &[u8; 16],
        f: impl FnOnce(&mut KeyRecord) -> Result<T, KmsError>,
    ) -> Result<T, KmsError> {
        let _g = self.ks.lock()?;
        let now = self.clock.now_ms();
        let cur = self.ks.load_uncached(id)?;
        let cur = match cur {
            Some(c) if self.deletion_due(&c.record, now) => {
                self.delete_locked(id)?;
                None
            }
            c => c,
        }
        .ok_or_else(|| KmsError::NotFound(format!("Key '{}' does not exist", self.arn(id))))?;
        let mut rec = cur.record.clone();
        let t = f(&mut rec)?;
        self.ks.put(rec)?;
        Ok(t)
    }

    /// Resolve a management KeyId (key id or key ARN only) and note it in the trail.
    fn resolve_mgmt(&self, key_id: &str, trail: &mut Trail) -> Result<[u8; 16], KmsError> {
        let k = self.resolve(key_id, false)?;
        trail.key_arn = Some(self.arn(&k.record.key_id));
        Ok(k.record.key_id)
    }

    fn metadata(&self, r: &KeyRecord) -> KeyMetadata {
        KeyMetadata {
            aws_account_id: self.account.account_id.clone(),
            key_id: uuid::Uuid::from_bytes(r.key_id).to_string(),
            arn: self.arn(&r.key_id),
            creation_date: epoch_secs(r.created_ms),
            enabled: r.state == KeyState::Enabled,
            description: r.description.clone(),
            key_usage: "ENCRYPT_DECRYPT".into(),
            key_state: r.state.as_str().into(),
            deletion_date: r.deletion_ms.map(epoch_secs),
            pending_deletion_window_in_days: r.pending_window_days,
            origin: "AWS_KMS".into(),
            key_manager: match r.manager {
                KeyManager::Customer => "CUSTOMER",
                KeyManager::Aws => "AWS",
            }
            .into(),
            customer_master_key_spec: "SYMMETRIC_DEFAULT".into(),
            key_spec: "SYMMETRIC_DEFAULT".into(),
            encryption_algorithms: vec!["SYMMETRIC_DEFAULT".into()],
            multi_region: false,
            current_key_material_id: Some(crypto::hex(&r.current().id)),
        }
    }

    // ----- operations ---------------------------------------------------------------------

    pub fn create_key(
        &self,
        p: &Arc<str>,
        req: CreateKeyRequest,
    ) -> Result<CreateKeyResponse, KmsError> {
        self.run(p, "CreateKey", |trail| {
            check_enum(
                req.key_usage.as_deref(),
                "keyUsage",
                KEY_USAGES,
                "ENCRYPT_DECRYPT",
                "KeyUsage",
            )?;
            if let (Some(a), Some(b)) = (&req.key_spec, &req.customer_master_key_spec)
                && a != b
            {
                return Err(KmsError::Validation(
                    "You cannot specify KeySpec and CustomerMasterKeySpec in the same request."
                        .into(),
                ));
            }
            check_enum(
                req.key_spec.as_deref(),
                "keySpec",
                KEY_SPECS,
                "SYMMETRIC_DEFAULT",
                "KeySpec",
            )?;
            check_enum(
                req.customer_master_key_spec.as_deref(),
                "customerMasterKeySpec",
                KEY_SPECS,
                "SYMMETRIC_DEFAULT",
                "KeySpec",
            )?;
            check_enum(
                req.origin.as_deref(),
                "origin",
                ORIGINS,
                "AWS_KMS",
                "Origin",
            )?;
            if req.multi_region == Some(true) {
                return Err(KmsError::UnsupportedOperation(
                    "multi-Region keys are not supported by kmsfs".into(),
                ));
            }
            let description = req.description.clone().unwrap_or_default();
            check_description(&description)?;
            let tags = validate_tags(&BTreeMap::new(), req.tags.as_deref().unwrap_or(&[]))?;
            let policy = match &req.policy {
                Some(pol) => check_policy(pol)?,
                None => self.default_policy(),
            };
            let mut rec = new_record(self.clock.now_ms(), description, KeyManager::Customer, tags)?;
            rec.policy = policy;
            trail.key_arn = Some(self.arn(&rec.key_id));
            let _g = self.ks.lock()?;
            let loaded = self.ks.put(rec)?;
            Ok(CreateKeyResponse {
                key_metadata: self.metadata(&loaded.record),
            })
        })
    }

    pub fn describe_key(
        &self,
        p: &Arc<str>,
        req: KeyIdRequest,
    ) -> Result<DescribeKeyResponse, KmsError> {
        self.run(p, "DescribeKey", |trail| {
            check_grant_tokens(&req.grant_tokens)?;
            let k = self.resolve(&req.key_id, true)?;
            trail.key_arn = Some(self.arn(&k.record.key_id));
            Ok(DescribeKeyResponse {
                key_metadata: self.metadata(&k.record),
            })
        })
    }

    pub fn list_keys(&self, p: &Arc<str>, req: ListRequest) -> Result<ListKeysResponse, KmsError> {
        self.run(p, "ListKeys", |_| {
            let limit = check_limit(req.limit)?;
            let after = match &req.marker {
                Some(m) => Some(
                    parse_uuid(m).map_err(|_| KmsError::InvalidMarker("Invalid marker".into()))?,
                ),
                None => None,
            };
            let mut keys = Vec::new();
            let mut truncated = false;
            for id in self.ks.list_ids()? {
                if after.is_some_and(|a| id <= a) {
                    continue;
                }
                // Keys whose deletion is due disappear; damaged records are still listed.
                if let Ok(None) = self.get_live(&id) {
                    continue;
                }
                if keys.len() == limit {
                    truncated = true;
                    break;
                }
                keys.push(KeyListEntry {
                    key_id: uuid::Uuid::from_bytes(id).to_string(),
                    key_arn: self.arn(&id),
                });
            }
            Ok(ListKeysResponse {
                next_marker: truncated
                    .then(|| keys.last().map(|k| k.key_id.clone()))
                    .flatten(),
                keys,
                truncated,
            })
        })
    }

    fn check_alias_name(&self, name: &str) -> Result<(), KmsError> {
        if name.is_empty() || name.len() > 256 {
            return Err(KmsError::bound(
                name,
                "aliasName",
                "Member must have length between 1 and 256",
            ));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_-:".contains(&b))
        {
            return Err(KmsError::bound(
                name,
                "aliasName",
                "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$",
            ));
        }
        if !name.starts_with("alias/") || name.len() == "alias/".len() {
            return Err(KmsError::InvalidAliasName(format!(
                "Alias name '{name}' must begin with 'alias/' followed by a name"
            )));
        }
        if name.starts_with("alias/aws/") {
            return Err(KmsError::InvalidAliasName(format!(
                "Alias name '{name}' is reserved: the prefix 'alias/aws/' is for AWS managed keys"
            )));
        }
        Ok(())
    }

    /// Resolve an alias target (key id or ARN) that may receive an alias.
    fn alias_target(&self, target: &str, trail: &mut Trail) -> Result<[u8; 16], KmsError> {
        let k = self.resolve(target, false)?;
        trail.key_arn = Some(self.arn(&k.record.key_id));
        self.require_not_pending_deletion(&k.record)?;
        self.require_customer_managed(&k.record, "an alias cannot be associated with it")?;
        Ok(k.record.key_id)
    }

    pub fn create_alias(&self, p: &Arc<str>, req: AliasRequest) -> Result<(), KmsError> {
        self.run(p, "CreateAlias", |trail| {
            self.check_alias_name(&req.alias_name)?;
            let id = self.alias_target(&req.target_key_id, trail)?;
            let target = uuid::Uuid::from_bytes(id).to_string();
            let _g = self.ks.lock()?;
            let mut t = (*self.ks.aliases()?).clone();
            if t.contains_key(&req.alias_name) {
                return Err(KmsError::AlreadyExists(format!(
                    "An alias with the name {} already exists",
                    self.alias_arn(&req.alias_name)
                )));
            }
            if t.values().filter(|e| e.target == target).count() >= MAX_ALIASES_PER_KEY {
                return Err(KmsError::LimitExceeded(format!(
                    "a key can have at most {MAX_ALIASES_PER_KEY} aliases"
                )));
            }
            let now = self.clock.now_ms();
            t.insert(
                req.alias_name.clone(),
                AliasEntry {
                    target,
                    created_ms: now,
                    updated_ms: now,
                },
            );
            self.ks.put_aliases(t)?;
            Ok(())
        })
    }

    pub fn update_alias(&self, p: &Arc<str>, req: AliasRequest) -> Result<(), KmsError> {
        self.run(p, "UpdateAlias", |trail| {
            self.check_alias_name(&req.alias_name)?;
            let id = self.alias_target(&req.target_key_id, trail)?;
            let target = uuid::Uuid::from_bytes(id).to_string();
            let _g = self.ks.lock()?;
            let mut t = (*self.ks.aliases()?).clone();
            let Some(e) = t.get_mut(&req.alias_name) else {
                return Err(KmsError::NotFound(format!(
                    "Alias {} is not found.",
                    self.alias_arn(&req.alias_name)
                )));
            };
            e.target = target;
            e.updated_ms = self.clock.now_ms();
            self.ks.put_aliases(t)?;
            Ok(())
        })
    }

    pub fn delete_alias(&self, p: &Arc<str>, alias_name: &str) -> Result<(), KmsError> {
        self.run(p, "DeleteAlias", |trail| {
            self.check_alias_name(alias_name)?;
            let _g = self.ks.lock()?;
            let mut t = (*self.ks.aliases()?).clone();
            let Some(e) = t.remove(alias_name) else {
                return Err(KmsError::NotFound(format!(
                    "Alias {} is not found.",
                    self.alias_arn(alias_name)
                )));
            };
            if let Ok(id) = parse_uuid(&e.target) {
                trail.key_arn = Some(self.arn(&id));
            }
            self.ks.put_aliases(t)?;
            Ok(())
        })
    }

    pub fn list_aliases(
        &self,
        p: &Arc<str>,
        req: ListRequest,
    ) -> Result<ListAliasesResponse, KmsError> {
        self.run(p, "ListAliases", |trail| {
            let limit = check_limit(req.limit)?;
            let filter = match &req.key_id {
                Some(k) => {
                    let k = self.resolve(k, false)?;
                    trail.key_arn = Some(self.arn(&k.record.key_id));
                    Some(uuid::Uuid::from_bytes(k.record.key_id).to_string())
                }
                None => None,
            };
            let table = self.ks.aliases()?;
            if let Some(m) = &req.marker
                && !table.contains_key(m)
                && !m.starts_with("alias/")
            {
                return Err(KmsError::InvalidMarker("Invalid marker".into()));
            }
            let mut aliases = Vec::new();
            let mut truncated = false;
            for (name, e) in table.iter() {
                if req.marker.as_ref().is_some_and(|m| name <= m) {
                    continue;
                }
                if filter.as_ref().is_some_and(|f| *f != e.target) {
                    continue;
                }
                if aliases.len() == limit {
                    truncated = true;
                    break;
                }
                aliases.push(AliasListEntry {
                    alias_name: name.clone(),
                    alias_arn: self.alias_arn(name),
                    target_key_id: Some(e.target.clone()),
                    creation_date: Some(epoch_secs(e.created_ms)),
                    last_updated_date: Some(epoch_secs(e.updated_ms)),
                });
            }
            Ok(ListAliasesResponse {
                next_marker: truncated
                    .then(|| aliases.last().map(|a| a.alias_name.clone()))
                    .flatten(),
                aliases,
                truncated,
            })
        })
    }

    /// Seal `plaintext` under the current material of `k`.
    fn seal_blob(
        &self,
        k: &LoadedKey,
        ec: &EncryptionContext,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, KmsError> {
        let m = k.record.current();
        let cipher = k
            .cipher(m.version)
            .ok_or_else(|| KmsError::Internal("material missing".into()))?;
        let nonce = crypto::random_nonce()?;
        Ok(blob::seal(
            cipher,
            &k.record.key_id,
            m.version,
            &nonce,
            ec,
            plaintext,
        )?)
    }

    /// Authenticate and decrypt a blob; `expected` is the caller's KeyId, if given.
    fn open_blob(
        &self,
        bytes: &[u8],
        ec: &EncryptionContext,
        expected: Option<&str>,
        trail_arn: &mut Option<String>,
    ) -> Result<(SecretBytes, Arc<LoadedKey>, u32), KmsError> {
        if bytes.is_empty() {
            return Err(KmsError::bound(
                "null",
                "ciphertextBlob",
                "Member must have length greater than or equal to 1",
            ));
        }
        if bytes.len() > blob::MAX_BLOB {
            return Err(KmsError::bound(
                format!("<{} bytes>", bytes.len()),
                "ciphertextBlob",
                "Member must have length less than or equal to 6144",
            ));
        }
        let b = Blob::parse(bytes).map_err(|e| KmsError::InvalidCiphertext(e.to_string()))?;
        if let Some(exp) = expected {
            let k = self.resolve(exp, true)?;
            if k.record.key_id != b.key_id {
                *trail_arn = Some(self.arn(&k.record.key_id));
                return Err(KmsError::IncorrectKey(
                    "The key ID in the request does not identify a CMK that can perform this operation.".into(),
                ));
            }
        }
        let k = self.get_live(&b.key_id)?;
        *trail_arn = Some(match &k {
            Some(k) => self.key_arn(k).to_string(),
            None => self.arn(&b.key_id),
        });
        let k = k.ok_or_else(|| {
            KmsError::InvalidCiphertext(
                "the ciphertext refers to a KMS key that does not exist in this keystore (deleted, or from another home)".into(),
            )
        })?;
        self.require_usable(&k)?;
        let cipher = k.cipher(b.material_version).ok_or_else(|| {
            KmsError::InvalidCiphertext(
                "the ciphertext refers to key material this key does not have".into(),
            )
        })?;
        let plain = b.open(cipher, ec).map_err(|_| {
            KmsError::InvalidCiphertext(
                "the ciphertext or its encryption context is wrong (authentication failed)".into(),
            )
        })?;
        Ok((plain, k, b.material_version))
    }

    pub fn encrypt(&self, p: &Arc<str>, req: EncryptRequest) -> Result<EncryptResponse, KmsError> {
        self.run(p, "Encrypt", |trail| {
            trail.ec = ec_for_trail(&req.encryption_context);
            check_grant_tokens(&req.grant_tokens)?;
            let n = req.plaintext.len();
            if n == 0 {
                return Err(KmsError::bound("", "plaintext", "Member must have length greater than or equal to 1"));
            }
            if n > MAX_PLAINTEXT {
                return Err(KmsError::Validation(format!(
                    "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to {MAX_PLAINTEXT} (got {n} bytes; Encrypt takes at most {MAX_PLAINTEXT} bytes, use a data key for more)"
                )));
            }
            check_algorithm(req.encryption_algorithm.as_deref())?;
            let ec = ec_of(&req.encryption_context);
            context::validate(&ec)?;
            let k = self.resolve(&req.key_id, true)?;
            trail.key_arn = Some(self.key_arn(&k).to_string());
            self.require_usable(&k)?;
            let blob = self.seal_blob(&k, &ec, req.plaintext.expose())?;
            Ok(EncryptResponse {
                ciphertext_blob: blob,
                key_id: self.key_arn(&k).to_string(),
                encryption_algorithm: "SYMMETRIC_DEFAULT".into(),
            })
        })
    }

    pub fn decrypt(&self, p: &Arc<str>, req: DecryptRequest) -> Result<DecryptResponse, KmsError> {
        self.run(p, "Decrypt", |trail| {
            trail.ec = ec_for_trail(&req.encryption_context);
            check_grant_tokens(&req.grant_tokens)?;
            check_algorithm(req.encryption_algorithm.as_deref())?;
            let ec = ec_of(&req.encryption_context);
            context::validate(&ec)?;
            let (plaintext, k, version) = self.open_blob(
                &req.ciphertext_blob,
                &ec,
                req.key_id.as_deref(),
                &mut trail.key_arn,
            )?;
            Ok(DecryptResponse {
                key_id: self.key_arn(&k).to_string(),
                plaintext,
                encryption_algorithm: "SYMMETRIC_DEFAULT".into(),
                key_material_id: k.material_ids[version as usize - 1].clone(),
            })
        })
    }

    pub fn re_encrypt(
        &self,
        p: &Arc<str>,
        req: ReEncryptRequest,
    ) -> Result<ReEncryptResponse, KmsError> {
        self.run(p, "ReEncrypt", |trail| {
            trail.ec = ec_for_trail(&req.source_encryption_context);
            trail.dest_ec = ec_for_trail(&req.destination_encryption_context);
            check_grant_tokens(&req.grant_tokens)?;
            check_algorithm(req.source_encryption_algorithm.as_deref())?;
            check_algorithm(req.destination_encryption_algorithm.as_deref())?;
            let sec = ec_of(&req.source_encryption_context);
            let dec = ec_of(&req.destination_encryption_context);
            context::validate(&sec)?;
            context::validate(&dec)?;
            let dest = self.resolve(&req.destination_key_id, true)?;
            trail.dest_arn = Some(self.arn(&dest.record.key_id));
            let (plain, src, version) = self.open_blob(
                &req.ciphertext_blob,
                &sec,
                req.source_key_id.as_deref(),
                &mut trail.key_arn,
            )?;
            self.require_usable(&dest)?;
            let blob = self.seal_blob(&dest, &dec, plain.expose())?;
            Ok(ReEncryptResponse {
                ciphertext_blob: blob,
                source_key_id: self.arn(&src.record.key_id),
                key_id: self.arn(&dest.record.key_id),
                source_encryption_algorithm: "SYMMETRIC_DEFAULT".into(),
                destination_encryption_algorithm: "SYMMETRIC_DEFAULT".into(),
                source_key_material_id: crypto::hex(&src.record.materials[version as usize - 1].id),
                destination_key_material_id: crypto::hex(&dest.record.current().id),
            })
        })
    }

    fn data_key(
        &self,
        req: &GenerateDataKeyRequest,
        trail: &mut Trail,
    ) -> Result<(Vec<u8>, SecretBytes, Arc<LoadedKey>), KmsError> {
        trail.ec = ec_for_trail(&req.encryption_context);
        check_grant_tokens(&req.grant_tokens)?;
        let n = match (&req.key_spec, req.number_of_bytes) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(KmsError::Validation(
                    "Please specify either number of bytes or key spec.".into(),
                ));
            }
            (Some(s), None) => match s.as_str() {
                "AES_256" => 32,
                "AES_128" => 16,
                other => {
                    return Err(KmsError::bound(
                        other,
                        "keySpec",
                        "Member must satisfy enum value set: [AES_256, AES_128]",
                    ));
                }
            },
            (None, Some(n)) => check_random_len(n)?,
        };
        let ec = ec_of(&req.encryption_context);
        context::validate(&ec)?;
        let k = self.resolve(&req.key_id, true)?;
        trail.key_arn = Some(self.key_arn(&k).to_string());
        self.require_usable(&k)?;
        let plain = crypto::random_secret(n)?;
        let blob = self.seal_blob(&k, &ec, plain.expose())?;
        Ok((blob, plain, k))
    }

    pub fn generate_data_key(
        &self,
        p: &Arc<str>,
        req: GenerateDataKeyRequest,
    ) -> Result<GenerateDataKeyResponse, KmsError> {
        self.run(p, "GenerateDataKey", |trail| {
            let (blob, plaintext, k) = self.data_key(&req, trail)?;
            Ok(GenerateDataKeyResponse {
                ciphertext_blob: blob,
                plaintext,
                key_id: self.key_arn(&k).to_string(),
                key_material_id: k.material_ids.last().cloned().unwrap_or_default(),
            })
        })
    }

    pub fn generate_data_key_without_plaintext(
        &self,
        p: &Arc<str>,
        req: GenerateDataKeyRequest,
    ) -> Result<GenerateDataKeyWithoutPlaintextResponse, KmsError> {
        self.run(p, "GenerateDataKeyWithoutPlaintext", |trail| {
            let (blob, _plain, k) = self.data_key(&req, trail)?;
            Ok(GenerateDataKeyWithoutPlaintextResponse {
                ciphertext_blob: blob,
                key_id: self.key_arn(&k).to_string(),
                key_material_id: k.material_ids.last().cloned().unwrap_or_default(),
            })
        })
    }

    pub fn generate_random(
        &self,
        p: &Arc<str>,
        req: GenerateRandomRequest,
    ) -> Result<GenerateRandomResponse, KmsError> {
        self.run(p, "GenerateRandom", |_| {
            let n = req
                .number_of_bytes
                .ok_or_else(|| KmsError::Validation("NumberOfBytes is required.".into()))?;
            let n = check_random_len(n)?;
            Ok(GenerateRandomResponse {
                plaintext: crypto::random_secret(n)?,
            })
        })
    }

    pub fn enable_key(&self, p: &Arc<str>, req: KeyIdRequest) -> Result<(), KmsError> {
        self.run(p, "EnableKey", |trail| {
            let id = self.resolve_mgmt(&req.key_id, trail)?;
            self.mutate(&id, |r| {
                self.require_not_pending_deletion(r)?;
                self.require_customer_managed(r, "AWS manages its state")?;
                r.state = KeyState::Enabled;
                Ok(())
            })
        })
    }

    pub fn disable_key(&self, p: &Arc<str>, req: KeyIdRequest) -> Result<(), KmsError> {
        self.run(p, "DisableKey", |trail| {
            let id = self.resolve_mgmt(&req.key_id, trail)?;
            self.mutate(&id, |r| {
                self.require_not_pending_deletion(r)?;
                self.require_customer_managed(r, "it cannot be disabled")?;
                r.state = KeyState::Disabled;
                Ok(())
            })
        })
    }

    pub fn schedule_key_deletion(
        &self,
        p: &Arc<str>,
        req: ScheduleKeyDeletionRequest,
    ) -> Result<ScheduleKeyDeletionResponse, KmsError> {
        self.run(p, "ScheduleKeyDeletion", |trail| {
            let days = req.pending_window_in_days.unwrap_or(30);
            if !(7..=30).contains(&days) {
                return Err(KmsError::bound(
                    days,
                    "pendingWindowInDays",
                    "Member must have value between 7 and 30 (days)",
                ));
            }
            let id = self.resolve_mgmt(&req.key_id, trail)?;
            let now = self.clock.now_ms();
            let deletion = now + days as i64 * DAY_MS;
            self.mutate(&id, |r| {
                self.require_not_pending_deletion(r)?;
                self.require_customer_managed(r, "it cannot be deleted")?;
                r.state = KeyState::PendingDeletion;
                r.deletion_ms = Some(deletion);
                r.pending_window_days = Some(days);
                Ok(())
            })?;
            Ok(ScheduleKeyDeletionResponse {
                key_id: self.arn(&id),
                deletion_date: epoch_secs(deletion),
                key_state: "PendingDeletion".into(),
                pending_window_in_days: days,
            })
        })
    }

    pub fn cancel_key_deletion(
        &self,
        p: &Arc<str>,
        req: KeyIdRequest,
    ) -> Result<KeyIdResponse, KmsError> {
        self.run(p, "CancelKeyDeletion", |trail| {
            let id = self.resolve_mgmt(&req.key_id, trail)?;
            self.mutate(&id, |r| {
                if r.state != KeyState::PendingDeletion {
                    return Err(KmsError::InvalidState(format!(
                        "{} is not pending deletion.",
                        self.arn(&r.key_id)
                    )));
                }
                // AWS leaves a key whose deletion was cancelled Disabled.
                r.state = KeyState::Disabled;
                r.deletion_ms = None;
                r.pending_window_days = None;
                Ok(())
            })?;
            Ok(KeyIdResponse {
                key_id: self.arn(&id),
            })
        })
    }

    fn rotation_change_allowed(&self, r: &KeyRecord) -> Result<(), KmsError> {
        let arn = self.arn(&r.key_id);
        match r.state {
            KeyState::Disabled => return Err(KmsError::Disabled(format!("{arn} is disabled."))),
            KeyState::PendingDeletion => {
                return Err(KmsError::InvalidState(format!(
                    "{arn} is pending deletion."
                )));
            }
            KeyState::Enabled => {}
        }
        if r.manager == KeyManager::Aws {
            return Err(KmsError::UnsupportedOperation(format!(
                "{arn} is an AWS managed key: AWS rotates it every year and its rotation cannot be changed"
            )));
        }
        Ok(())
    }

    pub fn enable_key_rotation(
        &self,
        p: &Arc<str>,
        req: EnableKeyRotationRequest,
    ) -> Result<(), KmsError> {
        self.run(p, "EnableKeyRotation", |trail| {
            let days = req.rotation_period_in_days.unwrap_or(365);
            if !(90..=2560).contains(&days) {
                return Err(KmsError::bound(
                    days,
                    "rotationPeriodInDays",
                    "Member must have value between 90 and 2560",
                ));
            }
            let id = self.resolve_mgmt(&req.key_id, trail)?;
            let now = self.clock.now_ms();
            self.mutate(&id, |r| {
                self.rotation_change_allowed(r)?;
                r.rotation = Some(AutoRotation {
                    period_days: days,
                    next_ms: now + days as i64 * DAY_MS,
                });
                Ok(())
            })
        })
    }

    pub fn disable_key_rotation(&self, p: &Arc<str>, req: KeyIdRequest) -> Result<(), KmsError> {
        self.run(p, "DisableKeyRotation", |trail| {
            let id = self.resolve_mgmt(&req.key_id, trail)?;
            self.mutate(&id, |r| {
                self.rotation_change_allowed(r)?;
                r.rotation = None;
                Ok(())
            })
        })
    }

    pub fn get_key_rotation_status(
        &self,
        p: &Arc<str>,
        req: KeyIdRequest,
    ) -> Result<GetKeyRotationStatusResponse, KmsError> {
        self.run(p, "GetKeyRotationStatus", |trail| {
            let k = self.resolve(&req.key_id, false)?;
            trail.key_arn = Some(self.arn(&k.record.key_id));
            let rot = k.record.rotation;
            Ok(GetKeyRotationStatusResponse {
                key_rotation_enabled: rot.is_some(),
                key_id: self.arn(&k.record.key_id),
                rotation_period_in_days: rot.map(|r| r.period_days),
                next_rotation_date: rot.map(|r| epoch_secs(r.next_ms)),
            })
        })
    }

    pub fn rotate_key_on_demand(
        &self,
        p: &Arc<str>,
        req: KeyIdRequest,
    ) -> Result<KeyIdResponse, KmsError> {
        self.run(p, "RotateKeyOnDemand", |trail| {
            let id = self.resolve_mgmt(&req.key_id, trail)?;
            let now = self.clock.now_ms();
            self.mutate(&id, |r| {
                self.rotation_change_allowed(r)?;
                if r.on_demand_rotations() >= MAX_ON_DEMAND_ROTATIONS {
                    return Err(KmsError::LimitExceeded(format!(
                        "The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: {}",
                        self.arn(&r.key_id)
                    )));
                }
                push_material(r, now, MaterialOrigin::OnDemandRotation)
            })?;
            Ok(KeyIdResponse { key_id: self.arn(&id) })
        })
    }

    pub fn list_key_rotations(
        &self,
        p: &Arc<str>,
        req: ListRequest,
    ) -> Result<ListKeyRotationsResponse, KmsError> {
        self.run(p, "ListKeyRotations", |trail| {
            let limit = check_limit(req.limit)?;
            let key_id = req.key_id.as_deref().unwrap_or("");
            let k = self.resolve(key_id, false)?;
            let arn = self.arn(&k.record.key_id);
            trail.key_arn = Some(arn.clone());
            let after: u32 = match &req.marker {
                Some(m) => m
                    .parse()
                    .map_err(|_| KmsError::InvalidMarker("Invalid marker".into()))?,
                None => 1,
            };
            let current = k.record.current().version;
            let mut rotations = Vec::new();
            let mut truncated = false;
            for m in k.record.materials.iter().filter(|m| m.version > after) {
                if rotations.len() == limit {
                    truncated = true;
                    break;
                }
                rotations.push(RotationsListEntry {
                    key_id: arn.clone(),
                    key_material_id: crypto::hex(&m.id),
                    rotation_date: epoch_secs(m.created_ms),
                    rotation_type: match m.origin {
                        MaterialOrigin::OnDemandRotation => "ON_DEMAND",
                        _ => "AUTOMATIC",
                    }
                    .into(),
                    key_material_state: if m.version == current {
                        "CURRENT"
                    } else {
                        "NON_CURRENT"
                    }
                    .into(),
                });
            }
            let last_version = k
                .record
                .materials
                .iter()
                .filter(|m| m.version > after)
                .nth(rotations.len().saturating_sub(1))
                .map(|m| m.version);
            Ok(ListKeyRotationsResponse {
                rotations,
                next_marker: if truncated {
                    last_version.map(|v| v.to_string())
                } else {
                    None
                },
                truncated,
            })
        })
    }

    pub fn tag_resource(&self, p: &Arc<str>, req: TagResourceRequest) -> Result<(), KmsError> {
        self.run(p, "TagResource", |trail| {
            let id = self.resolve_mgmt(&req.key_id, trail)?;
            self.mutate(&id, |r| {
                self.require_not_pending_deletion(r)?;
                self.require_customer_managed(r, "it cannot be tagged")?;
                r.tags = validate_tags(&r.tags, &req.tags)?;
                Ok(())
            })
        })
    }

    pub fn untag_resource(&self, p: &Arc<str>, req: UntagResourceRequest) -> Result<(), KmsError> {
        self.run(p, "UntagResource", |trail| {
            let id = self.resolve_mgmt(&req.key_id, trail)?;
            self.mutate(&id, |r| {
                self.require_not_pending_deletion(r)?;
                self.require_customer_managed(r, "it cannot be untagged")?;
                for k in &req.tag_keys {
                    r.tags.remove(k);
                }
                Ok(())
            })
        })
    }

    pub fn list_resource_tags(
        &self,
        p: &Arc<str>,
        req: ListRequest,
    ) -> Result<ListResourceTagsResponse, KmsError> {
        self.run(p, "ListResourceTags", |trail| {
            let limit = check_limit(req.limit)?;
            let k = self.resolve(req.key_id.as_deref().unwrap_or(""), false)?;
            trail.key_arn = Some(self.arn(&k.record.key_id));
            let mut tags = Vec::new();
            let mut truncated = false;
            for (key, value) in &k.record.tags {
                if req.marker.as_ref().is_some_and(|m| key <= m) {
                    continue;
                }
                if tags.len() == limit {
                    truncated = true;
                    break;
                }
                tags.push(Tag {
                    tag_key: key.clone(),
                    tag_value: value.clone(),
                });
            }
            Ok(ListResourceTagsResponse {
                next_marker: truncated
                    .then(|| tags.last().map(|t| t.tag_key.clone()))
                    .flatten(),
                tags,
                truncated,
            })
        })
    }

    pub fn update_key_description(
        &self,
        p: &Arc<str>,
        req: UpdateKeyDescriptionRequest,
    ) -> Result<(), KmsError> {
        self.run(p, "UpdateKeyDescription", |trail| {
            check_description(&req.description)?;
            let id = self.resolve_mgmt(&req.key_id, trail)?;
            self.mutate(&id, |r| {
                self.require_not_pending_deletion(r)?;
                self.require_customer_managed(r, "its description cannot be changed")?;
                r.description = req.description.clone();
                Ok(())
            })
        })
    }

    pub fn get_key_policy(
        &self,
        p: &Arc<str>,
        req: GetKeyPolicyRequest,
    ) -> Result<GetKeyPolicyResponse, KmsError> {
        self.run(p, "GetKeyPolicy", |trail| {
            let k = self.resolve(&req.key_id, false)?;
            trail.key_arn = Some(self.arn(&k.record.key_id));
            let name = req.policy_name.clone().unwrap_or_else(|| "default".into());
            if name != "default" {
                return Err(KmsError::NotFound("No such policy exists".into()));
            }
            Ok(GetKeyPolicyResponse {
                policy: k.record.policy.clone(),
                policy_name: name,
            })
        })
    }

    pub fn list_key_policies(
        &self,
        p: &Arc<str>,
        req: KeyIdRequest,
    ) -> Result<ListKeyPoliciesResponse, KmsError> {
        self.run(p, "ListKeyPolicies", |trail| {
            let k = self.resolve(&req.key_id, false)?;
            trail.key_arn = Some(self.arn(&k.record.key_id));
            Ok(ListKeyPoliciesResponse {
                policy_names: vec!["default".into()],
                truncated: false,
            })
        })
    }
}

// ----- helpers -------------------------------------------------------------------------------

const KEY_USAGES: &[&str] = &[
    "SIGN_VERIFY",
    "ENCRYPT_DECRYPT",
    "GENERATE_VERIFY_MAC",
    "KEY_AGREEMENT",
    "ENCAPSULATE_DECAPSULATE",
];
const KEY_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SYMMETRIC_DEFAULT",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
    "ECC_NIST_EDWARDS25519",
    "ML_KEM_512",
    "ML_KEM_768",
    "ML_KEM_1024",
];
const ORIGINS: &[&str] = &["AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"];

/// A valid AWS enum value that kmsfs does not implement yet is UnsupportedOperation; an
/// invalid one is a ValidationException listing the valid set.
fn check_enum(
    v: Option<&str>,
    member: &str,
    all: &[&str],
    supported: &str,
    what: &str,
) -> Result<(), KmsError> {
    match v {
        None => Ok(()),
        Some(s) if s == supported => Ok(()),
        Some(s) if all.contains(&s) => Err(KmsError::UnsupportedOperation(format!(
            "{what} {s} is not supported by kmsfs yet; only {supported} keys are"
        ))),
        Some(s) => Err(KmsError::bound(
            s,
            member,
            &format!("Member must satisfy enum value set: [{}]", all.join(", ")),
        )),
    }
}

fn check_algorithm(a: Option<&str>) -> Result<(), KmsError> {
    match a {
        None | Some("SYMMETRIC_DEFAULT") => Ok(()),
        Some(s @ ("RSAES_OAEP_SHA_1" | "RSAES_OAEP_SHA_256" | "SM2PKE")) => {
            Err(KmsError::InvalidKeyUsage(format!(
                "encryption algorithm {s} is not valid for a SYMMETRIC_DEFAULT key"
            )))
        }
        Some(s) => Err(KmsError::bound(
            s,
            "encryptionAlgorithm",
            "Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]",
        )),
    }
}

fn check_grant_tokens(t: &Option<Vec<String>>) -> Result<(), KmsError> {
    if let Some(t) = t {
        if t.len() > 10 {
            return Err(KmsError::bound(
                t.len(),
                "grantTokens",
                "Member must have length less than or equal to 10",
            ));
        }
        if t.iter().any(|s| s.is_empty() || s.len() > 8192) {
            return Err(KmsError::InvalidGrantToken(
                "a grant token must be 1 to 8192 characters".into(),
            ));
        }
    }
    Ok(())
}

fn check_limit(l: Option<u32>) -> Result<usize, KmsError> {
    match l {
        None => Ok(100),
        Some(n) if (1..=1000).contains(&n) => Ok(n as usize),
        Some(n) => Err(KmsError::bound(
            n,
            "limit",
            "Member must have value between 1 and 1000",
        )),
    }
}

fn check_random_len(n: u32) -> Result<usize, KmsError> {
    if n == 0 {
        return Err(KmsError::bound(
            n,
            "numberOfBytes",
            "Member must have value greater than or equal to 1",
        ));
    }
    if n > MAX_RANDOM {
        return Err(KmsError::bound(
            n,
            "numberOfBytes",
            "Member must have value less than or equal to 1024",
        ));
    }
    Ok(n as usize)
}

fn check_description(d: &str) -> Result<(), KmsError> {
    if d.len() > 8192 {
        return Err(KmsError::bound(
            format!("<{} characters>", d.len()),
            "description",
            "Member must have length less than or equal to 8192",
        ));
    }
    Ok(())
}

fn check_policy(p: &str) -> Result<String, KmsError> {
    if p.is_empty() || p.len() > 32 * 1024 {
        return Err(KmsError::bound(
            format!("<{} characters>", p.len()),
            "policy",
            "Member must have length between 1 and 32768",
        ));
    }
    let v: serde_json::Value = serde_json::from_str(p).map_err(|e| {
        KmsError::MalformedPolicyDocument(format!("the policy is not valid JSON: {e}"))
    })?;
    if !v
        .get("Statement")
        .is_some_and(|s| s.is_array() || s.is_object())
    {
        return Err(KmsError::MalformedPolicyDocument(
            "the policy has no Statement".into(),
        ));
    }
    Ok(p.to_string())
}

/// Merge `new` tags into `old` with AWS's rules.
fn validate_tags(
    old: &BTreeMap<String, String>,
    new: &[Tag],
) -> Result<BTreeMap<String, String>, KmsError> {
    let mut seen = std::collections::HashSet::new();
    let mut out = old.clone();
    for t in new {
        if !seen.insert(t.tag_key.as_str()) {
            return Err(KmsError::Tag("Duplicate tag keys".into()));
        }
        if t.tag_key.is_empty() || t.tag_key.chars().count() > 128 {
            return Err(KmsError::Tag(format!(
                "Tag key '{}' must be 1 to 128 characters",
                t.tag_key
            )));
        }
        if t.tag_key.starts_with("aws:") {
            return Err(KmsError::Tag(
                "Tags beginning with aws: are reserved".into(),
            ));
        }
        if t.tag_value.chars().count() > 256 {
            return Err(KmsError::Tag(format!(
                "Tag value for '{}' is longer than 256 characters",
                t.tag_key
            )));
        }
        out.insert(t.tag_key.clone(), t.tag_value.clone());
    }
    if out.len() > MAX_TAGS {
        return Err(KmsError::Tag("Too many tags".into()));
    }
    Ok(out)
}

fn parse_uuid(s: &str) -> Result<[u8; 16], KmsError> {
    uuid::Uuid::try_parse(s)
        .map(|u| *u.as_bytes())
        .map_err(|_| KmsError::NotFound(format!("Invalid keyId '{s}'")))
}

fn managed_service(alias: &str) -> Option<(&'static str, &'static str)> {
    let svc = alias.strip_prefix("alias/aws/")?;
    MANAGED_SERVICES.iter().find(|(s, _)| *s == svc).copied()
}

fn random_material(
    version: u32,
    created_ms: Millis,
    origin: MaterialOrigin,
) -> Result<Material, KmsError> {
    let mut secret = Material32(zeroize::Zeroizing::new([0u8; 32]));
    crypto::fill_random(&mut secret.0[..])?;
    let mut id = [0u8; 32];
    crypto::fill_random(&mut id)?;
    Ok(Material {
        version,
        id,
        created_ms,
        origin,
        secret,
    })
}

fn push_material(
    r: &mut KeyRecord,
    created_ms: Millis,
    origin: MaterialOrigin,
) -> Result<(), KmsError> {
    let v = r.materials.len() as u32 + 1;
    r.materials.push(random_material(v, created_ms, origin)?);
    Ok(())
}

fn new_record(
    now: Millis,
    description: String,
    manager: KeyManager,
    tags: BTreeMap<String, String>,
) -> Result<KeyRecord, KmsError> {
    Ok(KeyRecord {
        key_id: *uuid::Uuid::new_v4().as_bytes(),
        created_ms: now,
        description,
        state: KeyState::Enabled,
        manager,
        deletion_ms: None,
        pending_window_days: None,
        rotation: None,
        materials: vec![random_material(1, now, MaterialOrigin::Created)?],
        tags,
        policy: String::new(),
    })
}
