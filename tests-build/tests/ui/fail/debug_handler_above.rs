// `#[axum::debug_handler]` must go below route-guard attributes: above, it checks the handler
// before the guard parameter exists.
use route_guard::require_auth;

#[axum::debug_handler]
#[require_auth]
async fn handler() {}

fn main() {}
