//! Interop with a client written by others: the official Rust MCP SDK's OAuth client (`rmcp`,
//! feature `auth`) reads route-guard's challenges and RFC 9728 metadata, finds the development
//! issuer as the authorization server, gets a token with client credentials, calls the protected
//! route; a 403 then names the scope it lacks, the client asks for it, and the retry passes.

use crate::common;

use axum::routing::get;
use axum::{Json, Router};
use rmcp::transport::auth::{
    AuthorizationManager, AuthorizationMetadataSource, ClientCredentialsConfig, OAuthState,
    WWWAuthenticateParams,
};
use route_guard::testing::{TestClient, TestIssuer};
use route_guard::{require_scopes, Claims};
use serde_json::{json, Value};

#[require_scopes("messages:read")]
async fn read_messages(claims: Claims) -> Json<Value> {
    Json(json!({ "messages": [], "caller": claims.sub }))
}

#[require_scopes("messages:write")]
async fn send_message(claims: Claims) -> Json<Value> {
    Json(json!({ "sent": true, "caller": claims.sub }))
}

/// Client credentials through rmcp's own state machine: discovery from the resource, RFC 8414
/// metadata, the token request with `resource` and `scope`.
async fn rmcp_token(resource: &str, scopes: &[&str]) -> String {
    let mut state = OAuthState::new(resource, None)
        .await
        .expect("rmcp's OAuth state");
    let config = ClientCredentialsConfig::ClientSecret {
        client_id: "mcp-agent".into(),
        client_secret: "agent-secret".into(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        resource: Some(resource.to_owned()),
    };
    state
        .authenticate_client_credentials(config)
        .await
        .expect("client credentials through rmcp");
    let manager = state
        .into_authorization_manager()
        .expect("authorized after client credentials");
    manager.get_access_token().await.expect("an access token")
}

#[tokio::test]
async fn rmcp_discovers_authenticates_and_steps_up_its_scope() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let (listener, base) = common::bind().await;
    let resource = format!("{base}/mcp");
    issuer.register_client(
        TestClient::new("mcp-agent", "agent-secret")
            .scopes(["messages:read", "messages:write"])
            .audiences([resource.clone()]),
    );
    // The MCP way: the token's audience is the resource the client names (RFC 8707).
    let auth = issuer
        .authenticator_builder()
        .audience(&resource)
        .protected_resource(&resource)
        .build()
        .expect("builds");
    let app = Router::new()
        .route("/mcp", get(read_messages))
        .route("/mcp/send", get(send_message))
        .layer(auth.layer())
        .merge(auth.protected_resource_router());
    let _server = common::serve_on(listener, app);
    let client = common::client();

    // 1. No token: the challenge points at the metadata and names the route's scope.
    let denied = client.get(&resource).send().await.expect("answered");
    assert_eq!(denied.status(), 401);
    let challenge = denied
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .expect("a challenge")
        .to_owned();
    let base_url = url::Url::parse(&resource).expect("url");
    let params = WWWAuthenticateParams::parse(&challenge, &base_url);
    assert_eq!(
        params.resource_metadata_url.as_ref().map(|u| u.as_str()),
        Some(format!("{base}/.well-known/oauth-protected-resource/mcp").as_str())
    );
    assert_eq!(params.scope.as_deref(), Some("messages:read"));

    // 2. rmcp follows the challenge to the metadata and on to the authorization server.
    let manager = AuthorizationManager::new(resource.as_str())
        .await
        .expect("manager");
    let resolution = manager
        .resolve_metadata_from_challenge(Some(&challenge))
        .await
        .expect("metadata from the challenge");
    assert_eq!(
        resolution.source,
        AuthorizationMetadataSource::ProtectedResourceMetadata
    );
    assert_eq!(resolution.metadata.token_endpoint, issuer.token_endpoint());

    // 3. A token with the scope the challenge named opens the route.
    let token = rmcp_token(&resource, &["messages:read"]).await;
    let reply = common::send(client.get(&resource).bearer_auth(&token)).await;
    assert_eq!(reply.status, 200, "body: {}", reply.body);
    assert_eq!(reply.body["caller"], "mcp-agent@clients");

    // 4. Another route needs more: the 403 names it, rmcp reads it, the client asks for it.
    let forbidden = client
        .get(format!("{resource}/send"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("answered");
    assert_eq!(forbidden.status(), 403);
    let challenge = forbidden
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .expect("a challenge")
        .to_owned();
    let params = WWWAuthenticateParams::parse(&challenge, &base_url);
    assert!(params.is_insufficient_scope(), "{challenge}");
    let wanted = params.scope.expect("the scope to ask for");
    assert_eq!(wanted, "messages:write");
    let upgraded = rmcp_token(&resource, &["messages:read", &wanted]).await;
    let retry = common::send(
        client
            .get(format!("{resource}/send"))
            .bearer_auth(&upgraded),
    )
    .await;
    assert_eq!(retry.status, 200, "body: {}", retry.body);
    assert_eq!(retry.body["sent"], true);
}
