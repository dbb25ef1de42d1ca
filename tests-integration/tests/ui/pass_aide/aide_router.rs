//! The documented usage of the `aide` feature compiles: guarded handlers (attributes, `Claims`,
//! `Option<Claims>`, a layer documented with `requires`) in an aide `ApiRouter`.

use aide::axum::routing::{get, get_with};
use aide::axum::ApiRouter;
use aide::openapi::OpenApi;
use axum::Json;
use route_guard::layer::{self, Require};
use route_guard::{rate_limit, require_role, require_scopes, Authenticator, Claims};

#[require_scopes("read:messages")]
async fn messages(claims: Claims) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "user": claims.sub }))
}

#[require_role(any("admin", "manager"))]
#[rate_limit("10/minute")]
async fn reports() -> &'static str {
    "reports"
}

async fn feed(claims: Option<Claims>) -> String {
    format!("{}", claims.is_some())
}

async fn audit() -> &'static str {
    "audit"
}

async fn app(auth: Authenticator) -> Result<axum::Router, route_guard::aide::DocumentError> {
    let admins = Require::new().roles("admin");
    let mut api = OpenApi::default();
    let router = ApiRouter::new()
        .api_route("/messages", get(messages))
        .api_route("/reports", get(reports))
        .api_route("/feed", get(feed))
        .api_route(
            "/audit",
            get_with(audit, |op| route_guard::aide::requires(op, &admins)),
        )
        .route_layer(layer::require_auth())
        .finish_api(&mut api);
    route_guard::aide::document(&auth, &mut api).await?;
    Ok(router.layer(auth.layer()))
}

pub fn main() {
    let _ = app;
}
