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

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::config::{Algorithm, AuthenticatorBuilder, ConfigError};
use crate::dpop::{thumbprint, token_hash};
use crate::verify::Authenticator;

/// The audience of tokens minted by a [`TestIssuer`] unless told otherwise.
pub const TEST_AUDIENCE: &str = "https://api.route-guard.test";
/// The claim that holds roles in tokens minted by a [`TestIssuer`].
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
}

enum KeyPair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair, Algorithm),
    Ed(Ed25519KeyPair),
}

struct TestKey {
    kid: String,
    alg: Algorithm,
    pair: Arc<KeyPair>,
    published: bool,
    /// Extra JWK members (e.g. `use`), merged into the published JWK.
    extra: Map<String, Value>,
}

/// The public JWK of a key pair (`kty` and key members only).
fn public_jwk(pair: &KeyPair) -> Value {
    match pair {
        KeyPair::Rsa(pair) => {
            let public = pair.public_key();
            json!({
                "kty": "RSA",
                "n": b64(public.modulus().big_endian_without_leading_zero()),
                "e": b64(public.exponent().big_endian_without_leading_zero()),
            })
        }
        KeyPair::Ec(pair, alg) => {
            let point = pair.public_key().as_ref();
            let len = (point.len() - 1) / 2;
            json!({
                "kty": "EC",
                "crv": if *alg == Algorithm::ES384 { "P-384" } else { "P-256" },
                "x": b64(&point[1..1 + len]),
                "y": b64(&point[1 + len..]),
            })
        }
        KeyPair::Ed(pair) => json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64(pair.public_key().as_ref()),
        }),
    }
}

impl TestKey {
    fn jwk(&self) -> Value {
        let mut jwk = public_jwk(&self.pair);
        if let Value::Object(map) = &mut jwk {
            map.insert("kid".into(), Value::String(self.kid.clone()));
            map.insert("use".into(), Value::String("sig".into()));
            map.insert("alg".into(), Value::String(self.alg.as_str().into()));
            for (k, v) in &self.extra {
                if v.is_null() {
                    map.remove(k);
                } else {
                    map.insert(k.clone(), v.clone());
                }
            }
        }
        jwk
    }
}

#[derive(Default)]
struct Behaviour {
    down: bool,
    delay: Duration,
    cache_control: Option<String>,
    jwks_override: Option<(StatusCode, String)>,
    no_discovery: bool,
    jwks_lag: Duration,
}

struct Shared {
    issuer: String,
    keys: Mutex<Vec<TestKey>>,
    /// Every published key set with the time it was published, newest last (bounded): what a
    /// lagging JWKS serves.
    history: Mutex<VecDeque<(Instant, Value)>>,
    signing_kid: Mutex<String>,
    behaviour: Mutex<Behaviour>,
    jwks_fetches: AtomicUsize,
    discovery_fetches: AtomicUsize,
    next_kid: AtomicUsize,
}

/// A real OIDC issuer on `http://127.0.0.1:<port>/`, for tests. Stops when dropped.
///
/// Serves `/.well-known/openid-configuration` and `/.well-known/jwks.json`; starts with one
/// RS256 key. See the [module docs](self) for an example.
pub struct TestIssuer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl std::fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIssuer")
            .field("issuer", &self.shared.issuer)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that panicked while holding the lock must not wedge every later request.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl TestIssuer {
    /// Starts the issuer on an ephemeral loopback port with one RS256 signing key.
    pub async fn start() -> Result<TestIssuer, TestIssuerError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            issuer: format!("http://{addr}/"),
            keys: Mutex::new(Vec::new()),
            history: Mutex::new(VecDeque::new()),
            signing_kid: Mutex::new(String::new()),
            behaviour: Mutex::new(Behaviour::default()),
            jwks_fetches: AtomicUsize::new(0),
            discovery_fetches: AtomicUsize::new(0),
            next_kid: AtomicUsize::new(1),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/.well-known/jwks.json", get(jwks))
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let issuer = TestIssuer {
            shared,
            addr,
            server,
        };
        let kid = issuer.add_key(Algorithm::RS256)?;
        *lock(&issuer.shared.signing_kid) = kid;
        Ok(issuer)
    }

    /// The issuer identifier, `http://127.0.0.1:<port>/` (what tokens carry in `iss`).
    pub fn issuer(&self) -> &str {
        &self.shared.issuer
    }

    /// The socket address the issuer listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A builder pointed at this issuer (by discovery) with [`TEST_AUDIENCE`] and
    /// [`TEST_ROLES_CLAIM`]; add settings before `build()`.
    pub fn authenticator_builder(&self) -> AuthenticatorBuilder {
        Authenticator::builder()
            .issuer_base_url(self.issuer())
            .audience(TEST_AUDIENCE)
            .roles_claim(TEST_ROLES_CLAIM)
    }

    /// An Authenticator for this issuer with the defaults of
    /// [`authenticator_builder`](Self::authenticator_builder).
    pub fn authenticator(&self) -> Result<Authenticator, ConfigError> {
        self.authenticator_builder().build()
    }

    /// Starts a token signed by the current signing key, valid for an hour, for
    /// [`TEST_AUDIENCE`] and subject `auth0|test-user`.
    pub fn token(&self) -> TokenBuilder<'_> {
        let now = unix_now();
        let signing = lock(&self.shared.signing_kid).clone();
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.shared.issuer));
        claims.insert("sub".into(), json!("auth0|test-user"));
        claims.insert("aud".into(), json!(TEST_AUDIENCE));
        claims.insert("iat".into(), json!(now));
        claims.insert("exp".into(), json!(now + 3600));
        let mut header = Map::new();
        header.insert("typ".into(), json!("JWT"));
        header.insert("kid".into(), json!(signing));
        TokenBuilder {
            issuer: self,
            header,
            claims,
            key: signing,
            alg: None,
        }
    }

    /// Generates and publishes a new key for `alg` (not the signing key); returns its `kid`.
    pub fn add_key(&self, alg: Algorithm) -> Result<String, TestIssuerError> {
        let pair = generate(alg)?;
        let kid = format!(
            "test-key-{}",
            self.shared.next_kid.fetch_add(1, Ordering::Relaxed)
        );
        lock(&self.shared.keys).push(TestKey {
            kid: kid.clone(),
            alg,
            pair: Arc::new(pair),
            published: true,
            extra: Map::new(),
        });
        self.published_changed();
        Ok(kid)
    }

    /// Key rotation: publishes a new RS256 key and makes it the signing key. The old key stays
    /// published until [`unpublish_key`](Self::unpublish_key). Returns the new `kid`.
    pub fn rotate_keys(&self) -> Result<String, TestIssuerError> {
        let kid = self.add_key(Algorithm::RS256)?;
        *lock(&self.shared.signing_kid) = kid.clone();
        Ok(kid)
    }

    /// Makes `kid` the key new tokens are signed with.
    pub fn set_signing_key(&self, kid: &str) {
        *lock(&self.shared.signing_kid) = kid.to_owned();
    }

    /// The `kid` new tokens are signed with.
    pub fn signing_kid(&self) -> String {
        lock(&self.shared.signing_kid).clone()
    }

    /// Removes `kid` from the published JWKS (it can still sign, for tests of removed keys).
    pub fn unpublish_key(&self, kid: &str) {
        for key in lock(&self.shared.keys).iter_mut() {
            if key.kid == kid {
                key.published = false;
            }
        }
        self.published_changed();
    }

    /// Sets (or, with `null`, removes) a member of the published JWK for `kid`, e.g.
    /// `("use", json!("enc"))`.
    pub fn set_jwk_member(&self, kid: &str, name: &str, value: Value) {
        for key in lock(&self.shared.keys).iter_mut() {
            if key.kid == kid {
                key.extra.insert(name.to_owned(), value.clone());
            }
        }
        self.published_changed();
    }

    /// Records the key set now published, for [`set_jwks_lag`](Self::set_jwks_lag).
    fn published_changed(&self) {
        let document = jwks_document(&self.shared);
        let mut history = lock(&self.shared.history);
        if history.len() >= 64 {
            history.pop_front();
        }
        history.push_back((Instant::now(), document));
    }

    /// The public key of `kid` in the form aws-lc-rs verifies with: PKCS#1 `RSAPublicKey` DER for
    /// RSA, the uncompressed point for EC, the 32 raw bytes for Ed25519. For benchmarks beside a
    /// bare verification, and for attack tests (an HMAC keyed with the public key).
    pub fn public_key_der(&self, kid: &str) -> Option<Vec<u8>> {
        let keys = lock(&self.shared.keys);
        let key = keys.iter().find(|k| k.kid == kid)?;
        Some(match &*key.pair {
            KeyPair::Rsa(pair) => pair.public_key().as_ref().to_vec(),
            KeyPair::Ec(pair, _) => pair.public_key().as_ref().to_vec(),
            KeyPair::Ed(pair) => pair.public_key().as_ref().to_vec(),
        })
    }

    /// The published JWKS document (what is served, unless a [lag](Self::set_jwks_lag) is set).
    pub fn jwks(&self) -> Value {
        jwks_document(&self.shared)
    }

    /// The JWKS endpoint answers with the key set as it was published `lag` ago, as a CDN or
    /// cache in front of an issuer does after a key rotation: for `lag` after
    /// [`rotate_keys`](Self::rotate_keys), tokens are signed with a key the served JWKS does not
    /// list yet. Zero (the default) serves the current key set.
    ///
    /// ```
    /// # extern crate auth_runtime as route_guard;
    /// use std::time::Duration;
    /// use route_guard::testing::TestIssuer;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let issuer = TestIssuer::start().await?;
    /// issuer.set_jwks_lag(Duration::from_secs(60));
    /// let new_kid = issuer.rotate_keys()?;
    /// let served = reqwest::get(format!("{}.well-known/jwks.json", issuer.issuer()))
    ///     .await?
    ///     .text()
    ///     .await?;
    /// assert!(!served.contains(&new_kid));
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_jwks_lag(&self, lag: Duration) {
        lock(&self.shared.behaviour).jwks_lag = lag;
    }

    /// While `down`, discovery and JWKS answer 503.
    pub fn set_down(&self, down: bool) {
        lock(&self.shared.behaviour).down = down;
    }

    /// Every answer waits this long first (a slow issuer).
    pub fn set_delay(&self, delay: Duration) {
        lock(&self.shared.behaviour).delay = delay;
    }

    /// The `Cache-Control` header of the JWKS response (none by default).
    pub fn set_cache_control(&self, value: Option<&str>) {
        lock(&self.shared.behaviour).cache_control = value.map(str::to_owned);
    }

    /// Replaces the JWKS response with `status` and `body` (a fault), until
    /// [`clear_jwks_response`](Self::clear_jwks_response).
    pub fn set_jwks_response(&self, status: u16, body: impl Into<String>) {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        lock(&self.shared.behaviour).jwks_override = Some((status, body.into()));
    }

    /// Serves the real JWKS again.
    pub fn clear_jwks_response(&self) {
        lock(&self.shared.behaviour).jwks_override = None;
    }

    /// Without discovery the issuer answers 404 for the discovery document.
    pub fn set_discovery(&self, enabled: bool) {
        lock(&self.shared.behaviour).no_discovery = !enabled;
    }

    /// Requests for the JWKS seen so far.
    pub fn jwks_fetches(&self) -> usize {
        self.shared.jwks_fetches.load(Ordering::SeqCst)
    }

    /// Requests for the discovery document seen so far.
    pub fn discovery_fetches(&self) -> usize {
        self.shared.discovery_fetches.load(Ordering::SeqCst)
    }

    /// Signs arbitrary header and payload JSON text with key `kid`'s own algorithm (the header
    /// is used as given: for hostile-token tests). Unknown `kid`: the signing key.
    pub fn sign_raw(&self, kid: &str, header_json: &str, payload_json: &str) -> String {
        let message = format!(
            "{}.{}",
            b64(header_json.as_bytes()),
            b64(payload_json.as_bytes())
        );
        let signature = self
            .key_pair(kid)
            .map(|(pair, alg)| sign(&pair, alg, message.as_bytes()))
            .unwrap_or_default();
        format!("{message}.{}", b64(&signature))
    }

    /// Key `kid`, else the signing key, else the first key. `start()` always creates one, so `None` is unreachable
    /// through the API; callers then sign with nothing (an invalid token, never a panic).
    fn key_pair(&self, kid: &str) -> Option<(Arc<KeyPair>, Algorithm)> {
        let keys = lock(&self.shared.keys);
        let signing = lock(&self.shared.signing_kid).clone();
        keys.iter()
            .find(|k| k.kid == kid)
            .or_else(|| keys.iter().find(|k| k.kid == signing))
            .or_else(|| keys.first())
            .map(|k| (Arc::clone(&k.pair), k.alg))
    }
}

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
    issuer: &'a TestIssuer,
    header: Map<String, Value>,
    claims: Map<String, Value>,
    key: String,
    alg: Option<Algorithm>,
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

    /// Sets `scope` (space-separated).
    pub fn scopes(self, scopes: &str) -> Self {
        self.claim("scope", scopes)
    }

    /// Sets `permissions`.
    pub fn permissions<const N: usize>(self, permissions: [&str; N]) -> Self {
        self.claim("permissions", permissions.to_vec())
    }

    /// Sets the roles under [`TEST_ROLES_CLAIM`].
    pub fn roles<const N: usize>(self, roles: [&str; N]) -> Self {
        self.claim(TEST_ROLES_CLAIM, roles.to_vec())
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
        let message = format!(
            "{}.{}",
            b64(Value::Object(self.header).to_string().as_bytes()),
            b64(Value::Object(self.claims).to_string().as_bytes())
        );
        let signature = key
            .map(|(pair, _)| sign(&pair, alg, message.as_bytes()))
            .unwrap_or_default();
        format!("{message}.{}", b64(&signature))
    }
}

/// A client's DPoP key (ES256 unless chosen otherwise) that makes proofs (RFC 9449 §4) for
/// tests: [`proof`](Self::proof) for a valid one, [`proof_builder`](Self::proof_builder) to
/// break any rule.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::testing::{DpopKey, TestIssuer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let issuer = TestIssuer::start().await?;
/// let key = DpopKey::generate()?;
/// let token = issuer.token().dpop_bound(&key).sign();
/// let url = "http://127.0.0.1:3000/api/private";
/// // What a client sends: `Authorization: DPoP <token>` and `DPoP: <proof>`.
/// let proof = key.proof("GET", url, &token);
/// // A proof that is ten minutes old, for a test that expects a rejection.
/// let stale = key.proof_builder("GET", url).token(&token).issued_secs_ago(600).sign();
/// # let _ = (proof, stale);
/// # Ok(())
/// # }
/// ```
pub struct DpopKey {
    pair: KeyPair,
    alg: Algorithm,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey")
            .field("alg", &self.alg)
            .field("thumbprint", &self.thumbprint())
            .finish()
    }
}

impl DpopKey {
    /// A new ES256 (P-256) key, the default proof algorithm.
    pub fn generate() -> Result<DpopKey, TestIssuerError> {
        Self::generate_for(Algorithm::ES256)
    }

    /// A new key for `alg` (ES256, ES384, EdDSA, RS256, PS256, ...).
    pub fn generate_for(alg: Algorithm) -> Result<DpopKey, TestIssuerError> {
        Ok(DpopKey {
            pair: generate(alg)?,
            alg,
        })
    }

    /// The proof algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The public JWK, as proofs carry it in their header.
    pub fn jwk(&self) -> Value {
        public_jwk(&self.pair)
    }

    /// The RFC 7638 thumbprint: what a bound token carries in `cnf.jkt`.
    pub fn thumbprint(&self) -> String {
        match self.jwk() {
            Value::Object(jwk) => thumbprint(&jwk).unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// A valid proof for `method` and `url` with `token`'s `ath`, a fresh `jti` and `iat` now.
    pub fn proof(&self, method: &str, url: &str, token: &str) -> String {
        self.proof_builder(method, url).token(token).sign()
    }

    /// A proof to adjust before signing: every claim and header member can be changed.
    pub fn proof_builder(&self, method: &str, url: &str) -> ProofBuilder<'_> {
        let mut random = [0u8; 16];
        // A failed read leaves zeros; tests that need distinct jtis would notice.
        let _ = SystemRandom::new().fill(&mut random);
        let mut header = Map::new();
        header.insert("typ".into(), json!("dpop+jwt"));
        header.insert("alg".into(), json!(self.alg.as_str()));
        header.insert("jwk".into(), self.jwk());
        let mut claims = Map::new();
        claims.insert("jti".into(), json!(b64(&random)));
        claims.insert("htm".into(), json!(method));
        claims.insert("htu".into(), json!(url));
        claims.insert("iat".into(), json!(unix_now()));
        ProofBuilder {
            key: self,
            header,
            claims,
            alg: self.alg,
        }
    }
}

/// A DPoP proof being built by [`DpopKey::proof_builder`].
#[must_use]
pub struct ProofBuilder<'a> {
    key: &'a DpopKey,
    header: Map<String, Value>,
    claims: Map<String, Value>,
    alg: Algorithm,
}

impl std::fmt::Debug for ProofBuilder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofBuilder")
            .field("header", &self.header)
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

impl ProofBuilder<'_> {
    /// Sets `ath` to the hash of `token`.
    pub fn token(self, token: &str) -> Self {
        self.claim("ath", token_hash(token))
    }

    /// Sets `nonce`.
    pub fn nonce(self, nonce: &str) -> Self {
        self.claim("nonce", nonce)
    }

    /// Sets `jti`.
    pub fn jti(self, jti: &str) -> Self {
        self.claim("jti", jti)
    }

    /// `iat` this many seconds in the past.
    pub fn issued_secs_ago(self, secs: i64) -> Self {
        self.claim("iat", unix_now() - secs)
    }

    /// `iat` this many seconds in the future.
    pub fn issued_secs_ahead(self, secs: i64) -> Self {
        self.claim("iat", unix_now() + secs)
    }

    /// Sets any claim; `null` removes it.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        set_or_remove(&mut self.claims, name, value.into());
        self
    }

    /// Sets any header member (`typ`, `jwk`, `crit`, ...); `null` removes it.
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        set_or_remove(&mut self.header, name, value.into());
        self
    }

    /// The `alg` header and the signature scheme (e.g. PS256 with an RSA key).
    pub fn alg(mut self, alg: Algorithm) -> Self {
        self.alg = alg;
        self.header("alg", alg.as_str())
    }

    /// Signs the proof.
    pub fn sign(self) -> String {
        let message = format!(
            "{}.{}",
            b64(Value::Object(self.header).to_string().as_bytes()),
            b64(Value::Object(self.claims).to_string().as_bytes())
        );
        let signature = sign(&self.key.pair, self.alg, message.as_bytes());
        format!("{message}.{}", b64(&signature))
    }
}

fn set_or_remove(map: &mut Map<String, Value>, name: &str, value: Value) {
    if value.is_null() {
        map.remove(name);
    } else {
        map.insert(name.to_owned(), value);
    }
}

fn generate(alg: Algorithm) -> Result<KeyPair, TestIssuerError> {
    let err = |_| TestIssuerError::KeyGeneration(alg);
    Ok(match alg {
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => KeyPair::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).map_err(err)?),
        Algorithm::ES256 => KeyPair::Ec(
            EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).map_err(err)?,
            alg,
        ),
        Algorithm::ES384 => KeyPair::Ec(
            EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_FIXED_SIGNING).map_err(err)?,
            alg,
        ),
        Algorithm::EdDSA | Algorithm::Ed25519 => {
            KeyPair::Ed(Ed25519KeyPair::generate().map_err(err)?)
        }
        Algorithm::HS256 => return Err(TestIssuerError::KeyGeneration(alg)),
    })
}

fn sign(pair: &KeyPair, alg: Algorithm, message: &[u8]) -> Vec<u8> {
    let rng = SystemRandom::new();
    match pair {
        KeyPair::Rsa(pair) => {
            let padding: &'static dyn signature::RsaEncoding = match alg {
                Algorithm::RS384 => &signature::RSA_PKCS1_SHA384,
                Algorithm::RS512 => &signature::RSA_PKCS1_SHA512,
                Algorithm::PS256 => &signature::RSA_PSS_SHA256,
                Algorithm::PS384 => &signature::RSA_PSS_SHA384,
                Algorithm::PS512 => &signature::RSA_PSS_SHA512,
                _ => &signature::RSA_PKCS1_SHA256,
            };
            let mut out = vec![0; pair.public_modulus_len()];
            match pair.sign(padding, &rng, message, &mut out) {
                Ok(()) => out,
                Err(_) => Vec::new(),
            }
        }
        KeyPair::Ec(pair, _) => pair
            .sign(&rng, message)
            .map(|s| s.as_ref().to_vec())
            .unwrap_or_default(),
        KeyPair::Ed(pair) => pair.sign(message).as_ref().to_vec(),
    }
}

fn jwks_document(shared: &Shared) -> Value {
    let keys: Vec<Value> = lock(&shared.keys)
        .iter()
        .filter(|k| k.published)
        .map(TestKey::jwk)
        .collect();
    json!({ "keys": keys })
}

/// The newest key set published at least `lag` ago (the oldest one if none is that old).
fn lagging_document(shared: &Shared, lag: Duration) -> Value {
    let history = lock(&shared.history);
    let cutoff = Instant::now().checked_sub(lag);
    history
        .iter()
        .rev()
        .find(|(at, _)| cutoff.is_some_and(|cutoff| *at <= cutoff))
        .or_else(|| history.front())
        .map(|(_, document)| document.clone())
        .unwrap_or_else(|| json!({ "keys": [] }))
}

async fn misbehave(shared: &Shared) -> Option<Response> {
    let (delay, down) = {
        let b = lock(&shared.behaviour);
        (b.delay, b.down)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    down.then(|| (StatusCode::SERVICE_UNAVAILABLE, "issuer down").into_response())
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Response {
    shared.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    if let Some(response) = misbehave(&shared).await {
        return response;
    }
    if lock(&shared.behaviour).no_discovery {
        return StatusCode::NOT_FOUND.into_response();
    }
    axum::Json(json!({
        "issuer": shared.issuer,
        "jwks_uri": format!("{}.well-known/jwks.json", shared.issuer),
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
    .into_response()
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    if let Some(response) = misbehave(&shared).await {
        return response;
    }
    let (override_, cache_control, lag) = {
        let b = lock(&shared.behaviour);
        (b.jwks_override.clone(), b.cache_control.clone(), b.jwks_lag)
    };
    let mut response = match override_ {
        Some((status, body)) => {
            (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        None if !lag.is_zero() => axum::Json(lagging_document(&shared, lag)).into_response(),
        None => axum::Json(jwks_document(&shared)).into_response(),
    };
    if let Some(value) = cache_control.and_then(|v| header::HeaderValue::from_str(&v).ok()) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
