//! How to test your own API without an Auth0 tenant: `TestIssuer` (feature `testing`) is a real
//! issuer on loopback that mints tokens, so your tests exercise the same verification as
//! production (DPoP included, with `DpopKey`). Put code like `check_my_api` in your `tests/`
//! folder.
//!
//! ```sh
//! cargo run --example testing
//! ```

use axum::routing::get;
use axum::Router;
use route_guard::testing::{DpopKey, TestIssuer};
use route_guard::{require_role, Authenticator, Claims};

#[require_role("admin")]
async fn admin(claims: Claims) -> String {
    format!("hello admin {}", claims.sub.as_deref().unwrap_or("?"))
}

/// Your application's router, built from an Authenticator so tests can pass their own.
fn my_api(auth: &Authenticator) -> Router {
    Router::new()
        .route("/admin", get(admin))
        .layer(auth.layer())
}

async fn check_my_api() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = TestIssuer::start().await?;
    // Roles are minted under TEST_ROLES_CLAIM, which the test authenticator reads.
    let auth = issuer.authenticator()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, my_api(&auth)).await });
    let client = reqwest::Client::new();

    let admin = issuer.token().sub("auth0|root").roles(["admin"]).sign();
    let response = client
        .get(format!("{base}/admin"))
        .bearer_auth(admin)
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await?, "hello admin auth0|root");

    let viewer = issuer.token().roles(["viewer"]).sign();
    let response = client
        .get(format!("{base}/admin"))
        .bearer_auth(viewer)
        .send()
        .await?;
    assert_eq!(response.status(), 403);

    let expired = issuer
        .token()
        .expired_for(std::time::Duration::from_secs(300))
        .sign();
    let response = client
        .get(format!("{base}/admin"))
        .bearer_auth(expired)
        .send()
        .await?;
    assert_eq!(response.status(), 401);

    // Fault injection: the issuer goes down, cached keys keep working.
    issuer.set_down(true);
    let admin = issuer.token().roles(["admin"]).sign();
    let response = client
        .get(format!("{base}/admin"))
        .bearer_auth(admin)
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    assert_eq!(issuer.jwks_fetches(), 1);

    // DPoP: a token bound to a client key, and a proof of that key for this one request.
    let key = DpopKey::generate()?;
    let bound = issuer
        .token()
        .sub("auth0|root")
        .roles(["admin"])
        .dpop_bound(&key)
        .sign();
    let url = format!("{base}/admin");
    let proof = key.proof("GET", &url, &bound);
    let dpop = |proof: &str| {
        client
            .get(&url)
            .header("authorization", format!("DPoP {bound}"))
            .header("dpop", proof)
    };
    assert_eq!(dpop(&proof).send().await?.status(), 200);
    // The same proof again is a replay; a bound token without a proof is refused too.
    let replay = dpop(&proof).send().await?;
    assert_eq!(replay.status(), 401);
    assert!(replay.headers()["www-authenticate"]
        .to_str()?
        .contains("invalid_dpop_proof"));
    let as_bearer = client.get(&url).bearer_auth(&bound).send().await?;
    assert_eq!(as_bearer.status(), 401);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    check_my_api().await?;
    println!("all checks passed");
    Ok(())
}
