//! An MCP server on axum, written with the official Rust MCP SDK (`rmcp`, streamable HTTP) and
//! protected by route-guard: every request needs a valid token, `read_messages` needs the scope
//! `messages:read` and `send_message` `messages:write`, and the server publishes its Protected
//! Resource Metadata (RFC 9728) so an MCP client finds its authorization server by itself.
//!
//! ```sh
//! cargo run -p route-guard-integration --example mcp_server
//! ```
//!
//! - `AUTH0_DOMAIN` + `AUTH0_AUDIENCE`: a real Auth0 tenant. The API's identifier (the
//!   audience) is the MCP server's URL, without a trailing slash, and is the resource the
//!   metadata names unless `AUTH0_RESOURCE_URL` says otherwise. Turn on the tenant's Resource
//!   Parameter Compatibility Profile so Auth0 honours the `resource` MCP clients send (RFC 8707).
//! - neither: development mode. An embedded issuer starts on loopback as the authorization
//!   server, with a client `mcp-agent` / `mcp-secret` allowed both scopes (client credentials),
//!   and the `curl` lines for a token are printed.
//!
//! `PORT` (default 3002, `0` for any free port), `HOST` (default 127.0.0.1) and `RUST_LOG`
//! complete the configuration.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::Router;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{schemars, tool, tool_handler, tool_router, ServerHandler};
use route_guard::mcp::{self, McpPolicy};
use route_guard::testing::{TestClient, TestIssuer};
use route_guard::{Authenticator, AuthenticatorBuilder, Claims, StandardClaims};
use serde::Deserialize;

/// The development client (client credentials), allowed both scopes.
const DEV_CLIENT: (&str, &str) = ("mcp-agent", "mcp-secret");

/// The MCP server: a shared message board.
#[derive(Clone)]
struct Messages {
    board: Arc<Mutex<Vec<(String, String)>>>,
    #[allow(dead_code)] // read by `#[tool_handler]`
    tool_router: ToolRouter<Self>,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct SendMessage {
    /// The message.
    text: String,
}

#[tool_router]
impl Messages {
    fn new() -> Self {
        Messages {
            board: Arc::default(),
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "Read every message on the board (needs the scope messages:read)")]
    async fn read_messages(&self) -> String {
        let board = self.board.lock().unwrap_or_else(|p| p.into_inner());
        match board.is_empty() {
            true => "no messages yet".to_owned(),
            false => board
                .iter()
                .map(|(from, text)| format!("{from}: {text}"))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    #[tool(description = "Post a message to the board (needs the scope messages:write)")]
    async fn send_message(
        &self,
        Parameters(SendMessage { text }): Parameters<SendMessage>,
        Extension(mut parts): Extension<Parts>,
    ) -> String {
        // route-guard verified the token before rmcp saw the request; the claims are read from
        // that verification, not verified again.
        let from = Claims::<StandardClaims>::from_request_parts(&mut parts, &())
            .await
            .ok()
            .and_then(|claims| claims.0.sub)
            .unwrap_or_else(|| "?".to_owned());
        let mut board = self.board.lock().unwrap_or_else(|p| p.into_inner());
        board.push((from.clone(), text));
        format!("posted as {from}")
    }
}

#[tool_handler]
impl ServerHandler for Messages {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("route-guard-messages", "1.0.0"))
            .with_instructions("A message board: read_messages, send_message.")
    }
}

/// What each tool needs, next to the tools.
fn policy() -> McpPolicy {
    McpPolicy::new()
        .tool("read_messages", "messages:read")
        .tool("send_message", "messages:write")
}

/// The MCP endpoint at `/mcp`, guarded, with the metadata routes beside it.
fn app(auth: &Authenticator, allowed_hosts: Vec<String>) -> Router {
    let config = StreamableHttpServerConfig::default().with_allowed_hosts(allowed_hosts);
    let board = Messages::new();
    let mcp_server: StreamableHttpService<Messages, LocalSessionManager> =
        StreamableHttpService::new(move || Ok(board.clone()), Default::default(), config);
    Router::new()
        .nest_service("/mcp", mcp_server)
        .route_layer(mcp::layer(policy()))
        .layer(auth.layer())
        .merge(auth.protected_resource_router())
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

async fn run() -> Result<(), String> {
    let builder = AuthenticatorBuilder::from_env().map_err(|e| e.to_string())?;
    let configured = ["AUTH0_DOMAIN", "AUTH0_DOMAINS", "AUTH0_ISSUER_BASE_URL"]
        .into_iter()
        .any(|name| env(name).is_some());
    let host = env("HOST").unwrap_or_else(|| "127.0.0.1".to_owned());
    let port = env("PORT").unwrap_or_else(|| "3002".to_owned());
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
    let local_url = format!("http://{local}/mcp");

    let (auth, resource, dev_issuer) = match configured {
        true => {
            // The MCP way: the API identifier is the server's URL (RFC 8707 `resource`).
            let resource = env("AUTH0_RESOURCE_URL")
                .or_else(|| env("AUTH0_AUDIENCE"))
                .ok_or("set AUTH0_AUDIENCE to the MCP server's URL (the Auth0 API identifier)")?;
            let auth = builder
                .protected_resource(&resource)
                .build()
                .map_err(|e| e.to_string())?;
            (auth, resource, None)
        }
        false => {
            let issuer = TestIssuer::start()
                .await
                .map_err(|e| format!("the development issuer could not start: {e}"))?;
            issuer.register_client(
                TestClient::new(DEV_CLIENT.0, DEV_CLIENT.1)
                    .scopes(["messages:read", "messages:write"])
                    .audiences([local_url.clone()]),
            );
            let auth = issuer
                .authenticator_builder()
                .audience(&local_url)
                .protected_resource(&local_url)
                .build()
                .map_err(|e| e.to_string())?;
            (auth, local_url.clone(), Some(issuer))
        }
    };
    if let Err(e) = auth.warm_up().await {
        tracing::warn!("{e}");
    }
    // rmcp answers only requests whose Host it knows (DNS rebinding): loopback, and the
    // resource's own host.
    let mut allowed_hosts = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if let Some(resource_host) = url::Url::parse(&resource)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
    {
        allowed_hosts.push(resource_host);
    }

    match &dev_issuer {
        Some(issuer) => print_dev_mode(issuer, &resource),
        None => println!("route-guard MCP server: resource {resource}"),
    }
    println!("listening on http://{local}");
    axum::serve(listener, app(&auth, allowed_hosts))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
            println!("shutting down");
        })
        .await
        .map_err(|e| e.to_string())
}

fn print_dev_mode(issuer: &TestIssuer, resource: &str) {
    let (id, secret) = DEV_CLIENT;
    let token_endpoint = issuer.token_endpoint();
    println!("route-guard MCP server: development mode (set AUTH0_DOMAIN and AUTH0_AUDIENCE for a real tenant)");
    println!("  MCP endpoint:       {resource} (streamable HTTP)");
    println!(
        "  authorization:      {} (client credentials)",
        issuer.issuer()
    );
    println!("  token endpoint:     {token_endpoint}");
    println!("  client:             {id} / {secret} (scopes messages:read messages:write)");
    println!();
    println!("Connect an MCP client to {resource}: it gets 401 with the metadata URL, finds the");
    println!("authorization server there, and asks it for a token (client credentials above).");
    println!();
    println!("Or get a token by hand and call the tools:");
    println!(
        "  TOKEN=$(curl -s -u {id}:{secret} -d grant_type=client_credentials -d scope=messages:read -d resource={resource} {token_endpoint} | sed 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/')"
    );
    println!(
        "  curl -i -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2025-11-25' \\"
    );
    println!(
        "    -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{{\"name\":\"send_message\",\"arguments\":{{\"text\":\"hi\"}}}}}}' {resource}"
    );
    println!("  # 403 insufficient_scope, scope=\"messages:read messages:write\": ask for both with -d 'scope=messages:read messages:write'");
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
