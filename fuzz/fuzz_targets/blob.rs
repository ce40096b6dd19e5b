//! Fuzz a KMS ciphertext blob (parse, then open under a fixed key): it must never panic, whatever the bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kmsfs::fuzzing::blob(data));
