//! Fuzz a Parameter Store record file (magic, postcard record, Advanced envelopes): it must never panic, whatever the bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kmsfs::fuzzing::parameter_record(data));
