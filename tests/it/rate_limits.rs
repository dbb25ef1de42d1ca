//! Rate limits keyed by the verified caller (`route_guard::layer::rate_limit`, in memory), over
//! real HTTP against a `TestIssuer`; the Redis store is in `tests/rate_limits_redis.rs`.

use crate::common;

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use axum::{Json, Router};
use common::Reply;
use route_guard::layer::{self, Quota};
use route_guard::testing::TestIssuer;
use route_guard::{rate_limit, require_scopes, AuthenticatorBuilder, Claims, RejectionReason};
use serde_json::{json, Value};
use tower::ServiceExt;

async fn whoami(claims: Option<Claims>) -> Json<Value> {
    Json(json!({ "sub": claims.and_then(|c| c.sub.clone()) }))
}

#[require_scopes("run:reports")]
#[rate_limit("2/minute")]
async fn expensive(claims: Claims) -> Json<Value> {
    Json(json!({ "result": "expensive operation result", "sub": claims.sub }))
}

fn routes() -> Router {
    let api = Router::new()
        .route("/api/expensive", get(expensive))
        .route("/api/cheap", get(whoami))
        .route_layer(layer::rate_limit(Quota::per_minute(10)).name("api"));
    let limited = Router::new()
        .route("/limited", get(whoami))
        .route_layer(layer::rate_limit(Quota::per_minute(3)));
    Router::new()
        .merge(api)
        .merge(limited)
        .route(
            "/per-org",
            get(whoami).route_layer(layer::rate_limit(Quota::per_minute(2)).name("per-org").key(
                |token| {
                    token
                        .claim("org_id")
                        .and_then(|v| v.as_str())
                        .map(str::to_owned)
                },
            )),
        )
        .route("/free", get(whoami))
}

struct App {
    issuer: TestIssuer,
    auth: route_guard::Authenticator,
    base: String,
    client: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for App {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Served with the peer address, as the layer's docs say.
async fn app_with(configure: impl FnOnce(AuthenticatorBuilder) -> AuthenticatorBuilder) -> App {
    let issuer = TestIssuer::start().await.expect("issuer");
    let auth = configure(issuer.authenticator_builder())
        .build()
        .expect("builds");
    let (base, server) = common::serve_with_peer_address(routes().layer(auth.layer())).await;
    App {
        issuer,
        auth,
        base,
        client: common::client(),
        server,
    }
}

impl App {
    async fn get(&self, path: &str, token: Option<&str>, headers: &[(&str, &str)]) -> Reply {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        common::send(request).await
    }
}

fn assert_limited(reply: &Reply, policy: &str) {
    assert_eq!(reply.status.as_u16(), 429, "body: {}", reply.body);
    assert_eq!(reply.error(), "rate_limited");
    assert!(
        reply
            .description()
            .starts_with("too many requests: this route allows 3/minute per caller; retry in "),
        "{}",
        reply.description()
    );
    let retry_after: u64 = reply.header("retry-after").parse().expect("whole seconds");
    assert!((1..=20).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(reply.header("ratelimit-policy"), policy);
    assert_eq!(
        reply.header("ratelimit"),
        format!("\"3/minute\";r=0;t={retry_after}")
    );
    assert_eq!(reply.www_authenticate, None, "the credentials are fine");
}

#[tokio::test]
async fn a_caller_spends_its_own_budget_and_a_refreshed_token_shares_it() {
    let app = app_with(|b| b).await;
    let alice = app.issuer.token().sub("auth0|alice").sign();
    let bob = app.issuer.token().sub("auth0|bob").sign();
    for remaining in [2, 1, 0] {
        let reply = app.get("/limited", Some(&alice), &[]).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body["sub"], "auth0|alice");
        // The fields on a successful response too.
        assert_eq!(reply.header("ratelimit-policy"), "\"3/minute\";q=3;w=60");
        let state = reply.header("ratelimit");
        assert!(
            state.starts_with(&format!("\"3/minute\";r={remaining};t=")),
            "{state}"
        );
    }
    let limited = app.get("/limited", Some(&alice), &[]).await;
    assert_limited(&limited, "\"3/minute\";q=3;w=60");

    // Another caller is untouched.
    assert_eq!(app.get("/limited", Some(&bob), &[]).await.status, 200);
    // A new token of the same `sub` (a refresh) spends the same budget.
    let refreshed = app
        .issuer
        .token()
        .sub("auth0|alice")
        .expires_in(Duration::from_secs(7200))
        .sign();
    assert_ne!(refreshed, alice);
    assert_limited(
        &app.get("/limited", Some(&refreshed), &[]).await,
        "\"3/minute\";q=3;w=60",
    );
    // Routes without the layer are not limited.
    assert_eq!(app.get("/free", Some(&alice), &[]).await.status, 200);
    assert!(app
        .get("/free", Some(&alice), &[])
        .await
        .header("ratelimit")
        .is_empty());
    let stats = app.auth.stats();
    assert_eq!(stats.rejected(RejectionReason::RateLimited), 2);
    assert_eq!(stats.rate_limit_callers(), 2);
}

#[tokio::test]
async fn callers_without_a_valid_token_are_keyed_by_address() {
    let app = app_with(|b| b).await;
    for _ in 0..3 {
        assert_eq!(app.get("/limited", None, &[]).await.status, 200);
    }
    let limited = app.get("/limited", None, &[]).await;
    assert_limited(&limited, "\"3/minute\";q=3;w=60");
    // A bad token is no identity: the same address budget.
    assert_limited(
        &app.get("/limited", Some("a.b.c"), &[]).await,
        "\"3/minute\";q=3;w=60",
    );
    // Untrusted forwarding headers change nothing.
    let spoofed = app
        .get("/limited", None, &[("x-forwarded-for", "198.51.100.1")])
        .await;
    assert_eq!(spoofed.status, 429);
    // A verified caller from the same address has its own budget.
    let carol = app.issuer.token().sub("auth0|carol").sign();
    assert_eq!(app.get("/limited", Some(&carol), &[]).await.status, 200);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_the_caller() {
    let app = app_with(|b| b.proxy_headers(route_guard::ProxyHeaders::XForwarded)).await;
    let from = |ip: &'static str| [("x-forwarded-for", ip)];
    for _ in 0..3 {
        let reply = app
            .get("/limited", None, &from("203.0.113.9, 198.51.100.1"))
            .await;
        assert_eq!(reply.status, 200);
    }
    // The proxy's entry (the last) is the caller; what the client claimed before it is not.
    let limited = app
        .get("/limited", None, &from("192.0.2.1, 198.51.100.1"))
        .await;
    assert_eq!(limited.status, 429);
    let other = app.get("/limited", None, &from("198.51.100.2")).await;
    assert_eq!(other.status, 200);
    // A `Forwarded` header is not the one this proxy sets: not read (the peer address is).
    let other_header = [("forwarded", "for=192.0.2.1, for=\"[2001:db8::17]:4711\"")];
    for _ in 0..3 {
        assert_eq!(app.get("/limited", None, &other_header).await.status, 200);
    }
    assert_eq!(app.get("/limited", None, &[]).await.status, 429);
    assert_eq!(app.auth.stats().rate_limit_callers(), 3);

    // Behind a proxy that sets `Forwarded`: its last element's `for=`, IPv6 by its /64.
    let app = app_with(|b| b.proxy_headers(route_guard::ProxyHeaders::Forwarded)).await;
    let v6 = |port: u16| format!("for=192.0.2.60;proto=https, for=\"[2001:db8::{port:x}]:4711\"");
    for port in 1..=3 {
        let header = v6(port);
        let reply = app.get("/limited", None, &[("forwarded", &header)]).await;
        assert_eq!(reply.status, 200);
    }
    let header = v6(4);
    let limited = app.get("/limited", None, &[("forwarded", &header)]).await;
    assert_eq!(limited.status, 429, "one /64, one caller");
    let spoofed = app
        .get("/limited", None, &[("x-forwarded-for", "198.51.100.77")])
        .await;
    assert_eq!(
        spoofed.status, 200,
        "X-Forwarded-For is not read: the peer is the caller"
    );
    assert_eq!(app.auth.stats().rate_limit_callers(), 2);
}

#[tokio::test]
async fn a_key_function_shares_one_budget_per_organization() {
    let app = app_with(|b| b).await;
    let token = |sub: &str, org: &str| app.issuer.token().sub(sub).claim("org_id", org).sign();
    let (a1, a2, b1) = (
        token("auth0|1", "org_a"),
        token("auth0|2", "org_a"),
        token("auth0|3", "org_b"),
    );
    assert_eq!(app.get("/per-org", Some(&a1), &[]).await.status, 200);
    let second = app.get("/per-org", Some(&a2), &[]).await;
    assert_eq!(second.status, 200);
    assert_eq!(second.header("ratelimit"), "\"per-org\";r=0;t=60");
    assert_eq!(app.get("/per-org", Some(&a1), &[]).await.status, 429);
    assert_eq!(app.get("/per-org", Some(&b1), &[]).await.status, 200);
}

#[tokio::test]
async fn the_429_goes_through_the_error_body_hook() {
    use axum::response::IntoResponse;
    let app = app_with(|b| {
        b.error_body(|rejection| {
            Json(json!({ "code": rejection.error_code(), "status": rejection.status().as_u16() }))
                .into_response()
        })
    })
    .await;
    for _ in 0..3 {
        app.get("/limited", None, &[]).await;
    }
    let limited = app.get("/limited", None, &[]).await;
    assert_eq!(limited.status, 429);
    assert_eq!(
        limited.body,
        json!({ "code": "rate_limited", "status": 429 })
    );
    assert!(!limited.header("retry-after").is_empty());
    assert!(!limited.header("ratelimit").is_empty());
}

/// 100,000 distinct callers through a limit that may track 2,000: the table stays bounded, the
/// callers beyond it pass (untracked), and a tracked caller's limit still holds.
#[tokio::test]
async fn memory_stays_bounded_under_a_hundred_thousand_callers() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let auth = issuer
        .authenticator_builder()
        .proxy_headers(route_guard::ProxyHeaders::XForwarded)
        .rate_limit_max_callers(2_000)
        .build()
        .expect("builds");
    let app = routes().layer(auth.layer());
    let request = |ip: String| {
        Request::get("/limited")
            .header("x-forwarded-for", ip)
            .body(Body::empty())
            .expect("request")
    };
    // One caller spends its whole budget first.
    for _ in 0..3 {
        let response = app.clone().oneshot(request("10.255.255.255".into())).await;
        assert_eq!(response.expect("infallible").status(), 200);
    }
    let flood = std::time::Instant::now();
    let mut passed = 0;
    for i in 0..100_000u32 {
        let ip = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 0xff, i & 0xff);
        let response = app.clone().oneshot(request(ip)).await.expect("infallible");
        passed += usize::from(response.status() == 200);
    }
    assert_eq!(passed, 100_000, "new callers are never locked out");
    let tracked = auth.stats().rate_limit_callers();
    assert!((1_000..=2_000).contains(&tracked), "tracked {tracked}");
    // The caller tracked before the flood is still limited: it was not evicted (which would
    // give it a fresh budget of 3), and it has only what refilled while the flood ran (one
    // request every 20 s under 3 a minute; a loaded machine may take that long).
    let mut again = 0;
    for _ in 0..3 {
        let response = app
            .clone()
            .oneshot(request("10.255.255.255".into()))
            .await
            .expect("infallible");
        again += usize::from(response.status() == 200);
    }
    let refilled = (flood.elapsed().as_secs_f64() / 20.0).ceil() as usize;
    assert!(
        again <= refilled.min(2),
        "{again} passed, {refilled} refilled"
    );
}

#[tokio::test]
async fn a_route_limit_beside_the_router_limit_spends_nothing_for_refused_tokens() {
    let app = app_with(|b| b).await;
    let runner = |sub: &str| app.issuer.token().sub(sub).scopes("run:reports").sign();
    let dave = runner("auth0|dave");
    let before = app.auth.stats();
    for remaining in [1, 0] {
        let reply = app.get("/api/expensive", Some(&dave), &[]).await;
        assert_eq!(reply.status, 200, "body: {}", reply.body);
        assert_eq!(reply.body["result"], "expensive operation result");
        // Both limits speak: the router's and the route's own.
        let policies: Vec<&str> = reply
            .headers
            .get_all("ratelimit-policy")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert_eq!(
            policies,
            [
                "\"api\";q=10;w=60",
                "\"it::rate_limits::expensive\";q=2;w=60"
            ]
        );
        let states: Vec<&str> = reply
            .headers
            .get_all("ratelimit")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert!(
            states[1].starts_with(&format!("\"it::rate_limits::expensive\";r={remaining};t=")),
            "{states:?}"
        );
    }
    // One verification per request, however many limits and guards.
    assert_eq!(app.auth.stats().verified(), before.verified() + 2);

    let limited = app.get("/api/expensive", Some(&dave), &[]).await;
    assert_eq!(limited.status.as_u16(), 429, "body: {}", limited.body);
    assert_eq!(limited.error(), "rate_limited");
    assert!(limited
        .description()
        .starts_with("too many requests: this route allows 2/minute per caller"));
    assert!(limited
        .header("ratelimit")
        .starts_with("\"it::rate_limits::expensive\";r=0;t="));
    // The router's limit is separate and larger: the cheap route still answers.
    assert_eq!(app.get("/api/cheap", Some(&dave), &[]).await.status, 200);

    // A token refused by the requirement spends nothing of the route's budget.
    let eve_without_scope = app.issuer.token().sub("auth0|eve").sign();
    for _ in 0..3 {
        let refused = app
            .get("/api/expensive", Some(&eve_without_scope), &[])
            .await;
        assert_eq!(refused.status, 403);
        assert!(
            !refused.header("ratelimit").contains("expensive"),
            "{}",
            refused.header("ratelimit")
        );
    }
    let eve = runner("auth0|eve");
    assert_eq!(app.get("/api/expensive", Some(&eve), &[]).await.status, 200);
    assert_eq!(app.get("/api/expensive", None, &[]).await.status, 401);
}

#[tokio::test]
async fn a_caller_hammering_a_limit_is_logged_once_per_window() {
    let collector = common::logs::Collector::default();
    let _logs = tracing::subscriber::set_default(collector.clone());
    let app = app_with(|b| b).await;
    let frank = app.issuer.token().sub("auth0|frank").sign();
    let grace = app.issuer.token().sub("auth0|grace").sign();
    for token in [&frank, &grace] {
        for _ in 0..3 {
            assert_eq!(app.get("/limited", Some(token), &[]).await.status, 200);
        }
    }
    let before = collector.len();
    for _ in 0..5 {
        assert_eq!(app.get("/limited", Some(&frank), &[]).await.status, 429);
    }
    assert_eq!(app.get("/limited", Some(&grace), &[]).await.status, 429);
    let reached: Vec<String> = collector
        .at_level_since("INFO", before)
        .into_iter()
        .filter(|event| event.contains("rate limit reached"))
        .collect();
    assert_eq!(reached.len(), 2, "{reached:#?}");
    assert!(reached[0].contains("sub:auth0|frank"), "{reached:#?}");
    assert!(reached[1].contains("sub:auth0|grace"), "{reached:#?}");
    assert_eq!(
        app.auth.stats().rejected(RejectionReason::RateLimited),
        6,
        "every refusal is counted"
    );
}

/// Callers idle for a whole window make room: after the table filled up and its callers went
/// idle, a new caller is tracked (and limited) again instead of passing untracked.
#[tokio::test]
async fn idle_callers_are_evicted_to_make_room() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let auth = issuer
        .authenticator_builder()
        .proxy_headers(route_guard::ProxyHeaders::XForwarded)
        .rate_limit_max_callers(160)
        .build()
        .expect("builds");
    let app = Router::new()
        .route("/fast", get(whoami))
        .route_layer(layer::rate_limit(Quota::per_second(1)))
        .layer(auth.layer());
    let status = |ip: String| {
        let app = app.clone();
        async move {
            let request = Request::get("/fast")
                .header("x-forwarded-for", ip)
                .body(Body::empty())
                .expect("request");
            app.oneshot(request).await.expect("infallible").status()
        }
    };
    for i in 0..2_000u32 {
        status(format!("10.1.{}.{}", i >> 8, i & 0xff)).await;
    }
    let tracked = auth.stats().rate_limit_callers();
    assert!(
        (100..=160).contains(&tracked),
        "the table is full: {tracked}"
    );
    // A second later every bucket is full again: the callers are idle and make room.
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let first = status("10.3.0.1".into()).await;
    let second = status("10.3.0.1".into()).await;
    assert_eq!(
        (first.as_u16(), second.as_u16()),
        (200, 429),
        "tracked again"
    );
    assert!(auth.stats().rate_limit_callers() <= 160);
}

#[tokio::test]
async fn two_issuers_users_with_the_same_sub_never_share_a_budget() {
    let a = TestIssuer::start().await.expect("issuer");
    let b = TestIssuer::start().await.expect("issuer");
    let auth = route_guard::Authenticator::builder()
        .audience(route_guard::testing::TEST_AUDIENCE)
        .domains([a.issuer().to_owned(), b.issuer().to_owned()])
        .build()
        .expect("builds");
    let (base, _server) = common::serve_with_peer_address(routes().layer(auth.layer())).await;
    let client = common::client();
    let get = |token: String| {
        let request = client.get(format!("{base}/limited")).bearer_auth(token);
        async move { common::send(request).await }
    };
    let at_a = a.token().sub("auth0|alice").sign();
    let at_b = b.token().sub("auth0|alice").sign();
    for _ in 0..3 {
        assert_eq!(get(at_a.clone()).await.status, 200);
    }
    assert_eq!(get(at_a.clone()).await.status, 429);
    // The other tenant's alice is another caller with her own budget.
    for _ in 0..3 {
        let reply = get(at_b.clone()).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    assert_eq!(get(at_b).await.status, 429);
}

#[tokio::test]
async fn a_long_or_hostile_sub_is_kept_as_a_bounded_digest() {
    let collector = common::logs::Collector::default();
    let _logs = tracing::subscriber::set_default(collector.clone());
    let app = app_with(|b| b.rate_limit_max_callers(50)).await;
    // 5 KB subjects (the largest an 8 KiB token holds), each its own caller, each limited.
    for n in 0..5 {
        let sub = format!("{n}{}", "x".repeat(5000));
        let token = app.issuer.token().sub(&sub).sign();
        for _ in 0..3 {
            assert_eq!(app.get("/limited", Some(&token), &[]).await.status, 200);
        }
        assert_eq!(app.get("/limited", Some(&token), &[]).await.status, 429);
    }
    // Two subjects that differ only past the first 64 bytes are two callers.
    let long = "y".repeat(100);
    let first = app.issuer.token().sub(&format!("{long}1")).sign();
    let second = app.issuer.token().sub(&format!("{long}2")).sign();
    for _ in 0..3 {
        assert_eq!(app.get("/limited", Some(&first), &[]).await.status, 200);
    }
    assert_eq!(app.get("/limited", Some(&second), &[]).await.status, 200);
    // A subject with a newline cannot forge a log line.
    let forger = app
        .issuer
        .token()
        .sub("auth0|mallory\nINFO route_guard: forged")
        .sign();
    let before = collector.len();
    for _ in 0..4 {
        app.get("/limited", Some(&forger), &[]).await;
    }
    let logged = collector.at_level_since("INFO", before);
    assert_eq!(logged.len(), 1, "{logged:#?}");
    assert!(!logged[0].contains('\n'), "{logged:#?}");
    assert!(!logged[0].contains("mallory"), "{logged:#?}");
    assert!(logged[0].contains(":sub:~"), "{logged:#?}");
    // Every caller above is tracked: the long ones cost no more than a short one.
    assert_eq!(app.auth.stats().rate_limit_callers(), 5 + 2 + 1);
}
