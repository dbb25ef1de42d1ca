//! OpenAPI with utoipa 5 (feature `utoipa`) or 6 (feature `utoipa6`): one [`Security`] that is
//! the `Modify` of each major enabled. utoipa has no hook into extractors, so the guards
//! are found by name: every handler an attribute guards is registered at link time with what it
//! requires, and [`Security`] fills in each operation whose `operationId` (utoipa's default:
//! the handler's name) is one of them.

use serde_json::Value;

use super::openapi::{self, DocumentError, Endpoints};
use crate::policy::registry::guarded_routes;
use crate::verify::Authenticator;

/// A utoipa [`Modify`](utoipa::Modify) that writes, for every operation whose `operationId` is
/// a guarded handler, its `security` (all-of scopes as one requirement, any-of as
/// alternatives), its 401 / 403 / 429 responses with the RFC 6750 body and headers, and its
/// `x-route-guard` extension (permissions, roles, claims, step-up: not OAuth scopes); and
/// registers the `oauth2` (the issuer's flows, every scope used) and `bearerAuth` schemes.
/// utoipa's types cannot name an HTTP scheme `DPoP`: with DPoP on, `bearerAuth`'s description
/// says DPoP-bound tokens are accepted too.
///
/// The same `Security` is the `Modify` of utoipa 5 and of utoipa 6, whichever the features
/// enable; [`check`] reads a document of either.
///
/// ```no_run
/// # extern crate auth_runtime as route_guard;
/// # #[cfg(feature = "utoipa")]
/// # mod example {
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
/// # }
/// # fn main() {}
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

/// The `Modify` of one utoipa major: the document completed as JSON, read back, and the
/// `oauth2` scheme rebuilt with that major's types (utoipa reads flows as an untagged enum, so
/// an authorization-code flow would come back as an implicit one). `$scheme` wraps the scheme
/// as that major's components map holds it.
macro_rules! modify_for {
    ($api:ident, $scheme:expr) => {
        impl $api::Modify for Security {
            fn modify(&self, doc: &mut $api::openapi::OpenApi) {
                use $api::openapi::security::{
                    AuthorizationCode, ClientCredentials, Flow, OAuth2, Scopes, SecurityScheme,
                };
                let Some(json) = self.completed(&*doc) else {
                    return;
                };
                let scopes: Scopes = oauth2_scopes(&json).collect();
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
                match serde_json::from_value::<$api::openapi::OpenApi>(json) {
                    Ok(mut completed) => {
                        if let (Some(components), Some(oauth2)) =
                            (completed.components.as_mut(), oauth2)
                        {
                            components.security_schemes.insert(
                                "oauth2".to_owned(),
                                $scheme(SecurityScheme::OAuth2(oauth2)),
                            );
                        }
                        *doc = completed;
                    }
                    Err(e) => not_completed(&e),
                }
            }
        }
    };
}

#[cfg(feature = "utoipa")]
modify_for!(utoipa, std::convert::identity);

#[cfg(feature = "utoipa6")]
modify_for!(utoipa6, utoipa6::openapi::RefOr::T);

impl Security {
    /// The document as JSON with every guarded operation completed; `None` (logged) when it
    /// cannot be, and the document then stays as it was (`Modify` cannot fail).
    fn completed<D: serde::Serialize>(&self, doc: &D) -> Option<Value> {
        let mut json = serde_json::to_value(doc).ok()?;
        let completed = openapi::complete_with(&self.endpoints, &mut json, |_, op| {
            let id = op.get("operationId").and_then(Value::as_str)?;
            let route = guarded_routes().find(|route| route.handler == id)?;
            let rate_limit = route.rate_limit.map(str::to_owned);
            Some(openapi::need(&route.description, rate_limit))
        });
        match completed {
            Ok(()) => Some(json),
            Err(e) => {
                not_completed(&e);
                None
            }
        }
    }
}

/// The scopes the completed document's `oauth2` scheme lists, with their descriptions.
fn oauth2_scopes(json: &Value) -> impl Iterator<Item = (String, String)> + '_ {
    json["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]["scopes"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(scope, description)| {
            (
                scope.clone(),
                description.as_str().unwrap_or_default().to_owned(),
            )
        })
}

fn not_completed(e: &dyn std::fmt::Display) {
    tracing::error!(target: "route_guard", "the OpenAPI document was not completed: {e}");
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

/// Compares the document (utoipa's `OpenApi`, of either major) with the guarded handlers of
/// the program.
pub fn check<D: serde::Serialize>(doc: &D) -> Coverage {
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
