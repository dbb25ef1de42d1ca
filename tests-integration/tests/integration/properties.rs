//! Properties, checked on generated inputs: a valid token or DPoP proof survives no mutation, no
//! `Authorization` value makes the server fail, and claims round-trip through the derive.

use crate::common;

use std::sync::OnceLock;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use proptest::prelude::*;
use route_guard::testing::{DpopKey, TestIssuer, TEST_ROLES_CLAIM};
use route_guard::{Authenticator, TokenClaims};
use serde_json::json;

/// One issuer, Authenticator, app and runtime for every case (proptest calls a plain closure).
struct World {
    rt: tokio::runtime::Runtime,
    app: common::App,
    token: String,
    dpop_key: DpopKey,
    bound: String,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let app = rt.block_on(common::start());
        rt.block_on(app.auth.warm_up()).expect("keys");
        let token = app
            .issuer
            .token()
            .sub("auth0|prop")
            .scopes("read:messages")
            .sign();
        let dpop_key = DpopKey::generate().expect("DPoP key");
        let bound = app.issuer.token().dpop_bound(&dpop_key).sign();
        World {
            rt,
            app,
            token,
            dpop_key,
            bound,
        }
    })
}

fn verify(auth: &Authenticator, token: &str) -> bool {
    world().rt.block_on(auth.verify(token)).is_ok()
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit { at: usize, bit: u8 },
    Truncate { at: usize },
    SwapSegments { a: usize, b: usize },
    DuplicateSegment { from: usize, to: usize },
    PadSegment { segment: usize },
    StandardAlphabet { segment: usize },
    ReencodeJson { segment: usize },
    Insert { at: usize, byte: u8 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (0usize..3, 0usize..3).prop_map(|(a, b)| Mutation::SwapSegments { a, b }),
        (0usize..3, 0usize..3).prop_map(|(from, to)| Mutation::DuplicateSegment { from, to }),
        (0usize..3).prop_map(|segment| Mutation::PadSegment { segment }),
        (0usize..3).prop_map(|segment| Mutation::StandardAlphabet { segment }),
        (0usize..2).prop_map(|segment| Mutation::ReencodeJson { segment }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
    ]
}

fn apply(token: &str, mutation: &Mutation) -> Vec<u8> {
    let mut bytes = token.as_bytes().to_vec();
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let join = |parts: &[String]| parts.join(".").into_bytes();
    match *mutation {
        Mutation::FlipBit { at, bit } => {
            let at = at % bytes.len();
            bytes[at] ^= 1 << bit;
            bytes
        }
        Mutation::Truncate { at } => {
            bytes.truncate(at % bytes.len());
            bytes
        }
        Mutation::SwapSegments { a, b } => {
            parts.swap(a, b);
            join(&parts)
        }
        Mutation::DuplicateSegment { from, to } => {
            parts[to] = parts[from].clone();
            join(&parts)
        }
        Mutation::PadSegment { segment } => {
            parts[segment].push('=');
            join(&parts)
        }
        Mutation::StandardAlphabet { segment } => {
            let raw = URL_SAFE_NO_PAD.decode(&parts[segment]).unwrap_or_default();
            parts[segment] = STANDARD.encode(raw);
            join(&parts)
        }
        Mutation::ReencodeJson { segment } => {
            // The same JSON value, pretty-printed: equal meaning, different signed bytes.
            let raw = URL_SAFE_NO_PAD.decode(&parts[segment]).unwrap_or_default();
            let value: serde_json::Value = serde_json::from_slice(&raw).unwrap_or_default();
            let pretty = serde_json::to_vec_pretty(&value).unwrap_or_default();
            parts[segment] = URL_SAFE_NO_PAD.encode(pretty);
            join(&parts)
        }
        Mutation::Insert { at, byte } => {
            let at = at % (bytes.len() + 1);
            bytes.insert(at, byte);
            bytes
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_mutation_of_a_valid_token_is_rejected(mutation in mutation()) {
        let world = world();
        prop_assert!(verify(&world.app.auth, &world.token));
        let mutated = apply(&world.token, &mutation);
        if mutated != world.token.as_bytes() {
            // Bytes that are not UTF-8 cannot even be a `&str` token; HTTP covers them below.
            if let Ok(text) = std::str::from_utf8(&mutated) {
                prop_assert!(!verify(&world.app.auth, text), "{mutation:?} was accepted");
            }
        }
    }
}

const DPOP_URL: &str = "https://api.example.com/messages";

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_mutation_of_a_valid_dpop_proof_is_rejected(mutation in mutation()) {
        let world = world();
        let auth = &world.app.auth;
        let proof = world.dpop_key.proof("POST", DPOP_URL, &world.bound);
        let mutated = apply(&proof, &mutation);
        if mutated != proof.as_bytes() {
            if let Ok(text) = std::str::from_utf8(&mutated) {
                let outcome = world.rt.block_on(auth.verify_dpop(&world.bound, text, "POST", DPOP_URL));
                prop_assert!(outcome.is_err(), "{mutation:?} was accepted");
            }
        }
        // The unaltered proof passes: the rejection above was the mutation's doing.
        let outcome = world.rt.block_on(auth.verify_dpop(&world.bound, &proof, "POST", DPOP_URL));
        prop_assert!(outcome.is_ok(), "{outcome:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_authorization_value_is_answered_400_or_401(
        value in proptest::collection::vec(any::<u8>(), 0..300),
        bearer in any::<bool>(),
    ) {
        let world = world();
        let mut bytes = if bearer { b"Bearer ".to_vec() } else { Vec::new() };
        bytes.extend(&value);
        let Ok(header) = reqwest::header::HeaderValue::from_bytes(&bytes) else {
            // Not sendable over HTTP/1 at all (control characters): nothing to test.
            return Ok(());
        };
        let reply = world.rt.block_on(common::send(
            world.app.client.get(format!("{}/private", world.app.base)).header("authorization", header),
        ));
        let status = reply.status.as_u16();
        prop_assert!(status == 400 || status == 401, "{status} for {bytes:?}");
        let code = if status == 400 { "invalid_request" } else { reply.error() };
        prop_assert!(["invalid_request", "invalid_token", "unauthorized"].contains(&code));
    }
}

#[derive(TokenClaims, Debug)]
#[claims(namespace = "https://myapp.com/")]
struct Generated {
    sub: String,
    roles: Vec<String>,
    permissions: Option<Vec<String>>,
    email: Option<String>,
    level: i64,
}

fn word() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..12).prop_map(|c| c.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn claims_round_trip_through_the_derive(
        sub in word(),
        roles in proptest::collection::vec(word(), 0..5),
        permissions in proptest::option::of(proptest::collection::vec(word(), 0..5)),
        email in proptest::option::of(word()),
        level in any::<i64>(),
    ) {
        let world = world();
        let issuer: &TestIssuer = &world.app.issuer;
        let mut token = issuer
            .token()
            .sub(&sub)
            // Roles are read where the Authenticator says they live (`roles_claim`), whatever
            // claim the field names.
            .claim(TEST_ROLES_CLAIM, json!(roles))
            .claim("https://myapp.com/level", level);
        if let Some(p) = &permissions {
            token = token.claim("permissions", json!(p));
        }
        if let Some(e) = &email {
            token = token.claim("email", e.as_str());
        }
        let verified = world.rt.block_on(world.app.auth.verify(&token.sign()));
        let claims: Generated = verified.and_then(|v| v.claims()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&claims.sub, &sub);
        prop_assert_eq!(&claims.roles, &roles);
        prop_assert_eq!(&claims.permissions, &permissions);
        prop_assert_eq!(&claims.email, &email);
        prop_assert_eq!(claims.level, level);
        for role in &roles {
            prop_assert!(claims.has_role(role));
        }
    }
}
