// Step-up attributes say what they need: acr values, and an age in whole seconds.
use route_guard::{require_acr, require_auth_age};

#[require_acr]
async fn no_values() {}

#[require_auth_age(300)]
async fn bare_number() {}

#[require_auth_age(max_secs = "300")]
async fn quoted() {}

fn main() {}
