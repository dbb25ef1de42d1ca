// Every attribute form compiles on a plain axum handler and the router accepts it.
use axum::routing::get;
use axum::Router;
use route_guard::{
    require_auth, require_claim, require_permissions, require_role, require_scopes, Claims,
    StandardClaims,
};

#[require_auth]
async fn auth() {}

#[require_auth(crate = "::route_guard")]
async fn auth_with_crate() {}

#[require_scopes("read:messages")]
async fn one_scope() {}

#[require_scopes("read:messages", "write:messages")]
async fn all_scopes() {}

#[require_scopes(any("read:messages", "admin"), all("a", "b"))]
async fn any_and_all_scopes() {}

#[require_permissions("read:messages")]
async fn permission() {}

#[require_permissions(any("read:messages", "read:all"))]
async fn any_permission() {}

#[require_role("admin")]
async fn role(_claims: Claims) {}

#[require_role(any("admin", "manager"))]
async fn any_role() {}

#[require_role(all("admin", "Account Owner"))]
async fn all_roles() {}

#[require_claim(org_id = "org_123", tier = 3, beta = true)]
async fn claim_equals() {}

#[require_claim("https://myapp.com/org" = "acme")]
async fn namespaced_claim_equals() {}

#[require_claim(includes(roles = ["editor", "viewer"]))]
async fn claim_includes() {}

fn check_org(claims: &StandardClaims) -> bool {
    claims.get("org_id").is_some()
}

mod checks {
    pub fn verified(claims: &route_guard::StandardClaims) -> bool {
        claims.get("email_verified").is_some()
    }
}

#[require_claim(check = check_org, check = checks::verified)]
async fn claim_check() {}

/// Stacked attributes merge into one guard.
#[require_scopes("read:messages")]
#[require_permissions("read:messages")]
#[require_role("admin")]
#[require_claim(org_id = "org_123")]
#[require_auth]
pub async fn stacked(_claims: Option<Claims<StandardClaims>>) {}

#[require_auth]
async fn r#type() {}

#[route_guard::rate_limit("10/minute")]
async fn rate_limited_alone() {}

#[route_guard::require_scopes("run:reports")]
#[route_guard::rate_limit(" 3 / Hour ", crate = "::route_guard")]
async fn rate_limited_and_scoped() {}

#[route_guard::require_acr(any("urn:acr:mfa", "urn:acr:key"))]
#[route_guard::require_auth_age(max_secs = 300)]
async fn stepped_up() {}

pub fn main() {
    let _: Router = Router::new()
        .route("/s", get(stepped_up))
        .route("/q", get(rate_limited_alone))
        .route("/r", get(rate_limited_and_scoped))
        .route("/a", get(auth))
        .route("/b", get(auth_with_crate))
        .route("/c", get(one_scope))
        .route("/d", get(all_scopes))
        .route("/e", get(any_and_all_scopes))
        .route("/f", get(permission))
        .route("/g", get(any_permission))
        .route("/h", get(role))
        .route("/i", get(any_role))
        .route("/j", get(all_roles))
        .route("/k", get(claim_equals))
        .route("/l", get(namespaced_claim_equals))
        .route("/m", get(claim_includes))
        .route("/n", get(claim_check))
        .route("/o", get(stacked))
        .route("/p", get(r#type));
}
