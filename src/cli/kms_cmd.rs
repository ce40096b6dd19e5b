//! `kmsfs kms <verb>`: one subcommand per KMS operation, flags named as in `aws kms`, run
//! as the calling OS user through [`crate::kms::Client`]. The verbs are handled by family:
//! keys, aliases, cryptographic operations, key states (enable, disable, deletion, purge),
//! rotation, tags, and grants (`grant_cmd.rs`).

use super::args::{self, Literal};
use super::error::{CliError, variant_name};
use super::session::Session;
use crate::kms::types::*;
use crate::kms::{Client, Seed};
use clap::{Args, Subcommand};
use std::sync::Arc;

#[derive(Debug, Args)]
pub(crate) struct KeyIdArg {
    /// The KMS key (whether an alias is accepted depends on the verb: see help.rs).
    #[arg(long)]
    key_id: String,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Items per page (1..1000).
    #[arg(long)]
    limit: Option<u32>,
    /// NextMarker from the previous page.
    #[arg(long)]
    marker: Option<String>,
    #[command(flatten)]
    pages: super::paginate::PageArgs,
}

#[derive(Debug, Args)]
pub(crate) struct DataKeyArgs {
    #[arg(long)]
    key_id: String,
    /// AES_256 or AES_128.
    #[arg(long, conflicts_with = "number_of_bytes")]
    key_spec: Option<String>,
    /// 1..1024.
    #[arg(long)]
    number_of_bytes: Option<u32>,
    /// k=v,k2=v2 or a JSON object.
    #[arg(long)]
    encryption_context: Option<String>,
    #[arg(long, num_args = 1..)]
    grant_tokens: Option<Vec<String>>,
}

#[derive(Debug, Args)]
pub(crate) struct CreateKeyArgs {
    #[arg(long)]
    description: Option<String>,
    #[arg(long)]
    key_usage: Option<String>,
    #[arg(long)]
    key_spec: Option<String>,
    #[arg(long)]
    customer_master_key_spec: Option<String>,
    #[arg(long)]
    origin: Option<String>,
    /// A key policy document (JSON), or file://policy.json.
    #[arg(long)]
    policy: Option<String>,
    /// TagKey=k,TagValue=v ... or a JSON list.
    #[arg(long, num_args = 1..)]
    tags: Vec<String>,
    #[arg(long)]
    multi_region: bool,
    /// Skip the check that the policy leaves the caller able to change it (AWS's flag).
    #[arg(long)]
    bypass_policy_lockout_safety_check: bool,
}

#[derive(Debug, Args)]
pub(crate) struct AliasArgs {
    #[arg(long)]
    alias_name: String,
    #[arg(long)]
    target_key_id: String,
}

// What `encrypt` and `decrypt` both take after their data.
#[derive(Debug, Args)]
pub(crate) struct CryptoArgs {
    #[arg(long)]
    encryption_context: Option<String>,
    #[arg(long)]
    encryption_algorithm: Option<String>,
    #[arg(long, num_args = 1..)]
    grant_tokens: Option<Vec<String>>,
}

#[derive(Debug, Args)]
pub(crate) struct EncryptArgs {
    #[arg(long)]
    key_id: String,
    /// fileb://PATH, file://PATH, or the text itself.
    #[arg(long)]
    plaintext: String,
    #[command(flatten)]
    crypto: CryptoArgs,
}

#[derive(Debug, Args)]
pub(crate) struct DecryptArgs {
    /// fileb://PATH, or base64 as encrypt prints it.
    #[arg(long)]
    ciphertext_blob: String,
    #[arg(long)]
    key_id: Option<String>,
    #[command(flatten)]
    crypto: CryptoArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ReEncryptArgs {
    #[arg(long)]
    ciphertext_blob: String,
    #[arg(long)]
    destination_key_id: String,
    #[arg(long)]
    source_key_id: Option<String>,
    #[arg(long)]
    source_encryption_context: Option<String>,
    #[arg(long)]
    destination_encryption_context: Option<String>,
}

/// `kmsfs kms [--region R] <verb>` (`--region` is global: `cli/mod.rs`, `session.rs`).
#[derive(Debug, Args)]
pub(crate) struct KmsArgs {
    #[command(subcommand)]
    pub command: KmsCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KmsCommand {
    /// Create a key: symmetric by default (`--key-spec`/`--key-usage` for asymmetric and HMAC
    /// keys); `--multi-region` makes a multi-Region primary key (`mrk-` id) in the command's Region.
    CreateKey(CreateKeyArgs),
    DescribeKey(KeyIdArg),
    ListKeys(ListArgs),
    CreateAlias(AliasArgs),
    UpdateAlias(AliasArgs),
    DeleteAlias {
        #[arg(long)]
        alias_name: String,
    },
    ListAliases {
        #[arg(long)]
        key_id: Option<String>,
        #[command(flatten)]
        list: ListArgs,
    },
    /// Encrypt up to 4096 bytes.
    Encrypt(EncryptArgs),
    /// Decrypt a ciphertext blob (the blob names its key).
    Decrypt(DecryptArgs),
    /// Decrypt and encrypt again under another key or context, without revealing the plaintext.
    ReEncrypt(ReEncryptArgs),
    GenerateDataKey(DataKeyArgs),
    GenerateDataKeyWithoutPlaintext(DataKeyArgs),
    GenerateRandom {
        #[arg(long)]
        number_of_bytes: Option<u32>,
    },
    EnableKey(KeyIdArg),
    DisableKey(KeyIdArg),
    ScheduleKeyDeletion {
        #[arg(long)]
        key_id: String,
        /// 7..30 (default 30).
        #[arg(long)]
        pending_window_in_days: Option<u32>,
    },
    CancelKeyDeletion(KeyIdArg),
    EnableKeyRotation {
        #[arg(long)]
        key_id: String,
        /// 90..2560 (default 365).
        #[arg(long)]
        rotation_period_in_days: Option<u32>,
    },
    DisableKeyRotation(KeyIdArg),
    GetKeyRotationStatus(KeyIdArg),
    RotateKeyOnDemand(KeyIdArg),
    ListKeyRotations {
        #[arg(long)]
        key_id: String,
        #[command(flatten)]
        list: ListArgs,
    },
    TagResource {
        #[arg(long)]
        key_id: String,
        #[arg(long, num_args = 1.., required = true)]
        tags: Vec<String>,
    },
    UntagResource {
        #[arg(long)]
        key_id: String,
        #[arg(long, num_args = 1.., required = true)]
        tag_keys: Vec<String>,
    },
    ListResourceTags {
        #[arg(long)]
        key_id: String,
        #[command(flatten)]
        list: ListArgs,
    },
    UpdateKeyDescription {
        #[arg(long)]
        key_id: String,
        #[arg(long)]
        description: String,
    },
    GetKeyPolicy {
        #[arg(long)]
        key_id: String,
        #[arg(long)]
        policy_name: Option<String>,
    },
    ListKeyPolicies(KeyIdArg),
    PutKeyPolicy {
        #[arg(long)]
        key_id: String,
        #[arg(long)]
        policy_name: Option<String>,
        /// The key policy document (JSON), or file://policy.json.
        #[arg(long)]
        policy: String,
        /// Skip the check that the policy leaves the caller able to change it.
        #[arg(long)]
        bypass_policy_lockout_safety_check: bool,
    },
    #[command(flatten)]
    Grant(super::grant_cmd::GrantCommand),
    #[command(flatten)]
    MultiRegion(super::kms_mrk_cmd::MultiRegionCommand),
    #[command(flatten)]
    Asym(super::kms_asym_cmd::AsymCommand),
    #[command(flatten)]
    Import(super::kms_import_cmd::ImportCommand),
    /// Delete keys whose waiting period is over and apply due rotations now.
    Purge,
    /// Apply a seed file (TOML: keys with fixed ids, material, aliases, tags; see the
    /// README): creates what is missing, keeps what is there, refuses a conflict.
    Seed {
        /// The seed file.
        file: std::path::PathBuf,
    },
}

/// `<Operation> failed`, with the AWS operation name (`purge` for `kms purge`).
pub(super) fn failed(cmd: &KmsCommand) -> String {
    match cmd {
        KmsCommand::Purge => "purge failed".into(),
        KmsCommand::Seed { .. } => "seed failed".into(),
        KmsCommand::Grant(g) => format!("{} failed", variant_name(g)),
        KmsCommand::MultiRegion(m) => format!("{} failed", variant_name(m)),
        KmsCommand::Asym(a) => format!("{} failed", variant_name(a)),
        KmsCommand::Import(i) => format!("{} failed", variant_name(i)),
        cmd => format!("{} failed", variant_name(cmd)),
    }
}

/// Print every page of a list verb (as the AWS CLI does; see `paginate.rs`).
fn list<T: serde::Serialize>(
    s: &Session,
    l: &ListArgs,
    key_id: Option<String>,
    call: impl Fn(ListRequest) -> Result<T, crate::kms::KmsError>,
) -> Result<(), CliError> {
    let raw = (l.limit, l.marker.clone());
    let v = super::paginate::pages(s.what, &l.pages, raw, |limit, marker| {
        call(ListRequest {
            key_id: key_id.clone(),
            limit,
            marker,
        })
    })?;
    s.out.print(&v)
}

fn key(k: &KeyIdArg) -> KeyIdRequest {
    KeyIdRequest {
        key_id: k.key_id.clone(),
        grant_tokens: None,
    }
}

fn alias(a: &AliasArgs) -> AliasRequest {
    AliasRequest {
        alias_name: a.alias_name.clone(),
        target_key_id: a.target_key_id.clone(),
    }
}

fn data_key(a: &DataKeyArgs) -> Result<GenerateDataKeyRequest, CliError> {
    Ok(GenerateDataKeyRequest {
        key_id: a.key_id.clone(),
        encryption_context: args::context(&a.encryption_context)?,
        number_of_bytes: a.number_of_bytes,
        key_spec: a.key_spec.clone(),
        grant_tokens: a.grant_tokens.clone(),
    })
}

/// `kmsfs kms <verb>`, as the calling OS user (or the configured access key's principal),
/// in the session's Region (`--region`, AWS_REGION, AWS_DEFAULT_REGION, else the home's);
/// with `--endpoint-url`, sent to that KMS endpoint instead (`kmsfs serve`, AWS KMS, any
/// emulator), signed as the AWS CLI would sign it. Seeds and purges are the home's own.
pub(super) fn run(
    s: &Session,
    a: &KmsArgs,
    endpoint: Option<Arc<dyn Client>>,
) -> Result<(), CliError> {
    let cmd = &a.command;
    let c: Arc<dyn Client> = match endpoint {
        Some(remote) => {
            if matches!(cmd, KmsCommand::Purge | KmsCommand::Seed { .. }) {
                return Err(CliError::usage(
                    s.what,
                    "purge and seed act on this home's KMS: drop --endpoint-url".to_string(),
                ));
            }
            remote
        }
        None => Arc::new(s.user()),
    };
    let c = c.as_ref();
    [
        keys,
        aliases,
        crypto,
        states,
        rotation,
        tags,
        grants,
        seed,
        asym,
        imports,
        multi_region,
    ]
    .iter()
    .find_map(|family| family(s, c, cmd))
    .expect("every kms verb is in a family")
}

/// What a verb family returns: `None` when the verb is not one of its.
type Handled = Option<Result<(), CliError>>;

/// Create, describe and list keys; their descriptions and policies.
fn keys(s: &Session, c: &dyn Client, cmd: &KmsCommand) -> Handled {
    use KmsCommand as K;
    Some(match cmd {
        K::CreateKey(a) => create_key(a).and_then(|r| s.reply(c.create_key(r))),
        K::DescribeKey(k) => s.reply(c.describe_key(key(k))),
        K::ListKeys(l) => list(s, l, None, |r| c.list_keys(r)),
        K::UpdateKeyDescription {
            key_id,
            description,
        } => s.done(c.update_key_description(UpdateKeyDescriptionRequest {
            key_id: key_id.clone(),
            description: description.clone(),
        })),
        K::GetKeyPolicy {
            key_id,
            policy_name,
        } => s.reply(c.get_key_policy(GetKeyPolicyRequest {
            key_id: key_id.clone(),
            policy_name: policy_name.clone(),
        })),
        K::ListKeyPolicies(k) => s.reply(c.list_key_policies(key(k))),
        K::PutKeyPolicy {
            key_id,
            policy_name,
            policy,
            bypass_policy_lockout_safety_check: bypass,
        } => match policy_text(policy) {
            Ok(policy) => s.done(c.put_key_policy(PutKeyPolicyRequest {
                key_id: key_id.clone(),
                policy_name: policy_name.clone(),
                policy,
                bypass_policy_lockout_safety_check: bypass.then_some(true),
            })),
            Err(e) => Err(e),
        },
        _ => return None,
    })
}

/// A `--policy` argument: the document, or `file://PATH`.
pub(super) fn policy_text(p: &str) -> Result<String, CliError> {
    match p.strip_prefix("file://") {
        Some(f) => std::fs::read_to_string(f)
            .map_err(|e| CliError::usage("cannot read --policy", format!("{f}: {e}"))),
        None => Ok(p.to_string()),
    }
}

fn create_key(a: &CreateKeyArgs) -> Result<CreateKeyRequest, CliError> {
    let policy = a.policy.as_deref().map(policy_text).transpose()?;
    Ok(CreateKeyRequest {
        description: a.description.clone(),
        key_usage: a.key_usage.clone(),
        key_spec: a.key_spec.clone(),
        customer_master_key_spec: a.customer_master_key_spec.clone(),
        origin: a.origin.clone(),
        policy,
        tags: if a.tags.is_empty() {
            None
        } else {
            Some(args::tags(&a.tags)?)
        },
        multi_region: a.multi_region.then_some(true),
        bypass_policy_lockout_safety_check: a.bypass_policy_lockout_safety_check.then_some(true),
    })
}

fn aliases(s: &Session, c: &dyn Client, cmd: &KmsCommand) -> Handled {
    use KmsCommand as K;
    Some(match cmd {
        K::CreateAlias(a) => s.done(c.create_alias(alias(a))),
        K::UpdateAlias(a) => s.done(c.update_alias(alias(a))),
        K::DeleteAlias { alias_name } => s.done(c.delete_alias(alias_name)),
        K::ListAliases { key_id, list: l } => list(s, l, key_id.clone(), |r| c.list_aliases(r)),
        _ => return None,
    })
}

/// Encrypt, decrypt, re-encrypt; data keys and random bytes.
fn crypto(s: &Session, c: &dyn Client, cmd: &KmsCommand) -> Handled {
    use KmsCommand as K;
    Some(match cmd {
        K::Encrypt(a) => encrypt(a).and_then(|r| s.reply(c.encrypt(r))),
        K::Decrypt(a) => decrypt(a).and_then(|r| s.reply(c.decrypt(r))),
        K::ReEncrypt(a) => re_encrypt(a).and_then(|r| s.reply(c.re_encrypt(r))),
        K::GenerateDataKey(a) => data_key(a).and_then(|r| s.reply(c.generate_data_key(r))),
        K::GenerateDataKeyWithoutPlaintext(a) => {
            data_key(a).and_then(|r| s.reply(c.generate_data_key_without_plaintext(r)))
        }
        K::GenerateRandom { number_of_bytes } => {
            s.reply(c.generate_random(GenerateRandomRequest {
                number_of_bytes: *number_of_bytes,
            }))
        }
        _ => return None,
    })
}

fn encrypt(a: &EncryptArgs) -> Result<EncryptRequest, CliError> {
    let plaintext = args::blob(&a.plaintext, "--plaintext", Literal::Text)?;
    let c = &a.crypto;
    Ok(EncryptRequest {
        key_id: a.key_id.clone(),
        plaintext,
        encryption_context: args::context(&c.encryption_context)?,
        grant_tokens: c.grant_tokens.clone(),
        encryption_algorithm: c.encryption_algorithm.clone(),
    })
}

fn decrypt(a: &DecryptArgs) -> Result<DecryptRequest, CliError> {
    let ciphertext_blob = ciphertext(&a.ciphertext_blob)?;
    let c = &a.crypto;
    Ok(DecryptRequest {
        ciphertext_blob,
        encryption_context: args::context(&c.encryption_context)?,
        grant_tokens: c.grant_tokens.clone(),
        key_id: a.key_id.clone(),
        encryption_algorithm: c.encryption_algorithm.clone(),
    })
}

fn re_encrypt(a: &ReEncryptArgs) -> Result<ReEncryptRequest, CliError> {
    Ok(ReEncryptRequest {
        ciphertext_blob: ciphertext(&a.ciphertext_blob)?,
        source_encryption_context: args::context(&a.source_encryption_context)?,
        source_key_id: a.source_key_id.clone(),
        destination_key_id: a.destination_key_id.clone(),
        destination_encryption_context: args::context(&a.destination_encryption_context)?,
        ..Default::default()
    })
}

/// A `--ciphertext-blob`: fileb://PATH, or base64.
fn ciphertext(arg: &str) -> Result<Vec<u8>, CliError> {
    let blob = args::blob(arg, "--ciphertext-blob", Literal::Base64)?;
    Ok(blob.expose().to_vec())
}

/// Enable and disable keys, schedule and cancel their deletion, purge.
fn states(s: &Session, c: &dyn Client, cmd: &KmsCommand) -> Handled {
    use KmsCommand as K;
    Some(match cmd {
        K::EnableKey(k) => s.done(c.enable_key(key(k))),
        K::DisableKey(k) => s.done(c.disable_key(key(k))),
        K::ScheduleKeyDeletion {
            key_id,
            pending_window_in_days,
        } => s.reply(c.schedule_key_deletion(ScheduleKeyDeletionRequest {
            key_id: key_id.clone(),
            pending_window_in_days: *pending_window_in_days,
        })),
        K::CancelKeyDeletion(k) => s.reply(c.cancel_key_deletion(key(k))),
        K::Purge => s.reply(s.account_kms.purge().map(|r| {
            serde_json::json!({
                "DeletedKeys": r.deleted,
                "RotatedKeys": r.rotated,
                "DamagedRecords": r.damaged,
            })
        })),
        _ => return None,
    })
}

/// Automatic and on-demand rotation.
fn rotation(s: &Session, c: &dyn Client, cmd: &KmsCommand) -> Handled {
    use KmsCommand as K;
    Some(match cmd {
        K::EnableKeyRotation {
            key_id,
            rotation_period_in_days,
        } => s.done(c.enable_key_rotation(EnableKeyRotationRequest {
            key_id: key_id.clone(),
            rotation_period_in_days: *rotation_period_in_days,
        })),
        K::DisableKeyRotation(k) => s.done(c.disable_key_rotation(key(k))),
        K::GetKeyRotationStatus(k) => s.reply(c.get_key_rotation_status(key(k))),
        K::RotateKeyOnDemand(k) => s.reply(c.rotate_key_on_demand(key(k))),
        K::ListKeyRotations { key_id, list: l } => {
            list(s, l, Some(key_id.clone()), |r| c.list_key_rotations(r))
        }
        _ => return None,
    })
}

/// Replicate keys, change the primary Region (`kms_mrk_cmd.rs`).
fn multi_region(s: &Session, c: &dyn Client, cmd: &KmsCommand) -> Handled {
    match cmd {
        KmsCommand::MultiRegion(m) => Some(super::kms_mrk_cmd::run(s, c, m)),
        _ => None,
    }
}

/// Create, list, retire and revoke grants (`grant_cmd.rs`).
fn grants(s: &Session, c: &dyn Client, cmd: &KmsCommand) -> Handled {
    let KmsCommand::Grant(g) = cmd else {
        return None;
    };
    Some(super::grant_cmd::run(s, c, g))
}

/// Sign, verify, MACs, public keys, key pairs, key agreement (`kms_asym_cmd.rs`).
fn asym(s: &Session, c: &dyn Client, cmd: &KmsCommand) -> Handled {
    let KmsCommand::Asym(a) = cmd else {
        return None;
    };
    Some(super::kms_asym_cmd::run(s, c, a))
}

/// Imported key material (`kms_import_cmd.rs`).
fn imports(s: &Session, c: &dyn Client, cmd: &KmsCommand) -> Handled {
    let KmsCommand::Import(i) = cmd else {
        return None;
    };
    Some(super::kms_import_cmd::run(s, c, i))
}

/// Apply a seed file; keys without a region go to the command's region.
fn seed(s: &Session, _c: &dyn Client, cmd: &KmsCommand) -> Handled {
    let KmsCommand::Seed { file } = cmd else {
        return None;
    };
    Some(
        Seed::read(file)
            .map_err(|e| CliError::usage(s.what, e.message()))
            .and_then(|seed| {
                let principal = crate::kms::Caller::from(s.principal());
                s.reply(s.account_kms.apply_seed(&principal, &Arc::new(seed)))
            }),
    )
}

fn tags(s: &Session, c: &dyn Client, cmd: &KmsCommand) -> Handled {
    use KmsCommand as K;
    Some(match cmd {
        K::TagResource { key_id, tags } => args::tags(tags).and_then(|tags| {
            s.done(c.tag_resource(TagResourceRequest {
                key_id: key_id.clone(),
                tags,
            }))
        }),
        K::UntagResource { key_id, tag_keys } => s.done(c.untag_resource(UntagResourceRequest {
            key_id: key_id.clone(),
            tag_keys: tag_keys.clone(),
        })),
        K::ListResourceTags { key_id, list: l } => {
            list(s, l, Some(key_id.clone()), |r| c.list_resource_tags(r))
        }
        _ => return None,
    })
}

/// The client of `--endpoint-url URL` (signed with the profile's or the environment's
/// credentials, trusting `--kms-ca-bundle`), for `kmsfs kms` verbs.
pub(super) fn endpoint(
    what: &str,
    url: Option<&str>,
    profile: Option<&str>,
    ca: Option<&std::path::Path>,
) -> Result<Option<Arc<dyn Client>>, CliError> {
    let Some(url) = url else { return Ok(None) };
    let r = crate::kms::Remote::configured(Some(url), profile, ca)
        .map_err(|e| CliError::usage(what, e.to_string()))?;
    Ok(Some(Arc::new(r)))
}
