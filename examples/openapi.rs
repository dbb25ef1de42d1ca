//! The quickstart's kinds of routes documented with aide: `GET /openapi.json` (OpenAPI 3.1)
//! generated from the handlers, each operation's security and 401 / 403 responses filled in
//! from its guard by route-guard, and `GET /docs`, a documentation page the app serves itself
//! (no CDN at build or run time: `examples/openapi/docs.html` is all of it).
//!
//! ```sh
//! cargo run --example openapi
//! ```
//!
//! With `AUTH0_DOMAIN` + `AUTH0_AUDIENCE` the document names your tenant's `/authorize` and
//! `/oauth/token`; without them, an embedded development issuer's. `PORT` (default 3003, `0`
//! for any free port) and `HOST` (default 127.0.0.1).

use std::net::SocketAddr;

use aide::axum::routing::get;
use aide::axum::ApiRouter;
use aide::openapi::{Info, OpenApi};
use axum::response::Html;
use axum::{Json, Router};
use route_guard::testing::TestIssuer;
use route_guard::{
    require_auth, require_permissions, require_role, require_scopes, Authenticator,
    AuthenticatorBuilder, Claims,
};
use serde_json::{json, Value};

/// The documentation page: plain HTML and JavaScript, rendering `openapi.json`.
const DOCS: &str = include_str!("openapi/docs.html");

async fn public() -> Json<Value> {
    Json(json!({ "message": "public" }))
}

#[require_auth]
async fn private(claims: Claims) -> Json<Value> {
    Json(json!({ "message": "private", "user": claims.sub }))
}

#[require_scopes("read:messages")]
async fn private_scoped() -> Json<Value> {
    Json(json!({ "message": "scoped" }))
}

#[require_permissions("read:messages")]
async fn list_messages() -> Json<Value> {
    Json(json!({ "messages": [] }))
}

#[require_role(any("admin", "manager"))]
async fn reports() -> Json<Value> {
    Json(json!({ "reports": [] }))
}

async fn feed(claims: Option<Claims>) -> Json<Value> {
    Json(json!({ "personal": claims.is_some() }))
}

async fn app(auth: &Authenticator) -> Result<Router, String> {
    let mut openapi = OpenApi {
        info: Info {
            title: "route-guard OpenAPI example".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            ..Info::default()
        },
        ..OpenApi::default()
    };
    let api = ApiRouter::new()
        .api_route("/api/public", get(public))
        .api_route("/api/private", get(private))
        .api_route("/api/private-scoped", get(private_scoped))
        .api_route("/api/messages", get(list_messages))
        .api_route("/api/reports", get(reports))
        .api_route("/api/feed", get(feed))
        .finish_api(&mut openapi);
    let openapi = route_guard::aide::ServedDocument::new(auth, openapi)
        .await
        .map_err(|e| e.to_string())?;
    Ok(api
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let openapi = openapi.clone();
                async move { Json(openapi.current().await) }
            }),
        )
        .route("/docs", axum::routing::get(|| async { Html(DOCS) }))
        .layer(auth.layer()))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

async fn run() -> Result<(), String> {
    let configured = ["AUTH0_DOMAIN", "AUTH0_DOMAINS", "AUTH0_ISSUER_BASE_URL"]
        .into_iter()
        .any(|name| env(name).is_some());
    let (auth, _dev_issuer) = match configured {
        true => (
            AuthenticatorBuilder::from_env()
                .and_then(AuthenticatorBuilder::build)
                .map_err(|e| e.to_string())?,
            None,
        ),
        false => {
            let issuer = TestIssuer::start()
                .await
                .map_err(|e| format!("the development issuer could not start: {e}"))?;
            (
                issuer.authenticator().map_err(|e| e.to_string())?,
                Some(issuer),
            )
        }
    };
    let host = env("HOST").unwrap_or_else(|| "127.0.0.1".to_owned());
    let port = env("PORT").unwrap_or_else(|| "3003".to_owned());
    let addr: SocketAddr = format!("{host}:{port}")
        .parse()
        .map_err(|_| format!("HOST and PORT must form an address, not `{host}:{port}`"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e} (set PORT to a free port)"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let router = app(&auth).await?;
    println!("documentation: http://{local}/docs (the document: http://{local}/openapi.json)");
    println!("listening on http://{local}");
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() {
    if let Err(message) = run().await {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}
