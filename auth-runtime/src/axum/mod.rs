//! axum glue: the layer that installs the [`Authenticator`], the [`Claims`] and [`Guard`]
//! extractors, and the [`AuthRejection`] they fail with.

mod layer;
mod rejection;

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::Response;

pub use layer::{AuthLayer, AuthService};
use layer::{Outcome, RequestAuth};
pub use rejection::{AuthError, AuthRejection};
use rejection::{ChallengeParams, RenderBody, Scheme};

use crate::claims::{StandardClaims, TokenClaims};
use crate::config::{AuthenticatorBuilder, DpopMode, ErrorBody};
use crate::dpop::{request_url, DpopError, ProofError};
use crate::policy::Requirement;
use crate::stats::RejectionReason;
use crate::verify::{Authenticator, RequestContext, VerifiedToken, VerifyError};

impl Authenticator {
    /// The layer that makes this Authenticator available to the extractors of every route
    /// below it: `Router::new().route(..).layer(auth.layer())`.
    pub fn layer(&self) -> AuthLayer {
        AuthLayer::new(self.clone())
    }

    fn rejection(&self, error: AuthError, scheme: Scheme) -> AuthRejection {
        AuthRejection::new(
            error,
            scheme,
            ChallengeParams {
                realm: Arc::clone(&self.inner.realm),
                algs: Arc::clone(&self.inner.dpop.algs),
            },
            self.inner
                .error_body
                .as_ref()
                .and_then(|hook| hook.get::<RenderBody>())
                .cloned(),
        )
    }

    /// A rejection decided here rather than by `verify`/`verify_dpop`: counted and logged here.
    fn reject(&self, error: AuthError, scheme: Scheme) -> AuthRejection {
        let rejection = self.rejection(error, scheme);
        if let Some(reason) = rejection.reason() {
            self.inner.counters.rejected(reason);
            tracing::debug!(target: "route_guard", %reason, description = %rejection.description(), "request rejected");
        }
        rejection
    }
}

impl AuthenticatorBuilder {
    /// Replaces the JSON body of rejections. route-guard still sets the RFC 6750 status and
    /// `WWW-Authenticate` challenge on whatever `render` returns, so clients keep working.
    ///
    /// ```
    /// # extern crate auth_runtime as route_guard;
    /// use axum::response::IntoResponse;
    /// use route_guard::Authenticator;
    ///
    /// let auth = Authenticator::builder()
    ///     .domain("tenant.us.auth0.com")
    ///     .audience("https://api.example.com")
    ///     .error_body(|rejection| {
    ///         axum::Json(serde_json::json!({
    ///             "code": rejection.error_code(),
    ///             "message": rejection.description(),
    ///         }))
    ///         .into_response()
    ///     })
    ///     .build()?;
    /// # Ok::<(), route_guard::ConfigError>(())
    /// ```
    pub fn error_body(
        mut self,
        render: impl Fn(&AuthRejection) -> Response + Send + Sync + 'static,
    ) -> Self {
        self.error_body = Some(ErrorBody::new(RenderBody(Arc::new(render))));
        self
    }
}

/// The verified claims of the request's bearer token, deserialized into `T`.
///
/// As an extractor it verifies the token (once per request, however many extractors ask) and
/// rejects with 401 when it is missing or invalid. `Option<Claims<T>>` makes authentication
/// optional: no `Authorization` header gives `None`, a bad token is still a 401.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use axum::{routing::get, Json, Router};
/// use route_guard::{Authenticator, Claims};
///
/// async fn me(claims: Claims) -> Json<serde_json::Value> {
///     Json(serde_json::json!({ "user": claims.sub }))
/// }
///
/// # fn app(auth: Authenticator) -> Router {
/// Router::new().route("/me", get(me)).layer(auth.layer())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Claims<T = StandardClaims>(pub T);

impl<T> Claims<T> {
    /// The claims, by value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: TokenClaims> Claims<T> {
    /// Whether the token grants `scope`: for checks inside a handler.
    ///
    /// ```
    /// # extern crate auth_runtime as route_guard;
    /// use axum::http::StatusCode;
    /// use route_guard::Claims;
    ///
    /// async fn delete(claims: Claims) -> StatusCode {
    ///     if !claims.has_scope("delete:messages") {
    ///         return StatusCode::FORBIDDEN;
    ///     }
    ///     StatusCode::NO_CONTENT
    /// }
    /// ```
    pub fn has_scope(&self, scope: &str) -> bool {
        self.0.has_scope(scope)
    }

    /// Whether the token carries the permission `permission`.
    pub fn has_permission(&self, permission: &str) -> bool {
        self.0.has_permission(permission)
    }

    /// Whether the token carries the role `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.0.has_role(role)
    }
}

impl<T> Deref for Claims<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Claims<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<S: Send + Sync, T: TokenClaims> FromRequestParts<S> for Claims<T> {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let (auth, token, scheme) = authenticate(parts).await?;
        // A guard that parsed claims of a type that cannot be kept with the token hands them
        // over instead of parsing twice.
        if let Some(ParsedClaims(parsed)) = parts.extensions.remove::<ParsedClaims<T>>() {
            match Arc::try_unwrap(parsed) {
                Ok(claims) => return Ok(Claims(claims)),
                Err(shared) => {
                    parts.extensions.insert(ParsedClaims(shared));
                }
            }
        }
        // Kept with the token (a token seen before): copied, not parsed.
        token
            .claims::<T>()
            .map(Claims)
            .map_err(|e| claims_rejected(&auth, e, scheme))
    }
}

impl<S: Send + Sync, T: TokenClaims> OptionalFromRequestParts<S> for Claims<T> {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match <Claims<T> as FromRequestParts<S>>::from_request_parts(parts, state).await {
            Ok(claims) => Ok(Some(claims)),
            Err(rejection) if *rejection.error() == AuthError::MissingToken => Ok(None),
            Err(rejection) => Err(rejection),
        }
    }
}

/// The extractor that enforces a [`Requirement`] before the handler runs; the attribute macros
/// add it as a handler's first parameter. By hand:
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::{Check, Guard, Insufficient, Requirement, StandardClaims, VerifiedToken};
///
/// struct Admin;
/// impl Requirement for Admin {
///     type Claims = StandardClaims;
///     fn check(claims: &StandardClaims, _: &VerifiedToken) -> Result<(), Insufficient> {
///         Check::new(claims).roles_any(&["admin"]).finish()
///     }
/// }
///
/// async fn admin_only(_: Guard<Admin>) -> &'static str {
///     "welcome"
/// }
/// ```
pub struct Guard<R>(PhantomData<fn() -> R>);

impl<R> std::fmt::Debug for Guard<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Guard")
    }
}

impl<S: Send + Sync, R: Requirement> FromRequestParts<S> for Guard<R> {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let (auth, token, scheme) = authenticate(parts).await?;
        if R::READS_CLAIMS {
            let claims: Arc<R::Claims> = token
                .shared_claims()
                .map_err(|e| claims_rejected(&auth, e, scheme))?;
            if let Err(missing) = R::check(&claims, &token) {
                auth.inner
                    .counters
                    .rejected(RejectionReason::InsufficientScope);
                tracing::debug!(target: "route_guard", reason = %RejectionReason::InsufficientScope, %missing, "request rejected");
                return Err(auth.rejection(AuthError::InsufficientScope(missing), scheme));
            }
            // Claims kept with the token are found there again; others are handed over.
            if Arc::strong_count(&claims) == 1 {
                parts.extensions.insert(ParsedClaims(claims));
            }
        }
        Ok(Guard(PhantomData))
    }
}

/// Claims a guard parsed, kept for the handler's own `Claims<T>`.
struct ParsedClaims<T>(Arc<T>);

impl<T> Clone for ParsedClaims<T> {
    fn clone(&self) -> Self {
        ParsedClaims(Arc::clone(&self.0))
    }
}

fn claims_rejected(auth: &Authenticator, e: VerifyError, scheme: Scheme) -> AuthRejection {
    auth.inner.counters.rejected(e.reason());
    tracing::debug!(target: "route_guard", reason = %e.reason(), error = %e, "claims rejected");
    auth.rejection(AuthError::InvalidToken(e), scheme)
}

/// Verifies the request's credentials once; later extractors reuse the outcome.
async fn authenticate(
    parts: &mut Parts,
) -> Result<(Authenticator, VerifiedToken, Scheme), AuthRejection> {
    if parts.extensions.get::<RequestAuth>().is_none() {
        // Installed as a bare `Extension(auth)` rather than with `auth.layer()`: the same slot.
        if let Some(auth) = parts.extensions.get::<Authenticator>().cloned() {
            parts.extensions.insert(RequestAuth::new(auth));
        }
    }
    let parts: &Parts = parts;
    let Some(slot) = parts.extensions.get::<RequestAuth>() else {
        tracing::error!(target: "route_guard", "a route-guard extractor ran without an Authenticator: add `.layer(auth.layer())` to the Router after the protected routes");
        return Err(AuthRejection::new(
            AuthError::MissingAuthenticator,
            Scheme::Bearer,
            ChallengeParams {
                realm: Arc::from("api"),
                algs: Arc::from("ES256"),
            },
            None,
        ));
    };
    let auth = slot.auth.clone();
    let outcome: Outcome = match slot.outcome.get() {
        Some(outcome) => outcome.clone(),
        None => {
            let outcome = check_credentials(&auth, parts).await;
            // Only this request's extractors, one at a time, fill the slot.
            let _ = slot.outcome.set(outcome.clone());
            outcome
        }
    };
    outcome.map(|(token, scheme)| (auth, token, scheme))
}

/// Bearer, DPoP or nothing, as the DPoP mode allows (RFC 6750 §2.1, RFC 9449 §7).
async fn check_credentials(
    auth: &Authenticator,
    parts: &Parts,
) -> Result<(VerifiedToken, Scheme), AuthRejection> {
    let mode = auth.inner.settings.dpop.mode;
    let dpop_on = mode != DpopMode::Disabled;
    let has_proof = dpop_on && parts.headers.contains_key(DPOP);
    let missing_scheme = match mode {
        DpopMode::Allowed => Scheme::Both,
        DpopMode::Required => Scheme::Dpop,
        DpopMode::Disabled => Scheme::Bearer,
    };
    // A Bearer token seen before is found in the verified-token cache before its syntax is
    // scanned: it passed that scan when it was verified, and it is compared byte for byte.
    if !has_proof && mode != DpopMode::Required {
        if let Some(token) = bearer_bytes(&parts.headers) {
            let context = RequestContext {
                host: request_host(parts),
                path: request_path(parts),
            };
            if let Some(outcome) = auth.verify_seen(token, context).await {
                return outcome
                    .map(|verified| (verified, Scheme::Bearer))
                    .map_err(|e| auth.rejection(token_error(auth, e), Scheme::Bearer));
            }
        }
    }
    match credentials(&parts.headers) {
        Err(AuthError::MissingToken) if has_proof => Err(auth.reject(
            AuthError::InvalidDpopProof(ProofError::WithoutDpopToken),
            Scheme::Dpop,
        )),
        Err(AuthError::MissingToken) => Err(auth.reject(AuthError::MissingToken, missing_scheme)),
        Err(error) => {
            // A malformed header: answer in the scheme the client attempted.
            let attempted = parts
                .headers
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split([' ', '\t']).next())
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case("dpop"));
            match (attempted, dpop_on) {
                (true, true) => Err(auth.reject(error, Scheme::Dpop)),
                // Disabled: a malformed DPoP header is as unread as a well-formed one.
                (true, false) => Err(auth.reject(AuthError::MissingToken, Scheme::Bearer)),
                (false, _) => Err(auth.reject(error, Scheme::Bearer)),
            }
        }
        Ok((Kind::Dpop, _)) if !dpop_on => {
            // Disabled: DPoP is just another scheme route-guard does not read.
            Err(auth.reject(AuthError::MissingToken, Scheme::Bearer))
        }
        Ok((Kind::Bearer, _)) if has_proof => Err(auth.reject(
            AuthError::InvalidDpopProof(ProofError::WithoutDpopToken),
            Scheme::Dpop,
        )),
        Ok((Kind::Bearer, _)) if mode == DpopMode::Required => {
            Err(auth.reject(AuthError::DpopRequired, Scheme::Dpop))
        }
        Ok((Kind::Bearer, token)) => {
            let context = RequestContext {
                host: request_host(parts),
                path: request_path(parts),
            };
            match auth.verify_with(token, context).await {
                Ok(verified) => Ok((verified, Scheme::Bearer)),
                Err(e) => Err(auth.rejection(token_error(auth, e), Scheme::Bearer)),
            }
        }
        Ok((Kind::Dpop, token)) => {
            let proof = match single_proof(&parts.headers) {
                Ok(proof) => proof,
                Err(e) => return Err(auth.reject(AuthError::InvalidDpopProof(e), Scheme::Dpop)),
            };
            let context = RequestContext {
                host: request_host(parts),
                path: request_path(parts),
            };
            let url = request_url(parts, context.host, context.path, &auth.inner.settings.dpop);
            let Some(url) = url else {
                return Err(auth.reject(AuthError::InvalidDpopProof(ProofError::Url), Scheme::Dpop));
            };
            match auth
                .verify_dpop_with(token, proof, parts.method.as_str(), &url, context)
                .await
            {
                Ok(verified) => Ok((verified, Scheme::Dpop)),
                Err(e) => Err(auth.rejection(dpop_error(auth, e), Scheme::Dpop)),
            }
        }
    }
}

fn dpop_error(auth: &Authenticator, error: DpopError) -> AuthError {
    match error {
        DpopError::Token(e) => token_error(auth, e),
        DpopError::Proof(e) => AuthError::InvalidDpopProof(e),
        DpopError::UseNonce { nonce } => AuthError::UseDpopNonce(nonce),
        DpopError::ReplayStoreUnavailable => AuthError::ReplayStoreUnavailable,
        DpopError::QuotaExceeded { retry_after } => AuthError::DpopQuotaExceeded { retry_after },
    }
}

/// A token failure. One rule for a dependency of ours that is down (a failed domain resolver,
/// an issuer whose keys never loaded): the token was not judged, so it is our outage (503),
/// not the token's.
fn token_error(auth: &Authenticator, error: VerifyError) -> AuthError {
    match error {
        VerifyError::ResolverUnavailable => AuthError::ResolverUnavailable,
        VerifyError::KeysUnavailable => AuthError::KeysUnavailable {
            retry_after: auth.inner.settings.jwks_retry_interval,
        },
        e => AuthError::InvalidToken(e),
    }
}

/// The request's `Host` (HTTP/1) or URI authority (HTTP/2).
fn request_host(parts: &Parts) -> Option<&str> {
    match parts.headers.get(axum::http::header::HOST) {
        Some(host) => host.to_str().ok(),
        None => parts.uri.authority().map(|a| a.as_str()),
    }
}

/// The path as the client sent it (before any `Router::nest` stripped a prefix).
fn request_path(parts: &Parts) -> &str {
    parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map_or(parts.uri.path(), |original| original.0.path())
}

/// RFC 9449 §4.1.
const DPOP: &str = "dpop";

/// The one proof of the request: exactly one `DPoP` header with one value.
fn single_proof(headers: &HeaderMap) -> Result<&str, ProofError> {
    let mut values = headers.get_all(DPOP).iter();
    let Some(value) = values.next() else {
        return Err(ProofError::Missing);
    };
    if values.next().is_some() {
        return Err(ProofError::Multiple);
    }
    let value = value
        .to_str()
        .map_err(|_| ProofError::Malformed("the DPoP header is not visible ASCII"))?
        .trim();
    // A JWS has no commas: one means two proofs folded into one header line.
    if value.contains(',') {
        return Err(ProofError::Multiple);
    }
    if value.is_empty() {
        return Err(ProofError::Missing);
    }
    Ok(value)
}

/// The two schemes route-guard reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bearer,
    Dpop,
}

/// The scheme and token of `Authorization: Bearer <token>` or `Authorization: DPoP <token>`;
/// nothing else is a source. Any other scheme is `MissingToken`.
fn credentials(headers: &HeaderMap) -> Result<(Kind, &str), AuthError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(AuthError::MissingToken);
    };
    if values.next().is_some() {
        return Err(AuthError::InvalidRequest(
            "the request has more than one Authorization header",
        ));
    }
    if let Some(found) = well_formed(value.as_bytes()) {
        return Ok(found);
    }
    // Anything else is worked out step by step, for the right refusal.
    let Ok(value) = value.to_str() else {
        return Err(AuthError::InvalidRequest(
            "the Authorization header holds characters that are not visible ASCII",
        ));
    };
    let (scheme, rest) = match value.find([' ', '\t']) {
        Some(i) => (&value[..i], &value[i..]),
        None => (value, ""),
    };
    let kind = if scheme.eq_ignore_ascii_case("bearer") {
        Kind::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Kind::Dpop
    } else {
        // Another scheme (Basic, ...) is no token at all: a plain challenge.
        return Err(AuthError::MissingToken);
    };
    let pick = |bearer: &'static str, dpop: &'static str| match kind {
        Kind::Bearer => bearer,
        Kind::Dpop => dpop,
    };
    if rest.starts_with('\t') {
        return Err(AuthError::InvalidRequest(pick(
            "separate the Bearer scheme from the token with a space",
            "separate the DPoP scheme from the token with a space",
        )));
    }
    let token = rest.trim_start_matches(' ');
    if token.is_empty() {
        return Err(AuthError::InvalidRequest(pick(
            "the Bearer scheme is not followed by a token",
            "the DPoP scheme is not followed by a token",
        )));
    }
    if !is_token68(token) {
        // One pass decides the common case; which rule failed is worked out only for a refusal.
        return Err(AuthError::InvalidRequest(if token.contains([' ', '\t']) {
            "the Authorization header holds more than one token"
        } else {
            pick(
                "the bearer token holds characters outside the token68 syntax",
                "the DPoP token holds characters outside the token68 syntax",
            )
        }));
    }
    Ok((kind, token))
}

/// The bytes after `Bearer ` in the request's one `Authorization` header, unscanned: only for
/// a lookup in the verified-token cache, where nothing malformed can be found.
fn bearer_bytes(headers: &HeaderMap) -> Option<&[u8]> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next()?.as_bytes();
    if values.next().is_some() || value.len() < 7 || !value[..7].eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    Some(&value[7..])
}

/// The shape of nearly every request, `Bearer <token68>` or `DPoP <token68>` with one space,
/// recognised in one pass over the bytes; `None` sends anything else down the careful path.
fn well_formed(value: &[u8]) -> Option<(Kind, &str)> {
    let space = value.iter().position(|&b| b == b' ')?;
    let (scheme, token) = (&value[..space], &value[space + 1..]);
    let kind = if scheme.eq_ignore_ascii_case(b"bearer") {
        Kind::Bearer
    } else if scheme.eq_ignore_ascii_case(b"dpop") {
        Kind::Dpop
    } else {
        return None;
    };
    // token68 is ASCII, so the bytes are valid UTF-8 once it passed.
    let token = std::str::from_utf8(token).ok()?;
    is_token68(token).then_some((kind, token))
}

/// RFC 7235 token68: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
///
/// Every request with a token pays this scan of ~1 KiB, so it has no early exit and no
/// branches per byte: the compiler turns it into vector compares.
fn is_token68(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .as_bytes()
            .chunks(64)
            .all(|chunk| chunk.iter().fold(true, |ok, &b| ok & is_token68_byte(b)))
}

#[inline(always)]
fn is_token68_byte(b: u8) -> bool {
    // `| 0x20` lowercases ASCII letters and maps no other byte into `a..=z`.
    let lower = b | 0x20;
    lower.is_ascii_lowercase()
        | b.is_ascii_digit()
        | (b == b'-')
        | (b == b'.')
        | (b == b'_')
        | (b == b'~')
        | (b == b'+')
        | (b == b'/')
}
