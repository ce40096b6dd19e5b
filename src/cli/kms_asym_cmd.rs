//! `kmsfs kms sign | verify | get-public-key | generate-mac | verify-mac |
//! generate-data-key-pair(-without-plaintext) | derive-shared-secret`: the verbs of
//! asymmetric and HMAC keys, flags as `aws kms` has them. Messages are `fileb://PATH`,
//! `file://PATH` or the text itself (as `encrypt --plaintext`); signatures, MACs and public
//! keys are `fileb://PATH` or base64 (as these verbs print them).

use super::args::{self, Literal};
use super::error::CliError;
use super::session::Session;
use crate::kms::Client;
use crate::kms::types::*;
use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    #[arg(long)]
    key_id: String,
    /// fileb://PATH, file://PATH, or the text itself (at most 4096 bytes).
    #[arg(long)]
    message: String,
    /// RAW (default: hashed by the KMS), DIGEST (your hash) or EXTERNAL_MU (ML-DSA).
    #[arg(long)]
    message_type: Option<String>,
    /// e.g. RSASSA_PSS_SHA_256, ECDSA_SHA_256, ED25519_SHA_512, ML_DSA_SHAKE_256.
    #[arg(long)]
    signing_algorithm: String,
    #[arg(long, num_args = 1..)]
    grant_tokens: Option<Vec<String>>,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    sign: SignArgs,
    /// fileb://PATH, or base64 as `sign` prints it.
    #[arg(long)]
    signature: String,
}

#[derive(Debug, Args)]
pub(crate) struct MacArgs {
    #[arg(long)]
    key_id: String,
    /// fileb://PATH, file://PATH, or the text itself (at most 4096 bytes).
    #[arg(long)]
    message: String,
    /// HMAC_SHA_224, HMAC_SHA_256, HMAC_SHA_384 or HMAC_SHA_512 (the key's).
    #[arg(long)]
    mac_algorithm: String,
    #[arg(long, num_args = 1..)]
    grant_tokens: Option<Vec<String>>,
}

#[derive(Debug, Args)]
pub(crate) struct KeyPairArgs {
    /// The symmetric key that encrypts the private key.
    #[arg(long)]
    key_id: String,
    /// RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1.
    #[arg(long)]
    key_pair_spec: String,
    /// k=v,k2=v2 or a JSON object.
    #[arg(long)]
    encryption_context: Option<String>,
    #[arg(long, num_args = 1..)]
    grant_tokens: Option<Vec<String>>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AsymCommand {
    /// Sign a message or digest with an asymmetric SIGN_VERIFY key.
    Sign(SignArgs),
    /// Verify a signature (SignatureValid, or KMSInvalidSignatureException).
    Verify(VerifyArgs),
    /// The public key (DER SubjectPublicKeyInfo, base64), its usage and algorithms.
    GetPublicKey {
        #[arg(long)]
        key_id: String,
        /// Also write the public key as PEM to this file (for OpenSSL).
        #[arg(long)]
        pem_file: Option<std::path::PathBuf>,
    },
    /// HMAC of a message with a GENERATE_VERIFY_MAC key.
    GenerateMac(MacArgs),
    /// Verify an HMAC (MacValid, or KMSInvalidMacException).
    VerifyMac {
        #[command(flatten)]
        mac_args: MacArgs,
        /// fileb://PATH, or base64 as `generate-mac` prints it.
        #[arg(long)]
        mac: String,
    },
    /// A key pair: public key, private key in clear and encrypted under --key-id.
    GenerateDataKeyPair(KeyPairArgs),
    /// A key pair: public key, and the private key encrypted under --key-id only.
    GenerateDataKeyPairWithoutPlaintext(KeyPairArgs),
    /// ECDH with a KEY_AGREEMENT key and a peer's public key (DER SPKI).
    DeriveSharedSecret {
        #[arg(long)]
        key_id: String,
        /// ECDH.
        #[arg(long, default_value = "ECDH")]
        key_agreement_algorithm: String,
        /// The peer's public key: fileb://PATH (DER) or base64 of the DER.
        #[arg(long)]
        public_key: String,
    },
}

fn raw(arg: &str, name: &str) -> Result<Vec<u8>, CliError> {
    Ok(args::blob(arg, name, Literal::Base64)?.expose().to_vec())
}

fn sign_request(a: &SignArgs) -> Result<SignRequest, CliError> {
    Ok(SignRequest {
        key_id: a.key_id.clone(),
        message: args::blob(&a.message, "--message", Literal::Text)?,
        message_type: a.message_type.clone(),
        grant_tokens: a.grant_tokens.clone(),
        signing_algorithm: a.signing_algorithm.clone(),
    })
}

fn verify_request(a: &VerifyArgs) -> Result<VerifyRequest, CliError> {
    let s = sign_request(&a.sign)?;
    Ok(VerifyRequest {
        key_id: s.key_id,
        message: s.message,
        message_type: s.message_type,
        signature: raw(&a.signature, "--signature")?,
        signing_algorithm: s.signing_algorithm,
        grant_tokens: s.grant_tokens,
    })
}

fn mac_request(a: &MacArgs) -> Result<GenerateMacRequest, CliError> {
    Ok(GenerateMacRequest {
        message: args::blob(&a.message, "--message", Literal::Text)?,
        key_id: a.key_id.clone(),
        mac_algorithm: a.mac_algorithm.clone(),
        grant_tokens: a.grant_tokens.clone(),
    })
}

fn key_pair(a: &KeyPairArgs) -> Result<GenerateDataKeyPairRequest, CliError> {
    Ok(GenerateDataKeyPairRequest {
        encryption_context: args::context(&a.encryption_context)?,
        key_id: a.key_id.clone(),
        key_pair_spec: a.key_pair_spec.clone(),
        grant_tokens: a.grant_tokens.clone(),
    })
}

/// GetPublicKey, writing the PEM file when asked.
fn get_public_key(
    s: &Session,
    c: &dyn Client,
    key_id: &str,
    pem: Option<&std::path::Path>,
) -> Result<(), CliError> {
    let r = c.get_public_key(KeyIdRequest {
        key_id: key_id.to_string(),
        grant_tokens: None,
    });
    if let (Ok(r), Some(path)) = (&r, pem) {
        use crate::crypto::asym::{KeySpec, PublicKey};
        let key =
            KeySpec::parse(&r.key_spec).and_then(|k| PublicKey::from_spki(k, &r.public_key).ok());
        let text = key.map(|k| k.to_pem()).unwrap_or_default();
        std::fs::write(path, text).map_err(|e| {
            CliError::usage(
                "cannot write --pem-file",
                format!("{}: {e}", path.display()),
            )
        })?;
    }
    s.reply(r)
}

/// Run one asymmetric or HMAC verb.
pub(super) fn run(s: &Session, c: &dyn Client, cmd: &AsymCommand) -> Result<(), CliError> {
    use AsymCommand as A;
    match cmd {
        A::Sign(a) => sign_request(a).and_then(|r| s.reply(c.sign(r))),
        A::Verify(a) => verify_request(a).and_then(|r| s.reply(c.verify(r))),
        A::GetPublicKey { key_id, pem_file } => get_public_key(s, c, key_id, pem_file.as_deref()),
        A::GenerateMac(a) => mac_request(a).and_then(|r| s.reply(c.generate_mac(r))),
        A::VerifyMac { mac_args, mac } => {
            let r = mac_request(mac_args).and_then(|g| {
                Ok(VerifyMacRequest {
                    message: g.message,
                    key_id: g.key_id,
                    mac_algorithm: g.mac_algorithm,
                    mac: raw(mac, "--mac")?,
                    grant_tokens: g.grant_tokens,
                })
            })?;
            s.reply(c.verify_mac(r))
        }
        A::GenerateDataKeyPair(a) => key_pair(a).and_then(|r| s.reply(c.generate_data_key_pair(r))),
        A::GenerateDataKeyPairWithoutPlaintext(a) => {
            key_pair(a).and_then(|r| s.reply(c.generate_data_key_pair_without_plaintext(r)))
        }
        A::DeriveSharedSecret {
            key_id,
            key_agreement_algorithm,
            public_key,
        } => {
            let r = DeriveSharedSecretRequest {
                key_id: key_id.clone(),
                key_agreement_algorithm: key_agreement_algorithm.clone(),
                public_key: raw(public_key, "--public-key")?,
                grant_tokens: None,
            };
            s.reply(c.derive_shared_secret(r))
        }
    }
}
