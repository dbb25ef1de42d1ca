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
            .mtls_from_vars(&var)
            .jwe_from_vars(&var)
            .profile_from_vars(&var)
    }

    /// `ISSUER_PROFILE`, the profiles' native variables, `ENTRA_TENANTS`, `FIREBASE_TENANT` and
    /// `ROLES_CLAIM`.
    fn profile_from_vars(mut self, var: &dyn Fn(&str) -> Option<String>) -> Self {
        use super::profile::IssuerProfile;
        let named = match var("ISSUER_PROFILE").map(|p| p.parse::<IssuerProfile>()) {
            Some(Ok(profile)) => Some(profile),
            Some(Err(e)) => {
                self.profile_error = Some(e);
                None
            }
            None => None,
        };
        // A profile's own variables: each names its profile, and replaces AUTH0_ISSUER_BASE_URL.
        let mut native: Vec<(&str, IssuerProfile)> = Vec::new();
        if let Some(url) = var("KEYCLOAK_REALM_URL") {
            self = self.keycloak(url.trim());
            native.push(("KEYCLOAK_REALM_URL", IssuerProfile::Keycloak));
        }
        if let Some(tenant) = var("ENTRA_TENANT_ID") {
            self = self.entra(tenant.trim());
            native.push(("ENTRA_TENANT_ID", IssuerProfile::Entra));
        }
        match (var("COGNITO_REGION"), var("COGNITO_USER_POOL_ID")) {
            (Some(region), Some(pool)) => {
                self = self.cognito(region, pool);
                native.push(("COGNITO_USER_POOL_ID", IssuerProfile::Cognito));
            }
            (None, Some(pool)) => {
                // The pool ID starts with its region: `eu-west-1_AbC123xyz`.
                let region = pool.split('_').next().unwrap_or_default().to_owned();
                self = self.cognito(region, pool);
                native.push(("COGNITO_USER_POOL_ID", IssuerProfile::Cognito));
            }
            (Some(_), None) => {
                self.profile_error = Some(super::error::invalid(
                    "cognito",
                    "COGNITO_REGION is set without COGNITO_USER_POOL_ID: set the user pool ID too",
                ));
            }
            (None, None) => {}
        }
        if let Some(url) = var("OKTA_ISSUER") {
            self = self.okta(url.trim());
            native.push(("OKTA_ISSUER", IssuerProfile::Okta));
        }
        if let Some(project) = var("FIREBASE_PROJECT_ID") {
            self = self.firebase(project.trim());
            native.push(("FIREBASE_PROJECT_ID", IssuerProfile::Firebase));
        }
        let conflict = match (native.as_slice(), named) {
            ([_, second, ..], _) => Some(format!(
                "{} and {} name two issuers: set the variables of one profile",
                native[0].0, second.0
            )),
            ([(name, profile)], Some(named)) if named != *profile => Some(format!(
                "{name} is a {profile} setting but ISSUER_PROFILE is `{named}`: make them agree"
            )),
            ([(name, _)], _)
                if var("AUTH0_ISSUER_BASE_URL").is_some() || var("AUTH0_DOMAIN").is_some() =>
            {
                Some(format!(
                    "{name} and AUTH0_ISSUER_BASE_URL / AUTH0_DOMAIN both name the issuer: set one"
                ))
            }
            _ => None,
        };
        if let Some(reason) = conflict {
            self.profile_error = Some(super::error::invalid("profile", &reason));
        }
        if let Some(profile) = named {
            self = self.profile(profile);
        }
        if let Some(ids) = var("ENTRA_CLIENT_ID") {
            // The application (client) ID, and the App ID URI if v1.0 tokens carry it.
            self = self.audiences(split_list(&ids));
        }
        if let Some(clients) = var("COGNITO_APP_CLIENT_IDS") {
            self = self.audiences(split_list(&clients));
        }
        if let Some(tenants) = var("ENTRA_TENANTS") {
            self = if tenants.trim() == "*" {
                self.entra_any_tenant()
            } else {
                self.entra_tenants(split_list(&tenants))
            };
        }
        if let Some(tenant) = var("FIREBASE_TENANT") {
            self = self.firebase_tenant(tenant);
        }
        if let Some(claim) = var("ROLES_CLAIM") {
            self = self.roles_claim(claim.trim());
        }
        self
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
