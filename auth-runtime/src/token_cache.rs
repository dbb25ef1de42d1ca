//! Tokens verified before: a client sends the same access token on every call until it expires,
//! and its signature cannot have changed. An entry is keyed by the SHA-256 of the token's exact
//! bytes and is valid only while the token is unexpired and the key set that verified it is still
//! the current one (a refresh, and so any key removal, invalidates every entry).

use std::collections::HashMap;
use std::sync::Mutex;

use aws_lc_rs::digest;

/// Shards keep two cores from contending on one lock.
const SHARDS: usize = 16;

pub(crate) type Key = [u8; 32];

struct Entry<T> {
    value: T,
    /// `exp` plus the leeway, in seconds since the epoch.
    valid_until: f64,
    /// The key-set generation that verified it.
    generation: u64,
}

pub(crate) struct TokenCache<T> {
    shards: Vec<Mutex<HashMap<Key, Entry<T>>>>,
    per_shard: usize,
}

impl<T: Clone> TokenCache<T> {
    /// A cache of about `capacity` entries; `None` for 0 (disabled).
    pub(crate) fn new(capacity: usize) -> Option<Self> {
        if capacity == 0 {
            return None;
        }
        Some(TokenCache {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS),
        })
    }

    pub(crate) fn key(token: &str) -> Key {
        let mut key = [0; 32];
        key.copy_from_slice(digest::digest(&digest::SHA256, token.as_bytes()).as_ref());
        key
    }

    fn shard(&self, key: &Key) -> &Mutex<HashMap<Key, Entry<T>>> {
        &self.shards[usize::from(key[0]) % SHARDS]
    }

    /// The cached value, if it is still unexpired at `now` and `is_current` accepts the key-set
    /// generation that verified it (an entry that fails either is dropped).
    pub(crate) fn get(
        &self,
        key: &Key,
        now: f64,
        is_current: impl FnOnce(&T, u64) -> bool,
    ) -> Option<T> {
        let mut shard = self.shard(key).lock().ok()?;
        let entry = shard.get(key)?;
        if now < entry.valid_until && is_current(&entry.value, entry.generation) {
            return Some(entry.value.clone());
        }
        shard.remove(key);
        None
    }

    pub(crate) fn insert(&self, key: Key, value: T, valid_until: f64, generation: u64, now: f64) {
        let Ok(mut shard) = self.shard(&key).lock() else {
            return;
        };
        if shard.len() >= self.per_shard {
            // Drop what is dead first; if the shard is full of live tokens, start it over:
            // bounded memory matters more than a few extra verifications.
            shard.retain(|_, e| now < e.valid_until);
            if shard.len() >= self.per_shard {
                shard.clear();
            }
        }
        shard.insert(
            key,
            Entry {
                value,
                valid_until,
                generation,
            },
        );
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |s| s.len()))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::TokenCache;

    #[test]
    fn entries_expire_and_die_with_their_key_set() {
        let cache = TokenCache::new(64).expect("enabled"); // infallible: capacity > 0
        let key = TokenCache::<u8>::key("a.b.c");
        cache.insert(key, 7u8, 100.0, 1, 0.0);
        let generation = |wanted: u64| move |_: &u8, g: u64| g == wanted;
        assert_eq!(cache.get(&key, 99.0, generation(1)), Some(7));
        assert_eq!(
            cache.get(&key, 99.0, generation(2)),
            None,
            "another key set"
        );
        cache.insert(key, 7u8, 100.0, 1, 0.0);
        assert_eq!(cache.get(&key, 100.0, generation(1)), None, "expired");
        assert_eq!(cache.len(), 0, "dead entries are removed on lookup");
    }

    #[test]
    fn memory_is_bounded() {
        let cache = TokenCache::new(160).expect("enabled"); // infallible: capacity > 0
        for i in 0..10_000 {
            let key = TokenCache::<u32>::key(&format!("token-{i}"));
            cache.insert(key, i, 1e12, 1, 0.0);
        }
        assert!(cache.len() <= 160, "{}", cache.len());
    }

    #[test]
    fn zero_capacity_disables_the_cache() {
        assert!(TokenCache::<u8>::new(0).is_none());
    }
}
