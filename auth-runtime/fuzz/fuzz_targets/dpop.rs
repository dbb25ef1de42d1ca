//! Fuzzes DPoP: arbitrary bytes as the `DPoP` proof header of a request that carries a valid
//! DPoP-bound token (through the `Claims` extractor, no sockets), as a proof for
//! `Authenticator::verify_dpop`, and spliced into a fresh valid proof. Nothing may panic, a
//! rejection through the extractor is always 400 or 401, and no proof but an unaltered valid one
//! is ever accepted.
#![no_main]

use std::sync::OnceLock;

use auth_runtime::testing::{DpopKey, TestIssuer};
use auth_runtime::{Authenticator, Claims, StandardClaims};
use axum::extract::FromRequestParts;
use axum::http::{header::AUTHORIZATION, HeaderValue, Request};
use axum::response::IntoResponse;
use libfuzzer_sys::fuzz_target;

const URL: &str = "http://api.example.com/messages";

struct World {
    rt: tokio::runtime::Runtime,
    auth: Authenticator,
    key: DpopKey,
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
        let auth = issuer.authenticator().expect("authenticator");
        rt.block_on(auth.warm_up()).expect("keys");
        let key = DpopKey::generate().expect("key");
        let token = issuer.token().dpop_bound(&key).sign();
        World { rt, auth, key, token, _issuer: issuer }
    })
}

fn extract(world: &World, proof: HeaderValue) -> u16 {
    let mut request = Request::get(URL).body(()).expect("request");
    let authorization = HeaderValue::from_str(&format!("DPoP {}", world.token)).expect("ascii");
    request.headers_mut().insert(AUTHORIZATION, authorization);
    request.headers_mut().insert("host", HeaderValue::from_static("api.example.com"));
    request.headers_mut().insert("dpop", proof);
    request.extensions_mut().insert(world.auth.clone());
    let (mut parts, ()) = request.into_parts();
    match world
        .rt
        .block_on(Claims::<StandardClaims>::from_request_parts(&mut parts, &()))
    {
        Ok(_) => 200,
        Err(rejection) => rejection.into_response().status().as_u16(),
    }
}

fuzz_target!(|data: &[u8]| {
    let world = world();
    if let Ok(value) = HeaderValue::from_bytes(data) {
        let status = extract(world, value);
        assert!(status == 400 || status == 401, "{status}");
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let outcome = world.rt.block_on(world.auth.verify_dpop(&world.token, text, "GET", URL));
        assert!(outcome.is_err(), "accepted a proof it never saw made");
    }
    // Splice the input into one segment of a fresh valid proof.
    if let Some((&which, rest)) = data.split_first() {
        let Ok(insert) = std::str::from_utf8(rest) else {
            return;
        };
        let proof = world.key.proof("GET", URL, &world.token);
        let mut parts: Vec<String> = proof.split('.').map(str::to_owned).collect();
        parts[usize::from(which % 3)].push_str(insert);
        let mutated = parts.join(".");
        let outcome = world.rt.block_on(world.auth.verify_dpop(&world.token, &mutated, "GET", URL));
        assert!(outcome.is_err() || mutated == proof, "accepted a spliced proof");
    }
});
