//! The validated settings the layers above read, built once by `validate`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;

use super::hooks::{ErrorBody, ReplayStore, Resolver};
use super::options::{Algorithm, DpopMode, OrgPolicy};
use super::proxy::ProxyHeaders;

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
    /// Which header a trusted proxy sets: read for the client address and the URL `htu` names.
    pub(crate) proxy: ProxyHeaders,
    pub(crate) audiences: Vec<String>,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) hs256_secret: Option<Secret>,
    pub(crate) leeway: Duration,
    pub(crate) realm: String,
    pub(crate) roles_claim: Option<String>,
    /// The issuer profile's rules: issuers, audience rule, vendor checks, claim locations.
    pub(crate) rules: super::rules::TokenRules,
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
    /// Certificate-bound tokens (RFC 8705).
    pub(crate) mtls: super::mtls::MtlsSettings,
    /// Encrypted tokens (JWE): the decryption keys and algorithms.
    pub(crate) jwe: super::jwe::JweSettings,
    pub(crate) max_issuers: usize,
    pub(crate) organization: OrgPolicy,
    pub(crate) allowed_organizations: Vec<String>,
    pub(crate) required_claims: Vec<String>,
    pub(crate) max_delegation_depth: usize,
    pub(crate) reject_anonymous: bool,
    pub(crate) rate_limits: RateLimitSettings,
    /// For each broader scope, every scope it implies (transitively).
    pub(crate) implied_scopes: std::collections::BTreeMap<String, Vec<String>>,
    /// The Protected Resource Metadata (RFC 9728), when a resource is configured.
    pub(crate) resource: Option<super::resource::ResourceSettings>,
}

/// Where rate-limit budgets live and what happens when that store fails.
#[derive(Clone)]
pub(crate) struct RateLimitSettings {
    pub(crate) redis_url: Option<String>,
    pub(crate) redis_prefix: String,
    pub(crate) fail_closed: bool,
    pub(crate) max_callers: usize,
}

impl fmt::Debug for RateLimitSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password.
        f.debug_struct("RateLimitSettings")
            .field("redis", &self.redis_url.is_some())
            .field("fail_closed", &self.fail_closed)
            .field("max_callers", &self.max_callers)
            .finish()
    }
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
    pub(crate) nonce: Option<(Secret, Duration)>,
    /// The most live proofs one proof key may hold in the replay store.
    pub(crate) replay_quota: usize,
}

/// Where DPoP proof `jti`s are remembered: the stores themselves are made in `build()`, by a
/// layer above this one.
#[derive(Clone)]
pub(crate) enum ReplayChoice {
    Memory(usize),
    /// `redis://...` (feature `redis`).
    Redis(String),
    Store(Arc<dyn ReplayStore>),
}

impl fmt::Debug for ReplayChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayChoice::Memory(capacity) => write!(f, "Memory({capacity})"),
            // The URL may hold a password.
            ReplayChoice::Redis(_) => f.write_str("Redis(..)"),
            ReplayChoice::Store(_) => f.write_str("Store(..)"),
        }
    }
}

/// What `validate` hands to the Authenticator beside the settings.
pub(crate) struct Validated {
    pub(crate) settings: Settings,
    pub(crate) error_body: Option<ErrorBody>,
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
