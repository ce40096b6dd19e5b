//! `kmsfs s3api ...` and `kmsfs s3 ...` run as the AWS documentation's `aws s3api` and
//! `aws s3` examples, with `aws` replaced by `kmsfs`: real processes on a real home. JSON
//! outputs are checked against botocore's model of the operation (tests/aws_shape);
//! operations S3 answers with nothing print nothing; `s3` prints the AWS CLI's lines.

mod aws_shape;
mod common;
use common::cli::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

type Py = Option<PathBuf>;

/// `kmsfs s3api ARGS`: must succeed; its JSON output (`Null` if none) in botocore's
/// output shape of `op`.
fn s3api(home: &Path, py: &Py, op: &str, args: &[&str]) -> Value {
    let mut all = vec!["s3api"];
    all.extend_from_slice(args);
    let v = run_ok(home, &all);
    if !v.is_null() {
        aws_shape::check(py, "s3", op, &v);
    }
    v
}

fn home_with_key() -> (tempfile::TempDir, PathBuf, String) {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let arn = key_with_alias(&home, "alias/app");
    (d, home, arn)
}

fn b64(s: &str) -> String {
    use std::fmt::Write;
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in s.as_bytes().chunks(3) {
        let n = c
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.write_char('=').unwrap();
            }
        }
    }
    out
}

#[test]
fn buckets_as_aws_s3api() {
    let py = aws_shape::python("cli_s3api::buckets_as_aws_s3api");
    let (_d, home, _) = home_with_key();
    let v = s3api(
        &home,
        &py,
        "CreateBucket",
        &["create-bucket", "--bucket", "my-bucket"],
    );
    assert_eq!(v["Location"], "/my-bucket");
    let v = s3api(
        &home,
        &py,
        "HeadBucket",
        &["head-bucket", "--bucket", "my-bucket"],
    );
    assert_eq!(v["BucketRegion"], "us-east-1");
    fails(
        &kmsfs(&home, &["s3api", "head-bucket", "--bucket", "nope"]),
        11,
        "NoSuchBucket",
    );

    let get = || {
        s3api(
            &home,
            &py,
            "GetBucketEncryption",
            &["get-bucket-encryption", "--bucket", "my-bucket"],
        )
    };
    let rule = |v: &Value| v["ServerSideEncryptionConfiguration"]["Rules"][0].clone();
    assert_eq!(
        rule(&get())["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"],
        "AES256"
    );
    let conf = r#"{"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/app"}, "BucketKeyEnabled": true}]}"#;
    let v = s3api(
        &home,
        &py,
        "PutBucketEncryption",
        &[
            "put-bucket-encryption",
            "--bucket",
            "my-bucket",
            "--server-side-encryption-configuration",
            conf,
        ],
    );
    assert!(v.is_null());
    let r = rule(&get());
    assert_eq!(
        r["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"],
        "alias/app"
    );
    assert_eq!(r["BucketKeyEnabled"], true);
    assert!(
        s3api(
            &home,
            &py,
            "DeleteBucketEncryption",
            &["delete-bucket-encryption", "--bucket", "my-bucket"]
        )
        .is_null()
    );
    assert_eq!(
        rule(&get())["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"],
        "AES256"
    );
    // Shorthand, as the AWS CLI takes it too.
    s3api(
        &home,
        &py,
        "PutBucketEncryption",
        &[
            "put-bucket-encryption",
            "--bucket",
            "my-bucket",
            "--server-side-encryption-configuration",
            "Rules=[{ApplyServerSideEncryptionByDefault={SSEAlgorithm=aws:kms,KMSMasterKeyID=alias/app}}]",
        ],
    );
    assert_eq!(
        rule(&get())["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"],
        "aws:kms"
    );
    fails(
        &kmsfs(
            &home,
            &[
                "s3api",
                "put-bucket-encryption",
                "--bucket",
                "my-bucket",
                "--server-side-encryption-configuration",
                r#"{"Rules":[{}]}"#,
            ],
        ),
        2,
        "SSEAlgorithm",
    );
}

#[test]
fn objects_as_aws_s3api() {
    let py = aws_shape::python("cli_s3api::objects_as_aws_s3api");
    let (d, home, arn) = home_with_key();
    run_ok(&home, &["s3api", "create-bucket", "--bucket", "docs"]);
    let body = d.path().join("report.txt");
    std::fs::write(&body, b"quarterly figures\n").unwrap();
    let body = body.to_str().unwrap();
    let ctx = b64(r#"{"dept":"finance"}"#);
    let v = s3api(
        &home,
        &py,
        "PutObject",
        &[
            "put-object",
            "--bucket",
            "docs",
            "--key",
            "2026/report.txt",
            "--body",
            body,
            "--server-side-encryption",
            "aws:kms",
            "--ssekms-key-id",
            "alias/app",
            "--ssekms-encryption-context",
            &ctx,
            "--bucket-key-enabled",
        ],
    );
    assert_eq!(v["ServerSideEncryption"], "aws:kms");
    assert_eq!(v["SSEKMSKeyId"], arn.as_str());
    assert_eq!(v["BucketKeyEnabled"], true);
    md5_hex_of(&v);
    assert!(v["SSEKMSEncryptionContext"].is_string());
    let o = kmsfs(
        &home,
        &[
            "s3api",
            "put-object",
            "--bucket",
            "docs",
            "--key",
            "t.txt",
            "--body",
            body,
            "--content-type",
            "text/plain",
            "--metadata",
            "Owner=alice,project=cats",
        ],
    );
    ok(&o);
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    content_type_and_metadata(&home, &py);

    let v = s3api(
        &home,
        &py,
        "HeadObject",
        &[
            "head-object",
            "--bucket",
            "docs",
            "--key",
            "2026/report.txt",
        ],
    );
    assert_eq!(v["ContentLength"], 18);
    assert_eq!(v["SSEKMSKeyId"], arn.as_str());
    let out = d.path().join("out.txt");
    let v = s3api(
        &home,
        &py,
        "GetObject",
        &[
            "get-object",
            "--bucket",
            "docs",
            "--key",
            "2026/report.txt",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(v["ContentLength"], 18);
    assert_eq!(std::fs::read(&out).unwrap(), b"quarterly figures\n");
    let v = s3api(
        &home,
        &py,
        "GetObject",
        &[
            "get-object",
            "--bucket",
            "docs",
            "--key",
            "2026/report.txt",
            "--range",
            "bytes=0-8",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(v["ContentRange"], "bytes 0-8/18");
    assert_eq!(std::fs::read(&out).unwrap(), b"quarterly");

    // SSE-C: the key as its 32 characters, its MD5 checked.
    let key = "0123456789abcdef0123456789abcdef";
    let sse_c = [
        "--sse-customer-algorithm",
        "AES256",
        "--sse-customer-key",
        key,
    ];
    let mut put = vec![
        "put-object",
        "--bucket",
        "docs",
        "--key",
        "secret.txt",
        "--body",
        body,
    ];
    put.extend_from_slice(&sse_c);
    let v = s3api(&home, &py, "PutObject", &put);
    assert_eq!(v["SSECustomerAlgorithm"], "AES256");
    let md5 = v["SSECustomerKeyMD5"].as_str().unwrap().to_string();
    put.extend_from_slice(&["--sse-customer-key-md5", &md5]);
    s3api(&home, &py, "PutObject", &put);
    let mut head = vec!["head-object", "--bucket", "docs", "--key", "secret.txt"];
    fails(
        &kmsfs(&home, &[&["s3api"], head.as_slice()].concat()),
        11,
        "",
    );
    head.extend_from_slice(&sse_c);
    let v = s3api(&home, &py, "HeadObject", &head);
    assert_eq!(v["SSECustomerKeyMD5"], md5.as_str());
    all_fail(
        &home,
        &[
            (
                &[
                    "s3api",
                    "head-object",
                    "--bucket",
                    "docs",
                    "--key",
                    "secret.txt",
                    "--sse-customer-key",
                    key,
                ],
                2,
                "algorithm",
            ),
            (
                &[
                    "s3api",
                    "head-object",
                    "--bucket",
                    "docs",
                    "--key",
                    "secret.txt",
                    "--sse-customer-algorithm",
                    "AES256",
                    "--sse-customer-key",
                    key,
                    "--sse-customer-key-md5",
                    "AAAAAAAAAAAAAAAAAAAAAA==",
                ],
                2,
                "MD5",
            ),
            (
                &[
                    "s3api",
                    "put-object",
                    "--bucket",
                    "docs",
                    "--key",
                    "x",
                    "--ssekms-encryption-context",
                    "{not base64",
                ],
                2,
                "base64",
            ),
        ],
    );

    let v = s3api(
        &home,
        &py,
        "CopyObject",
        &[
            "copy-object",
            "--copy-source",
            "docs/2026/report.txt",
            "--bucket",
            "docs",
            "--key",
            "copy.txt",
        ],
    );
    assert!(v["CopyObjectResult"]["ETag"].is_string());
    assert_eq!(v["ServerSideEncryption"], "AES256");

    // Listing: every page by default; one page with --max-keys.
    let list = |args: &[&str]| {
        let mut all = vec!["list-objects-v2", "--bucket", "docs"];
        all.extend_from_slice(args);
        s3api(&home, &py, "ListObjectsV2", &all)
    };
    let keys = |v: &Value| -> Vec<String> {
        v["Contents"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|o| o["Key"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let v = list(&[]);
    assert_eq!(
        keys(&v),
        ["2026/report.txt", "copy.txt", "secret.txt", "t.txt"]
    );
    assert_eq!(v["Contents"][0]["Size"], 18);
    assert_eq!(keys(&list(&["--prefix", "2026/"])), ["2026/report.txt"]);
    let v = list(&["--delimiter", "/"]);
    assert_eq!(v["CommonPrefixes"][0]["Prefix"], "2026/");
    assert_eq!(keys(&v).len(), 3);
    let v = list(&["--max-keys", "2"]);
    assert_eq!(v["IsTruncated"], true);
    let token = v["NextContinuationToken"].as_str().unwrap().to_string();
    let v = list(&["--max-keys", "2", "--continuation-token", &token]);
    assert_eq!(keys(&v), ["secret.txt", "t.txt"]);

    let v = s3api(
        &home,
        &py,
        "DeleteObjects",
        &[
            "delete-objects",
            "--bucket",
            "docs",
            "--delete",
            "Objects=[{Key=copy.txt},{Key=t.txt}],Quiet=false",
        ],
    );
    assert_eq!(
        v["Deleted"],
        serde_json::json!([{"Key": "copy.txt"}, {"Key": "t.txt"}])
    );
    let v = s3api(
        &home,
        &py,
        "DeleteObjects",
        &[
            "delete-objects",
            "--bucket",
            "docs",
            "--delete",
            r#"{"Objects":[{"Key":"secret.txt"}],"Quiet":true}"#,
        ],
    );
    assert!(v.is_null());
    assert!(
        s3api(
            &home,
            &py,
            "DeleteObject",
            &[
                "delete-object",
                "--bucket",
                "docs",
                "--key",
                "2026/report.txt"
            ]
        )
        .is_null()
    );
    assert!(keys(&list(&[])).is_empty());
}

/// The hex MD5 in a PUT's ETag (checked for form, not value).
/// `t.txt` (put with --content-type and --metadata) shows them; copies keep them
/// (MetadataDirective COPY) or take new ones (REPLACE, here as JSON).
fn content_type_and_metadata(home: &Path, py: &Py) {
    let head = |key: &str| {
        s3api(
            home,
            py,
            "HeadObject",
            &["head-object", "--bucket", "docs", "--key", key],
        )
    };
    let v = head("t.txt");
    assert_eq!(v["ContentType"], "text/plain");
    assert_eq!(
        v["Metadata"],
        serde_json::json!({"owner": "alice", "project": "cats"})
    );
    let copy = |key: &str, extra: &[&str]| {
        let mut a = vec![
            "copy-object",
            "--copy-source",
            "docs/t.txt",
            "--bucket",
            "docs",
        ];
        a.extend_from_slice(&["--key", key]);
        a.extend_from_slice(extra);
        s3api(home, py, "CopyObject", &a);
    };
    copy("kept.txt", &["--content-type", "ignored/with-copy"]);
    let v = head("kept.txt");
    assert_eq!(v["ContentType"], "text/plain");
    assert_eq!(v["Metadata"]["owner"], "alice");
    let replace = [
        "--metadata-directive",
        "REPLACE",
        "--content-type",
        "application/json",
        "--metadata",
        r#"{"Stage":"final"}"#,
    ];
    copy("replaced.txt", &replace);
    let v = head("replaced.txt");
    assert_eq!(v["ContentType"], "application/json");
    assert_eq!(v["Metadata"], serde_json::json!({"stage": "final"}));
    let big = format!("k={}", "v".repeat(2100));
    let put = [
        "s3api",
        "put-object",
        "--bucket",
        "docs",
        "--key",
        "big",
        "--metadata",
        &big,
    ];
    fails(&kmsfs(home, &put), 2, "MetadataTooLarge");
    for k in ["kept.txt", "replaced.txt"] {
        run_ok(
            home,
            &["s3api", "delete-object", "--bucket", "docs", "--key", k],
        );
    }
}

fn md5_hex_of(v: &Value) -> String {
    let e = v["ETag"].as_str().unwrap();
    let hex = e.trim_matches('"');
    assert_eq!(hex.len(), 32, "{e}");
    assert!(hex.chars().all(|c| c.is_ascii_hexdigit()), "{e}");
    hex.to_string()
}

fn lines(home: &Path, args: &[&str]) -> Vec<String> {
    let o = kmsfs(home, args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn files_and_trees_as_aws_s3() {
    let (d, home, _) = home_with_key();
    assert_eq!(
        lines(&home, &["s3", "mb", "s3://photos"]),
        ["make_bucket: photos"]
    );
    let ls = lines(&home, &["s3", "ls"]);
    assert_eq!(ls.len(), 1);
    assert!(
        is_ls_time(&ls[0][..19]) && ls[0].ends_with(" photos"),
        "{ls:?}"
    );

    let f = d.path().join("cat.jpg");
    std::fs::write(&f, vec![7u8; 1234]).unwrap();
    let f = f.to_str().unwrap();
    assert_eq!(
        lines(&home, &["s3", "cp", f, "s3://photos/"]),
        [format!("upload: {f} to s3://photos/cat.jpg")]
    );
    let tree = d.path().join("album");
    std::fs::create_dir_all(tree.join("2026/may")).unwrap();
    std::fs::write(tree.join("a.jpg"), b"a").unwrap();
    std::fs::write(tree.join("2026/may/b.jpg"), b"bb").unwrap();
    let t = tree.to_str().unwrap();
    let up = lines(
        &home,
        &[
            "s3",
            "cp",
            t,
            "s3://photos/album",
            "--recursive",
            "--sse",
            "aws:kms",
            "--sse-kms-key-id",
            "alias/app",
        ],
    );
    assert_eq!(
        up,
        [
            format!("upload: {t}/2026/may/b.jpg to s3://photos/album/2026/may/b.jpg"),
            format!("upload: {t}/a.jpg to s3://photos/album/a.jpg"),
        ]
    );
    let v = run_ok(
        &home,
        &[
            "s3api",
            "head-object",
            "--bucket",
            "photos",
            "--key",
            "album/a.jpg",
        ],
    );
    assert_eq!(v["ServerSideEncryption"], "aws:kms");

    // `ls`: the AWS CLI's columns.
    let ls = lines(&home, &["s3", "ls", "s3://photos/"]);
    assert_eq!(ls[0], format!("{:>30} album/", "PRE"));
    assert!(is_ls_time(&ls[1][..19]), "{ls:?}");
    assert_eq!(&ls[1][19..], "       1234 cat.jpg");
    let ls = lines(
        &home,
        &[
            "s3",
            "ls",
            "s3://photos/album/",
            "--recursive",
            "--summarize",
        ],
    );
    assert!(
        ls[0].ends_with("          2 album/2026/may/b.jpg"),
        "{ls:?}"
    );
    assert!(ls[1].ends_with("          1 album/a.jpg"), "{ls:?}");
    assert_eq!(&ls[2..], ["", "Total Objects: 2", "   Total Size: 3"]);

    // Down again, and from bucket to bucket.
    let back = d.path().join("back");
    let b = back.to_str().unwrap();
    let down = lines(&home, &["s3", "cp", "s3://photos/album", b, "--recursive"]);
    assert_eq!(
        down[1],
        format!("download: s3://photos/album/a.jpg to {b}/a.jpg")
    );
    assert_eq!(std::fs::read(back.join("2026/may/b.jpg")).unwrap(), b"bb");
    let one = d.path().join("one.jpg");
    lines(
        &home,
        &["s3", "cp", "s3://photos/cat.jpg", one.to_str().unwrap()],
    );
    assert_eq!(std::fs::read(&one).unwrap(), vec![7u8; 1234]);
    lines(&home, &["s3", "mb", "s3://backup"]);
    assert_eq!(
        lines(
            &home,
            &["s3", "cp", "s3://photos/cat.jpg", "s3://backup/cats/"]
        ),
        ["copy: s3://photos/cat.jpg to s3://backup/cats/cat.jpg"]
    );

    // SSE-C up and down.
    let key = "0123456789abcdef0123456789abcdef";
    lines(
        &home,
        &[
            "s3",
            "cp",
            f,
            "s3://backup/c.jpg",
            "--sse-c",
            "AES256",
            "--sse-c-key",
            key,
        ],
    );
    fails(
        &kmsfs(
            &home,
            &["s3", "cp", "s3://backup/c.jpg", one.to_str().unwrap()],
        ),
        11,
        "",
    );
    lines(
        &home,
        &[
            "s3",
            "cp",
            "s3://backup/c.jpg",
            one.to_str().unwrap(),
            "--sse-c",
            "--sse-c-key",
            key,
        ],
    );

    assert_eq!(
        lines(&home, &["s3", "rm", "s3://photos/album", "--recursive"]),
        [
            "delete: s3://photos/album/2026/may/b.jpg",
            "delete: s3://photos/album/a.jpg"
        ]
    );
    assert_eq!(
        lines(&home, &["s3", "rm", "s3://photos/cat.jpg"]),
        ["delete: s3://photos/cat.jpg"]
    );
    assert_eq!(
        lines(&home, &["s3", "rb", "s3://photos"]),
        ["remove_bucket: photos"]
    );
    fails(
        &kmsfs(&home, &["s3", "rb", "s3://backup"]),
        11,
        "BucketNotEmpty",
    );
    assert_eq!(
        lines(&home, &["s3", "rb", "s3://backup", "--force"]),
        [
            "delete: s3://backup/c.jpg",
            "delete: s3://backup/cats/cat.jpg",
            "remove_bucket: backup"
        ]
    );
    assert!(lines(&home, &["s3", "ls"]).is_empty());
    fails(&kmsfs(&home, &["s3", "cp", f, "other"]), 2, "s3://");
}

/// `2026-11-30 14:00:00`.
fn is_ls_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}
