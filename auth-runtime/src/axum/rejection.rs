//! [`AuthRejection`]: every failure of the extractors, and the one table that maps it to an
//! RFC 6750 response.

use std::fmt;
use std::sync::Arc;

use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::policy::Insufficient;
use crate::stats::RejectionReason;
use crate::verify::VerifyError;

/// What went wrong, in RFC 6750 terms.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization` header, or a scheme other than Bearer: 401 with a bare challenge.
    MissingToken,
    /// A malformed `Authorization: Bearer` header: 400 `invalid_request`.
    InvalidRequest(&'static str),
    /// The token failed verification: 401 `invalid_token`.
    InvalidToken(VerifyError),
    /// The token is valid but lacks a scope, permission or role: 403 `insufficient_scope`.
    InsufficientScope(Insufficient),
    /// The Authenticator layer is not installed on the router: 500, a server bug.
    MissingAuthenticator,
}

/// The rejection of route-guard's extractors; renders status, `WWW-Authenticate` and a JSON body
/// `{"error": "...", "error_description": "..."}`.
///
/// To render your own body, map it in a handler or middleware and keep [`status`](Self::status)
/// and [`www_authenticate`](Self::www_authenticate):
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use axum::response::{IntoResponse, Response};
/// use route_guard::AuthRejection;
///
/// fn my_body(rejection: AuthRejection) -> Response {
///     let mut response = (rejection.status(), format!("denied: {}", rejection.error_code()))
///         .into_response();
///     if let Some(challenge) = rejection.www_authenticate() {
///         response.headers_mut().insert(axum::http::header::WWW_AUTHENTICATE, challenge);
///     }
///     response
/// }
/// ```
#[derive(Debug, Clone)]
pub struct AuthRejection(Arc<Repr>);

/// Behind an `Arc`: rejections are memoised per request and cloned, and stay pointer-sized.
#[derive(Debug)]
struct Repr {
    error: AuthError,
    realm: Arc<str>,
    body: Option<ErrorBody>,
}

/// A custom error body, set with
/// [`AuthenticatorBuilder::error_body`](crate::AuthenticatorBuilder::error_body).
#[derive(Clone)]
pub(crate) struct ErrorBody(pub(crate) Arc<dyn Fn(&AuthRejection) -> Response + Send + Sync>);

impl fmt::Debug for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ErrorBody(..)")
    }
}

impl AuthRejection {
    pub(crate) fn new(error: AuthError, realm: Arc<str>, body: Option<ErrorBody>) -> Self {
        AuthRejection(Arc::new(Repr { error, realm, body }))
    }

    /// What went wrong.
    pub fn error(&self) -> &AuthError {
        &self.0.error
    }

    /// The counter and log category.
    pub fn reason(&self) -> Option<RejectionReason> {
        match &self.0.error {
            AuthError::MissingToken => Some(RejectionReason::MissingToken),
            AuthError::InvalidRequest(_) => Some(RejectionReason::InvalidRequest),
            AuthError::InvalidToken(e) => Some(e.reason()),
            AuthError::InsufficientScope(_) => Some(RejectionReason::InsufficientScope),
            AuthError::MissingAuthenticator => None,
        }
    }

    /// The HTTP status: 400, 401, 403, or 500 for a missing layer.
    pub fn status(&self) -> StatusCode {
        match &self.0.error {
            AuthError::MissingToken | AuthError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            AuthError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            AuthError::InsufficientScope(_) => StatusCode::FORBIDDEN,
            AuthError::MissingAuthenticator => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The body's `error`: `unauthorized`, `invalid_request`, `invalid_token`,
    /// `insufficient_scope` or `server_error`.
    pub fn error_code(&self) -> &'static str {
        match &self.0.error {
            AuthError::MissingToken => "unauthorized",
            AuthError::InvalidRequest(_) => "invalid_request",
            AuthError::InvalidToken(_) => "invalid_token",
            AuthError::InsufficientScope(_) => "insufficient_scope",
            AuthError::MissingAuthenticator => "server_error",
        }
    }

    /// A description for the client: never the token, and safe inside a quoted header value.
    pub fn description(&self) -> String {
        let text = match &self.0.error {
            AuthError::MissingToken => {
                "authentication required: send an access token as `Authorization: Bearer <token>`"
                    .to_owned()
            }
            AuthError::InvalidRequest(why) => (*why).to_owned(),
            AuthError::InvalidToken(e) => e.to_string(),
            AuthError::InsufficientScope(missing) => missing.to_string(),
            AuthError::MissingAuthenticator => "internal server error".to_owned(),
        };
        quotable(&text)
    }

    /// The `WWW-Authenticate` challenge (none for a 500).
    pub fn www_authenticate(&self) -> Option<HeaderValue> {
        let realm = &self.0.realm;
        let value = match &self.0.error {
            AuthError::MissingAuthenticator => return None,
            AuthError::MissingToken => format!("Bearer realm=\"{realm}\""),
            AuthError::InsufficientScope(missing) if !missing.scopes.is_empty() => format!(
                "Bearer realm=\"{realm}\", error=\"insufficient_scope\", error_description=\"{}\", scope=\"{}\"",
                self.description(),
                quotable(&missing.scopes.join(" ")),
            ),
            _ => format!(
                "Bearer realm=\"{realm}\", error=\"{}\", error_description=\"{}\"",
                self.error_code(),
                self.description(),
            ),
        };
        HeaderValue::from_str(&value).ok()
    }
}

impl fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_code(), self.description())
    }
}

impl std::error::Error for AuthRejection {}

impl IntoResponse for AuthRejection {
    /// The JSON body (or the custom one), always with the RFC 6750 status and challenge.
    fn into_response(self) -> Response {
        let mut response = match &self.0.body {
            Some(ErrorBody(render)) => render(&self),
            None => axum::Json(serde_json::json!({
                "error": self.error_code(),
                "error_description": self.description(),
            }))
            .into_response(),
        };
        *response.status_mut() = self.status();
        match self.www_authenticate() {
            Some(challenge) => {
                response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
            }
            None => {
                response.headers_mut().remove(WWW_AUTHENTICATE);
            }
        }
        response
    }
}

/// RFC 6750 §3: `error_description` and `scope` may hold only %x20-21 / %x23-5B / %x5D-7E.
/// Anything else (quotes, backslashes, control or non-ASCII characters) becomes `?`, and the
/// text is capped so no claim value can blow up a header.
fn quotable(text: &str) -> String {
    const MAX: usize = 256;
    text.chars()
        .take(MAX)
        .map(|c| match c {
            ' ' | '!' | '#'..='[' | ']'..='~' => c,
            _ => '?',
        })
        .collect()
}
