//! Fuzz a sealed keystore record (header, then open under a fixed root key): it must never panic, whatever the bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kmsfs::fuzzing::keystore_record(data));
