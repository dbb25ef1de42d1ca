// `any()` with nothing inside could never pass.
use route_guard::require_role;

#[require_role(any())]
async fn handler() {}

fn main() {}
