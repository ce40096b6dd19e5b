//! Parameter Store through a real `kmsfs serve` with real clients: boto3 (put, get with
//! and without decryption, by path with its paginator, history, labels, delete, error
//! names as exceptions) and the AWS CLI (`aws ssm ... --endpoint-url`); access control
//! through the KMS: a user refused `kms:Decrypt` gets AccessDeniedException reading a
//! SecureString with decryption, and its ciphertext without.

mod common;
use common::cli::{access_key, create_key, init, run_ok};
use common::serve::*;
use serde_json::{Value, json};
use std::path::PathBuf;

/// Runs the JSON list of calls in $CALLS on an ssm client of $EP; prints one result each.
const RUNNER: &str = r#"
import base64, json, os, boto3, botocore
ssm = boto3.client("ssm", endpoint_url=os.environ["EP"], region_name="us-east-1")
out = []
for op, args in json.loads(os.environ["CALLS"]):
    try:
        if op == "paginate_by_path":
            pages = ssm.get_paginator("get_parameters_by_path").paginate(**args)
            r = {"Names": [p["Name"] for page in pages for p in page["Parameters"]]}
        else:
            r = getattr(ssm, op)(**args)
            r.pop("ResponseMetadata", None)
        out.append({"ok": True, "r": json.loads(json.dumps(r, default=str))})
    except botocore.exceptions.ClientError as e:
        out.append({"ok": False, "code": e.response["Error"]["Code"], "msg": e.response["Error"].get("Message", "")})
print(json.dumps(out))
"#;

struct World {
    srv: Server,
    home: PathBuf,
    bin: PathBuf,
    _dir: tempfile::TempDir,
}

fn world(test: &str) -> Option<World> {
    let bin = python_or_skip(test)?;
    let dir = tempfile::tempdir().unwrap();
    let home = init(dir.path());
    let srv = Server::start(&home, &[]);
    Some(World {
        srv,
        home,
        bin,
        _dir: dir,
    })
}

impl World {
    fn calls(&self, who: Option<&(String, String)>, calls: Value) -> Vec<Value> {
        boto3_calls(&self.bin, &self.srv.endpoint, RUNNER, who, calls)
    }

    fn aws(&self, args: &[&str]) -> Value {
        aws_json(&self.bin, &self.srv.endpoint, args)
    }
}

fn ok(r: &Value) -> &Value {
    assert_eq!(r["ok"], true, "{r}");
    &r["r"]
}

#[test]
fn boto3_reads_and_writes_parameters() {
    let Some(w) = world("boto3_reads_and_writes_parameters") else {
        return;
    };
    let r = w.calls(None, json!([
        ["put_parameter", {"Name": "/app/db/pw", "Value": "s3cret", "Type": "SecureString"}],
        ["put_parameter", {"Name": "/app/db/pw", "Value": "again", "Type": "SecureString"}],
        ["put_parameter", {"Name": "/app/db/pw", "Value": "s3cret2", "Type": "SecureString", "Overwrite": true}],
        ["put_parameter", {"Name": "/app/url", "Value": "https://x", "Type": "String"}],
        ["put_parameter", {"Name": "/app/a/b", "Value": "deep", "Type": "String"}],
        ["get_parameter", {"Name": "/app/db/pw"}],
        ["get_parameter", {"Name": "/app/db/pw", "WithDecryption": true}],
        ["get_parameter", {"Name": "/app/db/pw:1", "WithDecryption": true}],
        ["paginate_by_path", {"Path": "/app", "Recursive": true, "PaginationConfig": {"PageSize": 1}}],
        ["get_parameters_by_path", {"Path": "/app"}],
        ["label_parameter_version", {"Name": "/app/db/pw", "ParameterVersion": 1, "Labels": ["old"]}],
        ["get_parameter_history", {"Name": "/app/db/pw", "WithDecryption": true}],
        ["get_parameters", {"Names": ["/app/url", "/nope"]}],
        ["describe_parameters", {"ParameterFilters": [{"Key": "Type", "Values": ["SecureString"]}]}],
        ["delete_parameter", {"Name": "/app/url"}],
        ["get_parameter", {"Name": "/app/url"}],
    ]));
    assert_eq!(ok(&r[0])["Version"], 1);
    assert_eq!(r[1]["code"], "ParameterAlreadyExists");
    assert_eq!(ok(&r[2])["Version"], 2);
    let p = &ok(&r[5])["Parameter"];
    assert_ne!(p["Value"], "s3cret2");
    assert_eq!(p["Type"], "SecureString");
    assert_eq!(
        p["ARN"],
        "arn:aws:ssm:us-east-1:111122223333:parameter/app/db/pw"
    );
    assert_eq!(ok(&r[6])["Parameter"]["Value"], "s3cret2");
    assert_eq!(ok(&r[7])["Parameter"]["Value"], "s3cret");
    assert_eq!(
        ok(&r[8])["Names"],
        json!(["/app/a/b", "/app/db/pw", "/app/url"])
    );
    assert_eq!(ok(&r[9])["Parameters"][0]["Name"], "/app/url");
    assert_eq!(ok(&r[10])["ParameterVersion"], 1);
    let h = ok(&r[11])["Parameters"].as_array().unwrap().clone();
    assert_eq!(
        (h.len(), &h[0]["Labels"], &h[0]["Value"]),
        (2, &json!(["old"]), &json!("s3cret"))
    );
    assert_eq!(ok(&r[12])["InvalidParameters"], json!(["/nope"]));
    assert_eq!(ok(&r[13])["Parameters"][0]["Name"], "/app/db/pw");
    ok(&r[14]);
    assert_eq!(r[15]["code"], "ParameterNotFound");
    // The trail: the service's lines and its KMS calls as ssm.amazonaws.com.
    let World {
        srv, home, _dir, ..
    } = w;
    srv.stop();
    let trail = std::fs::read_to_string(home.join("kms/audit.log")).unwrap();
    assert!(
        trail.contains(r#""eventSource":"ssm.amazonaws.com""#),
        "no service line"
    );
    assert!(trail.contains("PARAMETER_ARN"));
    assert!(!trail.contains("s3cret"));
}

#[test]
fn the_aws_cli_round_trips_parameters() {
    let Some(w) = world("the_aws_cli_round_trips_parameters") else {
        return;
    };
    let v = w.aws(&[
        "ssm",
        "put-parameter",
        "--name",
        "/cli/pw",
        "--value",
        "hush",
        "--type",
        "SecureString",
    ]);
    assert_eq!(v["Version"], 1);
    w.aws(&[
        "ssm",
        "put-parameter",
        "--name",
        "/cli/pw",
        "--value",
        "hush2",
        "--type",
        "SecureString",
        "--overwrite",
    ]);
    w.aws(&[
        "ssm",
        "put-parameter",
        "--name",
        "/cli/sub/list",
        "--value",
        "a,b",
        "--type",
        "StringList",
    ]);
    let v = w.aws(&["ssm", "get-parameter", "--name", "/cli/pw"]);
    assert_ne!(v["Parameter"]["Value"], "hush2");
    let v = w.aws(&[
        "ssm",
        "get-parameter",
        "--name",
        "/cli/pw",
        "--with-decryption",
    ]);
    assert_eq!(v["Parameter"]["Value"], "hush2");
    let v = w.aws(&[
        "ssm",
        "get-parameters-by-path",
        "--path",
        "/cli",
        "--recursive",
        "--with-decryption",
    ]);
    let names: Vec<&str> = v["Parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["/cli/pw", "/cli/sub/list"]);
    w.aws(&[
        "ssm",
        "label-parameter-version",
        "--name",
        "/cli/pw",
        "--parameter-version",
        "1",
        "--labels",
        "first",
    ]);
    let v = w.aws(&[
        "ssm",
        "get-parameter-history",
        "--name",
        "/cli/pw",
        "--with-decryption",
    ]);
    assert_eq!(v["Parameters"][0]["Labels"], json!(["first"]));
    assert_eq!(v["Parameters"][0]["Value"], "hush");
    let v = w.aws(&[
        "ssm",
        "get-parameter",
        "--name",
        "/cli/pw:first",
        "--with-decryption",
    ]);
    assert_eq!(v["Parameter"]["Value"], "hush");
    w.aws(&["ssm", "delete-parameter", "--name", "/cli/pw"]);
    let o = aws_tool(&w.bin, "aws", &w.srv.endpoint)
        .args([
            "--endpoint-url",
            &w.srv.endpoint,
            "ssm",
            "get-parameter",
            "--name",
            "/cli/pw",
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("ParameterNotFound"));
}

#[test]
fn a_user_refused_decrypt_reads_only_the_ciphertext() {
    let Some(w) = world("a_user_refused_decrypt_reads_only_the_ciphertext") else {
        return;
    };
    let bob = access_key(&w.home, "bob");
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:GenerateDataKey","kms:DescribeKey"],"Resource":"*"}]}"#;
    run_ok(
        &w.home,
        &[
            "iam",
            "put-user-policy",
            "--user-name",
            "bob",
            "--policy-name",
            "no-decrypt",
            "--policy-document",
            doc,
        ],
    );
    let key = create_key(&w.home, "Arn");
    let r = w.calls(None, json!([
        ["put_parameter", {"Name": "/guarded", "Value": "topsecret", "Type": "SecureString", "KeyId": key}],
    ]));
    ok(&r[0]);
    let r = w.calls(Some(&bob), json!([
        ["get_parameter", {"Name": "/guarded", "WithDecryption": true}],
        ["get_parameter", {"Name": "/guarded"}],
        ["put_parameter", {"Name": "/bobs", "Value": "mine", "Type": "SecureString", "KeyId": key}],
        ["get_parameter", {"Name": "/bobs", "WithDecryption": true}],
    ]));
    assert_eq!(r[0]["code"], "AccessDeniedException", "{}", r[0]);
    let p = &ok(&r[1])["Parameter"];
    assert_ne!(p["Value"], "topsecret");
    assert!(!p["Value"].as_str().unwrap().is_empty());
    ok(&r[2]);
    assert_eq!(r[3]["code"], "AccessDeniedException");
    let r = w.calls(
        None,
        json!([["get_parameter", {"Name": "/guarded", "WithDecryption": true}]]),
    );
    assert_eq!(ok(&r[0])["Parameter"]["Value"], "topsecret");
}
