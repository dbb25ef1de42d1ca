//! A [`ReplayStore`] in Redis (feature `redis`): one atomic round trip per proof (a script:
//! the replay check, the proof key's live count in a sorted set, the `SET ... PX <ttl>`), so
//! instances sharing one Redis accept each proof once between them and bound each client alike.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

use crate::config::{
    BoundedFuture, ConfigError, Recorded, ReplayFuture, ReplayStore, ReplayStoreError,
};

/// The bounded insert, atomic in Redis. KEYS: the proof, the owner's sorted set of expiry times
/// (one `{owner}` hash tag, so a cluster keeps both on one slot). ARGV: the TTL in ms, the quota.
/// Answers `{1, 0}` recorded, `{0, 0}` a replay, `{2, ms}` over the quota until the oldest
/// expires. Redis's own clock, so every instance counts alike.
const BOUNDED_INSERT: &str = r#"
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 1 then return {0, 0} end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {2, tonumber(oldest[2]) - now}
end
redis.call('SET', KEYS[1], 1, 'PX', ttl)
redis.call('ZADD', KEYS[2], now + ttl, KEYS[1])
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
return {1, 0}
"#;

/// Remembers DPoP proof `jti`s in Redis; select it with
/// [`dpop_replay_redis`](crate::AuthenticatorBuilder::dpop_replay_redis) or
/// `AUTH0_DPOP_REPLAY_REDIS_URL`.
///
/// The connection is made on first use and re-made after a failure, by redis' connection
/// manager. Each command is bounded by a timeout (default 1 s); a failure or timeout fails the
/// DPoP request closed with 503.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use std::time::Duration;
/// use route_guard::{Authenticator, RedisReplayStore};
///
/// let store = RedisReplayStore::new("redis://127.0.0.1:6379/0")?
///     .key_prefix("orders-api:dpop:")
///     .timeout(Duration::from_millis(500));
/// let auth = Authenticator::builder()
///     .domain("tenant.us.auth0.com")
///     .audience("https://api.example.com")
///     .dpop_replay_store(store)
///     .build()?;
/// # Ok::<(), route_guard::ConfigError>(())
/// ```
pub struct RedisReplayStore {
    client: redis::Client,
    manager: OnceCell<ConnectionManager>,
    prefix: String,
    timeout: Duration,
}

impl std::fmt::Debug for RedisReplayStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: show neither.
        f.debug_struct("RedisReplayStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisReplayStore {
    /// A store for the Redis at `url` (`redis://[:password@]host:port[/db]` or `rediss://`).
    /// Nothing is connected until the first DPoP request.
    pub fn new(url: &str) -> Result<Self, ConfigError> {
        // The parse error may quote the URL, password included: say only what to write.
        let client = redis::Client::open(url.trim()).map_err(|_| ConfigError::InvalidSetting {
            setting: "AUTH0_DPOP_REPLAY_REDIS_URL",
            reason: "not a valid Redis URL: use redis://[:password@]host:port[/db]".to_owned(),
        })?;
        Ok(RedisReplayStore {
            client,
            manager: OnceCell::new(),
            prefix: "route-guard:dpop:jti:".to_owned(),
            timeout: Duration::from_secs(1),
        })
    }

    /// The prefix of every key (default `route-guard:dpop:jti:`).
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The longest a command may take before the request fails closed (default 1 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn connection(&self) -> Result<ConnectionManager, ReplayStoreError> {
        let manager = self
            .manager
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.timeout))
                    .set_response_timeout(Some(self.timeout))
                    .set_number_of_retries(1)
                    .set_min_delay(Duration::from_millis(20))
                    .set_max_delay(Duration::from_millis(200));
                ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            })
            .await
            .map_err(|e| ReplayStoreError(format!("Redis connection failed: {e}")))?;
        Ok(manager.clone())
    }

    async fn set_nx(&self, key: &str, ttl: Duration) -> Result<bool, ReplayStoreError> {
        let mut connection = self.connection().await?;
        let mut command = redis::cmd("SET");
        command
            .arg(format!("{}{key}", self.prefix))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl));
        let reply = tokio::time::timeout(
            self.timeout,
            command.query_async::<Option<String>>(&mut connection),
        )
        .await
        .map_err(|_| ReplayStoreError(format!("Redis did not answer within {:?}", self.timeout)))?
        .map_err(|e| ReplayStoreError(format!("Redis SET NX failed: {e}")))?;
        // `OK` when the key was set, nil when it already existed.
        Ok(reply.is_some())
    }

    async fn bounded(
        &self,
        owner: &str,
        key: &str,
        ttl: Duration,
        quota: usize,
    ) -> Result<Recorded, ReplayStoreError> {
        let connection = self.connection().await?;
        let keys = [
            format!("{}{{{owner}}}:{key}", self.prefix),
            format!("{}{{{owner}}}:live", self.prefix),
        ];
        let script = |command: &str, body: &str| {
            let mut cmd = redis::cmd(command);
            cmd.arg(body).arg(2).arg(&keys).arg(millis(ttl)).arg(quota);
            cmd
        };
        let run = |cmd: redis::Cmd, mut connection: ConnectionManager| async move {
            tokio::time::timeout(self.timeout, cmd.query_async::<Vec<i64>>(&mut connection))
                .await
                .map_err(|_| {
                    ReplayStoreError(format!("Redis did not answer within {:?}", self.timeout))
                })
        };
        // The script is cached by Redis under its SHA-1; sent whole only when it is not.
        let reply = match run(script("EVALSHA", &script_sha1()), connection.clone()).await? {
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                run(script("EVAL", BOUNDED_INSERT), connection.clone()).await?
            }
            other => other,
        }
        .map_err(|e| ReplayStoreError(format!("Redis replay script failed: {e}")))?;
        match reply.as_slice() {
            [1, _] => Ok(Recorded::First),
            [0, _] => Ok(Recorded::Replayed),
            [2, ms] => Ok(Recorded::OverQuota {
                retry_after: Duration::from_millis(u64::try_from(*ms).unwrap_or(0))
                    .max(Duration::from_secs(1)),
            }),
            other => Err(ReplayStoreError(format!(
                "the Redis replay script answered {other:?}"
            ))),
        }
    }
}

impl ReplayStore for RedisReplayStore {
    fn insert<'a>(&'a self, key: &'a str, ttl: Duration) -> ReplayFuture<'a> {
        Box::pin(self.set_nx(key, ttl))
    }

    fn insert_bounded<'a>(
        &'a self,
        owner: &'a str,
        key: &'a str,
        ttl: Duration,
        quota: usize,
    ) -> BoundedFuture<'a> {
        Box::pin(self.bounded(owner, key, ttl, quota))
    }
}

fn millis(ttl: Duration) -> u64 {
    ttl.as_millis().clamp(1, u128::from(u64::MAX)) as u64
}

/// The SHA-1 of [`BOUNDED_INSERT`] in hex, as `EVALSHA` names it (a name, not a security
/// measure).
fn script_sha1() -> String {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        BOUNDED_INSERT.as_bytes(),
    );
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}
