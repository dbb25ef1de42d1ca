//! [`MemoryReplayStore`]: DPoP proof `jti`s remembered in this process, bounded in all and per
//! proof key.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::config::{BoundedFuture, Recorded, ReplayFuture, ReplayStore, ReplayStoreError};

const SHARDS: usize = 16;

/// The default store: in this process's memory, bounded in entries, each kept until its proof
/// could no longer pass the `iat` window, and bounded per proof key (see
/// [`ReplayStore::insert_bounded`]). Enough for one instance; several instances need a shared
/// store such as Redis.
pub struct MemoryReplayStore {
    shards: Vec<Mutex<Shard>>,
    /// The live entries of each owner, by owner digest; sharded apart from the entries so that
    /// one owner's entries spread over every entry shard.
    owners: Vec<Mutex<HashMap<u64, VecDeque<Instant>>>>,
    per_shard: usize,
}

#[derive(Default)]
struct Shard {
    /// Key digest -> expiry and owner digest.
    live: HashMap<u128, (Instant, Option<u64>)>,
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
            owners: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
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

    #[cfg(test)]
    fn insert_now(&self, key: &str, ttl: Duration, now: Instant) -> Result<bool, ReplayStoreError> {
        self.record(None, key, ttl, now)
            .map(|r| r == Recorded::First)
    }

    /// Records `key`; with an owner and its quota, only while the owner holds fewer live
    /// entries. Locks an entry shard, then owner shards, never the other way round.
    fn record(
        &self,
        owner: Option<(u64, usize)>,
        key: &str,
        ttl: Duration,
        now: Instant,
    ) -> Result<Recorded, ReplayStoreError> {
        let id = digest128(key);
        let mut shard = lock(&self.shards[(id % SHARDS as u128) as usize]);
        self.evict_expired(&mut shard, now);
        if shard.live.get(&id).is_some_and(|(expiry, _)| *expiry > now) {
            // A replay stays a replay, whatever the owner's quota.
            return Ok(Recorded::Replayed);
        }
        if shard.live.len() >= self.per_shard {
            return Err(ReplayStoreError(format!(
                "the in-memory DPoP replay store is full ({} live entries): raise dpop_replay_capacity or use a shared store",
                self.per_shard * SHARDS
            )));
        }
        let expiry = now + ttl;
        if let Some((owner, quota)) = owner {
            let mut owners = lock(&self.owners[owner_shard(owner)]);
            let held = owners.entry(owner).or_default();
            if held.len() >= quota {
                let oldest = held.front().copied().unwrap_or(now);
                let retry_after = oldest
                    .saturating_duration_since(now)
                    .max(Duration::from_secs(1));
                return Ok(Recorded::OverQuota { retry_after });
            }
            // Arrival order: expiries follow it within the `iat` leeway, so the front is the
            // next to expire, near enough for `Retry-After` (a sorted insert costs a shift of
            // everything a busy client sent in the same second).
            held.push_back(expiry);
        }
        shard.live.insert(id, (expiry, owner.map(|(o, _)| o)));
        shard.order.push_back((expiry, id));
        Ok(Recorded::First)
    }

    fn evict_expired(&self, shard: &mut Shard, now: Instant) {
        // Entries are pushed in arrival order; TTLs differ a little, so an entry may wait behind
        // a later-expiring one, which only delays its eviction.
        while let Some(&(expiry, id)) = shard.order.front() {
            if expiry > now {
                break;
            }
            shard.order.pop_front();
            if shard.live.get(&id).map(|(e, _)| *e) == Some(expiry) {
                if let Some((_, Some(owner))) = shard.live.remove(&id) {
                    self.release(owner, expiry);
                }
            }
        }
    }

    /// One of `owner`'s entries expired: it holds one fewer.
    fn release(&self, owner: u64, expiry: Instant) {
        let mut owners = lock(&self.owners[owner_shard(owner)]);
        if let Some(held) = owners.get_mut(&owner) {
            match held.iter().position(|e| *e == expiry) {
                Some(at) => {
                    held.remove(at);
                }
                None => {
                    held.pop_front();
                }
            }
            if held.is_empty() {
                owners.remove(&owner);
            }
        }
    }
}

fn digest128(key: &str) -> u128 {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.as_bytes());
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest.as_ref()[..16]);
    u128::from_le_bytes(id)
}

fn owner_shard(owner: u64) -> usize {
    (owner % SHARDS as u64) as usize
}

impl ReplayStore for MemoryReplayStore {
    fn insert<'a>(&'a self, key: &'a str, ttl: Duration) -> ReplayFuture<'a> {
        let outcome = self
            .record(None, key, ttl, Instant::now())
            .map(|r| r == Recorded::First);
        Box::pin(std::future::ready(outcome))
    }

    fn insert_bounded<'a>(
        &'a self,
        owner: &'a str,
        key: &'a str,
        ttl: Duration,
        quota: usize,
    ) -> BoundedFuture<'a> {
        let owner = (digest128(owner) as u64, quota);
        let outcome = self.record(Some(owner), key, ttl, Instant::now());
        Box::pin(std::future::ready(outcome))
    }
}

fn lock<T>(shard: &Mutex<T>) -> MutexGuard<'_, T> {
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

    #[test]
    fn an_owner_holds_at_most_its_quota_and_replays_stay_replays() {
        let store = MemoryReplayStore::new(1000);
        let t0 = Instant::now();
        let ttl = Duration::from_secs(10);
        let flood = Some((7, 3));
        for i in 0..3 {
            assert_eq!(
                store.record(flood, &format!("f{i}"), ttl, t0),
                Ok(Recorded::First)
            );
        }
        assert_eq!(
            store.record(flood, "f3", ttl, t0 + Duration::from_secs(2)),
            Ok(Recorded::OverQuota {
                retry_after: Duration::from_secs(8)
            })
        );
        // Not recorded, and a replay is still a replay.
        assert_eq!(store.len(), 3);
        assert_eq!(store.record(flood, "f0", ttl, t0), Ok(Recorded::Replayed));
        // Another owner is not affected.
        assert_eq!(
            store.record(Some((8, 3)), "o0", ttl, t0),
            Ok(Recorded::First)
        );
        // Once the owner's entries expire, it has room again (eviction happens per shard, so
        // touch every shard as traffic would).
        let later = t0 + ttl + Duration::from_secs(1);
        for i in 0..200 {
            let _ = store.record(None, &format!("touch{i}"), Duration::from_millis(1), later);
        }
        assert_eq!(store.record(flood, "f4", ttl, later), Ok(Recorded::First));
        assert!(lock(&store.owners[owner_shard(7)])
            .get(&7)
            .is_some_and(|h| h.len() == 1));
    }
}
