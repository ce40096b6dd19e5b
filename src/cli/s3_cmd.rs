//! `kmsfs s3 cp|ls|rm|mb|rb`: the AWS CLI's high-level S3 verbs for whole files and trees,
//! over the object service. Paths are `s3://BUCKET[/KEY]` or local paths (`-`: standard
//! input or output); each object moved prints a line as the AWS CLI prints it
//! (`upload: f to s3://b/f`), `ls` prints the AWS CLI's columns (times in UTC).

use super::error::{CliError, OrFail};
use super::s3api_cmd::customer_key;
use super::session::Session;
use crate::object::{ListObjects, ObjectService, ObjectSummary, PutOptions, Sse, SseCustomerKey};
use clap::Subcommand;
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub(crate) enum S3Command {
    /// Copy a file or, with --recursive, a tree: local to s3://, s3:// to local, or s3://
    /// to s3:// (re-encrypted under a new data key).
    Cp(CpArgs),
    /// List buckets, or the objects and prefixes under s3://BUCKET[/PREFIX].
    Ls {
        path: Option<String>,
        /// Every key under the prefix, not only the first level.
        #[arg(long)]
        recursive: bool,
        /// Print the number of objects and their total size after the list.
        #[arg(long)]
        summarize: bool,
    },
    /// Delete an object, or with --recursive every object under a prefix.
    Rm {
        path: String,
        #[arg(long)]
        recursive: bool,
        /// Print nothing.
        #[arg(long)]
        quiet: bool,
    },
    /// Make a bucket: s3://BUCKET.
    Mb { path: String },
    /// Remove a bucket: s3://BUCKET (refused while it holds objects unless --force).
    Rb {
        path: String,
        /// Delete its objects first.
        #[arg(long)]
        force: bool,
    },
}

// `s3 cp`.
#[derive(Debug, clap::Args)]
pub(crate) struct CpArgs {
    source: String,
    destination: String,
    /// Copy every file under the source directory (or every key under the source prefix).
    #[arg(long)]
    recursive: bool,
    /// Print nothing.
    #[arg(long)]
    quiet: bool,
    /// Encrypt uploads with AES256 (SSE-S3, the default with no value) or aws:kms.
    #[arg(long, num_args = 0..=1, default_missing_value = "AES256", value_parser = ["AES256", "aws:kms"])]
    sse: Option<String>,
    /// With --sse aws:kms: the KMS key (id, ARN or alias).
    #[arg(long)]
    sse_kms_key_id: Option<String>,
    /// SSE-C: AES256 (the default with no value), with --sse-c-key.
    #[arg(long, num_args = 0..=1, default_missing_value = "AES256", value_parser = ["AES256"])]
    sse_c: Option<String>,
    /// SSE-C key of the upload's destination or the download's source: the 32-character
    /// key, fileb://PATH or base64 of 32 bytes.
    #[arg(long)]
    sse_c_key: Option<String>,
    /// SSE-C of an s3:// source of a copy: AES256.
    #[arg(long, num_args = 0..=1, default_missing_value = "AES256", value_parser = ["AES256"])]
    sse_c_copy_source: Option<String>,
    /// The SSE-C key of an s3:// source of a copy.
    #[arg(long)]
    sse_c_copy_source_key: Option<String>,
}

/// A path of `s3`: an object or prefix, or a local file (`-`: standard input or output).
#[derive(Debug, Clone, PartialEq)]
enum Loc {
    S3 { bucket: String, key: String },
    Local(PathBuf),
}

impl Loc {
    fn parse(p: &str) -> Loc {
        match p.strip_prefix("s3://") {
            Some(rest) => {
                let (b, k) = rest.split_once('/').unwrap_or((rest, ""));
                Loc::S3 {
                    bucket: b.into(),
                    key: k.into(),
                }
            }
            None => Loc::Local(p.into()),
        }
    }
}

fn s3_url(bucket: &str, key: &str) -> String {
    format!("s3://{bucket}/{key}")
}

/// The bucket of `s3://BUCKET[/]`.
fn bucket_of(p: &str, what: &str) -> Result<String, CliError> {
    match Loc::parse(p) {
        Loc::S3 { bucket, key } if !bucket.is_empty() && key.is_empty() => Ok(bucket),
        _ => Err(CliError::usage(what, format!("'{p}' is not s3://BUCKET"))),
    }
}

/// `kmsfs s3 <verb>`.
pub(super) fn run(s: &Session, cmd: &S3Command) -> Result<(), CliError> {
    let svc = s.objects();
    match cmd {
        S3Command::Cp(a) => cp(s, &svc, a),
        S3Command::Ls {
            path,
            recursive,
            summarize,
        } => ls(s, &svc, path.as_deref(), *recursive, *summarize),
        S3Command::Rm {
            path,
            recursive,
            quiet,
        } => {
            let Loc::S3 { bucket, key } = Loc::parse(path) else {
                return Err(CliError::usage(s.what, format!("'{path}' is not s3://...")));
            };
            let keys = if *recursive {
                all_keys(s, &svc, &bucket, &key)?
            } else {
                vec![key]
            };
            for k in keys {
                svc.delete_object(&bucket, &k).or_fail(s.what)?;
                say(*quiet, format!("delete: {}", s3_url(&bucket, &k)));
            }
            Ok(())
        }
        S3Command::Mb { path } => {
            let b = bucket_of(path, s.what)?;
            svc.create_bucket(&b).or_fail(s.what)?;
            say(false, format!("make_bucket: {b}"));
            Ok(())
        }
        S3Command::Rb { path, force } => {
            let b = bucket_of(path, s.what)?;
            if *force {
                for k in all_keys(s, &svc, &b, "")? {
                    svc.delete_object(&b, &k).or_fail(s.what)?;
                    say(false, format!("delete: {}", s3_url(&b, &k)));
                }
            }
            svc.delete_bucket(&b, false).or_fail(s.what)?;
            say(false, format!("remove_bucket: {b}"));
            Ok(())
        }
    }
}

fn say(quiet: bool, line: String) {
    if !quiet {
        println!("{line}");
    }
}

/// Every object under `prefix`, all pages.
fn all_objects(
    s: &Session,
    svc: &ObjectService,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<ObjectSummary>, CliError> {
    let mut req = ListObjects {
        prefix: prefix.into(),
        ..ListObjects::default()
    };
    let mut out = Vec::new();
    loop {
        let page = svc.list_objects(bucket, &req).or_fail(s.what)?;
        out.extend(page.contents);
        match page.next_continuation_token {
            Some(t) => req.start_after = Some(t),
            None => return Ok(out),
        }
    }
}

fn all_keys(
    s: &Session,
    svc: &ObjectService,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<String>, CliError> {
    let objects = all_objects(s, svc, bucket, &dir_prefix(prefix))?;
    Ok(objects.into_iter().map(|o| o.key).collect())
}

/// A prefix as a folder: `a/b` is `a/b/` (the empty prefix stays empty).
fn dir_prefix(p: &str) -> String {
    if p.is_empty() || p.ends_with('/') {
        p.to_string()
    } else {
        format!("{p}/")
    }
}

/// `2026-11-30 14:00:00` from an RFC 3339 time.
fn ls_time(t: &str) -> String {
    let t = t.replace('T', " ");
    t.get(..19).unwrap_or(&t).to_string()
}

fn ls(
    s: &Session,
    svc: &ObjectService,
    path: Option<&str>,
    recursive: bool,
    summarize: bool,
) -> Result<(), CliError> {
    let Some(path) = path.filter(|p| *p != "s3://") else {
        for b in svc.list_buckets().or_fail(s.what)? {
            println!("{} {}", ls_time(&b.creation_date), b.name);
        }
        return Ok(());
    };
    let Loc::S3 { bucket, key } = Loc::parse(path) else {
        return Err(CliError::usage(s.what, format!("'{path}' is not s3://...")));
    };
    let mut req = ListObjects {
        prefix: key.clone(),
        delimiter: (!recursive).then(|| "/".to_string()),
        ..ListObjects::default()
    };
    let (mut count, mut total) = (0u64, 0u64);
    loop {
        let page = svc.list_objects(&bucket, &req).or_fail(s.what)?;
        for p in &page.common_prefixes {
            let name = p.prefix.trim_end_matches('/').rsplit('/').next();
            // "PRE" right-justified in 30 columns, as the AWS CLI prints it.
            println!("{:>30} {}/", "PRE", name.unwrap_or(""));
        }
        for o in &page.contents {
            let name = if recursive {
                o.key.as_str()
            } else {
                o.key.rsplit('/').next().unwrap_or(&o.key)
            };
            println!("{} {:>10} {name}", ls_time(&o.last_modified), o.size);
            count += 1;
            total += o.size;
        }
        match page.next_continuation_token {
            Some(t) => req.start_after = Some(t),
            None => break,
        }
    }
    if summarize {
        println!("\nTotal Objects: {count}\n   Total Size: {total}");
    }
    Ok(())
}

/// The encryption of the uploads and copies of a `cp`.
fn cp_put_options(a: &CpArgs) -> Result<PutOptions, CliError> {
    let sse = match (&a.sse, &a.sse_kms_key_id) {
        (Some(x), _) => Sse::parse(x),
        (None, Some(_)) => Some(Sse::Kms),
        (None, None) => None,
    };
    Ok(PutOptions {
        sse,
        kms_key_id: a.sse_kms_key_id.clone(),
        sse_c: sse_c(a)?,
        ..PutOptions::default()
    })
}

fn sse_c(a: &CpArgs) -> Result<Option<SseCustomerKey>, CliError> {
    let alg = a
        .sse_c
        .as_deref()
        .or(a.sse_c_key.as_ref().map(|_| "AES256"));
    customer_key(a.sse_c_key.as_deref(), alg, None, "--sse-c-key")
}

/// One transfer of a `cp`.
struct Job {
    from: Loc,
    to: Loc,
}

fn cp(s: &Session, svc: &ObjectService, a: &CpArgs) -> Result<(), CliError> {
    let (from, to) = (Loc::parse(&a.source), Loc::parse(&a.destination));
    if matches!((&from, &to), (Loc::Local(_), Loc::Local(_))) {
        return Err(CliError::usage(
            s.what,
            "one of the paths must be s3://BUCKET/KEY",
        ));
    }
    let jobs = if a.recursive {
        tree_jobs(s, svc, &from, &to)?
    } else {
        vec![single_job(from, to)]
    };
    let opts = cp_put_options(a)?;
    let copy_src_key = customer_key(
        a.sse_c_copy_source_key.as_deref(),
        a.sse_c_copy_source
            .as_deref()
            .or(a.sse_c_copy_source_key.as_ref().map(|_| "AES256")),
        None,
        "--sse-c-copy-source-key",
    )?;
    for j in jobs {
        transfer(s, svc, &j, &opts, copy_src_key.as_ref(), a.quiet)?;
    }
    Ok(())
}

/// A single file: a destination naming a folder (`s3://b/`, `s3://b/dir/`, an existing
/// directory, `dir/`) gets the source's file name.
fn single_job(from: Loc, to: Loc) -> Job {
    let name = match &from {
        Loc::S3 { key, .. } => key.rsplit('/').next().unwrap_or(key).to_string(),
        Loc::Local(p) => p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let to = match to {
        Loc::S3 { bucket, key } if key.is_empty() || key.ends_with('/') => Loc::S3 {
            bucket,
            key: format!("{key}{name}"),
        },
        Loc::Local(p) if p.is_dir() || p.to_string_lossy().ends_with('/') => {
            Loc::Local(p.join(name))
        }
        other => other,
    };
    Job { from, to }
}

/// `--recursive`: every file under a directory, or every key under a prefix.
fn tree_jobs(s: &Session, svc: &ObjectService, from: &Loc, to: &Loc) -> Result<Vec<Job>, CliError> {
    let rel: Vec<(Loc, String)> = match from {
        Loc::Local(dir) => {
            let mut files = Vec::new();
            walk(dir, dir, &mut files).map_err(|e| {
                CliError::usage(s.what, format!("cannot read {}: {e}", dir.display()))
            })?;
            files.into_iter().map(|(p, r)| (Loc::Local(p), r)).collect()
        }
        Loc::S3 { bucket, key } => {
            let prefix = dir_prefix(key);
            all_objects(s, svc, bucket, &prefix)?
                .into_iter()
                .map(|o| {
                    let r = o.key[prefix.len()..].to_string();
                    let from = Loc::S3 {
                        bucket: bucket.clone(),
                        key: o.key,
                    };
                    (from, r)
                })
                .collect()
        }
    };
    Ok(rel
        .into_iter()
        .map(|(from, r)| {
            let to = match to {
                Loc::S3 { bucket, key } => Loc::S3 {
                    bucket: bucket.clone(),
                    key: format!("{}{r}", dir_prefix(key)),
                },
                Loc::Local(d) => Loc::Local(d.join(&r)),
            };
            Job { from, to }
        })
        .collect())
}

/// The files under `dir` (sorted), each with its path relative to `root` in `/` form.
fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, String)>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        if e.file_type()?.is_dir() {
            walk(root, &p, out)?;
        } else {
            let rel = p.strip_prefix(root).unwrap_or(&p);
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push((p, rel.join("/")));
        }
    }
    Ok(())
}

fn transfer(
    s: &Session,
    svc: &ObjectService,
    j: &Job,
    opts: &PutOptions,
    copy_src_key: Option<&SseCustomerKey>,
    quiet: bool,
) -> Result<(), CliError> {
    let io = |p: &Path, e: std::io::Error| CliError::usage(s.what, format!("{}: {e}", p.display()));
    match (&j.from, &j.to) {
        (Loc::Local(p), Loc::S3 { bucket, key }) => {
            if p.as_os_str() == "-" {
                svc.put_object(bucket, key, std::io::stdin().lock(), opts)
                    .or_fail(s.what)?;
                return Ok(());
            }
            let f = std::fs::File::open(p).map_err(|e| io(p, e))?;
            svc.put_object(bucket, key, f, opts).or_fail(s.what)?;
            say(
                quiet,
                format!("upload: {} to {}", p.display(), s3_url(bucket, key)),
            );
        }
        (Loc::S3 { bucket, key }, Loc::Local(p)) => {
            if p.as_os_str() == "-" {
                let out = std::io::BufWriter::new(std::io::stdout().lock());
                svc.get_object(bucket, key, None, opts.sse_c.as_ref(), out)
                    .or_fail(s.what)?;
                return Ok(());
            }
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
            }
            let k = opts.sse_c.as_ref();
            super::object_cmd::get_to_file(svc, (bucket, key), None, k, p, s.what)?;
            say(
                quiet,
                format!("download: {} to {}", s3_url(bucket, key), p.display()),
            );
        }
        (
            Loc::S3 {
                bucket: sb,
                key: sk,
            },
            Loc::S3 { bucket, key },
        ) => {
            svc.copy_object(sb, sk, copy_src_key, bucket, key, opts)
                .or_fail(s.what)?;
            say(
                quiet,
                format!("copy: {} to {}", s3_url(sb, sk), s3_url(bucket, key)),
            );
        }
        (Loc::Local(_), Loc::Local(_)) => unreachable!("refused before"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_and_names() {
        let j = single_job(Loc::parse("dir/f.txt"), Loc::parse("s3://b/"));
        assert_eq!(
            j.to,
            Loc::S3 {
                bucket: "b".into(),
                key: "f.txt".into()
            }
        );
        let j = single_job(Loc::parse("s3://b/a/k"), Loc::parse("s3://c"));
        assert_eq!(
            j.to,
            Loc::S3 {
                bucket: "c".into(),
                key: "k".into()
            }
        );
        assert_eq!(ls_time("2026-11-30T14:00:00.123Z"), "2026-11-30 14:00:00");
        assert_eq!(dir_prefix("a"), "a/");
        assert_eq!(dir_prefix(""), "");
    }
}
