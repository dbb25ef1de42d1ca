//! Rate limits over HTTP: the [`RateLimitLayer`], who the caller is (the verified `sub`, or the
//! client's address without a valid token), and the RateLimit fields of
//! draft-ietf-httpapi-ratelimit-headers (the `RateLimit-Policy` / `RateLimit` syntax of drafts
//! -09 and -10) on limited and successful responses.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, OnceLock, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request};
use axum::response::{IntoResponse, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::layer::RequestAuth;
use super::rejection::{quotable, whole_seconds, AuthError, Scheme};
use super::{authenticate, AuthRejection};
use crate::policy::RouteLimit;
use crate::ratelimit::{Decision, LimiterRef, Quota, Verdict};
use crate::verify::{Authenticator, Inner, VerifiedToken};

const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// A key of your own for a verified caller (e.g. per organization); `None` falls back to `sub`.
type KeyFn = Arc<dyn Fn(&VerifiedToken) -> Option<String> + Send + Sync>;

/// A tower layer that limits each caller to a [`Quota`]: 429 `rate_limited` with `Retry-After`
/// once a caller has spent it, the RateLimit fields on every response of the limited routes.
///
/// The caller is who the token says: its `sub` (Auth0 client-credentials tokens carry
/// `{client_id}@clients`), or your [`key`](Self::key) over the verified token; a refreshed token
/// of the same `sub` spends the same budget. A request without a valid token is keyed by the
/// client's address: the peer address (serve with
/// `into_make_service_with_connect_info::<SocketAddr>()`), or the address your proxy added to
/// the header named by [`proxy_headers(..)`](crate::AuthenticatorBuilder::proxy_headers);
/// IPv6 addresses by their /64. The token is verified once per request for this and every
/// guard below.
///
/// Budgets live in memory, or in Redis with
/// [`rate_limit_redis`](crate::AuthenticatorBuilder::rate_limit_redis). Limits with the same
/// name and quota share one budget per caller; the default name is the quota (`100/minute`).
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use axum::{routing::get, Router};
/// use route_guard::layer::{self, Quota};
/// use route_guard::Authenticator;
///
/// # fn app(auth: Authenticator) -> Router {
/// Router::new()
///     .route("/api/messages", get(|| async { "[]" }))
///     .route_layer(layer::rate_limit(Quota::per_minute(100)))
///     .layer(auth.layer())
/// # }
/// ```
#[derive(Clone)]
pub struct RateLimitLayer {
    spec: Arc<Spec>,
}

struct Spec {
    quota: Quota,
    name: Arc<str>,
    key: Option<KeyFn>,
    /// This limit's `RateLimit-Policy` member and quoted name, made once.
    fields: Fields,
    /// The limiter of the first Authenticator the layer met (nearly always the only one).
    limiter: OnceLock<(Weak<Inner>, LimiterRef)>,
}

impl Spec {
    fn new(quota: Quota, name: String, key: Option<KeyFn>) -> Arc<Spec> {
        Arc::new(Spec {
            quota,
            fields: Fields::new(&name, quota),
            name: Arc::from(name),
            key,
            limiter: OnceLock::new(),
        })
    }

    fn limiter(&self, auth: &Authenticator) -> LimiterRef {
        let limits = &auth.inner.rate_limits;
        let (owner, limiter) = self.limiter.get_or_init(|| {
            (
                Arc::downgrade(&auth.inner),
                limits.limiter(&self.name, self.quota),
            )
        });
        // A Weak keeps its allocation: no other Authenticator can reuse the address.
        match std::ptr::eq(owner.as_ptr(), Arc::as_ptr(&auth.inner)) {
            true => limiter.clone(),
            false => limits.limiter(&self.name, self.quota),
        }
    }
}

/// A limit's name as its RateLimit fields quote it, and its `RateLimit-Policy` member.
#[derive(Clone, Debug)]
pub(super) struct Fields {
    quoted: Arc<str>,
    policy: HeaderValue,
}

impl Fields {
    pub(super) fn new(name: &str, quota: Quota) -> Self {
        let quoted = quotable(name);
        let policy = format!(
            "\"{quoted}\";q={};w={}",
            quota.requests(),
            quota.window().as_secs()
        );
        Fields {
            policy: HeaderValue::try_from(policy).unwrap_or(HeaderValue::from_static("")),
            quoted: Arc::from(quoted),
        }
    }

    /// Appends the `RateLimit-Policy` and `RateLimit` members for a caller with `remaining`
    /// requests and a full budget again in `reset` (several limits on one route give one member
    /// each).
    pub(super) fn append(&self, headers: &mut HeaderMap, remaining: u32, reset: Duration) {
        let reset = if remaining == 0 || !reset.is_zero() {
            whole_seconds(reset)
        } else {
            0
        };
        // Written by hand into a stack buffer: `format!` and a second allocation cost more than
        // the limit check itself.
        let mut state = Buffer::default();
        state.push(b"\"");
        state.push(self.quoted.as_bytes());
        state.push(b"\";r=");
        state.number(u64::from(remaining));
        state.push(b";t=");
        state.number(reset);
        if let Ok(state) = HeaderValue::from_bytes(state.bytes()) {
            headers.append(RATELIMIT_POLICY, self.policy.clone());
            headers.append(RATELIMIT, state);
        }
    }
}

impl std::fmt::Debug for RateLimitLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimitLayer")
            .field("quota", &self.spec.quota)
            .field("name", &self.spec.name)
            .finish_non_exhaustive()
    }
}

/// The layer limiting each caller to `quota` (see [`RateLimitLayer`]).
pub fn rate_limit(quota: Quota) -> RateLimitLayer {
    RateLimitLayer {
        spec: Spec::new(quota, quota.to_string(), None),
    }
}

impl RateLimitLayer {
    /// The limit's name: its budgets' identity (in Redis too) and the name its
    /// `RateLimit-Policy` field gives it.
    pub fn name(self, name: impl Into<String>) -> Self {
        RateLimitLayer {
            spec: Spec::new(self.spec.quota, name.into(), self.spec.key.clone()),
        }
    }

    /// Keys verified callers by `key` instead of `sub`, e.g. one budget per organization:
    /// `.key(|token| token.claim("org_id").and_then(|v| v.as_str()).map(str::to_owned))`.
    /// `None` falls back to `sub`.
    pub fn key(
        self,
        key: impl Fn(&VerifiedToken) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        let key: KeyFn = Arc::new(key);
        RateLimitLayer {
            spec: Spec::new(self.spec.quota, self.spec.name.to_string(), Some(key)),
        }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimitService<S>;

    fn layer(&self, inner: S) -> RateLimitService<S> {
        RateLimitService {
            inner,
            limit: self.clone(),
        }
    }
}

/// The service [`RateLimitLayer`] wraps around each route.
#[derive(Clone)]
pub struct RateLimitService<S> {
    inner: S,
    limit: RateLimitLayer,
}

impl<S> std::fmt::Debug for RateLimitService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RateLimitService")
            .field(&self.limit)
            .finish()
    }
}

impl<S, B> Service<Request<B>> for RateLimitService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let limit = Arc::clone(&self.limit.spec);
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let outcome = authenticate(&mut parts).await;
            let Some(auth) = parts
                .extensions
                .get::<RequestAuth>()
                .map(|s| s.auth.clone())
            else {
                // No Authenticator: the same 500 every guard gives.
                return Ok(outcome
                    .err()
                    .map(IntoResponse::into_response)
                    .unwrap_or_default());
            };
            let verified = outcome.ok().map(|(_, token, _)| token);
            let caller = match &verified {
                Some(token) => verified_caller(token, limit.key.as_ref()),
                None => None,
            }
            .or_else(|| address_caller(&auth, &parts));
            let Some(caller) = caller else {
                return inner.call(Request::from_parts(parts, body)).await;
            };
            let limiter = limit.limiter(&auth);
            let verdict = auth
                .inner
                .rate_limits
                .check_on(&limiter, &limit.name, &caller)
                .await;
            match verdict_result(&auth, &limit.name, limit.quota, verdict) {
                Err(rejection) => Ok(rejection.into_response()),
                Ok(decision) => {
                    let mut response = inner.call(Request::from_parts(parts, body)).await?;
                    if let Some(d) = decision {
                        limit
                            .fields
                            .append(response.headers_mut(), d.remaining, d.reset);
                    }
                    Ok(response)
                }
            }
        })
    }
}

impl Authenticator {
    /// Spends one request of `caller` (any key: `"sub:auth0|42"`, an organization, a tenant)
    /// under the limit `name`, in this Authenticator's store (memory, or Redis with
    /// [`rate_limit_redis`](crate::AuthenticatorBuilder::rate_limit_redis)): for limits the
    /// layer and the attribute do not express, such as one per WebSocket message.
    /// `Err` is the 429 `rate_limited` (or, when the store fails closed, the 503) to answer with.
    ///
    /// ```
    /// # extern crate auth_runtime as route_guard;
    /// use route_guard::layer::Quota;
    /// # async fn f(auth: route_guard::Authenticator) {
    /// let quota = Quota::per_minute(2);
    /// assert!(auth.rate_limit("messages", quota, "sub:auth0|42").await.is_ok());
    /// assert!(auth.rate_limit("messages", quota, "sub:auth0|42").await.is_ok());
    /// let refused = auth.rate_limit("messages", quota, "sub:auth0|42").await.unwrap_err();
    /// assert_eq!(refused.status(), 429);
    /// # }
    /// ```
    pub async fn rate_limit(
        &self,
        name: &str,
        quota: Quota,
        caller: &str,
    ) -> Result<(), AuthRejection> {
        check(self, name, quota, &caller.to_owned()).await.map(drop)
    }
}

/// Spends one request of `caller` under the limit: the decision for the RateLimit fields
/// (none when the store failed open), or the 429 / 503 rejection.
pub(super) async fn check(
    auth: &Authenticator,
    name: &str,
    quota: Quota,
    caller: &String,
) -> Result<Option<Decision>, AuthRejection> {
    let verdict = auth.inner.rate_limits.check(name, quota, caller).await;
    verdict_result(auth, name, quota, verdict)
}

fn verdict_result(
    auth: &Authenticator,
    name: &str,
    quota: Quota,
    verdict: Verdict,
) -> Result<Option<Decision>, AuthRejection> {
    match verdict {
        Verdict::Pass(decision) => Ok(decision),
        Verdict::Limited(decision) => Err(auth.rejection(
            AuthError::RateLimited {
                policy: Arc::from(name),
                quota,
                retry_after: decision.retry_after,
            },
            Scheme::Bearer,
        )),
        Verdict::Unavailable => {
            Err(auth.rejection(AuthError::RateLimitUnavailable, Scheme::Bearer))
        }
    }
}

/// A handler's own limit (`#[rate_limit]`), after its requirement passed: the caller's budget
/// is spent, and the RateLimit fields are left for the Authenticator's layer to add to the
/// response.
pub(super) async fn route_limit(
    auth: &Authenticator,
    token: &VerifiedToken,
    parts: &Parts,
    limit: RouteLimit,
) -> Result<(), AuthRejection> {
    let Some(caller) = verified_caller(token, None).or_else(|| address_caller(auth, parts)) else {
        return Ok(());
    };
    if let Some(decision) = check(auth, limit.name, limit.quota, &caller).await? {
        if let Some(slot) = parts.extensions.get::<RequestAuth>() {
            let _ = slot.limit.set((limit.name, decision));
        }
    }
    Ok(())
}

/// Up to 160 bytes on the stack, then on the heap.
struct Buffer {
    stack: [u8; 160],
    len: usize,
    heap: Vec<u8>,
}

impl Default for Buffer {
    fn default() -> Self {
        Buffer {
            stack: [0; 160],
            len: 0,
            heap: Vec::new(),
        }
    }
}

impl Buffer {
    fn push(&mut self, bytes: &[u8]) {
        if self.heap.is_empty() && self.len + bytes.len() <= self.stack.len() {
            self.stack[self.len..self.len + bytes.len()].copy_from_slice(bytes);
            self.len += bytes.len();
        } else {
            if self.heap.is_empty() {
                self.heap.extend_from_slice(&self.stack[..self.len]);
            }
            self.heap.extend_from_slice(bytes);
        }
    }

    fn number(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[at..]);
    }

    fn bytes(&self) -> &[u8] {
        match self.heap.is_empty() {
            true => &self.stack[..self.len],
            false => &self.heap,
        }
    }
}

/// The longest `sub` or own key kept as it is in a caller's key; a longer one (or one holding a
/// character that is not printable ASCII) is kept as a digest, so every caller's key is short.
const READABLE: usize = 64;

/// The key of a verified caller: `iss:<tag>:sub:<sub>`, where the tag is 8 characters of the
/// SHA-256 of the issuer (two issuers' users with the same `sub` never share a budget), or
/// `key:<your key>` (your key decides who shares). A `sub` or key over 64 bytes, or with any
/// character but printable ASCII, is replaced by `~` and 22 characters of its SHA-256 (128
/// bits): every key is at most 81 bytes whatever the token holds, and none can forge a log line.
pub(super) fn verified_caller(token: &VerifiedToken, key: Option<&KeyFn>) -> Option<String> {
    if let Some(own) = key.and_then(|key| key(token)) {
        let mut caller = String::with_capacity(4 + READABLE);
        caller.push_str("key:");
        push_bounded(&mut caller, &own);
        return Some(caller);
    }
    let sub = token.claim("sub").and_then(|v| v.as_str())?;
    let mut caller = String::with_capacity(17 + READABLE);
    caller.push_str("iss:");
    push_issuer_tag(&mut caller, token.shared_issuer());
    caller.push_str(":sub:");
    push_bounded(&mut caller, sub);
    Some(caller)
}

/// `text` as it is when short and printable, else `~` and its digest.
fn push_bounded(caller: &mut String, text: &str) {
    let printable = text.bytes().all(|b| (0x20..0x7f).contains(&b));
    match printable && text.len() <= READABLE {
        true => caller.push_str(text),
        false => {
            caller.push('~');
            caller.push_str(&digest(text, 16));
        }
    }
}

/// Eight characters (48 bits) naming an issuer: issuers of one deployment are a handful. The
/// last one is remembered per thread with the issuer it names (the `Arc` every token of a key
/// set shares, kept alive here, so the pointer comparison cannot meet a reused address).
fn push_issuer_tag(caller: &mut String, issuer: &Arc<str>) {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(Arc<str>, String)>> =
            const { std::cell::RefCell::new(None) };
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if !last
            .as_ref()
            .is_some_and(|(known, _)| Arc::ptr_eq(known, issuer))
        {
            *last = Some((Arc::clone(issuer), digest(issuer, 6)));
        }
        if let Some((_, tag)) = &*last {
            caller.push_str(tag);
        }
    })
}

/// base64url of the first `bytes` bytes of the SHA-256 of `text`.
fn digest(text: &str, bytes: usize) -> String {
    use base64::Engine;
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&hash.as_ref()[..bytes])
}

/// `ip:<address>` of a caller without a valid token, or `None` when the address is unknown
/// (such requests pass unlimited; logged once).
pub(super) fn address_caller(auth: &Authenticator, parts: &Parts) -> Option<String> {
    static UNKNOWN_LOGGED: AtomicBool = AtomicBool::new(false);
    let forwarded = auth.inner.settings.proxy.client_ip(&parts.headers);
    let peer = || {
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
    };
    let Some(ip) = forwarded.or_else(peer) else {
        if !UNKNOWN_LOGGED.swap(true, Relaxed) {
            tracing::warn!(target: "route_guard", "a rate limit met a request without a valid token and without a client address: such requests pass unlimited; serve with `into_make_service_with_connect_info::<SocketAddr>()`, or set proxy_headers(..) behind a proxy");
        }
        return None;
    };
    Some(match ip {
        IpAddr::V4(v4) => format!("ip:{v4}"),
        // One client usually holds a whole /64.
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("ip:{v4}"),
            None => {
                let s = v6.segments();
                format!("ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    })
}
