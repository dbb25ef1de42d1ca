// A role requirement on a claims type without roles could never pass: a compile error, not a 403.
use route_guard::{require_role, Claims, TokenClaims};

#[derive(TokenClaims)]
struct NoRoles {
    sub: String,
}

#[require_role("admin")]
async fn handler(claims: Claims<NoRoles>) -> String {
    claims.0.sub
}

fn main() {}
