// Roles live in one field.
use route_guard::TokenClaims;

#[derive(TokenClaims)]
struct Claims {
    #[claim(roles)]
    roles: Vec<String>,
    #[claim(roles, rename = "https://myapp.com/groups")]
    groups: Vec<String>,
}

fn main() {}
