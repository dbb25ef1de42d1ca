//! Every row of the RFC 6750 error table, over real HTTP.

use crate::common;

use common::{start, App};

#[tokio::test]
async fn valid_token_reaches_the_handler() {
    let app = start().await;
    let token = app.issuer.token().sub("auth0|alice").sign();
    let reply = app.get("/private", Some(&token)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["user"], "auth0|alice");
    assert!(reply.www_authenticate.is_none());
}

#[tokio::test]
async fn missing_header_is_401_without_error_attribute() {
    let app = start().await;
    let reply = app.get("/private", None).await;
    reply.assert_rejected(401, "unauthorized");
    // DPoP is allowed by default: both schemes are offered (RFC 9449 §7.2).
    assert_eq!(
        reply.www_authenticate.as_deref(),
        Some("Bearer realm=\"api\", DPoP realm=\"api\", algs=\"ES256\"")
    );
}

#[tokio::test]
async fn missing_header_offers_only_bearer_when_dpop_is_disabled() {
    let app = common::start_with(|b| b.dpop(route_guard::DpopMode::Disabled)).await;
    let reply = app.get("/private", None).await;
    reply.assert_rejected(401, "unauthorized");
    assert_eq!(reply.challenge(), "Bearer realm=\"api\"");
}

async fn assert_row(app: &App, authorization: &str, status: u16, code: &str) {
    let reply = app.get_with_header("/private", authorization).await;
    reply.assert_rejected(status, code);
    // The token doctor gives the very same answer for every row.
    common::assert_doctor_agrees(app, "/private", authorization, &reply).await;
}

#[tokio::test]
async fn other_scheme_is_401_without_error_attribute() {
    let app = start().await;
    assert_row(&app, "Basic dXNlcjpwYXNz", 401, "unauthorized").await;
}

#[tokio::test]
async fn scheme_name_is_case_insensitive() {
    let app = start().await;
    let token = app.issuer.token().sign();
    for scheme in ["bearer", "BEARER", "BeArEr"] {
        let reply = app
            .get_with_header("/private", &format!("{scheme} {token}"))
            .await;
        assert_eq!(reply.status, 200, "{scheme}: {}", reply.body);
    }
}

#[tokio::test]
async fn bearer_without_token_is_400_invalid_request() {
    let app = start().await;
    for header in ["Bearer", "Bearer ", "Bearer    "] {
        assert_row(&app, header, 400, "invalid_request").await;
    }
}

#[tokio::test]
async fn two_tokens_are_400_invalid_request() {
    let app = start().await;
    let token = app.issuer.token().sign();
    assert_row(
        &app,
        &format!("Bearer {token} {token}"),
        400,
        "invalid_request",
    )
    .await;
    assert_row(
        &app,
        &format!("Bearer {token}\t{token}"),
        400,
        "invalid_request",
    )
    .await;
}

#[tokio::test]
async fn characters_outside_token68_are_400_invalid_request() {
    let app = start().await;
    for token in ["abc,def", "a\"b", "abc=def", "{}", "a;b", "=="] {
        assert_row(&app, &format!("Bearer {token}"), 400, "invalid_request").await;
    }
}

#[tokio::test]
async fn tab_after_scheme_is_400_invalid_request() {
    let app = start().await;
    let token = app.issuer.token().sign();
    assert_row(&app, &format!("Bearer\t{token}"), 400, "invalid_request").await;
}

#[tokio::test]
async fn extra_spaces_after_scheme_are_tolerated() {
    // RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token.
    let app = start().await;
    let token = app.issuer.token().sign();
    let reply = app
        .get_with_header("/private", &format!("Bearer   {token}"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn repeated_authorization_header_is_400_invalid_request() {
    let app = start().await;
    let token = app.issuer.token().sign();
    let bearer = format!("Bearer {token}");
    app.get_with_headers("/private", &[&bearer, &bearer])
        .await
        .assert_rejected(400, "invalid_request");
}

#[tokio::test]
async fn non_ascii_header_value_is_400_invalid_request() {
    let app = start().await;
    let value = reqwest::header::HeaderValue::from_bytes("Bearer t\u{f6}ken".as_bytes())
        .expect("opaque bytes are a valid header value");
    let reply = common::send(
        app.client
            .get(format!("{}/private", app.base))
            .header("authorization", value),
    )
    .await;
    reply.assert_rejected(400, "invalid_request");
}

#[tokio::test]
async fn token_in_query_string_is_not_accepted() {
    let app = start().await;
    let token = app.issuer.token().sign();
    let reply = app
        .get(&format!("/private?access_token={token}"), None)
        .await;
    reply.assert_rejected(401, "unauthorized");
}

#[tokio::test]
async fn verification_failure_is_401_invalid_token_with_description() {
    let app = start().await;
    let token = app
        .issuer
        .token()
        .expired_for(std::time::Duration::from_secs(3600))
        .sign();
    let reply = app.get("/private", Some(&token)).await;
    reply.assert_rejected(401, "invalid_token");
    common::assert_doctor_agrees(&app, "/private", &format!("Bearer {token}"), &reply).await;
    assert_eq!(reply.body["error_description"], "the token has expired");
    let challenge = reply.challenge().to_owned();
    assert!(
        challenge.contains("error_description=\"the token has expired\""),
        "{challenge}"
    );
    assert!(!challenge.contains(&token));
}

#[tokio::test]
async fn unknown_kid_is_401_invalid_token() {
    let app = start().await;
    let token = app.issuer.token().kid("no-such-key").sign();
    let reply = app.get("/private", Some(&token)).await;
    reply.assert_rejected(401, "invalid_token");
    common::assert_doctor_agrees(&app, "/private", &format!("Bearer {token}"), &reply).await;
}

#[tokio::test]
async fn missing_scope_is_403_with_scope_attribute() {
    let app = start().await;
    let token = app.issuer.token().scopes("write:messages").sign();
    let reply = app.get("/scoped", Some(&token)).await;
    reply.assert_rejected(403, "insufficient_scope");
    common::assert_doctor_agrees(&app, "/scoped", &format!("Bearer {token}"), &reply).await;
    let challenge = reply.challenge().to_owned();
    assert!(
        challenge.ends_with("scope=\"read:messages\""),
        "{challenge}"
    );
    assert!(
        reply.description().contains("read:messages"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn granted_scope_passes_the_guard() {
    let app = start().await;
    let token = app.issuer.token().scopes("openid read:messages").sign();
    let reply = app.get("/scoped", Some(&token)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["scope"], "openid read:messages");
}

#[tokio::test]
async fn missing_permission_is_403_insufficient_scope() {
    let app = start().await;
    let token = app.issuer.token().permissions(["read:messages"]).sign();
    let reply = app.get("/messages", Some(&token)).await;
    reply.assert_rejected(403, "insufficient_scope");
    common::assert_doctor_agrees(&app, "/messages", &format!("Bearer {token}"), &reply).await;
    assert!(!reply.challenge().contains("scope=\""));
    let ok = app.issuer.token().permissions(["write:messages"]).sign();
    assert_eq!(app.get("/messages", Some(&ok)).await.status, 200);
}

#[tokio::test]
async fn missing_role_is_403_insufficient_scope() {
    let app = start().await;
    let token = app.issuer.token().roles(["viewer"]).sign();
    let reply = app.get("/admin", Some(&token)).await;
    reply.assert_rejected(403, "insufficient_scope");
    common::assert_doctor_agrees(&app, "/admin", &format!("Bearer {token}"), &reply).await;
    assert!(reply.description().contains("role admin"));
    let ok = app.issuer.token().roles(["viewer", "admin"]).sign();
    let reply = app.get("/admin", Some(&ok)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["roles"], serde_json::json!(["viewer", "admin"]));
}

#[tokio::test]
async fn missing_layer_is_500_server_error_without_challenge() {
    let issuer = route_guard::testing::TestIssuer::start()
        .await
        .expect("issuer");
    let (base, _server) = common::serve(common::routes()).await;
    let token = issuer.token().sign();
    let reply = common::send(
        common::client()
            .get(format!("{base}/private"))
            .bearer_auth(token),
    )
    .await;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.error(), "server_error");
    assert!(reply.www_authenticate.is_none());
}

#[tokio::test]
async fn optional_claims_are_none_without_a_token_and_401_with_a_bad_one() {
    let app = start().await;
    let reply = app.get("/feed", None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["message"], "hello guest");

    let token = app.issuer.token().sub("auth0|bob").sign();
    let reply = app.get("/feed", Some(&token)).await;
    assert_eq!(reply.body["message"], "hello auth0|bob");

    let reply = app.get("/feed", Some("not.a.token")).await;
    reply.assert_rejected(401, "invalid_token");
}

#[tokio::test]
async fn public_route_ignores_tokens() {
    let app = start().await;
    let reply = app.get("/public", Some("garbage")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(app.issuer.jwks_fetches(), 0);
}

#[tokio::test]
async fn a_request_is_verified_once_however_many_extractors_ask() {
    let app = start().await;
    let token = app.issuer.token().scopes("read:messages").sign();
    // `/scoped` takes the guard and `Claims`.
    let reply = app.get("/scoped", Some(&token)).await;
    assert_eq!(reply.status, 200);
    let stats = app.auth.stats();
    assert_eq!(stats.verified(), 1);
    assert_eq!(stats.rejected_total(), 0);
}

#[tokio::test]
async fn descriptions_never_echo_attacker_text_unsafely() {
    let app = start().await;
    // A claim of the wrong type makes serde quote it; neither the value nor quotes may reach
    // the header.
    let token = app.issuer.token().claim("exp", "9999999999\"\\").sign();
    let reply = app.get("/private", Some(&token)).await;
    reply.assert_rejected(401, "invalid_token");
    let challenge = reply.challenge().to_owned();
    let description = challenge
        .split("error_description=\"")
        .nth(1)
        .unwrap_or_default();
    assert_eq!(description.matches('"').count(), 1, "{challenge}");
    assert!(!description.contains('\\'));
    assert!(
        !reply.description().contains("9999999999"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn realm_is_configurable() {
    let app = common::start_with(|b| b.realm("messages-api")).await;
    let reply = app.get("/private", None).await;
    assert_eq!(
        reply.www_authenticate.as_deref(),
        Some("Bearer realm=\"messages-api\", DPoP realm=\"messages-api\", algs=\"ES256\"")
    );
}

#[tokio::test]
async fn rejections_are_counted_by_reason() {
    use route_guard::RejectionReason;
    let app = start().await;
    app.get("/private", None).await;
    app.get_with_header("/private", "Bearer").await;
    app.get("/private", Some("a.b.c")).await;
    let token = app.issuer.token().sign();
    app.get("/admin", Some(&token)).await;
    let stats = app.auth.stats();
    assert_eq!(stats.rejected(RejectionReason::MissingToken), 1);
    assert_eq!(stats.rejected(RejectionReason::InvalidRequest), 1);
    assert_eq!(stats.rejected(RejectionReason::Malformed), 1);
    assert_eq!(stats.rejected(RejectionReason::InsufficientScope), 1);
    assert_eq!(stats.verified(), 1);
    assert_eq!(stats.jwks_fetches(), 1);
}

#[tokio::test]
async fn handlers_can_check_scopes_permissions_and_roles_by_hand() {
    let app = start().await;
    let token = app
        .issuer
        .token()
        .scopes("read:messages")
        .permissions(["write:messages"])
        .roles(["admin"])
        .sign();
    let reply = app.get("/manual", Some(&token)).await;
    assert_eq!(
        reply.body,
        serde_json::json!({"scope": true, "permission": true, "role": true})
    );
    let lookalikes = app
        .issuer
        .token()
        .scopes("read:messagesX READ:MESSAGES")
        .permissions(["write"])
        .claim(
            route_guard::testing::TEST_ROLES_CLAIM,
            serde_json::json!({"admin": true}),
        )
        .sign();
    let reply = app.get("/manual", Some(&lookalikes)).await;
    assert_eq!(
        reply.body,
        serde_json::json!({"scope": false, "permission": false, "role": false})
    );
}

#[tokio::test]
async fn a_custom_error_body_keeps_the_status_and_challenge() {
    use axum::response::IntoResponse;
    let app = common::start_with(|b| {
        b.error_body(|rejection| {
            (
                axum::http::StatusCode::IM_A_TEAPOT,
                [("www-authenticate", "Basic")],
                format!("custom {}", rejection.error_code()),
            )
                .into_response()
        })
    })
    .await;
    let reply = app.get("/private", None).await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.challenge(),
        "Bearer realm=\"api\", DPoP realm=\"api\", algs=\"ES256\""
    );
    assert_eq!(reply.body, "custom unauthorized");
    let token = app.issuer.token().sign();
    let reply = app.get("/scoped", Some(&token)).await;
    assert_eq!(reply.status, 403);
    assert!(reply.challenge().contains("error=\"insufficient_scope\""));
    assert_eq!(reply.body, "custom insufficient_scope");
}

#[route_guard::require_role(any("admin", "manager"))]
async fn staff() -> &'static str {
    "staff"
}

#[route_guard::require_scopes("read:reports")]
#[route_guard::require_permissions(any("reports:read", "reports:all"))]
async fn reports() -> &'static str {
    "reports"
}

#[tokio::test]
async fn an_any_of_requirement_reads_as_one_in_the_403() {
    let issuer = route_guard::testing::TestIssuer::start()
        .await
        .expect("issuer");
    let auth = issuer.authenticator().expect("auth");
    let routes = axum::Router::new()
        .route("/staff", axum::routing::get(staff))
        .route("/reports", axum::routing::get(reports));
    let app = common::serve_app(issuer, auth, routes).await;
    let token = app.issuer.token().roles(["viewer"]).sign();
    let reply = app.get("/staff", Some(&token)).await;
    reply.assert_rejected(403, "insufficient_scope");
    assert_eq!(
        reply.description(),
        "the token lacks one of the roles admin, manager"
    );
    assert!(reply
        .challenge()
        .contains("error_description=\"the token lacks one of the roles admin, manager\""));
    let manager = app.issuer.token().roles(["manager"]).sign();
    assert_eq!(app.get("/staff", Some(&manager)).await.status, 200);

    // All-of and any-of together: each named as what it is.
    let reply = app.get("/reports", Some(&token)).await;
    reply.assert_rejected(403, "insufficient_scope");
    assert_eq!(
        reply.description(),
        "the token lacks the required scope read:reports; one of the permissions reports:read, reports:all"
    );
    let reader = app
        .issuer
        .token()
        .scopes("read:reports")
        .permissions(["reports:all"])
        .sign();
    assert_eq!(app.get("/reports", Some(&reader)).await.status, 200);
}

#[tokio::test]
async fn keys_never_loaded_are_503_without_a_challenge() {
    let app =
        common::start_with(|b| b.jwks_retry_interval(std::time::Duration::from_secs(1))).await;
    app.issuer.set_down(true);
    let token = app.issuer.token().sign();
    // Bearer and DPoP alike: the token was not judged, so nothing tells the client to drop it.
    app.get("/private", Some(&token))
        .await
        .assert_unavailable("signing keys are unavailable");
    let key = route_guard::testing::DpopKey::generate().expect("key");
    let bound = app.issuer.token().dpop_bound(&key).sign();
    let url = format!("{}/private", app.base);
    let reply = common::send(
        app.client
            .get(&url)
            .header("authorization", format!("DPoP {bound}"))
            .header("dpop", key.proof("GET", &url, &bound)),
    )
    .await;
    reply.assert_unavailable("signing keys are unavailable");
    // A malformed token is still judged without keys: 401.
    app.get("/private", Some("a.b.c"))
        .await
        .assert_rejected(401, "invalid_token");
}

#[tokio::test]
async fn log_events_escape_what_a_token_wrote() {
    let collector = common::logs::Collector::default();
    let _logs = tracing::subscriber::set_default(collector.clone());
    let app = common::start_with(|b| {
        b.organization(route_guard::OrgPolicy::Required)
            .allowed_organizations(["org_allowed"])
    })
    .await;
    let forged = "org_x\nINFO route_guard: request accepted\x1b[2J";
    let token = app.issuer.token().claim("org_id", forged).sign();
    let before = collector.len();
    let reply = app.get("/private", Some(&token)).await;
    reply.assert_rejected(401, "invalid_token");
    let events = collector.since(before);
    let rejected: Vec<&String> = events
        .iter()
        .filter(|e| e.contains("token rejected"))
        .collect();
    assert_eq!(rejected.len(), 1, "{events:#?}");
    for event in &events {
        assert!(
            !event.contains('\n') && !event.contains('\x1b'),
            "{event:?}"
        );
    }
    // What the token wrote is there to read, escaped.
    assert!(
        rejected[0].contains("org_x\\u{a}INFO route_guard: request accepted\\u{1b}[2J"),
        "{}",
        rejected[0]
    );
}
