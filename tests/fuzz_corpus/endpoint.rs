//! The seeds of the `endpoint_request` fuzz target: requests as text (`fuzz/README.md`),
//! signed in the request or by the target, for every operation, and refusals of each kind.

use kmsfs::fuzzing;

/// A request body for every operation the endpoint serves, on the fuzz home's keys (by
/// placeholder, `fuzzing::ENDPOINT_PLACEHOLDERS`, in the inputs the target signs; by alias
/// in the others, which only some operations take).
fn operation_body(op: &str) -> &'static str {
    match op {
        "CreateKey" => r#"{"Description":"fuzz","Tags":[{"TagKey":"k","TagValue":"v"}]}"#,
        "ListKeys" | "ListAliases" => r#"{"Limit":2}"#,
        "ListKeyRotations" | "ListResourceTags" => r#"{"KeyId":"@KEY@","Limit":5}"#,
        "CreateAlias" => r#"{"AliasName":"alias/f2","TargetKeyId":"@KEY@"}"#,
        "UpdateAlias" => r#"{"AliasName":"alias/fuzz","TargetKeyId":"@KEY@"}"#,
        "DeleteAlias" => r#"{"AliasName":"alias/f2"}"#,
        "Encrypt" => {
            r#"{"KeyId":"alias/fuzz","Plaintext":"aGVsbG8=","EncryptionContext":{"a":"b"}}"#
        }
        "Decrypt" => r#"{"CiphertextBlob":"@BLOB@","EncryptionContext":{"a":"b"}}"#,
        "ReEncrypt" => {
            r#"{"CiphertextBlob":"@BLOB@","SourceEncryptionContext":{"a":"b"},"DestinationKeyId":"alias/fuzz"}"#
        }
        "GenerateDataKey" | "GenerateDataKeyWithoutPlaintext" => {
            r#"{"KeyId":"alias/fuzz","KeySpec":"AES_256"}"#
        }
        "GenerateRandom" => r#"{"NumberOfBytes":32}"#,
        "ScheduleKeyDeletion" => r#"{"KeyId":"@DISABLED@","PendingWindowInDays":7}"#,
        // State changes on the disabled key, so that the enabled one stays usable.
        "EnableKey" | "DisableKey" | "CancelKeyDeletion" => r#"{"KeyId":"@DISABLED@"}"#,
        "EnableKeyRotation" => r#"{"KeyId":"@KEY@","RotationPeriodInDays":90}"#,
        "TagResource" => r#"{"KeyId":"@KEY@","Tags":[{"TagKey":"t","TagValue":"u"}]}"#,
        "UntagResource" => r#"{"KeyId":"@KEY@","TagKeys":["t"]}"#,
        "UpdateKeyDescription" => r#"{"KeyId":"@KEY@","Description":"d"}"#,
        "GetKeyPolicy" => r#"{"KeyId":"@KEY@","PolicyName":"default"}"#,
        "Sign" => {
            r#"{"KeyId":"alias/fuzz-sign","Message":"aGVsbG8=","SigningAlgorithm":"ECDSA_SHA_256"}"#
        }
        "Verify" => {
            r#"{"KeyId":"alias/fuzz-sign","Message":"aGVsbG8=","Signature":"MEQCIA==","SigningAlgorithm":"ECDSA_SHA_256"}"#
        }
        "GetPublicKey" => r#"{"KeyId":"alias/fuzz-sign"}"#,
        "GenerateMac" => {
            r#"{"KeyId":"alias/fuzz-mac","Message":"aGVsbG8=","MacAlgorithm":"HMAC_SHA_256"}"#
        }
        "VerifyMac" => {
            r#"{"KeyId":"alias/fuzz-mac","Message":"aGVsbG8=","Mac":"AAAA","MacAlgorithm":"HMAC_SHA_256"}"#
        }
        "DeriveSharedSecret" => {
            r#"{"KeyId":"alias/fuzz-ecdh","KeyAgreementAlgorithm":"ECDH","PublicKey":"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEx4YjhQUNxI1gkSlJpjbmzGw0WiYOp9YPft1mt992z3ePHJpPFBEcWugjyGWMLS76pNj73q1PsocT0vIPlSzmpQ=="}"#
        }
        "GenerateDataKeyPair" | "GenerateDataKeyPairWithoutPlaintext" => {
            r#"{"KeyId":"alias/fuzz","KeyPairSpec":"ECC_NIST_P256","EncryptionContext":{"a":"b"}}"#
        }
        _ => r#"{"KeyId":"@KEY@"}"#,
    }
}

/// A request as the endpoint target reads it; signed (as the target checks signatures)
/// with `sign` = (access key id, region, seconds after the target's time) unless `None`.
fn endpoint_seed(
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    sign: Option<(&str, &str, u64)>,
) -> Vec<u8> {
    use kmsfs::server::sigv4;
    let mut hs: Vec<(String, String)> = vec![
        ("host".into(), "127.0.0.1:4599".into()),
        ("content-type".into(), "application/x-amz-json-1.1".into()),
        ("x-amz-target".into(), target.into()),
        (
            "user-agent".into(),
            "Boto3/1.35.0 md/Botocore#1.35.0 kmsfs-fuzz/1".into(),
        ),
    ];
    hs.extend(headers.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    if let Some((akid, region, later)) = sign {
        let req = sigv4::Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &hs,
            body,
        };
        let now = std::time::UNIX_EPOCH
            + std::time::Duration::from_secs(fuzzing::SIGV4_TIME_SECS + later);
        let added = sigv4::sign(&req, "kms", region, akid, fuzzing::SIGV4_SECRET, now);
        hs.extend(added);
    }
    let mut out = b"POST / HTTP/1.1\r\n".to_vec();
    for (n, v) in &hs {
        out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// Endpoint requests: every operation signed in the request and signed by the target (`!`),
/// unsigned, and refusals of each kind (bad JSON, wrong types, unknown target, content type,
/// method, expired, wrong region, the reset route, a hostile user agent).
pub fn seeds() -> Vec<Vec<u8>> {
    let signed = Some(("AKIDEXAMPLE", "us-east-1", 0));
    let by_target = |body: Vec<u8>| [&[fuzzing::ENDPOINT_SIGN][..], &body].concat();
    let mut out = Vec::new();
    for op in kmsfs::server::OPERATIONS {
        let target = format!("TrentService.{op}");
        let body = operation_body(op);
        let by_alias = body
            .replace("@KEY@", "alias/fuzz")
            .replace("@DISABLED@", "alias/fuzz-disabled");
        out.push(endpoint_seed(&target, &[], by_alias.as_bytes(), signed));
        out.push(by_target(endpoint_seed(
            &target,
            &[],
            body.as_bytes(),
            None,
        )));
    }
    let list = "TrentService.ListKeys";
    out.push(endpoint_seed(list, &[], b"{}", None)); // unsigned
    out.push(endpoint_seed(list, &[], b"", signed)); // an empty body is {}
    for bad in [
        &b"{\"KeyId\": "[..],
        b"{\"Limit\": \"ten\"}",
        b"[1,2,3]",
        b"{\"KeyId\":\"alias/fuzz\",\"Plaintext\":\"not base64!\"}",
        b"{\"KeyId\":\"alias/fuzz\",\"Plaintext\":\"\"}",
        b"{\"KeyId\":\"alias/fuzz-disabled\",\"Plaintext\":\"aGk=\"}",
        b"\xff\xfe{}",
    ] {
        out.push(by_target(endpoint_seed(
            "TrentService.Encrypt",
            &[],
            bad,
            None,
        )));
    }
    out.push(endpoint_seed("TrentService.Frobnicate", &[], b"{}", signed));
    out.push(endpoint_seed("KMS.ListKeys", &[], b"{}", signed));
    out.push(by_target(endpoint_seed(
        list,
        &[("content-type", "text/plain")],
        b"{}",
        None,
    )));
    out.push(endpoint_seed(
        list,
        &[],
        b"{}",
        Some(("AKIDEXAMPLE", "us-east-1", 3600)),
    ));
    out.push(endpoint_seed(
        list,
        &[],
        b"{}",
        Some(("AKIDEXAMPLE", "eu-west-1", 0)),
    ));
    let hostile = format!("a\"b\\c\t{{}}\u{7f}{}", "x".repeat(2000));
    out.push(by_target(endpoint_seed(
        list,
        &[("user-agent", &hostile)],
        b"{}",
        None,
    )));
    out.push(b"POST /moto-api/reset HTTP/1.1\r\nhost: x\r\n\r\n".to_vec());
    out.push(b"GET /?Action=ListKeys HTTP/1.1\r\nhost: x\r\n\r\n".to_vec());
    out.push(by_target(b"GET / HTTP/1.1\nhost: x\n\n".to_vec()));
    let good = endpoint_seed(list, &[], b"{\"Limit\":1}", signed);
    out.extend(super::damaged(&good));
    out
}
