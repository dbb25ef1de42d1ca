//! Every row of the RFC 6750 error table, over real HTTP.

mod common;

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
    assert_eq!(
        reply.www_authenticate.as_deref(),
        Some("Bearer realm=\"api\"")
    );
}

async fn assert_row(app: &App, authorization: &str, status: u16, code: &str) {
    let reply = app.get_with_header("/private", authorization).await;
    reply.assert_rejected(status, code);
}

#[tokio::test]
async fn other_scheme_is_401_without_error_attribute() {
    let app = start().await;
    assert_row(&app, "Basic dXNlcjpwYXNz", 401, "unauthorized").await;
}
