//! The embedded KMS: the [`Kms`] struct, opening and creating it, and the plumbing every
//! operation shares: the audit hook ([`Kms::run`]), key-state checks, locked updates of a
//! key record and the metadata AWS returns. Key resolution is in `resolve.rs`, lazy
//! maintenance (deletion when the waiting period is over, automatic rotation when due,
//! AWS-managed keys) in `maintenance.rs`, and the operations, one file per family with their
//! validation, in `ops/`.

use super::audit::{AuditEvent, AuditLog};
use super::audit_ahead::{Gated, Request};
use super::authorize::{Access, OWN_RULES, RequestKeys, STAR_CHECKED_INSIDE, STAR_OPERATIONS};
use super::caller::{AWS_INTERNAL, Caller, OnBehalf};
use super::clock::{Clock, Millis};
use super::context::EncryptionContext;
use super::error::{KmsError, StoreError};
use super::grants::GrantCache;
use super::keystore::{Keystore, LoadedKey, RootKeySource};
use super::ops::API_OPERATIONS;
use super::quota::Quota;
use super::record::{KeyManager, KeyRecord, KeyState};
use super::regions::Regions;
use crate::crypto::asym::KeySpec;
use crate::crypto::{self, SecretBytes};
use crate::home::{AccountConfig, Home};
use crate::iam::Iam;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Largest Encrypt plaintext.
pub(crate) const MAX_PLAINTEXT: usize = 4096;
/// Largest NumberOfBytes for GenerateDataKey and GenerateRandom.
pub(crate) const MAX_RANDOM: u32 = 1024;
/// On-demand rotations allowed per key.
pub(crate) const MAX_ON_DEMAND_ROTATIONS: usize = 25;
/// Aliases allowed per key.
pub(crate) const MAX_ALIASES_PER_KEY: usize = 50;
/// Tags allowed per key.
pub(crate) const MAX_TAGS: usize = 50;
/// Principal recorded for the KMS's own actions (deletion, rotation, AWS-managed keys).
pub(crate) const KMS_SERVICE_PRINCIPAL: &str = "kms.amazonaws.com";

/// Services whose AWS-managed key (`alias/aws/<service>`) is created on first use.
pub(crate) const MANAGED_SERVICES: &[(&str, &str)] = &[
    (
        "ebs",
        "Default key that protects my EBS volumes when no other key is defined",
    ),
    (
        "s3",
        "Default key that protects my S3 objects when no other key is defined",
    ),
    (
        "secretsmanager",
        "Default key that protects my Secrets Manager data when no other key is defined",
    ),
    (
        "ssm",
        "Default key that protects my SSM parameters when no other key is defined",
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

/// One request in flight: the KMS (whose methods it offers, by `Deref`) and what the
/// request touched, for its audit line. Every operation is a function of a `Call` and its
/// request.
pub(super) struct Call<'a> {
    kms: &'a Kms,
    req: Rc<Request>,
    caller: &'a Caller,
    /// Whether the request's permission was checked (`authorize.rs`).
    authorized: Cell<bool>,
    /// A CreateGrant's operations (`kms:GrantOperations`).
    grant_operations: RefCell<Vec<String>>,
    /// The request's algorithms, and CreateKey's key spec and usage (condition keys).
    request_keys: RefCell<RequestKeys>,
}

impl std::ops::Deref for Call<'_> {
    type Target = Kms;

    fn deref(&self) -> &Kms {
        self.kms
    }
}

impl Call<'_> {
    /// Who makes the request.
    pub(super) fn principal(&self) -> Arc<str> {
        self.req.event.borrow().principal.clone()
    }

    /// Who makes the request, and from where.
    pub(super) fn caller(&self) -> &Caller {
        self.caller
    }

    /// The operation's AWS name.
    pub(super) fn operation(&self) -> &'static str {
        self.req.event.borrow().operation
    }

    pub(super) fn mark_authorized(&self) {
        self.authorized.set(true);
    }

    /// The encryption context noted for the request (`None` when absent or empty).
    pub(super) fn noted_context(&self) -> Option<EncryptionContext> {
        self.req.event.borrow().encryption_context.clone()
    }

    /// Note a CreateGrant's operations (`kms:GrantOperations`), before its key is resolved.
    pub(super) fn note_grant_operations(&self, ops: &[String]) {
        *self.grant_operations.borrow_mut() = ops.to_vec();
    }

    pub(super) fn grant_request_operations(&self) -> Vec<String> {
        self.grant_operations.borrow().clone()
    }

    /// Note condition keys the request sets (`kms:SigningAlgorithm`, ...), before its key
    /// is resolved and the request authorized.
    pub(super) fn note_request_keys(&self, f: impl FnOnce(&mut RequestKeys)) {
        f(&mut self.request_keys.borrow_mut());
    }

    pub(super) fn request_keys(&self) -> RequestKeys {
        self.request_keys.borrow().clone()
    }

    /// Note `kms:EncryptionAlgorithm`: the request's, SYMMETRIC_DEFAULT when it names none.
    pub(super) fn note_encryption_algorithm(&self, alg: Option<&str>) {
        let alg = alg.unwrap_or("SYMMETRIC_DEFAULT").to_string();
        self.note_request_keys(|k| k.encryption_algorithm = Some(alg));
    }

    /// The key the request used (its source key, for ReEncrypt).
    pub(super) fn note_key(&self, arn: String) {
        self.req.event.borrow_mut().key_arn = Some(arn);
    }

    /// ReEncrypt's destination key.
    pub(super) fn note_destination_key(&self, arn: String) {
        self.req.event.borrow_mut().destination_key_arn = Some(arn);
    }

    /// The request's encryption context (not shown when empty).
    pub(super) fn note_context(&self, ec: &Option<EncryptionContext>) {
        self.req.event.borrow_mut().encryption_context = shown_context(ec);
    }

    /// ReEncrypt's destination encryption context (not shown when empty).
    pub(super) fn note_destination_context(&self, ec: &Option<EncryptionContext>) {
        self.req.event.borrow_mut().destination_encryption_context = shown_context(ec);
    }

    /// Resolve a management KeyId, note it, and apply `f` to the key's freshest record
    /// under the lock.
    pub(super) fn change_key<T>(
        &self,
        key_id: &str,
        f: impl FnOnce(&mut KeyRecord) -> Result<T, KmsError>,
    ) -> Result<T, KmsError> {
        let id = self.resolve_mgmt(key_id)?;
        self.mutate(&id, f)
    }

    /// [`Call::change_key`] for a change only the owner of a customer managed key that is
    /// not pending deletion may make (`refusal` says what is refused for an AWS managed key).
    pub(super) fn change_customer_key<T>(
        &self,
        key_id: &str,
        refusal: &str,
        f: impl FnOnce(&mut KeyRecord) -> Result<T, KmsError>,
    ) -> Result<T, KmsError> {
        self.change_key(key_id, |r| {
            self.require_changeable(r, refusal)?;
            f(r)
        })
    }
}

/// The random base of a KMS's request ids.
fn random_request_base() -> Result<u128, KmsError> {
    let mut b = [0u8; 16];
    crypto::fill_random(&mut b)?;
    Ok(u128::from_le_bytes(b))
}

/// An encryption context as an audit line shows it: absent when empty.
fn shown_context(ec: &Option<EncryptionContext>) -> Option<EncryptionContext> {
    ec.as_ref().filter(|e| !e.is_empty()).cloned()
}

/// The embedded KMS of one home.
pub struct Kms {
    /// The keystore, whose writes wait for their audit line (`audit_ahead.rs`).
    pub(super) ks: Gated,
    pub(super) audit: Arc<AuditLog>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) account: AccountConfig,
    req_base: u128,
    req_ctr: AtomicU64,
    /// The other regions of the home, and the seeds to apply again after a reset
    /// (`regions.rs`).
    pub(super) regions: Regions,
    /// The request quota of this account and region; `None` when quotas are off
    /// (`quota.rs`).
    quota: Option<Quota>,
    /// The KMS directory of the home (where the quota's files are).
    kms_dir: std::path::PathBuf,
    /// The grants opened so far (`grants.rs`).
    pub(super) grant_cache: GrantCache,
    /// The identity registry and the compiled policies (`authorize.rs`).
    pub(super) access: Access,
    /// Keys deleted and rotated by the sweep at open, reported by the next `purge`.
    pub(super) swept: std::sync::Mutex<PurgeReport>,
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
        let audit = AuditLog::open(&home.layout().audit_log(), opts.audit_interval);
        let req_base = random_request_base()?;
        let c = home.config();
        let quota = Quota::open(&dir, &c.account_id, &c.region)?;
        let access = Access::new(Iam::open(home), c)?;
        let kms = Arc::new_cyclic(|me| Kms {
            ks: Gated::new(ks),
            audit,
            clock: opts.clock,
            account: home.config().clone(),
            req_base,
            req_ctr: AtomicU64::new(0),
            regions: Regions::of_home(me.clone(), home, opts.audit_interval),
            quota,
            kms_dir: dir,
            grant_cache: GrantCache::default(),
            access,
            swept: Default::default(),
        });
        kms.sweep_at_open()?;
        Ok(kms)
    }

    /// The KMS of another account or region of the same home: its keystore `ks`, its
    /// account's `trail` (`None`: this KMS's), this KMS's clock (see `regions.rs`).
    pub(super) fn sibling(
        &self,
        ks: Keystore,
        account: AccountConfig,
        regions: Regions,
        trail: Option<Arc<AuditLog>>,
    ) -> Result<Kms, KmsError> {
        Ok(Kms {
            ks: Gated::new(ks),
            audit: trail.unwrap_or_else(|| self.audit.clone()),
            clock: self.clock.clone(),
            req_base: random_request_base()?,
            req_ctr: AtomicU64::new(0),
            quota: self
                .quota
                .as_ref()
                .map(|q| q.sibling(&self.kms_dir, &account.account_id, &account.region)),
            kms_dir: self.kms_dir.clone(),
            access: self.access.sibling(&account)?,
            account,
            regions,
            grant_cache: GrantCache::default(),
            swept: Default::default(),
        })
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

    /// Write buffered audit lines now (of every account's trail).
    pub fn flush_audit(&self) -> Result<(), KmsError> {
        self.audit
            .flush()
            .map_err(|e| KmsError::Internal(format!("the audit trail cannot be written: {e}")))?;
        self.flush_trails()
    }

    /// The key ARN of `id`.
    pub fn arn(&self, id: &[u8; 16]) -> String {
        self.arn_in(&self.account.region, id)
    }

    /// The ARN key `id` of this account has in `region` (a multi-Region key's replicas).
    pub fn arn_in(&self, region: &str, id: &[u8; 16]) -> String {
        format!(
            "arn:{}:kms:{}:{}:key/{}",
            self.account.partition,
            region,
            self.account.account_id,
            self.key_id_string(id)
        )
    }

    /// The key id as AWS shows it (a UUID; `mrk-` and 32 hex digits for a multi-Region key).
    pub fn key_id_string(&self, id: &[u8; 16]) -> String {
        super::key_id::format(id)
    }

    /// The ARN of a loaded key (formatted once per load).
    pub(super) fn key_arn<'a>(&self, k: &'a LoadedKey) -> &'a str {
        k.arn.get_or_init(|| self.arn(&k.record.key_id))
    }

    pub(super) fn alias_arn(&self, name: &str) -> String {
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

    // ----- the audit hook -------------------------------------------------------------------

    fn request_id(&self) -> String {
        let n = self.req_ctr.fetch_add(1, Ordering::Relaxed) as u128;
        uuid::Uuid::from_u128(
            self.req_base
                .wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        )
        .hyphenated()
        .to_string()
    }

    /// Run one request and write its audit line: who asked and from where (`caller`), the
    /// region, what the request touched, and its outcome. The request id is the caller's
    /// (the endpoint's `x-amzn-RequestId`), or a new one. A request that changes state has
    /// its line written ahead of the change as well (`audit_ahead.rs`).
    pub(super) fn run<T>(
        &self,
        caller: &Caller,
        operation: &'static str,
        f: impl FnOnce(&Call) -> Result<T, KmsError>,
    ) -> Result<T, KmsError> {
        let event = AuditEvent {
            time_ms: self.clock.now_ms(),
            request_id: caller
                .request_id()
                .map_or_else(|| self.request_id(), str::to_string),
            principal: caller.principal().clone(),
            on_behalf_of: match caller.on_behalf() {
                Some(OnBehalf::ProcessUser) => Some(Arc::from(self.os_principal())),
                Some(OnBehalf::Principal(p)) => Some(p.clone()),
                Some(OnBehalf::Nobody) | None => None,
            },
            operation,
            event_source: None,
            resource_arn: None,
            aws_region: Some(self.account.region.clone()),
            source_ip_address: caller.source_ip().cloned(),
            user_agent: caller.user_agent().cloned(),
            key_arn: None,
            destination_key_arn: None,
            encryption_context: None,
            destination_encryption_context: None,
            error: None,
        };
        let req = Request::new(self.audit.clone(), event);
        let call = Call {
            kms: self,
            req: req.clone(),
            caller,
            // Requests of the home's own (access keys, seeds, reset) are not KMS API calls.
            authorized: Cell::new(
                OWN_RULES.contains(&operation) || !API_OPERATIONS.contains(&operation),
            ),
            grant_operations: RefCell::default(),
            request_keys: RefCell::default(),
        };
        let r = {
            let _in_flight = req.enter();
            match self.audit.check_healthy() {
                Ok(()) => self.admit(operation).and_then(|()| {
                    if STAR_OPERATIONS.contains(&operation)
                        && !STAR_CHECKED_INSIDE.contains(&operation)
                    {
                        call.authorize_star(&format!("kms:{operation}"))?;
                    }
                    f(&call)
                }),
                Err(e) => Err(KmsError::Internal(e)),
            }
        };
        debug_assert!(
            r.is_err() || call.authorized.get(),
            "{operation} ran without a permission check"
        );
        req.finish(self.clock.now_ms(), r)
    }

    /// Write the audit line of a request made to a service built on this KMS (Secrets
    /// Manager, Parameter Store): `source` is its `eventSource`
    /// (`secretsmanager.amazonaws.com`), `operation` its AWS name, `resource` the ARN it
    /// acted on, `error` its AWS error name and message. The service's own KMS calls have
    /// their lines too, as its principal `via` the caller. Values never go in here.
    pub fn record_service_event(
        &self,
        caller: &Caller,
        source: &'static str,
        operation: &'static str,
        resource: Option<String>,
        error: Option<(&'static str, String)>,
    ) {
        self.audit.record(AuditEvent {
            time_ms: self.clock.now_ms(),
            request_id: caller
                .request_id()
                .map_or_else(|| self.request_id(), str::to_string),
            principal: caller.principal().clone(),
            on_behalf_of: None,
            operation,
            event_source: Some(source),
            resource_arn: resource,
            aws_region: Some(self.account.region.clone()),
            source_ip_address: caller.source_ip().cloned(),
            user_agent: caller.user_agent().cloned(),
            key_arn: None,
            destination_key_arn: None,
            encryption_context: None,
            destination_encryption_context: None,
            error,
        });
    }

    /// A token of the request quota for `operation` (no cost when quotas are off), or
    /// `ThrottlingException`: a throttled request is audited with its error, as CloudTrail
    /// records throttled KMS calls.
    fn admit(&self, operation: &'static str) -> Result<(), KmsError> {
        match &self.quota {
            None => Ok(()),
            Some(q) => q.admit(operation),
        }
    }

    /// A token of the RSA or ECC family for an operation with a key of `spec` (none for
    /// symmetric, HMAC and ML-DSA keys), or `ThrottlingException`.
    pub(super) fn admit_key(&self, spec: Option<KeySpec>) -> Result<(), KmsError> {
        match (&self.quota, spec.and_then(super::quota::key_family)) {
            (Some(q), Some(family)) => q.admit_family(family),
            _ => Ok(()),
        }
    }

    /// Run `f`, an action the KMS takes by itself on the key `key_arn` (an automatic
    /// rotation or deletion, an AWS-managed key's creation), as a request of the KMS's
    /// service principal, with its audit line.
    pub(super) fn system_action<T>(
        &self,
        operation: &'static str,
        key_arn: String,
        f: impl FnOnce() -> Result<T, KmsError>,
    ) -> Result<T, KmsError> {
        let internal: Arc<str> = Arc::from(AWS_INTERNAL);
        let req = Request::new(
            self.audit.clone(),
            AuditEvent {
                time_ms: self.clock.now_ms(),
                request_id: self.request_id(),
                principal: Arc::from(KMS_SERVICE_PRINCIPAL),
                on_behalf_of: None,
                operation,
                event_source: None,
                resource_arn: None,
                aws_region: Some(self.account.region.clone()),
                source_ip_address: Some(internal.clone()),
                user_agent: Some(internal),
                key_arn: Some(key_arn),
                destination_key_arn: None,
                encryption_context: None,
                destination_encryption_context: None,
                error: None,
            },
        );
        let r = {
            let _in_flight = req.enter();
            f()
        };
        req.finish(self.clock.now_ms(), r)
    }

    // ----- key-state checks -----------------------------------------------------------------

    /// The key can encrypt and decrypt: it is enabled.
    pub(super) fn require_usable(&self, k: &LoadedKey) -> Result<(), KmsError> {
        let arn = self.arn(&k.record.key_id);
        match k.record.state {
            KeyState::Enabled => Ok(()),
            KeyState::Disabled => Err(KmsError::Disabled(format!("{arn} is disabled."))),
            s => Err(KmsError::InvalidState(state_message(&arn, s))),
        }
    }

    pub(super) fn require_not_pending_deletion(&self, r: &KeyRecord) -> Result<(), KmsError> {
        if r.state == KeyState::PendingDeletion {
            return Err(KmsError::InvalidState(format!(
                "{} is pending deletion.",
                self.arn(&r.key_id)
            )));
        }
        Ok(())
    }

    /// The key is customer managed; `what` says what is refused for an AWS managed key.
    pub(super) fn require_customer_managed(
        &self,
        r: &KeyRecord,
        what: &str,
    ) -> Result<(), KmsError> {
        if r.manager == KeyManager::Aws {
            return Err(KmsError::AccessDenied(format!(
                "{} is an AWS managed key; {what}",
                self.arn(&r.key_id)
            )));
        }
        Ok(())
    }

    /// The key may be changed by its owner: not pending deletion, and customer managed
    /// (`what` says what is refused for an AWS managed key).
    pub(super) fn require_changeable(&self, r: &KeyRecord, what: &str) -> Result<(), KmsError> {
        self.require_not_pending_deletion(r)?;
        self.require_customer_managed(r, what)
    }

    // ----- updates of a key record ------------------------------------------------------------

    /// Apply `f` to the freshest record of `id` under the lock and store the result.
    pub(super) fn mutate<T>(
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
        super::ops::expire_imported_material(&mut rec, now);
        let t = f(&mut rec)?;
        self.ks.put(rec)?;
        Ok(t)
    }
}

/// AWS's KMSInvalidStateException text for a key in `state` (not Enabled or Disabled).
pub(in crate::kms) fn state_message(arn: &str, state: KeyState) -> String {
    match state {
        KeyState::PendingDeletion => format!("{arn} is pending deletion."),
        KeyState::PendingImport => format!("{arn} is pending import."),
        KeyState::PendingReplicaDeletion => format!("{arn} is pending replica deletion."),
        KeyState::Enabled => format!("{arn} is enabled."),
        KeyState::Disabled => format!("{arn} is disabled."),
    }
}
