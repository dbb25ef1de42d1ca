// Scopes travel space-separated, so one scope cannot contain whitespace: pass each on its own.
use route_guard::require_scopes;

#[require_scopes("read:messages write:messages")]
async fn handler() {}

fn main() {}
