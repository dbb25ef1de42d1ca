// An empty organization could never match; `#[require_org]` alone accepts any organization.
use route_guard::require_org;

#[require_org("")]
async fn handler() {}

fn main() {}
