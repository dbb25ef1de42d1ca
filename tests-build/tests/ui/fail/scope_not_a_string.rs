// Scopes are string literals.
use route_guard::require_scopes;

#[require_scopes(42)]
async fn handler() {}

fn main() {}
