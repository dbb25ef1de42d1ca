//! The [`AuthenticatorBuilder`]: its defaults and the settings of the issuer, the tokens and
//! the key cache. The DPoP, domain and environment settings are in their own files.

use std::time::Duration;

use super::error::ConfigError;
use super::hooks::{ErrorBody, Resolver};
use super::options::{Algorithm, DpopMode, OrgPolicy};
use super::proxy::ProxyHeaders;
use super::resource::ResourceBuilder;
use super::settings::{RateLimitSettings, ReplayChoice, Secret};

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
    pub(super) domain: Option<String>,
    pub(super) issuer_base_url: Option<String>,
    pub(super) audiences: Vec<String>,
    pub(super) algorithms: Option<Vec<Algorithm>>,
    pub(super) algorithm_error: Option<ConfigError>,
    pub(super) hs256_secret: Option<Secret>,
    pub(super) leeway: Duration,
    pub(super) realm: String,
    pub(super) roles_claim: Option<String>,
    pub(super) max_token_bytes: usize,
    pub(super) require_at_jwt_typ: bool,
    pub(super) http_timeout: Duration,
    pub(super) jwks_ttl_min: Duration,
    pub(super) jwks_ttl_max: Duration,
    pub(super) jwks_ttl_default: Duration,
    pub(super) unknown_kid_cooldown: Duration,
    pub(super) jwks_retry_interval: Duration,
    pub(super) verified_token_cache: usize,
    pub(super) dpop_mode: DpopMode,
    pub(super) dpop_mode_error: Option<ConfigError>,
    pub(super) dpop_algorithms: Vec<Algorithm>,
    pub(super) dpop_iat_leeway: Duration,
    pub(super) dpop_iat_offset: Duration,
    pub(super) public_base_url: Option<String>,
    pub(super) proxy_headers: ProxyHeaders,
    /// Set by the deprecated `trust_forwarded_headers(true)`: refused at `build()`.
    pub(super) trust_forwarded_headers: bool,
    pub(super) dpop_nonce_secret: Option<Secret>,
    pub(super) dpop_nonce_step: Duration,
    pub(super) replay_store: Option<ReplayChoice>,
    pub(super) replay_redis_url: Option<String>,
    pub(super) replay_capacity: usize,
    pub(super) replay_quota: Option<usize>,
    pub(super) domains: Option<Vec<String>>,
    pub(super) resolver: Option<Resolver>,
    pub(super) max_issuers: usize,
    pub(super) organization: OrgPolicy,
    pub(super) allowed_organizations: Vec<String>,
    pub(super) required_claims: Vec<String>,
    pub(super) max_delegation_depth: usize,
    pub(super) reject_anonymous: bool,
    pub(super) rate_limits: RateLimitSettings,
    pub(super) resource: ResourceBuilder,
    pub(super) implied_scopes: Vec<(String, Vec<String>)>,
    pub(super) profile: Option<super::profile::IssuerProfile>,
    pub(super) profile_error: Option<ConfigError>,
    pub(super) roles_locations: Option<Vec<super::locations::ClaimLocation>>,
    pub(super) scopes_locations: Option<Vec<super::locations::ClaimLocation>>,
    pub(super) permissions_locations: Option<Vec<super::locations::ClaimLocation>>,
    pub(super) audience_rule: Option<super::profile::AudienceRule>,
    pub(super) also_issuers: Vec<String>,
    pub(super) issuer_template: Option<super::profile::IssuerTemplate>,
    pub(super) jwks_uri: Option<String>,
    pub(super) entra_tenants: Option<super::profile::Tenants>,
    pub(super) firebase_tenant: Option<String>,
    pub(super) mtls: super::mtls::MtlsBuilder,
    pub(super) jwe: super::jwe::JweBuilder,
    /// Set by `error_body` (in the axum module, which owns rendering); carried to the
    /// Authenticator untouched.
    pub(crate) error_body: Option<ErrorBody>,
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
            proxy_headers: ProxyHeaders::None,
            trust_forwarded_headers: false,
            dpop_nonce_secret: None,
            dpop_nonce_step: Duration::from_secs(300),
            replay_store: None,
            replay_redis_url: None,
            replay_capacity: 1_000_000,
            replay_quota: None,
            domains: None,
            resolver: None,
            max_issuers: 100,
            organization: OrgPolicy::Optional,
            allowed_organizations: Vec::new(),
            required_claims: Vec::new(),
            max_delegation_depth: 5,
            reject_anonymous: false,
            rate_limits: RateLimitSettings::default(),
            resource: ResourceBuilder::default(),
            implied_scopes: Vec::new(),
            profile: None,
            profile_error: None,
            roles_locations: None,
            scopes_locations: None,
            permissions_locations: None,
            audience_rule: None,
            also_issuers: Vec::new(),
            issuer_template: None,
            jwks_uri: None,
            entra_tenants: None,
            firebase_tenant: None,
            mtls: super::mtls::MtlsBuilder::default(),
            jwe: super::jwe::JweBuilder::default(),
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

    /// Where roles live: a claim name (`https://myapp.com/roles`, `groups`) or a JSON Pointer
    /// (`/realm_access/roles`); also `ROLES_CLAIM`. It replaces the profile's roles location, and
    /// every reader of roles follows it: [`StandardClaims`](crate::StandardClaims), the
    /// `#[claim(roles)]` field of a derived claims type, `#[require_role]` and route layers. See
    /// [`ClaimLocation`](crate::ClaimLocation) for the forms, and
    /// [`roles_from`](Self::roles_from) for several places.
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
    /// (about 2 KiB an entry: the token and its claims); when the cache is full, a new token
    /// takes the place of one not looked up lately (CLOCK), so active clients keep their
    /// entries through a burst of tokens seen once.
    pub fn verified_token_cache(mut self, entries: usize) -> Self {
        self.verified_token_cache = entries;
        self
    }
}
