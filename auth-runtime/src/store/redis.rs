//! A [`ReplayStore`] in Redis (feature `redis`): one atomic `SET key 1 NX PX <ttl>` per proof,
//! so instances sharing one Redis accept each proof once between them.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

use crate::config::{ConfigError, ReplayFuture, ReplayStore, ReplayStoreError};

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

    async fn set_nx(&self, key: &str, ttl: Duration) -> Result<bool, ReplayStoreError> {
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
        let mut connection = manager.clone();
        let ttl_ms = ttl.as_millis().clamp(1, u128::from(u64::MAX)) as u64;
        let mut command = redis::cmd("SET");
        command
            .arg(format!("{}{key}", self.prefix))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms);
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
}

impl ReplayStore for RedisReplayStore {
    fn insert<'a>(&'a self, key: &'a str, ttl: Duration) -> ReplayFuture<'a> {
        Box::pin(self.set_nx(key, ttl))
    }
}
