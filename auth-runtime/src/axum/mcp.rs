//! The MCP endpoint layer: an [`McpPolicy`] enforced on a streamable-HTTP MCP route, per
//! JSON-RPC call, before the MCP server sees the request.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
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
/// The guard decides or refuses; nothing it cannot read reaches the server, because MCP
/// servers and the layers in front of them read more than strict JSON (a byte-order mark,
/// `NaN`, invalid UTF-8 decoded as U+FFFD, UTF-16, a gzip body decoded by a decompression
/// layer) and would run calls the guard never judged:
/// - The body is read up to the policy's bound (1 MiB by default; 413 beyond it) and handed
///   on unchanged when it passes.
/// - A body that is not strict JSON (RFC 8259 in UTF-8) is answered 400 with a JSON-RPC parse
///   error (`-32700`); a key naming a method, tool, prompt or resource twice in one object
///   with `-32600` (parsers disagree on which one wins); a call that names a tool, prompt or
///   resource in a form the guard cannot read (not a string, `params` not an object) with
///   `-32602`.
/// - A `Content-Encoding` other than `identity` is refused with 415: put a decompression
///   layer *outside* this one (added after it) if clients compress.
/// - Methods other than `POST`, `GET` and `DELETE` are refused with 405; a `GET` or `DELETE`
///   with a body has it read like a `POST`'s.
/// - [`McpPolicy::deny_unlisted`] refuses (403 `access_denied`) every call to a tool, prompt or
///   resource the policy does not name.
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
                Err(refusal) => Ok(refusal.into_response()),
            }
        })
    }
}

/// The methods an MCP endpoint serves (streamable HTTP): `POST` messages, `GET` the server's
/// stream, `DELETE` the session.
const ALLOW: &str = "GET, POST, DELETE";

/// A refusal of the layer: the rejection, and for a body it cannot judge, the JSON-RPC error
/// code its answer carries (the client is an MCP client, which reads JSON-RPC errors).
struct Refusal {
    rejection: AuthRejection,
    jsonrpc: Option<i32>,
}

impl From<AuthRejection> for Refusal {
    fn from(rejection: AuthRejection) -> Self {
        Refusal {
            rejection,
            jsonrpc: None,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let Some(code) = self.jsonrpc else {
            return self.rejection.into_response();
        };
        // JSON-RPC 2.0 §5.1: a request whose id could not be read is answered with a null id.
        let body = serde_json::json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": { "code": code, "message": self.rejection.description() },
        });
        // The rejection's status and headers, with the JSON-RPC error as its body.
        let mut response = self.rejection.into_response();
        response.headers_mut().remove(CONTENT_LENGTH);
        response.headers_mut().insert(
            CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        );
        *response.body_mut() = Body::from(body.to_string());
        response
    }
}

/// Authenticates the request, reads the calls of its body and checks them: the body to hand
/// on, or the refusal. A guard decides or refuses: a body it cannot read strictly is never
/// forwarded for a more lenient parser to read differently.
async fn admit(policy: &McpPolicy, parts: &mut Parts, body: Body) -> Result<Body, Refusal> {
    // Only a rejection names the endpoint's scopes: no list is built for a request that passes.
    let scoped =
        |rejection: AuthRejection| rejection.for_route_scopes(&policy.endpoint().scope_names());
    let (auth, token, scheme) = authenticate(parts).await.map_err(scoped)?;
    let refuse = |error: AuthError| Refusal::from(auth.reject(error, scheme));
    let unreadable = |why: &'static str, code: i32| Refusal {
        rejection: auth.reject(AuthError::InvalidBody(why), scheme),
        jsonrpc: Some(code),
    };
    if ![Method::POST, Method::GET, Method::DELETE].contains(&parts.method) {
        return Err(refuse(AuthError::MethodNotAllowed { allow: ALLOW }));
    }
    if !identity_encoded(&parts.headers) {
        return Err(refuse(AuthError::UnsupportedContentEncoding));
    }
    let bytes = read_body(policy.max_body(), &parts.headers, body)
        .await
        .map_err(refuse)?;
    // A GET or DELETE carries no message; one that has a body anyway is read like a POST, so
    // a server that reads it has had it judged.
    let calls = match bytes.is_empty() && parts.method != Method::POST {
        true => Vec::new(),
        false => match jsonrpc::read(&bytes) {
            Calls::Calls(calls) => calls,
            Calls::Malformed => {
                return Err(unreadable(
                    "the body is not a JSON-RPC message in strict JSON (RFC 8259, UTF-8, no byte-order mark)",
                    PARSE_ERROR,
                ))
            }
            Calls::Ambiguous => return Err(unreadable(
                "the JSON-RPC body names a method, tool, prompt or resource twice in one object",
                INVALID_REQUEST,
            )),
            Calls::Unreadable(why) => return Err(unreadable(why, INVALID_PARAMS)),
        },
    };
    let needed: Vec<&Require> = match policy.requirements(&calls) {
        Ok(needed) => needed,
        Err(unlisted) => {
            return Err(refuse(AuthError::CallNotAllowed(unlisted.to_string())));
        }
    };
    let extensions = &mut parts.extensions;
    let claims = match policy.reads_claims(&needed) {
        true => {
            Some(claims_for::<StandardClaims>(&auth, &token, scheme, extensions).map_err(scoped)?)
        }
        false => None,
    };
    if let Err(missing) = policy.check(&needed, claims.as_deref(), &token) {
        let scopes = policy.challenge_scopes(&needed, claims.as_deref());
        return Err(insufficient(&auth, missing, scheme)
            .for_route_scopes(&scopes)
            .into());
    }
    if let Some(claims) = claims {
        hand_over(extensions, claims);
    }
    Ok(Body::from(bytes))
}

/// JSON-RPC 2.0 §5.1 error codes.
const PARSE_ERROR: i32 = -32700;
const INVALID_REQUEST: i32 = -32600;
const INVALID_PARAMS: i32 = -32602;

/// Whether the body is sent as it is: no `Content-Encoding`, or only `identity`. A body the
/// guard would have to decode is refused: a decompression layer inside the guard would hand the
/// server calls the guard never read.
fn identity_encoded(headers: &axum::http::HeaderMap) -> bool {
    headers.get_all(CONTENT_ENCODING).iter().all(|value| {
        value.to_str().is_ok_and(|value| {
            value
                .split(',')
                .map(str::trim)
                .all(|coding| coding.is_empty() || coding.eq_ignore_ascii_case("identity"))
        })
    })
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
