//! One KMS per account: a home with its own account (111122223333) and a second one
//! (222222222222, `kmsfs account create`), a user in each with an access key. Over a real
//! `kmsfs serve` (boto3) and from the CLI (`AWS_ACCESS_KEY_ID`), each user's keys are in
//! its account (ARNs and `AWSAccountId` name it), ListKeys shows only its own, a key of the
//! other account named by ARN serves the operations AWS allows across accounts (Decrypt,
//! DescribeKey) and no other (EnableKey: NotFoundException); each account has its own
//! trail, a hash chain that verifies; a reset wipes every account.

mod common;
use common::cli::{init, kmsfs_env, ok, run_ok};
use common::serve::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

const A: &str = "111122223333";
const B: &str = "222222222222";

/// A home with the account B, the user alice in A and bob in B, each with an access key:
/// the home and the keys (id, secret) of alice and bob.
fn setup(d: &Path) -> (PathBuf, (String, String), (String, String)) {
    let home = init(d);
    run_ok(&home, &["account", "create", "--account-id", B]);
    let mut keys = Vec::new();
    for (user, account) in [("alice", A), ("bob", B)] {
        let acct = ["--account-id", account];
        run_ok(
            &home,
            &[&["iam", "create-user", "--user-name", user][..], &acct].concat(),
        );
        let k = run_ok(
            &home,
            &[
                &["iam", "create-access-key", "--user-name", user][..],
                &acct,
            ]
            .concat(),
        );
        let s = |f: &str| k["AccessKey"][f].as_str().unwrap().to_string();
        keys.push((s("AccessKeyId"), s("SecretAccessKey")));
        // Registered IAM users may use KMS only as their identity policies allow.
        let put = [
            "iam",
            "put-user-policy",
            "--user-name",
            user,
            "--policy-name",
            "kms",
        ];
        let doc = r#"{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#;
        let doc = ["--policy-document", doc];
        run_ok(&home, &[&put[..], &doc, &acct].concat());
    }
    let bob = keys.pop().unwrap();
    (home, keys.pop().unwrap(), bob)
}

/// boto3 as alice then as bob: each creates a key, encrypts, lists its keys; bob decrypts
/// alice's ciphertext and describes her key by ARN, and cannot enable it. One JSON line.
const SCRIPT: &str = r#"
import os, json, boto3, botocore
def client(who):
    return boto3.client("kms", endpoint_url=os.environ["EP"], region_name="us-east-1",
        aws_access_key_id=os.environ[who + "_ID"], aws_secret_access_key=os.environ[who + "_SECRET"])
def code(f):
    try:
        f()
        return "ok"
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]
out = {}
for who in ["ALICE", "BOB"]:
    kms = client(who)
    # Alice's key policy lets account B decrypt and describe (AWS's cross-account use).
    policy = {"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": "222222222222"}, "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*"}]}
    extra = {"Policy": json.dumps(policy)} if who == "ALICE" else {}
    m = kms.create_key(Description=who, **extra)["KeyMetadata"]
    ct = kms.encrypt(KeyId=m["KeyId"], Plaintext=who.encode())["CiphertextBlob"]
    kms.create_alias(AliasName="alias/same-name", TargetKeyId=m["KeyId"])
    out[who] = {"arn": m["Arn"], "account": m["AWSAccountId"], "ct": ct.hex(),
                "keys": [k["KeyArn"] for k in kms.list_keys()["Keys"]],
                "alias": kms.describe_key(KeyId="alias/same-name")["KeyMetadata"]["Arn"]}
bob, alice = client("BOB"), out["ALICE"]
ct = bytes.fromhex(alice["ct"])
out["bob_decrypts_by_arn"] = bob.decrypt(CiphertextBlob=ct, KeyId=alice["arn"])["Plaintext"].decode()
out["bob_describes_by_arn"] = bob.describe_key(KeyId=alice["arn"])["KeyMetadata"]["AWSAccountId"]
out["bob_enables_by_arn"] = code(lambda: bob.enable_key(KeyId=alice["arn"]))
out["bob_describes_by_id"] = code(lambda: bob.describe_key(KeyId=alice["arn"].split("/")[-1]))
print(json.dumps(out))
"#;

fn audit_lines(path: &Path) -> Vec<kmsfs::kms::audit::AuditLine> {
    kmsfs::kms::audit::verify(path).unwrap();
    kmsfs::kms::audit::read_lines(path).unwrap()
}

#[test]
fn each_account_has_its_own_keys_over_the_endpoint() {
    let Some(bin) = python_or_skip("each_account_has_its_own_keys_over_the_endpoint") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let (home, alice, bob) = setup(d.path());
    let srv = Server::start(&home, &[]);
    let mut c = aws_tool(&bin, "python3", &srv.endpoint);
    c.env("EP", &srv.endpoint)
        .env("ALICE_ID", &alice.0)
        .env("ALICE_SECRET", &alice.1)
        .env("BOB_ID", &bob.0)
        .env("BOB_SECRET", &bob.1)
        .args(["-c", SCRIPT]);
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    srv.stop();
    let out: Value = serde_json::from_slice(&o.stdout).unwrap();
    for (who, account) in [("ALICE", A), ("BOB", B)] {
        let me = &out[who];
        let arn = me["arn"].as_str().unwrap();
        assert!(
            arn.starts_with(&format!("arn:aws:kms:us-east-1:{account}:key/")),
            "{arn}"
        );
        assert_eq!(me["account"], account);
        assert_eq!(
            me["keys"],
            serde_json::json!([arn]),
            "{who} lists only its own key"
        );
        assert_eq!(me["alias"], arn, "each account has its own alias/same-name");
    }
    assert_eq!(out["bob_decrypts_by_arn"], "ALICE");
    assert_eq!(out["bob_describes_by_arn"], A);
    assert_eq!(out["bob_enables_by_arn"], "NotFoundException");
    assert_eq!(out["bob_describes_by_id"], "NotFoundException");

    // Each account's trail: alice's requests and bob's use of her key in A's (the home's),
    // bob's own key in B's; both chains verify.
    let bob_arn = format!("arn:aws:iam::{B}:user/bob");
    let a_lines = audit_lines(&home.join("kms/audit.log"));
    let b_lines = audit_lines(&home.join(format!("kms/accounts/{B}/audit.log")));
    let count = |lines: &[kmsfs::kms::audit::AuditLine], p: &str, op: &str| {
        lines
            .iter()
            .filter(|l| l.principal == p && l.operation == op)
            .count()
    };
    assert_eq!(count(&a_lines, &bob_arn, "Decrypt"), 1);
    assert_eq!(count(&a_lines, &bob_arn, "CreateKey"), 0);
    assert_eq!(count(&b_lines, &bob_arn, "CreateKey"), 1);
    run_ok(&home, &["audit", "verify"]);
}

/// `kmsfs kms ...` as `AWS_ACCESS_KEY_ID`'s principal (`creds`).
fn as_user(home: &Path, creds: &(String, String), args: &[&str]) -> Value {
    let env = [
        ("AWS_ACCESS_KEY_ID", creds.0.as_str()),
        ("AWS_SECRET_ACCESS_KEY", creds.1.as_str()),
    ];
    ok(&kmsfs_env(home, &[&["kms"][..], args].concat(), &env))
}

fn key_arns(v: &Value) -> Vec<String> {
    v["Keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["KeyArn"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_cli_acts_in_the_account_of_its_access_key() {
    let d = tempfile::tempdir().unwrap();
    let (home, alice, bob) = setup(d.path());
    // Alice's key policy lets account B decrypt (AWS's cross-account use).
    let policy = format!(
        r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A}:root"}},"Action":"kms:*","Resource":"*"}},{{"Effect":"Allow","Principal":{{"AWS":"{B}"}},"Action":"kms:Decrypt","Resource":"*"}}]}}"#
    );
    let a_arn = as_user(&home, &alice, &["create-key", "--policy", &policy])["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_string();
    let b_meta = as_user(&home, &bob, &["create-key"])["KeyMetadata"].clone();
    let b_arn = b_meta["Arn"].as_str().unwrap().to_string();
    assert!(a_arn.contains(&format!(":{A}:key/")), "{a_arn}");
    assert!(b_arn.contains(&format!(":{B}:key/")), "{b_arn}");
    assert_eq!(b_meta["AWSAccountId"], B);
    assert_eq!(
        key_arns(&as_user(&home, &alice, &["list-keys"])),
        [a_arn.as_str()]
    );
    assert_eq!(
        key_arns(&as_user(&home, &bob, &["list-keys"])),
        [b_arn.as_str()]
    );
    // The Unix user (root here) is the home account's root: it sees A's keys.
    assert_eq!(
        key_arns(&run_ok(&home, &["kms", "list-keys"])),
        [a_arn.as_str()]
    );

    // Bob decrypts alice's ciphertext naming her key by ARN.
    let enc = ["encrypt", "--key-id", &a_arn, "--plaintext", "from-a"];
    let ct = as_user(&home, &alice, &enc)["CiphertextBlob"].clone();
    let ct = ct.as_str().unwrap();
    let dec = ["decrypt", "--ciphertext-blob", ct, "--key-id", &a_arn];
    let p = as_user(&home, &bob, &dec)["Plaintext"].clone();
    use base64::Engine;
    let p = base64::engine::general_purpose::STANDARD
        .decode(p.as_str().unwrap())
        .unwrap();
    assert_eq!(p, b"from-a");
    // Reset (as the endpoint offers it) wipes the keys of every account.
    let srv = Server::start(&home, &["--allow-reset"]);
    reset(&srv.endpoint);
    srv.stop();
    assert!(key_arns(&as_user(&home, &bob, &["list-keys"])).is_empty());
    assert!(key_arns(&as_user(&home, &alice, &["list-keys"])).is_empty());
}

/// POST to moto's reset route of the endpoint `http://HOST:PORT`: `{"status": "ok"}`.
fn reset(endpoint: &str) {
    use std::io::{Read, Write};
    let host = endpoint.strip_prefix("http://").unwrap();
    let mut c = std::net::TcpStream::connect(host).unwrap();
    let req = format!(
        "POST /moto-api/reset HTTP/1.1\r\nhost: {host}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    c.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    c.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains(r#"{"status": "ok"}"#), "{resp}");
}
