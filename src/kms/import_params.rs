//! Import parameters (GetParametersForImport): the wrapping key pair, sealed on disk beside
//! the key's record as `keys/<uuid>.import` (the latest parameters of the key; 0600, atomic),
//! and the ImportToken that names them. Both are sealed with the keystore's root key
//! (AES-256-GCM-SIV); docs/FORMAT.md, "Import parameters", gives the bytes.
//!
//! ```text
//! file  = "KMSW" 01 alg spec 00 ‖ nonce(12) ‖ seal(params id(16) ‖ expiry ms(8, BE) ‖ PKCS#8)
//!         AAD = header(20) ‖ keystore id ‖ key id
//! token = "KMIT" 01 alg spec 00 ‖ nonce(12) ‖ seal(key id(16) ‖ params id(16) ‖ expiry ms(8)
//!         ‖ SHA-256(wrapping public key SPKI)(32))         AAD = header(20) ‖ keystore id
//! ```
//!
//! A token is good for one key, one set of parameters (the file's params id and public key),
//! until its expiry; the KMS checks all three (`ops/import.rs`). Opening never panics.

use super::record::SecretVec;
use crate::crypto::asym::KeySpec;
use crate::crypto::import_wrap::WrappingAlgorithm;
use crate::crypto::{AeadKey, CryptoError, NONCE_LEN, SecretBytes, TAG_LEN};
use zeroize::Zeroizing;

pub const FILE_MAGIC: [u8; 4] = *b"KMSW";
pub const TOKEN_MAGIC: [u8; 4] = *b"KMIT";
pub const VERSION: u8 = 1;
/// Magic, version, algorithm, wrapping key spec, a zero byte, nonce.
pub const HEADER_LEN: usize = 20;
/// The plaintext of a token.
const TOKEN_PLAIN_LEN: usize = 16 + 16 + 8 + 32;
/// Bytes of an ImportToken.
pub const TOKEN_LEN: usize = HEADER_LEN + TOKEN_PLAIN_LEN + TAG_LEN;
/// How long parameters are valid: 24 hours.
pub const VALID_MS: i64 = 24 * 3600 * 1000;

/// The wrapping key specs and their bytes in the formats.
const SPECS: [(KeySpec, u8); 3] = [
    (KeySpec::Rsa2048, 1),
    (KeySpec::Rsa3072, 2),
    (KeySpec::Rsa4096, 3),
];

fn spec_code(s: KeySpec) -> u8 {
    SPECS.iter().find(|x| x.0 == s).map_or(0, |x| x.1)
}

fn spec_of(c: u8) -> Option<KeySpec> {
    SPECS.iter().find(|x| x.1 == c).map(|x| x.0)
}

/// One key's import parameters as stored.
#[derive(Debug, Clone)]
pub struct ImportParams {
    pub params_id: [u8; 16],
    pub expires_ms: i64,
    pub algorithm: WrappingAlgorithm,
    pub wrapping_spec: KeySpec,
    /// The wrapping private key, PKCS#8 DER.
    pub private: SecretVec,
}

/// What an ImportToken says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportToken {
    pub key_id: [u8; 16],
    pub params_id: [u8; 16],
    pub expires_ms: i64,
    pub algorithm: WrappingAlgorithm,
    pub wrapping_spec: KeySpec,
    /// SHA-256 of the wrapping public key (DER SubjectPublicKeyInfo).
    pub public_key_sha256: [u8; 32],
}

/// Why import parameters or a token do not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    #[error("{0} bytes, too short")]
    TooShort(usize),
    #[error("bad magic")]
    BadMagic,
    #[error("format version {0} is not supported")]
    BadVersion(u8),
    #[error("unknown wrapping algorithm or key spec, or reserved byte not zero")]
    BadHeader,
    #[error("authentication failed (edited, damaged, for another key or keystore)")]
    Authentication,
    #[error("contents have the wrong length")]
    Length,
}

fn header(magic: [u8; 4], alg: WrappingAlgorithm, spec: KeySpec, nonce: &[u8; 12]) -> Vec<u8> {
    let mut h = magic.to_vec();
    h.extend_from_slice(&[VERSION, alg.code(), spec_code(spec), 0]);
    h.extend_from_slice(nonce);
    h
}

fn aad(header: &[u8], keystore_id: &[u8], key_id: Option<&[u8; 16]>) -> Vec<u8> {
    let mut a = header.to_vec();
    a.extend_from_slice(keystore_id);
    if let Some(k) = key_id {
        a.extend_from_slice(k);
    }
    a
}

/// Check a header; the algorithm, wrapping key spec and nonce it names.
fn parse_header(
    bytes: &[u8],
    magic: [u8; 4],
) -> Result<(WrappingAlgorithm, KeySpec, [u8; NONCE_LEN]), ParamsError> {
    if bytes.len() < HEADER_LEN + TAG_LEN {
        return Err(ParamsError::TooShort(bytes.len()));
    }
    if bytes[0..4] != magic {
        return Err(ParamsError::BadMagic);
    }
    if bytes[4] != VERSION {
        return Err(ParamsError::BadVersion(bytes[4]));
    }
    let alg = WrappingAlgorithm::from_code(bytes[5]).ok_or(ParamsError::BadHeader)?;
    let spec = spec_of(bytes[6]).ok_or(ParamsError::BadHeader)?;
    if bytes[7] != 0 {
        return Err(ParamsError::BadHeader);
    }
    Ok((alg, spec, bytes[8..20].try_into().expect("12 bytes")))
}

/// The bytes of the parameters file of key `key_id`, sealed with `nonce`.
pub fn seal_params(
    root: &AeadKey,
    keystore_id: &[u8],
    key_id: &[u8; 16],
    p: &ImportParams,
    nonce: &[u8; NONCE_LEN],
) -> Result<Vec<u8>, CryptoError> {
    let mut out = header(FILE_MAGIC, p.algorithm, p.wrapping_spec, nonce);
    let mut plain = Zeroizing::new(Vec::with_capacity(24 + p.private.0.len()));
    plain.extend_from_slice(&p.params_id);
    plain.extend_from_slice(&p.expires_ms.to_be_bytes());
    plain.extend_from_slice(&p.private.0);
    let aad = aad(&out, keystore_id, Some(key_id));
    root.seal_into(nonce, &aad, &plain, &mut out)?;
    Ok(out)
}

/// Open the parameters file of key `key_id`.
pub fn open_params(
    root: &AeadKey,
    keystore_id: &[u8],
    key_id: &[u8; 16],
    bytes: &[u8],
) -> Result<ImportParams, ParamsError> {
    let (algorithm, wrapping_spec, nonce) = parse_header(bytes, FILE_MAGIC)?;
    let aad = aad(&bytes[..HEADER_LEN], keystore_id, Some(key_id));
    let plain: SecretBytes = root
        .open(&nonce, &aad, &bytes[HEADER_LEN..])
        .map_err(|_| ParamsError::Authentication)?;
    let p = plain.expose();
    if p.len() <= 24 {
        return Err(ParamsError::Length);
    }
    Ok(ImportParams {
        params_id: p[0..16].try_into().expect("16 bytes"),
        expires_ms: i64::from_be_bytes(p[16..24].try_into().expect("8 bytes")),
        algorithm,
        wrapping_spec,
        private: SecretVec(Zeroizing::new(p[24..].to_vec())),
    })
}

/// The bytes of an ImportToken, sealed with `nonce`.
pub fn seal_token(
    root: &AeadKey,
    keystore_id: &[u8],
    t: &ImportToken,
    nonce: &[u8; NONCE_LEN],
) -> Result<Vec<u8>, CryptoError> {
    let mut out = header(TOKEN_MAGIC, t.algorithm, t.wrapping_spec, nonce);
    let mut plain = Vec::with_capacity(TOKEN_PLAIN_LEN);
    plain.extend_from_slice(&t.key_id);
    plain.extend_from_slice(&t.params_id);
    plain.extend_from_slice(&t.expires_ms.to_be_bytes());
    plain.extend_from_slice(&t.public_key_sha256);
    let aad = aad(&out, keystore_id, None);
    root.seal_into(nonce, &aad, &plain, &mut out)?;
    Ok(out)
}

/// Open an ImportToken (any bytes a caller sends).
pub fn open_token(
    root: &AeadKey,
    keystore_id: &[u8],
    bytes: &[u8],
) -> Result<ImportToken, ParamsError> {
    let (algorithm, wrapping_spec, nonce) = parse_header(bytes, TOKEN_MAGIC)?;
    if bytes.len() != TOKEN_LEN {
        return Err(ParamsError::Length);
    }
    let aad = aad(&bytes[..HEADER_LEN], keystore_id, None);
    let plain = root
        .open(&nonce, &aad, &bytes[HEADER_LEN..])
        .map_err(|_| ParamsError::Authentication)?;
    let p = plain.expose();
    Ok(ImportToken {
        key_id: p[0..16].try_into().expect("16 bytes"),
        params_id: p[16..32].try_into().expect("16 bytes"),
        expires_ms: i64::from_be_bytes(p[32..40].try_into().expect("8 bytes")),
        algorithm,
        wrapping_spec,
        public_key_sha256: p[40..72].try_into().expect("32 bytes"),
    })
}
