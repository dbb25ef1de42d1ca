// axum allows 16 extractors and the guard takes one: a guarded handler takes at most 15.
use axum::http::{HeaderMap, Method, Uri};
use route_guard::require_auth;

#[require_auth]
async fn handler(
    _a: Method, _b: Uri, _c: HeaderMap, _d: Method, _e: Uri, _f: HeaderMap, _g: Method, _h: Uri,
    _i: HeaderMap, _j: Method, _k: Uri, _l: HeaderMap, _m: Method, _n: Uri, _o: HeaderMap,
    _p: String,
) {
}

fn main() {}
