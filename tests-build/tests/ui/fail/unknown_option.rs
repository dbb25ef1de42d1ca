// An option the attribute does not know is an error, not silently ignored.
use route_guard::require_scopes;

#[require_scopes("read:messages", mode = "strict")]
async fn handler() {}

fn main() {}
