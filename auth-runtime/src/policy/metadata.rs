//! RFC 9728 Protected Resource Metadata, built framework-free from the configuration, the
//! accepted issuers and the scopes the application's routes require.

use serde_json::{json, Map, Value};

use super::registry::required_scopes;
use crate::config::DpopMode;
use crate::verify::Authenticator;

impl Authenticator {
    /// The Protected Resource Metadata document (RFC 9728 §2) of the resource configured with
    /// [`protected_resource`](crate::AuthenticatorBuilder::protected_resource), or `None`
    /// without one. Built anew each time, so route layers built later are counted:
    /// `resource`; `authorization_servers` (the configured ones, else the accepted issuers);
    /// `scopes_supported` (the configured ones, else every scope the attributes compiled into
    /// the program and the route layers built so far require; never `offline_access`);
    /// `bearer_methods_supported` (`header`: tokens are read from `Authorization` only);
    /// `resource_name`, `resource_documentation`; and, with DPoP on,
    /// `dpop_signing_alg_values_supported` and `dpop_bound_access_tokens_required`; with
    /// certificate-bound tokens checked (RFC 8705), `tls_client_certificate_bound_access_tokens`. Members
    /// without a value are left out (§3.2).
    ///
    /// ```
    /// # extern crate auth_runtime as route_guard;
    /// let auth = route_guard::Authenticator::builder()
    ///     .domain("tenant.us.auth0.com")
    ///     .audience("https://api.example.com")
    ///     .protected_resource("https://api.example.com")
    ///     .resource_name("Example API")
    ///     .build()?;
    /// let document = auth.protected_resource_metadata().ok_or("no resource configured")?;
    /// assert_eq!(document["resource"], "https://api.example.com");
    /// assert_eq!(document["authorization_servers"][0], "https://tenant.us.auth0.com/");
    /// assert_eq!(document["bearer_methods_supported"][0], "header");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn protected_resource_metadata(&self) -> Option<Value> {
        let settings = &self.inner.settings;
        let resource = settings.resource.as_ref()?;
        let mut document = Map::new();
        document.insert("resource".into(), json!(resource.resource));
        let servers = match &resource.authorization_servers {
            Some(servers) => servers.clone(),
            None => self.issuers(),
        };
        if !servers.is_empty() {
            document.insert("authorization_servers".into(), json!(servers));
        }
        let scopes: Vec<String> = match &resource.scopes_supported {
            Some(scopes) => scopes
                .iter()
                .filter(|s| *s != "offline_access")
                .cloned()
                .collect(),
            None => required_scopes().into_iter().collect(),
        };
        if !scopes.is_empty() {
            document.insert("scopes_supported".into(), json!(scopes));
        }
        document.insert("bearer_methods_supported".into(), json!(["header"]));
        if let Some(name) = &resource.name {
            document.insert("resource_name".into(), json!(name));
        }
        if let Some(url) = &resource.documentation {
            document.insert("resource_documentation".into(), json!(url));
        }
        let dpop = &settings.dpop;
        if dpop.mode != DpopMode::Disabled {
            let algs: Vec<&str> = dpop.algorithms.iter().map(|a| a.as_str()).collect();
            document.insert("dpop_signing_alg_values_supported".into(), json!(algs));
            document.insert(
                "dpop_bound_access_tokens_required".into(),
                json!(dpop.mode == DpopMode::Required),
            );
        }
        if settings.mtls.mode.checks_certificates() {
            document.insert(
                "tls_client_certificate_bound_access_tokens".into(),
                json!(true),
            );
        }
        Some(Value::Object(document))
    }
}
