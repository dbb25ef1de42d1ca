//! The MCP endpoint layer: an [`McpPolicy`] enforced on a streamable-HTTP MCP route, per
//! JSON-RPC call, before the MCP server sees the request.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::header::CONTENT_LENGTH;
use axum::http::request::Parts;
use axum::http::{Method, Request};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tower_layer::Layer;
use tower_service::Service;

use super::{authenticate, claims_for, hand_over, insufficient, AuthError, AuthRejection};
use crate::claims::StandardClaims;
use crate::config::ConfigError;
use crate::policy::jsonrpc::{self, Body as Calls};
use crate::policy::{McpPolicy, Require};

/// A tower layer that protects an MCP endpoint (streamable HTTP): every request needs a valid
/// token (401 with the RFC 9728 challenge otherwise), and each JSON-RPC call in a `POST` body
/// needs what the [`McpPolicy`] declares for its tool, prompt, resource or method: 403
/// `insufficient_scope` naming the scopes to ask for, before the MCP server sees the request.
///
/// The body is read up to the policy's bound (1 MiB by default; 413 beyond it) and handed on
/// unchanged. A body that is not JSON goes on untouched: the MCP server's JSON-RPC parse error
/// is the right answer. A body that names a tool, prompt or resource key twice in one object is
/// refused with 400 (parsers disagree on which one wins).
///
/// `tools/list` (and the other lists) are not filtered: a client learns which scopes a tool
/// needs from the 403 of calling it, which names them, and filtering would mean rewriting the
/// MCP server's answer, which this layer never does.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use axum::{routing::post, Router};
/// use route_guard::mcp::{self, McpPolicy};
/// use route_guard::Authenticator;
///
/// # fn app(auth: Authenticator) -> Router {
/// # let mcp_server = post(|| async { "the rmcp StreamableHttpService goes here" });
/// let policy = McpPolicy::new()
///     .tool("read_messages", "messages:read")
///     .tool("send_message", "messages:write");
/// Router::new()
///     .route("/mcp", mcp_server) // or .nest_service("/mcp", rmcp_service)
///     .route_layer(mcp::layer(policy))
///     .layer(auth.layer())
///     .merge(auth.protected_resource_router())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct McpLayer {
    policy: Arc<McpPolicy>,
}

impl TryFrom<McpPolicy> for McpLayer {
    type Error = ConfigError;

    /// The layer for `policy`, or the typed error naming what can never be granted: for
    /// policies read from configuration.
    fn try_from(policy: McpPolicy) -> Result<Self, ConfigError> {
        policy.validate()?;
        policy.register_scopes();
        Ok(McpLayer {
            policy: Arc::new(policy),
        })
    }
}

/// The layer for `policy`.
///
/// # Panics
///
/// When a name can never be granted (see [`McpPolicy::validate`]): at start-up, while the
/// router is built, never on a request. For policies read from configuration, use
/// [`McpLayer::try_from`], which returns the [`ConfigError`] instead.
pub fn layer(policy: McpPolicy) -> McpLayer {
    match McpLayer::try_from(policy) {
        Ok(layer) => layer,
        Err(e) => panic!("route_guard::mcp: {e}"),
    }
}

impl<S> Layer<S> for McpLayer {
    type Service = McpService<S>;

    fn layer(&self, inner: S) -> McpService<S> {
        McpService {
            inner,
            policy: Arc::clone(&self.policy),
        }
    }
}

/// The service [`McpLayer`] wraps around the MCP route.
#[derive(Clone)]
pub struct McpService<S> {
    inner: S,
    policy: Arc<McpPolicy>,
}

impl<S> std::fmt::Debug for McpService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("McpService").field(&self.policy).finish()
    }
}

impl<S> Service<Request<Body>> for McpService<S>
where
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The clone that was polled ready serves this request; the fresh one waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let policy = Arc::clone(&self.policy);
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            match admit(&policy, &mut parts, body).await {
                Ok(body) => inner.call(Request::from_parts(parts, body)).await,
                Err(rejection) => Ok(rejection.into_response()),
            }
        })
    }
}

/// Authenticates the request, reads the calls of a `POST` body and checks them: the body to
/// hand on, or the rejection.
async fn admit(policy: &McpPolicy, parts: &mut Parts, body: Body) -> Result<Body, AuthRejection> {
    // Only a rejection names the endpoint's scopes: no list is built for a request that passes.
    let scoped =
        |rejection: AuthRejection| rejection.for_route_scopes(&policy.endpoint().scope_names());
    let (auth, token, scheme) = authenticate(parts).await.map_err(scoped)?;
    let (body, calls) = match parts.method == Method::POST {
        true => {
            let bytes = read_body(policy.max_body(), &parts.headers, body)
                .await
                .map_err(|error| auth.reject(error, scheme))?;
            let calls = match jsonrpc::read(&bytes) {
                Calls::Calls(calls) => calls,
                Calls::Malformed => Vec::new(),
                Calls::Ambiguous => {
                    return Err(auth.reject(
                        AuthError::InvalidBody("the JSON-RPC body names a method, tool, prompt or resource twice in one object"),
                        scheme,
                    ))
                }
            };
            (Body::from(bytes), calls)
        }
        false => (body, Vec::new()),
    };
    let needed: Vec<&Require> = policy.requirements(&calls);
    let extensions = &mut parts.extensions;
    let claims = match policy.reads_claims(&needed) {
        true => {
            Some(claims_for::<StandardClaims>(&auth, &token, scheme, extensions).map_err(scoped)?)
        }
        false => None,
    };
    if let Err(missing) = policy.check(&needed, claims.as_deref(), &token) {
        let scopes = policy.challenge_scopes(&needed, claims.as_deref());
        return Err(insufficient(&auth, missing, scheme).for_route_scopes(&scopes));
    }
    if let Some(claims) = claims {
        hand_over(extensions, claims);
    }
    Ok(body)
}

/// The body, up to `limit` bytes: a `Content-Length` over it is refused before reading, a
/// chunked body as soon as it passes it.
async fn read_body(
    limit: usize,
    headers: &axum::http::HeaderMap,
    body: Body,
) -> Result<Bytes, AuthError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(AuthError::ContentTooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(AuthError::ContentTooLarge { limit })
        }
        Err(_) => Err(AuthError::InvalidBody(
            "the request body could not be read to its end",
        )),
    }
}
