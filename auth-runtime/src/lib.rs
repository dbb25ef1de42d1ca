//! The runtime of [route-guard](https://docs.rs/route-guard): configuration, the JWKS cache, the
//! token verifier, claims, requirements and the axum extractors.
//!
//! Depend on `route-guard`, not on this crate: the facade re-exports everything here.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

// The layers, lowest first: config, store, jwks / ratelimit, verify, dpop, claims, policy, axum;
// each imports
// only from the layers below it (and from the leaves `stats` and `token_cache`).
// `tests/it/architecture.rs` holds the table and enforces it.
mod axum;
mod claims;
mod config;
mod dpop;
mod jwks;
mod policy;
mod ratelimit;
mod store;
mod verify;

mod stats;
mod token_cache;

#[cfg(feature = "testing")]
pub mod testing;

/// Route layers: protect every route of a router at once, with the attributes' vocabulary
/// built at run time.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use axum::{routing::get, Router};
/// use route_guard::{layer, Authenticator};
///
/// # fn app(auth: Authenticator) -> Router {
/// let reports = Router::new()
///     .route("/daily", get(|| async { "daily" }))
///     .route_layer(layer::require_scopes(layer::any(["read:reports", "admin:reports"])));
/// Router::new().nest("/reports", reports).layer(auth.layer())
/// # }
/// ```
///
/// A CORS preflight (`OPTIONS` without credentials) must be answered before these layers: put
/// the CORS layer outside the guarded router (`.layer(cors)` after `.layer(auth.layer())`).
pub mod layer {
    pub use crate::axum::{
        guard, rate_limit, require, require_acr, require_actor, require_auth, require_auth_age,
        require_claim_equals, require_claim_includes, require_org, require_permissions,
        require_role, require_scopes, RateLimitLayer, RateLimitService, RequireLayer,
        RequireService,
    };
    pub use crate::policy::{all, any, Names, Require};
    pub use crate::ratelimit::{Quota, QuotaError};
}

/// MCP servers (feature `mcp`): protect a streamable-HTTP MCP endpoint with per-tool,
/// per-prompt and per-resource requirements, read from each JSON-RPC call before the MCP server
/// (for example `rmcp`'s `StreamableHttpService`) sees it.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use axum::{routing::post, Router};
/// use route_guard::mcp::{self, McpPolicy};
/// use route_guard::Authenticator;
///
/// # fn app(auth: Authenticator) -> Router {
/// # let mcp_server = post(|| async { "the MCP server" });
/// let policy = McpPolicy::new()
///     .tool("read_messages", "messages:read")
///     .tool("send_message", "messages:write");
/// Router::new()
///     .route("/mcp", mcp_server)
///     .route_layer(mcp::layer(policy))
///     .layer(auth.layer())
///     .merge(auth.protected_resource_router())
/// # }
/// ```
#[cfg(feature = "mcp")]
pub mod mcp {
    pub use crate::axum::{mcp_layer as layer, McpLayer, McpService};
    pub use crate::policy::{McpPolicy, DEFAULT_MAX_BODY};
}

pub use crate::axum::{
    AuthError, AuthFuture, AuthLayer, AuthRejection, AuthService, Claims, ClientCertificate, Guard,
};
pub use claims::{
    Actor, HasPermissions, HasRoles, HasScopes, ScopeSet, StandardClaims, StringSet, TokenClaims,
};
pub use config::{
    Algorithm, AudienceRule, AuthenticatorBuilder, BoundedFuture, CertificateHeaderFormat,
    ClaimLocation, ClaimLocations, ConfigError, DpopMode, Grants, IssuerProfile, IssuerRequest,
    IssuerTemplate, JweAlgorithm, MtlsMode, OrgPolicy, ProxyHeaders, Recorded, ReplayFuture,
    ReplayStore, ReplayStoreError, ResolverError,
};
pub use dpop::{DpopError, ProofError};
pub use policy::{
    Authenticated, Check, Description, Insufficient, NameGroup, Requirement, RouteLimit,
};
pub use stats::{RejectionReason, Stats};
pub use store::MemoryReplayStore;
#[cfg(feature = "redis")]
pub use store::RedisReplayStore;
pub use verify::{
    certificate_thumbprint, Authenticator, ClaimsContext, KeysUnavailable, VerifiedToken,
    VerifyError,
};

/// OpenAPI with aide (feature `aide`): the guards document their own security. See
/// [`document`](aide::document).
#[cfg(feature = "aide")]
pub mod aide {
    pub use crate::axum::aide::{document, requires, OpenApi, ServedDocument};
    pub use crate::axum::openapi::{DocumentError, EXTENSION};
}

/// OpenAPI with utoipa 5 (feature `utoipa`) or utoipa 6 (feature `utoipa6`): a
/// `Modify` that fills in the security of every operation whose `operationId` is a guarded
/// handler. See [`Security`](utoipa::Security).
#[cfg(any(feature = "utoipa", feature = "utoipa6"))]
pub mod utoipa {
    pub use crate::axum::openapi::{DocumentError, EXTENSION};
    pub use crate::axum::utoipa::{check, Coverage, Security};
}

/// The token doctor's report: what [`Authenticator::diagnose`] returns.
pub mod doctor {
    pub use crate::verify::{
        terminal_safe, Cause, Diagnosis, Finding, Outcome, Report, SelectedKey, TimeClaim, Verdict,
    };
}

/// What the macros' generated code names. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::axum::Guard;
    pub use crate::claims::{
        de_claim, de_scope_set, de_string_set, grants_deserializer, HasPermissions, HasRoles,
        HasScopes, ScopeSet, StandardClaims, StringSet, TokenClaims,
    };
    pub use crate::config::Grants;
    pub use crate::policy::{
        route_quota, Authenticated, Check, Description, GuardedRoute, Insufficient, NameGroup,
        Requirement, RouteLimit, RouteScopes,
    };
    pub use crate::verify::{ClaimsContext, VerifiedToken};
    pub use inventory;
    pub use serde;

    /// `#[derive(TokenClaims)]`'s `clone_claims`, by autoref specialisation: the generated
    /// `(&ClaimsProbe(self)).__route_guard_clone_claims()` resolves to [`CloneClaims`] when the
    /// claims type is `Clone` and to [`CannotClone`] otherwise.
    pub struct ClaimsProbe<'a, T>(pub &'a T);

    /// See [`ClaimsProbe`].
    pub trait CloneClaims<T> {
        /// A copy.
        fn __route_guard_clone_claims(&self) -> Option<T>;
    }

    impl<T: Clone> CloneClaims<T> for ClaimsProbe<'_, T> {
        fn __route_guard_clone_claims(&self) -> Option<T> {
            Some(self.0.clone())
        }
    }

    /// See [`ClaimsProbe`].
    pub trait CannotClone<T> {
        /// No copy.
        fn __route_guard_clone_claims(&self) -> Option<T>;
    }

    impl<T> CannotClone<T> for &ClaimsProbe<'_, T> {
        fn __route_guard_clone_claims(&self) -> Option<T> {
            None
        }
    }

    /// Checks bounded by the capability markers, so an impossible requirement is a compile error
    /// at the attribute rather than a 403 at run time.
    pub fn scopes_all<'a, T: HasScopes>(check: Check<'a, T>, scopes: &[&str]) -> Check<'a, T> {
        check.scopes_all(scopes)
    }

    /// See [`scopes_all`].
    pub fn scopes_any<'a, T: HasScopes>(check: Check<'a, T>, scopes: &[&str]) -> Check<'a, T> {
        check.scopes_any(scopes)
    }

    /// See [`scopes_all`].
    pub fn permissions_all<'a, T: HasPermissions>(
        check: Check<'a, T>,
        permissions: &[&str],
    ) -> Check<'a, T> {
        check.permissions_all(permissions)
    }

    /// See [`scopes_all`].
    pub fn permissions_any<'a, T: HasPermissions>(
        check: Check<'a, T>,
        permissions: &[&str],
    ) -> Check<'a, T> {
        check.permissions_any(permissions)
    }

    /// See [`scopes_all`].
    pub fn roles_all<'a, T: HasRoles>(check: Check<'a, T>, roles: &[&str]) -> Check<'a, T> {
        check.roles_all(roles)
    }

    /// See [`scopes_all`].
    pub fn roles_any<'a, T: HasRoles>(check: Check<'a, T>, roles: &[&str]) -> Check<'a, T> {
        check.roles_any(roles)
    }
}
