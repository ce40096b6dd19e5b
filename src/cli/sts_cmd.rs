//! `kmsfs account create|list|delete` (the accounts of the home), `kmsfs sts assume-role`
//! and `kmsfs sts get-caller-identity` (AWS CLI shapes), and who the CLI acts as
//! ([`cli_principal`]): the access key of `--profile` or `AWS_ACCESS_KEY_ID` if the home
//! holds it, else the Unix user as the KMS maps it.

use super::error::{CliError, OrFail, exit};
use super::session::Session;
use crate::iam::{Iam, Principal};
use crate::kms::Kms;
use crate::timefmt::rfc3339;
use clap::Subcommand;
use serde_json::json;

#[derive(Debug, Subcommand)]
pub(crate) enum AccountCommand {
    /// Add an account to the home (its root is `arn:aws:iam::ACCOUNT:root`).
    Create {
        #[arg(long)]
        account_id: String,
    },
    /// The home's accounts: its own (config.json) first.
    List,
    /// Remove an account without users or roles (not the home's own).
    Delete {
        #[arg(long)]
        account_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum StsCommand {
    /// Temporary credentials (ASIA... id, secret, session token, expiration) acting as
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    AssumeRole {
        #[arg(long)]
        role_arn: String,
        #[arg(long)]
        role_session_name: String,
        /// 900 to the role's MaxSessionDuration (default 3600).
        #[arg(long)]
        duration_seconds: Option<u32>,
    },
    /// Who this command acts as (`--profile`, `AWS_ACCESS_KEY_ID`, else the Unix user).
    GetCallerIdentity,
}

/// Run an `account` verb.
pub(super) fn account(s: &Session, cmd: &AccountCommand) -> Result<(), CliError> {
    let iam = Iam::open(&s.home);
    match cmd {
        AccountCommand::Create { account_id } => {
            let a = iam.create_account(account_id).or_fail(s.what)?;
            s.out.print(&json!({ "Account": a }))
        }
        AccountCommand::List => s.reply(iam.list_accounts().map(|l| json!({ "Accounts": l }))),
        AccountCommand::Delete { account_id } => s.done(iam.delete_account(account_id)),
    }
}

/// Run an `sts` verb.
pub(super) fn sts(s: &Session, cmd: &StsCommand) -> Result<(), CliError> {
    let iam = Iam::open(&s.home);
    match cmd {
        StsCommand::AssumeRole {
            role_arn,
            role_session_name,
            duration_seconds,
        } => assume_role(s, &iam, role_arn, role_session_name, *duration_seconds),
        StsCommand::GetCallerIdentity => {
            let arn = s.principal();
            let (account, user_id) = match Principal::parse(&arn) {
                Some(Principal::User { account, name }) => {
                    let id = iam.get_user(&account, &name).map(|u| u.user_id);
                    (account, id.unwrap_or(name))
                }
                Some(Principal::AssumedRole {
                    account,
                    role,
                    session,
                }) => {
                    let id = iam.get_role(&account, &role).map(|r| r.role_id);
                    (account, format!("{}:{session}", id.unwrap_or(role)))
                }
                Some(p) => (p.account().to_string(), p.account().to_string()),
                None => (iam.home_account().to_string(), arn.clone()),
            };
            s.out
                .print(&json!({ "UserId": user_id, "Account": account, "Arn": arn }))
        }
    }
}

fn assume_role(
    s: &Session,
    iam: &Iam,
    role_arn: &str,
    session: &str,
    duration: Option<u32>,
) -> Result<(), CliError> {
    let Some(Principal::Role { account, name }) = Principal::parse(role_arn) else {
        return Err(CliError::usage(
            s.what,
            format!("ValidationError: '{role_arn}' is not a role ARN"),
        )
        .hint("arn:aws:iam::ACCOUNT:role/NAME (see `kmsfs iam list-roles`)"));
    };
    crate::iam::check_session_name(session).or_fail(s.what)?;
    let account = iam.account(Some(&account)).or_fail(s.what)?;
    let role = iam.get_role(&account, &name).or_fail(s.what)?;
    let duration = duration.unwrap_or(3600);
    if !(900..=role.max_session_duration).contains(&duration) {
        return Err(CliError::usage(
            s.what,
            format!(
                "ValidationError: DurationSeconds {duration} must be between 900 and the role's MaxSessionDuration ({})",
                role.max_session_duration
            ),
        ));
    }
    let arn = iam.assumed_role_arn(&account, &role.role_name, session);
    let key = s.kms.create_session_key(&arn, duration).or_fail(s.what)?;
    let t = key
        .session
        .as_ref()
        .ok_or_else(|| CliError::new(s.what, "a session key without a session", exit::INTERNAL))?;
    let text = |b: &crate::crypto::SecretBytes| String::from_utf8_lossy(b.expose()).into_owned();
    s.out.print(&json!({
        "Credentials": {
            "AccessKeyId": key.access_key_id,
            "SecretAccessKey": text(&key.secret),
            "SessionToken": text(&t.token),
            "Expiration": rfc3339(t.expires_ms),
        },
        "AssumedRoleUser": {
            "AssumedRoleId": format!("{}:{session}", role.role_id),
            "Arn": arn,
        },
    }))
}

/// The principal of the access key the AWS tools would sign with (`profile`, else
/// `AWS_ACCESS_KEY_ID`, else `AWS_PROFILE` or `default`), if the home holds that key: its
/// secret must match, a temporary key's session token too, unexpired. `Ok(None)`: no key
/// configured, or one the home does not hold (the Unix user applies).
pub(super) fn cli_principal(kms: &Kms, profile: Option<&str>) -> Result<Option<String>, String> {
    let env = crate::awsconfig::process_env;
    let c = crate::awsconfig::resolve("kms", profile, &env).map_err(|e| e.to_string())?;
    let Some(id) = c.access_key_id else {
        return Ok(None);
    };
    let Some(key) = kms.access_key(&id).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let secret = c.secret_access_key.as_deref().map(String::as_bytes);
    if secret != Some(key.secret.expose()) {
        return Err(format!(
            "InvalidClientTokenId: the secret access key configured for {id} is not the home's"
        ));
    }
    if let Some(sess) = &key.session {
        let token = c.session_token.as_deref().map(String::as_bytes);
        if token != Some(sess.token.expose()) {
            return Err(format!(
                "InvalidClientTokenId: {id} is a temporary key and needs its session token (AWS_SESSION_TOKEN or aws_session_token)"
            ));
        }
        if kms.now_ms() >= sess.expires_ms {
            return Err(format!(
                "ExpiredToken: the session of {id} expired at {}",
                rfc3339(sess.expires_ms)
            ));
        }
    }
    Ok(Some(key.principal))
}
