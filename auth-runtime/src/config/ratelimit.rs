//! The builder's rate-limit settings: where callers' budgets live (this process, or a Redis
//! shared by every instance), what happens when that store does not answer, and how many
//! callers one in-memory limit tracks.

use super::settings::RateLimitSettings;
use super::AuthenticatorBuilder;

impl AuthenticatorBuilder {
    /// Keeps rate-limit budgets in Redis at `url` (`redis://host:port/db`; feature `redis`), so
    /// every instance sharing it spends one budget per caller: one atomic step per request (a
    /// Lua script, `EVALSHA`), keys that expire when a caller's budget is full again. Default:
    /// in memory, per instance.
    pub fn rate_limit_redis(mut self, url: impl Into<String>) -> Self {
        self.rate_limits.redis_url = Some(url.into());
        self
    }

    /// The prefix of the rate limiter's Redis keys (default `route-guard:rl:`).
    pub fn rate_limit_redis_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.rate_limits.redis_prefix = prefix.into();
        self
    }

    /// When the rate limit store does not answer: `false` (the default) lets requests pass
    /// unlimited (logged once at error level, counted in
    /// [`Stats::rate_limit_store_failures`](crate::Stats::rate_limit_store_failures)); `true`
    /// answers 503 `temporarily_unavailable` instead.
    pub fn rate_limit_fail_closed(mut self, fail_closed: bool) -> Self {
        self.rate_limits.fail_closed = fail_closed;
        self
    }

    /// The most callers one in-memory limit tracks (default 100,000). Callers idle for a whole
    /// window are dropped when room is needed; while every tracked caller is live, a new one
    /// passes untracked (logged once) rather than pushing a live one out.
    pub fn rate_limit_max_callers(mut self, max_callers: usize) -> Self {
        self.rate_limits.max_callers = max_callers;
        self
    }
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings {
            redis_url: None,
            redis_prefix: "route-guard:rl:".to_owned(),
            fail_closed: false,
            max_callers: 100_000,
        }
    }
}
