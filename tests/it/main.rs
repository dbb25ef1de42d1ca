//! The integration suite: real HTTP between a protected axum app and a loopback issuer, one
//! module per concern, all in one test binary (one link, one process; each test starts its own
//! issuer and app on free ports, so they run in parallel).
//!
//! Tests that need other projects' code (rmcp, jsonschema, utoipa, proptest, trybuild, a second
//! JWT backend) live in `tests-integration/`, so the examples never compile them.

mod common;

mod architecture;
mod attacks;
mod config;
mod description;
mod discovery;
mod doctor;
mod doctor_cli;
mod domains;
mod dpop;
mod dpop_redis;
mod error_contract;
mod jwe;
mod jwks_cache;
mod jwks_faults;
mod load;
mod logging;
mod macros;
mod mtls;
mod oauth_server;
mod policies;
mod profiles;
mod quickstart;
mod rate_limits;
mod rate_limits_redis;
mod route_layers;
mod step_up;
mod token_cache;
mod verification;
