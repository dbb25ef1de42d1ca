//! The `verify` layer: the [`Authenticator`] and its one verification path (token shape, header,
//! issuer, key, signature, registered claims), the [`VerifiedToken`] it yields and the
//! [`VerifyError`]s it refuses with. It reads `config`, `store` and `jwks`; DPoP, claims and axum
//! build on it from above, and the DPoP state it holds ([`DpopState`]) is data the `dpop` layer
//! reads.

mod binding;
mod causes;
mod diagnose;
mod diagnose_claims;
mod diagnosis;
mod error;
mod escape;
mod header;
mod jwe;
mod path;
mod profile;
mod registered;
mod token;
mod vendor_causes;

use std::fmt;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use url::Url;

pub use binding::certificate_thumbprint;
pub(crate) use binding::{CertificateReader, Given, Presentation, PresentedCertificate};
pub(crate) use diagnose::TokenReport;
pub use diagnosis::{
    terminal_safe, Cause, Diagnosis, Finding, Outcome, Report, SelectedKey, TimeClaim, Verdict,
};
pub use error::{KeysUnavailable, VerifyError};
pub(crate) use escape::Escaped;
pub(crate) use header::{decode_segment, is_object, unix_now};
pub(crate) use registered::NumericDate;
pub use token::{ClaimsContext, VerifiedToken};

use crate::config::{
    AuthenticatorBuilder, ConfigError, ErrorBody, IssuerSource, ReplayChoice, ReplayStore,
    Resolver, Settings, Validated,
};
use crate::jwks::{self, IssuerCaches, JwksCache};
use crate::ratelimit::RateLimits;
use crate::stats::{Counters, Stats};
use crate::store::MemoryReplayStore;
use crate::token_cache::TokenCache;

/// Verifies access tokens for one issuer and audience set; cheap to clone (an `Arc` inside).
///
/// Build one at start-up with [`Authenticator::builder`] or [`Authenticator::from_env`], install it
/// with [`layer`](Self::layer), and use the extractors in handlers; or call
/// [`verify`](Self::verify) yourself.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::Authenticator;
///
/// let auth = Authenticator::builder()
///     .domain("tenant.us.auth0.com")
///     .audience("https://api.example.com")
///     .build()?;
/// let app: axum::Router = axum::Router::new().layer(auth.layer());
/// # Ok::<(), route_guard::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Authenticator {
    pub(crate) inner: Arc<Inner>,
}

/// Where the keys of accepted issuers come from.
enum Keys {
    /// One issuer (a domain, an issuer URL, or HS256's configured issuer).
    Single(Arc<JwksCache>),
    /// Several domains, or a resolver: one cache per issuer, chosen by the token's `iss`.
    Multi {
        caches: IssuerCaches,
        allowed: Allowed,
    },
}

enum Allowed {
    Static(Vec<Url>),
    Resolver(Resolver),
}

/// What the request tells a domain resolver (nothing outside a request), and where its client
/// certificate can be read.
#[derive(Default, Clone, Copy)]
pub(crate) struct RequestContext<'a> {
    pub(crate) host: Option<&'a str>,
    pub(crate) path: &'a str,
    pub(crate) certificate: Option<&'a dyn CertificateReader>,
}

pub(crate) struct Inner {
    pub(crate) settings: Arc<Settings>,
    keys: Keys,
    hmac: Option<aws_lc_rs::hmac::Key>,
    pub(crate) counters: Arc<Counters>,
    context: Arc<ClaimsContext>,
    allowed_list: String,
    pub(crate) realm: Arc<str>,
    pub(crate) error_body: Option<ErrorBody>,
    token_cache: Option<TokenCache<VerifiedToken>>,
    pub(crate) dpop: DpopState,
    pub(crate) rate_limits: RateLimits,
    /// The absolute URL of the Protected Resource Metadata, named by every challenge.
    pub(crate) resource_metadata: Option<Arc<str>>,
    /// The last JOSE header that passed its checks, by its exact text: an issuer signs every
    /// token with one header per key, so a new token's header is nearly always this one.
    last_header: ArcSwapOption<path::KnownHeader>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.inner.settings;
        f.debug_struct("Authenticator")
            .field("source", &s.source)
            .field("audiences", &s.audiences)
            .field("algorithms", &s.algorithms)
            .finish_non_exhaustive()
    }
}

impl AuthenticatorBuilder {
    /// Validates every setting and builds the [`Authenticator`].
    ///
    /// No network request is made here; call [`Authenticator::warm_up`] to load the keys eagerly.
    pub fn build(self) -> Result<Authenticator, ConfigError> {
        Authenticator::from_settings(self.validate()?)
    }
}

impl Authenticator {
    /// Starts a configuration; see [`AuthenticatorBuilder`].
    pub fn builder() -> AuthenticatorBuilder {
        AuthenticatorBuilder::default()
    }

    /// Builds from the environment (and a `.env` file, if present): `AUTH0_DOMAIN` or
    /// `AUTH0_ISSUER_BASE_URL`, `AUTH0_AUDIENCE` (comma-separated for several) and the optional
    /// `AUTH0_ALGORITHMS` (comma-separated, default `RS256`).
    ///
    /// ```no_run
    /// # extern crate auth_runtime as route_guard;
    /// let auth = route_guard::Authenticator::from_env()?;
    /// # Ok::<(), route_guard::ConfigError>(())
    /// ```
    pub fn from_env() -> Result<Authenticator, ConfigError> {
        AuthenticatorBuilder::from_env()?.build()
    }

    fn from_settings(validated: Validated) -> Result<Authenticator, ConfigError> {
        let Validated {
            settings,
            error_body,
            replay,
            resolver,
        } = validated;
        install_crypto_provider();
        let settings = Arc::new(settings);
        let counters = Arc::new(Counters::default());
        let client = jwks::client(&settings)?;
        let keys = match (&settings.source, resolver) {
            (IssuerSource::Multi { bases }, resolver) => {
                let caches = IssuerCaches::new(
                    Arc::clone(&settings),
                    client,
                    Arc::clone(&counters),
                    settings.max_issuers.max(bases.len()),
                );
                let allowed = match resolver {
                    Some(resolver) => Allowed::Resolver(resolver),
                    None => {
                        for base in bases {
                            caches.get_or_create(base);
                        }
                        Allowed::Static(bases.clone())
                    }
                };
                Keys::Multi { caches, allowed }
            }
            _ => Keys::Single(Arc::new(JwksCache::new(
                Arc::clone(&settings),
                client,
                Arc::clone(&counters),
            ))),
        };
        let hmac = settings
            .hs256_secret
            .as_ref()
            .map(|s| aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &s.0));
        let allowed_list = settings
            .algorithms
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        Ok(Authenticator {
            inner: Arc::new(Inner {
                context: Arc::new(ClaimsContext {
                    roles_claim: settings.roles_claim.clone(),
                    locations: settings.rules.locations.clone(),
                    implied_scopes: settings.implied_scopes.clone(),
                    leeway: settings.leeway,
                }),
                realm: Arc::from(settings.realm.as_str()),
                token_cache: TokenCache::new(settings.verified_token_cache),
                dpop: DpopState::new(&settings, replay)?,
                rate_limits: RateLimits::new(settings.rate_limits.clone(), Arc::clone(&counters))?,
                resource_metadata: settings
                    .resource
                    .as_ref()
                    .map(|r| Arc::from(r.metadata_url.as_str())),
                last_header: ArcSwapOption::empty(),
                settings,
                keys,
                hmac,
                counters,
                allowed_list,
                error_body,
            }),
        })
    }

    /// The enforced issuer: known at once for a domain, after discovery (the first key load)
    /// for an issuer base URL; `None` with several domains (see [`issuers`](Self::issuers)).
    pub fn issuer(&self) -> Option<String> {
        match (&self.inner.settings.source, &self.inner.keys) {
            (IssuerSource::Fixed { issuer, .. }, _) => Some(issuer.clone()),
            (IssuerSource::Discover { .. }, Keys::Single(cache)) => {
                cache.current().map(|set| set.issuer.to_string())
            }
            _ => None,
        }
    }

    /// The issuer profile the tokens are checked with.
    pub fn profile(&self) -> crate::config::IssuerProfile {
        self.inner.settings.rules.profile
    }

    /// Every accepted issuer known now: the one issuer, or each of several domains
    /// (`https://{domain}/`); empty with a resolver, whose answers decide per request.
    pub fn issuers(&self) -> Vec<String> {
        match &self.inner.keys {
            Keys::Multi {
                allowed: Allowed::Static(bases),
                ..
            } => bases.iter().map(|b| b.to_string()).collect(),
            Keys::Multi { .. } => Vec::new(),
            Keys::Single(_) => self.issuer().into_iter().collect(),
        }
    }

    /// The realm of this Authenticator's `WWW-Authenticate` challenges.
    pub fn realm(&self) -> &str {
        &self.inner.settings.realm
    }

    /// Loads the issuer's keys now (discovery first, if configured), so the first request does not
    /// wait for them. Requests work without it: a cold cache loads on first use.
    ///
    /// The error says why the keys could not be loaded; the Authenticator keeps retrying later.
    pub async fn warm_up(&self) -> Result<(), KeysUnavailable> {
        if self.inner.hmac.is_some() {
            return Ok(());
        }
        match &self.inner.keys {
            Keys::Single(cache) => cache.warm_up().await.map_err(KeysUnavailable),
            Keys::Multi { caches, .. } => {
                let mut failures = Vec::new();
                for cache in caches.all() {
                    if let Err(e) = cache.warm_up().await {
                        failures.push(e);
                    }
                }
                match failures.is_empty() {
                    true => Ok(()),
                    false => Err(KeysUnavailable(failures.join("; "))),
                }
            }
        }
    }

    /// Counters since this Authenticator was built.
    pub fn stats(&self) -> Stats {
        let unknown_kids = match &self.inner.keys {
            Keys::Single(cache) => cache.unknown_kids_remembered(),
            Keys::Multi { caches, .. } => caches
                .all()
                .iter()
                .map(|c| c.unknown_kids_remembered())
                .sum(),
        };
        let callers = self.inner.rate_limits.tracked_callers();
        self.inner.counters.snapshot(unknown_kids, callers)
    }
}

/// jsonwebtoken panics at its first use when both of its crypto backends are compiled in (Cargo
/// feature unification) and no provider was chosen; choosing aws-lc-rs here makes that impossible
/// for anyone who built an Authenticator. Installing twice is harmless: the first one wins.
fn install_crypto_provider() {
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
}

/// The DPoP part of an Authenticator, made with it in `build()`: the replay store (in memory by
/// default), the nonce key and the challenge's `algs`. The `dpop` layer reads it; `verify` only
/// holds it, so the import runs one way.
pub(crate) struct DpopState {
    /// The accepted proof algorithms, space-separated: the challenge's `algs`.
    pub(crate) algs: Arc<str>,
    pub(crate) replay: Arc<dyn ReplayStore>,
    /// The HMAC key and the time step of server nonces, when nonces are required.
    pub(crate) nonce_key: Option<(aws_lc_rs::hmac::Key, std::time::Duration)>,
    /// Whether the replay store failed last time: an outage is logged once at error level.
    pub(crate) store_down: AtomicBool,
}

impl DpopState {
    fn new(settings: &Settings, replay: ReplayChoice) -> Result<Self, ConfigError> {
        let dpop = &settings.dpop;
        let replay: Arc<dyn ReplayStore> = match replay {
            ReplayChoice::Memory(capacity) => Arc::new(MemoryReplayStore::new(capacity)),
            ReplayChoice::Store(store) => store,
            ReplayChoice::Redis(url) => redis_store(&url)?,
        };
        Ok(DpopState {
            algs: dpop
                .algorithms
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(" ")
                .into(),
            replay,
            nonce_key: dpop.nonce.as_ref().map(|(secret, step)| {
                (
                    aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret.0),
                    *step,
                )
            }),
            store_down: AtomicBool::new(false),
        })
    }
}

#[cfg(feature = "redis")]
fn redis_store(url: &str) -> Result<Arc<dyn ReplayStore>, ConfigError> {
    Ok(Arc::new(crate::store::RedisReplayStore::new(url)?))
}

/// Refused in `validate` already; kept total so that a choice can never be dropped silently.
#[cfg(not(feature = "redis"))]
fn redis_store(_url: &str) -> Result<Arc<dyn ReplayStore>, ConfigError> {
    Err(ConfigError::RedisFeatureMissing)
}
