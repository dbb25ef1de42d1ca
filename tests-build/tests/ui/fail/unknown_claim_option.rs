// `#[claim(..)]` takes rename, roles, permissions, scope or flatten; anything else is an error.
use route_guard::TokenClaims;

#[derive(TokenClaims)]
struct Claims {
    #[claim(alias = "sub")]
    subject: String,
}

fn main() {}
