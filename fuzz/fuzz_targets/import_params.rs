//! Fuzz the sealed import parameters file and the ImportToken (opened under a fixed root key): they must never panic, whatever the bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kmsfs::fuzzing::import_params(data));
