// A method taking `self` is not an axum handler; take the state with `State<..>` instead.
use route_guard::require_auth;

struct Api;

impl Api {
    #[require_auth]
    async fn handler(&self) {}
}

fn main() {}
