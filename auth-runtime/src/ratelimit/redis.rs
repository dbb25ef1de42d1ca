//! The limiter shared through Redis (feature `redis`): one atomic GCRA step per request, a Lua
//! script on Redis's own clock (so instances with skewed clocks count alike), keys that expire
//! when the caller's bucket is full again.

use std::sync::Arc;
use std::time::Duration;

use super::{Decision, Quota};
use crate::store::{RedisConnection, Script};

/// KEYS: the caller's key. ARGV: the interval one request costs, in µs; the burst (the quota).
/// The stored value is the caller's theoretical arrival time (TAT) in µs. Answers
/// `{allowed, remaining, retry_after_us, reset_us}`.
const GCRA: &str = r#"
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local capacity = interval * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local after = tat + interval
if after - now > capacity then
  return {0, 0, after - capacity - now, tat - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', after), 'PX', math.ceil((after - now) / 1000))
return {1, math.floor((capacity - (after - now)) / interval), 0, after - now}
"#;

static SCRIPT: Script = Script::new("rate limit", GCRA);

pub(super) struct RedisLimiter {
    redis: Arc<RedisConnection>,
    prefix: String,
    quota: Quota,
    interval_us: u64,
}

impl RedisLimiter {
    pub(super) fn new(redis: Arc<RedisConnection>, prefix: &str, name: &str, quota: Quota) -> Self {
        let interval = quota.window() / quota.requests().max(1);
        RedisLimiter {
            redis,
            prefix: format!("{prefix}{name}:"),
            quota,
            interval_us: (interval.as_micros() as u64).max(1),
        }
    }

    pub(super) async fn check(&self, caller: &str) -> Result<Decision, String> {
        let keys = [format!("{}{caller}", self.prefix)];
        let args = [self.interval_us, u64::from(self.quota.requests())];
        let reply = self.redis.script(&SCRIPT, &keys, &args).await?;
        let micros = |v: i64| Duration::from_micros(u64::try_from(v).unwrap_or(0));
        match reply.as_slice() {
            [allowed, remaining, retry_after, reset] => Ok(Decision {
                allowed: *allowed == 1,
                quota: self.quota,
                remaining: u32::try_from(*remaining).unwrap_or(0),
                reset: micros(if *allowed == 1 { *reset } else { *retry_after }),
                retry_after: micros(*retry_after),
            }),
            other => Err(format!("the Redis rate limit script answered {other:?}")),
        }
    }
}
