//! Parameter Store (SSM parameters) on the KMS: String, StringList and SecureString
//! parameters with versions, labels, hierarchies, tiers, tags and policies, as AWS's
//! `AmazonSSM` parameter operations behave. [`ParameterStore`] is the API: one method per
//! AWS operation, taking and returning AWS's shapes ([`types`]); the CLI (`kmsfs ssm`) and
//! the endpoint (`server/ssm.rs`) are thin over it. Each request writes one audit line of
//! its own (`ssm.amazonaws.com`); its KMS calls have theirs, as the service via the caller.
//!
//! Files: `record.rs` (the record files and their lock), `seal.rs` (SecureString
//! encryption), `name.rs` (names, paths, labels, selectors, ARNs), `put.rs`, `read.rs`
//! (Get*, history, `/aws/reference/secretsmanager/`), `manage.rs` (describe, labels,
//! delete, tags), `filter.rs` (parameter filters and pagination), `policy.rs` (policies
//! and their events).

pub mod error;
mod filter;
mod manage;
pub mod name;
pub mod policy;
mod put;
mod read;
pub mod record;
pub mod seal;
pub mod types;

pub use error::ParamError;
pub use policy::PolicyEvent;
pub use types::*;

use crate::secrets::{Service, ServiceContext};
use policy::Due;
use record::{Record, Store};

/// A secret of Secrets Manager read through `/aws/reference/secretsmanager/<id>`.
#[derive(Debug, Clone)]
pub struct ReferencedSecret {
    pub name: String,
    pub arn: String,
    /// The secret's value (SecretString, or the base64 of SecretBinary).
    pub value: ParamValue,
    pub version_id: String,
    pub stages: Vec<String>,
    /// When the version was created (Unix ms).
    pub created_ms: i64,
}

/// How Parameter Store reads a Secrets Manager secret (wired in by whoever holds both).
pub trait SecretReference: Send + Sync {
    /// The secret `id`'s version `version` (a version id) or `label` (a staging label),
    /// AWSCURRENT when neither is given.
    fn get_secret_for_ssm(
        &self,
        id: &str,
        version: Option<&str>,
        label: Option<&str>,
        with_decryption: bool,
    ) -> Result<ReferencedSecret, ParamError>;
}

/// What a policy sweep did.
#[derive(Debug, Default, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyRunReport {
    pub expired: Vec<String>,
    pub notifications: usize,
}

/// Run the policies due now on every parameter of `ctx`'s account and region.
pub fn run_due_policies(ctx: &ServiceContext) -> Result<PolicyRunReport, ParamError> {
    ParameterStore::new(ctx, None).run_due_policies()
}

/// Parameter Store for one request: where (the context) and, optionally, Secrets Manager
/// for `/aws/reference/secretsmanager/` names.
pub struct ParameterStore<'a> {
    ctx: &'a ServiceContext,
    secrets: Option<&'a dyn SecretReference>,
}

impl<'a> ParameterStore<'a> {
    pub fn new(ctx: &'a ServiceContext, secrets: Option<&'a dyn SecretReference>) -> Self {
        ParameterStore { ctx, secrets }
    }

    pub fn context(&self) -> &ServiceContext {
        self.ctx
    }

    /// The ARN of parameter `name`.
    pub fn arn(&self, name: &str) -> String {
        let c = self.ctx;
        name::arn(&c.partition, &c.region, &c.account_id, name)
    }

    /// Run `f` as operation `op` and write its audit line (with `resource`, and its error).
    fn audited<T>(
        &self,
        op: &'static str,
        resource: Option<String>,
        f: impl FnOnce() -> Result<T, ParamError>,
    ) -> Result<T, ParamError> {
        let r = f();
        let err = r.as_ref().err().map(|e| (e.code(), e.message()));
        self.ctx.audit(Service::ParameterStore, op, resource, err);
        r
    }

    fn lock(&self) -> Result<Store, ParamError> {
        Store::lock(&self.ctx.dir)
    }

    /// Parameter `name`, after its due policies ran (an expired one is deleted: `None`).
    fn load(&self, store: &Store, name: &str) -> Result<Option<Record>, ParamError> {
        match store.read(name)? {
            Some(r) => self.apply_due(store, r),
            None => Ok(None),
        }
    }

    /// Every parameter, after their due policies ran.
    fn load_all(&self, store: &Store) -> Result<Vec<Record>, ParamError> {
        let mut out = Vec::new();
        for r in store.all()? {
            if let Some(r) = self.apply_due(store, r)? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Run `r`'s due policies: record their events, delete it if it expired.
    fn apply_due(&self, store: &Store, mut r: Record) -> Result<Option<Record>, ParamError> {
        let arn = self.arn(&r.name);
        match policy::due(&mut r, &arn, self.ctx.now_ms()) {
            Due::Nothing => Ok(Some(r)),
            Due::Notified(events) => {
                store.write(&r)?;
                self.events_out(store, &events)?;
                Ok(Some(r))
            }
            Due::Expired(events) => {
                store.remove(&r.name)?;
                self.events_out(store, &events)?;
                Ok(None)
            }
        }
    }

    fn events_out(&self, store: &Store, events: &[PolicyEvent]) -> Result<(), ParamError> {
        policy::record_events(store, events)?;
        for e in events {
            let op = policy::audit_operation(&e.policy_type);
            self.ctx
                .audit(Service::ParameterStore, op, Some(e.arn.clone()), None);
        }
        Ok(())
    }

    /// Run every parameter's due policies (expirations delete, notifications record).
    pub fn run_due_policies(&self) -> Result<PolicyRunReport, ParamError> {
        let store = self.lock()?;
        let mut report = PolicyRunReport::default();
        for mut r in store.all()? {
            let arn = self.arn(&r.name);
            match policy::due(&mut r, &arn, self.ctx.now_ms()) {
                Due::Nothing => {}
                Due::Notified(events) => {
                    store.write(&r)?;
                    self.events_out(&store, &events)?;
                    report.notifications += events.len();
                }
                Due::Expired(events) => {
                    store.remove(&r.name)?;
                    self.events_out(&store, &events)?;
                    report.expired.push(r.name.clone());
                }
            }
        }
        Ok(report)
    }

    /// The events recorded (of parameter `name`, since `since_ms`), oldest first.
    pub fn events(
        &self,
        name: Option<&str>,
        since_ms: Option<i64>,
    ) -> Result<Vec<PolicyEvent>, ParamError> {
        let path = self.ctx.dir.join(record::EVENTS_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(ParamError::io("reading the events file", e)),
        };
        let since = since_ms.map(crate::timefmt::epoch_secs);
        let mut out = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let e: PolicyEvent = serde_json::from_str(line)
                .map_err(|e| ParamError::Damaged(format!("{}: {e}", path.display())))?;
            if name.is_some_and(|n| n != e.name) || since.is_some_and(|s| e.time < s) {
                continue;
            }
            out.push(e);
        }
        Ok(out)
    }
}

/// Run the due policies of the home's account and region (of `kms`) every `secs` seconds
/// on a background thread, as `ssm.amazonaws.com` (0: never). Failures go to stderr.
pub fn sweep_every(home: &crate::home::Home, kms: &std::sync::Arc<crate::kms::Kms>, secs: u64) {
    if secs == 0 {
        return;
    }
    let (home, kms) = (home.clone(), kms.clone());
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(secs));
            let caller = crate::kms::Caller::new(crate::secrets::SSM_PRINCIPAL);
            let r = ServiceContext::embedded(&home, kms.clone(), caller, Service::ParameterStore)
                .map_err(|e| ParamError::Internal(e.to_string()))
                .and_then(|ctx| run_due_policies(&ctx));
            if let Err(e) = r {
                eprintln!("kmsfs: parameter policies: {e}");
            }
        }
    });
}
