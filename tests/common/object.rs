//! Object-service helpers for the tests that drive it through its Rust API: services over
//! a test KMS, GETs, PUT options per SSE mode, KMS call counts from the audit trail.

use super::kms::{Env, env};
use kmsfs::kms::Embedded;
use kmsfs::object::{
    ObjectError, ObjectOptions, ObjectService, PutOptions, S3_PRINCIPAL, Sse, SseCustomerKey,
};
use std::sync::Arc;

pub const SEG: usize = 64 * 1024;

pub fn svc(e: &Env) -> ObjectService {
    svc_with(e, ObjectOptions::default())
}

/// A fresh KMS and object service with the bucket `bucket`.
pub fn setup(bucket: &str) -> (Env, ObjectService) {
    let e = env();
    let s = svc(&e);
    s.create_bucket(bucket).unwrap();
    (e, s)
}

pub fn svc_with(e: &Env, o: ObjectOptions) -> ObjectService {
    ObjectService::with_options(
        &e.home,
        Arc::new(Embedded::new(e.kms.clone(), S3_PRINCIPAL)),
        o,
    )
}

pub fn get(s: &ObjectService, b: &str, k: &str, sse_c: Option<&SseCustomerKey>) -> Vec<u8> {
    let mut out = Vec::new();
    s.get_object(b, k, None, sse_c, &mut out)
        .unwrap_or_else(|e| panic!("get {b}/{k}: {e}"));
    out
}

pub fn get_err(
    s: &ObjectService,
    b: &str,
    k: &str,
    sse_c: Option<&SseCustomerKey>,
) -> (ObjectError, Vec<u8>) {
    let mut out = Vec::new();
    let e = s
        .get_object(b, k, None, sse_c, &mut out)
        .expect_err("the GET should fail");
    (e, out)
}

pub fn kms_opts(key: &str, bucket_key: Option<bool>) -> PutOptions {
    PutOptions {
        sse: Some(Sse::Kms),
        kms_key_id: Some(key.into()),
        bucket_key_enabled: bucket_key,
        ..Default::default()
    }
}

pub fn customer(n: u8) -> SseCustomerKey {
    SseCustomerKey::from_bytes(&[n; 32]).unwrap()
}

/// PUT options for SSE-C under `customer(n)`.
pub fn sse_c_opts(n: u8) -> PutOptions {
    PutOptions {
        sse_c: Some(customer(n)),
        ..Default::default()
    }
}

/// PUT options for SSE-S3.
pub fn sse_s3_opts() -> PutOptions {
    PutOptions {
        sse: Some(Sse::Aes256),
        ..Default::default()
    }
}

/// The modes of the tampering tests: SSE-KMS under `key` with and without a bucket key, and
/// SSE-C under `customer(n)`. (name, PUT options, the SSE-C key a GET needs.)
pub fn wrapped_key_modes(
    key: &str,
    n: u8,
) -> [(&'static str, PutOptions, Option<SseCustomerKey>); 3] {
    [
        ("kms", kms_opts(key, None), None),
        ("bk", kms_opts(key, Some(true)), None),
        ("ssec", sse_c_opts(n), Some(customer(n))),
    ]
}

/// GenerateDataKey / Decrypt calls the S3 principal made.
pub fn count(e: &Env, op: &str) -> usize {
    e.audit_lines()
        .iter()
        .filter(|l| l.principal == S3_PRINCIPAL && l.operation == op && l.outcome == "Success")
        .count()
}

/// The last GenerateDataKey request in the audit trail.
pub fn last_generate_data_key(e: &Env) -> kmsfs::kms::audit::AuditLine {
    e.audit_lines()
        .into_iter()
        .rfind(|l| l.operation == "GenerateDataKey")
        .unwrap()
}
