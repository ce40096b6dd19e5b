//! The services built on the KMS that keep secrets: Secrets Manager (`manager`) and
//! Parameter Store's SecureStrings (`params`). Both stand beside volumes and objects: they
//! reach the KMS only through [`kms::Client`](crate::kms::Client), acting as their own
//! service principal (`secretsmanager.amazonaws.com`, `ssm.amazonaws.com`) on behalf of the
//! caller, so the KMS evaluates the caller's permissions with `kms:ViaService` set and its
//! trail shows the service. Each request to a service writes its own line to the trail of
//! the caller's account ([`Kms::record_service_event`]), without the value.
//!
//! [`ServiceContext`] is what one request (a CLI command, an endpoint request) gives a
//! service: where it acts (partition, account, region, its directory in the home), the KMS
//! client, who asks, and the trail and clock.

pub mod manager;
pub mod params;
pub mod reference;

use crate::home::{Home, HomeError};
use crate::kms::{Caller, Client, Embedded, Kms, Retrying};
use std::path::PathBuf;
use std::sync::Arc;

/// Secrets Manager's service principal.
pub const SECRETS_MANAGER_PRINCIPAL: &str = "secretsmanager.amazonaws.com";
/// Parameter Store's (Systems Manager's) service principal.
pub const SSM_PRINCIPAL: &str = "ssm.amazonaws.com";

/// Where a service acts and for whom: one per request (or CLI command).
#[derive(Clone)]
pub struct ServiceContext {
    /// The service's directory for this account and region (made on first write).
    pub dir: PathBuf,
    /// `aws`, `aws-cn`, ...
    pub partition: String,
    pub account_id: String,
    pub region: String,
    /// The KMS, as the service principal on behalf of the caller (or a remote endpoint).
    pub kms: Arc<dyn Client>,
    /// Who makes the request (for the service's own audit line and resource policies).
    pub caller: Caller,
    /// The KMS of the caller's account and region: its trail takes the service's lines,
    /// its clock is the service's (tests move it, `KMSFS_CLOCK_OFFSET_SECS`).
    pub trail: Arc<Kms>,
}

impl std::fmt::Debug for ServiceContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceContext")
            .field("dir", &self.dir)
            .field("account_id", &self.account_id)
            .field("region", &self.region)
            .field("caller", &self.caller.principal())
            .finish()
    }
}

/// Which of the two services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    SecretsManager,
    ParameterStore,
}

impl Service {
    /// The service principal (and CloudTrail `eventSource`).
    pub fn principal(self) -> &'static str {
        match self {
            Service::SecretsManager => SECRETS_MANAGER_PRINCIPAL,
            Service::ParameterStore => SSM_PRINCIPAL,
        }
    }
}

impl ServiceContext {
    /// A context on the embedded KMS `kms` (of the caller's account and region) for
    /// `caller`: the service's KMS client acts as its principal on behalf of the caller
    /// (retrying when throttled), its directory is the home's for that account and region.
    pub fn embedded(
        home: &Home,
        kms: Arc<Kms>,
        caller: Caller,
        service: Service,
    ) -> Result<ServiceContext, HomeError> {
        let client = Embedded::new(
            kms.clone(),
            Caller::new(service.principal()).on_behalf_of(caller.principal().clone()),
        );
        let client: Arc<dyn Client> = Arc::new(Retrying::new(Arc::new(client)));
        ServiceContext::with_client(home, kms, caller, service, client)
    }

    /// A context whose KMS calls go to `client` (e.g. a remote endpoint); the trail and
    /// clock are still `kms`'s.
    pub fn with_client(
        home: &Home,
        kms: Arc<Kms>,
        caller: Caller,
        service: Service,
        client: Arc<dyn Client>,
    ) -> Result<ServiceContext, HomeError> {
        let a = kms.account().clone();
        let dir = match service {
            Service::SecretsManager => home.layout().secrets_dir(&a.account_id, &a.region)?,
            Service::ParameterStore => home.layout().parameters_dir(&a.account_id, &a.region)?,
        };
        Ok(ServiceContext {
            dir,
            partition: a.partition,
            account_id: a.account_id,
            region: a.region,
            kms: client,
            caller,
            trail: kms,
        })
    }

    /// The service's idea of now (the KMS's clock), in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.trail.now_ms()
    }

    /// Write the audit line of one request of `service` (never with a value).
    pub fn audit(
        &self,
        service: Service,
        operation: &'static str,
        resource: Option<String>,
        error: Option<(&'static str, String)>,
    ) {
        self.trail.record_service_event(
            &self.caller,
            service.principal(),
            operation,
            resource,
            error,
        );
    }
}
