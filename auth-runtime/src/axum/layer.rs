//! The layer that installs an [`Authenticator`] for the routes below it, with the slot where the
//! request's one verification is memoised.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use axum::http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::rejection::{AuthRejection, Scheme};
use crate::ratelimit::Decision;
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

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AuthService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = AuthFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let limit = Arc::new(OnceLock::new());
        request.extensions_mut().insert(RequestAuth {
            auth: self.auth.clone(),
            outcome: OnceLock::new(),
            limit: Arc::clone(&limit),
        });
        AuthFuture {
            inner: self.inner.call(request),
            limit,
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`AuthService`]: the inner service's, plus the RateLimit fields of
    /// a handler's `#[rate_limit]` on its response.
    pub struct AuthFuture<F> {
        #[pin]
        inner: F,
        limit: Arc<OnceLock<RouteLimitNote>>,
    }
}

impl<F> std::fmt::Debug for AuthFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthFuture")
    }
}

impl<F, B, E> Future for AuthFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = std::task::ready!(this.inner.poll(cx));
        if let (Ok(response), Some((name, decision))) = (&mut response, this.limit.get()) {
            super::ratelimit::Fields::new(name, decision.quota).append(
                response.headers_mut(),
                decision.remaining,
                decision.reset,
            );
        }
        Poll::Ready(response)
    }
}

/// A handler's `#[rate_limit]`: its name and the caller's budget after this request.
pub(super) type RouteLimitNote = (&'static str, Decision);

/// What the layer puts in a request's extensions: the Authenticator and, once the first
/// extractor has asked, the outcome of the request's one verification. One extension filled in
/// place, so memoising costs no second insert into the request's extension map.
#[derive(Clone)]
pub(super) struct RequestAuth {
    pub(super) auth: Authenticator,
    pub(super) outcome: OnceLock<Outcome>,
    /// Where a handler's `#[rate_limit]` leaves its fields for the layer to add to the response.
    pub(super) limit: Arc<OnceLock<RouteLimitNote>>,
}

impl RequestAuth {
    /// For an Authenticator installed as a bare `Extension`: no layer adds a route's RateLimit
    /// fields to the response.
    pub(super) fn new(auth: Authenticator) -> Self {
        RequestAuth {
            auth,
            outcome: OnceLock::new(),
            limit: Arc::default(),
        }
    }
}

/// The outcome of the request's one verification.
pub(super) type Outcome = Result<(VerifiedToken, Scheme), AuthRejection>;
