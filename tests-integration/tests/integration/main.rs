//! Tests that need other projects' code, in one binary: rmcp (the MCP SDK's client and server
//! against the guard), jsonschema (every OpenAPI document against the official 3.1 schema),
//! utoipa and aide, proptest, and the documented usage of the macros (`ui_pass`). They live
//! apart from the main suite (`tests/it`) so that `cargo run --example quickstart` never
//! compiles them; `cargo test --workspace` runs both.

// For `ui/pass/renamed_crate.rs`: route-guard under another name, at the crate root.
extern crate route_guard as guard;

#[path = "../../../tests/it/common/mod.rs"]
mod common;

mod jwe_interop;
mod mcp_layer;
mod mcp_server;
mod mtls_tls;
mod openapi_aide;
mod openapi_examples;
mod properties;
mod rmcp_interop;
mod ui_pass;
