// The attributes apply to handler functions only.
use route_guard::require_auth;

#[require_auth]
struct NotAHandler;

fn main() {}
