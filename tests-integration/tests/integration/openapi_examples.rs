//! The OpenAPI documents the examples serve, checked against the official OpenAPI 3.1 schema:
//! `examples/openapi.rs` and the quickstart, run as a user runs them (the binaries `cargo test
//! --workspace` builds).

use crate::common;
use crate::common::quickstart::{get, start};

use std::process::Stdio;
use std::time::Duration;

use route_guard::testing::{TestIssuer, TEST_AUDIENCE};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// `examples/openapi.rs`: its documentation page is served by the app itself (no external
/// script or style), and renders the app's own `/openapi.json`, which is valid OpenAPI 3.1.
#[tokio::test]
async fn the_openapi_example_serves_its_document_and_its_own_docs_page() {
    let dir = std::env::temp_dir().join(format!("route-guard-openapi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut child = Command::new(common::example_binary("openapi"))
        .env_clear()
        .env("PORT", "0")
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the openapi example is built by `cargo test --workspace --all-features`");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let base = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("line") {
            if let Some(base) = line.strip_prefix("listening on ") {
                return base.to_owned();
            }
        }
        panic!("the example exited");
    })
    .await
    .expect("starts");
    let page = common::client()
        .get(format!("{base}/docs"))
        .send()
        .await
        .expect("docs");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("fetch(\"openapi.json\")"), "{html}");
    for external in [
        "src=\"http",
        "href=\"http",
        "src=\"//",
        "href=\"//",
        "@import",
    ] {
        assert!(
            !html.contains(external),
            "the page loads nothing from elsewhere: {external}"
        );
    }
    let doc = get(&base, "/openapi.json", None).await;
    assert_eq!(doc.status, 200);
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../data/openapi-3.1-schema.json")).expect("schema");
    assert!(jsonschema::validator_for(&schema)
        .expect("compiles")
        .is_valid(&doc.body));
    assert_eq!(
        doc.body["paths"]["/api/private-scoped"]["get"]["security"][0],
        json!({ "oauth2": ["read:messages"] })
    );
    let _ = child.kill().await;
}

/// The quickstart started while its issuer is down (or serves a discovery document without
/// `authorization_endpoint`): `/openapi.json` still has every operation's security, its 401 and
/// 403, and the schemes that need no request; the oauth2 flows join once the issuer answers.
#[tokio::test]
async fn the_openapi_security_does_not_depend_on_the_issuer_at_start_up() {
    let issuer = TestIssuer::start().await.expect("issuer");
    issuer.set_down(true);
    let app = start(&[
        ("AUTH0_ISSUER_BASE_URL", issuer.issuer()),
        ("AUTH0_AUDIENCE", TEST_AUDIENCE),
    ])
    .await;
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../data/openapi-3.1-schema.json")).expect("schema");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let doc = get(&app.base, "/openapi.json", None).await.body;
    assert!(validator.is_valid(&doc), "{doc:#}");
    let scoped = &doc["paths"]["/api/private-scoped"]["get"];
    assert_eq!(
        scoped["security"][0],
        json!({ "openIdConnect": ["read:messages"] })
    );
    assert!(scoped["responses"].get("401").is_some());
    assert!(scoped["responses"].get("403").is_some());
    let schemes = &doc["components"]["securitySchemes"];
    assert!(schemes.get("bearerAuth").is_some() && schemes.get("openIdConnect").is_some());
    assert!(schemes.get("oauth2").is_none());

    // Back up, without a restart: within the retry interval (2 s) the flows are there.
    issuer.set_down(false);
    let mut doc = serde_json::Value::Null;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        doc = get(&app.base, "/openapi.json", None).await.body;
        if doc["components"]["securitySchemes"].get("oauth2").is_some() {
            break;
        }
    }
    assert!(validator.is_valid(&doc), "{doc:#}");
    assert_eq!(
        doc["paths"]["/api/private-scoped"]["get"]["security"][0],
        json!({ "oauth2": ["read:messages"] })
    );

    // A resource-server-only issuer: no authorization endpoint, security all the same.
    let bare = TestIssuer::start().await.expect("issuer");
    bare.set_discovery_member("authorization_endpoint", None);
    let app = start(&[
        ("AUTH0_ISSUER_BASE_URL", bare.issuer()),
        ("AUTH0_AUDIENCE", TEST_AUDIENCE),
    ])
    .await;
    let doc = get(&app.base, "/openapi.json", None).await.body;
    assert!(validator.is_valid(&doc), "{doc:#}");
    let flows = &doc["components"]["securitySchemes"]["oauth2"]["flows"];
    assert!(flows.get("authorizationCode").is_none(), "{flows:#}");
    assert!(flows["clientCredentials"]["tokenUrl"].is_string());
    assert_eq!(
        doc["paths"]["/api/private-scoped"]["get"]["security"][0],
        json!({ "oauth2": ["read:messages"] })
    );
}

/// `GET /openapi.json`: every route with the security, 401 / 403 (and 429) its guards give it,
/// generated by the aide integration, valid OpenAPI 3.1.
#[tokio::test]
async fn the_quickstart_serves_its_generated_openapi_document() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let app = start(&[
        ("AUTH0_ISSUER_BASE_URL", issuer.issuer()),
        ("AUTH0_AUDIENCE", TEST_AUDIENCE),
    ])
    .await;
    let doc = get(&app.base, "/openapi.json", None).await;
    assert_eq!(doc.status, 200);
    let doc = doc.body;
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../data/openapi-3.1-schema.json")).expect("schema");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    assert!(validator.is_valid(&doc), "{doc:#}");
    let op = |path: &str, method: &str| doc["paths"][path][method].clone();
    let paths = doc["paths"].as_object().expect("paths");
    for path in [
        "/api/public",
        "/api/private",
        "/api/private-scoped",
        "/api/profile",
        "/api/messages",
        "/api/admin",
        "/api/reports",
        "/api/feed",
        "/api/expensive",
        "/api/audit/events",
    ] {
        assert!(paths.contains_key(path), "{path}");
    }
    assert!(op("/api/public", "get").get("security").is_none());
    assert_eq!(
        op("/api/private-scoped", "get")["security"][0],
        json!({ "oauth2": ["read:messages"] })
    );
    assert!(op("/api/private-scoped", "get")["responses"]
        .get("403")
        .is_some());
    assert_eq!(
        op("/api/messages", "post")["x-route-guard"]["permissions"],
        json!([{ "all": ["write:messages"] }])
    );
    assert_eq!(
        op("/api/reports", "get")["x-route-guard"]["roles"],
        json!([{ "any": ["admin", "manager"] }])
    );
    // The layer-guarded router, documented by its helper.
    assert_eq!(
        op("/api/audit/events", "get")["x-route-guard"]["roles"],
        json!([{ "all": ["admin"] }])
    );
    let feed = op("/api/feed", "get");
    assert_eq!(
        feed["security"].as_array().and_then(|s| s.last()),
        Some(&json!({}))
    );
    let expensive = op("/api/expensive", "get");
    assert_eq!(
        expensive["x-route-guard"]["rate_limit"],
        json!(["10/minute"])
    );
    assert!(expensive["responses"].get("429").is_some());
    assert_eq!(
        doc["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]["tokenUrl"],
        issuer.token_endpoint()
    );
}
