//! `kmsfs serve`: open the home (or make an ephemeral one), bind the endpoint (HTTPS with
//! `--tls`), print one JSON line when ready (`{"Endpoint", "Region", "AccountId", "Home"}`,
//! and `"CaBundle"` with TLS), serve until SIGTERM/SIGINT, flush the audit trail and exit 0.
//! `--print-ca` prints the home's CA certificate and exits.

use super::args;
use super::error::{CliError, OrFail};
use super::session::Ctx;
use crate::home::{Home, InitOptions};
use crate::kms::{Kms, KmsOptions, Seed};
use crate::server::{EphemeralHome, ServeOptions, Server, Transport};
use std::io::Write;
use std::sync::Arc;

const WHAT: &str = "serve failed";

#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on; port 0 picks a free port. Beyond loopback it needs --tls (or
    /// --insecure-http).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Serve HTTPS with a certificate signed by the home's local CA (both made in
    /// kms/tls/ when needed); clients trust the CA (`kmsfs serve --print-ca`).
    #[arg(long)]
    tls: bool,
    /// Serve plain HTTP on a non-loopback --listen address (requests cross the network
    /// in the clear).
    #[arg(long, conflicts_with = "tls")]
    insecure_http: bool,
    /// Print the home's CA certificate (PEM, made if needed) for clients to trust, and exit.
    #[arg(long, conflicts_with = "ephemeral")]
    print_ca: bool,
    /// Serve a new temporary home (random root key file), deleted at exit.
    #[arg(long)]
    ephemeral: bool,
    /// With --ephemeral: the 12-digit account id (default: random).
    #[arg(long, requires = "ephemeral")]
    account_id: Option<String>,
    /// An access key that may sign requests, as ID:SECRET (repeatable); it acts as the
    /// account root (arn:aws:iam::ACCOUNT:root).
    #[arg(long = "credentials", value_name = "ID:SECRET")]
    credentials: Vec<String>,
    /// Answer moto's `POST /moto-api/reset` (not signed): delete every key and alias, for
    /// test suites that reset between tests. On by default with --ephemeral.
    #[arg(long)]
    allow_reset: bool,
    /// A seed file to apply before serving (repeatable; see the README, "Seed files"); a
    /// reset applies the seeds again.
    #[arg(long = "seed", value_name = "FILE")]
    seeds: Vec<std::path::PathBuf>,
    /// Run Parameter Store's due parameter policies every this many seconds (0: never).
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    policy_interval: u64,
    /// Run due Secrets Manager rotations every N seconds (0: never).
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    rotation_interval: u64,
}

pub(super) fn run(ctx: &Ctx, a: &ServeArgs) -> Result<(), CliError> {
    if a.print_ca {
        return print_ca(ctx);
    }
    let credentials = a
        .credentials
        .iter()
        .map(|c| parse_credentials(c))
        .collect::<Result<Vec<_>, _>>()?;
    let ephemeral = if a.ephemeral {
        let opts = InitOptions {
            account_id: a.account_id.clone(),
            region: ctx.cli.region.clone(),
        };
        Some(EphemeralHome::create(&opts).or_fail(WHAT)?)
    } else {
        None
    };
    let home = match &ephemeral {
        Some(e) => e.home().clone(),
        None => Home::open(&ctx.root).or_fail(WHAT)?,
    };
    let kms = open_kms(ctx, &home)?;
    apply_seeds(&kms, &a.seeds)?;
    let server = Server::bind(ServeOptions {
        kms: kms.clone(),
        home: home.clone(),
        listen: a.listen.clone(),
        transport: if a.tls {
            Transport::Tls(home.layout().clone())
        } else {
            Transport::Http {
                insecure: a.insecure_http,
            }
        },
        credentials,
        allow_reset: a.allow_reset || a.ephemeral,
    })
    .or_fail(WHAT)?;
    crate::secrets::params::sweep_every(&home, &kms, a.policy_interval);
    ready(&server, &home, a.credentials.is_empty())?;
    let rotations = super::secretsmanager_cmd::rotation_thread(&home, &kms, a.rotation_interval);
    let r = server.run().or_fail(WHAT);
    drop(rotations);
    kms.flush_audit().or_fail(WHAT)?;
    drop(kms);
    drop(ephemeral);
    r
}

/// `--print-ca`: the CA certificate of the home on stdout.
fn print_ca(ctx: &Ctx) -> Result<(), CliError> {
    const WHAT: &str = "serve --print-ca failed";
    let home = Home::open(&ctx.root).or_fail(WHAT)?;
    let pem = crate::server::ca_pem(home.layout(), &home.config().account_id).or_fail(WHAT)?;
    let mut out = std::io::stdout().lock();
    out.write_all(pem.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| CliError::new(WHAT, format!("stdout: {e}"), super::error::exit::INTERNAL))
}

/// Apply the `--seed` files in order, as the calling OS user (each reported on stderr).
fn apply_seeds(kms: &Arc<Kms>, files: &[std::path::PathBuf]) -> Result<(), CliError> {
    let principal = crate::kms::Caller::from(kms.os_principal());
    for f in files {
        let seed = Seed::read(f).map_err(|e| CliError::usage(WHAT, e.message()))?;
        let r = kms.apply_seed(&principal, &Arc::new(seed)).or_fail(WHAT)?;
        let created = r.keys.iter().filter(|k| k.result == "created").count();
        eprintln!(
            "kmsfs: seed {}: {created} keys created, {} kept",
            f.display(),
            r.keys.len() - created
        );
    }
    Ok(())
}

/// `ID:SECRET`.
fn parse_credentials(s: &str) -> Result<(String, String), CliError> {
    match s.split_once(':') {
        Some((id, secret)) if !id.is_empty() && !secret.is_empty() => {
            Ok((id.to_string(), secret.to_string()))
        }
        _ => Err(CliError::usage(
            WHAT,
            "--credentials takes ACCESS_KEY_ID:SECRET_ACCESS_KEY",
        )),
    }
}

/// The KMS of `home`, its audit trail flushed every 100 ms (and at exit).
fn open_kms(ctx: &Ctx, home: &Home) -> Result<Arc<Kms>, CliError> {
    let passphrase = if Kms::needs_passphrase(home).or_fail(WHAT)? {
        let file = ctx.cli.passphrase_file.as_deref();
        Some(args::read_passphrase(file, false)?)
    } else {
        None
    };
    let opts = KmsOptions {
        passphrase,
        ..KmsOptions::default()
    };
    Kms::open(home, opts).or_fail(WHAT)
}

/// Print the one ready line on stdout (flushed) and a hint on stderr.
fn ready(server: &Server, home: &Home, no_keys: bool) -> Result<(), CliError> {
    let c = home.config();
    let mut line = serde_json::json!({
        "Endpoint": server.url(),
        "Region": c.region,
        "AccountId": c.account_id,
        "Home": home.root(),
    });
    if let Some(ca) = server.ca_bundle() {
        line["CaBundle"] = serde_json::json!(ca);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| CliError::new(WHAT, format!("stdout: {e}"), super::error::exit::INTERNAL))?;
    eprintln!(
        "kmsfs: serving the KMS of {} at {} (region {}); export AWS_ENDPOINT_URL_KMS={}",
        home.root().display(),
        server.url(),
        c.region,
        server.url()
    );
    if let Some(ca) = server.ca_bundle() {
        eprintln!(
            "kmsfs: clients trust its certificate with AWS_CA_BUNDLE={} (or `aws --ca-bundle`, boto3's verify=, kmsfs --kms-ca-bundle)",
            ca.display()
        );
    } else if !server.is_loopback() {
        eprintln!(
            "kmsfs: warning: serving plain HTTP beyond loopback (--insecure-http): requests, signatures and plaintexts cross the network in the clear; use --tls"
        );
    }
    if no_keys {
        eprintln!("kmsfs: hint: no access key can sign requests; pass --credentials ID:SECRET");
    }
    Ok(())
}
