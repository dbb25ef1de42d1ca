//! Claims: [`StandardClaims`], the [`TokenClaims`] trait that typed claims implement, and the
//! scope / permission / role look-ups that requirements use.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Settings of the Authenticator that shape how claims are read (e.g. where roles live).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ClaimsContext {
    /// The claim holding roles for types without a roles field, from
    /// [`roles_claim`](crate::AuthenticatorBuilder::roles_claim).
    pub roles_claim: Option<String>,
}

/// A claims type route-guard can check requirements against.
///
/// [`StandardClaims`] implements it; `#[derive(TokenClaims)]` implements it for your own types.
/// By hand, implement the look-ups your data supports; the defaults answer "no".
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::TokenClaims;
///
/// #[derive(serde::Deserialize)]
/// struct MyClaims {
///     sub: String,
///     #[serde(rename = "https://myapp.com/roles", default)]
///     roles: Vec<String>,
/// }
///
/// impl TokenClaims for MyClaims {
///     fn has_role(&self, role: &str) -> bool {
///         self.roles.iter().any(|r| r == role)
///     }
/// }
/// ```
pub trait TokenClaims: DeserializeOwned + Send + Sync + 'static {
    /// Whether the token grants `scope` (OAuth 2.0 `scope`, space-separated, or `scp`).
    fn has_scope(&self, scope: &str) -> bool {
        let _ = scope;
        false
    }

    /// Whether the token carries the Auth0 RBAC permission `permission`.
    fn has_permission(&self, permission: &str) -> bool {
        let _ = permission;
        false
    }

    /// Whether the token carries the role `role`.
    fn has_role(&self, role: &str) -> bool {
        let _ = role;
        false
    }

    /// Called once after deserialization with the Authenticator's settings.
    fn apply_context(&mut self, context: &ClaimsContext) {
        let _ = context;
    }
}

/// The claims of an Auth0-style access token, with every other claim kept in [`extra`](Self::extra).
///
/// The default type of [`Claims`](crate::Claims). Roles are read from the claim named by
/// [`roles_claim`](crate::AuthenticatorBuilder::roles_claim).
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::{StandardClaims, TokenClaims};
///
/// let claims: StandardClaims = serde_json::from_value(serde_json::json!({
///     "sub": "auth0|42",
///     "scope": "read:messages write:messages",
///     "permissions": ["read:messages"],
/// }))?;
/// assert!(claims.has_scope("read:messages"));
/// assert!(!claims.has_scope("read"));
/// assert!(claims.has_permission("read:messages"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StandardClaims {
    /// Subject: the user (`auth0|...`) or the client (`...@clients`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audiences (`aud` as a string or an array).
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub aud: Vec<String>,
    /// Expiry, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<f64>,
    /// Issued at, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<f64>,
    /// Not before, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<f64>,
    /// Authorized party: the client the token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// Token id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Space-separated scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Scopes as some issuers send them (`scp`, string or array).
    #[serde(
        default,
        deserialize_with = "one_or_many_words",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub scp: Vec<String>,
    /// Auth0 RBAC permissions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<String>,
    /// Every other claim, namespaced ones included.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// Roles found under the configured `roles_claim`.
    #[serde(skip)]
    pub roles: Vec<String>,
}

impl StandardClaims {
    /// The granted scopes, from `scope` and `scp`.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
            .chain(self.scp.iter().map(String::as_str))
    }

    /// Another claim by name, e.g. `claims.get("https://myapp.com/org")`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.extra.get(name)
    }
}

impl TokenClaims for StandardClaims {
    fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }

    fn has_permission(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }

    fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    fn apply_context(&mut self, context: &ClaimsContext) {
        if let Some(claim) = &context.roles_claim {
            // Roles of the wrong JSON type grant nothing (no error: the token itself is valid).
            self.roles = match self.extra.get(claim) {
                Some(Value::Array(items)) => items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                Some(Value::String(one)) => vec![one.clone()],
                _ => Vec::new(),
            };
        }
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
        Null(()),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
        OneOrMany::Null(()) => Vec::new(),
    })
}

fn one_or_many_words<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let values = one_or_many(d)?;
    Ok(values
        .iter()
        .flat_map(|v| v.split(' '))
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect())
}
