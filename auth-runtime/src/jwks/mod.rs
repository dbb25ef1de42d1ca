//! The per-issuer JWKS cache: lock-free reads, single-flight fetches, stale-if-error, and an
//! unknown-`kid` cooldown so random `kid`s cannot make us hammer the issuer.

mod fetch;
mod issuers;
pub(crate) mod key;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use aws_lc_rs::signature::ParsedPublicKey;

use crate::config::{Algorithm, Settings};
use crate::stats::Counters;
use fetch::{FetchError, Resolved};
use key::VerifyingKey;

pub(crate) use fetch::client;
#[cfg(any(feature = "aide", feature = "utoipa", feature = "utoipa6"))]
pub(crate) use fetch::{oauth_endpoints, OAuthEndpoints};
pub(crate) use issuers::IssuerCaches;
pub(crate) use key::parse_key;

/// Unknown `kid`s remembered at most (about 256 KiB with the longest `kid`s), for diagnostics.
const MAX_UNKNOWN_KIDS: usize = 1024;
/// A `kid` longer than this is never remembered (it cannot be a real one).
const MAX_REMEMBERED_KID_BYTES: usize = 256;

/// One downloaded key set, swapped in whole.
pub(crate) struct KeySet {
    pub(crate) issuer: Arc<str>,
    /// Distinct for every successful fetch: tokens verified with an older set are not trusted
    /// from the verified-token cache.
    pub(crate) generation: u64,
    keys: Vec<VerifyingKey>,
}

/// Why no key could be picked for a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyError {
    /// The `kid` is not in the issuer's key set, even after a refetch (or during the cooldown).
    UnknownKid,
    /// The token has no `kid` and more than one key could verify it.
    AmbiguousKey,
    /// The key named by `kid` cannot verify this `alg` (type, curve or stated `alg` differ).
    AlgorithmMismatch,
    /// The token claims another issuer than the one whose keys these are.
    ForeignIssuer,
    /// No key set has loaded yet for the issuer (it has been unreachable since start-up).
    Unavailable(String),
}

impl KeySet {
    /// The parsed key for the token's `kid` and `alg`.
    pub(crate) fn find(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<&ParsedPublicKey, KeyError> {
        match kid {
            Some(kid) => {
                if !self.has_kid(kid) {
                    return Err(KeyError::UnknownKid);
                }
                self.keys
                    .iter()
                    .filter(|k| k.kid.as_deref() == Some(kid))
                    .find_map(|k| k.for_alg(alg))
                    .ok_or(KeyError::AlgorithmMismatch)
            }
            None => {
                // Without a `kid`, only an unambiguous key set may answer.
                let mut fitting = self.keys.iter().filter_map(|k| k.for_alg(alg));
                match (fitting.next(), fitting.next()) {
                    (Some(key), None) => Ok(key),
                    (None, _) => Err(KeyError::AlgorithmMismatch),
                    (Some(_), Some(_)) => Err(KeyError::AmbiguousKey),
                }
            }
        }
    }

    fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }
}

#[derive(Default)]
struct UnknownKids {
    kids: HashSet<String>,
    /// When the last unknown-`kid` refetch was claimed, and the attempt count it started from.
    last_refetch: Option<(Instant, u64)>,
}

enum UnknownKidPlan {
    Reject,
    Refetch(u64),
}

struct FetchState {
    resolved: Option<Resolved>,
}

pub(crate) struct JwksCache {
    settings: Arc<Settings>,
    client: reqwest::Client,
    counters: Arc<Counters>,
    current: ArcSwapOption<KeySet>,
    /// Serialises fetches: whoever holds it fetches, everyone else waits for that result.
    fetch: tokio::sync::Mutex<FetchState>,
    /// Completed fetch attempts; a waiter that sees it move knows a fetch happened meanwhile.
    attempts: AtomicU64,
    /// When the keys should be refreshed, in ms since `epoch`.
    refresh_at_ms: AtomicU64,
    /// When the last attempt failed, and why (for logs and `warm_up`); `None` after a success.
    last_failure: Mutex<Option<(Instant, String)>>,
    refreshing: AtomicBool,
    unknown: Mutex<UnknownKids>,
    epoch: Instant,
}

impl JwksCache {
    pub(crate) fn new(
        settings: Arc<Settings>,
        client: reqwest::Client,
        counters: Arc<Counters>,
    ) -> Self {
        JwksCache {
            settings,
            client,
            counters,
            current: ArcSwapOption::empty(),
            fetch: tokio::sync::Mutex::new(FetchState { resolved: None }),
            attempts: AtomicU64::new(0),
            refresh_at_ms: AtomicU64::new(0),
            last_failure: Mutex::new(None),
            refreshing: AtomicBool::new(false),
            unknown: Mutex::new(UnknownKids::default()),
            epoch: Instant::now(),
        }
    }

    /// The current key set, if any was loaded (no I/O).
    pub(crate) fn current(&self) -> Option<Arc<KeySet>> {
        self.current.load_full()
    }

    /// The generation of the current key set, if any (no reference count taken), after
    /// starting a background refresh if the keys are past their TTL: what a cached token is
    /// checked against on every request.
    pub(crate) fn current_generation(self: &Arc<Self>) -> Option<u64> {
        let generation = self.current.load().as_ref()?.generation;
        self.refresh_if_stale();
        Some(generation)
    }

    /// How many unknown `kid`s were refused since the last successful fetch (bounded): for
    /// diagnostics only; the cooldown alone decides whether a `kid` may cause a refetch.
    pub(crate) fn unknown_kids_remembered(&self) -> usize {
        self.unknown.lock().map_or(0, |u| u.kids.len())
    }

    /// The key set to verify a token with `kid` whose issuer `accepts` (given the key set's
    /// issuer): loads it if the cache is cold,
    /// refuses a token of another issuer before any key lookup (so it can never start an
    /// unknown-`kid` cooldown), refetches once for an unknown `kid` (then cools down), and
    /// refreshes stale keys in the background.
    pub(crate) async fn key_set(
        self: &Arc<Self>,
        accepts: &(dyn Fn(&str) -> bool + Sync),
        kid: Option<&str>,
    ) -> Result<Arc<KeySet>, KeyError> {
        let (mut set, just_loaded) = match self.current.load_full() {
            Some(set) => (set, false),
            None => {
                self.load_cold().await;
                let set = self
                    .current
                    .load_full()
                    .ok_or_else(|| KeyError::Unavailable(self.failure_reason()))?;
                (set, true)
            }
        };
        self.refresh_if_stale();
        if !accepts(&set.issuer) {
            return Err(KeyError::ForeignIssuer);
        }
        let Some(kid) = kid else {
            return Ok(set);
        };
        if set.has_kid(kid) {
            return Ok(set);
        }
        match self.unknown_kid_plan(kid, just_loaded) {
            // No fetch; but a refetch may have completed since `set` was read, and the keys it
            // brought are read below.
            UnknownKidPlan::Reject => {}
            // Either this request claimed the one refetch, or it joins the refetch in flight:
            // both pass the same attempt number, so exactly one fetch happens.
            UnknownKidPlan::Refetch(seen) => self.refresh_from(seen).await,
        }
        if let Some(fresh) = self.current.load_full() {
            set = fresh;
        }
        if accepts(&set.issuer) && set.has_kid(kid) {
            Ok(set)
        } else {
            self.remember_unknown(kid);
            Err(KeyError::UnknownKid)
        }
    }

    /// Loads the keys now unless they are already loaded; returns the failure otherwise.
    pub(crate) async fn warm_up(&self) -> Result<(), String> {
        self.load_cold().await;
        if self.current.load().is_some() {
            Ok(())
        } else {
            Err(self.failure_reason())
        }
    }

    /// Decides what a request with an unknown `kid` does: reject at once while the cooldown of
    /// the last unknown-`kid` refetch lasts, otherwise refetch the key set (at most once per
    /// cooldown; concurrent requests with unknown `kid`s share that one fetch).
    ///
    /// A `kid` refused before is not refused for longer than anyone else: after a key rotation
    /// the new `kid` may first arrive during a cooldown (started by a forged token) or before a
    /// lagging JWKS lists it, and must be accepted once the cooldown is over.
    fn unknown_kid_plan(&self, kid: &str, just_loaded: bool) -> UnknownKidPlan {
        let Ok(mut unknown) = self.unknown.lock() else {
            return UnknownKidPlan::Reject;
        };
        let attempts = self.attempts.load(Ordering::Acquire);
        if just_loaded {
            // The set was fetched a moment ago: another fetch would tell nothing new.
            unknown.last_refetch = Some((Instant::now(), attempts));
            remember(&mut unknown, kid);
            return UnknownKidPlan::Reject;
        }
        match unknown.last_refetch {
            // The refetch claimed by another request has not completed yet: wait for it.
            Some((_, seen)) if seen == attempts => UnknownKidPlan::Refetch(seen),
            Some((at, _)) if at.elapsed() < self.settings.unknown_kid_cooldown => {
                remember(&mut unknown, kid);
                UnknownKidPlan::Reject
            }
            _ => {
                unknown.last_refetch = Some((Instant::now(), attempts));
                UnknownKidPlan::Refetch(attempts)
            }
        }
    }

    fn remember_unknown(&self, kid: &str) {
        if let Ok(mut unknown) = self.unknown.lock() {
            remember(&mut unknown, kid);
        }
    }

    /// Starts a background refresh when the keys are past their TTL (one atomic load otherwise).
    /// Every verification calls it, cached ones included, so a busy service keeps its keys fresh.
    pub(crate) fn refresh_if_stale(self: &Arc<Self>) {
        if self.now_ms() >= self.refresh_at_ms.load(Ordering::Acquire) {
            self.refresh_in_background();
        }
    }

    fn refresh_in_background(self: &Arc<Self>) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let cache = Arc::clone(self);
        handle.spawn(async move {
            cache.refresh().await;
            cache.refreshing.store(false, Ordering::Release);
        });
    }

    /// Loads the keys when none are loaded yet; any number of concurrent callers share one
    /// fetch. The attempt counter is read before looking at the keys again: a caller that saw no
    /// keys a moment ago may find that a fetch completed meanwhile, and must not start another
    /// (keys are stored before the counter moves, so either the keys are visible here or the
    /// counter this caller read is already stale and `refresh_from` returns at once).
    async fn load_cold(&self) {
        let seen = self.attempts.load(Ordering::Acquire);
        if self.current.load().is_some() {
            return;
        }
        self.refresh_from(seen).await;
    }

    /// Single-flight fetch: concurrent callers share one attempt's outcome.
    async fn refresh(&self) {
        self.refresh_from(self.attempts.load(Ordering::Acquire))
            .await;
    }

    /// Fetches unless an attempt completed since `seen` (then its outcome is the answer).
    async fn refresh_from(&self, seen: u64) {
        let mut state = self.fetch.lock().await;
        if self.attempts.load(Ordering::Acquire) != seen {
            return;
        }
        if self.in_retry_backoff() {
            return;
        }
        let result = self.fetch_once(&mut state).await;
        let now = self.now_ms();
        match result {
            Ok((resolved_issuer, keys, ttl)) => {
                self.counters.jwks_fetch(true);
                tracing::debug!(target: "route_guard", keys = keys.len(), ttl_s = ttl.as_secs(), "JWKS loaded");
                // The deadline first: a request that sees the new keys must not find the old
                // deadline (0 on a cold cache) and start a refresh of keys just fetched.
                self.refresh_at_ms
                    .store(now.saturating_add(millis(ttl)), Ordering::Release);
                self.current.store(Some(Arc::new(KeySet {
                    issuer: resolved_issuer.into(),
                    // Attempt numbers never repeat; 0 is left for HS256, which has no key set.
                    generation: self.attempts.load(Ordering::Acquire) + 1,
                    keys,
                })));
                if let Ok(mut failure) = self.last_failure.lock() {
                    *failure = None;
                }
                // New keys: every remembered unknown `kid` deserves a fresh look.
                if let Ok(mut unknown) = self.unknown.lock() {
                    unknown.kids.clear();
                }
            }
            Err(err) => {
                self.counters.jwks_fetch(false);
                let stale = self.current.load().is_some();
                tracing::warn!(target: "route_guard", error = %err, serving_stale_keys = stale, "JWKS fetch failed");
                if let Ok(mut failure) = self.last_failure.lock() {
                    *failure = Some((Instant::now(), err.to_string()));
                }
                // Keep the last good keys; try again after the retry interval.
                self.refresh_at_ms.store(
                    now.saturating_add(millis(self.settings.jwks_retry_interval)),
                    Ordering::Relaxed,
                );
            }
        }
        self.attempts.fetch_add(1, Ordering::Release);
    }

    async fn fetch_once(
        &self,
        state: &mut FetchState,
    ) -> Result<(String, Vec<VerifyingKey>, Duration), FetchError> {
        let resolved = match &state.resolved {
            Some(resolved) => resolved.clone(),
            None => {
                let resolved = fetch::resolve(&self.client, &self.settings).await?;
                state.resolved = Some(resolved.clone());
                resolved
            }
        };
        let fetched = fetch::fetch_keys(&self.client, &self.settings, &resolved.jwks_uri).await?;
        Ok((resolved.issuer, fetched.keys, fetched.ttl))
    }

    fn in_retry_backoff(&self) -> bool {
        self.last_failure
            .lock()
            .ok()
            .and_then(|f| f.as_ref().map(|(at, _)| at.elapsed()))
            .is_some_and(|since| since < self.settings.jwks_retry_interval)
    }

    fn failure_reason(&self) -> String {
        self.last_failure
            .lock()
            .ok()
            .and_then(|f| f.as_ref().map(|(_, why)| why.clone()))
            .unwrap_or_else(|| "no keys loaded yet".to_owned())
    }

    fn now_ms(&self) -> u64 {
        millis(self.epoch.elapsed())
    }
}

fn remember(unknown: &mut UnknownKids, kid: &str) {
    if unknown.kids.len() < MAX_UNKNOWN_KIDS && kid.len() <= MAX_REMEMBERED_KID_BYTES {
        unknown.kids.insert(kid.to_owned());
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
