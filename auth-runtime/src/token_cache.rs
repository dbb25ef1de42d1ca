//! Tokens verified before: a client sends the same access token on every call until it expires,
//! and its signature cannot have changed. An entry holds the token's exact bytes and is found by a
//! keyed hash of its last bytes (the signature's); a hit compares the whole token, so two tokens
//! sharing a tail never share an entry. An entry is valid only while the token is unexpired and
//! the key set that verified it is still the current one (a refresh, and so any key removal,
//! invalidates every entry).
//!
//! A full shard makes room by CLOCK (second chance), an approximation of least-recently-used:
//! a token looked up since the hand last passed it stays, the first one not looked up goes. So
//! the tokens of active clients outlive a burst of tokens seen once, and memory is given back one
//! entry at a time, just as the new entry takes the same sizes again.

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
    key: Key,
    token: Box<str>,
    value: T,
    /// `exp` plus the leeway, in seconds since the epoch.
    valid_until: f64,
    /// The key-set generation that verified it.
    generation: u64,
    /// Looked up since the clock's hand last passed: spared once.
    used: bool,
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

/// One shard: its entries in slots the clock's hand sweeps, and where each key's entry is.
struct Shard<T> {
    index: HashMap<Key, usize, BuildHasherDefault<Prehashed>>,
    slots: Vec<Option<Entry<T>>>,
    hand: usize,
}

impl<T> Default for Shard<T> {
    fn default() -> Self {
        Shard {
            index: HashMap::default(),
            slots: Vec::new(),
            hand: 0,
        }
    }
}

impl<T> Shard<T> {
    /// The slot a new entry goes to when every slot is taken: the first, from the hand on,
    /// that is empty, dead at `now`, or not looked up since the hand last passed (the others
    /// lose their mark on the way). Two sweeps at most: the first clears every mark.
    fn victim(&mut self, now: f64) -> usize {
        let len = self.slots.len();
        for _ in 0..2 * len {
            let at = self.hand;
            self.hand = (at + 1) % len;
            match &mut self.slots[at] {
                Some(entry) if entry.used && now < entry.valid_until => entry.used = false,
                _ => return at,
            }
        }
        self.hand
    }
}

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
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
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
        let mut guard = self.shard(key).lock().ok()?;
        let shard = &mut *guard;
        let at = *shard.index.get(&key)?;
        let entry = shard.slots.get_mut(at)?.as_mut()?;
        if entry.token.as_bytes() != token {
            // Another token with the same hash: not this one's entry.
            return None;
        }
        if now < entry.valid_until && is_current(&entry.value, entry.generation) {
            if !entry.used {
                entry.used = true; // only when it changes: most hits leave the entry unwritten
            }
            return Some(entry.value.clone());
        }
        shard.index.remove(&key);
        shard.slots[at] = None;
        None
    }

    /// Files `token`'s `value`; in a full shard, in place of the entry the clock chooses.
    pub(crate) fn insert(
        &self,
        key: Key,
        token: &str,
        value: T,
        valid_until: f64,
        generation: u64,
        now: f64,
    ) {
        let Ok(mut guard) = self.shard(key).lock() else {
            return;
        };
        let shard = &mut *guard;
        let entry = Entry {
            key,
            token: token.into(),
            value,
            valid_until,
            generation,
            used: false,
        };
        let at = match shard.index.get(&key) {
            // The same token again (verified twice at once), or one with the same hash.
            Some(&at) => at,
            None if shard.slots.len() < self.per_shard => {
                shard.slots.push(None);
                shard.slots.len() - 1
            }
            None => shard.victim(now),
        };
        if let Some(old) = shard.slots[at].replace(entry) {
            if old.key != key {
                shard.index.remove(&old.key);
            }
        }
        shard.index.insert(key, at);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |s| s.index.len()))
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
    fn memory_is_bounded_and_a_full_cache_stays_full() {
        let cache = TokenCache::new(160).expect("enabled"); // infallible: capacity > 0
        for i in 0..10_000 {
            let token = format!("token-{i}");
            cache.insert(cache.key(token.as_bytes()), &token, i, 1e12, 1, 0.0);
        }
        // Each new token makes room by dropping one entry: every shard holds its share (10),
        // neither more nor (as when a whole shard was started over) fewer.
        assert_eq!(cache.len(), 160);
        let last = "token-9999";
        let any = |_: &usize, _: u64| true;
        assert_eq!(
            cache.get(cache.key(last.as_bytes()), last.as_bytes(), 0.0, any),
            Some(9_999)
        );
    }

    /// `n` tokens filed in shard `shard`, named `{prefix}-{i}`.
    fn in_shard<T: Clone>(
        cache: &TokenCache<T>,
        shard: usize,
        prefix: &str,
        n: usize,
    ) -> Vec<String> {
        let tokens: Vec<String> = (0..100_000)
            .map(|i| format!("{prefix}-{i}"))
            .filter(|t| (cache.key(t.as_bytes()) >> 32) as usize % super::SHARDS == shard)
            .take(n)
            .collect();
        assert_eq!(tokens.len(), n, "tokens in shard {shard}");
        tokens
    }

    #[test]
    fn a_full_shard_spares_a_token_looked_up_since_the_hand_passed_unless_it_is_dead() {
        // Two entries a shard.
        let cache = TokenCache::new(2 * super::SHARDS).expect("enabled"); // infallible: capacity > 0
        let any = |_: &u8, _: u64| true;
        let [live, dead, new, newer] =
            <[String; 4]>::try_from(in_shard(&cache, 3, "t", 4)).expect("four tokens"); // infallible: in_shard checked the count
        let key = |t: &str| cache.key(t.as_bytes());
        cache.insert(key(&live), &live, 1u8, 1e12, 1, 0.0);
        cache.insert(key(&dead), &dead, 2, 50.0, 1, 0.0);
        assert_eq!(cache.get(key(&live), live.as_bytes(), 10.0, any), Some(1));
        assert_eq!(cache.get(key(&dead), dead.as_bytes(), 10.0, any), Some(2));
        // Full at 100: both were looked up, `live` is spared once, `dead` expired at 50.
        cache.insert(key(&new), &new, 3, 1e12, 1, 100.0);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(key(&live), live.as_bytes(), 100.0, any), Some(1));
        // Looked up again, `live` is spared again; `new` never was, and makes room.
        cache.insert(key(&newer), &newer, 4, 1e12, 1, 100.0);
        assert_eq!(cache.get(key(&live), live.as_bytes(), 100.0, any), Some(1));
        assert_eq!(cache.get(key(&new), new.as_bytes(), 100.0, any), None);
        assert_eq!(
            cache.get(key(&newer), newer.as_bytes(), 100.0, any),
            Some(4)
        );
    }

    #[test]
    fn active_tokens_outlive_a_flood_of_tokens_seen_once() {
        // Four entries a shard; two of each shard's are in use all along.
        let cache = TokenCache::new(4 * super::SHARDS).expect("enabled"); // infallible: capacity > 0
        let active: Vec<String> = (0..super::SHARDS)
            .flat_map(|shard| in_shard(&cache, shard, "active", 2))
            .collect();
        let any = |_: &usize, _: u64| true;
        let look_up_all = |cache: &TokenCache<usize>| {
            active
                .iter()
                .enumerate()
                .filter(|(i, t)| {
                    cache.get(cache.key(t.as_bytes()), t.as_bytes(), 0.0, any) == Some(*i)
                })
                .count()
        };
        for (i, token) in active.iter().enumerate() {
            cache.insert(cache.key(token.as_bytes()), token, i, 1e12, 1, 0.0);
        }
        for i in 0..5_000 {
            let once = format!("once-{i}");
            cache.insert(cache.key(once.as_bytes()), &once, usize::MAX, 1e12, 1, 0.0);
            assert_eq!(
                look_up_all(&cache),
                active.len(),
                "after {i} tokens seen once"
            );
        }
        assert_eq!(cache.len(), 4 * super::SHARDS);
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
