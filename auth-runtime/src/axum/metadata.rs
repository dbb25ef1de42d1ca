//! Serving the Protected Resource Metadata (RFC 9728 §3): the router an application merges.

use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, CACHE_CONTROL, CONTENT_TYPE,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::config::WELL_KNOWN;
use crate::verify::Authenticator;

impl Authenticator {
    /// The routes serving this API's Protected Resource Metadata (RFC 9728): `GET` and `HEAD` of
    /// `/.well-known/oauth-protected-resource`, and for a resource with a path
    /// (`https://api.example.com/mcp`) of `/.well-known/oauth-protected-resource/mcp` too (§3.1;
    /// the root one stays, the fallback MCP clients try). `200`, `application/json`,
    /// `Cache-Control: public, max-age=3600`, `Access-Control-Allow-Origin: *`; `OPTIONS`
    /// answers browsers' preflights; other methods get 405. Without a configured resource the
    /// router is empty. Merge it beside the protected routes, outside any guard:
    ///
    /// ```
    /// # extern crate auth_runtime as route_guard;
    /// use axum::{routing::get, Router};
    ///
    /// # fn app(auth: route_guard::Authenticator) -> Router {
    /// Router::new()
    ///     .route("/api/messages", get(|| async { "[]" }))
    ///     .layer(auth.layer())
    ///     .merge(auth.protected_resource_router())
    /// # }
    /// ```
    pub fn protected_resource_router<S>(&self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let Some(resource) = &self.inner.settings.resource else {
            return Router::new();
        };
        let mut paths = vec![WELL_KNOWN.to_owned()];
        if resource.metadata_path != WELL_KNOWN {
            paths.push(resource.metadata_path.clone());
        }
        // The document names the accepted issuers unless authorization servers are configured.
        let names_issuers = resource.authorization_servers.is_none();
        let mut router = Router::new();
        for path in paths {
            let auth = self.clone();
            let document = get(move || {
                let auth = auth.clone();
                async move {
                    // An issuer found by discovery is known once its keys loaded: load them
                    // first, or the document would name no authorization server.
                    if names_issuers && auth.issuers().is_empty() {
                        let _ = auth.warm_up().await;
                    }
                    metadata_response(&auth)
                }
            })
            .options(|| async { preflight() });
            router = router.route(&path, document);
        }
        router
    }
}

fn metadata_response(auth: &Authenticator) -> Response {
    let Some(document) = auth.protected_resource_metadata() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = axum::Json(document).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

fn preflight() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, OPTIONS"),
    );
    headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("*"));
    headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    response
}
