//! Request and response shapes of the asymmetric and HMAC operations (Sign, Verify,
//! GetPublicKey, GenerateMac, VerifyMac, GenerateDataKeyPair(WithoutPlaintext),
//! DeriveSharedSecret), field for field as AWS JSON 1.1 names them.

use super::b64;
use crate::crypto::SecretBytes;
use crate::kms::context::EncryptionContext;
use serde::{Deserialize, Serialize};

shape!(SignRequest {
    key_id: String,
    #[serde(with = "b64::secret")]
    message: SecretBytes,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grant_tokens: Option<Vec<String>>,
    signing_algorithm: String,
});
out_shape!(SignResponse {
    key_id: String,
    #[serde(with = "b64")]
    signature: Vec<u8>,
    signing_algorithm: String,
});

shape!(VerifyRequest {
    key_id: String,
    #[serde(with = "b64::secret")]
    message: SecretBytes,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_type: Option<String>,
    #[serde(with = "b64")]
    signature: Vec<u8>,
    signing_algorithm: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    grant_tokens: Option<Vec<String>>,
});
out_shape!(VerifyResponse {
    key_id: String,
    signature_valid: bool,
    signing_algorithm: String,
});

out_shape!(GetPublicKeyResponse {
    key_id: String,
    #[serde(with = "b64")]
    public_key: Vec<u8>,
    customer_master_key_spec: String,
    key_spec: String,
    key_usage: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    encryption_algorithms: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    signing_algorithms: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    key_agreement_algorithms: Option<Vec<String>>,
});

shape!(GenerateMacRequest {
    #[serde(with = "b64::secret")]
    message: SecretBytes,
    key_id: String,
    mac_algorithm: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    grant_tokens: Option<Vec<String>>,
});
out_shape!(GenerateMacResponse {
    #[serde(with = "b64")]
    mac: Vec<u8>,
    mac_algorithm: String,
    key_id: String,
});

shape!(VerifyMacRequest {
    #[serde(with = "b64::secret")]
    message: SecretBytes,
    key_id: String,
    mac_algorithm: String,
    #[serde(with = "b64")]
    mac: Vec<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grant_tokens: Option<Vec<String>>,
});
out_shape!(VerifyMacResponse {
    key_id: String,
    mac_valid: bool,
    mac_algorithm: String,
});

shape!(GenerateDataKeyPairRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_context: Option<EncryptionContext>,
    key_id: String,
    key_pair_spec: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    grant_tokens: Option<Vec<String>>,
});
out_shape!(GenerateDataKeyPairResponse {
    #[serde(with = "b64")]
    private_key_ciphertext_blob: Vec<u8>,
    #[serde(with = "b64::secret")]
    private_key_plaintext: SecretBytes,
    #[serde(with = "b64")]
    public_key: Vec<u8>,
    key_id: String,
    key_pair_spec: String,
    key_material_id: String,
});
out_shape!(GenerateDataKeyPairWithoutPlaintextResponse {
    #[serde(with = "b64")]
    private_key_ciphertext_blob: Vec<u8>,
    #[serde(with = "b64")]
    public_key: Vec<u8>,
    key_id: String,
    key_pair_spec: String,
    key_material_id: String,
});

shape!(DeriveSharedSecretRequest {
    key_id: String,
    key_agreement_algorithm: String,
    #[serde(with = "b64")]
    public_key: Vec<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grant_tokens: Option<Vec<String>>,
});
out_shape!(DeriveSharedSecretResponse {
    key_id: String,
    #[serde(with = "b64::secret")]
    shared_secret: SecretBytes,
    key_agreement_algorithm: String,
    key_origin: String,
});
