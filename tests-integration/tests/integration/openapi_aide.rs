//! OpenAPI with aide: the document generated from the guards has exactly the expected `security`
//! and 401/403 responses per operation (all-of, any-of, optional, permissions, roles, claims,
//! step-up, a layer-guarded route; DPoP on and off), and it validates against the official
//! OpenAPI 3.1 JSON Schema (tests/data).

use aide::axum::routing::{get, get_with};
use aide::axum::ApiRouter;
use aide::openapi::OpenApi;
use route_guard::layer::Require;
use route_guard::testing::TestIssuer;
use route_guard::{
    require_acr, require_auth, require_auth_age, require_claim, require_permissions, require_role,
    require_scopes, AuthenticatorBuilder, Claims, DpopMode,
};
use serde_json::{json, Value};

async fn public() -> &'static str {
    "public"
}

#[require_auth]
async fn me(claims: Claims) -> String {
    claims.sub.clone().unwrap_or_default()
}

async fn feed(claims: Option<Claims>) -> String {
    format!("{}", claims.is_some())
}

#[require_scopes("read:messages", "write:messages")]
async fn write() -> &'static str {
    "written"
}

#[require_scopes(any("messages:admin", "admin"))]
#[require_scopes("read:messages")]
async fn purge() -> &'static str {
    "purged"
}

#[require_permissions("delete:messages")]
#[require_role(any("admin", "manager"))]
async fn remove() -> &'static str {
    "removed"
}

#[require_claim(org_id = "org_123")]
async fn org() -> &'static str {
    "org"
}

#[require_acr("mfa")]
#[require_auth_age(max_secs = 300)]
async fn pay() -> &'static str {
    "paid"
}

async fn audit() -> &'static str {
    "audit"
}

fn api_router() -> ApiRouter {
    let auditors = Require::new().roles("auditor");
    ApiRouter::new()
        .api_route("/public", get(public))
        .api_route("/me", get(me))
        .api_route("/feed", get(feed))
        .api_route("/messages", get(write))
        .api_route("/purge", get(purge))
        .api_route("/remove", get(remove))
        .api_route("/org", get(org))
        .api_route("/pay", get(pay))
        .api_route(
            "/audit",
            get_with(audit, |op| route_guard::aide::requires(op, &auditors)),
        )
}

async fn generate(builder: AuthenticatorBuilder) -> Value {
    let auth = builder.build().expect("builds");
    let mut api = OpenApi::default();
    api.info.title = "test".into();
    let _app = api_router().finish_api(&mut api).layer(auth.layer());
    route_guard::aide::document(&auth, &mut api)
        .await
        .expect("documented");
    serde_json::to_value(&api).expect("json")
}

fn op<'a>(doc: &'a Value, path: &str) -> &'a Value {
    &doc["paths"][path]["get"]
}

/// The alternatives of `scopes`, each for the schemes given.
fn security(alternatives: &[&[&str]], schemes: &[&str]) -> Value {
    let mut out = Vec::new();
    for alt in alternatives {
        for scheme in schemes {
            out.push(json!({ *scheme: alt }));
        }
    }
    Value::Array(out)
}

fn validate(doc: &Value) {
    let schema: Value = serde_json::from_str(include_str!("../data/openapi-3.1-schema.json"))
        .expect("the vendored schema");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{doc:#}");
}

#[tokio::test]
async fn every_guard_documents_its_security_and_responses() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let doc = generate(issuer.authenticator_builder()).await;
    validate(&doc);
    let all = ["oauth2", "bearerAuth", "DPoP"];

    // Public: nothing.
    let public = op(&doc, "/public");
    assert!(
        public.get("security").is_none_or(|s| s == &json!([])),
        "{public:#}"
    );
    assert!(public.get("x-route-guard").is_none());
    assert!(public["responses"].get("401").is_none());

    // Any valid token; the placeholder header is gone.
    let me = op(&doc, "/me");
    assert_eq!(me["security"], security(&[&[]], &all), "{me:#}");
    assert!(
        me.get("parameters").is_none_or(|p| p == &json!([])),
        "{me:#}"
    );
    assert!(me["responses"].get("401").is_some());
    assert!(me["responses"].get("403").is_none());
    let unauthorized = &me["responses"]["401"];
    assert!(unauthorized["headers"].get("WWW-Authenticate").is_some());
    assert_eq!(
        unauthorized["content"]["application/json"]["schema"]["required"],
        json!(["error", "error_description"])
    );

    // Optional: the empty requirement beside the others.
    let feed = op(&doc, "/feed");
    let mut optional = security(&[&[]], &all);
    optional.as_array_mut().expect("array").push(json!({}));
    assert_eq!(feed["security"], optional, "{feed:#}");
    assert_eq!(feed["x-route-guard"]["optional"], true);

    // All-of scopes: one requirement.
    let write = op(&doc, "/messages");
    assert_eq!(
        write["security"],
        security(&[&["read:messages", "write:messages"]], &all)
    );
    assert!(write["responses"].get("403").is_some());

    // Any-of: alternatives, each with the all-of scope.
    let purge = op(&doc, "/purge");
    assert_eq!(
        purge["security"],
        security(
            &[
                &["messages:admin", "read:messages"],
                &["admin", "read:messages"]
            ],
            &all
        ),
        "{purge:#}"
    );

    // Permissions and roles are not scopes: they are in the extension, never in security.
    let remove = op(&doc, "/remove");
    assert_eq!(remove["security"], security(&[&[]], &all));
    assert_eq!(
        remove["x-route-guard"]["permissions"],
        json!([{ "all": ["delete:messages"] }])
    );
    assert_eq!(
        remove["x-route-guard"]["roles"],
        json!([{ "any": ["admin", "manager"] }])
    );
    assert!(remove["responses"].get("403").is_some());
    let org = op(&doc, "/org");
    assert_eq!(
        org["x-route-guard"]["claims"],
        json!(["org_id = \"org_123\""])
    );

    // Step-up: 401 can say insufficient_user_authentication; no 403.
    let pay = op(&doc, "/pay");
    assert_eq!(pay["x-route-guard"]["acr"], json!(["mfa"]));
    assert_eq!(pay["x-route-guard"]["max_auth_age"], 300);
    let codes = &pay["responses"]["401"]["content"]["application/json"]["schema"]["properties"]
        ["error"]["enum"];
    assert!(codes
        .as_array()
        .is_some_and(|c| c.contains(&json!("insufficient_user_authentication"))));
    assert!(pay["responses"].get("403").is_none());

    // A layer-guarded route, documented with the helper.
    let audit = op(&doc, "/audit");
    assert_eq!(
        audit["x-route-guard"]["roles"],
        json!([{ "all": ["auditor"] }])
    );
    assert!(audit["responses"].get("403").is_some());

    // The schemes: the issuer's flows from its discovery document, every scope described.
    let schemes = &doc["components"]["securitySchemes"];
    let flows = &schemes["oauth2"]["flows"];
    assert_eq!(
        flows["authorizationCode"]["authorizationUrl"],
        format!("{}authorize", issuer.issuer())
    );
    assert_eq!(
        flows["clientCredentials"]["tokenUrl"],
        issuer.token_endpoint()
    );
    let scopes = &flows["clientCredentials"]["scopes"];
    for scope in ["read:messages", "write:messages", "messages:admin", "admin"] {
        assert!(
            scopes[scope]
                .as_str()
                .is_some_and(|d| d.starts_with("required by")),
            "{scope}: {scopes:#}"
        );
    }
    assert_eq!(scopes["write:messages"], "required by GET /messages");
    assert_eq!(
        schemes["bearerAuth"],
        json!({ "type": "http", "scheme": "bearer", "bearerFormat": "JWT" })
    );
    assert_eq!(schemes["DPoP"]["scheme"], "DPoP");
}

#[tokio::test]
async fn without_dpop_no_dpop_scheme_and_auth0_flows_for_a_domain() {
    let builder = AuthenticatorBuilder::default()
        .domain("tenant.us.auth0.com")
        .audience("https://api.example.com")
        .dpop(DpopMode::Disabled);
    let doc = generate(builder).await;
    validate(&doc);
    let schemes = &doc["components"]["securitySchemes"];
    assert!(schemes.get("DPoP").is_none());
    let flows = &schemes["oauth2"]["flows"];
    assert_eq!(
        flows["authorizationCode"]["authorizationUrl"],
        "https://tenant.us.auth0.com/authorize"
    );
    assert_eq!(
        flows["authorizationCode"]["tokenUrl"],
        "https://tenant.us.auth0.com/oauth/token"
    );
    assert_eq!(
        op(&doc, "/messages")["security"],
        security(
            &[&["read:messages", "write:messages"]],
            &["oauth2", "bearerAuth"]
        )
    );
}

/// What must be there whatever the network said: security naming `primary`, the 401 and 403
/// responses, `bearerAuth`, `openIdConnect` with the discovery URL, and a valid document.
fn assert_security_without_the_network(doc: &Value, primary: &str, issuer: &TestIssuer) {
    validate(doc);
    assert_eq!(
        op(doc, "/messages")["security"],
        security(
            &[&["read:messages", "write:messages"]],
            &[primary, "bearerAuth", "DPoP"]
        )
    );
    for path in ["/me", "/messages", "/purge", "/audit"] {
        assert!(op(doc, path)["responses"].get("401").is_some(), "{path}");
    }
    assert!(op(doc, "/messages")["responses"].get("403").is_some());
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearerAuth"]["scheme"], "bearer");
    assert_eq!(schemes["DPoP"]["scheme"], "DPoP");
    assert_eq!(schemes["openIdConnect"]["type"], "openIdConnect");
    assert_eq!(
        schemes["openIdConnect"]["openIdConnectUrl"],
        format!("{}.well-known/openid-configuration", issuer.issuer())
    );
}

#[tokio::test]
async fn an_issuer_down_at_start_up_loses_only_the_flows_until_it_answers() {
    let issuer = TestIssuer::start().await.expect("issuer");
    issuer.set_down(true);
    let auth = issuer
        .authenticator_builder()
        .roles_claim("roles")
        .jwks_retry_interval(std::time::Duration::from_millis(50))
        .build()
        .expect("builds");
    let mut api = OpenApi::default();
    api.info.title = "test".into();
    let _app = api_router().finish_api(&mut api).layer(auth.layer());
    let served = route_guard::aide::ServedDocument::new(&auth, api)
        .await
        .expect("completed without the issuer");
    assert!(!served.is_settled());
    let doc = serde_json::to_value(&*served.current().await).expect("json");
    assert_security_without_the_network(&doc, "openIdConnect", &issuer);
    assert!(doc["components"]["securitySchemes"].get("oauth2").is_none());

    // The issuer answers again: the next request for the document adds the flows.
    issuer.set_down(false);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let doc = serde_json::to_value(&*served.current().await).expect("json");
    assert!(served.is_settled());
    assert_security_without_the_network(&doc, "oauth2", &issuer);
    let flows = &doc["components"]["securitySchemes"]["oauth2"]["flows"];
    assert!(flows["authorizationCode"]["authorizationUrl"]
        .as_str()
        .is_some_and(|url| url.starts_with(issuer.issuer().trim_end_matches('/'))));
    assert!(flows["clientCredentials"]["tokenUrl"].is_string());
}

#[tokio::test]
async fn a_discovery_document_without_an_authorization_endpoint_keeps_security() {
    let issuer = TestIssuer::start().await.expect("issuer");
    issuer.set_discovery_member("authorization_endpoint", None);
    let doc = generate(issuer.authenticator_builder().roles_claim("roles")).await;
    assert_security_without_the_network(&doc, "oauth2", &issuer);
    let flows = &doc["components"]["securitySchemes"]["oauth2"]["flows"];
    assert!(flows.get("authorizationCode").is_none(), "{flows:#}");
    assert_eq!(
        flows["clientCredentials"]["tokenUrl"],
        format!("{}oauth/token", issuer.issuer())
    );
    // Neither endpoint: security all the same, through openIdConnect.
    issuer.set_discovery_member("token_endpoint", None);
    let doc = generate(issuer.authenticator_builder().roles_claim("roles")).await;
    assert_security_without_the_network(&doc, "openIdConnect", &issuer);
    assert!(doc["components"]["securitySchemes"].get("oauth2").is_none());
}
