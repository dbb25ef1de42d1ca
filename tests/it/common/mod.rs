//! Shared helpers: a protected axum app on loopback, called over real HTTP.
#![allow(dead_code)]

pub mod logs;
#[cfg(feature = "redis")]
pub mod redis;

pub mod quickstart;

use axum::routing::get;
use axum::{Json, Router};
use reqwest::StatusCode;
use route_guard::testing::TestIssuer;
use route_guard::{
    Authenticator, AuthenticatorBuilder, Check, Claims, Guard, Insufficient, Requirement,
    StandardClaims, VerifiedToken,
};
use serde_json::{json, Value};

pub struct ReadMessages;
impl Requirement for ReadMessages {
    type Claims = StandardClaims;
    fn check(claims: &StandardClaims, _: &VerifiedToken) -> Result<(), Insufficient> {
        Check::new(claims).scopes_all(&["read:messages"]).finish()
    }
}

pub struct Admin;
impl Requirement for Admin {
    type Claims = StandardClaims;
    fn check(claims: &StandardClaims, _: &VerifiedToken) -> Result<(), Insufficient> {
        Check::new(claims).roles_any(&["admin"]).finish()
    }
}

pub struct WriteMessages;
impl Requirement for WriteMessages {
    type Claims = StandardClaims;
    fn check(claims: &StandardClaims, _: &VerifiedToken) -> Result<(), Insufficient> {
        Check::new(claims)
            .permissions_all(&["write:messages"])
            .finish()
    }
}

async fn public() -> Json<Value> {
    Json(json!({ "message": "public" }))
}

async fn private(claims: Claims) -> Json<Value> {
    Json(json!({ "message": "private", "user": claims.sub }))
}

async fn scoped(_: Guard<ReadMessages>, claims: Claims) -> Json<Value> {
    Json(json!({ "message": "scoped", "user": claims.sub, "scope": claims.scope }))
}

async fn admin(_: Guard<Admin>, claims: Claims) -> Json<Value> {
    Json(json!({ "message": "admin", "roles": claims.roles }))
}

async fn messages(_: Guard<WriteMessages>) -> Json<Value> {
    Json(json!({ "message": "written" }))
}

async fn feed(claims: Option<Claims>) -> Json<Value> {
    match claims {
        Some(claims) => {
            Json(json!({ "message": format!("hello {}", claims.sub.clone().unwrap_or_default()) }))
        }
        None => Json(json!({ "message": "hello guest" })),
    }
}

async fn manual(claims: Claims) -> Json<Value> {
    Json(json!({
        "scope": claims.has_scope("read:messages"),
        "permission": claims.has_permission("write:messages"),
        "role": claims.has_role("admin"),
    }))
}

pub fn routes() -> Router {
    Router::new()
        .route("/public", get(public))
        .route("/private", get(private))
        .route("/scoped", get(scoped))
        .route("/admin", get(admin))
        .route("/messages", get(messages))
        .route("/feed", get(feed))
        .route("/manual", get(manual))
}

pub struct App {
    pub issuer: TestIssuer,
    pub auth: Authenticator,
    pub base: String,
    pub client: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for App {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub www_authenticate: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The `error` of the JSON body.
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }

    /// The `WWW-Authenticate` header, or "" without one.
    pub fn challenge(&self) -> &str {
        self.www_authenticate.as_deref().unwrap_or("")
    }

    /// The `error_description` of the JSON body.
    pub fn description(&self) -> &str {
        self.body["error_description"].as_str().unwrap_or("")
    }

    /// A response header as text, or "" without it.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts a DPoP rejection (RFC 9449 §7.1): status, body error, and one DPoP challenge
    /// with that error and the accepted algorithms.
    pub fn assert_dpop_rejected(&self, status: u16, code: &str, algs: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.error(), code, "body: {}", self.body);
        let challenge = self.challenge();
        assert!(
            challenge.starts_with("DPoP realm=\"api\", error=")
                && challenge.contains(&format!("error=\"{code}\""))
                && challenge.ends_with(&format!("algs=\"{algs}\"")),
            "challenge: {challenge}"
        );
        assert!(
            !challenge.contains("Bearer realm"),
            "challenge: {challenge}"
        );
    }

    /// Asserts an outage of ours (the replay store, the domain resolver): 503
    /// `temporarily_unavailable` with `Retry-After: 1`, no challenge, and a description that
    /// names what is down.
    pub fn assert_unavailable(&self, names: &str) {
        self.assert_unavailable_for(names, "1");
    }

    /// Asserts the 503 contract with a `Retry-After` of `retry_after` seconds.
    pub fn assert_unavailable_for(&self, names: &str, retry_after: &str) {
        assert_eq!(self.status.as_u16(), 503, "body: {}", self.body);
        assert_eq!(
            self.error(),
            "temporarily_unavailable",
            "body: {}",
            self.body
        );
        assert!(self.description().contains(names), "body: {}", self.body);
        assert_eq!(self.header("retry-after"), retry_after);
        assert_eq!(self.www_authenticate, None);
    }

    /// Asserts 401 `invalid_token` (status, challenge, body) with a description that contains
    /// `description`.
    pub fn assert_invalid_token(&self, description: &str) {
        self.assert_rejected(401, "invalid_token");
        assert!(
            self.description().contains(description),
            "description: {}",
            self.description()
        );
    }

    /// Asserts the RFC 6750 triple: status, challenge error attribute and body error.
    pub fn assert_rejected(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.error(), code, "body: {}", self.body);
        let challenge = self.www_authenticate.as_deref().unwrap_or_default();
        assert!(
            challenge.starts_with("Bearer realm=\"api\""),
            "challenge: {challenge}"
        );
        if code == "unauthorized" {
            assert!(!challenge.contains("error="), "challenge: {challenge}");
        } else {
            assert!(
                challenge.contains(&format!("error=\"{code}\"")),
                "challenge: {challenge}"
            );
        }
    }
}

pub async fn start() -> App {
    start_with(|b| b).await
}

tokio::task_local! {
    /// The issuer profile [`start_with`] starts its issuer for (Auth0 outside a scope): the
    /// hostile-token corpus runs under each.
    pub static PROFILE: route_guard::IssuerProfile;
}

pub async fn start_with(
    configure: impl FnOnce(AuthenticatorBuilder) -> AuthenticatorBuilder,
) -> App {
    try_start_with(configure)
        .await
        .expect("authenticator builds")
}

/// [`start_with`], or the configuration error.
pub async fn try_start_with(
    configure: impl FnOnce(AuthenticatorBuilder) -> AuthenticatorBuilder,
) -> Result<App, route_guard::ConfigError> {
    let profile = PROFILE.try_with(|p| *p).unwrap_or_default();
    let issuer = TestIssuer::start_for(profile)
        .await
        .expect("test issuer starts");
    let auth = configure(issuer.authenticator_builder()).build()?;
    Ok(serve_app(issuer, auth, routes()).await)
}

pub async fn serve_app(issuer: TestIssuer, auth: Authenticator, routes: Router) -> App {
    let app = routes.layer(auth.layer());
    let base = serve(app).await;
    let (base, server) = base;
    App {
        issuer,
        auth,
        base,
        client: client(),
        server,
    }
}

pub async fn serve(app: Router) -> (String, tokio::task::JoinHandle<()>) {
    let (listener, base) = bind().await;
    (base, serve_on(listener, app))
}

/// A loopback listener and its base URL, for an app that must know its URL before it is built.
pub async fn bind() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    (listener, format!("http://{addr}"))
}

pub fn serve_on(listener: tokio::net::TcpListener, app: Router) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    })
}

/// Serves `app` with each request's peer address (`ConnectInfo`), which rate limits key
/// callers without a token by.
pub async fn serve_with_peer_address(app: Router) -> (String, tokio::task::JoinHandle<()>) {
    let (listener, base) = bind().await;
    let server = tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        let _ = axum::serve(listener, service).await;
    });
    (base, server)
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client builds")
}

impl App {
    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        send(request).await
    }

    /// Sends `count` concurrent GETs with `token`; the statuses, in no particular order.
    pub async fn concurrent_gets(&self, path: &str, token: &str, count: usize) -> Vec<u16> {
        let mut requests = tokio::task::JoinSet::new();
        for _ in 0..count {
            let request = self
                .client
                .get(format!("{}{path}", self.base))
                .bearer_auth(token);
            requests.spawn(async move { request.send().await.map(|r| r.status().as_u16()) });
        }
        let results = requests.join_all().await;
        results.into_iter().map(|r| r.map_or(0, |s| s)).collect()
    }

    /// A GET with one `Authorization` header for each of `values`.
    pub async fn get_with_headers(&self, path: &str, values: &[&str]) -> Reply {
        let mut request = self.client.get(format!("{}{path}", self.base));
        for value in values {
            request = request.header("authorization", *value);
        }
        send(request).await
    }

    pub async fn get_with_header(&self, path: &str, authorization: &str) -> Reply {
        send(
            self.client
                .get(format!("{}{path}", self.base))
                .header("authorization", authorization),
        )
        .await
    }
}

/// The token doctor's verdict for the token in `authorization` (`Bearer <token>`) on `path` of
/// [`routes`] equals what the server answered: status, challenge and body. Other schemes are
/// not the doctor's (it diagnoses Bearer tokens).
pub async fn assert_doctor_agrees(app: &App, path: &str, authorization: &str, reply: &Reply) {
    let Some(token) = authorization.strip_prefix("Bearer ") else {
        return;
    };
    let diagnosis = match path {
        "/scoped" => app.auth.diagnose_route::<ReadMessages>(token).await,
        "/admin" => app.auth.diagnose_route::<Admin>(token).await,
        "/messages" => app.auth.diagnose_route::<WriteMessages>(token).await,
        _ => app.auth.diagnose(token).await,
    };
    let verdict = &diagnosis.verdict;
    assert_eq!(
        verdict.status,
        reply.status.as_u16(),
        "doctor vs server: {diagnosis:#?}"
    );
    assert_eq!(
        verdict.www_authenticate, reply.www_authenticate,
        "doctor vs server: {diagnosis:#?}"
    );
    if !verdict.accepted {
        assert_eq!(verdict.body.as_ref(), Some(&reply.body), "doctor vs server");
        // A refusal always has a failed check and a cause to show.
        assert!(diagnosis.first_failure().is_some(), "{diagnosis:#?}");
        assert!(!diagnosis.causes.is_empty(), "{diagnosis:#?}");
    }
}

/// `target/<profile>/examples/<name>`, which `cargo test` builds with the tests (run the whole
/// suite, or `cargo build --examples` first, when running one test file alone).
pub fn example_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

pub async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("request is answered");
    let status = response.status();
    let headers = response.headers().clone();
    let www_authenticate = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().expect("ascii challenge").to_owned());
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        www_authenticate,
        headers,
        body,
    }
}
