//! End to end: `examples/mcp_server.rs` (an `rmcp` server on axum behind `route_guard::mcp`) as a
//! user runs it, driven by the official Rust MCP SDK's own client: its streamable-HTTP transport,
//! its RFC 9728 discovery and its OAuth client credentials, against the example's development
//! issuer.

use crate::common;

use std::process::Stdio;
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::auth::{
    AuthClient, AuthorizationManager, AuthorizationMetadataSource, ClientCredentialsConfig,
    OAuthState, WWWAuthenticateParams,
};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{RoleClient, ServiceExt};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

struct Example {
    _child: Child,
    /// The MCP endpoint, as printed.
    url: String,
    /// The development issuer's token endpoint, as printed.
    token_endpoint: String,
    printed: Vec<String>,
}

/// Starts the example in development mode (no `AUTH0_*`) on a free port and reads what it
/// prints up to its "listening on" line.
async fn start() -> Example {
    let dir = std::env::temp_dir().join(format!("route-guard-mcp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut child = Command::new(common::example_binary("mcp_server"))
        .env_clear()
        .env("PORT", "0")
        .env("RUST_LOG", "warn")
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the mcp_server example is built by `cargo test --workspace --all-features`");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut printed = Vec::new();
    let read = async {
        while let Some(line) = lines.next_line().await.expect("stdout line") {
            let done = line.starts_with("listening on ");
            printed.push(line);
            if done {
                return;
            }
        }
        panic!("the example exited: {printed:?}");
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("the example starts within 30 s");
    let field = |label: &str| -> String {
        printed
            .iter()
            .find_map(|line| line.trim().strip_prefix(label))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("`{label}` in {printed:#?}"))
            .to_owned()
    };
    Example {
        url: field("MCP endpoint:"),
        token_endpoint: field("token endpoint:"),
        printed,
        _child: child,
    }
}

/// A token for `scopes` through rmcp's own OAuth state machine: RFC 9728 metadata from the
/// resource, RFC 8414 metadata of the authorization server it names, client credentials with
/// `resource` (RFC 8707) and `scope`.
async fn authorize(resource: &str, scopes: &[&str]) -> AuthorizationManager {
    let mut state = OAuthState::new(resource, None)
        .await
        .expect("rmcp's OAuth state");
    state
        .authenticate_client_credentials(ClientCredentialsConfig::ClientSecret {
            client_id: "mcp-agent".into(),
            client_secret: "mcp-secret".into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            resource: Some(resource.to_owned()),
        })
        .await
        .expect("client credentials through rmcp");
    state
        .into_authorization_manager()
        .expect("authorized after client credentials")
}

/// An MCP session through rmcp's streamable-HTTP client, sending `manager`'s token.
async fn connect(url: &str, manager: AuthorizationManager) -> RunningService<RoleClient, ()> {
    let client = AuthClient::new(reqwest::Client::new(), manager);
    let transport = StreamableHttpClientTransport::with_client(
        client,
        StreamableHttpClientTransportConfig::with_uri(url),
    );
    ().serve(transport).await.expect("initialized")
}

fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn send(text: &str) -> CallToolRequestParams {
    let arguments = serde_json::json!({ "text": text });
    let serde_json::Value::Object(arguments) = arguments else {
        unreachable!("an object literal")
    };
    CallToolRequestParams::new("send_message").with_arguments(arguments)
}

#[tokio::test]
async fn rmcp_discovers_authorizes_calls_and_upgrades_its_scope() {
    let example = start().await;
    let url = example.url.clone();
    let base_url = url::Url::parse(&url).expect("url");
    assert!(
        example
            .printed
            .iter()
            .any(|l| l.contains("curl -s -u mcp-agent:mcp-secret")),
        "{:#?}",
        example.printed
    );

    // 1. rmcp without credentials: initialize is refused with 401, and the challenge points at
    //    the metadata.
    let refused =
        ().serve(StreamableHttpClientTransport::from_uri(url.as_str()))
            .await
            .expect_err("401 without a token");
    let challenge = refused
        .auth_challenge()
        .expect("rmcp surfaces the challenge")
        .to_owned();
    let params = WWWAuthenticateParams::parse(&challenge, &base_url);
    let metadata_url = format!(
        "{}/.well-known/oauth-protected-resource/mcp",
        url.trim_end_matches("/mcp")
    );
    assert_eq!(
        params.resource_metadata_url.as_ref().map(|u| u.as_str()),
        Some(metadata_url.as_str()),
        "{challenge}"
    );

    // 2. rmcp follows it to the metadata, and from there to the authorization server.
    let manager = AuthorizationManager::new(url.as_str())
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
    assert_eq!(resolution.metadata.token_endpoint, example.token_endpoint);

    // 3. A token with messages:read: initialize, list the tools, call read_messages.
    let reader = connect(&url, authorize(&url, &["messages:read"]).await).await;
    let tools = reader.list_all_tools().await.expect("tools/list");
    let mut names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    names.sort();
    assert_eq!(names, ["read_messages", "send_message"]);
    let read = reader
        .call_tool(CallToolRequestParams::new("read_messages"))
        .await
        .expect("read_messages with messages:read");
    assert_eq!(text(&read), "no messages yet");

    // 4. send_message needs messages:write: 403 insufficient_scope, asking for both scopes so
    //    the upgraded token keeps what the client had.
    let forbidden = reader
        .call_tool(send("hello"))
        .await
        .expect_err("send_message without messages:write");
    let challenge = forbidden
        .auth_challenge()
        .expect("rmcp surfaces the 403 challenge")
        .to_owned();
    let params = WWWAuthenticateParams::parse(&challenge, &base_url);
    assert!(params.is_insufficient_scope(), "{challenge}");
    assert_eq!(
        params.scope.as_deref(),
        Some("messages:read messages:write"),
        "{challenge}"
    );
    assert_eq!(
        params.resource_metadata_url.as_ref().map(|u| u.as_str()),
        Some(metadata_url.as_str())
    );
    let _ = reader.cancel().await;

    // 5. The client asks for what the challenge named, and the call goes through.
    let wanted = params.scope.expect("scope");
    let wanted: Vec<&str> = wanted.split(' ').collect();
    let writer = connect(&url, authorize(&url, &wanted).await).await;
    let sent = writer
        .call_tool(send("hello"))
        .await
        .expect("send_message with messages:write");
    // The tool read the caller from route-guard's verification.
    assert_eq!(text(&sent), "posted as mcp-agent@clients");
    let read = writer
        .call_tool(CallToolRequestParams::new("read_messages"))
        .await
        .expect("read_messages");
    assert_eq!(text(&read), "mcp-agent@clients: hello");
    let _ = writer.cancel().await;
}
