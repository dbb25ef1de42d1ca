//! [`ConfigError`]: every configuration mistake, each naming the setting to change.

/// A configuration mistake, reported by [`AuthenticatorBuilder::build`](crate::AuthenticatorBuilder::build) or
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
    /// The resource identifier (`AUTH0_RESOURCE_URL` / `protected_resource`) is not an absolute
    /// https URL without a fragment (http only on loopback).
    #[error("the resource URL `{url}` is refused ({reason}): set AUTH0_RESOURCE_URL / `.protected_resource(..)` to this API's identifier, such as `https://api.example.com`")]
    InvalidResource {
        /// The URL given.
        url: String,
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
    /// `ISSUER_PROFILE` names no profile.
    #[error("ISSUER_PROFILE is `{value}`: set it to one of auth0, keycloak, entra, cognito, okta, firebase (or leave it unset for auth0)")]
    UnknownProfile {
        /// The value given (at most 64 characters).
        value: String,
    },
    /// A multi-tenant Entra API (`common`, `organizations`) without its tenant allow-list.
    #[error("a multi-tenant Entra ID issuer accepts tokens of any tenant that signs in: set ENTRA_TENANTS to the tenant IDs to accept (comma-separated), or `*` to accept every tenant; or call `.entra_tenants(..)` / `.entra_any_tenant()`")]
    MissingEntraTenants,
    /// The Okta profile pointed at the org authorization server.
    #[error("`{url}` is the Okta org authorization server, whose access tokens are meant for Okta's own APIs and must not be validated by yours: use a custom authorization server, such as `https://{{your-org}}.okta.com/oauth2/default`")]
    OktaOrgServer {
        /// The issuer URL given.
        url: String,
    },
}

pub(super) fn invalid(setting: &'static str, reason: &str) -> ConfigError {
    ConfigError::InvalidSetting {
        setting,
        reason: reason.to_owned(),
    }
}
