//! What a rate limit adds to a request: one request through an axum `Router` in process (no
//! sockets), a `#[require_auth]` route with a token seen before, without a limit and under
//! `layer::rate_limit` (a quota it never reaches) in memory, and in Redis when a
//! `redis-server` binary is found (the bench starts its own on a free port).
//!
//! Run: `cargo bench -p route-guard-benches --bench ratelimit`

mod support;

use std::hint::black_box;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use criterion::Criterion;
use route_guard::layer::{self, Quota};
use route_guard::testing::TestIssuer;
use route_guard::{require_auth, Authenticator, AuthenticatorBuilder, Claims};
use serde_json::{json, Value};
use tower::ServiceExt as _;

#[require_auth]
async fn private(claims: Claims) -> Json<Value> {
    Json(json!({ "user": claims.sub }))
}

fn app(auth: &Authenticator, limited: bool) -> Router {
    let router = Router::new().route("/api/private", get(private));
    let router = match limited {
        true => router.route_layer(layer::rate_limit(Quota::per_second(u32::MAX))),
        false => router,
    };
    router.layer(auth.layer())
}

struct Redis(Child);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `redis-server` on a free loopback port, if the binary is installed.
fn redis() -> Option<(Redis, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .ok()?
        .port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some((Redis(child), format!("redis://127.0.0.1:{port}/0")));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn main() {
    let rt = support::runtime();
    let issuer = rt.block_on(TestIssuer::start()).expect("issuer");
    let build = |configure: fn(AuthenticatorBuilder, &str) -> AuthenticatorBuilder, url: &str| {
        let auth = configure(issuer.authenticator_builder(), url)
            .build()
            .expect("authenticator");
        rt.block_on(auth.warm_up()).expect("keys");
        auth
    };
    let memory = build(|b, _| b, "");
    let server = redis();
    let redis_auth = server
        .as_ref()
        .map(|(_, url)| build(|b, url| b.rate_limit_redis(url), url));
    let token = support::auth0_shaped(&issuer).sign();
    let mut routers = vec![
        ("no_limit", app(&memory, false)),
        ("memory_limit", app(&memory, true)),
    ];
    match &redis_auth {
        Some(auth) => routers.push(("redis_limit", app(auth, true))),
        None => println!("ratelimit: no redis-server found, the Redis figure is skipped"),
    }
    let call = |router: &Router| {
        let request = Request::get("/api/private")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request");
        rt.block_on(router.clone().oneshot(request))
            .map_or(StatusCode::INTERNAL_SERVER_ERROR, |r| r.status())
    };
    for (name, router) in &routers {
        assert_eq!(call(router), StatusCode::OK, "{name}");
    }
    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(4));
    let mut group = c.benchmark_group("ratelimit");
    for (name, router) in &routers {
        group.bench_function(*name, |b| b.iter(|| call(black_box(router))));
    }
    // The limit check alone (the in-memory limiter and its bookkeeping), and the empty future
    // it runs in, as a baseline.
    let quota = Quota::per_second(u32::MAX);
    group.bench_function("memory_check", |b| {
        b.iter(|| rt.block_on(memory.rate_limit("bench", quota, black_box("sub:auth0|bench"))))
    });
    group.bench_function("empty_block_on", |b| {
        b.iter(|| rt.block_on(async { black_box(1) }))
    });
    group.finish();
    c.final_summary();

    let mean = |name| support::mean_ns("ratelimit", name);
    let Some(base) = mean("no_limit") else {
        return;
    };
    println!(
        "\nratelimit: a request with a token seen before, {:.2} µs without a limit:",
        base / 1000.0
    );
    if let (Some(check), Some(empty)) = (mean("memory_check"), mean("empty_block_on")) {
        println!(
            "  the in-memory limit check alone: {:.3} µs ({:.3} µs with an empty block_on)",
            (check - empty) / 1000.0,
            check / 1000.0
        );
    }
    for name in ["memory_limit", "redis_limit"] {
        if let Some(ns) = mean(name) {
            println!(
                "  {name:<13} {:>7.2} µs  +{:.2} µs",
                ns / 1000.0,
                (ns - base) / 1000.0
            );
        }
    }
}
