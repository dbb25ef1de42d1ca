//! Fuzzes the MCP guard: arbitrary bytes as the JSON-RPC body of a request to an MCP endpoint
//! (the public `McpLayer` in front of a stand-in server, no sockets), with a valid token that
//! holds no scope, under a default-deny policy where the tool `send` needs `messages:write`.
//! Nothing may panic; every answer is 200, 400 (a JSON-RPC error), 403 or 413; and no body
//! that a plain JSON reader (`serde_json::Value`) or a lenient one (lossy UTF-8, a byte-order
//! mark stripped) reads as calling `send` ever reaches the server.
#![no_main]

use std::sync::OnceLock;

use auth_runtime::mcp::{self, McpPolicy};
use auth_runtime::testing::TestIssuer;
use auth_runtime::Authenticator;
use axum::body::{to_bytes, Body, Bytes};
use axum::http::{header::AUTHORIZATION, Request};
use axum::routing::post;
use axum::Router;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tower::ServiceExt;

struct World {
    rt: tokio::runtime::Runtime,
    app: Router,
    token: String,
    _issuer: TestIssuer,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let issuer = rt.block_on(TestIssuer::start()).expect("issuer");
        let auth: Authenticator = issuer.authenticator().expect("authenticator");
        rt.block_on(auth.warm_up()).expect("keys");
        let policy = McpPolicy::new()
            .deny_unlisted()
            .tool("read", "messages:read")
            .tool("send", "messages:write")
            .prompt("greet", "messages:read")
            .resource("file:///r/*", "messages:read");
        // The stand-in server answers 299 with the body it was handed, so a pass is told
        // apart from the guard's own answers.
        let app = Router::new()
            .route(
                "/mcp",
                post(|body: Bytes| async move { (axum::http::StatusCode::from_u16(299).expect("status"), body) }),
            )
            .route_layer(mcp::layer(policy))
            .layer(auth.layer());
        let token = issuer.token().scopes("").sign();
        World { rt, app, token, _issuer: issuer }
    })
}

/// Whether `value` (one message or a batch) calls the tool `send`.
fn calls_send(value: &Value) -> bool {
    match value {
        Value::Array(messages) => messages.iter().any(calls_send),
        Value::Object(message) => {
            message.get("method").and_then(Value::as_str) == Some("tools/call")
                && message
                    .get("params")
                    .and_then(|p| p.get("name"))
                    .and_then(Value::as_str)
                    == Some("send")
        }
        _ => false,
    }
}

/// Whether any reader, strict or lenient, would see a call of `send` in `body`.
fn any_reader_calls_send(body: &[u8]) -> bool {
    let lossy = String::from_utf8_lossy(body);
    let texts = [lossy.as_ref(), lossy.trim_start_matches('\u{feff}')];
    texts
        .iter()
        .filter_map(|text| serde_json::from_str::<Value>(text).ok())
        .any(|value| calls_send(&value))
}

fuzz_target!(|data: &[u8]| {
    let world = world();
    let request = Request::post("/mcp")
        .header(AUTHORIZATION, format!("Bearer {}", world.token))
        .header("content-type", "application/json")
        .body(Body::from(data.to_vec()))
        .expect("request");
    let (status, body) = world.rt.block_on(async {
        let response = world.app.clone().oneshot(request).await.expect("infallible");
        let status = response.status().as_u16();
        (status, to_bytes(response.into_body(), usize::MAX).await.expect("body"))
    });
    match status {
        299 => {
            assert_eq!(&body[..], data, "forwarded changed");
            assert!(!any_reader_calls_send(data), "a call of send passed the guard");
        }
        400 => {
            let answer: Value = serde_json::from_slice(&body).expect("a JSON-RPC error");
            assert!(answer["error"]["code"].is_i64(), "{answer}");
        }
        403 | 413 => {}
        other => panic!("status {other}"),
    }
});
