// `#[require_org]` and `#[require_actor]` in every form, alone and merged with the others,
// with a derived claims type and with StandardClaims.
use axum::routing::get;
use axum::Router;
use route_guard::{
    require_actor, require_org, require_role, require_scopes, Claims, StandardClaims, TokenClaims,
};

#[derive(TokenClaims)]
struct MyClaims {
    sub: String,
    org_id: Option<String>,
    #[claim(roles, rename = "https://myapp.com/roles")]
    roles: Vec<String>,
}

#[require_org]
async fn any_org() {}

#[require_org("org_abc123")]
async fn one_org(claims: Claims<MyClaims>) -> String {
    claims.org_id.clone().unwrap_or_default()
}

#[require_org(any("org_abc123", "acme"), crate = "::route_guard")]
async fn either_org() {}

#[require_actor]
async fn any_actor(claims: Claims<StandardClaims>) -> String {
    claims.current_actor().unwrap_or_default().to_owned()
}

#[require_actor("billing-service", "gateway")]
async fn some_actor() {}

#[require_scopes("read:reports")]
#[require_role("admin")]
#[require_org("org_abc123")]
#[require_actor("reporting-service")]
async fn everything(claims: Claims<StandardClaims>) -> String {
    claims.sub.clone().unwrap_or_default()
}

pub fn main() {
    let _: Router = Router::new()
        .route("/a", get(any_org))
        .route("/b", get(one_org))
        .route("/c", get(either_org))
        .route("/d", get(any_actor))
        .route("/e", get(some_actor))
        .route("/f", get(everything));
}
