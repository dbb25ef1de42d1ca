//! [`TokenBuilder`]: one access token, any claim or header member adjustable before signing.

use std::time::Duration;

use serde_json::{json, Map, Value};

use super::certificate::TestCertificate;
use super::dpop::DpopKey;
use super::issuer::TestIssuer;
use super::jwe::TestEncryptionKey;
use super::keys::compact_jws;
use super::unix_now;
use crate::config::Algorithm;

/// Builds one token; [`sign`](Self::sign) produces the compact JWS.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// # use route_guard::testing::TestIssuer;
/// # use std::time::Duration;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let issuer = TestIssuer::start().await?;
/// let token = issuer
///     .token()
///     .sub("auth0|bob")
///     .permissions(["read:messages"])
///     .roles(["admin"])
///     .claim("https://myapp.com/org", "acme")
///     .expires_in(Duration::from_secs(60))
///     .sign();
/// assert_eq!(token.split('.').count(), 3);
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct TokenBuilder<'a> {
    pub(super) issuer: &'a TestIssuer,
    pub(super) header: Map<String, Value>,
    pub(super) claims: Map<String, Value>,
    pub(super) key: String,
    pub(super) alg: Option<Algorithm>,
}

impl std::fmt::Debug for TokenBuilder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenBuilder")
            .field("header", &self.header)
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

impl TokenBuilder<'_> {
    /// Sets `sub`.
    #[allow(clippy::should_implement_trait)]
    pub fn sub(self, sub: &str) -> Self {
        self.claim("sub", sub)
    }

    /// Sets `aud` to one audience.
    pub fn audience(self, aud: &str) -> Self {
        self.claim("aud", aud)
    }

    /// Sets `aud` to an array.
    pub fn audiences<const N: usize>(self, aud: [&str; N]) -> Self {
        self.claim("aud", aud.to_vec())
    }

    /// Sets `iss`.
    pub fn iss(self, iss: &str) -> Self {
        self.claim("iss", iss)
    }

    /// Sets the scopes (space-separated) as the issuer's profile sends them: `scope` for
    /// Auth0, Keycloak, Cognito and Firebase, `scp` as a string for Entra and as an array for
    /// Okta.
    pub fn scopes(self, scopes: &str) -> Self {
        let (name, value) = super::profile::scopes(self.issuer.shared.profile, scopes);
        self.claim(name, value)
    }

    /// Sets `permissions`.
    pub fn permissions<const N: usize>(self, permissions: [&str; N]) -> Self {
        self.claim("permissions", permissions.to_vec())
    }

    /// Sets the roles where the issuer's profile sends them:
    /// [`TEST_ROLES_CLAIM`](super::TEST_ROLES_CLAIM) for Auth0,
    /// `realm_access.roles` for Keycloak, `roles` for Entra and Firebase, `cognito:groups` for
    /// Cognito, `groups` for Okta.
    pub fn roles<const N: usize>(mut self, roles: [&str; N]) -> Self {
        super::profile::roles(self.issuer.shared.profile, &mut self.claims, roles.to_vec());
        self
    }

    /// Sets any claim.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.to_owned(), value.into());
        self
    }

    /// Removes a claim (e.g. `exp`, `aud`).
    pub fn without(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// `exp` this far in the future.
    pub fn expires_in(self, ttl: Duration) -> Self {
        let exp = unix_now() + ttl.as_secs() as i64;
        self.claim("exp", exp)
    }

    /// `exp` this many seconds ago (and `iat` before that).
    pub fn expired_for(self, ago: Duration) -> Self {
        let exp = unix_now() - ago.as_secs() as i64;
        self.claim("exp", exp).claim("iat", exp - 3600)
    }

    /// `nbf` this far in the future.
    pub fn not_before_in(self, delay: Duration) -> Self {
        let nbf = unix_now() + delay.as_secs() as i64;
        self.claim("nbf", nbf)
    }

    /// Sets a header member (`typ`, `crit`, `jku`, ...); `null` removes it.
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        let value = value.into();
        if value.is_null() {
            self.header.remove(name);
        } else {
            self.header.insert(name.to_owned(), value);
        }
        self
    }

    /// Sets the `kid` header without changing the signing key.
    pub fn kid(self, kid: &str) -> Self {
        self.header("kid", kid)
    }

    /// Binds the token to a DPoP key: `cnf.jkt` is the key's RFC 7638 thumbprint, so the token
    /// is accepted only with `Authorization: DPoP` and a proof made with that key.
    pub fn dpop_bound(self, key: &DpopKey) -> Self {
        self.claim("cnf", json!({ "jkt": key.thumbprint() }))
    }

    /// Binds the token to a client certificate (RFC 8705): `cnf.x5t#S256` is the certificate's
    /// thumbprint, so the token is accepted only from a request with that certificate, under
    /// [`MtlsMode::Allowed`](crate::MtlsMode::Allowed) or
    /// [`Required`](crate::MtlsMode::Required).
    pub fn certificate_bound(self, certificate: &TestCertificate) -> Self {
        self.claim("cnf", json!({ "x5t#S256": certificate.thumbprint() }))
    }

    /// Signs with the key `kid` (and names it in the header).
    pub fn signed_with(mut self, kid: &str) -> Self {
        self.key = kid.to_owned();
        self.header("kid", kid)
    }

    /// The `alg` header and signature scheme (e.g. PS256 with an RSA key). A scheme the key
    /// cannot produce leaves the signature in the key's own scheme: a mismatched token.
    pub fn alg(mut self, alg: Algorithm) -> Self {
        self.alg = Some(alg);
        self
    }

    /// The claims as they will be signed.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// Signs the token, then encrypts it to `key` as Auth0's Token Encryption does (a JWE
    /// with RSA-OAEP-256 and A256GCM around the signed token).
    pub fn sign_encrypted(self, key: &TestEncryptionKey) -> String {
        key.encrypt(&self.sign())
    }

    /// Signs the token.
    pub fn sign(mut self) -> String {
        let key = self.issuer.key_pair(&self.key);
        let alg = self
            .alg
            .or(key.as_ref().map(|(_, key_alg)| *key_alg))
            .unwrap_or(Algorithm::RS256);
        self.header
            .entry("alg")
            .or_insert_with(|| Value::String(alg.as_str().to_owned()));
        compact_jws(
            &Value::Object(self.header).to_string(),
            &Value::Object(self.claims).to_string(),
            key.as_ref().map(|(pair, _)| (&**pair, alg)),
        )
    }
}
