// `any()` with nothing inside: write `#[require_actor]` to accept any actor.
use route_guard::require_actor;

#[require_actor(any())]
async fn handler() {}

fn main() {}
