//! Rate limits shared through a real `redis-server` (feature `redis`): two instances spend one
//! budget per caller; when Redis goes away, requests pass (the default) or get 503 (fail
//! closed), as configured. Fails under `CI=true` without the binary.
#![cfg(feature = "redis")]

use crate::common;

use axum::routing::get;
use axum::{Json, Router};
use common::redis::{command, free_port, redis_server_binary, start_redis};
use common::{send, Reply};
use route_guard::layer::{self, Quota};
use route_guard::testing::TestIssuer;
use route_guard::{rate_limit, require_auth, Authenticator, AuthenticatorBuilder, Claims};
use serde_json::{json, Value};

#[require_auth]
#[rate_limit("2/minute")]
async fn expensive(claims: Claims) -> Json<Value> {
    Json(json!({ "sub": claims.sub }))
}

fn routes() -> Router {
    Router::new()
        .route("/shared", get(|| async { "ok" }))
        .route_layer(layer::rate_limit(Quota::per_minute(3)).name("shared"))
        .route("/expensive", get(expensive))
}

async fn instance(
    issuer: &TestIssuer,
    configure: impl FnOnce(AuthenticatorBuilder) -> AuthenticatorBuilder,
) -> (Authenticator, String) {
    let auth = configure(issuer.authenticator_builder())
        .build()
        .expect("builds");
    let (base, _server) = common::serve_with_peer_address(routes().layer(auth.layer())).await;
    (auth, base)
}

async fn call(base: &str, path: &str, token: &str) -> Reply {
    send(
        common::client()
            .get(format!("{base}{path}"))
            .bearer_auth(token),
    )
    .await
}

#[tokio::test]
async fn two_instances_sharing_redis_spend_one_budget_and_fail_as_configured() {
    let Some(binary) = redis_server_binary() else {
        return;
    };
    let port = free_port();
    let mut redis = start_redis(&binary, port).await;
    let url = format!("redis://127.0.0.1:{port}/0");
    let issuer = TestIssuer::start().await.expect("issuer");
    let (first, first_base) = instance(&issuer, |b| b.rate_limit_redis(&url)).await;
    let (_second, second_base) = instance(&issuer, |b| b.rate_limit_redis(&url)).await;
    let (closed, closed_base) = instance(&issuer, |b| {
        b.rate_limit_redis(&url).rate_limit_fail_closed(true)
    })
    .await;
    let alice = issuer.token().sub("auth0|alice").sign();
    let bob = issuer.token().sub("auth0|bob").sign();

    // The router's limit: 3 a minute between both instances.
    let replies = [
        call(&first_base, "/shared", &alice).await,
        call(&second_base, "/shared", &alice).await,
        call(&first_base, "/shared", &alice).await,
    ];
    for (reply, remaining) in replies.iter().zip([2, 1, 0]) {
        assert_eq!(reply.status, 200, "body: {}", reply.body);
        assert!(
            reply
                .header("ratelimit")
                .starts_with(&format!("\"shared\";r={remaining};t=")),
            "{}",
            reply.header("ratelimit")
        );
    }
    let limited = call(&second_base, "/shared", &alice).await;
    assert_eq!(limited.status.as_u16(), 429);
    assert_eq!(limited.error(), "rate_limited");
    let retry_after: u64 = limited.header("retry-after").parse().expect("seconds");
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    assert_eq!(call(&second_base, "/shared", &bob).await.status, 200);
    // The key lives in Redis with a TTL: it expires once the budget is full again.
    // Keyed by the issuer (8 characters of its SHA-256, base64url) and the subject.
    let key = format!(
        "route-guard:rl:shared:iss:{}:sub:auth0|alice",
        issuer_tag(issuer.issuer())
    );
    let ttl = command(port, &["PTTL", &key]).await;
    let ttl: i64 = ttl.trim_start_matches(':').parse().expect("a TTL");
    assert!((1..=60_000).contains(&ttl), "PTTL {ttl}");

    // A handler's own limit is shared too (its name is the handler's path).
    assert_eq!(call(&first_base, "/expensive", &bob).await.status, 200);
    assert_eq!(call(&second_base, "/expensive", &bob).await.status, 200);
    let expensive = call(&first_base, "/expensive", &bob).await;
    assert_eq!(expensive.status.as_u16(), 429);
    assert!(expensive
        .header("ratelimit")
        .starts_with("\"it::rate_limits_redis::expensive\";r=0;"));

    // Redis goes away: the default lets requests pass, logged once and counted; fail-closed
    // answers 503.
    let collector = common::logs::Collector::default();
    let _logs = tracing::subscriber::set_default(collector.clone());
    redis.kill().await.expect("redis-server stops");
    let _ = redis.wait().await;
    let carol = issuer.token().sub("auth0|carol").sign();
    for _ in 0..4 {
        let open = call(&first_base, "/shared", &carol).await;
        assert_eq!(open.status, 200, "body: {}", open.body);
        assert_eq!(open.header("ratelimit"), "");
    }
    assert_eq!(first.stats().rate_limit_store_failures(), 4);
    let errors = collector.at_level_since("ERROR", 0);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].contains("rate limit store"), "{errors:#?}");
    let shut = call(&closed_base, "/shared", &carol).await;
    shut.assert_unavailable_for("rate limit store", "1");
    assert_eq!(
        closed
            .stats()
            .rejected(route_guard::RejectionReason::RateLimitUnavailable),
        1
    );
}

/// The tag a rate-limit key gives an issuer: base64url of the first 6 bytes of its SHA-256.
fn issuer_tag(issuer: &str) -> String {
    use base64::Engine;
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, issuer.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&hash.as_ref()[..6])
}
