// Actors are client ids or subjects: string literals.
use route_guard::require_actor;

#[require_actor(42)]
async fn handler() {}

fn main() {}
