//! RFC 9728 Protected Resource Metadata and the challenges clients act on, over real HTTP
//! against a `TestIssuer`: the document and its headers for a root and a path resource, the
//! scopes gathered from attributes and layers, `resource_metadata` and `scope` in every kind of
//! challenge, and the start-up errors of a bad resource URL.

use crate::common;

use axum::routing::get;
use axum::Router;
use common::Reply;
use route_guard::layer;
use route_guard::testing::{DpopKey, TestIssuer};
use route_guard::{require_auth, require_scopes, AuthenticatorBuilder, ConfigError};
use serde_json::json;

#[require_scopes("discovery:read", "discovery:list")]
async fn read() -> &'static str {
    "read"
}

#[require_scopes(any("discovery:admin", "offline_access"))]
async fn admin() -> &'static str {
    "admin"
}

#[require_auth]
async fn anyone() -> &'static str {
    "anyone"
}

fn routes() -> Router {
    let written = Router::new()
        .route("/write", get(|| async { "written" }))
        .route_layer(layer::require_scopes("discovery:write"));
    Router::new()
        .route("/read", get(read))
        .route("/admin", get(admin))
        .route("/anyone", get(anyone))
        .merge(written)
}

struct App {
    issuer: TestIssuer,
    base: String,
    client: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for App {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The API at `base`, its resource `base` + `resource_path`.
async fn app(
    resource_path: &str,
    configure: impl FnOnce(AuthenticatorBuilder) -> AuthenticatorBuilder,
) -> App {
    let issuer = TestIssuer::start().await.expect("issuer");
    let (listener, base) = common::bind().await;
    let auth = configure(
        issuer
            .authenticator_builder()
            .protected_resource(format!("{base}{resource_path}")),
    )
    .build()
    .expect("builds");
    auth.warm_up().await.expect("keys");
    let app = routes()
        .layer(auth.layer())
        .merge(auth.protected_resource_router());
    let server = common::serve_on(listener, app);
    App {
        issuer,
        base,
        client: common::client(),
        server,
    }
}

impl App {
    async fn request(&self, method: reqwest::Method, path: &str) -> Reply {
        common::send(self.client.request(method, format!("{}{path}", self.base))).await
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        common::send(request).await
    }
}

#[tokio::test]
async fn the_document_lists_the_resource_its_issuer_and_every_required_scope() {
    let app = app("", |b| b.resource_name("Discovery test API")).await;
    let reply = app
        .request(
            reqwest::Method::GET,
            "/.well-known/oauth-protected-resource",
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), "application/json");
    assert_eq!(reply.header("cache-control"), "public, max-age=3600");
    assert_eq!(reply.header("access-control-allow-origin"), "*");
    let document = &reply.body;
    assert_eq!(document["resource"], app.base.as_str());
    assert_eq!(
        document["authorization_servers"],
        json!([app.issuer.issuer()])
    );
    assert_eq!(document["bearer_methods_supported"], json!(["header"]));
    assert_eq!(document["resource_name"], "Discovery test API");
    assert_eq!(
        document["dpop_signing_alg_values_supported"],
        json!(["ES256"])
    );
    assert_eq!(document["dpop_bound_access_tokens_required"], false);
    // Members without a value are left out.
    assert!(document.get("resource_documentation").is_none());
    let scopes: Vec<&str> = document["scopes_supported"]
        .as_array()
        .expect("scopes_supported")
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    // From attributes (all and any forms) and from a route layer, without listing them.
    for scope in [
        "discovery:read",
        "discovery:list",
        "discovery:admin",
        "discovery:write",
    ] {
        assert!(scopes.contains(&scope), "{scope} missing from {scopes:?}");
    }
    assert!(!scopes.contains(&"offline_access"), "{scopes:?}");
    let mut sorted = scopes.clone();
    sorted.sort_unstable();
    assert_eq!(scopes, sorted, "sorted, for a stable document");

    // HEAD answers like GET without a body; browsers' preflight; other methods 405.
    let head = app
        .request(
            reqwest::Method::HEAD,
            "/.well-known/oauth-protected-resource",
        )
        .await;
    assert_eq!(head.status, 200);
    assert_eq!(head.body, json!(""));
    let options = app
        .request(
            reqwest::Method::OPTIONS,
            "/.well-known/oauth-protected-resource",
        )
        .await;
    assert_eq!(options.status, 204);
    assert_eq!(options.header("access-control-allow-origin"), "*");
    assert!(options
        .header("access-control-allow-methods")
        .contains("GET"));
    let post = app
        .request(
            reqwest::Method::POST,
            "/.well-known/oauth-protected-resource",
        )
        .await;
    assert_eq!(post.status, 405);
    // A resource without a path has one document.
    let nested = app
        .request(
            reqwest::Method::GET,
            "/.well-known/oauth-protected-resource/mcp",
        )
        .await;
    assert_eq!(nested.status, 404);
}

#[tokio::test]
async fn a_resource_with_a_path_is_served_at_both_well_known_urls() {
    let app = app("/mcp", |b| {
        b.scopes_supported(["messages:read", "offline_access"])
            .resource_documentation("https://docs.example.com/api")
            .dpop(route_guard::DpopMode::Required)
    })
    .await;
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let reply = app.request(reqwest::Method::GET, path).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.body["resource"], format!("{}/mcp", app.base));
        // The override replaces the gathered scopes, and still never lists offline_access.
        assert_eq!(reply.body["scopes_supported"], json!(["messages:read"]));
        assert_eq!(
            reply.body["resource_documentation"],
            "https://docs.example.com/api"
        );
        assert_eq!(reply.body["dpop_bound_access_tokens_required"], true);
    }
    // Challenges name the path-specific document.
    let denied = app.get("/anyone", None).await;
    assert_eq!(denied.status, 401);
    assert_eq!(
        denied.challenge(),
        format!(
            "DPoP realm=\"api\", resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\", algs=\"ES256\"",
            app.base
        )
    );
}

#[tokio::test]
async fn every_challenge_names_the_document_and_the_routes_scopes() {
    let app = app("", |b| b).await;
    let metadata = format!(
        "resource_metadata=\"{}/.well-known/oauth-protected-resource\"",
        app.base
    );
    // 401 without credentials: no error code, the route's scopes, both schemes.
    let bare = app.get("/read", None).await;
    assert_eq!(bare.status, 401);
    assert_eq!(
        bare.challenge(),
        format!(
            "Bearer realm=\"api\", scope=\"discovery:read discovery:list\", {metadata}, \
             DPoP realm=\"api\", scope=\"discovery:read discovery:list\", {metadata}, algs=\"ES256\""
        )
    );
    // A route without scopes: no `scope`, still the document.
    assert_eq!(
        app.get("/anyone", None).await.challenge(),
        format!("Bearer realm=\"api\", {metadata}, DPoP realm=\"api\", {metadata}, algs=\"ES256\"")
    );
    // 401 invalid token.
    let invalid = app.get("/read", Some("a.b.c")).await;
    invalid.assert_rejected(401, "invalid_token");
    assert!(
        invalid.challenge().ends_with(&format!(
            ", scope=\"discovery:read discovery:list\", {metadata}"
        )),
        "{}",
        invalid.challenge()
    );
    // 403: every scope the route needs, not only the missing one.
    let partial = app.issuer.token().scopes("discovery:read").sign();
    let forbidden = app.get("/read", Some(&partial)).await;
    forbidden.assert_rejected(403, "insufficient_scope");
    assert_eq!(
        forbidden.description(),
        "the token lacks the required scope discovery:list"
    );
    assert!(
        forbidden.challenge().ends_with(&format!(
            ", scope=\"discovery:read discovery:list\", {metadata}"
        )),
        "{}",
        forbidden.challenge()
    );
    // The same from a route layer.
    let layered = app.get("/write", None).await;
    assert!(
        layered.challenge().starts_with(&format!(
            "Bearer realm=\"api\", scope=\"discovery:write\", {metadata}"
        )),
        "{}",
        layered.challenge()
    );
    let layered = app.get("/write", Some(&partial)).await;
    layered.assert_rejected(403, "insufficient_scope");
    assert!(layered
        .challenge()
        .ends_with(&format!(", scope=\"discovery:write\", {metadata}")));
    // A DPoP 401 (a bound token without its proof's key).
    let key = DpopKey::generate().expect("key");
    let other = DpopKey::generate().expect("key");
    let bound = app.issuer.token().dpop_bound(&key).sign();
    let url = format!("{}/anyone", app.base);
    let wrong = common::send(
        app.client
            .get(&url)
            .header("authorization", format!("DPoP {bound}"))
            .header("dpop", other.proof("GET", &url, &bound)),
    )
    .await;
    wrong.assert_dpop_rejected(401, "invalid_dpop_proof", "ES256");
    assert!(
        wrong.challenge().contains(&metadata),
        "{}",
        wrong.challenge()
    );
    // The Bearer challenge stays first where both are offered.
    assert!(bare.challenge().starts_with("Bearer "));
}

#[tokio::test]
async fn without_a_resource_nothing_changes() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let auth = issuer.authenticator_builder().build().expect("builds");
    assert!(auth.protected_resource_metadata().is_none());
    let app = common::serve_app(
        issuer,
        auth.clone(),
        routes().merge(auth.protected_resource_router()),
    )
    .await;
    let reply = app.get("/.well-known/oauth-protected-resource", None).await;
    assert_eq!(reply.status, 404);
    let bare = app.get("/anyone", None).await;
    assert!(!bare.challenge().contains("resource_metadata"));
}

#[test]
fn a_bad_resource_url_is_a_start_up_error_naming_what_to_set() {
    let build = |url: &str| {
        route_guard::Authenticator::builder()
            .domain("tenant.us.auth0.com")
            .audience("https://api.example.com")
            .protected_resource(url)
            .build()
    };
    for (url, reason) in [
        ("/api", "it is not an absolute URL"),
        (
            "https://api.example.com/#top",
            "it must not have a fragment",
        ),
        (
            "http://api.example.com",
            "http is allowed only on a loopback host",
        ),
        ("ftp://api.example.com", "the scheme must be https"),
    ] {
        match build(url) {
            Err(e @ ConfigError::InvalidResource { .. }) => {
                let message = e.to_string();
                assert!(message.contains(reason), "{url}: {message}");
                assert!(message.contains("AUTH0_RESOURCE_URL"), "{message}");
            }
            other => panic!("{url}: {other:?}"),
        }
    }
    assert!(build("http://localhost:3001").is_ok());
    assert!(build("https://api.example.com/mcp").is_ok());
    // From the environment.
    let auth = AuthenticatorBuilder::from_vars(|name| match name {
        "AUTH0_DOMAIN" => Some("tenant.us.auth0.com".into()),
        "AUTH0_AUDIENCE" => Some("https://api.example.com".into()),
        "AUTH0_RESOURCE_URL" => Some("https://api.example.com".into()),
        _ => None,
    })
    .build()
    .expect("builds");
    let document = auth.protected_resource_metadata().expect("configured");
    assert_eq!(document["resource"], "https://api.example.com");
}

#[tokio::test]
async fn no_description_can_smuggle_a_challenge_parameter() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let auth = issuer.authenticator_builder().build().expect("builds");
    let routes = Router::new()
        .route("/check", get(|| async { "ok" }))
        .route_layer(layer::require(
            layer::Require::new()
                .claim_check("Scope=admin error=x resource_metadata=y", |_, _| false),
        ));
    let app = common::serve_app(issuer, auth, routes).await;
    let token = app.issuer.token().sign();
    let reply = app.get("/check", Some(&token)).await;
    reply.assert_rejected(403, "insufficient_scope");
    assert_eq!(
        reply.description(),
        "the token lacks the required claim Scope =admin error =x resource_metadata =y"
    );
    let challenge = reply.challenge().to_ascii_lowercase();
    for needle in ["scope=admin", "error=x", "resource_metadata=y"] {
        assert!(!challenge.contains(needle), "{challenge}");
    }
    // The real parameters are still there, once.
    assert_eq!(challenge.matches("error=").count(), 1, "{challenge}");
}

mod hierarchies {
    use super::*;
    use axum::Json;
    use route_guard::{Claims, TokenClaims};
    use serde_json::Value;

    #[derive(TokenClaims, Clone, Debug)]
    struct Typed {
        sub: String,
        scope: Option<String>,
    }

    #[require_scopes("messages:read")]
    async fn read_standard(claims: Claims) -> Json<Value> {
        Json(json!({ "scope": claims.scope, "has_read": claims.has_scope("messages:read") }))
    }

    #[require_scopes("messages:write")]
    async fn write_typed(claims: Claims<Typed>) -> Json<Value> {
        Json(json!({ "sub": claims.sub, "has_write": claims.has_scope("messages:write") }))
    }

    fn routes() -> Router {
        let layered = Router::new()
            .route("/layer", get(|| async { "layer" }))
            .route_layer(layer::require_scopes("messages:read"));
        Router::new()
            .route("/standard", get(read_standard))
            .route("/typed", get(write_typed))
            .merge(layered)
    }

    #[tokio::test]
    async fn a_broader_scope_passes_every_check_of_the_narrower_ones() {
        let issuer = TestIssuer::start().await.expect("issuer");
        let auth = issuer
            .authenticator_builder()
            .implied_scopes("messages:admin", ["messages:read", "messages:write"])
            .implied_scopes("root", ["messages:admin"])
            .build()
            .expect("builds");
        let app = common::serve_app(issuer, auth, routes()).await;
        for granted in ["messages:admin", "root"] {
            let token = app.issuer.token().sub("auth0|a").scopes(granted).sign();
            let standard = app.get("/standard", Some(&token)).await;
            assert_eq!(standard.status, 200, "{granted}: {}", standard.body);
            assert_eq!(standard.body["has_read"], true);
            assert!(standard.body["scope"]
                .as_str()
                .is_some_and(|s| s.starts_with(granted) && s.contains("messages:write")));
            let typed = app.get("/typed", Some(&token)).await;
            assert_eq!(typed.status, 200, "{granted}: {}", typed.body);
            assert_eq!(typed.body["has_write"], true);
            assert_eq!(app.get("/layer", Some(&token)).await.status, 200);
        }
        // Narrower scopes imply nothing broader.
        let reader = app.issuer.token().scopes("messages:read").sign();
        assert_eq!(app.get("/standard", Some(&reader)).await.status, 200);
        app.get("/typed", Some(&reader))
            .await
            .assert_rejected(403, "insufficient_scope");
    }

    #[test]
    fn a_cycle_is_a_start_up_error() {
        let error = route_guard::Authenticator::builder()
            .domain("tenant.us.auth0.com")
            .audience("https://api.example.com")
            .implied_scopes("a", ["b"])
            .implied_scopes("b", ["c"])
            .implied_scopes("c", ["a"])
            .build()
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid setting `implied_scopes`: a cycle: a -> b -> c -> a"
        );
        let error = route_guard::Authenticator::builder()
            .domain("tenant.us.auth0.com")
            .audience("https://api.example.com")
            .implied_scopes("a b", ["c"])
            .build()
            .unwrap_err();
        assert!(
            error.to_string().contains("`a b` is not a scope"),
            "{error}"
        );
    }
}
