// `check = path` names a `fn(&T) -> bool` over the handler's claims type.
use route_guard::{require_claim, StandardClaims};

fn not_a_predicate(_claims: &StandardClaims) -> String {
    String::new()
}

#[require_claim(check = not_a_predicate)]
async fn handler() {}

fn main() {}
