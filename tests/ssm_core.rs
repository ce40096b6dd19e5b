//! Parameter Store through its Rust API (`kmsfs::secrets::params`), on an embedded KMS in
//! a fresh home with a manual clock: every operation and rule (names, tiers and sizes,
//! overwrite, the version cap, labels, selectors, paths and filters, pagination,
//! history, SecureStrings with and without decryption and their KMS context, Advanced
//! envelopes, tampered records, access control, policies with a moved clock, and
//! `/aws/reference/secretsmanager/` through a `SecretReference`).

mod common;

use common::kms::{ACCOUNT, Env, env};
use kmsfs::crypto::SecretBytes;
use kmsfs::kms::types::{DecryptRequest, b64};
use kmsfs::kms::{Caller, Client};
use kmsfs::secrets::params::*;
use kmsfs::secrets::{Service, ServiceContext};

const ROOT: &str = "arn:aws:iam::111122223333:root";

fn ctx_as(e: &Env, who: &str) -> ServiceContext {
    ServiceContext::embedded(&e.home, e.kms.clone(), Caller::new(who), Service::ParameterStore).unwrap()
}

fn put(ps: &ParameterStore, name: &str, value: &str, f: impl FnOnce(&mut PutParameterRequest)) -> Result<PutParameterResponse, ParamError> {
    let mut r = PutParameterRequest {
        name: name.into(),
        value: ParamValue::new(value),
        ..Default::default()
    };
    f(&mut r);
    ps.put_parameter(r)
}

fn get(ps: &ParameterStore, name: &str, decrypt: bool) -> Result<Parameter, ParamError> {
    ps.get_parameter(GetParameterRequest {
        name: name.into(),
        with_decryption: Some(decrypt),
    })
    .map(|r| r.parameter)
}

fn code<T: std::fmt::Debug>(r: Result<T, ParamError>) -> &'static str {
    r.expect_err("expected an error").code()
}

fn secure(kind: &str) -> impl FnOnce(&mut PutParameterRequest) + '_ {
    move |r| r.r#type = Some(kind.into())
}

#[test]
fn put_get_overwrite_and_selectors() {
    let e = env();
    let ctx = ctx_as(&e, ROOT);
    let ps = ParameterStore::new(&ctx, None);
    let r = put(&ps, "/app/db/host", "one", |_| {}).unwrap();
    assert_eq!((r.version, r.tier.as_str()), (1, "Standard"));
    assert_eq!(code(put(&ps, "/app/db/host", "two", |_| {})), "ParameterAlreadyExists");
    let r = put(&ps, "/app/db/host", "two", |r| r.overwrite = Some(true)).unwrap();
    assert_eq!(r.version, 2);
    let p = get(&ps, "/app/db/host", false).unwrap();
    assert_eq!((p.value.expose(), p.version, p.r#type.as_str()), ("two", 2, "String"));
    assert_eq!(p.arn, format!("arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/app/db/host"));
    assert_eq!(p.data_type, "text");
    assert_eq!(p.last_modified_date, 1_800_000_000.0);
    let p1 = get(&ps, "/app/db/host:1", false).unwrap();
    assert_eq!((p1.value.expose(), p1.selector.as_deref()), ("one", Some(":1")));
    assert_eq!(code(get(&ps, "/app/db/host:9", false)), "ParameterVersionNotFound");
    assert_eq!(code(get(&ps, "/nope", false)), "ParameterNotFound");
    // By ARN, and a name without hierarchy.
    let by_arn = get(&ps, &p.arn, false).unwrap();
    assert_eq!(by_arn.name, "/app/db/host");
    put(&ps, "plain", "v", |_| {}).unwrap();
    assert_eq!(get(&ps, "plain", false).unwrap().arn, format!("arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/plain"));
    // Overwrite: the type may change; the description is kept; tags with overwrite are refused.
    put(&ps, "/t", "a", |r| r.description = Some("d".into())).unwrap();
    put(&ps, "/t", "a,b", |r| {
        r.overwrite = Some(true);
        r.r#type = Some("StringList".into());
    })
    .unwrap();
    let h = history(&ps, "/t", false);
    assert_eq!(h[1].r#type, "StringList");
    assert_eq!(h[1].description.as_deref(), Some("d"));
    let tags = |r: &mut PutParameterRequest| {
        r.overwrite = Some(true);
        r.tags = Some(vec![Tag { key: "k".into(), value: "v".into() }]);
    };
    assert_eq!(code(put(&ps, "/t", "x", tags)), "ValidationException");
    assert_eq!(code(put(&ps, "/e", "", |_| {})), "ValidationException");
    assert_eq!(code(put(&ps, "/e", "x", secure("Bogus"))), "ValidationException");
    assert_eq!(code(put(&ps, "/e", "x", |r| r.key_id = Some("alias/x".into()))), "ValidationException");
}

#[test]
fn names_follow_aws_rules() {
    let e = env();
    let ctx = ctx_as(&e, ROOT);
    let ps = ParameterStore::new(&ctx, None);
    let deep: String = (0..15).map(|i| format!("/l{i}")).collect();
    put(&ps, &deep, "ok", |_| {}).unwrap();
    let cases = [
        (format!("{deep}/l15"), "HierarchyLevelLimitExceededException"),
        ("a/b".to_string(), "ValidationException"),
        ("/aws/x".to_string(), "ValidationException"),
        ("AWSx".to_string(), "ValidationException"),
        ("/Ssm/x".to_string(), "ValidationException"),
        ("/has space".to_string(), "ValidationException"),
        ("/a//b".to_string(), "ValidationException"),
        ("/a/".to_string(), "ValidationException"),
        (format!("/{}", "x".repeat(1011)), "ValidationException"),
    ];
    for (n, c) in cases {
        assert_eq!(code(put(&ps, &n, "v", |_| {})), c, "{n}");
    }
    put(&ps, &format!("/{}", "x".repeat(1010)), "v", |_| {}).unwrap();
    put(&ps, "/a.b-c_d/E9", "v", |_| {}).unwrap();
}

#[test]
fn tiers_sizes_patterns_and_data_types() {
    let e = env();
    let ctx = ctx_as(&e, ROOT);
    let ps = ParameterStore::new(&ctx, None);
    put(&ps, "/s", &"x".repeat(4096), |_| {}).unwrap();
    assert_eq!(code(put(&ps, "/s2", &"x".repeat(4097), |_| {})), "ValidationException");
    let adv = |r: &mut PutParameterRequest| r.tier = Some("Advanced".into());
    assert_eq!(put(&ps, "/a", &"x".repeat(8192), adv).unwrap().tier, "Advanced");
    assert_eq!(code(put(&ps, "/a2", &"x".repeat(8193), adv)), "ValidationException");
    let it = |r: &mut PutParameterRequest| r.tier = Some("Intelligent-Tiering".into());
    assert_eq!(put(&ps, "/i1", "small", it).unwrap().tier, "Standard");
    assert_eq!(put(&ps, "/i2", &"x".repeat(5000), it).unwrap().tier, "Advanced");
    // Advanced never goes back to Standard; without --tier it stays Advanced.
    let down = |r: &mut PutParameterRequest| {
        r.overwrite = Some(true);
        r.tier = Some("Standard".into());
    };
    assert_eq!(code(put(&ps, "/a", "y", down)), "ValidationException");
    let r = put(&ps, "/a", "y", |r| r.overwrite = Some(true)).unwrap();
    assert_eq!(r.tier, "Advanced");
    // Allowed patterns: the whole value must match; a bad regex is refused.
    let pat = |p: &'static str| move |r: &mut PutParameterRequest| r.allowed_pattern = Some(p.into());
    put(&ps, "/p", "1234", pat(r"\d+")).unwrap();
    assert_eq!(code(put(&ps, "/p2", "12a", pat(r"\d+"))), "ParameterPatternMismatchException");
    assert_eq!(code(put(&ps, "/p3", "1", pat("("))), "InvalidAllowedPatternException");
    // The pattern stays with the parameter on overwrite.
    let ow = |r: &mut PutParameterRequest| r.overwrite = Some(true);
    assert_eq!(code(put(&ps, "/p", "abc", ow)), "ParameterPatternMismatchException");
    // Data types.
    let dt = |d: &'static str| move |r: &mut PutParameterRequest| r.data_type = Some(d.into());
    put(&ps, "/ami", "ami-0123456789abcdef0", dt("aws:ec2:image")).unwrap();
    assert_eq!(get(&ps, "/ami", false).unwrap().data_type, "aws:ec2:image");
    assert_eq!(code(put(&ps, "/ami2", "ami-xyz", dt("aws:ec2:image"))), "ValidationException");
    assert_eq!(code(put(&ps, "/ami3", "x", dt("Text"))), "ValidationException");
}

#[test]
fn at_most_100_versions_and_a_labelled_oldest_blocks() {
    let e = env();
    let ctx = ctx_as(&e, ROOT);
    let ps = ParameterStore::new(&ctx, None);
    let ow = |r: &mut PutParameterRequest| r.overwrite = Some(true);
    for i in 1..=100 {
        put(&ps, "/v", &format!("v{i}"), ow).unwrap();
    }
    assert_eq!(put(&ps, "/v", "v101", ow).unwrap().version, 101);
    let h = history(&ps, "/v", false);
    assert_eq!((h.len(), h[0].version, h[99].version), (100, 2, 101));
    assert_eq!(code(get(&ps, "/v:1", false)), "ParameterVersionNotFound");
    label(&ps, "/v", Some(2), &["keep"]).unwrap();
    assert_eq!(code(put(&ps, "/v", "v102", ow)), "ParameterMaxVersionLimitExceeded");
    assert_eq!(get(&ps, "/v", false).unwrap().version, 101);
}

fn label(ps: &ParameterStore, name: &str, v: Option<u64>, labels: &[&str]) -> Result<LabelParameterVersionResponse, ParamError> {
    ps.label_parameter_version(LabelParameterVersionRequest {
        name: name.into(),
        parameter_version: v,
        labels: labels.iter().map(|s| s.to_string()).collect(),
    })
}

/// Every version, through every page.
fn history(ps: &ParameterStore, name: &str, decrypt: bool) -> Vec<ParameterHistory> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let r = ps
            .get_parameter_history(GetParameterHistoryRequest {
                name: name.into(),
                with_decryption: Some(decrypt),
                next_token: token,
                ..Default::default()
            })
            .unwrap();
        assert!(r.parameters.len() <= 50);
        out.extend(r.parameters);
        token = r.next_token;
        if token.is_none() {
            return out;
        }
    }
}

#[test]
fn labels_move_and_are_checked() {
    let e = env();
    let ctx = ctx_as(&e, ROOT);
    let ps = ParameterStore::new(&ctx, None);
    let ow = |r: &mut PutParameterRequest| r.overwrite = Some(true);
    put(&ps, "/l", "one", |_| {}).unwrap();
    put(&ps, "/l", "two", ow).unwrap();
    let r = label(&ps, "/l", Some(1), &["prod", "1bad", "awsx", "ok.-_"]).unwrap();
    assert_eq!(r.invalid_labels, ["1bad", "awsx"]);
    assert_eq!(r.parameter_version, 1);
    assert_eq!(get(&ps, "/l:prod", false).unwrap().value.expose(), "one");
    // A label moves to the version named (latest when none).
    assert_eq!(label(&ps, "/l", None, &["prod"]).unwrap().parameter_version, 2);
    let p = get(&ps, "/l:prod", false).unwrap();
    assert_eq!((p.value.expose(), p.selector.as_deref()), ("two", Some(":prod")));
    let h = history(&ps, "/l", false);
    assert_eq!(h[0].labels, ["ok.-_"]);
    assert_eq!(h[1].labels, ["prod"]);
    assert_eq!(code(label(&ps, "/l", Some(7), &["x"])), "ParameterVersionNotFound");
    assert_eq!(code(label(&ps, "/nope", None, &["x"])), "ParameterNotFound");
    let many: Vec<String> = (0..9).map(|i| format!("l{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    label(&ps, "/l", Some(2), &many).unwrap();
    assert_eq!(code(label(&ps, "/l", Some(2), &["eleventh"])), "ParameterVersionLabelLimitExceeded");
    let r = ps
        .unlabel_parameter_version(LabelParameterVersionRequest {
            name: "/l".into(),
            parameter_version: Some(2),
            labels: vec!["prod".into(), "ok.-_".into()],
        })
        .unwrap();
    assert_eq!((r.removed_labels, r.invalid_labels), (vec!["prod".to_string()], vec!["ok.-_".to_string()]));
    assert_eq!(code(get(&ps, "/l:prod", false)), "ParameterVersionNotFound");
}

#[test]
fn get_parameters_by_path_history_describe_and_pages() {
    let e = env();
    let ctx = ctx_as(&e, ROOT);
    let ps = ParameterStore::new(&ctx, None);
    for n in ["/a/x", "/a/y", "/a/b/z", "/a/b/c/w", "/ab", "top"] {
        put(&ps, n, n, |_| {}).unwrap();
    }
    put(&ps, "/a/s", "secret", secure("SecureString")).unwrap();
    let r = ps
        .get_parameters(GetParametersRequest {
            names: vec!["/a/x".into(), "/a/x:1".into(), "/nope".into(), "/a/x:5".into()],
            with_decryption: None,
        })
        .unwrap();
    assert_eq!(r.parameters.len(), 2);
    assert_eq!(r.invalid_parameters, ["/nope", "/a/x:5"]);
    let eleven: Vec<String> = (0..11).map(|i| format!("/n{i}")).collect();
    let too_many = ps.get_parameters(GetParametersRequest { names: eleven, with_decryption: None });
    assert_eq!(code(too_many), "ValidationException");
    let by_path = |path: &str, recursive: bool, filters: Option<Vec<ParameterStringFilter>>| {
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let r = ps
                .get_parameters_by_path(GetParametersByPathRequest {
                    path: path.into(),
                    recursive: Some(recursive),
                    parameter_filters: filters.clone(),
                    max_results: Some(2),
                    next_token: token,
                    ..Default::default()
                })
                .unwrap();
            assert!(r.parameters.len() <= 2);
            names.extend(r.parameters.into_iter().map(|p| p.name));
            token = r.next_token;
            if token.is_none() {
                return names;
            }
        }
    };
    assert_eq!(by_path("/a", false, None), ["/a/s", "/a/x", "/a/y"]);
    assert_eq!(by_path("/a/", true, None), ["/a/b/c/w", "/a/b/z", "/a/s", "/a/x", "/a/y"]);
    assert_eq!(by_path("/", false, None), ["/ab"]);
    let f = |k: &str, v: &str| Some(vec![ParameterStringFilter { key: k.into(), option: None, values: Some(vec![v.into()]) }]);
    assert_eq!(by_path("/a", true, f("Type", "SecureString")), ["/a/s"]);
    assert_eq!(by_path("/a", true, f("KeyId", "alias/aws/ssm")), ["/a/s"]);
    label(&ps, "/a/y", None, &["blue"]).unwrap();
    assert_eq!(by_path("/a", true, f("Label", "blue")), ["/a/y"]);
    let bad = ps.get_parameters_by_path(GetParametersByPathRequest {
        path: "/a".into(),
        parameter_filters: f("Name", "x"),
        ..Default::default()
    });
    assert_eq!(code(bad), "InvalidFilterKey");
    let bad = ps.get_parameters_by_path(GetParametersByPathRequest {
        path: "/a".into(),
        next_token: Some("garbage".into()),
        ..Default::default()
    });
    assert_eq!(code(bad), "InvalidNextToken");
    let bad = ps.get_parameters_by_path(GetParametersByPathRequest { path: "/a".into(), max_results: Some(11), ..Default::default() });
    assert_eq!(code(bad), "ValidationException");
    describe_filters(&ps);
}

fn describe(ps: &ParameterStore, filters: Vec<ParameterStringFilter>) -> Result<Vec<String>, ParamError> {
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let r = ps.describe_parameters(DescribeParametersRequest {
            parameter_filters: Some(filters.clone()),
            max_results: Some(1),
            next_token: token,
            ..Default::default()
        })?;
        names.extend(r.parameters.into_iter().map(|p| p.name));
        token = r.next_token;
        if token.is_none() {
            return Ok(names);
        }
    }
}

fn describe_filters(ps: &ParameterStore) {
    let f = |k: &str, o: Option<&str>, v: &[&str]| ParameterStringFilter {
        key: k.into(),
        option: o.map(str::to_string),
        values: Some(v.iter().map(|s| s.to_string()).collect()),
    };
    assert_eq!(describe(ps, vec![f("Name", Some("BeginsWith"), &["/a/b"])]).unwrap(), ["/a/b/c/w", "/a/b/z"]);
    assert_eq!(describe(ps, vec![f("Name", None, &["top"])]).unwrap(), ["top"]);
    assert_eq!(describe(ps, vec![f("Name", Some("Contains"), &["b/z"])]).unwrap(), ["/a/b/z"]);
    assert_eq!(describe(ps, vec![f("Path", None, &["/a/b"])]).unwrap(), ["/a/b/z"]);
    assert_eq!(describe(ps, vec![f("Path", Some("Recursive"), &["/a/b"])]).unwrap(), ["/a/b/c/w", "/a/b/z"]);
    assert_eq!(describe(ps, vec![f("Type", None, &["SecureString"])]).unwrap(), ["/a/s"]);
    assert_eq!(describe(ps, vec![f("Tier", None, &["Advanced"])]).unwrap(), Vec::<String>::new());
    assert_eq!(describe(ps, vec![f("DataType", None, &["text"])]).unwrap().len(), 7);
    assert_eq!(describe(ps, vec![f("Label", None, &["blue"])]).unwrap(), ["/a/y"]);
    assert_eq!(describe(ps, vec![]).unwrap().len(), 7);
    assert_eq!(describe(ps, vec![f("Path", Some("Sideways"), &["/a"])]).unwrap_err().code(), "InvalidFilterOption");
    assert_eq!(describe(ps, vec![f("Colour", None, &["x"])]).unwrap_err().code(), "InvalidFilterKey");
    assert_eq!(describe(ps, vec![f("Type", None, &[])]).unwrap_err().code(), "InvalidFilterValue");
    // Tags: add, filter by tag, list, remove.
    let add = ps.add_tags_to_resource(AddTagsToResourceRequest {
        resource_type: "Parameter".into(),
        resource_id: "/a/x".into(),
        tags: vec![Tag { key: "env".into(), value: "prod".into() }],
    });
    add.unwrap();
    assert_eq!(describe(ps, vec![f("tag:env", None, &["prod"])]).unwrap(), ["/a/x"]);
    assert_eq!(describe(ps, vec![f("tag:env", None, &[])]).unwrap(), ["/a/x"]);
    let list = |id: &str, kind: &str| {
        ps.list_tags_for_resource(ListTagsForResourceRequest { resource_type: kind.into(), resource_id: id.into() })
    };
    assert_eq!(list("/a/x", "Parameter").unwrap().tag_list[0].value, "prod");
    assert_eq!(code(list("/a/x", "Document")), "InvalidResourceType");
    assert_eq!(code(list("/zz", "Parameter")), "InvalidResourceId");
    let many: Vec<Tag> = (0..51).map(|i| Tag { key: format!("k{i}"), value: "v".into() }).collect();
    let r = ps.add_tags_to_resource(AddTagsToResourceRequest { resource_type: "Parameter".into(), resource_id: "/a/x".into(), tags: many });
    assert_eq!(code(r), "TooManyTagsError");
    ps.remove_tags_from_resource(RemoveTagsFromResourceRequest {
        resource_type: "Parameter".into(),
        resource_id: "/a/x".into(),
        tag_keys: vec!["env".into()],
    })
    .unwrap();
    assert!(list("/a/x", "Parameter").unwrap().tag_list.is_empty());
    // Deletes.
    ps.delete_parameter(NameRequest { name: "top".into() }).unwrap();
    assert_eq!(code(ps.delete_parameter(NameRequest { name: "top".into() })), "ParameterNotFound");
    let r = ps.delete_parameters(DeleteParametersRequest { names: vec!["/a/x".into(), "/gone".into()] }).unwrap();
    assert_eq!((r.deleted_parameters, r.invalid_parameters), (vec!["/a/x".to_string()], vec!["/gone".to_string()]));
    assert_eq!(describe(ps, vec![]).unwrap().len(), 5);
}

#[test]
fn history_pages_through_every_version() {
    let e = env();
    let ctx = ctx_as(&e, ROOT);
    let ps = ParameterStore::new(&ctx, None);
    let ow = |r: &mut PutParameterRequest| r.overwrite = Some(true);
    for i in 1..=5 {
        put(&ps, "/h", &format!("v{i}"), ow).unwrap();
    }
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let r = ps
            .get_parameter_history(GetParameterHistoryRequest {
                name: "/h".into(),
                max_results: Some(2),
                next_token: token,
                ..Default::default()
            })
            .unwrap();
        seen.extend(r.parameters.iter().map(|p| (p.version, p.value.expose().to_string())));
        assert_eq!(r.parameters[0].last_modified_user, ROOT);
        token = r.next_token;
        if token.is_none() {
            break;
        }
    }
    let want: Vec<(u64, String)> = (1..=5).map(|i| (i, format!("v{i}"))).collect();
    assert_eq!(seen, want);
    let r = ps.get_parameter_history(GetParameterHistoryRequest { name: "/none".into(), ..Default::default() });
    assert_eq!(code(r), "ParameterNotFound");
}

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
    let wrong = root.decrypt(DecryptRequest { ciphertext_blob: blob, ..Default::default() });
    assert!(wrong.is_err());
    assert_eq!(get(&ps, "/db/pw", true).unwrap().value.expose(), "hunter2");
    let lines = e.audit_lines();
    let enc: Vec<_> = lines.iter().filter(|l| l.operation == "Encrypt").collect();
    assert_eq!(enc.len(), 1);
    assert_eq!(enc[0].principal, "ssm.amazonaws.com");
    assert_eq!(enc[0].on_behalf_of.as_deref(), Some(ROOT));
    assert_eq!(enc[0].encryption_context.as_ref().unwrap()["PARAMETER_ARN"], arn);
    let svc: Vec<_> = lines.iter().filter(|l| l.event_source.as_deref() == Some("ssm.amazonaws.com")).collect();
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
    let gdk = lines.iter().find(|l| l.operation == "GenerateDataKey").unwrap();
    assert_eq!(gdk.encryption_context.as_ref().unwrap()["PARAMETER_ARN"], ps.arn("/big"));
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
    for bad in [good[..good.len() - 3].to_vec(), [b"XXXXXXXX", &good[8..]].concat(), [&good[..], b"!"].concat()] {
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
    assert_eq!(get(&ps, "/s2", true).unwrap_err().code(), "InternalServerError");
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
    assert_eq!(get(&ps, "/x", true).unwrap_err().code(), "AccessDeniedException");
    let root = ctx_as(&e, ROOT);
    assert_eq!(get(&ParameterStore::new(&root, None), "/x", true).unwrap().value.expose(), "v");
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

fn policies(p: &str) -> impl FnOnce(&mut PutParameterRequest) + '_ {
    move |r| {
        r.tier = Some("Advanced".into());
        r.policies = Some(p.into());
    }
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
    let status: Vec<(&str, &str)> = h[0].policies.iter().map(|p| (p.policy_type.as_str(), p.policy_status.as_str())).collect();
    assert_eq!(status, [("Expiration", "Pending"), ("ExpirationNotification", "Finished"), ("NoChangeNotification", "Finished")]);
    e.clock.advance_days(2);
    // Lazily on access: /lazy is gone when read; the sweep deletes /temp.
    assert_eq!(code(get(&ps, "/lazy", false)), "ParameterNotFound");
    assert_eq!(ps.run_due_policies().unwrap().expired, ["/temp"]);
    assert_eq!(code(get(&ps, "/temp", false)), "ParameterNotFound");
    let kinds: Vec<String> = ps.events(None, None).unwrap().into_iter().map(|e| format!("{} {}", e.name, e.policy_type)).collect();
    assert_eq!(kinds, ["/temp NoChangeNotification", "/temp ExpirationNotification", "/lazy Expiration", "/temp Expiration"]);
    let since = ps.events(None, Some(e.clock_now() - 1000)).unwrap();
    assert_eq!(since.len(), 2);
    let ops: Vec<String> = e.audit_lines().into_iter().map(|l| l.operation).filter(|o| o.starts_with("ParameterPolicy")).collect();
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
    let p = |t: &str| format!(r#"[{{"Type":"{t}","Version":"1.0","Attributes":{{"Timestamp":"2030-01-01T00:00:00Z","After":"1","Before":"1","Unit":"Days"}}}}]"#);
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
    fn get_secret_for_ssm(&self, id: &str, version: Option<&str>, label: Option<&str>, _d: bool) -> Result<ReferencedSecret, ParamError> {
        if id != "db" {
            return Err(ParamError::NotFound(format!("Secret {id} not found")));
        }
        let previous = label == Some("AWSPREVIOUS") || version == Some("00000000-0000-0000-0000-000000000001");
        Ok(ReferencedSecret {
            name: "db".into(),
            arn: format!("arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:db-AbCdEf"),
            value: ParamValue::new(if previous { "old" } else { "new" }),
            version_id: if previous { "00000000-0000-0000-0000-000000000001" } else { "00000000-0000-0000-0000-000000000002" }.into(),
            stages: vec![if previous { "AWSPREVIOUS" } else { "AWSCURRENT" }.into()],
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
    assert_eq!((p.value.expose(), p.r#type.as_str(), p.version), ("new", "SecureString", 0));
    assert!(p.arn.contains(":secretsmanager:"));
    let src: serde_json::Value = serde_json::from_str(p.source_result.as_deref().unwrap()).unwrap();
    assert_eq!(src["VersionStages"][0], "AWSCURRENT");
    let old = get(&ps, &format!("{name}:AWSPREVIOUS"), true).unwrap();
    assert_eq!((old.value.expose(), old.selector.as_deref()), ("old", Some(":AWSPREVIOUS")));
    let by_id = get(&ps, &format!("{name}:00000000-0000-0000-0000-000000000001"), true).unwrap();
    assert_eq!(by_id.value.expose(), "old");
    assert_eq!(code(get(&ps, "/aws/reference/secretsmanager/other", true)), "ParameterNotFound");
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
                    put(&ps, "/race", &format!("{t}-{i}"), |r| r.overwrite = Some(true)).unwrap();
                }
            });
        }
    });
    let ps = ParameterStore::new(&ctx, None);
    let h = history(&ps, "/race", false);
    assert_eq!(h.len(), 51);
    assert!(h.iter().enumerate().all(|(i, v)| v.version == i as u64 + 1));
    let _ = SecretBytes::from_slice(b"");
}
