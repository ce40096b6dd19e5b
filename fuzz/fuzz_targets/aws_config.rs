//! Fuzz the reader of AWS config and credentials files (`~/.aws/config`, as `--profile`
//! reads them): it must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kmsfs::fuzzing::aws_config(data));
