//! Configuration: the [`AuthenticatorBuilder`], [`Authenticator::from_env`](crate::Authenticator::from_env)
//! and the validation of every setting, done once at start-up.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;

use crate::dpop::ReplayStore;

/// A JWS signature algorithm route-guard can verify.
///
/// The names are the JOSE names (`RS256`, `ES256`, ...). Parse them with [`str::parse`]:
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::Algorithm;
/// assert_eq!("PS256".parse::<Algorithm>(), Ok(Algorithm::PS256));
/// assert!("none".parse::<Algorithm>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(clippy::upper_case_acronyms)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (Auth0's default).
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// EdDSA, as Auth0 and most providers name it; only the Ed25519 curve is supported.
    EdDSA,
    /// Ed25519 by its RFC 9864 fully-specified name. Accepted wherever `EdDSA` is (a token
    /// signed with an Ed25519 key may say either); configure it alone to accept only tokens
    /// that name it.
    Ed25519,
    /// HMAC with SHA-256: needs [`AuthenticatorBuilder::hs256_secret`].
    HS256,
}

impl Algorithm {
    /// The JOSE name of the algorithm, as it appears in a token's `alg` header.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
            Algorithm::Ed25519 => "Ed25519",
            Algorithm::HS256 => "HS256",
        }
    }

    /// Every algorithm, in a stable order.
    pub(crate) const ALL: [Algorithm; 11] = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
        Algorithm::Ed25519,
        Algorithm::HS256,
    ];

    pub(crate) fn is_symmetric(self) -> bool {
        matches!(self, Algorithm::HS256)
    }

    /// The algorithm a JOSE header's `alg` names, if `allowed` accepts it. RFC 9864: the
    /// fully-specified `Ed25519` is accepted wherever the polymorphic `EdDSA` is.
    pub(crate) fn accepted(name: &str, allowed: &[Algorithm]) -> Option<Algorithm> {
        let named = Algorithm::ALL.into_iter().find(|a| a.as_str() == name)?;
        let ok = allowed.contains(&named)
            || (named == Algorithm::Ed25519 && allowed.contains(&Algorithm::EdDSA));
        ok.then_some(named)
    }

    /// Whether a key published for `self` (a JWK's `alg`) may verify `alg`: the same name, or
    /// the two names of Ed25519 signatures.
    pub(crate) fn same_signature(self, alg: Algorithm) -> bool {
        let eddsa = |a| matches!(a, Algorithm::EdDSA | Algorithm::Ed25519);
        self == alg || (eddsa(self) && eddsa(alg))
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = ConfigError;

    /// JOSE names are case-sensitive (RFC 7515 §4.1.1): `rs256` is not `RS256`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| ConfigError::UnknownAlgorithm {
                value: s.to_owned(),
            })
    }
}

/// How an API treats DPoP (RFC 9449, sender-constrained tokens); set with
/// [`AuthenticatorBuilder::dpop`] or `AUTH0_DPOP`.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::DpopMode;
/// assert_eq!("required".parse::<DpopMode>(), Ok(DpopMode::Required));
/// assert_eq!(DpopMode::default(), DpopMode::Allowed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum DpopMode {
    /// Bearer and DPoP-bound tokens are both accepted (the default, as in Auth0's SDKs). A
    /// DPoP-bound token must still come with its proof: it is never accepted as Bearer.
    #[default]
    Allowed,
    /// Only DPoP-bound tokens with a valid proof are accepted; Bearer is rejected.
    Required,
    /// The DPoP scheme is treated like any unknown scheme (a bare 401); DPoP-bound tokens are
    /// rejected, since their proof cannot be checked.
    Disabled,
}

impl DpopMode {
    /// The name used by `AUTH0_DPOP`: `allowed`, `required` or `disabled`.
    pub fn as_str(self) -> &'static str {
        match self {
            DpopMode::Allowed => "allowed",
            DpopMode::Required => "required",
            DpopMode::Disabled => "disabled",
        }
    }
}

impl fmt::Display for DpopMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DpopMode {
    type Err = ConfigError;

    /// `allowed`, `required` or `disabled`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [DpopMode::Allowed, DpopMode::Required, DpopMode::Disabled]
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ConfigError::InvalidSetting {
                setting: "AUTH0_DPOP",
                reason: format!("`{s}` is not a DPoP mode: use allowed, required or disabled"),
            })
    }
}

/// Whether tokens must belong to an Auth0 Organization (`org_id`); set with
/// [`AuthenticatorBuilder::organization`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum OrgPolicy {
    /// Tokens with or without `org_id` are accepted (the default); routes can still require
    /// one with `#[require_org]`.
    #[default]
    Optional,
    /// Tokens without a string `org_id` are rejected with 401 `invalid_token`.
    Required,
}

/// What a [domain resolver](AuthenticatorBuilder::domain_resolver) is asked: the request's host
/// and path and the token's issuer, not yet verified (so do not trust it beyond choosing).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssuerRequest {
    /// The request's `Host` (with the port, if any); `None` outside a request.
    pub host: Option<String>,
    /// The request path; empty outside a request.
    pub path: String,
    /// The token's `iss`, unverified.
    pub issuer: String,
}

/// A domain resolver failed: logged, and the request answered 503.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ResolverError(pub String);

impl From<&str> for ResolverError {
    fn from(message: &str) -> Self {
        ResolverError(message.to_owned())
    }
}

impl From<String> for ResolverError {
    fn from(message: String) -> Self {
        ResolverError(message)
    }
}

type ResolverFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<String>, ResolverError>> + Send>>;

/// The resolver as stored: any async function from the request to the allowed domains.
#[derive(Clone)]
pub(crate) struct Resolver(pub(crate) Arc<dyn Fn(IssuerRequest) -> ResolverFuture + Send + Sync>);

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Resolver(..)")
    }
}

/// A configuration mistake, reported by [`AuthenticatorBuilder::build`] or
/// [`Authenticator::from_env`](crate::Authenticator::from_env) before the service starts.
///
/// Every message names the setting to change.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// Neither a domain nor an issuer URL was given.
    #[error("no issuer configured: set AUTH0_DOMAIN (e.g. `tenant.us.auth0.com`), AUTH0_DOMAINS (several, comma-separated) or AUTH0_ISSUER_BASE_URL, or call `.domain(..)` / `.domains(..)` / `.issuer_base_url(..)`")]
    MissingIssuer,
    /// Both a domain and an issuer URL were given.
    #[error("both a domain and an issuer base URL are configured: set only one of AUTH0_DOMAIN / AUTH0_DOMAINS / `.domain(..)` / `.domains(..)` and AUTH0_ISSUER_BASE_URL / `.issuer_base_url(..)`")]
    ConflictingIssuer,
    /// No audience was given.
    #[error("no audience configured: set AUTH0_AUDIENCE to your API identifier (e.g. `https://api.example.com`) or call `.audience(..)`")]
    MissingAudience,
    /// An audience value is empty.
    #[error("an audience is empty: AUTH0_AUDIENCE / `.audience(..)` values must be non-empty API identifiers")]
    EmptyAudience,
    /// The domain was given as a URL.
    #[error("the domain `{domain}` must be a bare host name such as `tenant.us.auth0.com`, without `https://`: set AUTH0_DOMAIN to the host, or use AUTH0_ISSUER_BASE_URL for a full URL")]
    DomainHasScheme {
        /// The value given.
        domain: String,
    },
    /// The domain has a path, query or fragment.
    #[error("the domain `{domain}` must not contain a path: set AUTH0_DOMAIN to the host name only, such as `tenant.us.auth0.com`")]
    DomainHasPath {
        /// The value given.
        domain: String,
    },
    /// The domain is not a valid host name.
    #[error("the domain `{domain}` is not a valid host name: set AUTH0_DOMAIN to a host such as `tenant.us.auth0.com`")]
    InvalidDomain {
        /// The value given.
        domain: String,
    },
    /// The issuer URL does not parse or is not http(s).
    #[error("the issuer URL `{url}` is invalid ({reason}): set AUTH0_ISSUER_BASE_URL to an absolute https URL such as `https://issuer.example.com/`")]
    InvalidIssuerUrl {
        /// The value given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The issuer uses `http://` on a host that is not loopback.
    #[error("the issuer URL `{url}` uses http on a non-loopback host: use https (http is allowed only for localhost, 127.0.0.0/8 and ::1)")]
    InsecureIssuer {
        /// The value given.
        url: String,
    },
    /// The algorithm list is empty.
    #[error("the algorithm list is empty: set AUTH0_ALGORITHMS (e.g. `RS256`) or pass at least one algorithm to `.algorithms(..)`")]
    EmptyAlgorithms,
    /// An algorithm name is not supported.
    #[error("unsupported algorithm `{value}`: use one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA, Ed25519, HS256 (names are case-sensitive)")]
    UnknownAlgorithm {
        /// The value given.
        value: String,
    },
    /// HS256 was selected without a secret.
    #[error("HS256 is selected but no secret is configured: call `.hs256_secret(..)` with the shared secret, or select an asymmetric algorithm such as RS256")]
    MissingSecret,
    /// A secret was given but HS256 is not selected.
    #[error("an HS256 secret is configured but HS256 is not in the algorithm list: add it with `.algorithms([Algorithm::HS256])` or remove the secret")]
    UnusedSecret,
    /// HS256 was mixed with asymmetric algorithms.
    #[error("HS256 cannot be combined with asymmetric algorithms (a public key would become an HMAC secret): select either HS256 alone or only asymmetric algorithms")]
    MixedAlgorithms,
    /// The HS256 secret is too short to be safe.
    #[error("the HS256 secret is {len} bytes: use at least 32 bytes (RFC 7518 §3.2)")]
    WeakSecret {
        /// The length given.
        len: usize,
    },
    /// A duration or size setting is out of range.
    #[error("invalid setting `{setting}`: {reason}")]
    InvalidSetting {
        /// The setting's builder method.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The `.env` file exists but could not be read.
    #[error("the .env file could not be read: {0}; fix or remove it")]
    EnvFile(String),
    /// An entry of `AUTH0_DOMAINS` / `.domains(..)` (or a resolver's answer) is not a domain.
    #[error("the domain `{domain}` in AUTH0_DOMAINS / `.domains(..)` is refused: {reason}")]
    InvalidDomains {
        /// The entry given.
        domain: String,
        /// Why it was refused.
        reason: String,
    },
    /// A Redis replay store was selected but route-guard was built without its `redis` feature.
    #[error("a Redis DPoP replay store is configured (AUTH0_DPOP_REPLAY_REDIS_URL / `.dpop_replay_redis(..)`) but route-guard was built without the `redis` feature: enable it (`route-guard = {{ version = \"..\", features = [\"redis\"] }}`) or unset the variable")]
    RedisFeatureMissing,
    /// The HTTP client could not be built.
    #[error("the HTTP client for the issuer could not be built: {0}")]
    HttpClient(String),
}

/// Where the issuer's identity and keys come from.
#[derive(Debug, Clone)]
pub(crate) enum IssuerSource {
    /// An Auth0 domain: issuer and JWKS URL are known without discovery.
    Fixed { issuer: String, jwks_uri: Url },
    /// An issuer base URL: discovery first, `/.well-known/jwks.json` as fallback.
    Discover { base: Url },
    /// Several domains (or a resolver): one discovery document and JWKS cache per issuer, each
    /// with the settings of a `Discover` source of its own.
    Multi { bases: Vec<Url> },
}

/// Validated settings shared by the cache and the verifier.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) source: IssuerSource,
    pub(crate) audiences: Vec<String>,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) hs256_secret: Option<Secret>,
    pub(crate) leeway: Duration,
    pub(crate) realm: String,
    pub(crate) roles_claim: Option<String>,
    pub(crate) max_token_bytes: usize,
    pub(crate) require_at_jwt_typ: bool,
    pub(crate) http_timeout: Duration,
    pub(crate) jwks_ttl_min: Duration,
    pub(crate) jwks_ttl_max: Duration,
    pub(crate) jwks_ttl_default: Duration,
    pub(crate) unknown_kid_cooldown: Duration,
    pub(crate) jwks_retry_interval: Duration,
    pub(crate) max_jwks_bytes: usize,
    pub(crate) verified_token_cache: usize,
    pub(crate) dpop: DpopSettings,
    pub(crate) max_issuers: usize,
    pub(crate) organization: OrgPolicy,
    pub(crate) allowed_organizations: Vec<String>,
    pub(crate) required_claims: Vec<String>,
    pub(crate) max_delegation_depth: usize,
    pub(crate) reject_anonymous: bool,
}

/// The validated DPoP settings.
#[derive(Debug, Clone)]
pub(crate) struct DpopSettings {
    pub(crate) mode: DpopMode,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) iat_leeway: Duration,
    pub(crate) iat_offset: Duration,
    /// Scheme, host, port and path prefix of the public URL, without a trailing slash.
    pub(crate) public_base_url: Option<String>,
    pub(crate) trust_forwarded_headers: bool,
    pub(crate) nonce: Option<(Secret, Duration)>,
}

/// Where DPoP proof `jti`s are remembered.
#[derive(Clone)]
pub(crate) enum ReplayChoice {
    Memory(usize),
    Store(Arc<dyn ReplayStore>),
}

impl fmt::Debug for ReplayChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayChoice::Memory(capacity) => write!(f, "Memory({capacity})"),
            ReplayChoice::Store(_) => f.write_str("Store(..)"),
        }
    }
}

/// What `validate` hands to the Authenticator beside the settings.
pub(crate) struct Validated {
    pub(crate) settings: Settings,
    pub(crate) error_body: Option<crate::axum::ErrorBody>,
    pub(crate) replay: ReplayChoice,
    pub(crate) resolver: Option<Resolver>,
}

/// A shared secret whose `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(pub(crate) Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Builds an [`Authenticator`](crate::Authenticator); every setting is checked once, in [`build`](Self::build).
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use std::time::Duration;
/// use route_guard::Authenticator;
///
/// let auth = Authenticator::builder()
///     .domain("tenant.us.auth0.com")
///     .audience("https://api.example.com")
///     .leeway(Duration::from_secs(10))
///     .roles_claim("https://myapp.com/roles")
///     .build()?;
/// assert_eq!(auth.issuer().as_deref(), Some("https://tenant.us.auth0.com/"));
/// # Ok::<(), route_guard::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct AuthenticatorBuilder {
    domain: Option<String>,
    issuer_base_url: Option<String>,
    audiences: Vec<String>,
    algorithms: Option<Vec<Algorithm>>,
    algorithm_error: Option<ConfigError>,
    hs256_secret: Option<Secret>,
    leeway: Duration,
    realm: String,
    roles_claim: Option<String>,
    max_token_bytes: usize,
    require_at_jwt_typ: bool,
    http_timeout: Duration,
    jwks_ttl_min: Duration,
    jwks_ttl_max: Duration,
    jwks_ttl_default: Duration,
    unknown_kid_cooldown: Duration,
    jwks_retry_interval: Duration,
    verified_token_cache: usize,
    dpop_mode: DpopMode,
    dpop_mode_error: Option<ConfigError>,
    dpop_algorithms: Vec<Algorithm>,
    dpop_iat_leeway: Duration,
    dpop_iat_offset: Duration,
    public_base_url: Option<String>,
    trust_forwarded_headers: bool,
    dpop_nonce_secret: Option<Secret>,
    dpop_nonce_step: Duration,
    replay_store: Option<ReplayChoice>,
    replay_redis_url: Option<String>,
    replay_capacity: usize,
    domains: Option<Vec<String>>,
    resolver: Option<Resolver>,
    max_issuers: usize,
    organization: OrgPolicy,
    allowed_organizations: Vec<String>,
    required_claims: Vec<String>,
    max_delegation_depth: usize,
    reject_anonymous: bool,
    /// Set by `error_body` (in the axum module, which owns rendering); carried to the
    /// Authenticator untouched.
    pub(crate) error_body: Option<crate::axum::ErrorBody>,
}

impl Default for AuthenticatorBuilder {
    fn default() -> Self {
        AuthenticatorBuilder {
            domain: None,
            issuer_base_url: None,
            audiences: Vec::new(),
            algorithms: None,
            algorithm_error: None,
            hs256_secret: None,
            leeway: Duration::from_secs(30),
            realm: "api".to_owned(),
            roles_claim: None,
            max_token_bytes: 8 * 1024,
            require_at_jwt_typ: false,
            http_timeout: Duration::from_secs(5),
            jwks_ttl_min: Duration::from_secs(30),
            jwks_ttl_max: Duration::from_secs(24 * 60 * 60),
            jwks_ttl_default: Duration::from_secs(10 * 60),
            unknown_kid_cooldown: Duration::from_secs(30),
            jwks_retry_interval: Duration::from_secs(2),
            verified_token_cache: 4096,
            dpop_mode: DpopMode::Allowed,
            dpop_mode_error: None,
            dpop_algorithms: vec![Algorithm::ES256],
            dpop_iat_leeway: Duration::from_secs(30),
            dpop_iat_offset: Duration::from_secs(300),
            public_base_url: None,
            trust_forwarded_headers: false,
            dpop_nonce_secret: None,
            dpop_nonce_step: Duration::from_secs(300),
            replay_store: None,
            replay_redis_url: None,
            replay_capacity: 1_000_000,
            domains: None,
            resolver: None,
            max_issuers: 100,
            organization: OrgPolicy::Optional,
            allowed_organizations: Vec::new(),
            required_claims: Vec::new(),
            max_delegation_depth: 5,
            reject_anonymous: false,
            error_body: None,
        }
    }
}

impl AuthenticatorBuilder {
    /// An Auth0 tenant domain such as `tenant.us.auth0.com` (or a custom domain): the issuer is
    /// `https://{domain}/` and the keys come from `https://{domain}/.well-known/jwks.json`.
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Any OIDC issuer: `{url}/.well-known/openid-configuration` gives the `issuer` (which is then
    /// enforced) and `jwks_uri`; without a discovery document, the issuer is `url` with a trailing
    /// slash and the keys come from `{url}/.well-known/jwks.json`. `http` is accepted only for
    /// loopback hosts.
    pub fn issuer_base_url(mut self, url: impl Into<String>) -> Self {
        self.issuer_base_url = Some(url.into());
        self
    }

    /// Adds an accepted audience (your API identifier). Call it again, or use
    /// [`audiences`](Self::audiences), to accept several: a token passes when any of its `aud`
    /// values equals any configured one.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Adds several accepted audiences.
    pub fn audiences<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.audiences.extend(audiences.into_iter().map(Into::into));
        self
    }

    /// The accepted signature algorithms (default: `RS256` only). A token whose `alg` is not in
    /// this list is rejected before any key lookup.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = Some(algorithms.into_iter().collect());
        self
    }

    /// The shared secret for `HS256` (at least 32 bytes). Requires `algorithms([Algorithm::HS256])`.
    pub fn hs256_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.hs256_secret = Some(Secret(secret.into()));
        self
    }

    /// Clock skew tolerated on `exp` and `nbf` (default 30 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The `realm` of `WWW-Authenticate` challenges (default `api`).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }

    /// The claim that holds roles for untyped claims (e.g. `https://myapp.com/roles`).
    pub fn roles_claim(mut self, claim: impl Into<String>) -> Self {
        self.roles_claim = Some(claim.into());
        self
    }

    /// The largest token accepted, in bytes (default 8 KiB).
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.max_token_bytes = bytes;
        self
    }

    /// RFC 9068 strict mode: require `typ` to be `at+jwt` or `application/at+jwt` (default off:
    /// `typ` may also be absent or `JWT`, as Auth0 issues it).
    pub fn require_at_jwt_typ(mut self, strict: bool) -> Self {
        self.require_at_jwt_typ = strict;
        self
    }

    /// Timeout of each request to the issuer (discovery, JWKS), default 5 s.
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// Bounds for the JWKS lifetime taken from `Cache-Control: max-age` (default 30 s to 24 h).
    pub fn jwks_ttl_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.jwks_ttl_min = min;
        self.jwks_ttl_max = max;
        self
    }

    /// JWKS lifetime when the issuer sends no `max-age` (default 10 min; clamped to the bounds).
    pub fn jwks_default_ttl(mut self, ttl: Duration) -> Self {
        self.jwks_ttl_default = ttl;
        self
    }

    /// After a token with an unknown `kid` made the cache refetch, further unknown `kid`s are
    /// rejected without a fetch for this long (default 30 s).
    pub fn unknown_kid_cooldown(mut self, cooldown: Duration) -> Self {
        self.unknown_kid_cooldown = cooldown;
        self
    }

    /// After a failed JWKS fetch, the next attempt waits at least this long (default 2 s), so an
    /// unreachable issuer is not hammered by every request.
    pub fn jwks_retry_interval(mut self, interval: Duration) -> Self {
        self.jwks_retry_interval = interval;
        self
    }

    /// How many verified tokens to remember (default 4096; 0 disables). A token seen before,
    /// still unexpired and verified by the current key set, is accepted without checking its
    /// signature again: a client sends the same token until it expires. Memory stays bounded
    /// (about 1 KiB an entry).
    pub fn verified_token_cache(mut self, entries: usize) -> Self {
        self.verified_token_cache = entries;
        self
    }

    /// How DPoP-bound tokens are treated (default [`DpopMode::Allowed`]).
    ///
    /// ```
    /// # extern crate auth_runtime as route_guard;
    /// use std::time::Duration;
    /// use route_guard::{Algorithm, Authenticator, DpopMode};
    ///
    /// let auth = Authenticator::builder()
    ///     .domain("tenant.us.auth0.com")
    ///     .audience("https://api.example.com")
    ///     .dpop(DpopMode::Required)
    ///     .dpop_algorithms([Algorithm::ES256, Algorithm::EdDSA])
    ///     .dpop_iat_offset(Duration::from_secs(120))
    ///     .public_base_url("https://api.example.com")
    ///     .build()?;
    /// # Ok::<(), route_guard::ConfigError>(())
    /// ```
    pub fn dpop(mut self, mode: DpopMode) -> Self {
        self.dpop_mode = mode;
        self
    }

    /// The algorithms a DPoP proof may be signed with (default `ES256`). Any asymmetric
    /// algorithm can be selected (ES384, EdDSA, RS256, PS256, ...); HS256 never.
    pub fn dpop_algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.dpop_algorithms = algorithms.into_iter().collect();
        self
    }

    /// Clock skew tolerated on a proof's `iat`, both ways (default 30 s).
    pub fn dpop_iat_leeway(mut self, leeway: Duration) -> Self {
        self.dpop_iat_leeway = leeway;
        self
    }

    /// The maximum age of a proof (default 300 s): its `iat` must lie within
    /// `[now - offset - leeway, now + leeway]`. Its `jti` is remembered that long.
    pub fn dpop_iat_offset(mut self, offset: Duration) -> Self {
        self.dpop_iat_offset = offset;
        self
    }

    /// The public URL of this API (e.g. `https://api.example.com` or
    /// `https://example.com/api`) behind a reverse proxy: a proof's `htu` is compared with this
    /// base followed by the request path. Default: the request's own scheme, `Host` and path.
    pub fn public_base_url(mut self, url: impl Into<String>) -> Self {
        self.public_base_url = Some(url.into());
        self
    }

    /// Takes the scheme and host compared with a proof's `htu` from `Forwarded` or
    /// `X-Forwarded-Proto` / `X-Forwarded-Host` (default off: a client must not choose the URL
    /// it is checked against; enable it only behind a proxy that sets these headers).
    pub fn trust_forwarded_headers(mut self, trust: bool) -> Self {
        self.trust_forwarded_headers = trust;
        self
    }

    /// Requires DPoP proofs to carry a server nonce (RFC 9449 §9). Nonces are derived from
    /// `secret` (at least 32 bytes) and a time step, so every instance configured with the same
    /// secret accepts them; a proof without the current nonce gets 401 `use_dpop_nonce` and a
    /// fresh `DPoP-Nonce` header.
    pub fn dpop_nonce(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.dpop_nonce_secret = Some(Secret(secret.into()));
        self
    }

    /// How long a server nonce stays current (default 5 min); the previous one is accepted for
    /// one more step.
    pub fn dpop_nonce_step(mut self, step: Duration) -> Self {
        self.dpop_nonce_step = step;
        self
    }

    /// Where proof `jti`s are remembered: any [`ReplayStore`] (default: in memory, bounded).
    /// Share one store between the instances of a service so that each proof is accepted once
    /// across all of them.
    pub fn dpop_replay_store(mut self, store: impl ReplayStore) -> Self {
        self.replay_store = Some(ReplayChoice::Store(Arc::new(store)));
        self
    }

    /// Remembers proof `jti`s in Redis at `url` (`redis://host:port/db`; feature `redis`), with
    /// one atomic `SET key NX PX <ttl>` per proof. Also `AUTH0_DPOP_REPLAY_REDIS_URL`.
    pub fn dpop_replay_redis(mut self, url: impl Into<String>) -> Self {
        self.replay_redis_url = Some(url.into());
        self
    }

    /// The number of `jti`s the default in-memory replay store holds (default 1,000,000, about
    /// 100 MiB when full). Entries leave when their proof could no longer pass the `iat` window;
    /// when the store is full of live entries, DPoP requests fail closed with 503.
    pub fn dpop_replay_capacity(mut self, entries: usize) -> Self {
        self.replay_capacity = entries;
        self
    }

    /// Several Auth0 domains (custom domains included), e.g.
    /// `["tenant.us.auth0.com", "auth.example.com"]`: a token from any of them is accepted, each
    /// issuer with its own discovery document and JWKS cache. Also `AUTH0_DOMAINS`
    /// (comma-separated). With [`domain`](Self::domain) too, `domains` is what verifies (the
    /// migration case).
    ///
    /// Entries are normalised: case, surrounding spaces, an `https://` prefix and a trailing
    /// slash are accepted and removed; a path, a port other than 443 or an `http://` host that is
    /// not loopback is a start-up error.
    ///
    /// ```
    /// # extern crate auth_runtime as route_guard;
    /// use route_guard::Authenticator;
    ///
    /// let auth = Authenticator::builder()
    ///     .domains(["tenant.us.auth0.com", " https://Auth.Example.com/ "])
    ///     .audience("https://api.example.com")
    ///     .build()?;
    /// assert_eq!(
    ///     auth.issuers(),
    ///     ["https://tenant.us.auth0.com/", "https://auth.example.com/"]
    /// );
    /// # Ok::<(), route_guard::ConfigError>(())
    /// ```
    pub fn domains<I, S>(mut self, domains: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.domains = Some(domains.into_iter().map(Into::into).collect());
        self
    }

    /// Domains known only at run time: `resolve` gets the request's host and path and the
    /// token's unverified `iss`, and answers the domains allowed for that request. The token's
    /// issuer must be one of them before any network request is made, so an attacker's `iss`
    /// never makes route-guard fetch from the attacker's host. An error is logged and answered
    /// 503; an empty answer rejects the token (401). Answers are normalised like
    /// [`domains`](Self::domains); at most [`max_issuers`](Self::max_issuers) JWKS caches are
    /// kept. It runs for every request, including tokens verified before.
    ///
    /// ```
    /// # extern crate auth_runtime as route_guard;
    /// use route_guard::{Authenticator, IssuerRequest, ResolverError};
    ///
    /// async fn tenant_domains(request: IssuerRequest) -> Result<Vec<String>, ResolverError> {
    ///     // e.g. a lookup keyed by the request's host, cached by the application
    ///     Ok(match request.host.as_deref() {
    ///         Some("acme.api.example.com") => vec!["login.acme.example".to_owned()],
    ///         _ => Vec::new(),
    ///     })
    /// }
    ///
    /// let auth = Authenticator::builder()
    ///     .domain_resolver(tenant_domains)
    ///     .audience("https://api.example.com")
    ///     .build()?;
    /// # Ok::<(), route_guard::ConfigError>(())
    /// ```
    pub fn domain_resolver<F, Fut>(mut self, resolve: F) -> Self
    where
        F: Fn(IssuerRequest) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<Vec<String>, ResolverError>> + Send + 'static,
    {
        self.resolver = Some(Resolver(Arc::new(move |request| {
            Box::pin(resolve(request)) as ResolverFuture
        })));
        self
    }

    /// The most issuers whose keys are cached at once with a resolver (default 100); beyond,
    /// the oldest cache is dropped and refetched when needed.
    pub fn max_issuers(mut self, issuers: usize) -> Self {
        self.max_issuers = issuers;
        self
    }

    /// Auth0 Organizations: with [`OrgPolicy::Required`], tokens without `org_id` are rejected
    /// (401 `invalid_token`).
    pub fn organization(mut self, policy: OrgPolicy) -> Self {
        self.organization = policy;
        self
    }

    /// The organizations accepted under [`OrgPolicy::Required`]: an `org_...` entry is compared
    /// with `org_id`, any other with `org_name` (case-insensitively, as Auth0 lowercases names).
    /// A token of another organization gets 401 `invalid_token`; the value is logged, never sent.
    pub fn allowed_organizations<I, S>(mut self, organizations: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_organizations = organizations.into_iter().map(Into::into).collect();
        self
    }

    /// Claims every token must carry (any JSON value), e.g. `["email"]`: a token without one
    /// gets 401 `invalid_token` naming it.
    pub fn required_claims<I, S>(mut self, claims: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.required_claims = claims.into_iter().map(Into::into).collect();
        self
    }

    /// The deepest RFC 8693 delegation chain accepted (nested `act` claims, default 5): a deeper
    /// one gets 401 `invalid_token`.
    pub fn max_delegation_depth(mut self, depth: usize) -> Self {
        self.max_delegation_depth = depth;
        self
    }

    /// Rejects Auth0 anonymous tokens (`sub` starting with `anon@`) on every route (default:
    /// they are valid tokens, like any other).
    pub fn reject_anonymous(mut self, reject: bool) -> Self {
        self.reject_anonymous = reject;
        self
    }

    /// Sets algorithms from a comma-separated list, remembering a parse error for `build()`.
    pub(crate) fn algorithms_from_list(mut self, list: &str) -> Self {
        let mut algorithms = Vec::new();
        for name in split_list(list) {
            match name.parse() {
                Ok(a) => algorithms.push(a),
                Err(e) => {
                    self.algorithm_error = Some(e);
                    return self;
                }
            }
        }
        self.algorithms = Some(algorithms);
        self
    }

    /// A builder filled from the environment, after loading a `.env` file if there is one: see
    /// [`Authenticator::from_env`](crate::Authenticator::from_env). Add further settings before
    /// `build()`.
    pub fn from_env() -> Result<Self, ConfigError> {
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(e) if e.not_found() => {}
            Err(e) => return Err(ConfigError::EnvFile(e.to_string())),
        }
        Ok(Self::from_vars(|name| std::env::var(name).ok()))
    }

    /// A builder filled from variables looked up by `lookup` (the same names as
    /// [`from_env`](Self::from_env)): for tests and for configuration that does not live in the
    /// process environment.
    ///
    /// ```
    /// # extern crate auth_runtime as route_guard;
    /// use route_guard::{AuthenticatorBuilder, ConfigError};
    ///
    /// let err = AuthenticatorBuilder::from_vars(|name| match name {
    ///     "AUTH0_DOMAIN" => Some("tenant.us.auth0.com".to_owned()),
    ///     _ => None,
    /// })
    /// .build()
    /// .unwrap_err();
    /// assert_eq!(err, ConfigError::MissingAudience);
    /// ```
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut builder = Self::default();
        if let Some(domain) = var("AUTH0_DOMAIN") {
            builder = builder.domain(domain);
        }
        if let Some(url) = var("AUTH0_ISSUER_BASE_URL") {
            builder = builder.issuer_base_url(url);
        }
        if let Some(domains) = var("AUTH0_DOMAINS") {
            builder = builder.domains(split_list(&domains));
        }
        if let Some(audiences) = var("AUTH0_AUDIENCE") {
            builder = builder.audiences(split_list(&audiences));
        }
        if let Some(algorithms) = lookup("AUTH0_ALGORITHMS") {
            builder = builder.algorithms_from_list(&algorithms);
        }
        if let Some(mode) = var("AUTH0_DPOP") {
            match mode.parse() {
                Ok(mode) => builder.dpop_mode = mode,
                Err(e) => builder.dpop_mode_error = Some(e),
            }
        }
        if let Some(url) = var("AUTH0_DPOP_REPLAY_REDIS_URL") {
            builder = builder.dpop_replay_redis(url.trim());
        }
        builder
    }

    pub(crate) fn validate(self) -> Result<Validated, ConfigError> {
        if let Some(err) = self.algorithm_error {
            return Err(err);
        }
        if let Some(err) = self.dpop_mode_error {
            return Err(err);
        }
        let multi = self.domains.is_some() || self.resolver.is_some();
        let source = match (self.domain, self.issuer_base_url) {
            (_, Some(_)) if multi => return Err(ConfigError::ConflictingIssuer),
            (Some(_), Some(_)) => return Err(ConfigError::ConflictingIssuer),
            // `domains` (or a resolver) verifies; a `domain` beside it is the migration case.
            _ if multi => {
                if self.domains.is_some() && self.resolver.is_some() {
                    return Err(invalid(
                        "domain_resolver",
                        "both a domain list (AUTH0_DOMAINS / `.domains(..)`) and a resolver are configured: the resolver answers the allowed domains, so choose one",
                    ));
                }
                let mut bases = Vec::new();
                for domain in self.domains.iter().flatten() {
                    let base = normalize_domain(domain)?;
                    if !bases.contains(&base) {
                        bases.push(base);
                    }
                }
                if bases.is_empty() && self.resolver.is_none() {
                    return Err(ConfigError::MissingIssuer);
                }
                IssuerSource::Multi { bases }
            }
            (None, None) => return Err(ConfigError::MissingIssuer),
            (Some(domain), None) => domain_source(&domain)?,
            (None, Some(url)) => IssuerSource::Discover {
                base: issuer_url(&url)?,
            },
        };
        if self.audiences.is_empty() {
            return Err(ConfigError::MissingAudience);
        }
        if self.audiences.iter().any(|a| a.trim().is_empty()) {
            return Err(ConfigError::EmptyAudience);
        }
        let mut algorithms = self.algorithms.unwrap_or_else(|| vec![Algorithm::RS256]);
        algorithms.dedup();
        if algorithms.is_empty() {
            return Err(ConfigError::EmptyAlgorithms);
        }
        let symmetric = algorithms.iter().filter(|a| a.is_symmetric()).count();
        if symmetric > 0 && symmetric < algorithms.len() {
            return Err(ConfigError::MixedAlgorithms);
        }
        if symmetric > 0 && matches!(source, IssuerSource::Multi { .. }) {
            return Err(invalid(
                "algorithms",
                "HS256 works with one issuer: use `.domain(..)` or `.issuer_base_url(..)`, not several domains",
            ));
        }
        match (&self.hs256_secret, symmetric > 0) {
            (None, true) => return Err(ConfigError::MissingSecret),
            (Some(_), false) => return Err(ConfigError::UnusedSecret),
            (Some(secret), true) if secret.0.len() < 32 => {
                return Err(ConfigError::WeakSecret {
                    len: secret.0.len(),
                })
            }
            _ => {}
        }
        if self.max_token_bytes < 64 {
            return Err(invalid("max_token_bytes", "must be at least 64 bytes"));
        }
        if self.http_timeout.is_zero() {
            return Err(invalid("http_timeout", "must be greater than zero"));
        }
        if self.jwks_ttl_min.is_zero() || self.jwks_ttl_min > self.jwks_ttl_max {
            return Err(invalid(
                "jwks_ttl_bounds",
                "the minimum must be greater than zero and not above the maximum",
            ));
        }
        if self.realm.is_empty()
            || self
                .realm
                .chars()
                .any(|c| c == '"' || c == '\\' || c.is_control())
        {
            return Err(invalid(
                "realm",
                "must be non-empty and contain no quotes, backslashes or control characters",
            ));
        }
        if let Some(claim) = &self.roles_claim {
            if claim.is_empty() {
                return Err(invalid("roles_claim", "must not be empty"));
            }
        }
        let dpop = DpopSettings {
            mode: self.dpop_mode,
            algorithms: dpop_algorithms(self.dpop_algorithms)?,
            iat_leeway: self.dpop_iat_leeway,
            iat_offset: self.dpop_iat_offset,
            public_base_url: self
                .public_base_url
                .as_deref()
                .map(public_base_url)
                .transpose()?,
            trust_forwarded_headers: self.trust_forwarded_headers,
            nonce: match self.dpop_nonce_secret {
                None => None,
                Some(secret) if secret.0.len() < 32 => {
                    return Err(invalid(
                        "dpop_nonce",
                        "the nonce secret must be at least 32 bytes",
                    ))
                }
                Some(_) if self.dpop_nonce_step < Duration::from_secs(1) => {
                    return Err(invalid("dpop_nonce_step", "must be at least one second"))
                }
                Some(secret) => Some((secret, self.dpop_nonce_step)),
            },
        };
        if dpop.iat_offset.is_zero() || dpop.iat_offset < dpop.iat_leeway {
            return Err(invalid(
                "dpop_iat_offset",
                "the maximum proof age must be greater than zero and not shorter than dpop_iat_leeway",
            ));
        }
        let replay = match (self.replay_store, self.replay_redis_url) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "dpop_replay_store",
                    "both a replay store and a Redis URL (AUTH0_DPOP_REPLAY_REDIS_URL) are configured: choose one",
                ))
            }
            (Some(store), None) => store,
            (None, Some(url)) => redis_store(&url)?,
            (None, None) if self.replay_capacity == 0 => {
                return Err(invalid(
                    "dpop_replay_capacity",
                    "must be at least 1 (the replay check cannot be turned off)",
                ))
            }
            (None, None) => ReplayChoice::Memory(self.replay_capacity),
        };
        if !self.allowed_organizations.is_empty() && self.organization != OrgPolicy::Required {
            return Err(invalid(
                "allowed_organizations",
                "an organization allow-list needs `.organization(OrgPolicy::Required)`: tokens without an organization would pass it",
            ));
        }
        if self
            .allowed_organizations
            .iter()
            .any(|o| o.trim().is_empty())
        {
            return Err(invalid(
                "allowed_organizations",
                "an organization must not be empty",
            ));
        }
        if self.required_claims.iter().any(|c| c.is_empty()) {
            return Err(invalid("required_claims", "a claim name must not be empty"));
        }
        if self.max_issuers == 0 {
            return Err(invalid("max_issuers", "must be at least 1"));
        }
        let settings = Settings {
            source,
            audiences: self.audiences,
            algorithms,
            hs256_secret: self.hs256_secret,
            leeway: self.leeway,
            realm: self.realm,
            roles_claim: self.roles_claim,
            max_token_bytes: self.max_token_bytes,
            require_at_jwt_typ: self.require_at_jwt_typ,
            http_timeout: self.http_timeout,
            jwks_ttl_default: self
                .jwks_ttl_default
                .clamp(self.jwks_ttl_min, self.jwks_ttl_max),
            jwks_ttl_min: self.jwks_ttl_min,
            jwks_ttl_max: self.jwks_ttl_max,
            unknown_kid_cooldown: self.unknown_kid_cooldown,
            jwks_retry_interval: self.jwks_retry_interval,
            max_jwks_bytes: 1024 * 1024,
            verified_token_cache: self.verified_token_cache,
            dpop,
            max_issuers: self.max_issuers,
            organization: self.organization,
            allowed_organizations: self
                .allowed_organizations
                .into_iter()
                .map(|o| o.trim().to_owned())
                .collect(),
            required_claims: self.required_claims,
            max_delegation_depth: self.max_delegation_depth,
            reject_anonymous: self.reject_anonymous,
        };
        Ok(Validated {
            settings,
            error_body: self.error_body,
            replay,
            resolver: self.resolver,
        })
    }
}

fn invalid(setting: &'static str, reason: &str) -> ConfigError {
    ConfigError::InvalidSetting {
        setting,
        reason: reason.to_owned(),
    }
}

fn dpop_algorithms(mut algorithms: Vec<Algorithm>) -> Result<Vec<Algorithm>, ConfigError> {
    algorithms.dedup();
    if algorithms.is_empty() {
        return Err(invalid(
            "dpop_algorithms",
            "the DPoP proof algorithm list is empty: select at least one, such as ES256",
        ));
    }
    if algorithms.iter().any(|a| a.is_symmetric()) {
        return Err(invalid(
            "dpop_algorithms",
            "a DPoP proof is signed with the client's public key: HS256 cannot be used",
        ));
    }
    Ok(algorithms)
}

/// An absolute http(s) URL without query, fragment or credentials; returned without a trailing
/// slash, scheme and host lowercased, default port dropped.
fn public_base_url(url: &str) -> Result<String, ConfigError> {
    let refuse = |why: &str| {
        invalid(
            "public_base_url",
            &format!("`{url}` {why}: use an absolute URL such as `https://api.example.com`"),
        )
    };
    let parsed = Url::parse(url.trim()).map_err(|_| refuse("is not an absolute URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(refuse("is not an http(s) URL with a host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(refuse("has a query or fragment"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(refuse("contains credentials"));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

#[cfg(feature = "redis")]
fn redis_store(url: &str) -> Result<ReplayChoice, ConfigError> {
    let store = crate::dpop::RedisReplayStore::new(url)?;
    Ok(ReplayChoice::Store(Arc::new(store)))
}

#[cfg(not(feature = "redis"))]
fn redis_store(_url: &str) -> Result<ReplayChoice, ConfigError> {
    Err(ConfigError::RedisFeatureMissing)
}

/// One entry of `domains` (or of a resolver's answer) as an issuer base URL `https://host/`
/// (`http://` only for loopback hosts, which may have any port).
pub(crate) fn normalize_domain(raw: &str) -> Result<Url, ConfigError> {
    let refuse = |reason: &str| ConfigError::InvalidDomains {
        domain: raw.to_owned(),
        reason: reason.to_owned(),
    };
    let lower = raw.trim().to_ascii_lowercase();
    let (scheme, rest) = if let Some(rest) = lower.strip_prefix("https://") {
        ("https", rest)
    } else if let Some(rest) = lower.strip_prefix("http://") {
        ("http", rest)
    } else if lower.contains("://") {
        return Err(refuse(
            "only https (or http on a loopback host) is accepted",
        ));
    } else {
        ("https", lower.as_str())
    };
    let host = rest.strip_suffix('/').unwrap_or(rest);
    if host.is_empty() {
        return Err(refuse("it is empty"));
    }
    if host.contains(['/', '?', '#']) {
        return Err(refuse(
            "a domain has no path: write only the host, such as `tenant.us.auth0.com`",
        ));
    }
    if host.contains(['@', ' ']) {
        return Err(refuse("it is not a host name"));
    }
    let base =
        Url::parse(&format!("{scheme}://{host}/")).map_err(|_| refuse("it is not a host name"))?;
    let loopback = is_loopback(&base);
    if scheme == "http" && !loopback {
        return Err(refuse(
            "http is accepted only for localhost, 127.0.0.0/8 and ::1: use https",
        ));
    }
    if base.port().is_some() && !loopback {
        return Err(refuse(
            "Auth0 domains are served on port 443: remove the port",
        ));
    }
    Ok(base)
}

fn domain_source(domain: &str) -> Result<IssuerSource, ConfigError> {
    let domain = domain.trim();
    let lower = domain.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") || domain.contains("://") {
        return Err(ConfigError::DomainHasScheme {
            domain: domain.to_owned(),
        });
    }
    if domain.contains(['/', '?', '#']) {
        return Err(ConfigError::DomainHasPath {
            domain: domain.to_owned(),
        });
    }
    let invalid_domain = || ConfigError::InvalidDomain {
        domain: domain.to_owned(),
    };
    if domain.is_empty() || domain.contains(['@', ' ']) {
        return Err(invalid_domain());
    }
    let base = Url::parse(&format!("https://{lower}/")).map_err(|_| invalid_domain())?;
    if base.host_str().is_none() || base.path() != "/" {
        return Err(invalid_domain());
    }
    let jwks_uri = base
        .join(".well-known/jwks.json")
        .map_err(|_| invalid_domain())?;
    Ok(IssuerSource::Fixed {
        issuer: base.to_string(),
        jwks_uri,
    })
}

/// Parses an issuer URL and enforces https outside loopback.
pub(crate) fn issuer_url(url: &str) -> Result<Url, ConfigError> {
    let invalid = |reason: &str| ConfigError::InvalidIssuerUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let parsed = Url::parse(url.trim()).map_err(|e| invalid(&e.to_string()))?;
    if parsed.host_str().is_none() {
        return Err(invalid("it has no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("it must not have a query or fragment"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid("it must not contain credentials"));
    }
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if is_loopback(&parsed) => Ok(parsed),
        "http" => Err(ConfigError::InsecureIssuer {
            url: url.to_owned(),
        }),
        _ => Err(invalid("the scheme must be https")),
    }
}

/// http is tolerated only where nothing crosses a network: localhost, 127.0.0.0/8 and ::1.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Splits a comma-separated environment value into its non-empty, trimmed parts.
pub(crate) fn split_list(value: &str) -> impl Iterator<Item = String> + '_ {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}
