//! Replacing the JSON error body while keeping the RFC 6750 status and `WWW-Authenticate`
//! header (route-guard sets both on whatever body you render).
//!
//! ```sh
//! cargo run --example custom_errors
//! ```

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use route_guard::testing::TestIssuer;
use route_guard::{require_scopes, AuthRejection};

/// A problem+json body (RFC 9457) instead of `{"error", "error_description"}`.
fn problem(rejection: &AuthRejection) -> Response {
    let body = serde_json::json!({
        "type": format!("https://api.example.com/problems/{}", rejection.error_code()),
        "title": rejection.error_code(),
        "status": rejection.status().as_u16(),
        "detail": rejection.description(),
    });
    (
        [(axum::http::header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

#[require_scopes("read:messages")]
async fn messages() -> &'static str {
    "[]"
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = TestIssuer::start().await?;
    let auth = issuer.authenticator_builder().error_body(problem).build()?;
    let app = Router::new()
        .route("/messages", get(messages))
        .layer(auth.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/messages", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let client = reqwest::Client::new();
    let no_scope = issuer.token().sign();
    for (what, request) in [
        ("no token", client.get(&url)),
        ("no scope", client.get(&url).bearer_auth(no_scope)),
    ] {
        let response = request.send().await?;
        println!("{what}: {}", response.status());
        if let Some(challenge) = response.headers().get("www-authenticate") {
            println!("  WWW-Authenticate: {}", challenge.to_str()?);
        }
        println!("  {}", response.text().await?);
    }
    Ok(())
}
