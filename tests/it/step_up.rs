//! Step-up authentication (RFC 9470) over real HTTP against a `TestIssuer`: `#[require_acr]`,
//! `#[require_auth_age]` and their layer forms answer a valid token that is not strong or fresh
//! enough with 401 `insufficient_user_authentication` and what to ask for.

use crate::common;

use std::time::{SystemTime, UNIX_EPOCH};

use axum::routing::get;
use axum::Router;
use common::Reply;
use route_guard::testing::TestIssuer;
use route_guard::{layer, require_acr, require_auth_age, require_scopes, RejectionReason};

const MFA: &str = "http://schemas.openid.net/pape/policies/2007/06/multi-factor";

#[require_acr(
    "http://schemas.openid.net/pape/policies/2007/06/multi-factor",
    "urn:acr:hardware-key"
)]
async fn transfer() -> &'static str {
    "transferred"
}

#[require_auth_age(max_secs = 300)]
async fn password() -> &'static str {
    "changed"
}

#[require_scopes("payments:write")]
#[require_acr("http://schemas.openid.net/pape/policies/2007/06/multi-factor")]
#[require_auth_age(max_secs = 600)]
async fn pay() -> &'static str {
    "paid"
}

fn routes() -> Router {
    let stepped = Router::new()
        .route("/layer/settings", get(|| async { "settings" }))
        .route_layer(layer::require_acr([MFA]))
        .route_layer(layer::require_auth_age(60));
    Router::new()
        .route("/transfer", get(transfer))
        .route("/password", get(password))
        .route("/pay", get(pay))
        .merge(stepped)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn assert_step_up(reply: &Reply, params: &str) {
    assert_eq!(reply.status.as_u16(), 401, "body: {}", reply.body);
    assert_eq!(reply.error(), "insufficient_user_authentication");
    let challenge = reply.challenge();
    assert!(
        challenge.starts_with("Bearer realm=\"api\", error=\"insufficient_user_authentication\", error_description=\"the token lacks "),
        "{challenge}"
    );
    assert!(challenge.contains(params), "{params} not in {challenge}");
}

#[tokio::test]
async fn an_acr_requirement_asks_for_a_stronger_login() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let auth = issuer.authenticator_builder().build().expect("builds");
    let app = common::serve_app(issuer, auth, routes()).await;

    let strong = app.issuer.token().claim("acr", MFA).sign();
    assert_eq!(app.get("/transfer", Some(&strong)).await.status, 200);
    let key = app
        .issuer
        .token()
        .claim("acr", "urn:acr:hardware-key")
        .sign();
    assert_eq!(app.get("/transfer", Some(&key)).await.status, 200);

    let weak = app.issuer.token().claim("acr", "urn:acr:password").sign();
    let reply = app.get("/transfer", Some(&weak)).await;
    assert_step_up(
        &reply,
        &format!("acr_values=\"{MFA} urn:acr:hardware-key\""),
    );
    assert_eq!(
        reply.description(),
        format!("the token lacks an authentication of the class {MFA} or urn:acr:hardware-key")
    );
    // No `acr` at all is not strong enough either.
    let none = app.issuer.token().sign();
    assert_step_up(&app.get("/transfer", Some(&none)).await, "acr_values=");
    assert_eq!(
        app.auth
            .stats()
            .rejected(RejectionReason::InsufficientUserAuthentication),
        2
    );
}

#[tokio::test]
async fn an_auth_age_requirement_asks_for_a_recent_login() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let auth = issuer.authenticator_builder().build().expect("builds");
    let app = common::serve_app(issuer, auth, routes()).await;
    let recent = app.issuer.token().claim("auth_time", now() - 10).sign();
    assert_eq!(app.get("/password", Some(&recent)).await.status, 200);
    let old = app.issuer.token().claim("auth_time", now() - 3_600).sign();
    let reply = app.get("/password", Some(&old)).await;
    assert_step_up(&reply, "max_age=\"300\"");
    assert_eq!(
        reply.description(),
        "the token lacks an authentication within the last 300 s"
    );
    assert!(!reply.challenge().contains("acr_values"));
    let without = app.issuer.token().sign();
    assert_step_up(
        &app.get("/password", Some(&without)).await,
        "max_age=\"300\"",
    );
}

#[tokio::test]
async fn a_login_time_in_the_future_is_not_fresh_beyond_the_leeway() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let auth = issuer
        .authenticator_builder()
        .leeway(std::time::Duration::from_secs(30))
        .build()
        .expect("builds");
    let app = common::serve_app(issuer, auth, routes()).await;
    // Within the leeway: clocks differ, the login is fresh.
    let skewed = app
        .issuer
        .token()
        .claim("acr", MFA)
        .claim("auth_time", now() + 20)
        .sign();
    assert_eq!(app.get("/password", Some(&skewed)).await.status, 200);
    assert_eq!(app.get("/layer/settings", Some(&skewed)).await.status, 200);
    // Beyond it (a clock far off, or a claim written to stay fresh forever): refused, on the
    // attribute and on the layer form alike.
    for ahead in [120, 86_400, 10 * 365 * 86_400] {
        let future = app
            .issuer
            .token()
            .claim("acr", MFA)
            .claim("auth_time", now() + ahead)
            .sign();
        assert_step_up(
            &app.get("/password", Some(&future)).await,
            "max_age=\"300\"",
        );
        assert_step_up(
            &app.get("/layer/settings", Some(&future)).await,
            "max_age=\"60\"",
        );
    }
    // Not a number a clock can hold.
    let huge = app.issuer.token().claim("auth_time", 1e300).sign();
    assert_step_up(&app.get("/password", Some(&huge)).await, "max_age=\"300\"");
}

#[tokio::test]
async fn merged_with_scopes_a_missing_scope_is_a_403_and_a_weak_login_a_401() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let auth = issuer.authenticator_builder().build().expect("builds");
    let app = common::serve_app(issuer, auth, routes()).await;
    let all = app
        .issuer
        .token()
        .scopes("payments:write")
        .claim("acr", MFA)
        .claim("auth_time", now() - 5)
        .sign();
    assert_eq!(app.get("/pay", Some(&all)).await.status, 200);
    // The scope is there; the login is neither strong nor recent: one 401 naming both.
    let scoped = app.issuer.token().scopes("payments:write").sign();
    let reply = app.get("/pay", Some(&scoped)).await;
    assert_step_up(&reply, &format!("acr_values=\"{MFA}\", max_age=\"600\""));
    assert!(reply.challenge().contains("scope=\"payments:write\""));
    // Without the scope, a new login alone would not do: 403, naming everything.
    let weak = app.issuer.token().claim("acr", MFA).sign();
    let reply = app.get("/pay", Some(&weak)).await;
    reply.assert_rejected(403, "insufficient_scope");
    assert!(reply.description().contains("payments:write"));
    assert!(reply
        .description()
        .contains("an authentication within the last 600 s"));
}

#[tokio::test]
async fn the_layer_forms_answer_the_same() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let auth = issuer.authenticator_builder().build().expect("builds");
    let app = common::serve_app(issuer, auth, routes()).await;
    let fresh_mfa = app
        .issuer
        .token()
        .claim("acr", MFA)
        .claim("auth_time", now())
        .sign();
    assert_eq!(
        app.get("/layer/settings", Some(&fresh_mfa)).await.status,
        200
    );
    let stale_mfa = app
        .issuer
        .token()
        .claim("acr", MFA)
        .claim("auth_time", now() - 120)
        .sign();
    assert_step_up(
        &app.get("/layer/settings", Some(&stale_mfa)).await,
        "max_age=\"60\"",
    );
    let fresh_password = app.issuer.token().claim("auth_time", now()).sign();
    assert_step_up(
        &app.get("/layer/settings", Some(&fresh_password)).await,
        &format!("acr_values=\"{MFA}\""),
    );
}
