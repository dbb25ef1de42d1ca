// Permissions follow the scope rule: no whitespace inside one permission.
use route_guard::require_permissions;

#[require_permissions(any("read messages"))]
async fn handler() {}

fn main() {}
