//! The verified-token cache: a token seen before is not verified again while it is unexpired and
//! its key set is current; expiry and key removal still apply.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::{Json, Router};
use common::{send, start_with};
use route_guard::{Claims, VerifyError};
use serde_json::{json, Value};

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

/// A cache much smaller than the tokens going by: a client that keeps calling keeps its entry
/// while a flood of tokens, each seen once, takes the rest (a full cache makes room by
/// dropping what was not looked up lately, not what happens to be next).
#[tokio::test]
async fn an_active_token_stays_cached_through_a_flood_of_tokens_seen_once() {
    let app = start_with(|b| b.verified_token_cache(32)).await;
    let active = app.issuer.token().sub("auth0|active").sign();
    assert_eq!(app.get("/private", Some(&active)).await.status, 200);
    let flood = 200;
    for i in 0..flood {
        let once = app.issuer.token().sub(&format!("auth0|once-{i}")).sign();
        assert_eq!(app.get("/private", Some(&once)).await.status, 200);
        assert_eq!(app.get("/private", Some(&active)).await.status, 200);
    }
    let stats = app.auth.stats();
    assert_eq!(stats.verified(), 1 + 2 * flood);
    // Every call of the active client after its first came from the cache; none of the flood.
    assert_eq!(stats.verified_from_cache(), flood);
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

/// Counts its parses: a claims type whose parsed claims route-guard may keep (it is `Clone`).
#[derive(Clone, Debug, PartialEq)]
struct Counted {
    sub: String,
}

static COUNTED_PARSES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl<'de> serde::Deserialize<'de> for Counted {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        struct Raw {
            sub: String,
        }
        COUNTED_PARSES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Raw::deserialize(d).map(|raw| Counted { sub: raw.sub })
    }
}

impl route_guard::TokenClaims for Counted {
    fn clone_claims(&self) -> Option<Self> {
        Some(self.clone())
    }
}

/// Another type over the same token: what is kept for `Counted` must never answer for it.
#[derive(route_guard::TokenClaims, Clone, Debug)]
struct Audience {
    aud: String,
}

fn parses() -> usize {
    COUNTED_PARSES.load(std::sync::atomic::Ordering::SeqCst)
}

#[tokio::test]
async fn typed_claims_are_kept_per_type_with_the_cached_token_and_die_with_it() {
    let app = start_with(|b| b).await;
    app.auth.warm_up().await.expect("keys");
    let token = app.issuer.token().sub("auth0|kept").sign();

    // Seen once: parsed, not kept (most tokens seen once are never seen again).
    let first = app.auth.verify(&token).await.expect("valid");
    assert_eq!(first.claims::<Counted>().expect("claims").sub, "auth0|kept");
    assert_eq!(parses(), 1);
    // Seen again (from the cache): parsed once more and kept; from then on copied.
    for _ in 0..5 {
        let again = app.auth.verify(&token).await.expect("valid");
        assert_eq!(again.claims::<Counted>().expect("claims").sub, "auth0|kept");
    }
    assert_eq!(parses(), 2);
    assert_eq!(app.auth.stats().verified_from_cache(), 5);
    // Kept per type: another type reads its own claims from the same cached token.
    let again = app.auth.verify(&token).await.expect("valid");
    assert_eq!(
        again.claims::<Audience>().expect("claims").aud,
        route_guard::testing::TEST_AUDIENCE
    );
    assert_eq!(again.claims::<Counted>().expect("claims").sub, "auth0|kept");
    assert_eq!(parses(), 2);

    // A new key set drops the cached entry, and its kept claims with it: the next request
    // verifies in full and parses again.
    let unknown = app.issuer.token().kid("not-yet-published").sign();
    assert!(app.auth.verify(&unknown).await.is_err());
    assert_eq!(
        app.issuer.jwks_fetches(),
        2,
        "the refetch made a new key set"
    );
    let fresh = app.auth.verify(&token).await.expect("valid");
    assert_eq!(fresh.claims::<Counted>().expect("claims").sub, "auth0|kept");
    assert_eq!(parses(), 3);
}

/// Shared claims: no `Clone` needed, requirements and the Authenticator's context read
/// through the `Arc`.
#[derive(route_guard::TokenClaims, Debug)]
#[claims(namespace = "https://route-guard.test/")]
struct Shared {
    sub: String,
    roles: Vec<String>,
    scope: Option<String>,
}

#[route_guard::require_role("admin")]
async fn shared(claims: Claims<Arc<Shared>>) -> Json<Value> {
    Json(json!({
        "sub": claims.sub,
        "scope": claims.scope,
        "at": format!("{:p}", Arc::as_ptr(&claims.0)),
    }))
}

/// `Claims<Arc<T>>`: a token seen before gets the very claims parsed for it before (one
/// allocation, shared), still checked per request and still per token.
#[tokio::test]
async fn shared_claims_of_a_token_seen_before_are_the_same_allocation() {
    let issuer = route_guard::testing::TestIssuer::start()
        .await
        .expect("issuer");
    let auth = issuer
        .authenticator_builder()
        .implied_scopes("messages", ["read:messages"])
        .build()
        .expect("authenticator");
    let app = common::serve_app(issuer, auth, Router::new().route("/shared", get(shared))).await;
    let admin = app
        .issuer
        .token()
        .sub("auth0|admin")
        .roles(["admin"])
        .scopes("messages")
        .sign();
    let user = app.issuer.token().sub("auth0|user").roles(["user"]).sign();

    let replies = [
        app.get("/shared", Some(&admin)).await,
        app.get("/shared", Some(&admin)).await,
        app.get("/shared", Some(&admin)).await,
    ];
    for reply in &replies {
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        assert_eq!(reply.body["sub"], "auth0|admin");
        // The context (implied scopes) reached `T` through the `Arc`.
        assert_eq!(reply.body["scope"], "messages read:messages");
    }
    // Seen once: parsed, not kept; seen again: parsed and kept; from then on shared.
    assert_eq!(replies[1].body["at"], replies[2].body["at"]);
    assert_eq!(app.auth.stats().verified_from_cache(), 2);

    // The role is `Shared`'s, checked through the `Arc`, for a token seen before too.
    for _ in 0..2 {
        app.get("/shared", Some(&user))
            .await
            .assert_rejected(403, "insufficient_scope");
    }
    // Another token never gets the first one's claims.
    let other = app
        .issuer
        .token()
        .sub("auth0|other")
        .roles(["admin"])
        .sign();
    for _ in 0..3 {
        let reply = app.get("/shared", Some(&other)).await;
        assert_eq!(reply.body["sub"], "auth0|other");
        assert_ne!(reply.body["at"], replies[2].body["at"]);
    }
}

/// A token seen before is looked up before its header is scanned: every malformed shape around
/// it is still refused as the first time, and the lookup never answers for one.
#[tokio::test]
async fn a_cached_token_in_a_malformed_header_is_refused_as_before() {
    let app = start_with(|b| b).await;
    let token = app.issuer.token().sign();
    for _ in 0..2 {
        assert_eq!(app.get("/private", Some(&token)).await.status, 200);
    }
    let hits = app.auth.stats().verified_from_cache();
    assert_eq!(hits, 1);
    // The scheme in any case, one space: found in the cache.
    let reply = app
        .get_with_header("/private", &format!("bEaReR {token}"))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(app.auth.stats().verified_from_cache(), hits + 1);
    // Two spaces: the careful path trims them (RFC 7235 allows 1*SP), then finds the entry.
    let reply = app
        .get_with_header("/private", &format!("Bearer  {token}"))
        .await;
    assert_eq!(reply.status, 200);
    // Twice in one header, and in two headers: refused, 400 invalid_request.
    app.get_with_header("/private", &format!("Bearer {token} {token}"))
        .await
        .assert_rejected(400, "invalid_request");
    let bearer = format!("Bearer {token}");
    let reply = app.get_with_headers("/private", &[&bearer, &bearer]).await;
    reply.assert_rejected(400, "invalid_request");
    assert!(
        reply
            .description()
            .contains("more than one Authorization header"),
        "{}",
        reply.description()
    );
    // A character outside token68 after the cached token: refused, not found.
    app.get_with_header("/private", &format!("Bearer {token}!"))
        .await
        .assert_rejected(400, "invalid_request");
    // Another scheme carrying the same token is no token at all.
    let reply = app
        .get_with_header("/private", &format!("Basic {token}"))
        .await;
    reply.assert_rejected(401, "unauthorized");
}

/// The Authenticator installed as a bare `Extension`, as before `auth.layer()` had a type of its
/// own: the extractors still find it and still verify once per request.
#[tokio::test]
async fn an_authenticator_installed_as_an_extension_still_guards() {
    let issuer = route_guard::testing::TestIssuer::start()
        .await
        .expect("issuer");
    let auth = issuer.authenticator_builder().build().expect("builds");
    let app = common::routes().layer(axum::Extension(auth.clone()));
    let (base, _server) = common::serve(app).await;
    let token = issuer.token().scopes("read:messages").sign();
    let reply = send(
        common::client()
            .get(format!("{base}/scoped"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    // The guard and the handler's `Claims` shared one verification.
    assert_eq!(auth.stats().verified(), 1);
    let reply = send(common::client().get(format!("{base}/scoped"))).await;
    reply.assert_rejected(401, "unauthorized");
}
