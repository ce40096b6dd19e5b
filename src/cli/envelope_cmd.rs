//! `kmsfs encrypt-file` and `kmsfs decrypt-file`: envelope messages (docs/FORMAT.md section
//! 10) from and to files or stdin/stdout (`-`), through the embedded KMS as the calling user
//! (or the `--kms-endpoint` KMS as its access key's principal).
//!
//! A file output is written to a temporary file beside it (mode 0600 for plaintext) and
//! renamed into place only when the whole message was processed: a failed decryption (an
//! altered, truncated or extended message) leaves no partial plaintext file behind. On
//! stdout, frames are written as they authenticate, so a reader of a failed decryption may
//! have seen the authenticated frames before the failure (the exit status tells).

use super::args;
use super::error::{CliError, OrFail, exit};
use super::session::{Ctx, Session};
use crate::crypto::hex;
use crate::envelope::{self, DecryptInfo, DecryptOptions, EncryptInfo, EncryptOptions, KmsKeyring};
use crate::fsutil::{self, PendingFile};
use crate::kms::{Client, EncryptionContext};
use clap::Args;
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, Args)]
pub(crate) struct EncryptFileArgs {
    /// The KMS key: key id, key ARN, alias name (alias/...) or alias ARN.
    #[arg(long)]
    key_id: String,
    /// The file to encrypt, or `-` for stdin.
    #[arg(long, short = 'i')]
    input: String,
    /// Where to write the message, or `-` for stdout. (`--output` is the global result
    /// format, json or text.)
    #[arg(long = "out", short = 'o', visible_alias = "output-file")]
    out: String,
    /// Encryption context pairs: `k=v` (repeatable), `k=v,k2=v2`, or a JSON object.
    #[arg(long, num_args = 1..)]
    encryption_context: Vec<String>,
    /// Plaintext bytes per frame (16 B .. 16 MiB; default 64 KiB).
    #[arg(long, default_value_t = envelope::DEFAULT_FRAME_LEN)]
    frame_length: u32,
}

#[derive(Debug, Args)]
pub(crate) struct DecryptFileArgs {
    /// The message to decrypt, or `-` for stdin.
    #[arg(long, short = 'i')]
    input: String,
    /// Where to write the plaintext, or `-` for stdout. (`--output` is the global result
    /// format, json or text.)
    #[arg(long = "out", short = 'o', visible_alias = "output-file")]
    out: String,
    /// Pairs the message's encryption context must contain: `k=v` (repeatable),
    /// `k=v,k2=v2`, or a JSON object.
    #[arg(long, num_args = 1..)]
    encryption_context: Vec<String>,
    /// Accept only messages whose data key this KMS key wrapped (default: the key the
    /// message names).
    #[arg(long)]
    key_id: Option<String>,
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
        let stdout = super::output::QuietPipe::new(std::io::stdout().lock());
        let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout);
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
        let dir = fsutil::parent_dir(path);
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

/// What `encrypt-file` and `decrypt-file` print when the output is a file.
struct Summary<'a> {
    message_id: &'a [u8],
    key_arn: &'a str,
    context: &'a EncryptionContext,
    frame_len: u32,
    frames: u64,
    plaintext_bytes: u64,
    message_bytes: u64,
}

/// The summary of an operation's result.
trait Summarize {
    fn summary(&self) -> Summary<'_>;
}

impl Summarize for EncryptInfo {
    fn summary(&self) -> Summary<'_> {
        Summary {
            message_id: &self.message_id,
            key_arn: self.key_arns.first().map(String::as_str).unwrap_or(""),
            context: &self.context,
            frame_len: self.frame_len,
            frames: self.frames,
            plaintext_bytes: self.plaintext_bytes,
            message_bytes: self.message_bytes,
        }
    }
}

impl Summarize for DecryptInfo {
    fn summary(&self) -> Summary<'_> {
        Summary {
            message_id: &self.message_id,
            key_arn: &self.key_arn,
            context: &self.context,
            frame_len: self.frame_len,
            frames: self.frames,
            plaintext_bytes: self.plaintext_bytes,
            message_bytes: self.message_bytes,
        }
    }
}

impl Summary<'_> {
    fn json(&self, output: &str) -> serde_json::Value {
        serde_json::json!({
            "MessageId": hex(self.message_id),
            "KeyId": self.key_arn,
            "EncryptionContext": self.context,
            "FrameLength": self.frame_len,
            "Frames": self.frames,
            "PlaintextBytes": self.plaintext_bytes,
            "MessageBytes": self.message_bytes,
            "Output": output,
        })
    }
}

/// Run an envelope operation `op` (given the KMS client acting as the user) from the input
/// to the output (a file of `mode`, or stdout), and print its summary when the output is a
/// file.
fn run_envelope<T: Summarize>(
    ctx: &Ctx,
    (input, output, mode): (&str, &str, u32),
    what: &str,
    op: impl FnOnce(Arc<dyn Client>, Box<dyn Read>, &mut dyn Write) -> Result<T, CliError>,
) -> Result<(), CliError> {
    let input = open_input(input, what)?;
    let (info, to_file) = ctx.session(what, |s: &Session| {
        let client = s.user_client();
        with_output(output, mode, what, |w| op(client, input, w))
    })?;
    if to_file {
        ctx.out.print(&info.summary().json(output))?;
    }
    Ok(())
}

pub(super) fn run_encrypt(ctx: &Ctx, a: &EncryptFileArgs) -> Result<(), CliError> {
    let what = "encrypt-file failed";
    let context = args::context_pairs(&a.encryption_context)?;
    let opts = EncryptOptions {
        frame_len: a.frame_length,
        ..Default::default()
    };
    let encrypt = |client: Arc<dyn Client>, input: Box<dyn Read>, w: &mut dyn Write| {
        let keyring = KmsKeyring::new(client, a.key_id.clone());
        envelope::encrypt(&keyring, &context, input, w, &opts).or_fail(what)
    };
    let io = (a.input.as_str(), a.out.as_str(), 0o644);
    run_envelope(ctx, io, what, encrypt)
}

pub(super) fn run_decrypt(ctx: &Ctx, a: &DecryptFileArgs) -> Result<(), CliError> {
    let what = "decrypt-file failed";
    let opts = DecryptOptions {
        required_context: args::context_pairs(&a.encryption_context)?,
    };
    let decrypt = |client: Arc<dyn Client>, input: Box<dyn Read>, w: &mut dyn Write| {
        let keyring = match &a.key_id {
            Some(k) => KmsKeyring::new(client, k.clone()),
            None => KmsKeyring::discovery(client),
        };
        envelope::decrypt(&keyring, input, w, &opts).or_fail(what)
    };
    let io = (a.input.as_str(), a.out.as_str(), 0o600);
    run_envelope(ctx, io, what, decrypt)
}
