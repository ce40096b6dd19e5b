//! The command tree as users see it (`--help`, completions, man pages): [`command`] is the
//! clap command of [`Cli`] with the help of flags many verbs share filled in from one
//! table ([`COMMON`]), and each `--key-id` told what its operation accepts: an alias only
//! where AWS KMS takes one ([`ALIAS_OK`]). A unit test walks the tree and fails on any
//! verb or flag without help.

use super::Cli;
use clap::{Arg, Command, CommandFactory};

/// The KMS operations whose KeyId may be an alias (name or ARN); every other operation
/// that takes a KeyId wants the key id or key ARN (aws-kms.md §2.7), as the KMS checks.
const ALIAS_OK: &[&str] = &[
    "describe-key",
    "encrypt",
    "decrypt",
    "re-encrypt",
    "generate-data-key",
    "generate-data-key-without-plaintext",
    "generate-data-key-pair",
    "generate-data-key-pair-without-plaintext",
    "get-public-key",
    "sign",
    "verify",
    "generate-mac",
    "verify-mac",
    "derive-shared-secret",
];

const KEY_ID_ALIAS: &str = "The KMS key: key id, key ARN, alias name (alias/...) or alias ARN.";
const KEY_ID_ONLY: &str =
    "The KMS key: key id or key ARN (AWS refuses an alias for this operation, and so does kmsfs).";

/// Help for flags that several verbs share, by argument id.
const COMMON: &[(&str, &str)] = &[
    ("key", "The object's key (its name in the bucket)."),
    (
        "delete",
        "The objects to delete: Objects=[{Key=a},{Key=b}],Quiet=true, or JSON.",
    ),
    (
        "delimiter",
        "Group keys that share a prefix up to this character into CommonPrefixes.",
    ),
    (
        "continuation_token",
        "NextContinuationToken from the previous page.",
    ),
    ("start_after", "List keys after this one."),
    (
        "copy_source_sse_customer_key_md5",
        "The base64 MD5 of the source's SSE-C key (checked if given).",
    ),
    (
        "throughput",
        "Accepted and ignored (kmsfs volumes have no provisioned throughput).",
    ),
    ("source_snapshot_id", "The snapshot to copy."),
    (
        "snapshot_ids",
        "The snapshots to describe (default all you may see).",
    ),
    (
        "destination",
        "Where to copy to: a local path or s3://bucket/key.",
    ),
    (
        "path",
        "An s3://bucket[/prefix] path (ls without one lists the buckets).",
    ),
    (
        "recursive",
        "Every key under the prefix (every file under the directory), not one.",
    ),
    (
        "reset",
        "Forget the configured key: new volumes use alias/aws/ebs again.",
    ),
    (
        "secret_id",
        "The secret: its name, full ARN or partial ARN (without the -XXXXXX suffix).",
    ),
    (
        "client_request_token",
        "A version id (UUID) that makes the request idempotent: the same token and value again returns the same version.",
    ),
    (
        "secret_string",
        "The secret's value as text (`file://PATH` reads it from a file).",
    ),
    (
        "secret_binary",
        "The secret's value as bytes: `fileb://PATH`, or raw text.",
    ),
    ("next_token", "NextToken from the previous page."),
    ("max_results", "Items per page."),
    (
        "version_stage",
        "A staging label (AWSCURRENT, AWSPREVIOUS, AWSPENDING or your own).",
    ),
    (
        "version_stages",
        "The staging labels the new version gets (default AWSCURRENT).",
    ),
    ("version_id", "A version id (UUID)."),
    ("sort_order", "asc or desc."),
    (
        "sort_by",
        "What to sort by: created-date, last-accessed-date, last-changed-date or name.",
    ),
    (
        "secret_id_list",
        "The secrets to read (names or ARNs, up to 20).",
    ),
    (
        "rotation_lambda_arn",
        "The rotation program: an absolute path to a local executable (kmsfs runs it in place of a Lambda).",
    ),
    (
        "rotate_immediately",
        "Rotate now, not only set the schedule (the default).",
    ),
    (
        "no_rotate_immediately",
        "Only set the schedule; the first rotation comes when it is due.",
    ),
    (
        "resource_policy",
        "The resource policy document (JSON, or file://PATH).",
    ),
    (
        "require_each_included_type",
        "At least one character of every included type (the default).",
    ),
    (
        "remove_from_version_id",
        "The version the label is taken from.",
    ),
    ("move_to_version_id", "The version the label is moved to."),
    (
        "recovery_window_in_days",
        "Days (7..30, default 30) before the secret is deleted for good; RestoreSecret undoes it until then.",
    ),
    ("password_length", "Length (1..4096, default 32)."),
    ("include_space", "Include the space character."),
    (
        "include_planned_deletion",
        "List secrets scheduled for deletion too.",
    ),
    (
        "include_deprecated",
        "List versions without a staging label too.",
    ),
    (
        "force_delete_without_recovery",
        "Delete at once, without a recovery window (cannot be undone).",
    ),
    (
        "filters",
        "Key=name|description|tag-key|tag-value|primary-region|owning-service|all,Values=... (a ! before a value negates it), or JSON.",
    ),
    ("exclude_uppercase", "No uppercase letters."),
    ("exclude_punctuation", "No punctuation."),
    ("exclude_numbers", "No digits."),
    ("exclude_lowercase", "No lowercase letters."),
    ("exclude_characters", "Characters never to use."),
    (
        "block_public_policy",
        "Refuse a policy that grants access to everyone.",
    ),
    (
        "grant_tokens",
        "Grant tokens of grants not yet consistent (accepted, as AWS does).",
    ),
    ("limit", "Items per page (1..1000)."),
    ("marker", "NextMarker from the previous page."),
    ("policy_name", "The key policy's name: always `default`."),
    ("description", "A description (up to 8192 characters)."),
    (
        "encryption_context",
        "Encryption context: k=v,k2=v2, a JSON object or file://ctx.json.",
    ),
    (
        "tags",
        "Tags: TagKey=k,TagValue=v (repeatable) or a JSON list.",
    ),
    ("tag_keys", "The tag keys to remove."),
    ("account_id", "12-digit AWS account id."),
    ("access_key_id", "The access key id (AKIA... or ASIA...)."),
    (
        "alias_name",
        "The alias name: alias/ and a name (not alias/aws/...).",
    ),
    (
        "target_key_id",
        "The key the alias points to: key id or key ARN.",
    ),
    ("key_spec", "The data key's length: AES_256 or AES_128."),
    ("number_of_bytes", "Length in bytes (1..1024)."),
    (
        "ciphertext_blob",
        "The ciphertext: fileb://PATH, file://PATH, or base64.",
    ),
    ("grant_id", "The grant's id (as create-grant prints it)."),
    (
        "grantee_principal",
        "The principal (ARN) the grant gives permissions to.",
    ),
    (
        "retiring_principal",
        "The principal (ARN) allowed to retire the grant.",
    ),
    ("user_name", "The IAM user's name."),
    ("role_name", "The IAM role's name."),
    (
        "policy_document",
        "The policy document (JSON), or file://policy.json.",
    ),
    (
        "bypass_policy_lockout_safety_check",
        "Skip the check that the policy leaves the caller able to change it.",
    ),
    (
        "kms_key_id",
        "The KMS key: key id, key ARN, alias name or alias ARN.",
    ),
    ("dir", "The mount point (a directory)."),
    (
        "key_usage",
        "ENCRYPT_DECRYPT (default), SIGN_VERIFY, GENERATE_VERIFY_MAC or KEY_AGREEMENT.",
    ),
    (
        "customer_master_key_spec",
        "The key spec under its former name (same values as --key-spec).",
    ),
    (
        "origin",
        "AWS_KMS (default) or EXTERNAL (import the key material later).",
    ),
    ("multi_region", "Make a multi-Region primary key (mrk- id)."),
    (
        "encryption_algorithm",
        "SYMMETRIC_DEFAULT (default), or RSAES_OAEP_SHA_1/_256 for RSA keys.",
    ),
    (
        "destination_key_id",
        "The key to encrypt under: key id, key ARN, alias name or alias ARN.",
    ),
    (
        "source_key_id",
        "The key the ciphertext is under (checked): key id, key ARN, alias name or alias ARN.",
    ),
    (
        "source_encryption_context",
        "The context the ciphertext was encrypted with: k=v,k2=v2 or JSON.",
    ),
    (
        "destination_encryption_context",
        "The context to bind the new ciphertext to: k=v,k2=v2 or JSON.",
    ),
    (
        "grant_token",
        "The grant token (as create-grant prints it).",
    ),
    (
        "primary_region",
        "The Region whose replica becomes the primary key.",
    ),
    (
        "secret_access_key",
        "The secret access key (40 characters).",
    ),
    (
        "assume_role_policy_document",
        "The trust policy (JSON), or file://policy.json.",
    ),
    (
        "role_arn",
        "The role to assume (arn:aws:iam::ACCOUNT:role/NAME).",
    ),
    (
        "role_session_name",
        "A name for the session (2..64 characters).",
    ),
    (
        "volume_id",
        "The volume id (vol-...; a positional argument, where `aws ec2` has --volume-id).",
    ),
    (
        "snapshot_id",
        "The snapshot id (snap-...; a positional argument, where `aws ec2` has --snapshot-id).",
    ),
    ("action", "enable, disable or status."),
    (
        "owner_ids",
        "Only snapshots of these accounts (12-digit ids, or self).",
    ),
    (
        "restorable_by_user_ids",
        "Only snapshots these accounts may use (ids, self or all).",
    ),
    ("operation_type", "add or remove."),
    ("user_ids", "The accounts (12-digit ids) to add or remove."),
    (
        "group_names",
        "`all` to share publicly (unencrypted snapshots only).",
    ),
    (
        "encrypted",
        "Encrypt the copy with the default key (or --kms-key-id).",
    ),
    (
        "bucket",
        "The bucket's name (positional, where `aws s3api` has --bucket).",
    ),
    ("target", "BUCKET/KEY (or s3://BUCKET/KEY)."),
    (
        "source",
        "The object to copy: BUCKET/KEY (or s3://BUCKET/KEY).",
    ),
    (
        "outfile",
        "Where to write the object, or - for standard output.",
    ),
    ("prefix", "Only keys that start with this prefix."),
    (
        "max_keys",
        "At most this many keys (and common prefixes) in the reply.",
    ),
    (
        "sse_c_key",
        "SSE-C: the object's 256-bit key, fileb://PATH (32 raw bytes) or base64.",
    ),
];

/// About lines of verbs named as AWS operations, by `parent verb`.
const ABOUT: &[(&str, &str)] = &[
    ("kms describe-key", "Show a key's metadata (KeyMetadata)."),
    (
        "kms list-keys",
        "List the keys of the account in the Region (one page; --limit, --marker).",
    ),
    (
        "kms create-alias",
        "Create an alias (alias/NAME) for a key.",
    ),
    (
        "kms update-alias",
        "Point an existing alias at another key.",
    ),
    ("kms delete-alias", "Delete an alias (the key stays)."),
    (
        "kms list-aliases",
        "List aliases, AWS-managed ones included (--key-id: only a key's).",
    ),
    (
        "kms generate-data-key",
        "A data key: plaintext and encrypted under --key-id.",
    ),
    (
        "kms generate-data-key-without-plaintext",
        "A data key encrypted under --key-id only.",
    ),
    ("kms generate-random", "Random bytes (base64)."),
    ("kms enable-key", "Enable a disabled key."),
    (
        "kms disable-key",
        "Disable a key: it refuses cryptographic operations until enabled.",
    ),
    (
        "kms schedule-key-deletion",
        "Schedule a key's deletion after a waiting period (7..30 days).",
    ),
    (
        "kms cancel-key-deletion",
        "Cancel a scheduled deletion (the key is left disabled).",
    ),
    (
        "kms enable-key-rotation",
        "Rotate a symmetric key's material automatically, every period.",
    ),
    ("kms disable-key-rotation", "Stop automatic rotation."),
    (
        "kms get-key-rotation-status",
        "Whether automatic rotation is on, its period and next date.",
    ),
    (
        "kms rotate-key-on-demand",
        "Rotate a symmetric key's material now.",
    ),
    (
        "kms list-key-rotations",
        "The rotations of a key's material.",
    ),
    ("kms tag-resource", "Add or replace tags of a key."),
    ("kms untag-resource", "Remove tags of a key."),
    ("kms list-resource-tags", "The tags of a key."),
    ("kms update-key-description", "Change a key's description."),
    ("kms get-key-policy", "A key's policy document."),
    (
        "kms list-key-policies",
        "The names of a key's policies (always `default`).",
    ),
    ("kms put-key-policy", "Replace a key's policy."),
    ("kms list-grants", "The grants of a key."),
    (
        "kms list-retirable-grants",
        "The grants a principal may retire.",
    ),
    (
        "kms revoke-grant",
        "Delete a grant (by the key's administrator).",
    ),
    ("volume list", "List the volumes of the account."),
    ("volume describe", "Show a volume."),
    ("snapshot describe", "Show a snapshot."),
    ("bucket list", "List the buckets."),
];

/// The command tree with every shared flag's help filled in.
pub(crate) fn command() -> Command {
    fill(Cli::command(), "")
}

/// Fill `cmd`, at `path` (`kms encrypt`; the root's is empty).
fn fill(cmd: Command, path: &str) -> Command {
    let verb = cmd.get_name().to_string();
    let mut cmd = match ABOUT.iter().find(|(p, _)| *p == path) {
        Some((_, about)) if cmd.get_about().is_none() => cmd.about(*about),
        _ => cmd,
    };
    let ids: Vec<String> = cmd
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect();
    for id in ids {
        cmd = cmd.mut_arg(&id, |a| help_for(&verb, a));
    }
    let subs: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for s in subs {
        let p = format!("{path} {s}").trim().to_string();
        cmd = cmd.mut_subcommand(&s, |c| fill(c, &p));
    }
    cmd
}

fn help_for(verb: &str, a: Arg) -> Arg {
    let id = a.get_id().as_str();
    if id == "key_id" && !a.is_global_set() {
        return a.help(if ALIAS_OK.contains(&verb) {
            KEY_ID_ALIAS
        } else {
            KEY_ID_ONLY
        });
    }
    if a.get_help().is_some() {
        return a;
    }
    match COMMON.iter().find(|(k, _)| *k == id) {
        Some((_, h)) => a.help(*h),
        None => a,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every verb and flag (help and version aside) of the tree has help text.
    #[test]
    fn every_verb_and_flag_has_help() {
        fn walk(c: &Command, path: &str, missing: &mut Vec<String>) {
            for a in c.get_arguments() {
                let id = a.get_id().as_str();
                if a.get_help().is_none() && !["help", "version"].contains(&id) {
                    missing.push(format!("{path} --{id}"));
                }
            }
            for s in c.get_subcommands() {
                let p = format!("{path} {}", s.get_name());
                if s.get_about().is_none() && s.get_name() != "help" {
                    missing.push(p.clone());
                }
                walk(s, &p, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&command(), "kmsfs", &mut missing);
        assert!(
            missing.is_empty(),
            "{} without help:\n{}",
            missing.len(),
            missing.join("\n")
        );
    }

    /// `--key-id` promises an alias exactly where AWS KMS accepts one.
    #[test]
    fn key_id_help_matches_alias_rules() {
        let c = command();
        let kms = c.find_subcommand("kms").unwrap();
        for verb in [
            "schedule-key-deletion",
            "enable-key-rotation",
            "create-grant",
            "enable-key",
        ] {
            let v = kms.find_subcommand(verb).unwrap();
            let a = v.get_arguments().find(|a| a.get_id() == "key_id").unwrap();
            assert_eq!(a.get_help().unwrap().to_string(), KEY_ID_ONLY, "{verb}");
        }
        for verb in ALIAS_OK {
            assert!(kms.find_subcommand(verb).is_some(), "no verb {verb}");
        }
        let v = kms.find_subcommand("encrypt").unwrap();
        let a = v.get_arguments().find(|a| a.get_id() == "key_id").unwrap();
        assert_eq!(a.get_help().unwrap().to_string(), KEY_ID_ALIAS);
    }
}
