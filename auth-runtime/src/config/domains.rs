//! Several domains, a domain resolver, organizations and claim policies; and how a domain or
//! issuer URL is read.

use std::net::IpAddr;
use std::sync::Arc;

use reqwest::Url;

use super::error::ConfigError;
use super::hooks::{IssuerRequest, Resolver, ResolverError, ResolverFuture};
use super::options::OrgPolicy;
use super::settings::IssuerSource;
use super::AuthenticatorBuilder;

impl AuthenticatorBuilder {
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

pub(super) fn domain_source(domain: &str) -> Result<IssuerSource, ConfigError> {
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
