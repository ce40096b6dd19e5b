//! Encryption context: a string map bound into ciphertexts as AAD in a canonical,
//! unambiguous encoding (pairs sorted by key bytes, every string length-prefixed). The KMS
//! binds it into its ciphertext blobs; objects and envelope messages bind it the same way.
//!
//! Encoding: `u32 BE pair count`, then per pair `u32 BE len(key) ‖ key ‖ u32 BE len(value) ‖ value`.
//! Concatenating keys and values (what moto, LocalStack and local-kms do) would make
//! `{"ab":"c"}` and `{"a":"bc"}` equal; this encoding cannot.

use std::collections::BTreeMap;

/// Total bytes of keys and values allowed in one context.
pub const MAX_CONTEXT_BYTES: usize = 8192;

/// An encryption context (sorted by key).
pub type EncryptionContext = BTreeMap<String, String>;

/// Check the size limit and that no key is empty; the error says which rule failed.
pub fn check(ec: &EncryptionContext) -> Result<(), String> {
    let total: usize = ec.iter().map(|(k, v)| k.len() + v.len()).sum();
    if total > MAX_CONTEXT_BYTES {
        return Err(format!(
            "the encryption context is {total} bytes; the limit is {MAX_CONTEXT_BYTES} bytes of keys and values"
        ));
    }
    if ec.keys().any(|k| k.is_empty()) {
        return Err("encryption context keys must not be empty".into());
    }
    Ok(())
}

/// Append the canonical encoding of `ec` to `out`.
pub fn encode_into(ec: &EncryptionContext, out: &mut Vec<u8>) {
    out.extend_from_slice(&(ec.len() as u32).to_be_bytes());
    // BTreeMap<String, _> iterates in byte order of the keys (str's Ord is byte order).
    for (k, v) in ec {
        out.extend_from_slice(&(k.len() as u32).to_be_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&(v.len() as u32).to_be_bytes());
        out.extend_from_slice(v.as_bytes());
    }
}

/// The canonical encoding of `ec`.
///
/// ```
/// use kmsfs::encoding::encode;
/// let a = encode(&[("ab".to_string(), "c".to_string())].into());
/// let b = encode(&[("a".to_string(), "bc".to_string())].into());
/// assert_ne!(a, b, "unlike key‖value concatenation");
/// ```
pub fn encode(ec: &EncryptionContext) -> Vec<u8> {
    let mut v = Vec::new();
    encode_into(ec, &mut v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ec(p: &[(&str, &str)]) -> EncryptionContext {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn ambiguous_pairs_encode_differently() {
        assert_ne!(encode(&ec(&[("ab", "c")])), encode(&ec(&[("a", "bc")])));
        assert_ne!(
            encode(&ec(&[("a", "b"), ("c", "d")])),
            encode(&ec(&[("a", "bcd")]))
        );
        assert_ne!(encode(&ec(&[])), encode(&ec(&[("", "")])));
    }

    #[test]
    fn order_independent_and_exact() {
        let a = encode(&ec(&[("z", "1"), ("a", "2")]));
        assert_eq!(a, encode(&ec(&[("a", "2"), ("z", "1")])));
        assert_eq!(
            crate::crypto::hex(&encode(&ec(&[("purpose", "test")]))),
            "0000000100000007707572706f73650000000474657374"
        );
    }

    #[test]
    fn limit() {
        let big = ec(&[("k", &"v".repeat(MAX_CONTEXT_BYTES))]);
        assert!(check(&big).is_err());
        assert!(check(&ec(&[("", "v")])).is_err());
        assert!(check(&ec(&[("k", "v")])).is_ok());
    }
}
