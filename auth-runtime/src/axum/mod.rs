//! axum glue: the layer that installs the [`Authenticator`], the [`Claims`] and [`Guard`]
//! extractors, and the [`AuthRejection`] they fail with.

#[cfg(feature = "aide")]
pub(crate) mod aide;
mod certificate;
mod doctor;
mod headers;
mod layer;
#[cfg(feature = "mcp")]
mod mcp;
mod metadata;
#[cfg(any(feature = "aide", feature = "utoipa", feature = "utoipa6"))]
pub(crate) mod openapi;
mod ratelimit;
mod rejection;
mod route;
#[cfg(any(feature = "utoipa", feature = "utoipa6"))]
pub(crate) mod utoipa;

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::Extensions;
use axum::response::Response;

pub use certificate::ClientCertificate;
use certificate::RequestCertificate;
use headers::{bearer_bytes, credentials, single_proof, Kind, DPOP};
pub use layer::{AuthFuture, AuthLayer, AuthService};
use layer::{Outcome, RequestAuth};
#[cfg(feature = "mcp")]
pub use mcp::{layer as mcp_layer, McpLayer, McpService};
pub use ratelimit::{rate_limit, RateLimitLayer, RateLimitService};
pub use rejection::{AuthError, AuthRejection};
use rejection::{ChallengeParams, RenderBody, Scheme};
pub use route::{
    guard, require, require_acr, require_actor, require_auth, require_auth_age,
    require_claim_equals, require_claim_includes, require_org, require_permissions, require_role,
    require_scopes, RequireLayer, RequireService,
};

use crate::claims::{StandardClaims, TokenClaims};
use crate::config::{AuthenticatorBuilder, DpopMode, ErrorBody};
use crate::dpop::{request_url, DpopError, ProofError};
use crate::policy::{Insufficient, Requirement};
use crate::stats::RejectionReason;
use crate::verify::{
    Authenticator, CertificateReader, Escaped, RequestContext, VerifiedToken, VerifyError,
};

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
                resource_metadata: self.inner.resource_metadata.clone(),
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
        guard_request::<R>(parts).await?;
        Ok(Guard(PhantomData))
    }
}

/// What [`Guard<R>`] and the route layer [`guard`](crate::layer::guard) do: authenticate (once
/// per request), check `R`, then spend the caller's budget under `R`'s rate limit, if any.
async fn guard_request<R: Requirement>(parts: &mut Parts) -> Result<(), AuthRejection> {
    // A 401 or 403 on a route requiring scopes names them all.
    let scoped =
        |rejection: AuthRejection| rejection.for_route_scopes(&R::DESCRIPTION.scope_names());
    let (auth, token, scheme) = authenticate(parts).await.map_err(scoped)?;
    enforce::<R>(&auth, &token, scheme, &mut parts.extensions).map_err(scoped)?;
    if let Some(limit) = R::RATE_LIMIT {
        ratelimit::route_limit(&auth, &token, parts, limit).await?;
    }
    Ok(())
}

/// Checks `R` for a request whose token was verified: what [`Guard<R>`] and the route layer
/// [`guard`](crate::layer::guard) share.
fn enforce<R: Requirement>(
    auth: &Authenticator,
    token: &VerifiedToken,
    scheme: Scheme,
    extensions: &mut Extensions,
) -> Result<(), AuthRejection> {
    if R::READS_CLAIMS {
        let claims: Arc<R::Claims> = claims_for(auth, token, scheme, extensions)?;
        if let Err(missing) = R::check(&claims, token) {
            return Err(insufficient(auth, missing, scheme));
        }
        hand_over(extensions, claims);
    }
    Ok(())
}

/// The claims a check reads: handed over by an earlier guard of the same request, kept with
/// the token, or parsed now.
fn claims_for<T: TokenClaims>(
    auth: &Authenticator,
    token: &VerifiedToken,
    scheme: Scheme,
    extensions: &Extensions,
) -> Result<Arc<T>, AuthRejection> {
    if let Some(ParsedClaims(parsed)) = extensions.get::<ParsedClaims<T>>() {
        return Ok(Arc::clone(parsed));
    }
    token
        .shared_claims()
        .map_err(|e| claims_rejected(auth, e, scheme))
}

/// Claims kept with the token are found there again; others (and none already handed over)
/// are handed over to the next guard and the handler's own `Claims<T>`.
fn hand_over<T: TokenClaims>(extensions: &mut Extensions, claims: Arc<T>) {
    if Arc::strong_count(&claims) == 1 {
        extensions.insert(ParsedClaims(claims));
    }
}

/// A valid token that lacks what the route requires: 403 `insufficient_scope`, counted and
/// logged.
fn insufficient(auth: &Authenticator, missing: Insufficient, scheme: Scheme) -> AuthRejection {
    // Only a stronger or fresher login missing: the client can step up (RFC 9470), 401.
    let (reason, error) = match missing.step_up_only() {
        true => (
            RejectionReason::InsufficientUserAuthentication,
            AuthError::InsufficientUserAuthentication(missing),
        ),
        false => (
            RejectionReason::InsufficientScope,
            AuthError::InsufficientScope(missing),
        ),
    };
    auth.inner.counters.rejected(reason);
    tracing::debug!(target: "route_guard", %reason, error = %Escaped(format_args!("{error:?}")), "request rejected");
    auth.rejection(error, scheme)
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
    tracing::debug!(target: "route_guard", reason = %e.reason(), error = %Escaped(&e), "claims rejected");
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
                resource_metadata: None,
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
    // Read only when a certificate-bound token's binding is checked.
    let reader = auth
        .inner
        .settings
        .mtls
        .source
        .as_ref()
        .map(|source| RequestCertificate { parts, source });
    let certificate = reader.as_ref().map(|r| r as &dyn CertificateReader);
    let missing_scheme = match mode {
        DpopMode::Allowed => Scheme::Both,
        DpopMode::Required => Scheme::Dpop,
        DpopMode::Disabled => Scheme::Bearer,
    };
    // A Bearer token seen before is found in the verified-token cache before its syntax is
    // scanned: it passed that scan when it was verified, and it is compared byte for byte.
    if !has_proof && mode != DpopMode::Required {
        if let Some(token) = bearer_bytes(&parts.headers) {
            let context = || request_context(parts, certificate);
            if let Some(outcome) = auth.verify_seen(token, context, certificate).await {
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
            let context = request_context(parts, certificate);
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
            let context = request_context(parts, certificate);
            let settings = &auth.inner.settings;
            let url = request_url(
                parts,
                context.host,
                context.path,
                &settings.dpop,
                settings.proxy,
            );
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

/// What a domain resolver is told about the request, and where its client certificate is.
fn request_context<'a>(
    parts: &'a Parts,
    certificate: Option<&'a dyn CertificateReader>,
) -> RequestContext<'a> {
    RequestContext {
        host: request_host(parts),
        path: request_path(parts),
        certificate,
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
