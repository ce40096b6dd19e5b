//! The KMS operations, one file per family. Each operation is a function of the request
//! in flight (a [`Call`](super::service::Call): the KMS and the request's audit trail) and
//! the request, with the validation of its requests beside it:
//!
//! - `keys`: CreateKey, DescribeKey, ListKeys, EnableKey, DisableKey, UpdateKeyDescription.
//! - `policies`: GetKeyPolicy, ListKeyPolicies, PutKeyPolicy, and the default and AWS-managed policies.
//! - `aliases`: CreateAlias, UpdateAlias, DeleteAlias, ListAliases.
//! - `crypto`: Encrypt, Decrypt, ReEncrypt (and the ciphertext blob seal/open).
//! - `data_keys`: GenerateDataKey, GenerateDataKeyWithoutPlaintext, GenerateRandom.
//! - `rotation`: EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus,
//!   RotateKeyOnDemand, ListKeyRotations.
//! - `deletion`: ScheduleKeyDeletion, CancelKeyDeletion.
//! - `tags`: TagResource, UntagResource, ListResourceTags.
//! - `multi_region`: ReplicateKey, UpdatePrimaryRegion (and keeping a multi-Region set in sync).
//! - `grants`: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant.
//! - `asym`: Sign, Verify, GetPublicKey, GenerateMac, VerifyMac, DeriveSharedSecret (and
//!   the key-kind checks); `asym_crypto`: Encrypt/Decrypt/ReEncrypt with RSA keys;
//!   `key_pairs`: GenerateDataKeyPair(WithoutPlaintext); `key_specs`: CreateKey's KeySpec
//!   and KeyUsage.
//! - `import`: GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial, and
//!   the rules of EXTERNAL keys (origin, expiry at ValidTo, no rotation).
//!
//! [`for_each_operation!`] lists every operation once; from that list come the public
//! methods of [`Kms`] (each runs its function through the audit hook, [`Kms::run`]), the
//! [`Client`](super::Client) trait and the [`Embedded`](super::Embedded) client. Adding an
//! operation is a function in its family's file and a line in the list.
//!
//! This file also holds the validation and paging several families share.

mod aliases;
mod asym;
mod asym_crypto;
mod crypto;
mod data_keys;
mod deletion;
mod grants;
mod import;
mod key_pairs;
mod key_specs;
mod keys;
mod multi_region;
mod policies;
mod rotation;
mod tags;

use super::caller::Caller;
use super::error::KmsError;
use super::service::Kms;
use super::types::*;
/// The checks a seed file's keys pass too (`seed.rs`).
pub(super) use aliases::check_alias_name;
pub(super) use import::expire as expire_imported_material;
pub(super) use keys::check_description;
pub(super) use rotation::check_rotation_period;
pub(super) use tags::validate_tags;

/// The result of an operation or a check.
type Result<T, E = KmsError> = std::result::Result<T, E>;

/// Calls `$m!` with every KMS operation that takes a request shape, as
/// `family::method(Request) -> Response = "AwsName";`. (DeleteAlias, which takes an alias
/// name, is written out where it is needed.)
macro_rules! for_each_operation {
    ($m:ident) => {
        $m! {
            keys::create_key(CreateKeyRequest) -> CreateKeyResponse = "CreateKey";
            keys::describe_key(KeyIdRequest) -> DescribeKeyResponse = "DescribeKey";
            keys::list_keys(ListRequest) -> ListKeysResponse = "ListKeys";
            aliases::create_alias(AliasRequest) -> () = "CreateAlias";
            aliases::update_alias(AliasRequest) -> () = "UpdateAlias";
            aliases::list_aliases(ListRequest) -> ListAliasesResponse = "ListAliases";
            crypto::encrypt(EncryptRequest) -> EncryptResponse = "Encrypt";
            crypto::decrypt(DecryptRequest) -> DecryptResponse = "Decrypt";
            crypto::re_encrypt(ReEncryptRequest) -> ReEncryptResponse = "ReEncrypt";
            data_keys::generate_data_key(GenerateDataKeyRequest) -> GenerateDataKeyResponse
                = "GenerateDataKey";
            data_keys::generate_data_key_without_plaintext(GenerateDataKeyRequest)
                -> GenerateDataKeyWithoutPlaintextResponse = "GenerateDataKeyWithoutPlaintext";
            data_keys::generate_random(GenerateRandomRequest) -> GenerateRandomResponse
                = "GenerateRandom";
            keys::enable_key(KeyIdRequest) -> () = "EnableKey";
            keys::disable_key(KeyIdRequest) -> () = "DisableKey";
            deletion::schedule_key_deletion(ScheduleKeyDeletionRequest)
                -> ScheduleKeyDeletionResponse = "ScheduleKeyDeletion";
            deletion::cancel_key_deletion(KeyIdRequest) -> KeyIdResponse = "CancelKeyDeletion";
            rotation::enable_key_rotation(EnableKeyRotationRequest) -> () = "EnableKeyRotation";
            rotation::disable_key_rotation(KeyIdRequest) -> () = "DisableKeyRotation";
            rotation::get_key_rotation_status(KeyIdRequest) -> GetKeyRotationStatusResponse
                = "GetKeyRotationStatus";
            rotation::rotate_key_on_demand(KeyIdRequest) -> KeyIdResponse = "RotateKeyOnDemand";
            rotation::list_key_rotations(ListRequest) -> ListKeyRotationsResponse
                = "ListKeyRotations";
            tags::tag_resource(TagResourceRequest) -> () = "TagResource";
            tags::untag_resource(UntagResourceRequest) -> () = "UntagResource";
            tags::list_resource_tags(ListRequest) -> ListResourceTagsResponse = "ListResourceTags";
            keys::update_key_description(UpdateKeyDescriptionRequest) -> ()
                = "UpdateKeyDescription";
            policies::get_key_policy(GetKeyPolicyRequest) -> GetKeyPolicyResponse
                = "GetKeyPolicy";
            policies::list_key_policies(KeyIdRequest) -> ListKeyPoliciesResponse
                = "ListKeyPolicies";
            policies::put_key_policy(PutKeyPolicyRequest) -> () = "PutKeyPolicy";
            grants::create_grant(CreateGrantRequest) -> CreateGrantResponse = "CreateGrant";
            grants::list_grants(ListGrantsRequest) -> ListGrantsResponse = "ListGrants";
            grants::list_retirable_grants(ListRetirableGrantsRequest) -> ListGrantsResponse
                = "ListRetirableGrants";
            grants::retire_grant(RetireGrantRequest) -> () = "RetireGrant";
            grants::revoke_grant(RevokeGrantRequest) -> () = "RevokeGrant";
            multi_region::replicate_key(ReplicateKeyRequest) -> ReplicateKeyResponse
                = "ReplicateKey";
            multi_region::update_primary_region(UpdatePrimaryRegionRequest) -> ()
                = "UpdatePrimaryRegion";
            asym::sign(SignRequest) -> SignResponse = "Sign";
            asym::verify(VerifyRequest) -> VerifyResponse = "Verify";
            asym::get_public_key(KeyIdRequest) -> GetPublicKeyResponse = "GetPublicKey";
            asym::generate_mac(GenerateMacRequest) -> GenerateMacResponse = "GenerateMac";
            asym::verify_mac(VerifyMacRequest) -> VerifyMacResponse = "VerifyMac";
            asym::derive_shared_secret(DeriveSharedSecretRequest) -> DeriveSharedSecretResponse
                = "DeriveSharedSecret";
            key_pairs::generate_data_key_pair(GenerateDataKeyPairRequest)
                -> GenerateDataKeyPairResponse = "GenerateDataKeyPair";
            key_pairs::generate_data_key_pair_without_plaintext(GenerateDataKeyPairRequest)
                -> GenerateDataKeyPairWithoutPlaintextResponse
                = "GenerateDataKeyPairWithoutPlaintext";
            import::get_parameters_for_import(GetParametersForImportRequest)
                -> GetParametersForImportResponse = "GetParametersForImport";
            import::import_key_material(ImportKeyMaterialRequest) -> ImportKeyMaterialResponse
                = "ImportKeyMaterial";
            import::delete_imported_key_material(DeleteImportedKeyMaterialRequest)
                -> DeleteImportedKeyMaterialResponse = "DeleteImportedKeyMaterial";
        }
    };
}
pub(crate) use for_each_operation;

/// The public methods of [`Kms`]: each operation, for a caller, with its audit line.
macro_rules! kms_methods {
    ($($family:ident::$name:ident($req:ty) -> $out:ty = $aws:literal;)*) => {
        impl Kms {
            $(
                #[doc = concat!("`", $aws, "` for `caller`, written to the audit trail.")]
                pub fn $name(&self, caller: &Caller, req: $req) -> Result<$out> {
                    let kms = self.serving(caller, $aws, &req)?;
                    kms.run(caller, $aws, |c| $family::$name(c, req))
                }
            )*
        }
    };
}
for_each_operation!(kms_methods);

/// The AWS names of the KMS's operations (those whose permission is checked).
macro_rules! api_names {
    ($($family:ident::$name:ident($req:ty) -> $out:ty = $aws:literal;)*) => {
        pub(super) const API_OPERATIONS: &[&str] = &[$($aws,)* "DeleteAlias"];
    };
}
for_each_operation!(api_names);

impl Kms {
    /// `DeleteAlias` for `caller`, written to the audit trail.
    pub fn delete_alias(&self, caller: &Caller, alias_name: &str) -> Result<()> {
        let kms = self.serving(caller, "DeleteAlias", &())?;
        kms.run(caller, "DeleteAlias", |c| {
            aliases::delete_alias(c, alias_name)
        })
    }
}

/// GrantTokens: at most 10, each a token this KMS could have issued (1 to 8192
/// characters; `InvalidGrantTokenException` otherwise). A well-formed token of an unknown
/// or retired grant is accepted: tokens only bridge AWS's eventual consistency.
fn check_grant_tokens(t: &Option<Vec<String>>) -> Result<()> {
    if let Some(t) = t {
        if t.len() > 10 {
            return Err(KmsError::bound(
                t.len(),
                "grantTokens",
                "Member must have length less than or equal to 10",
            ));
        }
        for s in t {
            super::grants::GrantToken::parse(s)?;
        }
    }
    Ok(())
}

/// A numeric member that must lie in `min..=max` (a ValidationException naming `member`
/// otherwise; `unit` follows the bounds in its message).
fn check_in_range(v: u32, member: &str, min: u32, max: u32, unit: &str) -> Result<u32> {
    if !(min..=max).contains(&v) {
        let constraint = format!("Member must have value between {min} and {max}{unit}");
        return Err(KmsError::bound(v, member, &constraint));
    }
    Ok(v)
}

/// A list request's Limit: 1 to 1000, 100 when absent.
fn check_limit(l: Option<u32>) -> Result<usize> {
    Ok(check_in_range(l.unwrap_or(100), "limit", 1, 1000, "")? as usize)
}

fn invalid_marker() -> KmsError {
    KmsError::InvalidMarker("Invalid marker".into())
}

/// One page of a list: the first `limit` items, and whether more follow (AWS's
/// `Truncated`). No item past the one that tells is taken from `items`.
fn page<T>(mut items: impl Iterator<Item = T>, limit: usize) -> (Vec<T>, bool) {
    let page: Vec<T> = items.by_ref().take(limit).collect();
    let truncated = page.len() == limit && items.next().is_some();
    (page, truncated)
}

/// The NextMarker of a page: the marker of its last item, when the list was truncated.
fn next_marker<T>(truncated: bool, page: &[T], marker: impl Fn(&T) -> String) -> Option<String> {
    truncated.then(|| page.last().map(marker)).flatten()
}
