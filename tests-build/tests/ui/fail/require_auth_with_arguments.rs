// `#[require_auth]` takes no requirement; scopes belong in `#[require_scopes]`.
use route_guard::require_auth;

#[require_auth("read:messages")]
async fn handler() {}

fn main() {}
