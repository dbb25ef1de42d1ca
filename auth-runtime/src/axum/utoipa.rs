//! OpenAPI with utoipa 5 (feature `utoipa`). utoipa has no hook into extractors, so the guards
//! are found by name: every handler an attribute guards is registered at link time with what it
//! requires, and [`Security`] fills in each operation whose `operationId` (utoipa's default:
//! the handler's name) is one of them.

use serde_json::Value;
use utoipa::openapi::security::{
    AuthorizationCode, ClientCredentials, Flow, OAuth2, Scopes, SecurityScheme,
};
use utoipa::openapi::OpenApi;

use super::openapi::{self, DocumentError, Endpoints};
use crate::policy::registry::guarded_routes;
use crate::verify::Authenticator;

/// A utoipa [`Modify`](utoipa::Modify) that writes, for every operation whose `operationId` is
/// a guarded handler, its `security` (all-of scopes as one requirement, any-of as
/// alternatives), its 401 / 403 / 429 responses with the RFC 6750 body and headers, and its
/// `x-route-guard` extension (permissions, roles, claims, step-up: not OAuth scopes); and
/// registers the `oauth2` (the issuer's flows, every scope used) and `bearerAuth` schemes.
/// utoipa 5's types cannot name an HTTP scheme `DPoP`: with DPoP on, `bearerAuth`'s description
/// says DPoP-bound tokens are accepted too.
///
/// ```no_run
/// # extern crate auth_runtime as route_guard;
/// use utoipa::{Modify, OpenApi};
///
/// #[derive(OpenApi)]
/// #[openapi(paths())]
/// struct ApiDoc;
///
/// # async fn doc(auth: route_guard::Authenticator) -> Result<(), route_guard::utoipa::DocumentError> {
/// let mut doc = ApiDoc::openapi();
/// route_guard::utoipa::Security::new(&auth).await?.modify(&mut doc);
/// let coverage = route_guard::utoipa::check(&doc);
/// assert!(coverage.undocumented.is_empty(), "{:?}", coverage.undocumented);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Security {
    endpoints: Endpoints,
}

impl Security {
    /// Reads what the schemes need from `auth`: the issuer's authorization and token endpoints
    /// (Auth0's for a domain, without a request; the discovery document's otherwise) and whether
    /// DPoP is on.
    ///
    /// Security requirements, the 401/403/429 responses and the `bearerAuth` and
    /// `openIdConnect` schemes depend only on the guards and the configuration: they are always
    /// written. The `oauth2` scheme needs the token endpoint: while the issuer's discovery
    /// document cannot be read (the issuer is down), or for an issuer whose document has no
    /// `authorization_endpoint` (resource-server-only issuers), its flows are left out or
    /// reduced to client credentials, and the operations name `openIdConnect` instead.
    /// [`is_settled`](Self::is_settled) says whether asking again later may add them: build a
    /// new `Security` and modify the document again then.
    ///
    /// # Errors
    ///
    /// Only when no HTTP client can be built for the issuer (never for the network).
    pub async fn new(auth: &Authenticator) -> Result<Self, DocumentError> {
        Ok(Security {
            endpoints: openapi::endpoints(auth).await?.without_dpop_scheme(),
        })
    }

    /// Whether the issuer's endpoints are final: known without asking (a domain), or read from
    /// its discovery document. `false` when the issuer could not be asked.
    pub fn is_settled(&self) -> bool {
        self.endpoints.settled()
    }
}

impl utoipa::Modify for Security {
    fn modify(&self, doc: &mut OpenApi) {
        let Ok(mut json) = serde_json::to_value(&*doc) else {
            return;
        };
        let completed = openapi::complete_with(&self.endpoints, &mut json, |_, op| {
            let id = op.get("operationId").and_then(Value::as_str)?;
            let route = guarded_routes().find(|route| route.handler == id)?;
            let rate_limit = route.rate_limit.map(str::to_owned);
            Some(openapi::need(&route.description, rate_limit))
        });
        // `Modify` cannot fail: say why the document stays as it was.
        if let Err(e) = completed {
            tracing::error!(target: "route_guard", "the OpenAPI document was not completed: {e}");
            return;
        }
        // utoipa reads flows as an untagged enum (an authorization-code flow comes back as an
        // implicit one): the oauth2 scheme is rebuilt with utoipa's own types.
        let scopes: Scopes = json["components"]["securitySchemes"]["oauth2"]["flows"]
            ["clientCredentials"]["scopes"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(scope, description)| {
                (
                    scope.clone(),
                    description.as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let oauth2 = self.endpoints.token_url().map(|token_url| {
            let mut flows = Vec::new();
            if let Some(authorization_url) = self.endpoints.authorization_url() {
                flows.push(Flow::AuthorizationCode(
                    AuthorizationCode::with_refresh_url(
                        authorization_url,
                        token_url,
                        scopes.clone(),
                        token_url,
                    ),
                ));
            }
            flows.push(Flow::ClientCredentials(
                ClientCredentials::with_refresh_url(token_url, scopes, token_url),
            ));
            OAuth2::new(flows)
        });
        match serde_json::from_value::<OpenApi>(json) {
            Ok(mut completed) => {
                if let (Some(components), Some(oauth2)) = (completed.components.as_mut(), oauth2) {
                    components
                        .security_schemes
                        .insert("oauth2".to_owned(), SecurityScheme::OAuth2(oauth2));
                }
                *doc = completed;
            }
            Err(e) => {
                tracing::error!(target: "route_guard", "the OpenAPI document was not completed: {e}")
            }
        }
    }
}

/// What [`check`] found: the two ways a document and the guards disagree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Coverage {
    /// Guarded handlers (`module::handler`) no operation of the document names: a protected
    /// route missing from the documentation.
    pub undocumented: Vec<String>,
    /// Documented operations (`GET /path (operationId)`) with no guarded handler of that name:
    /// public routes, routes guarded only by a layer or a `Claims` extractor (say so in their
    /// documentation), or an `operationId` that is not the handler's name.
    pub unguarded: Vec<String>,
}

impl Coverage {
    /// Whether every guarded handler is documented.
    pub fn all_guards_documented(&self) -> bool {
        self.undocumented.is_empty()
    }
}

/// Compares the document with the guarded handlers of the program.
pub fn check(doc: &OpenApi) -> Coverage {
    let mut json = serde_json::to_value(doc).unwrap_or(Value::Null);
    let mut ids: Vec<String> = Vec::new();
    let mut coverage = Coverage::default();
    for (name, op) in openapi::operations(&mut json) {
        let id = op
            .get("operationId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if !guarded_routes().any(|route| route.handler == id) {
            coverage.unguarded.push(format!("{name} ({id})"));
        }
        ids.push(id);
    }
    for route in guarded_routes() {
        if !ids.iter().any(|id| id == route.handler) {
            coverage
                .undocumented
                .push(format!("{}::{}", route.module, route.handler));
        }
    }
    coverage.undocumented.sort();
    coverage
}
