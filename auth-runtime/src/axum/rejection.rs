//! [`AuthRejection`]: every failure of the extractors, and the one table that maps it to an
//! RFC 6750 response.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::http::header::{ACCEPT_ENCODING, ALLOW, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

#[cfg(test)]
mod tests;

use crate::dpop::ProofError;
use crate::policy::Insufficient;
use crate::ratelimit::Quota;
use crate::stats::RejectionReason;
use crate::verify::VerifyError;

/// What went wrong, in RFC 6750 terms.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization` header, or a scheme other than Bearer: 401 with a bare challenge.
    MissingToken,
    /// A malformed `Authorization: Bearer` header: 400 `invalid_request`.
    InvalidRequest(&'static str),
    /// The token failed verification: 401 `invalid_token`.
    InvalidToken(VerifyError),
    /// The token is valid but lacks a scope, permission or role: 403 `insufficient_scope`.
    InsufficientScope(Insufficient),
    /// The token is valid, but the user's authentication is not strong or recent enough for the
    /// route (RFC 9470 step-up: `acr`, `auth_time`): 401 `insufficient_user_authentication`
    /// with `acr_values` / `max_age` in the challenge, so the client can ask for a new login.
    InsufficientUserAuthentication(Insufficient),
    /// The Authenticator layer is not installed on the router: 500, a server bug.
    MissingAuthenticator,
    /// A DPoP proof is missing, repeated or invalid, or does not fit the token:
    /// 401 `invalid_dpop_proof` (RFC 9449 §7.1).
    InvalidDpopProof(ProofError),
    /// The proof lacks the current server nonce: 401 `use_dpop_nonce` with a `DPoP-Nonce` header
    /// holding this nonce (RFC 9449 §9).
    UseDpopNonce(String),
    /// A Bearer token where [`DpopMode::Required`](crate::DpopMode::Required) accepts only DPoP:
    /// 401 `invalid_token`.
    DpopRequired,
    /// The DPoP replay store did not answer: 503 `temporarily_unavailable` with `Retry-After`.
    /// Our outage, not a bad credential: clients retry instead of signing the user out.
    ReplayStoreUnavailable,
    /// The domain resolver failed: 503 `temporarily_unavailable` with `Retry-After`.
    ResolverUnavailable,
    /// The DPoP proof key already holds its quota of live proofs in the replay store:
    /// 429 `too_many_requests` with `Retry-After`, no challenge (the credentials are fine; the
    /// client is too fast). Other clients are not affected.
    DpopQuotaExceeded {
        /// When the key's oldest proof leaves the store.
        retry_after: std::time::Duration,
    },
    /// No signing keys have loaded for the token's issuer yet (it has been unreachable since
    /// start-up): 503 `temporarily_unavailable` with `Retry-After`. The token was not judged, so
    /// `invalid_token` would make a client throw away a token that may be valid. Once a key set
    /// has loaded, an outage of the issuer changes nothing for clients (the last good keys stay).
    KeysUnavailable {
        /// The JWKS retry interval: a client's retry can be the one that finds the keys.
        retry_after: std::time::Duration,
    },
    /// The caller spent its budget under a rate limit: 429 `rate_limited` with `Retry-After`
    /// and the RateLimit fields, no challenge (the credentials are fine).
    RateLimited {
        /// The limit's name, as its `RateLimit-Policy` names it.
        policy: Arc<str>,
        /// The limit.
        quota: Quota,
        /// When the caller's next request may pass.
        retry_after: std::time::Duration,
    },
    /// The rate limit store did not answer and rate limits fail closed: 503
    /// `temporarily_unavailable` with `Retry-After`.
    RateLimitUnavailable,
    /// A request body a guard must read (an MCP endpoint's JSON-RPC) is over its bound: 413
    /// `invalid_request`, no challenge (the credentials are fine).
    ContentTooLarge {
        /// The bound, in bytes.
        limit: usize,
    },
    /// A request body a guard must read cannot be judged (not strict JSON, an MCP call named
    /// twice, a body cut off): 400 `invalid_request`, no challenge. The MCP layer answers it as
    /// a JSON-RPC error.
    InvalidBody(&'static str),
    /// A request body a guard must read is compressed or otherwise encoded
    /// (`Content-Encoding` other than `identity`): 415 `invalid_request` with
    /// `Accept-Encoding: identity`, no challenge. Decompress before the guard to accept it.
    UnsupportedContentEncoding,
    /// A method the guarded endpoint does not serve (an MCP endpoint serves `POST`, `GET` and
    /// `DELETE`): 405 `invalid_request` with `Allow`, no challenge.
    MethodNotAllowed {
        /// The `Allow` header's value.
        allow: &'static str,
    },
    /// An MCP call the endpoint's policy does not name, under `McpPolicy::deny_unlisted`: 403
    /// `access_denied`, no challenge (no token can grant it). Holds what was called.
    CallNotAllowed(String),
}

/// Which authentication scheme a challenge names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Bearer,
    Dpop,
    /// No credentials in allowed mode: both challenges (RFC 9449 §7.2).
    Both,
}

/// The parameters every challenge of an Authenticator carries.
#[derive(Debug, Clone)]
pub(crate) struct ChallengeParams {
    pub(crate) realm: Arc<str>,
    /// The accepted DPoP proof algorithms, space-separated.
    pub(crate) algs: Arc<str>,
    /// The absolute URL of the Protected Resource Metadata (RFC 9728 §5.1), when configured.
    pub(crate) resource_metadata: Option<Arc<str>>,
}

/// The rejection of route-guard's extractors; renders status, `WWW-Authenticate` and a JSON body
/// `{"error": "...", "error_description": "..."}`.
///
/// To render your own body, map it in a handler or middleware and keep [`status`](Self::status)
/// and [`www_authenticate`](Self::www_authenticate):
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use axum::response::{IntoResponse, Response};
/// use route_guard::AuthRejection;
///
/// fn my_body(rejection: AuthRejection) -> Response {
///     let mut response = (rejection.status(), format!("denied: {}", rejection.error_code()))
///         .into_response();
///     if let Some(challenge) = rejection.www_authenticate() {
///         response.headers_mut().insert(axum::http::header::WWW_AUTHENTICATE, challenge);
///     }
///     response
/// }
/// ```
#[derive(Debug, Clone)]
pub struct AuthRejection(Arc<Repr>);

/// Behind an `Arc`: rejections are memoised per request and cloned, and stay pointer-sized.
#[derive(Debug)]
struct Repr {
    error: AuthError,
    scheme: Scheme,
    params: ChallengeParams,
    body: Option<RenderBody>,
    /// Every scope the route requires, space-separated: named by its 401 and 403 challenges.
    route_scopes: Option<Arc<str>>,
}

/// A custom error body, set with
/// [`AuthenticatorBuilder::error_body`](crate::AuthenticatorBuilder::error_body) and carried
/// through `config`'s opaque `ErrorBody` hook.
#[derive(Clone)]
pub(crate) struct RenderBody(pub(crate) Arc<dyn Fn(&AuthRejection) -> Response + Send + Sync>);

impl fmt::Debug for RenderBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RenderBody(..)")
    }
}

impl AuthRejection {
    pub(crate) fn new(
        error: AuthError,
        scheme: Scheme,
        params: ChallengeParams,
        body: Option<RenderBody>,
    ) -> Self {
        AuthRejection(Arc::new(Repr {
            error,
            scheme,
            params,
            body,
            route_scopes: None,
        }))
    }

    /// The same rejection on a route requiring `scopes`: its 401 and 403 challenges name them
    /// all (RFC 6750 §3, MCP's scope challenges), so a client knows what to ask for.
    pub(crate) fn for_route_scopes<S: AsRef<str>>(self, scopes: &[S]) -> AuthRejection {
        if scopes.is_empty() {
            return self;
        }
        let joined: Vec<&str> = scopes.iter().map(AsRef::as_ref).collect();
        let repr = &self.0;
        AuthRejection(Arc::new(Repr {
            error: repr.error.clone(),
            scheme: repr.scheme,
            params: repr.params.clone(),
            body: repr.body.clone(),
            route_scopes: Some(Arc::from(joined.join(" "))),
        }))
    }

    /// What went wrong.
    pub fn error(&self) -> &AuthError {
        &self.0.error
    }

    /// The counter and log category.
    pub fn reason(&self) -> Option<RejectionReason> {
        match &self.0.error {
            AuthError::MissingToken => Some(RejectionReason::MissingToken),
            AuthError::InvalidRequest(_)
            | AuthError::InvalidBody(_)
            | AuthError::UnsupportedContentEncoding
            | AuthError::MethodNotAllowed { .. }
            | AuthError::ContentTooLarge { .. } => Some(RejectionReason::InvalidRequest),
            AuthError::CallNotAllowed(_) => Some(RejectionReason::InsufficientScope),
            AuthError::InvalidToken(e) => Some(e.reason()),
            AuthError::InsufficientScope(_) => Some(RejectionReason::InsufficientScope),
            AuthError::InsufficientUserAuthentication(_) => {
                Some(RejectionReason::InsufficientUserAuthentication)
            }
            AuthError::MissingAuthenticator => None,
            AuthError::InvalidDpopProof(e) => Some(e.reason()),
            AuthError::UseDpopNonce(_) => Some(RejectionReason::DpopNonce),
            AuthError::DpopRequired => Some(RejectionReason::DpopBinding),
            AuthError::ReplayStoreUnavailable => Some(RejectionReason::ReplayStoreUnavailable),
            AuthError::ResolverUnavailable => Some(RejectionReason::ResolverUnavailable),
            AuthError::KeysUnavailable { .. } => Some(RejectionReason::KeysUnavailable),
            AuthError::DpopQuotaExceeded { .. } => Some(RejectionReason::DpopQuota),
            AuthError::RateLimited { .. } => Some(RejectionReason::RateLimited),
            AuthError::RateLimitUnavailable => Some(RejectionReason::RateLimitUnavailable),
        }
    }

    /// The HTTP status: 400, 401, 403, 405 and 415 for what an MCP endpoint does not serve, 413
    /// for a body over an MCP endpoint's bound, 429 for a DPoP key over its replay-store quota, 503 when
    /// a dependency of ours is down (the issuer's keys never loaded, the replay store, the domain
    /// resolver), or 500 for a missing layer.
    pub fn status(&self) -> StatusCode {
        match &self.0.error {
            AuthError::MissingToken
            | AuthError::InvalidToken(_)
            | AuthError::InsufficientUserAuthentication(_)
            | AuthError::InvalidDpopProof(_)
            | AuthError::UseDpopNonce(_)
            | AuthError::DpopRequired => StatusCode::UNAUTHORIZED,
            AuthError::InvalidRequest(_) | AuthError::InvalidBody(_) => StatusCode::BAD_REQUEST,
            AuthError::ContentTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AuthError::UnsupportedContentEncoding => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AuthError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            AuthError::InsufficientScope(_) | AuthError::CallNotAllowed(_) => StatusCode::FORBIDDEN,
            AuthError::DpopQuotaExceeded { .. } | AuthError::RateLimited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            AuthError::ReplayStoreUnavailable
            | AuthError::RateLimitUnavailable
            | AuthError::ResolverUnavailable
            | AuthError::KeysUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AuthError::MissingAuthenticator => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The body's `error`: `unauthorized`, `invalid_request`, `invalid_token`,
    /// `insufficient_scope`, `insufficient_user_authentication`, `invalid_dpop_proof`,
    /// `use_dpop_nonce`, `too_many_requests`, `rate_limited`, `temporarily_unavailable`,
    /// `access_denied` (an MCP call a default-deny policy does not name) or `server_error`.
    pub fn error_code(&self) -> &'static str {
        match &self.0.error {
            AuthError::MissingToken => "unauthorized",
            AuthError::InvalidRequest(_)
            | AuthError::InvalidBody(_)
            | AuthError::UnsupportedContentEncoding
            | AuthError::MethodNotAllowed { .. }
            | AuthError::ContentTooLarge { .. } => "invalid_request",
            AuthError::CallNotAllowed(_) => "access_denied",
            AuthError::InvalidToken(_) | AuthError::DpopRequired => "invalid_token",
            AuthError::InsufficientScope(_) => "insufficient_scope",
            AuthError::InsufficientUserAuthentication(_) => "insufficient_user_authentication",
            AuthError::DpopQuotaExceeded { .. } => "too_many_requests",
            AuthError::RateLimited { .. } => "rate_limited",
            AuthError::InvalidDpopProof(_) => "invalid_dpop_proof",
            AuthError::UseDpopNonce(_) => "use_dpop_nonce",
            AuthError::ReplayStoreUnavailable
            | AuthError::ResolverUnavailable
            | AuthError::RateLimitUnavailable
            | AuthError::KeysUnavailable { .. } => "temporarily_unavailable",
            AuthError::MissingAuthenticator => "server_error",
        }
    }

    /// The nonce of a `use_dpop_nonce` rejection, sent as the `DPoP-Nonce` header.
    pub fn dpop_nonce(&self) -> Option<&str> {
        match &self.0.error {
            AuthError::UseDpopNonce(nonce) => Some(nonce),
            _ => None,
        }
    }

    /// A description for the client: never the token, and safe inside a quoted header value.
    pub fn description(&self) -> String {
        let text = match &self.0.error {
            AuthError::MissingToken => match self.0.scheme {
                Scheme::Bearer => "authentication required: send an access token as `Authorization: Bearer <token>`",
                Scheme::Both => "authentication required: send an access token as `Authorization: Bearer <token>`, or a DPoP-bound one as `Authorization: DPoP <token>` with a `DPoP` proof header",
                Scheme::Dpop => "authentication required: send a DPoP-bound access token as `Authorization: DPoP <token>` with a `DPoP` proof header",
            }
            .to_owned(),
            AuthError::InvalidDpopProof(e) => e.to_string(),
            AuthError::UseDpopNonce(_) => "a DPoP nonce is required: make a new proof with the nonce from the DPoP-Nonce header".to_owned(),
            AuthError::DpopRequired => "this API accepts only DPoP-bound access tokens: send `Authorization: DPoP <token>` with a `DPoP` proof header".to_owned(),
            AuthError::ReplayStoreUnavailable => "the DPoP replay store is unavailable; retry shortly".to_owned(),
            AuthError::ResolverUnavailable => "the token's issuer could not be checked right now; retry shortly".to_owned(),
            AuthError::DpopQuotaExceeded { .. } => "this DPoP key has too many recent proofs in the replay store; retry after the Retry-After delay".to_owned(),
            AuthError::KeysUnavailable { .. } => "the issuer's signing keys are unavailable, so the token could not be checked; retry shortly".to_owned(),
            AuthError::RateLimited { quota, retry_after, .. } => format!(
                "too many requests: this route allows {quota} per caller; retry in {} s",
                whole_seconds(*retry_after)
            ),
            AuthError::RateLimitUnavailable => "the rate limit store is unavailable; retry shortly".to_owned(),
            AuthError::InvalidRequest(why) | AuthError::InvalidBody(why) => (*why).to_owned(),
            AuthError::ContentTooLarge { limit } => format!("the request body is over this endpoint's limit of {limit} bytes"),
            AuthError::UnsupportedContentEncoding => "the request body must not be compressed or encoded (Content-Encoding: identity): the guard reads it before the server".to_owned(),
            AuthError::MethodNotAllowed { allow } => format!("this endpoint serves only {allow}"),
            AuthError::CallNotAllowed(what) => format!("{what} is not allowed on this endpoint: its policy denies what it does not name"),
            AuthError::InvalidToken(e) => e.to_string(),
            AuthError::InsufficientScope(missing)
            | AuthError::InsufficientUserAuthentication(missing) => missing.to_string(),
            AuthError::MissingAuthenticator => "internal server error".to_owned(),
        };
        defused(&quotable(&text))
    }

    /// The `WWW-Authenticate` challenge (none for a 405, 413, 415, 429, 500 or 503, nor for a
    /// body the MCP layer cannot judge or a call its policy denies): `Bearer` for the Bearer
    /// scheme, `DPoP ... algs="..."` for the DPoP scheme (RFC 9449 §7.1), both for a request
    /// without credentials when DPoP is allowed.
    pub fn www_authenticate(&self) -> Option<HeaderValue> {
        let ChallengeParams {
            realm,
            algs,
            resource_metadata,
        } = &self.0.params;
        let route_scopes = self.0.route_scopes.as_deref();
        let mut params = match &self.0.error {
            AuthError::MissingAuthenticator
            | AuthError::ReplayStoreUnavailable
            | AuthError::RateLimited { .. }
            | AuthError::RateLimitUnavailable
            | AuthError::ResolverUnavailable
            | AuthError::KeysUnavailable { .. }
            | AuthError::ContentTooLarge { .. }
            | AuthError::InvalidBody(_)
            | AuthError::UnsupportedContentEncoding
            | AuthError::MethodNotAllowed { .. }
            | AuthError::CallNotAllowed(_)
            | AuthError::DpopQuotaExceeded { .. } => return None,
            AuthError::MissingToken => String::new(),
            _ => format!(
                ", error=\"{}\", error_description=\"{}\"",
                self.error_code(),
                self.description(),
            ),
        };
        let scope = match (&self.0.error, route_scopes) {
            (_, Some(all)) => Some(all.to_owned()),
            (AuthError::InsufficientScope(missing), None) if !missing.scopes.is_empty() => {
                Some(missing.scopes.join(" "))
            }
            _ => None,
        };
        if let Some(scope) = scope {
            params.push_str(&format!(", scope=\"{}\"", quotable(&scope)));
        }
        if let AuthError::InsufficientUserAuthentication(missing) = &self.0.error {
            // RFC 9470 §3.
            if !missing.acr_values().is_empty() {
                let values = quotable(&missing.acr_values().join(" "));
                params.push_str(&format!(", acr_values=\"{values}\""));
            }
            if let Some(max_age) = missing.max_age() {
                params.push_str(&format!(", max_age=\"{max_age}\""));
            }
        }
        if let Some(url) = resource_metadata {
            params.push_str(&format!(", resource_metadata=\"{}\"", quotable(url)));
        }
        let bearer = || format!("Bearer realm=\"{realm}\"{params}");
        let dpop = || format!("DPoP realm=\"{realm}\"{params}, algs=\"{algs}\"");
        let value = match self.0.scheme {
            Scheme::Bearer => bearer(),
            Scheme::Dpop => dpop(),
            Scheme::Both => format!("{}, {}", bearer(), dpop()),
        };
        HeaderValue::from_str(&value).ok()
    }
}

impl fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_code(), self.description())
    }
}

impl std::error::Error for AuthRejection {}

impl IntoResponse for AuthRejection {
    /// The JSON body (or the custom one), always with the RFC 6750 status and challenge.
    fn into_response(self) -> Response {
        let mut response = match &self.0.body {
            Some(RenderBody(render)) => render(&self),
            None => axum::Json(serde_json::json!({
                "error": self.error_code(),
                "error_description": self.description(),
            }))
            .into_response(),
        };
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        match self.www_authenticate() {
            Some(challenge) => {
                headers.insert(WWW_AUTHENTICATE, challenge);
            }
            None => {
                headers.remove(WWW_AUTHENTICATE);
            }
        }
        if let Some(nonce) = self
            .dpop_nonce()
            .and_then(|n| HeaderValue::from_str(n).ok())
        {
            headers.insert(DPOP_NONCE, nonce);
        }
        let retry_after = match &self.0.error {
            AuthError::KeysUnavailable { retry_after }
            | AuthError::DpopQuotaExceeded { retry_after }
            | AuthError::RateLimited { retry_after, .. } => Some(*retry_after),
            _ if self.status() == StatusCode::SERVICE_UNAVAILABLE => Some(Duration::from_secs(1)),
            _ => None,
        };
        if let Some(retry_after) = retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from(whole_seconds(retry_after)));
        }
        match &self.0.error {
            AuthError::MethodNotAllowed { allow } => {
                headers.insert(ALLOW, HeaderValue::from_static(allow));
            }
            AuthError::UnsupportedContentEncoding => {
                headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
            }
            _ => {}
        }
        if let AuthError::RateLimited {
            policy,
            quota,
            retry_after,
        } = &self.0.error
        {
            super::ratelimit::Fields::new(policy, *quota).append(headers, 0, *retry_after);
        }
        response
    }
}

/// Whole seconds, rounded up, at least one (`Retry-After` has no fractions).
pub(super) fn whole_seconds(delay: Duration) -> u64 {
    u64::try_from(delay.as_millis().div_ceil(1000))
        .unwrap_or(u64::MAX)
        .max(1)
}

/// RFC 9449 §8.1.
const DPOP_NONCE: &str = "dpop-nonce";

/// Some clients search the whole `WWW-Authenticate` value for `scope=`, `error=` or
/// `resource_metadata=`: a description never holds them (a space goes before the `=`).
fn defused(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len() + 4);
    let mut last = 0;
    for (at, _) in lower.match_indices('=') {
        let before = &lower[..at];
        if ["scope", "error", "resource_metadata"]
            .iter()
            .any(|key| before.ends_with(key))
        {
            out.push_str(&text[last..at]);
            out.push(' ');
            last = at;
        }
    }
    out.push_str(&text[last..]);
    out
}

/// RFC 6750 §3: `error_description` and `scope` may hold only %x20-21 / %x23-5B / %x5D-7E.
/// Anything else (quotes, backslashes, control or non-ASCII characters) becomes `?`, and the
/// text is capped so no claim value can blow up a header.
pub(super) fn quotable(text: &str) -> String {
    const MAX: usize = 256;
    text.chars()
        .take(MAX)
        .map(|c| match c {
            ' ' | '!' | '#'..='[' | ']'..='~' => c,
            _ => '?',
        })
        .collect()
}
