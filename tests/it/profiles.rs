//! Issuer profiles over real HTTP: each vendor's documented token kinds accepted and its
//! dangerous ones refused, by handlers written for Auth0 (the quickstart's attributes and claims
//! type), against a loopback issuer taught the vendor's quirks (issuer paths, keys without `alg`,
//! an encryption key in the JWKS, Entra's `{tenantid}` template).
//!
//! Token shapes follow the vendors' documentation, named at each test; IDs are made up.

use crate::common;

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use common::{serve_app, App, Reply};
use route_guard::testing::TestIssuer;
use route_guard::{
    require_auth, require_role, require_scopes, AuthenticatorBuilder, Claims, ConfigError,
    IssuerProfile, TokenClaims,
};
use serde_json::{json, Value};

/// The quickstart's claims type, unchanged: written for Auth0.
#[derive(TokenClaims, Debug)]
#[claims(namespace = "https://myapp.com/")]
struct ApiClaims {
    sub: String,
    roles: Vec<String>,
    permissions: Vec<String>,
    scope: Option<String>,
}

#[require_auth]
async fn private(claims: Claims<Arc<ApiClaims>>) -> Json<Value> {
    Json(json!({ "user": claims.sub }))
}

#[require_scopes("read:messages")]
async fn private_scoped(claims: Claims<Arc<ApiClaims>>) -> Json<Value> {
    Json(json!({ "user": claims.sub, "scope": claims.scope }))
}

#[require_role("admin")]
async fn admin(claims: Claims<Arc<ApiClaims>>) -> Json<Value> {
    Json(json!({ "user": claims.sub, "roles": claims.roles }))
}

fn routes() -> Router {
    Router::new()
        .route("/api/private", get(private))
        .route("/api/private-scoped", get(private_scoped))
        .route("/api/admin", get(admin))
}

/// An issuer under `path` and the quickstart's routes guarded by the profile `configure` sets.
async fn vendor(path: &str, configure: impl FnOnce(&TestIssuer) -> AuthenticatorBuilder) -> App {
    let issuer = TestIssuer::start_at(path).await.expect("issuer starts");
    let auth = configure(&issuer).build().expect("authenticator builds");
    serve_app(issuer, auth, routes()).await
}

/// The three routes' statuses for `token`.
async fn statuses(app: &App, token: &str) -> [u16; 3] {
    let mut out = [0; 3];
    for (i, path) in ["/api/private", "/api/private-scoped", "/api/admin"]
        .into_iter()
        .enumerate()
    {
        out[i] = app.get(path, Some(token)).await.status.as_u16();
    }
    out
}

/// A refusal on `/api/private`: 401 `invalid_token` with a description containing `words`.
async fn refused(app: &App, token: &str, words: &str) -> Reply {
    let reply = app.get("/api/private", Some(token)).await;
    reply.assert_rejected(401, "invalid_token");
    assert!(
        reply.description().contains(words),
        "description: {}",
        reply.description()
    );
    reply
}

// ---------------------------------------------------------------------------------------------
// Keycloak. Source: Keycloak Server Administration Guide (audience mapper, realm keys) and
// keycloak/keycloak core TokenVerifier.java (payload `typ` Bearer); token shapes as KC 26 issues
// them (no `nbf`, `aud` "account" unless a mapper adds the API).

async fn keycloak() -> App {
    vendor("/realms/acme", |issuer| {
        route_guard::Authenticator::builder()
            .keycloak(issuer.issuer())
            .audience("orders-api")
    })
    .await
}

fn keycloak_user(issuer: &TestIssuer) -> route_guard::testing::TokenBuilder<'_> {
    issuer
        .token()
        .sub("dca26e7c-5c6a-4f74-ab29-09ab93b0d208")
        .audiences(["orders-api", "account"])
        .claim("typ", "Bearer")
        .claim("azp", "acme-web")
        .claim("jti", "onrtac:60f25a5e-44bd-4453-a1da-e822972013b9")
        .claim("scope", "openid profile email read:messages")
        .claim(
            "realm_access",
            json!({ "roles": ["default-roles-acme", "offline_access", "admin"] }),
        )
        .claim(
            "resource_access",
            json!({ "account": { "roles": ["manage-account", "view-profile"] } }),
        )
}

#[tokio::test]
async fn keycloak_user_and_service_account_tokens_pass_the_auth0_handlers() {
    let app = keycloak().await;
    assert_eq!(app.auth.profile(), IssuerProfile::Keycloak);
    let user = keycloak_user(&app.issuer).sign();
    assert_eq!(statuses(&app, &user).await, [200, 200, 200]);
    let reply = app.get("/api/admin", Some(&user)).await;
    assert_eq!(
        reply.body["roles"],
        json!(["default-roles-acme", "offline_access", "admin"])
    );

    // A service account: a client role of the API (`resource_access.orders-api.roles`), a
    // string `aud`, no realm role `admin`.
    let service = app
        .issuer
        .token()
        .sub("b4768e19-2d00-43ac-b675-647e370c6f7c")
        .audience("orders-api")
        .claim("typ", "Bearer")
        .claim("azp", "billing-worker")
        .claim("client_id", "billing-worker")
        .claim("jti", "trrtcc:b6f28bba-4e8e-1c63-9079-619a46d22c90")
        .claim("scope", "email profile")
        .claim("realm_access", json!({ "roles": ["default-roles-acme"] }))
        .claim(
            "resource_access",
            json!({ "orders-api": { "roles": ["admin"] }, "other-api": { "roles": ["root"] } }),
        )
        .sign();
    assert_eq!(statuses(&app, &service).await, [200, 403, 200]);
    let reply = app.get("/api/admin", Some(&service)).await;
    assert_eq!(reply.body["roles"], json!(["default-roles-acme", "admin"]));
    // Another client's role of the same name grants nothing here.
    let other = app
        .issuer
        .token()
        .audience("orders-api")
        .claim("typ", "Bearer")
        .claim(
            "resource_access",
            json!({ "other-api": { "roles": ["admin"] } }),
        )
        .sign();
    assert_eq!(statuses(&app, &other).await, [200, 403, 403]);
}

#[tokio::test]
async fn keycloak_tokens_without_the_api_audience_or_of_another_type_are_refused() {
    let app = keycloak().await;
    // The default: `aud` is only the account console's.
    let account_only = keycloak_user(&app.issuer).audience("account").sign();
    refused(&app, &account_only, "add an Audience mapper").await;
    // No `aud` at all (no client roles, no mapper).
    let none = keycloak_user(&app.issuer).without("aud").sign();
    refused(&app, &none, "`aud`").await;
    // An ID token (payload `typ` "ID"), even one whose `aud` names the API client.
    let id = keycloak_user(&app.issuer)
        .audience("orders-api")
        .claim("typ", "ID")
        .claim("nonce", "n-0S6_WzA2Mj")
        .sign();
    refused(&app, &id, "Keycloak ID token").await;
    // A refresh token.
    let refresh = keycloak_user(&app.issuer).claim("typ", "Refresh").sign();
    refused(&app, &refresh, "not a Keycloak access token").await;
    // Another realm of the same server.
    let other_realm = keycloak_user(&app.issuer)
        .iss(&app.issuer.issuer().replace("/realms/acme", "/realms/other"))
        .sign();
    refused(&app, &other_realm, "issuer").await;
}

#[tokio::test]
async fn keycloak_jwks_with_an_encryption_key_and_certificates_works() {
    let app = keycloak().await;
    // A new realm publishes an RSA-OAEP encryption key beside the signing key, and every key
    // carries x5c / x5t / x5t#S256.
    let enc = app
        .issuer
        .add_key(route_guard::Algorithm::RS256)
        .expect("key");
    app.issuer.set_jwk_member(&enc, "use", json!("enc"));
    app.issuer.set_jwk_member(&enc, "alg", json!("RSA-OAEP"));
    let signing = app.issuer.signing_kid();
    for kid in [&enc, &signing] {
        app.issuer
            .set_jwk_member(kid, "x5c", json!(["MIICrzCCAZcCBgGN"]));
        app.issuer
            .set_jwk_member(kid, "x5t", json!("i6lGk3FZzxRcUb2C3nEQ7syHJlY"));
        app.issuer.set_jwk_member(
            kid,
            "x5t#S256",
            json!("v68ffgcPn6jdYpBfFY2nP4ShE2Yk-6_Mk5PI9yh6aes"),
        );
    }
    let user = keycloak_user(&app.issuer).sign();
    assert_eq!(statuses(&app, &user).await, [200, 200, 200]);
    // The encryption key never verifies a signature.
    let signed_with_enc = keycloak_user(&app.issuer).signed_with(&enc).sign();
    refused(&app, &signed_with_enc, "").await;
}

// ---------------------------------------------------------------------------------------------
// Entra ID. Source: MicrosoftDocs/entra-docs docs/identity-platform/access-tokens.md and
// access-token-claims-reference.md (v1 / v2 issuers, `scp`, `roles`, multi-tenant validation);
// JWKS keys without `alg`, with `x5t`, `x5c` and `issuer`.

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OTHER_TENANT: &str = "fa15d692-e9c7-4460-a743-29f2956fd429";
const CLIENT_ID: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
const APP_ID_URI: &str = "api://orders-api";

/// Keys as Entra publishes them: no `alg`, certificate members, the key's issuer.
fn entra_keys(issuer: &TestIssuer) {
    let kid = issuer.signing_kid();
    issuer.set_jwk_member(&kid, "alg", Value::Null);
    issuer.set_jwk_member(&kid, "x5t", json!(kid));
    issuer.set_jwk_member(&kid, "x5c", json!(["MIIC/TCCAeWgAwIBAgII"]));
    issuer.set_jwk_member(
        &kid,
        "issuer",
        json!("https://login.microsoftonline.com/{tenantid}/v2.0"),
    );
}

async fn entra_single() -> App {
    vendor(&format!("/{TENANT}/v2.0"), |issuer| {
        entra_keys(issuer);
        route_guard::Authenticator::builder()
            .issuer_base_url(issuer.issuer())
            .profile(IssuerProfile::Entra)
            .audiences([CLIENT_ID, APP_ID_URI])
    })
    .await
}

fn entra_v2<'a>(
    issuer: &'a TestIssuer,
    iss: &str,
    tid: &str,
) -> route_guard::testing::TokenBuilder<'a> {
    issuer
        .token()
        .iss(iss)
        .audience(CLIENT_ID)
        .sub("HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ")
        .claim("azp", "c44b4083-3bb0-49c1-b47d-974e53cbdf3c")
        .claim("oid", "690222be-ff1a-4d56-abd1-7e4f7d38e474")
        .claim("tid", tid)
        .claim("ver", "2.0")
        .claim("nbf", json!(route_guard_now() - 60))
}

fn route_guard_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[tokio::test]
async fn entra_v1_and_v2_delegated_and_app_only_tokens_pass() {
    let app = entra_single().await;
    let v2_issuer = app.issuer.issuer().to_owned();
    // v2 delegated: `scp` is a space-separated string.
    let delegated = entra_v2(&app.issuer, &v2_issuer, TENANT)
        .claim("scp", "read:messages access_as_user")
        .sign();
    assert_eq!(statuses(&app, &delegated).await, [200, 200, 403]);
    let reply = app.get("/api/private-scoped", Some(&delegated)).await;
    assert_eq!(reply.body["scope"], "read:messages access_as_user");
    // v2 app-only: no `scp`; application permissions and app roles in `roles`.
    let app_only = entra_v2(&app.issuer, &v2_issuer, TENANT)
        .claim("idtyp", "app")
        .claim("roles", json!(["admin", "Orders.Read.All"]))
        .sign();
    assert_eq!(statuses(&app, &app_only).await, [200, 403, 200]);
    // v1 (the API's accessTokenAcceptedVersion is 1): the sts.windows.net issuer, the App ID
    // URI as `aud`, the same keys.
    let v1 = app
        .issuer
        .token()
        .iss(&format!("https://sts.windows.net/{TENANT}/"))
        .audience(APP_ID_URI)
        .claim("appid", "75dbe77f-10a3-4e59-85fd-8c127544f17c")
        .claim("tid", TENANT)
        .claim("ver", "1.0")
        .claim("scp", "read:messages")
        .claim("roles", json!(["admin"]))
        .sign();
    assert_eq!(statuses(&app, &v1).await, [200, 200, 200]);
    // v1 app-only: `appid` and `roles`, no `scp`.
    let v1_app = app
        .issuer
        .token()
        .iss(&format!("https://sts.windows.net/{TENANT}/"))
        .audience(APP_ID_URI)
        .claim("appid", "c44b4083-3bb0-49c1-b47d-974e53cbdf3c")
        .claim("appidacr", "1")
        .claim("tid", TENANT)
        .claim("ver", "1.0")
        .claim("roles", json!(["admin"]))
        .sign();
    assert_eq!(statuses(&app, &v1_app).await, [200, 403, 200]);
}

#[tokio::test]
async fn entra_tokens_of_another_tenant_or_a_mismatched_tid_are_refused() {
    let app = entra_single().await;
    let v2_issuer = app.issuer.issuer().to_owned();
    // `iss` names this tenant, `tid` another.
    let mismatch = entra_v2(&app.issuer, &v2_issuer, OTHER_TENANT).sign();
    refused(&app, &mismatch, "issuer").await;
    // v1 issuer of another tenant, with that tenant's `tid`: not this single-tenant API's.
    let foreign_v1 = entra_v2(
        &app.issuer,
        &format!("https://sts.windows.net/{OTHER_TENANT}/"),
        OTHER_TENANT,
    )
    .sign();
    refused(&app, &foreign_v1, "issuer").await;
    // v1 issuer of another tenant with this tenant's `tid`.
    let forged_v1 = entra_v2(
        &app.issuer,
        &format!("https://sts.windows.net/{OTHER_TENANT}/"),
        TENANT,
    )
    .sign();
    refused(&app, &forged_v1, "issuer").await;
    // No `tid` at all.
    let no_tid = entra_v2(&app.issuer, &v2_issuer, TENANT)
        .without("tid")
        .sign();
    refused(&app, &no_tid, "issuer").await;
    // An ID token of an app registration that is also the API: `aud` is the client ID, and the
    // payload carries the sign-in's `nonce`.
    let id = entra_v2(&app.issuer, &v2_issuer, TENANT)
        .claim("nonce", "a9c4f2e1-6b7d-4e8f-9a0b-1c2d3e4f5a6b")
        .claim("preferred_username", "abeli@microsoft.com")
        .sign();
    refused(&app, &id, "Entra ID token").await;
    // A Microsoft Graph token (another audience).
    let graph = entra_v2(&app.issuer, &v2_issuer, TENANT)
        .audience("00000003-0000-0000-c000-000000000000")
        .sign();
    refused(&app, &graph, "audience").await;
}

/// A multi-tenant app: `common` discovery names the `{tenantid}` template.
async fn entra_common(configure: impl FnOnce(AuthenticatorBuilder) -> AuthenticatorBuilder) -> App {
    vendor("/common/v2.0", |issuer| {
        entra_keys(issuer);
        let host = issuer.issuer().replace("/common/v2.0", "");
        issuer.set_discovery_member("issuer", Some(json!(format!("{host}/{{tenantid}}/v2.0"))));
        configure(
            route_guard::Authenticator::builder()
                .issuer_base_url(issuer.issuer())
                .profile(IssuerProfile::Entra)
                .audience(CLIENT_ID),
        )
    })
    .await
}

#[tokio::test]
async fn entra_multi_tenant_takes_each_tokens_own_tenant_from_the_allow_list() {
    let app = entra_common(|b| b.entra_tenants([TENANT])).await;
    let host = app.issuer.issuer().replace("/common/v2.0", "");
    let allowed = entra_v2(&app.issuer, &format!("{host}/{TENANT}/v2.0"), TENANT)
        .claim("scp", "read:messages")
        .sign();
    assert_eq!(statuses(&app, &allowed).await, [200, 200, 403]);
    let v1 = entra_v2(
        &app.issuer,
        &format!("https://sts.windows.net/{TENANT}/"),
        TENANT,
    )
    .sign();
    assert_eq!(app.get("/api/private", Some(&v1)).await.status, 200);
    // A tenant not on the list, though its token is well formed.
    let other = entra_v2(
        &app.issuer,
        &format!("{host}/{OTHER_TENANT}/v2.0"),
        OTHER_TENANT,
    )
    .sign();
    refused(&app, &other, "issuer").await;
    // `iss` of an allowed tenant, `tid` of another (and the reverse).
    let swapped = entra_v2(&app.issuer, &format!("{host}/{TENANT}/v2.0"), OTHER_TENANT).sign();
    refused(&app, &swapped, "issuer").await;
    let reverse = entra_v2(&app.issuer, &format!("{host}/{OTHER_TENANT}/v2.0"), TENANT).sign();
    refused(&app, &reverse, "issuer").await;
    // The template itself is no issuer.
    let template = entra_v2(
        &app.issuer,
        &format!("{host}/{{tenantid}}/v2.0"),
        "{tenantid}",
    )
    .sign();
    refused(&app, &template, "issuer").await;

    let open = entra_common(|b| b.entra_any_tenant()).await;
    let host = open.issuer.issuer().replace("/common/v2.0", "");
    let any = entra_v2(
        &open.issuer,
        &format!("{host}/{OTHER_TENANT}/v2.0"),
        OTHER_TENANT,
    )
    .sign();
    assert_eq!(open.get("/api/private", Some(&any)).await.status, 200);
}

#[tokio::test]
async fn entra_multi_tenant_without_an_allow_list_does_not_start() {
    let err = route_guard::Authenticator::builder()
        .entra("organizations")
        .audience(CLIENT_ID)
        .build()
        .expect_err("a tenant list is required");
    assert_eq!(err, ConfigError::MissingEntraTenants);
    assert!(err.to_string().contains("ENTRA_TENANTS"), "{err}");
    // From the environment, `*` is the explicit "any tenant".
    let vars = |extra: &'static str| {
        move |name: &str| match name {
            "ISSUER_PROFILE" => Some("entra".to_owned()),
            "AUTH0_ISSUER_BASE_URL" => {
                Some("https://login.microsoftonline.com/common/v2.0".to_owned())
            }
            "AUTH0_AUDIENCE" => Some(format!("{CLIENT_ID}, {APP_ID_URI}")),
            "ENTRA_TENANTS" if !extra.is_empty() => Some(extra.to_owned()),
            _ => None,
        }
    };
    assert_eq!(
        AuthenticatorBuilder::from_vars(vars("")).build().err(),
        Some(ConfigError::MissingEntraTenants)
    );
    assert!(AuthenticatorBuilder::from_vars(vars("*")).build().is_ok());
    assert!(AuthenticatorBuilder::from_vars(vars(TENANT))
        .build()
        .is_ok());
}

// ---------------------------------------------------------------------------------------------
// Cognito. Source: awsdocs/amazon-cognito-developer-guide, amazon-cognito-user-pools-using-the-
// access-token.md and ...-verifying-a-jwt.md (no `aud`; check `client_id` and `token_use`);
// the header has only `kid` and `alg`.

const POOL: &str = "us-east-1_AbC123xyz";
const APP_CLIENT: &str = "57cbishk4j24pabc1234567890";

async fn cognito() -> App {
    vendor(&format!("/{POOL}"), |issuer| {
        route_guard::Authenticator::builder()
            .issuer_base_url(issuer.issuer())
            .profile(IssuerProfile::Cognito)
            .audience(APP_CLIENT)
    })
    .await
}

fn cognito_access(issuer: &TestIssuer) -> route_guard::testing::TokenBuilder<'_> {
    issuer
        .token()
        .header("typ", Value::Null)
        .without("aud")
        .sub("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
        .claim("token_use", "access")
        .claim("client_id", APP_CLIENT)
        .claim("username", "janedoe")
        .claim("version", 2)
        .claim("auth_time", json!(route_guard_now() - 10))
}

#[tokio::test]
async fn cognito_user_and_machine_access_tokens_pass() {
    let app = cognito().await;
    let user = cognito_access(&app.issuer)
        .claim("cognito:groups", json!(["admin", "billing"]))
        .claim(
            "scope",
            "aws.cognito.signin.user.admin openid read:messages",
        )
        .sign();
    assert_eq!(statuses(&app, &user).await, [200, 200, 200]);
    // Client credentials: `sub` is the client, no groups.
    let machine = cognito_access(&app.issuer)
        .sub(APP_CLIENT)
        .without("username")
        .claim("scope", "read:messages")
        .sign();
    assert_eq!(statuses(&app, &machine).await, [200, 200, 403]);
}

#[tokio::test]
async fn cognito_id_tokens_and_other_app_clients_are_refused() {
    let app = cognito().await;
    // The ID token: `aud` is the app client, `token_use` is `id`.
    let id = cognito_access(&app.issuer)
        .audience(APP_CLIENT)
        .without("client_id")
        .claim("token_use", "id")
        .claim("cognito:username", "janedoe")
        .sign();
    // Without `client_id`, the audience rule refuses it first; with one, `token_use` does.
    refused(&app, &id, "client_id").await;
    let id_with_client = cognito_access(&app.issuer).claim("token_use", "id").sign();
    refused(&app, &id_with_client, "Cognito ID token").await;
    let no_use = cognito_access(&app.issuer).without("token_use").sign();
    refused(&app, &no_use, "not a Cognito access token").await;
    // Another app client of the same pool.
    let other = cognito_access(&app.issuer)
        .claim("client_id", "1example23456789")
        .sign();
    refused(&app, &other, "client_id").await;
    // An `aud` naming the app client does not replace `client_id`.
    let aud_only = cognito_access(&app.issuer)
        .audience(APP_CLIENT)
        .without("client_id")
        .sign();
    refused(&app, &aud_only, "client_id").await;
}

#[test]
fn cognito_native_settings_name_both_issuer_forms() {
    let auth = route_guard::Authenticator::builder()
        .cognito("eu-west-1", "eu-west-1_AbC123xyz")
        .audience(APP_CLIENT)
        .build()
        .expect("builds");
    assert_eq!(auth.profile(), IssuerProfile::Cognito);
    let bad = route_guard::Authenticator::builder()
        .cognito("eu-west-1", "eu-west-1/../x")
        .audience(APP_CLIENT)
        .build();
    assert!(bad.is_err());
}

// ---------------------------------------------------------------------------------------------
// Okta. Source: okta/okta-developer-docs guides/validate-access-tokens and the OIDC reference
// (custom authorization server tokens: `scp` array, `cid`, `uid` absent for machines; header
// without `typ`).

async fn okta() -> App {
    vendor("/oauth2/default", |issuer| {
        route_guard::Authenticator::builder()
            .okta(issuer.issuer())
            .audience("api://default")
    })
    .await
}

fn okta_token(issuer: &TestIssuer) -> route_guard::testing::TokenBuilder<'_> {
    issuer
        .token()
        .header("typ", Value::Null)
        .audience("api://default")
        .claim("ver", 1)
        .claim("jti", "AT.0mP4JKAZX1iACIT4vbEDF7LpvDVjxypPMf0D7uX39RE")
        .claim("cid", "0oaosna3ilNxgPTmk0h7")
}

#[tokio::test]
async fn okta_user_and_machine_tokens_pass() {
    let app = okta().await;
    let user = okta_token(&app.issuer)
        .sub("alice@acme.example")
        .claim("uid", "00uixa271s6x7qt8I0h7")
        .claim("scp", json!(["openid", "email", "read:messages"]))
        .claim("groups", json!(["Everyone", "admin"]))
        .sign();
    assert_eq!(statuses(&app, &user).await, [200, 200, 200]);
    let machine = okta_token(&app.issuer)
        .sub("0oaosna3ilNxgPTmk0h7")
        .claim("scp", json!(["read:messages"]))
        .sign();
    assert_eq!(statuses(&app, &machine).await, [200, 200, 403]);
}

#[tokio::test]
async fn okta_id_tokens_and_the_org_server_are_refused() {
    let app = okta().await;
    let id = okta_token(&app.issuer)
        .audience("0oaosna3ilNxgPTmk0h7")
        .claim("jti", "ID.4eAWJOCMB3SX8XewDfVR")
        .claim("nonce", "n-0S6_WzA2Mj")
        .claim("at_hash", "MTIzNDU2Nzg5MDEyMzQ1Ng")
        .sign();
    refused(&app, &id, "ID token").await;
    let other_api = okta_token(&app.issuer).audience("api://other").sign();
    refused(&app, &other_api, "audience").await;
    let err = route_guard::Authenticator::builder()
        .okta("https://acme.okta.com")
        .audience("api://default")
        .build()
        .expect_err("the org authorization server is refused");
    assert!(matches!(err, ConfigError::OktaOrgServer { .. }), "{err}");
    assert!(err.to_string().contains("/oauth2/default"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Firebase. Source: firebase/firebase-admin-node src/auth/token-verifier.ts and
// firebase.google.com/docs/auth/admin/verify-id-tokens (`aud` the project, RS256, `kid`, `sub`
// 1..=128 characters; `firebase.tenant` for Identity Platform).

async fn firebase(tenant: Option<&str>) -> App {
    vendor("/acme-prod", |issuer| {
        let builder = route_guard::Authenticator::builder()
            .issuer_base_url(issuer.issuer())
            .profile(IssuerProfile::Firebase)
            .audience("acme-prod");
        match tenant {
            Some(tenant) => builder.firebase_tenant(tenant),
            None => builder,
        }
    })
    .await
}

fn firebase_token(issuer: &TestIssuer) -> route_guard::testing::TokenBuilder<'_> {
    issuer
        .token()
        .audience("acme-prod")
        .sub("kq3ZJ1tVbAe0Rb5nUx2WcLhQpY83")
        .claim("user_id", "kq3ZJ1tVbAe0Rb5nUx2WcLhQpY83")
        .claim("auth_time", json!(route_guard_now() - 10))
        .claim(
            "firebase",
            json!({ "identities": { "email": ["alice@acme.example"] }, "sign_in_provider": "password" }),
        )
}

#[tokio::test]
async fn firebase_project_and_tenant_tokens_are_checked() {
    let app = firebase(None).await;
    let user = firebase_token(&app.issuer)
        .claim("roles", json!(["admin"]))
        .sign();
    assert_eq!(statuses(&app, &user).await, [200, 403, 200]);
    let other_project = firebase_token(&app.issuer).audience("acme-staging").sign();
    refused(&app, &other_project, "audience").await;
    let long_sub = firebase_token(&app.issuer).sub(&"x".repeat(129)).sign();
    refused(&app, &long_sub, "at most 128").await;
    let empty_sub = firebase_token(&app.issuer).sub("").sign();
    refused(&app, &empty_sub, "sub").await;
    let no_kid = firebase_token(&app.issuer)
        .header("kid", Value::Null)
        .sign();
    refused(&app, &no_kid, "kid").await;
    // A tenant's user where the project's own users are expected.
    let tenant_user = firebase_token(&app.issuer)
        .claim(
            "firebase",
            json!({ "sign_in_provider": "password", "tenant": "acme-tenant-x7k2p" }),
        )
        .sign();
    refused(&app, &tenant_user, "firebase.tenant").await;

    let tenant_app = firebase(Some("acme-tenant-x7k2p")).await;
    let tenant_user = firebase_token(&tenant_app.issuer)
        .claim(
            "firebase",
            json!({ "sign_in_provider": "password", "tenant": "acme-tenant-x7k2p" }),
        )
        .sign();
    assert_eq!(
        tenant_app
            .get("/api/private", Some(&tenant_user))
            .await
            .status,
        200
    );
    let other_tenant = firebase_token(&tenant_app.issuer)
        .claim("firebase", json!({ "tenant": "globex-tenant" }))
        .sign();
    refused(&tenant_app, &other_tenant, "firebase.tenant").await;
    let project_user = firebase_token(&tenant_app.issuer).sign();
    refused(&tenant_app, &project_user, "firebase.tenant").await;
}

#[test]
fn firebase_accepts_rs256_only() {
    let err = route_guard::Authenticator::builder()
        .firebase("acme-prod")
        .algorithms([route_guard::Algorithm::RS256, route_guard::Algorithm::ES256])
        .build()
        .expect_err("RS256 only");
    assert!(err.to_string().contains("RS256"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// The generic building blocks, for issuers without a profile.

#[tokio::test]
async fn generic_locations_audience_substitutes_and_extra_issuers() {
    // Zitadel: roles are the keys of a map; Clerk: permissions comma-separated under `o.per`,
    // no `aud` but an `azp` allow-list; a second accepted issuer for the same keys.
    let app = vendor("/", |issuer| {
        route_guard::Authenticator::builder()
            .issuer_base_url(issuer.issuer())
            .audience("https://app.acme.example")
            .audience_rule(route_guard::AudienceRule::claim("azp"))
            .roles_from([
                route_guard::ClaimLocation::new("urn:zitadel:iam:org:project:roles")
                    .expect("location")
                    .object_keys(),
            ])
            .scopes_from([route_guard::ClaimLocation::new("/o/per")
                .expect("location")
                .comma_separated()])
            .also_accept_issuers(["https://clerk.acme.example"])
    })
    .await;
    let token = app
        .issuer
        .token()
        .without("aud")
        .claim("azp", "https://app.acme.example")
        .claim(
            "urn:zitadel:iam:org:project:roles",
            json!({ "admin": { "281234567890123456": "acme.zitadel.cloud" } }),
        )
        .claim("o", json!({ "per": "read:messages,manage" }))
        .sign();
    assert_eq!(statuses(&app, &token).await, [200, 200, 200]);
    let foreign = app
        .issuer
        .token()
        .without("aud")
        .claim("azp", "https://evil.example")
        .sign();
    refused(&app, &foreign, "`azp`").await;
    let second_issuer = app
        .issuer
        .token()
        .iss("https://clerk.acme.example")
        .without("aud")
        .claim("azp", "https://app.acme.example")
        .sign();
    assert_eq!(
        app.get("/api/private", Some(&second_issuer)).await.status,
        200
    );
    let third = app
        .issuer
        .token()
        .iss("https://clerk.evil.example")
        .claim("azp", "https://app.acme.example")
        .sign();
    refused(&app, &third, "issuer").await;
}

#[tokio::test]
async fn an_explicit_jwks_url_skips_discovery() {
    let issuer = TestIssuer::start().await.expect("issuer");
    issuer.set_discovery(false);
    let jwks = format!("{}.well-known/jwks.json", issuer.issuer());
    let auth = route_guard::Authenticator::builder()
        .issuer_base_url("https://api.workos.com/user_management/client_01HQSX3B7E2K9M4N5P6Q7R8S9T")
        .jwks_uri(&jwks)
        .audience("orders")
        .build()
        .expect("builds");
    let token = issuer
        .token()
        .iss("https://api.workos.com/user_management/client_01HQSX3B7E2K9M4N5P6Q7R8S9T")
        .audience("orders")
        .sign();
    assert!(auth.verify(&token).await.is_ok());
    assert_eq!(issuer.discovery_fetches(), 0);
    let trailing = issuer
        .token()
        .iss("https://api.workos.com/user_management/client_01HQSX3B7E2K9M4N5P6Q7R8S9T/")
        .audience("orders")
        .sign();
    assert!(auth.verify(&trailing).await.is_err());
}

#[test]
fn profiles_and_locations_refuse_what_cannot_work() {
    assert!(matches!(
        "zitadel".parse::<IssuerProfile>(),
        Err(ConfigError::UnknownProfile { .. })
    ));
    for bad in ["", "/", "/a//b", "/a~2"] {
        let err = route_guard::Authenticator::builder()
            .issuer_base_url("https://issuer.example.com")
            .audience("api")
            .roles_claim(bad)
            .build()
            .expect_err("refused");
        assert!(err.to_string().contains("roles_claim"), "{err}");
    }
    let err = route_guard::Authenticator::builder()
        .issuer_base_url("https://issuer.example.com")
        .audience("api")
        .issuer_template(route_guard::IssuerTemplate::new("{tenant}", "tid"))
        .build()
        .expect_err("a template needs its allowed values");
    assert!(err.to_string().contains("allow"), "{err}");
    let err = route_guard::Authenticator::builder()
        .domains(["a.example.com", "b.example.com"])
        .profile(IssuerProfile::Okta)
        .audience("api")
        .build()
        .expect_err("profiles work with one issuer");
    assert!(err.to_string().contains("one issuer"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// The token doctor: each vendor's causes in that vendor's words, and a valid token of every
// profile passes every check.

/// `check` failed, the causes include `cause` (whose fix contains `fix`), and the verdict is 401
/// `invalid_token`.
fn assert_cause(d: &route_guard::doctor::Diagnosis, check: &str, cause: &str, fix: &str) {
    let finding = d
        .check(check)
        .unwrap_or_else(|| panic!("no check {check}: {d:#?}"));
    assert_eq!(
        finding.outcome,
        route_guard::doctor::Outcome::Failed,
        "{check}: {d:#?}"
    );
    let found = d
        .causes
        .iter()
        .find(|c| c.id == cause)
        .unwrap_or_else(|| panic!("cause {cause}: {:#?}", d.causes));
    assert!(found.fix.contains(fix), "{found:#?}");
    assert!(!found.explanation.is_empty());
    assert_eq!(d.verdict.status, 401, "{:#?}", d.verdict);
}

#[tokio::test]
async fn a_valid_token_of_every_profile_passes_every_doctor_check() {
    for profile in IssuerProfile::ALL {
        let issuer = TestIssuer::start_for(profile).await.expect("issuer");
        let auth = issuer.authenticator().expect("builds");
        let d = auth.diagnose(&issuer.token().sign()).await;
        assert!(d.accepted(), "{profile}: {d:#?}");
        assert!(d.first_failure().is_none(), "{profile}: {d:#?}");
        assert_eq!(
            d.check("profile").is_some(),
            profile != IssuerProfile::Auth0,
            "{profile}: {d:#?}"
        );
    }
}

#[tokio::test]
async fn the_doctor_names_each_vendors_cause_and_fix() {
    // Keycloak: no audience mapper; an ID token.
    let kc = TestIssuer::start_for(IssuerProfile::Keycloak)
        .await
        .expect("issuer");
    let auth = kc.authenticator().expect("builds");
    let d = auth.diagnose(&kc.token().audience("account").sign()).await;
    assert_cause(&d, "aud", "keycloak_audience_mapper", "Audience");
    let d = auth.diagnose(&kc.token().claim("typ", "ID").sign()).await;
    assert_cause(&d, "profile", "keycloak_id_token", "access_token");

    // Entra: a v1 token whose `aud` is the App ID URI, against an API that accepts the client
    // ID; a tenant that is not allowed.
    let entra = TestIssuer::start_for(IssuerProfile::Entra)
        .await
        .expect("issuer");
    let auth = entra.authenticator().expect("builds");
    let v1 = entra
        .token()
        .iss(&format!(
            "https://sts.windows.net/{}/",
            route_guard::testing::TEST_TENANT
        ))
        .audience("api://orders-api")
        .claim("ver", "1.0")
        .sign();
    let d = auth.diagnose(&v1).await;
    assert_cause(&d, "aud", "entra_v1_token", "accessTokenAcceptedVersion");
    let other = entra
        .token()
        .iss(&format!("https://sts.windows.net/{OTHER_TENANT}/"))
        .claim("tid", OTHER_TENANT)
        .sign();
    let d = auth.diagnose(&other).await;
    assert_cause(&d, "iss", "entra_tenant", "ENTRA_TENANTS");

    // Cognito: the ID token sent as an access token; another app client.
    let cognito = TestIssuer::start_for(IssuerProfile::Cognito)
        .await
        .expect("issuer");
    let auth = cognito.authenticator().expect("builds");
    let id = cognito.token().claim("token_use", "id").sign();
    let d = auth.diagnose(&id).await;
    assert_cause(&d, "profile", "cognito_id_token", "access_token");
    let other = cognito
        .token()
        .claim("client_id", "1example23456789")
        .sign();
    let d = auth.diagnose(&other).await;
    assert_cause(&d, "aud", "cognito_app_client", "COGNITO_APP_CLIENT_IDS");

    // Okta: a token of the org authorization server.
    let okta = TestIssuer::start_for(IssuerProfile::Okta)
        .await
        .expect("issuer");
    let auth = okta.authenticator().expect("builds");
    let org = okta.token().iss("https://acme.okta.com").sign();
    let d = auth.diagnose(&org).await;
    assert_cause(&d, "iss", "okta_org_server", "OKTA_ISSUER");

    // Firebase: another project; a tenant's user.
    let firebase = TestIssuer::start_for(IssuerProfile::Firebase)
        .await
        .expect("issuer");
    let auth = firebase.authenticator().expect("builds");
    let d = auth
        .diagnose(&firebase.token().audience("acme-staging").sign())
        .await;
    assert_cause(&d, "aud", "firebase_project", "FIREBASE_PROJECT_ID");
    let tenant = firebase
        .token()
        .claim("firebase", json!({ "tenant": "acme-tenant-x7k2p" }))
        .sign();
    let d = auth.diagnose(&tenant).await;
    assert_cause(&d, "profile", "firebase_tenant", "FIREBASE_TENANT");
}

#[test]
fn each_profiles_own_variables_configure_it() {
    let build = |vars: &'static [(&'static str, &'static str)]| {
        AuthenticatorBuilder::from_vars(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .build()
    };
    let cases: [(&[(&str, &str)], IssuerProfile); 5] = [
        (
            &[
                ("KEYCLOAK_REALM_URL", "https://sso.example.com/realms/acme"),
                ("AUTH0_AUDIENCE", "orders-api"),
            ],
            IssuerProfile::Keycloak,
        ),
        (
            &[
                ("ENTRA_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47"),
                (
                    "ENTRA_CLIENT_ID",
                    "6e74172b-be56-4843-9ff4-e66a39bb12e3, api://orders-api",
                ),
            ],
            IssuerProfile::Entra,
        ),
        (
            &[
                ("COGNITO_USER_POOL_ID", "eu-west-1_AbC123xyz"),
                ("COGNITO_APP_CLIENT_IDS", "57cbishk4j24pabc1234567890"),
            ],
            IssuerProfile::Cognito,
        ),
        (
            &[
                ("OKTA_ISSUER", "https://acme.okta.com/oauth2/default"),
                ("AUTH0_AUDIENCE", "api://default"),
            ],
            IssuerProfile::Okta,
        ),
        (
            &[("FIREBASE_PROJECT_ID", "acme-prod")],
            IssuerProfile::Firebase,
        ),
    ];
    for (vars, profile) in cases {
        let auth = build(vars).unwrap_or_else(|e| panic!("{profile}: {e}"));
        assert_eq!(auth.profile(), profile);
    }
    // Two issuers named, or a profile variable against another ISSUER_PROFILE: refused.
    let err = build(&[
        ("KEYCLOAK_REALM_URL", "https://sso.example.com/realms/acme"),
        ("OKTA_ISSUER", "https://acme.okta.com/oauth2/default"),
        ("AUTH0_AUDIENCE", "api"),
    ])
    .expect_err("two issuers");
    assert!(err.to_string().contains("KEYCLOAK_REALM_URL"), "{err}");
    let err = build(&[
        ("ISSUER_PROFILE", "okta"),
        ("FIREBASE_PROJECT_ID", "acme-prod"),
    ])
    .expect_err("disagreeing");
    assert!(err.to_string().contains("ISSUER_PROFILE"), "{err}");
    let err = build(&[
        ("ISSUER_PROFILE", "keycloak"),
        (
            "AUTH0_ISSUER_BASE_URL",
            "https://sso.example.com/realms/acme",
        ),
        ("AUTH0_AUDIENCE", "orders-api"),
        ("FIREBASE_TENANT", "t1"),
    ])
    .expect_err("a Firebase setting under Keycloak");
    assert!(err.to_string().contains("FIREBASE_TENANT"), "{err}");
}
