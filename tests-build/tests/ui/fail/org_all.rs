// A token belongs to one organization, so `all(..)` of several could never pass.
use route_guard::require_org;

#[require_org(all("org_abc123", "org_def456"))]
async fn handler() {}

fn main() {}
