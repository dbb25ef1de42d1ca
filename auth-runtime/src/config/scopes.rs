//! Scope hierarchies: a broader scope implies narrower ones (MCP 2026-07-28), resolved once at
//! start-up into, for each broader scope, every scope it implies.

use std::collections::BTreeMap;

use super::error::ConfigError;
use super::AuthenticatorBuilder;

impl AuthenticatorBuilder {
    /// A token granted `broader` is treated as granted each of `narrower` too, transitively:
    /// `implied_scopes("messages:admin", ["messages:read", "messages:write"])` lets an admin
    /// token pass `#[require_scopes("messages:read")]`, `layer::require_scopes(..)` and
    /// `has_scope("messages:read")`. The implied scopes are added to the claims' scope set when
    /// they are parsed (a hand-written `TokenClaims` applies them in its `apply_context`). A
    /// cycle is a start-up error.
    ///
    /// ```
    /// # extern crate auth_runtime as route_guard;
    /// let auth = route_guard::Authenticator::builder()
    ///     .domain("tenant.us.auth0.com")
    ///     .audience("https://api.example.com")
    ///     .implied_scopes("messages:admin", ["messages:read", "messages:write"])
    ///     .build()?;
    /// # Ok::<(), route_guard::ConfigError>(())
    /// ```
    pub fn implied_scopes<I, S>(mut self, broader: impl Into<String>, narrower: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let narrower: Vec<String> = narrower.into_iter().map(Into::into).collect();
        self.implied_scopes.push((broader.into(), narrower));
        self
    }
}

/// Every scope each broader scope implies, transitively; a cycle or an empty name is an error.
pub(crate) fn resolve(
    declared: &[(String, Vec<String>)],
) -> Result<BTreeMap<String, Vec<String>>, ConfigError> {
    let invalid = |reason: String| ConfigError::InvalidSetting {
        setting: "implied_scopes",
        reason,
    };
    let mut direct: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (broader, narrower) in declared {
        for name in std::iter::once(broader).chain(narrower) {
            if name.trim().is_empty() || name.chars().any(char::is_whitespace) {
                return Err(invalid(format!(
                    "`{name}` is not a scope: scopes are non-empty and without spaces"
                )));
            }
        }
        direct
            .entry(broader.as_str())
            .or_default()
            .extend(narrower.iter().map(String::as_str));
    }
    let mut resolved = BTreeMap::new();
    for broader in direct.keys() {
        let mut implied: Vec<String> = Vec::new();
        let mut path = vec![*broader];
        walk(&direct, broader, &mut path, &mut implied).map_err(invalid)?;
        resolved.insert((*broader).to_owned(), implied);
    }
    Ok(resolved)
}

fn walk<'a>(
    direct: &BTreeMap<&'a str, Vec<&'a str>>,
    scope: &'a str,
    path: &mut Vec<&'a str>,
    implied: &mut Vec<String>,
) -> Result<(), String> {
    for narrower in direct.get(scope).into_iter().flatten() {
        if path.contains(narrower) {
            path.push(narrower);
            return Err(format!("a cycle: {}", path.join(" -> ")));
        }
        if !implied.iter().any(|s| s == narrower) {
            implied.push((*narrower).to_owned());
        }
        path.push(narrower);
        walk(direct, narrower, path, implied)?;
        path.pop();
    }
    Ok(())
}
