//! Talking to the issuer: OIDC discovery and the JWKS download, each with a timeout and a size cap.

use std::time::Duration;

use reqwest::header::{HeaderMap, ACCEPT, CACHE_CONTROL};
use reqwest::{StatusCode, Url};
use serde::Deserialize;

use super::key::{parse_key, RawJwkSet, VerifyingKey};
use crate::config::{issuer_url, IssuerSource, Settings};

/// Why the issuer could not give us keys. Never shown to clients beyond "keys unavailable".
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("request to {url} failed: {reason}")]
    Transport { url: String, reason: String },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url} sent more than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("{url} did not send valid JSON: {reason}")]
    NotJson { url: String, reason: String },
    #[error("the discovery document at {url} is not usable: {reason}")]
    Discovery { url: String, reason: String },
    #[error("the key set at {url} has no usable signing key ({skipped} skipped)")]
    NoUsableKeys { url: String, skipped: usize },
}

/// The issuer's identity once discovery (if any) is done.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub(crate) issuer: String,
    pub(crate) jwks_uri: Url,
}

pub(crate) struct Fetched {
    pub(crate) keys: Vec<VerifyingKey>,
    pub(crate) ttl: Duration,
}

pub(crate) fn client(settings: &Settings) -> Result<reqwest::Client, crate::config::ConfigError> {
    reqwest::Client::builder()
        .timeout(settings.http_timeout)
        .connect_timeout(settings.http_timeout)
        // The issuer's documents never need a redirect; following one could lead off https.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("route-guard/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| crate::config::ConfigError::HttpClient(e.to_string()))
}

#[derive(Deserialize)]
struct Discovery {
    issuer: Option<String>,
    jwks_uri: Option<String>,
}

/// Resolves issuer and JWKS URL: fixed for a domain, discovered for an issuer base URL.
pub(crate) async fn resolve(
    client: &reqwest::Client,
    settings: &Settings,
) -> Result<Resolved, FetchError> {
    let base = match &settings.source {
        IssuerSource::Fixed { issuer, jwks_uri } => {
            return Ok(Resolved {
                issuer: issuer.clone(),
                jwks_uri: jwks_uri.clone(),
            })
        }
        IssuerSource::Discover { base } => base,
        // Each issuer of a multi-domain Authenticator has a cache with a `Discover` source.
        IssuerSource::Multi { .. } => {
            return Err(FetchError::Discovery {
                url: String::new(),
                reason: "several issuers have no single key set".to_owned(),
            })
        }
    };
    let with_slash = ensure_trailing_slash(base);
    let discovery_url = with_slash
        .join(".well-known/openid-configuration")
        .map_err(|e| discovery_error(&with_slash, &e.to_string()))?;
    let (status, _, body) = get_capped(client, &discovery_url, settings.max_jwks_bytes).await?;
    if status == StatusCode::NOT_FOUND {
        // No discovery document: the Auth0-shaped defaults.
        let jwks_uri = with_slash
            .join(".well-known/jwks.json")
            .map_err(|e| discovery_error(&with_slash, &e.to_string()))?;
        return Ok(Resolved {
            issuer: with_slash.to_string(),
            jwks_uri,
        });
    }
    if !status.is_success() {
        return Err(FetchError::Status {
            url: discovery_url.to_string(),
            status: status.as_u16(),
        });
    }
    let doc: Discovery = serde_json::from_slice(&body).map_err(|e| FetchError::NotJson {
        url: discovery_url.to_string(),
        reason: e.to_string(),
    })?;
    let issuer = doc
        .issuer
        .ok_or_else(|| discovery_error(&discovery_url, "it has no `issuer`"))?;
    // OIDC Discovery §4.3: the issuer must be the URL the document was requested for, or an
    // impostor could choose which issuer we enforce.
    // A template issuer (Entra's multi-tenant `.../{tenantid}/v2.0`) stands for the URL whose
    // path has one segment (`common`) where the placeholder is.
    let template = settings.rules.template.as_ref();
    if issuer.trim_end_matches('/') != base.as_str().trim_end_matches('/')
        && !template.is_some_and(|t| t.matches_base(&issuer, base.as_str()))
    {
        return Err(discovery_error(
            &discovery_url,
            &format!("its issuer `{issuer}` does not match the configured `{base}`"),
        ));
    }
    let jwks_uri = doc
        .jwks_uri
        .ok_or_else(|| discovery_error(&discovery_url, "it has no `jwks_uri`"))?;
    let jwks_uri = issuer_url(&jwks_uri)
        .map_err(|e| discovery_error(&discovery_url, &format!("its `jwks_uri` is refused: {e}")))?;
    Ok(Resolved { issuer, jwks_uri })
}

/// The authorization server's endpoints, for documentation.
#[cfg(any(feature = "aide", feature = "utoipa", feature = "utoipa6"))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OAuthEndpoints {
    /// The OIDC discovery document's URL: known without a request.
    pub(crate) discovery_url: String,
    /// `authorization_endpoint`: absent from resource-server-only issuers' documents.
    pub(crate) authorization: Option<String>,
    /// `token_endpoint`.
    pub(crate) token: Option<String>,
    /// Whether the endpoints are final: known without a request (Auth0's for a domain), or
    /// read from a discovery document that answered. `false` after a failed request: worth
    /// asking again later.
    pub(crate) settled: bool,
}

/// The authorization server's authorization and token endpoints, for documentation: Auth0's
/// for a domain (no request), the discovery document's otherwise (the first issuer's with
/// several). Never an error: what could not be read is `None`, and `settled` says whether to
/// ask again.
#[cfg(any(feature = "aide", feature = "utoipa", feature = "utoipa6"))]
pub(crate) async fn oauth_endpoints(
    client: &reqwest::Client,
    settings: &Settings,
) -> OAuthEndpoints {
    let base = match &settings.source {
        IssuerSource::Fixed { issuer, .. } => {
            let root = issuer.trim_end_matches('/');
            return OAuthEndpoints {
                discovery_url: format!("{root}/.well-known/openid-configuration"),
                authorization: Some(format!("{root}/authorize")),
                token: Some(format!("{root}/oauth/token")),
                settled: true,
            };
        }
        IssuerSource::Discover { base } => Some(base),
        IssuerSource::Multi { bases } => bases.first(),
    };
    let url = base.and_then(|base| {
        ensure_trailing_slash(base)
            .join(".well-known/openid-configuration")
            .ok()
    });
    let Some(url) = url else {
        return OAuthEndpoints {
            discovery_url: String::new(),
            authorization: None,
            token: None,
            settled: true,
        };
    };
    let mut endpoints = OAuthEndpoints {
        discovery_url: url.to_string(),
        authorization: None,
        token: None,
        settled: false,
    };
    let Ok((status, _, body)) = get_capped(client, &url, settings.max_jwks_bytes).await else {
        return endpoints;
    };
    if !status.is_success() {
        return endpoints;
    }
    let Ok(document) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return endpoints;
    };
    let endpoint = |name: &str| document[name].as_str().map(str::to_owned);
    endpoints.authorization = endpoint("authorization_endpoint");
    endpoints.token = endpoint("token_endpoint");
    endpoints.settled = true;
    endpoints
}

/// Downloads and parses the key set; keys that are unusable are skipped, but a set with no
/// usable key at all is a failure (so the last good keys stay in use).
pub(crate) async fn fetch_keys(
    client: &reqwest::Client,
    settings: &Settings,
    jwks_uri: &Url,
) -> Result<Fetched, FetchError> {
    let (status, headers, body) = get_capped(client, jwks_uri, settings.max_jwks_bytes).await?;
    if !status.is_success() {
        return Err(FetchError::Status {
            url: jwks_uri.to_string(),
            status: status.as_u16(),
        });
    }
    let set: RawJwkSet = serde_json::from_slice(&body).map_err(|e| FetchError::NotJson {
        url: jwks_uri.to_string(),
        reason: e.to_string(),
    })?;
    let mut keys = Vec::with_capacity(set.keys.len());
    let mut skipped = 0;
    for value in set.keys {
        match parse_key(value, &settings.algorithms) {
            Ok(key) => keys.push(key),
            Err(reason) => {
                skipped += 1;
                tracing::debug!(target: "route_guard", ?reason, "skipped a JWKS key");
            }
        }
    }
    if keys.is_empty() {
        return Err(FetchError::NoUsableKeys {
            url: jwks_uri.to_string(),
            skipped,
        });
    }
    let ttl = max_age(&headers)
        .map(|ttl| ttl.clamp(settings.jwks_ttl_min, settings.jwks_ttl_max))
        .unwrap_or(settings.jwks_ttl_default);
    Ok(Fetched { keys, ttl })
}

async fn get_capped(
    client: &reqwest::Client,
    url: &Url,
    limit: usize,
) -> Result<(StatusCode, HeaderMap, Vec<u8>), FetchError> {
    let transport = |e: reqwest::Error| FetchError::Transport {
        url: url.to_string(),
        reason: if e.is_timeout() {
            "timed out".to_owned()
        } else {
            e.to_string()
        },
    };
    let too_large = || FetchError::TooLarge {
        url: url.to_string(),
        limit,
    };
    let mut response = client
        .get(url.clone())
        .header(ACCEPT, "application/json")
        .send()
        .await
        .map_err(transport)?;
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(too_large());
    }
    let status = response.status();
    let headers = std::mem::take(response.headers_mut());
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, headers, body))
}

/// `max-age` from `Cache-Control`; `no-store`/`no-cache` count as zero (then clamped up).
fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(CACHE_CONTROL)?.to_str().ok()?;
    let mut age = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(secs) = lower.strip_prefix("max-age=") {
            age = secs
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    age
}

fn ensure_trailing_slash(url: &Url) -> Url {
    let mut url = url.clone();
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

fn discovery_error(url: &Url, reason: &str) -> FetchError {
    FetchError::Discovery {
        url: url.to_string(),
        reason: reason.to_owned(),
    }
}
