//! The quickstart's `/api/public` and `/api/private` in an axum `Router`, for the benches that
//! send requests in process: the private route reads its typed claims shared
//! (`Claims<Arc<ApiClaims>>`, as the quickstart does) and, at `/api/private-copied`, copied.

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use route_guard::{require_auth, Authenticator, Claims, TokenClaims};
use serde_json::{json, Value};

/// The quickstart's claims type. `Clone`, so `Claims<ApiClaims>` of a token seen before is a
/// copy of the claims kept with it; `Claims<Arc<ApiClaims>>` shares them.
#[derive(TokenClaims, Clone, Debug)]
#[claims(namespace = "https://myapp.com/")]
pub struct ApiClaims {
    sub: String,
    roles: Vec<String>,
    permissions: Vec<String>,
    scope: Option<String>,
}

async fn public() -> Json<Value> {
    Json(json!({ "message": "Hello from a public endpoint!", "timestamp": 1_700_000_000u64 }))
}

#[require_auth]
async fn private(claims: Claims<Arc<ApiClaims>>) -> Json<Value> {
    Json(json!({
        "message": "Hello from a private endpoint!",
        "user": claims.sub,
        "timestamp": 1_700_000_000u64,
    }))
}

#[require_auth]
async fn private_copied(claims: Claims<ApiClaims>) -> Json<Value> {
    Json(json!({
        "message": "Hello from a private endpoint!",
        "user": claims.sub,
        "timestamp": 1_700_000_000u64,
    }))
}

pub fn app(auth: &Authenticator) -> Router {
    Router::new()
        .route("/api/public", get(public))
        .route("/api/private", get(private))
        .route("/api/private-copied", get(private_copied))
        .layer(auth.layer())
}
