//! `kmsfs bucket ...` (create, list, delete, put-encryption, get-encryption) and
//! `kmsfs object ...` (put, get, head, list, delete, copy): S3 verbs and field names over
//! [`crate::object::ObjectService`]. Object-layer failures exit with [`exit::OBJECT`].

use super::args::{self, Literal};
use super::error::{CliError, OrFail, exit};
use super::session::Session;
use crate::fsutil::{self, PendingFile};
use crate::object::{
    BucketEncryption, ByteRange, ListObjects, ObjectInfo, ObjectService, PutOptions, Sse,
    SseCustomerKey,
};
use clap::Subcommand;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub(crate) enum BucketCommand {
    /// Create a bucket (default encryption: SSE-S3, as S3 gives new buckets).
    Create {
        bucket: String,
    },
    List,
    /// Delete a bucket; refused while it holds objects unless --force.
    Delete {
        bucket: String,
        /// Delete its objects too.
        #[arg(long)]
        force: bool,
    },
    /// Set the bucket's default encryption.
    PutEncryption {
        bucket: String,
        /// AES256 (SSE-S3) or aws:kms (SSE-KMS).
        #[arg(long, value_parser = ["AES256", "aws:kms"])]
        sse: String,
        /// With aws:kms: the KMS key (id, ARN or alias; default alias/aws/s3).
        #[arg(long)]
        kms_key_id: Option<String>,
        /// With aws:kms: wrap object keys under a bucket key (KMS called about once per hour).
        #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "true|false")]
        bucket_key_enabled: Option<bool>,
    },
    /// Show the bucket's default encryption.
    GetEncryption {
        bucket: String,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct EncryptionArgs {
    /// AES256 (SSE-S3) or aws:kms (SSE-KMS); default: the bucket's default encryption.
    #[arg(long, value_parser = ["AES256", "aws:kms"])]
    sse: Option<String>,
    /// With --sse aws:kms: the KMS key (id, ARN or alias).
    #[arg(long)]
    kms_key_id: Option<String>,
    /// With --sse aws:kms: extra encryption context, k=v,k2=v2 or JSON.
    #[arg(long)]
    encryption_context: Option<String>,
    /// SSE-C: your 256-bit key, fileb://PATH (32 raw bytes) or base64. Not stored.
    #[arg(long, alias = "sse-customer-key")]
    sse_c_key: Option<String>,
    /// With --sse aws:kms: use the bucket key (default: the bucket's setting).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "true|false")]
    bucket_key_enabled: Option<bool>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ObjectCommand {
    /// Store a file as BUCKET/KEY (replacing any object there); prints the object's SSE.
    Put {
        /// BUCKET/KEY (or s3://BUCKET/KEY).
        target: String,
        /// The file to store ("-" for standard input).
        #[arg(long)]
        body: PathBuf,
        #[command(flatten)]
        enc: EncryptionArgs,
    },
    /// Write BUCKET/KEY (or a range of it) to OUTFILE ("-" for standard output).
    Get {
        target: String,
        outfile: PathBuf,
        /// bytes=FIRST-LAST, bytes=FIRST- or bytes=-SUFFIX.
        #[arg(long)]
        range: Option<String>,
        /// The SSE-C key the object was stored with.
        #[arg(long, alias = "sse-customer-key")]
        sse_c_key: Option<String>,
    },
    /// Show an object's size, ETag and encryption.
    Head {
        target: String,
        #[arg(long, alias = "sse-customer-key")]
        sse_c_key: Option<String>,
    },
    /// List objects (ListObjectsV2).
    List {
        bucket: String,
        #[arg(long, default_value = "")]
        prefix: String,
        /// Group keys into CommonPrefixes up to this string (e.g. /).
        #[arg(long)]
        delimiter: Option<String>,
        /// Start after this key (or a NextContinuationToken).
        #[arg(long, alias = "continuation-token")]
        start_after: Option<String>,
        #[arg(long, default_value_t = 1000)]
        max_keys: usize,
    },
    /// Delete an object (succeeds if there is none, as in S3).
    Delete { target: String },
    /// Copy SOURCE to TARGET, re-encrypted under a new data key (the target bucket's
    /// default encryption unless given).
    Copy {
        source: String,
        target: String,
        /// The SSE-C key of the source.
        #[arg(long)]
        copy_source_sse_c_key: Option<String>,
        #[command(flatten)]
        enc: EncryptionArgs,
    },
}

/// Split `BUCKET/KEY` (optionally `s3://BUCKET/KEY`).
fn split_target(t: &str) -> Result<(&str, &str), CliError> {
    let t = t.strip_prefix("s3://").unwrap_or(t);
    match t.split_once('/') {
        Some((b, k)) if !b.is_empty() && !k.is_empty() => Ok((b, k)),
        _ => Err(CliError::usage(
            format!("bad object name '{t}'"),
            "expected BUCKET/KEY, e.g. photos/2024/cat.jpg",
        )),
    }
}

fn sse_c(arg: &Option<String>) -> Result<Option<SseCustomerKey>, CliError> {
    let Some(a) = arg else { return Ok(None) };
    let raw = args::blob(a, "--sse-c-key", Literal::Base64)?;
    SseCustomerKey::from_bytes(raw.expose())
        .map(Some)
        .map_err(|e| {
            CliError::usage("bad --sse-c-key", e.to_string())
                .hint("give 32 raw bytes with fileb://PATH, or their base64")
        })
}

fn put_options(e: &EncryptionArgs) -> Result<PutOptions, CliError> {
    Ok(PutOptions {
        sse: e.sse.as_deref().and_then(Sse::parse),
        kms_key_id: e.kms_key_id.clone(),
        encryption_context: args::context(&e.encryption_context)?.unwrap_or_default(),
        sse_c: sse_c(&e.sse_c_key)?,
        bucket_key_enabled: e.bucket_key_enabled,
        ..PutOptions::default()
    })
}

pub(super) fn encryption_json(enc: &BucketEncryption) -> serde_json::Value {
    let mut by_default = serde_json::json!({ "SSEAlgorithm": enc.sse_algorithm });
    if let Some(k) = &enc.kms_master_key_id {
        by_default["KMSMasterKeyID"] = k.clone().into();
    }
    serde_json::json!({
        "ServerSideEncryptionConfiguration": {
            "Rules": [{
                "ApplyServerSideEncryptionByDefault": by_default,
                "BucketKeyEnabled": enc.bucket_key_enabled,
            }]
        }
    })
}

/// `kmsfs bucket <verb>`.
pub(super) fn bucket(s: &Session, cmd: &BucketCommand) -> Result<(), CliError> {
    let svc = s.objects();
    match cmd {
        BucketCommand::Create { bucket } => s.reply(
            svc.create_bucket(bucket)
                .map(|b| serde_json::json!({ "Location": format!("/{}", b.name), "Bucket": b })),
        ),
        BucketCommand::List => s.reply(
            svc.list_buckets()
                .map(|b| serde_json::json!({ "Buckets": b })),
        ),
        BucketCommand::Delete { bucket, force } => {
            svc.delete_bucket(bucket, *force).or_fail(s.what)?;
            s.out
                .print(&serde_json::json!({ "Bucket": bucket, "Deleted": true }))
        }
        BucketCommand::PutEncryption {
            bucket,
            sse,
            kms_key_id,
            bucket_key_enabled,
        } => {
            let enc = BucketEncryption {
                sse_algorithm: Sse::parse(sse).unwrap_or(Sse::Aes256),
                kms_master_key_id: kms_key_id.clone(),
                bucket_key_enabled: bucket_key_enabled.unwrap_or(false),
            };
            s.reply(
                svc.put_bucket_encryption(bucket, &enc)
                    .map(|e| encryption_json(&e)),
            )
        }
        BucketCommand::GetEncryption { bucket } => s.reply(
            svc.get_bucket_encryption(bucket)
                .map(|e| encryption_json(&e)),
        ),
    }
}

/// `kmsfs object <verb>`.
pub(super) fn object(s: &Session, cmd: &ObjectCommand) -> Result<(), CliError> {
    let svc = s.objects();
    match cmd {
        ObjectCommand::Put { target, body, enc } => s.out.print(&put(s, &svc, target, body, enc)?),
        ObjectCommand::Get {
            target,
            outfile,
            range,
            sse_c_key,
        } => get(s, &svc, target, outfile, range.as_deref(), sse_c_key),
        ObjectCommand::Head { target, sse_c_key } => {
            let (b, k) = split_target(target)?;
            let key = sse_c(sse_c_key)?;
            s.reply(svc.head_object(b, k, key.as_ref()))
        }
        ObjectCommand::List {
            bucket,
            prefix,
            delimiter,
            start_after,
            max_keys,
        } => {
            let req = ListObjects {
                prefix: prefix.clone(),
                delimiter: delimiter.clone(),
                start_after: start_after.clone(),
                max_keys: *max_keys,
            };
            s.reply(svc.list_objects(bucket, &req))
        }
        ObjectCommand::Delete { target } => {
            let (b, k) = split_target(target)?;
            let existed = svc.delete_object(b, k).or_fail(s.what)?;
            s.out
                .print(&serde_json::json!({ "Bucket": b, "Key": k, "Deleted": existed }))
        }
        ObjectCommand::Copy {
            source,
            target,
            copy_source_sse_c_key,
            enc,
        } => {
            let (sb, sk) = split_target(source)?;
            let (b, k) = split_target(target)?;
            let src_key = sse_c(copy_source_sse_c_key)?;
            let opts = put_options(enc)?;
            s.reply(svc.copy_object(sb, sk, src_key.as_ref(), b, k, &opts))
        }
    }
}

/// `object put`: store the file `body` (`-`: standard input) as `target`.
fn put(
    s: &Session,
    svc: &ObjectService,
    target: &str,
    body: &Path,
    enc: &EncryptionArgs,
) -> Result<ObjectInfo, CliError> {
    let (b, k) = split_target(target)?;
    let opts = put_options(enc)?;
    if body.as_os_str() == "-" {
        svc.put_object(b, k, std::io::stdin().lock(), &opts)
    } else {
        let f = std::fs::File::open(body).map_err(|e| {
            CliError::usage("cannot read --body", format!("{}: {e}", body.display()))
        })?;
        svc.put_object(b, k, f, &opts)
    }
    .or_fail(s.what)
}

/// `object get`: write `target` (or a range of it) to `outfile` (`-`: standard output,
/// with no result printed).
fn get(
    s: &Session,
    svc: &ObjectService,
    target: &str,
    outfile: &Path,
    range: Option<&str>,
    sse_c_key: &Option<String>,
) -> Result<(), CliError> {
    let (b, k) = split_target(target)?;
    let range = range.map(ByteRange::parse).transpose().or_fail(s.what)?;
    let key = sse_c(sse_c_key)?;
    if outfile.as_os_str() == "-" {
        let stdout = BufWriter::new(super::output::QuietPipe::new(std::io::stdout().lock()));
        svc.get_object(b, k, range, key.as_ref(), stdout)
            .or_fail(s.what)?;
        Ok(())
    } else {
        let info = get_to_file(svc, (b, k), range, key.as_ref(), outfile, s.what)?;
        s.out.print(&info)
    }
}

/// GET into a temp file beside `outfile`, renamed over it only once every byte has been
/// authenticated: a failed GET leaves no partial output.
pub(super) fn get_to_file(
    svc: &ObjectService,
    (bucket, key): (&str, &str),
    range: Option<ByteRange>,
    sse_c: Option<&SseCustomerKey>,
    outfile: &Path,
    what: &str,
) -> Result<ObjectInfo, CliError> {
    let name = outfile
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("object");
    let tmp = fsutil::parent_dir(outfile).join(format!(".{name}.kmsfs-get.{}", std::process::id()));
    let io = |p: &Path, e: std::io::Error| {
        CliError::new(what, format!("{}: {e}", p.display()), exit::OBJECT)
    };
    // Created as files are by default (0o666 less the umask).
    let mut f = PendingFile::create_as(outfile, tmp.clone(), 0o666).map_err(|e| io(&tmp, e))?;
    let info = svc
        .get_object(bucket, key, range, sse_c, BufWriter::new(f.writer()))
        .or_fail(what)?;
    f.file().sync_all().map_err(|e| io(&tmp, e))?;
    f.commit().map_err(|e| io(outfile, e))?;
    Ok(info)
}
