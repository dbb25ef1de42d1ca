//! JWKS faults at scale (the single cases live in `jwks_cache.rs`): a thundering herd on a cold
//! cache, and a flood of random `kid`s. Each asserts responses and the fetches the issuer saw.

use crate::common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::start;
use route_guard::{RejectionReason, VerifyError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_requests_on_a_cold_cache_cause_one_fetch() {
    let app = start().await;
    let token = app.issuer.token().sign();
    let statuses = app.concurrent_gets("/private", &token, 1000).await;
    assert_eq!(statuses.len(), 1000);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(app.issuer.discovery_fetches(), 1);
    assert_eq!(app.issuer.jwks_fetches(), 1);
    assert_eq!(app.auth.stats().verified(), 1000);
}

/// A token naming `kid`, with a real payload and a signature that does not matter: the key
/// lookup comes first.
fn with_kid(token: &str, kid: &str) -> String {
    let rest = token.split_once('.').map_or("", |(_, rest)| rest);
    let header = format!(r#"{{"alg":"RS256","typ":"JWT","kid":"{kid}"}}"#);
    format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_random_kids_cause_one_refetch_and_bounded_memory() {
    let app = start().await;
    app.auth.warm_up().await.expect("keys");
    let template = app.issuer.token().sign();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..8u64 {
        let auth = app.auth.clone();
        let template = template.clone();
        tasks.spawn(async move {
            let mut unknown = 0;
            for i in 0..1250u64 {
                // A long, never-repeating kid: what an attacker would use to grow memory.
                let kid = format!("{worker}-{i}-{}", "r".repeat(200));
                if auth.verify(&with_kid(&template, &kid)).await.err()
                    == Some(VerifyError::UnknownKid)
                {
                    unknown += 1;
                }
            }
            unknown
        });
    }
    let unknown: u64 = tasks.join_all().await.into_iter().sum();
    assert_eq!(unknown, 10_000);
    let stats = app.auth.stats();
    assert_eq!(stats.rejected(RejectionReason::UnknownKey), 10_000);
    assert_eq!(
        app.issuer.jwks_fetches(),
        2,
        "warm-up plus one refetch in the cooldown"
    );
    assert!(
        stats.unknown_kids_remembered() <= 1024,
        "{}",
        stats.unknown_kids_remembered()
    );
    // Real traffic is unaffected.
    let token = app.issuer.token().sign();
    assert_eq!(app.get("/private", Some(&token)).await.status, 200);
}
