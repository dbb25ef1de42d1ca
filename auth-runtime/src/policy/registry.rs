//! The scopes the application's routes require, gathered without the application listing them:
//! those of the attributes at link time (each `#[require_scopes]` submits its list with
//! `inventory`), those of route layers when the layer is built. RFC 9728's `scopes_supported`
//! reads the union. Binary-wide: every route compiled into the program counts, mounted or not.

use std::collections::BTreeSet;
use std::sync::Mutex;

/// One attribute's scopes, submitted by the macros. Not a public API.
#[doc(hidden)]
#[derive(Debug)]
pub struct RouteScopes {
    /// The scopes the route names (all / any lists together).
    pub scopes: &'static [&'static str],
}

inventory::collect!(RouteScopes);

/// A handler an attribute guards, submitted by the macros: what documentation integrations
/// (utoipa) match operations against. Not a public API.
#[doc(hidden)]
#[derive(Debug)]
pub struct GuardedRoute {
    /// The handler's name (utoipa's default `operationId`).
    pub handler: &'static str,
    /// `module_path!()` where it is defined.
    pub module: &'static str,
    /// What it requires.
    pub description: super::Description,
    /// Its `#[rate_limit]` quota, as written (`"10/minute"`), if any.
    pub rate_limit: Option<&'static str>,
}

inventory::collect!(GuardedRoute);

/// Every handler an attribute guards in the program.
#[cfg(any(feature = "utoipa", feature = "utoipa6"))]
pub(crate) fn guarded_routes() -> impl Iterator<Item = &'static GuardedRoute> {
    inventory::iter::<GuardedRoute>.into_iter()
}

/// Scopes of the route layers built so far.
static LAYERS: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Records the scopes of a route layer being built.
pub(crate) fn register<'a>(scopes: impl IntoIterator<Item = &'a str>) {
    let mut layers = LAYERS.lock().unwrap_or_else(|p| p.into_inner());
    layers.extend(scopes.into_iter().map(str::to_owned));
}

/// Every scope required by an attribute compiled into the program or a route layer built so
/// far, sorted; never `offline_access` (a refresh-token request, not an API permission).
pub(crate) fn required_scopes() -> BTreeSet<String> {
    let mut scopes: BTreeSet<String> = inventory::iter::<RouteScopes>
        .into_iter()
        .flat_map(|route| route.scopes.iter().map(|s| (*s).to_owned()))
        .collect();
    scopes.extend(
        LAYERS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned(),
    );
    scopes.remove("offline_access");
    scopes
}
