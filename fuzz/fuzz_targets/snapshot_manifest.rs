//! Fuzz a snapshot manifest (decode, then encode and decode again): it must never panic, and
//! whatever decodes must survive the round trip unchanged.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kmsfs::fuzzing::snapshot_manifest(data));
