// A roles field is `Vec<String>`, `HashSet<String>`, `BTreeSet<String>` or an `Option` of one.
use route_guard::TokenClaims;

#[derive(TokenClaims)]
struct Claims {
    #[claim(roles)]
    roles: String,
}

fn main() {}
