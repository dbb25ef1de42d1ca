//! Rate limits, framework-free: the [`Quota`], the limiters (in memory on `governor`, or shared
//! through Redis) and the registry that holds one limiter per named limit. Callers are plain
//! strings here (`sub:auth0|42`, `ip:203.0.113.7`): who the caller is, and the 429, are decided
//! and rendered in `axum`.

mod memory;
mod quota;
#[cfg(feature = "redis")]
mod redis;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

pub use quota::{Quota, QuotaError};

use crate::config::{ConfigError, RateLimitSettings};
use crate::stats::{Counters, RejectionReason};
use memory::MemoryLimiter;

/// The state of one caller's budget after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decision {
    pub(crate) allowed: bool,
    pub(crate) quota: Quota,
    /// Requests left now.
    pub(crate) remaining: u32,
    /// Until the whole quota is available again (allowed), or until the next request may pass
    /// (refused).
    pub(crate) reset: Duration,
    /// Until the next request may pass (zero when allowed).
    pub(crate) retry_after: Duration,
}

/// What a rate-limited request meets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Within the limit (the decision, for the RateLimit fields), or passed because the store
    /// could not answer and the policy is to fail open (no decision).
    Pass(Option<Decision>),
    /// Over the limit: 429.
    Limited(Decision),
    /// The store could not answer and the policy is to fail closed: 503.
    Unavailable,
}

/// A limiter of the registry, kept by a route layer.
#[derive(Clone)]
pub(crate) struct LimiterRef(Arc<Limiter>);

enum Limiter {
    Memory(MemoryLimiter),
    #[cfg(feature = "redis")]
    Redis(redis::RedisLimiter),
}

/// One limiter per named limit, made on first use, with the store and failure policy of the
/// Authenticator's settings.
pub(crate) struct RateLimits {
    settings: RateLimitSettings,
    #[cfg(feature = "redis")]
    redis: Option<Arc<crate::store::RedisConnection>>,
    /// By name, then quota (a name is nearly always used with one quota).
    limiters: RwLock<ByName>,
    /// When each limited caller was last logged, so a caller hammering a limit is logged once
    /// per window, not once per request.
    logged: Mutex<HashMap<String, Instant>>,
    /// Whether the store's last answer was a failure (its outage is logged once).
    failing: AtomicBool,
    counters: Arc<Counters>,
}

/// The limiters by name, then quota.
type ByName = HashMap<Box<str>, Vec<(Quota, Arc<Limiter>)>>;

/// Callers remembered for log suppression at most; beyond it the oldest are forgotten.
const MAX_LOGGED: usize = 10_000;

impl RateLimits {
    pub(crate) fn new(
        settings: RateLimitSettings,
        counters: Arc<Counters>,
    ) -> Result<Self, ConfigError> {
        #[cfg(feature = "redis")]
        let redis = match &settings.redis_url {
            Some(url) => Some(Arc::new(crate::store::RedisConnection::new(
                url,
                "rate_limit_redis",
            )?)),
            None => None,
        };
        Ok(RateLimits {
            settings,
            #[cfg(feature = "redis")]
            redis,
            limiters: RwLock::default(),
            logged: Mutex::default(),
            failing: AtomicBool::new(false),
            counters,
        })
    }

    /// Callers tracked by the in-memory limiters now.
    pub(crate) fn tracked_callers(&self) -> usize {
        let limiters = self.limiters.read().unwrap_or_else(|p| p.into_inner());
        limiters
            .values()
            .flatten()
            .map(|(_, limiter)| match &**limiter {
                Limiter::Memory(memory) => memory.tracked(),
                #[cfg(feature = "redis")]
                Limiter::Redis(_) => 0,
            })
            .sum()
    }

    /// The limiter of the limit `name`, made on first use: a route layer keeps it, so its
    /// requests skip this look-up.
    pub(crate) fn limiter(&self, name: &str, quota: Quota) -> LimiterRef {
        LimiterRef(self.find_or_make(name, quota))
    }

    fn find_or_make(&self, name: &str, quota: Quota) -> Arc<Limiter> {
        let find = |limiters: &ByName| {
            limiters.get(name).and_then(|by_quota| {
                by_quota
                    .iter()
                    .find(|(q, _)| *q == quota)
                    .map(|(_, limiter)| Arc::clone(limiter))
            })
        };
        if let Some(found) = find(&self.limiters.read().unwrap_or_else(|p| p.into_inner())) {
            return found;
        }
        let mut limiters = self.limiters.write().unwrap_or_else(|p| p.into_inner());
        if let Some(found) = find(&limiters) {
            return found;
        }
        let made = Arc::new(self.make(name, quota));
        limiters
            .entry(Box::from(name))
            .or_default()
            .push((quota, Arc::clone(&made)));
        made
    }

    fn make(&self, name: &str, quota: Quota) -> Limiter {
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.redis {
            return Limiter::Redis(redis::RedisLimiter::new(
                Arc::clone(redis),
                &self.settings.redis_prefix,
                name,
                quota,
            ));
        }
        let _ = name;
        Limiter::Memory(MemoryLimiter::new(quota, self.settings.max_callers))
    }

    /// One request of `caller` against the limit `name`.
    pub(crate) async fn check(&self, name: &str, quota: Quota, caller: &String) -> Verdict {
        let limiter = self.limiter(name, quota);
        self.check_on(&limiter, name, caller).await
    }

    /// One request of `caller` on `limiter` (of the limit `name`).
    pub(crate) async fn check_on(
        &self,
        limiter: &LimiterRef,
        name: &str,
        caller: &String,
    ) -> Verdict {
        let decision: Result<Decision, String> = match &*limiter.0 {
            Limiter::Memory(memory) => {
                let decision = memory.check(caller);
                if memory.first_overflow() {
                    tracing::warn!(target: "route_guard", limit = name, max_callers = self.settings.max_callers, "the rate limiter's table is full of live callers: new callers pass untracked until some go idle (raise rate_limit_max_callers)");
                }
                Ok(decision)
            }
            #[cfg(feature = "redis")]
            Limiter::Redis(redis) => redis.check(caller).await,
        };
        match decision {
            Ok(decision) => {
                // Read first: a write on every request would bounce the line between cores.
                if self.failing.load(Relaxed) && self.failing.swap(false, Relaxed) {
                    tracing::info!(target: "route_guard", "the rate limit store answers again");
                }
                if decision.allowed {
                    return Verdict::Pass(Some(decision));
                }
                self.counters.rejected(RejectionReason::RateLimited);
                self.log_limited(name, caller, decision);
                Verdict::Limited(decision)
            }
            Err(error) => {
                self.counters.rate_limit_store_failure();
                if !self.failing.swap(true, Relaxed) {
                    tracing::error!(target: "route_guard", %error, fail_closed = self.settings.fail_closed, "the rate limit store does not answer: requests {} until it does", if self.settings.fail_closed { "get 503" } else { "pass unlimited" });
                }
                if self.settings.fail_closed {
                    self.counters
                        .rejected(RejectionReason::RateLimitUnavailable);
                    Verdict::Unavailable
                } else {
                    Verdict::Pass(None)
                }
            }
        }
    }

    fn log_limited(&self, name: &str, caller: &str, decision: Decision) {
        let key = format!("{name}\u{0}{caller}");
        let now = Instant::now();
        let window = decision.quota.window();
        let mut logged = self.logged.lock().unwrap_or_else(|p| p.into_inner());
        if logged
            .get(&key)
            .is_some_and(|last| now.duration_since(*last) < window)
        {
            return;
        }
        if logged.len() >= MAX_LOGGED {
            logged.retain(|_, last| now.duration_since(*last) < window);
            if logged.len() >= MAX_LOGGED {
                logged.clear();
            }
        }
        logged.insert(key, now);
        drop(logged);
        tracing::info!(target: "route_guard", limit = name, %caller, quota = %decision.quota, retry_after_s = decision.retry_after.as_secs_f64().ceil(), "rate limit reached");
    }
}
