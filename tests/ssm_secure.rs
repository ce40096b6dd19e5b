//! Parameter Store's SecureStrings and the rest through its Rust API: Standard values by
//! KMS Encrypt with the `PARAMETER_ARN` context (checked in the KMS audit line), Advanced
//! envelopes bound to ARN and version, tampered and swapped records, a user refused
//! `kms:Decrypt`, a disabled key, policies with a moved clock, `/aws/reference/secretsmanager/`
//! through a `SecretReference`, and ten concurrent writers.

mod common;
#[path = "ssm/helpers.rs"]
mod helpers;

use common::kms::{ACCOUNT, Env, env};
use helpers::*;
use kmsfs::kms::Client;
use kmsfs::kms::types::{DecryptRequest, b64};
use kmsfs::secrets::params::*;

#[test]
fn standard_securestring_is_kms_encrypt_with_the_parameter_arn() {
    let e = env();
    let ctx = ctx_as(&e, ROOT);
    let ps = ParameterStore::new(&ctx, None);
    let key = e.create_key();
    put(&ps, "/db/pw", "hunter2", |r| {
        r.r#type = Some("SecureString".into());
        r.key_id = Some(key.clone());
    })
    .unwrap();
    let arn = ps.arn("/db/pw");
    let root = kmsfs::kms::Embedded::new(e.kms.clone(), ROOT);
    let p = get(&ps, "/db/pw", false).unwrap();
    assert_ne!(p.value.expose(), "hunter2");
    // Without decryption: the base64 of the KMS ciphertext, which the KMS decrypts under
    // the context {"PARAMETER_ARN": arn}.
    let blob = b64::decode(p.value.expose()).unwrap();
    let d = root
        .decrypt(DecryptRequest {
            ciphertext_blob: blob.clone(),
            encryption_context: common::kms::ec(&[("PARAMETER_ARN", &arn)]),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(d.plaintext.expose(), b"hunter2");
    let wrong = root.decrypt(DecryptRequest {
        ciphertext_blob: blob,
        ..Default::default()
    });
    assert!(wrong.is_err());
    assert_eq!(get(&ps, "/db/pw", true).unwrap().value.expose(), "hunter2");
    let lines = e.audit_lines();
    let enc: Vec<_> = lines.iter().filter(|l| l.operation == "Encrypt").collect();
    assert_eq!(enc.len(), 1);
    assert_eq!(enc[0].principal, "ssm.amazonaws.com");
    assert_eq!(enc[0].on_behalf_of.as_deref(), Some(ROOT));
    assert_eq!(
        enc[0].encryption_context.as_ref().unwrap()["PARAMETER_ARN"],
        arn
    );
    let svc: Vec<_> = lines
        .iter()
        .filter(|l| l.event_source.as_deref() == Some("ssm.amazonaws.com"))
        .collect();
    let ops: Vec<&str> = svc.iter().map(|l| l.operation.as_str()).collect();
    assert_eq!(ops, ["PutParameter", "GetParameter", "GetParameter"]);
    assert_eq!(svc[0].resource_arn.as_deref(), Some(arn.as_str()));
    let text = std::fs::read_to_string(e.kms.audit_path()).unwrap();
    assert!(!text.contains("hunter2"));
    // The record file holds no plaintext either.
    for f in std::fs::read_dir(&ctx.dir).unwrap() {
        let b = std::fs::read(f.unwrap().path()).unwrap();
        assert!(!b.windows(7).any(|w| w == b"hunter2"));
    }
    assert!(!format!("{:?}", get(&ps, "/db/pw", true).unwrap()).contains("hunter2"));
}

#[test]
fn advanced_securestring_is_an_envelope_bound_to_arn_and_version() {
    let e = env();
    let ctx = ctx_as(&e, ROOT);
    let ps = ParameterStore::new(&ctx, None);
    let adv = |r: &mut PutParameterRequest| {
        r.r#type = Some("SecureString".into());
        r.tier = Some("Advanced".into());
    };
    let big = "s".repeat(6000);
    put(&ps, "/big", &big, adv).unwrap();
    let p = get(&ps, "/big", false).unwrap();
    let env_bytes = b64::decode(p.value.expose()).unwrap();
    assert_eq!(&env_bytes[..8], seal::ENVELOPE_MAGIC);
    assert_eq!(get(&ps, "/big", true).unwrap().value.expose(), big);
    let lines = e.audit_lines();
    let gdk = lines
        .iter()
        .find(|l| l.operation == "GenerateDataKey")
        .unwrap();
    assert_eq!(
        gdk.encryption_context.as_ref().unwrap()["PARAMETER_ARN"],
        ps.arn("/big")
    );
    // Version 1's envelope copied into version 2 does not open: the AAD binds the version.
    let ow = |r: &mut PutParameterRequest| r.overwrite = Some(true);
    put(&ps, "/big", "other", ow).unwrap();
    let store = record::Store::lock(&ctx.dir).unwrap();
    let mut r = store.read("/big").unwrap().unwrap();
    r.versions[1].value = r.versions[0].value.clone();
    store.write(&r).unwrap();
    drop(store);
    let err = get(&ps, "/big", true).unwrap_err();
    assert_eq!(err.code(), "InternalServerError");
    assert!(err.to_string().contains("does not decrypt"), "{err}");
    assert_eq!(get(&ps, "/big:1", true).unwrap().value.expose(), big);
}

#[test]
fn damaged_and_swapped_records_are_clear_errors() {
    let e = env();
    let ctx = ctx_as(&e, ROOT);
    let ps = ParameterStore::new(&ctx, None);
    put(&ps, "/one", "1", |_| {}).unwrap();
    put(&ps, "/two", "2", |_| {}).unwrap();
    let f1 = ctx.dir.join(record::file_name("/one"));
    let f2 = ctx.dir.join(record::file_name("/two"));
    let good = std::fs::read(&f1).unwrap();
    // Swapped: /one's file holds /two.
    std::fs::copy(&f2, &f1).unwrap();
    let err = get(&ps, "/one", false).unwrap_err();
    assert!(err.to_string().contains("swapped"), "{err}");
    // Truncated, wrong magic, trailing bytes.
    for bad in [
        good[..good.len() - 3].to_vec(),
        [b"XXXXXXXX", &good[8..]].concat(),
        [&good[..], b"!"].concat(),
    ] {
        std::fs::write(&f1, &bad).unwrap();
        let err = get(&ps, "/one", false).unwrap_err();
        assert_eq!(err.code(), "InternalServerError");
        assert!(err.to_string().contains("damaged"), "{err}");
    }
    std::fs::write(&f1, &good).unwrap();
    assert_eq!(get(&ps, "/one", false).unwrap().value.expose(), "1");
    // A Standard SecureString's blob under another parameter's ARN does not decrypt.
    put(&ps, "/s1", "x1", secure("SecureString")).unwrap();
    put(&ps, "/s2", "x2", secure("SecureString")).unwrap();
    let store = record::Store::lock(&ctx.dir).unwrap();
    let a = store.read("/s1").unwrap().unwrap();
    let mut b = store.read("/s2").unwrap().unwrap();
    b.versions[0].value = a.versions[0].value.clone();
    store.write(&b).unwrap();
    drop(store);
    assert_eq!(
        get(&ps, "/s2", true).unwrap_err().code(),
        "InternalServerError"
    );
}

#[test]
fn a_user_refused_decrypt_gets_access_denied_but_reads_the_ciphertext() {
    let e = env();
    let key = e.create_key();
    let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:GenerateDataKey","kms:DescribeKey"],"Resource":"*"}]}"#;
    common::iam::user(&e.home, "writer", Some(allow));
    let writer = format!("arn:aws:iam::{ACCOUNT}:user/writer");
    let wctx = ctx_as(&e, &writer);
    let ps = ParameterStore::new(&wctx, None);
    put(&ps, "/x", "v", |r| {
        r.r#type = Some("SecureString".into());
        r.key_id = Some(key.clone());
    })
    .unwrap();
    assert!(!get(&ps, "/x", false).unwrap().value.expose().is_empty());
    assert_eq!(
        get(&ps, "/x", true).unwrap_err().code(),
        "AccessDeniedException"
    );
    let root = ctx_as(&e, ROOT);
    assert_eq!(
        get(&ParameterStore::new(&root, None), "/x", true)
            .unwrap()
            .value
            .expose(),
        "v"
    );
    // A disabled key: InvalidKeyId on put and on read with decryption.
    e.c.disable_key(e.kid(&key)).unwrap();
    let rp = ParameterStore::new(&root, None);
    assert_eq!(get(&rp, "/x", true).unwrap_err().code(), "InvalidKeyId");
    let r = put(&rp, "/y", "v", |r| {
        r.r#type = Some("SecureString".into());
        r.key_id = Some(key.clone());
    });
    assert_eq!(code(r), "InvalidKeyId");
    let r = put(&rp, "/y", "v", |r| {
        r.r#type = Some("SecureString".into());
        r.key_id = Some("alias/none".into());
    });
    assert_eq!(code(r), "InvalidKeyId");
}

#[test]
fn policies_expire_and_notify_with_a_moved_clock() {
    let e = env();
    let ctx = ctx_as(&e, ROOT);
    let ps = ParameterStore::new(&ctx, None);
    // 1_800_000_000 s is 2027-01-15T08:00:00Z; expire 10 days later.
    let exp = r#"[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2027-01-25T08:00:00.000Z"}},
        {"Type":"ExpirationNotification","Version":"1.0","Attributes":{"Before":"2","Unit":"Days"}},
        {"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"36","Unit":"Hours"}}]"#;
    put(&ps, "/temp", "v", policies(exp)).unwrap();
    let only = r#"[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2027-01-25T08:00:00.000Z"}}]"#;
    put(&ps, "/lazy", "v", policies(only)).unwrap();
    let meta = describe(&ps, vec![]).unwrap();
    assert_eq!(meta.len(), 2);
    assert!(ps.run_due_policies().unwrap().expired.is_empty());
    assert!(ps.events(None, None).unwrap().is_empty());
    e.clock.advance_ms(37 * 3_600_000);
    let r = ps.run_due_policies().unwrap();
    assert_eq!((r.notifications, r.expired.len()), (1, 0));
    let ev = ps.events(Some("/temp"), None).unwrap();
    assert_eq!(ev[0].policy_type, "NoChangeNotification");
    // Recorded once.
    assert_eq!(ps.run_due_policies().unwrap().notifications, 0);
    e.clock.advance_days(7);
    assert_eq!(ps.run_due_policies().unwrap().notifications, 1);
    let h = history(&ps, "/temp", false);
    let status: Vec<(&str, &str)> = h[0]
        .policies
        .iter()
        .map(|p| (p.policy_type.as_str(), p.policy_status.as_str()))
        .collect();
    assert_eq!(
        status,
        [
            ("Expiration", "Pending"),
            ("ExpirationNotification", "Finished"),
            ("NoChangeNotification", "Finished")
        ]
    );
    e.clock.advance_days(2);
    // Lazily on access: /lazy is gone when read; the sweep deletes /temp.
    assert_eq!(code(get(&ps, "/lazy", false)), "ParameterNotFound");
    assert_eq!(ps.run_due_policies().unwrap().expired, ["/temp"]);
    assert_eq!(code(get(&ps, "/temp", false)), "ParameterNotFound");
    let kinds: Vec<String> = ps
        .events(None, None)
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {}", e.name, e.policy_type))
        .collect();
    assert_eq!(
        kinds,
        [
            "/temp NoChangeNotification",
            "/temp ExpirationNotification",
            "/lazy Expiration",
            "/temp Expiration"
        ]
    );
    let since = ps.events(None, Some(e.clock_now() - 1000)).unwrap();
    assert_eq!(since.len(), 2);
    let ops: Vec<String> = e
        .audit_lines()
        .into_iter()
        .map(|l| l.operation)
        .filter(|o| o.starts_with("ParameterPolicy"))
        .collect();
    assert_eq!(ops.len(), 4);
    assert!(ops.contains(&"ParameterPolicyExpirationNotification".to_string()));
}

trait ClockNow {
    fn clock_now(&self) -> i64;
}
impl ClockNow for Env {
    fn clock_now(&self) -> i64 {
        self.kms.now_ms()
    }
}

#[test]
fn policies_are_checked() {
    let e = env();
    let ctx = ctx_as(&e, ROOT);
    let ps = ParameterStore::new(&ctx, None);
    let p = |t: &str| {
        format!(
            r#"[{{"Type":"{t}","Version":"1.0","Attributes":{{"Timestamp":"2030-01-01T00:00:00Z","After":"1","Before":"1","Unit":"Days"}}}}]"#
        )
    };
    let cases = [
        (p("Bogus"), "InvalidPolicyTypeException"),
        ("[{\"Type\":\"Expiration\",\"Version\":\"1.0\",\"Attributes\":{\"Timestamp\":\"soon\"}}]".into(), "InvalidPolicyAttributeException"),
        ("[{\"Type\":\"Expiration\",\"Version\":\"1.0\",\"Attributes\":{\"Timestamp\":\"2001-01-01T00:00:00Z\"}}]".into(), "InvalidPolicyAttributeException"),
        ("[{\"Type\":\"NoChangeNotification\",\"Version\":\"1.0\",\"Attributes\":{\"After\":\"1\",\"Unit\":\"Weeks\"}}]".into(), "InvalidPolicyAttributeException"),
        (p("ExpirationNotification"), "IncompatiblePolicyException"),
        (format!("[{},{}]", &p("Expiration")[1..p("Expiration").len() - 1], &p("Expiration")[1..p("Expiration").len() - 1]), "IncompatiblePolicyException"),
        ("not json".into(), "InvalidPolicyAttributeException"),
    ];
    for (text, want) in &cases {
        assert_eq!(code(put(&ps, "/p", "v", policies(text))), *want, "{text}");
    }
    let std_tier = |r: &mut PutParameterRequest| r.policies = Some(p("Expiration"));
    assert_eq!(code(put(&ps, "/p", "v", std_tier)), "ValidationException");
    put(&ps, "/p", "v", policies(&p("Expiration"))).unwrap();
}

/// A Secrets Manager stand-in: one secret with two versions.
struct OneSecret;

impl SecretReference for OneSecret {
    fn get_secret_for_ssm(
        &self,
        id: &str,
        version: Option<&str>,
        label: Option<&str>,
        _d: bool,
    ) -> Result<ReferencedSecret, ParamError> {
        if id != "db" {
            return Err(ParamError::NotFound(format!("Secret {id} not found")));
        }
        let previous =
            label == Some("AWSPREVIOUS") || version == Some("00000000-0000-0000-0000-000000000001");
        Ok(ReferencedSecret {
            name: "db".into(),
            arn: format!("arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:db-AbCdEf"),
            value: ParamValue::new(if previous { "old" } else { "new" }),
            version_id: if previous {
                "00000000-0000-0000-0000-000000000001"
            } else {
                "00000000-0000-0000-0000-000000000002"
            }
            .into(),
            stages: vec![
                if previous {
                    "AWSPREVIOUS"
                } else {
                    "AWSCURRENT"
                }
                .into(),
            ],
            created_ms: 1_700_000_000_000,
        })
    }
}

#[test]
fn secrets_manager_references_need_decryption() {
    let e = env();
    let ctx = ctx_as(&e, ROOT);
    let sm = OneSecret;
    let ps = ParameterStore::new(&ctx, Some(&sm));
    let name = "/aws/reference/secretsmanager/db";
    assert_eq!(code(get(&ps, name, false)), "ValidationException");
    let p = get(&ps, name, true).unwrap();
    assert_eq!(
        (p.value.expose(), p.r#type.as_str(), p.version),
        ("new", "SecureString", 0)
    );
    assert!(p.arn.contains(":secretsmanager:"));
    let src: serde_json::Value = serde_json::from_str(p.source_result.as_deref().unwrap()).unwrap();
    assert_eq!(src["VersionStages"][0], "AWSCURRENT");
    let old = get(&ps, &format!("{name}:AWSPREVIOUS"), true).unwrap();
    assert_eq!(
        (old.value.expose(), old.selector.as_deref()),
        ("old", Some(":AWSPREVIOUS"))
    );
    let by_id = get(
        &ps,
        &format!("{name}:00000000-0000-0000-0000-000000000001"),
        true,
    )
    .unwrap();
    assert_eq!(by_id.value.expose(), "old");
    assert_eq!(
        code(get(&ps, "/aws/reference/secretsmanager/other", true)),
        "ParameterNotFound"
    );
    let none = ParameterStore::new(&ctx, None);
    assert_eq!(code(get(&none, name, true)), "ParameterNotFound");
    // Secrets can't be created under the reference prefix.
    assert_eq!(code(put(&ps, name, "x", |_| {})), "ValidationException");
}

#[test]
fn ten_threads_overwrite_one_parameter_without_losing_a_version() {
    let e = env();
    let ctx = ctx_as(&e, ROOT);
    put(&ParameterStore::new(&ctx, None), "/race", "0", |_| {}).unwrap();
    std::thread::scope(|s| {
        for t in 0..10 {
            let ctx = ctx.clone();
            s.spawn(move || {
                let ps = ParameterStore::new(&ctx, None);
                for i in 0..5 {
                    put(&ps, "/race", &format!("{t}-{i}"), |r| {
                        r.overwrite = Some(true)
                    })
                    .unwrap();
                }
            });
        }
    });
    let ps = ParameterStore::new(&ctx, None);
    let h = history(&ps, "/race", false);
    assert_eq!(h.len(), 51);
    assert!(h.iter().enumerate().all(|(i, v)| v.version == i as u64 + 1));
}
