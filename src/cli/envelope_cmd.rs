//! `kmsfs encrypt-file` and `kmsfs decrypt-file`: envelope messages (docs/FORMAT.md section
//! 10) from and to files or stdin/stdout (`-`), through the embedded KMS as the calling user.
//!
//! A file output is written to a temporary file beside it (mode 0600 for plaintext) and
//! renamed into place only when the whole message was processed: a failed decryption (an
//! altered, truncated or extended message) leaves no partial plaintext file behind. On
//! stdout, frames are written as they authenticate, so a reader of a failed decryption may
//! have seen the authenticated frames before the failure (the exit status tells).

use super::args;
use super::output::Printer;
use super::{Cli, CliError, exit, open_kms};
use crate::crypto::hex;
use crate::envelope::{self, DecryptOptions, EncryptOptions, EnvelopeError, KmsKeyring};
use crate::fsutil::PendingFile;
use crate::kms::{Client, Embedded, EncryptionContext};
use clap::Args;
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct EncryptFileArgs {
    /// The KMS key: key id, key ARN, alias name (alias/...) or alias ARN.
    #[arg(long)]
    pub key_id: String,
    /// The file to encrypt, or `-` for stdin.
    #[arg(long, short = 'i')]
    pub input: String,
    /// Where to write the message, or `-` for stdout. (`--output` is the global result
    /// format, json or text.)
    #[arg(long = "out", short = 'o', visible_alias = "output-file")]
    pub out: String,
    /// Encryption context pairs: `k=v` (repeatable), `k=v,k2=v2`, or a JSON object.
    #[arg(long, num_args = 1..)]
    pub encryption_context: Vec<String>,
    /// Plaintext bytes per frame (16 B .. 16 MiB; default 64 KiB).
    #[arg(long, default_value_t = envelope::DEFAULT_FRAME_LEN)]
    pub frame_length: u32,
}

#[derive(Debug, Args)]
pub struct DecryptFileArgs {
    /// The message to decrypt, or `-` for stdin.
    #[arg(long, short = 'i')]
    pub input: String,
    /// Where to write the plaintext, or `-` for stdout. (`--output` is the global result
    /// format, json or text.)
    #[arg(long = "out", short = 'o', visible_alias = "output-file")]
    pub out: String,
    /// Pairs the message's encryption context must contain: `k=v` (repeatable),
    /// `k=v,k2=v2`, or a JSON object.
    #[arg(long, num_args = 1..)]
    pub encryption_context: Vec<String>,
    /// Accept only messages whose data key this KMS key wrapped (default: the key the
    /// message names).
    #[arg(long)]
    pub key_id: Option<String>,
}

/// Map an envelope error for the operation `what`.
pub fn envelope_error(what: &str, e: EnvelopeError) -> CliError {
    match e {
        EnvelopeError::Kms(k) => CliError::kms(what, k),
        EnvelopeError::InvalidArgument(m) => CliError::usage(what, m),
        EnvelopeError::Crypto(c) => CliError::new(what, c.to_string(), exit::INTERNAL),
        EnvelopeError::ContextMismatch(_) => CliError::new(what, e.to_string(), exit::ENVELOPE)
            .hint("check the pairs given with --encryption-context"),
        e => CliError::new(what, e.to_string(), exit::ENVELOPE),
    }
}

fn open_input(arg: &str, what: &str) -> Result<Box<dyn Read>, CliError> {
    if arg == "-" {
        return Ok(Box::new(std::io::stdin().lock()));
    }
    File::open(arg)
        .map(|f| Box::new(f) as Box<dyn Read>)
        .map_err(|e| CliError::usage(what, format!("cannot open the input {arg}: {e}")))
}

/// Run `f` writing to `output` (`-`: stdout; else a [`PendingFile`] committed on success,
/// so a failed run leaves no partial output).
/// Returns whether the output was a file.
fn with_output<T>(
    output: &str,
    mode: u32,
    what: &str,
    f: impl FnOnce(&mut dyn Write) -> Result<T, CliError>,
) -> Result<(T, bool), CliError> {
    if output == "-" {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        let r = f(&mut out)?;
        out.flush().map_err(|e| {
            CliError::new(what, format!("writing stdout failed: {e}"), exit::ENVELOPE)
        })?;
        return Ok((r, false));
    }
    let path = Path::new(output);
    if path.file_name().is_none() {
        return Err(CliError::usage(
            what,
            format!("{} is not a file name", path.display()),
        ));
    }
    let mut p = PendingFile::create(path, mode).map_err(|e| {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        CliError::usage(
            what,
            format!("cannot create the output in {}: {e}", dir.display()),
        )
    })?;
    let r = f(p.writer())?;
    p.commit().map_err(|e| {
        CliError::new(
            what,
            format!("cannot write {}: {e}", path.display()),
            exit::ENVELOPE,
        )
    })?;
    Ok((r, true))
}

fn summary(
    message_id: &[u8],
    key_arn: &str,
    ctx: &EncryptionContext,
    (frame_len, frames, plaintext, message): (u32, u64, u64, u64),
    output: &str,
) -> serde_json::Value {
    serde_json::json!({
        "MessageId": hex(message_id),
        "KeyId": key_arn,
        "EncryptionContext": ctx,
        "FrameLength": frame_len,
        "Frames": frames,
        "PlaintextBytes": plaintext,
        "MessageBytes": message,
        "Output": output,
    })
}

pub fn run_encrypt(
    cli: &Cli,
    root: &Path,
    a: &EncryptFileArgs,
    out: &Printer,
) -> Result<(), CliError> {
    let what = "encrypt-file failed";
    let ctx = args::context_pairs(&a.encryption_context)?;
    let input = open_input(&a.input, what)?;
    let (_home, kms) = open_kms(cli, root, what)?;
    let client: Arc<dyn Client> = Arc::new(Embedded::as_os_user(kms.clone()));
    let keyring = KmsKeyring::new(client, a.key_id.clone());
    let opts = EncryptOptions {
        frame_len: a.frame_length,
        ..Default::default()
    };
    let r = with_output(&a.out, 0o644, what, |w| {
        envelope::encrypt(&keyring, &ctx, input, w, &opts).map_err(|e| envelope_error(what, e))
    });
    kms.flush_audit().map_err(|e| CliError::kms(what, e))?;
    let (info, to_file) = r?;
    if to_file {
        out.print(&summary(
            &info.message_id,
            info.key_arns.first().map(String::as_str).unwrap_or(""),
            &info.context,
            (
                info.frame_len,
                info.frames,
                info.plaintext_bytes,
                info.message_bytes,
            ),
            &a.out,
        ))?;
    }
    Ok(())
}

pub fn run_decrypt(
    cli: &Cli,
    root: &Path,
    a: &DecryptFileArgs,
    out: &Printer,
) -> Result<(), CliError> {
    let what = "decrypt-file failed";
    let required = args::context_pairs(&a.encryption_context)?;
    let input = open_input(&a.input, what)?;
    let (_home, kms) = open_kms(cli, root, what)?;
    let client: Arc<dyn Client> = Arc::new(Embedded::as_os_user(kms.clone()));
    let keyring = match &a.key_id {
        Some(k) => KmsKeyring::new(client, k.clone()),
        None => KmsKeyring::discovery(client),
    };
    let opts = DecryptOptions {
        required_context: required,
    };
    let r = with_output(&a.out, 0o600, what, |w| {
        envelope::decrypt(&keyring, input, w, &opts).map_err(|e| envelope_error(what, e))
    });
    kms.flush_audit().map_err(|e| CliError::kms(what, e))?;
    let (info, to_file) = r?;
    if to_file {
        out.print(&summary(
            &info.message_id,
            &info.key_arn,
            &info.context,
            (
                info.frame_len,
                info.frames,
                info.plaintext_bytes,
                info.message_bytes,
            ),
            &a.out,
        ))?;
    }
    Ok(())
}
