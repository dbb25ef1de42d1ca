// `#[require_org]` takes organizations, not claim conditions (that is `#[require_claim]`).
use route_guard::require_org;

#[require_org(org_id = "org_abc123")]
async fn handler() {}

fn main() {}
