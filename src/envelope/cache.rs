//! A data key cache, as the AWS Encryption SDK's LocalCryptoMaterialsCache and
//! CachingCryptoMaterialsManager: reusing a data key for several messages cuts KMS calls
//! (one GenerateDataKey per entry instead of one per message; one Decrypt per distinct
//! wrapped key instead of one per message), at the price of a key protecting more data.
//!
//! [`DataKeyCache`] is the store: a thread-safe LRU of bounded capacity whose entries hold
//! keys only in zeroizing types (evicted or expired entries are wiped when dropped).
//! [`CachingKeyring`] is the policy, wrapping any [`Keyring`]: an encryption entry, keyed by
//! (keyring id, encryption context), serves at most `max_messages` messages and `max_bytes`
//! plaintext bytes for at most `max_age`; a decryption entry, keyed by (keyring id, the
//! wrapped keys, encryption context), lives at most `max_age`.
//!
//! As in the SDK, an encryption whose plaintext length is unknown (a stream of unknown size),
//! or larger than `max_bytes` on its own, bypasses the cache: its bytes could not be
//! accounted for up front.

use super::EnvelopeError;
use super::format::EncryptedDataKey;
use super::keyring::{DecryptionMaterials, EncryptionMaterials, Keyring};
use crate::encoding::{self, EncryptionContext};
use crate::kms::{Clock, SystemClock};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long and how much one cached data key may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    /// An entry older than this is not used (and is dropped).
    pub max_age: Duration,
    /// Most messages one encryption entry may encrypt.
    pub max_messages: u64,
    /// Most plaintext bytes one encryption entry may encrypt.
    pub max_bytes: u64,
}

impl Default for CacheLimits {
    /// Five minutes, 2^32 messages, 2^62 bytes (the SDK's message and byte defaults).
    fn default() -> Self {
        CacheLimits {
            max_age: Duration::from_secs(300),
            max_messages: 1 << 32,
            max_bytes: 1 << 62,
        }
    }
}

enum Entry {
    Encrypt {
        materials: EncryptionMaterials,
        created_ms: i64,
        messages: u64,
        bytes: u64,
    },
    Decrypt {
        materials: DecryptionMaterials,
        created_ms: i64,
    },
}

impl Entry {
    fn created_ms(&self) -> i64 {
        match self {
            Entry::Encrypt { created_ms, .. } | Entry::Decrypt { created_ms, .. } => *created_ms,
        }
    }
}

/// Hit and miss counts of a cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub entries: usize,
}

/// A thread-safe LRU store of data keys (see the module documentation).
pub struct DataKeyCache {
    lru: Mutex<lru::LruCache<[u8; 32], Entry>>,
    clock: Arc<dyn Clock>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl std::fmt::Debug for DataKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DataKeyCache({:?})", self.stats())
    }
}

impl DataKeyCache {
    /// A cache of at most `capacity` entries (at least 1), timed by `clock`.
    pub fn new(capacity: usize, clock: Arc<dyn Clock>) -> DataKeyCache {
        DataKeyCache {
            lru: Mutex::new(lru::LruCache::new(
                NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN),
            )),
            clock,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// A cache timed by the system clock.
    pub fn with_capacity(capacity: usize) -> DataKeyCache {
        DataKeyCache::new(capacity, Arc::new(SystemClock::new()))
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: self.lock().len(),
        }
    }

    /// Drop (and wipe) every entry.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, lru::LruCache<[u8; 32], Entry>> {
        // A panic while holding the lock cannot leave an entry half-updated in a way that
        // matters (counters only grow), so a poisoned lock is still usable.
        self.lru.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn expired(&self, e: &Entry, max_age: Duration) -> bool {
        let age = self.clock.now_ms().saturating_sub(e.created_ms());
        age < 0 || age as u128 >= max_age.as_millis()
    }

    /// Take one message of `len` bytes from the encryption entry `key`, if it allows it.
    fn use_encrypt(
        &self,
        key: &[u8; 32],
        len: u64,
        limits: &CacheLimits,
    ) -> Option<EncryptionMaterials> {
        let mut lru = self.lock();
        let e = lru.get_mut(key)?;
        let expired = self.expired(e, limits.max_age);
        if let Entry::Encrypt {
            materials,
            messages,
            bytes,
            ..
        } = e
            && !expired
            && *messages < limits.max_messages
            && bytes.saturating_add(len) <= limits.max_bytes
        {
            *messages += 1;
            *bytes += len;
            return Some(materials.clone());
        }
        // Used up or too old: it will never serve again.
        lru.pop(key);
        None
    }

    fn use_decrypt(&self, key: &[u8; 32], limits: &CacheLimits) -> Option<DecryptionMaterials> {
        let mut lru = self.lock();
        let e = lru.get_mut(key)?;
        let expired = self.expired(e, limits.max_age);
        if let Entry::Decrypt { materials, .. } = e
            && !expired
        {
            return Some(materials.clone());
        }
        lru.pop(key);
        None
    }

    fn put(&self, key: [u8; 32], e: Entry) {
        self.lock().put(key, e);
    }
}

/// A [`Keyring`] that serves data keys from a [`DataKeyCache`] within [`CacheLimits`], and
/// asks the keyring it wraps otherwise.
pub struct CachingKeyring<K: Keyring> {
    inner: K,
    cache: Arc<DataKeyCache>,
    limits: CacheLimits,
    partition: String,
}

impl<K: Keyring> std::fmt::Debug for CachingKeyring<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachingKeyring")
            .field("inner", &self.inner.id())
            .field("limits", &self.limits)
            .field("partition", &self.partition)
            .finish()
    }
}

impl<K: Keyring> CachingKeyring<K> {
    pub fn new(inner: K, cache: Arc<DataKeyCache>, limits: CacheLimits) -> CachingKeyring<K> {
        CachingKeyring {
            inner,
            cache,
            limits,
            partition: String::new(),
        }
    }

    /// Keep this keyring's entries apart from other keyrings' with the same id in a shared
    /// cache (the SDK's partition name).
    pub fn with_partition(mut self, partition: impl Into<String>) -> Self {
        self.partition = partition.into();
        self
    }

    pub fn cache(&self) -> &Arc<DataKeyCache> {
        &self.cache
    }

    /// SHA-256 over length-prefixed parts: the entry kind, partition, keyring id, then `rest`.
    fn cache_key(&self, kind: &str, rest: &[&[u8]]) -> [u8; 32] {
        let id = self.inner.id();
        let mut buf = Vec::new();
        for p in [kind.as_bytes(), self.partition.as_bytes(), id.as_bytes()]
            .into_iter()
            .chain(rest.iter().copied())
        {
            buf.extend_from_slice(&(p.len() as u64).to_be_bytes());
            buf.extend_from_slice(p);
        }
        crate::crypto::sha256(&buf)
    }
}

impl<K: Keyring> Keyring for CachingKeyring<K> {
    fn id(&self) -> String {
        self.inner.id()
    }

    fn encryption_materials(
        &self,
        ctx: &EncryptionContext,
        plaintext_len: Option<u64>,
    ) -> Result<EncryptionMaterials, EnvelopeError> {
        let Some(len) = plaintext_len.filter(|&n| n <= self.limits.max_bytes) else {
            return self.inner.encryption_materials(ctx, plaintext_len);
        };
        let key = self.cache_key("encrypt", &[&encoding::encode(ctx)]);
        if let Some(m) = self.cache.use_encrypt(&key, len, &self.limits) {
            self.cache.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(m);
        }
        self.cache.misses.fetch_add(1, Ordering::Relaxed);
        let m = self.inner.encryption_materials(ctx, plaintext_len)?;
        if self.limits.max_messages > 1 && !self.limits.max_age.is_zero() {
            self.cache.put(
                key,
                Entry::Encrypt {
                    materials: m.clone(),
                    created_ms: self.cache.clock.now_ms(),
                    messages: 1,
                    bytes: len,
                },
            );
        }
        Ok(m)
    }

    fn decryption_materials(
        &self,
        edks: &[EncryptedDataKey],
        ctx: &EncryptionContext,
    ) -> Result<DecryptionMaterials, EnvelopeError> {
        let mut parts: Vec<Vec<u8>> = Vec::new();
        for e in edks {
            parts.push(e.provider_id.as_bytes().to_vec());
            parts.push(e.provider_info.as_bytes().to_vec());
            parts.push(e.ciphertext.clone());
        }
        parts.push(encoding::encode(ctx));
        let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
        let key = self.cache_key("decrypt", &refs);
        if let Some(m) = self.cache.use_decrypt(&key, &self.limits) {
            self.cache.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(m);
        }
        self.cache.misses.fetch_add(1, Ordering::Relaxed);
        let m = self.inner.decryption_materials(edks, ctx)?;
        if !self.limits.max_age.is_zero() {
            self.cache.put(
                key,
                Entry::Decrypt {
                    materials: m.clone(),
                    created_ms: self.cache.clock.now_ms(),
                },
            );
        }
        Ok(m)
    }
}
