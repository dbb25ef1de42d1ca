//! [`MemoryReplayStore`]: DPoP proof `jti`s remembered in this process, bounded.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::config::{ReplayFuture, ReplayStore, ReplayStoreError};

const SHARDS: usize = 16;

/// The default store: in this process's memory, bounded in entries, each kept until its proof
/// could no longer pass the `iat` window. Enough for one instance; several instances need a
/// shared store such as Redis.
pub struct MemoryReplayStore {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
}

#[derive(Default)]
struct Shard {
    /// Key digest -> expiry.
    live: HashMap<u128, Instant>,
    /// Insertion order, for eviction of expired entries in amortised O(1).
    order: VecDeque<(Instant, u128)>,
}

impl std::fmt::Debug for MemoryReplayStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryReplayStore")
            .field("capacity", &(self.per_shard * SHARDS))
            .finish_non_exhaustive()
    }
}

impl MemoryReplayStore {
    /// A store for at most `capacity` live entries (rounded up to a multiple of 16).
    pub fn new(capacity: usize) -> Self {
        MemoryReplayStore {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    /// Live entries now (expired ones still held count until evicted).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).live.len()).sum()
    }

    /// Whether the store holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn insert_now(&self, key: &str, ttl: Duration, now: Instant) -> Result<bool, ReplayStoreError> {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.as_bytes());
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest.as_ref()[..16]);
        let id = u128::from_le_bytes(id);
        let mut shard = lock(&self.shards[(id % SHARDS as u128) as usize]);
        shard.evict_expired(now);
        if let Some(expiry) = shard.live.get(&id) {
            if *expiry > now {
                return Ok(false);
            }
        }
        if shard.live.len() >= self.per_shard {
            return Err(ReplayStoreError(format!(
                "the in-memory DPoP replay store is full ({} live entries): raise dpop_replay_capacity or use a shared store",
                self.per_shard * SHARDS
            )));
        }
        let expiry = now + ttl;
        shard.live.insert(id, expiry);
        shard.order.push_back((expiry, id));
        Ok(true)
    }
}

impl Shard {
    fn evict_expired(&mut self, now: Instant) {
        // Entries are pushed in arrival order; TTLs differ a little, so an entry may wait behind
        // a later-expiring one, which only delays its eviction.
        while let Some(&(expiry, id)) = self.order.front() {
            if expiry > now {
                break;
            }
            self.order.pop_front();
            if self.live.get(&id) == Some(&expiry) {
                self.live.remove(&id);
            }
        }
    }
}

impl ReplayStore for MemoryReplayStore {
    fn insert<'a>(&'a self, key: &'a str, ttl: Duration) -> ReplayFuture<'a> {
        let outcome = self.insert_now(key, ttl, Instant::now());
        Box::pin(std::future::ready(outcome))
    }
}

fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // A panic while holding the lock leaves consistent data (every update is one insert/remove).
    shard
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_use_then_replay_then_expiry() {
        let store = MemoryReplayStore::new(16);
        let t0 = Instant::now();
        let ttl = Duration::from_secs(10);
        assert_eq!(store.insert_now("a", ttl, t0), Ok(true));
        assert_eq!(
            store.insert_now("a", ttl, t0 + Duration::from_secs(9)),
            Ok(false)
        );
        assert_eq!(store.insert_now("b", ttl, t0), Ok(true));
        assert_eq!(store.insert_now("a", ttl, t0 + ttl), Ok(true));
    }

    #[test]
    fn full_store_fails_closed_until_entries_expire() {
        let store = MemoryReplayStore::new(1);
        let t0 = Instant::now();
        let ttl = Duration::from_secs(5);
        // One entry per shard fills a shard; find two keys of one shard by trying.
        let mut inserted = 0;
        let mut refused = 0;
        for i in 0..200 {
            match store.insert_now(&format!("k{i}"), ttl, t0) {
                Ok(true) => inserted += 1,
                Err(_) => refused += 1,
                Ok(false) => unreachable!("distinct keys"),
            }
        }
        assert_eq!(inserted, SHARDS);
        assert_eq!(refused, 200 - SHARDS);
        assert_eq!(store.len(), SHARDS);
        // Once expired, the room is free again.
        assert_eq!(store.insert_now("k0", ttl, t0 + ttl), Ok(true));
    }
}
