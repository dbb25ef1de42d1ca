//! jsonwebtoken panics at its first use when both of its crypto backends are compiled in and no
//! provider was chosen. This test binary enables both (see the dev-dependencies), as Cargo
//! feature unification with another crate would. Building an Authenticator chooses aws-lc-rs.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use route_guard::Authenticator;
use serde_json::json;

const PROBE: &str = "ROUTE_GUARD_PROVIDER_PROBE";

fn round_trip() -> serde_json::Value {
    let key = b"a-shared-secret-of-32-bytes-long";
    let claims = json!({ "sub": "x", "exp": 9_999_999_999u64 });
    let token = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(key),
    )
    .expect("encodes");
    let mut validation = Validation::new(Algorithm::HS256);
    validation.required_spec_claims.clear();
    decode::<serde_json::Value>(&token, &DecodingKey::from_secret(key), &validation)
        .expect("decodes")
        .claims
}

#[test]
fn jsonwebtoken_works_once_an_authenticator_is_built_even_with_both_backends() {
    let _auth = Authenticator::builder()
        .domain("tenant.example.com")
        .audience("https://api")
        .build()
        .expect("builds");
    // A second Authenticator installs again: harmless.
    let _again = Authenticator::builder()
        .domain("tenant.example.com")
        .audience("https://api")
        .build()
        .expect("builds twice");
    assert_eq!(round_trip()["sub"], "x");
}

/// Run in a child process by the test below: jsonwebtoken with no Authenticator built.
#[test]
fn probe_without_authenticator() {
    if std::env::var_os(PROBE).is_some() {
        round_trip();
    }
}

#[test]
fn without_an_authenticator_jsonwebtoken_would_panic() {
    let exe = std::env::current_exe().expect("test binary path");
    let output = std::process::Command::new(exe)
        .args(["--exact", "probe_without_authenticator", "--test-threads=1"])
        .env(PROBE, "1")
        .output()
        .expect("child runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "the probe should panic: {stdout}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stdout.contains("CryptoProvider") || stderr.contains("CryptoProvider"),
        "{stdout}\n{stderr}"
    );
}
