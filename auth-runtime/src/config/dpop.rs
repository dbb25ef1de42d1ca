//! The DPoP settings of the builder (RFC 9449) and their validation.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;

use super::error::{invalid, ConfigError};
use super::hooks::ReplayStore;
use super::options::{Algorithm, DpopMode};
use super::settings::{ReplayChoice, Secret};
use super::AuthenticatorBuilder;
use super::ProxyHeaders;

impl AuthenticatorBuilder {
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

    /// Replaced by [`proxy_headers`](Self::proxy_headers), which names the one header your
    /// proxy sets: reading `Forwarded` *or* `X-Forwarded-*` let a client send the kind the proxy
    /// does not write. `true` is refused by `build()` with a [`ConfigError`] naming the new
    /// setting; `false` changes nothing.
    #[deprecated(
        since = "0.1.0",
        note = "use `proxy_headers(ProxyHeaders::Forwarded)` or `proxy_headers(ProxyHeaders::XForwarded)`: name the header your proxy sets"
    )]
    pub fn trust_forwarded_headers(mut self, trust: bool) -> Self {
        self.trust_forwarded_headers = trust;
        self
    }

    /// Behind a reverse proxy: the header it sets, read for the client's address (rate limits
    /// of callers without a valid token) and for the scheme and host a DPoP proof's `htu` is
    /// compared with. Only that header, and only the element the proxy added (the last), count;
    /// see [`ProxyHeaders`]. Default [`ProxyHeaders::None`]: the connection's peer address and
    /// the request's own scheme and `Host` (a client must not choose what it is checked
    /// against). [`public_base_url`](Self::public_base_url), when set, still wins for `htu`.
    pub fn proxy_headers(mut self, headers: ProxyHeaders) -> Self {
        self.proxy_headers = headers;
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

    /// The most live proofs one proof key (one client) may hold in the replay store (memory or
    /// Redis). A client over it gets 429 with `Retry-After` and its proofs are not recorded, so
    /// one client minting proofs as fast as it can cannot fill the store and deny the others.
    /// Default: 125 a second of the proof window (`dpop_iat_offset` plus twice the leeway),
    /// 45,000 with the defaults: a client making a request every 10 ms never meets it.
    pub fn dpop_replay_quota(mut self, proofs: usize) -> Self {
        self.replay_quota = Some(proofs);
        self
    }
}

pub(super) fn dpop_algorithms(
    mut algorithms: Vec<Algorithm>,
) -> Result<Vec<Algorithm>, ConfigError> {
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
pub(super) fn public_base_url(url: &str) -> Result<String, ConfigError> {
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
