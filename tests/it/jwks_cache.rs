//! The JWKS cache against a real loopback issuer: single flight, rotation, outages, timeouts,
//! TTLs and the unknown-`kid` cooldown. Each test asserts responses and the fetches the issuer saw.

use crate::common;

use std::time::{Duration, Instant};

use common::{start, start_with};
use route_guard::testing::TestIssuer;
use route_guard::{RejectionReason, VerifyError};

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

#[tokio::test]
async fn warm_up_loads_keys_once() {
    let app = start().await;
    app.auth.warm_up().await.expect("keys load");
    app.auth.warm_up().await.expect("still loaded");
    assert_eq!(app.issuer.discovery_fetches(), 1);
    assert_eq!(app.issuer.jwks_fetches(), 1);
    assert_eq!(app.auth.issuer().as_deref(), Some(app.issuer.issuer()));
    let token = app.issuer.token().sign();
    assert_eq!(app.get("/private", Some(&token)).await.status, 200);
    assert_eq!(app.issuer.jwks_fetches(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cold_requests_cause_one_fetch() {
    let app = start().await;
    let token = app.issuer.token().sign();
    let statuses = app.concurrent_gets("/private", &token, 100).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(app.issuer.discovery_fetches(), 1);
    assert_eq!(app.issuer.jwks_fetches(), 1);
    assert_eq!(app.auth.stats().verified(), 100);
}

#[tokio::test]
async fn random_kids_cause_at_most_one_refetch_per_cooldown() {
    let app = start().await;
    app.auth.warm_up().await.expect("keys");
    for i in 0..200 {
        let token = app
            .issuer
            .token()
            .kid(&format!("random-{i}-{}", i * 7919))
            .sign();
        let reply = app.get("/private", Some(&token)).await;
        reply.assert_rejected(401, "invalid_token");
    }
    assert_eq!(app.issuer.jwks_fetches(), 2, "warm-up plus one refetch");
    assert_eq!(app.auth.stats().rejected(RejectionReason::UnknownKey), 200);
    // The real keys still work.
    let token = app.issuer.token().sign();
    assert_eq!(app.get("/private", Some(&token)).await.status, 200);
}

#[tokio::test]
async fn unknown_kid_refetches_again_after_the_cooldown() {
    let app = start_with(|b| b.unknown_kid_cooldown(Duration::from_millis(300))).await;
    app.auth.warm_up().await.expect("keys");
    let token = app.issuer.token().kid("unknown-1").sign();
    app.get("/private", Some(&token))
        .await
        .assert_rejected(401, "invalid_token");
    assert_eq!(app.issuer.jwks_fetches(), 2);
    // Inside the cooldown, no unknown kid fetches, the same one or another.
    let other = app.issuer.token().kid("unknown-2").sign();
    app.get("/private", Some(&token)).await;
    app.get("/private", Some(&other)).await;
    assert_eq!(app.issuer.jwks_fetches(), 2);
    // After it, a kid refused before may refetch once like any other (it may have been
    // published meanwhile), and that refetch starts the next cooldown.
    tokio::time::sleep(Duration::from_millis(400)).await;
    app.get("/private", Some(&token)).await;
    assert_eq!(app.issuer.jwks_fetches(), 3);
    app.get("/private", Some(&other)).await;
    assert_eq!(app.issuer.jwks_fetches(), 3);
}

#[tokio::test]
async fn a_new_key_refused_during_a_cooldown_is_accepted_after_it() {
    // Long enough that generating the next RSA key on a loaded machine stays inside it.
    let cooldown = Duration::from_secs(2);
    let app = start_with(|b| b.unknown_kid_cooldown(cooldown)).await;
    app.auth.warm_up().await.expect("keys");
    assert_eq!(app.issuer.jwks_fetches(), 1);

    // A token of another issuer is refused before any key lookup: no fetch, no cooldown.
    let foreign = app
        .issuer
        .token()
        .iss("https://other-tenant.example.com/")
        .kid("other-tenant-key")
        .sign();
    let reply = app.get("/private", Some(&foreign)).await;
    reply.assert_rejected(401, "invalid_token");
    assert!(reply.description().contains("issuer"), "{}", reply.body);
    assert_eq!(app.issuer.jwks_fetches(), 1);
    // So a rotation right after it is picked up at once.
    app.issuer.rotate_keys().expect("rotate");
    let rotated = app.issuer.token().sign();
    assert_eq!(app.get("/private", Some(&rotated)).await.status, 200);
    assert_eq!(app.issuer.jwks_fetches(), 2);

    // A forged token claiming our issuer with a made-up kid does start a cooldown...
    tokio::time::sleep(cooldown + Duration::from_millis(100)).await;
    let forged = app.issuer.token().kid("made-up-kid").sign();
    app.get("/private", Some(&forged))
        .await
        .assert_rejected(401, "invalid_token");
    assert_eq!(app.issuer.jwks_fetches(), 3);
    // ... so the issuer's next key, used inside it, is refused without a fetch ...
    app.issuer.rotate_keys().expect("rotate");
    let new = app.issuer.token().sign();
    app.get("/private", Some(&new))
        .await
        .assert_rejected(401, "invalid_token");
    assert_eq!(app.issuer.jwks_fetches(), 3);
    // ... and accepted after it, with exactly one fetch, and from then on.
    tokio::time::sleep(cooldown + Duration::from_millis(100)).await;
    assert_eq!(app.get("/private", Some(&new)).await.status, 200);
    assert_eq!(app.issuer.jwks_fetches(), 4);
    for _ in 0..5 {
        assert_eq!(app.get("/private", Some(&new)).await.status, 200);
    }
    assert_eq!(app.issuer.jwks_fetches(), 4);
}

#[tokio::test]
async fn a_jwks_lagging_behind_a_rotation_delays_the_new_key_by_one_cooldown_only() {
    let cooldown = Duration::from_millis(500);
    let app = start_with(|b| b.unknown_kid_cooldown(cooldown)).await;
    app.auth.warm_up().await.expect("keys");
    // A CDN in front of the JWKS serves the old key set for 300 ms after the rotation.
    app.issuer.set_jwks_lag(Duration::from_millis(300));
    let old = app.issuer.token().sign();
    app.issuer.rotate_keys().expect("rotate");
    let new = app.issuer.token().sign();

    // The first request refetches a key set that does not list the key yet.
    app.get("/private", Some(&new))
        .await
        .assert_rejected(401, "invalid_token");
    assert_eq!(app.issuer.jwks_fetches(), 2);
    // After the cooldown (the CDN has caught up meanwhile) one more fetch finds it.
    tokio::time::sleep(cooldown + Duration::from_millis(100)).await;
    assert_eq!(app.get("/private", Some(&new)).await.status, 200);
    assert_eq!(app.issuer.jwks_fetches(), 3);
    assert_eq!(app.get("/private", Some(&new)).await.status, 200);
    assert_eq!(app.get("/private", Some(&old)).await.status, 200);
    assert_eq!(app.issuer.jwks_fetches(), 3);
}

#[tokio::test]
async fn an_unknown_kid_while_the_issuer_is_down_stays_invalid_token() {
    let app = start_with(|b| b.unknown_kid_cooldown(Duration::from_millis(100))).await;
    app.auth.warm_up().await.expect("keys");
    app.issuer.set_down(true);
    // The cached key set judges the token: its kid is not in it.
    let token = app.issuer.token().kid("not-a-key").sign();
    app.get("/private", Some(&token))
        .await
        .assert_rejected(401, "invalid_token");
    assert_eq!(app.auth.stats().jwks_failures(), 1);
    let good = app.issuer.token().sign();
    assert_eq!(app.get("/private", Some(&good)).await.status, 200);
}

#[tokio::test]
async fn rotation_keeps_both_keys_during_overlap_and_drops_the_removed_one() {
    let app = start_with(|b| {
        b.jwks_ttl_bounds(Duration::from_millis(200), Duration::from_secs(60))
            .jwks_default_ttl(Duration::from_millis(200))
    })
    .await;
    let old_kid = app.issuer.signing_kid();
    let old = app.issuer.token().sign();
    assert_eq!(app.get("/private", Some(&old)).await.status, 200);

    let new_kid = app.issuer.rotate_keys().expect("rotate");
    let new = app.issuer.token().sign();
    assert!(new.len() > 10 && new_kid != old_kid);
    // The new kid is unknown to the cache: one refetch picks it up.
    assert_eq!(app.get("/private", Some(&new)).await.status, 200);
    assert_eq!(app.get("/private", Some(&old)).await.status, 200);
    let fetches = app.issuer.jwks_fetches();
    assert_eq!(fetches, 2);

    app.issuer.unpublish_key(&old_kid);
    eventually("the removed key is rejected after a refresh", async || {
        app.get("/private", Some(&old)).await.status == 401
    })
    .await;
    assert!(app.issuer.jwks_fetches() > fetches);
    assert_eq!(app.get("/private", Some(&new)).await.status, 200);
}

#[tokio::test]
async fn issuer_down_after_warm_up_keeps_cached_keys_working() {
    let app = start_with(|b| {
        b.jwks_ttl_bounds(Duration::from_millis(100), Duration::from_secs(60))
            .jwks_default_ttl(Duration::from_millis(100))
            .jwks_retry_interval(Duration::from_millis(100))
    })
    .await;
    app.auth.warm_up().await.expect("keys");
    app.issuer.set_down(true);
    let token = app.issuer.token().sign();
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(app.get("/private", Some(&token)).await.status, 200);
    }
    eventually(
        "background refreshes were attempted and failed",
        async || app.auth.stats().jwks_failures() >= 2,
    )
    .await;
    assert_eq!(app.get("/private", Some(&token)).await.status, 200);
}

#[tokio::test]
async fn issuer_down_since_start_up_answers_503_then_recovers() {
    let app = start_with(|b| b.jwks_retry_interval(Duration::from_millis(1500))).await;
    app.issuer.set_down(true);
    let token = app.issuer.token().sign();
    let reply = app.get("/private", Some(&token)).await;
    // The token was not judged: no challenge, nothing telling the client to discard it.
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.error(), "temporarily_unavailable");
    assert!(reply.description().contains("keys are unavailable"));
    assert_eq!(reply.www_authenticate, None);
    // Retry-After is the JWKS retry interval, rounded up to whole seconds.
    assert_eq!(reply.header("retry-after"), "2");
    assert_eq!(
        app.auth.stats().rejected(RejectionReason::KeysUnavailable),
        1
    );
    // Within the retry interval, requests do not hammer the issuer.
    let before = app.issuer.discovery_fetches();
    for _ in 0..10 {
        assert_eq!(app.get("/private", Some(&token)).await.status, 503);
    }
    assert_eq!(app.issuer.discovery_fetches(), before);
    assert!(app.auth.warm_up().await.is_err());

    app.issuer.set_down(false);
    eventually("the service recovers once the issuer is back", async || {
        app.get("/private", Some(&token)).await.status == 200
    })
    .await;
}

#[tokio::test]
async fn slow_issuer_is_cut_off_by_the_timeout() {
    let app = start_with(|b| {
        b.http_timeout(Duration::from_millis(300))
            .jwks_retry_interval(Duration::from_millis(500))
    })
    .await;
    app.issuer.set_delay(Duration::from_secs(3));
    let token = app.issuer.token().sign();
    let started = Instant::now();
    let reply = app.get("/private", Some(&token)).await;
    let took = started.elapsed();
    reply.assert_unavailable("keys are unavailable");
    assert!(
        took < Duration::from_millis(1300),
        "answered after {took:?}"
    );
    let stats = app.auth.stats();
    assert_eq!(stats.jwks_failures(), 1);
    assert_eq!(stats.rejected(RejectionReason::KeysUnavailable), 1);
}

#[tokio::test]
async fn cache_control_max_age_sets_the_ttl() {
    let app =
        start_with(|b| b.jwks_ttl_bounds(Duration::from_millis(100), Duration::from_secs(3600)))
            .await;
    app.issuer
        .set_cache_control(Some("public, max-age=1, stale-while-revalidate=15"));
    app.auth.warm_up().await.expect("keys");
    let token = app.issuer.token().sign();
    assert_eq!(app.get("/private", Some(&token)).await.status, 200);
    assert_eq!(app.issuer.jwks_fetches(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(app.get("/private", Some(&token)).await.status, 200);
    eventually("a background refresh after max-age", async || {
        app.issuer.jwks_fetches() == 2
    })
    .await;
}

#[tokio::test]
async fn cache_control_max_age_is_clamped_to_the_bounds() {
    let app =
        start_with(|b| b.jwks_ttl_bounds(Duration::from_millis(100), Duration::from_secs(1))).await;
    app.issuer.set_cache_control(Some("max-age=86400"));
    app.auth.warm_up().await.expect("keys");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let token = app.issuer.token().sign();
    assert_eq!(app.get("/private", Some(&token)).await.status, 200);
    eventually("a refresh after the clamped TTL", async || {
        app.issuer.jwks_fetches() == 2
    })
    .await;

    // Without max-age the default (10 min) applies: no refresh.
    let app = start().await;
    app.auth.warm_up().await.expect("keys");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let token = app.issuer.token().sign();
    assert_eq!(app.get("/private", Some(&token)).await.status, 200);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(app.issuer.jwks_fetches(), 1);
}

#[tokio::test]
async fn issuer_without_discovery_falls_back_to_well_known_jwks() {
    let issuer = TestIssuer::start().await.expect("issuer");
    issuer.set_discovery(false);
    let auth = issuer.authenticator().expect("auth");
    let token = issuer.token().sign();
    assert!(auth.verify(&token).await.is_ok());
    assert_eq!(issuer.discovery_fetches(), 1);
    assert_eq!(issuer.jwks_fetches(), 1);
}

#[tokio::test]
async fn bad_jwks_responses_are_fetch_failures_not_panics() {
    let cases: [(u16, String); 5] = [
        (500, "oops".to_owned()),
        (200, "this is not json".to_owned()),
        (200, r#"{"keys": []}"#.to_owned()),
        (
            200,
            r#"{"keys": [{"kty": "oct", "k": "c2VjcmV0"}, 42, "x"]}"#.to_owned(),
        ),
        (
            200,
            format!(
                r#"{{"keys": [], "pad": "{}"}}"#,
                "x".repeat(2 * 1024 * 1024)
            ),
        ),
    ];
    for (status, body) in cases {
        let issuer = TestIssuer::start().await.expect("issuer");
        issuer.set_jwks_response(status, body);
        let auth = issuer.authenticator().expect("auth");
        let token = issuer.token().sign();
        assert_eq!(
            auth.verify(&token).await.err(),
            Some(VerifyError::KeysUnavailable),
            "status {status}"
        );
        let err = auth.warm_up().await.expect_err("no keys");
        assert!(!err.0.is_empty());
        assert_eq!(auth.stats().jwks_failures(), 1);
    }
}

#[tokio::test]
async fn unsupported_keys_mixed_with_good_ones_are_skipped() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let mut jwks = issuer.jwks();
    if let Some(keys) = jwks["keys"].as_array_mut() {
        keys.insert(
            0,
            serde_json::json!({"kty": "oct", "kid": "sym", "k": "c2VjcmV0"}),
        );
        keys.insert(
            0,
            serde_json::json!({"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"}),
        );
        keys.push(serde_json::json!("not an object"));
        keys.push(
            serde_json::json!({"kty": "EC", "kid": "p521", "crv": "P-521", "x": "AA", "y": "AA"}),
        );
    }
    issuer.set_jwks_response(200, jwks.to_string());
    let auth = issuer.authenticator().expect("auth");
    let token = issuer.token().sign();
    assert!(auth.verify(&token).await.is_ok());
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_last_good_keys() {
    let app = start_with(|b| {
        b.jwks_ttl_bounds(Duration::from_millis(100), Duration::from_secs(60))
            .jwks_default_ttl(Duration::from_millis(100))
            .jwks_retry_interval(Duration::from_millis(50))
    })
    .await;
    app.auth.warm_up().await.expect("keys");
    app.issuer.set_jwks_response(200, r#"{"keys": []}"#);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let token = app.issuer.token().sign();
    assert_eq!(app.get("/private", Some(&token)).await.status, 200);
    eventually("the empty key set was fetched and refused", async || {
        app.auth.stats().jwks_failures() >= 1
    })
    .await;
    assert_eq!(app.get("/private", Some(&token)).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_with_a_new_kid_shares_one_refetch_and_all_succeed() {
    let app = start().await;
    app.auth.warm_up().await.expect("keys");
    app.issuer.rotate_keys().expect("rotate");
    let token = app.issuer.token().sign();
    let statuses = app.concurrent_gets("/private", &token, 50).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(app.issuer.jwks_fetches(), 2, "warm-up plus one refetch");
}

#[tokio::test]
async fn an_unknown_kid_on_a_cold_cache_costs_no_second_fetch() {
    let app = start().await;
    let token = app.issuer.token().kid("never-published").sign();
    app.get("/private", Some(&token))
        .await
        .assert_rejected(401, "invalid_token");
    assert_eq!(app.issuer.jwks_fetches(), 1);
}
