//! A [`ReplayStore`] in Redis (feature `redis`): one atomic round trip per proof (a script:
//! the replay check, the proof key's live count in a sorted set, the `SET ... PX <ttl>`), so
//! instances sharing one Redis accept each proof once between them and bound each client alike.

use std::sync::OnceLock;
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
    redis: RedisConnection,
    prefix: String,
}

impl std::fmt::Debug for RedisReplayStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: show neither.
        f.debug_struct("RedisReplayStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.redis.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisReplayStore {
    /// A store for the Redis at `url` (`redis://[:password@]host:port[/db]` or `rediss://`).
    /// Nothing is connected until the first DPoP request.
    pub fn new(url: &str) -> Result<Self, ConfigError> {
        Ok(RedisReplayStore {
            redis: RedisConnection::new(url, "AUTH0_DPOP_REPLAY_REDIS_URL")?,
            prefix: "route-guard:dpop:jti:".to_owned(),
        })
    }

    /// The prefix of every key (default `route-guard:dpop:jti:`).
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The longest a command may take before the request fails closed (default 1 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.redis.timeout = timeout;
        self
    }

    async fn set_nx(&self, key: &str, ttl: Duration) -> Result<bool, ReplayStoreError> {
        let mut connection = self.redis.connection().await.map_err(ReplayStoreError)?;
        let mut command = redis::cmd("SET");
        command
            .arg(format!("{}{key}", self.prefix))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl));
        let timeout = self.redis.timeout;
        let reply = tokio::time::timeout(
            timeout,
            command.query_async::<Option<String>>(&mut connection),
        )
        .await
        .map_err(|_| ReplayStoreError(format!("Redis did not answer within {timeout:?}")))?
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
        let keys = [
            format!("{}{{{owner}}}:{key}", self.prefix),
            format!("{}{{{owner}}}:live", self.prefix),
        ];
        let args = [millis(ttl), quota as u64];
        let reply = self
            .redis
            .script(&BOUNDED, &keys, &args)
            .await
            .map_err(ReplayStoreError)?;
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

static BOUNDED: Script = Script::new("replay", BOUNDED_INSERT);

/// A Lua script run with `EVALSHA` (sent whole with `EVAL` only when Redis does not have it
/// cached), its SHA-1 computed once.
pub(crate) struct Script {
    name: &'static str,
    body: &'static str,
    sha1: OnceLock<String>,
}

impl Script {
    pub(crate) const fn new(name: &'static str, body: &'static str) -> Self {
        Script {
            name,
            body,
            sha1: OnceLock::new(),
        }
    }

    /// The SHA-1 of the body in hex, as `EVALSHA` names it (a name, not a security measure).
    fn sha1(&self) -> &str {
        self.sha1.get_or_init(|| {
            let digest = aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
                self.body.as_bytes(),
            );
            digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
        })
    }
}

/// A lazily made, self-healing connection to one Redis (redis' connection manager), with a
/// timeout on every command: what the DPoP replay store and the rate limiter share.
pub(crate) struct RedisConnection {
    client: redis::Client,
    manager: OnceCell<ConnectionManager>,
    pub(crate) timeout: Duration,
}

impl RedisConnection {
    /// A connection to `url`, made on first use; `setting` names the URL's setting in the
    /// error.
    pub(crate) fn new(url: &str, setting: &'static str) -> Result<Self, ConfigError> {
        // The parse error may quote the URL, password included: say only what to write.
        let client = redis::Client::open(url.trim()).map_err(|_| ConfigError::InvalidSetting {
            setting,
            reason: "not a valid Redis URL: use redis://[:password@]host:port[/db]".to_owned(),
        })?;
        Ok(RedisConnection {
            client,
            manager: OnceCell::new(),
            timeout: Duration::from_secs(1),
        })
    }

    async fn connection(&self) -> Result<ConnectionManager, String> {
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
            .map_err(|e| format!("Redis connection failed: {e}"))?;
        Ok(manager.clone())
    }

    /// Runs `script` atomically over `keys` with `args`; its integer array reply.
    pub(crate) async fn script(
        &self,
        script: &Script,
        keys: &[String],
        args: &[u64],
    ) -> Result<Vec<i64>, String> {
        let connection = self.connection().await?;
        let command = |name: &str, body: &str| {
            let mut cmd = redis::cmd(name);
            cmd.arg(body).arg(keys.len()).arg(keys).arg(args);
            cmd
        };
        let timeout = self.timeout;
        let run = |cmd: redis::Cmd, mut connection: ConnectionManager| async move {
            tokio::time::timeout(timeout, cmd.query_async::<Vec<i64>>(&mut connection))
                .await
                .map_err(|_| format!("Redis did not answer within {timeout:?}"))
        };
        match run(command("EVALSHA", script.sha1()), connection.clone()).await? {
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                run(command("EVAL", script.body), connection).await?
            }
            other => other,
        }
        .map_err(|e| format!("Redis {} script failed: {e}", script.name))
    }
}
