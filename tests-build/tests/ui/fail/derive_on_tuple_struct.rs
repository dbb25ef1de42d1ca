// Claims are named: a tuple struct has no claim names.
use route_guard::TokenClaims;

#[derive(TokenClaims)]
struct Claims(String, Vec<String>);

fn main() {}
