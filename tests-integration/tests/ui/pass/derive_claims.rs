// `#[derive(TokenClaims)]` in every documented form, used by the attributes.
use std::collections::{BTreeSet, HashSet};

use route_guard::{require_permissions, require_role, require_scopes, Claims, TokenClaims};

#[derive(TokenClaims)]
#[claims(namespace = "https://myapp.com/")]
pub struct Namespaced {
    pub sub: String,
    pub roles: Vec<String>,
    pub permissions: HashSet<String>,
    pub scope: Option<String>,
    pub email: Option<String>,
    pub org: Option<String>,
    #[claim(rename = "https://other.example.com/plan")]
    pub plan: Option<String>,
    #[claim(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

#[derive(TokenClaims)]
struct Marked {
    #[claim(roles, rename = "https://myapp.com/groups")]
    groups: Option<BTreeSet<String>>,
    #[claim(permissions)]
    perms: Option<Vec<String>>,
    #[claim(scope)]
    scopes: Vec<String>,
    r#type: Option<String>,
}

#[require_role("admin")]
#[require_permissions("read:messages")]
#[require_scopes("openid")]
async fn namespaced(claims: Claims<Namespaced>) -> String {
    claims.0.sub
}

#[require_role(any("admin", "editor"))]
#[require_permissions(all("a", "b"))]
#[require_scopes(any("openid", "profile"))]
async fn marked(claims: Claims<Marked>) -> String {
    format!("{:?} {:?}", claims.groups.is_some(), claims.r#type)
}

pub fn main() {
    let _ = axum::Router::<()>::new()
        .route("/a", axum::routing::get(namespaced))
        .route("/b", axum::routing::get(marked));
}
