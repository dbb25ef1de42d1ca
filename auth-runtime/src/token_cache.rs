//! Tokens verified before: a client sends the same access token on every call until it expires,
//! and its signature cannot have changed. An entry holds the token's exact bytes and is found by a
//! keyed hash of its last bytes (the signature's); a hit compares the whole token, so two tokens
//! sharing a tail never share an entry. An entry is valid only while the token is unexpired and
//! the key set that verified it is still the current one (a refresh, and so any key removal,
//! invalidates every entry).

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::Mutex;

/// Shards keep two cores from contending on one lock.
const SHARDS: usize = 16;
/// How many trailing bytes of a token are hashed: all of a compact JWS's signature is
/// unpredictable, and 32 of its bytes keep accidental collisions out of reach.
const HASHED_TAIL: usize = 32;
const WORDS: usize = HASHED_TAIL / 8;

/// A token's hash, from [`TokenCache::key`].
pub(crate) type Key = u64;

struct Entry<T> {
    token: Box<str>,
    value: T,
    /// `exp` plus the leeway, in seconds since the epoch.
    valid_until: f64,
    /// The key-set generation that verified it.
    generation: u64,
}

/// The keys are already keyed hashes: the map uses them as they are.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Shard<T> = HashMap<Key, Entry<T>, BuildHasherDefault<Prehashed>>;

pub(crate) struct TokenCache<T> {
    shards: Vec<Mutex<Shard<T>>>,
    per_shard: usize,
    /// Random per cache, so nobody can aim tokens at one bucket.
    seed: [u64; WORDS + 1],
}

/// The high and low halves of a 128-bit product folded together: a cheap mix of two words in
/// which every input bit reaches every output bit (the mixing step of foldhash and aHash).
fn folded_multiply(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ ((full >> 64) as u64)
}

impl<T: Clone> TokenCache<T> {
    /// A cache of about `capacity` entries; `None` for 0 (disabled).
    pub(crate) fn new(capacity: usize) -> Option<Self> {
        if capacity == 0 {
            return None;
        }
        Some(TokenCache {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::default()))
                .collect(),
            per_shard: capacity.div_ceil(SHARDS),
            seed: {
                let random = RandomState::new();
                std::array::from_fn(|i| random.hash_one(i))
            },
        })
    }

    /// The hash a token is filed under: its length and last bytes, far cheaper than hashing
    /// a kilobyte per request. Keyed multiply-fold rather than SipHash: a lookup never inserts
    /// (only a token that passed every check is ever filed), a hit compares the whole token,
    /// and the tail hashed is a signature nobody but the issuer chooses; so a weaker hash can
    /// cost a cache miss, never a wrong answer.
    pub(crate) fn key(&self, bytes: &[u8]) -> Key {
        let tail = &bytes[bytes.len().saturating_sub(HASHED_TAIL)..];
        let mut padded = [0u8; HASHED_TAIL];
        padded[HASHED_TAIL - tail.len()..].copy_from_slice(tail);
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&padded[i * 8..i * 8 + 8]);
            u64::from_le_bytes(w) ^ self.seed[i]
        };
        let low = folded_multiply(word(0), word(1));
        let high = folded_multiply(word(2), word(3));
        folded_multiply(low ^ self.seed[WORDS], high ^ bytes.len() as u64)
    }

    fn shard(&self, key: Key) -> &Mutex<Shard<T>> {
        // Bits the map itself uses neither for buckets (low) nor for tags (top 7).
        &self.shards[(key >> 32) as usize % SHARDS]
    }

    /// The cached value of exactly `token`, if it is still unexpired at `now` and `is_current`
    /// accepts the key-set generation that verified it (an entry that fails either is dropped).
    /// Bytes, not `str`: a header value is looked up before anything scans it.
    pub(crate) fn get(
        &self,
        key: Key,
        token: &[u8],
        now: f64,
        is_current: impl FnOnce(&T, u64) -> bool,
    ) -> Option<T> {
        let mut shard = self.shard(key).lock().ok()?;
        let entry = shard.get(&key)?;
        if entry.token.as_bytes() != token {
            // Another token with the same hash: not this one's entry.
            return None;
        }
        if now < entry.valid_until && is_current(&entry.value, entry.generation) {
            return Some(entry.value.clone());
        }
        shard.remove(&key);
        None
    }

    pub(crate) fn insert(
        &self,
        key: Key,
        token: &str,
        value: T,
        valid_until: f64,
        generation: u64,
        now: f64,
    ) {
        let Ok(mut shard) = self.shard(key).lock() else {
            return;
        };
        if shard.len() >= self.per_shard && !shard.contains_key(&key) {
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
                token: token.into(),
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
        let key = cache.key(b"a.b.c");
        cache.insert(key, "a.b.c", 7u8, 100.0, 1, 0.0);
        let generation = |wanted: u64| move |_: &u8, g: u64| g == wanted;
        assert_eq!(cache.get(key, b"a.b.c", 99.0, generation(1)), Some(7));
        assert_eq!(
            cache.get(key, b"a.b.c", 99.0, generation(2)),
            None,
            "another key set"
        );
        cache.insert(key, "a.b.c", 7u8, 100.0, 1, 0.0);
        assert_eq!(
            cache.get(key, b"a.b.c", 100.0, generation(1)),
            None,
            "expired"
        );
        assert_eq!(cache.len(), 0, "dead entries are removed on lookup");
    }

    #[test]
    fn memory_is_bounded() {
        let cache = TokenCache::new(160).expect("enabled"); // infallible: capacity > 0
        for i in 0..10_000 {
            let token = format!("token-{i}");
            cache.insert(cache.key(token.as_bytes()), &token, i, 1e12, 1, 0.0);
        }
        assert!(cache.len() <= 160, "{}", cache.len());
    }

    #[test]
    fn a_token_with_the_same_hash_is_not_the_cached_one() {
        let cache = TokenCache::new(64).expect("enabled"); // infallible: capacity > 0
        let real = "header.payload.signature-tail-0123456789abcdef0123456789abcdef";
        // Same length and the same last 32 bytes: the same hash, another token.
        let forged = "HEADER.PAYLOAD.signature-tail-0123456789abcdef0123456789abcdef";
        let key = cache.key(real.as_bytes());
        assert_eq!(cache.key(forged.as_bytes()), key);
        cache.insert(key, real, 1u8, 1e12, 1, 0.0);
        let any = |_: &u8, _: u64| true;
        assert_eq!(cache.get(key, forged.as_bytes(), 0.0, any), None);
        // ... and looking it up does not evict the real one.
        assert_eq!(cache.get(key, real.as_bytes(), 0.0, any), Some(1));
    }

    #[test]
    fn keys_tell_every_tail_byte_and_the_length_apart_and_spread_over_the_shards() {
        let cache = TokenCache::<u8>::new(64).expect("enabled"); // infallible: capacity > 0
        let token = "h.p.".to_owned() + &"s".repeat(60);
        let base = cache.key(token.as_bytes());
        for i in token.len() - super::HASHED_TAIL..token.len() {
            let mut changed = token.clone().into_bytes();
            changed[i] ^= 1;
            assert_ne!(cache.key(&changed), base, "byte {i}");
        }
        assert_ne!(cache.key(&token.as_bytes()[1..]), base, "one byte shorter");
        let mut per_shard = [0usize; super::SHARDS];
        let mut keys = std::collections::HashSet::new();
        for i in 0..1_600 {
            let key = cache.key(format!("token-{i}").as_bytes());
            keys.insert(key);
            per_shard[(key >> 32) as usize % super::SHARDS] += 1;
        }
        assert_eq!(keys.len(), 1_600);
        // 100 a shard on average; a degenerate mix would leave shards empty.
        assert!(
            per_shard.iter().all(|&n| (50..150).contains(&n)),
            "{per_shard:?}"
        );
    }

    #[test]
    fn zero_capacity_disables_the_cache() {
        assert!(TokenCache::<u8>::new(0).is_none());
    }
}
