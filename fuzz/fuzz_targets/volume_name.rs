//! Fuzz an on-disk file name (decode and decrypt): it must never panic, whatever the bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kmsfs::fuzzing::volume_name(data));
