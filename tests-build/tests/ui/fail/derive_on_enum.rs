// A token's claims are one JSON object: the derive needs a struct with named fields.
use route_guard::TokenClaims;

#[derive(TokenClaims)]
enum Claims {
    User { sub: String },
}

fn main() {}
