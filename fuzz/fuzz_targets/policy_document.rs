//! Fuzz the policy parser (JSON, then the grammar, then evaluation): it must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kmsfs::fuzzing::policy_document(data));
