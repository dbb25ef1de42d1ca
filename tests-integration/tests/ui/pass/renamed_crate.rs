// `crate = ".."` points the generated code at route-guard under another name, as serde's does.
extern crate route_guard as guard;

#[derive(guard::TokenClaims)]
#[claims(crate = "::guard", namespace = "https://myapp.com/")]
struct MyClaims {
    sub: String,
    roles: Vec<String>,
    scope: Option<String>,
}

#[guard::require_role("admin", crate = "::guard")]
#[guard::require_scopes("read:messages", crate = "::guard")]
async fn handler(claims: guard::Claims<MyClaims>) -> String {
    claims.0.sub
}

pub fn main() {
    let _ = axum::Router::<()>::new().route("/", axum::routing::get(handler));
}
