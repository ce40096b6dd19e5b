//! What a command runs with: [`Ctx`] (the parsed command line, the home's root, the
//! printer) and, for commands that use the KMS, a [`Session`]: the home opened, its KMS
//! unlocked (asking for the passphrase if the keystore has one), the services acting as
//! their principals on behalf of the command's caller, and the audit trail flushed when the command is done. With
//! `--kms-endpoint`, the services (volumes, snapshots, objects, envelope files) reach the
//! KMS through a [`Remote`] client instead, acting as its access key's principal; `kmsfs
//! kms` verbs keep the embedded KMS.

use super::error::{CliError, Failure, OrFail};
use super::output::Printer;
use super::{Cli, args};
use crate::home::Home;
use crate::kms::{Caller, Client, Embedded, Kms, KmsOptions, Remote, Retrying};
use crate::object::{ObjectService, S3_PRINCIPAL};
use crate::snapshot::SnapshotService;
use crate::volume::VolumeService;
use crate::volume::service::EBS_PRINCIPAL;
use std::path::PathBuf;
use std::sync::Arc;

/// The command line, where the home is, and how to print.
pub(crate) struct Ctx<'a> {
    pub cli: &'a Cli,
    pub root: PathBuf,
    pub out: Printer,
}

impl Ctx<'_> {
    /// Open the home and its KMS for the command `what` (the name of its failure).
    pub fn open<'s>(&'s self, what: &'s str) -> Result<Session<'s>, CliError> {
        let home = Home::open(&self.root).or_fail(what)?;
        let passphrase = if Kms::needs_passphrase(&home).or_fail(what)? {
            Some(args::read_passphrase(
                self.cli.passphrase_file.as_deref(),
                false,
            )?)
        } else {
            None
        };
        let kms = Kms::open(
            &home,
            KmsOptions {
                passphrase,
                audit_interval: None,
                ..KmsOptions::default()
            },
        )
        .or_fail(what)?;
        let (url, profile) = (
            self.cli.kms_endpoint.as_deref(),
            self.cli.profile.as_deref(),
        );
        // `kmsfs kms`, `credentials`, `iam`, `sts` and `account` always use the embedded KMS.
        let own = matches!(
            self.cli.command,
            super::Command::Kms(_)
                | super::Command::Credentials(_)
                | super::Command::Iam(_)
                | super::Command::Sts(_)
                | super::Command::Account(_)
        );
        // `--kms-endpoint`, `--profile`, or the AWS tools' own variable for a KMS endpoint.
        let env_endpoint = crate::awsconfig::process_env("AWS_ENDPOINT_URL_KMS").is_some();
        let remote = if !own && (url.is_some() || profile.is_some() || env_endpoint) {
            let ca = self.cli.kms_ca_bundle.as_deref();
            let r = Remote::configured(url, profile, ca)
                .map_err(|e| CliError::usage(what, e.to_string()))?;
            Some(Arc::new(r))
        } else {
            None
        };
        // Commands act as the configured access key's principal (through an endpoint, the
        // endpoint finds it); `kmsfs credentials` as the Unix user.
        let credentials = matches!(self.cli.command, super::Command::Credentials(_));
        let principal = if !credentials && remote.is_none() {
            super::sts_cmd::cli_principal(&kms, profile)
                .map_err(|why| CliError::new(what, why, super::error::exit::REFUSED))?
        } else {
            None
        };
        let os = kms.os_principal();
        let caller = principal.as_deref().unwrap_or(&os);
        let account_kms = kms
            .for_principal(caller, &self.region(&home))
            .or_fail(what)?;
        Ok(Session {
            home,
            kms,
            account_kms,
            remote,
            principal,
            what,
            out: &self.out,
        })
    }

    /// The Region the command acts in: `--region`; for `kmsfs kms` verbs, as the AWS CLI,
    /// then AWS_REGION, then AWS_DEFAULT_REGION; else the home's Region.
    fn region(&self, home: &Home) -> String {
        let env = crate::awsconfig::process_env;
        let kms_verb = matches!(
            self.cli.command,
            super::Command::Kms(_) | super::Command::Secretsmanager(_)
        );
        self.cli
            .region
            .clone()
            .or_else(|| kms_verb.then(|| env("AWS_REGION")).flatten())
            .or_else(|| kms_verb.then(|| env("AWS_DEFAULT_REGION")).flatten())
            .unwrap_or_else(|| home.config().region.clone())
    }

    /// Open a session for the command `what`, run `f` in it, and flush the audit trail
    /// whatever `f` returned: every request's audit line reaches the disk before the
    /// command exits.
    pub fn session<T>(
        &self,
        what: &str,
        f: impl FnOnce(&Session) -> Result<T, CliError>,
    ) -> Result<T, CliError> {
        let s = self.open(what)?;
        let r = f(&s);
        s.flush()?;
        r
    }
}

/// A command's open home and KMS.
pub(crate) struct Session<'a> {
    pub home: Home,
    /// The KMS of the home's account and region (access keys, the trail, reset).
    pub kms: Arc<Kms>,
    /// The KMS of the caller's account in the command's Region (`--region`, else the
    /// home's): what `kmsfs kms` verbs and the services (acting for the caller, as EBS
    /// does) use.
    pub account_kms: Arc<Kms>,
    /// The KMS endpoint the services use instead of `kms` (`--kms-endpoint`).
    pub remote: Option<Arc<Remote>>,
    /// Who `kmsfs kms`, `iam` and `sts` act as, when `--profile` or `AWS_ACCESS_KEY_ID`
    /// names an access key of the home (else the Unix user).
    pub principal: Option<String>,
    /// The name of the command's failure, e.g. `volume create failed`.
    pub what: &'a str,
    pub out: &'a Printer,
}

impl Session<'_> {
    /// Print a service's reply, or report its error as the command's failure.
    pub fn reply<T: serde::Serialize, E: Failure>(&self, r: Result<T, E>) -> Result<(), CliError> {
        self.out.print(&r.or_fail(self.what)?)
    }

    /// A service call without a reply: report its error as the command's failure.
    pub fn done<E: Failure>(&self, r: Result<(), E>) -> Result<(), CliError> {
        r.or_fail(self.what)
    }

    /// A client acting as the caller: the configured access key's principal, else the
    /// calling OS user.
    pub fn user(&self) -> Embedded {
        Embedded::new(self.account_kms.clone(), self.principal())
    }

    /// The caller's principal (an ARN).
    pub fn principal(&self) -> String {
        self.principal
            .clone()
            .unwrap_or_else(|| self.kms.os_principal())
    }

    /// The KMS client of a command acting as the user (envelope files): the endpoint's
    /// when there is one, else the embedded KMS as the calling OS user.
    pub fn user_client(&self) -> Arc<dyn Client> {
        match &self.remote {
            Some(r) => r.clone(),
            None => Arc::new(Retrying::new(Arc::new(self.user()))),
        }
    }

    /// A client acting as the service principal `principal` on behalf of the caller (the
    /// KMS evaluates the caller's permissions with `kms:ViaService` set, as AWS does for
    /// EBS and S3); with an endpoint, its access key's principal. Services back off when a
    /// request quota throttles them (`Remote` retries by itself).
    fn client(&self, principal: &str) -> Arc<dyn Client> {
        match &self.remote {
            Some(r) => r.clone(),
            None => Arc::new(Retrying::new(Arc::new(Embedded::new(
                self.account_kms.clone(),
                Caller::new(principal).on_behalf_of(self.principal()),
            )))),
        }
    }

    /// The context of a service built on the KMS (Secrets Manager, Parameter Store) for
    /// the command's caller: its KMS calls as the service principal on behalf of the
    /// caller, or through the endpoint (`--kms-endpoint`).
    pub fn ctx(
        &self,
        service: crate::secrets::Service,
    ) -> Result<crate::secrets::ServiceContext, CliError> {
        use crate::secrets::ServiceContext;
        let caller = Caller::new(self.principal());
        match &self.remote {
            Some(r) => ServiceContext::with_client(
                &self.home,
                self.account_kms.clone(),
                caller,
                service,
                r.clone(),
            ),
            None => ServiceContext::embedded(&self.home, self.account_kms.clone(), caller, service),
        }
        .or_fail(self.what)
    }

    /// The caller's account: that of the command's principal (the home's if it names
    /// none, e.g. through an endpoint).
    pub fn account(&self) -> String {
        crate::snapshot::account_of_arn(&self.principal())
            .map(str::to_string)
            .unwrap_or_else(|| self.home.config().account_id.clone())
    }

    /// The volume service (as `ebs.amazonaws.com`), acting for the caller's account: it
    /// sees only that account's volumes.
    pub fn volumes(&self) -> VolumeService {
        VolumeService::new(self.home.clone(), self.client(EBS_PRINCIPAL))
            .acting_for(&self.account())
    }

    /// The snapshot service (as `ebs.amazonaws.com`).
    pub fn snapshots(&self) -> SnapshotService {
        SnapshotService::new(self.home.clone(), self.client(EBS_PRINCIPAL))
    }

    /// The object service (as `s3.amazonaws.com`).
    pub fn objects(&self) -> ObjectService {
        ObjectService::new(&self.home, self.client(S3_PRINCIPAL))
    }

    /// Write every buffered audit line to the disk.
    pub fn flush(&self) -> Result<(), CliError> {
        self.kms.flush_audit().or_fail(self.what)
    }
}
