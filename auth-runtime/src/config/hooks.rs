//! The plug-in points a setting takes, defined here so that the floor names them and nothing
//! above it: the domain resolver, the DPoP replay store and the custom error body.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// What a [domain resolver](crate::AuthenticatorBuilder::domain_resolver) is asked: the request's host
/// and path and the token's issuer, not yet verified (so do not trust it beyond choosing).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssuerRequest {
    /// The request's `Host` (with the port, if any); `None` outside a request.
    pub host: Option<String>,
    /// The request path; empty outside a request.
    pub path: String,
    /// The token's `iss`, unverified.
    pub issuer: String,
}

/// A domain resolver failed: logged, and the request answered 503.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ResolverError(pub String);

impl From<&str> for ResolverError {
    fn from(message: &str) -> Self {
        ResolverError(message.to_owned())
    }
}

impl From<String> for ResolverError {
    fn from(message: String) -> Self {
        ResolverError(message)
    }
}

pub(crate) type ResolverFuture =
    Pin<Box<dyn Future<Output = Result<Vec<String>, ResolverError>> + Send>>;

/// The resolver as stored: any async function from the request to the allowed domains.
#[derive(Clone)]
pub(crate) struct Resolver(pub(crate) Arc<dyn Fn(IssuerRequest) -> ResolverFuture + Send + Sync>);

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Resolver(..)")
    }
}

/// The future a [`ReplayStore`] returns.
pub type ReplayFuture<'a> =
    Pin<Box<dyn Future<Output = Result<bool, ReplayStoreError>> + Send + 'a>>;

/// Remembers DPoP proofs so each is accepted once (RFC 9449 §11.1).
///
/// route-guard calls [`insert`](Self::insert) once per DPoP request, after every other check
/// passed, with a key derived from the proof's `jti` and key thumbprint and the time after which
/// the proof could no longer pass the `iat` window anyway. Share one store between all instances
/// of a service (the `redis` feature's store does) so that a proof accepted by one is refused by
/// the others.
///
/// An error fails the request closed with 503 and `Retry-After`: the check is never skipped.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use std::collections::HashSet;
/// use std::sync::Mutex;
/// use std::time::Duration;
/// use route_guard::{ReplayFuture, ReplayStore, ReplayStoreError};
///
/// /// Forgets nothing: for a demonstration only.
/// #[derive(Default)]
/// struct Forever(Mutex<HashSet<String>>);
///
/// impl ReplayStore for Forever {
///     fn insert<'a>(&'a self, key: &'a str, _ttl: Duration) -> ReplayFuture<'a> {
///         let first = match self.0.lock() {
///             Ok(mut seen) => Ok(seen.insert(key.to_owned())),
///             Err(_) => Err(ReplayStoreError::from("the set is poisoned")),
///         };
///         Box::pin(std::future::ready(first))
///     }
/// }
/// ```
pub trait ReplayStore: Send + Sync + 'static {
    /// Records `key` for `ttl`. `Ok(true)`: it was not there (first use); `Ok(false)`: it was
    /// (a replay). Must be atomic: of two concurrent calls with one key, one gets `true`.
    fn insert<'a>(&'a self, key: &'a str, ttl: Duration) -> ReplayFuture<'a>;

    /// Records `key` for `ttl` on behalf of `owner` (a digest of the proof key's thumbprint),
    /// unless `owner` already holds `quota` live entries: so that one client minting proofs as
    /// fast as it can cannot fill the store and deny every other client. A replay is reported as
    /// such whatever the quota; a proof over the quota is not recorded.
    ///
    /// route-guard calls this, not [`insert`](Self::insert). The default has no per-owner bound
    /// (it records with `insert`); [`MemoryReplayStore`](crate::MemoryReplayStore) and the Redis
    /// store enforce the quota.
    fn insert_bounded<'a>(
        &'a self,
        owner: &'a str,
        key: &'a str,
        ttl: Duration,
        quota: usize,
    ) -> BoundedFuture<'a> {
        let _ = (owner, quota);
        Box::pin(async move {
            Ok(match self.insert(key, ttl).await? {
                true => Recorded::First,
                false => Recorded::Replayed,
            })
        })
    }
}

/// The future [`ReplayStore::insert_bounded`] returns.
pub type BoundedFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Recorded, ReplayStoreError>> + Send + 'a>>;

/// What a [`ReplayStore`] did with one proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Recorded {
    /// The first use: recorded.
    First,
    /// Seen before: a replay.
    Replayed,
    /// The owner already holds its quota of live proofs: not recorded. `retry_after` is how
    /// long until the oldest of them expires (at least a second).
    OverQuota {
        /// When a retry can succeed.
        retry_after: Duration,
    },
}

/// A [`ReplayStore`] could not answer; the message is logged, never sent to clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ReplayStoreError(pub String);

impl From<&str> for ReplayStoreError {
    fn from(message: &str) -> Self {
        ReplayStoreError(message.to_owned())
    }
}

impl From<String> for ReplayStoreError {
    fn from(message: String) -> Self {
        ReplayStoreError(message)
    }
}

/// The custom error body of `AuthenticatorBuilder::error_body`. The layer that renders
/// responses (`axum`) sets it and reads it back from the Authenticator; config only carries it,
/// as an opaque value, so that the floor never names a type of a layer above it.
#[derive(Clone)]
pub(crate) struct ErrorBody(Arc<dyn Any + Send + Sync>);

impl ErrorBody {
    pub(crate) fn new<T: Any + Send + Sync>(render: T) -> Self {
        ErrorBody(Arc::new(render))
    }

    /// The renderer, if it is a `T` (it always is: only one layer sets it).
    pub(crate) fn get<T: Any>(&self) -> Option<&T> {
        self.0.downcast_ref()
    }
}

impl fmt::Debug for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ErrorBody(..)")
    }
}
