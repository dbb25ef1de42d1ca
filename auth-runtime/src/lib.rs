//! The runtime of [route-guard](https://docs.rs/route-guard): configuration, the JWKS cache, the
//! token verifier, claims, requirements and the axum extractors.
//!
//! Depend on `route-guard`, not on this crate: the facade re-exports everything here.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod axum;
mod claims;
mod config;
mod jwks;
mod policy;
mod stats;
#[cfg(feature = "testing")]
pub mod testing;
mod verify;

pub use crate::axum::{AuthError, AuthRejection, Claims, Guard};
pub use claims::{ClaimsContext, StandardClaims, TokenClaims};
pub use config::{Algorithm, AuthenticatorBuilder, ConfigError};
pub use policy::{Authenticated, Check, Insufficient, Requirement};
pub use stats::{RejectionReason, Stats};
pub use verify::{Authenticator, KeysUnavailable, VerifiedToken, VerifyError};
