//! The layer that installs an [`Authenticator`] for the routes below it, with the slot where the
//! request's one verification is memoised.

use std::sync::OnceLock;
use std::task::{Context, Poll};

use axum::http::Request;
use tower_layer::Layer;
use tower_service::Service;

use super::rejection::{AuthRejection, Scheme};
use crate::verify::{Authenticator, VerifiedToken};

/// The layer [`Authenticator::layer`] returns: every request below it carries the Authenticator
/// for route-guard's extractors, and a slot where the request's one verification is kept for the
/// next extractor that asks.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use axum::{routing::get, Router};
/// use route_guard::{AuthLayer, Authenticator};
///
/// # fn app(auth: Authenticator) -> Router {
/// let layer: AuthLayer = auth.layer();
/// Router::new().route("/", get(|| async { "hello" })).layer(layer)
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct AuthLayer {
    auth: Authenticator,
}

impl AuthLayer {
    pub(super) fn new(auth: Authenticator) -> Self {
        AuthLayer { auth }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService {
            inner,
            auth: self.auth.clone(),
        }
    }
}

/// The service [`AuthLayer`] wraps around the routes below it.
#[derive(Clone, Debug)]
pub struct AuthService<S> {
    inner: S,
    auth: Authenticator,
}

impl<S, B> Service<Request<B>> for AuthService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        request
            .extensions_mut()
            .insert(RequestAuth::new(self.auth.clone()));
        self.inner.call(request)
    }
}

/// What the layer puts in a request's extensions: the Authenticator and, once the first
/// extractor has asked, the outcome of the request's one verification. One extension filled in
/// place, so memoising costs no second insert into the request's extension map.
#[derive(Clone)]
pub(super) struct RequestAuth {
    pub(super) auth: Authenticator,
    pub(super) outcome: OnceLock<Outcome>,
}

impl RequestAuth {
    pub(super) fn new(auth: Authenticator) -> Self {
        RequestAuth {
            auth,
            outcome: OnceLock::new(),
        }
    }
}

/// The outcome of the request's one verification.
pub(super) type Outcome = Result<(VerifiedToken, Scheme), AuthRejection>;
