//! What both OpenAPI integrations (aide, utoipa) write, on the document as JSON: an operation's
//! `security`, its 401 / 403 / 429 responses and `x-route-guard` extension from what it
//! requires, and the security schemes.

use serde_json::{json, Map, Value};

use crate::config::DpopMode;
use crate::jwks::OAuthEndpoints;
#[cfg(feature = "aide")]
use crate::policy::Names;
use crate::policy::{registry, Description, NameGroup};
use crate::verify::Authenticator;

/// The operation extension that says what route-guard requires of a token: the scopes (each
/// list `{"all": [..]}` or `{"any": [..]}`), permissions, roles and claim conditions (which are
/// not OAuth scopes, so they never appear in `security`), the step-up conditions (`acr`,
/// `max_auth_age`), a `rate_limit`, and whether a token is `optional`.
pub const EXTENSION: &str = "x-route-guard";

/// At most this many security alternatives per operation (any-of lists multiply).
const MAX_ALTERNATIVES: usize = 64;

/// The issuer's endpoints could not be read for the `oauth2` scheme, or the document could not
/// be rewritten.
#[derive(Debug, thiserror::Error)]
#[error("route-guard OpenAPI: {0}")]
pub struct DocumentError(pub(crate) String);

pub(crate) fn groups(groups: &[NameGroup]) -> Value {
    groups
        .iter()
        .map(|g| match g.is_any() {
            true => json!({ "any": g.names() }),
            false => json!({ "all": g.names() }),
        })
        .collect()
}

#[cfg(feature = "aide")]
pub(crate) fn runtime_groups(lists: &[Names]) -> Value {
    lists
        .iter()
        .map(|n| match n.is_any() {
            true => json!({ "any": n.names() }),
            false => json!({ "all": n.names() }),
        })
        .collect()
}

/// What a requirement described at compile time asks for, as the extension says it.
pub(crate) fn need(description: &Description, rate_limit: Option<String>) -> Map<String, Value> {
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
    if let Some(quota) = rate_limit {
        need.insert("rate_limit".into(), json!([quota]));
    }
    need
}

/// Adds `more` to what `need` already holds.
#[cfg(feature = "aide")]
pub(crate) fn merge(need: &mut Map<String, Value>, more: Map<String, Value>) {
    for (key, value) in more {
        match (need.get_mut(&key), value) {
            (Some(Value::Array(list)), Value::Array(more)) => list.extend(more),
            (Some(Value::Number(old)), Value::Number(new)) => {
                if new.as_u64() < old.as_u64() {
                    *old = new;
                }
            }
            (Some(Value::Bool(old)), Value::Bool(new)) => *old |= new,
            (_, value) => {
                need.insert(key, value);
            }
        }
    }
}

/// The document's operations, as `(METHOD /path, operation)`.
pub(crate) fn operations(doc: &mut Value) -> Vec<(String, &mut Map<String, Value>)> {
    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            if let Some(op) = op.as_object_mut() {
                found.push((format!("{} {path}", method.to_uppercase()), op));
            }
        }
    }
    found
}

/// What the schemes need from the Authenticator: the issuer's endpoints and whether DPoP is on.
#[derive(Debug, Clone)]
pub(crate) struct Endpoints {
    oauth: OAuthEndpoints,
    dpop: bool,
    /// DPoP is on but the document's types cannot name its scheme (utoipa's `HttpAuthScheme`
    /// has no `DPoP`): said in `bearerAuth`'s description instead.
    dpop_unnamed: bool,
}

impl Endpoints {
    /// The authorization endpoint, when known.
    #[cfg(any(feature = "utoipa", feature = "utoipa6"))]
    pub(crate) fn authorization_url(&self) -> Option<&str> {
        self.oauth.authorization.as_deref()
    }

    /// The token endpoint, when known.
    #[cfg(any(feature = "utoipa", feature = "utoipa6"))]
    pub(crate) fn token_url(&self) -> Option<&str> {
        self.oauth.token.as_deref()
    }

    /// Whether the endpoints are final (known, or read from a discovery document that
    /// answered): `false` while the issuer could not be asked, worth trying again.
    pub(crate) fn settled(&self) -> bool {
        self.oauth.settled
    }

    #[cfg(any(feature = "utoipa", feature = "utoipa6"))]
    /// Without a `DPoP` scheme (and without `DPoP` alternatives), for document types that
    /// cannot name it.
    pub(crate) fn without_dpop_scheme(mut self) -> Self {
        self.dpop_unnamed = self.dpop;
        self.dpop = false;
        self
    }

    /// The scheme security requirements name for the authorization server: `oauth2` when its
    /// token endpoint is known, else `openIdConnect` (the discovery URL, known without asking).
    fn authorization_scheme(&self) -> &'static str {
        match self.oauth.token {
            Some(_) => "oauth2",
            None => "openIdConnect",
        }
    }
}

/// Reads the issuer's endpoints: Auth0's for a domain (no request), the discovery document's
/// otherwise. An issuer that is down, or a document without `authorization_endpoint`, leaves
/// out only the flows it would have given: the security of every operation depends on the
/// guards and the configuration alone.
pub(crate) async fn endpoints(auth: &Authenticator) -> Result<Endpoints, DocumentError> {
    let settings = &auth.inner.settings;
    let client = crate::jwks::client(settings).map_err(|e| DocumentError(e.to_string()))?;
    Ok(Endpoints {
        oauth: crate::jwks::oauth_endpoints(&client, settings).await,
        dpop: settings.dpop.mode != DpopMode::Disabled,
        dpop_unnamed: false,
    })
}

/// Completes a document whose guarded operations were given their requirement by `need_of`:
/// each one's security and responses, then the schemes.
pub(crate) fn complete_with(
    endpoints: &Endpoints,
    doc: &mut Value,
    mut need_of: impl FnMut(&str, &mut Map<String, Value>) -> Option<Map<String, Value>>,
) -> Result<(), DocumentError> {
    let Endpoints {
        oauth,
        dpop,
        dpop_unnamed,
    } = endpoints;
    let dpop = *dpop;
    let primary = endpoints.authorization_scheme();
    let mut used: Vec<(String, Vec<String>)> = Vec::new();
    for (name, op) in operations(doc) {
        let Some(need) = need_of(&name, op) else {
            continue;
        };
        for scope in secure(op, need, primary, dpop) {
            match used.iter_mut().find(|(s, _)| *s == scope) {
                Some((_, users)) => users.push(name.clone()),
                None => used.push((scope, vec![name.clone()])),
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
    let mut schemes = Map::new();
    if let Some(token_url) = &oauth.token {
        // Refresh tokens are redeemed at the token endpoint.
        let mut flows = Map::new();
        if let Some(authorization_url) = &oauth.authorization {
            flows.insert(
                "authorizationCode".into(),
                json!({
                    "authorizationUrl": authorization_url,
                    "tokenUrl": token_url,
                    "refreshUrl": token_url,
                    "scopes": scopes,
                }),
            );
        }
        flows.insert(
            "clientCredentials".into(),
            json!({ "tokenUrl": token_url, "refreshUrl": token_url, "scopes": scopes }),
        );
        schemes.insert(
            "oauth2".into(),
            json!({
                "type": "oauth2",
                "description": "An access token from the API's authorization server, sent as `Authorization: Bearer <token>` (or `DPoP`)",
                "flows": flows,
            }),
        );
    }
    if !oauth.discovery_url.is_empty() {
        schemes.insert(
            "openIdConnect".into(),
            json!({
                "type": "openIdConnect",
                "description": "The API's authorization server, described by its OpenID Connect discovery document",
                "openIdConnectUrl": oauth.discovery_url,
            }),
        );
    }
    let mut bearer = json!({ "type": "http", "scheme": "bearer", "bearerFormat": "JWT" });
    if *dpop_unnamed {
        bearer["description"] = json!("DPoP-bound tokens (RFC 9449) are accepted too, as `Authorization: DPoP <token>` with a `DPoP` proof header");
    }
    schemes.insert("bearerAuth".into(), bearer);
    if dpop {
        schemes.insert(
            "DPoP".into(),
            json!({
                "type": "http", "scheme": "DPoP",
                "description": "A DPoP-bound access token (RFC 9449) with a `DPoP` proof header",
            }),
        );
    }
    let Some(root) = doc.as_object_mut() else {
        return Err(DocumentError("the document is not a JSON object".into()));
    };
    let components = root
        .entry("components")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| DocumentError("`components` is not an object".into()))?;
    let existing = components
        .entry("securitySchemes")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| DocumentError("`securitySchemes` is not an object".into()))?;
    existing.extend(schemes);
    Ok(())
}

fn list(need: &Map<String, Value>, key: &str) -> Vec<Value> {
    need.get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The security alternatives of the scope lists: all-of lists join every alternative, an
/// any-of list multiplies them.
fn alternatives(scope_groups: &[Value]) -> Vec<Vec<String>> {
    let mut alternatives: Vec<Vec<String>> = vec![Vec::new()];
    for group in scope_groups {
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
                    for name in &names {
                        if !alt.contains(name) {
                            alt.push(name.clone());
                        }
                    }
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
    alternatives
}

/// Writes the operation's `security` (naming `primary`, `bearerAuth` and with DPoP `DPoP`),
/// responses and extension from `need`; the scopes it names.
fn secure(
    op: &mut Map<String, Value>,
    mut need: Map<String, Value>,
    primary: &'static str,
    dpop: bool,
) -> Vec<String> {
    let optional = need.remove("optional") == Some(Value::Bool(true));
    need.remove("guarded");
    let alternatives = alternatives(&list(&need, "scopes"));
    let mut schemes = vec![primary, "bearerAuth"];
    if dpop {
        schemes.push("DPoP");
    }
    let mut security: Vec<Value> = alternatives
        .iter()
        .flat_map(|alt| schemes.iter().map(move |scheme| json!({ *scheme: alt })))
        .collect();
    if optional {
        security.push(json!({}));
    }
    op.insert("security".into(), Value::Array(security));

    let forbidding = ["scopes", "permissions", "roles", "claims"]
        .iter()
        .any(|key| !list(&need, key).is_empty());
    let step_up = !list(&need, "acr").is_empty() || need.contains_key("max_auth_age");
    let rate_limited = !list(&need, "rate_limit").is_empty();
    need.retain(|_, v| !v.as_array().is_some_and(Vec::is_empty));
    need.insert("optional".into(), Value::Bool(optional));
    op.insert(EXTENSION.into(), Value::Object(need));

    let error_body = |codes: &[&str]| {
        json!({ "application/json": { "schema": {
            "type": "object",
            "required": ["error", "error_description"],
            "properties": {
                "error": { "type": "string", "enum": codes },
                "error_description": { "type": "string" },
            },
        }}})
    };
    let challenge = json!({
        "WWW-Authenticate": {
            "description": "The RFC 6750 challenge (RFC 9449 for DPoP): error, error_description, scope, resource_metadata",
            "schema": { "type": "string" },
        },
    });
    let mut unauthorized = vec![
        "unauthorized",
        "invalid_token",
        "invalid_dpop_proof",
        "use_dpop_nonce",
    ];
    if step_up {
        unauthorized.push("insufficient_user_authentication");
    }
    let mut responses = vec![(
        "401",
        json!({
            "description": "No valid access token (or, for step-up, a login not strong or recent enough)",
            "headers": challenge,
            "content": error_body(&unauthorized),
        }),
    )];
    if forbidding {
        responses.push((
            "403",
            json!({
                "description": "The token lacks a scope, permission, role or claim this operation requires",
                "headers": challenge,
                "content": error_body(&["insufficient_scope"]),
            }),
        ));
    }
    if rate_limited {
        responses.push((
            "429",
            json!({
                "description": "The caller spent its budget under the operation's rate limit",
                "headers": {
                    "Retry-After": { "description": "Seconds until the next request may pass", "schema": { "type": "integer" } },
                    "RateLimit-Policy": { "description": "The limit (draft-ietf-httpapi-ratelimit-headers)", "schema": { "type": "string" } },
                    "RateLimit": { "description": "What is left of it, and when it is back", "schema": { "type": "string" } },
                },
                "content": error_body(&["rate_limited"]),
            }),
        ));
    }
    if let Some(existing) = op
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut()
    {
        for (status, response) in responses {
            existing.entry(status).or_insert(response);
        }
    }
    let mut scopes: Vec<String> = Vec::new();
    for scope in alternatives.into_iter().flatten() {
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    scopes
}
