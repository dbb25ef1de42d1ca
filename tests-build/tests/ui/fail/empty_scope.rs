// A scope must not be empty.
use route_guard::require_scopes;

#[require_scopes("")]
async fn handler() {}

fn main() {}
