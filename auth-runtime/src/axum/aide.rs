//! OpenAPI with aide (feature `aide`): the guards document their own security, so the API's
//! documentation cannot drift from its protection.
//!
//! Each guard the attributes inject ([`Guard<R>`]) and each [`Claims<T>`] extractor notes what
//! the operation requires in the operation's `x-route-guard` extension while aide generates the
//! document; [`document`] then turns it into the operation's `security` (all-of scopes as one
//! requirement, any-of as alternatives, `{}` beside them when `Option<Claims<T>>` makes the
//! token optional), adds the 401 / 403 / 429 responses with their RFC 6750 body and headers,
//! and registers the `oauth2`, `bearerAuth` and (with DPoP) `DPoP` schemes with every scope
//! the API uses.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aide::generate::GenContext;
use aide::openapi::{Operation, ReferenceOr};
use aide::transform::TransformOperation;
use aide::OperationInput;
use serde_json::{json, Map, Value};

use super::openapi::{self, runtime_groups, DocumentError, EXTENSION};
use super::{Claims, Guard};
use crate::claims::TokenClaims;
use crate::policy::{Require, Requirement};
use crate::verify::Authenticator;

pub use aide::openapi::OpenApi;

/// The placeholder `Claims<T>` leaves so [`document`] can tell `Option<Claims<T>>` (aide marks
/// it not required) from `Claims<T>`; [`document`] removes it.
const MARKER: &str = "Authorization";
const MARKER_NOTE: &str =
    "route-guard: replaced by the operation's security when route_guard::aide::document runs";

/// Adds `need` to what the operation already requires.
fn note(operation: &mut Operation, need: Map<String, Value>) {
    let entry = operation
        .extensions
        .entry(EXTENSION.to_owned())
        .or_insert_with(|| json!({}));
    if let Value::Object(current) = entry {
        openapi::merge(current, need);
    }
}

/// The guard the attribute macros inject: the operation requires what `R` describes.
impl<R: Requirement> OperationInput for Guard<R> {
    fn operation_input(_ctx: &mut GenContext, operation: &mut Operation) {
        let rate_limit = R::RATE_LIMIT.map(|limit| limit.quota.to_string());
        note(operation, openapi::need(&R::DESCRIPTION, rate_limit));
    }
}

/// A valid token; `Option<Claims<T>>` makes it optional.
impl<T: TokenClaims> OperationInput for Claims<T> {
    fn operation_input(_ctx: &mut GenContext, operation: &mut Operation) {
        note(operation, Map::new());
        let present = operation
            .parameters
            .iter()
            .any(|p| p.as_item().is_some_and(is_marker));
        if !present {
            let parameter = json!({
                "in": "header", "name": MARKER, "required": true,
                "description": MARKER_NOTE, "schema": { "type": "string" },
            });
            if let Ok(parameter) = serde_json::from_value(parameter) {
                operation.parameters.push(ReferenceOr::Item(parameter));
            }
        }
    }
}

fn is_marker(parameter: &aide::openapi::Parameter) -> bool {
    let data = parameter.parameter_data_ref();
    data.name == MARKER && data.description.as_deref() == Some(MARKER_NOTE)
}

/// Documents a route guarded by a route layer (aide cannot see layers): what `require`
/// requires, for `get_with(handler, |op| route_guard::aide::requires(op, &require))`.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use aide::axum::{routing::get_with, ApiRouter};
/// use route_guard::layer::{self, Require};
///
/// let require = Require::new().roles("admin");
/// let admin: ApiRouter = ApiRouter::new()
///     .api_route(
///         "/admin/users",
///         get_with(|| async { "users" }, |op| route_guard::aide::requires(op, &require)),
///     )
///     .route_layer(layer::require(require.clone()));
/// # let _ = admin;
/// ```
pub fn requires<'t>(mut op: TransformOperation<'t>, require: &Require) -> TransformOperation<'t> {
    let (claims, acr, max_auth_age) = require.claim_notes();
    let mut need = Map::new();
    need.insert("guarded".into(), Value::Bool(true));
    need.insert("scopes".into(), runtime_groups(require.required_scopes()));
    need.insert(
        "permissions".into(),
        runtime_groups(require.required_permissions()),
    );
    need.insert("roles".into(), runtime_groups(require.required_roles()));
    need.insert("claims".into(), json!(claims));
    need.insert("acr".into(), json!(acr));
    if let Some(secs) = max_auth_age {
        need.insert("max_auth_age".into(), json!(secs));
    }
    note(op.inner_mut(), need);
    op
}

/// Completes the document aide generated: each guarded operation's `security` and its 401,
/// 403 and 429 responses, and the security schemes (`oauth2` with the authorization-code and
/// client-credentials flows of the configured issuer: Auth0's `/authorize` and `/oauth/token`
/// for a domain, its discovery document otherwise; `openIdConnect` with the discovery URL;
/// `bearerAuth`; `DPoP` when DPoP is on).
///
/// Security, responses, `bearerAuth`, `openIdConnect` and `DPoP` depend only on the guards and
/// the configuration, never on the network: an issuer that is down at start-up, or whose
/// discovery document has no `authorization_endpoint` (resource-server-only issuers), leaves
/// out only the `oauth2` flows it would have given (the operations then name `openIdConnect`).
/// [`ServedDocument`] serves the document and adds them once the issuer answers.
///
/// ```no_run
/// # extern crate auth_runtime as route_guard;
/// use aide::axum::{routing::get, ApiRouter};
/// use aide::openapi::OpenApi;
/// use route_guard::{Authenticator, Claims};
///
/// async fn me(claims: Claims) -> String {
///     claims.sub.clone().unwrap_or_default()
/// }
///
/// # async fn app(auth: Authenticator) -> Result<(), Box<dyn std::error::Error>> {
/// let mut api = OpenApi::default();
/// let app: axum::Router = ApiRouter::new()
///     .api_route("/me", get(me))
///     .finish_api(&mut api)
///     .layer(auth.layer());
/// route_guard::aide::document(&auth, &mut api).await?;
/// # let _ = app;
/// # Ok(())
/// # }
/// ```
pub async fn document(auth: &Authenticator, api: &mut OpenApi) -> Result<(), DocumentError> {
    complete(&openapi::endpoints(auth).await?, api)
}

/// [`document`] with the issuer's endpoints already read.
fn complete(endpoints: &openapi::Endpoints, api: &mut OpenApi) -> Result<(), DocumentError> {
    let mut doc = serde_json::to_value(&*api).map_err(|e| DocumentError(e.to_string()))?;
    openapi::complete_with(endpoints, &mut doc, |_, op| {
        let Some(Value::Object(mut need)) = op.remove(EXTENSION) else {
            return None;
        };
        // The placeholder: not required means `Option<Claims<T>>`.
        let optional = op
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|p| is_marker_json(p) && p["required"] != Value::Bool(true));
        let guarded = need.get("guarded") == Some(&Value::Bool(true));
        need.insert("optional".into(), Value::Bool(optional && !guarded));
        Some(need)
    })?;
    // Back into aide's types, part by part (aide cannot read back every document it writes).
    if let Some(paths) = api.paths.as_mut() {
        for (path, item) in paths.paths.iter_mut() {
            let ReferenceOr::Item(item) = item else {
                continue;
            };
            for (method, operation) in operations(item) {
                let written = &doc["paths"][path.as_str()][method];
                if written.get(EXTENSION).is_none() {
                    continue;
                }
                apply(operation, written);
            }
        }
    }
    let components = api.components.get_or_insert_with(Default::default);
    for (name, scheme) in doc["components"]["securitySchemes"]
        .as_object()
        .into_iter()
        .flatten()
    {
        match serde_json::from_value(scheme.clone()) {
            Ok(scheme) => {
                components
                    .security_schemes
                    .insert(name.clone(), ReferenceOr::Item(scheme));
            }
            Err(e) => return Err(DocumentError(format!("the {name} scheme: {e}"))),
        }
    }
    Ok(())
}

fn is_marker_json(parameter: &Value) -> bool {
    parameter["name"] == MARKER && parameter["description"] == MARKER_NOTE
}

/// Copies what [`openapi::complete`] wrote for an operation into aide's `operation`.
fn apply(operation: &mut Operation, written: &Value) {
    operation
        .parameters
        .retain(|p| p.as_item().is_none_or(|p| !is_marker(p)));
    if let Ok(security) = serde_json::from_value(written["security"].clone()) {
        operation.security = security;
    }
    operation
        .extensions
        .insert(EXTENSION.to_owned(), written[EXTENSION].clone());
    let responses = operation.responses.get_or_insert_with(Default::default);
    for (status, response) in written["responses"].as_object().into_iter().flatten() {
        let Ok(code) = status.parse::<u16>() else {
            continue;
        };
        let code = aide::openapi::StatusCode::Code(code);
        if responses.responses.contains_key(&code) {
            continue;
        }
        if let Ok(response) = serde_json::from_value(response.clone()) {
            responses
                .responses
                .insert(code, ReferenceOr::Item(response));
        }
    }
}

fn operations(item: &mut aide::openapi::PathItem) -> Vec<(&'static str, &mut Operation)> {
    let aide::openapi::PathItem {
        get,
        put,
        post,
        delete,
        options,
        head,
        patch,
        trace,
        ..
    } = item;
    [
        ("get", get),
        ("put", put),
        ("post", post),
        ("delete", delete),
        ("options", options),
        ("head", head),
        ("patch", patch),
        ("trace", trace),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.as_mut().map(|op| (method, op)))
    .collect()
}

/// An OpenAPI document to serve, completed like [`document`], that gains the `oauth2` flows
/// once the issuer's discovery document answers when it did not at start-up (asked again by
/// the requests for the document, at most once per
/// [`jwks_retry_interval`](crate::AuthenticatorBuilder::jwks_retry_interval), 2 s by default).
///
/// ```no_run
/// # extern crate auth_runtime as route_guard;
/// use aide::axum::{routing::get, ApiRouter};
/// use aide::openapi::OpenApi;
/// use axum::Json;
/// use route_guard::aide::ServedDocument;
/// use route_guard::{Authenticator, Claims};
///
/// async fn me(claims: Claims) -> String {
///     claims.sub.clone().unwrap_or_default()
/// }
///
/// # async fn app(auth: Authenticator) -> Result<(), Box<dyn std::error::Error>> {
/// let mut api = OpenApi::default();
/// let router: axum::Router = ApiRouter::new().api_route("/me", get(me)).finish_api(&mut api);
/// let served = ServedDocument::new(&auth, api).await?;
/// let app = router
///     .route(
///         "/openapi.json",
///         axum::routing::get(move || {
///             let served = served.clone();
///             async move { Json(served.current().await) }
///         }),
///     )
///     .layer(auth.layer());
/// # let _ = app;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ServedDocument(Arc<Served>);

struct Served {
    auth: Authenticator,
    /// The document as aide generated it, before completion: completed again from it.
    generated: OpenApi,
    current: Mutex<Arc<OpenApi>>,
    settled: AtomicBool,
    last_try: Mutex<Instant>,
}

impl std::fmt::Debug for ServedDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServedDocument")
            .field("settled", &self.0.settled.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl ServedDocument {
    /// Completes `api` (as [`document`] does) and keeps it to serve.
    ///
    /// # Errors
    ///
    /// When the document cannot be completed (a `components` that is not an object, no HTTP
    /// client for the issuer): never because the issuer did not answer.
    pub async fn new(auth: &Authenticator, api: OpenApi) -> Result<Self, DocumentError> {
        let endpoints = openapi::endpoints(auth).await?;
        let mut completed = api.clone();
        complete(&endpoints, &mut completed)?;
        Ok(ServedDocument(Arc::new(Served {
            auth: auth.clone(),
            generated: api,
            current: Mutex::new(Arc::new(completed)),
            settled: AtomicBool::new(endpoints.settled()),
            last_try: Mutex::new(Instant::now()),
        })))
    }

    /// The document to serve now. While the issuer's endpoints are not settled, a call at
    /// least one JWKS retry interval after the last attempt asks the issuer again and, when it
    /// answers, completes the document anew with its flows.
    pub async fn current(&self) -> Arc<OpenApi> {
        let served = &self.0;
        if !served.settled.load(Ordering::Acquire) && self.due() {
            if let Ok(endpoints) = openapi::endpoints(&served.auth).await {
                if endpoints.settled() {
                    let mut completed = served.generated.clone();
                    if complete(&endpoints, &mut completed).is_ok() {
                        *lock(&served.current) = Arc::new(completed);
                        served.settled.store(true, Ordering::Release);
                    }
                }
            }
        }
        Arc::clone(&lock(&served.current))
    }

    /// Whether the issuer's endpoints are in the document (or known not to exist).
    pub fn is_settled(&self) -> bool {
        self.0.settled.load(Ordering::Acquire)
    }

    /// Whether this call should ask the issuer: one caller per interval.
    fn due(&self) -> bool {
        let mut last = lock(&self.0.last_try);
        let due = last.elapsed() >= self.0.auth.inner.settings.jwks_retry_interval;
        if due {
            *last = Instant::now();
        }
        due
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
