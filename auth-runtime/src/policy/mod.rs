//! Requirements a route places on a verified token (scopes, permissions, roles, claim
//! predicates), and their check.
//!
//! The attribute macros generate [`Requirement`] impls; by hand, implement it on a unit struct and
//! use [`Guard<R>`](crate::Guard) as an extractor. Route layers enforce a [`Require`], built at
//! run time.

mod description;
#[cfg(feature = "mcp")]
pub(crate) mod jsonrpc;
#[cfg(feature = "mcp")]
mod mcp;
mod metadata;
pub(crate) mod registry;
mod require;

use std::fmt;

use serde_json::Value;

pub use description::{Description, NameGroup};
#[cfg(feature = "mcp")]
pub use mcp::{McpPolicy, DEFAULT_MAX_BODY};
pub use registry::{GuardedRoute, RouteScopes};
pub use require::{all, any, Names, Require};

use crate::claims::{StandardClaims, TokenClaims};
use crate::ratelimit::Quota;
use crate::verify::VerifiedToken;

/// What a route requires of a verified token, checked against the claims type `Claims`.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::{Check, Insufficient, Requirement, StandardClaims, VerifiedToken};
///
/// struct ReadMessages;
///
/// impl Requirement for ReadMessages {
///     type Claims = StandardClaims;
///     fn check(claims: &StandardClaims, _token: &VerifiedToken) -> Result<(), Insufficient> {
///         Check::new(claims).scopes_all(&["read:messages"]).finish()
///     }
/// }
/// ```
pub trait Requirement: Send + Sync + 'static {
    /// The claims type the requirement reads.
    type Claims: TokenClaims;

    /// Whether [`check`](Self::check) reads the claims at all; when false, the guard skips
    /// parsing them.
    const READS_CLAIMS: bool = true;

    /// What the requirement asks for, statically: its scopes (a 401 on the route names them in
    /// its challenge's `scope`, a 403 names all of them), permissions, roles, claim conditions
    /// and step-up conditions, for the token doctor and the documentation. The attributes fill
    /// it in; a hand-written requirement describes what its `check` does (it is not enforced:
    /// `check` is).
    const DESCRIPTION: Description = Description::NONE;

    /// A rate limit per caller, checked after the requirement passed (so a refused token spends
    /// nothing): what `#[rate_limit("10/minute")]` sets. None by default.
    const RATE_LIMIT: Option<RouteLimit> = None;

    /// `Ok` when the token satisfies the requirement, otherwise everything that is missing.
    /// `token` gives access to any claim as JSON ([`VerifiedToken::claim`]).
    fn check(claims: &Self::Claims, token: &VerifiedToken) -> Result<(), Insufficient>;
}

/// A route's own rate limit ([`Requirement::RATE_LIMIT`]): its name (its budgets' identity, in
/// Redis too, and the name its `RateLimit-Policy` field gives it) and its quota.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::layer::Quota;
/// use route_guard::{Insufficient, Requirement, RouteLimit, StandardClaims, VerifiedToken};
///
/// struct Expensive;
/// impl Requirement for Expensive {
///     type Claims = StandardClaims;
///     const READS_CLAIMS: bool = false;
///     const RATE_LIMIT: Option<RouteLimit> =
///         Some(RouteLimit::new("expensive", Quota::per_minute(10)));
///     fn check(_: &StandardClaims, _: &VerifiedToken) -> Result<(), Insufficient> {
///         Ok(())
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteLimit {
    /// The limit's name.
    pub name: &'static str,
    /// The requests each caller may make per window.
    pub quota: Quota,
}

impl RouteLimit {
    /// A limit named `name`.
    pub const fn new(name: &'static str, quota: Quota) -> Self {
        RouteLimit { name, quota }
    }
}

/// `#[rate_limit("..")]`'s quota, checked while compiling: a malformed one fails the build.
#[doc(hidden)]
pub const fn route_quota(text: &str) -> Quota {
    match Quota::parse_const(text) {
        Some(quota) => quota,
        None => panic!("`#[rate_limit]` takes \"<requests>/<second|minute|hour|day>\", e.g. \"10/minute\", with at least 1 request"),
    }
}

/// The requirement of `#[require_auth]`: any valid token.
#[derive(Debug, Clone, Copy, Default)]
pub struct Authenticated;

impl Requirement for Authenticated {
    type Claims = StandardClaims;
    const READS_CLAIMS: bool = false;

    fn check(_: &StandardClaims, _: &VerifiedToken) -> Result<(), Insufficient> {
        Ok(())
    }
}

/// What a valid token lacks for a route: rendered as 403 `insufficient_scope`.
///
/// Its `Display` is the `error_description`: "the token lacks the required scope write:messages"
/// for names that are all required, "the token lacks one of the roles admin, manager" for an
/// any-of requirement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Insufficient {
    /// Scopes required and not granted (for an `any` requirement: the alternatives).
    pub scopes: Vec<String>,
    /// Permissions required and not granted (for an `any` requirement: the alternatives).
    pub permissions: Vec<String>,
    /// Roles required and not held (for an `any` requirement: the alternatives).
    pub roles: Vec<String>,
    /// Claim conditions not met, described (e.g. `org_id = "org_123"`).
    pub claims: Vec<String>,

    /// The any-of groups among the names above, so the description can say "one of"; and the
    /// step-up conditions (RFC 9470), kept here so the value stays small: it is what every check
    /// returns.
    alternatives: Vec<(Kind, Vec<String>)>,
}

/// Which list of [`Insufficient`] a name belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Scope,
    Permission,
    Role,
    /// Step-up: one of these `acr` values.
    Acr,
    /// Step-up: a login at most this many seconds ago (one name: the number).
    MaxAge,
}

impl Insufficient {
    /// True when nothing is missing.
    pub fn is_empty(&self) -> bool {
        self.grants_missing() == 0 && !self.needs_step_up()
    }

    /// True when only a stronger or more recent authentication is missing (RFC 9470): answered
    /// 401 `insufficient_user_authentication` rather than 403.
    pub fn step_up_only(&self) -> bool {
        self.grants_missing() == 0 && self.needs_step_up()
    }

    fn needs_step_up(&self) -> bool {
        self.group(Kind::Acr).is_some() || self.group(Kind::MaxAge).is_some()
    }

    fn group(&self, kind: Kind) -> Option<&Vec<String>> {
        self.alternatives
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, names)| names)
    }

    fn group_mut(&mut self, kind: Kind) -> &mut Vec<String> {
        let at = match self.alternatives.iter().position(|(k, _)| *k == kind) {
            Some(at) => at,
            None => {
                self.alternatives.push((kind, Vec::new()));
                self.alternatives.len() - 1
            }
        };
        &mut self.alternatives[at].1
    }

    /// Step-up (RFC 9470): the `acr` values one of which the user's login must have had, when
    /// it had none of them.
    pub fn acr_values(&self) -> &[String] {
        self.group(Kind::Acr).map_or(&[], Vec::as_slice)
    }

    /// Step-up (RFC 9470): the most seconds since the user logged in (`auth_time`), when the
    /// token is older or does not say.
    pub fn max_age(&self) -> Option<u64> {
        self.group(Kind::MaxAge)
            .and_then(|names| names.first())
            .and_then(|secs| secs.parse().ok())
    }

    fn grants_missing(&self) -> usize {
        self.scopes.len() + self.permissions.len() + self.roles.len() + self.claims.len()
    }

    fn list_mut(&mut self, kind: Kind) -> &mut Vec<String> {
        match kind {
            Kind::Scope => &mut self.scopes,
            Kind::Permission => &mut self.permissions,
            Kind::Role => &mut self.roles,
            Kind::Acr | Kind::MaxAge => self.group_mut(kind),
        }
    }

    fn all<S: AsRef<str>>(&mut self, kind: Kind, wanted: &[S], has: impl Fn(&str) -> bool) {
        let lacking = wanted
            .iter()
            .map(AsRef::as_ref)
            .filter(|w| !has(w))
            .map(str::to_owned);
        self.list_mut(kind).extend(lacking);
    }

    fn any<S: AsRef<str>>(&mut self, kind: Kind, wanted: &[S], has: impl Fn(&str) -> bool) {
        if wanted.is_empty() || wanted.iter().any(|w| has(w.as_ref())) {
            return;
        }
        let names: Vec<String> = wanted.iter().map(|w| w.as_ref().to_owned()).collect();
        self.list_mut(kind).extend(names.iter().cloned());
        if names.len() > 1 {
            self.alternatives.push((kind, names));
        }
    }
}

impl fmt::Display for Insufficient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut required = Vec::new();
        let mut one_of = Vec::new();
        for (kind, what, list) in [
            (Kind::Scope, "scope", &self.scopes),
            (Kind::Permission, "permission", &self.permissions),
            (Kind::Role, "role", &self.roles),
        ] {
            let groups: Vec<&Vec<String>> = self
                .alternatives
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, names)| names)
                .collect();
            let all: Vec<&str> = list
                .iter()
                .filter(|name| !groups.iter().any(|g| g.contains(name)))
                .map(String::as_str)
                .collect();
            if !all.is_empty() {
                required.push(format!("{what} {}", all.join(" ")));
            }
            for group in groups {
                one_of.push(format!("one of the {what}s {}", group.join(", ")));
            }
        }
        if !self.claims.is_empty() {
            required.push(format!("claim {}", self.claims.join(", ")));
        }
        let mut parts = Vec::new();
        if !required.is_empty() {
            parts.push(format!("the required {}", required.join("; ")));
        }
        parts.extend(one_of);
        if !self.acr_values().is_empty() {
            parts.push(format!(
                "an authentication of the class {}",
                self.acr_values().join(" or ")
            ));
        }
        if let Some(max_age) = self.max_age() {
            parts.push(format!("an authentication within the last {max_age} s"));
        }
        write!(f, "the token lacks {}", parts.join("; "))
    }
}

/// Collects every unmet requirement, so a 403 names all that is missing at once.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::{Check, StandardClaims};
///
/// let claims: StandardClaims =
///     serde_json::from_value(serde_json::json!({"scope": "read:messages"}))?;
/// let missing = Check::new(&claims)
///     .scopes_all(&["read:messages", "write:messages"])
///     .permissions_any(&["admin:all"])
///     .finish()
///     .unwrap_err();
/// assert_eq!(missing.scopes, ["write:messages"]);
/// assert_eq!(missing.permissions, ["admin:all"]);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug)]
#[must_use]
pub struct Check<'a, T> {
    claims: &'a T,
    missing: Insufficient,
}

impl<'a, T: TokenClaims> Check<'a, T> {
    /// Starts checking `claims`.
    pub fn new(claims: &'a T) -> Self {
        Check {
            claims,
            missing: Insufficient::default(),
        }
    }

    /// Every one of `scopes` must be granted.
    pub fn scopes_all<S: AsRef<str>>(mut self, scopes: &[S]) -> Self {
        let claims = self.claims;
        self.missing
            .all(Kind::Scope, scopes, |s| claims.has_scope(s));
        self
    }

    /// At least one of `scopes` must be granted.
    pub fn scopes_any<S: AsRef<str>>(mut self, scopes: &[S]) -> Self {
        let claims = self.claims;
        self.missing
            .any(Kind::Scope, scopes, |s| claims.has_scope(s));
        self
    }

    /// Every one of `permissions` must be present.
    pub fn permissions_all<S: AsRef<str>>(mut self, permissions: &[S]) -> Self {
        let claims = self.claims;
        self.missing
            .all(Kind::Permission, permissions, |p| claims.has_permission(p));
        self
    }

    /// At least one of `permissions` must be present.
    pub fn permissions_any<S: AsRef<str>>(mut self, permissions: &[S]) -> Self {
        let claims = self.claims;
        self.missing
            .any(Kind::Permission, permissions, |p| claims.has_permission(p));
        self
    }

    /// Every one of `roles` must be held.
    pub fn roles_all<S: AsRef<str>>(mut self, roles: &[S]) -> Self {
        let claims = self.claims;
        self.missing.all(Kind::Role, roles, |r| claims.has_role(r));
        self
    }

    /// At least one of `roles` must be held.
    pub fn roles_any<S: AsRef<str>>(mut self, roles: &[S]) -> Self {
        let claims = self.claims;
        self.missing.any(Kind::Role, roles, |r| claims.has_role(r));
        self
    }

    /// The claim `name` must equal `expected` (express-oauth2-jwt-bearer's `claimEquals`).
    pub fn claim_equals(
        mut self,
        token: &VerifiedToken,
        name: &str,
        expected: impl Into<Value>,
    ) -> Self {
        let expected = expected.into();
        if token.claim(name) != Some(&expected) {
            let shown = match &expected {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            self.missing.claims.push(format!("{name} = {shown}"));
        }
        self
    }

    /// The claim `name` must include every one of `values`: an array holding them, or a
    /// space-separated string (express-oauth2-jwt-bearer's `claimIncludes`).
    pub fn claim_includes<S: AsRef<str>>(
        mut self,
        token: &VerifiedToken,
        name: &str,
        values: &[S],
    ) -> Self {
        let held = |v: &str| match token.claim(name) {
            Some(Value::Array(items)) => items.iter().any(|i| i.as_str() == Some(v)),
            Some(Value::String(s)) => s.split(' ').any(|w| w == v),
            _ => false,
        };
        let lacking: Vec<&str> = values
            .iter()
            .map(AsRef::as_ref)
            .filter(|v| !held(v))
            .collect();
        if !lacking.is_empty() {
            self.missing
                .claims
                .push(format!("{name} includes {}", lacking.join(" ")));
        }
        self
    }

    /// The token must belong to an Auth0 Organization: one of `organizations`, or any when the
    /// list is empty (`#[require_org]`). An `org_...` entry is compared with `org_id`, any other
    /// with `org_name`, case-insensitively.
    pub fn organization_in(mut self, token: &VerifiedToken, organizations: &[&str]) -> Self {
        let text = |name| token.claim(name).and_then(Value::as_str);
        let ok = match text("org_id") {
            None => false,
            Some(_) if organizations.is_empty() => true,
            Some(org_id) => organizations.iter().any(|entry| {
                if entry.starts_with("org_") {
                    *entry == org_id
                } else {
                    text("org_name").is_some_and(|name| name.eq_ignore_ascii_case(entry))
                }
            }),
        };
        if !ok {
            self.missing.claims.push(match organizations {
                [] => "an organization (org_id)".to_owned(),
                _ => format!("organization {}", organizations.join(" or ")),
            });
        }
        self
    }

    /// The token must be delegated (RFC 8693 `act`) with one of `actors` as its current actor
    /// (the outermost `act.sub`), or any actor when the list is empty (`#[require_actor]`).
    pub fn actor_in(mut self, token: &VerifiedToken, actors: &[&str]) -> Self {
        let current = token
            .claim("act")
            .and_then(|act| act.get("sub"))
            .and_then(Value::as_str);
        let ok = match current {
            None => false,
            Some(_) if actors.is_empty() => true,
            Some(actor) => actors.contains(&actor),
        };
        if !ok {
            self.missing.claims.push(match actors {
                [] => "a delegated actor (act)".to_owned(),
                _ => format!("actor {}", actors.join(" or ")),
            });
        }
        self
    }

    /// Step-up (RFC 9470): the user must have authenticated with one of the `acr` values
    /// (e.g. `http://schemas.openid.net/pape/policies/2007/06/multi-factor`). A token without
    /// `acr` fails. Unmet, the request gets 401 `insufficient_user_authentication` naming them.
    pub fn acr_in(mut self, token: &VerifiedToken, values: &[&str]) -> Self {
        let acr = token.claim("acr").and_then(Value::as_str);
        if !acr.is_some_and(|acr| values.contains(&acr)) {
            let wanted = self.missing.group_mut(Kind::Acr);
            for value in values {
                if !wanted.iter().any(|v| v == value) {
                    wanted.push((*value).to_owned());
                }
            }
        }
        self
    }

    /// Step-up (RFC 9470): the user must have authenticated at most `max_secs` seconds ago
    /// (`auth_time`, with no leeway beyond a second). A token without `auth_time` fails, and so
    /// does one whose `auth_time` is in the future by more than the clock leeway the token was
    /// verified with: a login that has not happened yet is not a fresh one, and would otherwise
    /// stay "fresh" for as long as the issuer's clock (or a forged claim) says.
    pub fn max_auth_age(mut self, token: &VerifiedToken, max_secs: u64) -> Self {
        let auth_time = token.claim("auth_time").and_then(Value::as_f64);
        let now = crate::verify::unix_now();
        let leeway = token.context().leeway.as_secs_f64();
        let fresh = auth_time.is_some_and(|at| {
            at.is_finite() && now - at <= max_secs as f64 + 1.0 && at - now <= leeway
        });
        if !fresh {
            let stricter = self.missing.max_age().map_or(max_secs, |m| m.min(max_secs));
            *self.missing.group_mut(Kind::MaxAge) = vec![stricter.to_string()];
        }
        self
    }

    /// A condition computed by the caller (express-oauth2-jwt-bearer's `claimCheck`);
    /// `description` names it in the 403.
    pub fn predicate(mut self, ok: bool, description: &str) -> Self {
        if !ok {
            self.missing.claims.push(description.to_owned());
        }
        self
    }

    /// The claims being checked.
    pub fn claims(&self) -> &'a T {
        self.claims
    }

    /// `Ok` when nothing is missing.
    pub fn finish(self) -> Result<(), Insufficient> {
        if self.missing.is_empty() {
            Ok(())
        } else {
            Err(self.missing)
        }
    }
}
