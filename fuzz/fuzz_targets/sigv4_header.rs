//! Fuzz the SigV4 `Authorization` header parser and verifier: it must never panic, and a
//! header that parses must parse the same once written out again.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kmsfs::fuzzing::sigv4_header(data));
