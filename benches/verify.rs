//! `Authenticator::verify` with a warm JWKS cache, beside the floor: a bare aws-lc-rs RS256
//! verification of the same token with a key parsed once. `authenticator_verify` is the full path
//! (verified-token cache off); `authenticator_verify_cached` is the default for a token seen
//! before, and `authenticator_verify_cached_and_claims` the same with its typed claims (kept
//! with the token, so copied rather than parsed); `authenticator_verify_two_domains` the full path with two domains (the issuer chosen
//! by the token's `iss`). Also jsonwebtoken's `decode` for context. Prints the ratios against
//! the floor. `authenticator_verify_keycloak` is the full path under the Keycloak issuer profile
//! (a Keycloak-shaped token: every claim parsed for the vendor check), and
//! `..._keycloak_and_claims` adds its roles, read from `realm_access` and `resource_access`.
//!
//! `authenticator_verify_jwe` is the full path for the same token encrypted as Auth0's Token
//! Encryption does (RSA-OAEP-256 and A256GCM, an RSA-2048 private-key operation before the
//! signature check), `authenticator_verify_jwe_cached` the same JWE seen before (found by its
//! bytes, no decryption); both are also printed as ratios of their JWS counterparts.
//!
//! Run: `cargo bench -p route-guard-benches --bench verify`

mod support;

use std::hint::black_box;
use std::time::Duration;

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use criterion::Criterion;
use route_guard::testing::{TestEncryptionKey, TestIssuer, TEST_AUDIENCE};
use route_guard::StandardClaims;

struct Fixture {
    rt: tokio::runtime::Runtime,
    /// The full path: the verified-token cache disabled.
    auth: route_guard::Authenticator,
    /// The defaults: a repeated token is answered from the verified-token cache.
    cached: route_guard::Authenticator,
    /// Two domains (the token's issuer and another), full path: the issuer is chosen by `iss`.
    two_domains: route_guard::Authenticator,
    _other: TestIssuer,
    /// The Keycloak profile, full path, and a Keycloak-shaped token of its issuer.
    keycloak: route_guard::Authenticator,
    keycloak_token: String,
    _keycloak: TestIssuer,
    token: String,
    /// The same token encrypted to the API's key, and Authenticators that decrypt it: the full
    /// path and the defaults (verified-token cache on).
    jwe_token: String,
    jwe: route_guard::Authenticator,
    jwe_cached: route_guard::Authenticator,
    floor_key: ParsedPublicKey,
    jwt_key: jsonwebtoken::DecodingKey,
    issuer: String,
    _issuer: TestIssuer,
}

fn fixture() -> Fixture {
    let rt = support::runtime();
    let issuer = rt.block_on(TestIssuer::start()).expect("issuer");
    let auth = issuer
        .authenticator_builder()
        .verified_token_cache(0)
        .build()
        .expect("authenticator");
    rt.block_on(auth.warm_up()).expect("keys");
    let cached = issuer.authenticator().expect("authenticator");
    rt.block_on(cached.warm_up()).expect("keys");
    let other = rt.block_on(TestIssuer::start()).expect("issuer");
    let two_domains = route_guard::Authenticator::builder()
        .domains([issuer.issuer(), other.issuer()])
        .audience(TEST_AUDIENCE)
        .verified_token_cache(0)
        .build()
        .expect("authenticator");
    rt.block_on(two_domains.warm_up()).expect("keys");
    let keycloak = rt
        .block_on(TestIssuer::start_for(route_guard::IssuerProfile::Keycloak))
        .expect("issuer");
    let keycloak_auth = keycloak
        .authenticator_builder()
        .verified_token_cache(0)
        .build()
        .expect("authenticator");
    rt.block_on(keycloak_auth.warm_up()).expect("keys");
    let keycloak_token = keycloak
        .token()
        .scopes("openid profile email read:messages")
        .roles(["default-roles-acme", "offline_access", "admin"])
        .claim("sid", "4d8d5e63-e5bf-406f-9a35-222e71fa57ff")
        .claim("preferred_username", "alice")
        .sign();
    // An Auth0-shaped access token (~740 bytes).
    let token = support::auth0_shaped(&issuer)
        .roles(["admin", "editor"])
        .claim("gty", "password")
        .claim("https://myapp.com/email", "alice@example.com")
        .sign();
    let jwe_key = TestEncryptionKey::generate("api").expect("RSA key");
    let jwe_token = jwe_key.encrypt(&token);
    let with_key = || {
        issuer
            .authenticator_builder()
            .jwe_key_with_kid("api", jwe_key.private_key_pem())
    };
    let jwe = with_key()
        .verified_token_cache(0)
        .build()
        .expect("authenticator");
    rt.block_on(jwe.warm_up()).expect("keys");
    let jwe_cached = with_key().build().expect("authenticator");
    rt.block_on(jwe_cached.warm_up()).expect("keys");
    let der = issuer
        .public_key_der(&issuer.signing_kid())
        .expect("signing key");
    let floor_key = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &der).expect("key");
    let jwt_key = jsonwebtoken::DecodingKey::from_rsa_der(&der);
    Fixture {
        issuer: issuer.issuer().to_owned(),
        rt,
        auth,
        cached,
        two_domains,
        _other: other,
        keycloak: keycloak_auth,
        keycloak_token,
        _keycloak: keycloak,
        token,
        jwe_token,
        jwe,
        jwe_cached,
        floor_key,
        jwt_key,
        _issuer: issuer,
    }
}

fn bench(c: &mut Criterion, f: &Fixture) {
    assert!(support::signature_verifies(&f.floor_key, &f.token));
    assert!(f.rt.block_on(f.auth.verify(&f.token)).is_ok());
    assert!(f.rt.block_on(f.two_domains.verify(&f.token)).is_ok());
    assert!(f.rt.block_on(f.keycloak.verify(&f.keycloak_token)).is_ok());
    assert!(f.rt.block_on(f.jwe.verify(&f.jwe_token)).is_ok());
    assert!(f.rt.block_on(f.jwe.verify(&f.token)).is_ok());
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[TEST_AUDIENCE]);
    validation.set_issuer(&[&f.issuer]);
    assert!(jsonwebtoken::decode::<serde_json::Value>(&f.token, &f.jwt_key, &validation).is_ok());

    let mut group = c.benchmark_group("verify");
    group.bench_function("floor_aws_lc_rs_rs256", |b| {
        b.iter(|| support::signature_verifies(black_box(&f.floor_key), black_box(&f.token)))
    });
    group.bench_function("authenticator_verify", |b| {
        b.iter(|| f.rt.block_on(f.auth.verify(black_box(&f.token))).is_ok())
    });
    group.bench_function("authenticator_verify_and_claims", |b| {
        b.iter(|| {
            f.rt.block_on(f.auth.verify(black_box(&f.token)))
                .and_then(|t| t.claims::<StandardClaims>())
                .is_ok()
        })
    });
    group.bench_function("authenticator_verify_two_domains", |b| {
        b.iter(|| {
            f.rt.block_on(f.two_domains.verify(black_box(&f.token)))
                .is_ok()
        })
    });
    group.bench_function("authenticator_verify_keycloak", |b| {
        b.iter(|| {
            f.rt.block_on(f.keycloak.verify(black_box(&f.keycloak_token)))
                .is_ok()
        })
    });
    group.bench_function("authenticator_verify_keycloak_and_claims", |b| {
        b.iter(|| {
            f.rt.block_on(f.keycloak.verify(black_box(&f.keycloak_token)))
                .and_then(|t| t.claims::<StandardClaims>())
                .is_ok_and(|c| c.roles.len() == 3)
        })
    });
    group.bench_function("authenticator_verify_cached", |b| {
        b.iter(|| f.rt.block_on(f.cached.verify(black_box(&f.token))).is_ok())
    });
    group.bench_function("authenticator_verify_cached_and_claims", |b| {
        b.iter(|| {
            f.rt.block_on(f.cached.verify(black_box(&f.token)))
                .and_then(|t| t.claims::<StandardClaims>())
                .is_ok()
        })
    });
    group.bench_function("authenticator_verify_jwe", |b| {
        b.iter(|| f.rt.block_on(f.jwe.verify(black_box(&f.jwe_token))).is_ok())
    });
    group.bench_function("authenticator_verify_jwe_configured_jws", |b| {
        b.iter(|| f.rt.block_on(f.jwe.verify(black_box(&f.token))).is_ok())
    });
    group.bench_function("authenticator_verify_jwe_cached", |b| {
        b.iter(|| {
            f.rt.block_on(f.jwe_cached.verify(black_box(&f.jwe_token)))
                .is_ok()
        })
    });
    group.bench_function("jsonwebtoken_decode", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<serde_json::Value>(black_box(&f.token), &f.jwt_key, &validation)
                .is_ok()
        })
    });
    group.finish();
}

fn report_ratios() {
    let Some(floor) = support::mean_ns("verify", "floor_aws_lc_rs_rs256") else {
        return;
    };
    support::print_ratios(
        "verify",
        ("the floor", floor),
        &[
            "authenticator_verify",
            "authenticator_verify_and_claims",
            "authenticator_verify_two_domains",
            "authenticator_verify_keycloak",
            "authenticator_verify_keycloak_and_claims",
            "authenticator_verify_cached",
            "authenticator_verify_cached_and_claims",
            "authenticator_verify_jwe",
            "authenticator_verify_jwe_configured_jws",
            "authenticator_verify_jwe_cached",
            "jsonwebtoken_decode",
        ],
    );
    // An encrypted token against the same token signed only, measured in this run.
    if let Some(jws) = support::mean_ns("verify", "authenticator_verify") {
        support::print_ratios(
            "verify",
            ("the JWS full path", jws),
            &[
                "authenticator_verify_jwe",
                "authenticator_verify_jwe_configured_jws",
            ],
        );
    }
    if let Some(jws) = support::mean_ns("verify", "authenticator_verify_cached") {
        support::print_ratios(
            "verify",
            ("the JWS seen before", jws),
            &["authenticator_verify_jwe_cached"],
        );
    }
}

fn main() {
    let fixture = fixture();
    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5));
    bench(&mut c, &fixture);
    c.final_summary();
    report_ratios();
}
