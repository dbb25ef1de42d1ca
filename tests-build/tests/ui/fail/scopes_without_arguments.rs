// `#[require_scopes]` needs at least one scope.
use route_guard::require_scopes;

#[require_scopes]
async fn handler() {}

fn main() {}
