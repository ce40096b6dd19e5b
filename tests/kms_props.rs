//! Property tests: random plaintexts and encryption contexts round-trip; any other context
//! (or a different plaintext's blob) does not open.

mod common;
use common::kms::*;
use kmsfs::kms::EncryptionContext;
use proptest::prelude::*;

fn ctx() -> impl Strategy<Value = EncryptionContext> {
    proptest::collection::btree_map("[a-zA-Z0-9:_ -]{0,12}", "\\PC{0,16}", 0..5)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn round_trip(pt in proptest::collection::vec(any::<u8>(), 1..=4096), c in ctx(), other in ctx()) {
        thread_local!(static E: Env = env());
        E.with(|e| {
            let id = e.create_key_cached();
            let c = if c.keys().any(|k| k.is_empty()) { EncryptionContext::new() } else { c };
            let blob = e.encrypt(&id, &pt, Some(c.clone()));
            prop_assert_eq!(blob.len(), pt.len() + 56);
            prop_assert_eq!(e.decrypt(&blob, Some(c.clone())).unwrap(), pt.clone());
            if other != c && !other.keys().any(|k| k.is_empty()) {
                prop_assert_eq!(code(e.decrypt(&blob, Some(other))), "InvalidCiphertextException");
            }
            Ok(())
        })?;
    }

    #[test]
    fn context_encoding_is_injective(a in ctx(), b in ctx()) {
        let (ea, eb) = (kmsfs::kms::context::encode(&a), kmsfs::kms::context::encode(&b));
        prop_assert_eq!(a == b, ea == eb);
    }
}

trait Cached {
    fn create_key_cached(&self) -> String;
}

impl Cached for Env {
    fn create_key_cached(&self) -> String {
        thread_local!(static ID: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) });
        ID.with(|id| {
            id.borrow_mut()
                .get_or_insert_with(|| self.create_key())
                .clone()
        })
    }
}
