//! Helpers of kms_import.rs and kms_import_clients.rs: an EXTERNAL key, its import
//! parameters, wrapping (as OpenSSL does), import, encrypt, decrypt, error codes.
#![allow(dead_code, unused_imports)]

use super::common::cli::{fails, init, kmsfs, run_ok, s};
use super::common::kms::{Env, env};
use super::common::mount::tool_or_skip;
use super::common::serve::{Server, aws_tool, check, python_or_skip};
use kmsfs::crypto::asym::{HmacKey, KeySpec, MacAlgorithm, PrivateKey, PublicKey};
use kmsfs::crypto::import_wrap::{self, WrappingAlgorithm};
use kmsfs::crypto::{AeadKey, SecretBytes, SecretKey, hex};
use kmsfs::kms::import_params::{self, ImportParams, ImportToken, ParamsError};
use kmsfs::kms::record::SecretVec;
use kmsfs::kms::types::*;
use kmsfs::kms::{Client, Clock, KmsError};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

pub(crate) const DAY_MS: i64 = 86_400_000;

pub(crate) fn openssl(args: &[&str]) {
    let o = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl");
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

pub(crate) fn b64(v: &Value) -> Vec<u8> {
    b64::decode(v.as_str().unwrap()).unwrap()
}

// ----- the kms API ----------------------------------------------------------------------

pub(crate) fn external_key(e: &Env) -> String {
    let r = e.c.create_key(CreateKeyRequest {
        origin: Some("EXTERNAL".into()),
        ..Default::default()
    });
    let m = r.unwrap().key_metadata;
    assert_eq!(
        (m.key_state.as_str(), m.origin.as_str(), m.enabled),
        ("PendingImport", "EXTERNAL", false)
    );
    m.key_id
}

pub(crate) fn params(e: &Env, key: &str, alg: &str) -> GetParametersForImportResponse {
    e.c.get_parameters_for_import(GetParametersForImportRequest {
        key_id: key.into(),
        wrapping_algorithm: alg.into(),
        wrapping_key_spec: "RSA_2048".into(),
    })
    .unwrap()
}

pub(crate) fn wrap(p: &GetParametersForImportResponse, alg: &str, material: &[u8]) -> Vec<u8> {
    let public = PublicKey::from_spki(KeySpec::Rsa2048, &p.public_key).unwrap();
    import_wrap::wrap(&public, WrappingAlgorithm::parse(alg).unwrap(), material).unwrap()
}

pub(crate) fn import_req(key: &str, token: &[u8], wrapped: Vec<u8>) -> ImportKeyMaterialRequest {
    ImportKeyMaterialRequest {
        key_id: key.into(),
        import_token: token.to_vec(),
        encrypted_key_material: wrapped,
        ..Default::default()
    }
}

/// Get parameters, wrap `material`, import it (no expiry).
pub(crate) fn import(
    e: &Env,
    key: &str,
    material: &[u8],
) -> Result<ImportKeyMaterialResponse, KmsError> {
    let p = params(e, key, "RSAES_OAEP_SHA_256");
    let w = wrap(&p, "RSAES_OAEP_SHA_256", material);
    e.c.import_key_material(import_req(key, &p.import_token, w))
}

pub(crate) fn encrypt(e: &Env, key: &str) -> Result<Vec<u8>, KmsError> {
    e.c.encrypt(EncryptRequest {
        key_id: key.into(),
        plaintext: SecretBytes::from_slice(b"bring your own key"),
        ..Default::default()
    })
    .map(|r| r.ciphertext_blob)
}

pub(crate) fn decrypt(e: &Env, blob: &[u8]) -> Result<Vec<u8>, KmsError> {
    e.c.decrypt(DecryptRequest {
        ciphertext_blob: blob.to_vec(),
        ..Default::default()
    })
    .map(|r| r.plaintext.expose().to_vec())
}

pub(crate) fn state(e: &Env, key: &str) -> KeyMetadata {
    e.c.describe_key(KeyIdRequest {
        key_id: key.into(),
        grant_tokens: None,
    })
    .unwrap()
    .key_metadata
}

pub(crate) fn code<T: std::fmt::Debug>(r: Result<T, KmsError>) -> (String, String) {
    let e = r.unwrap_err();
    (e.code().to_string(), e.message())
}
