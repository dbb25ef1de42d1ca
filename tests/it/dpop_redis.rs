//! The Redis replay store against a real `redis-server` (feature `redis`): two instances share
//! it, so a proof is accepted once between them; Redis going away fails DPoP closed with 503
//! while Bearer keeps working; DPoP recovers by itself when Redis is back.
//!
//! The test starts its own `redis-server` on a free loopback port. `.ci/run` installs Debian's
//! `redis-server` package; without the binary the test prints that it was not run, and fails
//! under `CI=true` (a green CI must mean it ran).
#![cfg(feature = "redis")]

use crate::common;

use std::time::{Duration, Instant};

use common::redis::{free_port, redis_server_binary, start_redis};
use common::{send, Reply};
use route_guard::testing::{DpopKey, TestIssuer};
use route_guard::{Authenticator, RejectionReason};

const PUBLIC: &str = "https://api.example.com";

/// One instance of the API: its own Authenticator and server, the shared public URL.
async fn instance(issuer: &TestIssuer, redis: Option<&str>) -> (Authenticator, String) {
    instance_with(issuer, redis, |b| b).await
}

async fn instance_with(
    issuer: &TestIssuer,
    redis: Option<&str>,
    configure: impl FnOnce(route_guard::AuthenticatorBuilder) -> route_guard::AuthenticatorBuilder,
) -> (Authenticator, String) {
    let mut builder = configure(issuer.authenticator_builder().public_base_url(PUBLIC));
    if let Some(url) = redis {
        builder = builder.dpop_replay_redis(url);
    }
    let auth = builder.build().expect("authenticator builds");
    let (base, _server) = common::serve(common::routes().layer(auth.layer())).await;
    (auth, base)
}

async fn dpop_get(base: &str, token: &str, proof: &str) -> Reply {
    send(
        common::client()
            .get(format!("{base}/private"))
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof),
    )
    .await
}

#[tokio::test]
async fn two_instances_share_one_redis_and_fail_closed_without_it() {
    let Some(binary) = redis_server_binary() else {
        return;
    };
    let collector = common::logs::Collector::default();
    let _logs = tracing::subscriber::set_default(collector.clone());
    let port = free_port();
    let mut redis = start_redis(&binary, port).await;
    let url = format!("redis://127.0.0.1:{port}/0");

    let issuer = TestIssuer::start().await.expect("issuer");
    let (first, first_base) = instance(&issuer, Some(&url)).await;
    let (second, second_base) = instance(&issuer, Some(&url)).await;
    let (_alone, alone_base) = instance(&issuer, None).await;

    let key = DpopKey::generate().expect("key");
    let token = issuer.token().dpop_bound(&key).sign();
    let target = format!("{PUBLIC}/private");

    // One proof, two instances: accepted by one, a replay for the other.
    let proof = key.proof("GET", &target, &token);
    let reply = dpop_get(&first_base, &token, &proof).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = dpop_get(&second_base, &token, &proof).await;
    reply.assert_dpop_rejected(401, "invalid_dpop_proof", "ES256");
    assert!(
        reply.description().contains("already used"),
        "{}",
        reply.body
    );
    assert_eq!(second.stats().rejected(RejectionReason::DpopReplay), 1);
    // An instance with its own in-memory store cannot know: that is what Redis is for.
    assert_eq!(dpop_get(&alone_base, &token, &proof).await.status, 200);
    // Fresh proofs pass on either.
    for base in [&first_base, &second_base] {
        let proof = key.proof("GET", &target, &token);
        assert_eq!(dpop_get(base, &token, &proof).await.status, 200);
    }

    // Redis goes away: DPoP fails closed, Bearer keeps working.
    redis.kill().await.expect("redis-server stops");
    let _ = redis.wait().await;
    let before = collector.len();
    for _ in 0..3 {
        let proof = key.proof("GET", &target, &token);
        dpop_get(&first_base, &token, &proof)
            .await
            .assert_unavailable("replay store");
    }
    let errors = collector.at_level_since("ERROR", before);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].contains("Redis"), "{errors:#?}");
    assert_eq!(
        first
            .stats()
            .rejected(RejectionReason::ReplayStoreUnavailable),
        3
    );
    let bearer = issuer.token().sign();
    let reply = send(
        common::client()
            .get(format!("{first_base}/private"))
            .bearer_auth(&bearer),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    // Redis is back on the same port: DPoP recovers on each instance without a restart (the
    // first request after the outage may still find the dead connection and get 503 again).
    let _redis = start_redis(&binary, port).await;
    for base in [&first_base, &second_base] {
        let attempts = recover(base, &key, &token).await;
        assert!(
            attempts <= 3,
            "{base}: recovered only after {attempts} attempts"
        );
    }
    assert!(collector
        .at_level_since("INFO", before)
        .iter()
        .any(|e| e.contains("available again")));
    // And the store is shared again.
    let proof = key.proof("GET", &target, &token);
    assert_eq!(dpop_get(&second_base, &token, &proof).await.status, 200);
    assert_eq!(dpop_get(&first_base, &token, &proof).await.status, 401);
}

#[tokio::test]
async fn the_per_key_quota_holds_across_instances_sharing_redis() {
    let Some(binary) = redis_server_binary() else {
        return;
    };
    let port = free_port();
    let _redis = start_redis(&binary, port).await;
    let url = format!("redis://127.0.0.1:{port}/0");
    let issuer = TestIssuer::start().await.expect("issuer");
    let quota = |b: route_guard::AuthenticatorBuilder| b.dpop_replay_quota(3);
    let (first, first_base) = instance_with(&issuer, Some(&url), quota).await;
    let (second, second_base) = instance_with(&issuer, Some(&url), quota).await;
    let target = format!("{PUBLIC}/private");

    let flooder = DpopKey::generate().expect("key");
    let token = issuer.token().dpop_bound(&flooder).sign();
    let mut accepted = Vec::new();
    for base in [&first_base, &second_base, &first_base] {
        let proof = flooder.proof("GET", &target, &token);
        assert_eq!(dpop_get(base, &token, &proof).await.status, 200);
        accepted.push(proof);
    }
    // Three live proofs between the two instances: the fourth is over, on either.
    for base in [&second_base, &first_base] {
        let proof = flooder.proof("GET", &target, &token);
        let reply = dpop_get(base, &token, &proof).await;
        assert_eq!(reply.status, 429, "{}", reply.body);
        assert_eq!(reply.error(), "too_many_requests");
        let retry_after: u64 = reply.header("retry-after").parse().expect("seconds");
        assert!((1..=360).contains(&retry_after), "{retry_after}");
    }
    // A replay is still a replay, on the instance that did not see the proof.
    let reply = dpop_get(&second_base, &token, &accepted[0]).await;
    reply.assert_dpop_rejected(401, "invalid_dpop_proof", "ES256");
    // Another client is not affected.
    let other = DpopKey::generate().expect("key");
    let other_token = issuer.token().dpop_bound(&other).sign();
    for base in [&first_base, &second_base, &first_base] {
        let proof = other.proof("GET", &target, &other_token);
        assert_eq!(dpop_get(base, &other_token, &proof).await.status, 200);
    }
    let over = |auth: &Authenticator| auth.stats().rejected(RejectionReason::DpopQuota);
    assert_eq!(over(&first) + over(&second), 2);
}

/// Sends fresh DPoP requests until one passes; the number of attempts it took.
async fn recover(base: &str, key: &DpopKey, token: &str) -> usize {
    let target = format!("{PUBLIC}/private");
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut attempts = 0;
    while Instant::now() < deadline {
        attempts += 1;
        let proof = key.proof("GET", &target, token);
        let status = dpop_get(base, token, &proof).await.status.as_u16();
        match status {
            200 => return attempts,
            503 => tokio::time::sleep(Duration::from_millis(100)).await,
            other => panic!("{base}: unexpected {other} while Redis comes back"),
        }
    }
    panic!("{base}: DPoP did not recover within 15 s of Redis coming back");
}
