//! Fuzz re-encrypting stored volume items (file contents, symlink targets, xattrs, names)
//! under a new key: it must never panic, whatever the bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kmsfs::fuzzing::volume_rekey(data));
