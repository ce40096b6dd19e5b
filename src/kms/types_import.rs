//! Request and response shapes of the import operations (GetParametersForImport,
//! ImportKeyMaterial, DeleteImportedKeyMaterial), re-exported by `types.rs`.

use super::b64;
use serde::{Deserialize, Serialize};

shape!(GetParametersForImportRequest {
    key_id: String,
    wrapping_algorithm: String,
    wrapping_key_spec: String,
});
out_shape!(GetParametersForImportResponse {
    key_id: String,
    #[serde(with = "b64")]
    import_token: Vec<u8>,
    /// DER SubjectPublicKeyInfo of the RSA wrapping key.
    #[serde(with = "b64")]
    public_key: Vec<u8>,
    /// Epoch seconds.
    parameters_valid_to: f64,
});

shape!(ImportKeyMaterialRequest {
    key_id: String,
    #[serde(with = "b64")]
    import_token: Vec<u8>,
    #[serde(with = "b64")]
    encrypted_key_material: Vec<u8>,
    /// Epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    valid_to: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    import_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_material_description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_material_id: Option<String>,
});
out_shape!(ImportKeyMaterialResponse {
    key_id: String,
    key_material_id: String,
});

shape!(DeleteImportedKeyMaterialRequest {
    key_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_material_id: Option<String>,
});
out_shape!(DeleteImportedKeyMaterialResponse {
    key_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_material_id: Option<String>,
});
