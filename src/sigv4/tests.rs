//! AWS's published SigV4 vectors, sign → verify round trips, and each refusal.

use super::*;

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// 2015-08-30T12:36:00Z, the time of AWS's test suite.
const SUITE_TIME: u64 = 1_440_938_160;
const GET_VANILLA: &str = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
const POST_VANILLA: &str = "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b";

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn secrets(id: &str) -> Option<SecretBytes> {
    match id {
        AKID => Some(SecretBytes::from_slice(SECRET.as_bytes())),
        "testing" => Some(SecretBytes::from_slice(b"testing")),
        _ => None,
    }
}

fn suite_headers(signature: &str) -> Vec<(String, String)> {
    h(&[
        ("host", "example.amazonaws.com"),
        ("x-amz-date", "20150830T123600Z"),
        (
            "authorization",
            &format!(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature={signature}"
            ),
        ),
    ])
}

fn req<'a>(method: &'a str, headers: &'a [(String, String)], body: &'a [u8]) -> Request<'a> {
    Request {
        method,
        path: "/",
        query: "",
        headers,
        body,
    }
}

#[test]
fn aws_vanilla_vectors_verify() {
    for (method, sig) in [("GET", GET_VANILLA), ("POST", POST_VANILLA)] {
        let headers = suite_headers(sig);
        let v = verify(
            &req(method, &headers, b""),
            "service",
            at(SUITE_TIME),
            secrets,
        )
        .unwrap();
        assert_eq!(
            v,
            Verified {
                access_key_id: AKID.into(),
                region: "us-east-1".into(),
                service: "service".into(),
                date: "20150830".into(),
            }
        );
    }
}

#[test]
fn aws_vanilla_vectors_sign() {
    for (method, sig) in [("GET", GET_VANILLA), ("POST", POST_VANILLA)] {
        let headers = h(&[("host", "example.amazonaws.com")]);
        let out = sign(
            &req(method, &headers, b""),
            "service",
            "us-east-1",
            AKID,
            SECRET,
            at(SUITE_TIME),
        );
        assert_eq!(out[0], ("x-amz-date".into(), "20150830T123600Z".into()));
        assert_eq!(out[1], suite_headers(sig)[2]);
    }
}

#[test]
fn canonical_request_is_awss() {
    let headers = h(&[
        ("host", "example.amazonaws.com"),
        ("my-header1", "  value1  "),
        ("my-header2", "\"a   b   c\""),
        ("my-header1", "value2"),
        ("x-amz-date", "20150830T123600Z"),
    ]);
    let r = Request {
        query: "Param2=value2&Param1=value%201&b=a+b&a",
        ..req("GET", &headers, b"")
    };
    let names = ["host", "my-header1", "my-header2", "x-amz-date"];
    // Parameters sort by byte (uppercase first); a literal `+` is not a space.
    let cr = canonical_request(&r, &names, "HASH").unwrap();
    assert_eq!(
        cr,
        "GET\n/\nParam1=value%201&Param2=value2&a=&b=a%2Bb\n\
         host:example.amazonaws.com\nmy-header1:value1,value2\nmy-header2:\"a b c\"\n\
         x-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\nHASH"
    );
    assert_eq!(canonical_uri(""), "/");
    assert_eq!(amz_date(at(0) - MAX_SKEW), "19700101T000000Z");
    assert_eq!(canonical_uri("/a b/%20"), "/a%20b/%2520");
    assert_eq!(percent_decode("%4g%41%"), b"%4gA%");
}

/// A request `sign` signed at `t`, with the `kms` JSON headers boto3 sends.
fn signed(akid: &str, secret: &str, t: SystemTime, body: &[u8]) -> Vec<(String, String)> {
    let mut headers = h(&[
        ("host", "127.0.0.1:5125"),
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", "TrentService.Encrypt"),
    ]);
    let add = sign(
        &req("POST", &headers, body),
        "kms",
        "eu-west-2",
        akid,
        secret,
        t,
    );
    headers.extend(add);
    headers
}

#[test]
fn sign_then_verify_round_trips() {
    let t = at(1_800_000_000);
    let body = br#"{"KeyId":"alias/x","Plaintext":"aGk="}"#;
    let headers = signed("testing", "testing", t, body);
    let v = verify(&req("POST", &headers, body), "kms", t, secrets).unwrap();
    assert_eq!(
        (v.access_key_id.as_str(), v.region.as_str()),
        ("testing", "eu-west-2")
    );
    assert_eq!(v.date, "20270115");
    // 15 minutes either way is still accepted.
    for skew in [t + MAX_SKEW, t - MAX_SKEW] {
        verify(&req("POST", &headers, body), "kms", skew, secrets).unwrap();
    }
    // A matching x-amz-content-sha256 is accepted.
    let mut with_hash = headers.clone();
    with_hash.push((
        "x-amz-content-sha256".into(),
        crypto::hex(&crypto::sha256(body)),
    ));
    verify(&req("POST", &with_hash, body), "kms", t, secrets).unwrap();
}

fn with(headers: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    let mut out = without(headers, name);
    out.push((name.into(), value.into()));
    out
}

fn without(headers: &[(String, String)], name: &str) -> Vec<(String, String)> {
    headers.iter().filter(|(n, _)| n != name).cloned().collect()
}

/// A request signed with `testing`/`testing` at a fixed time: (time, body, headers, its
/// Authorization value).
fn fixture() -> (SystemTime, &'static [u8], Vec<(String, String)>, String) {
    let t = at(1_800_000_000);
    let body: &[u8] = b"{}";
    let good = signed("testing", "testing", t, body);
    let auth = auth_of(&good);
    (t, body, good, auth)
}

fn auth_of(headers: &[(String, String)]) -> String {
    headers
        .iter()
        .find(|(n, _)| n == "authorization")
        .unwrap()
        .1
        .clone()
}

#[test]
fn each_refusal_gives_its_error() {
    let (t, body, good, auth) = fixture();
    let check = |headers: &[(String, String)], body: &[u8], now: SystemTime| {
        verify(&req("POST", headers, body), "kms", now, secrets).unwrap_err()
    };
    let no_auth = without(&good, "authorization");
    assert_eq!(
        check(&no_auth, body, t),
        AuthError::MissingAuthenticationToken
    );
    let e = check(&with(&good, "authorization", "Bearer abc"), body, t);
    assert!(
        matches!(e, AuthError::IncompleteSignature(ref m) if m.contains("algorithm")),
        "{e:?}"
    );
    let unknown = signed("AKIAUNKNOWN", "testing", t, body);
    assert_eq!(check(&unknown, body, t), AuthError::UnrecognizedClient);
    let wrong_secret = signed("testing", "not-testing", t, body);
    assert_eq!(check(&wrong_secret, body, t), AuthError::InvalidSignature);
    assert_eq!(check(&good, b"{ }", t), AuthError::InvalidSignature);
    let tampered = with(&good, "x-amz-target", "TrentService.Decrypt");
    assert_eq!(check(&tampered, body, t), AuthError::InvalidSignature);
    let bad_hash = with(&good, "x-amz-content-sha256", &"0".repeat(64));
    assert_eq!(check(&bad_hash, body, t), AuthError::InvalidSignature);
    let late = t + MAX_SKEW + Duration::from_secs(1);
    let e = check(&good, body, late);
    assert!(
        matches!(e, AuthError::RequestExpired(ref m) if m.starts_with("Signature expired: 20270115T080000Z is now earlier than 20270115T080001Z")),
        "{e:?}"
    );
    let e = check(&good, body, t - MAX_SKEW - Duration::from_secs(1));
    assert!(
        matches!(e, AuthError::RequestExpired(ref m) if m.contains("not yet current")),
        "{e:?}"
    );
    let e = check(
        &with(
            &good,
            "authorization",
            &auth.replace("/20270115/", "/20270116/"),
        ),
        body,
        t,
    );
    assert!(
        matches!(e, AuthError::IncompleteSignature(ref m) if m.contains("'20270116' != '20270115'")),
        "{e:?}"
    );
    let e = check(
        &with(&good, "authorization", &auth.replace("/kms/", "/s3/")),
        body,
        t,
    );
    assert_eq!(
        e,
        AuthError::SignatureDoesNotMatchService(
            "Credential should be scoped to correct service: 'kms'. ".into()
        )
    );
    assert_eq!(e.code(), "InvalidSignatureException");
}

#[test]
fn date_and_signed_header_rules() {
    let (t, body, good, auth) = fixture();
    let check = |headers: &[(String, String)]| {
        verify(&req("POST", headers, body), "kms", t, secrets).unwrap_err()
    };
    let no_date = without(&good, "x-amz-date");
    assert!(
        matches!(check(&no_date), AuthError::IncompleteSignature(m) if m.contains("X-Amz-Date"))
    );
    for bad in [
        "2027-01-15T08:00:00Z",
        "20270115T080000",
        "20271315T080000Z",
        "20270115t080000Z",
    ] {
        let e = check(&with(&good, "x-amz-date", bad));
        assert!(
            matches!(e, AuthError::IncompleteSignature(ref m) if m.contains("ISO-8601")),
            "{bad}: {e:?}"
        );
    }
    let mut twice = good.clone();
    twice.push(("x-amz-date".into(), "20270115T080000Z".into()));
    assert!(
        matches!(check(&twice), AuthError::IncompleteSignature(m) if m.contains("more than once"))
    );
    let names = auth
        .split("SignedHeaders=")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap();
    for (less, missing) in [
        (names.replace("host;", ""), "host"),
        (names.replace(";x-amz-date", ""), "x-amz-date"),
    ] {
        let e = check(&with(&good, "authorization", &auth.replace(names, &less)));
        assert!(
            matches!(e, AuthError::IncompleteSignature(ref m) if m.contains(missing)),
            "{e:?}"
        );
    }
    let absent = names.replace("host;", "host;x-absent;");
    let e = check(&with(&good, "authorization", &auth.replace(names, &absent)));
    assert!(
        matches!(e, AuthError::IncompleteSignature(ref m) if m.contains("not in the request")),
        "{e:?}"
    );
}

#[test]
fn authorization_parser_is_strict() {
    let sig = "a".repeat(64);
    let ok = format!(
        "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature={sig}"
    );
    let a = parse_authorization(&ok).unwrap();
    assert_eq!(
        (a.access_key_id, a.date, a.region, a.service),
        ("AKID", "20150830", "us-east-1", "kms")
    );
    assert_eq!(a.signed_headers, ["host", "x-amz-date"]);
    assert_eq!(a.to_header(), ok);
    // No spaces after the commas is accepted too.
    assert_eq!(parse_authorization(&ok.replace(", ", ",")).unwrap(), a);
    let bad = [
        ok.replace("AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA512 "),
        ok.replace("AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA256"),
        ok.replace(", Signature", ", Signature=x, Signature"),
        ok.replace(", Signature", ", Extra=1, Signature"),
        ok.replace(", SignedHeaders=host;x-amz-date", ""),
        ok.replace("Credential=", "Credential"),
        ok.replace("AKID/", "AK ID/"),
        ok.replace("AKID/", "../"),
        ok.replace("AKID/", "/"),
        ok.replace("/20150830/", "/2015083/"),
        ok.replace("/us-east-1/", "/us_east 1/"),
        ok.replace("/kms/", "//"),
        ok.replace("aws4_request", "aws4_requests"),
        ok.replace("aws4_request", "aws4_request/x"),
        ok.replace("host;x-amz-date", "x-amz-date;host"),
        ok.replace("host;x-amz-date", "host;host;x-amz-date"),
        ok.replace("host;x-amz-date", "Host;x-amz-date"),
        ok.replace("host;x-amz-date", "host;;x-amz-date"),
        ok.replace(&sig, &"A".repeat(64)),
        ok.replace(&sig, &"a".repeat(63)),
        ok.replace(&sig, &"g".repeat(64)),
        format!("{ok}, "),
        String::new(),
    ];
    for b in &bad {
        let e = parse_authorization(b).unwrap_err();
        assert!(matches!(e, AuthError::IncompleteSignature(_)), "{b}: {e:?}");
    }
    let e = parse_authorization(
        &ok.replace(", SignedHeaders=host;x-amz-date", "")
            .replace(", Signature=", ", X="),
    )
    .unwrap_err();
    assert!(e.to_string().contains("Unknown"), "{e}");
    let e =
        parse_authorization("AWS4-HMAC-SHA256 Credential=a/20150830/r/s/aws4_request").unwrap_err();
    assert_eq!(
        e.message(),
        "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter."
    );
}

#[test]
fn codes_statuses_and_messages_are_awss() {
    let cases = [
        (
            AuthError::MissingAuthenticationToken,
            "MissingAuthenticationTokenException",
            403,
            "Missing Authentication Token",
        ),
        (
            AuthError::IncompleteSignature("why".into()),
            "IncompleteSignatureException",
            400,
            "why",
        ),
        (
            AuthError::UnrecognizedClient,
            "UnrecognizedClientException",
            400,
            "The security token included in the request is invalid.",
        ),
        (
            AuthError::InvalidSignature,
            "InvalidSignatureException",
            400,
            INVALID_SIGNATURE,
        ),
        (
            AuthError::RequestExpired("late".into()),
            "InvalidSignatureException",
            400,
            "late",
        ),
    ];
    for (e, code, status, msg) in cases {
        assert_eq!(
            (e.code(), e.http_status(), e.message()),
            (code, status, msg.to_string())
        );
        assert_eq!(e.to_string(), format!("{code}: {msg}"));
    }
}

#[test]
fn signing_keys_are_cached_per_secret_and_scope() {
    let scope = ("20150830", "us-east-1", "iam");
    let key = signing_key(b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", scope);
    // AWS's example signing key (Signature Version 4, "derive a signing key").
    assert_eq!(
        crypto::hex(&key[..]),
        "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
    );
    let again = signing_key(b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", scope);
    assert_eq!(key, again);
    // A new day, region, service or secret: a new key, the one derived afresh.
    for (secret, scope) in [
        (
            &b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"[..],
            ("20150831", "us-east-1", "iam"),
        ),
        (
            &b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"[..],
            ("20150830", "eu-west-1", "iam"),
        ),
        (
            &b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"[..],
            ("20150830", "us-east-1", "kms"),
        ),
        (&b"another secret"[..], scope),
    ] {
        let k = signing_key(secret, scope);
        assert_ne!(k, key, "{scope:?}");
        assert_eq!(k, derive_signing_key(secret, scope), "{scope:?}");
    }
    for day in 10..30 {
        signing_key(b"s", (&format!("201501{day}"), "r", "s"));
    }
    SIGNING_KEYS.with(|c| assert_eq!(c.borrow().len(), SIGNING_KEYS_PER_THREAD));
}

#[test]
fn a_cached_signing_key_does_not_outlive_its_secret() {
    let t = at(1_440_938_160);
    let body = b"{}";
    let headers = signed("AKID", "secret-one", t, body);
    let one = |_: &str| Some(SecretBytes::from_slice(b"secret-one"));
    let two = |_: &str| Some(SecretBytes::from_slice(b"secret-two"));
    let r = req("POST", &headers, body);
    assert!(verify(&r, "kms", t, one).is_ok());
    assert!(verify(&r, "kms", t, one).is_ok());
    assert_eq!(verify(&r, "kms", t, two), Err(AuthError::InvalidSignature));
    // The next day's request, signed with the same secret, verifies with its own key.
    let next = t + Duration::from_secs(86_400);
    let headers = signed("AKID", "secret-one", next, body);
    let r = req("POST", &headers, body);
    assert!(verify(&r, "kms", next, one).is_ok());
    assert_eq!(
        verify(&r, "kms", next, two),
        Err(AuthError::InvalidSignature)
    );
}
