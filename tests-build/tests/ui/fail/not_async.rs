// Route-guard attributes apply to `async fn` handlers: a synchronous fn is refused.
use route_guard::require_auth;

#[require_auth]
fn handler() {}

fn main() {}
