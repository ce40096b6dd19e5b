//! `kmsfs serve`: open the home (or make an ephemeral one), bind the endpoint, print one
//! JSON line when ready (`{"Endpoint", "Region", "AccountId", "Home"}`), serve until
//! SIGTERM/SIGINT, flush the audit trail and exit 0.

use super::args;
use super::error::{CliError, OrFail};
use super::session::Ctx;
use crate::home::{Home, InitOptions};
use crate::kms::{Kms, KmsOptions, Seed};
use crate::server::{EphemeralHome, ServeOptions, Server};
use std::io::Write;
use std::sync::Arc;

const WHAT: &str = "serve failed";

#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (loopback only: TLS comes later); port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Serve a new temporary home (random root key file), deleted at exit.
    #[arg(long)]
    ephemeral: bool,
    /// With --ephemeral: the 12-digit account id (default: random).
    #[arg(long, requires = "ephemeral")]
    account_id: Option<String>,
    /// With --ephemeral: the region (default: us-east-1).
    #[arg(long, requires = "ephemeral")]
    region: Option<String>,
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
}

pub(super) fn run(ctx: &Ctx, a: &ServeArgs) -> Result<(), CliError> {
    let credentials = a
        .credentials
        .iter()
        .map(|c| parse_credentials(c))
        .collect::<Result<Vec<_>, _>>()?;
    let ephemeral = if a.ephemeral {
        let opts = InitOptions {
            account_id: a.account_id.clone(),
            region: a.region.clone(),
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
        listen: a.listen.clone(),
        credentials,
        allow_reset: a.allow_reset || a.ephemeral,
    })
    .or_fail(WHAT)?;
    ready(&server, &home, a.credentials.is_empty())?;
    let r = server.run().or_fail(WHAT);
    kms.flush_audit().or_fail(WHAT)?;
    drop(kms);
    drop(ephemeral);
    r
}

/// Apply the `--seed` files in order, as the calling OS user (each reported on stderr).
fn apply_seeds(kms: &Arc<Kms>, files: &[std::path::PathBuf]) -> Result<(), CliError> {
    let principal: Arc<str> = kms.os_principal().into();
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
    let line = serde_json::json!({
        "Endpoint": server.url(),
        "Region": c.region,
        "AccountId": c.account_id,
        "Home": home.root(),
    });
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
    if no_keys {
        eprintln!("kmsfs: hint: no access key can sign requests; pass --credentials ID:SECRET");
    }
    Ok(())
}
