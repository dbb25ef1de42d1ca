//! The MCP endpoint layer over real HTTP: per-call requirements read from the JSON-RPC body,
//! in front of a stand-in MCP server that records what reaches it.

use crate::common;

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

/// A JSON-RPC error answer of the guard itself: status, code, no challenge, `id` null.
fn assert_jsonrpc_error(reply: &Reply, status: u16, code: i64) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.body["jsonrpc"], "2.0", "{}", reply.body);
    assert_eq!(reply.body["id"], Value::Null, "{}", reply.body);
    assert_eq!(reply.body["error"]["code"], code, "{}", reply.body);
    assert!(reply.body["error"]["message"].is_string(), "{}", reply.body);
    assert_eq!(reply.www_authenticate, None);
}

#[tokio::test]
async fn a_body_that_is_not_strict_json_is_refused_with_a_parse_error() {
    let mcp = start(policy()).await;
    let token = mcp.token("messages:read");
    let send = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"send_message","arguments":{}}}"#;
    let with_bom = [&b"\xef\xbb\xbf"[..], send.as_bytes()].concat();
    let with_nan = send.replace("{}}", r#"{"n":NaN}}"#).into_bytes();
    let with_infinity = send.replace("{}}", r#"{"n":-Infinity}}"#).into_bytes();
    // An invalid byte inside the key, which a lenient decoder turns into U+FFFD.
    let bad_key = send
        .replace(r#""arguments""#, "\"argu\u{fffd}ments\"")
        .into_bytes();
    let bad_key = replace_bytes(&bad_key, "\u{fffd}".as_bytes(), b"\xff");
    let utf16: Vec<u8> = [0xff, 0xfe]
        .into_iter()
        .chain(send.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    for body in [
        with_bom,
        with_nan,
        with_infinity,
        bad_key,
        utf16,
        br#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"send_message""#.to_vec(),
        b"not json at all".to_vec(),
        Vec::new(),
    ] {
        let reply = mcp.post_raw(Some(&token), body.clone()).await;
        assert_jsonrpc_error(&reply, 400, -32700);
        assert_eq!(
            reply.body["error"]["message"],
            "the body is not a JSON-RPC message in strict JSON (RFC 8259, UTF-8, no byte-order mark)",
            "{body:?}"
        );
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
    assert_jsonrpc_error(&reply, 400, -32600);
    // A tool named in a form the guard cannot read.
    let reply = mcp
        .post(Some(&token), &call("tools/call", json!(["send_message"])))
        .await;
    assert_jsonrpc_error(&reply, 400, -32602);
    // Nesting deeper than any parser's recursion limit cannot hide a call.
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":1,"x":{deep},"method":"tools/call","params":{{"name":"send_message"}}}}"#
    );
    let reply = mcp.post_raw(Some(&token), body.into_bytes()).await;
    assert_forbidden(&reply, "messages:read messages:write", &mcp);
    assert!(mcp.seen.take().is_empty());
    // Every refusal of a body was counted: the eight bodies, the repeated name, the params.
    let counted = mcp
        .auth
        .stats()
        .rejected(route_guard::RejectionReason::InvalidRequest);
    assert_eq!(counted, 10);
}

fn replace_bytes(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let at = haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle");
    [&haystack[..at], with, &haystack[at + needle.len()..]].concat()
}

#[tokio::test]
async fn an_encoded_body_and_other_methods_are_refused() {
    let mcp = start(policy()).await;
    let token = mcp.token("messages:read");
    let send = serde_json::to_vec(&tool("send_message")).expect("json");
    // A gzip body a decompression layer inside the guard would decode: never judged, so
    // refused, whatever it holds. So is any coding but identity.
    for coding in ["gzip", "br", "deflate", "identity, gzip", "x-custom"] {
        let reply = common::send(
            mcp.client
                .post(&mcp.url)
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .header("content-encoding", coding)
                .body(send.clone()),
        )
        .await;
        assert_eq!(reply.status, 415, "{coding}: {}", reply.body);
        assert_eq!(reply.error(), "invalid_request");
        assert_eq!(reply.header("accept-encoding"), "identity");
        assert_eq!(reply.www_authenticate, None);
    }
    let identity = common::send(
        mcp.client
            .post(&mcp.url)
            .bearer_auth(&token)
            .header("content-encoding", "identity")
            .body(serde_json::to_vec(&tool("read_messages")).expect("json")),
    )
    .await;
    assert_eq!(identity.status, 200, "{}", identity.body);
    assert_eq!(mcp.seen.take().len(), 1);

    let with_body = |method: &Method, body: Vec<u8>| {
        common::send(
            mcp.client
                .request(method.clone(), &mcp.url)
                .bearer_auth(&token)
                .body(body),
        )
    };
    for method in ["PUT", "PATCH", "OPTIONS", "PROPFIND"] {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let reply = with_body(&method, send.clone()).await;
        assert_eq!(reply.status, 405, "{method}: {}", reply.body);
        assert_eq!(reply.header("allow"), "GET, POST, DELETE");
        assert_eq!(reply.error(), "invalid_request");
    }
    // A GET or DELETE with a body has it judged like a POST's.
    for method in [Method::GET, Method::DELETE] {
        let reply = with_body(&method, send.clone()).await;
        assert_forbidden(&reply, "messages:read messages:write", &mcp);
        let reply = with_body(&method, "\u{feff}{}".as_bytes().to_vec()).await;
        assert_jsonrpc_error(&reply, 400, -32700);
    }
    assert!(mcp.seen.take().is_empty());
}

#[tokio::test]
async fn newer_methods_and_completion_forms_need_their_resource_or_prompt() {
    let mcp = start(policy()).await;
    let nobody = mcp.token("");
    let reports = mcp.token("reports:read");
    for body in [
        call(
            "resources/directory/read",
            json!({ "uri": "file:///reports/" }),
        ),
        call(
            "skills/get",
            json!({ "uri": "file:///reports/skill/SKILL.md" }),
        ),
        call(
            "subscriptions/listen",
            json!({ "notifications": { "toolsListChanged": true, "resourceSubscriptions": ["file:///public/a", "file:///reports/q3"] } }),
        ),
    ] {
        assert_forbidden(&mcp.post(Some(&nobody), &body).await, "reports:read", &mcp);
        let reply = mcp.post(Some(&reports), &body).await;
        assert_eq!(reply.status, 200, "{body}: {}", reply.body);
    }
    // A listen stream with no resource subscriptions names nothing.
    let quiet = call(
        "subscriptions/listen",
        json!({ "notifications": { "toolsListChanged": true } }),
    );
    assert_eq!(mcp.post(Some(&nobody), &quiet).await.status, 200);
    // The filter in serde's sequence form is refused, not read as naming nothing.
    let sequence = call(
        "subscriptions/listen",
        json!({ "notifications": [null, null, null, ["file:///reports/q3"]] }),
    );
    assert_jsonrpc_error(&mcp.post(Some(&reports), &sequence).await, 400, -32602);
    // `ref` in serde's sequence form names its prompt as the object form does.
    let complete = call(
        "completion/complete",
        json!({ "ref": ["ref/prompt", "summarize"], "argument": { "name": "a", "value": "" } }),
    );
    assert_forbidden(
        &mcp.post(Some(&nobody), &complete).await,
        "messages:read",
        &mcp,
    );
    assert_eq!(mcp.seen.take().len(), 4);
}

#[tokio::test]
async fn default_deny_closes_what_the_policy_does_not_name() {
    let mcp = start(policy().deny_unlisted()).await;
    let everything = mcp.token("messages:read messages:write reports:read secret:read admin");
    let reply = mcp.post(Some(&everything), &tool("added_later")).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(reply.error(), "access_denied");
    assert_eq!(
        reply.description(),
        "the tool added_later is not allowed on this endpoint: its policy denies what it does not name"
    );
    assert_eq!(reply.www_authenticate, None);
    for body in [
        call("prompts/get", json!({ "name": "other" })),
        call("resources/read", json!({ "uri": "file:///etc/passwd" })),
        call(
            "completion/complete",
            json!({ "ref": { "type": "ref/resource", "uri": "db://{x}" } }),
        ),
        call("custom/method", json!({})),
    ] {
        let reply = mcp.post(Some(&everything), &body).await;
        assert_eq!(reply.status, 403, "{body}: {}", reply.body);
        assert_eq!(reply.error(), "access_denied");
    }
    // What it names, and MCP's methods that name nothing, work as before.
    for body in [
        tool("read_messages"),
        call("resources/read", json!({ "uri": "file:///reports/q3" })),
        call("tools/list", json!({})),
        call("ping", json!({})),
        json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }),
    ] {
        let reply = mcp.post(Some(&everything), &body).await;
        assert_eq!(reply.status, 200, "{body}: {}", reply.body);
    }
    assert_eq!(mcp.seen.take().len(), 5);
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

/// What a body names, as a set a policy can answer for: each tool, prompt and resource, or
/// that the guard refused to read it.
#[derive(Debug, PartialEq, Eq)]
enum Reading {
    /// The scopes the calls need (none: passes).
    Needs(Vec<String>),
    /// A call the default-deny policy does not name.
    Unlisted,
    /// The guard's JSON-RPC error: it would not read the body.
    Refused,
}

/// rmcp's own reading of `body` (its `ClientJsonRpcMessage`, what its server runs), in the
/// terms of [`differential_policy`]; `None` when rmcp refuses the body.
fn rmcp_reading(body: &[u8]) -> Option<Reading> {
    use rmcp::model::{ClientJsonRpcMessage, ClientRequest, JsonRpcMessage, Reference};
    let message: ClientJsonRpcMessage = serde_json::from_slice(body).ok()?;
    let JsonRpcMessage::Request(request) = message else {
        return Some(Reading::Needs(Vec::new()));
    };
    let (tools, prompts, resources): (Vec<String>, Vec<String>, Vec<String>) = match request.request
    {
        ClientRequest::CallToolRequest(r) => (vec![r.params.name.into_owned()], vec![], vec![]),
        ClientRequest::GetPromptRequest(r) => (vec![], vec![r.params.name], vec![]),
        ClientRequest::ReadResourceRequest(r) => (vec![], vec![], vec![r.params.uri]),
        ClientRequest::SubscribeRequest(r) => (vec![], vec![], vec![r.params.uri]),
        ClientRequest::UnsubscribeRequest(r) => (vec![], vec![], vec![r.params.uri]),
        ClientRequest::GetSkillRequest(r) => (vec![], vec![], vec![r.params.uri]),
        ClientRequest::ReadResourceDirectoryRequest(r) => (vec![], vec![], vec![r.params.uri]),
        ClientRequest::SubscriptionsListenRequest(r) => (
            vec![],
            vec![],
            r.params
                .notifications
                .resource_subscriptions
                .unwrap_or_default(),
        ),
        ClientRequest::CompleteRequest(r) => match r.params.r#ref {
            Reference::Prompt(p) => (vec![], vec![p.name], vec![]),
            Reference::Resource(p) => (vec![], vec![], vec![p.uri]),
            _ => return None,
        },
        // rmcp's requests are an untagged union: a known method whose params it cannot read
        // falls through to CustomRequest, which its server answers "method not found"
        // without running the tool, prompt or resource. That is rmcp refusing the call.
        ClientRequest::CustomRequest(r) if NAMING.contains(&r.method.as_str()) => return None,
        ClientRequest::CustomRequest(_) => return Some(Reading::Unlisted),
        _ => (vec![], vec![], vec![]),
    };
    let mut needs = Vec::new();
    for tool in tools {
        match tool.as_str() {
            "read" | "send" => needs.push(format!("tool:{tool}")),
            _ => return Some(Reading::Unlisted),
        }
    }
    for prompt in prompts {
        match prompt.as_str() {
            "greet" => needs.push("prompt:greet".to_owned()),
            _ => return Some(Reading::Unlisted),
        }
    }
    for uri in resources {
        match uri.strip_prefix("file:///r/") {
            Some(_) => needs.push("res:r".to_owned()),
            None => return Some(Reading::Unlisted),
        }
    }
    needs.sort();
    needs.dedup();
    Some(Reading::Needs(needs))
}

/// MCP's methods that name a tool, prompt or resource.
const NAMING: [&str; 9] = [
    "tools/call",
    "prompts/get",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "resources/directory/read",
    "skills/get",
    "subscriptions/listen",
    "completion/complete",
];

fn differential_policy() -> McpPolicy {
    McpPolicy::new()
        .deny_unlisted()
        .tool("read", "tool:read")
        .tool("send", "tool:send")
        .prompt("greet", "prompt:greet")
        .resource("file:///r/*", "res:r")
}

/// The guard's reading of `reply`, to a token holding no scope.
fn guard_reading(reply: &Reply) -> Reading {
    match (reply.status.as_u16(), reply.error()) {
        (200, _) => Reading::Needs(Vec::new()),
        (400, _) if reply.body["error"]["code"].is_i64() => Reading::Refused,
        (403, "access_denied") => Reading::Unlisted,
        (403, "insufficient_scope") => {
            let challenge = reply.challenge();
            let scope = challenge
                .split("scope=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_default();
            let mut needs: Vec<String> = scope.split(' ').map(str::to_owned).collect();
            needs.sort();
            Reading::Needs(needs)
        }
        _ => panic!("unexpected answer {}: {}", reply.status, reply.body),
    }
}

/// Bodies around each naming method: the plain forms, escapes, repeats, shapes serde accepts
/// besides the plain one, deep nesting, batches, encodings.
fn differential_corpus() -> Vec<Vec<u8>> {
    let deep = format!("{}{}", "[".repeat(3000), "]".repeat(3000));
    let text = [
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"send"}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read","arguments":{"a":1}}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"other"}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"n\u0061me":"s\u0065nd"}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"tools\/call","params":{"name":"send"}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read","name":"send"}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read"},"params":{"name":"send"}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"tools/call","params":{"name":"send"}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":["send"]}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":["send"]}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"Name":"send","name":"read"}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"Tools/Call","params":{"name":"send"}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"name":"read"},"name":"send"}}"#.to_owned(),
        format!(r#"{{"jsonrpc":"2.0","id":1,"x":{deep},"method":"tools/call","params":{{"name":"send","arguments":{{"d":{deep}}}}}}}"#),
        r#"{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"greet"}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"other"}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///r/a"}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///etc/passwd"}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":"file:///r/a"}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"resources/unsubscribe","params":{"uri":"file:///r/a"}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"resources/directory/read","params":{"uri":"file:///r/"}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"skills/get","params":{"uri":"file:///r/s/SKILL.md"}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"skills/get","params":{"uri":"skill://x"}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"_meta":{},"notifications":{"resourceSubscriptions":["file:///r/a"]}}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"_meta":{},"notifications":{"resourceSubscriptions":["file:///r/a","file:///x"]}}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"_meta":{},"notifications":[null,null,null,["file:///x"]]}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"_meta":{},"notifications":{"toolsListChanged":true}}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"greet"},"argument":{"name":"a","value":""}}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":["ref/prompt","greet"],"argument":{"name":"a","value":""}}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":["ref/prompt","greet",null],"argument":{"name":"a","value":""}}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":["ref/prompt","other",null],"argument":{"name":"a","value":""}}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":["ref/resource","file:///r/{x}"],"argument":{"name":"a","value":""}}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"name":"greet","type":"ref/prompt"},"argument":{"name":"a","value":""}}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"db://x"},"argument":{"name":"a","value":""}}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"custom/thing","params":{}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"result":{}}"#.to_owned(),
        r#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"send"}}]"#.to_owned(),
        r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"read"}}]"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"send","arguments":{"n":NaN}}}"#.to_owned(),
        "\u{feff}{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"send\"}}".to_owned(),
    ];
    let mut corpus: Vec<Vec<u8>> = text.into_iter().map(String::into_bytes).collect();
    let mut bad =
        br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"send","x":""#.to_vec();
    bad.extend_from_slice(b"\xff\"}}");
    corpus.push(bad);
    corpus
}

#[tokio::test]
async fn the_guard_reads_each_call_as_rmcp_does_or_refuses_it() {
    let mcp = start(differential_policy()).await;
    let token = mcp.token("");
    let mut agreed = 0;
    let mut refused = 0;
    for body in differential_corpus() {
        let shown = String::from_utf8_lossy(&body)
            .chars()
            .take(160)
            .collect::<String>();
        let reply = mcp.post_raw(Some(&token), body.clone()).await;
        assert!(reply.status.as_u16() < 500, "{shown}: {}", reply.status);
        let guard = guard_reading(&reply);
        match rmcp_reading(&body) {
            // rmcp runs nothing from this body: whatever the guard says, nothing is bypassed.
            None => {}
            Some(_) if guard == Reading::Refused => refused += 1,
            Some(rmcp) => {
                assert_eq!(guard, rmcp, "{shown}");
                agreed += 1;
            }
        }
    }
    // Most of the corpus is read by both; what the guard refuses that rmcp reads is the
    // sequence-form filter (rmcp reads it; the guard will not guess).
    println!("{agreed} read alike, {refused} refused by the guard alone");
    assert!(agreed >= 25, "{agreed} agreed");
    assert!(refused <= 2, "{refused} refused that rmcp reads");
}
