// Claims deserialize into one concrete type: no generic parameters.
use route_guard::TokenClaims;

#[derive(TokenClaims)]
struct Claims<T> {
    sub: T,
}

fn main() {}
