//! OpenAPI with utoipa: `route_guard::utoipa::Security` fills in the security and responses of
//! every operation whose `operationId` is a guarded handler, the document validates against the
//! official OpenAPI 3.1 JSON Schema, and `check` reports a guarded handler left undocumented.
//!
//! Its own test binary: utoipa names an operation by its handler's name, and the guarded
//! handlers are gathered for the whole program, so another module's `messages` handler in the
//! same binary would be found in place of this one's.
// The undocumented handler exists for `check` to find.
#![allow(dead_code)]

use route_guard::testing::TestIssuer;
use route_guard::{rate_limit, require_permissions, require_role, require_scopes};
use serde_json::{json, Value};
use utoipa::{Modify, OpenApi};

#[utoipa::path(get, path = "/public", responses((status = 200, description = "hello")))]
async fn public() -> &'static str {
    "public"
}

#[utoipa::path(get, path = "/messages", responses((status = 200, description = "the messages")))]
#[require_scopes("read:messages", "write:messages")]
async fn messages() -> &'static str {
    "messages"
}

#[utoipa::path(get, path = "/purge", responses((status = 200, description = "purged")))]
#[require_scopes(any("messages:admin", "admin"))]
#[rate_limit("5/minute")]
async fn purge() -> &'static str {
    "purged"
}

#[utoipa::path(get, path = "/reports", responses((status = 200, description = "reports")))]
#[require_role(any("admin", "manager"))]
#[require_permissions("read:reports")]
async fn reports() -> &'static str {
    "reports"
}

/// Guarded, but its `#[utoipa::path]` was forgotten.
#[require_scopes("secret:read")]
async fn forgotten() -> &'static str {
    "secret"
}

#[derive(OpenApi)]
#[openapi(paths(public, messages, purge, reports))]
struct ApiDoc;

#[tokio::test]
async fn guarded_operations_get_their_security_and_the_check_finds_what_is_missing() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let auth = issuer.authenticator().expect("builds");
    let mut doc = ApiDoc::openapi();
    route_guard::utoipa::Security::new(&auth)
        .await
        .expect("endpoints")
        .modify(&mut doc);
    let json = serde_json::to_value(&doc).expect("json");

    let schema: Value = serde_json::from_str(include_str!("data/openapi-3.1-schema.json"))
        .expect("the vendored schema");
    let validator = jsonschema::validator_for(&schema).expect("compiles");
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{json:#}");

    let op = |path: &str| json["paths"][path]["get"].clone();
    assert!(
        op("/public").get("security").is_none(),
        "{:#}",
        op("/public")
    );
    assert_eq!(
        op("/messages")["security"],
        json!([
            { "oauth2": ["read:messages", "write:messages"] },
            { "bearerAuth": ["read:messages", "write:messages"] },
        ])
    );
    assert!(op("/messages")["responses"].get("401").is_some());
    assert!(op("/messages")["responses"].get("403").is_some());
    // The handler's own documented response stays.
    assert_eq!(
        op("/messages")["responses"]["200"]["description"],
        "the messages"
    );
    assert_eq!(
        op("/purge")["security"][0],
        json!({ "oauth2": ["messages:admin"] })
    );
    assert_eq!(op("/purge")["security"][2], json!({ "oauth2": ["admin"] }));
    assert!(op("/purge")["responses"].get("429").is_some());
    let reports = op("/reports");
    assert_eq!(
        reports["x-route-guard"]["roles"],
        json!([{ "any": ["admin", "manager"] }])
    );
    assert_eq!(
        reports["x-route-guard"]["permissions"],
        json!([{ "all": ["read:reports"] }])
    );
    let schemes = &json["components"]["securitySchemes"];
    // utoipa cannot name a DPoP scheme: bearerAuth says DPoP-bound tokens are accepted.
    assert!(schemes.get("DPoP").is_none());
    assert!(schemes["bearerAuth"]["description"]
        .as_str()
        .is_some_and(|d| d.contains("DPoP")));
    assert_eq!(
        schemes["oauth2"]["flows"]["clientCredentials"]["tokenUrl"],
        issuer.token_endpoint()
    );
    assert!(schemes["oauth2"]["flows"]["authorizationCode"]["scopes"]
        .get("secret:read")
        .is_some());

    let coverage = route_guard::utoipa::check(&doc);
    assert_eq!(coverage.undocumented, ["openapi_utoipa::forgotten"]);
    assert!(!coverage.all_guards_documented());
    assert_eq!(coverage.unguarded, ["GET /public (public)"]);
}

#[tokio::test]
async fn an_issuer_down_at_start_up_keeps_security_and_responses() {
    let issuer = TestIssuer::start().await.expect("issuer");
    issuer.set_down(true);
    let auth = issuer.authenticator().expect("builds");
    let security = route_guard::utoipa::Security::new(&auth)
        .await
        .expect("no network needed");
    assert!(!security.is_settled());
    let mut doc = ApiDoc::openapi();
    security.modify(&mut doc);
    let json = serde_json::to_value(&doc).expect("json");
    let schema: Value = serde_json::from_str(include_str!("data/openapi-3.1-schema.json"))
        .expect("the vendored schema");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    assert!(validator.is_valid(&json), "{json:#}");
    let messages = &json["paths"]["/messages"]["get"];
    assert_eq!(
        messages["security"][0],
        json!({ "openIdConnect": ["read:messages", "write:messages"] })
    );
    assert!(messages["responses"].get("401").is_some());
    assert!(messages["responses"].get("403").is_some());
    let schemes = &json["components"]["securitySchemes"];
    assert!(schemes.get("oauth2").is_none());
    assert_eq!(
        schemes["openIdConnect"]["openIdConnectUrl"],
        format!("{}.well-known/openid-configuration", issuer.issuer())
    );
    assert_eq!(schemes["bearerAuth"]["scheme"], "bearer");

    // Once the issuer answers, a new Security adds the flows.
    issuer.set_down(false);
    let security = route_guard::utoipa::Security::new(&auth)
        .await
        .expect("endpoints");
    assert!(security.is_settled());
    let mut doc = ApiDoc::openapi();
    security.modify(&mut doc);
    let json = serde_json::to_value(&doc).expect("json");
    assert_eq!(
        json["paths"]["/messages"]["get"]["security"][0],
        json!({ "oauth2": ["read:messages", "write:messages"] })
    );
}
