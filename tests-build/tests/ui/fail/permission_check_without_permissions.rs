// A permission requirement needs a permissions source on the claims type.
use route_guard::{require_permissions, Claims, TokenClaims};

#[derive(TokenClaims)]
struct OnlyRoles {
    #[claim(roles)]
    groups: Vec<String>,
}

#[require_permissions("read:messages")]
async fn handler(claims: Claims<OnlyRoles>) -> usize {
    claims.groups.len()
}

fn main() {}
