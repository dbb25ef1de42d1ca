//! [`Description`]: what a requirement asks of a token, known at compile time. One description
//! that everything reading a requirement shares: the `scope` of its 401 and 403 challenges,
//! RFC 9728's `scopes_supported`, the token doctor, and OpenAPI security.

use std::fmt;

/// Names a requirement asks for: all of them, or any one.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::NameGroup;
///
/// const EITHER: NameGroup = NameGroup::any(&["admin", "manager"]);
/// assert!(EITHER.is_any());
/// assert_eq!(EITHER.names(), ["admin", "manager"]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameGroup {
    any: bool,
    names: &'static [&'static str],
}

impl NameGroup {
    /// Every one of `names`.
    pub const fn all(names: &'static [&'static str]) -> Self {
        NameGroup { any: false, names }
    }

    /// Any one of `names`.
    pub const fn any(names: &'static [&'static str]) -> Self {
        NameGroup { any: true, names }
    }

    /// Whether one of the names is enough.
    pub const fn is_any(&self) -> bool {
        self.any
    }

    /// The names.
    pub const fn names(&self) -> &'static [&'static str] {
        self.names
    }
}

/// What a requirement asks of a token, known at compile time: its scopes, permissions and roles
/// (each list all-of or any-of), its claim conditions (described), and its step-up conditions.
/// The attributes fill it in; a hand-written [`Requirement`](crate::Requirement) describes what
/// its `check` does, so challenges, metadata and documentation can name it.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::{Description, NameGroup};
///
/// const BILLING: Description = Description::new()
///     .scopes(&[NameGroup::all(&["read:billing"])])
///     .roles(&[NameGroup::any(&["admin", "accountant"])]);
/// assert_eq!(BILLING.scope_names(), ["read:billing"]);
/// assert_eq!(
///     BILLING.to_string(),
///     "the scope read:billing; one of the roles admin, accountant"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Description {
    /// Scope lists.
    pub scopes: &'static [NameGroup],
    /// Auth0 RBAC permission lists.
    pub permissions: &'static [NameGroup],
    /// Role lists.
    pub roles: &'static [NameGroup],
    /// Claim conditions, described (`org_id = "org_123"`, `check is_verified`, ...).
    pub claims: &'static [&'static str],
    /// Step-up (RFC 9470): one of these `acr` values.
    pub acr: &'static [&'static str],
    /// Step-up (RFC 9470): a login at most this many seconds ago.
    pub max_auth_age: Option<u64>,
}

impl Default for Description {
    fn default() -> Self {
        Description::new()
    }
}

impl Description {
    /// Nothing beyond a valid token.
    pub const NONE: Description = Description::new();

    /// Nothing beyond a valid token; add to it with the other methods.
    pub const fn new() -> Self {
        Description {
            scopes: &[],
            permissions: &[],
            roles: &[],
            claims: &[],
            acr: &[],
            max_auth_age: None,
        }
    }

    /// With these scope lists.
    #[must_use]
    pub const fn scopes(mut self, groups: &'static [NameGroup]) -> Self {
        self.scopes = groups;
        self
    }

    /// With these permission lists.
    #[must_use]
    pub const fn permissions(mut self, groups: &'static [NameGroup]) -> Self {
        self.permissions = groups;
        self
    }

    /// With these role lists.
    #[must_use]
    pub const fn roles(mut self, groups: &'static [NameGroup]) -> Self {
        self.roles = groups;
        self
    }

    /// With these claim conditions, described.
    #[must_use]
    pub const fn claims(mut self, conditions: &'static [&'static str]) -> Self {
        self.claims = conditions;
        self
    }

    /// With step-up to one of these `acr` values.
    #[must_use]
    pub const fn acr(mut self, values: &'static [&'static str]) -> Self {
        self.acr = values;
        self
    }

    /// With a login at most `secs` seconds ago.
    #[must_use]
    pub const fn max_auth_age(mut self, secs: u64) -> Self {
        self.max_auth_age = Some(secs);
        self
    }

    /// Every scope named, all and any lists together, in order, without repeats: what the
    /// route's challenges and `scopes_supported` name.
    pub fn scope_names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = Vec::new();
        for name in self.scopes.iter().flat_map(|group| group.names) {
            if !names.contains(name) {
                names.push(name);
            }
        }
        names
    }

    /// Whether it asks for nothing beyond a valid token.
    pub fn is_empty(&self) -> bool {
        *self == Description::NONE
    }
}

/// `the scope read:messages`, `the scopes a b`, `one of the roles admin, manager`: how a
/// requirement's list reads, for [`Description`] and the run-time [`Require`](super::Require).
pub(crate) fn phrase<S: AsRef<str>>(noun: &str, any: bool, names: &[S]) -> String {
    let names: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
    match (any, names.as_slice()) {
        (_, [one]) => format!("the {noun} {one}"),
        (true, _) => format!("one of the {noun}s {}", names.join(", ")),
        (false, _) => format!("the {noun}s {}", names.join(" ")),
    }
}

impl fmt::Display for Description {
    /// `the scope read:messages; one of the roles admin, manager; org_id = "org_1"`, or
    /// `a valid token`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        for (noun, groups) in [
            ("scope", self.scopes),
            ("permission", self.permissions),
            ("role", self.roles),
        ] {
            for group in groups {
                parts.push(phrase(noun, group.any, group.names));
            }
        }
        parts.extend(self.claims.iter().map(|c| (*c).to_owned()));
        if !self.acr.is_empty() {
            parts.push(format!("a login of the class {}", self.acr.join(" or ")));
        }
        if let Some(secs) = self.max_auth_age {
            parts.push(format!("a login within the last {secs} s"));
        }
        match parts.is_empty() {
            true => f.write_str("a valid token"),
            false => f.write_str(&parts.join("; ")),
        }
    }
}
