//! Where a token keeps its authorization data: [`ClaimLocation`] (a claim name or an RFC 6901
//! JSON Pointer, and how the value there lists its entries), and [`Grants`], what the configured
//! locations found in one token.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use super::error::{invalid, ConfigError};

/// Where a list of roles, scopes or permissions lives in a token's claims.
///
/// Written as a claim name (`https://myapp.com/roles`, `groups`, `cognito:groups`) or, with a
/// leading `/`, as an RFC 6901 JSON Pointer into nested claims (`/realm_access/roles`,
/// `/resource_access/orders-api/roles`, `/ext/roles`; `~1` stands for `/` and `~0` for `~`
/// inside a name). A name without a leading `/` is always one top-level claim, so Auth0's
/// namespaced URLs keep working.
///
/// The value found there is read leniently: an array gives its strings, a string gives one entry
/// (a scopes location splits it on spaces), and any other value gives nothing. Three forms can
/// be asked for instead:
/// [`comma_separated`](Self::comma_separated) (Clerk's `o.per`),
/// [`space_separated`](Self::space_separated) and [`object_keys`](Self::object_keys) (Zitadel's
/// role map, whose keys are the roles).
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::ClaimLocation;
///
/// let keycloak: ClaimLocation = "/realm_access/roles".parse()?;
/// let zitadel = ClaimLocation::new("urn:zitadel:iam:org:project:roles")?.object_keys();
/// let clerk = ClaimLocation::new("/o/per")?.comma_separated();
/// assert_eq!(keycloak.to_string(), "/realm_access/roles");
/// # let _ = (zitadel, clerk);
/// # Ok::<(), route_guard::ConfigError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ClaimLocation {
    /// As written, for messages.
    text: String,
    /// The reference tokens, unescaped: one for a claim name.
    path: Vec<String>,
    format: ValueFormat,
}

/// How the value at a [`ClaimLocation`] lists its entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueFormat {
    /// An array of strings, or one string (split on spaces for scopes).
    Auto,
    Comma,
    Space,
    ObjectKeys,
}

impl ClaimLocation {
    /// A claim name, or a JSON Pointer when it starts with `/`. An empty name, a pointer to the
    /// whole payload or a pointer with an escape other than `~0` / `~1` is refused.
    pub fn new(location: &str) -> Result<Self, ConfigError> {
        let refuse = |reason: &str| invalid("roles_claim", &format!("`{location}` {reason}"));
        if location.is_empty() {
            return Err(refuse(
                "is empty: name a claim, or a JSON Pointer such as `/realm_access/roles`",
            ));
        }
        if location.chars().any(char::is_control) {
            return Err(refuse("contains a control character"));
        }
        let path =
            match location.strip_prefix('/') {
                None => vec![location.to_owned()],
                Some(pointer) => {
                    let mut path = Vec::new();
                    for token in pointer.split('/') {
                        path.push(unescape(token).ok_or_else(|| {
                            refuse("has a `~` that is not `~0` or `~1` (RFC 6901)")
                        })?);
                    }
                    if path.iter().any(String::is_empty) {
                        return Err(refuse(
                            "has an empty step: each `/` must be followed by a claim name",
                        ));
                    }
                    path
                }
            };
        Ok(ClaimLocation {
            text: location.to_owned(),
            path,
            format: ValueFormat::Auto,
        })
    }

    /// The entries are one comma-separated string (`"read,manage"`); an array still counts.
    pub fn comma_separated(mut self) -> Self {
        self.format = ValueFormat::Comma;
        self
    }

    /// The entries are one space-separated string; an array still counts.
    pub fn space_separated(mut self) -> Self {
        self.format = ValueFormat::Space;
        self
    }

    /// The entries are the keys of an object (`{"admin": {...}, "reader": {...}}`); an array
    /// still counts.
    pub fn object_keys(mut self) -> Self {
        self.format = ValueFormat::ObjectKeys;
        self
    }

    /// The claim this location starts at.
    pub fn claim(&self) -> &str {
        self.path.first().map_or("", String::as_str)
    }

    /// The value at this location, with the top-level claims given by `claim`.
    fn find_in<'v>(&self, claim: &dyn Fn(&str) -> Option<&'v Value>) -> Option<&'v Value> {
        let (first, rest) = self.path.split_first()?;
        let mut value = claim(first)?;
        for step in rest {
            value = value.as_object()?.get(step)?;
        }
        Some(value)
    }

    /// Adds the entries found here to `out`. `split_spaces`: a plain string is a
    /// space-separated list (scopes).
    fn collect_in<'v>(
        &self,
        claims: &dyn Fn(&str) -> Option<&'v Value>,
        split_spaces: bool,
        out: &mut Vec<String>,
    ) {
        // Array entries are kept as issued; a list in a string drops its empty words.
        let mut push = |entry: &str| {
            if !entry.is_empty() {
                out.push(entry.to_owned());
            }
        };
        match (self.find_in(claims), self.format) {
            (Some(Value::Array(items)), _) => {
                out.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            (Some(Value::String(text)), ValueFormat::Comma) => {
                text.split(',').map(str::trim).for_each(push);
            }
            (Some(Value::String(text)), ValueFormat::Space) => {
                text.split(' ').for_each(push);
            }
            (Some(Value::String(text)), ValueFormat::Auto) if split_spaces => {
                text.split(' ').for_each(push);
            }
            (Some(Value::String(text)), ValueFormat::Auto) => push(text),
            (Some(Value::Object(map)), ValueFormat::ObjectKeys) => {
                map.keys().map(String::as_str).for_each(push);
            }
            _ => {}
        }
    }
}

fn unescape(token: &str) -> Option<String> {
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

impl FromStr for ClaimLocation {
    type Err = ConfigError;

    fn from_str(location: &str) -> Result<Self, ConfigError> {
        ClaimLocation::new(location)
    }
}

impl fmt::Display for ClaimLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for ClaimLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.format {
            ValueFormat::Auto => write!(f, "{:?}", self.text),
            format => write!(f, "{:?} ({format:?})", self.text),
        }
    }
}

/// Where roles, scopes and permissions are read from: set by the issuer profile, overridden by
/// [`roles_claim`](crate::AuthenticatorBuilder::roles_claim) and
/// [`roles_from`](crate::AuthenticatorBuilder::roles_from) and their siblings. `None`: the
/// claims type reads its own field (for scopes: `scope` and `scp`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClaimLocations {
    /// Where roles live.
    pub roles: Option<Vec<ClaimLocation>>,
    /// Where scopes live.
    pub scopes: Option<Vec<ClaimLocation>>,
    /// Where permissions live.
    pub permissions: Option<Vec<ClaimLocation>>,
}

impl ClaimLocations {
    /// Every location configured, roles first.
    pub fn iter(&self) -> impl Iterator<Item = &ClaimLocation> {
        [&self.roles, &self.scopes, &self.permissions]
            .into_iter()
            .flatten()
            .flatten()
    }

    /// Whether roles are read from exactly the top-level claim `claim` (or no roles location is
    /// configured): a claims type whose roles field reads that claim already holds them.
    #[doc(hidden)]
    pub fn roles_read_from(&self, claim: &str) -> bool {
        only_at(&self.roles, claim)
    }

    /// [`roles_read_from`](Self::roles_read_from) for scopes.
    #[doc(hidden)]
    pub fn scopes_read_from(&self, claim: &str) -> bool {
        only_at(&self.scopes, claim)
    }

    /// [`roles_read_from`](Self::roles_read_from) for permissions.
    #[doc(hidden)]
    pub fn permissions_read_from(&self, claim: &str) -> bool {
        only_at(&self.permissions, claim)
    }

    /// Whether any location is configured (otherwise there is nothing to look up).
    pub fn is_empty(&self) -> bool {
        self.roles.is_none() && self.scopes.is_none() && self.permissions.is_none()
    }

    /// What the configured locations hold in `claims`.
    pub fn grants(&self, claims: &Map<String, Value>) -> Grants {
        self.grants_in(&|name| claims.get(name))
    }

    /// What the configured locations hold, with the top-level claims given by `claim`: for a
    /// claims type that keeps the claims it does not type in a map of its own
    /// ([`StandardClaims`](crate::StandardClaims)).
    pub fn grants_in<'v>(&self, claim: &dyn Fn(&str) -> Option<&'v Value>) -> Grants {
        let read = |locations: &Option<Vec<ClaimLocation>>, split_spaces: bool| {
            locations.as_ref().map(|locations| {
                let mut out = Vec::new();
                for location in locations {
                    location.collect_in(claim, split_spaces, &mut out);
                }
                out
            })
        };
        Grants {
            roles: read(&self.roles, false),
            scopes: read(&self.scopes, true),
            permissions: read(&self.permissions, false),
        }
    }
}

/// No location, or just the top-level claim `claim` read as issued.
fn only_at(locations: &Option<Vec<ClaimLocation>>, claim: &str) -> bool {
    match locations.as_deref() {
        None => true,
        Some([one]) => {
            one.format == ValueFormat::Auto && one.path.len() == 1 && one.path[0] == claim
        }
        Some(_) => false,
    }
}

impl ClaimLocations {
    /// [`grants`](Self::grants) from the payload's JSON text, reading only the top-level claims
    /// a location starts at (the others are skipped, not built): what a token costs when no
    /// profile check has parsed all of its claims already.
    pub(crate) fn grants_from_json(&self, payload: &str) -> Grants {
        let wanted: Vec<&str> = self.iter().map(ClaimLocation::claim).collect();
        let picked = serde::de::DeserializeSeed::deserialize(
            Picked(&wanted),
            &mut serde_json::Deserializer::from_str(payload),
        )
        .unwrap_or_default();
        self.grants(&picked)
    }
}

/// The members of a JSON object whose names are wanted; the others are skipped.
struct Picked<'w>(&'w [&'w str]);

impl<'de> serde::de::DeserializeSeed<'de> for Picked<'_> {
    type Value = Map<String, Value>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Picked<'_> {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key_seed(WantedKey(self.0))? {
            match key {
                Some(name) => {
                    let value: Value = map.next_value()?;
                    // The last of duplicate names wins, as when every claim is parsed.
                    out.insert(name, value);
                }
                None => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

/// A member name: `Some` (owned) only when it is wanted, so skipped names cost no allocation.
struct WantedKey<'w>(&'w [&'w str]);

impl<'de> serde::de::DeserializeSeed<'de> for WantedKey<'_> {
    type Value = Option<String>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for WantedKey<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Self::Value, E> {
        Ok(self.0.contains(&name).then(|| name.to_owned()))
    }
}

/// The roles, scopes and permissions a token holds at the configured [`ClaimLocations`]; `None`
/// where no location is configured (the claims type's own field is used).
///
/// `#[derive(TokenClaims)]` fills its `#[claim(roles)]`, `#[claim(scope)]` and
/// `#[claim(permissions)]` fields from it; by hand, implement
/// [`TokenClaims::apply_grants`](crate::TokenClaims::apply_grants).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Grants {
    /// The roles found, when a roles location is configured.
    pub roles: Option<Vec<String>>,
    /// The scopes found, when a scopes location is configured.
    pub scopes: Option<Vec<String>>,
    /// The permissions found, when a permissions location is configured.
    pub permissions: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn pointers_names_and_forms() -> Result<(), Box<dyn std::error::Error>> {
        let token = claims(json!({
            "realm_access": {"roles": ["admin", "user"]},
            "a/b": {"c~d": "one"},
            "https://myapp.com/roles": "solo",
            "o": {"per": "read, manage,,read"},
            "urn:roles": {"owner": {"1": "x"}, "viewer": {}},
            "scope": "a  b",
        }));
        let read = |location: ClaimLocation, split_spaces: bool| {
            let mut out = Vec::new();
            location.collect_in(&|name| token.get(name), split_spaces, &mut out);
            out
        };
        let find = |text: &str| ClaimLocation::new(text).map(|l| read(l, false));
        assert_eq!(
            find("/realm_access/roles").ok(),
            Some(vec!["admin".into(), "user".into()])
        );
        assert_eq!(find("/a~1b/c~0d").ok(), Some(vec!["one".into()]));
        assert_eq!(
            find("https://myapp.com/roles").ok(),
            Some(vec!["solo".into()])
        );
        assert_eq!(find("/missing/roles").ok(), Some(vec![]));
        assert_eq!(find("/realm_access").ok(), Some(vec![]));
        assert_eq!(
            read(ClaimLocation::new("/o/per")?.comma_separated(), false),
            ["read", "manage", "read"]
        );
        assert_eq!(
            read(ClaimLocation::new("urn:roles")?.object_keys(), false),
            ["owner", "viewer"]
        );
        assert_eq!(read(ClaimLocation::new("scope")?, true), ["a", "b"]);
        // Reading only the wanted claims finds what parsing all of them finds; the last of
        // duplicate names wins in both.
        let locations = ClaimLocations {
            roles: Some(vec![
                ClaimLocation::new("/realm_access/roles")?,
                ClaimLocation::new("https://myapp.com/roles")?,
            ]),
            scopes: Some(vec![ClaimLocation::new("scope")?]),
            permissions: None,
        };
        let json = r#"{"scope":"x","realm_access":{"roles":["a"]},"big":[1,{"c":2}],"scope":"a  b","https://myapp.com/roles":"solo"}"#;
        let all: Map<String, Value> = serde_json::from_str(json)?;
        assert_eq!(locations.grants_from_json(json), locations.grants(&all));
        assert_eq!(
            locations.grants_from_json(json).scopes,
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        for bad in ["", "/", "/a//b", "/a~2", "a\nb"] {
            assert!(ClaimLocation::new(bad).is_err(), "{bad:?}");
        }
        Ok(())
    }
}
