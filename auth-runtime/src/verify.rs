//! The one verification path: token shape, header, key, signature and registered claims.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};
use url::Url;

use crate::claims::{ClaimsContext, StandardClaims, TokenClaims};
use crate::config::{
    normalize_domain, Algorithm, AuthenticatorBuilder, ConfigError, IssuerRequest, IssuerSource,
    OrgPolicy, Resolver, Settings, Validated,
};
use crate::dpop::Dpop;
use crate::jwks::{self, IssuerCaches, JwksCache, KeyError};
use crate::stats::{Counters, RejectionReason, Stats};
use crate::token_cache::TokenCache;

/// Why a token was not accepted. Its `Display` is the `error_description` sent to the client:
/// useful, and never an echo of the token or of attacker-chosen header values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The token is longer than `max_token_bytes`.
    #[error("the token is larger than {limit} bytes")]
    TooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// Not a compact JWS: three base64url segments holding a JSON header and payload.
    #[error("the token is malformed: {0}")]
    Malformed(&'static str),
    /// The `alg` header is not in the allow-list (`none` never is).
    #[error("the token's signing algorithm is not accepted (accepted: {allowed})")]
    AlgorithmNotAllowed {
        /// The accepted algorithms, comma-separated.
        allowed: String,
    },
    /// The token has a `crit` header; route-guard understands no JWS extensions.
    #[error("the token has a critical header extension (crit) that is not supported")]
    CriticalHeader,
    /// The `typ` header is not accepted.
    #[error("the token type (typ) is not accepted: {0}")]
    TokenType(&'static str),
    /// No key in the issuer's key set has the token's `kid`.
    #[error("the token's key id (kid) is not in the issuer's key set")]
    UnknownKid,
    /// The token has no `kid` and the issuer has several keys.
    #[error("the token has no key id (kid) and the issuer has several keys")]
    MissingKid,
    /// The key named by `kid` cannot verify the token's `alg`.
    #[error("the token's algorithm does not match its signing key")]
    KeyMismatch,
    /// No key set of the token's issuer has loaded yet (network failure, bad JWKS since
    /// start-up). The extractors answer it 503 `temporarily_unavailable`: the token was not
    /// judged. With a key set cached, an outage of the issuer never produces it.
    #[error("the issuer's signing keys are unavailable; try again later")]
    KeysUnavailable,
    /// The signature does not verify.
    #[error("the token's signature is invalid")]
    InvalidSignature,
    /// `exp` is in the past.
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("the token is not valid yet (nbf)")]
    NotYetValid,
    /// A required registered claim is missing.
    #[error("the token has no `{0}` claim")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type.
    #[error("the token's claims are malformed: {0}")]
    InvalidClaims(String),
    /// `iss` is not the configured issuer.
    #[error("the token's issuer (iss) is not accepted")]
    WrongIssuer,
    /// No `aud` value is a configured audience.
    #[error("the token's audience (aud) is not accepted")]
    WrongAudience,
    /// A DPoP-bound token (`cnf.jkt`) was sent with the Bearer scheme: it is accepted only with
    /// `Authorization: DPoP` and a proof of its key.
    #[error("the token is DPoP-bound (cnf.jkt): send it as `Authorization: DPoP <token>` with a DPoP proof")]
    DpopBound,
    /// A token without `cnf.jkt` was sent with the DPoP scheme.
    #[error(
        "the token is not DPoP-bound (no cnf.jkt): send it as `Authorization: Bearer <token>`"
    )]
    NotDpopBound,
    /// [`OrgPolicy::Required`](crate::OrgPolicy::Required) and the token has no `org_id`.
    #[error("the token has no organization (org_id)")]
    MissingOrganization,
    /// The token's organization is not in
    /// [`allowed_organizations`](crate::AuthenticatorBuilder::allowed_organizations). The value is
    /// logged (debug level), never sent.
    #[error("the token's organization is not accepted")]
    OrganizationNotAllowed {
        /// The token's `org_id`, for logs.
        organization: String,
    },
    /// A claim of [`required_claims`](crate::AuthenticatorBuilder::required_claims) is missing.
    #[error("the token has no `{0}` claim")]
    MissingRequiredClaim(String),
    /// The RFC 8693 delegation chain (nested `act`) is deeper than allowed.
    #[error("the token's delegation chain (act) is deeper than {limit}")]
    DelegationTooDeep {
        /// The configured maximum.
        limit: usize,
    },
    /// An Auth0 anonymous token (`sub` `anon@...`) where anonymous callers are rejected.
    #[error("anonymous tokens are not accepted")]
    Anonymous,
    /// The domain resolver failed: the request is answered 503 (our outage, not the token's).
    #[error("the token's issuer could not be checked right now; try again shortly")]
    ResolverUnavailable,
    /// An OpenID Connect ID token (for the client app) was sent instead of an access token.
    #[error("the token's audience (aud) is not accepted: this looks like an ID token; send an access token requested with your API's audience")]
    IdToken,
}

impl VerifyError {
    /// The counter and log category of this error.
    pub fn reason(&self) -> RejectionReason {
        match self {
            VerifyError::TooLarge { .. } | VerifyError::Malformed(_) => RejectionReason::Malformed,
            VerifyError::AlgorithmNotAllowed { .. }
            | VerifyError::CriticalHeader
            | VerifyError::TokenType(_) => RejectionReason::Header,
            VerifyError::UnknownKid | VerifyError::MissingKid | VerifyError::KeyMismatch => {
                RejectionReason::UnknownKey
            }
            VerifyError::KeysUnavailable => RejectionReason::KeysUnavailable,
            VerifyError::InvalidSignature => RejectionReason::Signature,
            VerifyError::Expired => RejectionReason::Expired,
            VerifyError::NotYetValid => RejectionReason::NotYetValid,
            VerifyError::MissingClaim(_)
            | VerifyError::InvalidClaims(_)
            | VerifyError::WrongIssuer
            | VerifyError::WrongAudience
            | VerifyError::IdToken
            | VerifyError::MissingOrganization
            | VerifyError::OrganizationNotAllowed { .. }
            | VerifyError::MissingRequiredClaim(_)
            | VerifyError::DelegationTooDeep { .. }
            | VerifyError::Anonymous => RejectionReason::Claims,
            VerifyError::ResolverUnavailable => RejectionReason::ResolverUnavailable,
            VerifyError::DpopBound | VerifyError::NotDpopBound => RejectionReason::DpopBinding,
        }
    }
}

/// A token whose signature and registered claims were verified.
///
/// It holds the decoded claims (not the token); read them with [`claims`](Self::claims).
/// `Debug` shows the algorithm and key id only.
#[derive(Clone)]
pub struct VerifiedToken {
    inner: Arc<VerifiedInner>,
}

struct VerifiedInner {
    payload: Vec<u8>,
    alg: Algorithm,
    kid: Option<String>,
    /// The verified `iss`.
    issuer: Box<str>,
    /// `cnf.jkt`: the thumbprint of the key a DPoP-bound token is bound to.
    jkt: Option<Box<str>>,
    context: ClaimsContext,
    /// Every claim as JSON, parsed on first use (only claim predicates need it).
    raw: OnceLock<Map<String, Value>>,
}

impl fmt::Debug for VerifiedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedToken")
            .field("alg", &self.inner.alg)
            .field("kid", &self.inner.kid)
            .finish_non_exhaustive()
    }
}

impl VerifiedToken {
    /// Deserializes the claims into `T` (one parse of the verified payload).
    pub fn claims<T: TokenClaims>(&self) -> Result<T, VerifyError> {
        let mut claims: T = self.deserialize()?;
        claims.apply_context(&self.inner.context);
        Ok(claims)
    }

    /// The claims as [`StandardClaims`].
    pub fn standard_claims(&self) -> Result<StandardClaims, VerifyError> {
        self.claims()
    }

    /// Deserializes the claims into any type, without route-guard's role context.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, VerifyError> {
        serde_json::from_slice(&self.inner.payload)
            .map_err(|e| VerifyError::InvalidClaims(data_error(&e)))
    }

    /// One claim as JSON, by name (e.g. `"org_id"` or `"https://myapp.com/roles"`).
    ///
    /// The payload is parsed into a map on the first call and kept with the token.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.inner
            .raw
            .get_or_init(|| serde_json::from_slice(&self.inner.payload).unwrap_or_default())
            .get(name)
    }

    /// The verified `alg`.
    pub fn algorithm(&self) -> Algorithm {
        self.inner.alg
    }

    /// The `kid` of the key that verified the token.
    pub fn key_id(&self) -> Option<&str> {
        self.inner.kid.as_deref()
    }

    /// The verified issuer (`iss`).
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// `cnf.jkt` of a DPoP-bound token: the RFC 7638 thumbprint of the client's proof key.
    pub fn dpop_thumbprint(&self) -> Option<&str> {
        self.inner.jkt.as_deref()
    }
}

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

/// What the request tells a domain resolver (nothing outside a request).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RequestContext<'a> {
    pub(crate) host: Option<&'a str>,
    pub(crate) path: &'a str,
}

pub(crate) struct Inner {
    pub(crate) settings: Arc<Settings>,
    keys: Keys,
    hmac: Option<aws_lc_rs::hmac::Key>,
    pub(crate) counters: Arc<Counters>,
    context: ClaimsContext,
    allowed_list: String,
    pub(crate) realm: Arc<str>,
    pub(crate) error_body: Option<crate::axum::ErrorBody>,
    token_cache: Option<TokenCache<VerifiedToken>>,
    pub(crate) dpop: Dpop,
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
                context: ClaimsContext {
                    roles_claim: settings.roles_claim.clone(),
                },
                realm: Arc::from(settings.realm.as_str()),
                token_cache: TokenCache::new(settings.verified_token_cache),
                dpop: Dpop::new(&settings.dpop, replay),
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
                cache.current().map(|set| set.issuer.clone())
            }
            _ => None,
        }
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
        self.inner.counters.snapshot(match &self.inner.keys {
            Keys::Single(cache) => cache.unknown_kids_remembered(),
            Keys::Multi { caches, .. } => caches
                .all()
                .iter()
                .map(|c| c.unknown_kids_remembered())
                .sum(),
        })
    }

    /// Verifies a compact JWS access token: size and shape, `alg` allow-list, `crit`, `typ`, key by
    /// `kid`, signature, `exp`/`nbf` with leeway, `iss` and `aud`. Counts and logs the outcome.
    ///
    /// This is the Bearer path: a DPoP-bound token (`cnf.jkt`) is refused here, whatever the
    /// DPoP mode, since no proof of its key comes with it; see
    /// [`verify_dpop`](Self::verify_dpop).
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, VerifyError> {
        self.verify_with(token, RequestContext::default()).await
    }

    /// [`verify`](Self::verify) with what the request tells a domain resolver.
    pub(crate) async fn verify_with(
        &self,
        token: &str,
        context: RequestContext<'_>,
    ) -> Result<VerifiedToken, VerifyError> {
        let outcome = self
            .verify_inner(token, context)
            .await
            .and_then(|verified| match verified.dpop_thumbprint() {
                Some(_) => Err(VerifyError::DpopBound),
                None => Ok(verified),
            });
        match outcome {
            Ok(verified) => {
                self.inner.counters.verified();
                Ok(verified)
            }
            Err(err) => {
                let reason = err.reason();
                self.inner.counters.rejected(reason);
                match &err {
                    VerifyError::OrganizationNotAllowed { organization } => {
                        tracing::debug!(target: "route_guard", %reason, error = %err, ?organization, "token rejected");
                    }
                    _ => {
                        tracing::debug!(target: "route_guard", %reason, error = %err, "token rejected")
                    }
                }
                Err(err)
            }
        }
    }

    /// The token checks shared by the Bearer and DPoP paths, through the verified-token cache.
    pub(crate) async fn verify_inner(
        &self,
        token: &str,
        context: RequestContext<'_>,
    ) -> Result<VerifiedToken, VerifyError> {
        let settings = &self.inner.settings;
        if token.len() > settings.max_token_bytes {
            return Err(VerifyError::TooLarge {
                limit: settings.max_token_bytes,
            });
        }
        let Some(cache) = &self.inner.token_cache else {
            return self
                .verify_uncached(token, context)
                .await
                .map(|(v, _, _)| v);
        };
        let key = TokenCache::<VerifiedToken>::key(token);
        let hit = cache.get(&key, unix_now(), |verified, generation| {
            self.key_set_generation(verified.issuer()) == Some(generation)
        });
        if let Some(verified) = hit {
            // A resolver's answer may differ from request to request: ask it every time.
            self.resolve_cache(verified.issuer(), context).await?;
            self.inner.counters.cache_hit();
            return Ok(verified);
        }
        let (verified, valid_until, generation) = self.verify_uncached(token, context).await?;
        cache.insert(key, verified.clone(), valid_until, generation, unix_now());
        Ok(verified)
    }

    /// The generation of the keys of `issuer` in use now (0 for HS256); `None` before any key
    /// set loaded. Also keeps the key set fresh: a cache hit skips the key lookup that would
    /// otherwise notice stale keys, and a removed key must stop verifying after the next refresh.
    fn key_set_generation(&self, issuer: &str) -> Option<u64> {
        if self.inner.hmac.is_some() {
            return Some(0);
        }
        let cache = match &self.inner.keys {
            Keys::Single(cache) => Arc::clone(cache),
            Keys::Multi { caches, .. } => caches.get(issuer)?,
        };
        // Cold: nothing can be cached yet, and an unchecked token must not cause a fetch.
        let set = cache.current()?;
        cache.refresh_if_stale();
        Some(set.generation)
    }

    /// The JWKS cache for a token claiming `issuer`, after checking that the issuer is accepted
    /// for this request: before any network request, so an attacker's `iss` fetches nothing.
    async fn resolve_cache(
        &self,
        issuer: &str,
        context: RequestContext<'_>,
    ) -> Result<Arc<JwksCache>, VerifyError> {
        let (caches, allowed) = match &self.inner.keys {
            Keys::Single(cache) => return Ok(Arc::clone(cache)),
            Keys::Multi { caches, allowed } => (caches, allowed),
        };
        match allowed {
            Allowed::Static(bases) => bases
                .iter()
                .find(|b| b.as_str() == issuer)
                .map(|base| caches.get_or_create(base))
                .ok_or(VerifyError::WrongIssuer),
            Allowed::Resolver(Resolver(resolve)) => {
                let request = IssuerRequest {
                    host: context.host.map(str::to_owned),
                    path: context.path.to_owned(),
                    issuer: issuer.to_owned(),
                };
                let domains = resolve(request).await.map_err(|error| {
                    tracing::error!(target: "route_guard", %error, "the domain resolver failed: the request is answered 503");
                    VerifyError::ResolverUnavailable
                })?;
                for domain in &domains {
                    match normalize_domain(domain) {
                        Ok(base) if base.as_str() == issuer => {
                            return Ok(caches.get_or_create(&base))
                        }
                        Ok(_) => {}
                        Err(error) => {
                            tracing::warn!(target: "route_guard", %error, "the domain resolver answered an entry that is not a domain; skipped");
                        }
                    }
                }
                Err(VerifyError::WrongIssuer)
            }
        }
    }

    /// The full check; also returns until when the token is valid (`exp` + leeway) and the
    /// generation of the key set that verified it.
    async fn verify_uncached(
        &self,
        token: &str,
        context: RequestContext<'_>,
    ) -> Result<(VerifiedToken, f64, u64), VerifyError> {
        let settings = &self.inner.settings;
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(VerifyError::Malformed(
                "expected three dot-separated segments",
            ));
        };
        if header_b64.is_empty() || payload_b64.is_empty() || signature_b64.is_empty() {
            return Err(VerifyError::Malformed("a segment is empty"));
        }
        let header_json = decode_segment(header_b64, "the header is not base64url")?;
        let header = parse_header(&header_json)?;
        if header.crit.is_some() {
            return Err(VerifyError::CriticalHeader);
        }
        let alg = Algorithm::accepted(&header.alg, &settings.algorithms).ok_or_else(|| {
            VerifyError::AlgorithmNotAllowed {
                allowed: self.inner.allowed_list.clone(),
            }
        })?;
        check_typ(header.typ.as_deref(), settings.require_at_jwt_typ)?;
        let signature = decode_segment(signature_b64, "the signature is not base64url")?;
        let signed = &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
        // Parsed once, before the key lookup: the unverified `iss` chooses the issuer (and a
        // token of another issuer is refused before it can cause a fetch); every claim is
        // checked again below, after the signature.
        let payload = decode_segment(payload_b64, "the payload is not base64url")?;
        let claims = parse_claims(&payload)?;

        let key_set = match &self.inner.hmac {
            Some(key) => {
                aws_lc_rs::hmac::verify(key, signed, &signature)
                    .map_err(|_| VerifyError::InvalidSignature)?;
                None
            }
            None => {
                let issuer = claims
                    .iss
                    .as_deref()
                    .ok_or(VerifyError::MissingClaim("iss"))?;
                let cache = match &self.inner.keys {
                    Keys::Single(cache) => Arc::clone(cache),
                    Keys::Multi { .. } => self.resolve_cache(issuer, context).await?,
                };
                let kid = header.kid.as_deref();
                let set = cache.key_set(issuer, kid).await.map_err(key_error)?;
                let key = set.find(kid, alg).map_err(key_error)?;
                key.verify_sig(signed, &signature)
                    .map_err(|_| VerifyError::InvalidSignature)?;
                Some(set)
            }
        };

        let now = unix_now();
        let leeway = settings.leeway.as_secs_f64();
        let exp = claims.exp.ok_or(VerifyError::MissingClaim("exp"))?;
        if now >= exp.0 + leeway {
            return Err(VerifyError::Expired);
        }
        if let Some(nbf) = claims.nbf {
            if now + leeway < nbf.0 {
                return Err(VerifyError::NotYetValid);
            }
        }
        let iss = claims
            .iss
            .as_deref()
            .ok_or(VerifyError::MissingClaim("iss"))?;
        let expected_issuer = match &key_set {
            Some(set) => set.issuer.as_str(),
            None => self.hs256_issuer(),
        };
        if iss != expected_issuer {
            return Err(VerifyError::WrongIssuer);
        }
        let aud = claims
            .aud
            .as_ref()
            .ok_or(VerifyError::MissingClaim("aud"))?;
        if !aud
            .0
            .iter()
            .any(|a| settings.audiences.iter().any(|c| c == a))
        {
            // A common mistake with Auth0: the ID token goes to the API. Say so.
            return Err(if claims.nonce.is_some() || claims.at_hash.is_some() {
                VerifyError::IdToken
            } else {
                VerifyError::WrongAudience
            });
        }
        self.check_policies(&claims, &payload)?;
        let kid = header.kid.map(Cow::into_owned);
        let issuer: Box<str> = iss.into();
        let jkt: Option<Box<str>> = claims.cnf.and_then(|cnf| cnf.jkt).map(|j| j.into());
        let generation = key_set.as_ref().map_or(0, |set| set.generation);
        let verified = VerifiedToken {
            inner: Arc::new(VerifiedInner {
                payload,
                alg,
                kid,
                issuer,
                jkt,
                context: self.inner.context.clone(),
                raw: OnceLock::new(),
            }),
        };
        Ok((verified, exp.0 + leeway, generation))
    }

    /// The Authenticator-wide policies on a token's claims: organization, required claims,
    /// delegation depth, anonymous callers.
    fn check_policies(&self, claims: &Registered<'_>, payload: &[u8]) -> Result<(), VerifyError> {
        let settings = &self.inner.settings;
        if settings.organization == OrgPolicy::Required {
            let org_id = claims
                .org_id
                .as_deref()
                .ok_or(VerifyError::MissingOrganization)?;
            let allowed = &settings.allowed_organizations;
            if !allowed.is_empty()
                && !allowed.iter().any(|entry| {
                    if entry.starts_with("org_") {
                        entry == org_id
                    } else {
                        claims
                            .org_name
                            .as_deref()
                            .is_some_and(|name| name.eq_ignore_ascii_case(entry))
                    }
                })
            {
                // For the log only (debug level); capped so a huge claim cannot flood it.
                let organization = org_id.chars().take(128).collect();
                return Err(VerifyError::OrganizationNotAllowed { organization });
            }
        }
        if let Some(depth) = claims.act.as_ref().map(|a| a.0) {
            if depth > settings.max_delegation_depth {
                return Err(VerifyError::DelegationTooDeep {
                    limit: settings.max_delegation_depth,
                });
            }
        }
        if settings.reject_anonymous
            && claims
                .sub
                .as_deref()
                .is_some_and(|s| s.starts_with("anon@"))
        {
            return Err(VerifyError::Anonymous);
        }
        if !settings.required_claims.is_empty() {
            let present: std::collections::HashMap<Cow<'_, str>, IgnoredAny> =
                serde_json::from_slice(payload)
                    .map_err(|_| VerifyError::Malformed("the payload is not a JSON object"))?;
            if let Some(missing) = settings
                .required_claims
                .iter()
                .find(|c| !present.contains_key(c.as_str()))
            {
                return Err(VerifyError::MissingRequiredClaim(missing.clone()));
            }
        }
        Ok(())
    }

    /// With HS256 there is no discovery: the issuer is the configured one.
    fn hs256_issuer(&self) -> &str {
        match &self.inner.settings.source {
            IssuerSource::Fixed { issuer, .. } => issuer,
            IssuerSource::Discover { base } => base.as_str(),
            // Refused at start-up: HS256 works with one issuer.
            IssuerSource::Multi { .. } => "",
        }
    }
}

/// The issuer's keys could not be loaded; the message says why (for logs, not for clients).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the issuer's signing keys could not be loaded: {0}")]
pub struct KeysUnavailable(pub String);

/// jsonwebtoken panics at its first use when both of its crypto backends are compiled in (Cargo
/// feature unification) and no provider was chosen; choosing aws-lc-rs here makes that impossible
/// for anyone who built an Authenticator. Installing twice is harmless: the first one wins.
fn install_crypto_provider() {
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
}

fn key_error(err: KeyError) -> VerifyError {
    match err {
        KeyError::UnknownKid => VerifyError::UnknownKid,
        KeyError::ForeignIssuer => VerifyError::WrongIssuer,
        KeyError::AmbiguousKey => VerifyError::MissingKid,
        KeyError::AlgorithmMismatch => VerifyError::KeyMismatch,
        KeyError::Unavailable(_) => VerifyError::KeysUnavailable,
    }
}

pub(crate) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

pub(crate) fn decode_segment(segment: &str, what: &'static str) -> Result<Vec<u8>, VerifyError> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| VerifyError::Malformed(what))
}

/// serde's derived struct impls also accept JSON arrays; a JOSE header or claims set must be an
/// object, so check the first byte before parsing.
pub(crate) fn is_object(json: &[u8]) -> bool {
    json.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

fn parse_header(json: &[u8]) -> Result<Header<'_>, VerifyError> {
    const NOT_A_HEADER: VerifyError =
        VerifyError::Malformed("the header is not a JSON object with a string `alg`");
    if !is_object(json) {
        return Err(NOT_A_HEADER);
    }
    // A duplicate or mistyped member (two `alg`s, a numeric `kid`) is as malformed as bad JSON.
    serde_json::from_slice(json).map_err(|_| NOT_A_HEADER)
}

fn parse_claims(json: &[u8]) -> Result<Registered<'_>, VerifyError> {
    const NOT_AN_OBJECT: VerifyError = VerifyError::Malformed("the payload is not a JSON object");
    if !is_object(json) {
        return Err(NOT_AN_OBJECT);
    }
    serde_json::from_slice(json).map_err(|e| {
        if e.is_data() {
            VerifyError::InvalidClaims(data_error(&e))
        } else {
            NOT_AN_OBJECT
        }
    })
}

/// A client-safe account of a claims error: serde_json's "invalid type: string \"...\"" would
/// echo the payload, so only messages that name a claim survive; the line/column goes too.
fn data_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" at line ") {
        Some(i) => &text[..i],
        None => &text,
    };
    if let Some(rest) = text.strip_prefix("missing field `") {
        let name = rest.trim_end_matches('`');
        return format!("the `{name}` claim is missing");
    }
    if text.starts_with("the `") || text.starts_with("duplicate field `") {
        return text.to_owned();
    }
    "a claim is not of the expected type".to_owned()
}

fn check_typ(typ: Option<&str>, strict: bool) -> Result<(), VerifyError> {
    // Media types are case-insensitive (RFC 7515 §4.1.9).
    let is = |v: &str| typ.is_some_and(|t| t.eq_ignore_ascii_case(v));
    let at_jwt = is("at+jwt") || is("application/at+jwt");
    match (strict, typ) {
        (true, _) if at_jwt => Ok(()),
        (true, _) => Err(VerifyError::TokenType(
            "an RFC 9068 access token (typ at+jwt) is required",
        )),
        (false, None) => Ok(()),
        (false, Some(_)) if at_jwt || is("JWT") => Ok(()),
        (false, Some(_)) => Err(VerifyError::TokenType("expected JWT or at+jwt")),
    }
}

#[derive(Deserialize)]
struct Header<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(default, borrow)]
    kid: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    typ: Option<Cow<'a, str>>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Registered<'a> {
    #[serde(default)]
    exp: Option<NumericDate>,
    #[serde(default)]
    nbf: Option<NumericDate>,
    #[serde(default, borrow)]
    iss: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    aud: Option<Audiences<'a>>,
    /// Only ID tokens carry these; used to explain an audience mismatch.
    #[serde(default)]
    nonce: Option<IgnoredAny>,
    #[serde(default)]
    at_hash: Option<IgnoredAny>,
    /// For the organization and anonymous policies. Read leniently: a value that is not a
    /// string counts as absent, so a token is not refused for a claim no policy asked about.
    #[serde(default, borrow)]
    org_id: MaybeStr<'a>,
    #[serde(default, borrow)]
    org_name: MaybeStr<'a>,
    #[serde(default, borrow)]
    sub: MaybeStr<'a>,
    /// RFC 8693 delegation: only its depth matters here.
    #[serde(default)]
    act: Option<ActDepth>,
    /// RFC 7800 confirmation; `jkt` binds the token to a DPoP key (RFC 9449 §6.1).
    #[serde(default, borrow)]
    cnf: Option<Confirmation<'a>>,
}

/// A claim that is a string, or `None` for any other JSON value.
#[derive(Default)]
struct MaybeStr<'a>(Option<Cow<'a, str>>);

impl MaybeStr<'_> {
    fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for MaybeStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = MaybeStr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(MaybeStr(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MaybeStr(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeStr(None))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(MaybeStr(None))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// The depth of an `act` chain: 1 for `{"sub": ..}`, 2 with one nested `act`, and so on.
/// serde_json's recursion limit bounds how deep a hostile token can make the parser go.
struct ActDepth(usize);

impl<'de> Deserialize<'de> for ActDepth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Level {
            #[serde(default)]
            act: Option<ActDepth>,
        }
        let level = Level::deserialize(d)?;
        Ok(ActDepth(1 + level.act.map_or(0, |a| a.0)))
    }
}

#[derive(Deserialize)]
struct Confirmation<'a> {
    #[serde(default, borrow)]
    jkt: Option<Cow<'a, str>>,
}

/// RFC 7519 NumericDate: a JSON number of seconds, possibly fractional. Strings are refused.
#[derive(Clone, Copy)]
pub(crate) struct NumericDate(pub(crate) f64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NumericDate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a NumericDate (seconds since the epoch, as a JSON number)")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumericDate, E> {
                Ok(NumericDate(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumericDate, E> {
                Ok(NumericDate(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NumericDate, E> {
                if v.is_finite() {
                    Ok(NumericDate(v))
                } else {
                    Err(E::custom("a NumericDate must be finite"))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// `aud` as one string or an array of strings.
struct Audiences<'a>(Vec<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Audiences<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Audiences<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Audiences(vec![Cow::Borrowed(v)]))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Audiences(vec![Cow::Owned(v.to_owned())]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<String>()? {
                    out.push(Cow::Owned(v));
                }
                Ok(Audiences(out))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}
