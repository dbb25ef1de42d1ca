// `includes` with an empty list would always pass: it needs at least one value.
use route_guard::require_claim;

#[require_claim(includes(roles = []))]
async fn handler() {}

fn main() {}
