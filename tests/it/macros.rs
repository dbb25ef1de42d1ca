//! Every macro form over real HTTP against the loopback issuer: 200 with the right token, 401
//! without one or with a bad one, 403 naming what is missing, the body untouched when the guard
//! rejects, and one verification however many attributes are stacked.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use common::{serve_app, App};
use route_guard::testing::{TestIssuer, TEST_ROLES_CLAIM};
use route_guard::{
    require_auth, require_claim, require_permissions, require_role, require_scopes, Claims,
    StandardClaims, TokenClaims,
};
use serde_json::{json, Value};

#[derive(TokenClaims, Debug)]
#[claims(namespace = "https://route-guard.test/")]
struct AppClaims {
    sub: String,
    roles: Vec<String>,
    permissions: Option<Vec<String>>,
    #[claim(scope)]
    scope: String,
    org_id: Option<String>,
    tier: Option<String>,
    #[claim(flatten)]
    extra: serde_json::Map<String, Value>,
}

#[derive(TokenClaims, Debug)]
struct StrictClaims {
    sub: String,
    #[claim(rename = "https://route-guard.test/tenant")]
    tenant: String,
}

#[require_auth]
async fn auth_only(claims: Claims) -> Json<Value> {
    Json(json!({ "user": claims.sub }))
}

#[require_scopes("read:messages")]
async fn scopes_one() -> &'static str {
    "ok"
}

#[require_scopes("read:messages", "write:messages")]
async fn scopes_all() -> &'static str {
    "ok"
}

#[require_scopes(any("read:messages", "admin:messages"))]
async fn scopes_any() -> &'static str {
    "ok"
}

#[require_permissions("write:messages")]
async fn permissions_one(
    State(writes): State<Arc<AtomicUsize>>,
    Json(body): Json<Value>,
) -> impl IntoResponse {
    writes.fetch_add(1, Ordering::SeqCst);
    (StatusCode::CREATED, Json(json!({ "stored": body })))
}

#[require_permissions(any("read:messages", "read:all"))]
async fn permissions_any() -> &'static str {
    "ok"
}

#[require_role("admin")]
async fn role_standard(claims: Claims) -> Json<Value> {
    Json(json!({ "roles": claims.roles }))
}

#[require_role(any("admin", "manager"))]
async fn role_typed(claims: Claims<AppClaims>) -> Json<Value> {
    Json(json!({ "user": claims.sub, "roles": claims.roles }))
}

#[require_role(all("admin", "auditor"))]
async fn role_all(_claims: Claims<AppClaims>) -> &'static str {
    "ok"
}

#[require_claim(org_id = "org_123")]
async fn claim_equals() -> &'static str {
    "ok"
}

#[require_claim("https://route-guard.test/tier" = "gold")]
async fn claim_equals_namespaced() -> &'static str {
    "ok"
}

#[require_claim(includes(groups = ["editor", "viewer"]))]
async fn claim_includes() -> &'static str {
    "ok"
}

fn is_gold(claims: &AppClaims) -> bool {
    claims.tier.as_deref() == Some("gold")
}

#[require_claim(check = is_gold)]
async fn claim_check(claims: Claims<AppClaims>) -> Json<Value> {
    Json(json!({ "tier": claims.tier, "org": claims.org_id, "extra": claims.extra.len() }))
}

#[require_scopes("read:messages")]
#[require_permissions("write:messages")]
#[require_role("admin")]
async fn stacked(claims: Claims<AppClaims>) -> Json<Value> {
    Json(json!({ "user": claims.sub }))
}

#[require_auth]
async fn optional_claims(claims: Option<Claims<StandardClaims>>) -> Json<Value> {
    Json(json!({ "present": claims.is_some() }))
}

#[require_auth]
async fn strict(claims: Claims<StrictClaims>) -> Json<Value> {
    Json(json!({ "tenant": claims.tenant, "user": claims.sub }))
}

#[require_scopes("read:messages")]
async fn fallible(claims: Claims<AppClaims>) -> Result<Json<Value>, StatusCode> {
    let user: u64 = claims
        .sub
        .trim_start_matches("user-")
        .parse()
        .map_err(|_| StatusCode::BAD_REQUEST)?;
    Ok(Json(json!({ "user": user })))
}

fn routes(writes: Arc<AtomicUsize>) -> Router {
    Router::new()
        .route("/auth", get(auth_only))
        .route("/scopes/one", get(scopes_one))
        .route("/scopes/all", get(scopes_all))
        .route("/scopes/any", get(scopes_any))
        .route("/permissions/one", post(permissions_one))
        .route("/permissions/any", get(permissions_any))
        .route("/roles/standard", get(role_standard))
        .route("/roles/typed", get(role_typed))
        .route("/roles/all", get(role_all))
        .route("/claims/equals", get(claim_equals))
        .route("/claims/namespaced", get(claim_equals_namespaced))
        .route("/claims/includes", get(claim_includes))
        .route("/claims/check", get(claim_check))
        .route("/stacked", get(stacked))
        .route("/optional", get(optional_claims))
        .route("/strict", get(strict))
        .route("/fallible", get(fallible))
        .with_state(writes)
}

async fn start() -> (App, Arc<AtomicUsize>) {
    let issuer = TestIssuer::start().await.expect("issuer");
    let auth = issuer.authenticator().expect("auth");
    let writes = Arc::new(AtomicUsize::new(0));
    (
        serve_app(issuer, auth, routes(Arc::clone(&writes))).await,
        writes,
    )
}

#[tokio::test]
async fn require_auth_accepts_any_valid_token_and_rejects_the_rest() {
    let (app, _) = start().await;
    let token = app.issuer.token().sub("auth0|alice").sign();
    let reply = app.get("/auth", Some(&token)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["user"], "auth0|alice");
    app.get("/auth", None)
        .await
        .assert_rejected(401, "unauthorized");
    app.get("/auth", Some("x.y.z"))
        .await
        .assert_rejected(401, "invalid_token");
}

#[tokio::test]
async fn require_scopes_all_and_any() {
    let (app, _) = start().await;
    let read = app.issuer.token().scopes("openid read:messages").sign();
    let both = app
        .issuer
        .token()
        .scopes("read:messages write:messages")
        .sign();
    let admin = app.issuer.token().scopes("admin:messages").sign();
    let none = app.issuer.token().sign();

    assert_eq!(app.get("/scopes/one", Some(&read)).await.status, 200);
    let reply = app.get("/scopes/one", Some(&none)).await;
    reply.assert_rejected(403, "insufficient_scope");
    assert!(reply.challenge().ends_with("scope=\"read:messages\""));

    assert_eq!(app.get("/scopes/all", Some(&both)).await.status, 200);
    let reply = app.get("/scopes/all", Some(&read)).await;
    reply.assert_rejected(403, "insufficient_scope");
    // The description names what is missing; the challenge every scope the route needs, so a
    // client asks for all of them at once (MCP's scope challenges).
    assert_eq!(
        reply.description(),
        "the token lacks the required scope write:messages"
    );
    assert!(reply
        .challenge()
        .ends_with("scope=\"read:messages write:messages\""));

    assert_eq!(app.get("/scopes/any", Some(&read)).await.status, 200);
    assert_eq!(app.get("/scopes/any", Some(&admin)).await.status, 200);
    let reply = app.get("/scopes/any", Some(&none)).await;
    reply.assert_rejected(403, "insufficient_scope");
    assert!(reply
        .challenge()
        .ends_with("scope=\"read:messages admin:messages\""));
    app.get("/scopes/any", None)
        .await
        .assert_rejected(401, "unauthorized");
}

#[tokio::test]
async fn scp_claim_counts_as_scopes() {
    let (app, _) = start().await;
    let array = app
        .issuer
        .token()
        .claim("scp", json!(["read:messages"]))
        .sign();
    assert_eq!(app.get("/scopes/one", Some(&array)).await.status, 200);
    let string = app
        .issuer
        .token()
        .claim("scp", "read:messages write:messages")
        .sign();
    assert_eq!(app.get("/scopes/all", Some(&string)).await.status, 200);
}

#[tokio::test]
async fn require_permissions_runs_before_the_body_is_read() {
    let (app, writes) = start().await;
    let url = format!("{}/permissions/one", app.base);
    // No token and a body that is not even JSON: 401, and the handler never ran.
    let reply = common::send(app.client.post(&url).body("{not json")).await;
    reply.assert_rejected(401, "unauthorized");
    let reader = app.issuer.token().permissions(["read:messages"]).sign();
    let reply = common::send(app.client.post(&url).bearer_auth(&reader).body("{not json")).await;
    reply.assert_rejected(403, "insufficient_scope");
    assert!(reply.description().contains("permission write:messages"));
    assert_eq!(writes.load(Ordering::SeqCst), 0);

    let writer = app.issuer.token().permissions(["write:messages"]).sign();
    let reply = common::send(
        app.client
            .post(&url)
            .bearer_auth(&writer)
            .header("content-type", "application/json")
            .body(r#"{"text":"hi"}"#),
    )
    .await;
    assert_eq!(reply.status, 201);
    assert_eq!(reply.body["stored"]["text"], "hi");
    assert_eq!(writes.load(Ordering::SeqCst), 1);

    let any = app.issuer.token().permissions(["read:all"]).sign();
    assert_eq!(app.get("/permissions/any", Some(&any)).await.status, 200);
}

#[tokio::test]
async fn require_role_on_standard_and_typed_claims() {
    let (app, _) = start().await;
    let admin = app.issuer.token().roles(["admin"]).sign();
    let manager = app.issuer.token().roles(["manager"]).sign();
    let viewer = app.issuer.token().roles(["viewer"]).sign();
    let no_roles = app.issuer.token().sign();

    let reply = app.get("/roles/standard", Some(&admin)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["roles"], json!(["admin"]));
    app.get("/roles/standard", Some(&viewer))
        .await
        .assert_rejected(403, "insufficient_scope");

    assert_eq!(app.get("/roles/typed", Some(&admin)).await.status, 200);
    assert_eq!(app.get("/roles/typed", Some(&manager)).await.status, 200);
    let reply = app.get("/roles/typed", Some(&viewer)).await;
    reply.assert_rejected(403, "insufficient_scope");
    assert_eq!(
        reply.description(),
        "the token lacks one of the roles admin, manager"
    );
    // A token without roles is valid: 403 on a role check, not 401.
    app.get("/roles/typed", Some(&no_roles))
        .await
        .assert_rejected(403, "insufficient_scope");

    let both = app.issuer.token().roles(["admin", "auditor"]).sign();
    assert_eq!(app.get("/roles/all", Some(&both)).await.status, 200);
    app.get("/roles/all", Some(&admin))
        .await
        .assert_rejected(403, "insufficient_scope");
}

#[tokio::test]
async fn roles_of_the_wrong_type_grant_nothing_but_keep_the_token_valid() {
    let (app, _) = start().await;
    let odd = app
        .issuer
        .token()
        .claim(TEST_ROLES_CLAIM, json!({"admin": true}))
        .sign();
    app.get("/roles/typed", Some(&odd))
        .await
        .assert_rejected(403, "insufficient_scope");
    let single = app.issuer.token().claim(TEST_ROLES_CLAIM, "admin").sign();
    assert_eq!(app.get("/roles/typed", Some(&single)).await.status, 200);
}

#[tokio::test]
async fn require_claim_equals_includes_and_check() {
    let (app, _) = start().await;
    let org = app.issuer.token().claim("org_id", "org_123").sign();
    let other_org = app.issuer.token().claim("org_id", "org_999").sign();
    assert_eq!(app.get("/claims/equals", Some(&org)).await.status, 200);
    let reply = app.get("/claims/equals", Some(&other_org)).await;
    reply.assert_rejected(403, "insufficient_scope");
    assert!(reply.description().contains("org_id = org_123"));
    app.get("/claims/equals", Some(&app.issuer.token().sign()))
        .await
        .assert_rejected(403, "insufficient_scope");

    let gold = app
        .issuer
        .token()
        .claim("https://route-guard.test/tier", "gold")
        .sign();
    assert_eq!(app.get("/claims/namespaced", Some(&gold)).await.status, 200);
    assert_eq!(app.get("/claims/check", Some(&gold)).await.status, 200);
    let silver = app
        .issuer
        .token()
        .claim("https://route-guard.test/tier", "silver")
        .sign();
    app.get("/claims/namespaced", Some(&silver))
        .await
        .assert_rejected(403, "insufficient_scope");
    let reply = app.get("/claims/check", Some(&silver)).await;
    reply.assert_rejected(403, "insufficient_scope");
    assert!(reply.description().contains("check `is_gold`"));

    let groups = app
        .issuer
        .token()
        .claim("groups", json!(["viewer", "editor", "x"]))
        .sign();
    assert_eq!(app.get("/claims/includes", Some(&groups)).await.status, 200);
    let spaced = app.issuer.token().claim("groups", "editor viewer").sign();
    assert_eq!(app.get("/claims/includes", Some(&spaced)).await.status, 200);
    let partial = app.issuer.token().claim("groups", json!(["viewer"])).sign();
    let reply = app.get("/claims/includes", Some(&partial)).await;
    reply.assert_rejected(403, "insufficient_scope");
    assert!(reply.description().contains("groups includes editor"));
}

#[tokio::test]
async fn stacked_attributes_verify_once_and_name_everything_missing() {
    let (app, _) = start().await;
    let full = app
        .issuer
        .token()
        .scopes("read:messages")
        .permissions(["write:messages"])
        .roles(["admin"])
        .sign();
    let reply = app.get("/stacked", Some(&full)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(app.auth.stats().verified(), 1);

    let empty = app.issuer.token().sign();
    let reply = app.get("/stacked", Some(&empty)).await;
    reply.assert_rejected(403, "insufficient_scope");
    let description = reply.description().to_owned();
    for missing in [
        "scope read:messages",
        "permission write:messages",
        "role admin",
    ] {
        assert!(description.contains(missing), "{description}");
    }
    assert!(reply.challenge().ends_with("scope=\"read:messages\""));
    assert_eq!(app.auth.stats().verified(), 2);
}

#[tokio::test]
async fn option_claims_under_a_guard_are_always_present() {
    let (app, _) = start().await;
    let token = app.issuer.token().sign();
    let reply = app.get("/optional", Some(&token)).await;
    assert_eq!(reply.body["present"], true);
    app.get("/optional", None)
        .await
        .assert_rejected(401, "unauthorized");
}

#[tokio::test]
async fn a_missing_or_mistyped_required_claim_is_invalid_token_naming_it() {
    let (app, _) = start().await;
    let missing = app.issuer.token().sign();
    let reply = app.get("/strict", Some(&missing)).await;
    reply.assert_rejected(401, "invalid_token");
    let description = reply.description();
    assert!(
        description.contains("`https://route-guard.test/tenant` claim is missing"),
        "{description}"
    );

    let mistyped = app
        .issuer
        .token()
        .claim("https://route-guard.test/tenant", json!(["secret-value"]))
        .sign();
    let reply = app.get("/strict", Some(&mistyped)).await;
    reply.assert_rejected(401, "invalid_token");
    let description = reply.description();
    assert!(
        description.contains("`https://route-guard.test/tenant` claim is not of the expected type"),
        "{description}"
    );
    assert!(!description.contains("secret-value"));

    let good = app
        .issuer
        .token()
        .claim("https://route-guard.test/tenant", "acme")
        .sign();
    let reply = app.get("/strict", Some(&good)).await;
    assert_eq!(reply.body["tenant"], "acme");
}

#[tokio::test]
async fn handlers_returning_result_keep_working() {
    let (app, _) = start().await;
    let token = app
        .issuer
        .token()
        .sub("user-42")
        .scopes("read:messages")
        .sign();
    let reply = app.get("/fallible", Some(&token)).await;
    assert_eq!(reply.body["user"], 42);
    let bad = app
        .issuer
        .token()
        .sub("auth0|x")
        .scopes("read:messages")
        .sign();
    assert_eq!(app.get("/fallible", Some(&bad)).await.status, 400);
}

#[tokio::test]
async fn flatten_collects_the_other_claims() {
    let (app, _) = start().await;
    let token = app
        .issuer
        .token()
        .claim("https://route-guard.test/tier", "gold")
        .claim("custom", 1)
        .sign();
    let reply = app.get("/claims/check", Some(&token)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // iss, aud, iat, exp and custom are not fields of AppClaims.
    assert_eq!(reply.body["extra"], 5);
}
