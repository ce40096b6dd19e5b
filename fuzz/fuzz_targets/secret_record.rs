//! Fuzz a Secrets Manager record file (magic, postcard record, each version's value opened under a fixed data key): it must never panic, whatever the bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kmsfs::fuzzing::secret_record(data));
