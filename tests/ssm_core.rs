//! Parameter Store through its Rust API (`kmsfs::secrets::params`), on an embedded KMS in
//! a fresh home with a manual clock: the rules of names, tiers and sizes, overwrite, the
//! version cap, labels, selectors, paths and filters, pagination and history. Encryption,
//! access control, policies and references: `ssm_secure.rs`.

mod common;
#[path = "ssm/helpers.rs"]
mod helpers;

use common::kms::{ACCOUNT, env};
use helpers::*;
use kmsfs::secrets::params::*;

#[test]
fn put_get_overwrite_and_selectors() {
    let e = env();
    let ctx = ctx_as(&e, ROOT);
    let ps = ParameterStore::new(&ctx, None);
    let r = put(&ps, "/app/db/host", "one", |_| {}).unwrap();
    assert_eq!((r.version, r.tier.as_str()), (1, "Standard"));
    assert_eq!(
        code(put(&ps, "/app/db/host", "two", |_| {})),
        "ParameterAlreadyExists"
    );
    let r = put(&ps, "/app/db/host", "two", |r| r.overwrite = Some(true)).unwrap();
    assert_eq!(r.version, 2);
    let p = get(&ps, "/app/db/host", false).unwrap();
    assert_eq!(
        (p.value.expose(), p.version, p.r#type.as_str()),
        ("two", 2, "String")
    );
    assert_eq!(
        p.arn,
        format!("arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/app/db/host")
    );
    assert_eq!(p.data_type, "text");
    assert_eq!(p.last_modified_date, 1_800_000_000.0);
    let p1 = get(&ps, "/app/db/host:1", false).unwrap();
    assert_eq!(
        (p1.value.expose(), p1.selector.as_deref()),
        ("one", Some(":1"))
    );
    assert_eq!(
        code(get(&ps, "/app/db/host:9", false)),
        "ParameterVersionNotFound"
    );
    assert_eq!(code(get(&ps, "/nope", false)), "ParameterNotFound");
    // By ARN, and a name without hierarchy.
    let by_arn = get(&ps, &p.arn, false).unwrap();
    assert_eq!(by_arn.name, "/app/db/host");
    put(&ps, "plain", "v", |_| {}).unwrap();
    assert_eq!(
        get(&ps, "plain", false).unwrap().arn,
        format!("arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/plain")
    );
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
        r.tags = Some(vec![Tag {
            key: "k".into(),
            value: "v".into(),
        }]);
    };
    assert_eq!(code(put(&ps, "/t", "x", tags)), "ValidationException");
    assert_eq!(code(put(&ps, "/e", "", |_| {})), "ValidationException");
    assert_eq!(
        code(put(&ps, "/e", "x", secure("Bogus"))),
        "ValidationException"
    );
    assert_eq!(
        code(put(&ps, "/e", "x", |r| r.key_id = Some("alias/x".into()))),
        "ValidationException"
    );
}

#[test]
fn names_follow_aws_rules() {
    let e = env();
    let ctx = ctx_as(&e, ROOT);
    let ps = ParameterStore::new(&ctx, None);
    let deep: String = (0..15).map(|i| format!("/l{i}")).collect();
    put(&ps, &deep, "ok", |_| {}).unwrap();
    let cases = [
        (
            format!("{deep}/l15"),
            "HierarchyLevelLimitExceededException",
        ),
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
    assert_eq!(
        code(put(&ps, "/s2", &"x".repeat(4097), |_| {})),
        "ValidationException"
    );
    let adv = |r: &mut PutParameterRequest| r.tier = Some("Advanced".into());
    assert_eq!(
        put(&ps, "/a", &"x".repeat(8192), adv).unwrap().tier,
        "Advanced"
    );
    assert_eq!(
        code(put(&ps, "/a2", &"x".repeat(8193), adv)),
        "ValidationException"
    );
    let it = |r: &mut PutParameterRequest| r.tier = Some("Intelligent-Tiering".into());
    assert_eq!(put(&ps, "/i1", "small", it).unwrap().tier, "Standard");
    assert_eq!(
        put(&ps, "/i2", &"x".repeat(5000), it).unwrap().tier,
        "Advanced"
    );
    // Advanced never goes back to Standard; without --tier it stays Advanced.
    let down = |r: &mut PutParameterRequest| {
        r.overwrite = Some(true);
        r.tier = Some("Standard".into());
    };
    assert_eq!(code(put(&ps, "/a", "y", down)), "ValidationException");
    let r = put(&ps, "/a", "y", |r| r.overwrite = Some(true)).unwrap();
    assert_eq!(r.tier, "Advanced");
    // Allowed patterns: the whole value must match; a bad regex is refused.
    let pat =
        |p: &'static str| move |r: &mut PutParameterRequest| r.allowed_pattern = Some(p.into());
    put(&ps, "/p", "1234", pat(r"\d+")).unwrap();
    assert_eq!(
        code(put(&ps, "/p2", "12a", pat(r"\d+"))),
        "ParameterPatternMismatchException"
    );
    assert_eq!(
        code(put(&ps, "/p3", "1", pat("("))),
        "InvalidAllowedPatternException"
    );
    // The pattern stays with the parameter on overwrite.
    let ow = |r: &mut PutParameterRequest| r.overwrite = Some(true);
    assert_eq!(
        code(put(&ps, "/p", "abc", ow)),
        "ParameterPatternMismatchException"
    );
    // Data types.
    let dt = |d: &'static str| move |r: &mut PutParameterRequest| r.data_type = Some(d.into());
    put(&ps, "/ami", "ami-0123456789abcdef0", dt("aws:ec2:image")).unwrap();
    assert_eq!(get(&ps, "/ami", false).unwrap().data_type, "aws:ec2:image");
    assert_eq!(
        code(put(&ps, "/ami2", "ami-xyz", dt("aws:ec2:image"))),
        "ValidationException"
    );
    assert_eq!(
        code(put(&ps, "/ami3", "x", dt("Text"))),
        "ValidationException"
    );
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
    assert_eq!(
        code(put(&ps, "/v", "v102", ow)),
        "ParameterMaxVersionLimitExceeded"
    );
    assert_eq!(get(&ps, "/v", false).unwrap().version, 101);
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
    assert_eq!(
        label(&ps, "/l", None, &["prod"]).unwrap().parameter_version,
        2
    );
    let p = get(&ps, "/l:prod", false).unwrap();
    assert_eq!(
        (p.value.expose(), p.selector.as_deref()),
        ("two", Some(":prod"))
    );
    let h = history(&ps, "/l", false);
    assert_eq!(h[0].labels, ["ok.-_"]);
    assert_eq!(h[1].labels, ["prod"]);
    assert_eq!(
        code(label(&ps, "/l", Some(7), &["x"])),
        "ParameterVersionNotFound"
    );
    assert_eq!(code(label(&ps, "/nope", None, &["x"])), "ParameterNotFound");
    let many: Vec<String> = (0..9).map(|i| format!("l{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    label(&ps, "/l", Some(2), &many).unwrap();
    assert_eq!(
        code(label(&ps, "/l", Some(2), &["eleventh"])),
        "ParameterVersionLabelLimitExceeded"
    );
    let r = ps
        .unlabel_parameter_version(LabelParameterVersionRequest {
            name: "/l".into(),
            parameter_version: Some(2),
            labels: vec!["prod".into(), "ok.-_".into()],
        })
        .unwrap();
    assert_eq!(
        (r.removed_labels, r.invalid_labels),
        (vec!["prod".to_string()], vec!["ok.-_".to_string()])
    );
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
            names: vec![
                "/a/x".into(),
                "/a/x:1".into(),
                "/nope".into(),
                "/a/x:5".into(),
            ],
            with_decryption: None,
        })
        .unwrap();
    assert_eq!(r.parameters.len(), 2);
    assert_eq!(r.invalid_parameters, ["/nope", "/a/x:5"]);
    let eleven: Vec<String> = (0..11).map(|i| format!("/n{i}")).collect();
    let too_many = ps.get_parameters(GetParametersRequest {
        names: eleven,
        with_decryption: None,
    });
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
    assert_eq!(
        by_path("/a/", true, None),
        ["/a/b/c/w", "/a/b/z", "/a/s", "/a/x", "/a/y"]
    );
    assert_eq!(by_path("/", false, None), ["/ab"]);
    let f = |k: &str, v: &str| {
        Some(vec![ParameterStringFilter {
            key: k.into(),
            option: None,
            values: Some(vec![v.into()]),
        }])
    };
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
    let bad = ps.get_parameters_by_path(GetParametersByPathRequest {
        path: "/a".into(),
        max_results: Some(11),
        ..Default::default()
    });
    assert_eq!(code(bad), "ValidationException");
    describe_filters(&ps);
}

fn describe_filters(ps: &ParameterStore) {
    let f = |k: &str, o: Option<&str>, v: &[&str]| ParameterStringFilter {
        key: k.into(),
        option: o.map(str::to_string),
        values: Some(v.iter().map(|s| s.to_string()).collect()),
    };
    assert_eq!(
        describe(ps, vec![f("Name", Some("BeginsWith"), &["/a/b"])]).unwrap(),
        ["/a/b/c/w", "/a/b/z"]
    );
    assert_eq!(
        describe(ps, vec![f("Name", None, &["top"])]).unwrap(),
        ["top"]
    );
    assert_eq!(
        describe(ps, vec![f("Name", Some("Contains"), &["b/z"])]).unwrap(),
        ["/a/b/z"]
    );
    assert_eq!(
        describe(ps, vec![f("Path", None, &["/a/b"])]).unwrap(),
        ["/a/b/z"]
    );
    assert_eq!(
        describe(ps, vec![f("Path", Some("Recursive"), &["/a/b"])]).unwrap(),
        ["/a/b/c/w", "/a/b/z"]
    );
    assert_eq!(
        describe(ps, vec![f("Type", None, &["SecureString"])]).unwrap(),
        ["/a/s"]
    );
    assert_eq!(
        describe(ps, vec![f("Tier", None, &["Advanced"])]).unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        describe(ps, vec![f("DataType", None, &["text"])])
            .unwrap()
            .len(),
        7
    );
    assert_eq!(
        describe(ps, vec![f("Label", None, &["blue"])]).unwrap(),
        ["/a/y"]
    );
    assert_eq!(describe(ps, vec![]).unwrap().len(), 7);
    assert_eq!(
        describe(ps, vec![f("Path", Some("Sideways"), &["/a"])])
            .unwrap_err()
            .code(),
        "InvalidFilterOption"
    );
    assert_eq!(
        describe(ps, vec![f("Colour", None, &["x"])])
            .unwrap_err()
            .code(),
        "InvalidFilterKey"
    );
    assert_eq!(
        describe(ps, vec![f("Type", None, &[])]).unwrap_err().code(),
        "InvalidFilterValue"
    );
    // Tags: add, filter by tag, list, remove.
    let add = ps.add_tags_to_resource(AddTagsToResourceRequest {
        resource_type: "Parameter".into(),
        resource_id: "/a/x".into(),
        tags: vec![Tag {
            key: "env".into(),
            value: "prod".into(),
        }],
    });
    add.unwrap();
    assert_eq!(
        describe(ps, vec![f("tag:env", None, &["prod"])]).unwrap(),
        ["/a/x"]
    );
    assert_eq!(
        describe(ps, vec![f("tag:env", None, &[])]).unwrap(),
        ["/a/x"]
    );
    let list = |id: &str, kind: &str| {
        ps.list_tags_for_resource(ListTagsForResourceRequest {
            resource_type: kind.into(),
            resource_id: id.into(),
        })
    };
    assert_eq!(list("/a/x", "Parameter").unwrap().tag_list[0].value, "prod");
    assert_eq!(code(list("/a/x", "Document")), "InvalidResourceType");
    assert_eq!(code(list("/zz", "Parameter")), "InvalidResourceId");
    let many: Vec<Tag> = (0..51)
        .map(|i| Tag {
            key: format!("k{i}"),
            value: "v".into(),
        })
        .collect();
    let r = ps.add_tags_to_resource(AddTagsToResourceRequest {
        resource_type: "Parameter".into(),
        resource_id: "/a/x".into(),
        tags: many,
    });
    assert_eq!(code(r), "TooManyTagsError");
    ps.remove_tags_from_resource(RemoveTagsFromResourceRequest {
        resource_type: "Parameter".into(),
        resource_id: "/a/x".into(),
        tag_keys: vec!["env".into()],
    })
    .unwrap();
    assert!(list("/a/x", "Parameter").unwrap().tag_list.is_empty());
    // Deletes.
    ps.delete_parameter(NameRequest { name: "top".into() })
        .unwrap();
    assert_eq!(
        code(ps.delete_parameter(NameRequest { name: "top".into() })),
        "ParameterNotFound"
    );
    let r = ps
        .delete_parameters(DeleteParametersRequest {
            names: vec!["/a/x".into(), "/gone".into()],
        })
        .unwrap();
    assert_eq!(
        (r.deleted_parameters, r.invalid_parameters),
        (vec!["/a/x".to_string()], vec!["/gone".to_string()])
    );
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
        seen.extend(
            r.parameters
                .iter()
                .map(|p| (p.version, p.value.expose().to_string())),
        );
        assert_eq!(r.parameters[0].last_modified_user, ROOT);
        token = r.next_token;
        if token.is_none() {
            break;
        }
    }
    let want: Vec<(u64, String)> = (1..=5).map(|i| (i, format!("v{i}"))).collect();
    assert_eq!(seen, want);
    let r = ps.get_parameter_history(GetParameterHistoryRequest {
        name: "/none".into(),
        ..Default::default()
    });
    assert_eq!(code(r), "ParameterNotFound");
}
