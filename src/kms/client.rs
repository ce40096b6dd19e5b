//! `Client`: the one way services (volumes, snapshots, objects) and the CLI reach a KMS.
//! `Embedded` runs the operations in this process against the home's keystore; a remote
//! client speaking the AWS JSON protocol implements the same trait.

use super::error::KmsError;
use super::service::Kms;
use super::types::*;
use std::sync::Arc;

/// The KMS operations, as AWS names them.
pub trait Client: Send + Sync {
    fn create_key(&self, r: CreateKeyRequest) -> Result<CreateKeyResponse, KmsError>;
    fn describe_key(&self, r: KeyIdRequest) -> Result<DescribeKeyResponse, KmsError>;
    fn list_keys(&self, r: ListRequest) -> Result<ListKeysResponse, KmsError>;
    fn create_alias(&self, r: AliasRequest) -> Result<(), KmsError>;
    fn update_alias(&self, r: AliasRequest) -> Result<(), KmsError>;
    fn delete_alias(&self, alias_name: &str) -> Result<(), KmsError>;
    fn list_aliases(&self, r: ListRequest) -> Result<ListAliasesResponse, KmsError>;
    fn encrypt(&self, r: EncryptRequest) -> Result<EncryptResponse, KmsError>;
    fn decrypt(&self, r: DecryptRequest) -> Result<DecryptResponse, KmsError>;
    fn re_encrypt(&self, r: ReEncryptRequest) -> Result<ReEncryptResponse, KmsError>;
    fn generate_data_key(
        &self,
        r: GenerateDataKeyRequest,
    ) -> Result<GenerateDataKeyResponse, KmsError>;
    fn generate_data_key_without_plaintext(
        &self,
        r: GenerateDataKeyRequest,
    ) -> Result<GenerateDataKeyWithoutPlaintextResponse, KmsError>;
    fn generate_random(&self, r: GenerateRandomRequest)
    -> Result<GenerateRandomResponse, KmsError>;
    fn enable_key(&self, r: KeyIdRequest) -> Result<(), KmsError>;
    fn disable_key(&self, r: KeyIdRequest) -> Result<(), KmsError>;
    fn schedule_key_deletion(
        &self,
        r: ScheduleKeyDeletionRequest,
    ) -> Result<ScheduleKeyDeletionResponse, KmsError>;
    fn cancel_key_deletion(&self, r: KeyIdRequest) -> Result<KeyIdResponse, KmsError>;
    fn enable_key_rotation(&self, r: EnableKeyRotationRequest) -> Result<(), KmsError>;
    fn disable_key_rotation(&self, r: KeyIdRequest) -> Result<(), KmsError>;
    fn get_key_rotation_status(
        &self,
        r: KeyIdRequest,
    ) -> Result<GetKeyRotationStatusResponse, KmsError>;
    fn rotate_key_on_demand(&self, r: KeyIdRequest) -> Result<KeyIdResponse, KmsError>;
    fn list_key_rotations(&self, r: ListRequest) -> Result<ListKeyRotationsResponse, KmsError>;
    fn tag_resource(&self, r: TagResourceRequest) -> Result<(), KmsError>;
    fn untag_resource(&self, r: UntagResourceRequest) -> Result<(), KmsError>;
    fn list_resource_tags(&self, r: ListRequest) -> Result<ListResourceTagsResponse, KmsError>;
    fn update_key_description(&self, r: UpdateKeyDescriptionRequest) -> Result<(), KmsError>;
    fn get_key_policy(&self, r: GetKeyPolicyRequest) -> Result<GetKeyPolicyResponse, KmsError>;
    fn list_key_policies(&self, r: KeyIdRequest) -> Result<ListKeyPoliciesResponse, KmsError>;
}

/// The in-process KMS, acting for one principal.
#[derive(Debug, Clone)]
pub struct Embedded {
    kms: Arc<Kms>,
    principal: Arc<str>,
}

impl Embedded {
    /// A client for `principal` (an IAM ARN, or a service principal such as `ebs.amazonaws.com`).
    pub fn new(kms: Arc<Kms>, principal: impl Into<Arc<str>>) -> Embedded {
        Embedded {
            kms,
            principal: principal.into(),
        }
    }

    /// A client acting as the calling Unix user.
    pub fn as_os_user(kms: Arc<Kms>) -> Embedded {
        let p = kms.os_principal();
        Embedded::new(kms, p)
    }

    pub fn kms(&self) -> &Arc<Kms> {
        &self.kms
    }

    pub fn principal(&self) -> &str {
        &self.principal
    }
}

macro_rules! delegate {
    ($($name:ident($req:ty) -> $out:ty;)*) => {
        $(fn $name(&self, r: $req) -> Result<$out, KmsError> {
            self.kms.$name(&self.principal, r)
        })*
    };
}

impl Client for Embedded {
    delegate! {
        create_key(CreateKeyRequest) -> CreateKeyResponse;
        describe_key(KeyIdRequest) -> DescribeKeyResponse;
        list_keys(ListRequest) -> ListKeysResponse;
        create_alias(AliasRequest) -> ();
        update_alias(AliasRequest) -> ();
        list_aliases(ListRequest) -> ListAliasesResponse;
        encrypt(EncryptRequest) -> EncryptResponse;
        decrypt(DecryptRequest) -> DecryptResponse;
        re_encrypt(ReEncryptRequest) -> ReEncryptResponse;
        generate_data_key(GenerateDataKeyRequest) -> GenerateDataKeyResponse;
        generate_data_key_without_plaintext(GenerateDataKeyRequest) -> GenerateDataKeyWithoutPlaintextResponse;
        generate_random(GenerateRandomRequest) -> GenerateRandomResponse;
        enable_key(KeyIdRequest) -> ();
        disable_key(KeyIdRequest) -> ();
        schedule_key_deletion(ScheduleKeyDeletionRequest) -> ScheduleKeyDeletionResponse;
        cancel_key_deletion(KeyIdRequest) -> KeyIdResponse;
        enable_key_rotation(EnableKeyRotationRequest) -> ();
        disable_key_rotation(KeyIdRequest) -> ();
        get_key_rotation_status(KeyIdRequest) -> GetKeyRotationStatusResponse;
        rotate_key_on_demand(KeyIdRequest) -> KeyIdResponse;
        list_key_rotations(ListRequest) -> ListKeyRotationsResponse;
        tag_resource(TagResourceRequest) -> ();
        untag_resource(UntagResourceRequest) -> ();
        list_resource_tags(ListRequest) -> ListResourceTagsResponse;
        update_key_description(UpdateKeyDescriptionRequest) -> ();
        get_key_policy(GetKeyPolicyRequest) -> GetKeyPolicyResponse;
        list_key_policies(KeyIdRequest) -> ListKeyPoliciesResponse;
    }

    fn delete_alias(&self, alias_name: &str) -> Result<(), KmsError> {
        self.kms.delete_alias(&self.principal, alias_name)
    }
}
