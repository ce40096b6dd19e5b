//! Fuzz the endpoint from the bytes of a request to the KMS call (authentication, target,
//! content type, request shapes, operations): never a panic or a 5xx, and the audit trail of
//! what it answered still verifies.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kmsfs::fuzzing::endpoint_request(data));
