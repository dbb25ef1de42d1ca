//! `validate`: every setting checked once, in one place, before the Authenticator exists.

use std::time::Duration;

use super::domains::{domain_source, issuer_url, normalize_domain};
use super::dpop::{dpop_algorithms, public_base_url};
use super::error::{invalid, ConfigError};
use super::options::{Algorithm, OrgPolicy};
use super::settings::{DpopSettings, IssuerSource, ReplayChoice, Settings, Validated};
use super::AuthenticatorBuilder;

impl AuthenticatorBuilder {
    pub(crate) fn validate(self) -> Result<Validated, ConfigError> {
        if let Some(err) = self.algorithm_error {
            return Err(err);
        }
        if let Some(err) = self.dpop_mode_error {
            return Err(err);
        }
        if let Some(err) = self.profile_error {
            return Err(err);
        }
        let multi = self.domains.is_some() || self.resolver.is_some();
        if self.jwks_uri.is_some() && (multi || self.domain.is_some()) {
            return Err(invalid(
                "jwks_uri",
                "a JWKS URL goes with one issuer URL (`.issuer_base_url(..)`), not with domains",
            ));
        }
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
            (None, Some(url)) => match &self.jwks_uri {
                // No discovery: the issuer is the URL as given, compared exactly.
                Some(jwks_uri) => {
                    issuer_url(&url)?;
                    IssuerSource::Fixed {
                        issuer: url.trim().to_owned(),
                        jwks_uri: issuer_url(jwks_uri)?,
                    }
                }
                None => IssuerSource::Discover {
                    base: issuer_url(&url)?,
                },
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
        let rules = super::rules::resolve(
            super::rules::ProfileInput {
                profile: self.profile,
                roles_claim: self.roles_claim.clone(),
                roles: self.roles_locations,
                scopes: self.scopes_locations,
                permissions: self.permissions_locations,
                audience: self.audience_rule,
                also_issuers: self.also_issuers,
                template: self.issuer_template,
                entra_tenants: self.entra_tenants,
                firebase_tenant: self.firebase_tenant,
            },
            &source,
            &self.audiences,
            &algorithms,
        )?;
        let proof_algorithms = dpop_algorithms(self.dpop_algorithms)?;
        let base_url = self
            .public_base_url
            .as_deref()
            .map(public_base_url)
            .transpose()?;
        let nonce = match self.dpop_nonce_secret {
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
        };
        if self.dpop_iat_offset.is_zero() || self.dpop_iat_offset < self.dpop_iat_leeway {
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
            (None, Some(_)) if !cfg!(feature = "redis") => {
                return Err(ConfigError::RedisFeatureMissing)
            }
            // The URL is read when the store is made, in `build()`.
            (None, Some(url)) => ReplayChoice::Redis(url),
            (None, None) if self.replay_capacity == 0 => {
                return Err(invalid(
                    "dpop_replay_capacity",
                    "must be at least 1 (the replay check cannot be turned off)",
                ))
            }
            (None, None) => ReplayChoice::Memory(self.replay_capacity),
        };
        // The longest a proof can stay in the store: its age limit and the leeway both ways.
        let proof_window = self.dpop_iat_offset + 2 * self.dpop_iat_leeway;
        let mtls = self.mtls.validate(self.dpop_mode)?;
        let jwe = self.jwe.validate()?;
        let dpop = DpopSettings {
            mode: self.dpop_mode,
            algorithms: proof_algorithms,
            iat_leeway: self.dpop_iat_leeway,
            iat_offset: self.dpop_iat_offset,
            public_base_url: base_url,
            nonce,
            replay_quota: replay_quota(self.replay_quota, proof_window, &replay)?,
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
        if self.rate_limits.max_callers == 0 {
            return Err(invalid("rate_limit_max_callers", "must be at least 1"));
        }
        if self.rate_limits.redis_url.is_some() && !cfg!(feature = "redis") {
            return Err(invalid(
                "rate_limit_redis",
                "route-guard was built without the `redis` feature: enable it, or keep rate limits in memory",
            ));
        }
        if self.trust_forwarded_headers {
            return Err(invalid(
                "trust_forwarded_headers",
                "it is replaced by `proxy_headers(ProxyHeaders::Forwarded)` or `proxy_headers(ProxyHeaders::XForwarded)`: name the one header your proxy sets, so a client cannot send the other",
            ));
        }
        let settings = Settings {
            source,
            proxy: self.proxy_headers,
            audiences: self.audiences,
            algorithms,
            hs256_secret: self.hs256_secret,
            leeway: self.leeway,
            realm: self.realm,
            roles_claim: self.roles_claim,
            rules,
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
            mtls,
            jwe,
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
            rate_limits: self.rate_limits,
            resource: self.resource.validate()?,
            implied_scopes: super::scopes::resolve(&self.implied_scopes)?,
        };
        Ok(Validated {
            settings,
            error_body: self.error_body,
            replay,
            resolver: self.resolver,
        })
    }
}

/// The per-proof-key quota: as configured, or 125 a second of `proof_window`, the longest a
/// proof can stay in the store (a client at one request per 10 ms holds at most 100 a second of
/// it), never more than half an in-memory store.
fn replay_quota(
    configured: Option<usize>,
    proof_window: Duration,
    replay: &ReplayChoice,
) -> Result<usize, ConfigError> {
    let capacity = match replay {
        ReplayChoice::Memory(capacity) => Some(*capacity),
        _ => None,
    };
    match configured {
        Some(0) => Err(invalid(
            "dpop_replay_quota",
            "must be at least 1: a client needs room for one proof",
        )),
        Some(quota) if capacity.is_some_and(|c| quota >= c) => Err(invalid(
            "dpop_replay_quota",
            "must be below dpop_replay_capacity, or one client could fill the store and deny every other",
        )),
        Some(quota) => Ok(quota),
        None => {
            let derived =
                usize::try_from(proof_window.as_secs().saturating_mul(125)).unwrap_or(usize::MAX);
            Ok(match capacity {
                Some(capacity) => derived.min((capacity / 2).max(1)),
                None => derived,
            }
            .max(1))
        }
    }
}
