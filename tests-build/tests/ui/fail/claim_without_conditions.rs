// `#[require_claim]` needs a condition: equality, `includes(..)` or `check = ..`.
use route_guard::require_claim;

#[require_claim()]
async fn handler() {}

fn main() {}
