//! The verified-token cache: a token seen before is not verified again while it is unexpired and
//! its key set is current; expiry and key removal still apply.

mod common;

use std::time::{Duration, Instant};

use common::start_with;
use route_guard::VerifyError;

#[tokio::test]
async fn a_repeated_token_is_answered_from_the_cache() {
    let app = start_with(|b| b).await;
    let token = app.issuer.token().sign();
    for _ in 0..5 {
        assert_eq!(app.get("/private", Some(&token)).await.status, 200);
    }
    let stats = app.auth.stats();
    assert_eq!(stats.verified(), 5);
    assert_eq!(stats.verified_from_cache(), 4);
    // A different token is verified in full.
    let other = app.issuer.token().sub("auth0|other").sign();
    assert_eq!(app.get("/private", Some(&other)).await.status, 200);
    assert_eq!(app.auth.stats().verified_from_cache(), 4);
}

#[tokio::test]
async fn a_cached_token_still_expires() {
    let app = start_with(|b| b.leeway(Duration::ZERO)).await;
    let token = app.issuer.token().expires_in(Duration::from_secs(2)).sign();
    assert!(app.auth.verify(&token).await.is_ok());
    assert!(app.auth.verify(&token).await.is_ok());
    assert_eq!(app.auth.stats().verified_from_cache(), 1);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        app.auth.verify(&token).await.err(),
        Some(VerifyError::Expired)
    );
}

#[tokio::test]
async fn a_cached_token_dies_with_its_key() {
    let app = start_with(|b| {
        b.jwks_ttl_bounds(Duration::from_millis(200), Duration::from_secs(60))
            .jwks_default_ttl(Duration::from_millis(200))
    })
    .await;
    let old_kid = app.issuer.signing_kid();
    let token = app.issuer.token().sign();
    assert!(app.auth.verify(&token).await.is_ok());
    assert!(app.auth.verify(&token).await.is_ok());
    assert_eq!(app.auth.stats().verified_from_cache(), 1);
    app.issuer.rotate_keys().expect("rotate");
    app.issuer.unpublish_key(&old_kid);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match app.auth.verify(&token).await {
            Err(VerifyError::UnknownKid) => break,
            Ok(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => panic!("the removed key's token: {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_cache_can_be_disabled() {
    let app = start_with(|b| b.verified_token_cache(0)).await;
    let token = app.issuer.token().sign();
    for _ in 0..3 {
        assert_eq!(app.get("/private", Some(&token)).await.status, 200);
    }
    assert_eq!(app.auth.stats().verified(), 3);
    assert_eq!(app.auth.stats().verified_from_cache(), 0);
}
