//! DPoP (RFC 9449) over real HTTP: every proof check, the token binding, the three modes, the
//! downgrade, nonces, replay, and the replay store failing closed.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use common::{send, App, Reply};
use route_guard::testing::{DpopKey, ProofBuilder};
use route_guard::{
    Algorithm, AuthenticatorBuilder, Claims, DpopMode, RejectionReason, ReplayFuture, ReplayStore,
    ReplayStoreError,
};
use serde_json::{json, Value};

async fn app() -> App {
    common::start().await
}

async fn app_with(configure: impl FnOnce(AuthenticatorBuilder) -> AuthenticatorBuilder) -> App {
    common::start_with(configure).await
}

fn key() -> DpopKey {
    DpopKey::generate().expect("ES256 key")
}

fn url(app: &App, path: &str) -> String {
    format!("{}{path}", app.base)
}

/// `GET path` with `Authorization: DPoP <token>` and one `DPoP: <proof>`.
async fn dpop_get(app: &App, path: &str, token: &str, proof: &str) -> Reply {
    send(
        app.client
            .get(url(app, path))
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof),
    )
    .await
}

/// A bound token and a fresh valid proof for `GET path`.
async fn valid_request(app: &App, key: &DpopKey, path: &str) -> Reply {
    let token = app.issuer.token().dpop_bound(key).sign();
    let proof = key.proof("GET", &url(app, path), &token);
    dpop_get(app, path, &token, &proof).await
}

#[tokio::test]
async fn a_bound_token_with_a_valid_proof_is_accepted() {
    let app = app().await;
    let key = key();
    let token = app
        .issuer
        .token()
        .sub("auth0|alice")
        .dpop_bound(&key)
        .sign();
    let proof = key.proof("GET", &url(&app, "/private"), &token);
    let reply = dpop_get(&app, "/private", &token, &proof).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["user"], "auth0|alice");
    assert_eq!(reply.www_authenticate, None);
    let stats = app.auth.stats();
    assert_eq!(stats.verified(), 1);
    assert_eq!(stats.dpop_verified(), 1);
}

#[tokio::test]
async fn a_replayed_proof_is_rejected_the_second_time() {
    let app = app().await;
    let key = key();
    let token = app.issuer.token().dpop_bound(&key).sign();
    let proof = key.proof("GET", &url(&app, "/private"), &token);
    assert_eq!(dpop_get(&app, "/private", &token, &proof).await.status, 200);
    let replay = dpop_get(&app, "/private", &token, &proof).await;
    replay.assert_dpop_rejected(401, "invalid_dpop_proof", "ES256");
    assert!(
        replay.description().contains("already used"),
        "{}",
        replay.body
    );
    assert_eq!(app.auth.stats().rejected(RejectionReason::DpopReplay), 1);
    // A new proof for the same token is fine: only proofs are single-use.
    let fresh = key.proof("GET", &url(&app, "/private"), &token);
    assert_eq!(dpop_get(&app, "/private", &token, &fresh).await.status, 200);
}

#[tokio::test]
async fn concurrent_copies_of_one_proof_are_accepted_once() {
    let app = app().await;
    let key = key();
    let token = app.issuer.token().dpop_bound(&key).sign();
    let proof = key.proof("GET", &url(&app, "/private"), &token);
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let request = app
            .client
            .get(url(&app, "/private"))
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof.clone());
        requests.spawn(async move { request.send().await.map_or(0, |r| r.status().as_u16()) });
    }
    let statuses = requests.join_all().await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        31,
        "{statuses:?}"
    );
}

/// One broken proof: the rejection it must get.
struct Case {
    name: &'static str,
    description: &'static str,
    proof: fn(ProofBuilder<'_>, &Ctx) -> String,
}

/// What a case can use to break a proof.
struct Ctx {
    url: String,
    token: String,
    other_key: DpopKey,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "typ missing",
            description: "typ) must be dpop+jwt",
            proof: |p, c| p.token(&c.token).header("typ", Value::Null).sign(),
        },
        Case {
            name: "typ JWT",
            description: "typ) must be dpop+jwt",
            proof: |p, c| p.token(&c.token).header("typ", "JWT").sign(),
        },
        Case {
            name: "alg none",
            description: "algorithm is not accepted (accepted: ES256)",
            proof: |p, c| {
                let signed = p.token(&c.token).header("alg", "none").sign();
                let mut parts = signed.split('.');
                format!(
                    "{}.{}.",
                    parts.next().unwrap_or_default(),
                    parts.next().unwrap_or_default()
                )
            },
        },
        Case {
            name: "alg HS256",
            description: "algorithm is not accepted",
            proof: |p, c| p.token(&c.token).header("alg", "HS256").sign(),
        },
        Case {
            name: "alg es256 (case)",
            description: "algorithm is not accepted",
            proof: |p, c| p.token(&c.token).header("alg", "es256").sign(),
        },
        Case {
            name: "jwk missing",
            description: "jwk is not a public key",
            proof: |p, c| p.token(&c.token).header("jwk", Value::Null).sign(),
        },
        Case {
            name: "jwk with a private member",
            description: "must not contain private key material",
            proof: |p, c| {
                let mut jwk = c.other_key.jwk();
                jwk["d"] = json!("c2VjcmV0");
                p.token(&c.token).header("jwk", jwk).sign()
            },
        },
        Case {
            name: "jwk of another key type",
            description: "jwk is not a public key",
            proof: |p, c| {
                p.token(&c.token)
                    .header("jwk", json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}))
                    .sign()
            },
        },
        Case {
            name: "jwk a symmetric key",
            description: "must not contain private key material",
            proof: |p, c| {
                p.token(&c.token)
                    .header("jwk", json!({"kty": "oct", "k": "c2VjcmV0"}))
                    .sign()
            },
        },
        Case {
            name: "signature by another key than the jwk",
            description: "signature is invalid",
            proof: |p, c| p.token(&c.token).header("jwk", c.other_key.jwk()).sign(),
        },
        Case {
            name: "signature tampered",
            description: "signature is invalid",
            proof: |p, c| {
                let proof = p.token(&c.token).sign();
                let (rest, signature) = proof.rsplit_once('.').unwrap_or_default();
                let flipped = if signature.starts_with('A') { "B" } else { "A" };
                format!("{rest}.{flipped}{}", &signature[1..])
            },
        },
        Case {
            name: "crit header",
            description: "critical header",
            proof: |p, c| p.token(&c.token).header("crit", json!(["exp"])).sign(),
        },
        Case {
            name: "jti missing",
            description: "no valid `jti` claim",
            proof: |p, c| p.token(&c.token).claim("jti", Value::Null).sign(),
        },
        Case {
            name: "jti empty",
            description: "no valid `jti` claim",
            proof: |p, c| p.token(&c.token).jti("").sign(),
        },
        Case {
            name: "jti too long",
            description: "no valid `jti` claim",
            proof: |p, c| p.token(&c.token).jti(&"j".repeat(257)).sign(),
        },
        Case {
            name: "jti a number",
            description: "claims are not of the expected types",
            proof: |p, c| p.token(&c.token).claim("jti", 7).sign(),
        },
        Case {
            name: "htm missing",
            description: "no valid `htm` claim",
            proof: |p, c| p.token(&c.token).claim("htm", Value::Null).sign(),
        },
        Case {
            name: "htm another method",
            description: "htm does not match the request method",
            proof: |p, c| p.token(&c.token).claim("htm", "POST").sign(),
        },
        Case {
            name: "htm lower case",
            description: "htm does not match the request method",
            proof: |p, c| p.token(&c.token).claim("htm", "get").sign(),
        },
        Case {
            name: "htu missing",
            description: "no valid `htu` claim",
            proof: |p, c| p.token(&c.token).claim("htu", Value::Null).sign(),
        },
        Case {
            name: "htu another path",
            description: "htu does not match the request URL",
            proof: |p, c| {
                p.token(&c.token)
                    .claim("htu", c.url.replace("/private", "/admin"))
                    .sign()
            },
        },
        Case {
            name: "htu another host",
            description: "htu does not match the request URL",
            proof: |p, c| {
                p.token(&c.token)
                    .claim("htu", c.url.replace("127.0.0.1", "localhost"))
                    .sign()
            },
        },
        Case {
            name: "htu https instead of http",
            description: "htu does not match the request URL",
            proof: |p, c| {
                p.token(&c.token)
                    .claim("htu", c.url.replace("http://", "https://"))
                    .sign()
            },
        },
        Case {
            name: "htu relative",
            description: "htu does not match the request URL",
            proof: |p, c| p.token(&c.token).claim("htu", "/private").sign(),
        },
        Case {
            name: "iat missing",
            description: "no valid `iat` claim",
            proof: |p, c| p.token(&c.token).claim("iat", Value::Null).sign(),
        },
        Case {
            name: "iat a string",
            description: "claims are not of the expected types",
            proof: |p, c| p.token(&c.token).claim("iat", "1700000000").sign(),
        },
        Case {
            name: "iat older than offset + leeway",
            description: "iat is outside the accepted window",
            proof: |p, c| p.token(&c.token).issued_secs_ago(300 + 30 + 5).sign(),
        },
        Case {
            name: "iat beyond the leeway in the future",
            description: "iat is outside the accepted window",
            proof: |p, c| p.token(&c.token).issued_secs_ahead(30 + 5).sign(),
        },
        Case {
            name: "ath missing",
            description: "no valid `ath` claim",
            proof: |p, _| p.sign(),
        },
        Case {
            name: "ath of another token",
            description: "ath does not match the access token",
            proof: |p, c| p.token(&format!("{}x", c.token)).sign(),
        },
        Case {
            name: "not a JWS",
            description: "expected three dot-separated segments",
            proof: |_, _| "not-a-proof".to_owned(),
        },
        Case {
            name: "segments not base64url",
            description: "not base64url",
            proof: |_, _| "a*b.c*d.e*f".to_owned(),
        },
        Case {
            name: "header an array",
            description: "must be JSON objects",
            proof: |_, _| "WzFd.e30.AA".to_owned(),
        },
        Case {
            name: "too large",
            description: "too large",
            proof: |p, c| p.token(&c.token).claim("pad", "x".repeat(9000)).sign(),
        },
    ]
}

#[tokio::test]
async fn every_proof_rule_is_enforced() {
    let app = app().await;
    let key = key();
    let ctx = Ctx {
        url: url(&app, "/private"),
        token: app.issuer.token().dpop_bound(&key).sign(),
        other_key: DpopKey::generate().expect("key"),
    };
    let cases = cases();
    for case in &cases {
        let proof = (case.proof)(key.proof_builder("GET", &ctx.url), &ctx);
        let reply = dpop_get(&app, "/private", &ctx.token, &proof).await;
        assert_eq!(reply.status, 401, "{}: {}", case.name, reply.body);
        reply.assert_dpop_rejected(401, "invalid_dpop_proof", "ES256");
        assert!(
            reply.description().contains(case.description),
            "{}: {}",
            case.name,
            reply.body
        );
        // The challenge repeats the description, and neither echoes the proof.
        assert!(
            reply.challenge().contains(reply.description()),
            "{}",
            case.name
        );
        let tail = &proof[proof.len().saturating_sub(20)..];
        assert!(
            proof.len() < 40 || !reply.challenge().contains(tail),
            "{}",
            case.name
        );
    }
    // Nothing invalid reached the replay store; a valid proof still passes.
    assert_eq!(
        app.auth.stats().rejected(RejectionReason::DpopProof),
        cases.len() as u64
    );
    assert_eq!(app.auth.stats().verified(), 0);
    let proof = key.proof("GET", &ctx.url, &ctx.token);
    assert_eq!(
        dpop_get(&app, "/private", &ctx.token, &proof).await.status,
        200
    );
}

#[tokio::test]
async fn htu_is_compared_after_rfc_3986_normalisation() {
    let app = app().await;
    let key = key();
    let token = app.issuer.token().dpop_bound(&key).sign();
    let port = app.base.rsplit(':').next().unwrap_or_default().to_owned();
    let equivalent = [
        format!("HTTP://127.0.0.1:{port}/private"),
        format!("http://127.0.0.1:{port}/%70rivate"),
        format!("http://127.0.0.1:{port}/private?page=2#top"),
        format!("http://127.0.0.1:{port}/a/../private"),
    ];
    for htu in &equivalent {
        let proof = key.proof_builder("GET", htu).token(&token).sign();
        let reply = dpop_get(&app, "/private", &token, &proof).await;
        assert_eq!(reply.status, 200, "{htu}: {}", reply.body);
    }
    // The request's own query is not part of the comparison either.
    let proof = key.proof("GET", &url(&app, "/private"), &token);
    assert_eq!(
        dpop_get(&app, "/private?x=1", &token, &proof).await.status,
        200
    );
    // Path case matters.
    let proof = key.proof("GET", &url(&app, "/PRIVATE"), &token);
    dpop_get(&app, "/private", &token, &proof)
        .await
        .assert_dpop_rejected(401, "invalid_dpop_proof", "ES256");
}

#[tokio::test]
async fn iat_inside_the_window_is_accepted() {
    let app = app().await;
    let key = key();
    let token = app.issuer.token().dpop_bound(&key).sign();
    for proof in [
        key.proof_builder("GET", &url(&app, "/private"))
            .token(&token)
            .issued_secs_ago(320)
            .sign(),
        key.proof_builder("GET", &url(&app, "/private"))
            .token(&token)
            .issued_secs_ahead(25)
            .sign(),
    ] {
        assert_eq!(dpop_get(&app, "/private", &token, &proof).await.status, 200);
    }
}

#[tokio::test]
async fn proof_header_count_and_presence() {
    let app = app().await;
    let key = key();
    let token = app.issuer.token().dpop_bound(&key).sign();
    let target = url(&app, "/private");

    // DPoP token without a proof.
    let reply = send(
        app.client
            .get(&target)
            .header("authorization", format!("DPoP {token}")),
    )
    .await;
    reply.assert_dpop_rejected(401, "invalid_dpop_proof", "ES256");
    assert!(
        reply.description().contains("needs a DPoP proof"),
        "{}",
        reply.body
    );

    // Two DPoP headers, and two proofs folded into one.
    let (a, b) = (
        key.proof("GET", &target, &token),
        key.proof("GET", &target, &token),
    );
    for request in [
        app.client
            .get(&target)
            .header("dpop", &a)
            .header("dpop", &b),
        app.client.get(&target).header("dpop", format!("{a}, {b}")),
    ] {
        let reply = send(request.header("authorization", format!("DPoP {token}"))).await;
        reply.assert_dpop_rejected(401, "invalid_dpop_proof", "ES256");
        assert!(
            reply.description().contains("more than one"),
            "{}",
            reply.body
        );
    }

    // A proof without a DPoP token: no Authorization, or the Bearer scheme.
    let unbound = app.issuer.token().sign();
    for request in [
        app.client.get(&target),
        app.client.get(&target).bearer_auth(&unbound),
    ] {
        let proof = key.proof("GET", &target, &unbound);
        let reply = send(request.header("dpop", proof)).await;
        reply.assert_dpop_rejected(401, "invalid_dpop_proof", "ES256");
        assert!(
            reply
                .description()
                .contains("without a DPoP-bound access token"),
            "{}",
            reply.body
        );
    }
    // Malformed DPoP Authorization headers are 400 invalid_request under the DPoP scheme.
    let reply = send(app.client.get(&target).header("authorization", "DPoP")).await;
    reply.assert_dpop_rejected(400, "invalid_request", "ES256");
    assert_eq!(
        reply.description(),
        "the DPoP scheme is not followed by a token"
    );
    let two = format!("DPoP {token} {token}");
    let reply = send(app.client.get(&target).header("authorization", two)).await;
    reply.assert_dpop_rejected(400, "invalid_request", "ES256");
    // A malformed Bearer header keeps the Bearer challenge alone.
    let reply = send(app.client.get(&target).header("authorization", "Bearer")).await;
    reply.assert_rejected(400, "invalid_request");
    assert!(!reply.challenge().contains("DPoP"), "{}", reply.challenge());
}

#[tokio::test]
async fn the_access_token_is_fully_verified_under_dpop() {
    let app = app().await;
    let key = key();
    let target = url(&app, "/private");
    let expired = app
        .issuer
        .token()
        .dpop_bound(&key)
        .expired_for(Duration::from_secs(600))
        .sign();
    let reply = dpop_get(
        &app,
        "/private",
        &expired,
        &key.proof("GET", &target, &expired),
    )
    .await;
    reply.assert_dpop_rejected(401, "invalid_token", "ES256");
    assert_eq!(reply.description(), "the token has expired");

    let wrong_audience = app
        .issuer
        .token()
        .dpop_bound(&key)
        .audience("https://other")
        .sign();
    let reply = dpop_get(
        &app,
        "/private",
        &wrong_audience,
        &key.proof("GET", &target, &wrong_audience),
    )
    .await;
    reply.assert_dpop_rejected(401, "invalid_token", "ES256");

    // An unbound token cannot be used with the DPoP scheme.
    let unbound = app.issuer.token().sign();
    let reply = dpop_get(
        &app,
        "/private",
        &unbound,
        &key.proof("GET", &target, &unbound),
    )
    .await;
    reply.assert_dpop_rejected(401, "invalid_token", "ES256");
    assert!(
        reply.description().contains("not DPoP-bound"),
        "{}",
        reply.body
    );

    // A token bound to another key: the proof's key must be the bound one.
    let other = DpopKey::generate().expect("key");
    let stolen = app.issuer.token().dpop_bound(&other).sign();
    let reply = dpop_get(
        &app,
        "/private",
        &stolen,
        &key.proof("GET", &target, &stolen),
    )
    .await;
    reply.assert_dpop_rejected(401, "invalid_dpop_proof", "ES256");
    assert!(reply.description().contains("cnf.jkt"), "{}", reply.body);
    assert_eq!(app.auth.stats().rejected(RejectionReason::DpopBinding), 2);
}

#[tokio::test]
async fn a_bound_token_is_never_accepted_as_bearer() {
    for mode in [DpopMode::Allowed, DpopMode::Required, DpopMode::Disabled] {
        let app = app_with(|b| b.dpop(mode)).await;
        let key = key();
        let token = app.issuer.token().dpop_bound(&key).sign();
        let reply = app.get("/private", Some(&token)).await;
        assert_eq!(reply.status, 401, "{mode}: {}", reply.body);
        assert_eq!(reply.error(), "invalid_token", "{mode}");
        assert_eq!(app.auth.stats().verified(), 0, "{mode}");
        // `verify` (the Bearer path) refuses it too.
        assert_eq!(
            app.auth.verify(&token).await.map(|_| ()),
            Err(route_guard::VerifyError::DpopBound),
            "{mode}"
        );
    }
}

/// The verified-token cache holds a bound token once a DPoP request verified it: the Bearer
/// path's lookup there still refuses it.
#[tokio::test]
async fn a_bound_token_seen_with_its_proof_is_still_refused_as_bearer() {
    let app = app().await;
    let key = key();
    let token = app.issuer.token().dpop_bound(&key).sign();
    for _ in 0..2 {
        let proof = key.proof("GET", &url(&app, "/private"), &token);
        assert_eq!(dpop_get(&app, "/private", &token, &proof).await.status, 200);
    }
    assert_eq!(app.auth.stats().verified_from_cache(), 1);
    let reply = app.get("/private", Some(&token)).await;
    reply.assert_rejected(401, "invalid_token");
    assert!(
        reply.description().contains("DPoP"),
        "{}",
        reply.description()
    );
    assert_eq!(
        app.auth.stats().verified_from_cache(),
        2,
        "found, then refused"
    );
}

#[tokio::test]
async fn allowed_mode_takes_both_schemes_and_offers_both_challenges() {
    let app = app().await;
    let reply = app.get("/private", None).await;
    reply.assert_rejected(401, "unauthorized");
    assert_eq!(
        reply.challenge(),
        "Bearer realm=\"api\", DPoP realm=\"api\", algs=\"ES256\""
    );
    let bearer = app.issuer.token().sign();
    assert_eq!(app.get("/private", Some(&bearer)).await.status, 200);
    assert_eq!(valid_request(&app, &key(), "/private").await.status, 200);
    // A bearer failure keeps the Bearer challenge.
    let reply = app.get("/private", Some("a.b.c")).await;
    reply.assert_rejected(401, "invalid_token");
    assert!(!reply.challenge().contains("DPoP"), "{}", reply.challenge());
}

#[tokio::test]
async fn required_mode_rejects_bearer_and_offers_only_dpop() {
    let app = app_with(|b| b.dpop(DpopMode::Required)).await;
    let reply = app.get("/private", None).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.challenge(), "DPoP realm=\"api\", algs=\"ES256\"");
    assert!(
        reply.description().contains("Authorization: DPoP"),
        "{}",
        reply.body
    );

    let bearer = app.issuer.token().sign();
    let reply = app.get("/private", Some(&bearer)).await;
    reply.assert_dpop_rejected(401, "invalid_token", "ES256");
    assert!(
        reply.description().contains("only DPoP-bound"),
        "{}",
        reply.body
    );
    assert_eq!(app.auth.stats().rejected(RejectionReason::DpopBinding), 1);

    assert_eq!(valid_request(&app, &key(), "/private").await.status, 200);
}

#[tokio::test]
async fn disabled_mode_ignores_the_dpop_scheme() {
    let app = app_with(|b| b.dpop(DpopMode::Disabled)).await;
    let reply = valid_request(&app, &key(), "/private").await;
    reply.assert_rejected(401, "unauthorized");
    assert_eq!(reply.challenge(), "Bearer realm=\"api\"");
    let reply = app.get_with_header("/private", "DPoP").await;
    reply.assert_rejected(401, "unauthorized");
    assert_eq!(reply.challenge(), "Bearer realm=\"api\"");
    let bearer = app.issuer.token().sign();
    assert_eq!(app.get("/private", Some(&bearer)).await.status, 200);
}

#[tokio::test]
async fn insufficient_scope_under_dpop_uses_the_dpop_challenge() {
    let app = app().await;
    let key = key();
    let target = url(&app, "/scoped");
    let token = app.issuer.token().dpop_bound(&key).scopes("profile").sign();
    let reply = dpop_get(&app, "/scoped", &token, &key.proof("GET", &target, &token)).await;
    reply.assert_dpop_rejected(403, "insufficient_scope", "ES256");
    assert!(
        reply.challenge().contains("scope=\"read:messages\""),
        "{}",
        reply.challenge()
    );

    let token = app
        .issuer
        .token()
        .dpop_bound(&key)
        .scopes("read:messages")
        .sign();
    let reply = dpop_get(&app, "/scoped", &token, &key.proof("GET", &target, &token)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // An optional extractor sees the DPoP caller too.
    let target = url(&app, "/feed");
    let reply = dpop_get(&app, "/feed", &token, &key.proof("GET", &target, &token)).await;
    assert_eq!(reply.body["message"], "hello auth0|test-user");
}

#[tokio::test]
async fn selectable_proof_algorithms() {
    let algorithms = [
        Algorithm::ES384,
        Algorithm::EdDSA,
        Algorithm::RS256,
        Algorithm::PS256,
    ];
    let app = app_with(|b| b.dpop_algorithms(algorithms)).await;
    for alg in algorithms {
        let key = DpopKey::generate_for(alg).expect("key");
        let reply = valid_request(&app, &key, "/private").await;
        assert_eq!(reply.status, 200, "{alg}: {}", reply.body);
    }
    // RFC 9864: a proof naming `Ed25519` is accepted wherever `EdDSA` is.
    let ed25519 = DpopKey::generate_for(Algorithm::Ed25519).expect("key");
    let reply = valid_request(&app, &ed25519, "/private").await;
    assert_eq!(reply.status, 200, "Ed25519: {}", reply.body);
    // ES256, the default, is not on this list.
    let reply = valid_request(&app, &key(), "/private").await;
    reply.assert_dpop_rejected(401, "invalid_dpop_proof", "ES384 EdDSA RS256 PS256");
    // A PS256 header on an RS256-only list is refused even with an RSA key.
    let app = app_with(|b| b.dpop_algorithms([Algorithm::RS256])).await;
    let key = DpopKey::generate_for(Algorithm::RS256).expect("key");
    let token = app.issuer.token().dpop_bound(&key).sign();
    let proof = key
        .proof_builder("GET", &url(&app, "/private"))
        .token(&token)
        .alg(Algorithm::PS256)
        .sign();
    dpop_get(&app, "/private", &token, &proof)
        .await
        .assert_dpop_rejected(401, "invalid_dpop_proof", "RS256");
}

#[tokio::test]
async fn the_nonce_flow() {
    const SECRET: &[u8] = b"a nonce secret shared by every instance";
    let app = app_with(|b| b.dpop_nonce(SECRET)).await;
    let key = key();
    let target = url(&app, "/private");
    let token = app.issuer.token().dpop_bound(&key).sign();

    let first = key
        .proof_builder("GET", &target)
        .token(&token)
        .jti("try-1")
        .sign();
    let reply = dpop_get(&app, "/private", &token, &first).await;
    reply.assert_dpop_rejected(401, "use_dpop_nonce", "ES256");
    let nonce = reply.header("dpop-nonce").to_owned();
    assert!(nonce.len() > 20, "{:?}", reply.headers);
    assert_eq!(app.auth.stats().rejected(RejectionReason::DpopNonce), 1);

    // A made-up nonce is refused the same way, with the current one.
    let forged = key
        .proof_builder("GET", &target)
        .token(&token)
        .nonce("made-up")
        .sign();
    let reply = dpop_get(&app, "/private", &token, &forged).await;
    reply.assert_dpop_rejected(401, "use_dpop_nonce", "ES256");
    assert_eq!(reply.header("dpop-nonce"), nonce);

    // The retry carries the nonce; the refused attempt did not burn its jti.
    let retry = key
        .proof_builder("GET", &target)
        .token(&token)
        .jti("try-1")
        .nonce(&nonce)
        .sign();
    let reply = dpop_get(&app, "/private", &token, &retry).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    // Another instance with the same secret accepts the nonce.
    let twin = common::start_with(|b| b.dpop_nonce(SECRET)).await;
    let token = twin.issuer.token().dpop_bound(&key).sign();
    let proof = key
        .proof_builder("GET", &url(&twin, "/private"))
        .token(&token)
        .nonce(&nonce)
        .sign();
    assert_eq!(
        dpop_get(&twin, "/private", &token, &proof).await.status,
        200
    );
}

#[tokio::test]
async fn public_base_url_is_what_htu_must_name() {
    let app = app_with(|b| b.public_base_url("https://API.example.com/v1/")).await;
    let key = key();
    let token = app.issuer.token().dpop_bound(&key).sign();
    let public = key.proof("GET", "https://api.example.com/v1/private", &token);
    assert_eq!(
        dpop_get(&app, "/private", &token, &public).await.status,
        200
    );
    let direct = key.proof("GET", &url(&app, "/private"), &token);
    dpop_get(&app, "/private", &token, &direct)
        .await
        .assert_dpop_rejected(401, "invalid_dpop_proof", "ES256");
}

#[tokio::test]
async fn only_the_named_proxy_header_and_its_last_element_count() {
    use route_guard::ProxyHeaders;
    let public = "https://api.example.com/private";
    let x_forwarded = vec![
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "api.example.com"),
    ];
    let forwarded = vec![(
        "forwarded",
        "for=10.0.0.1;proto=https;host=\"api.example.com\"",
    )];
    // What a client sends before the proxy's own element (the proxy's says where it was
    // really called: this server's loopback address, over http).
    let client_first = |base: &str| {
        vec![(
            "forwarded",
            format!(
                "proto=https;host=api.example.com, for=10.0.0.1;proto=http;host={}",
                base.trim_start_matches("http://")
            ),
        )]
    };
    for (proxy, passes) in [
        (ProxyHeaders::None, [false, false]),
        (ProxyHeaders::XForwarded, [true, false]),
        (ProxyHeaders::Forwarded, [false, true]),
    ] {
        let app = app_with(|b| b.proxy_headers(proxy)).await;
        let key = key();
        let token = app.issuer.token().dpop_bound(&key).sign();
        let owned = |headers: &[(&str, &str)]| -> Vec<(String, String)> {
            headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect()
        };
        let cases = [
            (owned(&x_forwarded), passes[0]),
            (owned(&forwarded), passes[1]),
            (
                client_first(&app.base)
                    .into_iter()
                    .map(|(n, v)| (n.to_owned(), v))
                    .collect(),
                false,
            ),
        ];
        for (headers, expected) in cases {
            let proof = key.proof("GET", public, &token);
            let mut request = app
                .client
                .get(url(&app, "/private"))
                .header("authorization", format!("DPoP {token}"))
                .header("dpop", proof);
            for (name, value) in &headers {
                request = request.header(name.as_str(), value.as_str());
            }
            let reply = send(request).await;
            assert_eq!(
                reply.status,
                if expected { 200 } else { 401 },
                "{proxy:?} {headers:?}: {}",
                reply.body
            );
        }
    }
    // The old switch read either header: refused at start-up, naming its replacement.
    #[allow(deprecated)]
    let old = route_guard::testing::TestIssuer::start()
        .await
        .expect("issuer")
        .authenticator_builder()
        .trust_forwarded_headers(true)
        .build();
    let error = old
        .expect_err("trust_forwarded_headers(true) is refused")
        .to_string();
    assert!(error.contains("proxy_headers(ProxyHeaders::"), "{error}");
}

#[tokio::test]
async fn htu_includes_the_prefix_of_a_nested_router() {
    let issuer = route_guard::testing::TestIssuer::start()
        .await
        .expect("issuer");
    let auth = issuer.authenticator().expect("auth");
    async fn me(claims: Claims) -> Json<Value> {
        Json(json!({ "user": claims.sub }))
    }
    let routes = Router::new().nest("/api", Router::new().route("/me", get(me)));
    let app = common::serve_app(issuer, auth, routes).await;
    let key = key();
    let reply = valid_request(&app, &key, "/api/me").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

/// A store that counts inserts and can be switched to failing.
#[derive(Clone)]
struct Probe {
    inserts: Arc<AtomicUsize>,
    failing: Arc<std::sync::atomic::AtomicBool>,
    inner: Arc<route_guard::MemoryReplayStore>,
}

impl ReplayStore for Probe {
    fn insert<'a>(&'a self, key: &'a str, ttl: Duration) -> ReplayFuture<'a> {
        self.inserts.fetch_add(1, Ordering::SeqCst);
        if self.failing.load(Ordering::SeqCst) {
            return Box::pin(std::future::ready(Err(ReplayStoreError::from(
                "probe: store down",
            ))));
        }
        self.inner.insert(key, ttl)
    }
}

impl Probe {
    fn new() -> Self {
        Probe {
            inserts: Arc::default(),
            failing: Arc::default(),
            inner: Arc::new(route_guard::MemoryReplayStore::new(1024)),
        }
    }
}

#[tokio::test]
async fn only_proofs_that_passed_every_other_check_reach_the_replay_store() {
    let probe = Probe::new();
    let store = probe.clone();
    let app = app_with(move |b| b.dpop_replay_store(store)).await;
    let key = key();
    let target = url(&app, "/private");
    let token = app.issuer.token().dpop_bound(&key).sign();
    // Forged or misdirected proofs, an invalid token, a token bound to another key.
    let other = DpopKey::generate().expect("key");
    let expired = app
        .issuer
        .token()
        .dpop_bound(&key)
        .expired_for(Duration::from_secs(60))
        .sign();
    let foreign = app.issuer.token().dpop_bound(&other).sign();
    let rejected = [
        (
            token.clone(),
            key.proof_builder("GET", &target)
                .token(&token)
                .header("jwk", other.jwk())
                .sign(),
        ),
        (token.clone(), key.proof("POST", &target, &token)),
        (expired.clone(), key.proof("GET", &target, &expired)),
        (foreign.clone(), key.proof("GET", &target, &foreign)),
    ];
    for (token, proof) in &rejected {
        assert_eq!(dpop_get(&app, "/private", token, proof).await.status, 401);
    }
    assert_eq!(probe.inserts.load(Ordering::SeqCst), 0);
    assert_eq!(valid_request(&app, &key, "/private").await.status, 200);
    assert_eq!(probe.inserts.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_failing_replay_store_fails_closed_with_503_and_logs_one_error() {
    let collector = common::logs::Collector::default();
    let _guard = tracing::subscriber::set_default(collector.clone());
    let probe = Probe::new();
    let store = probe.clone();
    let app = app_with(move |b| b.dpop_replay_store(store)).await;
    let key = key();
    probe.failing.store(true, Ordering::SeqCst);
    let before = collector.len();
    for _ in 0..3 {
        valid_request(&app, &key, "/private")
            .await
            .assert_unavailable("replay store");
    }
    let errors = collector.at_level_since("ERROR", before);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].contains("probe: store down"), "{errors:#?}");
    let stats = app.auth.stats();
    assert_eq!(stats.rejected(RejectionReason::ReplayStoreUnavailable), 3);
    assert_eq!(stats.dpop_verified(), 0);

    // Bearer keeps working; DPoP recovers when the store answers again.
    let bearer = app.issuer.token().sign();
    assert_eq!(app.get("/private", Some(&bearer)).await.status, 200);
    probe.failing.store(false, Ordering::SeqCst);
    assert_eq!(valid_request(&app, &key, "/private").await.status, 200);
    assert!(collector
        .at_level_since("INFO", before)
        .iter()
        .any(|e| e.contains("available again")));
}

#[tokio::test]
async fn a_full_memory_store_fails_closed_rather_than_forgetting() {
    let app = app_with(|b| b.dpop_replay_capacity(1)).await;
    // 16 shards of one entry: at most 16 live proofs, so the 17th request at the latest fails.
    // One client each (one client alone is held to its quota long before, see below).
    let mut statuses = Vec::new();
    for _ in 0..17 {
        statuses.push(
            valid_request(&app, &key(), "/private")
                .await
                .status
                .as_u16(),
        );
    }
    assert!(statuses.contains(&503), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        app.auth.stats().dpop_verified() as usize
    );
}

#[tokio::test]
async fn verify_dpop_outside_axum() {
    let issuer = route_guard::testing::TestIssuer::start()
        .await
        .expect("issuer");
    let auth = issuer.authenticator().expect("auth");
    let key = key();
    let token = issuer.token().dpop_bound(&key).sign();
    let target = "https://api.example.com/orders";
    let proof = key.proof("DELETE", target, &token);
    let verified = auth
        .verify_dpop(&token, &proof, "DELETE", target)
        .await
        .expect("valid DPoP request");
    assert_eq!(verified.dpop_thumbprint(), Some(key.thumbprint().as_str()));
    assert_eq!(
        auth.verify_dpop(&token, &proof, "DELETE", target)
            .await
            .map(|_| ()),
        Err(route_guard::DpopError::Proof(
            route_guard::ProofError::Replayed
        ))
    );
}

#[tokio::test]
async fn one_client_over_its_replay_quota_gets_429_while_others_pass() {
    let app = app_with(|b| b.dpop_replay_quota(5)).await;
    let target = url(&app, "/private");
    let flooder = key();
    let token = app.issuer.token().dpop_bound(&flooder).sign();
    let mut accepted = Vec::new();
    for _ in 0..5 {
        let proof = flooder.proof("GET", &target, &token);
        let reply = dpop_get(&app, "/private", &token, &proof).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        accepted.push(proof);
    }
    // The sixth live proof of one key: not recorded, 429 with Retry-After and no challenge.
    for _ in 0..3 {
        let proof = flooder.proof("GET", &target, &token);
        let reply = dpop_get(&app, "/private", &token, &proof).await;
        assert_eq!(reply.status, 429, "{}", reply.body);
        assert_eq!(reply.error(), "too_many_requests");
        assert_eq!(reply.www_authenticate, None);
        let retry_after: u64 = reply.header("retry-after").parse().expect("seconds");
        // The proofs stay for the proof window (300 s + 2 × 30 s leeway at most).
        assert!((1..=360).contains(&retry_after), "{retry_after}");
    }
    // Replay protection never weakens: an accepted proof is still a replay, not a 429.
    let reply = dpop_get(&app, "/private", &token, &accepted[0]).await;
    reply.assert_dpop_rejected(401, "invalid_dpop_proof", "ES256");
    assert!(
        reply.description().contains("already used"),
        "{}",
        reply.body
    );
    // Other clients keep working, each with a quota of its own.
    for _ in 0..3 {
        let other = key();
        for _ in 0..5 {
            assert_eq!(valid_request(&app, &other, "/private").await.status, 200);
        }
    }
    let stats = app.auth.stats();
    assert_eq!(stats.rejected(RejectionReason::DpopQuota), 3);
    assert_eq!(stats.rejected(RejectionReason::DpopReplay), 1);
    assert_eq!(stats.rejected(RejectionReason::ReplayStoreUnavailable), 0);
}
