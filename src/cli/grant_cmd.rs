//! `kmsfs kms create-grant | list-grants | list-retirable-grants | retire-grant |
//! revoke-grant`: the grant verbs, flags and output as `aws kms` has them
//! (`--constraints EncryptionContextSubset={k=v}` in the AWS CLI's shorthand, or JSON).

use super::args;
use super::error::CliError;
use super::session::Session;
use crate::kms::Client;
use crate::kms::types::*;
use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub(crate) struct GrantListArgs {
    /// Items per page (1..1000, default 50).
    #[arg(long)]
    limit: Option<u32>,
    /// NextMarker from the previous page.
    #[arg(long)]
    marker: Option<String>,
    #[command(flatten)]
    pages: super::paginate::PageArgs,
}

#[derive(Debug, Args)]
pub(crate) struct CreateGrantArgs {
    /// Key id or key ARN.
    #[arg(long)]
    key_id: String,
    /// Who gets the permissions: an IAM ARN, an account id or a service principal.
    #[arg(long)]
    grantee_principal: String,
    /// Who may retire the grant.
    #[arg(long)]
    retiring_principal: Option<String>,
    /// GrantOperation names: Encrypt Decrypt GenerateDataKey ...
    #[arg(long, num_args = 1.., required = true)]
    operations: Vec<String>,
    /// EncryptionContextSubset={k=v,k2=v2} and/or EncryptionContextEquals={k=v}, or JSON.
    #[arg(long)]
    constraints: Option<String>,
    #[arg(long, num_args = 1..)]
    grant_tokens: Option<Vec<String>>,
    /// Makes the request idempotent: the same name and parameters give the same grant.
    #[arg(long)]
    name: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum GrantCommand {
    /// Give a principal permission to use a key (returns GrantId and GrantToken).
    CreateGrant(CreateGrantArgs),
    ListGrants {
        #[arg(long)]
        key_id: String,
        #[arg(long)]
        grant_id: Option<String>,
        #[arg(long)]
        grantee_principal: Option<String>,
        #[command(flatten)]
        list: GrantListArgs,
    },
    ListRetirableGrants {
        #[arg(long)]
        retiring_principal: String,
        #[command(flatten)]
        list: GrantListArgs,
    },
    /// Retire a grant, by its token or by key and grant id.
    RetireGrant {
        #[arg(long, conflicts_with_all = ["key_id", "grant_id"])]
        grant_token: Option<String>,
        #[arg(long, requires = "grant_id")]
        key_id: Option<String>,
        #[arg(long, requires = "key_id")]
        grant_id: Option<String>,
    },
    RevokeGrant {
        #[arg(long)]
        key_id: String,
        #[arg(long)]
        grant_id: String,
    },
}

/// Run a grant verb with the client of `kmsfs kms`.
pub(super) fn run(s: &Session, c: &dyn Client, cmd: &GrantCommand) -> Result<(), CliError> {
    use GrantCommand as G;
    match cmd {
        G::CreateGrant(a) => create_grant(a).and_then(|r| s.reply(c.create_grant(r))),
        G::ListGrants {
            key_id,
            grant_id,
            grantee_principal,
            list,
        } => {
            let raw = (list.limit, list.marker.clone());
            let v = super::paginate::pages(s.what, &list.pages, raw, |limit, marker| {
                c.list_grants(ListGrantsRequest {
                    key_id: key_id.clone(),
                    grant_id: grant_id.clone(),
                    grantee_principal: grantee_principal.clone(),
                    limit,
                    marker,
                })
            })?;
            s.out.print(&v)
        }
        G::ListRetirableGrants {
            retiring_principal,
            list,
        } => {
            let raw = (list.limit, list.marker.clone());
            let v = super::paginate::pages(s.what, &list.pages, raw, |limit, marker| {
                c.list_retirable_grants(ListRetirableGrantsRequest {
                    retiring_principal: retiring_principal.clone(),
                    limit,
                    marker,
                })
            })?;
            s.out.print(&v)
        }
        G::RetireGrant {
            grant_token,
            key_id,
            grant_id,
        } => s.done(c.retire_grant(RetireGrantRequest {
            grant_token: grant_token.clone(),
            key_id: key_id.clone(),
            grant_id: grant_id.clone(),
        })),
        G::RevokeGrant { key_id, grant_id } => s.done(c.revoke_grant(RevokeGrantRequest {
            key_id: key_id.clone(),
            grant_id: grant_id.clone(),
        })),
    }
}

fn create_grant(a: &CreateGrantArgs) -> Result<CreateGrantRequest, CliError> {
    Ok(CreateGrantRequest {
        key_id: a.key_id.clone(),
        grantee_principal: a.grantee_principal.clone(),
        retiring_principal: a.retiring_principal.clone(),
        operations: a.operations.clone(),
        constraints: a.constraints.as_deref().map(constraints).transpose()?,
        grant_tokens: a.grant_tokens.clone(),
        name: a.name.clone(),
    })
}

fn bad_constraints(why: impl Into<String>) -> CliError {
    CliError::usage("bad --constraints", why).hint(
        "use EncryptionContextSubset={k=v,k2=v2}, EncryptionContextEquals={k=v}, or JSON such as '{\"EncryptionContextSubset\":{\"k\":\"v\"}}'",
    )
}

/// `--constraints`: JSON (or `file://c.json`), or the AWS CLI's shorthand
/// `EncryptionContextSubset={k=v,k2=v2},EncryptionContextEquals={k=v}`.
pub(crate) fn constraints(arg: &str) -> Result<GrantConstraints, CliError> {
    let text = match arg.strip_prefix("file://") {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| CliError::usage("cannot read --constraints", format!("{p}: {e}")))?,
        None => arg.to_string(),
    };
    let t = text.trim();
    if t.starts_with('{') {
        let v: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(t).map_err(|e| bad_constraints(format!("not JSON ({e})")))?;
        if let Some(k) = v.keys().find(|k| !is_member(k)) {
            return Err(bad_constraints(format!("unknown member '{k}'")));
        }
        return serde_json::from_value(serde_json::Value::Object(v))
            .map_err(|e| bad_constraints(e.to_string()));
    }
    let mut out = GrantConstraints::default();
    let mut rest = t;
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once("={")
            .ok_or_else(|| bad_constraints(format!("'{rest}' is not Name={{k=v}}")))?;
        let (body, after) = after
            .split_once('}')
            .ok_or_else(|| bad_constraints(format!("no closing '}}' after {name}")))?;
        let ec = args::context(&Some(body.to_string()))?.unwrap_or_default();
        match name.trim() {
            "EncryptionContextSubset" => out.encryption_context_subset = Some(ec),
            "EncryptionContextEquals" => out.encryption_context_equals = Some(ec),
            other => return Err(bad_constraints(format!("unknown member '{other}'"))),
        }
        rest = after.trim_start_matches(',').trim();
    }
    Ok(out)
}

fn is_member(k: &str) -> bool {
    k == "EncryptionContextSubset" || k == "EncryptionContextEquals"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kms::EncryptionContext;

    fn ec(pairs: &[(&str, &str)]) -> Option<EncryptionContext> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn constraints_in_shorthand_and_json() {
        let c = constraints("EncryptionContextSubset={Dept=IT,Purpose=Test}").unwrap();
        assert_eq!(
            c.encryption_context_subset,
            ec(&[("Dept", "IT"), ("Purpose", "Test")])
        );
        assert_eq!(c.encryption_context_equals, None);
        let c = constraints("EncryptionContextEquals={a=b},EncryptionContextSubset={c=d}").unwrap();
        assert_eq!(c.encryption_context_equals, ec(&[("a", "b")]));
        assert_eq!(c.encryption_context_subset, ec(&[("c", "d")]));
        let c = constraints(r#"{"EncryptionContextEquals":{"k":"v"}}"#).unwrap();
        assert_eq!(c.encryption_context_equals, ec(&[("k", "v")]));
        for bad in [
            "Subset={a=b}",
            "EncryptionContextSubset=a=b",
            "EncryptionContextSubset={a=b",
            r#"{"Other":{}}"#,
        ] {
            assert!(constraints(bad).is_err(), "{bad}");
        }
    }
}
