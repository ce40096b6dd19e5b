//! Asymmetric and HMAC cryptography for every key spec AWS KMS offers, on AWS-LC (`aws-lc-rs`):
//! key generation, PKCS#8 private keys (to be sealed by the caller), DER SubjectPublicKeyInfo
//! public keys, RSAES-OAEP, signatures with AWS's RAW / DIGEST / EXTERNAL_MU semantics, ECDH
//! and HMAC. No I/O, and nothing of KMS: names are AWS's, policy is the caller's.
//!
//! One file per family: `rsa`, `ecc` (ECDSA and ECDH), `ed25519`, `mldsa`, `hmac`; `spec`
//! holds the names and the algorithm tables. Private keys live in zeroizing buffers and
//! never appear in `Debug` or in errors.

mod ecc;
mod ed25519;
mod hmac;
mod mldsa;
mod rsa;
mod spec;

pub use hmac::HmacKey;
pub use spec::{
    EncryptionAlgorithm, Family, Hash, KeyAgreementAlgorithm, KeySpec, MacAlgorithm, MessageType,
    SigningAlgorithm,
};

use crate::crypto::SecretBytes;

/// Errors of the asymmetric layer. They never carry key material, plaintext or messages.
/// Texts that AWS words in a known way (digest length, RSA size limit) use AWS's words.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum AsymError {
    /// The algorithm does not go with the key spec (e.g. ECDSA_SHA_384 on ECC_NIST_P256).
    #[error("algorithm {alg} is not valid for key spec {spec}")]
    WrongAlgorithm { alg: &'static str, spec: KeySpec },
    /// The operation does not exist for the key's family (e.g. encrypting with an ECC key).
    #[error("key spec {spec} cannot {op}")]
    WrongOperation { op: &'static str, spec: KeySpec },
    /// The message type is not accepted with the algorithm (e.g. DIGEST with ED25519_SHA_512).
    #[error("message type {mt} is not valid for algorithm {alg}")]
    WrongMessageType {
        mt: MessageType,
        alg: SigningAlgorithm,
    },
    /// A DIGEST (or EXTERNAL_MU) message of the wrong length.
    #[error("Digest is invalid length for algorithm {0}.")]
    DigestLength(SigningAlgorithm),
    /// RSAES-OAEP plaintext over the limit for the key size and hash.
    #[error("Algorithm {alg} and key spec {spec} cannot encrypt data larger than {max} bytes.")]
    PlaintextTooLarge {
        alg: EncryptionAlgorithm,
        spec: KeySpec,
        max: usize,
    },
    /// The signature does not verify.
    #[error("the signature is not valid")]
    InvalidSignature,
    /// The MAC does not verify.
    #[error("the MAC is not valid")]
    InvalidMac,
    /// RSAES-OAEP decryption failed (wrong key, wrong algorithm, or tampered ciphertext).
    #[error("the ciphertext cannot be decrypted with this key and algorithm")]
    Decrypt,
    /// A private key, public key or key material that does not parse as the spec says.
    #[error("invalid {what} for key spec {spec}")]
    InvalidKey { what: &'static str, spec: KeySpec },
    /// HMAC key material of a length outside the spec's range.
    #[error("HMAC key material of {len} bytes is invalid for {spec} (allowed: {min} to {max})")]
    MacKeyLength {
        spec: KeySpec,
        len: usize,
        min: usize,
        max: usize,
    },
    /// Something AWS offers that AWS-LC does not expose here.
    #[error("{0} is not supported")]
    Unsupported(&'static str),
    /// The library failed where it should not (generation, signing, RNG).
    #[error("{0} failed in the crypto library")]
    Library(&'static str),
}

/// A private key of an asymmetric spec. Holds the PKCS#8 DER (zeroized on drop) and the
/// parsed key; `Debug` shows only the spec.
pub struct PrivateKey {
    spec: KeySpec,
    pkcs8: SecretBytes,
    inner: Inner,
}

enum Inner {
    Rsa(rsa::Rsa),
    Ecc(ecc::Ecc),
    Ed25519(ed25519::Ed25519),
    MlDsa(mldsa::MlDsa),
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({}, <redacted>)", self.spec)
    }
}

impl PrivateKey {
    /// A fresh key pair of `spec` (not HMAC: see [`HmacKey::generate`]).
    pub fn generate(spec: KeySpec) -> Result<PrivateKey, AsymError> {
        let pkcs8 = match spec.family() {
            Family::Rsa => rsa::generate(spec)?,
            Family::Ecc => ecc::generate(spec)?,
            Family::Ed25519 => ed25519::generate()?,
            Family::MlDsa => mldsa::generate(spec)?,
            Family::Hmac => {
                return Err(AsymError::WrongOperation {
                    op: "have a key pair",
                    spec,
                });
            }
        };
        PrivateKey::from_pkcs8(spec, pkcs8.expose())
    }

    /// Parse a PKCS#8 `PrivateKeyInfo` (DER) of `spec`; refuses a key of another spec.
    pub fn from_pkcs8(spec: KeySpec, der: &[u8]) -> Result<PrivateKey, AsymError> {
        let inner = match spec.family() {
            Family::Rsa => Inner::Rsa(rsa::Rsa::from_pkcs8(spec, der)?),
            Family::Ecc => Inner::Ecc(ecc::Ecc::from_pkcs8(spec, der)?),
            Family::Ed25519 => Inner::Ed25519(ed25519::Ed25519::from_pkcs8(spec, der)?),
            Family::MlDsa => Inner::MlDsa(mldsa::MlDsa::from_pkcs8(spec, der)?),
            Family::Hmac => {
                return Err(AsymError::WrongOperation {
                    op: "have a key pair",
                    spec,
                });
            }
        };
        Ok(PrivateKey {
            spec,
            pkcs8: SecretBytes::from_slice(der),
            inner,
        })
    }

    pub fn spec(&self) -> KeySpec {
        self.spec
    }

    /// The private key as PKCS#8 DER, for sealing (and for GenerateDataKeyPair).
    pub fn pkcs8(&self) -> &SecretBytes {
        &self.pkcs8
    }

    /// The public key as DER SubjectPublicKeyInfo (what GetPublicKey returns).
    pub fn public_key(&self) -> PublicKey {
        let spki = match &self.inner {
            Inner::Rsa(k) => k.spki(),
            Inner::Ecc(k) => k.spki(),
            Inner::Ed25519(k) => k.spki(),
            Inner::MlDsa(k) => k.spki(),
        };
        PublicKey {
            spec: self.spec,
            spki,
        }
    }

    /// Sign `message` with `alg`; `mt` says whether `message` is the message (RAW, hashed
    /// once here), the caller's digest (DIGEST, never hashed again; its length must be the
    /// algorithm's hash length) or ML-DSA's mu (EXTERNAL_MU).
    pub fn sign(
        &self,
        alg: SigningAlgorithm,
        mt: MessageType,
        message: &[u8],
    ) -> Result<Vec<u8>, AsymError> {
        check_signing(self.spec, alg, mt, message)?;
        match &self.inner {
            Inner::Rsa(k) => k.sign(alg, mt, message),
            Inner::Ecc(k) => k.sign(mt, message),
            Inner::Ed25519(k) => k.sign(alg, message),
            Inner::MlDsa(k) => k.sign(self.pkcs8.expose(), mt, message),
        }
    }

    /// Verify with this key's public half (as KMS Verify does).
    pub fn verify(
        &self,
        alg: SigningAlgorithm,
        mt: MessageType,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), AsymError> {
        self.public_key().verify(alg, mt, message, signature)
    }

    /// RSAES-OAEP decryption.
    pub fn decrypt(
        &self,
        alg: EncryptionAlgorithm,
        ciphertext: &[u8],
    ) -> Result<SecretBytes, AsymError> {
        match &self.inner {
            Inner::Rsa(k) => k.decrypt(self.spec, alg, ciphertext),
            _ => Err(AsymError::WrongOperation {
                op: "decrypt",
                spec: self.spec,
            }),
        }
    }

    /// ECDH with a peer public key (DER SubjectPublicKeyInfo on the same curve): the raw
    /// shared secret (the x-coordinate), as DeriveSharedSecret returns it.
    pub fn derive_shared_secret(&self, peer_spki: &[u8]) -> Result<SecretBytes, AsymError> {
        match &self.inner {
            Inner::Ecc(k) if !self.spec.key_agreement_algorithms().is_empty() => {
                k.agree(self.spec, peer_spki)
            }
            _ => Err(AsymError::WrongOperation {
                op: "derive a shared secret",
                spec: self.spec,
            }),
        }
    }
}

/// A public key: its spec and DER SubjectPublicKeyInfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    spec: KeySpec,
    spki: Vec<u8>,
}

impl PublicKey {
    /// A DER SubjectPublicKeyInfo claimed to be of `spec`; checked by parsing.
    pub fn from_spki(spec: KeySpec, spki: &[u8]) -> Result<PublicKey, AsymError> {
        let ok = match spec.family() {
            Family::Rsa => rsa::check_spki(spec, spki),
            Family::Ecc => ecc::check_spki(spec, spki),
            Family::Ed25519 => ed25519::check_spki(spki),
            Family::MlDsa => mldsa::check_spki(spec, spki),
            Family::Hmac => false,
        };
        if !ok {
            return Err(AsymError::InvalidKey {
                what: "public key",
                spec,
            });
        }
        Ok(PublicKey {
            spec,
            spki: spki.to_vec(),
        })
    }

    pub fn spec(&self) -> KeySpec {
        self.spec
    }

    /// DER SubjectPublicKeyInfo.
    pub fn spki(&self) -> &[u8] {
        &self.spki
    }

    /// The public key as PEM (`-----BEGIN PUBLIC KEY-----`), for OpenSSL and friends.
    pub fn to_pem(&self) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&self.spki);
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }

    /// Verify `signature` over `message` (same `mt` semantics as [`PrivateKey::sign`]);
    /// `Err(InvalidSignature)` for a signature that does not verify.
    pub fn verify(
        &self,
        alg: SigningAlgorithm,
        mt: MessageType,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), AsymError> {
        check_signing(self.spec, alg, mt, message)?;
        match self.spec.family() {
            Family::Rsa => rsa::verify(&self.spki, alg, mt, message, signature),
            Family::Ecc => ecc::verify(self.spec, &self.spki, mt, message, signature),
            Family::Ed25519 => ed25519::verify(&self.spki, alg, message, signature),
            Family::MlDsa => mldsa::verify(self.spec, &self.spki, mt, message, signature),
            Family::Hmac => Err(AsymError::WrongOperation {
                op: "verify signatures",
                spec: self.spec,
            }),
        }
    }

    /// RSAES-OAEP encryption (what a user without KMS access does with the public key).
    pub fn encrypt(
        &self,
        alg: EncryptionAlgorithm,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, AsymError> {
        match self.spec.family() {
            Family::Rsa => rsa::encrypt(self.spec, &self.spki, alg, plaintext),
            _ => Err(AsymError::WrongOperation {
                op: "encrypt",
                spec: self.spec,
            }),
        }
    }
}

/// The checks every signature operation makes before any cryptography: the algorithm goes
/// with the spec, the message type with the algorithm, and a DIGEST / EXTERNAL_MU has the
/// exact length.
fn check_signing(
    spec: KeySpec,
    alg: SigningAlgorithm,
    mt: MessageType,
    message: &[u8],
) -> Result<(), AsymError> {
    if !spec.signing_algorithms().contains(&alg) {
        return Err(AsymError::WrongAlgorithm {
            alg: alg.name(),
            spec,
        });
    }
    if !alg.accepts(mt) {
        return Err(AsymError::WrongMessageType { mt, alg });
    }
    let want = match mt {
        MessageType::Raw => return Ok(()),
        MessageType::Digest => alg.hash().map(Hash::output_len),
        MessageType::ExternalMu => Some(64),
    };
    if want != Some(message.len()) {
        return Err(AsymError::DigestLength(alg));
    }
    Ok(())
}

/// The caller's DIGEST as AWS-LC's digest type (length already checked by `check_signing`).
fn import_digest(
    alg: SigningAlgorithm,
    message: &[u8],
) -> Result<aws_lc_rs::digest::Digest, AsymError> {
    let hash = alg.hash().ok_or(AsymError::DigestLength(alg))?;
    aws_lc_rs::digest::Digest::import_less_safe(message, hash.algorithm())
        .map_err(|_| AsymError::DigestLength(alg))
}
