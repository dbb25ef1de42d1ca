//! The in-memory limiter: `governor`'s GCRA over a bounded, sharded table of callers.
//!
//! governor's own keyed stores grow with every key until swept; here the table holds at most
//! `max_callers`. A caller whose bucket is full again (idle for its window) is indistinguishable
//! from a new one, so it is dropped when room is needed; when every tracked caller is live, a
//! new caller passes untracked (counted and logged once) rather than evicting a live one, so a
//! flood of fresh identities can neither lift an existing caller's limit nor lock new callers
//! out.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use governor::clock::{Clock, MonotonicClock};
use governor::middleware::StateInformationMiddleware;
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::RateLimiter;

use super::{Decision, Quota};

const SHARDS: usize = 16;

/// A full shard is swept for idle callers at most this often (a sweep walks the shard).
const SWEEP_EVERY: Duration = Duration::from_millis(250);

pub(super) struct MemoryLimiter {
    limiter: RateLimiter<String, Callers, MonotonicClock, StateInformationMiddleware>,
    table: Arc<Table>,
    clock: MonotonicClock,
    quota: Quota,
    interval: Duration,
}

impl MemoryLimiter {
    pub(super) fn new(quota: Quota, max_callers: usize) -> Self {
        let interval = quota.window() / quota.requests().max(1);
        let burst = NonZeroU32::new(quota.requests()).unwrap_or(NonZeroU32::MIN);
        let gcra = governor::Quota::with_period(interval.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| governor::Quota::per_second(NonZeroU32::MAX))
            .allow_burst(burst);
        let table = Arc::new(Table::new(max_callers, interval));
        MemoryLimiter {
            limiter: RateLimiter::new(gcra, Callers(Arc::clone(&table)), MonotonicClock),
            table,
            clock: MonotonicClock,
            quota,
            interval,
        }
    }

    /// One request of `caller`.
    pub(super) fn check(&self, caller: &String) -> Decision {
        match self.limiter.check_key(caller) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let used = self.quota.requests().saturating_sub(remaining);
                Decision {
                    allowed: true,
                    quota: self.quota,
                    remaining,
                    reset: self.interval.saturating_mul(used),
                    retry_after: Duration::ZERO,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Decision {
                    allowed: false,
                    quota: self.quota,
                    remaining: 0,
                    reset: wait,
                    retry_after: wait,
                }
            }
        }
    }

    /// Callers tracked now.
    pub(super) fn tracked(&self) -> usize {
        self.table.shards.iter().map(|s| lock(s).map.len()).sum()
    }

    /// True the first time the table overflowed (to log it once).
    pub(super) fn first_overflow(&self) -> bool {
        self.table.untracked.load(Relaxed) > 0 && !self.table.overflow_logged.swap(true, Relaxed)
    }
}

/// The table of callers' GCRA states (their theoretical arrival times).
struct Table {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    per_shard: usize,
    /// The time one request costs: a state older than "now" is a full bucket.
    interval: Nanos,
    untracked: AtomicU64,
    overflow_logged: AtomicBool,
}

#[derive(Default)]
struct Shard {
    map: HashMap<String, u64>,
    /// When this shard was last swept, on governor's clock.
    swept: u64,
}

impl Table {
    fn new(max_callers: usize, interval: Duration) -> Self {
        Table {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
            per_shard: max_callers.div_ceil(SHARDS).max(1),
            interval: Nanos::from(interval),
            untracked: AtomicU64::new(0),
            overflow_logged: AtomicBool::new(false),
        }
    }
}

fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // A panic elsewhere cannot leave a `u64` half-written: the table stays usable.
    shard
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// governor's view of the table.
struct Callers(Arc<Table>);

impl StateStore for Callers {
    type Key = String;

    fn measure_and_replace<T, F, E>(&self, key: &String, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let table = &self.0;
        let index = (table.hasher.hash_one(key.as_str()) as usize) % table.shards.len();
        let mut shard = lock(&table.shards[index]);
        if let Some(tat) = shard.map.get_mut(key.as_str()) {
            let (outcome, next) = f(Some(Nanos::from(*tat)))?;
            *tat = next.as_u64();
            return Ok(outcome);
        }
        let (outcome, next) = f(None)?;
        // A new caller's state is "now + one interval": what a full bucket spends first.
        let now = next.as_u64().saturating_sub(table.interval.as_u64());
        if shard.map.len() >= table.per_shard
            && now.saturating_sub(shard.swept) >= SWEEP_EVERY.as_nanos() as u64
        {
            shard.map.retain(|_, tat| *tat > now);
            shard.swept = now;
        }
        if shard.map.len() < table.per_shard {
            shard.map.insert(key.clone(), next.as_u64());
        } else {
            table.untracked.fetch_add(1, Relaxed);
        }
        Ok(outcome)
    }
}
