//! The names of the asymmetric and HMAC world, spelled exactly as AWS KMS spells them: key
//! specs, signing, encryption, MAC and key-agreement algorithms, message types; and which
//! algorithm goes with which key spec.

/// Generates an enum whose variants have one canonical AWS name each, with `name()`,
/// `parse()` (exact, case-sensitive, as AWS) and `ALL`.
macro_rules! aws_names {
    ($(#[$m:meta])* $ty:ident { $($v:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $ty { $($v),+ }
        impl $ty {
            /// Every value, in AWS's order.
            pub const ALL: &'static [$ty] = &[$($ty::$v),+];
            /// The AWS name.
            pub fn name(self) -> &'static str {
                match self { $($ty::$v => $s),+ }
            }
            /// The value of an AWS name (exact spelling), if any.
            pub fn parse(s: &str) -> Option<$ty> {
                match s { $($s => Some($ty::$v),)+ _ => None }
            }
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.name())
            }
        }
        /// Serialized as the AWS name (stable when variants are added).
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $ty::parse(&s).ok_or_else(|| {
                    serde::de::Error::custom(format!("unknown {} {s:?}", stringify!($ty)))
                })
            }
        }
    };
}

aws_names!(
    /// An asymmetric or HMAC key spec (AWS `KeySpec`, without SYMMETRIC_DEFAULT, SM2, ML_KEM).
    KeySpec {
        Rsa2048 => "RSA_2048",
        Rsa3072 => "RSA_3072",
        Rsa4096 => "RSA_4096",
        EccNistP256 => "ECC_NIST_P256",
        EccNistP384 => "ECC_NIST_P384",
        EccNistP521 => "ECC_NIST_P521",
        EccSecgP256k1 => "ECC_SECG_P256K1",
        EccNistEdwards25519 => "ECC_NIST_EDWARDS25519",
        MlDsa44 => "ML_DSA_44",
        MlDsa65 => "ML_DSA_65",
        MlDsa87 => "ML_DSA_87",
        Hmac224 => "HMAC_224",
        Hmac256 => "HMAC_256",
        Hmac384 => "HMAC_384",
        Hmac512 => "HMAC_512",
    }
);

aws_names!(
    /// AWS `SigningAlgorithmSpec` (without SM2DSA).
    SigningAlgorithm {
        RsassaPssSha256 => "RSASSA_PSS_SHA_256",
        RsassaPssSha384 => "RSASSA_PSS_SHA_384",
        RsassaPssSha512 => "RSASSA_PSS_SHA_512",
        RsassaPkcs1V15Sha256 => "RSASSA_PKCS1_V1_5_SHA_256",
        RsassaPkcs1V15Sha384 => "RSASSA_PKCS1_V1_5_SHA_384",
        RsassaPkcs1V15Sha512 => "RSASSA_PKCS1_V1_5_SHA_512",
        EcdsaSha256 => "ECDSA_SHA_256",
        EcdsaSha384 => "ECDSA_SHA_384",
        EcdsaSha512 => "ECDSA_SHA_512",
        Ed25519Sha512 => "ED25519_SHA_512",
        Ed25519PhSha512 => "ED25519_PH_SHA_512",
        MlDsaShake256 => "ML_DSA_SHAKE_256",
    }
);

aws_names!(
    /// AWS `EncryptionAlgorithmSpec` for asymmetric keys.
    EncryptionAlgorithm {
        RsaesOaepSha1 => "RSAES_OAEP_SHA_1",
        RsaesOaepSha256 => "RSAES_OAEP_SHA_256",
    }
);

aws_names!(
    /// AWS `MacAlgorithmSpec`.
    MacAlgorithm {
        HmacSha224 => "HMAC_SHA_224",
        HmacSha256 => "HMAC_SHA_256",
        HmacSha384 => "HMAC_SHA_384",
        HmacSha512 => "HMAC_SHA_512",
    }
);

aws_names!(
    /// AWS `KeyAgreementAlgorithmSpec`.
    KeyAgreementAlgorithm {
        Ecdh => "ECDH",
    }
);

aws_names!(
    /// AWS `MessageType`: RAW is hashed once by the signer; DIGEST is the caller's hash, never
    /// hashed again; EXTERNAL_MU is ML-DSA's 64-byte message representative.
    MessageType {
        Raw => "RAW",
        Digest => "DIGEST",
        ExternalMu => "EXTERNAL_MU",
    }
);

/// What a key of a spec is for (AWS `KeyUsage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Rsa,
    Ecc,
    Ed25519,
    MlDsa,
    Hmac,
}

/// The hash a signing algorithm uses (its DIGEST length is this hash's output length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 => 64,
        }
    }

    pub(crate) fn algorithm(self) -> &'static aws_lc_rs::digest::Algorithm {
        match self {
            Hash::Sha256 => &aws_lc_rs::digest::SHA256,
            Hash::Sha384 => &aws_lc_rs::digest::SHA384,
            Hash::Sha512 => &aws_lc_rs::digest::SHA512,
        }
    }

    /// The hash of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        aws_lc_rs::digest::digest(self.algorithm(), data)
            .as_ref()
            .to_vec()
    }
}

impl KeySpec {
    pub fn family(self) -> Family {
        use KeySpec::*;
        match self {
            Rsa2048 | Rsa3072 | Rsa4096 => Family::Rsa,
            EccNistP256 | EccNistP384 | EccNistP521 | EccSecgP256k1 => Family::Ecc,
            EccNistEdwards25519 => Family::Ed25519,
            MlDsa44 | MlDsa65 | MlDsa87 => Family::MlDsa,
            Hmac224 | Hmac256 | Hmac384 | Hmac512 => Family::Hmac,
        }
    }

    /// The signing algorithms AWS offers for this spec (empty for HMAC).
    pub fn signing_algorithms(self) -> &'static [SigningAlgorithm] {
        use KeySpec::*;
        use SigningAlgorithm as S;
        match self {
            Rsa2048 | Rsa3072 | Rsa4096 => &[
                S::RsassaPssSha256,
                S::RsassaPssSha384,
                S::RsassaPssSha512,
                S::RsassaPkcs1V15Sha256,
                S::RsassaPkcs1V15Sha384,
                S::RsassaPkcs1V15Sha512,
            ],
            EccNistP256 | EccSecgP256k1 => &[S::EcdsaSha256],
            EccNistP384 => &[S::EcdsaSha384],
            EccNistP521 => &[S::EcdsaSha512],
            EccNistEdwards25519 => &[S::Ed25519Sha512, S::Ed25519PhSha512],
            MlDsa44 | MlDsa65 | MlDsa87 => &[S::MlDsaShake256],
            Hmac224 | Hmac256 | Hmac384 | Hmac512 => &[],
        }
    }

    /// The encryption algorithms AWS offers for this spec (RSA only).
    pub fn encryption_algorithms(self) -> &'static [EncryptionAlgorithm] {
        match self.family() {
            Family::Rsa => &[
                EncryptionAlgorithm::RsaesOaepSha1,
                EncryptionAlgorithm::RsaesOaepSha256,
            ],
            _ => &[],
        }
    }

    /// The key-agreement algorithms AWS offers for this spec (NIST curves only).
    pub fn key_agreement_algorithms(self) -> &'static [KeyAgreementAlgorithm] {
        match self {
            KeySpec::EccNistP256 | KeySpec::EccNistP384 | KeySpec::EccNistP521 => {
                &[KeyAgreementAlgorithm::Ecdh]
            }
            _ => &[],
        }
    }

    /// The one MAC algorithm of an HMAC spec.
    pub fn mac_algorithm(self) -> Option<MacAlgorithm> {
        match self {
            KeySpec::Hmac224 => Some(MacAlgorithm::HmacSha224),
            KeySpec::Hmac256 => Some(MacAlgorithm::HmacSha256),
            KeySpec::Hmac384 => Some(MacAlgorithm::HmacSha384),
            KeySpec::Hmac512 => Some(MacAlgorithm::HmacSha512),
            _ => None,
        }
    }

    /// RSA modulus length in bytes.
    pub(crate) fn rsa_bytes(self) -> Option<usize> {
        match self {
            KeySpec::Rsa2048 => Some(256),
            KeySpec::Rsa3072 => Some(384),
            KeySpec::Rsa4096 => Some(512),
            _ => None,
        }
    }
}

impl SigningAlgorithm {
    /// The hash this algorithm hashes a RAW message with, and whose length a DIGEST must have.
    /// `None` for ML-DSA (SHAKE-256 inside the scheme; no DIGEST form).
    pub fn hash(self) -> Option<Hash> {
        use SigningAlgorithm::*;
        match self {
            RsassaPssSha256 | RsassaPkcs1V15Sha256 | EcdsaSha256 => Some(Hash::Sha256),
            RsassaPssSha384 | RsassaPkcs1V15Sha384 | EcdsaSha384 => Some(Hash::Sha384),
            RsassaPssSha512 | RsassaPkcs1V15Sha512 | EcdsaSha512 => Some(Hash::Sha512),
            Ed25519Sha512 | Ed25519PhSha512 => Some(Hash::Sha512),
            MlDsaShake256 => None,
        }
    }

    /// Whether AWS accepts `mt` with this algorithm: ED25519_SHA_512 (pure EdDSA) takes only
    /// RAW, ED25519_PH_SHA_512 only DIGEST, ML-DSA RAW or EXTERNAL_MU, the others RAW or DIGEST.
    pub fn accepts(self, mt: MessageType) -> bool {
        use MessageType::*;
        match self {
            SigningAlgorithm::Ed25519Sha512 => mt == Raw,
            SigningAlgorithm::Ed25519PhSha512 => mt == Digest,
            SigningAlgorithm::MlDsaShake256 => mt != Digest,
            _ => mt != ExternalMu,
        }
    }
}

impl EncryptionAlgorithm {
    fn hash_len(self) -> usize {
        match self {
            EncryptionAlgorithm::RsaesOaepSha1 => 20,
            EncryptionAlgorithm::RsaesOaepSha256 => 32,
        }
    }

    /// The largest plaintext RSAES-OAEP takes with this hash and an RSA key of `spec`:
    /// k − 2·hLen − 2 (RSA_2048: 214 with SHA-1, 190 with SHA-256), as AWS documents.
    pub fn max_plaintext(self, spec: KeySpec) -> Option<usize> {
        Some(spec.rsa_bytes()? - 2 * self.hash_len() - 2)
    }
}

impl MacAlgorithm {
    /// The MAC (and generated key) length in bytes: 28, 32, 48, 64.
    pub fn mac_len(self) -> usize {
        match self {
            MacAlgorithm::HmacSha224 => 28,
            MacAlgorithm::HmacSha256 => 32,
            MacAlgorithm::HmacSha384 => 48,
            MacAlgorithm::HmacSha512 => 64,
        }
    }

    /// The HMAC spec this algorithm belongs to.
    pub fn key_spec(self) -> KeySpec {
        match self {
            MacAlgorithm::HmacSha224 => KeySpec::Hmac224,
            MacAlgorithm::HmacSha256 => KeySpec::Hmac256,
            MacAlgorithm::HmacSha384 => KeySpec::Hmac384,
            MacAlgorithm::HmacSha512 => KeySpec::Hmac512,
        }
    }
}
