//! Counters an operator can scrape: verifications, rejections by reason, JWKS traffic.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Why a request or token was rejected, as counted by [`Stats`] and logged by route-guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectionReason {
    /// No `Authorization` header, or another scheme than Bearer.
    MissingToken,
    /// A malformed `Authorization` header (empty, two tokens, bad characters, repeated).
    InvalidRequest,
    /// The token is over the size limit or not a well-formed JWS.
    Malformed,
    /// The `alg` is not allowed, or a header is refused (`crit`, `typ`).
    Header,
    /// No key matches the token's `kid` and algorithm.
    UnknownKey,
    /// The issuer's keys could not be loaded.
    KeysUnavailable,
    /// The signature does not verify.
    Signature,
    /// `exp` is in the past (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// A registered claim is missing or of the wrong type, or `iss`/`aud` do not match.
    Claims,
    /// The token is valid, but lacks a scope, permission or role the route requires.
    InsufficientScope,
    /// The token is valid, but the user's authentication is not strong or recent enough (RFC
    /// 9470 step-up: `acr`, `auth_time`).
    InsufficientUserAuthentication,
    /// A DPoP proof is missing, repeated, malformed, or fails a check of RFC 9449 §4.3.
    DpopProof,
    /// The token's DPoP binding does not fit the request: a DPoP-bound token sent as Bearer, an
    /// unbound token sent as DPoP, a Bearer token where DPoP is required, or a proof key other
    /// than the one the token is bound to.
    DpopBinding,
    /// The token's certificate binding (RFC 8705, `cnf.x5t#S256`) does not fit the request: no
    /// client certificate, an unreadable one or another one, a certificate-bound token where
    /// they are not accepted, an unbound token where they are required, or a token bound both
    /// ways.
    CertificateBinding,
    /// An encrypted token (JWE) was refused (not accepted here, its header refused, not
    /// decryptable, not a signed token inside), or a plain one where encryption is required.
    Encryption,
    /// A DPoP proof was presented a second time (its `jti` was seen before).
    DpopReplay,
    /// A DPoP proof lacked the current server nonce (answered with `use_dpop_nonce`).
    DpopNonce,
    /// A DPoP proof key already held its quota of live proofs in the replay store (answered
    /// 429 with `Retry-After`).
    DpopQuota,
    /// The DPoP replay store could not be reached: the request failed closed with 503.
    ReplayStoreUnavailable,
    /// The domain resolver failed: the request was answered 503.
    ResolverUnavailable,
    /// The caller spent its rate-limit budget: answered 429 with `Retry-After`.
    RateLimited,
    /// The rate limit store did not answer and the policy is to fail closed: answered 503.
    RateLimitUnavailable,
}

impl RejectionReason {
    const COUNT: usize = 23;

    /// Every reason, in declaration order.
    pub const ALL: [RejectionReason; Self::COUNT] = [
        RejectionReason::MissingToken,
        RejectionReason::InvalidRequest,
        RejectionReason::Malformed,
        RejectionReason::Header,
        RejectionReason::UnknownKey,
        RejectionReason::KeysUnavailable,
        RejectionReason::Signature,
        RejectionReason::Expired,
        RejectionReason::NotYetValid,
        RejectionReason::Claims,
        RejectionReason::InsufficientScope,
        RejectionReason::InsufficientUserAuthentication,
        RejectionReason::DpopProof,
        RejectionReason::DpopBinding,
        RejectionReason::CertificateBinding,
        RejectionReason::Encryption,
        RejectionReason::DpopReplay,
        RejectionReason::DpopNonce,
        RejectionReason::DpopQuota,
        RejectionReason::ReplayStoreUnavailable,
        RejectionReason::ResolverUnavailable,
        RejectionReason::RateLimited,
        RejectionReason::RateLimitUnavailable,
    ];

    /// A short snake_case name, used in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionReason::MissingToken => "missing_token",
            RejectionReason::InvalidRequest => "invalid_request",
            RejectionReason::Malformed => "malformed",
            RejectionReason::Header => "header",
            RejectionReason::UnknownKey => "unknown_key",
            RejectionReason::KeysUnavailable => "keys_unavailable",
            RejectionReason::Signature => "signature",
            RejectionReason::Expired => "expired",
            RejectionReason::NotYetValid => "not_yet_valid",
            RejectionReason::Claims => "claims",
            RejectionReason::InsufficientScope => "insufficient_scope",
            RejectionReason::InsufficientUserAuthentication => "insufficient_user_authentication",
            RejectionReason::DpopProof => "dpop_proof",
            RejectionReason::DpopBinding => "dpop_binding",
            RejectionReason::CertificateBinding => "certificate_binding",
            RejectionReason::Encryption => "encryption",
            RejectionReason::DpopReplay => "dpop_replay",
            RejectionReason::DpopNonce => "dpop_nonce",
            RejectionReason::DpopQuota => "dpop_quota",
            RejectionReason::ReplayStoreUnavailable => "replay_store_unavailable",
            RejectionReason::ResolverUnavailable => "resolver_unavailable",
            RejectionReason::RateLimited => "rate_limited",
            RejectionReason::RateLimitUnavailable => "rate_limit_unavailable",
        }
    }

    /// `ALL` lists the variants in declaration order, so the discriminant is the index.
    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for RejectionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    verified: AtomicU64,
    cache_hits: AtomicU64,
    dpop_verified: AtomicU64,
    rejected: [AtomicU64; RejectionReason::COUNT],
    jwks_fetches: AtomicU64,
    jwks_failures: AtomicU64,
    rate_limit_store_failures: AtomicU64,
}

impl Counters {
    pub(crate) fn rate_limit_store_failure(&self) {
        self.rate_limit_store_failures.fetch_add(1, Relaxed);
    }

    pub(crate) fn verified(&self) {
        self.verified.fetch_add(1, Relaxed);
    }

    pub(crate) fn cache_hit(&self) {
        self.cache_hits.fetch_add(1, Relaxed);
    }

    pub(crate) fn dpop_verified(&self) {
        self.dpop_verified.fetch_add(1, Relaxed);
    }

    pub(crate) fn rejected(&self, reason: RejectionReason) {
        self.rejected[reason.index()].fetch_add(1, Relaxed);
    }

    pub(crate) fn jwks_fetch(&self, ok: bool) {
        self.jwks_fetches.fetch_add(1, Relaxed);
        if !ok {
            self.jwks_failures.fetch_add(1, Relaxed);
        }
    }

    pub(crate) fn snapshot(&self, unknown_kids: usize, rate_limit_callers: usize) -> Stats {
        let mut rejected = [0; RejectionReason::COUNT];
        for (out, counter) in rejected.iter_mut().zip(&self.rejected) {
            *out = counter.load(Relaxed);
        }
        Stats {
            verified: self.verified.load(Relaxed),
            cache_hits: self.cache_hits.load(Relaxed),
            dpop_verified: self.dpop_verified.load(Relaxed),
            rejected,
            jwks_fetches: self.jwks_fetches.load(Relaxed),
            jwks_failures: self.jwks_failures.load(Relaxed),
            unknown_kids,
            rate_limit_store_failures: self.rate_limit_store_failures.load(Relaxed),
            rate_limit_callers,
        }
    }
}

/// A snapshot of an [`Authenticator`](crate::Authenticator)'s counters, from
/// [`Authenticator::stats`](crate::Authenticator::stats).
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// # let auth = route_guard::Authenticator::builder()
/// #     .domain("tenant.us.auth0.com").audience("https://api").build()?;
/// let stats = auth.stats();
/// assert_eq!(stats.verified(), 0);
/// assert_eq!(stats.rejected(route_guard::RejectionReason::Expired), 0);
/// # Ok::<(), route_guard::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    verified: u64,
    cache_hits: u64,
    dpop_verified: u64,
    rejected: [u64; RejectionReason::COUNT],
    jwks_fetches: u64,
    jwks_failures: u64,
    unknown_kids: usize,
    rate_limit_store_failures: u64,
    rate_limit_callers: usize,
}

impl Stats {
    /// Tokens that passed verification.
    pub fn verified(&self) -> u64 {
        self.verified
    }

    /// Of [`verified`](Self::verified), those answered from the verified-token cache (the same
    /// token seen before, still unexpired, same key set): no signature check needed.
    pub fn verified_from_cache(&self) -> u64 {
        self.cache_hits
    }

    /// Of [`verified`](Self::verified), requests authenticated with a DPoP-bound token and a
    /// valid, first-seen proof.
    pub fn dpop_verified(&self) -> u64 {
        self.dpop_verified
    }

    /// Rejections for one reason.
    pub fn rejected(&self, reason: RejectionReason) -> u64 {
        self.rejected[reason.index()]
    }

    /// Rejections for every reason together.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().sum()
    }

    /// JWKS download attempts (including discovery), successful or not.
    pub fn jwks_fetches(&self) -> u64 {
        self.jwks_fetches
    }

    /// JWKS download attempts that failed.
    pub fn jwks_failures(&self) -> u64 {
        self.jwks_failures
    }

    /// Unknown `kid`s remembered until the next key fetch (bounded, so random `kid`s cannot
    /// grow memory).
    pub fn unknown_kids_remembered(&self) -> usize {
        self.unknown_kids
    }

    /// Rate-limit checks the store (Redis) could not answer, passed or refused as configured
    /// with [`rate_limit_fail_closed`](crate::AuthenticatorBuilder::rate_limit_fail_closed).
    pub fn rate_limit_store_failures(&self) -> u64 {
        self.rate_limit_store_failures
    }

    /// Callers the in-memory rate limits track now, every limit together (each limit holds at
    /// most [`rate_limit_max_callers`](crate::AuthenticatorBuilder::rate_limit_max_callers)).
    pub fn rate_limit_callers(&self) -> usize {
        self.rate_limit_callers
    }
}
