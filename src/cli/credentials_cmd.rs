//! `kmsfs credentials create|add|list|delete`: the access keys `kmsfs serve` accepts SigV4
//! requests from. `create` prints the new secret once, as `aws iam create-access-key` does;
//! `list` never prints a secret.

use super::error::{CliError, Failure, exit};
use super::session::Session;
use crate::kms::{AccessKeyInfo, KmsError};
use crate::timefmt::rfc3339;
use clap::Subcommand;
use serde_json::{Value, json};

#[derive(Debug, Subcommand)]
pub(crate) enum CredentialsCommand {
    /// Create an access key (`AKIA...`) and print its secret: the only time it is shown.
    Create {
        /// The IAM principal requests signed with the key act as (default: the account root).
        #[arg(long)]
        principal: Option<String>,
    },
    /// Register a fixed access key, e.g. `testing`/`testing` for test suites.
    Add {
        /// 1 to 128 letters, digits or `_`.
        #[arg(long)]
        access_key_id: String,
        #[arg(long)]
        secret_access_key: String,
        /// The IAM principal requests signed with the key act as (default: the account root).
        #[arg(long, conflicts_with = "user_name")]
        principal: Option<String>,
        /// The IAM user (`kmsfs iam create-user`) the key belongs to.
        #[arg(long)]
        user_name: Option<String>,
    },
    /// List the access keys (never their secrets).
    List,
    /// Delete an access key: requests signed with it are refused from then on.
    Delete {
        #[arg(long)]
        access_key_id: String,
    },
    /// Print an AWS profile for an access key (its `~/.aws/credentials` and `~/.aws/config`
    /// sections, with `endpoint_url`) to paste into the AWS tools' files; the profile is
    /// named by the global `--profile NAME` (default `kmsfs`).
    Export {
        /// The access key (default: the only one there is).
        #[arg(long)]
        access_key_id: Option<String>,
        /// The endpoint `kmsfs serve` printed (`"Endpoint"` of its ready line).
        #[arg(long)]
        endpoint_url: Option<String>,
    },
}

/// An access key's metadata as IAM prints it, and the principal it acts as.
fn metadata(k: &AccessKeyInfo) -> Value {
    json!({
        "AccessKeyId": k.access_key_id,
        "Status": "Active",
        "CreateDate": rfc3339(k.created_ms),
        "Principal": k.principal,
    })
}

/// A KMS refusal, with a hint about access keys rather than KMS keys.
fn refused(what: &str, e: KmsError) -> CliError {
    let hint = match &e {
        KmsError::NotFound(_) => "list access keys with `kmsfs credentials list`",
        KmsError::AlreadyExists(_) => {
            "choose another id, or delete the old key with `kmsfs credentials delete --access-key-id ID`"
        }
        _ => return e.failure(what),
    };
    CliError::new(what, e.to_string(), exit::REFUSED).hint(hint)
}

/// The account root's first access key, made by `kmsfs init` (the secret is shown this once
/// and kept only sealed under the root key): its metadata and secret as IAM prints them.
pub(super) fn first_access_key(
    home: &crate::home::Home,
    passphrase: Option<crate::crypto::SecretBytes>,
) -> Result<Value, KmsError> {
    let kms = crate::kms::Kms::open(
        home,
        crate::kms::KmsOptions {
            passphrase,
            audit_interval: None,
            ..Default::default()
        },
    )?;
    let a = kms.account();
    let root = format!("arn:{}:iam::{}:root", a.partition, a.account_id);
    let (id, secret) = kms.create_access_key(&root)?;
    let key = kms
        .access_key(&id)?
        .ok_or_else(|| KmsError::Internal(format!("access key {id} vanished")))?;
    kms.flush_audit()?;
    Ok(with_secret(metadata(&key.info()), &secret))
}

/// An access key's metadata with its secret (shown once, at creation).
fn with_secret(mut v: Value, secret: &crate::crypto::SecretBytes) -> Value {
    v["SecretAccessKey"] = Value::String(String::from_utf8_lossy(secret.expose()).into_owned());
    v
}

/// Run `cmd`; `profile` is the global `--profile` (the name `export` gives the profile).
pub(super) fn run(
    s: &Session,
    cmd: &CredentialsCommand,
    profile: Option<&str>,
) -> Result<(), CliError> {
    let fail = |e| refused(s.what, e);
    let root = || {
        let a = s.kms.account();
        format!("arn:{}:iam::{}:root", a.partition, a.account_id)
    };
    match cmd {
        CredentialsCommand::Create { principal } => {
            let principal = principal.clone().unwrap_or_else(root);
            let (id, secret) = s.kms.create_access_key(&principal).map_err(fail)?;
            let key = s.kms.access_key(&id).map_err(fail)?.ok_or_else(|| {
                CliError::new(s.what, format!("access key {id} vanished"), exit::INTERNAL)
            })?;
            s.out
                .print(&json!({ "AccessKey": with_secret(metadata(&key.info()), &secret) }))
        }
        CredentialsCommand::Add {
            access_key_id,
            secret_access_key,
            principal,
            user_name,
        } => {
            let principal = match user_name {
                Some(name) => user_arn(s, name)?,
                None => principal.clone().unwrap_or_else(root),
            };
            s.kms
                .add_access_key(access_key_id, secret_access_key, &principal)
                .map_err(fail)?;
            let k = s.kms.access_key(access_key_id).map_err(fail)?;
            let v = k.map(|k| metadata(&k.info()));
            s.out.print(&json!({ "AccessKey": v }))
        }
        CredentialsCommand::List => {
            let keys = s.kms.list_access_keys().map_err(fail)?;
            let list: Vec<Value> = keys.iter().map(metadata).collect();
            s.out.print(&json!({ "AccessKeyMetadata": list }))
        }
        CredentialsCommand::Delete { access_key_id } => {
            s.kms.delete_access_key(access_key_id).map_err(fail)
        }
        CredentialsCommand::Export {
            access_key_id,
            endpoint_url,
        } => export(
            s,
            profile.unwrap_or("kmsfs"),
            access_key_id.as_deref(),
            endpoint_url.as_deref(),
        ),
    }
}

/// The ARN of the IAM user `name` of the home's account (which must exist).
fn user_arn(s: &Session, name: &str) -> Result<String, CliError> {
    use super::error::OrFail;
    let iam = crate::iam::Iam::open(&s.home);
    let account = iam.home_account().to_string();
    let user = iam.get_user(&account, name).or_fail(s.what)?;
    Ok(iam.user_arn(&account, &user))
}

/// `kmsfs credentials export`: the profile's two sections, as text.
fn export(
    s: &Session,
    profile: &str,
    id: Option<&str>,
    endpoint: Option<&str>,
) -> Result<(), CliError> {
    let fail = |e| refused(s.what, e);
    let id = match id {
        Some(id) => id.to_string(),
        None => match s.kms.list_access_keys().map_err(fail)?.as_slice() {
            [one] => one.access_key_id.clone(),
            keys => {
                return Err(CliError::usage(
                    s.what,
                    format!("there are {} access keys: name one", keys.len()),
                )
                .hint("--access-key-id ID (see `kmsfs credentials list`; `kmsfs credentials create` makes one)"));
            }
        },
    };
    let key = s.kms.access_key(&id).map_err(fail)?.ok_or_else(|| {
        refused(
            s.what,
            KmsError::NotFound(format!("access key {id} does not exist")),
        )
    })?;
    let region = &s.kms.account().region;
    let endpoint = match endpoint {
        Some(u) => format!("endpoint_url = {u}\n"),
        None => {
            "# endpoint_url = http://127.0.0.1:PORT   (the Endpoint kmsfs serve prints)\n".into()
        }
    };
    let secret = String::from_utf8_lossy(key.secret.expose()).into_owned();
    let text = format!(
        "# ~/.aws/credentials\n[{profile}]\naws_access_key_id = {id}\naws_secret_access_key = {secret}\n\n\
         # ~/.aws/config\n[profile {profile}]\nregion = {region}\n{endpoint}"
    );
    use std::io::Write;
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(|e| CliError::new(s.what, format!("stdout: {e}"), exit::INTERNAL))
}
