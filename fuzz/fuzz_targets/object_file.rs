//! Fuzz an object file (header, record, header tag, segments): parse, re-encode, open under a
//! fixed data key and as SSE-C under a fixed customer key. It must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kmsfs::fuzzing::object_file(data));
