//! `kmsfs bucket ...` (create, list, delete, put-encryption, get-encryption) and
//! `kmsfs object ...` (put, get, head, list, delete, copy): S3 verbs and field names over
//! [`crate::object::ObjectService`]. Object-layer failures exit with [`exit::OBJECT`].

use super::args::{self, Literal};
use super::output::Printer;
use super::{Cli, CliError, exit, open_kms};
use crate::kms::{Embedded, KmsError};
use crate::object::{
    BucketEncryption, ByteRange, ListObjects, ObjectError, ObjectService, PutOptions, S3_PRINCIPAL,
    Sse, SseCustomerKey,
};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Subcommand)]
pub enum BucketCommand {
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
pub struct EncryptionArgs {
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
pub enum ObjectCommand {
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

/// Map an object-layer error for the operation `what`.
pub fn object_error(what: &str, e: ObjectError) -> CliError {
    match e {
        ObjectError::Kms {
            what: w,
            key,
            source,
        } => match source {
            KmsError::Store(s) => CliError::store(what, s),
            KmsError::Internal(m) => {
                CliError::new(what, format!("KMSInternalException: {m}"), exit::INTERNAL)
            }
            source => {
                let hint = match &source {
                    KmsError::Disabled(_) => {
                        Some("enable the key with `kmsfs kms enable-key --key-id <id>`")
                    }
                    KmsError::InvalidState(m) if m.contains("pending deletion") => Some(
                        "cancel the deletion with `kmsfs kms cancel-key-deletion --key-id <id>`, then enable the key",
                    ),
                    KmsError::NotFound(_) => Some(
                        "list keys with `kmsfs kms list-keys` and aliases with `kmsfs kms list-aliases`",
                    ),
                    _ => None,
                };
                let e = ObjectError::Kms {
                    what: w,
                    key,
                    source,
                };
                let mut c = CliError::new(what, e.to_string(), exit::REFUSED);
                c.hint = hint.map(String::from);
                c
            }
        },
        ObjectError::InvalidArgument(_)
        | ObjectError::InvalidBucketName(_)
        | ObjectError::KeyTooLong(_) => CliError::new(what, e.to_string(), exit::USAGE),
        ObjectError::Locked(_) => CliError::new(what, e.to_string(), exit::LOCKED)
            .hint("wait for the other kmsfs command to finish, then try again"),
        ObjectError::NoSuchBucket(_) => CliError::new(what, e.to_string(), exit::OBJECT)
            .hint("list buckets with `kmsfs bucket list`"),
        ObjectError::NoSuchKey { ref bucket, .. } => {
            let h = format!("list objects with `kmsfs object list {bucket}`");
            CliError::new(what, e.to_string(), exit::OBJECT).hint(h)
        }
        ObjectError::InvalidRequest(_) => CliError::new(what, e.to_string(), exit::OBJECT)
            .hint("SSE-C objects need the key they were stored with: --sse-c-key fileb://KEY"),
        e => CliError::new(what, e.to_string(), exit::OBJECT),
    }
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
    })
}

fn encryption_json(enc: &BucketEncryption) -> serde_json::Value {
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

fn service(
    cli: &Cli,
    root: &Path,
    what: &str,
) -> Result<(ObjectService, Arc<crate::kms::Kms>), CliError> {
    let (home, kms) = open_kms(cli, root, what)?;
    let client = Arc::new(Embedded::new(kms.clone(), S3_PRINCIPAL));
    Ok((ObjectService::new(&home, client), kms))
}

pub fn run_bucket(
    cli: &Cli,
    root: &Path,
    cmd: &BucketCommand,
    out: &Printer,
) -> Result<(), CliError> {
    let what = match cmd {
        BucketCommand::Create { .. } => "bucket create failed",
        BucketCommand::List => "bucket list failed",
        BucketCommand::Delete { .. } => "bucket delete failed",
        BucketCommand::PutEncryption { .. } => "bucket put-encryption failed",
        BucketCommand::GetEncryption { .. } => "bucket get-encryption failed",
    };
    let (svc, kms) = service(cli, root, what)?;
    let err = |e| object_error(what, e);
    let r = match cmd {
        BucketCommand::Create { bucket } => {
            let b = svc.create_bucket(bucket).map_err(err)?;
            out.print(&serde_json::json!({ "Location": format!("/{}", b.name), "Bucket": b }))
        }
        BucketCommand::List => {
            out.print(&serde_json::json!({ "Buckets": svc.list_buckets().map_err(err)? }))
        }
        BucketCommand::Delete { bucket, force } => {
            svc.delete_bucket(bucket, *force).map_err(err)?;
            out.print(&serde_json::json!({ "Bucket": bucket, "Deleted": true }))
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
            let e = svc.put_bucket_encryption(bucket, &enc).map_err(err)?;
            out.print(&encryption_json(&e))
        }
        BucketCommand::GetEncryption { bucket } => out.print(&encryption_json(
            &svc.get_bucket_encryption(bucket).map_err(err)?,
        )),
    };
    kms.flush_audit().map_err(|e| CliError::kms(what, e))?;
    r
}

pub fn run_object(
    cli: &Cli,
    root: &Path,
    cmd: &ObjectCommand,
    out: &Printer,
) -> Result<(), CliError> {
    let what = match cmd {
        ObjectCommand::Put { .. } => "object put failed",
        ObjectCommand::Get { .. } => "object get failed",
        ObjectCommand::Head { .. } => "object head failed",
        ObjectCommand::List { .. } => "object list failed",
        ObjectCommand::Delete { .. } => "object delete failed",
        ObjectCommand::Copy { .. } => "object copy failed",
    };
    let (svc, kms) = service(cli, root, what)?;
    let err = |e| object_error(what, e);
    let r = match cmd {
        ObjectCommand::Put { target, body, enc } => {
            let (b, k) = split_target(target)?;
            let opts = put_options(enc)?;
            let info = if body.as_os_str() == "-" {
                svc.put_object(b, k, std::io::stdin().lock(), &opts)
            } else {
                let f = std::fs::File::open(body).map_err(|e| {
                    CliError::usage("cannot read --body", format!("{}: {e}", body.display()))
                })?;
                svc.put_object(b, k, f, &opts)
            }
            .map_err(err)?;
            out.print(&info)
        }
        ObjectCommand::Get {
            target,
            outfile,
            range,
            sse_c_key,
        } => {
            let (b, k) = split_target(target)?;
            let range = range
                .as_deref()
                .map(ByteRange::parse)
                .transpose()
                .map_err(err)?;
            let key = sse_c(sse_c_key)?;
            if outfile.as_os_str() == "-" {
                let stdout = std::io::stdout().lock();
                svc.get_object(b, k, range, key.as_ref(), std::io::BufWriter::new(stdout))
                    .map_err(err)?;
                Ok(())
            } else {
                let info = get_to_file(&svc, b, k, range, key.as_ref(), outfile, what)?;
                out.print(&info)
            }
        }
        ObjectCommand::Head { target, sse_c_key } => {
            let (b, k) = split_target(target)?;
            let key = sse_c(sse_c_key)?;
            out.print(&svc.head_object(b, k, key.as_ref()).map_err(err)?)
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
            out.print(&svc.list_objects(bucket, &req).map_err(err)?)
        }
        ObjectCommand::Delete { target } => {
            let (b, k) = split_target(target)?;
            let existed = svc.delete_object(b, k).map_err(err)?;
            out.print(&serde_json::json!({ "Bucket": b, "Key": k, "Deleted": existed }))
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
            out.print(
                &svc.copy_object(sb, sk, src_key.as_ref(), b, k, &opts)
                    .map_err(err)?,
            )
        }
    };
    kms.flush_audit().map_err(|e| CliError::kms(what, e))?;
    r
}

/// GET into a temp file beside `outfile`, renamed over it only once every byte has been
/// authenticated: a failed GET leaves no partial output.
fn get_to_file(
    svc: &ObjectService,
    bucket: &str,
    key: &str,
    range: Option<ByteRange>,
    sse_c: Option<&SseCustomerKey>,
    outfile: &Path,
    what: &str,
) -> Result<crate::object::ObjectInfo, CliError> {
    let dir = match outfile.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = outfile
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("object");
    let tmp = dir.join(format!(".{name}.kmsfs-get.{}", std::process::id()));
    let io = |p: &Path, e: std::io::Error| {
        CliError::new(what, format!("{}: {e}", p.display()), exit::OBJECT)
    };
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| io(&tmp, e))?;
    let r = (|| {
        let info = svc
            .get_object(bucket, key, range, sse_c, std::io::BufWriter::new(&f))
            .map_err(|e| object_error(what, e))?;
        f.sync_all().map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, outfile).map_err(|e| io(outfile, e))?;
        Ok(info)
    })();
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

/// `kmsfs mount-bucket`: serve the bucket's directory view at `dir` (in a background daemon
/// unless `--foreground`), until `kmsfs umount`.
pub fn run_mount_bucket(
    cli: &Cli,
    root: &Path,
    bucket: &str,
    dir: &Path,
    opts: super::volume_cmd::MountOptions,
    out: &Printer,
) -> Result<(), CliError> {
    use super::volume_cmd::{mount_point, spawn_mount_daemon, watch_signals};
    let what = format!("mount of bucket {bucket} failed");
    let mp = mount_point(dir, &what)?;
    // The bucket must exist before anything is started.
    let (svc, kms) = service(cli, root, &what)?;
    svc.get_bucket_encryption(bucket)
        .map_err(|e| object_error(&what, e))?;
    let bdir = root.join("buckets").join(bucket);
    if !opts.foreground {
        drop((svc, kms));
        let pid = spawn_mount_daemon(
            cli,
            root,
            &["mount-bucket", bucket],
            &mp,
            opts,
            &bdir.join("mount.log"),
            &what,
        )?;
        return out.print(&serde_json::json!({
            "Bucket": bucket,
            "MountPoint": mp,
            "Pid": pid,
        }));
    }
    let view = crate::object::view::BucketView::new(Arc::new(svc), bucket, bdir.join("spool"))
        .map_err(|e| CliError::new(&what, e.to_string(), exit::OBJECT))?;
    watch_signals(mp.clone());
    eprintln!(
        "kmsfs: bucket {bucket} mounted at {} (pid {})",
        mp.display(),
        std::process::id()
    );
    let r = crate::object::fuse::serve(Arc::new(view), &mp, opts.allow_other);
    let _ = kms.flush_audit();
    r.map_err(|e| CliError::new(&what, e.to_string(), exit::MOUNT))?;
    eprintln!("kmsfs: bucket {bucket} unmounted from {}", mp.display());
    Ok(())
}
