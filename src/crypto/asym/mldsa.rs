//! ML_DSA_44/65/87 (FIPS 204): ML_DSA_SHAKE_256, pure ML-DSA with an empty context over the
//! RAW message. EXTERNAL_MU (signing a caller's 64-byte mu) is refused: aws-lc-rs 1.19 does
//! not expose it.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{
    self, KeyPair, PqdsaKeyPair, PqdsaSigningAlgorithm, PqdsaVerificationAlgorithm,
    UnparsedPublicKey,
};

use super::{AsymError, KeySpec};
use crate::crypto::SecretBytes;

const EXTERNAL_MU: AsymError = AsymError::Unsupported("ML-DSA with MessageType EXTERNAL_MU");

pub(super) struct MlDsa {
    pair: PqdsaKeyPair,
}

fn signing(spec: KeySpec) -> &'static PqdsaSigningAlgorithm {
    match spec {
        KeySpec::MlDsa44 => &signature::ML_DSA_44_SIGNING,
        KeySpec::MlDsa65 => &signature::ML_DSA_65_SIGNING,
        _ => &signature::ML_DSA_87_SIGNING,
    }
}

fn verification(spec: KeySpec) -> &'static PqdsaVerificationAlgorithm {
    match spec {
        KeySpec::MlDsa44 => &signature::ML_DSA_44,
        KeySpec::MlDsa65 => &signature::ML_DSA_65,
        _ => &signature::ML_DSA_87,
    }
}

/// A fresh ML-DSA key of `spec`, as PKCS#8 DER.
pub(super) fn generate(spec: KeySpec) -> Result<SecretBytes, AsymError> {
    let err = AsymError::Library("ML-DSA key generation");
    let pair = PqdsaKeyPair::generate(signing(spec)).map_err(|_| err.clone())?;
    let der = pair.private_key().as_der().map_err(|_| err)?;
    Ok(SecretBytes::from_slice(der.as_ref()))
}

impl MlDsa {
    pub(super) fn from_pkcs8(spec: KeySpec, der: &[u8]) -> Result<MlDsa, AsymError> {
        let pair =
            PqdsaKeyPair::from_pkcs8(signing(spec), der).map_err(|_| AsymError::InvalidKey {
                what: "PKCS#8 private key",
                spec,
            })?;
        Ok(MlDsa { pair })
    }

    pub(super) fn spki(&self) -> Vec<u8> {
        self.pair
            .public_key()
            .as_der()
            .map(|d| d.as_ref().to_vec())
            .unwrap_or_default()
    }

    pub(super) fn sign(
        &self,
        mt: super::MessageType,
        message: &[u8],
    ) -> Result<Vec<u8>, AsymError> {
        if mt == super::MessageType::ExternalMu {
            return Err(EXTERNAL_MU);
        }
        let mut sig = vec![0; self.pair.algorithm().signature_len()];
        let n = self
            .pair
            .sign(message, &mut sig)
            .map_err(|_| AsymError::Library("ML-DSA signing"))?;
        sig.truncate(n);
        Ok(sig)
    }
}

/// Whether `spki` is an ML-DSA SubjectPublicKeyInfo of `spec`'s parameter set.
pub(super) fn check_spki(spec: KeySpec, spki: &[u8]) -> bool {
    spki.first() == Some(&0x30)
        && UnparsedPublicKey::new(verification(spec), spki)
            .parse()
            .is_ok()
}

pub(super) fn verify(
    spec: KeySpec,
    spki: &[u8],
    mt: super::MessageType,
    message: &[u8],
    sig: &[u8],
) -> Result<(), AsymError> {
    if mt == super::MessageType::ExternalMu {
        return Err(EXTERNAL_MU);
    }
    UnparsedPublicKey::new(verification(spec), spki)
        .verify(message, sig)
        .map_err(|_| AsymError::InvalidSignature)
}
