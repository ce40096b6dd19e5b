//! ML_DSA_44/65/87 (FIPS 204): ML_DSA_SHAKE_256, pure ML-DSA with an empty context over the
//! RAW message (aws-lc-rs), or over the caller's 64-byte mu for EXTERNAL_MU (FIPS 204's
//! external mu, mu = SHAKE256(SHAKE256(pk, 64) || 0 || 0 || M, 64)): aws-lc-rs 1.19 does not
//! expose that, AWS-LC's `EVP_PKEY_sign`/`EVP_PKEY_verify` on an ML-DSA key do (`extmu`).

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{
    self, KeyPair, PqdsaKeyPair, PqdsaSigningAlgorithm, PqdsaVerificationAlgorithm,
    UnparsedPublicKey,
};

use super::{AsymError, KeySpec};
use crate::crypto::SecretBytes;

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

    /// Sign `message` (RAW), or the mu it is (EXTERNAL_MU) with the key whose PKCS#8 DER is
    /// `pkcs8`.
    pub(super) fn sign(
        &self,
        pkcs8: &[u8],
        mt: super::MessageType,
        message: &[u8],
    ) -> Result<Vec<u8>, AsymError> {
        if mt == super::MessageType::ExternalMu {
            return extmu::sign(pkcs8, message);
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
        return match extmu::verify(spki, message, sig) {
            true => Ok(()),
            false => Err(AsymError::InvalidSignature),
        };
    }
    UnparsedPublicKey::new(verification(spec), spki)
        .verify(message, sig)
        .map_err(|_| AsymError::InvalidSignature)
}

/// ML-DSA over an external mu through AWS-LC's EVP interface (its "digest" mode for PQDSA
/// keys takes mu and checks that it is 64 bytes).
mod extmu {
    use super::AsymError;
    use aws_lc_sys as sys;
    use std::mem::MaybeUninit;
    use std::ptr;

    struct Pkey(*mut sys::EVP_PKEY);

    impl Drop for Pkey {
        fn drop(&mut self) {
            // SAFETY: a key from EVP_parse_*_key, freed once.
            unsafe { sys::EVP_PKEY_free(self.0) }
        }
    }

    struct Ctx(*mut sys::EVP_PKEY_CTX);

    impl Drop for Ctx {
        fn drop(&mut self) {
            // SAFETY: a context from EVP_PKEY_CTX_new, freed once.
            unsafe { sys::EVP_PKEY_CTX_free(self.0) }
        }
    }

    /// The EVP key of a DER PKCS#8 (`private`) or SubjectPublicKeyInfo, and a context on it.
    fn context(der: &[u8], private: bool) -> Option<(Pkey, Ctx)> {
        let mut cbs = MaybeUninit::<sys::CBS>::uninit();
        // SAFETY: CBS_init fills the CBS to read `der`, which outlives the parse; the parse
        // returns an owned key or NULL; the context takes its own reference to the key.
        unsafe {
            sys::CBS_init(cbs.as_mut_ptr(), der.as_ptr(), der.len());
            let key = match private {
                true => sys::EVP_parse_private_key(cbs.as_mut_ptr()),
                false => sys::EVP_parse_public_key(cbs.as_mut_ptr()),
            };
            if key.is_null() {
                sys::ERR_clear_error();
                return None;
            }
            let key = Pkey(key);
            let ctx = sys::EVP_PKEY_CTX_new(key.0, ptr::null_mut());
            (!ctx.is_null()).then(|| (key, Ctx(ctx)))
        }
    }

    pub(super) fn sign(pkcs8: &[u8], mu: &[u8]) -> Result<Vec<u8>, AsymError> {
        let err = AsymError::Library("ML-DSA external-mu signing");
        let (_key, ctx) = context(pkcs8, true).ok_or(err.clone())?;
        let mut len = 0usize;
        // SAFETY: a valid context; the first call asks the length, the second writes at
        // most `len` bytes into `sig`.
        unsafe {
            if sys::EVP_PKEY_sign_init(ctx.0) != 1
                || sys::EVP_PKEY_sign(ctx.0, ptr::null_mut(), &mut len, mu.as_ptr(), mu.len()) != 1
            {
                sys::ERR_clear_error();
                return Err(err);
            }
            let mut sig = vec![0u8; len];
            if sys::EVP_PKEY_sign(ctx.0, sig.as_mut_ptr(), &mut len, mu.as_ptr(), mu.len()) != 1 {
                sys::ERR_clear_error();
                return Err(err);
            }
            sig.truncate(len);
            Ok(sig)
        }
    }

    pub(super) fn verify(spki: &[u8], mu: &[u8], sig: &[u8]) -> bool {
        let Some((_key, ctx)) = context(spki, false) else {
            return false;
        };
        // SAFETY: a valid context and buffers of the lengths given.
        unsafe {
            let ok = sys::EVP_PKEY_verify_init(ctx.0) == 1
                && sys::EVP_PKEY_verify(ctx.0, sig.as_ptr(), sig.len(), mu.as_ptr(), mu.len()) == 1;
            sys::ERR_clear_error();
            ok
        }
    }
}
