//! The KMS enforces permissions (issue 16): over a real `kmsfs serve`, boto3 with two IAM
//! users' access keys (made with `kmsfs iam`), AWS's decisions and messages: an identity
//! policy under the default key policy, a key policy naming a user, an explicit Deny, an
//! encryption-context condition, a grant (and its retirement), the lockout safety check;
//! `kms:ViaService` through the volume service with a real mount; a service principal
//! alone; refusals in the audit trail; UpdateAlias needing permission on both keys. (The
//! cost of a 10-statement policy and 100 grants on Decrypt: `cargo bench --bench authorize`.)

mod common;
use common::cli::{access_key, create_key, init, kmsfs, run_ok};
use common::serve::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const ACCT: &str = "111122223333";
use common::iam::{ALICE, BOB, ROOT};

/// Runs the calls of `CALLS` (`[[method, {args}], ...]`) with boto3 and prints, as JSON,
/// per call `{"ok": true, ...}` or `{"ok": false, "code": ..., "msg": ...}`. An argument
/// `"$blob"` is the last CiphertextBlob returned, `"$grant"` the last GrantId, and a string
/// `"b64:..."` bytes.
const RUNNER: &str = r#"
import os, json, base64, boto3, botocore
kms = boto3.client("kms", endpoint_url=os.environ["EP"], region_name="us-east-1")
out, last = [], {}
for op, args in json.loads(os.environ["CALLS"]):
    for k, v in list(args.items()):
        if v in ("$blob", "$grant"):
            args[k] = last[v]
        elif isinstance(v, str) and v.startswith("b64:"):
            args[k] = base64.b64decode(v[4:])
    try:
        r = getattr(kms, op)(**args)
        if "CiphertextBlob" in r:
            last["$blob"] = r["CiphertextBlob"]
        if "GrantId" in r:
            last["$grant"] = r["GrantId"]
        out.append({"ok": True})
    except botocore.exceptions.ClientError as e:
        err = e.response["Error"]
        out.append({"ok": False, "code": err["Code"], "msg": err.get("Message", "")})
print(json.dumps(out))
"#;

/// A home with users alice (her identity policy allows `kms:Encrypt`, `kms:Decrypt`,
/// `kms:DescribeKey`) and bob (no policy), each with an access key; a running server.
/// Fields drop in order: the server stops before its home is removed (it writes its
/// last audit line on SIGTERM).
struct World {
    srv: Server,
    home: PathBuf,
    bin: PathBuf,
    alice: (String, String),
    bob: (String, String),
    _dir: tempfile::TempDir,
}

fn world(test: &str) -> Option<World> {
    let bin = python_or_skip(test)?;
    let dir = tempfile::tempdir().unwrap();
    let home = init(dir.path());
    let alice = access_key(&home, "alice");
    let bob = access_key(&home, "bob");
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey"],"Resource":"*"}]}"#;
    run_ok(
        &home,
        &[
            "iam",
            "put-user-policy",
            "--user-name",
            "alice",
            "--policy-name",
            "use-keys",
            "--policy-document",
            doc,
        ],
    );
    let srv = Server::start(&home, &[]);
    Some(World {
        _dir: dir,
        home,
        bin,
        srv,
        alice,
        bob,
    })
}

impl World {
    /// Run `calls` with boto3 as the access key `who` (`None`: the test's root key).
    fn calls(&self, who: Option<&(String, String)>, calls: Value) -> Vec<Value> {
        boto3_calls(&self.bin, &self.srv.endpoint, RUNNER, who, calls)
    }

    /// A key made by the root (through the CLI), with `policy` if given.
    fn key(&self, policy: Option<&str>) -> String {
        match policy {
            None => create_key(&self.home, "Arn"),
            Some(p) => {
                let v = run_ok(&self.home, &["kms", "create-key", "--policy", p]);
                v["KeyMetadata"]["Arn"].as_str().unwrap().to_string()
            }
        }
    }
}

fn encrypt(key: &str) -> Value {
    json!(["encrypt", {"KeyId": key, "Plaintext": "b64:aGk="}])
}

fn encrypt_ctx(key: &str, ec: Value) -> Value {
    json!(["encrypt", {"KeyId": key, "Plaintext": "b64:aGk=", "EncryptionContext": ec}])
}

fn decrypt() -> Value {
    json!(["decrypt", {"CiphertextBlob": "$blob"}])
}

/// Whether each result succeeded (`true`) or failed with AccessDeniedException (`false`);
/// any other failure fails the test.
fn verdicts(r: &[Value]) -> Vec<bool> {
    r.iter()
        .map(|v| {
            if v["ok"] == true {
                return true;
            }
            assert_eq!(v["code"], "AccessDeniedException", "{v}");
            false
        })
        .collect()
}

fn denial(user: &str, action: &str, key: &str, why: &str) -> String {
    format!("User: {user} is not authorized to perform: {action} on resource: {key} {why}")
}

/// The audit lines of `principal` for `operation`, as JSON.
fn audit(home: &Path, principal: &str, operation: &str) -> Vec<Value> {
    let args = [
        "audit",
        "show",
        "--principal",
        principal,
        "--operation",
        operation,
    ];
    let o = kmsfs(home, &args);
    assert!(o.status.success());
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn policy(statements: &[Value]) -> String {
    let admin = json!({"Sid": "admin", "Effect": "Allow", "Principal": {"AWS": ROOT},
        "Action": "kms:*", "Resource": "*"});
    let mut all = vec![admin];
    all.extend_from_slice(statements);
    json!({"Version": "2012-10-17", "Statement": all}).to_string()
}

#[test]
fn an_identity_policy_allows_one_user_and_not_the_other_and_refusals_are_audited() {
    let Some(w) = world("an_identity_policy_allows_one_user_and_not_the_other") else {
        return;
    };
    let key = w.key(None);
    let r = w.calls(Some(&w.alice), json!([encrypt(&key), decrypt()]));
    assert_eq!(verdicts(&r), [true, true], "{r:?}");
    let r = w.calls(
        Some(&w.bob),
        json!([encrypt(&key), ["list_keys", {}], ["describe_key", {"KeyId": key}]]),
    );
    assert_eq!(verdicts(&r), [false, false, false], "{r:?}");
    let why = "because no identity-based policy allows the kms:Encrypt action";
    assert_eq!(r[0]["msg"], denial(BOB, "kms:Encrypt", &key, why));
    let why = "because no identity-based policy allows the kms:ListKeys action";
    assert_eq!(r[1]["msg"], denial(BOB, "kms:ListKeys", "*", why));
    // Alice may not list keys either: her policy does not say kms:ListKeys.
    let r = w.calls(Some(&w.alice), json!([["list_keys", {}]]));
    assert_eq!(verdicts(&r), [false]);
    // The root (the test's key) may do anything.
    assert_eq!(verdicts(&w.calls(None, json!([encrypt(&key)]))), [true]);
    let lines = audit(&w.home, BOB, "Encrypt");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["errorCode"], "AccessDeniedException");
    assert_eq!(lines[0]["keyArn"], key.as_str());
    assert_eq!(audit(&w.home, ALICE, "Encrypt")[0]["outcome"], "Success");
    run_ok(&w.home, &["audit", "verify"]);
}

#[test]
fn a_key_policy_names_a_user_and_an_explicit_deny_wins() {
    let Some(w) = world("a_key_policy_names_a_user_and_an_explicit_deny_wins") else {
        return;
    };
    let p = policy(&[
        json!({"Effect": "Allow", "Principal": {"AWS": BOB},
            "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"}),
        json!({"Effect": "Deny", "Principal": {"AWS": ALICE},
            "Action": "kms:Decrypt", "Resource": "*"}),
        // aws:SourceIp is the client's address: bob calls from 127.0.0.1.
        json!({"Effect": "Deny", "Principal": {"AWS": BOB}, "Action": "kms:Encrypt",
            "Resource": "*", "Condition": {"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}),
        json!({"Effect": "Allow", "Principal": {"AWS": BOB}, "Action": "kms:DescribeKey",
            "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}),
    ]);
    let key = w.key(Some(&p));
    let describe = json!(["describe_key", {"KeyId": key}]);
    let r = w.calls(Some(&w.bob), json!([encrypt(&key), decrypt(), describe]));
    assert_eq!(verdicts(&r), [true, true, false], "{r:?}");
    let r = w.calls(Some(&w.alice), json!([encrypt(&key), decrypt()]));
    assert_eq!(verdicts(&r), [true, false], "{r:?}");
    let why = "with an explicit deny in a resource-based policy";
    assert_eq!(r[1]["msg"], denial(ALICE, "kms:Decrypt", &key, why));
}

#[test]
fn an_encryption_context_condition_decides() {
    let Some(w) = world("an_encryption_context_condition_decides") else {
        return;
    };
    let p = policy(&[json!({"Effect": "Allow", "Principal": {"AWS": BOB},
        "Action": "kms:Encrypt", "Resource": "*",
        "Condition": {"StringEquals": {"kms:EncryptionContext:project": "blue"}}})]);
    let key = w.key(Some(&p));
    let r = w.calls(
        Some(&w.bob),
        json!([
            encrypt_ctx(&key, json!({"project": "blue"})),
            encrypt_ctx(&key, json!({"project": "red"})),
            encrypt(&key),
        ]),
    );
    assert_eq!(verdicts(&r), [true, false, false], "{r:?}");
    // The policy delegates to the account too, and bob has no identity policy.
    let why = "because no identity-based policy allows the kms:Encrypt action";
    assert_eq!(r[1]["msg"], denial(BOB, "kms:Encrypt", &key, why));
}

#[test]
fn a_grant_allows_a_user_without_policy_until_it_is_retired() {
    let Some(w) = world("a_grant_allows_a_user_without_policy_until_it_is_retired") else {
        return;
    };
    let key = w.key(None);
    assert_eq!(
        verdicts(&w.calls(Some(&w.bob), json!([encrypt(&key)]))),
        [false]
    );
    let grant = json!(["create_grant", {"KeyId": key, "GranteePrincipal": BOB,
        "Operations": ["Encrypt", "Decrypt", "CreateGrant"]}]);
    let r = w.calls(None, json!([grant]));
    assert_eq!(verdicts(&r), [true], "{r:?}");
    // Bob encrypts; his grant lets him make a narrower grant, not a wider one.
    let narrower = json!(["create_grant", {"KeyId": key, "GranteePrincipal": ALICE,
        "Operations": ["Encrypt"]}]);
    let wider = json!(["create_grant", {"KeyId": key, "GranteePrincipal": ALICE,
        "Operations": ["Encrypt", "ReEncryptFrom"]}]);
    let r = w.calls(
        Some(&w.bob),
        json!([encrypt(&key), decrypt(), narrower, wider]),
    );
    assert_eq!(verdicts(&r), [true, true, true, false], "{r:?}");
    // The root retires bob's grant: bob is refused again.
    let listed = run_ok(&w.home, &["kms", "list-grants", "--key-id", &key]);
    let bobs: Vec<&Value> = listed["Grants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["GranteePrincipal"] == BOB)
        .collect();
    assert_eq!(bobs.len(), 1, "{listed}");
    let id = bobs[0]["GrantId"].as_str().unwrap();
    let retire = ["kms", "retire-grant", "--key-id", &key, "--grant-id", id];
    run_ok(&w.home, &retire);
    assert_eq!(
        verdicts(&w.calls(Some(&w.bob), json!([encrypt(&key)]))),
        [false]
    );
}

#[test]
fn the_lockout_safety_check_refuses_a_policy_that_locks_the_caller_out() {
    let Some(w) = world("the_lockout_safety_check") else {
        return;
    };
    let key = w.key(None);
    let only_bob = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": BOB}, "Action": "kms:*", "Resource": "*"}]})
    .to_string();
    let put = |bypass: bool| {
        json!(["put_key_policy", {"KeyId": key, "PolicyName": "default", "Policy": only_bob,
            "BypassPolicyLockoutSafetyCheck": bypass}])
    };
    let create = json!(["create_key", {"Policy": only_bob}]);
    let r = w.calls(None, json!([create, put(false)]));
    for v in &r {
        assert_eq!(v["code"], "MalformedPolicyDocumentException", "{v}");
        assert!(
            v["msg"].as_str().unwrap().contains("will not allow you"),
            "{v}"
        );
    }
    // Bypassed, the root locks itself out: from now on only bob may use the key.
    let r = w.calls(None, json!([put(true), encrypt(&key)]));
    assert_eq!(verdicts(&r), [true, false], "{r:?}");
    let r = w.calls(Some(&w.bob), json!([encrypt(&key)]));
    assert_eq!(verdicts(&r), [true], "{r:?}");
}

/// A key policy allowing use only through EC2: a direct call is refused, the volume
/// service (acting for the caller, `kms:ViaService` = `ec2.us-east-1.amazonaws.com`)
/// creates and mounts a volume.
#[test]
fn via_service_allows_the_volume_service_and_refuses_a_direct_call() {
    let t = "via_service_allows_the_volume_service_and_refuses_a_direct_call";
    if !common::mount::fuse_or_skip(t) || !common::mount::root_or_skip(t) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let home = init(dir.path());
    let admin = json!({"Effect": "Allow", "Principal": {"AWS": ROOT},
        "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:Put*"], "Resource": "*"});
    let via_ec2 = json!({"Effect": "Allow", "Principal": {"AWS": "*"},
        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:CreateGrant",
            "kms:DescribeKey", "kms:RetireGrant"],
        "Resource": "*", "Condition": {"StringEquals": {
            "kms:ViaService": "ec2.us-east-1.amazonaws.com", "kms:CallerAccount": ACCT}}});
    let p = json!({"Version": "2012-10-17", "Statement": [admin, via_ec2]}).to_string();
    let v = run_ok(&home, &["kms", "create-key", "--policy", &p]);
    let key = v["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    let o = kmsfs(
        &home,
        &["kms", "encrypt", "--key-id", &key, "--plaintext", "hi"],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("AccessDeniedException"), "{err}");
    let v = run_ok(
        &home,
        &["volume", "create", "--size", "8M", "--kms-key-id", &key],
    );
    let vol = v["VolumeId"].as_str().unwrap().to_string();
    let mut m = common::mount::Mounted::at(dir, home.clone(), vol, "mnt", &[]);
    std::fs::write(m.mnt.join("f"), b"via ec2").unwrap();
    m.umount();
    m.mount();
    assert_eq!(std::fs::read(m.mnt.join("f")).unwrap(), b"via ec2");
    // The trail shows the service and the user it acted for.
    let lines = audit(&home, "ebs.amazonaws.com", "Decrypt");
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|l| l["onBehalfOf"] == ROOT), "{lines:?}");
    let denied = audit(&home, ROOT, "Encrypt");
    assert_eq!(denied[0]["errorCode"], "AccessDeniedException");
}

/// In this process: a service principal acting alone is allowed only by a grant to it;
/// acting for a user, the user's permissions decide (with `kms:ViaService`).
#[test]
fn a_service_principal_alone_needs_a_grant() {
    use kmsfs::kms::types::*;
    use kmsfs::kms::{Caller, Client, Embedded};
    let e = common::kms::env();
    let k = e.create_key();
    let enc = || EncryptRequest {
        key_id: k.clone(),
        plaintext: kmsfs::crypto::SecretBytes::from_slice(b"x"),
        ..Default::default()
    };
    let alone = Embedded::new(
        e.kms.clone(),
        Caller::new("ebs.amazonaws.com").acting_alone(),
    );
    let err = alone.encrypt(enc()).unwrap_err();
    assert_eq!(err.code(), "AccessDeniedException", "{err}");
    assert!(err.to_string().contains("User: ebs.amazonaws.com"), "{err}");
    // For the account root, via EC2: the default policy delegates to the account.
    let for_root = Caller::new("ebs.amazonaws.com").on_behalf_of(ROOT);
    Embedded::new(e.kms.clone(), for_root)
        .encrypt(enc())
        .unwrap();
    e.c.create_grant(CreateGrantRequest {
        key_id: k.clone(),
        grantee_principal: "ebs.amazonaws.com".into(),
        operations: vec!["Encrypt".into()],
        ..Default::default()
    })
    .unwrap();
    alone.encrypt(enc()).unwrap();
}

/// UpdateAlias needs `kms:UpdateAlias` on the key the alias points at now and on the new
/// target: a user allowed on the new key only is refused (AWS's rule).
#[test]
fn update_alias_needs_permission_on_the_current_and_the_new_key() {
    use kmsfs::kms::types::*;
    use kmsfs::kms::{Client, Embedded};
    let e = common::kms::env();
    common::iam::user(&e.home, "alice", None);
    let allows_alice = policy(&[
        json!({"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"}),
        json!({"Effect": "Allow", "Principal": {"AWS": ALICE}, "Action": "kms:UpdateAlias",
            "Resource": "*"}),
    ]);
    let new_key = |policy: Option<String>| {
        e.c.create_key(CreateKeyRequest {
            policy,
            ..Default::default()
        })
        .unwrap()
        .key_metadata
        .key_id
    };
    let (old, new) = (new_key(None), new_key(Some(allows_alice.clone())));
    let alias = |target: &str| AliasRequest {
        alias_name: "alias/app".into(),
        target_key_id: target.to_string(),
    };
    e.c.create_alias(alias(&old)).unwrap();
    let alice = Embedded::new(e.kms.clone(), ALICE);
    let err = alice.update_alias(alias(&new)).unwrap_err();
    assert_eq!(err.code(), "AccessDeniedException", "{err}");
    assert!(err.to_string().contains("kms:UpdateAlias"), "{err}");
    assert!(
        err.to_string().contains(&old),
        "names the current key: {err}"
    );
    let listed = e.c.list_aliases(ListRequest::default()).unwrap().aliases;
    let app = listed.iter().find(|a| a.alias_name == "alias/app").unwrap();
    assert_eq!(
        app.target_key_id.as_deref(),
        Some(old.as_str()),
        "unchanged"
    );
    // Allowed on both keys: the update goes through.
    e.c.put_key_policy(PutKeyPolicyRequest {
        key_id: old.clone(),
        policy: allows_alice,
        ..Default::default()
    })
    .unwrap();
    alice.update_alias(alias(&new)).unwrap();
}

#[test]
fn algorithm_and_key_spec_conditions_decide() {
    let Some(w) = world("algorithm_and_key_spec_conditions_decide") else {
        return;
    };
    // Bob may sign only with RSASSA-PSS SHA-256 over a RAW message.
    let p = policy(&[json!({"Effect": "Allow", "Principal": {"AWS": BOB},
        "Action": "kms:Sign", "Resource": "*", "Condition": {"StringEquals": {
            "kms:SigningAlgorithm": "RSASSA_PSS_SHA_256", "kms:MessageType": "RAW"}}})]);
    let spec = ["--key-spec", "RSA_2048", "--key-usage", "SIGN_VERIFY"];
    let v = run_ok(
        &w.home,
        &[&["kms", "create-key", "--policy", &p][..], &spec].concat(),
    );
    let key = v["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
    let sign = |alg: &str, mt: &str, msg: &str| {
        json!(["sign", {"KeyId": key, "Message": msg, "MessageType": mt,
            "SigningAlgorithm": alg}])
    };
    let digest = "b64:n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=";
    let r = w.calls(
        Some(&w.bob),
        json!([
            sign("RSASSA_PSS_SHA_256", "RAW", "b64:aGk="),
            sign("RSASSA_PKCS1_V1_5_SHA_256", "RAW", "b64:aGk="),
            sign("RSASSA_PSS_SHA_256", "DIGEST", digest),
        ]),
    );
    assert_eq!(verdicts(&r), [true, false, false], "{r:?}");
    // Alice may create HMAC_256 keys only (kms:KeySpec and kms:KeyUsage of the request).
    let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": "kms:CreateKey", "Resource": "*", "Condition": {"StringEquals": {
            "kms:KeySpec": "HMAC_256", "kms:KeyUsage": "GENERATE_VERIFY_MAC"}}}]});
    let put = ["iam", "put-user-policy", "--user-name", "alice"];
    let doc = doc.to_string();
    let rest = [
        "--policy-name",
        "hmac-only",
        "--policy-document",
        doc.as_str(),
    ];
    run_ok(&w.home, &[&put[..], &rest].concat());
    let hmac = json!(["create_key", {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}]);
    let rsa = json!(["create_key", {"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"}]);
    let r = w.calls(Some(&w.alice), json!([hmac, rsa, ["create_key", {}]]));
    assert_eq!(verdicts(&r), [true, false, false], "{r:?}");
}

#[test]
fn replicate_key_needs_create_key_in_the_replica_region_too() {
    let Some(w) = world("replicate_key_needs_create_key_in_the_replica_region_too") else {
        return;
    };
    let p = policy(&[json!({"Effect": "Allow", "Principal": {"AWS": BOB},
        "Action": ["kms:ReplicateKey", "kms:DescribeKey"], "Resource": "*"})]);
    let v = run_ok(
        &w.home,
        &["kms", "create-key", "--multi-region", "--policy", &p],
    );
    let key = v["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
    let replicate =
        |region: &str| json!(["replicate_key", {"KeyId": key, "ReplicaRegion": region}]);
    let r = w.calls(Some(&w.bob), json!([replicate("eu-west-1")]));
    assert_eq!(verdicts(&r), [false], "{r:?}");
    assert!(
        r[0]["msg"].as_str().unwrap().contains("kms:CreateKey"),
        "{r:?}"
    );
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:CreateKey","Resource":"*"}]}"#;
    let put = ["iam", "put-user-policy", "--user-name", "bob"];
    let rest = ["--policy-name", "create", "--policy-document", doc];
    run_ok(&w.home, &[&put[..], &rest].concat());
    let r = w.calls(Some(&w.bob), json!([replicate("eu-west-1")]));
    assert_eq!(verdicts(&r), [true], "{r:?}");
}
