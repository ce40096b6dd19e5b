//! Argument values in the AWS CLI's forms: `fileb://` and `file://` blobs, `k=v,k2=v2` or
//! JSON encryption contexts, `TagKey=k,TagValue=v` tags; and passphrase input.

use super::CliError;
use crate::crypto::SecretBytes;
use crate::kms::EncryptionContext;
use crate::kms::types::{Tag, b64};
use std::path::Path;

/// How a literal (non-file) blob argument is read.
#[derive(Clone, Copy)]
pub enum Literal {
    /// The argument's UTF-8 bytes (plaintext, as AWS CLI v1 reads it).
    Text,
    /// Base64 (ciphertext blobs, as `encrypt` prints them).
    Base64,
}

/// Read a blob argument: `fileb://PATH` (raw bytes), `file://PATH` (the file's bytes), or a literal.
pub fn blob(arg: &str, name: &str, literal: Literal) -> Result<SecretBytes, CliError> {
    let read = |p: &str| {
        std::fs::read(p)
            .map(SecretBytes::new)
            .map_err(|e| CliError::usage(format!("cannot read {name}"), format!("{p}: {e}")))
    };
    if let Some(p) = arg.strip_prefix("fileb://") {
        return read(p);
    }
    if let Some(p) = arg.strip_prefix("file://") {
        return read(p);
    }
    match literal {
        Literal::Text => Ok(SecretBytes::from_slice(arg.as_bytes())),
        Literal::Base64 => b64::decode(arg.trim()).map(SecretBytes::new).map_err(|e| {
            CliError::usage(format!("bad {name}"), format!("not base64 ({e})"))
                .hint("pass fileb://PATH for raw bytes, or the base64 text that encrypt prints")
        }),
    }
}

/// Parse `k=v,k2=v2`, a JSON object, or `file://ctx.json`.
pub fn context(arg: &Option<String>) -> Result<Option<EncryptionContext>, CliError> {
    let Some(arg) = arg else { return Ok(None) };
    let text = match arg.strip_prefix("file://") {
        Some(p) => std::fs::read_to_string(p).map_err(|e| {
            CliError::usage("cannot read --encryption-context", format!("{p}: {e}"))
        })?,
        None => arg.clone(),
    };
    let t = text.trim();
    if t.starts_with('{') {
        return serde_json::from_str(t).map(Some).map_err(|e| {
            CliError::usage(
                "bad encryption context",
                format!("not a JSON object of strings ({e})"),
            )
        });
    }
    let mut ec = EncryptionContext::new();
    for pair in t.split(',').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').ok_or_else(|| {
            CliError::usage(
                "bad encryption context",
                format!("'{pair}' is not key=value"),
            )
            .hint("use k=v,k2=v2 or a JSON object such as '{\"k\":\"v\"}'")
        })?;
        ec.insert(k.to_string(), v.to_string());
    }
    Ok(Some(ec))
}

/// Parse repeated `--encryption-context` values (each `k=v`, `k=v,k2=v2`, a JSON object or
/// `file://ctx.json`) into one context; a key given twice with two values is an error.
pub fn context_pairs(args: &[String]) -> Result<EncryptionContext, CliError> {
    let mut ec = EncryptionContext::new();
    for a in args {
        for (k, v) in context(&Some(a.clone()))?.unwrap_or_default() {
            if let Some(old) = ec.get(&k).filter(|old| **old != v) {
                return Err(CliError::usage(
                    "bad encryption context",
                    format!("the key '{k}' is given twice ('{old}' and '{v}')"),
                ));
            }
            ec.insert(k, v);
        }
    }
    Ok(ec)
}

/// Parse tags: each value `TagKey=k,TagValue=v`, or one JSON list.
pub fn tags(args: &[String]) -> Result<Vec<Tag>, CliError> {
    if args.len() == 1 && args[0].trim_start().starts_with('[') {
        return serde_json::from_str(&args[0]).map_err(|e| {
            CliError::usage(
                "bad --tags",
                format!("not a JSON list of {{TagKey, TagValue}} ({e})"),
            )
        });
    }
    args.iter()
        .map(|a| {
            let mut key = None;
            let mut value = None;
            for part in a.split(',') {
                match part.split_once('=') {
                    Some(("TagKey", k)) => key = Some(k.to_string()),
                    Some(("TagValue", v)) => value = Some(v.to_string()),
                    _ => {
                        return Err(CliError::usage(
                            "bad --tags",
                            format!("'{a}' is not TagKey=k,TagValue=v"),
                        ));
                    }
                }
            }
            Ok(Tag {
                tag_key: key
                    .ok_or_else(|| CliError::usage("bad --tags", format!("'{a}' has no TagKey")))?,
                tag_value: value.unwrap_or_default(),
            })
        })
        .collect()
}

/// The keystore passphrase: `--passphrase-file`, else `$KMSFS_PASSPHRASE`, else a prompt on
/// the terminal (twice when `confirm`).
pub fn read_passphrase(file: Option<&Path>, confirm: bool) -> Result<SecretBytes, CliError> {
    let pw = if let Some(f) = file {
        let raw = SecretBytes::new(std::fs::read(f).map_err(|e| {
            CliError::usage(
                "cannot read the passphrase file",
                format!("{}: {e}", f.display()),
            )
        })?);
        let end = raw
            .expose()
            .iter()
            .rposition(|&b| b != b'\n' && b != b'\r')
            .map_or(0, |i| i + 1);
        SecretBytes::from_slice(&raw.expose()[..end])
    } else if let Some(v) = std::env::var_os("KMSFS_PASSPHRASE") {
        use std::os::unix::ffi::OsStrExt;
        SecretBytes::from_slice(v.as_bytes())
    } else {
        let a = prompt("Passphrase: ")?;
        if confirm {
            let b = prompt("Repeat passphrase: ")?;
            if a != b {
                return Err(CliError::usage(
                    "init failed",
                    "the passphrases do not match",
                ));
            }
        }
        a
    };
    if pw.is_empty() {
        return Err(CliError::usage("no passphrase", "the passphrase is empty")
            .hint("set KMSFS_PASSPHRASE, use --passphrase-file, or run on a terminal"));
    }
    Ok(pw)
}

fn prompt(msg: &str) -> Result<SecretBytes, CliError> {
    use std::io::{BufRead, Write};
    use std::os::fd::AsRawFd;
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| {
            CliError::usage("no passphrase", "no terminal to ask on")
                .hint("set KMSFS_PASSPHRASE or use --passphrase-file")
        })?;
    let fd = tty.as_raw_fd();
    // SAFETY: termios is plain data; fd is an open terminal for the duration of the calls.
    let mut old: libc::termios = unsafe { std::mem::zeroed() };
    let have_termios = unsafe { libc::tcgetattr(fd, &mut old) } == 0;
    if have_termios {
        let mut t = old;
        t.c_lflag &= !libc::ECHO;
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &t) };
    }
    let _ = (&tty).write_all(msg.as_bytes());
    let mut line = String::new();
    let r = std::io::BufReader::new(&tty).read_line(&mut line);
    if have_termios {
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &old) };
    }
    let _ = (&tty).write_all(b"\n");
    r.map_err(|e| CliError::usage("no passphrase", e.to_string()))?;
    let s = SecretBytes::from_slice(line.trim_end_matches(['\n', '\r']).as_bytes());
    zeroize::Zeroize::zeroize(&mut line);
    Ok(s)
}
