// A quota route-guard cannot read fails the build at its literal, not at the first request.
use route_guard::{rate_limit, require_auth};

#[require_auth]
#[rate_limit("10 per fortnight")]
async fn expensive() {}

#[rate_limit("0/minute")]
async fn never() {}

fn main() {
    let _ = axum::Router::<()>::new()
        .route("/a", axum::routing::get(expensive))
        .route("/b", axum::routing::get(never));
}
