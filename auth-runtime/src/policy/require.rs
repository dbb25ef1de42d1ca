//! [`Require`]: a requirement built at run time from strings, for route layers. It speaks the
//! attributes' vocabulary (scopes, permissions and roles, all or any; claim equality and
//! inclusion; organization; actor) and is checked against [`StandardClaims`], whose roles come
//! from the Authenticator's `roles_claim`.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use super::{Check, Insufficient};
use crate::claims::StandardClaims;
use crate::config::ConfigError;
use crate::verify::VerifiedToken;

/// Names a requirement asks for, all of them (the default) or any one: what `"a"`, `["a", "b"]`,
/// [`any`]`(["a", "b"])` and [`all`]`(["a", "b"])` convert into.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::layer::{any, Names};
///
/// let one: Names = "admin".into();
/// let both: Names = ["read:messages", "write:messages"].into();
/// let either = any(["admin", "manager"]);
/// assert!(!both.is_any() && either.is_any());
/// assert_eq!(one.names(), ["admin"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    any: bool,
    names: Vec<String>,
}

impl Names {
    /// The names, in the order given.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether one of the names is enough.
    pub fn is_any(&self) -> bool {
        self.any
    }

    fn all_of(names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Names {
            any: false,
            names: names.into_iter().map(Into::into).collect(),
        }
    }
}

/// Any one of `names` is enough: `require_scopes(any(["read:messages", "admin:messages"]))`,
/// like the attributes' `any("a", "b")`.
pub fn any(names: impl IntoIterator<Item = impl Into<String>>) -> Names {
    Names {
        any: true,
        ..Names::all_of(names)
    }
}

/// Every one of `names` is required (what a plain list means too), like the attributes'
/// `all("a", "b")`.
pub fn all(names: impl IntoIterator<Item = impl Into<String>>) -> Names {
    Names::all_of(names)
}

impl From<&str> for Names {
    fn from(name: &str) -> Self {
        Names::all_of([name])
    }
}

impl From<String> for Names {
    fn from(name: String) -> Self {
        Names::all_of([name])
    }
}

impl<S: Into<String>, const N: usize> From<[S; N]> for Names {
    fn from(names: [S; N]) -> Self {
        Names::all_of(names)
    }
}

impl<S: Into<String>> From<Vec<S>> for Names {
    fn from(names: Vec<S>) -> Self {
        Names::all_of(names)
    }
}

impl<S: AsRef<str>> From<&[S]> for Names {
    fn from(names: &[S]) -> Self {
        Names::all_of(names.iter().map(|n| n.as_ref().to_owned()))
    }
}

/// A condition computed over the claims (express-oauth2-jwt-bearer's `claimCheck`).
type Predicate = Arc<dyn Fn(&StandardClaims, &VerifiedToken) -> bool + Send + Sync>;

#[derive(Clone)]
enum ClaimRule {
    Equals(String, Value),
    Includes(String, Vec<String>),
    Organization(Vec<String>),
    Actor(Vec<String>),
    Acr(Vec<String>),
    AuthAge(u64),
    Check(String, Predicate),
}

/// A requirement built at run time: what a route layer enforces. Every condition added must
/// hold; a token that fails several is refused with one 403 naming everything missing. With no
/// condition, any valid token passes (`require_auth`).
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::layer::{any, Require};
///
/// let billing = Require::new()
///     .scopes(["read:billing"])
///     .roles(any(["admin", "accountant"]))
///     .claim_equals("org_id", "org_123");
/// assert!(billing.validate().is_ok());
/// assert!(Require::new().scopes("read messages").validate().is_err());
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct Require {
    scopes: Vec<Names>,
    permissions: Vec<Names>,
    roles: Vec<Names>,
    claims: Vec<ClaimRule>,
}

impl fmt::Debug for Require {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Require")
            .field("scopes", &self.scopes)
            .field("permissions", &self.permissions)
            .field("roles", &self.roles)
            .field("claim conditions", &self.claims.len())
            .finish()
    }
}

impl Require {
    /// Any valid token.
    pub fn new() -> Self {
        Require::default()
    }

    /// Scopes (the `scope` claim, space-separated, or `scp`): all of them, or [`any`] of them.
    pub fn scopes(mut self, scopes: impl Into<Names>) -> Self {
        self.scopes.push(scopes.into());
        self
    }

    /// Auth0 RBAC permissions (the `permissions` array): all of them, or [`any`] of them.
    pub fn permissions(mut self, permissions: impl Into<Names>) -> Self {
        self.permissions.push(permissions.into());
        self
    }

    /// Roles, read from the claim set with
    /// [`roles_claim`](crate::AuthenticatorBuilder::roles_claim): all of them, or [`any`] of them.
    pub fn roles(mut self, roles: impl Into<Names>) -> Self {
        self.roles.push(roles.into());
        self
    }

    /// The claim `name` must equal `value` (a string, number or boolean), like
    /// `#[require_claim(org_id = "org_123")]`.
    pub fn claim_equals(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.claims
            .push(ClaimRule::Equals(name.into(), value.into()));
        self
    }

    /// The claim `name` must include every one of `values` (an array holding them, or a
    /// space-separated string), like `#[require_claim(includes(groups = ["a", "b"]))]`.
    pub fn claim_includes(
        mut self,
        name: impl Into<String>,
        values: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        let values = values.into_iter().map(Into::into).collect();
        self.claims.push(ClaimRule::Includes(name.into(), values));
        self
    }

    /// The token must belong to an Auth0 Organization, one of `organizations` (`org_...` ids or
    /// names), or any when the list is empty: `#[require_org]`.
    pub fn organization(
        mut self,
        organizations: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        let organizations = organizations.into_iter().map(Into::into).collect();
        self.claims.push(ClaimRule::Organization(organizations));
        self
    }

    /// The token must be delegated (RFC 8693 `act`) with one of `actors` as its current actor,
    /// or any actor when the list is empty: `#[require_actor]`.
    pub fn actor(mut self, actors: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let actors = actors.into_iter().map(Into::into).collect();
        self.claims.push(ClaimRule::Actor(actors));
        self
    }

    /// Step-up (RFC 9470): the user authenticated with one of the `acr` values, like
    /// `#[require_acr(..)]`. Unmet: 401 `insufficient_user_authentication` with `acr_values`.
    pub fn acr(mut self, values: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let values = values.into_iter().map(Into::into).collect();
        self.claims.push(ClaimRule::Acr(values));
        self
    }

    /// Step-up (RFC 9470): the user authenticated at most `max_secs` seconds ago
    /// (`auth_time`), like `#[require_auth_age(max_secs = 300)]`. Unmet: 401
    /// `insufficient_user_authentication` with `max_age`.
    pub fn max_auth_age(mut self, max_secs: u64) -> Self {
        self.claims.push(ClaimRule::AuthAge(max_secs));
        self
    }

    /// A condition of your own over the claims; `description` names it in the 403
    /// (express-oauth2-jwt-bearer's `claimCheck`, `#[require_claim(check = ..)]`).
    ///
    /// ```
    /// # extern crate auth_runtime as route_guard;
    /// use route_guard::layer::Require;
    ///
    /// let verified = Require::new().claim_check("email_verified = true", |claims, _token| {
    ///     claims.get("email_verified") == Some(&serde_json::Value::Bool(true))
    /// });
    /// # let _ = verified;
    /// ```
    pub fn claim_check(
        mut self,
        description: impl Into<String>,
        check: impl Fn(&StandardClaims, &VerifiedToken) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.claims
            .push(ClaimRule::Check(description.into(), Arc::new(check)));
        self
    }

    /// Both requirements: every condition of `self` and of `other`.
    pub fn and(mut self, other: Require) -> Self {
        self.scopes.extend(other.scopes);
        self.permissions.extend(other.permissions);
        self.roles.extend(other.roles);
        self.claims.extend(other.claims);
        self
    }

    /// What the requirement asks for, in words: `scopes read:messages; one of the roles admin,
    /// manager; 2 claim conditions`, or `a valid token`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (noun, lists) in [
            ("scope", &self.scopes),
            ("permission", &self.permissions),
            ("role", &self.roles),
        ] {
            for list in lists {
                parts.push(super::description::phrase(noun, list.any, &list.names));
            }
        }
        match self.claims.len() {
            0 => {}
            1 => parts.push("1 claim condition".to_owned()),
            n => parts.push(format!("{n} claim conditions")),
        }
        match parts.is_empty() {
            true => "a valid token".to_owned(),
            false => format!("a valid token with {}", parts.join("; ")),
        }
    }

    /// The claim conditions described, the `acr` values and the login age asked for: what the
    /// documentation says of the conditions that are not scopes, permissions or roles.
    #[cfg(feature = "aide")]
    pub(crate) fn claim_notes(&self) -> (Vec<String>, Vec<String>, Option<u64>) {
        let (mut notes, mut acr, mut max_age) = (Vec::new(), Vec::new(), None::<u64>);
        for rule in &self.claims {
            match rule {
                ClaimRule::Equals(name, value) => notes.push(format!("{name} = {value}")),
                ClaimRule::Includes(name, values) => {
                    notes.push(format!("{name} includes {}", values.join(", ")))
                }
                ClaimRule::Organization(orgs) if orgs.is_empty() => {
                    notes.push("an organization".to_owned())
                }
                ClaimRule::Organization(orgs) => {
                    notes.push(format!("the organization {}", orgs.join(", ")))
                }
                ClaimRule::Actor(actors) if actors.is_empty() => {
                    notes.push("a delegated token (act)".to_owned())
                }
                ClaimRule::Actor(actors) => notes.push(format!("the actor {}", actors.join(", "))),
                ClaimRule::Acr(values) => acr.extend(values.iter().cloned()),
                ClaimRule::AuthAge(secs) => max_age = Some(max_age.map_or(*secs, |m| m.min(*secs))),
                ClaimRule::Check(description, _) => notes.push(description.clone()),
            }
        }
        (notes, acr, max_age)
    }

    /// The scope lists this requirement asks for.
    pub fn required_scopes(&self) -> &[Names] {
        &self.scopes
    }

    /// Every scope named, all and any lists together, in order, without repeats.
    pub fn scope_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for name in self.scopes.iter().flat_map(|list| &list.names) {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
        names
    }

    /// Adds this requirement's scopes to those RFC 9728's `scopes_supported` lists: what a
    /// route layer does when it is built.
    pub(crate) fn register_scopes(&self) {
        super::registry::register(self.scope_names());
    }

    /// The permission lists this requirement asks for.
    pub fn required_permissions(&self) -> &[Names] {
        &self.permissions
    }

    /// The role lists this requirement asks for.
    pub fn required_roles(&self) -> &[Names] {
        &self.roles
    }

    /// Whether checking reads [`StandardClaims`] (scopes, permissions, roles or a
    /// [`claim_check`](Self::claim_check)); the other conditions read the token's JSON.
    pub fn reads_claims(&self) -> bool {
        !(self.scopes.is_empty() && self.permissions.is_empty() && self.roles.is_empty())
            || self
                .claims
                .iter()
                .any(|rule| matches!(rule, ClaimRule::Check(..)))
    }

    /// `Ok` when every name can ever be granted: no empty list, no empty name, no whitespace in
    /// a scope or permission (they travel space-separated), no empty claim name. The attributes
    /// check the same at compile time.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let lists = [
            ("Require::scopes", "scope", &self.scopes),
            ("Require::permissions", "permission", &self.permissions),
            ("Require::roles", "role", &self.roles),
        ];
        for (setting, noun, lists) in lists {
            for list in lists {
                if list.names.is_empty() {
                    return Err(invalid(setting, format!("the list names no {noun}")));
                }
                for name in &list.names {
                    if name.trim().is_empty() {
                        return Err(invalid(setting, format!("a {noun} must not be empty")));
                    }
                    if noun != "role" && name.chars().any(char::is_whitespace) {
                        return Err(invalid(
                            setting,
                            format!("the {noun} `{name}` contains whitespace: pass each {noun} as its own string"),
                        ));
                    }
                }
            }
        }
        for rule in &self.claims {
            let (setting, name, values) = match rule {
                ClaimRule::Equals(name, _) => ("Require::claim_equals", name, None),
                ClaimRule::Includes(name, values) => {
                    ("Require::claim_includes", name, Some(values))
                }
                ClaimRule::Acr(values) => {
                    if values.is_empty() || values.iter().any(|v| v.trim().is_empty()) {
                        return Err(invalid(
                            "Require::acr",
                            "name at least one acr value, none empty".to_owned(),
                        ));
                    }
                    continue;
                }
                _ => continue,
            };
            if name.is_empty() {
                return Err(invalid(
                    setting,
                    "a claim name must not be empty".to_owned(),
                ));
            }
            if values.is_some_and(Vec::is_empty) {
                return Err(invalid(setting, format!("no value listed for `{name}`")));
            }
        }
        Ok(())
    }
}

/// Checking a requirement.
impl Require {
    /// `Ok` when `claims` and `token` satisfy every condition, otherwise everything missing.
    /// `claims` may be `None` when [`reads_claims`](Self::reads_claims) is false.
    pub fn check(
        &self,
        claims: Option<&StandardClaims>,
        token: &VerifiedToken,
    ) -> Result<(), Insufficient> {
        Require::check_all([self], claims, token)
    }

    /// Every condition of every one of `requires`, with one [`Insufficient`] naming everything
    /// missing: what a batch of calls, each with its own requirement, is checked against.
    pub(crate) fn check_all<'r>(
        requires: impl IntoIterator<Item = &'r Require>,
        claims: Option<&StandardClaims>,
        token: &VerifiedToken,
    ) -> Result<(), Insufficient> {
        let empty;
        let claims = match claims {
            Some(claims) => claims,
            None => {
                empty = StandardClaims::default();
                &empty
            }
        };
        let mut check = Check::new(claims);
        for require in requires {
            check = require.apply(check, claims, token);
        }
        check.finish()
    }

    fn apply<'c>(
        &self,
        mut check: Check<'c, StandardClaims>,
        claims: &StandardClaims,
        token: &VerifiedToken,
    ) -> Check<'c, StandardClaims> {
        for list in &self.scopes {
            check = match list.any {
                true => check.scopes_any(&list.names),
                false => check.scopes_all(&list.names),
            };
        }
        for list in &self.permissions {
            check = match list.any {
                true => check.permissions_any(&list.names),
                false => check.permissions_all(&list.names),
            };
        }
        for list in &self.roles {
            check = match list.any {
                true => check.roles_any(&list.names),
                false => check.roles_all(&list.names),
            };
        }
        for rule in &self.claims {
            check = match rule {
                ClaimRule::Equals(name, value) => check.claim_equals(token, name, value.clone()),
                ClaimRule::Includes(name, values) => check.claim_includes(token, name, values),
                ClaimRule::Organization(orgs) => check.organization_in(token, &borrowed(orgs)),
                ClaimRule::Actor(actors) => check.actor_in(token, &borrowed(actors)),
                ClaimRule::Acr(values) => check.acr_in(token, &borrowed(values)),
                ClaimRule::AuthAge(max_secs) => check.max_auth_age(token, *max_secs),
                ClaimRule::Check(description, ok) => {
                    let ok = ok(claims, token);
                    check.predicate(ok, description)
                }
            };
        }
        check
    }
}

fn borrowed(names: &[String]) -> Vec<&str> {
    names.iter().map(String::as_str).collect()
}

fn invalid(setting: &'static str, reason: String) -> ConfigError {
    ConfigError::InvalidSetting { setting, reason }
}
