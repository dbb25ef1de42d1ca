//! The development issuer as an OAuth 2.0 authorization server (`TestIssuer`): RFC 8414
//! metadata and a `client_credentials` token endpoint, over real HTTP, its tokens accepted by an
//! API protected by route-guard, and every RFC 6749 §5.2 error.

use crate::common;

use axum::routing::get;
use axum::Router;
use common::{send, Reply};
use route_guard::testing::{DpopKey, TestClient, TestIssuer, TEST_AUDIENCE};
use route_guard::{require_scopes, Claims};
use serde_json::{json, Value};

#[require_scopes("reports:read")]
async fn reports(claims: Claims) -> axum::Json<Value> {
    axum::Json(json!({ "sub": claims.sub, "scope": claims.scope }))
}

async fn issuer() -> TestIssuer {
    let issuer = TestIssuer::start().await.expect("issuer");
    issuer.register_client(
        TestClient::new("job", "s3cret")
            .scopes(["reports:read", "reports:write"])
            .permissions(["read:reports"])
            .roles(["robot"]),
    );
    issuer.register_client(TestClient::new("narrow", "n4rrow").scopes(["profile:read"]));
    issuer
}

async fn token_request(issuer: &TestIssuer, basic: Option<(&str, &str)>, form: &str) -> Reply {
    let mut request = common::client()
        .post(issuer.token_endpoint())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_owned());
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    send(request).await
}

fn assert_oauth_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status.as_u16(), status, "body: {}", reply.body);
    assert_eq!(reply.error(), code, "body: {}", reply.body);
    assert!(!reply.description().is_empty());
    assert_eq!(reply.header("cache-control"), "no-store");
}

#[tokio::test]
async fn the_metadata_describes_the_token_endpoint() {
    let issuer = issuer().await;
    let url = format!("{}.well-known/oauth-authorization-server", issuer.issuer());
    let reply = send(common::client().get(url)).await;
    assert_eq!(reply.status, 200);
    let document = &reply.body;
    assert_eq!(document["issuer"], issuer.issuer());
    assert_eq!(document["token_endpoint"], issuer.token_endpoint());
    assert_eq!(
        document["grant_types_supported"],
        json!(["client_credentials"])
    );
    assert_eq!(
        document["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );
    assert_eq!(
        document["scopes_supported"],
        json!(["profile:read", "reports:read", "reports:write"])
    );
    // OIDC discovery names the endpoint too.
    let discovery = send(common::client().get(format!(
        "{}.well-known/openid-configuration",
        issuer.issuer()
    )))
    .await;
    assert_eq!(discovery.body["token_endpoint"], issuer.token_endpoint());
}

#[tokio::test]
async fn client_credentials_tokens_are_accepted_by_the_api() {
    let issuer = issuer().await;
    let auth = issuer.authenticator().expect("builds");
    // Basic authentication, no scope asked: every scope the client may have.
    let reply = token_request(
        &issuer,
        Some(("job", "s3cret")),
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(reply.status, 200, "body: {}", reply.body);
    assert_eq!(reply.body["token_type"], "Bearer");
    assert_eq!(reply.body["expires_in"], 3600);
    assert_eq!(reply.body["scope"], "reports:read reports:write");
    assert_eq!(reply.header("cache-control"), "no-store");
    let token = reply.body["access_token"].as_str().expect("token");
    let claims = auth
        .verify(token)
        .await
        .expect("verifies")
        .standard_claims()
        .expect("claims");
    assert_eq!(claims.sub.as_deref(), Some("job@clients"));
    assert_eq!(claims.permissions, ["read:reports"]);
    assert_eq!(claims.roles, ["robot"]);

    // Posted credentials, a narrower scope, and Auth0's `audience`.
    let reply = token_request(
        &issuer,
        None,
        &format!(
            "grant_type=client_credentials&client_id=job&client_secret=s3cret&scope=reports%3Aread&audience={}",
            urlencode(TEST_AUDIENCE)
        ),
    )
    .await;
    assert_eq!(reply.status, 200, "body: {}", reply.body);
    assert_eq!(reply.body["scope"], "reports:read");
    let token = reply.body["access_token"].as_str().expect("token");
    assert!(auth.verify(token).await.is_ok());
    // Another API: the client is not granted it (RFC 8707 `invalid_target`), by either name.
    for field in ["audience", "resource"] {
        let reply = token_request(
            &issuer,
            Some(("job", "s3cret")),
            &format!("grant_type=client_credentials&{field}=https%3A%2F%2Fother.example"),
        )
        .await;
        assert_oauth_error(&reply, 400, "invalid_target");
        assert!(reply.body.get("access_token").is_none());
    }
    // RFC 8707 `resource` sets the audience too.
    let reply = token_request(
        &issuer,
        Some(("job", "s3cret")),
        &format!(
            "grant_type=client_credentials&resource={}",
            urlencode(TEST_AUDIENCE)
        ),
    )
    .await;
    let token = reply.body["access_token"].as_str().expect("token");
    assert!(auth.verify(token).await.is_ok());
}

/// `application/x-www-form-urlencoded` for the few characters these tests send.
fn urlencode(text: &str) -> String {
    text.replace('%', "%25")
        .replace(':', "%3A")
        .replace('/', "%2F")
        .replace(' ', "+")
}

#[tokio::test]
async fn each_error_is_the_rfc_6749_one() {
    let issuer = issuer().await;
    let wrong = token_request(
        &issuer,
        Some(("job", "nope")),
        "grant_type=client_credentials",
    )
    .await;
    assert_oauth_error(&wrong, 401, "invalid_client");
    assert_eq!(wrong.header("www-authenticate"), "Basic realm=\"token\"");
    let anonymous = token_request(&issuer, None, "grant_type=client_credentials").await;
    assert_oauth_error(&anonymous, 401, "invalid_client");
    assert_oauth_error(
        &token_request(&issuer, Some(("job", "s3cret")), "grant_type=password").await,
        400,
        "unsupported_grant_type",
    );
    assert_oauth_error(
        &token_request(
            &issuer,
            Some(("narrow", "n4rrow")),
            "grant_type=client_credentials&scope=reports%3Aread",
        )
        .await,
        400,
        "invalid_scope",
    );
    assert_oauth_error(
        &token_request(&issuer, Some(("job", "s3cret")), "scope=reports%3Aread").await,
        400,
        "invalid_request",
    );
    let repeated = token_request(
        &issuer,
        Some(("job", "s3cret")),
        "grant_type=client_credentials&scope=a&scope=b",
    )
    .await;
    assert_oauth_error(&repeated, 400, "invalid_request");
    assert_eq!(repeated.description(), "`scope` is repeated");
    assert_oauth_error(
        &token_request(
            &issuer,
            Some(("job", "s3cret")),
            "grant_type=client_credentials&client_id=job&client_secret=s3cret",
        )
        .await,
        400,
        "invalid_request",
    );
    // The secret compared whole (in constant time): a prefix, a longer one, another case, and
    // another client's secret are all refused alike.
    for secret in ["s3cre", "s3cret!", "S3CRET", "n4rrow", ""] {
        let reply = token_request(
            &issuer,
            Some(("job", secret)),
            "grant_type=client_credentials",
        )
        .await;
        assert_oauth_error(&reply, 401, "invalid_client");
        assert_eq!(reply.description(), "unknown client or wrong secret");
    }
}

#[tokio::test]
async fn a_valid_proof_makes_a_dpop_bound_token() {
    let issuer = issuer().await;
    let auth = issuer.authenticator().expect("builds");
    let key = DpopKey::generate().expect("key");
    let proof = key.proof_builder("POST", &issuer.token_endpoint()).sign();
    let with_proof = |proof: &str| {
        common::client()
            .post(issuer.token_endpoint())
            .basic_auth("job", Some("s3cret"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("dpop", proof)
            .body("grant_type=client_credentials")
    };
    let reply = send(with_proof(&proof)).await;
    assert_eq!(reply.status, 200, "body: {}", reply.body);
    // The same proof again (RFC 9449 §11.1: one proof, one request): refused, no token.
    let replayed = send(with_proof(&proof)).await;
    assert_oauth_error(&replayed, 400, "invalid_dpop_proof");
    assert!(
        replayed.description().contains("used before"),
        "{}",
        replayed.body
    );
    assert!(replayed.body.get("access_token").is_none());
    assert_eq!(reply.body["token_type"], "DPoP");
    let token = reply.body["access_token"].as_str().expect("token");
    let verified = auth.verify(token).await;
    // Bound to the proof's key: refused as a Bearer token, the thumbprint in `cnf.jkt`.
    assert!(
        verified.is_err(),
        "a DPoP-bound token is not a Bearer token"
    );
    let payload = token.split('.').nth(1).expect("payload");
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .expect("base64"),
    )
    .expect("json");
    assert_eq!(claims["cnf"]["jkt"], key.thumbprint());
    // A proof for another URL is refused.
    let elsewhere = key
        .proof_builder("POST", "http://127.0.0.1:1/oauth/token")
        .sign();
    let reply = send(
        common::client()
            .post(issuer.token_endpoint())
            .basic_auth("job", Some("s3cret"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("dpop", elsewhere)
            .body("grant_type=client_credentials"),
    )
    .await;
    assert_oauth_error(&reply, 400, "invalid_dpop_proof");
}

/// What an OAuth client does with route-guard's challenges: a 403 names the scope the route
/// needs, the client asks the token endpoint for it, and the retry passes.
#[tokio::test]
async fn a_scope_challenge_tells_the_client_what_to_ask_for() {
    let issuer = issuer().await;
    let auth = issuer.authenticator().expect("builds");
    let app = common::serve_app(issuer, auth, Router::new().route("/reports", get(reports))).await;
    app.issuer.register_client(
        TestClient::new("agent", "ag3nt").scopes(["profile:read", "reports:read"]),
    );
    let first = token_request(
        &app.issuer,
        Some(("agent", "ag3nt")),
        "grant_type=client_credentials&scope=profile%3Aread",
    )
    .await;
    let token = first.body["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let denied = app.get("/reports", Some(&token)).await;
    denied.assert_rejected(403, "insufficient_scope");
    let wanted = denied
        .challenge()
        .split("scope=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the challenge names a scope")
        .to_owned();
    assert_eq!(wanted, "reports:read");
    let second = token_request(
        &app.issuer,
        Some(("agent", "ag3nt")),
        &format!("grant_type=client_credentials&scope={}", urlencode(&wanted)),
    )
    .await;
    let token = second.body["access_token"].as_str().expect("token");
    let reply = app.get("/reports", Some(token)).await;
    assert_eq!(reply.status, 200, "body: {}", reply.body);
    assert_eq!(reply.body["sub"], "agent@clients");
}
