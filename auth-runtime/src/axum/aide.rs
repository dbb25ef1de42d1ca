//! OpenAPI with aide (feature `aide`): the guards document their own security, so the API's
//! documentation cannot drift from its protection.
//!
//! Each guard the attributes inject ([`Guard<R>`]) and each [`Claims<T>`] extractor notes what
//! the operation requires in the operation's `x-route-guard` extension while aide generates the
//! document; [`document`] then turns it into the operation's `security` (all-of scopes as one
//! requirement, any-of as alternatives, `{}` beside them when `Option<Claims<T>>` makes the
//! token optional), adds the 401 and 403 responses with their RFC 6750 body and
//! `WWW-Authenticate` header, and registers the `oauth2`, `bearerAuth` and (with DPoP) `DPoP`
//! schemes with every scope the API uses.

use aide::generate::GenContext;
use aide::openapi::{Operation, PathItem, ReferenceOr};
use aide::transform::TransformOperation;
use aide::OperationInput;
use serde_json::{json, Map, Value};

use super::{Claims, Guard};
use crate::claims::TokenClaims;
use crate::config::DpopMode;
use crate::policy::{registry, Description, NameGroup, Names, Require, Requirement};
use crate::verify::Authenticator;

pub use aide::openapi::OpenApi;

/// The operation extension that says what route-guard requires of a token: the scopes (each
/// list `{"all": [..]}` or `{"any": [..]}`), permissions, roles and claim conditions (which are
/// not OAuth scopes, so they never appear in `security`), the step-up conditions (`acr`,
/// `max_auth_age`), and whether a token is `optional`.
pub const EXTENSION: &str = "x-route-guard";

/// The placeholder `Claims<T>` leaves so [`document`] can tell `Option<Claims<T>>` (aide marks
/// it not required) from `Claims<T>`; [`document`] removes it.
const MARKER: &str = "Authorization";
const MARKER_NOTE: &str =
    "route-guard: replaced by the operation's security when route_guard::aide::document runs";

/// At most this many security alternatives per operation (any-of lists multiply).
const MAX_ALTERNATIVES: usize = 64;

fn groups(groups: &[NameGroup]) -> Value {
    groups
        .iter()
        .map(|g| match g.is_any() {
            true => json!({ "any": g.names() }),
            false => json!({ "all": g.names() }),
        })
        .collect()
}

fn runtime_groups(lists: &[Names]) -> Value {
    lists
        .iter()
        .map(|n| match n.is_any() {
            true => json!({ "any": n.names() }),
            false => json!({ "all": n.names() }),
        })
        .collect()
}

/// Adds `need` to what the operation already requires.
fn merge(operation: &mut Operation, need: Map<String, Value>) {
    let entry = operation
        .extensions
        .entry(EXTENSION.to_owned())
        .or_insert_with(|| json!({}));
    let Value::Object(current) = entry else {
        return;
    };
    for (key, value) in need {
        match (current.get_mut(&key), value) {
            (Some(Value::Array(list)), Value::Array(more)) => list.extend(more),
            (Some(Value::Number(old)), Value::Number(new)) => {
                if new.as_u64() < old.as_u64() {
                    *old = new;
                }
            }
            (Some(Value::Bool(old)), Value::Bool(new)) => *old |= new,
            (_, value) => {
                current.insert(key, value);
            }
        }
    }
}

fn need(description: &Description) -> Map<String, Value> {
    let mut need = Map::new();
    need.insert("guarded".into(), Value::Bool(true));
    need.insert("scopes".into(), groups(description.scopes));
    need.insert("permissions".into(), groups(description.permissions));
    need.insert("roles".into(), groups(description.roles));
    need.insert("claims".into(), json!(description.claims));
    need.insert("acr".into(), json!(description.acr));
    if let Some(secs) = description.max_auth_age {
        need.insert("max_auth_age".into(), json!(secs));
    }
    need
}

/// The guard the attribute macros inject: the operation requires what `R` describes.
impl<R: Requirement> OperationInput for Guard<R> {
    fn operation_input(_ctx: &mut GenContext, operation: &mut Operation) {
        let mut need = need(&R::DESCRIPTION);
        if let Some(limit) = R::RATE_LIMIT {
            need.insert("rate_limit".into(), json!([limit.quota.to_string()]));
        }
        merge(operation, need);
    }
}

/// A valid token; `Option<Claims<T>>` makes it optional.
impl<T: TokenClaims> OperationInput for Claims<T> {
    fn operation_input(_ctx: &mut GenContext, operation: &mut Operation) {
        merge(operation, Map::new());
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
    merge(op.inner_mut(), need);
    op
}

/// The authorization server's endpoints could not be read for the `oauth2` scheme.
#[derive(Debug, thiserror::Error)]
#[error("route_guard::aide::document: the authorization server's endpoints are unknown: {0}")]
pub struct DocumentError(String);

/// Completes the document aide generated: each guarded operation's `security` and its 401 and
/// 403 responses, and the security schemes (`oauth2` with the authorization-code and
/// client-credentials flows of the configured issuer: Auth0's `/authorize` and `/oauth/token`
/// for a domain, its discovery document otherwise; `bearerAuth`; `DPoP` when DPoP is on).
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
    let settings = &auth.inner.settings;
    let client = crate::jwks::client(settings).map_err(|e| DocumentError(e.to_string()))?;
    let (authorization_url, token_url) = crate::jwks::oauth_endpoints(&client, settings)
        .await
        .map_err(|e| DocumentError(e.to_string()))?;
    let dpop = settings.dpop.mode != DpopMode::Disabled;

    // Every operation's requirement, and which operations use each scope.
    let mut used: Vec<(String, Vec<String>)> = Vec::new();
    if let Some(paths) = api.paths.as_mut() {
        for (path, item) in paths.paths.iter_mut() {
            let ReferenceOr::Item(item) = item else {
                continue;
            };
            for (method, operation) in operations(item) {
                let Some(scopes) = secure(operation, dpop) else {
                    continue;
                };
                for scope in scopes {
                    let by = format!("{} {path}", method.to_uppercase());
                    match used.iter_mut().find(|(s, _)| *s == scope) {
                        Some((_, users)) => users.push(by),
                        None => used.push((scope, vec![by])),
                    }
                }
            }
        }
    }
    for scope in registry::required_scopes() {
        if !used.iter().any(|(s, _)| *s == scope) {
            used.push((scope, Vec::new()));
        }
    }
    let scopes: Map<String, Value> = used
        .into_iter()
        .map(|(scope, users)| {
            let description = match users.is_empty() {
                true => "required by a route of this API".to_owned(),
                false => format!("required by {}", users.join(", ")),
            };
            (scope, Value::String(description))
        })
        .collect();
    let mut schemes = vec![
        (
            "oauth2",
            json!({
                "type": "oauth2",
                "description": "An access token from the API's authorization server, sent as `Authorization: Bearer <token>` (or `DPoP`)",
                // Refresh tokens are redeemed at the token endpoint. (aide writes an absent
                // refreshUrl as null, which the OpenAPI schema refuses.)
                "flows": {
                    "authorizationCode": {
                        "authorizationUrl": authorization_url,
                        "tokenUrl": token_url,
                        "refreshUrl": token_url,
                        "scopes": scopes,
                    },
                    "clientCredentials": {
                        "tokenUrl": token_url,
                        "refreshUrl": token_url,
                        "scopes": scopes,
                    },
                },
            }),
        ),
        (
            "bearerAuth",
            json!({ "type": "http", "scheme": "bearer", "bearerFormat": "JWT" }),
        ),
    ];
    if dpop {
        schemes.push((
            "DPoP",
            json!({
                "type": "http", "scheme": "DPoP",
                "description": "A DPoP-bound access token (RFC 9449) with a `DPoP` proof header",
            }),
        ));
    }
    let components = api.components.get_or_insert_with(Default::default);
    for (name, scheme) in schemes {
        if let Ok(scheme) = serde_json::from_value(scheme) {
            components
                .security_schemes
                .insert(name.to_owned(), ReferenceOr::Item(scheme));
        }
    }
    Ok(())
}

fn operations(item: &mut PathItem) -> Vec<(&'static str, &mut Operation)> {
    let PathItem {
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

/// Writes the operation's `security` and responses from its `x-route-guard` note; the scopes
/// it names. `None` for an operation route-guard does not guard.
fn secure(operation: &mut Operation, dpop: bool) -> Option<Vec<String>> {
    let Value::Object(mut need) = operation.extensions.shift_remove(EXTENSION)? else {
        return None;
    };
    let marker_optional = operation.parameters.iter().any(|p| {
        p.as_item()
            .is_some_and(|p| is_marker(p) && !p.parameter_data_ref().required)
    });
    operation
        .parameters
        .retain(|p| p.as_item().is_none_or(|p| !is_marker(p)));
    let guarded = need.remove("guarded") == Some(Value::Bool(true));
    let optional = marker_optional && !guarded;
    let list = |need: &Map<String, Value>, key: &str| -> Vec<Value> {
        need.get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let scope_groups = list(&need, "scopes");
    // All-of lists join every alternative; an any-of list multiplies them.
    let mut alternatives: Vec<Vec<String>> = vec![Vec::new()];
    for group in &scope_groups {
        let (any, names) = match (group.get("any"), group.get("all")) {
            (Some(names), _) => (true, names),
            (None, Some(names)) => (false, names),
            _ => continue,
        };
        let names: Vec<String> = names
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect();
        alternatives = match any {
            false => alternatives
                .into_iter()
                .map(|mut alt| {
                    alt.extend(
                        names
                            .iter()
                            .filter(|n| !alt.contains(n))
                            .cloned()
                            .collect::<Vec<_>>(),
                    );
                    alt
                })
                .collect(),
            true => alternatives
                .iter()
                .flat_map(|alt| {
                    names.iter().map(move |name| {
                        let mut alt = alt.clone();
                        if !alt.contains(name) {
                            alt.push(name.clone());
                        }
                        alt
                    })
                })
                .take(MAX_ALTERNATIVES)
                .collect(),
        };
    }
    let mut security = Vec::new();
    for alt in &alternatives {
        let mut schemes = vec!["oauth2", "bearerAuth"];
        if dpop {
            schemes.push("DPoP");
        }
        for scheme in schemes {
            if let Ok(requirement) = serde_json::from_value(json!({ scheme: alt })) {
                security.push(requirement);
            }
        }
    }
    if optional {
        if let Ok(anyone) = serde_json::from_value(json!({})) {
            security.push(anyone);
        }
    }
    operation.security = security;

    // What is not an OAuth scope stays in the extension, documented.
    let forbidding = ["scopes", "permissions", "roles", "claims"]
        .iter()
        .any(|key| !list(&need, key).is_empty());
    let step_up = !list(&need, "acr").is_empty() || need.contains_key("max_auth_age");
    let rate_limited = !list(&need, "rate_limit").is_empty();
    need.retain(|_, v| !(v.as_array().is_some_and(Vec::is_empty)));
    need.insert("optional".into(), Value::Bool(optional));
    operation
        .extensions
        .insert(EXTENSION.to_owned(), Value::Object(need));
    let responses = operation.responses.get_or_insert_with(Default::default);
    let mut add = |status: u16, description: &str, codes: &[&str]| {
        let response = json!({
            "description": description,
            "headers": {
                "WWW-Authenticate": {
                    "description": "The RFC 6750 challenge (RFC 9449 for DPoP): error, error_description, scope, resource_metadata",
                    "schema": { "type": "string" },
                },
            },
            "content": { "application/json": { "schema": {
                "type": "object",
                "required": ["error", "error_description"],
                "properties": {
                    "error": { "type": "string", "enum": codes },
                    "error_description": { "type": "string" },
                },
            }}},
        });
        if let Ok(response) = serde_json::from_value(response) {
            let status = aide::openapi::StatusCode::Code(status);
            responses
                .responses
                .entry(status)
                .or_insert(ReferenceOr::Item(response));
        }
    };
    let mut unauthorized = vec![
        "unauthorized",
        "invalid_token",
        "invalid_dpop_proof",
        "use_dpop_nonce",
    ];
    if step_up {
        unauthorized.push("insufficient_user_authentication");
    }
    add(
        401,
        "No valid access token (or, for step-up, a login not strong or recent enough)",
        &unauthorized,
    );
    if forbidding {
        add(
            403,
            "The token lacks a scope, permission, role or claim this operation requires",
            &["insufficient_scope"],
        );
    }
    if rate_limited {
        let response = json!({
            "description": "The caller spent its budget under the operation's rate limit",
            "headers": {
                "Retry-After": { "description": "Seconds until the next request may pass", "schema": { "type": "integer" } },
                "RateLimit-Policy": { "description": "The limit (draft-ietf-httpapi-ratelimit-headers)", "schema": { "type": "string" } },
                "RateLimit": { "description": "What is left of it, and when it is back", "schema": { "type": "string" } },
            },
            "content": { "application/json": { "schema": {
                "type": "object",
                "required": ["error", "error_description"],
                "properties": {
                    "error": { "type": "string", "enum": ["rate_limited"] },
                    "error_description": { "type": "string" },
                },
            }}},
        });
        if let Ok(response) = serde_json::from_value(response) {
            responses
                .responses
                .entry(aide::openapi::StatusCode::Code(429))
                .or_insert(ReferenceOr::Item(response));
        }
    }
    let mut scopes: Vec<String> = Vec::new();
    for alt in alternatives {
        for scope in alt {
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
    }
    Some(scopes)
}
