//! `kmsfs kms <verb>`: one subcommand per KMS operation, flags named as in `aws kms`.

use super::args::{self, Literal};
use super::output::Printer;
use super::{Cli, CliError, open_kms};
use crate::kms::types::*;
use crate::kms::{Client, Embedded};
use clap::{Args, Subcommand};
use std::path::Path;

#[derive(Debug, Args)]
pub struct KeyIdArg {
    /// Key id, key ARN, alias name (alias/...) or alias ARN.
    #[arg(long)]
    pub key_id: String,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Items per page (1..1000).
    #[arg(long)]
    pub limit: Option<u32>,
    /// NextMarker from the previous page.
    #[arg(long)]
    pub marker: Option<String>,
}

#[derive(Debug, Args)]
pub struct DataKeyArgs {
    #[arg(long)]
    pub key_id: String,
    /// AES_256 or AES_128.
    #[arg(long, conflicts_with = "number_of_bytes")]
    pub key_spec: Option<String>,
    /// 1..1024.
    #[arg(long)]
    pub number_of_bytes: Option<u32>,
    /// k=v,k2=v2 or a JSON object.
    #[arg(long)]
    pub encryption_context: Option<String>,
    #[arg(long, num_args = 1..)]
    pub grant_tokens: Option<Vec<String>>,
}

#[derive(Debug, Subcommand)]
pub enum KmsCommand {
    /// Create a symmetric key (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT).
    CreateKey {
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
    },
    DescribeKey(KeyIdArg),
    ListKeys(ListArgs),
    CreateAlias {
        #[arg(long)]
        alias_name: String,
        #[arg(long)]
        target_key_id: String,
    },
    UpdateAlias {
        #[arg(long)]
        alias_name: String,
        #[arg(long)]
        target_key_id: String,
    },
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
    Encrypt {
        #[arg(long)]
        key_id: String,
        /// fileb://PATH, file://PATH, or the text itself.
        #[arg(long)]
        plaintext: String,
        #[arg(long)]
        encryption_context: Option<String>,
        #[arg(long)]
        encryption_algorithm: Option<String>,
        #[arg(long, num_args = 1..)]
        grant_tokens: Option<Vec<String>>,
    },
    /// Decrypt a ciphertext blob (the blob names its key).
    Decrypt {
        /// fileb://PATH, or base64 as encrypt prints it.
        #[arg(long)]
        ciphertext_blob: String,
        #[arg(long)]
        key_id: Option<String>,
        #[arg(long)]
        encryption_context: Option<String>,
        #[arg(long)]
        encryption_algorithm: Option<String>,
        #[arg(long, num_args = 1..)]
        grant_tokens: Option<Vec<String>>,
    },
    /// Decrypt and encrypt again under another key or context, without revealing the plaintext.
    ReEncrypt {
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
    },
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
    /// Delete keys whose waiting period is over and apply due rotations now.
    Purge,
}

impl KmsCommand {
    /// The AWS operation name, for error messages.
    fn operation(&self) -> String {
        let dbg = format!("{self:?}");
        let name = dbg
            .split([' ', '(', '{'])
            .next()
            .unwrap_or("kms")
            .to_string();
        if name == "Purge" {
            "purge".into()
        } else {
            name
        }
    }
}

fn list(l: &ListArgs, key_id: Option<String>) -> ListRequest {
    ListRequest {
        key_id,
        limit: l.limit,
        marker: l.marker.clone(),
    }
}

fn key(k: &KeyIdArg) -> KeyIdRequest {
    KeyIdRequest {
        key_id: k.key_id.clone(),
        grant_tokens: None,
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

pub fn run(cli: &Cli, root: &Path, cmd: &KmsCommand, out: &Printer) -> Result<(), CliError> {
    let op = cmd.operation();
    let what = format!("{op} failed");
    let (_home, kms) = open_kms(cli, root, &what)?;
    let c = Embedded::as_os_user(kms.clone());
    let err = |e| CliError::kms(&what, e);
    let r = dispatch(&c, cmd, out, &err);
    // Every request's audit line reaches the disk before we exit.
    kms.flush_audit().map_err(|e| CliError::kms(&what, e))?;
    r
}

fn dispatch(
    c: &Embedded,
    cmd: &KmsCommand,
    out: &Printer,
    err: &dyn Fn(crate::kms::KmsError) -> CliError,
) -> Result<(), CliError> {
    use KmsCommand as K;
    match cmd {
        K::CreateKey {
            description,
            key_usage,
            key_spec,
            customer_master_key_spec,
            origin,
            policy,
            tags,
            multi_region,
        } => {
            let policy = match policy {
                Some(p) => Some(match p.strip_prefix("file://") {
                    Some(f) => std::fs::read_to_string(f).map_err(|e| {
                        CliError::usage("cannot read --policy", format!("{f}: {e}"))
                    })?,
                    None => p.clone(),
                }),
                None => None,
            };
            let r = c
                .create_key(CreateKeyRequest {
                    description: description.clone(),
                    key_usage: key_usage.clone(),
                    key_spec: key_spec.clone(),
                    customer_master_key_spec: customer_master_key_spec.clone(),
                    origin: origin.clone(),
                    policy,
                    tags: if tags.is_empty() {
                        None
                    } else {
                        Some(args::tags(tags)?)
                    },
                    multi_region: multi_region.then_some(true),
                    bypass_policy_lockout_safety_check: None,
                })
                .map_err(err)?;
            out.print(&r)
        }
        K::DescribeKey(k) => out.print(&c.describe_key(key(k)).map_err(err)?),
        K::ListKeys(l) => out.print(&c.list_keys(list(l, None)).map_err(err)?),
        K::CreateAlias {
            alias_name,
            target_key_id,
        } => c
            .create_alias(AliasRequest {
                alias_name: alias_name.clone(),
                target_key_id: target_key_id.clone(),
            })
            .map_err(err),
        K::UpdateAlias {
            alias_name,
            target_key_id,
        } => c
            .update_alias(AliasRequest {
                alias_name: alias_name.clone(),
                target_key_id: target_key_id.clone(),
            })
            .map_err(err),
        K::DeleteAlias { alias_name } => c.delete_alias(alias_name).map_err(err),
        K::ListAliases { key_id, list: l } => {
            out.print(&c.list_aliases(list(l, key_id.clone())).map_err(err)?)
        }
        K::Encrypt {
            key_id,
            plaintext,
            encryption_context,
            encryption_algorithm,
            grant_tokens,
        } => {
            let r = c
                .encrypt(EncryptRequest {
                    key_id: key_id.clone(),
                    plaintext: args::blob(plaintext, "--plaintext", Literal::Text)?,
                    encryption_context: args::context(encryption_context)?,
                    grant_tokens: grant_tokens.clone(),
                    encryption_algorithm: encryption_algorithm.clone(),
                })
                .map_err(err)?;
            out.print(&r)
        }
        K::Decrypt {
            ciphertext_blob,
            key_id,
            encryption_context,
            encryption_algorithm,
            grant_tokens,
        } => {
            let blob = args::blob(ciphertext_blob, "--ciphertext-blob", Literal::Base64)?;
            let r = c
                .decrypt(DecryptRequest {
                    ciphertext_blob: blob.expose().to_vec(),
                    encryption_context: args::context(encryption_context)?,
                    grant_tokens: grant_tokens.clone(),
                    key_id: key_id.clone(),
                    encryption_algorithm: encryption_algorithm.clone(),
                })
                .map_err(err)?;
            out.print(&r)
        }
        K::ReEncrypt {
            ciphertext_blob,
            destination_key_id,
            source_key_id,
            source_encryption_context,
            destination_encryption_context,
        } => {
            let blob = args::blob(ciphertext_blob, "--ciphertext-blob", Literal::Base64)?;
            let r = c
                .re_encrypt(ReEncryptRequest {
                    ciphertext_blob: blob.expose().to_vec(),
                    source_encryption_context: args::context(source_encryption_context)?,
                    source_key_id: source_key_id.clone(),
                    destination_key_id: destination_key_id.clone(),
                    destination_encryption_context: args::context(destination_encryption_context)?,
                    ..Default::default()
                })
                .map_err(err)?;
            out.print(&r)
        }
        K::GenerateDataKey(a) => out.print(&c.generate_data_key(data_key(a)?).map_err(err)?),
        K::GenerateDataKeyWithoutPlaintext(a) => out.print(
            &c.generate_data_key_without_plaintext(data_key(a)?)
                .map_err(err)?,
        ),
        K::GenerateRandom { number_of_bytes } => out.print(
            &c.generate_random(GenerateRandomRequest {
                number_of_bytes: *number_of_bytes,
            })
            .map_err(err)?,
        ),
        K::EnableKey(k) => c.enable_key(key(k)).map_err(err),
        K::DisableKey(k) => c.disable_key(key(k)).map_err(err),
        K::ScheduleKeyDeletion {
            key_id,
            pending_window_in_days,
        } => out.print(
            &c.schedule_key_deletion(ScheduleKeyDeletionRequest {
                key_id: key_id.clone(),
                pending_window_in_days: *pending_window_in_days,
            })
            .map_err(err)?,
        ),
        K::CancelKeyDeletion(k) => out.print(&c.cancel_key_deletion(key(k)).map_err(err)?),
        K::EnableKeyRotation {
            key_id,
            rotation_period_in_days,
        } => c
            .enable_key_rotation(EnableKeyRotationRequest {
                key_id: key_id.clone(),
                rotation_period_in_days: *rotation_period_in_days,
            })
            .map_err(err),
        K::DisableKeyRotation(k) => c.disable_key_rotation(key(k)).map_err(err),
        K::GetKeyRotationStatus(k) => out.print(&c.get_key_rotation_status(key(k)).map_err(err)?),
        K::RotateKeyOnDemand(k) => out.print(&c.rotate_key_on_demand(key(k)).map_err(err)?),
        K::ListKeyRotations { key_id, list: l } => out.print(
            &c.list_key_rotations(list(l, Some(key_id.clone())))
                .map_err(err)?,
        ),
        K::TagResource { key_id, tags } => c
            .tag_resource(TagResourceRequest {
                key_id: key_id.clone(),
                tags: args::tags(tags)?,
            })
            .map_err(err),
        K::UntagResource { key_id, tag_keys } => c
            .untag_resource(UntagResourceRequest {
                key_id: key_id.clone(),
                tag_keys: tag_keys.clone(),
            })
            .map_err(err),
        K::ListResourceTags { key_id, list: l } => out.print(
            &c.list_resource_tags(list(l, Some(key_id.clone())))
                .map_err(err)?,
        ),
        K::UpdateKeyDescription {
            key_id,
            description,
        } => c
            .update_key_description(UpdateKeyDescriptionRequest {
                key_id: key_id.clone(),
                description: description.clone(),
            })
            .map_err(err),
        K::GetKeyPolicy {
            key_id,
            policy_name,
        } => out.print(
            &c.get_key_policy(GetKeyPolicyRequest {
                key_id: key_id.clone(),
                policy_name: policy_name.clone(),
            })
            .map_err(err)?,
        ),
        K::ListKeyPolicies(k) => out.print(&c.list_key_policies(key(k)).map_err(err)?),
        K::Purge => {
            let r = c.kms().purge().map_err(err)?;
            out.print(&serde_json::json!({
                "DeletedKeys": r.deleted,
                "RotatedKeys": r.rotated,
                "DamagedRecords": r.damaged,
            }))
        }
    }
}
