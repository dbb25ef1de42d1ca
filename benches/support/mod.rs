//! What the benches share: the runtime, the Auth0-shaped token, the bare signature check of the
//! floor, and reading criterion's estimates back to print ratios.
#![allow(dead_code)] // each bench uses its own part of this

pub mod quickstart;
pub mod server;

use aws_lc_rs::signature::ParsedPublicKey;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use route_guard::testing::{TestIssuer, TokenBuilder, TEST_AUDIENCE};

/// A current-thread runtime: each iteration's `block_on` is the only thing it runs.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A runtime whose one worker thread keeps a `TestIssuer` serving while the bench's own thread
/// waits on child processes (the quickstart under wrk, valgrind's runs).
pub fn serving_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Token `i` of a pool: Auth0-shaped, with roles under the quickstart's claim, about 740 bytes,
/// valid for an hour; a distinct subject (and so signature) per `i`.
pub fn pool_token(issuer: &TestIssuer, i: usize) -> String {
    auth0_shaped(issuer)
        .sub(&format!("auth0|5f7c8ec7c33c6c00{i:08}"))
        .claim("https://myapp.com/roles", vec!["admin", "editor"])
        .claim("gty", "password")
        .expires_in(std::time::Duration::from_secs(3600))
        .sign()
}

/// The claims of an Auth0 access token for a user of an API with RBAC.
pub fn auth0_shaped(issuer: &TestIssuer) -> TokenBuilder<'_> {
    issuer
        .token()
        .sub("auth0|5f7c8ec7c33c6c004bbafe82")
        .audiences([TEST_AUDIENCE, "https://tenant.us.auth0.com/userinfo"])
        .claim("azp", "Xo8pqPzEXAMPLEclientID123456")
        .scopes("openid profile email read:messages write:messages")
        .permissions(["read:messages", "write:messages", "delete:messages"])
}

/// The floor: a bare aws-lc-rs check of a compact JWS's signature with a key parsed once.
pub fn signature_verifies(key: &ParsedPublicKey, jws: &str) -> bool {
    let Some(dot) = jws.rfind('.') else {
        return false;
    };
    let Ok(signature) = URL_SAFE_NO_PAD.decode(&jws[dot + 1..]) else {
        return false;
    };
    key.verify_sig(&jws.as_bytes()[..dot], &signature).is_ok()
}

/// The mean time in nanoseconds of `group/name` from this run's criterion output.
pub fn mean_ns(group: &str, name: &str) -> Option<f64> {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()?
        .join("criterion")
        .join(group)
        .join(name)
        .join("new")
        .join("estimates.json");
    let text = std::fs::read_to_string(dir).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["mean"]["point_estimate"].as_f64()
}

/// Prints each of `names` as a ratio against `baseline` (all in `group`).
pub fn print_ratios(group: &str, baseline: (&str, f64), names: &[&str]) {
    println!(
        "\n{group}: ratios against {} ({:.2} µs):",
        baseline.0,
        baseline.1 / 1000.0
    );
    for name in names {
        if let Some(t) = mean_ns(group, name) {
            println!(
                "  {name:<36} {:>8.2} µs  {:.3}×",
                t / 1000.0,
                t / baseline.1
            );
        }
    }
}
