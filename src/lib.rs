//! route-guard protects [axum](https://docs.rs/axum) routes with OAuth 2.0 / OIDC JWT access
//! tokens: Auth0 first, any standards-compliant issuer after.
//!
//! Build an [`Authenticator`] once (from `AUTH0_DOMAIN` and `AUTH0_AUDIENCE`, or with the
//! builder), install it with [`Authenticator::layer`], and protect handlers with an attribute:
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use route_guard::{require_scopes, Authenticator, Claims};
//!
//! #[require_scopes("read:messages")]
//! async fn messages(claims: Claims) -> String {
//!     format!("messages for {}", claims.sub.as_deref().unwrap_or("?"))
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = Authenticator::from_env()?;
//! let app = Router::new().route("/api/messages", get(messages)).layer(auth.layer());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3001").await?;
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Failures answer as RFC 6750 says: 401 `invalid_token`, 400 `invalid_request`, 403
//! `insufficient_scope`, each with a `WWW-Authenticate` challenge and a JSON body.
//!
//! # Macros
//!
//! Each attribute adds a guard extractor as the handler's first parameter, so it runs before any
//! other extractor (an unauthenticated request never has its body read). The handler keeps its
//! name, visibility, attributes, generics, parameters, body and return type. If it takes
//! `Claims<T>` or `Option<Claims<T>>`, requirements are checked against `T`, otherwise against
//! [`StandardClaims`]. Stacked attributes merge into one guard: one verification, and one 403 that
//! names everything missing. Every attribute takes `crate = "::path"` to rename route-guard.
//!
//! Use them on free `async fn` handlers, not on associated functions in `impl` blocks; put
//! `#[axum::debug_handler]` *below* them.
//!
//! `#[require_auth]`: any valid token.
//!
//! ```
//! use axum::Json;
//! use route_guard::{require_auth, Claims};
//!
//! #[require_auth]
//! async fn private(claims: Claims) -> Json<serde_json::Value> {
//!     Json(serde_json::json!({ "user": claims.sub }))
//! }
//! # let _ = axum::Router::<()>::new().route("/", axum::routing::get(private));
//! ```
//!
//! `#[require_scopes]`: all listed scopes, or `any(..)` of them (the `scope` claim,
//! space-separated, or `scp`). Otherwise 403 with `WWW-Authenticate: Bearer realm="api",
//! error="insufficient_scope", scope="…"`.
//!
//! ```
//! use route_guard::require_scopes;
//!
//! #[require_scopes("read:messages", "write:messages")]
//! async fn both() -> &'static str { "[]" }
//!
//! #[require_scopes(any("read:messages", "admin:messages"))]
//! async fn either() -> &'static str { "[]" }
//! # let _ = axum::Router::<()>::new().route("/", axum::routing::get(both)).route("/e", axum::routing::get(either));
//! ```
//!
//! `#[require_permissions]`: Auth0 RBAC permissions (the `permissions` array), in the same forms.
//!
//! ```
//! use axum::http::StatusCode;
//! use route_guard::require_permissions;
//!
//! #[require_permissions("write:messages")]
//! async fn create(body: String) -> StatusCode {
//!     let _ = body; // read only after the guard passed
//!     StatusCode::CREATED
//! }
//! # let _ = axum::Router::<()>::new().route("/", axum::routing::post(create));
//! ```
//!
//! `#[require_role]`: `"admin"`, `any("admin", "manager")` or `all(..)`, against the roles at
//! the location set with [`AuthenticatorBuilder::roles_claim`] (or by the issuer profile), which
//! fills [`StandardClaims`] and the `#[claim(roles)]` field of a derived claims type; without
//! one, a derived type's field reads its own claim. A claims type without roles is a compile error.
//!
//! ```
//! use route_guard::{require_role, Claims, TokenClaims};
//!
//! #[derive(TokenClaims)]
//! struct MyClaims {
//!     sub: String,
//!     #[claim(roles, rename = "https://myapp.com/roles")]
//!     roles: Vec<String>,
//! }
//!
//! #[require_role(any("admin", "manager"))]
//! async fn reports(claims: Claims<MyClaims>) -> String {
//!     format!("reports for {}", claims.sub)
//! }
//! # let _ = axum::Router::<()>::new().route("/", axum::routing::get(reports));
//! ```
//!
//! `#[require_claim]`: equality (`org_id = "org_123"`, or `"https://myapp.com/org" = "acme"`),
//! inclusion (`includes(roles = ["editor", "viewer"])`: an array or space-separated string holding
//! each value) or a predicate (`check = path::to::fn`, a `fn(&T) -> bool` over the claims type):
//! express-oauth2-jwt-bearer's `claimEquals`, `claimIncludes` and `claimCheck`. A failure is
//! 403 `insufficient_scope` naming the condition.
//!
//! ```
//! use route_guard::{require_claim, require_scopes, StandardClaims};
//!
//! fn verified_email(claims: &StandardClaims) -> bool {
//!     claims.get("email_verified") == Some(&serde_json::Value::Bool(true))
//! }
//!
//! #[require_scopes("read:billing")]
//! #[require_claim(org_id = "org_123", check = verified_email)]
//! async fn billing() -> &'static str { "ok" }
//! # let _ = axum::Router::<()>::new().route("/", axum::routing::get(billing));
//! ```
//!
//! `#[require_org]`: the token belongs to an Auth0 Organization (any, without arguments), or to
//! one of those listed: `org_...` entries are compared with `org_id`, others with `org_name`
//! (case-insensitively). `#[require_actor]`: the token is delegated (RFC 8693 `act`), with one of
//! the listed actors as its current one (the outermost `act.sub`). Both are 403
//! `insufficient_scope` otherwise, like `#[require_claim]`, and merge with the other attributes.
//! For every route at once, see [`AuthenticatorBuilder::organization`] (401 instead).
//!
//! ```
//! use route_guard::{require_actor, require_org};
//!
//! #[require_org]
//! async fn any_org() -> &'static str { "ok" }
//!
//! #[require_org("org_abc123", "acme")]
//! async fn acme_only() -> &'static str { "ok" }
//!
//! #[require_actor("billing-service")]
//! async fn on_behalf() -> &'static str { "ok" }
//! # let _ = axum::Router::<()>::new().route("/", axum::routing::get(any_org)).route("/a", axum::routing::get(acme_only)).route("/b", axum::routing::get(on_behalf));
//! ```
//!
//! `#[derive(TokenClaims)]`: `Deserialize` and [`TokenClaims`] for a struct of claims. Each
//! field reads the claim of its name; `#[claim(rename = "..")]` reads another one;
//! `#[claims(namespace = "https://myapp.com/")]` prefixes every field that is not a standard claim
//! (`sub`, `iss`, `aud`, `exp`, `nbf`, `iat`, `jti`, `azp`, `scope`, `scp`, `permissions`,
//! `email`, `org_id`, ...). `#[claim(roles)]`, `#[claim(permissions)]` and `#[claim(scope)]` mark
//! where authorization data lives (a field named `roles`, and the claims `permissions` and
//! `scope`, need no marker); such fields are empty when their claim is absent. `Option` fields may
//! be absent; any other missing or mistyped claim makes the token `invalid_token` with a
//! description naming the claim. `#[claim(flatten)] extra: serde_json::Map<String, Value>`
//! collects the rest. Do not also derive `Deserialize`.
//!
//! ```
//! use route_guard::TokenClaims;
//!
//! #[derive(TokenClaims, Debug)]
//! #[claims(namespace = "https://myapp.com/")]
//! struct MyClaims {
//!     sub: String,
//!     roles: Vec<String>, // reads "https://myapp.com/roles"
//!     permissions: Vec<String>,
//!     email: Option<String>,
//! }
//!
//! let claims: MyClaims = serde_json::from_value(serde_json::json!({
//!     "sub": "auth0|42",
//!     "https://myapp.com/roles": ["admin"],
//! }))?;
//! assert!(claims.has_role("admin"));
//! assert!(!claims.has_permission("read:messages"));
//! assert_eq!(claims.email, None);
//! # Ok::<(), serde_json::Error>(())
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

pub use auth_runtime::{
    Actor, Algorithm, AudienceRule, AuthError, AuthFuture, AuthLayer, AuthRejection, AuthService,
    Authenticated, Authenticator, AuthenticatorBuilder, CertificateHeaderFormat, Check,
    ClaimLocation, ClaimLocations, Claims, ClaimsContext, ClientCertificate, ConfigError,
    Description, DpopError, DpopMode, Grants, Guard, HasPermissions, HasRoles, HasScopes,
    Insufficient, IssuerProfile, IssuerRequest, IssuerTemplate, JweAlgorithm, KeysUnavailable,
    MemoryReplayStore, MtlsMode, NameGroup, OrgPolicy, ProofError, ProxyHeaders, RejectionReason,
    ReplayFuture, ReplayStore, ReplayStoreError, Requirement, ResolverError, RouteLimit, ScopeSet,
    StandardClaims, Stats, StringSet, TokenClaims, VerifiedToken, VerifyError,
};

pub use auth_runtime::certificate_thumbprint;

pub use auth_runtime::layer;

pub use auth_runtime::doctor;

#[cfg(feature = "aide")]
pub use auth_runtime::aide;

#[cfg(any(feature = "utoipa", feature = "utoipa6"))]
pub use auth_runtime::utoipa;

#[cfg(feature = "mcp")]
pub use auth_runtime::mcp;

/// DPoP proofs remembered in Redis (feature `redis`).
#[cfg(feature = "redis")]
pub use auth_runtime::RedisReplayStore;

/// Rejects requests without a valid access token (401). See the [crate docs](crate#macros).
pub use auth_macros::require_auth;

/// Requires scopes: all listed, or `any(..)`. See the [crate docs](crate#macros).
pub use auth_macros::require_scopes;

/// Requires Auth0 RBAC permissions. See the [crate docs](crate#macros).
pub use auth_macros::require_permissions;

/// Requires roles. See the [crate docs](crate#macros).
pub use auth_macros::require_role;

/// Requires a claim to equal a value, include values, or pass a predicate. See the
/// [crate docs](crate#macros).
pub use auth_macros::require_claim;

/// Requires an Auth0 Organization: any (`#[require_org]`) or one of those listed
/// (`#[require_org("org_abc123")]`, ids or names). 403 otherwise. See the [crate docs](crate#macros).
pub use auth_macros::require_org;

/// Requires a delegated token (RFC 8693 `act`) whose current actor is one of those listed
/// (`#[require_actor("billing-service")]`), or any actor. 403 otherwise. See the
/// [crate docs](crate#macros).
pub use auth_macros::require_actor;

/// Step-up (RFC 9470): the token's `acr` must be one of the values listed
/// (`#[require_acr("http://schemas.openid.net/pape/policies/2007/06/multi-factor")]`). Otherwise
/// 401 `insufficient_user_authentication` with `acr_values` in the challenge, so the client can
/// ask the user to log in again more strongly. Merges with the other attributes.
pub use auth_macros::require_acr;

/// Step-up (RFC 9470): the user must have authenticated at most `max_secs` seconds ago
/// (`#[require_auth_age(max_secs = 300)]`, the `auth_time` claim; a token without it fails).
/// Otherwise 401 `insufficient_user_authentication` with `max_age` in the challenge.
pub use auth_macros::require_auth_age;

/// Limits each caller of the handler to a quota: `#[rate_limit("10/minute")]` (per `second`,
/// `minute`, `hour` or `day`). The handler requires a valid token (as with `#[require_auth]`);
/// the limit is checked after its other attributes, so a refused token spends nothing, and the
/// caller is the token's `sub`. Over it: 429 `rate_limited` with `Retry-After`; the RateLimit
/// fields on every response. A malformed quota does not compile. See
/// [`layer::rate_limit`] for whole routers and anonymous callers.
pub use auth_macros::rate_limit;

/// Derives `Deserialize` and [`TokenClaims`]. See the [crate docs](crate#macros).
pub use auth_macros::TokenClaims;

/// Testing support (feature `testing`): a loopback issuer that mints tokens.
#[cfg(feature = "testing")]
pub mod testing {
    pub use auth_runtime::testing::*;
}

/// What the macros' generated code names. Not a public API.
#[doc(hidden)]
pub use auth_runtime::__private;

/// The guides: the reference beyond the API docs, one page a topic. Each page is a file of
/// `docs/` (or `BENCHMARKS.md`) in the repository, and every Rust snippet in it is compiled as a
/// doc test.
pub mod guide {
    /// Guards: every attribute, the route layers for whole routers, the extractors, and the
    /// SDKs' equivalents.
    #[doc = include_str!("../docs/guards.md")]
    pub mod guards {}
    /// Configuration: the environment, the builder, behind a reverse proxy.
    #[doc = include_str!("../docs/configuration.md")]
    pub mod configuration {}
    /// Other issuers: Keycloak, Entra ID, Cognito, Okta and Firebase profiles, and the building
    /// blocks for any other.
    #[doc = include_str!("../docs/issuers.md")]
    pub mod issuers {}
    /// Errors: the RFC 6750 answers and their bodies.
    #[doc = include_str!("../docs/errors.md")]
    pub mod errors {}
    /// What is verified, and the JWKS cache.
    #[doc = include_str!("../docs/verification.md")]
    pub mod verification {}
    /// DPoP (RFC 9449): sender-constrained tokens and replay protection across instances.
    #[doc = include_str!("../docs/dpop.md")]
    pub mod dpop {}
    /// Certificate-bound tokens (mTLS, RFC 8705): the modes, the certificate from the TLS
    /// connection or a proxy header, DPoP beside them.
    #[doc = include_str!("../docs/mtls.md")]
    pub mod mtls {}
    /// Encrypted tokens (JWE): Auth0's Token Encryption decrypted with aws-lc-rs, key rotation,
    /// what is checked before and after decryption.
    #[doc = include_str!("../docs/jwe.md")]
    pub mod jwe {}
    /// Discovery (RFC 9728), scope challenges and step-up authentication (RFC 9470).
    #[doc = include_str!("../docs/discovery.md")]
    pub mod discovery {}
    /// MCP servers: per-tool, per-prompt and per-resource requirements.
    #[doc = include_str!("../docs/mcp.md")]
    pub mod mcp {}
    /// OpenAPI from the guards, with aide or utoipa.
    #[doc = include_str!("../docs/openapi.md")]
    pub mod openapi {}
    /// Rate limits per caller, in memory or shared through Redis.
    #[doc = include_str!("../docs/rate-limits.md")]
    pub mod rate_limits {}
    /// Testing an API without Auth0: `TestIssuer` and its clients.
    #[doc = include_str!("../docs/testing.md")]
    pub mod testing {}
    /// Why was a token rejected: the token doctor, and common causes.
    #[doc = include_str!("../docs/troubleshooting.md")]
    pub mod troubleshooting {}
    /// route-guard beside Auth0's SDKs and jwt-authorizer.
    #[doc = include_str!("../docs/comparison.md")]
    pub mod comparison {}
    /// Benchmarks: each table with the command that produces it.
    #[doc = include_str!("../BENCHMARKS.md")]
    pub mod benchmarks {}
}

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
