//! One request through an axum `Router` in process (no sockets): the quickstart's public route
//! against its `#[require_auth]` route with typed claims, for a token seen before (the default
//! verified-token cache) and for a full verification. Typed claims both ways: shared
//! (`Claims<Arc<ApiClaims>>`, as the quickstart reads them) and copied (`Claims<ApiClaims>`
//! of a `Clone` type). Also one of 2,000 tokens seen before, in turn, against the public route
//! sent the same tokens: what many clients' cached entries cost in memory traffic. Prints what
//! the protected route costs beyond the public one, and the full path against the bare RS256
//! floor.
//!
//! Run: `cargo bench -p route-guard-benches --bench request`

mod support;

use std::hint::black_box;
use std::time::Duration;

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use criterion::Criterion;
use route_guard::testing::TestIssuer;
use support::quickstart::app;
use tower::ServiceExt as _;

struct Fixture {
    rt: tokio::runtime::Runtime,
    cached: Router,
    full: Router,
    token: String,
    /// 2,000 tokens of as many users, all in the verified-token cache: what a busy API sees.
    pool: Vec<String>,
    next: std::cell::Cell<usize>,
    floor_key: ParsedPublicKey,
    _issuer: TestIssuer,
}

fn fixture() -> Fixture {
    let rt = support::runtime();
    let issuer = rt.block_on(TestIssuer::start()).expect("issuer");
    let cached = issuer
        .authenticator_builder()
        .roles_claim("https://myapp.com/roles")
        .build()
        .expect("authenticator");
    rt.block_on(cached.warm_up()).expect("keys");
    let full = issuer
        .authenticator_builder()
        .roles_claim("https://myapp.com/roles")
        .verified_token_cache(0)
        .build()
        .expect("authenticator");
    rt.block_on(full.warm_up()).expect("keys");
    let token = support::auth0_shaped(&issuer)
        .claim("https://myapp.com/roles", vec!["admin", "editor"])
        .claim("gty", "password")
        .sign();
    let der = issuer
        .public_key_der(&issuer.signing_kid())
        .expect("signing key");
    let pool = (0..POOL).map(|i| support::pool_token(&issuer, i)).collect();
    Fixture {
        pool,
        next: std::cell::Cell::new(0),
        floor_key: ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &der).expect("key"),
        cached: app(&cached),
        full: app(&full),
        rt,
        token,
        _issuer: issuer,
    }
}

/// How many tokens the pool holds: they fit the verified-token cache (4,096 entries).
const POOL: usize = 2_000;

/// The same request shape on every route: the token is sent to the public route too.
fn call(f: &Fixture, router: &Router, path: &str) -> StatusCode {
    send(f, router, path, &f.token)
}

/// [`call`] with the pool's tokens in turn.
fn call_pool(f: &Fixture, router: &Router, path: &str) -> StatusCode {
    let i = f.next.get();
    f.next.set((i + 1) % f.pool.len());
    send(f, router, path, &f.pool[i])
}

fn send(f: &Fixture, router: &Router, path: &str, token: &str) -> StatusCode {
    let request = Request::get(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    f.rt.block_on(router.clone().oneshot(request))
        .map_or(StatusCode::INTERNAL_SERVER_ERROR, |r| r.status())
}

fn bench(c: &mut Criterion, f: &Fixture) {
    for router in [&f.cached, &f.full] {
        assert_eq!(call(f, router, "/api/private"), StatusCode::OK);
    }
    for _ in 0..POOL {
        assert_eq!(call_pool(f, &f.cached, "/api/private"), StatusCode::OK);
    }
    let mut group = c.benchmark_group("request");
    group.bench_function("floor_aws_lc_rs_rs256", |b| {
        b.iter(|| support::signature_verifies(black_box(&f.floor_key), black_box(&f.token)))
    });
    group.bench_function("public", |b| {
        b.iter(|| call(f, &f.cached, black_box("/api/public")))
    });
    group.bench_function("private_token_seen_before", |b| {
        b.iter(|| call(f, &f.cached, black_box("/api/private")))
    });
    group.bench_function("public_pool", |b| {
        b.iter(|| call_pool(f, &f.cached, black_box("/api/public")))
    });
    group.bench_function("private_pool_seen_before", |b| {
        b.iter(|| call_pool(f, &f.cached, black_box("/api/private")))
    });
    group.bench_function("private_token_seen_before_copied", |b| {
        b.iter(|| call(f, &f.cached, black_box("/api/private-copied")))
    });
    group.bench_function("private_full_verification", |b| {
        b.iter(|| call(f, &f.full, black_box("/api/private")))
    });
    group.finish();
}

fn report() {
    let mean = |name| support::mean_ns("request", name);
    let (Some(floor), Some(public), Some(seen), Some(copied), Some(full)) = (
        mean("floor_aws_lc_rs_rs256"),
        mean("public"),
        mean("private_token_seen_before"),
        mean("private_token_seen_before_copied"),
        mean("private_full_verification"),
    ) else {
        return;
    };
    let us = |ns: f64| ns / 1000.0;
    println!(
        "\nrequest: in process, beyond the public route ({:.2} µs):",
        us(public)
    );
    println!(
        "  private, token seen before    {:>6.2} µs  +{:.2} µs (claims shared)",
        us(seen),
        us(seen - public)
    );
    println!(
        "  private, token seen before    {:>6.2} µs  +{:.2} µs (claims copied)",
        us(copied),
        us(copied - public)
    );
    if let (Some(public_pool), Some(seen_pool)) =
        (mean("public_pool"), mean("private_pool_seen_before"))
    {
        println!(
            "  private, 1 of {POOL} seen before {:>6.2} µs  +{:.2} µs (public route with the same {POOL}: {:.2} µs)",
            us(seen_pool),
            us(seen_pool - public_pool),
            us(public_pool)
        );
    }
    println!(
        "  private, full verification    {:>6.2} µs  +{:.2} µs = {:.3}× the RS256 floor ({:.2} µs)",
        us(full),
        us(full - public),
        (full - public) / floor,
        us(floor)
    );
}

fn main() {
    let fixture = fixture();
    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(4));
    bench(&mut c, &fixture);
    c.final_summary();
    report();
}
