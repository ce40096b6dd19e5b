//! `kmsfs audit show` (filter the trail) and `kmsfs audit verify` (check the hash chain).
//! Neither needs the root key: the trail holds no secrets.

use super::Format;
use super::error::{self, CliError, OrFail};
use super::session::Ctx;
use crate::home::Home;
use crate::kms::audit::{self, AuditLine};
use crate::kms::audit_check;
use clap::Subcommand;
use std::path::PathBuf;

// `audit show`: its filters.
#[derive(Debug, clap::Args)]
pub(crate) struct ShowArgs {
    /// Only requests on this key (key id or ARN).
    #[arg(long)]
    key_id: Option<String>,
    /// Only requests at or after this time: RFC 3339 (2026-11-22T10:00:00Z) or an age (90m, 2h, 7d).
    #[arg(long)]
    since: Option<String>,
    /// Only this operation (e.g. Decrypt).
    #[arg(long)]
    operation: Option<String>,
    /// Only this principal ARN.
    #[arg(long)]
    principal: Option<String>,
    /// Only refused requests.
    #[arg(long)]
    failures: bool,
    /// Only the request with this id (the `x-amzn-RequestId` an endpoint answered with).
    #[arg(long)]
    request_id: Option<String>,
    /// Only requests from this source (an IP address, or a service's host name).
    #[arg(long)]
    source_ip: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Print audit lines (JSON lines; tab-separated with --output text: seq, time,
    /// principal, operation, key, outcome, error code, source IP address, request id, user
    /// agent).
    Show(ShowArgs),
    /// Check every line's hash chain and the head; name the first line that was changed,
    /// removed, inserted or reordered. Then check the keystore against the trail: name
    /// every key (of every region) that has no CreateKey (or SeedKey) line.
    Verify,
}

/// The audit trail of the home at `root` (the home must exist; the KMS need not be opened).
fn log_path(ctx: &Ctx, what: &str) -> Result<PathBuf, CliError> {
    Ok(Home::open(&ctx.root).or_fail(what)?.layout().audit_log())
}

pub(super) fn run(ctx: &Ctx, cmd: &AuditCommand) -> Result<(), CliError> {
    match cmd {
        AuditCommand::Show(a) => show(ctx, a),
        AuditCommand::Verify => {
            let what = "audit trail verification failed";
            let home = Home::open(&ctx.root).or_fail(what)?;
            let path = home.layout().audit_log();
            let rep = audit::verify(&path).map_err(|e| error::audit_tampered(what, &path, e))?;
            let lines = audit::read_all_lines(&path).or_fail(what)?;
            let missing = audit_check::keys_without_line(&home, &lines).map_err(|source| {
                let path = home.kms_dir();
                error::audit_tampered(what, &path.clone(), audit::AuditError::Io { path, source })
            })?;
            if !missing.is_empty() {
                let e = audit::AuditError::Damaged(format!(
                    "{} key(s) of the keystore have no CreateKey line: {}",
                    missing.len(),
                    missing.join(", ")
                ));
                return Err(error::audit_tampered(what, &path, e));
            }
            ctx.out.print(&serde_json::json!({
                "AuditTrail": path,
                "Lines": rep.lines,
                "Verified": true,
                "TornTailBytes": rep.torn_tail_bytes,
            }))
        }
    }
}

/// `audit show`: the lines that pass every filter given.
fn show(ctx: &Ctx, a: &ShowArgs) -> Result<(), CliError> {
    let what = "audit show failed";
    let path = log_path(ctx, what)?;
    let since_ms = match &a.since {
        Some(s) => Some(parse_since(s).map_err(|e| CliError::usage(what, e))?),
        None => None,
    };
    let lines = audit::read_lines(&path).or_fail(what)?;
    let keep = |l: &AuditLine| {
        a.key_id.as_ref().is_none_or(|k| names_key(l, k))
            && since_ms.is_none_or(|s| at_or_after(l, s))
            && a.operation.as_ref().is_none_or(|o| &l.operation == o)
            && a.principal.as_ref().is_none_or(|p| &l.principal == p)
            && (!a.failures || l.outcome == "Failure")
            && a.request_id.as_ref().is_none_or(|r| &l.request_id == r)
            && a.source_ip
                .as_ref()
                .is_none_or(|s| l.source_ip_address.as_ref() == Some(s))
    };
    for l in lines.iter().filter(|l| keep(l)) {
        let line = match ctx.out.format {
            Format::Json => serde_json::to_string(l).expect("line serializes"),
            Format::Text => format!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                l.seq,
                l.time,
                l.principal,
                l.operation,
                l.key_arn.as_deref().unwrap_or("-"),
                l.outcome,
                l.error_code.as_deref().unwrap_or("-"),
                l.source_ip_address.as_deref().unwrap_or("-"),
                l.request_id,
                l.user_agent.as_deref().unwrap_or("-"),
            ),
            f => {
                let v = serde_json::to_value(l).expect("line serializes");
                super::output::render(&v, f).trim_end().to_string()
            }
        };
        super::output::write_stdout(format!("{line}\n").as_bytes()).map_err(|e| {
            CliError::new(what, format!("stdout: {e}"), super::error::exit::INTERNAL)
        })?;
    }
    Ok(())
}

/// Whether the line's key (or destination key) is `k`, by ARN or by id.
fn names_key(l: &AuditLine, k: &str) -> bool {
    let m = |a: &Option<String>| {
        a.as_ref()
            .is_some_and(|a| a == k || a.ends_with(&format!("/{k}")))
    };
    m(&l.key_arn) || m(&l.destination_key_arn)
}

/// Whether the line was written at or after `since_ms`.
fn at_or_after(l: &AuditLine, since_ms: i64) -> bool {
    humantime::parse_rfc3339(&l.time)
        .map(|t| {
            t.duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis() as i64
                >= since_ms
        })
        .unwrap_or(false)
}

fn parse_since(s: &str) -> Result<i64, String> {
    if let Ok(t) = humantime::parse_rfc3339_weak(s) {
        return Ok(t
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_millis() as i64);
    }
    let d = humantime::parse_duration(s)
        .map_err(|_| format!("--since '{s}' is neither an RFC 3339 time nor an age like 2h"))?;
    let now = crate::kms::clock::Clock::now_ms(&crate::kms::SystemClock::from_env());
    Ok(now - d.as_millis() as i64)
}
