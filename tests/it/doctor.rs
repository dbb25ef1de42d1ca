//! The token doctor: one test per cause it must recognise, each asserting the failed check, the
//! cause and the verdict, against a real loopback issuer. (That its verdict equals the HTTP
//! answer for every hostile token and error-contract row is asserted by those tests, through
//! `common::assert_doctor_agrees`.)

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use route_guard::doctor::{Diagnosis, Outcome};
use route_guard::layer::Require;
use route_guard::testing::{DpopKey, TestIssuer, TEST_AUDIENCE};
use route_guard::{Algorithm, Authenticator};
use serde_json::json;

async fn setup() -> (TestIssuer, Authenticator) {
    let issuer = TestIssuer::start().await.expect("issuer");
    let auth = issuer.authenticator().expect("builds");
    (issuer, auth)
}

/// The check `check` failed, the causes include `cause`, and the verdict is `status` with
/// the body error `code`.
fn assert_diagnosed(d: &Diagnosis, check: &str, cause: &str, status: u16, code: &str) {
    let finding = d
        .check(check)
        .unwrap_or_else(|| panic!("no check {check}: {d:#?}"));
    assert_eq!(finding.outcome, Outcome::Failed, "{check}: {d:#?}");
    assert!(d.has_cause(cause), "cause {cause}: {:#?}", d.causes);
    assert!(!d.accepted());
    assert_eq!(d.verdict.status, status, "{:#?}", d.verdict);
    let body = d.verdict.body.as_ref().expect("a rejection body");
    assert_eq!(body["error"], code, "{body}");
    for cause in &d.causes {
        assert!(!cause.fix.is_empty() && !cause.explanation.is_empty());
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn b64(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(text)
}

#[tokio::test]
async fn a_valid_token_passes_every_check_with_its_key_and_times() {
    let (issuer, auth) = setup().await;
    let token = issuer.token().scopes("read:messages").sign();
    let d = auth.diagnose(&token).await;
    assert!(d.accepted(), "{d:#?}");
    assert_eq!(d.verdict.status, 200);
    assert!(d.causes.is_empty());
    assert!(d.first_failure().is_none(), "{d:#?}");
    let names: Vec<&str> = d.checks.iter().map(|c| c.check).collect();
    assert_eq!(
        names,
        [
            "size",
            "format",
            "header",
            "alg",
            "crit",
            "typ",
            "payload",
            "iss",
            "key",
            "signature",
            "exp",
            "nbf",
            "iat",
            "aud",
            "policies",
            "binding",
            "claims",
            "requirement"
        ]
    );
    let key = d.key.as_ref().expect("the key");
    assert_eq!(key.issuer, issuer.issuer());
    assert_eq!(key.kid.as_deref(), Some(issuer.signing_kid().as_str()));
    assert_eq!((key.kty, key.alg), ("RSA", "RS256"));
    // Claims read after the signature passed are trusted; the header and issuer never are.
    assert!(d.check("exp").is_some_and(|c| c.trusted));
    assert!(d.check("iss").is_some_and(|c| !c.trusted));
    let exp = d.times.iter().find(|t| t.claim == "exp").expect("exp");
    assert!(
        exp.utc.ends_with(" UTC") && exp.relative.starts_with("in "),
        "{exp:?}"
    );
    assert_eq!(d.token_sha256.len(), 16);
    assert!(!d.token_sha256.is_empty() && !token.contains(&d.token_sha256));
}

#[tokio::test]
async fn an_opaque_token() {
    let (_issuer, auth) = setup().await;
    let d = auth.diagnose("2YotnFZFEjr1zCsicMWpAA").await;
    assert_diagnosed(&d, "format", "opaque_token", 401, "invalid_token");
    assert!(d.causes[0]
        .fix
        .contains("Resource Parameter Compatibility Profile"));
    // Nothing after the shape could be read.
    assert_eq!(
        d.check("signature").map(|c| c.outcome),
        Some(Outcome::NotReached)
    );
}

#[tokio::test]
async fn an_encrypted_token() {
    let (issuer, auth) = setup().await;
    let parts: Vec<String> = issuer
        .token()
        .sign()
        .split('.')
        .map(str::to_owned)
        .collect();
    let jwe = format!(
        "{}.{}.{}.{}.{}",
        parts[0], parts[1], parts[2], parts[1], parts[2]
    );
    let d = auth.diagnose(&jwe).await;
    assert_diagnosed(&d, "format", "jwe_token", 401, "invalid_token");
}

#[tokio::test]
async fn an_id_token() {
    let (issuer, auth) = setup().await;
    let token = issuer
        .token()
        .audience("kbyuFDidLLm280LIwVFiazOqjO3ty8KH")
        .claim("nonce", "n-0S6_WzA2Mj")
        .sign();
    let d = auth.diagnose(&token).await;
    assert_diagnosed(&d, "aud", "id_token", 401, "invalid_token");
    // Every other check still ran: the signature is fine.
    assert_eq!(
        d.check("signature").map(|c| c.outcome),
        Some(Outcome::Passed)
    );
}

#[tokio::test]
async fn a_wrong_audience_with_a_trailing_slash_or_the_api_id() {
    let (issuer, auth) = setup().await;
    let slash = issuer.token().audience(&format!("{TEST_AUDIENCE}/")).sign();
    let d = auth.diagnose(&slash).await;
    assert_diagnosed(&d, "aud", "wrong_audience", 401, "invalid_token");
    assert!(
        d.causes[0].explanation.contains("trailing slash"),
        "{:?}",
        d.causes
    );
    let id = issuer.token().audience("5f3b2c1d9e8f7a6b5c4d3e2f").sign();
    let d = auth.diagnose(&id).await;
    assert_diagnosed(&d, "aud", "wrong_audience", 401, "invalid_token");
    assert!(
        d.causes[0].explanation.contains("API's id"),
        "{:?}",
        d.causes
    );
    assert!(d.causes[0].fix.contains(TEST_AUDIENCE));
}

#[tokio::test]
async fn a_token_of_another_tenant_names_the_accepted_issuer() {
    let (issuer, auth) = setup().await;
    let token = issuer
        .token()
        .iss("https://other-tenant.eu.auth0.com/")
        .sign();
    let d = auth.diagnose(&token).await;
    assert_diagnosed(&d, "iss", "other_issuer", 401, "invalid_token");
    let cause = &d.causes[0];
    assert!(cause.explanation.contains(issuer.issuer()), "{cause:?}");
    assert!(cause.fix.contains("other-tenant.eu.auth0.com"), "{cause:?}");
}

#[tokio::test]
async fn the_issuer_without_its_trailing_slash() {
    let (issuer, auth) = setup().await;
    let bare = issuer.issuer().trim_end_matches('/').to_owned();
    let d = auth.diagnose(&issuer.token().iss(&bare).sign()).await;
    assert_diagnosed(&d, "iss", "issuer_trailing_slash", 401, "invalid_token");
}

#[tokio::test]
async fn an_hs256_token() {
    let (issuer, auth) = setup().await;
    let header = json!({ "alg": "HS256", "typ": "JWT" }).to_string();
    let payload = json!({
        "iss": issuer.issuer(), "aud": TEST_AUDIENCE, "sub": "u",
        "exp": 4_000_000_000u64, "iat": 1_700_000_000u64
    })
    .to_string();
    let message = format!("{}.{}", b64(&header), b64(&payload));
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, b"secret");
    let tag = aws_lc_rs::hmac::sign(&key, message.as_bytes());
    let token = format!("{message}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()));
    let d = auth.diagnose(&token).await;
    assert_diagnosed(&d, "alg", "hs256", 401, "invalid_token");
    assert!(d.causes[0].fix.contains("RS256"));
}

#[tokio::test]
async fn expired_and_clock_skew() {
    let (issuer, auth) = setup().await;
    let expired = issuer
        .token()
        .expired_for(Duration::from_secs(3 * 3600 + 2 * 60))
        .sign();
    let d = auth.diagnose(&expired).await;
    assert_diagnosed(&d, "exp", "expired", 401, "invalid_token");
    let exp = d.times.iter().find(|t| t.claim == "exp").expect("exp");
    assert_eq!(exp.relative, "3 h 2 min ago", "{exp:?}");
    assert!(
        d.causes[0].explanation.contains("3 h 2 min"),
        "{:?}",
        d.causes
    );

    // Issued in the future: not a failure (route-guard does not check `iat`), but shown.
    let ahead = issuer.token().claim("iat", now() + 47).sign();
    let d = auth.diagnose(&ahead).await;
    assert!(d.accepted(), "{d:#?}");
    let iat = d.check("iat").expect("iat");
    assert_eq!(iat.outcome, Outcome::Passed);
    assert!(
        iat.actual
            .as_deref()
            .is_some_and(|a| a.starts_with("issued 4") && a.ends_with("in the future, leeway 30 s")),
        "{iat:?}"
    );

    // Expired seconds after it was issued: the clocks, most likely.
    let fresh = issuer
        .token()
        .claim("iat", now() - 90)
        .claim("exp", now() - 40)
        .sign();
    let d = auth.diagnose(&fresh).await;
    assert_diagnosed(&d, "exp", "clock_skew", 401, "invalid_token");
    assert!(d.has_cause("expired"));

    let early = issuer
        .token()
        .not_before_in(Duration::from_secs(300))
        .sign();
    let d = auth.diagnose(&early).await;
    assert_diagnosed(&d, "nbf", "clock_skew", 401, "invalid_token");
    assert!(
        d.causes[0].explanation.contains("leeway of 30 s"),
        "{:?}",
        d.causes
    );
}

#[tokio::test]
async fn permissions_missing_and_scope_permission_confusion() {
    let (issuer, auth) = setup().await;
    // RBAC off: the token has no `permissions` at all.
    let token = issuer.token().scopes("openid").sign();
    let d = auth
        .diagnose_for(&token, &Require::new().permissions("write:messages"))
        .await;
    assert_diagnosed(
        &d,
        "requirement",
        "permissions_missing",
        403,
        "insufficient_scope",
    );
    assert!(d
        .causes
        .iter()
        .any(|c| c.fix.contains("Add Permissions in the Access Token")));

    // The route checks a scope the token has as a permission.
    let token = issuer.token().permissions(["read:messages"]).sign();
    let d = auth
        .diagnose_for(&token, &Require::new().scopes("read:messages"))
        .await;
    assert_diagnosed(
        &d,
        "requirement",
        "scope_permission_confusion",
        403,
        "insufficient_scope",
    );
    // And the reverse.
    let token = issuer.token().scopes("write:messages").sign();
    let d = auth
        .diagnose_for(&token, &Require::new().permissions("write:messages"))
        .await;
    assert_diagnosed(
        &d,
        "requirement",
        "scope_permission_confusion",
        403,
        "insufficient_scope",
    );
}

#[tokio::test]
async fn a_route_requirement_names_what_to_request() {
    let (issuer, auth) = setup().await;
    let token = issuer.token().scopes("read:messages").sign();
    let d = auth
        .diagnose_for(
            &token,
            &Require::new().scopes(["read:messages", "write:messages"]),
        )
        .await;
    assert_diagnosed(
        &d,
        "requirement",
        "requirement_not_met",
        403,
        "insufficient_scope",
    );
    let cause = d
        .causes
        .iter()
        .find(|c| c.id == "requirement_not_met")
        .expect("cause");
    assert!(cause.fix.contains("scope=write:messages"), "{cause:?}");
    assert!(d
        .verdict
        .www_authenticate
        .as_deref()
        .is_some_and(|c| c.contains("scope=\"read:messages write:messages\"")));
    // Step-up: the login is what falls short.
    let d = auth
        .diagnose_for(
            &token,
            &Require::new().acr(["http://schemas.openid.net/pape/policies/2007/06/multi-factor"]),
        )
        .await;
    assert_diagnosed(
        &d,
        "requirement",
        "step_up",
        401,
        "insufficient_user_authentication",
    );
    assert!(d.causes[0].fix.contains("acr_values="), "{:?}", d.causes);
}

#[tokio::test]
async fn a_rotated_key_after_a_refetch() {
    let (issuer, auth) = setup().await;
    let old_kid = issuer.signing_kid();
    let token = issuer.token().sign();
    // The issuer rotated its key and dropped the old one before this server loaded its keys.
    issuer.rotate_keys().expect("rotate");
    issuer.unpublish_key(&old_kid);
    let d = auth.diagnose(&token).await;
    assert_diagnosed(&d, "key", "rotated_key", 401, "invalid_token");
    assert!(
        d.jwks_refreshed,
        "the doctor says it fetched the keys again"
    );
    assert_eq!(
        d.check("signature").map(|c| c.outcome),
        Some(Outcome::NotReached)
    );
}

#[tokio::test]
async fn a_dpop_bound_token_sent_as_bearer() {
    let (issuer, auth) = setup().await;
    let key = DpopKey::generate().expect("key");
    let token = issuer.token().dpop_bound(&key).sign();
    let d = auth.diagnose(&token).await;
    assert_diagnosed(&d, "binding", "dpop_as_bearer", 401, "invalid_token");
}

#[tokio::test]
async fn alg_none_and_a_crit_header() {
    let (issuer, auth) = setup().await;
    let payload = json!({ "iss": issuer.issuer(), "aud": TEST_AUDIENCE, "exp": 4_000_000_000u64 });
    let none = format!(
        "{}.{}.",
        b64(r#"{"alg":"none"}"#),
        b64(&payload.to_string())
    );
    let d = auth.diagnose(&none).await;
    assert_diagnosed(&d, "alg", "alg_none", 401, "invalid_token");
    let crit = issuer.token().header("crit", json!(["exp"])).sign();
    let d = auth.diagnose(&crit).await;
    assert_diagnosed(&d, "crit", "crit_header", 401, "invalid_token");
}

#[tokio::test]
async fn a_token_over_the_size_limit() {
    let (issuer, auth) = setup().await;
    let token = issuer.token().claim("pad", "x".repeat(9 * 1024)).sign();
    let d = auth.diagnose(&token).await;
    assert_diagnosed(&d, "size", "too_large", 401, "invalid_token");
}

#[tokio::test]
async fn an_es256_key_is_named_with_its_type() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let auth = issuer
        .authenticator_builder()
        .algorithms([Algorithm::RS256, Algorithm::ES256])
        .build()
        .expect("builds");
    let ec = issuer.add_key(Algorithm::ES256).expect("ec");
    let d = auth.diagnose(&issuer.token().signed_with(&ec).sign()).await;
    assert!(d.accepted(), "{d:#?}");
    let key = d.key.expect("key");
    assert_eq!((key.kty, key.alg, key.kid), ("EC", "ES256", Some(ec)));
}
