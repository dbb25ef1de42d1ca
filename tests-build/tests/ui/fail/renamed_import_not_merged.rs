// Stacked attributes are merged by name; one imported under another name cannot be, and says so.
use route_guard::require_role as role;
use route_guard::require_scopes;

#[require_scopes("read:messages")]
#[role("admin")]
async fn handler() {}

fn main() {}
