//! Route layers: the attributes' requirements enforced for every route of a router, built at
//! run time ([`Require`]) or from a hand-written [`Requirement`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::request::Parts;
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::{authenticate, claims_for, guard_request, hand_over, insufficient, AuthRejection};
use crate::claims::StandardClaims;
use crate::config::ConfigError;
use crate::policy::{Names, Require, Requirement};

/// A tower layer that refuses requests whose token does not meet a requirement: 401 without a
/// valid token, 403 `insufficient_scope` naming everything missing, with the same challenges and
/// bodies as the attributes. Put it on a router with `route_layer` (so unmatched paths still
/// answer 404), below the Authenticator's own [`layer`](crate::Authenticator::layer).
///
/// However many route layers, attributes and extractors a request meets, its token is verified
/// once; a layer and an attribute on the same route are both enforced.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use axum::{routing::get, Router};
/// use route_guard::{layer, Authenticator, Claims};
///
/// async fn list_users(claims: Claims) -> String {
///     format!("users, for {}", claims.sub.as_deref().unwrap_or("?"))
/// }
///
/// # fn app(auth: Authenticator) -> Router {
/// let admin = Router::new()
///     .route("/users", get(list_users))
///     .route_layer(layer::require_role("admin"));
/// Router::new()
///     .nest("/admin", admin)
///     .route("/api/public", get(|| async { "public" }))
///     .layer(auth.layer())
/// # }
/// ```
#[derive(Clone)]
pub struct RequireLayer {
    rule: Rule,
}

#[derive(Clone)]
pub(super) enum Rule {
    Runtime(Arc<Require>),
    Typed(Enforce),
}

/// `guard_request::<R>` for the `R` of [`guard`].
pub(super) type Enforce =
    for<'a> fn(
        &'a mut Parts,
    ) -> Pin<Box<dyn Future<Output = Result<(), AuthRejection>> + Send + 'a>>;

impl std::fmt::Debug for RequireLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.rule {
            Rule::Runtime(require) => f.debug_tuple("RequireLayer").field(require).finish(),
            Rule::Typed(_) => f.write_str("RequireLayer(Requirement)"),
        }
    }
}

impl TryFrom<Require> for RequireLayer {
    type Error = ConfigError;

    /// The layer for `require`, or the typed error naming what can never be granted: for
    /// requirements read from configuration.
    ///
    /// ```
    /// # extern crate auth_runtime as route_guard;
    /// use route_guard::layer::{Require, RequireLayer};
    ///
    /// let from_config = vec!["read:reports".to_owned()];
    /// let layer = RequireLayer::try_from(Require::new().scopes(from_config))?;
    /// # let _ = layer;
    /// assert!(RequireLayer::try_from(Require::new().roles(Vec::<String>::new())).is_err());
    /// # Ok::<(), route_guard::ConfigError>(())
    /// ```
    fn try_from(require: Require) -> Result<Self, ConfigError> {
        require.validate()?;
        require.register_scopes();
        Ok(RequireLayer {
            rule: Rule::Runtime(Arc::new(require)),
        })
    }
}

/// The layer for `require`: every condition of it must hold. Several conditions in one layer
/// give one 403 naming everything missing.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::layer::{self, any, Require};
///
/// let billing = layer::require(
///     Require::new()
///         .scopes(["read:billing"])
///         .roles(any(["admin", "accountant"]))
///         .organization(["org_abc123"]),
/// );
/// # let _ = billing;
/// ```
///
/// # Panics
///
/// When a name can never be granted (an empty list or name, whitespace inside a scope or
/// permission), as `HeaderValue::from_static` panics on a bad literal: at start-up, while the
/// router is built, never on a request. For names read from configuration, use
/// [`RequireLayer::try_from`], which returns the [`ConfigError`] instead.
pub fn require(require: Require) -> RequireLayer {
    match RequireLayer::try_from(require) {
        Ok(layer) => layer,
        Err(e) => panic!("route_guard::layer: {e}"),
    }
}

/// Any valid token: FastAPI's `dependencies=[Depends(auth0.require_auth())]`, express's
/// `app.use(auth())`.
pub fn require_auth() -> RequireLayer {
    require(Require::new())
}

/// The scopes: all listed (`["a", "b"]`, or one `"a"`), or [`any`](crate::layer::any) of them.
/// Panics like [`require`] on a name that can never be granted.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::layer::{any, require_scopes};
///
/// let both = require_scopes(["read:messages", "write:messages"]);
/// let either = require_scopes(any(["read:messages", "admin:messages"]));
/// # let _ = (both, either);
/// ```
pub fn require_scopes(scopes: impl Into<Names>) -> RequireLayer {
    require(Require::new().scopes(scopes))
}

/// Auth0 RBAC permissions, in the same forms as [`require_scopes`].
pub fn require_permissions(permissions: impl Into<Names>) -> RequireLayer {
    require(Require::new().permissions(permissions))
}

/// Roles, read from the claim set with
/// [`roles_claim`](crate::AuthenticatorBuilder::roles_claim) (a layer has no claims type to
/// read): `"admin"`, `["a", "b"]` (all) or [`any`](crate::layer::any)`(["admin", "manager"])`.
pub fn require_role(roles: impl Into<Names>) -> RequireLayer {
    require(Require::new().roles(roles))
}

/// The claim `name` must equal `value`.
pub fn require_claim_equals(
    name: impl Into<String>,
    value: impl Into<serde_json::Value>,
) -> RequireLayer {
    require(Require::new().claim_equals(name, value))
}

/// The claim `name` must include every one of `values`.
pub fn require_claim_includes(
    name: impl Into<String>,
    values: impl IntoIterator<Item = impl Into<String>>,
) -> RequireLayer {
    require(Require::new().claim_includes(name, values))
}

/// An Auth0 Organization: one of `organizations` (ids or names), or any when empty.
pub fn require_org(organizations: impl IntoIterator<Item = impl Into<String>>) -> RequireLayer {
    require(Require::new().organization(organizations))
}

/// A delegated token (RFC 8693 `act`) whose current actor is one of `actors`, or any.
pub fn require_actor(actors: impl IntoIterator<Item = impl Into<String>>) -> RequireLayer {
    require(Require::new().actor(actors))
}

/// Step-up (RFC 9470): the user authenticated with one of the `acr` values; otherwise 401
/// `insufficient_user_authentication` with `acr_values`.
pub fn require_acr(values: impl IntoIterator<Item = impl Into<String>>) -> RequireLayer {
    require(Require::new().acr(values))
}

/// Step-up (RFC 9470): the user authenticated at most `max_secs` seconds ago (`auth_time`);
/// otherwise 401 `insufficient_user_authentication` with `max_age`.
pub fn require_auth_age(max_secs: u64) -> RequireLayer {
    require(Require::new().max_auth_age(max_secs))
}

/// The layer for a hand-written [`Requirement`]: what [`Guard<R>`](crate::Guard) enforces for
/// one handler, for a whole router, checked against `R::Claims`.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::{layer, Check, Insufficient, Requirement, StandardClaims, VerifiedToken};
///
/// struct Auditor;
/// impl Requirement for Auditor {
///     type Claims = StandardClaims;
///     fn check(claims: &StandardClaims, _: &VerifiedToken) -> Result<(), Insufficient> {
///         Check::new(claims).permissions_all(&["read:audit"]).finish()
///     }
/// }
///
/// let auditors = layer::guard::<Auditor>();
/// # let _ = auditors;
/// ```
pub fn guard<R: Requirement>() -> RequireLayer {
    RequireLayer {
        rule: Rule::Typed(|parts| Box::pin(guard_request::<R>(parts))),
    }
}

impl Rule {
    /// Authenticates the request (once: the outcome is memoised for every later guard) and
    /// checks the requirement.
    pub(super) async fn apply(&self, parts: &mut Parts) -> Result<(), AuthRejection> {
        let require = match self {
            Rule::Typed(guard) => return guard(parts).await,
            Rule::Runtime(require) => require,
        };
        // A 401 or 403 on a route requiring scopes names them all.
        let scoped = |rejection: AuthRejection| rejection.for_route_scopes(&require.scope_names());
        let (auth, token, scheme) = authenticate(parts).await.map_err(scoped)?;
        let extensions = &mut parts.extensions;
        let claims = match require.reads_claims() {
            true => Some(
                claims_for::<StandardClaims>(&auth, &token, scheme, extensions).map_err(scoped)?,
            ),
            false => None,
        };
        if let Err(missing) = require.check(claims.as_deref(), &token) {
            return Err(scoped(insufficient(&auth, missing, scheme)));
        }
        if let Some(claims) = claims {
            hand_over(extensions, claims);
        }
        Ok(())
    }
}

impl<S> Layer<S> for RequireLayer {
    type Service = RequireService<S>;

    fn layer(&self, inner: S) -> RequireService<S> {
        RequireService {
            inner,
            rule: self.rule.clone(),
        }
    }
}

/// The service [`RequireLayer`] wraps around each route.
#[derive(Clone)]
pub struct RequireService<S> {
    inner: S,
    rule: Rule,
}

impl<S> std::fmt::Debug for RequireService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequireService")
    }
}

impl<S, B> Service<Request<B>> for RequireService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The clone that was polled ready serves this request; the fresh one waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let rule = self.rule.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            if let Err(rejection) = rule.apply(&mut parts).await {
                return Ok(rejection.into_response());
            }
            inner.call(Request::from_parts(parts, body)).await
        })
    }
}
