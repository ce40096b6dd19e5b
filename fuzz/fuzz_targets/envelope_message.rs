//! Fuzz an envelope message (docs/FORMAT.md section 10): header parse and re-encode, then a
//! full decryption under the fuzzing key. It must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kmsfs::fuzzing::envelope_message(data));
