//! Signatures, MACs, public keys and key agreement: Sign, Verify, GetPublicKey,
//! GenerateMac, VerifyMac, DeriveSharedSecret; and the checks every operation makes that a
//! key is of the kind it needs (`InvalidKeyUsageException` with AWS's text otherwise).
//!
//! The parsed private and HMAC keys come from the loaded key (`LoadedKey::asym`, parsed
//! once per load); the cryptography is `crypto::asym`'s.

use super::Result;
use super::check_grant_tokens;
use crate::crypto::SecretBytes;
use crate::crypto::asym::{
    HmacKey, KeyAgreementAlgorithm, MacAlgorithm, MessageType, PrivateKey, SigningAlgorithm,
};
use crate::kms::error::KmsError;
use crate::kms::keystore::{AsymKey, LoadedKey};
use crate::kms::record::KeyUsage;
use crate::kms::service::{Call, MAX_PLAINTEXT};
use crate::kms::types::*;
use std::sync::Arc;

/// The key's usage is `want`: `<arn> key usage is X which is not valid for <Operation>.`
pub(super) fn require_usage(c: &Call, k: &LoadedKey, want: KeyUsage) -> Result<()> {
    if k.record.usage != want {
        return Err(KmsError::InvalidKeyUsage(format!(
            "{} key usage is {} which is not valid for {}.",
            c.key_arn(k),
            k.record.usage.as_str(),
            c.operation()
        )));
    }
    Ok(())
}

/// The key is a symmetric encryption key (the only kind that makes ciphertext blobs).
pub(super) fn require_symmetric(c: &Call, k: &LoadedKey) -> Result<()> {
    require_usage(c, k, KeyUsage::EncryptDecrypt)?;
    if let Some(spec) = k.record.spec {
        return Err(KmsError::InvalidKeyUsage(format!(
            "{} key spec is {spec} which is not valid for {}.",
            c.key_arn(k),
            c.operation()
        )));
    }
    Ok(())
}

/// The current private key of an asymmetric key.
pub(super) fn private_key(k: &LoadedKey) -> Result<&PrivateKey> {
    match k.asym.last() {
        Some(Some(AsymKey::Private(p))) => Ok(p),
        _ => Err(KmsError::Internal(
            "the key's private key does not load".into(),
        )),
    }
}

fn hmac_key(k: &LoadedKey) -> Result<&HmacKey> {
    match k.asym.last() {
        Some(Some(AsymKey::Hmac(h))) => Ok(h),
        _ => Err(KmsError::Internal(
            "the key's HMAC key does not load".into(),
        )),
    }
}

/// An AWS enum member: its value, a ValidationException listing `all` otherwise.
pub(super) fn parse_enum<T: Copy>(
    v: &str,
    member: &str,
    parse: fn(&str) -> Option<T>,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Result<T> {
    parse(v).ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|t| name(*t)).collect();
        let set = format!("Member must satisfy enum value set: [{}]", names.join(", "));
        KmsError::bound(v, member, &set)
    })
}

/// A Message member (Sign, Verify, GenerateMac, VerifyMac): 1 to 4096 bytes.
fn check_message(m: &SecretBytes) -> Result<()> {
    if m.is_empty() || m.len() > MAX_PLAINTEXT {
        return Err(KmsError::bound(
            format!("<{} bytes>", m.len()),
            "message",
            "Member must have length between 1 and 4096",
        ));
    }
    Ok(())
}

/// SigningAlgorithm and MessageType (RAW when absent) of Sign and Verify.
fn signing(alg: &str, mt: Option<&str>) -> Result<(SigningAlgorithm, MessageType)> {
    let alg = parse_enum(
        alg,
        "signingAlgorithm",
        SigningAlgorithm::parse,
        SigningAlgorithm::ALL,
        SigningAlgorithm::name,
    )?;
    let mt = match mt {
        None => MessageType::Raw,
        Some(m) => parse_enum(
            m,
            "messageType",
            MessageType::parse,
            MessageType::ALL,
            MessageType::name,
        )?,
    };
    Ok((alg, mt))
}

/// Sign's and Verify's checks, in order: grant tokens, message, algorithm and message
/// type (noted for the policies), then the key: resolved, authorized, enabled,
/// SIGN_VERIFY, and its family's quota token.
fn signing_key(
    c: &Call,
    key_id: &str,
    alg: &str,
    mt: Option<&str>,
    message: &SecretBytes,
    grant_tokens: &Option<Vec<String>>,
) -> Result<(Arc<LoadedKey>, SigningAlgorithm, MessageType)> {
    check_grant_tokens(grant_tokens)?;
    check_message(message)?;
    let (alg, mt) = signing(alg, mt)?;
    c.note_request_keys(|k| {
        k.signing_algorithm = Some(alg.name().into());
        k.message_type = Some(mt.name().into());
    });
    let k = c.resolve_usable(key_id)?;
    require_usage(c, &k, KeyUsage::SignVerify)?;
    c.admit_key(k.record.spec)?;
    Ok((k, alg, mt))
}

pub(super) fn sign(c: &Call, req: SignRequest) -> Result<SignResponse> {
    let (k, alg, mt) = signing_key(
        c,
        &req.key_id,
        &req.signing_algorithm,
        req.message_type.as_deref(),
        &req.message,
        &req.grant_tokens,
    )?;
    let signature = private_key(&k)?.sign(alg, mt, req.message.expose())?;
    Ok(SignResponse {
        key_id: c.key_arn(&k).to_string(),
        signature,
        signing_algorithm: alg.name().into(),
    })
}

pub(super) fn verify(c: &Call, req: VerifyRequest) -> Result<VerifyResponse> {
    let (k, alg, mt) = signing_key(
        c,
        &req.key_id,
        &req.signing_algorithm,
        req.message_type.as_deref(),
        &req.message,
        &req.grant_tokens,
    )?;
    private_key(&k)?.verify(alg, mt, req.message.expose(), &req.signature)?;
    Ok(VerifyResponse {
        key_id: c.key_arn(&k).to_string(),
        signature_valid: true,
        signing_algorithm: alg.name().into(),
    })
}

fn names<T: Copy>(v: &[T], name: fn(T) -> &'static str) -> Option<Vec<String>> {
    (!v.is_empty()).then(|| v.iter().map(|t| name(*t).to_string()).collect())
}

pub(super) fn get_public_key(c: &Call, req: KeyIdRequest) -> Result<GetPublicKeyResponse> {
    check_grant_tokens(&req.grant_tokens)?;
    let k = c.resolve_usable(&req.key_id)?;
    let spec = match k.record.spec {
        Some(s) if s.mac_algorithm().is_none() => s,
        _ => {
            return Err(KmsError::UnsupportedOperation(format!(
                "{} key spec is {} which is not valid for GetPublicKey.",
                c.key_arn(&k),
                k.record.spec_name()
            )));
        }
    };
    let usage = k.record.usage;
    let public = private_key(&k)?.public_key();
    let pick = |u: KeyUsage| usage == u;
    Ok(GetPublicKeyResponse {
        key_id: c.key_arn(&k).to_string(),
        public_key: public.spki().to_vec(),
        customer_master_key_spec: spec.name().into(),
        key_spec: spec.name().into(),
        key_usage: usage.as_str().into(),
        encryption_algorithms: names(spec.encryption_algorithms(), |a| a.name())
            .filter(|_| pick(KeyUsage::EncryptDecrypt)),
        signing_algorithms: names(spec.signing_algorithms(), |a| a.name())
            .filter(|_| pick(KeyUsage::SignVerify)),
        key_agreement_algorithms: names(spec.key_agreement_algorithms(), |a| a.name())
            .filter(|_| pick(KeyUsage::KeyAgreement)),
    })
}

/// The MacAlgorithm of a request, which must be the key's.
fn mac_algorithm(k: &LoadedKey, alg: MacAlgorithm) -> Result<()> {
    if k.record.spec.and_then(|s| s.mac_algorithm()) != Some(alg) {
        return Err(KmsError::InvalidKeyUsage(format!(
            "Algorithm {alg} is incompatible with key spec {}.",
            k.record.spec_name()
        )));
    }
    Ok(())
}

fn parse_mac(v: &str) -> Result<MacAlgorithm> {
    parse_enum(
        v,
        "macAlgorithm",
        MacAlgorithm::parse,
        MacAlgorithm::ALL,
        MacAlgorithm::name,
    )
}

/// GenerateMac's and VerifyMac's checks, in order: grant tokens, message, algorithm
/// (noted for the policies), then the key: resolved, authorized, enabled,
/// GENERATE_VERIFY_MAC, of the algorithm's spec.
fn mac_key(
    c: &Call,
    key_id: &str,
    alg: &str,
    message: &SecretBytes,
    grant_tokens: &Option<Vec<String>>,
) -> Result<(Arc<LoadedKey>, MacAlgorithm)> {
    check_grant_tokens(grant_tokens)?;
    check_message(message)?;
    let alg = parse_mac(alg)?;
    c.note_request_keys(|k| k.mac_algorithm = Some(alg.name().into()));
    let k = c.resolve_usable(key_id)?;
    require_usage(c, &k, KeyUsage::GenerateVerifyMac)?;
    mac_algorithm(&k, alg)?;
    Ok((k, alg))
}

pub(super) fn generate_mac(c: &Call, req: GenerateMacRequest) -> Result<GenerateMacResponse> {
    let (k, alg) = mac_key(
        c,
        &req.key_id,
        &req.mac_algorithm,
        &req.message,
        &req.grant_tokens,
    )?;
    let mac = hmac_key(&k)?.mac(alg, req.message.expose())?;
    Ok(GenerateMacResponse {
        mac,
        mac_algorithm: alg.name().into(),
        key_id: c.key_arn(&k).to_string(),
    })
}

pub(super) fn verify_mac(c: &Call, req: VerifyMacRequest) -> Result<VerifyMacResponse> {
    let (k, alg) = mac_key(
        c,
        &req.key_id,
        &req.mac_algorithm,
        &req.message,
        &req.grant_tokens,
    )?;
    hmac_key(&k)?.verify(alg, req.message.expose(), &req.mac)?;
    Ok(VerifyMacResponse {
        key_id: c.key_arn(&k).to_string(),
        mac_valid: true,
        mac_algorithm: alg.name().into(),
    })
}

pub(super) fn derive_shared_secret(
    c: &Call,
    req: DeriveSharedSecretRequest,
) -> Result<DeriveSharedSecretResponse> {
    check_grant_tokens(&req.grant_tokens)?;
    let alg = parse_enum(
        &req.key_agreement_algorithm,
        "keyAgreementAlgorithm",
        KeyAgreementAlgorithm::parse,
        KeyAgreementAlgorithm::ALL,
        KeyAgreementAlgorithm::name,
    )?;
    if req.public_key.is_empty() || req.public_key.len() > 8192 {
        return Err(KmsError::bound(
            format!("<{} bytes>", req.public_key.len()),
            "publicKey",
            "Member must have length between 1 and 8192",
        ));
    }
    let k = c.resolve_usable(&req.key_id)?;
    require_usage(c, &k, KeyUsage::KeyAgreement)?;
    c.admit_key(k.record.spec)?;
    let shared_secret = private_key(&k)?.derive_shared_secret(&req.public_key)?;
    Ok(DeriveSharedSecretResponse {
        key_id: c.key_arn(&k).to_string(),
        shared_secret,
        key_agreement_algorithm: alg.name().into(),
        key_origin: k.record.origin.as_str().into(),
    })
}
