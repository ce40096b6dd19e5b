//! `kmsfs audit show` (filter the trail) and `kmsfs audit verify` (check the hash chain).
//! Neither needs the root key: the trail holds no secrets.

use super::output::Printer;
use super::{Cli, CliError, Format, exit};
use crate::home::Home;
use crate::kms::audit::{self, AuditLine};
use clap::Subcommand;
use std::path::Path;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print audit lines (JSON lines; tab-separated with --output text).
    Show {
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
    },
    /// Check every line's hash chain and the head; name the first line that was changed,
    /// removed, inserted or reordered.
    Verify,
}

fn log_path(root: &Path, what: &str) -> Result<std::path::PathBuf, CliError> {
    let home = Home::open(root).map_err(|e| CliError::home(what, e))?;
    Ok(home.kms_dir().join("audit.log"))
}

pub fn run(_cli: &Cli, root: &Path, cmd: &AuditCommand, out: &Printer) -> Result<(), CliError> {
    match cmd {
        AuditCommand::Show {
            key_id,
            since,
            operation,
            principal,
            failures,
        } => {
            let what = "audit show failed";
            let path = log_path(root, what)?;
            let since_ms = match since {
                Some(s) => Some(parse_since(s).map_err(|e| CliError::usage(what, e))?),
                None => None,
            };
            let lines = audit::read_lines(&path)
                .map_err(|e| CliError::new(what, e.to_string(), exit::AUDIT))?;
            let keep = |l: &AuditLine| {
                let key_ok = key_id.as_ref().is_none_or(|k| {
                    let m = |a: &Option<String>| {
                        a.as_ref()
                            .is_some_and(|a| a == k || a.ends_with(&format!("/{k}")))
                    };
                    m(&l.key_arn) || m(&l.destination_key_arn)
                });
                let since_ok = since_ms.is_none_or(|s| {
                    humantime::parse_rfc3339(&l.time)
                        .map(|t| {
                            t.duration_since(std::time::UNIX_EPOCH)
                                .unwrap_or_default()
                                .as_millis() as i64
                                >= s
                        })
                        .unwrap_or(false)
                });
                key_ok
                    && since_ok
                    && operation.as_ref().is_none_or(|o| &l.operation == o)
                    && principal.as_ref().is_none_or(|p| &l.principal == p)
                    && (!failures || l.outcome == "Failure")
            };
            for l in lines.iter().filter(|l| keep(l)) {
                match out.format {
                    Format::Json => {
                        println!("{}", serde_json::to_string(l).expect("line serializes"))
                    }
                    Format::Text => println!(
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                        l.seq,
                        l.time,
                        l.principal,
                        l.operation,
                        l.key_arn.as_deref().unwrap_or("-"),
                        l.outcome,
                        l.error_code.as_deref().unwrap_or("-")
                    ),
                }
            }
            Ok(())
        }
        AuditCommand::Verify => {
            let what = "audit trail verification failed";
            let path = log_path(root, what)?;
            let rep = audit::verify(&path).map_err(|e| {
                CliError::new(what, format!("{}: {e}", path.display()), exit::AUDIT)
                    .hint("the trail was edited, truncated or reordered after it was written; keep a copy for investigation")
            })?;
            out.print(&serde_json::json!({
                "AuditTrail": path,
                "Lines": rep.lines,
                "Verified": true,
                "TornTailBytes": rep.torn_tail_bytes,
            }))
        }
    }
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
