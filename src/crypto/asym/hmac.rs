//! HMAC_224/256/384/512: GenerateMac / VerifyMac with HMAC-SHA-224/256/384/512. Generated
//! keys are as long as the hash output (28, 32, 48, 64 bytes); imported material may be
//! longer, up to the hash's block size (64 bytes for SHA-224/256, 128 for SHA-384/512).

use aws_lc_rs::hmac;

use super::{AsymError, KeySpec, MacAlgorithm};
use crate::crypto::SecretBytes;

/// An HMAC key: its spec and its material (zeroized on drop, redacted in `Debug`).
pub struct HmacKey {
    alg: MacAlgorithm,
    material: SecretBytes,
    key: hmac::Key,
}

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HmacKey({}, <redacted>)", self.alg.key_spec())
    }
}

fn lc_alg(alg: MacAlgorithm) -> hmac::Algorithm {
    match alg {
        MacAlgorithm::HmacSha224 => hmac::HMAC_SHA224,
        MacAlgorithm::HmacSha256 => hmac::HMAC_SHA256,
        MacAlgorithm::HmacSha384 => hmac::HMAC_SHA384,
        MacAlgorithm::HmacSha512 => hmac::HMAC_SHA512,
    }
}

/// The material lengths a spec accepts (generated keys take the minimum).
fn material_range(alg: MacAlgorithm) -> (usize, usize) {
    let block = match alg {
        MacAlgorithm::HmacSha224 | MacAlgorithm::HmacSha256 => 64,
        MacAlgorithm::HmacSha384 | MacAlgorithm::HmacSha512 => 128,
    };
    (alg.mac_len(), block)
}

fn alg_of(spec: KeySpec) -> Result<MacAlgorithm, AsymError> {
    spec.mac_algorithm().ok_or(AsymError::WrongOperation {
        op: "compute MACs",
        spec,
    })
}

impl HmacKey {
    /// Fresh random material for an HMAC spec.
    pub fn generate(spec: KeySpec) -> Result<HmacKey, AsymError> {
        let alg = alg_of(spec)?;
        let material = crate::crypto::random_secret(alg.mac_len())
            .map_err(|_| AsymError::Library("the random source"))?;
        HmacKey::from_material(spec, material.expose())
    }

    /// Existing (sealed or imported) material of an HMAC spec; its length must be in range.
    pub fn from_material(spec: KeySpec, material: &[u8]) -> Result<HmacKey, AsymError> {
        let alg = alg_of(spec)?;
        let (min, max) = material_range(alg);
        if !(min..=max).contains(&material.len()) {
            return Err(AsymError::MacKeyLength {
                spec,
                len: material.len(),
                min,
                max,
            });
        }
        Ok(HmacKey {
            alg,
            material: SecretBytes::from_slice(material),
            key: hmac::Key::new(lc_alg(alg), material),
        })
    }

    pub fn spec(&self) -> KeySpec {
        self.alg.key_spec()
    }

    /// The material, for sealing.
    pub fn material(&self) -> &SecretBytes {
        &self.material
    }

    fn check(&self, alg: MacAlgorithm) -> Result<(), AsymError> {
        if alg != self.alg {
            return Err(AsymError::WrongAlgorithm {
                alg: alg.name(),
                spec: self.spec(),
            });
        }
        Ok(())
    }

    /// HMAC of `message` with `alg` (which must be the spec's algorithm).
    pub fn mac(&self, alg: MacAlgorithm, message: &[u8]) -> Result<Vec<u8>, AsymError> {
        self.check(alg)?;
        Ok(hmac::sign(&self.key, message).as_ref().to_vec())
    }

    /// Verify `tag` in constant time; `Err(InvalidMac)` if it does not match.
    pub fn verify(&self, alg: MacAlgorithm, message: &[u8], tag: &[u8]) -> Result<(), AsymError> {
        self.check(alg)?;
        hmac::verify(&self.key, message, tag).map_err(|_| AsymError::InvalidMac)
    }
}
