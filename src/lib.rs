//! route-guard protects [axum](https://docs.rs/axum) routes with OAuth 2.0 / OIDC JWT access
//! tokens: Auth0 first, any standards-compliant issuer after.
//!
//! Build an [`Authenticator`] once (from `AUTH0_DOMAIN` and `AUTH0_AUDIENCE`, or with the
//! builder), install it with [`Authenticator::layer`], and take [`Claims`] in handlers:
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use route_guard::{Authenticator, Claims};
//!
//! async fn private(claims: Claims) -> String {
//!     format!("hello {}", claims.sub.as_deref().unwrap_or("?"))
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = Authenticator::from_env()?;
//! let app = Router::new().route("/api/private", get(private)).layer(auth.layer());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3001").await?;
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Failures answer as RFC 6750 says: 401 `invalid_token`, 400 `invalid_request`, 403
//! `insufficient_scope`, each with a `WWW-Authenticate` challenge and a JSON body.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use auth_runtime::{
    Algorithm, AuthError, AuthRejection, Authenticated, Authenticator, AuthenticatorBuilder, Check,
    Claims, ClaimsContext, ConfigError, Guard, Insufficient, KeysUnavailable, RejectionReason,
    Requirement, StandardClaims, Stats, TokenClaims, VerifiedToken, VerifyError,
};

/// Testing support (feature `testing`): a loopback issuer that mints tokens.
#[cfg(feature = "testing")]
pub mod testing {
    pub use auth_runtime::testing::*;
}

#[cfg(all(doctest, feature = "testing"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
