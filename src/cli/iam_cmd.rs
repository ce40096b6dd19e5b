//! `kmsfs iam <verb>`: IAM users, their access keys, roles and inline identity policies,
//! with the AWS CLI's verbs, flags and output shapes (`{"User": {...}}`,
//! `{"AccessKey": {...}}`, ...), in the home's account or the one `--account-id` names.
//! The identities live in `iam::Iam`; access keys are sealed by the KMS, owned by the
//! user's ARN.

use super::error::{CliError, OrFail, exit};
use super::session::Session;
use crate::iam::{Holder, Iam, Role, User};
use crate::kms::AccessKeyInfo;
use crate::timefmt::rfc3339;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

/// `--account-id`: the account acted on (default: the home's own).
#[derive(Debug, Args)]
pub(crate) struct AccountArg {
    /// The account (12 digits; default: the home's own, see `kmsfs account list`).
    #[arg(long)]
    account_id: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct UserArg {
    #[arg(long)]
    user_name: String,
    #[command(flatten)]
    account: AccountArg,
}

#[derive(Debug, Args)]
pub(crate) struct RoleArg {
    #[arg(long)]
    role_name: String,
    #[command(flatten)]
    account: AccountArg,
}

#[derive(Debug, Subcommand)]
pub(crate) enum IamCommand {
    /// Create an IAM user.
    CreateUser(UserArg),
    GetUser(UserArg),
    /// Delete a user (refused while it has access keys or inline policies).
    DeleteUser(UserArg),
    ListUsers(AccountArg),
    /// Create an access key for a user and print its secret: the only time it is shown.
    CreateAccessKey(UserArg),
    /// A user's access keys (never their secrets).
    ListAccessKeys(UserArg),
    DeleteAccessKey {
        #[command(flatten)]
        user: UserArg,
        #[arg(long)]
        access_key_id: String,
    },
    /// Create a role; its trust policy (JSON or file://PATH) is kept for evaluation.
    CreateRole {
        #[command(flatten)]
        role: RoleArg,
        #[arg(long)]
        assume_role_policy_document: String,
        /// Longest session `sts assume-role` gives (3600 to 43200 s; default 3600).
        #[arg(long)]
        max_session_duration: Option<u32>,
    },
    GetRole(RoleArg),
    /// Delete a role (refused while it has inline policies).
    DeleteRole(RoleArg),
    ListRoles(AccountArg),
    /// Add or replace a user's inline policy (JSON or file://PATH).
    PutUserPolicy {
        #[command(flatten)]
        user: UserArg,
        #[arg(long)]
        policy_name: String,
        #[arg(long)]
        policy_document: String,
    },
    GetUserPolicy {
        #[command(flatten)]
        user: UserArg,
        #[arg(long)]
        policy_name: String,
    },
    DeleteUserPolicy {
        #[command(flatten)]
        user: UserArg,
        #[arg(long)]
        policy_name: String,
    },
    ListUserPolicies(UserArg),
    /// Add or replace a role's inline policy (JSON or file://PATH).
    PutRolePolicy {
        #[command(flatten)]
        role: RoleArg,
        #[arg(long)]
        policy_name: String,
        #[arg(long)]
        policy_document: String,
    },
    GetRolePolicy {
        #[command(flatten)]
        role: RoleArg,
        #[arg(long)]
        policy_name: String,
    },
    DeleteRolePolicy {
        #[command(flatten)]
        role: RoleArg,
        #[arg(long)]
        policy_name: String,
    },
    ListRolePolicies(RoleArg),
}

/// A user as `aws iam get-user` prints it.
fn user_json(iam: &Iam, account: &str, u: &User) -> Value {
    json!({
        "Path": u.path,
        "UserName": u.user_name,
        "UserId": u.user_id,
        "Arn": iam.user_arn(account, u),
        "CreateDate": rfc3339(u.created_ms),
    })
}

/// A role as `aws iam get-role` prints it (the trust policy decoded, as the CLI shows it).
fn role_json(iam: &Iam, account: &str, r: &Role) -> Value {
    json!({
        "Path": r.path,
        "RoleName": r.role_name,
        "RoleId": r.role_id,
        "Arn": iam.role_arn(account, r),
        "CreateDate": rfc3339(r.created_ms),
        "AssumeRolePolicyDocument": decoded(&r.assume_role_policy_document),
        "MaxSessionDuration": r.max_session_duration,
    })
}

/// A stored policy document as the AWS CLI prints it: decoded JSON.
fn decoded(doc: &str) -> Value {
    serde_json::from_str(doc).unwrap_or_else(|_| Value::String(doc.to_string()))
}

fn key_json(user: &str, k: &AccessKeyInfo) -> Value {
    json!({
        "UserName": user,
        "AccessKeyId": k.access_key_id,
        "Status": "Active",
        "CreateDate": rfc3339(k.created_ms),
    })
}

/// A document argument: `file://PATH` (the file's text) or the text itself.
pub(super) fn document(s: &Session, arg: &str) -> Result<String, CliError> {
    match arg.strip_prefix("file://") {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| CliError::usage(s.what, format!("cannot read {p}: {e}"))),
        None => Ok(arg.to_string()),
    }
}

/// Run `cmd`.
pub(super) fn run(s: &Session, cmd: &IamCommand) -> Result<(), CliError> {
    let iam = Iam::open(&s.home);
    let acct = |a: &AccountArg| iam.account(a.account_id.as_deref()).or_fail(s.what);
    use IamCommand as C;
    match cmd {
        C::CreateUser(u) | C::GetUser(u) | C::DeleteUser(u) => {
            let a = acct(&u.account)?;
            let name = &u.user_name;
            let user = match cmd {
                C::CreateUser(_) => iam.create_user(&a, name),
                C::GetUser(_) => iam.get_user(&a, name),
                _ => return s.done(iam.delete_user(&a, name, &*s.kms)),
            }
            .or_fail(s.what)?;
            s.out.print(&json!({ "User": user_json(&iam, &a, &user) }))
        }
        C::ListUsers(a) => {
            let a = acct(a)?;
            let users = iam.list_users(&a).or_fail(s.what)?;
            let list: Vec<Value> = users.iter().map(|u| user_json(&iam, &a, u)).collect();
            s.out.print(&json!({ "Users": list }))
        }
        C::CreateAccessKey(_) | C::ListAccessKeys(_) | C::DeleteAccessKey { .. } => {
            access_keys(s, &iam, cmd)
        }
        C::CreateRole {
            role,
            assume_role_policy_document: doc,
            max_session_duration: max,
        } => {
            let a = acct(&role.account)?;
            let doc = document(s, doc)?;
            let r = iam
                .create_role(&a, &role.role_name, &doc, *max)
                .or_fail(s.what)?;
            s.out.print(&json!({ "Role": role_json(&iam, &a, &r) }))
        }
        C::GetRole(r) => {
            let a = acct(&r.account)?;
            let role = iam.get_role(&a, &r.role_name).or_fail(s.what)?;
            s.out.print(&json!({ "Role": role_json(&iam, &a, &role) }))
        }
        C::DeleteRole(r) => s.done(iam.delete_role(&acct(&r.account)?, &r.role_name)),
        C::ListRoles(a) => {
            let a = acct(a)?;
            let roles = iam.list_roles(&a).or_fail(s.what)?;
            let list: Vec<Value> = roles.iter().map(|r| role_json(&iam, &a, r)).collect();
            s.out.print(&json!({ "Roles": list }))
        }
        _ => policies(s, &iam, cmd),
    }
}

/// `create-access-key`, `list-access-keys`, `delete-access-key`.
fn access_keys(s: &Session, iam: &Iam, cmd: &IamCommand) -> Result<(), CliError> {
    let (u, id) = match cmd {
        IamCommand::CreateAccessKey(u) | IamCommand::ListAccessKeys(u) => (u, None),
        IamCommand::DeleteAccessKey {
            user,
            access_key_id,
        } => (user, Some(access_key_id)),
        _ => unreachable!("access_keys is called for access key verbs"),
    };
    let a = iam
        .account(u.account.account_id.as_deref())
        .or_fail(s.what)?;
    let user = iam.get_user(&a, &u.user_name).or_fail(s.what)?;
    let arn = iam.user_arn(&a, &user);
    let keys = s.kms.access_keys_of(&arn).or_fail(s.what)?;
    match (cmd, id) {
        (IamCommand::CreateAccessKey(_), _) => {
            let (id, secret) = s.kms.create_access_key(&arn).or_fail(s.what)?;
            let mut v = key_json(
                &user.user_name,
                &AccessKeyInfo {
                    access_key_id: id,
                    principal: arn,
                    created_ms: s.kms.now_ms(),
                    expires_ms: None,
                },
            );
            v["SecretAccessKey"] = String::from_utf8_lossy(secret.expose()).into_owned().into();
            s.out.print(&json!({ "AccessKey": v }))
        }
        (_, Some(id)) => {
            if !keys.iter().any(|k| k.access_key_id == *id) {
                return Err(CliError::new(
                    s.what,
                    format!(
                        "NoSuchEntity: The Access Key with id {id} cannot be found for user {}.",
                        user.user_name
                    ),
                    exit::REFUSED,
                )
                .hint("list the user's keys with `kmsfs iam list-access-keys --user-name NAME`"));
            }
            s.done(s.kms.delete_access_key(id))
        }
        _ => {
            let list: Vec<Value> = keys.iter().map(|k| key_json(&user.user_name, k)).collect();
            s.out.print(&json!({ "AccessKeyMetadata": list }))
        }
    }
}

/// The inline policy verbs of users and roles.
fn policies(s: &Session, iam: &Iam, cmd: &IamCommand) -> Result<(), CliError> {
    use IamCommand as C;
    let (holder, name, account) = match cmd {
        C::PutUserPolicy { user, .. }
        | C::GetUserPolicy { user, .. }
        | C::DeleteUserPolicy { user, .. }
        | C::ListUserPolicies(user) => (Holder::User, &user.user_name, &user.account),
        C::PutRolePolicy { role, .. }
        | C::GetRolePolicy { role, .. }
        | C::DeleteRolePolicy { role, .. }
        | C::ListRolePolicies(role) => (Holder::Role, &role.role_name, &role.account),
        _ => unreachable!("policies is called for policy verbs"),
    };
    let a = iam.account(account.account_id.as_deref()).or_fail(s.what)?;
    let who = if holder == Holder::User {
        "UserName"
    } else {
        "RoleName"
    };
    match cmd {
        C::PutUserPolicy {
            policy_name,
            policy_document,
            ..
        }
        | C::PutRolePolicy {
            policy_name,
            policy_document,
            ..
        } => {
            let doc = document(s, policy_document)?;
            s.done(iam.put_policy(&a, holder, name, policy_name, &doc))
        }
        C::GetUserPolicy { policy_name, .. } | C::GetRolePolicy { policy_name, .. } => {
            let doc = iam
                .get_policy(&a, holder, name, policy_name)
                .or_fail(s.what)?;
            s.out.print(&json!({
                who: name,
                "PolicyName": policy_name,
                "PolicyDocument": decoded(&doc),
            }))
        }
        C::DeleteUserPolicy { policy_name, .. } | C::DeleteRolePolicy { policy_name, .. } => {
            s.done(iam.delete_policy(&a, holder, name, policy_name))
        }
        _ => {
            let names = iam.list_policies(&a, holder, name).or_fail(s.what)?;
            s.out.print(&json!({ "PolicyNames": names }))
        }
    }
}
