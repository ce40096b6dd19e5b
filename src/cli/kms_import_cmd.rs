//! `kmsfs kms get-parameters-for-import | import-key-material | delete-imported-key-material`:
//! imported key material (BYOK), flags and output as `aws kms` has them (blobs as base64 in
//! the JSON, `fileb://` to read raw bytes); `--public-key-file`/`--import-token-file` write
//! the raw parameters where the AWS docs' openssl recipe expects them.

use super::args::{self, Literal};
use super::error::CliError;
use super::session::Session;
use crate::kms::Client;
use crate::kms::types::*;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub(crate) struct GetParametersArgs {
    /// Key id or key ARN of an EXTERNAL key.
    #[arg(long)]
    key_id: String,
    /// RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1, RSA_AES_KEY_WRAP_SHA_256 or RSA_AES_KEY_WRAP_SHA_1.
    #[arg(long)]
    wrapping_algorithm: String,
    /// RSA_2048, RSA_3072 or RSA_4096.
    #[arg(long)]
    wrapping_key_spec: String,
    /// Also write the wrapping public key (DER SubjectPublicKeyInfo) to this file.
    #[arg(long)]
    public_key_file: Option<PathBuf>,
    /// Also write the import token (raw bytes) to this file.
    #[arg(long)]
    import_token_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    #[arg(long)]
    key_id: String,
    /// fileb://EncryptedKeyMaterial.bin, or base64.
    #[arg(long)]
    encrypted_key_material: String,
    /// fileb://ImportToken.bin, or base64.
    #[arg(long)]
    import_token: String,
    /// KEY_MATERIAL_EXPIRES (with --valid-to) or KEY_MATERIAL_DOES_NOT_EXPIRE.
    #[arg(long)]
    expiration_model: Option<String>,
    /// When the material expires: RFC 3339 (2030-01-01T00:00:00Z) or epoch seconds.
    #[arg(long)]
    valid_to: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ImportCommand {
    /// A wrapping public key and import token for an EXTERNAL key (valid 24 hours).
    GetParametersForImport(GetParametersArgs),
    /// Import key material wrapped under the public key of get-parameters-for-import.
    ImportKeyMaterial(ImportArgs),
    /// Delete a key's imported material: the key is pending import until it is imported again.
    DeleteImportedKeyMaterial {
        #[arg(long)]
        key_id: String,
    },
}

/// Run an import verb with the client of `kmsfs kms`.
pub(super) fn run(s: &Session, c: &dyn Client, cmd: &ImportCommand) -> Result<(), CliError> {
    match cmd {
        ImportCommand::GetParametersForImport(a) => get_parameters(s, c, a),
        ImportCommand::ImportKeyMaterial(a) => {
            import_request(a).and_then(|r| s.reply(c.import_key_material(r)))
        }
        ImportCommand::DeleteImportedKeyMaterial { key_id } => s.reply(
            c.delete_imported_key_material(DeleteImportedKeyMaterialRequest {
                key_id: key_id.clone(),
                key_material_id: None,
            }),
        ),
    }
}

fn get_parameters(s: &Session, c: &dyn Client, a: &GetParametersArgs) -> Result<(), CliError> {
    let r = c.get_parameters_for_import(GetParametersForImportRequest {
        key_id: a.key_id.clone(),
        wrapping_algorithm: a.wrapping_algorithm.clone(),
        wrapping_key_spec: a.wrapping_key_spec.clone(),
    });
    if let Ok(p) = &r {
        for (file, bytes) in [
            (&a.public_key_file, &p.public_key),
            (&a.import_token_file, &p.import_token),
        ] {
            if let Some(f) = file {
                std::fs::write(f, bytes).map_err(|e| {
                    CliError::usage(format!("cannot write {}", f.display()), e.to_string())
                })?;
            }
        }
    }
    s.reply(r)
}

fn import_request(a: &ImportArgs) -> Result<ImportKeyMaterialRequest, CliError> {
    let wrapped = args::blob(
        &a.encrypted_key_material,
        "--encrypted-key-material",
        Literal::Base64,
    )?;
    let token = args::blob(&a.import_token, "--import-token", Literal::Base64)?;
    Ok(ImportKeyMaterialRequest {
        key_id: a.key_id.clone(),
        import_token: token.expose().to_vec(),
        encrypted_key_material: wrapped.expose().to_vec(),
        valid_to: a.valid_to.as_deref().map(valid_to).transpose()?,
        expiration_model: a.expiration_model.clone(),
        ..Default::default()
    })
}

/// `--valid-to`: epoch seconds, or an RFC 3339 date and time (UTC `Z` or an offset).
fn valid_to(s: &str) -> Result<f64, CliError> {
    if let Ok(secs) = s.parse::<f64>() {
        return Ok(secs);
    }
    humantime::parse_rfc3339(s)
        .or_else(|_| humantime::parse_rfc3339_weak(s))
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs_f64())
        .ok_or_else(|| {
            CliError::usage("bad --valid-to", format!("'{s}' is not a date"))
                .hint("use epoch seconds or 2030-01-01T00:00:00Z")
        })
}
