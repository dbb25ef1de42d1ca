//! The builder from the environment: `AUTH0_*` variables and a `.env` file.

use super::error::ConfigError;
use super::AuthenticatorBuilder;

impl AuthenticatorBuilder {
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
        if let Some(url) = var("AUTH0_RESOURCE_URL") {
            builder = builder.protected_resource(url.trim());
        }
        builder
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
