//! What else Auth0's API SDKs verify, through the same path and error contract: organizations
//! (Authenticator-wide and per route), required claims, RFC 8693 delegation (`act`) and
//! anonymous callers. Over real HTTP against a `TestIssuer`.

use crate::common;

use axum::routing::get;
use axum::{Json, Router};
use common::App;
use route_guard::testing::TestIssuer;
use route_guard::{
    require_actor, require_auth, require_claim, require_org, require_scopes, AuthenticatorBuilder,
    Claims, OrgPolicy, StandardClaims,
};
use serde_json::{json, Value};

#[require_org]
async fn any_org(claims: Claims) -> Json<Value> {
    Json(json!({ "org": claims.org_id }))
}

#[require_org("org_abc123", "acme")]
async fn acme() -> &'static str {
    "acme"
}

#[require_scopes("read:reports")]
#[require_org("org_abc123")]
async fn acme_reports() -> &'static str {
    "reports"
}

#[require_actor]
async fn delegated(claims: Claims) -> Json<Value> {
    Json(json!({
        "actor": claims.current_actor(),
        "chain": claims.delegation_chain(),
    }))
}

#[require_actor("billing-service", "gateway")]
async fn billing() -> &'static str {
    "billing"
}

fn signed_in(claims: &StandardClaims) -> bool {
    !claims.is_anonymous()
}

#[require_claim(check = signed_in)]
async fn members_only() -> &'static str {
    "members"
}

#[require_auth]
async fn anyone(claims: Claims) -> Json<Value> {
    Json(json!({ "sub": claims.sub, "anonymous": claims.is_anonymous() }))
}

fn routes() -> Router {
    Router::new()
        .route("/any-org", get(any_org))
        .route("/acme", get(acme))
        .route("/acme/reports", get(acme_reports))
        .route("/delegated", get(delegated))
        .route("/billing", get(billing))
        .route("/members", get(members_only))
        .route("/anyone", get(anyone))
}

async fn app_with(configure: impl FnOnce(AuthenticatorBuilder) -> AuthenticatorBuilder) -> App {
    let issuer = TestIssuer::start().await.expect("issuer");
    let auth = configure(issuer.authenticator_builder())
        .build()
        .expect("builds");
    common::serve_app(issuer, auth, routes()).await
}

/// `{"sub": "actor-1", "act": {"sub": "actor-2", ...}}`, `depth` levels deep.
fn act_chain(depth: usize) -> Value {
    let mut act = Value::Null;
    for level in (1..=depth).rev() {
        let mut object = json!({ "sub": format!("actor-{level}") });
        if !act.is_null() {
            object["act"] = act;
        }
        act = object;
    }
    act
}

#[tokio::test]
async fn organization_required_everywhere() {
    let app = app_with(|b| b.organization(OrgPolicy::Required)).await;
    let without = app.issuer.token().sign();
    let reply = app.get("/anyone", Some(&without)).await;
    reply.assert_rejected(401, "invalid_token");
    assert_eq!(
        reply.description(),
        "the token has no organization (org_id)"
    );
    let with = app.issuer.token().claim("org_id", "org_any").sign();
    assert_eq!(app.get("/anyone", Some(&with)).await.status, 200);
    // A mistyped org_id is no organization.
    let number = app.issuer.token().claim("org_id", 42).sign();
    app.get("/anyone", Some(&number))
        .await
        .assert_rejected(401, "invalid_token");
}

#[tokio::test]
async fn allowed_organizations_by_id_or_name() {
    let collector = common::logs::Collector::default();
    let _logs = tracing::subscriber::set_default(collector.clone());
    let app = app_with(|b| {
        b.organization(OrgPolicy::Required)
            .allowed_organizations(["org_abc123", "Acme"])
    })
    .await;
    let by_id = app.issuer.token().claim("org_id", "org_abc123").sign();
    assert_eq!(app.get("/anyone", Some(&by_id)).await.status, 200);
    let by_name = app
        .issuer
        .token()
        .claim("org_id", "org_zzz")
        .claim("org_name", "acme")
        .sign();
    assert_eq!(app.get("/anyone", Some(&by_name)).await.status, 200);

    let before = collector.len();
    let other = app.issuer.token().claim("org_id", "org_evil666").sign();
    let reply = app.get("/anyone", Some(&other)).await;
    reply.assert_rejected(401, "invalid_token");
    assert_eq!(
        reply.description(),
        "the token's organization is not accepted"
    );
    // Logged for the operator, never echoed to the client.
    assert!(!reply.body.to_string().contains("org_evil666"));
    assert!(!reply.challenge().contains("org_evil666"));
    let events = collector.since(before);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert!(events[0].contains("org_evil666"), "{events:#?}");
}

#[tokio::test]
async fn require_org_per_route() {
    let app = app_with(|b| b).await;
    let none = app.issuer.token().scopes("read:reports").sign();
    let abc = app
        .issuer
        .token()
        .scopes("read:reports")
        .claim("org_id", "org_abc123")
        .sign();
    let acme_by_name = app
        .issuer
        .token()
        .claim("org_id", "org_other")
        .claim("org_name", "ACME")
        .sign();
    let other = app.issuer.token().claim("org_id", "org_other").sign();
    // Without an organization policy, an odd org_id is just a claim: the token is valid.
    let odd = app.issuer.token().claim("org_id", json!([1, 2])).sign();
    assert_eq!(app.get("/anyone", Some(&odd)).await.status, 200);

    let reply = app.get("/any-org", Some(&none)).await;
    reply.assert_rejected(403, "insufficient_scope");
    assert_eq!(
        reply.description(),
        "the token lacks the required claim an organization (org_id)"
    );
    let reply = app.get("/any-org", Some(&abc)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["org"], "org_abc123");

    assert_eq!(app.get("/acme", Some(&abc)).await.status, 200);
    assert_eq!(app.get("/acme", Some(&acme_by_name)).await.status, 200);
    let reply = app.get("/acme", Some(&other)).await;
    reply.assert_rejected(403, "insufficient_scope");
    assert!(reply
        .description()
        .contains("organization org_abc123 or acme"));

    // Merged with a scope requirement: both checked, one verification.
    let verified_before = app.auth.stats().verified();
    assert_eq!(app.get("/acme/reports", Some(&abc)).await.status, 200);
    assert_eq!(app.auth.stats().verified(), verified_before + 1);
    let reply = app.get("/acme/reports", Some(&acme_by_name)).await;
    reply.assert_rejected(403, "insufficient_scope");
    assert!(
        reply.description().contains("scope read:reports"),
        "{}",
        reply.body
    );
    assert!(
        reply.description().contains("organization org_abc123"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn required_claims_name_what_is_missing() {
    let app = app_with(|b| b.required_claims(["email", "https://myapp.com/tenant"])).await;
    let missing = app.issuer.token().claim("email", "a@example.com").sign();
    let reply = app.get("/anyone", Some(&missing)).await;
    reply.assert_rejected(401, "invalid_token");
    assert_eq!(
        reply.description(),
        "the token has no `https://myapp.com/tenant` claim"
    );
    let complete = app
        .issuer
        .token()
        .claim("email", "a@example.com")
        .claim("https://myapp.com/tenant", json!({"id": 7}))
        .sign();
    assert_eq!(app.get("/anyone", Some(&complete)).await.status, 200);
}

#[tokio::test]
async fn delegation_chains_of_depth_0_1_and_3_and_one_over_the_bound() {
    let app = app_with(|b| b).await;
    // Depth 0: not delegated.
    let direct = app.issuer.token().sign();
    assert_eq!(app.get("/anyone", Some(&direct)).await.status, 200);
    app.get("/delegated", Some(&direct))
        .await
        .assert_rejected(403, "insufficient_scope");

    // Depth 1.
    let one = app
        .issuer
        .token()
        .claim("act", json!({ "sub": "billing-service" }))
        .sign();
    let reply = app.get("/delegated", Some(&one)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["actor"], "billing-service");
    assert_eq!(reply.body["chain"], json!(["billing-service"]));
    assert_eq!(app.get("/billing", Some(&one)).await.status, 200);

    // Depth 3: the outermost actor is the current one.
    let three = app.issuer.token().claim("act", act_chain(3)).sign();
    let reply = app.get("/delegated", Some(&three)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["actor"], "actor-1");
    assert_eq!(
        reply.body["chain"],
        json!(["actor-1", "actor-2", "actor-3"])
    );
    let reply = app.get("/billing", Some(&three)).await;
    reply.assert_rejected(403, "insufficient_scope");
    assert!(reply
        .description()
        .contains("actor billing-service or gateway"));

    // Depth 6, over the default bound of 5: the token itself is refused.
    let deep = app.issuer.token().claim("act", act_chain(6)).sign();
    let reply = app.get("/anyone", Some(&deep)).await;
    reply.assert_rejected(401, "invalid_token");
    assert_eq!(
        reply.description(),
        "the token's delegation chain (act) is deeper than 5"
    );
    let five = app.issuer.token().claim("act", act_chain(5)).sign();
    assert_eq!(app.get("/anyone", Some(&five)).await.status, 200);

    // A tighter bound.
    let strict = app_with(|b| b.max_delegation_depth(2)).await;
    let three = strict.issuer.token().claim("act", act_chain(3)).sign();
    strict
        .get("/anyone", Some(&three))
        .await
        .assert_rejected(401, "invalid_token");
    let two = strict.issuer.token().claim("act", act_chain(2)).sign();
    assert_eq!(strict.get("/anyone", Some(&two)).await.status, 200);
    // A malformed act is a malformed token, not a 500.
    let bad = strict.issuer.token().claim("act", json!("billing")).sign();
    strict
        .get("/anyone", Some(&bad))
        .await
        .assert_rejected(401, "invalid_token");
}

#[tokio::test]
async fn anonymous_callers_allowed_blocked_per_route_or_everywhere() {
    let app = app_with(|b| b).await;
    let anonymous = app.issuer.token().sub("anon@6f1c3a").sign();
    let member = app.issuer.token().sub("auth0|alice").sign();
    // Allowed by default: an anonymous session's token is a valid token.
    let reply = app.get("/anyone", Some(&anonymous)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["anonymous"], true);
    // Blocked on one route.
    app.get("/members", Some(&anonymous))
        .await
        .assert_rejected(403, "insufficient_scope");
    assert_eq!(app.get("/members", Some(&member)).await.status, 200);
    // Blocked everywhere.
    let strict = app_with(|b| b.reject_anonymous(true)).await;
    let anonymous = strict.issuer.token().sub("anon@6f1c3a").sign();
    let reply = strict.get("/anyone", Some(&anonymous)).await;
    reply.assert_rejected(401, "invalid_token");
    assert_eq!(reply.description(), "anonymous tokens are not accepted");
    let member = strict.issuer.token().sub("auth0|alice").sign();
    assert_eq!(strict.get("/anyone", Some(&member)).await.status, 200);
}
