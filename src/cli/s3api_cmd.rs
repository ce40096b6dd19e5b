//! `kmsfs s3api <verb>`: the `aws s3api` verbs and flags for buckets and objects, so that
//! commands copied from AWS documentation run with `aws` replaced by `kmsfs`, over the
//! object service `kmsfs bucket|object` use. Output in S3's field names and shapes (the
//! fields of each operation's output, no more); operations S3 answers with nothing print
//! nothing. Objects keep `--content-type` and `--metadata` (S3 user metadata); copies keep
//! the source's unless `--metadata-directive REPLACE`.

use super::args::{self, Literal};
use super::aws_shorthand::{self, strings};
use super::error::{CliError, OrFail};
use super::session::Session;
use crate::kms::EncryptionContext;
use crate::kms::types::b64;
use crate::object::{
    BucketEncryption, ByteRange, ListObjects, ObjectInfo, PutOptions, Sse, SseCustomerKey,
};
use clap::Subcommand;
use serde_json::{Map, Value, json};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub(crate) enum S3apiCommand {
    /// Create a bucket (default encryption SSE-S3); prints its Location.
    CreateBucket {
        #[arg(long)]
        bucket: String,
        /// Accepted and ignored (a bucket is in the home's Region).
        #[arg(long)]
        create_bucket_configuration: Option<String>,
    },
    /// Set a bucket's default encryption; prints nothing.
    PutBucketEncryption {
        #[arg(long)]
        bucket: String,
        /// `{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"aws:kms",
        /// "KMSMasterKeyID":"KEY"},"BucketKeyEnabled":true}]}` (or file://, or shorthand).
        #[arg(long)]
        server_side_encryption_configuration: String,
    },
    /// A bucket's default encryption.
    GetBucketEncryption {
        #[arg(long)]
        bucket: String,
    },
    /// Go back to SSE-S3, the encryption every bucket has at least; prints nothing.
    DeleteBucketEncryption {
        #[arg(long)]
        bucket: String,
    },
    /// Whether the bucket exists (and its Region).
    HeadBucket {
        #[arg(long)]
        bucket: String,
    },
    /// Store a file (--body; none: an empty object) as --key.
    PutObject(PutObjectArgs),
    /// Write an object (or --range of it) to OUTFILE; prints its metadata.
    GetObject {
        #[arg(long)]
        bucket: String,
        #[arg(long)]
        key: String,
        /// bytes=FIRST-LAST, bytes=FIRST- or bytes=-SUFFIX.
        #[arg(long)]
        range: Option<String>,
        #[command(flatten)]
        sse_c: SseCArgs,
        /// Where to write the object ("-": standard output, with nothing else printed).
        outfile: PathBuf,
    },
    /// An object's metadata.
    HeadObject {
        #[arg(long)]
        bucket: String,
        #[arg(long)]
        key: String,
        #[command(flatten)]
        sse_c: SseCArgs,
    },
    /// Delete an object (no error if there is none); prints nothing.
    DeleteObject {
        #[arg(long)]
        bucket: String,
        #[arg(long)]
        key: String,
    },
    /// Delete several objects: --delete 'Objects=[{Key=a},{Key=b}],Quiet=false' or JSON.
    DeleteObjects {
        #[arg(long)]
        bucket: String,
        #[arg(long)]
        delete: String,
    },
    /// Copy --copy-source BUCKET/KEY to --bucket/--key, re-encrypted under a new data key.
    CopyObject(CopyObjectArgs),
    /// List objects. Without --max-keys or --continuation-token, every page (as the AWS CLI
    /// paginates); with them, one page and its NextContinuationToken.
    ListObjectsV2 {
        #[arg(long)]
        bucket: String,
        #[arg(long, default_value = "")]
        prefix: String,
        #[arg(long)]
        delimiter: Option<String>,
        #[arg(long)]
        max_keys: Option<usize>,
        #[arg(long)]
        continuation_token: Option<String>,
        #[arg(long)]
        start_after: Option<String>,
    },
}

/// SSE-C flags of a request.
#[derive(Debug, clap::Args)]
pub(crate) struct SseCArgs {
    /// AES256 (with --sse-customer-key).
    #[arg(long, value_parser = ["AES256"])]
    sse_customer_algorithm: Option<String>,
    /// Your 256-bit key: its 32 characters, fileb://PATH (32 raw bytes), or base64 of 32
    /// bytes. Not stored.
    #[arg(long)]
    sse_customer_key: Option<String>,
    /// Base64 of the key's MD5, checked against the key when given.
    #[arg(long)]
    sse_customer_key_md5: Option<String>,
}

/// Encryption flags of a PUT or of a copy's destination.
#[derive(Debug, clap::Args)]
pub(crate) struct SseArgs {
    /// AES256 (SSE-S3) or aws:kms (SSE-KMS); default: the bucket's default encryption.
    #[arg(long, value_parser = ["AES256", "aws:kms"])]
    server_side_encryption: Option<String>,
    /// With aws:kms: the KMS key (id, ARN or alias).
    #[arg(long)]
    ssekms_key_id: Option<String>,
    /// With aws:kms: base64 of a JSON object of strings (as the AWS CLI takes it).
    #[arg(long)]
    ssekms_encryption_context: Option<String>,
    /// With aws:kms: use the bucket key.
    #[arg(long)]
    bucket_key_enabled: bool,
    /// With aws:kms: do not use the bucket key (default: the bucket's setting).
    #[arg(long, conflicts_with = "bucket_key_enabled")]
    no_bucket_key_enabled: bool,
    #[command(flatten)]
    sse_c: SseCArgs,
    /// The object's Content-Type (default: S3 reports binary/octet-stream).
    #[arg(long)]
    content_type: Option<String>,
    /// User metadata: k=v,k2=v2 or a JSON object of strings (at most 2 KB; keys lowercased).
    #[arg(long)]
    metadata: Option<String>,
}

// `s3api put-object`.
#[derive(Debug, clap::Args)]
pub(crate) struct PutObjectArgs {
    #[arg(long)]
    bucket: String,
    #[arg(long)]
    key: String,
    /// The file to store (none: an empty object).
    #[arg(long)]
    body: Option<PathBuf>,
    #[command(flatten)]
    sse: SseArgs,
}

// `s3api copy-object`.
#[derive(Debug, clap::Args)]
pub(crate) struct CopyObjectArgs {
    /// BUCKET/KEY (URL-encoded as S3 takes it; a leading / is allowed).
    #[arg(long)]
    copy_source: String,
    #[arg(long)]
    bucket: String,
    #[arg(long)]
    key: String,
    /// AES256, with --copy-source-sse-customer-key.
    #[arg(long, value_parser = ["AES256"])]
    copy_source_sse_customer_algorithm: Option<String>,
    /// The SSE-C key of the source (as --sse-customer-key).
    #[arg(long)]
    copy_source_sse_customer_key: Option<String>,
    #[arg(long)]
    copy_source_sse_customer_key_md5: Option<String>,
    /// COPY (default): keep the source's Content-Type and metadata; REPLACE: take
    /// --content-type and --metadata instead.
    #[arg(long, value_parser = ["COPY", "REPLACE"])]
    metadata_directive: Option<String>,
    #[command(flatten)]
    sse: SseArgs,
}

/// `kmsfs s3api <verb>`.
pub(super) fn run(s: &Session, cmd: &S3apiCommand) -> Result<(), CliError> {
    let svc = s.objects();
    match cmd {
        S3apiCommand::CreateBucket { bucket, .. } => {
            let b = svc.create_bucket(bucket).or_fail(s.what)?;
            s.out.print(&json!({ "Location": format!("/{}", b.name) }))
        }
        S3apiCommand::PutBucketEncryption {
            bucket,
            server_side_encryption_configuration: c,
        } => {
            let enc = bucket_encryption(c)?;
            svc.put_bucket_encryption(bucket, &enc).or_fail(s.what)?;
            Ok(())
        }
        S3apiCommand::GetBucketEncryption { bucket } => {
            let enc = svc.get_bucket_encryption(bucket).or_fail(s.what)?;
            s.out.print(&super::object_cmd::encryption_json(&enc))
        }
        S3apiCommand::DeleteBucketEncryption { bucket } => {
            let enc = BucketEncryption::default();
            svc.put_bucket_encryption(bucket, &enc).or_fail(s.what)?;
            Ok(())
        }
        S3apiCommand::HeadBucket { bucket } => {
            svc.get_bucket_encryption(bucket).or_fail(s.what)?;
            let region = &s.home.config().region;
            s.out
                .print(&json!({ "BucketRegion": region, "AccessPointAlias": false }))
        }
        S3apiCommand::PutObject(a) => put_object(s, a),
        S3apiCommand::GetObject { .. } => get_object(s, cmd),
        S3apiCommand::HeadObject { bucket, key, sse_c } => {
            let k = sse_c_key(sse_c, "--sse-customer-key")?;
            let info = svc.head_object(bucket, key, k.as_ref()).or_fail(s.what)?;
            s.out.print(&read_json(&info))
        }
        S3apiCommand::DeleteObject { bucket, key } => {
            svc.delete_object(bucket, key).or_fail(s.what)?;
            Ok(())
        }
        S3apiCommand::DeleteObjects { bucket, delete } => delete_objects(s, bucket, delete),
        S3apiCommand::CopyObject(a) => copy_object(s, a),
        S3apiCommand::ListObjectsV2 { .. } => list_objects_v2(s, cmd),
    }
}

/// `--server-side-encryption-configuration`: its first rule.
fn bucket_encryption(arg: &str) -> Result<BucketEncryption, CliError> {
    const FLAG: &str = "--server-side-encryption-configuration";
    let v = aws_shorthand::structure(arg, FLAG)?;
    let rule = &v["Rules"][0];
    let by_default = &rule["ApplyServerSideEncryptionByDefault"];
    let alg = by_default["SSEAlgorithm"].as_str().unwrap_or_default();
    let sse_algorithm = Sse::parse(alg).ok_or_else(|| {
        CliError::usage(
            format!("bad {FLAG}"),
            format!("Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm '{alg}'"),
        )
        .hint("SSEAlgorithm is AES256 or aws:kms")
    })?;
    Ok(BucketEncryption {
        sse_algorithm,
        kms_master_key_id: by_default["KMSMasterKeyID"].as_str().map(str::to_string),
        bucket_key_enabled: strings(&rule["BucketKeyEnabled"]) == ["true"],
    })
}

/// An SSE-C key from `--sse-customer-key` (and its algorithm and MD5 flags).
fn sse_c_key(a: &SseCArgs, flag: &str) -> Result<Option<SseCustomerKey>, CliError> {
    customer_key(
        a.sse_customer_key.as_deref(),
        a.sse_customer_algorithm.as_deref(),
        a.sse_customer_key_md5.as_deref(),
        flag,
    )
}

pub(super) fn customer_key(
    key: Option<&str>,
    algorithm: Option<&str>,
    md5: Option<&str>,
    flag: &str,
) -> Result<Option<SseCustomerKey>, CliError> {
    let Some(key) = key else {
        return match algorithm {
            Some(_) => Err(CliError::usage(
                format!("{flag} is missing"),
                "an SSE-C algorithm was given without its key",
            )),
            None => Ok(None),
        };
    };
    if algorithm.is_none() {
        return Err(CliError::usage(
            format!("{flag} needs its algorithm"),
            "S3 requires the algorithm with a customer key",
        )
        .hint("add --sse-customer-algorithm AES256"));
    }
    let raw = args::blob(key, flag, Literal::Text)?;
    let bytes = if raw.expose().len() == 32 {
        raw.expose().to_vec()
    } else {
        b64::decode(key.trim()).unwrap_or_else(|_| raw.expose().to_vec())
    };
    let k = SseCustomerKey::from_bytes(&bytes).map_err(|e| {
        CliError::usage(format!("bad {flag}"), e.to_string())
            .hint("give the 32-character key, fileb://PATH (32 raw bytes), or base64 of 32 bytes")
    })?;
    if let Some(m) = md5.filter(|m| *m != k.key_md5()) {
        return Err(CliError::usage(
            format!("bad {flag}-md5"),
            format!("'{m}' is not the MD5 of the key given (base64 of the key's MD5)"),
        ));
    }
    Ok(Some(k))
}

/// `--metadata`: shorthand `k=v,k2=v2` or a JSON object of strings.
fn user_metadata(arg: Option<&str>) -> Result<Vec<(String, String)>, CliError> {
    const FLAG: &str = "--metadata";
    let Some(arg) = arg else {
        return Ok(Vec::new());
    };
    let Value::Object(m) = aws_shorthand::structure(arg, FLAG)? else {
        return Err(CliError::usage(format!("bad {FLAG}"), "not an object")
            .hint("give k=v,k2=v2 or a JSON object of strings"));
    };
    m.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            other => Err(CliError::usage(
                format!("bad {FLAG}"),
                format!("the value of '{k}' is {other}, not a string"),
            )
            .hint("give k=v,k2=v2 or a JSON object of strings")),
        })
        .collect()
}

fn put_options(a: &SseArgs) -> Result<PutOptions, CliError> {
    let encryption_context = match &a.ssekms_encryption_context {
        None => EncryptionContext::new(),
        Some(c) => {
            let bad = |why: String| {
                CliError::usage("bad --ssekms-encryption-context", why)
                    .hint("give base64 of a JSON object, e.g. $(echo -n '{\"k\":\"v\"}' | base64)")
            };
            let json = b64::decode(c.trim()).map_err(|e| bad(format!("not base64 ({e})")))?;
            serde_json::from_slice(&json)
                .map_err(|e| bad(format!("not a JSON object of strings ({e})")))?
        }
    };
    Ok(PutOptions {
        sse: a.server_side_encryption.as_deref().and_then(Sse::parse),
        kms_key_id: a.ssekms_key_id.clone(),
        encryption_context,
        sse_c: sse_c_key(&a.sse_c, "--sse-customer-key")?,
        bucket_key_enabled: match (a.bucket_key_enabled, a.no_bucket_key_enabled) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        content_type: a.content_type.clone(),
        metadata: user_metadata(a.metadata.as_deref())?,
        replace_metadata: false,
    })
}

/// The fields of `info` (as the service serializes it) named in `keys`.
fn pick(info: &ObjectInfo, keys: &[&str]) -> Map<String, Value> {
    let v = serde_json::to_value(info).unwrap_or_default();
    keys.iter()
        .filter_map(|k| Some((k.to_string(), v.get(*k)?.clone())))
        .collect()
}

const SSE_FIELDS: &[&str] = &[
    "ServerSideEncryption",
    "SSEKMSKeyId",
    "SSEKMSEncryptionContext",
    "BucketKeyEnabled",
    "SSECustomerAlgorithm",
    "SSECustomerKeyMD5",
];

/// GetObject's and HeadObject's output.
pub(super) fn read_json(info: &ObjectInfo) -> Value {
    let mut m = Map::new();
    m.insert("AcceptRanges".into(), "bytes".into());
    m.extend(pick(
        info,
        &["LastModified", "ContentLength", "ContentRange", "ETag"],
    ));
    m.insert("ContentType".into(), info.content_type.clone().into());
    let sse: Vec<&str> = SSE_FIELDS
        .iter()
        .copied()
        .filter(|f| *f != "SSEKMSEncryptionContext")
        .collect();
    m.extend(pick(info, &sse));
    m.insert("Metadata".into(), json!(info.metadata));
    Value::Object(m)
}

fn put_object(s: &Session, a: &PutObjectArgs) -> Result<(), CliError> {
    let opts = put_options(&a.sse)?;
    let svc = s.objects();
    let info = match &a.body {
        None => svc.put_object(&a.bucket, &a.key, std::io::empty(), &opts),
        Some(p) => {
            let f = std::fs::File::open(p).map_err(|e| {
                CliError::usage("cannot read --body", format!("{}: {e}", p.display()))
            })?;
            svc.put_object(&a.bucket, &a.key, f, &opts)
        }
    }
    .or_fail(s.what)?;
    let mut m = pick(&info, &["ETag"]);
    m.extend(pick(&info, SSE_FIELDS));
    s.out.print(&m)
}

fn get_object(s: &Session, cmd: &S3apiCommand) -> Result<(), CliError> {
    let S3apiCommand::GetObject {
        bucket,
        key,
        range,
        sse_c,
        outfile,
    } = cmd
    else {
        unreachable!("called for get-object only")
    };
    let svc = s.objects();
    let range = range
        .as_deref()
        .map(ByteRange::parse)
        .transpose()
        .or_fail(s.what)?;
    let k = sse_c_key(sse_c, "--sse-customer-key")?;
    if outfile.as_os_str() == "-" {
        let out = std::io::BufWriter::new(std::io::stdout().lock());
        svc.get_object(bucket, key, range, k.as_ref(), out)
            .or_fail(s.what)?;
        return Ok(());
    }
    let info =
        super::object_cmd::get_to_file(&svc, (bucket, key), range, k.as_ref(), outfile, s.what)?;
    s.out.print(&read_json(&info))
}

fn delete_objects(s: &Session, bucket: &str, delete: &str) -> Result<(), CliError> {
    let d = aws_shorthand::structure(delete, "--delete")?;
    let quiet = strings(&d["Quiet"]) == ["true"];
    let keys: Vec<String> = d["Objects"]
        .as_array()
        .map(|a| a.iter().flat_map(|o| strings(&o["Key"])).collect())
        .unwrap_or_default();
    if keys.is_empty() {
        return Err(CliError::usage(
            "bad --delete",
            "no Objects: give 'Objects=[{Key=a},{Key=b}]' or its JSON",
        ));
    }
    let svc = s.objects();
    let (mut deleted, mut errors) = (Vec::new(), Vec::new());
    for k in keys {
        match svc.delete_object(bucket, &k) {
            Ok(_) if !quiet => deleted.push(json!({ "Key": k })),
            Ok(_) => {}
            Err(e) => errors.push(json!({ "Key": k, "Code": e.code(), "Message": e.to_string() })),
        }
    }
    let mut out = Map::new();
    if !deleted.is_empty() {
        out.insert("Deleted".into(), deleted.into());
    }
    if !errors.is_empty() {
        out.insert("Errors".into(), errors.into());
    }
    if out.is_empty() {
        return Ok(());
    }
    s.out.print(&out)
}

/// `--copy-source`: `BUCKET/KEY` (percent-decoded; `?versionId=` is refused).
fn copy_source(src: &str) -> Result<(String, String), CliError> {
    let bad = |why: &str| {
        CliError::usage(format!("bad --copy-source '{src}'"), why.to_string())
            .hint("give BUCKET/KEY, e.g. --copy-source photos/2024/cat.jpg")
    };
    if src.contains("?versionId=") {
        return Err(bad("kmsfs buckets keep no versions"));
    }
    let decoded = percent_decode(src.trim_start_matches('/')).ok_or_else(|| bad("bad %-escape"))?;
    match decoded.split_once('/') {
        Some((b, k)) if !b.is_empty() && !k.is_empty() => Ok((b.into(), k.into())),
        _ => Err(bad("expected BUCKET/KEY")),
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn copy_object(s: &Session, a: &CopyObjectArgs) -> Result<(), CliError> {
    let (sb, sk) = copy_source(&a.copy_source)?;
    let src_key = customer_key(
        a.copy_source_sse_customer_key.as_deref(),
        a.copy_source_sse_customer_algorithm.as_deref(),
        a.copy_source_sse_customer_key_md5.as_deref(),
        "--copy-source-sse-customer-key",
    )?;
    let mut opts = put_options(&a.sse)?;
    opts.replace_metadata = a.metadata_directive.as_deref() == Some("REPLACE");
    let info = s
        .objects()
        .copy_object(&sb, &sk, src_key.as_ref(), &a.bucket, &a.key, &opts)
        .or_fail(s.what)?;
    let mut m = Map::new();
    m.insert(
        "CopyObjectResult".into(),
        Value::Object(pick(&info, &["ETag", "LastModified"])),
    );
    m.extend(pick(&info, SSE_FIELDS));
    s.out.print(&m)
}

fn list_objects_v2(s: &Session, cmd: &S3apiCommand) -> Result<(), CliError> {
    let S3apiCommand::ListObjectsV2 {
        bucket,
        prefix,
        delimiter,
        max_keys,
        continuation_token,
        start_after,
    } = cmd
    else {
        unreachable!("called for list-objects-v2 only")
    };
    let one_page = max_keys.is_some() || continuation_token.is_some();
    let mut req = ListObjects {
        prefix: prefix.clone(),
        delimiter: delimiter.clone(),
        start_after: continuation_token.clone().or(start_after.clone()),
        max_keys: max_keys.unwrap_or(1000),
    };
    let svc = s.objects();
    let (mut contents, mut prefixes) = (Vec::new(), Vec::new());
    let mut out = Map::new();
    loop {
        let page = svc.list_objects(bucket, &req).or_fail(s.what)?;
        contents.extend(page.contents.iter().map(|o| {
            json!({"Key": o.key, "LastModified": o.last_modified, "ETag": o.etag,
                   "Size": o.size, "StorageClass": o.storage_class})
        }));
        prefixes.extend(
            page.common_prefixes
                .iter()
                .map(|p| json!({"Prefix": p.prefix})),
        );
        if one_page || page.next_continuation_token.is_none() {
            out.insert("IsTruncated".into(), (one_page && page.is_truncated).into());
            if one_page && let Some(t) = &page.next_continuation_token {
                out.insert("NextContinuationToken".into(), t.clone().into());
            }
            break;
        }
        req.start_after = page.next_continuation_token;
    }
    out.insert("KeyCount".into(), (contents.len() + prefixes.len()).into());
    if !contents.is_empty() {
        out.insert("Contents".into(), contents.into());
    }
    if !prefixes.is_empty() {
        out.insert("CommonPrefixes".into(), prefixes.into());
    }
    out.insert("Name".into(), bucket.clone().into());
    out.insert("Prefix".into(), prefix.clone().into());
    if let Some(d) = delimiter {
        out.insert("Delimiter".into(), d.clone().into());
    }
    out.insert("MaxKeys".into(), req.max_keys.into());
    if let Some(t) = continuation_token {
        out.insert("ContinuationToken".into(), t.clone().into());
    }
    s.out.print(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_sources() {
        let p = |s: &str| copy_source(s).unwrap();
        assert_eq!(p("b/k/x"), ("b".into(), "k/x".into()));
        assert_eq!(p("/b/a%20b"), ("b".into(), "a b".into()));
        assert!(copy_source("b").is_err());
        assert!(copy_source("b/k?versionId=1").is_err());
    }

    #[test]
    fn encryption_configurations() {
        let e = bucket_encryption(
            r#"{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"aws:kms","KMSMasterKeyID":"alias/a"},"BucketKeyEnabled":true}]}"#,
        )
        .unwrap();
        assert_eq!(e.sse_algorithm, Sse::Kms);
        assert_eq!(e.kms_master_key_id.as_deref(), Some("alias/a"));
        assert!(e.bucket_key_enabled);
        let e =
            bucket_encryption("Rules=[{ApplyServerSideEncryptionByDefault={SSEAlgorithm=AES256}}]")
                .unwrap();
        assert_eq!(e.sse_algorithm, Sse::Aes256);
        assert!(!e.bucket_key_enabled);
        assert!(bucket_encryption(r#"{"Rules":[]}"#).is_err());
    }
}
