//! The documented usage of the `utoipa` feature compiles: `#[utoipa::path]` above the
//! route-guard attributes, the `Security` modifier and the coverage check.

use route_guard::{require_role, require_scopes, Authenticator};
use utoipa::{Modify, OpenApi};

#[utoipa::path(get, path = "/messages", responses((status = 200, description = "the messages")))]
#[require_scopes("read:messages")]
async fn messages() -> &'static str {
    "messages"
}

#[utoipa::path(get, path = "/admin", responses((status = 200, description = "the users")))]
#[require_role(any("admin", "manager"))]
async fn admin() -> &'static str {
    "users"
}

#[derive(OpenApi)]
#[openapi(paths(messages, admin))]
struct ApiDoc;

async fn document(
    auth: &Authenticator,
) -> Result<utoipa::openapi::OpenApi, route_guard::utoipa::DocumentError> {
    let mut doc = ApiDoc::openapi();
    route_guard::utoipa::Security::new(auth)
        .await?
        .modify(&mut doc);
    let coverage = route_guard::utoipa::check(&doc);
    assert!(
        coverage.all_guards_documented(),
        "{:?}",
        coverage.undocumented
    );
    Ok(doc)
}

pub fn main() {
    let _ = document;
    let _ = axum::Router::<()>::new()
        .route("/messages", axum::routing::get(messages))
        .route("/admin", axum::routing::get(admin));
}
