//! Fuzz the FUSE-over-io_uring request decoder: it must never panic, whatever the bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kmsfs::fuzzing::uring_request(data));
