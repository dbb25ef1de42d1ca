//! [`TestIssuer`]: the loopback OIDC issuer (discovery and JWKS over real HTTP) and how it
//! misbehaves on request.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::signature::KeyPair as _;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Map, Value};

use super::certificate::TestCertificate;
use super::keys::{compact_jws, generate, KeyPair, TestKey};
use super::oauth::{self, TestClient};
use super::token::TokenBuilder;
use super::{lock, unix_now, TestIssuerError, TEST_AUDIENCE};
use crate::config::{Algorithm, AuthenticatorBuilder, ConfigError, IssuerProfile};
use crate::verify::Authenticator;

#[derive(Default)]
struct Behaviour {
    down: bool,
    delay: Duration,
    cache_control: Option<String>,
    jwks_override: Option<(StatusCode, String)>,
    no_discovery: bool,
    /// Members of the discovery document replaced (`Some`) or left out (`None`).
    discovery_members: Vec<(String, Option<Value>)>,
    jwks_lag: Duration,
}

/// The `jti`s of proofs the token endpoint accepted: in order (with when, for expiry) and as a
/// set (for the look-up).
pub(super) type SeenProofs = (VecDeque<(i64, String)>, HashSet<String>);

pub(super) struct Shared {
    pub(super) issuer: String,
    /// Whose tokens the issuer mints.
    pub(super) profile: IssuerProfile,
    pub(super) keys: Mutex<Vec<TestKey>>,
    /// Every published key set with the time it was published, newest last (bounded): what a
    /// lagging JWKS serves.
    history: Mutex<VecDeque<(Instant, Value)>>,
    pub(super) signing_kid: Mutex<String>,
    /// Clients of the token endpoint.
    pub(super) clients: Mutex<Vec<TestClient>>,
    behaviour: Mutex<Behaviour>,
    jwks_fetches: AtomicUsize,
    discovery_fetches: AtomicUsize,
    /// The `jti`s of DPoP proofs the token endpoint accepted, oldest first, with when.
    pub(super) proof_jtis: Mutex<SeenProofs>,
    next_kid: AtomicUsize,
}

/// A real OIDC issuer on `http://127.0.0.1:<port>/`, for tests. Stops when dropped.
///
/// Serves `/.well-known/openid-configuration` and `/.well-known/jwks.json`; starts with one
/// RS256 key. See the [module docs](super) for an example.
pub struct TestIssuer {
    pub(super) shared: Arc<Shared>,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
    /// The client certificate its certificate-bound tokens name.
    client_certificate: TestCertificate,
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

/// Starting.
impl TestIssuer {
    /// Starts the issuer on an ephemeral loopback port with one RS256 signing key.
    pub async fn start() -> Result<TestIssuer, TestIssuerError> {
        Self::start_at("/").await
    }

    /// Starts the issuer under a path, as vendors name their issuers: `"/realms/acme"` gives
    /// the issuer `http://127.0.0.1:<port>/realms/acme` (no trailing slash, as Keycloak, Okta,
    /// Cognito and Entra write theirs), with discovery at
    /// `<issuer>/.well-known/openid-configuration`. `"/"` is [`start`](Self::start).
    ///
    /// ```
    /// # extern crate auth_runtime as route_guard;
    /// use route_guard::{testing::TestIssuer, IssuerProfile};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let keycloak = TestIssuer::start_at("/realms/acme").await?;
    /// assert!(keycloak.issuer().ends_with("/realms/acme"));
    /// let auth = route_guard::Authenticator::builder()
    ///     .keycloak(keycloak.issuer())
    ///     .audience("orders-api")
    ///     .build()?;
    /// let token = keycloak
    ///     .token()
    ///     .audiences(["orders-api", "account"])
    ///     .claim("typ", "Bearer")
    ///     .claim("realm_access", serde_json::json!({ "roles": ["admin"] }))
    ///     .sign();
    /// let verified = auth.verify(&token).await?;
    /// assert_eq!(verified.standard_claims()?.roles, ["admin"]);
    /// assert_eq!(auth.profile(), IssuerProfile::Keycloak);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start_at(path: &str) -> Result<TestIssuer, TestIssuerError> {
        Self::start_with(path, IssuerProfile::Auth0).await
    }

    /// Starts an issuer that acts as the vendor of `profile`: under the vendor's issuer path
    /// (`/realms/route-guard`, `/{TEST_TENANT}/v2.0`, `/us-east-1_RouteGuard`,
    /// `/oauth2/default`, `/route-guard-test`), with an
    /// [`authenticator_builder`](Self::authenticator_builder) set to the profile, and minting
    /// the vendor's access tokens: [`token`](Self::token) carries the claims the vendor always
    /// sends (Keycloak's `typ`, Entra's `tid`, Cognito's `client_id` and `token_use` without
    /// `aud`, ...), and [`scopes`](super::TokenBuilder::scopes) and
    /// [`roles`](super::TokenBuilder::roles) put them where the vendor does. A test written for
    /// one profile runs under another unchanged.
    ///
    /// ```
    /// # extern crate auth_runtime as route_guard;
    /// use route_guard::{testing::TestIssuer, IssuerProfile, TokenClaims};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// for profile in IssuerProfile::ALL {
    ///     let issuer = TestIssuer::start_for(profile).await?;
    ///     let auth = issuer.authenticator()?;
    ///     let token = issuer.token().scopes("read:messages").roles(["admin"]).sign();
    ///     let claims = auth.verify(&token).await?.standard_claims()?;
    ///     assert!(claims.has_scope("read:messages") && claims.has_role("admin"), "{profile}");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start_for(profile: IssuerProfile) -> Result<TestIssuer, TestIssuerError> {
        Self::start_with(&super::profile::path(profile), profile).await
    }

    async fn start_with(path: &str, profile: IssuerProfile) -> Result<TestIssuer, TestIssuerError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let prefix = path.trim_end_matches('/');
        let prefix = match prefix.is_empty() || prefix.starts_with('/') {
            true => prefix.to_owned(),
            false => format!("/{prefix}"),
        };
        let issuer = match prefix.is_empty() {
            true => format!("http://{addr}/"),
            false => format!("http://{addr}{prefix}"),
        };
        let shared = Arc::new(Shared {
            issuer,
            profile,
            keys: Mutex::new(Vec::new()),
            history: Mutex::new(VecDeque::new()),
            signing_kid: Mutex::new(String::new()),
            clients: Mutex::new(Vec::new()),
            behaviour: Mutex::new(Behaviour::default()),
            jwks_fetches: AtomicUsize::new(0),
            discovery_fetches: AtomicUsize::new(0),
            proof_jtis: Mutex::new((VecDeque::new(), HashSet::new())),
            next_kid: AtomicUsize::new(1),
        });
        let at = |route: &str| format!("{prefix}{route}");
        let app = Router::new()
            .route(&at("/.well-known/openid-configuration"), get(discovery))
            .route(&at("/.well-known/jwks.json"), get(jwks))
            .route(
                &at("/.well-known/oauth-authorization-server"),
                get(oauth::metadata),
            )
            .route(&at(oauth::TOKEN_PATH), post(oauth::token))
            .route(&at(oauth::AUTHORIZE_PATH), get(oauth::authorize))
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let issuer = TestIssuer {
            shared,
            addr,
            server,
            client_certificate: TestCertificate::client("route-guard test client")?,
        };
        let kid = issuer.add_key(Algorithm::RS256)?;
        *lock(&issuer.shared.signing_kid) = kid;
        Ok(issuer)
    }
}

/// What a test reads of the issuer, and how it mints tokens and changes keys.
impl TestIssuer {
    /// The issuer identifier, `http://127.0.0.1:<port>/` (what tokens carry in `iss`).
    pub fn issuer(&self) -> &str {
        &self.shared.issuer
    }

    /// The audience its tokens carry, and its [`authenticator_builder`](Self::authenticator_builder)
    /// accepts: [`TEST_AUDIENCE`], or [`TEST_PROJECT`](super::TEST_PROJECT) for an issuer
    /// started for Firebase (for Cognito, the app client in `client_id`).
    pub fn audience(&self) -> &'static str {
        super::profile::audience(self.shared.profile)
    }

    /// The client certificate this issuer's clients hold (made for this issuer, with its
    /// private key), to bind tokens to with
    /// [`certificate_bound`](super::TokenBuilder::certificate_bound) and to present over mTLS.
    /// See [`TestCertificate`] for an example.
    pub fn client_certificate(&self) -> &TestCertificate {
        &self.client_certificate
    }

    /// The socket address the issuer listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A builder pointed at this issuer (by discovery) with [`TEST_AUDIENCE`] and
    /// [`TEST_ROLES_CLAIM`](super::TEST_ROLES_CLAIM), or, for an issuer started
    /// [`for a profile`](Self::start_for), with the profile and its audience
    /// ([`TEST_PROJECT`](super::TEST_PROJECT) for Firebase); add settings before `build()`.
    pub fn authenticator_builder(&self) -> AuthenticatorBuilder {
        super::profile::builder(self.issuer(), self.shared.profile)
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
        super::profile::shape(self.shared.profile, &mut header, &mut claims);
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

    /// Replaces the discovery document's member `name` with `value`, or leaves it out with
    /// `None`: a vendor's document as it is (a resource-server-only issuer has no
    /// `authorization_endpoint`, for one).
    ///
    /// ```
    /// # extern crate auth_runtime as route_guard;
    /// # async fn quirk() -> Result<(), route_guard::testing::TestIssuerError> {
    /// let issuer = route_guard::testing::TestIssuer::start().await?;
    /// issuer.set_discovery_member("authorization_endpoint", None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_discovery_member(&self, name: &str, value: Option<Value>) {
        let mut behaviour = lock(&self.shared.behaviour);
        behaviour.discovery_members.retain(|(n, _)| n != name);
        behaviour.discovery_members.push((name.to_owned(), value));
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
        let key = self.key_pair(kid);
        compact_jws(
            header_json,
            payload_json,
            key.as_ref().map(|(pair, alg)| (&**pair, *alg)),
        )
    }

    /// Key `kid`, else the signing key, else the first key. `start()` always creates one, so `None` is unreachable
    /// through the API; callers then sign with nothing (an invalid token, never a panic).
    pub(super) fn key_pair(&self, kid: &str) -> Option<(Arc<KeyPair>, Algorithm)> {
        self.shared.key_pair(kid)
    }
}

impl Shared {
    /// See [`TestIssuer::key_pair`]; the token endpoint signs through it too.
    pub(super) fn key_pair(&self, kid: &str) -> Option<(Arc<KeyPair>, Algorithm)> {
        let keys = lock(&self.keys);
        let signing = lock(&self.signing_kid).clone();
        keys.iter()
            .find(|k| k.kid == kid)
            .or_else(|| keys.iter().find(|k| k.kid == signing))
            .or_else(|| keys.first())
            .map(|k| (Arc::clone(&k.pair), k.alg))
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
    let mut document = json!({
        "issuer": shared.issuer,
        "jwks_uri": format!("{}/.well-known/jwks.json", shared.issuer.trim_end_matches('/')),
        "token_endpoint": format!("{}{}", shared.issuer.trim_end_matches('/'), oauth::TOKEN_PATH),
        "authorization_endpoint": format!("{}{}", shared.issuer.trim_end_matches('/'), oauth::AUTHORIZE_PATH),
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    if let Some(members) = document.as_object_mut() {
        for (name, value) in lock(&shared.behaviour).discovery_members.iter() {
            match value {
                Some(value) => members.insert(name.clone(), value.clone()),
                None => members.remove(name),
            };
        }
    }
    axum::Json(document).into_response()
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
