//! The API of Auth0's "Protect your API" quickstarts, written with route-guard.
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! - `AUTH0_DOMAIN` + `AUTH0_AUDIENCE`: a real Auth0 tenant.
//! - `AUTH0_DOMAINS` (comma-separated) + `AUTH0_AUDIENCE`: several domains of one tenant (custom
//!   domains), each with its own keys.
//! - `AUTH0_ISSUER_BASE_URL` + `AUTH0_AUDIENCE`: any OIDC issuer, found by discovery.
//! - neither: development mode. An embedded issuer starts on loopback and ready-to-paste `curl`
//!   commands with tokens are printed (the dashboard's "Test" tab, built in), a DPoP one too.
//!
//! DPoP-bound tokens (RFC 9449) are accepted beside Bearer tokens (`AUTH0_DPOP=allowed`, the
//! default); `AUTH0_DPOP=required` accepts only them, `AUTH0_DPOP_REPLAY_REDIS_URL` shares the
//! proof replay store between instances (feature `redis`).
//!
//! `AUTH0_RESOURCE_URL` (the API's resource identifier; in development mode the server's own URL
//! by default) publishes the Protected Resource Metadata (RFC 9728) at
//! `/.well-known/oauth-protected-resource` and names it in every challenge.
//!
//! Rate limits (per caller: the token's `sub`, or the address without a token): `RATE_LIMIT`
//! (e.g. `100/minute`; unset, no global limit) covers every `/api` route, `GET /api/expensive`
//! always has its own (`10/minute`); `RATE_LIMIT_REDIS_URL` shares the budgets between instances
//! (feature `redis`).
//!
//! `PORT` (default 3001, `0` for any free port), `HOST` (default 127.0.0.1), `RUST_LOG`, and
//! `CORS_ORIGINS` (comma-separated origins) complete the configuration.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use route_guard::layer::Quota;
use route_guard::testing::{DpopKey, TestClient, TestIssuer};
use route_guard::{
    layer, rate_limit, require_auth, require_permissions, require_role, require_scopes,
    Authenticator, AuthenticatorBuilder, Claims, StandardClaims, TokenClaims,
};
use serde_json::{json, Value};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

/// The roles claim this API reads, as an Auth0 Action would add it.
const ROLES_CLAIM: &str = "https://myapp.com/roles";

/// The claims of this API's tokens: the Rust form of the Fastify guide's `Token` interface.
/// `Clone` lets route-guard keep the parsed claims with a token it has seen before: from a
/// client's second request on, they are copied instead of parsed.
#[derive(TokenClaims, Clone, Debug)]
#[claims(namespace = "https://myapp.com/")]
struct ApiClaims {
    sub: String,
    /// Read from `https://myapp.com/roles`.
    roles: Vec<String>,
    permissions: Vec<String>,
    scope: Option<String>,
}

#[derive(Clone, Default)]
struct AppState {
    next_id: Arc<AtomicU64>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn public() -> Json<Value> {
    Json(json!({
        "message": "Hello from a public endpoint! You don't need to be authenticated to see this.",
        "timestamp": now(),
    }))
}

#[require_auth]
async fn private(claims: Claims<ApiClaims>) -> Json<Value> {
    Json(json!({
        "message": "Hello from a private endpoint! You need to be authenticated to see this.",
        "user": claims.sub,
        "timestamp": now(),
    }))
}

#[require_scopes("read:messages")]
async fn private_scoped(claims: Claims<ApiClaims>) -> Json<Value> {
    Json(json!({
        "message": "Hello from a private endpoint! You need to be authenticated and have a scope of read:messages to see this.",
        "user": claims.sub,
        "scope": claims.scope,
        "timestamp": now(),
    }))
}

#[require_auth]
async fn profile(claims: Claims<StandardClaims>) -> Json<Value> {
    Json(json!({
        "message": "Your token's claims",
        "profile": claims.0,
    }))
}

#[require_permissions("read:messages")]
async fn list_messages() -> Json<Value> {
    Json(json!({
        "messages": [
            { "id": 1, "text": "Hello from route-guard" },
            { "id": 2, "text": "Permissions come from Auth0 RBAC" },
        ],
    }))
}

#[require_permissions("write:messages")]
async fn create_message(
    State(state): State<AppState>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let id = state.next_id.fetch_add(1, Ordering::Relaxed) + 3;
    let text = body["text"].as_str().unwrap_or_default().to_owned();
    (
        StatusCode::CREATED,
        Json(json!({ "message": format!("Created: {text}"), "id": id })),
    )
}

#[require_role("admin")]
async fn admin(claims: Claims<ApiClaims>) -> Json<Value> {
    Json(json!({
        "users": [ { "id": claims.sub, "roles": claims.roles } ],
    }))
}

#[require_role(any("admin", "manager"))]
async fn reports(claims: Claims<ApiClaims>) -> Json<Value> {
    Json(json!({
        "reports": [ { "name": "monthly", "requested_by": claims.sub, "permissions": claims.permissions } ],
    }))
}

/// The Fastify guide's "expensive" route: its own limit per caller, beside any global one.
#[require_auth]
#[rate_limit("10/minute")]
async fn expensive() -> Json<Value> {
    Json(json!({ "result": "expensive operation result" }))
}

/// Under `/api/audit`, guarded as a group by a route layer rather than an attribute: every route
/// of the nested router needs the `admin` role (FastAPI's `dependencies=[...]`, express's
/// `router.use(...)`).
async fn audit_events(claims: Claims<ApiClaims>) -> Json<Value> {
    Json(json!({
        "events": [ { "action": "login", "actor": "auth0|someone" } ],
        "requested_by": claims.sub,
    }))
}

async fn feed(claims: Option<Claims<ApiClaims>>) -> Json<Value> {
    match claims {
        Some(claims) => Json(
            json!({ "message": format!("Welcome back, {}! Here is your personal feed.", claims.sub) }),
        ),
        None => Json(json!({ "message": "Hello, guest! Log in for a personal feed." })),
    }
}

async fn not_found() -> (StatusCode, Json<Value>) {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": "not_found", "error_description": "no such route" })),
    )
}

fn app(auth: &Authenticator, cors: Option<CorsLayer>, limit: Option<Quota>) -> Router {
    let audit = Router::new()
        .route("/events", get(audit_events))
        .route_layer(layer::require_role("admin"));
    let api = Router::new()
        .route("/api/public", get(public))
        .route("/api/private", get(private))
        .route("/api/private-scoped", get(private_scoped))
        .route("/api/profile", get(profile))
        .route("/api/messages", get(list_messages).post(create_message))
        .route("/api/admin", get(admin))
        .route("/api/reports", get(reports))
        .route("/api/feed", get(feed))
        .route("/api/expensive", get(expensive))
        .nest("/api/audit", audit);
    // RATE_LIMIT: one budget per caller (its `sub`, or its address without a token) across
    // every /api route.
    let api = match limit {
        Some(quota) => api.route_layer(layer::rate_limit(quota).name("api")),
        None => api,
    };
    let router = api
        // RFC 9728 metadata (empty without a resource), outside every guard.
        .merge(auth.protected_resource_router())
        .fallback(not_found)
        .with_state(AppState::default())
        .layer(auth.layer())
        // One log line per request, with status and latency.
        .layer(
            TraceLayer::new_for_http()
                .on_request(())
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        );
    // Outermost, so a browser's preflight (no credentials) is answered before any guard.
    match cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// `CORS_ORIGINS=https://app.example.com,http://localhost:3000`: browsers may send
/// `Authorization` and read `WWW-Authenticate`.
fn cors(origins: &str) -> Result<CorsLayer, String> {
    let origins = origins
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|o| {
            HeaderValue::from_str(o)
                .map_err(|_| format!("CORS_ORIGINS: `{o}` is not a valid origin"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .expose_headers([header::WWW_AUTHENTICATE]))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

async fn run() -> Result<(), String> {
    // `.env` first, so its AUTH0_* settings decide the mode below.
    let builder = AuthenticatorBuilder::from_env().map_err(|e| e.to_string())?;
    let configured = ["AUTH0_DOMAIN", "AUTH0_DOMAINS", "AUTH0_ISSUER_BASE_URL"]
        .into_iter()
        .any(|name| env(name).is_some());
    let dev_issuer = if configured {
        None
    } else {
        Some(
            TestIssuer::start()
                .await
                .map_err(|e| format!("the development issuer could not start: {e}"))?,
        )
    };
    let limit = env("RATE_LIMIT")
        .map(|text| {
            text.parse::<Quota>()
                .map_err(|e| format!("RATE_LIMIT: {e}"))
        })
        .transpose()?;
    let host = env("HOST").unwrap_or_else(|| "127.0.0.1".to_owned());
    let port = env("PORT").unwrap_or_else(|| "3001".to_owned());
    let port: u16 = port
        .parse()
        .map_err(|_| format!("PORT must be a port number, not `{port}`"))?;
    let addr: SocketAddr = format!("{host}:{port}")
        .parse()
        .or_else(|_| format!("[{host}]:{port}").parse())
        .map_err(|_| format!("HOST must be an IP address such as 127.0.0.1, not `{host}`"))?;

    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e} (set PORT to a free port)"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let base = format!("http://{local}");
    let builder = match &dev_issuer {
        // Development mode is a whole OAuth setup: the API publishes its Protected Resource
        // Metadata (RFC 9728), with its own URL as the resource unless AUTH0_RESOURCE_URL says
        // otherwise.
        Some(issuer) => issuer
            .authenticator_builder()
            .protected_resource(env("AUTH0_RESOURCE_URL").unwrap_or_else(|| base.clone())),
        // With a tenant, AUTH0_RESOURCE_URL (read by `from_env`) turns it on.
        None => builder,
    }
    .roles_claim(ROLES_CLAIM);
    let builder = match env("RATE_LIMIT_REDIS_URL") {
        Some(url) => builder.rate_limit_redis(url),
        None => builder,
    };
    let auth = builder.build().map_err(|e| e.to_string())?;
    if let Err(e) = auth.warm_up().await {
        // Not fatal: protected routes answer 503 (`temporarily_unavailable`, `Retry-After`)
        // until the keys load, and the cache keeps retrying.
        tracing::warn!("{e}");
    }

    let cors = env("CORS_ORIGINS").map(|o| cors(&o)).transpose()?;

    match &dev_issuer {
        Some(issuer) => print_dev_mode(issuer, &base),
        None => {
            let issuers = auth.issuers();
            println!(
                "route-guard quickstart: issuer {}",
                match issuers.is_empty() {
                    true => "(not yet discovered)".to_owned(),
                    false => issuers.join(", "),
                }
            )
        }
    }
    println!("listening on {base}");

    // The peer address keys the rate limits of callers without a token.
    let service = app(&auth, cors, limit).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
            println!("shutting down");
        })
        .await
        .map_err(|e| e.to_string())
}

fn print_dev_mode(issuer: &TestIssuer, base: &str) {
    let hour = Duration::from_secs(3600);
    let user = issuer.token().sub("auth0|dev-user").expires_in(hour).sign();
    let reader = issuer
        .token()
        .sub("auth0|dev-reader")
        .scopes("read:messages")
        .permissions(["read:messages"])
        .expires_in(hour)
        .sign();
    let admin = issuer
        .token()
        .sub("auth0|dev-admin")
        .scopes("read:messages write:messages")
        .permissions(["read:messages", "write:messages"])
        .claim(ROLES_CLAIM, json!(["admin"]))
        .expires_in(hour)
        .sign();
    let manager = issuer
        .token()
        .sub("auth0|dev-manager")
        .claim(ROLES_CLAIM, json!(["manager"]))
        .expires_in(hour)
        .sign();
    let expired = issuer
        .token()
        .sub("auth0|dev-user")
        .expired_for(Duration::from_secs(600))
        .sign();
    // DPoP (RFC 9449): a token bound to a client key, and a proof of that key for one request.
    let dpop = DpopKey::generate().ok().map(|key| {
        let token = issuer
            .token()
            .sub("auth0|dev-dpop-client")
            .dpop_bound(&key)
            .expires_in(hour)
            .sign();
        let proof = key.proof("GET", &format!("{base}/api/private"), &token);
        (token, proof)
    });
    println!("route-guard quickstart: development mode (set AUTH0_DOMAIN and AUTH0_AUDIENCE for a real tenant)");
    println!("  development issuer: {}", issuer.issuer());
    println!(
        "  audience:           {}",
        route_guard::testing::TEST_AUDIENCE
    );
    // The development issuer is also an OAuth 2.0 authorization server (client credentials),
    // like the Test tab of the Auth0 dashboard.
    issuer.register_client(
        TestClient::new("quickstart-agent", "quickstart-secret")
            .scopes(["read:messages"])
            .permissions(["read:messages"]),
    );
    println!("  token endpoint:     {}", issuer.token_endpoint());
    println!("  client:             quickstart-agent / quickstart-secret (scope read:messages)");
    println!();
    println!("Get a token with client credentials:");
    println!(
        "  curl -s -X POST -u quickstart-agent:quickstart-secret -d grant_type=client_credentials {}",
        issuer.token_endpoint()
    );
    println!();
    println!("Try it (tokens valid for one hour):");
    let line = |what: &str, status: u16, path: &str, token: Option<&str>| {
        println!("  # {what}: {status}");
        match token {
            Some(token) => println!("  curl -i -H \"Authorization: Bearer {token}\" {base}{path}"),
            None => println!("  curl -i {base}{path}"),
        }
    };
    line("no token", 401, "/api/private", None);
    line("a plain user", 200, "/api/private", Some(&user));
    line(
        "a plain user without read:messages",
        403,
        "/api/private-scoped",
        Some(&user),
    );
    line(
        "a user with the read:messages scope",
        200,
        "/api/private-scoped",
        Some(&reader),
    );
    line(
        "a user with the read:messages permission",
        200,
        "/api/messages",
        Some(&reader),
    );
    line("an admin", 200, "/api/admin", Some(&admin));
    line("a manager", 200, "/api/reports", Some(&manager));
    line(
        "a manager on the admin route",
        403,
        "/api/admin",
        Some(&manager),
    );
    line(
        "an admin on the /api/audit router (guarded by a route layer)",
        200,
        "/api/audit/events",
        Some(&admin),
    );
    line(
        "an expensive operation (its own limit: 10 a minute per caller, then 429)",
        200,
        "/api/expensive",
        Some(&user),
    );
    line("an expired token", 401, "/api/private", Some(&expired));
    if let Some((token, proof)) = dpop {
        println!("  # a DPoP-bound token with its proof (single use, within 5 minutes): 200");
        println!(
            "  curl -i -H \"Authorization: DPoP {token}\" -H \"DPoP: {proof}\" {base}/api/private"
        );
        line(
            "the same DPoP-bound token as Bearer (no downgrade)",
            401,
            "/api/private",
            Some(&token),
        );
    }
    println!();
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,route_guard=debug".into()),
        )
        .init();
    if let Err(message) = run().await {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}
