//! What a mount daemon may hold, and how it gets it: a volume daemon is handed its volume's
//! data key over a pipe (its stdin; the bytes are specified in docs/FORMAT.md, "Mount daemon
//! key pipe") by the `kmsfs mount` that Decrypted it, and never opens the KMS; every daemon
//! makes itself undumpable (which also closes /proc/<pid>/mem to other users) and wipes the
//! secret variables from its environment (and from /proc/<pid>/environ).

use super::MountError;
use crate::crypto::{Locked, SecretKey};
use std::os::fd::AsFd;

/// The environment variables that carry secrets: never passed to a volume daemon, and
/// wiped by every daemon once it has read them.
pub const SECRET_VARS: &[&str] = &[
    "KMSFS_PASSPHRASE",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

/// The first bytes of the key pipe.
const MAGIC: &[u8; 8] = b"KMSFSDK1";
/// Kind byte: no key follows (an unencrypted volume).
const KIND_NONE: u8 = 0;
/// Kind byte: the volume's 32-byte data key follows.
const KIND_DEK: u8 = 1;
/// The longest message (magic, kind, key).
const MAX_LEN: usize = MAGIC.len() + 1 + 32;

/// The key pipe's bytes for `dek` (`None`: an unencrypted volume), in locked memory.
pub fn encode_key(dek: Option<&SecretKey>) -> Locked<([u8; MAX_LEN], usize)> {
    let mut m = Locked::new(([0u8; MAX_LEN], 0));
    let (buf, len) = &mut *m;
    buf[..8].copy_from_slice(MAGIC);
    match dek {
        Some(k) => {
            buf[8] = KIND_DEK;
            buf[9..].copy_from_slice(k.expose());
            *len = MAX_LEN;
        }
        None => {
            buf[8] = KIND_NONE;
            *len = 9;
        }
    }
    m
}

/// Read the key pipe from stdin to its end: the volume's data key (`None` for an
/// unencrypted volume), in locked memory; the read buffer is zeroized.
pub fn read_key_from_stdin() -> Result<Option<Locked<SecretKey>>, MountError> {
    let stdin = std::io::stdin();
    let fd = stdin.as_fd();
    // One more than the longest message, to tell a longer one apart.
    let mut buf = Locked::new([0u8; MAX_LEN + 1]);
    let mut n = 0;
    while n < buf.len() {
        match nix::unistd::read(fd, &mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(MountError::KeyPipe(format!("reading stdin: {e}"))),
        }
    }
    let bad = |why: &str| Err(MountError::KeyPipe(why.into()));
    if n < 9 || &buf[..8] != MAGIC {
        return bad("stdin does not start with the key pipe's magic (KMSFSDK1)");
    }
    match (buf[8], n) {
        (KIND_NONE, 9) => Ok(None),
        (KIND_DEK, MAX_LEN) => {
            let mut k = Locked::new(SecretKey::from_bytes([0; 32]));
            k.expose_mut().copy_from_slice(&buf[9..MAX_LEN]);
            Ok(Some(k))
        }
        _ => bad("the key pipe's kind and length do not match"),
    }
}

/// `key` copied into locked memory (and zeroized where it was).
pub fn lock_key(key: SecretKey) -> Locked<SecretKey> {
    let mut k = Locked::new(SecretKey::from_bytes([0; 32]));
    k.expose_mut().copy_from_slice(key.expose());
    k
}

/// Make this process undumpable: no core file, and /proc/<pid>/mem, environ and the like
/// (and ptrace) are closed to everyone but root (CAP_SYS_PTRACE).
pub fn protect_process() {
    // SAFETY: PR_SET_DUMPABLE takes a plain integer and changes only this process's flag.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

/// Remove [`SECRET_VARS`] from this process's environment and overwrite their bytes in the
/// initial environment block (what /proc/<pid>/environ shows) with zeros.
///
/// Call before any other thread that might read the environment exists.
pub fn scrub_environment() {
    for v in SECRET_VARS {
        if std::env::var_os(v).is_some() {
            // SAFETY: the caller calls this while no other thread reads the environment.
            unsafe { std::env::remove_var(v) };
        }
    }
    if let Some((start, end)) = environment_block() {
        // SAFETY: [start, end) is this process's initial environment block (the kernel's
        // env_start..env_end, on the main thread's stack, writable); nothing refers to the
        // secret entries any more since they were removed from `environ` above.
        let block = unsafe { std::slice::from_raw_parts_mut(start as *mut u8, end - start) };
        wipe_entries(block, SECRET_VARS);
    }
}

/// Zero every `NAME=value` entry of the NUL-separated `block` whose NAME is in `names`.
fn wipe_entries(block: &mut [u8], names: &[&str]) {
    let mut i = 0;
    while i < block.len() {
        let len = block[i..]
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(block.len() - i);
        let entry = &block[i..i + len];
        let secret = names.iter().any(|n| {
            entry.len() > n.len() && entry.starts_with(n.as_bytes()) && entry[n.len()] == b'='
        });
        if secret {
            zeroize::Zeroize::zeroize(&mut block[i..i + len]);
        }
        i += len + 1;
    }
}

/// `env_start` and `env_end` of this process (fields 50 and 51 of /proc/self/stat).
fn environment_block() -> Option<(usize, usize)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which ends at the last ')', start with field 3.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let (start, end) = (f.get(50 - 3)?.parse().ok()?, f.get(51 - 3)?.parse().ok()?);
    (start < end).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wipes_only_named_entries() {
        let mut b =
            b"A=1\0KMSFS_PASSPHRASE=pw\0KMSFS_PASSPHRASEX=k\0B=KMSFS_PASSPHRASE=\0".to_vec();
        wipe_entries(&mut b, SECRET_VARS);
        assert_eq!(
            b,
            [
                &b"A=1\0"[..],
                &[0u8; 19][..],
                b"\0KMSFS_PASSPHRASEX=k\0B=KMSFS_PASSPHRASE=\0"
            ]
            .concat()
        );
    }

    #[test]
    fn protected_process_is_not_dumpable() {
        protect_process();
        // SAFETY: PR_GET_DUMPABLE reads this process's flag.
        assert_eq!(unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) }, 0);
    }

    #[test]
    fn environment_block_is_found() {
        let (s, e) = environment_block().unwrap();
        assert!(s < e);
    }

    #[test]
    fn key_message_layout() {
        let k = SecretKey::from_bytes([0xAB; 32]);
        let m = encode_key(Some(&k));
        assert_eq!(m.1, 41);
        assert_eq!(&m.0[..9], b"KMSFSDK1\x01");
        assert_eq!(&m.0[9..], &[0xAB; 32]);
        let m = encode_key(None);
        assert_eq!(&m.0[..m.1], b"KMSFSDK1\x00");
    }
}
