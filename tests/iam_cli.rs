//! The `kmsfs iam`, `sts` and `account` verbs end to end with the real binary: users,
//! their access keys, roles, inline policies, accounts, IAM's refusals (DeleteConflict,
//! NoSuchEntity, EntityAlreadyExists, validation); and who the CLI acts as: the access key
//! of `AWS_ACCESS_KEY_ID` or `--profile` when the home holds it (the audit trail's
//! principal), refused with a wrong secret, a missing session token or an expired session.

mod common;
use common::cli::{BIN, fails, init, ok, run_ok};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

/// `kmsfs ARGS` on `home` with no AWS variables but `env`.
fn as_env(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.env_remove("KMSFS_PASSPHRASE")
        .env_remove("KMSFS_CLOCK_OFFSET_SECS")
        .env("KMSFS_HOME", home)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
    for v in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL_KMS",
        "AWS_ENDPOINT_URL",
        "KMSFS_KMS_ENDPOINT",
    ] {
        c.env_remove(v);
    }
    c.envs(env.iter().copied()).args(args).output().unwrap()
}

fn run(home: &Path, args: &[&str]) -> Value {
    ok(&as_env(home, args, &[]))
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

#[test]
fn users_their_keys_and_policies() {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let u = run(&home, &["iam", "create-user", "--user-name", "alice"]);
    assert_eq!(u["User"]["Arn"], "arn:aws:iam::111122223333:user/alice");
    assert_eq!(u["User"]["Path"], "/");
    assert!(s(&u["User"]["UserId"]).starts_with("AIDA"));
    let g = run(&home, &["iam", "get-user", "--user-name", "alice"]);
    assert_eq!(g, u);
    let k = run(&home, &["iam", "create-access-key", "--user-name", "alice"]);
    let k = &k["AccessKey"];
    assert_eq!(
        (&k["UserName"], &k["Status"]),
        (&"alice".into(), &"Active".into())
    );
    assert!(s(&k["AccessKeyId"]).starts_with("AKIA") && s(&k["SecretAccessKey"]).len() == 40);
    let l = run(&home, &["iam", "list-access-keys", "--user-name", "alice"]);
    assert_eq!(l["AccessKeyMetadata"][0]["AccessKeyId"], k["AccessKeyId"]);
    assert!(l["AccessKeyMetadata"][0].get("SecretAccessKey").is_none());
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#;
    let put = [
        "iam",
        "put-user-policy",
        "--user-name",
        "alice",
        "--policy-name",
        "kms-all",
    ];
    run(&home, &[&put[..], &["--policy-document", doc]].concat());
    let p = run(
        &home,
        &[
            "iam",
            "get-user-policy",
            "--user-name",
            "alice",
            "--policy-name",
            "kms-all",
        ],
    );
    assert_eq!(p["PolicyDocument"]["Statement"][0]["Action"], "kms:*");
    let names = run(
        &home,
        &["iam", "list-user-policies", "--user-name", "alice"],
    );
    assert_eq!(names["PolicyNames"], serde_json::json!(["kms-all"]));
    // IAM's refusals.
    let del = ["iam", "delete-user", "--user-name", "alice"];
    fails(&as_env(&home, &del, &[]), 5, "DeleteConflict");
    fails(
        &as_env(&home, &["iam", "create-user", "--user-name", "ALICE"], &[]),
        5,
        "EntityAlreadyExists",
    );
    fails(
        &as_env(&home, &["iam", "get-user", "--user-name", "bob"], &[]),
        5,
        "NoSuchEntity",
    );
    fails(
        &as_env(&home, &["iam", "create-user", "--user-name", "a b"], &[]),
        2,
        "ValidationError",
    );
    fails(
        &as_env(
            &home,
            &[&put[..], &["--policy-document", "{}"]].concat(),
            &[],
        ),
        2,
        "MalformedPolicyDocument",
    );
    let id = s(&k["AccessKeyId"]).to_string();
    run(
        &home,
        &[
            "iam",
            "delete-access-key",
            "--user-name",
            "alice",
            "--access-key-id",
            &id,
        ],
    );
    fails(&as_env(&home, &del, &[]), 5, "DeleteConflict");
    run(
        &home,
        &[
            "iam",
            "delete-user-policy",
            "--user-name",
            "alice",
            "--policy-name",
            "kms-all",
        ],
    );
    run(&home, &del);
    assert_eq!(
        run(&home, &["iam", "list-users"])["Users"],
        serde_json::json!([])
    );
    // The registry file is private.
    use std::os::unix::fs::PermissionsExt;
    let f = home.join("iam/accounts/111122223333/account.json");
    assert_eq!(
        std::fs::metadata(f).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn roles_and_their_policies() {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#;
    // Roles and their policies.
    let r = common::iam::create_role(run, &home);
    assert_eq!(r["Role"]["Arn"], "arn:aws:iam::111122223333:role/R");
    assert_eq!(
        r["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Action"],
        "sts:AssumeRole"
    );
    assert_eq!(r["Role"]["MaxSessionDuration"], 3600);
    common::iam::put_policy(run, &home, "--role-name", "R", "p", doc);
    assert_eq!(
        run(&home, &["iam", "list-role-policies", "--role-name", "R"])["PolicyNames"][0],
        "p"
    );
    fails(
        &as_env(&home, &["iam", "delete-role", "--role-name", "R"], &[]),
        5,
        "DeleteConflict",
    );
    run(
        &home,
        &[
            "iam",
            "delete-role-policy",
            "--role-name",
            "R",
            "--policy-name",
            "p",
        ],
    );
    run(&home, &["iam", "delete-role", "--role-name", "R"]);
    assert_eq!(
        run(&home, &["iam", "list-roles"])["Roles"],
        serde_json::json!([])
    );
}

#[test]
fn accounts_hold_their_own_users() {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    // Accounts: users live in the account named.
    let other = ["--account-id", "222222222222"];
    fails(
        &as_env(
            &home,
            &[&["iam", "create-user", "--user-name", "bob"][..], &other].concat(),
            &[],
        ),
        5,
        "NoSuchEntity",
    );
    let a = run(
        &home,
        &["account", "create", "--account-id", "222222222222"],
    );
    assert_eq!(a["Account"]["Arn"], "arn:aws:iam::222222222222:root");
    fails(
        &as_env(
            &home,
            &["account", "create", "--account-id", "222222222222"],
            &[],
        ),
        5,
        "EntityAlreadyExists",
    );
    let b = run(
        &home,
        &[&["iam", "create-user", "--user-name", "bob"][..], &other].concat(),
    );
    assert_eq!(b["User"]["Arn"], "arn:aws:iam::222222222222:user/bob");
    let list = run(&home, &["account", "list"]);
    assert_eq!(list["Accounts"][0]["AccountId"], "111122223333");
    assert_eq!(list["Accounts"][0]["Home"], true);
    assert_eq!(list["Accounts"][1]["Users"], 1);
    fails(
        &as_env(
            &home,
            &["account", "delete", "--account-id", "222222222222"],
            &[],
        ),
        5,
        "DeleteConflict",
    );
    fails(
        &as_env(
            &home,
            &["account", "delete", "--account-id", "111122223333"],
            &[],
        ),
        5,
        "DeleteConflict",
    );
    run(
        &home,
        &[&["iam", "delete-user", "--user-name", "bob"][..], &other].concat(),
    );
    run(
        &home,
        &["account", "delete", "--account-id", "222222222222"],
    );
    assert_eq!(
        run(&home, &["account", "list"])["Accounts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn the_cli_acts_as_the_configured_access_key() {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    run(&home, &["iam", "create-user", "--user-name", "alice"]);
    let k = run(&home, &["iam", "create-access-key", "--user-name", "alice"]);
    let (id, secret) = (
        s(&k["AccessKey"]["AccessKeyId"]),
        s(&k["AccessKey"]["SecretAccessKey"]),
    );
    let alice = "arn:aws:iam::111122223333:user/alice";
    let env = [("AWS_ACCESS_KEY_ID", id), ("AWS_SECRET_ACCESS_KEY", secret)];
    let who = ok(&as_env(&home, &["sts", "get-caller-identity"], &env));
    assert_eq!(who["Arn"], alice);
    assert!(s(&who["UserId"]).starts_with("AIDA"));
    assert_eq!(who["Account"], "111122223333");
    // A KMS call (her identity policy allows it) is audited as alice.
    let doc = r#"{"Statement":[{"Effect":"Allow","Action":"kms:CreateKey","Resource":"*"}]}"#;
    let put = [
        "iam",
        "put-user-policy",
        "--user-name",
        "alice",
        "--policy-name",
        "k",
    ];
    run(&home, &[&put[..], &["--policy-document", doc]].concat());
    ok(&as_env(&home, &["kms", "create-key"], &env));
    let trail = run_ok(
        &home,
        &[
            "audit",
            "show",
            "--principal",
            alice,
            "--operation",
            "CreateKey",
        ],
    );
    assert_eq!(trail["principal"], alice, "{trail}");
    // The same key through a profile of the AWS config files.
    let creds = d.path().join("credentials");
    std::fs::write(
        &creds,
        format!("[alice]\naws_access_key_id = {id}\naws_secret_access_key = {secret}\n"),
    )
    .unwrap();
    let files = [("AWS_SHARED_CREDENTIALS_FILE", creds.to_str().unwrap())];
    let who = ok(&as_env(
        &home,
        &["--profile", "alice", "sts", "get-caller-identity"],
        &files,
    ));
    assert_eq!(who["Arn"], alice);
    // A wrong secret is refused; an unknown key leaves the Unix user.
    let bad = [("AWS_ACCESS_KEY_ID", id), ("AWS_SECRET_ACCESS_KEY", "x")];
    fails(
        &as_env(&home, &["sts", "get-caller-identity"], &bad),
        5,
        "InvalidClientTokenId",
    );
    let other = [
        ("AWS_ACCESS_KEY_ID", "AKIAUNKNOWN"),
        ("AWS_SECRET_ACCESS_KEY", "x"),
    ];
    let who = ok(&as_env(&home, &["sts", "get-caller-identity"], &other));
    assert_eq!(
        who["Arn"], "arn:aws:iam::111122223333:root",
        "root is the account root"
    );
    // A role session: its token needed, refused once expired.
    run(
        &home,
        &[
            "iam",
            "create-role",
            "--role-name",
            "R",
            "--assume-role-policy-document",
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}}"#,
        ],
    );
    let ar = [
        "sts",
        "assume-role",
        "--role-arn",
        "arn:aws:iam::111122223333:role/R",
        "--role-session-name",
        "s1",
        "--duration-seconds",
        "900",
    ];
    let c = run(&home, &ar);
    assert_eq!(
        c["AssumedRoleUser"]["Arn"],
        "arn:aws:sts::111122223333:assumed-role/R/s1"
    );
    let c = &c["Credentials"];
    assert!(s(&c["AccessKeyId"]).starts_with("ASIA"));
    let session = [
        ("AWS_ACCESS_KEY_ID", s(&c["AccessKeyId"])),
        ("AWS_SECRET_ACCESS_KEY", s(&c["SecretAccessKey"])),
        ("AWS_SESSION_TOKEN", s(&c["SessionToken"])),
    ];
    let who = ok(&as_env(&home, &["sts", "get-caller-identity"], &session));
    assert_eq!(who["Arn"], "arn:aws:sts::111122223333:assumed-role/R/s1");
    assert!(s(&who["UserId"]).starts_with("AROA") && s(&who["UserId"]).ends_with(":s1"));
    fails(
        &as_env(&home, &["sts", "get-caller-identity"], &session[..2]),
        5,
        "session token",
    );
    let later = [&session[..], &[("KMSFS_CLOCK_OFFSET_SECS", "901")]].concat();
    fails(
        &as_env(&home, &["sts", "get-caller-identity"], &later),
        5,
        "ExpiredToken",
    );
    // assume-role's own checks.
    let long = [&ar[..6], &["--duration-seconds", "7200"]].concat();
    fails(&as_env(&home, &long, &[]), 2, "MaxSessionDuration");
    let nobody = [
        "sts",
        "assume-role",
        "--role-arn",
        "arn:aws:iam::111122223333:role/Nope",
        "--role-session-name",
        "s1",
    ];
    fails(&as_env(&home, &nobody, &[]), 5, "NoSuchEntity");
    // `credentials add --user-name` registers a given key for a user.
    run(
        &home,
        &[
            "credentials",
            "add",
            "--access-key-id",
            "alicetest",
            "--secret-access-key",
            "pw",
            "--user-name",
            "alice",
        ],
    );
    let keys = run(&home, &["iam", "list-access-keys", "--user-name", "alice"]);
    assert_eq!(keys["AccessKeyMetadata"].as_array().unwrap().len(), 2);
}
