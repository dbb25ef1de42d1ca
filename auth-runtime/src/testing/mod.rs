//! A loopback OIDC issuer for tests (feature `testing`): it serves discovery and a JWKS over real
//! HTTP on `127.0.0.1`, mints tokens, rotates keys, and misbehaves on request (down, slow, odd
//! bodies), counting every fetch.
//!
//! ```
//! # extern crate auth_runtime as route_guard;
//! use route_guard::testing::TestIssuer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let issuer = TestIssuer::start().await?;
//! let auth = issuer.authenticator()?;
//! let token = issuer.token().sub("auth0|alice").scopes("read:messages").sign();
//! let verified = auth.verify(&token).await?;
//! assert_eq!(verified.standard_claims()?.sub.as_deref(), Some("auth0|alice"));
//! assert_eq!(issuer.jwks_fetches(), 1);
//! # Ok(())
//! # }
//! ```

mod certificate;
mod dpop;
mod issuer;
mod jwe;
mod keys;
mod oauth;
mod profile;
mod token;

use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

pub use certificate::{CertificateError, TestCertificate};
pub use dpop::{DpopKey, ProofBuilder};
pub use issuer::TestIssuer;
pub use jwe::{JweBuilder, TestEncryptionKey};
pub use oauth::TestClient;
pub use token::TokenBuilder;

use crate::config::Algorithm;

/// The audience of tokens minted by a [`TestIssuer`] unless told otherwise.
pub const TEST_AUDIENCE: &str = "https://api.route-guard.test";
/// The Entra tenant (`tid`) of a [`TestIssuer`] started for the Entra profile.
pub const TEST_TENANT: &str = "5f2b3c1d-8e4a-4b6f-9c0d-1a2b3c4d5e6f";
/// The Firebase project (`aud`) of a [`TestIssuer`] started for the Firebase profile.
pub const TEST_PROJECT: &str = "route-guard-test";
/// The claim that holds roles in tokens minted by a [`TestIssuer`] (Auth0 profile).
pub const TEST_ROLES_CLAIM: &str = "https://route-guard.test/roles";

/// Why a [`TestIssuer`] could not start or make a key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestIssuerError {
    /// Binding or serving on loopback failed.
    #[error("the test issuer could not listen on 127.0.0.1: {0}")]
    Io(#[from] std::io::Error),
    /// Key generation failed.
    #[error("the test issuer could not generate a {0} key")]
    KeyGeneration(Algorithm),
    /// Its client certificate could not be made.
    #[error(transparent)]
    Certificate(#[from] CertificateError),
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that panicked while holding the lock must not wedge every later request.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(super) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(super) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
