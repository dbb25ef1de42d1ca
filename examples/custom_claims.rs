//! A derived claims type with namespaced claims, roles, permissions and an optional email: the
//! Rust form of the Fastify quickstart's TypeScript `Token` interface.
//!
//! ```sh
//! cargo run --example custom_claims
//! ```
//!
//! It starts a development issuer, serves the API on a free port, calls it with a few minted
//! tokens and prints what each call answered.

use axum::routing::get;
use axum::{Json, Router};
use route_guard::testing::TestIssuer;
use route_guard::{require_permissions, require_role, Claims, TokenClaims};
use serde_json::{json, Value};

/// Claims under `https://myapp.com/` (an Auth0 Action adds them) plus the standard ones.
#[derive(TokenClaims, Debug)]
#[claims(namespace = "https://myapp.com/")]
struct AppClaims {
    /// `sub`: standard claims keep their names.
    sub: String,
    /// `https://myapp.com/roles` (a field named `roles` holds roles without a marker).
    roles: Vec<String>,
    /// `permissions`, from Auth0 RBAC.
    permissions: Vec<String>,
    /// `https://myapp.com/email`: absent unless the Action adds it.
    #[claim(rename = "https://myapp.com/email")]
    email: Option<String>,
    /// `https://myapp.com/plan`: a required claim; a token without it is `invalid_token`.
    plan: String,
    /// Everything else.
    #[claim(flatten)]
    other: serde_json::Map<String, Value>,
}

#[require_role(any("admin", "support"))]
#[require_permissions("read:users")]
async fn users(claims: Claims<AppClaims>) -> Json<Value> {
    Json(json!({
        "viewer": claims.sub,
        "email": claims.email,
        "plan": claims.plan,
        "roles": claims.roles,
        "permissions": claims.permissions,
        "other_claims": claims.other.keys().collect::<Vec<_>>(),
    }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = TestIssuer::start().await?;
    let auth = issuer.authenticator()?;
    let app = Router::new()
        .route("/users", get(users))
        .layer(auth.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/users", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let support = issuer
        .token()
        .sub("auth0|support-1")
        .claim("https://myapp.com/roles", json!(["support"]))
        .claim("https://myapp.com/email", "help@example.com")
        .claim("https://myapp.com/plan", "enterprise")
        .permissions(["read:users"])
        .sign();
    let no_plan = issuer
        .token()
        .claim("https://myapp.com/roles", json!(["admin"]))
        .permissions(["read:users"])
        .sign();
    let no_role = issuer
        .token()
        .claim("https://myapp.com/plan", "free")
        .permissions(["read:users"])
        .sign();

    let client = reqwest::Client::new();
    for (who, token) in [
        ("support", support),
        ("no plan", no_plan),
        ("no role", no_role),
    ] {
        let response = client.get(&url).bearer_auth(token).send().await?;
        let status = response.status();
        let body = response.text().await?;
        println!("{who:>8}: {status} {body}");
    }
    Ok(())
}
