//! Fuzzes the request path: arbitrary bytes as a token (`Authenticator::verify`), as an
//! `Authorization` header (through the `Claims` extractor, no sockets), and spliced into a valid
//! token's segments. Nothing may panic, a rejection is always 400 or 401, and only the unaltered
//! valid token is accepted.
#![no_main]

use std::sync::OnceLock;

use auth_runtime::testing::TestIssuer;
use auth_runtime::{Authenticator, Claims, StandardClaims};
use axum::extract::FromRequestParts;
use axum::http::{header::AUTHORIZATION, HeaderValue, Request};
use axum::response::IntoResponse;
use libfuzzer_sys::fuzz_target;

struct World {
    rt: tokio::runtime::Runtime,
    auth: Authenticator,
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
        let token = issuer.token().scopes("read:messages").sign();
        World { rt, auth, token, _issuer: issuer }
    })
}

fn extract(world: &World, value: HeaderValue) -> u16 {
    let mut request = Request::new(());
    request.headers_mut().insert(AUTHORIZATION, value);
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
    if let Ok(text) = std::str::from_utf8(data) {
        let accepted = world.rt.block_on(world.auth.verify(text)).is_ok();
        assert!(!accepted || text == world.token, "accepted a token it never issued");
    }
    if let Ok(value) = HeaderValue::from_bytes(data) {
        let status = extract(world, value);
        assert!(status == 400 || status == 401, "{status}");
    }
    // Splice the input into one segment of the valid token.
    if let Some((&which, rest)) = data.split_first() {
        let Ok(insert) = std::str::from_utf8(rest) else {
            return;
        };
        let mut parts: Vec<String> = world.token.split('.').map(str::to_owned).collect();
        let segment = usize::from(which % 3);
        parts[segment].push_str(insert);
        let mutated = parts.join(".");
        let accepted = world.rt.block_on(world.auth.verify(&mutated)).is_ok();
        assert!(!accepted || mutated == world.token, "accepted a spliced token");
        if let Ok(value) = HeaderValue::from_str(&format!("Bearer {mutated}")) {
            let status = extract(world, value);
            assert!(status == 200 || status == 400 || status == 401, "{status}");
            assert!(status != 200 || mutated == world.token);
        }
    }
});
