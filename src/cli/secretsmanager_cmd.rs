//! `kmsfs secretsmanager <verb>`: the AWS CLI's verbs and flags over
//! [`crate::secrets::manager::SecretsManager`], JSON output in AWS's field names, plus
//! `run-due-rotations`; and the background thread of `kmsfs serve` that runs due
//! rotations.

use super::args::{self, Literal};
use super::error::CliError;
use super::session::Session;
use crate::home::Home;
use crate::kms::{Caller, Embedded, Kms, Retrying};
use crate::secrets::manager::password::PasswordSpec;
use crate::secrets::manager::*;
use crate::secrets::{SECRETS_MANAGER_PRINCIPAL, Service, ServiceContext};
use clap::Subcommand;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A secret's value: `--secret-string` (text, or `file://PATH`) or `--secret-binary`
/// (`fileb://PATH`, or the text's bytes).
#[derive(Debug, clap::Args)]
pub(crate) struct ValueArgs {
    #[arg(long)]
    secret_string: Option<String>,
    #[arg(long, conflicts_with = "secret_string")]
    secret_binary: Option<String>,
}

impl ValueArgs {
    fn read(&self) -> Result<(Option<SecretText>, Option<crate::crypto::SecretBytes>), CliError> {
        let s = match &self.secret_string {
            Some(a) => {
                let b = args::blob(a, "--secret-string", Literal::Text)?;
                let t = std::str::from_utf8(b.expose())
                    .map_err(|_| CliError::usage("bad --secret-string", "not UTF-8 text"))?;
                Some(SecretText::new(t))
            }
            None => None,
        };
        let b = match &self.secret_binary {
            Some(a) => Some(args::blob(a, "--secret-binary", Literal::Text)?),
            None => None,
        };
        Ok((s, b))
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum SecretsManagerCommand {
    /// Create a secret (encrypted under --kms-key-id, default alias/aws/secretsmanager).
    CreateSecret {
        /// The secret's name (letters, digits and /_+=.@-; up to 512 characters).
        #[arg(long)]
        name: String,
        #[command(flatten)]
        value: ValueArgs,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        kms_key_id: Option<String>,
        /// JSON `[{"Key":..,"Value":..}]` or `Key=k,Value=v ...`.
        #[arg(long, num_args = 1..)]
        tags: Vec<String>,
        #[arg(long)]
        client_request_token: Option<String>,
        /// Refused: kmsfs does not replicate secrets.
        #[arg(long)]
        add_replica_regions: Option<String>,
    },
    /// A version's value (AWSCURRENT unless --version-id or --version-stage names another).
    GetSecretValue {
        #[arg(long)]
        secret_id: String,
        #[arg(long)]
        version_id: Option<String>,
        #[arg(long)]
        version_stage: Option<String>,
    },
    /// The current values of several secrets (--secret-id-list or --filters); errors per secret.
    BatchGetSecretValue {
        #[arg(long, num_args = 1..)]
        secret_id_list: Vec<String>,
        /// JSON, or `Key=name,Values=a,b ...`.
        #[arg(long, num_args = 1..)]
        filters: Vec<String>,
        #[arg(long)]
        max_results: Option<i64>,
        #[arg(long)]
        next_token: Option<String>,
    },
    PutSecretValue {
        #[arg(long)]
        secret_id: String,
        #[command(flatten)]
        value: ValueArgs,
        #[arg(long)]
        client_request_token: Option<String>,
        #[arg(long, num_args = 1..)]
        version_stages: Vec<String>,
    },
    UpdateSecret {
        #[arg(long)]
        secret_id: String,
        #[command(flatten)]
        value: ValueArgs,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        kms_key_id: Option<String>,
        #[arg(long)]
        client_request_token: Option<String>,
    },
    /// A secret's metadata (never its value): versions and their labels, rotation, deletion.
    DescribeSecret {
        #[arg(long)]
        secret_id: String,
    },
    /// The secrets' metadata, filtered, sorted and paginated.
    ListSecrets {
        #[arg(long)]
        include_planned_deletion: bool,
        #[arg(long)]
        max_results: Option<i64>,
        #[arg(long)]
        next_token: Option<String>,
        #[arg(long, num_args = 1..)]
        filters: Vec<String>,
        #[arg(long)]
        sort_order: Option<String>,
        #[arg(long)]
        sort_by: Option<String>,
        #[command(flatten)]
        pages: super::paginate::PageArgs,
    },
    /// A secret's versions and their staging labels.
    ListSecretVersionIds {
        #[arg(long)]
        secret_id: String,
        #[arg(long)]
        max_results: Option<i64>,
        #[arg(long)]
        next_token: Option<String>,
        #[arg(long)]
        include_deprecated: bool,
    },
    /// Move a staging label to another version (or remove it).
    UpdateSecretVersionStage {
        #[arg(long)]
        secret_id: String,
        #[arg(long)]
        version_stage: String,
        #[arg(long)]
        remove_from_version_id: Option<String>,
        #[arg(long)]
        move_to_version_id: Option<String>,
    },
    /// Schedule a secret's deletion after a recovery window, or delete it at once.
    DeleteSecret {
        #[arg(long)]
        secret_id: String,
        #[arg(long)]
        recovery_window_in_days: Option<i64>,
        #[arg(long)]
        force_delete_without_recovery: bool,
    },
    /// Cancel a scheduled deletion.
    RestoreSecret {
        #[arg(long)]
        secret_id: String,
    },
    /// Tag a secret.
    TagResource {
        #[arg(long)]
        secret_id: String,
        #[arg(long, num_args = 1.., required = true)]
        tags: Vec<String>,
    },
    /// Remove tags from a secret.
    UntagResource {
        #[arg(long)]
        secret_id: String,
        #[arg(long, num_args = 1.., required = true)]
        tag_keys: Vec<String>,
    },
    /// Attach a resource policy to a secret.
    PutResourcePolicy {
        #[arg(long)]
        secret_id: String,
        /// The policy JSON, or `file://PATH`.
        #[arg(long)]
        resource_policy: String,
        #[arg(long)]
        block_public_policy: bool,
    },
    /// A secret's resource policy.
    GetResourcePolicy {
        #[arg(long)]
        secret_id: String,
    },
    /// Remove a secret's resource policy.
    DeleteResourcePolicy {
        #[arg(long)]
        secret_id: String,
    },
    /// Check a resource policy document without attaching it.
    ValidateResourcePolicy {
        #[arg(long)]
        secret_id: Option<String>,
        #[arg(long)]
        resource_policy: String,
    },
    /// A random password from the character classes kept.
    GetRandomPassword {
        #[arg(long)]
        password_length: Option<i64>,
        #[arg(long)]
        exclude_characters: Option<String>,
        #[arg(long)]
        exclude_numbers: bool,
        #[arg(long)]
        exclude_punctuation: bool,
        #[arg(long)]
        exclude_uppercase: bool,
        #[arg(long)]
        exclude_lowercase: bool,
        #[arg(long)]
        include_space: bool,
        #[arg(long)]
        require_each_included_type: bool,
    },
    /// Rotate a secret: with a rotation program (an absolute path) run for the four steps,
    /// else kmsfs rotates it itself (a new random password).
    RotateSecret {
        #[arg(long)]
        secret_id: String,
        #[arg(long)]
        client_request_token: Option<String>,
        #[arg(long, visible_alias = "rotation-command")]
        rotation_lambda_arn: Option<String>,
        /// JSON, or `AutomaticallyAfterDays=N` / `ScheduleExpression=...` (`,Duration=..`).
        #[arg(long)]
        rotation_rules: Option<String>,
        #[arg(long, conflicts_with = "no_rotate_immediately")]
        rotate_immediately: bool,
        #[arg(long)]
        no_rotate_immediately: bool,
    },
    /// Turn a secret's rotation off (a pending version keeps its AWSPENDING label).
    CancelRotateSecret {
        #[arg(long)]
        secret_id: String,
    },
    /// Rotate every secret whose NextRotationDate has passed; prints what was done.
    RunDueRotations,
}

pub(super) fn run(s: &Session, cmd: &SecretsManagerCommand) -> Result<(), CliError> {
    let sm = SecretsManager::new(s.ctx(Service::SecretsManager)?);
    use SecretsManagerCommand as C;
    match cmd {
        C::CreateSecret {
            name,
            value,
            description,
            kms_key_id,
            tags,
            client_request_token,
            add_replica_regions,
        } => {
            let (secret_string, secret_binary) = value.read()?;
            s.reply(
                sm.create_secret(CreateSecretRequest {
                    name: name.clone(),
                    client_request_token: client_request_token.clone(),
                    description: description.clone(),
                    kms_key_id: kms_key_id.clone(),
                    secret_binary,
                    secret_string,
                    tags: (!tags.is_empty()).then(|| parse_tags(tags)).transpose()?,
                    add_replica_regions: add_replica_regions
                        .as_ref()
                        .map(|r| vec![serde_json::Value::String(r.clone())]),
                    ..Default::default()
                }),
            )
        }
        C::GetSecretValue {
            secret_id,
            version_id,
            version_stage,
        } => s.reply(sm.get_secret_value(GetSecretValueRequest {
            secret_id: secret_id.clone(),
            version_id: version_id.clone(),
            version_stage: version_stage.clone(),
        })),
        C::BatchGetSecretValue {
            secret_id_list,
            filters,
            max_results,
            next_token,
        } => s.reply(
            sm.batch_get_secret_value(BatchGetSecretValueRequest {
                secret_id_list: (!secret_id_list.is_empty()).then(|| secret_id_list.clone()),
                filters: (!filters.is_empty())
                    .then(|| parse_filters(filters))
                    .transpose()?,
                max_results: *max_results,
                next_token: next_token.clone(),
            }),
        ),
        C::PutSecretValue {
            secret_id,
            value,
            client_request_token,
            version_stages,
        } => {
            let (secret_string, secret_binary) = value.read()?;
            s.reply(sm.put_secret_value(PutSecretValueRequest {
                secret_id: secret_id.clone(),
                client_request_token: client_request_token.clone(),
                secret_binary,
                secret_string,
                version_stages: (!version_stages.is_empty()).then(|| version_stages.clone()),
                rotation_token: None,
            }))
        }
        other => run_lists(s, &sm, other),
    }
}

/// The describing and listing verbs (kept apart to keep functions short).
fn run_lists(
    s: &Session,
    sm: &SecretsManager,
    cmd: &SecretsManagerCommand,
) -> Result<(), CliError> {
    use SecretsManagerCommand as C;
    match cmd {
        C::UpdateSecret {
            secret_id,
            value,
            description,
            kms_key_id,
            client_request_token,
        } => {
            let (secret_string, secret_binary) = value.read()?;
            s.reply(sm.update_secret(UpdateSecretRequest {
                secret_id: secret_id.clone(),
                client_request_token: client_request_token.clone(),
                description: description.clone(),
                kms_key_id: kms_key_id.clone(),
                secret_binary,
                secret_string,
            }))
        }
        C::DescribeSecret { secret_id } => s.reply(sm.describe_secret(id(secret_id))),
        C::ListSecrets {
            include_planned_deletion,
            max_results,
            next_token,
            filters,
            sort_order,
            sort_by,
            pages,
        } => {
            let filters = (!filters.is_empty())
                .then(|| parse_filters(filters))
                .transpose()?;
            let raw = super::paginate::one_page(max_results, next_token);
            let v = super::paginate::pages(s.what, pages, raw, |limit, token| {
                sm.list_secrets(ListSecretsRequest {
                    include_planned_deletion: Some(*include_planned_deletion),
                    max_results: limit.map(i64::from),
                    next_token: token,
                    filters: filters.clone(),
                    sort_order: sort_order.clone(),
                    sort_by: sort_by.clone(),
                })
            })?;
            s.out.print(&v)
        }
        C::ListSecretVersionIds {
            secret_id,
            max_results,
            next_token,
            include_deprecated,
        } => s.reply(sm.list_secret_version_ids(ListSecretVersionIdsRequest {
            secret_id: secret_id.clone(),
            max_results: *max_results,
            next_token: next_token.clone(),
            include_deprecated: Some(*include_deprecated),
        })),
        C::UpdateSecretVersionStage {
            secret_id,
            version_stage,
            remove_from_version_id,
            move_to_version_id,
        } => s.reply(
            sm.update_secret_version_stage(UpdateSecretVersionStageRequest {
                secret_id: secret_id.clone(),
                version_stage: version_stage.clone(),
                remove_from_version_id: remove_from_version_id.clone(),
                move_to_version_id: move_to_version_id.clone(),
            }),
        ),
        other => run_more(s, sm, other),
    }
}

/// The rest of the verbs (kept apart to keep functions short).
fn run_more(s: &Session, sm: &SecretsManager, cmd: &SecretsManagerCommand) -> Result<(), CliError> {
    use SecretsManagerCommand as C;
    match cmd {
        C::DeleteSecret {
            secret_id,
            recovery_window_in_days,
            force_delete_without_recovery,
        } => s.reply(sm.delete_secret(DeleteSecretRequest {
            secret_id: secret_id.clone(),
            recovery_window_in_days: *recovery_window_in_days,
            force_delete_without_recovery: force_delete_without_recovery.then_some(true),
        })),
        C::RestoreSecret { secret_id } => s.reply(sm.restore_secret(id(secret_id))),
        C::TagResource { secret_id, tags } => s.done(sm.tag_resource(TagResourceRequest {
            secret_id: secret_id.clone(),
            tags: parse_tags(tags)?,
        })),
        C::UntagResource {
            secret_id,
            tag_keys,
        } => s.done(sm.untag_resource(UntagResourceRequest {
            secret_id: secret_id.clone(),
            tag_keys: tag_keys.clone(),
        })),
        C::PutResourcePolicy {
            secret_id,
            resource_policy,
            block_public_policy,
        } => s.reply(sm.put_resource_policy(PutResourcePolicyRequest {
            secret_id: secret_id.clone(),
            resource_policy: text_arg(resource_policy, "--resource-policy")?,
            block_public_policy: Some(*block_public_policy),
        })),
        C::GetResourcePolicy { secret_id } => s.reply(sm.get_resource_policy(id(secret_id))),
        C::DeleteResourcePolicy { secret_id } => s.reply(sm.delete_resource_policy(id(secret_id))),
        C::ValidateResourcePolicy {
            secret_id,
            resource_policy,
        } => s.reply(sm.validate_resource_policy(ValidateResourcePolicyRequest {
            secret_id: secret_id.clone(),
            resource_policy: text_arg(resource_policy, "--resource-policy")?,
        })),
        C::GetRandomPassword { .. } => s.reply(sm.get_random_password(password_spec(cmd))),
        C::RotateSecret {
            secret_id,
            client_request_token,
            rotation_lambda_arn,
            rotation_rules,
            rotate_immediately: _,
            no_rotate_immediately,
        } => s.reply(sm.rotate_secret(RotateSecretRequest {
            secret_id: secret_id.clone(),
            client_request_token: client_request_token.clone(),
            rotation_lambda_arn: rotation_lambda_arn.clone(),
            rotation_rules: rotation_rules.as_deref().map(parse_rules).transpose()?,
            rotate_immediately: Some(!no_rotate_immediately),
        })),
        C::CancelRotateSecret { secret_id } => s.reply(sm.cancel_rotate_secret(id(secret_id))),
        C::RunDueRotations => s.reply(sm.run_due_rotations()),
        _ => unreachable!("handled by run"),
    }
}

/// GetRandomPassword's request from its flags.
fn password_spec(cmd: &SecretsManagerCommand) -> PasswordSpec {
    let SecretsManagerCommand::GetRandomPassword {
        password_length,
        exclude_characters,
        exclude_numbers,
        exclude_punctuation,
        exclude_uppercase,
        exclude_lowercase,
        include_space,
        require_each_included_type,
    } = cmd
    else {
        return PasswordSpec::default();
    };
    let flag = |b: &bool| b.then_some(true);
    PasswordSpec {
        password_length: *password_length,
        exclude_characters: exclude_characters.clone(),
        exclude_numbers: flag(exclude_numbers),
        exclude_punctuation: flag(exclude_punctuation),
        exclude_uppercase: flag(exclude_uppercase),
        exclude_lowercase: flag(exclude_lowercase),
        include_space: flag(include_space),
        require_each_included_type: flag(require_each_included_type),
    }
}

fn id(secret_id: &str) -> SecretIdRequest {
    SecretIdRequest {
        secret_id: secret_id.to_string(),
    }
}

/// A text argument: literal, or `file://PATH`.
fn text_arg(a: &str, name: &str) -> Result<String, CliError> {
    let b = args::blob(a, name, Literal::Text)?;
    String::from_utf8(b.expose().to_vec())
        .map_err(|_| CliError::usage(format!("bad {name}"), "not UTF-8 text"))
}

/// A JSON argument, or the AWS CLI's shorthand `k=v,k2=v2` items (values of `multi` keys
/// collect the following bare items: `Key=name,Values=a,b`).
fn json_or_shorthand<T: DeserializeOwned>(
    items: &[String],
    name: &str,
    multi: &[&str],
) -> Result<T, CliError> {
    let bad = |e: String| CliError::usage(format!("bad {name}"), e);
    let joined = items.join(" ");
    if joined.trim_start().starts_with(['[', '{']) {
        return serde_json::from_str(&joined).map_err(|e| bad(e.to_string()));
    }
    let mut list = Vec::new();
    for item in items {
        let mut obj = serde_json::Map::new();
        let mut last: Option<String> = None;
        for part in item.split(',') {
            match part.split_once('=') {
                Some((k, v)) => {
                    let val = if multi.contains(&k) {
                        serde_json::json!([v])
                    } else if let Ok(n) = v.parse::<i64>() {
                        serde_json::json!(n)
                    } else {
                        serde_json::json!(v)
                    };
                    obj.insert(k.to_string(), val);
                    last = Some(k.to_string());
                }
                None => match last
                    .as_ref()
                    .and_then(|k| obj.get_mut(k))
                    .and_then(|v| v.as_array_mut())
                {
                    Some(a) => a.push(serde_json::json!(part)),
                    None => return Err(bad(format!("'{part}' is not key=value"))),
                },
            }
        }
        list.push(serde_json::Value::Object(obj));
    }
    let v = if list.len() == 1 && multi.is_empty() && name == "--rotation-rules" {
        list.remove(0)
    } else {
        serde_json::Value::Array(list)
    };
    serde_json::from_value(v).map_err(|e| bad(e.to_string()))
}

fn parse_tags(items: &[String]) -> Result<Vec<Tag>, CliError> {
    json_or_shorthand(items, "--tags", &[])
}

fn parse_filters(items: &[String]) -> Result<Vec<Filter>, CliError> {
    json_or_shorthand(items, "--filters", &["Values"])
}

fn parse_rules(a: &str) -> Result<RotationRules, CliError> {
    json_or_shorthand(&[a.to_string()], "--rotation-rules", &[])
}

/// `kmsfs serve`'s background rotation check: every `interval` seconds, the due
/// rotations of the home's account and region, as `secretsmanager.amazonaws.com` acting
/// alone. Stops (and is joined) when dropped.
pub(crate) struct RotationThread {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Drop for RotationThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Start the rotation thread (`None` for an interval of 0).
pub(crate) fn rotation_thread(
    home: &Home,
    kms: &Arc<Kms>,
    interval: u64,
) -> Option<RotationThread> {
    if interval == 0 {
        return None;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (home, kms, flag) = (home.clone(), kms.clone(), stop.clone());
    let handle = std::thread::spawn(move || {
        let tick = Duration::from_millis(100);
        let mut waited = Duration::ZERO;
        while !flag.load(Ordering::SeqCst) {
            std::thread::sleep(tick);
            waited += tick;
            if waited < Duration::from_secs(interval) {
                continue;
            }
            waited = Duration::ZERO;
            run_due(&home, &kms);
        }
    });
    Some(RotationThread {
        stop,
        handle: Some(handle),
    })
}

fn run_due(home: &Home, kms: &Arc<Kms>) {
    let me = Caller::new(SECRETS_MANAGER_PRINCIPAL);
    let client = Arc::new(Retrying::new(Arc::new(Embedded::new(
        kms.clone(),
        me.clone().acting_alone(),
    ))));
    let ctx = ServiceContext::with_client(home, kms.clone(), me, Service::SecretsManager, client);
    match ctx
        .map(SecretsManager::new)
        .map(|sm| sm.run_due_rotations())
    {
        Ok(Ok(r)) => {
            for d in r.rotated {
                match (&d.version_id, &d.message) {
                    (Some(v), _) => eprintln!("kmsfs serve: rotated {} (version {v})", d.arn),
                    (_, Some(m)) => eprintln!("kmsfs serve: rotation of {} failed: {m}", d.arn),
                    _ => {}
                }
            }
        }
        Ok(Err(e)) => eprintln!("kmsfs serve: due rotations failed: {e}"),
        Err(e) => eprintln!("kmsfs serve: due rotations failed: {e}"),
    }
}
