//! Fuzz an audit trail (hash-chain verification, with a head): it must never panic, whatever the bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kmsfs::fuzzing::audit_trail(data));
