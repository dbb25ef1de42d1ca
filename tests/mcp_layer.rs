//! The MCP endpoint layer over real HTTP: per-call requirements read from the JSON-RPC body,
//! in front of a stand-in MCP server that records what reaches it.
#![cfg(feature = "mcp")]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::Method;
use axum::routing::any;
use axum::{Json, Router};
use common::Reply;
use route_guard::layer::{any as any_of, Require};
use route_guard::mcp::{self, McpLayer, McpPolicy};
use route_guard::testing::{DpopKey, TestIssuer};
use route_guard::{Authenticator, ConfigError};
use serde_json::{json, Value};

/// One request that reached the stand-in MCP server: its method and body, byte for byte.
type Received = (Method, Vec<u8>);

/// What reached the stand-in MCP server.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<Received>>>);

impl Seen {
    fn take(&self) -> Vec<Received> {
        std::mem::take(&mut *self.0.lock().expect("lock"))
    }
}

async fn stand_in(State(seen): State<Seen>, method: Method, body: Bytes) -> Json<Value> {
    seen.0.lock().expect("lock").push((method, body.to_vec()));
    Json(json!({ "jsonrpc": "2.0", "id": 1, "result": {} }))
}

fn policy() -> McpPolicy {
    McpPolicy::new()
        .tool("read_messages", "messages:read")
        .tool("send_message", "messages:write")
        .tool("purge", any_of(["messages:admin", "admin"]))
        .tool_requires("audit", Require::new().roles("auditor"))
        .tool_requires("wire_money", Require::new().acr(["mfa"]))
        .prompt("summarize", "messages:read")
        .resource("file:///reports/*", "reports:read")
        .resource("file:///reports/secret", "secret:read")
        .method("logging/setLevel", "mcp:admin")
}

struct Mcp {
    issuer: TestIssuer,
    auth: Authenticator,
    url: String,
    base: String,
    seen: Seen,
    client: reqwest::Client,
    _server: tokio::task::JoinHandle<()>,
}

async fn start(policy: McpPolicy) -> Mcp {
    let issuer = TestIssuer::start().await.expect("issuer");
    let (listener, base) = common::bind().await;
    let url = format!("{base}/mcp");
    let auth = issuer
        .authenticator_builder()
        .roles_claim("roles")
        .protected_resource(&url)
        .build()
        .expect("builds");
    let seen = Seen::default();
    let app = Router::new()
        .route("/mcp", any(stand_in))
        .route_layer(mcp::layer(policy))
        .with_state(seen.clone())
        .layer(auth.layer())
        .merge(auth.protected_resource_router());
    let server = common::serve_on(listener, app);
    Mcp {
        issuer,
        auth,
        url,
        base,
        seen,
        client: common::client(),
        _server: server,
    }
}

fn call(method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params })
}

fn tool(name: &str) -> Value {
    call("tools/call", json!({ "name": name, "arguments": {} }))
}

impl Mcp {
    fn token(&self, scopes: &str) -> String {
        self.issuer.token().sub("mcp-client").scopes(scopes).sign()
    }

    async fn post(&self, token: Option<&str>, body: &Value) -> Reply {
        self.post_raw(token, serde_json::to_vec(body).expect("json"))
            .await
    }

    async fn post_raw(&self, token: Option<&str>, body: Vec<u8>) -> Reply {
        let mut request = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        common::send(request).await
    }

    fn metadata_url(&self) -> String {
        format!("{}/.well-known/oauth-protected-resource/mcp", self.base)
    }
}

/// A 403 `insufficient_scope` whose challenge asks for exactly `scope`.
fn assert_forbidden(reply: &Reply, scope: &str, mcp: &Mcp) {
    reply.assert_rejected(403, "insufficient_scope");
    assert!(
        reply.challenge().contains(&format!(
            ", scope=\"{scope}\", resource_metadata=\"{}\"",
            mcp.metadata_url()
        )),
        "challenge: {}",
        reply.challenge()
    );
}

#[tokio::test]
async fn without_a_valid_token_nothing_reaches_the_server() {
    let mcp = start(policy()).await;
    for method in [Method::POST, Method::GET, Method::DELETE] {
        let reply = common::send(mcp.client.request(method.clone(), &mcp.url)).await;
        reply.assert_rejected(401, "unauthorized");
        assert!(
            reply
                .challenge()
                .contains(&format!("resource_metadata=\"{}\"", mcp.metadata_url())),
            "{method}: {}",
            reply.challenge()
        );
    }
    let reply = mcp.post(None, &tool("read_messages")).await;
    reply.assert_rejected(401, "unauthorized");
    let expired = mcp
        .issuer
        .token()
        .scopes("messages:read")
        .expired_for(Duration::from_secs(600))
        .sign();
    let reply = mcp.post(Some(&expired), &tool("read_messages")).await;
    reply.assert_rejected(401, "invalid_token");
    let reply = mcp.post(Some("not.a.token"), &tool("read_messages")).await;
    reply.assert_rejected(401, "invalid_token");
    assert!(mcp.seen.take().is_empty());
}

#[tokio::test]
async fn each_call_needs_what_its_tool_prompt_resource_or_method_declares() {
    let mcp = start(policy()).await;
    let reader = mcp.token("messages:read");

    // Allowed: the body reaches the server byte for byte.
    let body = tool("read_messages");
    let reply = mcp.post(Some(&reader), &body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let seen = mcp.seen.take();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].1, serde_json::to_vec(&body).expect("json"));

    // A tool that needs more: the challenge keeps the scope the client has and adds the one
    // the call needs (the MCP specification's scope challenge), in the policy's order.
    let reply = mcp.post(Some(&reader), &tool("send_message")).await;
    assert_forbidden(&reply, "messages:read messages:write", &mcp);
    assert_eq!(
        reply.description(),
        "the token lacks the required scope messages:write"
    );
    // An any-of tool names all its alternatives.
    let reply = mcp.post(Some(&reader), &tool("purge")).await;
    assert_forbidden(&reply, "messages:read messages:admin admin", &mcp);
    assert!(reply.description().contains("one of"), "{}", reply.body);
    let admin = mcp.token("admin");
    assert_eq!(mcp.post(Some(&admin), &tool("purge")).await.status, 200);

    // Prompts, and completions of a prompt's arguments.
    let nobody = mcp.token("");
    let get = call("prompts/get", json!({ "name": "summarize" }));
    assert_forbidden(&mcp.post(Some(&nobody), &get).await, "messages:read", &mcp);
    assert_eq!(mcp.post(Some(&reader), &get).await.status, 200);
    let complete = call(
        "completion/complete",
        json!({ "ref": { "type": "ref/prompt", "name": "summarize" }, "argument": { "name": "a", "value": "" } }),
    );
    assert_forbidden(
        &mcp.post(Some(&nobody), &complete).await,
        "messages:read",
        &mcp,
    );

    // Resources: by prefix, and an exact URI under it needs both.
    let reports = mcp.token("reports:read");
    for method in [
        "resources/read",
        "resources/subscribe",
        "resources/unsubscribe",
    ] {
        let read = call(method, json!({ "uri": "file:///reports/q3.pdf" }));
        assert_forbidden(&mcp.post(Some(&nobody), &read).await, "reports:read", &mcp);
        assert_eq!(
            mcp.post(Some(&reports), &read).await.status,
            200,
            "{method}"
        );
    }
    let secret = call("resources/read", json!({ "uri": "file:///reports/secret" }));
    assert_forbidden(
        &mcp.post(Some(&reports), &secret).await,
        "reports:read secret:read",
        &mcp,
    );
    let elsewhere = call("resources/read", json!({ "uri": "file:///public/readme" }));
    assert_eq!(mcp.post(Some(&nobody), &elsewhere).await.status, 200);

    // A method, whatever it names.
    let level = call("logging/setLevel", json!({ "level": "debug" }));
    assert_forbidden(
        &mcp.post(Some(&reader), &level).await,
        "messages:read mcp:admin",
        &mcp,
    );

    // Not declared: any valid token. Lists are never filtered or rewritten.
    for body in [
        call(
            "initialize",
            json!({ "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "t", "version": "1" } }),
        ),
        json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }),
        call("tools/list", json!({})),
        tool("not_declared"),
        json!({ "jsonrpc": "2.0", "id": 9, "result": {} }),
    ] {
        let reply = mcp.post(Some(&nobody), &body).await;
        assert_eq!(reply.status, 200, "{body}: {}", reply.body);
    }
    // Every allowed call reached the server, no refused one did.
    assert_eq!(mcp.seen.take().len(), 1 + 1 + 3 + 1 + 5);
}

#[tokio::test]
async fn roles_and_step_up_on_a_tool() {
    let mcp = start(policy()).await;
    let plain = mcp.token("messages:read");
    let reply = mcp.post(Some(&plain), &tool("audit")).await;
    reply.assert_rejected(403, "insufficient_scope");
    assert_eq!(
        reply.description(),
        "the token lacks the required role auditor"
    );
    // No scope is needed, so none is asked for.
    assert!(
        !reply.challenge().contains("scope="),
        "{}",
        reply.challenge()
    );
    let auditor = mcp.issuer.token().claim("roles", json!(["auditor"])).sign();
    assert_eq!(mcp.post(Some(&auditor), &tool("audit")).await.status, 200);

    // Step-up (RFC 9470): 401 with acr_values, the client logs in again.
    let reply = mcp.post(Some(&plain), &tool("wire_money")).await;
    reply.assert_rejected(401, "insufficient_user_authentication");
    assert!(
        reply.challenge().contains("acr_values=\"mfa\""),
        "{}",
        reply.challenge()
    );
    let mfa = mcp.issuer.token().claim("acr", json!("mfa")).sign();
    assert_eq!(mcp.post(Some(&mfa), &tool("wire_money")).await.status, 200);
}

#[tokio::test]
async fn a_batch_must_satisfy_every_call_in_it() {
    let mcp = start(policy()).await;
    let reader = mcp.token("messages:read");
    let batch = json!([
        tool("read_messages"),
        call("tools/list", json!({})),
        tool("send_message"),
        call("resources/read", json!({ "uri": "file:///reports/a" })),
    ]);
    let reply = mcp.post(Some(&reader), &batch).await;
    assert_forbidden(&reply, "messages:read messages:write reports:read", &mcp);
    assert_eq!(
        reply.description(),
        "the token lacks the required scope messages:write reports:read"
    );
    assert!(mcp.seen.take().is_empty());

    let all = mcp.token("messages:read messages:write reports:read");
    let reply = mcp.post(Some(&all), &batch).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let seen = mcp.seen.take();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].1, serde_json::to_vec(&batch).expect("json"));
}

#[tokio::test]
async fn the_body_is_bounded() {
    let mcp = start(policy().max_body_bytes(2048)).await;
    let token = mcp.token("messages:read");
    let padded = |size: usize| {
        let mut body = serde_json::to_vec(&call(
            "tools/call",
            json!({ "name": "read_messages", "arguments": { "pad": "" } }),
        ))
        .expect("json");
        let pad = size - body.len();
        let at = body.len() - 4; // inside the empty "pad" string
        body.splice(at..at, std::iter::repeat_n(b'x', pad));
        body
    };
    // Exactly the bound passes.
    let reply = mcp.post_raw(Some(&token), padded(2048)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(mcp.seen.take()[0].1, padded(2048));

    // One byte over, with a Content-Length: 413, no challenge, nothing forwarded.
    let reply = mcp.post_raw(Some(&token), padded(2049)).await;
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert_eq!(reply.error(), "invalid_request");
    assert_eq!(
        reply.description(),
        "the request body is over this endpoint's limit of 2048 bytes"
    );
    assert_eq!(reply.www_authenticate, None);

    // Chunked, without a Content-Length: refused once it passes the bound.
    let status = post_chunked(&mcp.base, &token, &padded(4096)).await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    assert!(mcp.seen.take().is_empty());

    // The default bound is 1 MiB.
    assert_eq!(McpPolicy::new().max_body(), 1024 * 1024);
    assert_eq!(mcp::DEFAULT_MAX_BODY, 1024 * 1024);
}

/// POSTs `body` to `/mcp` in 512-byte chunks (`Transfer-Encoding: chunked`, no
/// `Content-Length`) over a raw connection; the response's status line.
async fn post_chunked(base: &str, token: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /mcp HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    for chunk in body.chunks(512) {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        // The server may answer and close before the last chunk: that is the point.
        if stream.write_all(&framed).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = vec![0u8; 256];
    let read = stream.read(&mut response).await.expect("a response");
    let text = String::from_utf8_lossy(&response[..read]).into_owned();
    text.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn malformed_json_goes_to_the_server_untouched_and_ambiguous_json_is_refused() {
    let mcp = start(policy()).await;
    let token = mcp.token("messages:read");
    for body in [
        &b"{\"jsonrpc\":\"2.0\",\"method\":\"tools/call\",\"params\":{\"name\":\"send_message\""[..],
        b"not json at all",
        b"",
    ] {
        let reply = mcp.post_raw(Some(&token), body.to_vec()).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let seen = mcp.seen.take();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].1, body, "forwarded unchanged");
    }
    // Still authenticated first.
    let reply = mcp.post_raw(None, b"not json".to_vec()).await;
    reply.assert_rejected(401, "unauthorized");

    // A tool named twice: parsers disagree on which one wins, so neither is guessed.
    let reply = mcp
        .post_raw(
            Some(&token),
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_messages","name":"send_message"}}"#.to_vec(),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.error(), "invalid_request");
    assert_eq!(reply.www_authenticate, None);
    // Nesting deeper than any parser's recursion limit cannot hide a call.
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":1,"x":{deep},"method":"tools/call","params":{{"name":"send_message"}}}}"#
    );
    let reply = mcp.post_raw(Some(&token), body.into_bytes()).await;
    assert_forbidden(&reply, "messages:read messages:write", &mcp);
    assert!(mcp.seen.take().is_empty());
}

#[tokio::test]
async fn an_endpoint_requirement_applies_to_every_request() {
    let mcp = start(McpPolicy::new().require(Require::new().scopes("mcp:access"))).await;
    // The 401 names what every request needs.
    let reply = mcp.post(None, &call("tools/list", json!({}))).await;
    assert!(
        reply.challenge().contains("scope=\"mcp:access\""),
        "{}",
        reply.challenge()
    );
    let without = mcp.token("messages:read");
    let reply = common::send(mcp.client.get(&mcp.url).bearer_auth(&without)).await;
    reply.assert_rejected(403, "insufficient_scope");
    assert!(reply.challenge().contains("scope=\"mcp:access\""));
    let with = mcp.token("mcp:access");
    let reply = common::send(mcp.client.get(&mcp.url).bearer_auth(&with)).await;
    assert_eq!(reply.status, 200);
    let reply = common::send(mcp.client.delete(&mcp.url).bearer_auth(&with)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(mcp.seen.take().len(), 2);
}

#[tokio::test]
async fn declared_scopes_join_the_metadata_and_each_request_verifies_once() {
    let mcp = start(policy()).await;
    let metadata = common::send(mcp.client.get(mcp.metadata_url())).await;
    assert_eq!(metadata.status, 200);
    let supported: Vec<&str> = metadata.body["scopes_supported"]
        .as_array()
        .expect("scopes_supported")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for scope in [
        "messages:read",
        "messages:write",
        "messages:admin",
        "admin",
        "reports:read",
        "secret:read",
        "mcp:admin",
    ] {
        assert!(supported.contains(&scope), "{scope} in {supported:?}");
    }

    let token = mcp.token("messages:read");
    let before = mcp.auth.stats();
    for _ in 0..3 {
        assert_eq!(
            mcp.post(Some(&token), &tool("read_messages")).await.status,
            200
        );
    }
    let after = mcp.auth.stats();
    assert_eq!(after.verified() - before.verified(), 3);
}

#[tokio::test]
async fn a_dpop_bound_token_passes_with_its_proof() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let (listener, base) = common::bind().await;
    let url = format!("{base}/mcp");
    let auth = issuer
        .authenticator_builder()
        .dpop(route_guard::DpopMode::Allowed)
        .protected_resource(&url)
        .build()
        .expect("builds");
    let seen = Seen::default();
    let app = Router::new()
        .route("/mcp", any(stand_in))
        .route_layer(mcp::layer(policy()))
        .with_state(seen.clone())
        .layer(auth.layer());
    let _server = common::serve_on(listener, app);
    let key = DpopKey::generate().expect("key");
    let token = issuer
        .token()
        .scopes("messages:read")
        .dpop_bound(&key)
        .sign();
    let client = common::client();
    let post = |body: Value| {
        client
            .post(&url)
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", key.proof("POST", &url, &token))
            .json(&body)
    };
    assert_eq!(common::send(post(tool("read_messages"))).await.status, 200);
    let reply = common::send(post(tool("send_message"))).await;
    assert_eq!(reply.status, 403);
    assert!(
        reply
            .challenge()
            .starts_with("DPoP realm=\"api\", error=\"insufficient_scope\""),
        "{}",
        reply.challenge()
    );
    assert_eq!(seen.take().len(), 1);
}

#[test]
fn a_policy_that_can_never_be_met_is_a_typed_error() {
    let error = McpLayer::try_from(McpPolicy::new().tool("send_message", "messages write"))
        .expect_err("whitespace in a scope");
    assert!(
        matches!(
            error,
            ConfigError::InvalidSetting {
                setting: "Require::scopes",
                ..
            }
        ),
        "{error:?}"
    );
    let error = McpLayer::try_from(McpPolicy::new().prompt("", "a")).expect_err("empty name");
    assert!(error.to_string().contains("McpPolicy::prompt"), "{error}");
    assert!(std::panic::catch_unwind(|| mcp::layer(McpPolicy::new().max_body_bytes(0))).is_err());
}
