//! Route layers (`route_guard::layer`): whole routers protected with the attributes' vocabulary,
//! over real HTTP against a `TestIssuer`. The same contract as the attributes: one verification
//! per request, the same RFC 6750 answers, a handler's `Claims<T>` reading the verified token.

use crate::common;

use axum::routing::get;
use axum::{Json, Router};
use common::App;
use route_guard::layer::{self, any, Require, RequireLayer};
use route_guard::testing::TestIssuer;
use route_guard::{
    require_auth, require_permissions, Check, Claims, ConfigError, Insufficient, Requirement,
    TokenClaims, VerifiedToken,
};
use serde_json::{json, Value};

#[derive(TokenClaims, Debug)]
struct Typed {
    sub: String,
    #[claim(rename = "https://route-guard.test/roles")]
    roles: Vec<String>,
}

async fn whoami(claims: Claims) -> Json<Value> {
    Json(json!({ "sub": claims.sub, "roles": claims.roles }))
}

async fn typed(claims: Claims<Typed>) -> Json<Value> {
    Json(json!({ "sub": claims.sub, "roles": claims.roles }))
}

async fn open() -> &'static str {
    "open"
}

#[require_permissions("delete:users")]
async fn delete_users() -> &'static str {
    "deleted"
}

#[require_auth]
async fn attributed(claims: Claims) -> Json<Value> {
    Json(json!({ "sub": claims.sub }))
}

struct Auditor;
impl Requirement for Auditor {
    type Claims = Typed;
    fn check(claims: &Typed, _: &VerifiedToken) -> Result<(), Insufficient> {
        Check::new(claims).roles_any(&["auditor"]).finish()
    }
}

/// One nested router per layer form, each with a route reading the claims.
fn routes() -> Router {
    let guarded = |layer: RequireLayer| {
        Router::new()
            .route("/whoami", get(whoami))
            .route("/typed", get(typed))
            .route_layer(layer)
    };
    let admin = Router::new()
        .route("/whoami", get(whoami))
        .route("/users", get(delete_users))
        .route("/attributed", get(attributed))
        .route_layer(layer::require_role("admin"));
    Router::new()
        .route("/public", get(open))
        .nest("/auth", guarded(layer::require_auth()))
        .nest(
            "/scopes",
            guarded(layer::require_scopes(["read:a", "read:b"])),
        )
        .nest(
            "/any-scope",
            guarded(layer::require_scopes(any(["read:a", "read:b"]))),
        )
        .nest(
            "/permissions",
            guarded(layer::require_permissions("write:messages")),
        )
        .nest("/admin", admin)
        .nest(
            "/any-role",
            guarded(layer::require_role(any(["admin", "manager"]))),
        )
        .nest(
            "/claim",
            guarded(layer::require_claim_equals("tier", "gold")),
        )
        .nest(
            "/includes",
            guarded(layer::require_claim_includes("groups", ["eng", "ops"])),
        )
        .nest("/org", guarded(layer::require_org(["org_abc123"])))
        .nest("/actor", guarded(layer::require_actor(["gateway"])))
        .nest(
            "/combined",
            guarded(layer::require(
                Require::new()
                    .scopes(["read:billing"])
                    .permissions(any(["billing:read", "billing:admin"]))
                    .roles("accountant")
                    .claim_equals("org_id", "org_abc123")
                    .claim_check("email_verified = true", |claims, _| {
                        claims.get("email_verified") == Some(&Value::Bool(true))
                    }),
            )),
        )
        .nest("/typed-guard", guarded(layer::guard::<Auditor>()))
        .nest(
            "/stacked",
            guarded(layer::require_scopes("read:a")).route_layer(layer::require_role("admin")),
        )
}

async fn app() -> App {
    let issuer = TestIssuer::start().await.expect("issuer");
    let auth = issuer.authenticator_builder().build().expect("builds");
    common::serve_app(issuer, auth, routes()).await
}

/// The 403 of a requirement not met: `insufficient_scope` in challenge and body.
fn assert_forbidden(reply: &common::Reply, description: &str) {
    reply.assert_rejected(403, "insufficient_scope");
    assert_eq!(reply.description(), description, "body: {}", reply.body);
}

#[tokio::test]
async fn require_auth_layer_answers_401_without_a_valid_token_and_serves_the_claims() {
    let app = app().await;
    let token = app.issuer.token().sub("auth0|alice").sign();
    let ok = app.get("/auth/whoami", Some(&token)).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body["sub"], "auth0|alice");

    let missing = app.get("/auth/whoami", None).await;
    missing.assert_rejected(401, "unauthorized");
    // DPoP is allowed by default: both schemes are offered, as for the attributes.
    assert_eq!(
        missing.challenge(),
        "Bearer realm=\"api\", DPoP realm=\"api\", algs=\"ES256\""
    );
    app.get("/auth/whoami", Some("a.b.c"))
        .await
        .assert_rejected(401, "invalid_token");
    let expired = app
        .issuer
        .token()
        .expired_for(std::time::Duration::from_secs(600))
        .sign();
    app.get("/auth/whoami", Some(&expired))
        .await
        .assert_rejected(401, "invalid_token");
    // Outside the guarded router nothing is asked; an unknown path under it is 404, not 401.
    assert_eq!(app.get("/public", None).await.status, 200);
    assert_eq!(app.get("/auth/nothing", None).await.status, 404);
}

#[tokio::test]
async fn scope_layers_all_and_any() {
    let app = app().await;
    let a = app.issuer.token().scopes("read:a").sign();
    let both = app.issuer.token().scopes("read:a read:b").sign();
    let none = app.issuer.token().scopes("read:c").sign();

    assert_eq!(app.get("/scopes/whoami", Some(&both)).await.status, 200);
    let partial = app.get("/scopes/whoami", Some(&a)).await;
    assert_forbidden(&partial, "the token lacks the required scope read:b");
    // The challenge names every scope the route needs, not only the missing one.
    assert!(
        partial.challenge().ends_with("scope=\"read:a read:b\""),
        "{}",
        partial.challenge()
    );
    // A 401 on the route names them too.
    assert!(app
        .get("/scopes/whoami", None)
        .await
        .challenge()
        .starts_with("Bearer realm=\"api\", scope=\"read:a read:b\""));

    assert_eq!(app.get("/any-scope/whoami", Some(&a)).await.status, 200);
    let denied = app.get("/any-scope/whoami", Some(&none)).await;
    assert_forbidden(&denied, "the token lacks one of the scopes read:a, read:b");
    assert!(denied.challenge().ends_with("scope=\"read:a read:b\""));
}

#[tokio::test]
async fn permission_role_claim_org_and_actor_layers() {
    let app = app().await;
    let issuer = &app.issuer;
    let writer = issuer.token().permissions(["write:messages"]).sign();
    let reader = issuer.token().permissions(["read:messages"]).sign();
    assert_eq!(
        app.get("/permissions/whoami", Some(&writer)).await.status,
        200
    );
    assert_forbidden(
        &app.get("/permissions/whoami", Some(&reader)).await,
        "the token lacks the required permission write:messages",
    );

    // Roles through a layer read the Authenticator's `roles_claim`.
    let admin = issuer.token().sub("auth0|root").roles(["admin"]).sign();
    let manager = issuer.token().roles(["manager"]).sign();
    let nobody = issuer.token().sign();
    let ok = app.get("/admin/whoami", Some(&admin)).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body["roles"], json!(["admin"]));
    assert_forbidden(
        &app.get("/admin/whoami", Some(&manager)).await,
        "the token lacks the required role admin",
    );
    assert_eq!(
        app.get("/any-role/whoami", Some(&manager)).await.status,
        200
    );
    assert_forbidden(
        &app.get("/any-role/whoami", Some(&nobody)).await,
        "the token lacks one of the roles admin, manager",
    );

    let gold = issuer.token().claim("tier", "gold").sign();
    let silver = issuer.token().claim("tier", "silver").sign();
    assert_eq!(app.get("/claim/whoami", Some(&gold)).await.status, 200);
    assert_forbidden(
        &app.get("/claim/whoami", Some(&silver)).await,
        "the token lacks the required claim tier = gold",
    );

    let groups = issuer.token().claim("groups", json!(["eng", "ops"])).sign();
    let spaced = issuer.token().claim("groups", "ops eng").sign();
    let eng = issuer.token().claim("groups", json!(["eng"])).sign();
    assert_eq!(app.get("/includes/whoami", Some(&groups)).await.status, 200);
    assert_eq!(app.get("/includes/whoami", Some(&spaced)).await.status, 200);
    assert_forbidden(
        &app.get("/includes/whoami", Some(&eng)).await,
        "the token lacks the required claim groups includes ops",
    );

    let org = issuer.token().claim("org_id", "org_abc123").sign();
    let other_org = issuer.token().claim("org_id", "org_zzz").sign();
    assert_eq!(app.get("/org/whoami", Some(&org)).await.status, 200);
    assert_forbidden(
        &app.get("/org/whoami", Some(&other_org)).await,
        "the token lacks the required claim organization org_abc123",
    );

    let delegated = issuer
        .token()
        .claim("act", json!({ "sub": "gateway" }))
        .sign();
    let direct = issuer.token().sign();
    assert_eq!(app.get("/actor/whoami", Some(&delegated)).await.status, 200);
    assert_forbidden(
        &app.get("/actor/whoami", Some(&direct)).await,
        "the token lacks the required claim actor gateway",
    );
}

#[tokio::test]
async fn one_combined_layer_names_everything_missing_in_one_403() {
    let app = app().await;
    let issuer = &app.issuer;
    let bare = issuer.token().sign();
    let reply = app.get("/combined/whoami", Some(&bare)).await;
    assert_forbidden(
        &reply,
        "the token lacks the required scope read:billing; role accountant; \
         claim org_id = org_abc123, email_verified = true; \
         one of the permissions billing:read, billing:admin",
    );
    assert!(reply.challenge().ends_with("scope=\"read:billing\""));

    let full = issuer
        .token()
        .scopes("read:billing")
        .permissions(["billing:admin"])
        .roles(["accountant"])
        .claim("org_id", "org_abc123")
        .claim("email_verified", true)
        .sign();
    assert_eq!(app.get("/combined/whoami", Some(&full)).await.status, 200);
    // One condition short: only it is named.
    let unverified = issuer
        .token()
        .scopes("read:billing")
        .permissions(["billing:read"])
        .roles(["accountant"])
        .claim("org_id", "org_abc123")
        .sign();
    assert_forbidden(
        &app.get("/combined/whoami", Some(&unverified)).await,
        "the token lacks the required claim email_verified = true",
    );
}

#[tokio::test]
async fn a_typed_requirement_as_a_layer_reads_its_claims_type() {
    let app = app().await;
    let auditor = app
        .issuer
        .token()
        .sub("auth0|audit")
        .roles(["auditor"])
        .sign();
    let ok = app.get("/typed-guard/typed", Some(&auditor)).await;
    assert_eq!(ok.status, 200);
    assert_eq!(
        ok.body,
        json!({ "sub": "auth0|audit", "roles": ["auditor"] })
    );
    let admin = app.issuer.token().roles(["admin"]).sign();
    assert_forbidden(
        &app.get("/typed-guard/whoami", Some(&admin)).await,
        "the token lacks the required role auditor",
    );
    // The claims type's own rules still hold: `sub` is required by `Typed`.
    let anonymous = app.issuer.token().without("sub").roles(["auditor"]).sign();
    app.get("/typed-guard/whoami", Some(&anonymous))
        .await
        .assert_rejected(401, "invalid_token");
}

#[tokio::test]
async fn a_layer_and_an_attribute_on_one_route_are_both_enforced_with_one_verification() {
    let app = app().await;
    let issuer = &app.issuer;
    let admin_only = issuer.token().roles(["admin"]).sign();
    let deleter_only = issuer.token().permissions(["delete:users"]).sign();
    let both = issuer
        .token()
        .roles(["admin"])
        .permissions(["delete:users"])
        .sign();
    assert_forbidden(
        &app.get("/admin/users", Some(&admin_only)).await,
        "the token lacks the required permission delete:users",
    );
    assert_forbidden(
        &app.get("/admin/users", Some(&deleter_only)).await,
        "the token lacks the required role admin",
    );

    let before = app.auth.stats();
    let ok = app.get("/admin/users", Some(&both)).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body, Value::String("deleted".into()));
    // Layer, attribute and the handler's claims: one verification of a token never seen.
    let after = app.auth.stats();
    assert_eq!(after.verified(), before.verified() + 1);
    assert_eq!(after.verified_from_cache(), before.verified_from_cache());

    // Two layers and an attribute (`#[require_auth]` reading `Claims`): still one each time,
    // the second request's from the verified-token cache.
    let stacked = issuer
        .token()
        .sub("auth0|stacked")
        .scopes("read:a")
        .roles(["admin"])
        .sign();
    let before = app.auth.stats();
    let ok = app.get("/admin/attributed", Some(&stacked)).await;
    assert_eq!(ok.body["sub"], "auth0|stacked");
    let ok = app.get("/stacked/typed", Some(&stacked)).await;
    assert_eq!(ok.status, 200, "body: {}", ok.body);
    assert_eq!(ok.body["sub"], "auth0|stacked");
    let after = app.auth.stats();
    assert_eq!(after.verified(), before.verified() + 2);
    assert_eq!(
        after.verified_from_cache(),
        before.verified_from_cache() + 1
    );
    let admin = issuer.token().roles(["admin"]).sign();
    assert_forbidden(
        &app.get("/stacked/whoami", Some(&admin)).await,
        "the token lacks the required scope read:a",
    );
}

#[tokio::test]
async fn a_layer_answers_exactly_as_the_attribute_does() {
    // The same requirement as a layer and as an attribute: byte-identical answers.
    #[require_permissions("write:messages")]
    async fn by_attribute() -> &'static str {
        "ok"
    }
    let issuer = TestIssuer::start().await.expect("issuer");
    let auth = issuer.authenticator_builder().build().expect("builds");
    let routes = Router::new().route("/attribute", get(by_attribute)).nest(
        "/layer",
        Router::new()
            .route("/", get(|| async { "ok" }))
            .route_layer(layer::require_permissions("write:messages")),
    );
    let app = common::serve_app(issuer, auth, routes).await;
    let reader = app.issuer.token().permissions(["read:messages"]).sign();
    let writer = app.issuer.token().permissions(["write:messages"]).sign();
    for token in [
        None,
        Some("a.b.c"),
        Some(reader.as_str()),
        Some(writer.as_str()),
    ] {
        let attribute = app.get("/attribute", token).await;
        let layer = app.get("/layer", token).await;
        assert_eq!(attribute.status, layer.status);
        assert_eq!(attribute.www_authenticate, layer.www_authenticate);
        assert_eq!(attribute.body, layer.body);
    }
}

#[test]
fn names_that_can_never_be_granted_are_a_typed_error() {
    let error = |require: Require| match RequireLayer::try_from(require) {
        Err(e @ ConfigError::InvalidSetting { .. }) => e.to_string(),
        other => panic!("expected InvalidSetting, got {other:?}"),
    };
    assert_eq!(
        error(Require::new().scopes("read messages")),
        "invalid setting `Require::scopes`: the scope `read messages` contains whitespace: pass each scope as its own string"
    );
    assert_eq!(
        error(Require::new().permissions([""])),
        "invalid setting `Require::permissions`: a permission must not be empty"
    );
    assert_eq!(
        error(Require::new().roles(any(Vec::<String>::new()))),
        "invalid setting `Require::roles`: the list names no role"
    );
    assert_eq!(
        error(Require::new().claim_equals("", "x")),
        "invalid setting `Require::claim_equals`: a claim name must not be empty"
    );
    assert_eq!(
        error(Require::new().claim_includes("groups", Vec::<String>::new())),
        "invalid setting `Require::claim_includes`: no value listed for `groups`"
    );
    // Role names may hold spaces (Auth0 allows "Billing Admin"); from configuration, too.
    let roles: Vec<String> = vec!["Billing Admin".into()];
    assert!(RequireLayer::try_from(Require::new().roles(roles)).is_ok());
}

#[test]
#[should_panic(expected = "route_guard::layer: invalid setting `Require::scopes`")]
fn the_shorthand_refuses_a_bad_literal_while_the_router_is_built() {
    let _ = layer::require_scopes(["read messages"]);
}

#[test]
fn a_requirement_describes_what_it_asks_for() {
    let require = Require::new()
        .scopes(any(["read:a", "read:b"]))
        .permissions(["p", "q"]);
    assert!(require.reads_claims());
    assert!(!Require::new().claim_equals("tier", "gold").reads_claims());
    assert_eq!(require.required_scopes()[0].names(), ["read:a", "read:b"]);
    assert!(require.required_scopes()[0].is_any());
    assert_eq!(require.required_permissions()[0].names(), ["p", "q"]);
    assert!(!require.required_permissions()[0].is_any());
    assert!(require.required_roles().is_empty());
}

#[tokio::test]
async fn a_dpop_bound_token_passes_a_layer_with_its_proof_for_the_full_path() {
    let app = app().await;
    let key = route_guard::testing::DpopKey::generate().expect("key");
    let token = app
        .issuer
        .token()
        .sub("auth0|dpop")
        .scopes("read:a read:b")
        .dpop_bound(&key)
        .sign();
    // The proof names the URL the client called: the nested router's prefix included.
    let url = format!("{}/scopes/whoami", app.base);
    let send = |proof: String| {
        common::send(
            app.client
                .get(&url)
                .header("authorization", format!("DPoP {token}"))
                .header("dpop", proof),
        )
    };
    let ok = send(key.proof("GET", &url, &token)).await;
    assert_eq!(ok.status, 200, "body: {}", ok.body);
    assert_eq!(ok.body["sub"], "auth0|dpop");
    // A proof for the path as the nested router sees it is refused.
    let stripped = send(key.proof("GET", &format!("{}/whoami", app.base), &token)).await;
    stripped.assert_dpop_rejected(401, "invalid_dpop_proof", "ES256");
    // Sent as Bearer, the bound token is refused by the layer as by the attributes.
    app.get("/scopes/whoami", Some(&token))
        .await
        .assert_rejected(401, "invalid_token");
    assert_eq!(app.auth.stats().dpop_verified(), 1);
}
