//! Claims: [`StandardClaims`], the [`TokenClaims`] trait that typed claims implement, and the
//! scope / permission / role look-ups that requirements use.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::Grants;
use crate::verify::{ClaimsContext, VerifiedToken, VerifyError};

mod lenient;
mod sets;

pub use lenient::{de_claim, de_scope_set, de_string_set, grants_deserializer};
use lenient::{lenient_string, one_or_many};
pub use sets::{ScopeSet, StringSet};

/// Typed claims of a verified token: parsed once per token and type.
impl VerifiedToken {
    /// The claims as `T`. The first call parses the verified payload; for a `T` that can be
    /// copied ([`TokenClaims::clone_claims`]) the parsed claims are kept with the token, so a
    /// token seen before (the verified-token cache) is handed out again without a parse.
    pub fn claims<T: TokenClaims>(&self) -> Result<T, VerifyError> {
        let shared = self.shared_claims::<T>()?;
        match Arc::try_unwrap(shared) {
            Ok(owned) => Ok(owned),
            Err(kept) => T::clone_claims(&kept).map_or_else(|| self.parse_claims(), Ok),
        }
    }

    /// The claims as `T`, shared: kept with a token seen before when `T` can be copied, so that
    /// its later readers neither parse nor (for a check) copy. A token seen once is not worth a
    /// copy: most are never seen again when the cache cannot hold them all.
    pub(crate) fn shared_claims<T: TokenClaims>(&self) -> Result<Arc<T>, VerifyError> {
        if let Some(kept) = self.typed::<T>() {
            return Ok(kept);
        }
        let parsed = self.parse_claims::<T>()?;
        if self.seen_before() {
            if let Some(copy) = parsed.clone_claims() {
                self.keep_typed(Arc::new(copy));
            }
        }
        Ok(Arc::new(parsed))
    }

    fn parse_claims<T: TokenClaims>(&self) -> Result<T, VerifyError> {
        let mut claims: T = self.deserialize()?;
        if !self.context().locations.is_empty() && claims.needs_grants(self.context()) {
            claims.apply_grants(self.grants());
        }
        claims.apply_context(self.context());
        Ok(claims)
    }

    /// The claims as [`StandardClaims`].
    pub fn standard_claims(&self) -> Result<StandardClaims, VerifyError> {
        self.claims()
    }
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

    /// Called once after deserialization with the Authenticator's settings (after
    /// [`apply_grants`](Self::apply_grants)).
    fn apply_context(&mut self, context: &ClaimsContext) {
        let _ = context;
    }

    /// Called once after deserialization, when claim locations are configured (an issuer
    /// profile, [`roles_claim`](crate::AuthenticatorBuilder::roles_claim)), with what the token
    /// holds there: a type reads its roles, scopes and permissions from `grants` where it has
    /// them (`Some`), so a handler written for one issuer works under another.
    /// `#[derive(TokenClaims)]` fills its `#[claim(roles)]`, `#[claim(scope)]` and
    /// `#[claim(permissions)]` fields. The default ignores them.
    fn apply_grants(&mut self, grants: &Grants) {
        let _ = grants;
    }

    /// Whether [`apply_grants`](Self::apply_grants) has anything to do for this type (finding
    /// the grants reads the token's claims once more). The default says yes;
    /// `#[derive(TokenClaims)]` says no for a type without roles, scopes or permissions, and
    /// [`StandardClaims`] reads the locations from its own claims in
    /// [`apply_context`](Self::apply_context) unless one starts at a claim it types.
    fn needs_grants(&self, context: &ClaimsContext) -> bool {
        let _ = context;
        true
    }

    /// A copy of these claims, or `None` (the default) when the type cannot be copied.
    ///
    /// With a copy, route-guard keeps the parsed claims with the verified token: a client sends
    /// the same token on every request, and from the second request on, its claims are copied
    /// instead of parsed. `#[derive(TokenClaims)]` implements it for types that are also `Clone`,
    /// and [`StandardClaims`] is; by hand, return `Some(self.clone())`.
    fn clone_claims(&self) -> Option<Self>
    where
        Self: Sized,
    {
        None
    }
}

/// Shared claims: `Claims<Arc<T>>` hands a token seen before the claims parsed for it the first
/// time, without copying them (a reference count instead of one allocation per string).
///
/// The checks are `T`'s, so the attributes read `Claims<Arc<T>>` as they read `Claims<T>`;
/// `T` needs no `Clone`. For claims holding several strings and lists, this is the cheapest way
/// to read them.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use std::sync::Arc;
/// use route_guard::{Claims, TokenClaims};
///
/// #[derive(serde::Deserialize)] // or #[derive(TokenClaims)], through route_guard
/// struct ApiClaims {
///     sub: String,
///     permissions: Vec<String>,
/// }
///
/// impl TokenClaims for ApiClaims {
///     fn has_permission(&self, permission: &str) -> bool {
///         self.permissions.iter().any(|p| p == permission)
///     }
/// }
///
/// async fn me(claims: Claims<Arc<ApiClaims>>) -> String {
///     format!("{} may delete: {}", claims.sub, claims.has_permission("delete:messages"))
/// }
/// ```
impl<T: TokenClaims> TokenClaims for Arc<T> {
    fn has_scope(&self, scope: &str) -> bool {
        T::has_scope(self, scope)
    }

    fn has_permission(&self, permission: &str) -> bool {
        T::has_permission(self, permission)
    }

    fn has_role(&self, role: &str) -> bool {
        T::has_role(self, role)
    }

    /// Just deserialized, so not shared yet: `T` sees the context.
    fn apply_context(&mut self, context: &ClaimsContext) {
        if let Some(claims) = Arc::get_mut(self) {
            claims.apply_context(context);
        }
    }

    fn apply_grants(&mut self, grants: &Grants) {
        if let Some(claims) = Arc::get_mut(self) {
            claims.apply_grants(grants);
        }
    }

    fn needs_grants(&self, context: &ClaimsContext) -> bool {
        T::needs_grants(self, context)
    }

    fn clone_claims(&self) -> Option<Self> {
        Some(Arc::clone(self))
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
    /// Space-separated scopes (an array is joined, as some issuers send one).
    #[serde(
        default,
        deserialize_with = "de_scope_set",
        skip_serializing_if = "Option::is_none"
    )]
    pub scope: Option<String>,
    /// Scopes as some issuers send them (`scp`, string or array).
    #[serde(
        default,
        deserialize_with = "de_scope_set",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub scp: Vec<String>,
    /// Auth0 RBAC permissions. Authorization data is read leniently: a value of the wrong JSON
    /// type grants nothing, and the token stays valid.
    #[serde(
        default,
        deserialize_with = "de_string_set",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub permissions: Vec<String>,
    /// The Auth0 Organization the token was issued for (a value that is not a string reads as
    /// none: the token stays valid).
    #[serde(
        default,
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub org_id: Option<String>,
    /// The Organization's name (when the tenant includes it), read like `org_id`.
    #[serde(
        default,
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub org_name: Option<String>,
    /// RFC 8693 delegation: the current actor, with prior actors nested inside. See
    /// [`current_actor`](Self::current_actor) and [`delegation_chain`](Self::delegation_chain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
    /// Every other claim, namespaced ones included.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// Roles found at the configured roles location (the issuer profile's, or `roles_claim`).
    #[serde(skip)]
    pub roles: Vec<String>,
}

/// The claims [`StandardClaims`] has a field for: every other one is in `extra`.
const TYPED_CLAIMS: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "nbf",
    "azp",
    "jti",
    "scope",
    "scp",
    "permissions",
    "org_id",
    "org_name",
    "act",
];

/// One actor of an RFC 8693 delegation chain (`act`): who acts on behalf of the subject, and,
/// nested, who acted before it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Actor {
    /// The actor (a client id, or a service's subject).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The prior actor, if the delegation went through several parties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Box<Actor>>,
    /// The actor's other claims (`iss`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl StandardClaims {
    /// The current actor of a delegated token: the outermost `act.sub` (RFC 8693 §4.1).
    ///
    /// ```
    /// # extern crate auth_runtime as route_guard;
    /// use route_guard::StandardClaims;
    ///
    /// let claims: StandardClaims = serde_json::from_value(serde_json::json!({
    ///     "sub": "auth0|alice",
    ///     "act": { "sub": "billing-service", "act": { "sub": "gateway" } },
    /// }))?;
    /// assert_eq!(claims.current_actor(), Some("billing-service"));
    /// assert_eq!(claims.delegation_chain(), ["billing-service", "gateway"]);
    /// assert!(!claims.is_anonymous());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn current_actor(&self) -> Option<&str> {
        self.act.as_ref()?.sub.as_deref()
    }

    /// Every actor, the current one first, then each prior one (actors without `sub` are
    /// skipped). Empty for a token that is not delegated.
    pub fn delegation_chain(&self) -> Vec<&str> {
        let mut chain = Vec::new();
        let mut next = self.act.as_ref();
        while let Some(actor) = next {
            if let Some(sub) = actor.sub.as_deref() {
                chain.push(sub);
            }
            next = actor.act.as_deref();
        }
        chain
    }

    /// Whether this is an Auth0 anonymous token (`sub` starting with `anon@`).
    pub fn is_anonymous(&self) -> bool {
        self.sub.as_deref().is_some_and(|s| s.starts_with("anon@"))
    }

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
    fn clone_claims(&self) -> Option<Self> {
        Some(self.clone())
    }

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
        if !context.locations.is_empty() && !self.needs_grants(context) {
            // Every location starts at a claim kept in `extra`: no second read of the token.
            let grants = context.locations.grants_in(&|name| self.extra.get(name));
            self.apply_grants(&grants);
        }
        if !context.implied_scopes.is_empty() {
            let implied = context.implied_scopes_for(|s| self.has_scope(s));
            self.scope.add_scopes(&implied);
        }
    }

    fn needs_grants(&self, context: &ClaimsContext) -> bool {
        context
            .locations
            .iter()
            .any(|location| TYPED_CLAIMS.contains(&location.claim()))
    }

    // Roles, scopes and permissions of the wrong JSON type grant nothing (no error: the token
    // itself is valid).
    fn apply_grants(&mut self, grants: &Grants) {
        if let Some(roles) = &grants.roles {
            self.roles.clone_from(roles);
        }
        if let Some(scopes) = &grants.scopes {
            self.scope = (!scopes.is_empty()).then(|| scopes.join(" "));
            self.scp.clear();
        }
        if let Some(permissions) = &grants.permissions {
            self.permissions.clone_from(permissions);
        }
    }
}

/// Marks a claims type that carries scopes, so `#[require_scopes]` can check it.
///
/// `#[derive(TokenClaims)]` implements it when a field holds the `scope` claim.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no scopes, so this scope requirement could never pass",
    label = "this requirement checks scopes",
    note = "mark the field holding the `scope` claim with `#[claim(scope)]`, or use `StandardClaims`"
)]
pub trait HasScopes: TokenClaims {}

/// Marks a claims type that carries permissions, so `#[require_permissions]` can check it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no permissions, so this permission requirement could never pass",
    label = "this requirement checks permissions",
    note = "mark the field holding the `permissions` claim with `#[claim(permissions)]`, or use `StandardClaims`"
)]
pub trait HasPermissions: TokenClaims {}

/// Marks a claims type that carries roles, so `#[require_role]` can check it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no roles, so this role requirement could never pass",
    label = "this requirement checks roles",
    note = "mark the field holding the roles claim with `#[claim(roles)]`, or use `StandardClaims` with `roles_claim(..)`"
)]
pub trait HasRoles: TokenClaims {}

impl HasScopes for StandardClaims {}
impl HasPermissions for StandardClaims {}
impl HasRoles for StandardClaims {}
impl<T: HasScopes> HasScopes for Arc<T> {}
impl<T: HasPermissions> HasPermissions for Arc<T> {}
impl<T: HasRoles> HasRoles for Arc<T> {}
