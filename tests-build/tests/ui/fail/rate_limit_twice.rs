// One limit per handler: two would leave the reader guessing which one speaks.
use route_guard::rate_limit;

#[rate_limit("10/minute")]
#[rate_limit("100/hour")]
async fn expensive() {}

#[rate_limit]
async fn nothing() {}

fn main() {}
