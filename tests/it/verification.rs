//! Each verification rule, over real HTTP against the loopback issuer.

use crate::common;

use std::time::Duration;

use common::{start, start_with, App};
use route_guard::testing::{TestIssuer, TEST_AUDIENCE};
use route_guard::Algorithm;
use serde_json::json;

/// The token is rejected with 401 `invalid_token` and a description containing `why`; a valid
/// token is still accepted afterwards (nothing was poisoned).
async fn assert_invalid(app: &App, token: &str, why: &str) {
    let reply = app.get("/private", Some(token)).await;
    reply.assert_rejected(401, "invalid_token");
    let description = reply.description();
    assert!(description.contains(why), "`{description}` lacks `{why}`");
    let good = app.issuer.token().sign();
    assert_eq!(app.get("/private", Some(&good)).await.status, 200);
}

fn b64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

#[tokio::test]
async fn token_over_the_size_limit_is_rejected_before_parsing() {
    let app = start_with(|b| b.max_token_bytes(1024)).await;
    let token = app.issuer.token().claim("pad", "x".repeat(2000)).sign();
    assert_invalid(&app, &token, "larger than 1024 bytes").await;
    assert_eq!(
        app.issuer.jwks_fetches(),
        1,
        "only the good token fetched keys"
    );
}

#[tokio::test]
async fn token_must_have_three_segments() {
    let app = start().await;
    let token = app.issuer.token().sign();
    let parts: Vec<&str> = token.split('.').collect();
    assert_invalid(&app, parts[0], "three dot-separated segments").await;
    assert_invalid(&app, &parts[..2].join("."), "three dot-separated segments").await;
    assert_invalid(
        &app,
        &format!("{token}.{}", parts[2]),
        "three dot-separated segments",
    )
    .await;
    assert_invalid(
        &app,
        &format!("{}..{}", parts[0], parts[2]),
        "segment is empty",
    )
    .await;
}

#[tokio::test]
async fn segments_must_be_unpadded_base64url() {
    let app = start().await;
    let token = app.issuer.token().sign();
    let parts: Vec<&str> = token.split('.').collect();
    let plus = format!("{}+.{}.{}", parts[0], parts[1], parts[2]);
    assert_invalid(&app, &plus, "header is not base64url").await;
    let padded = format!("{}.{}.{}=", parts[0], parts[1], parts[2]);
    assert_invalid(&app, &padded, "signature is not base64url").await;
}

#[tokio::test]
async fn header_and_payload_must_be_json_objects() {
    let app = start().await;
    let kid = app.issuer.signing_kid();
    let array_header = app.issuer.sign_raw(&kid, r#"["RS256"]"#, r#"{"sub":"x"}"#);
    assert_invalid(&app, &array_header, "header is not a JSON object").await;
    let twice = app
        .issuer
        .sign_raw(&kid, r#"{"alg":"RS256","alg":"none"}"#, r#"{"sub":"x"}"#);
    assert_invalid(&app, &twice, "header is not a JSON object").await;
    let text_header = app.issuer.sign_raw(&kid, "RS256", r#"{"sub":"x"}"#);
    assert_invalid(&app, &text_header, "header is not a JSON object").await;
    let header = format!(r#"{{"alg":"RS256","kid":"{kid}"}}"#);
    let array_payload = app.issuer.sign_raw(&kid, &header, "[1,2,3]");
    assert_invalid(&app, &array_payload, "payload is not a JSON object").await;
    let broken_payload = app.issuer.sign_raw(&kid, &header, "{\"exp\":");
    assert_invalid(&app, &broken_payload, "payload is not a JSON object").await;
}

#[tokio::test]
async fn alg_none_is_rejected_in_any_case() {
    let app = start().await;
    let claims = app.issuer.token().claims().clone();
    let payload = b64(&serde_json::Value::Object(claims).to_string());
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = b64(&json!({ "alg": alg, "typ": "JWT" }).to_string());
        for token in [
            format!("{header}.{payload}."),
            format!("{header}.{payload}.e30"),
        ] {
            let reply = app.get("/private", Some(&token)).await;
            reply.assert_rejected(401, "invalid_token");
        }
    }
    // Rejected before any key lookup.
    assert_eq!(app.issuer.jwks_fetches(), 0);
}

/// The last header that passed is remembered by its exact text: every other header, however
/// close to it, is still read and checked, before and after the remembered one.
#[tokio::test]
async fn a_remembered_header_answers_only_for_its_exact_text() {
    let app = start().await;
    let good = app.issuer.token().sign();
    assert_eq!(app.get("/private", Some(&good)).await.status, 200);
    let (header, rest) = good.split_once('.').expect("compact JWS");
    // The remembered header's JSON with `crit` added, or with `alg` changed.
    let crit = app.issuer.token().header("crit", json!(["exp"])).sign();
    assert_invalid(&app, &crit, "critical header").await;
    let ps = app.issuer.token().alg(Algorithm::PS256).sign();
    assert_invalid(&app, &ps, "accepted: RS256").await;
    // Its text one character shorter, or with its last character changed.
    let (head, last) = header.split_at(header.len() - 1);
    let changed = if last == "A" { "B" } else { "A" };
    for text in [head.to_owned(), format!("{head}{changed}")] {
        app.get("/private", Some(&format!("{text}.{rest}")))
            .await
            .assert_rejected(401, "invalid_token");
    }
    // Another key id: the header is read, the key looked up (and not found).
    let unknown = app.issuer.token().kid("not-published").sign();
    assert_invalid(&app, &unknown, "").await;
    // A token with the remembered header is still verified in full: its signature is checked.
    let (payload, _) = rest.split_once('.').expect("JWS");
    let other_signature = ps.rsplit_once('.').expect("JWS").1;
    app.get(
        "/private",
        Some(&format!("{header}.{payload}.{other_signature}")),
    )
    .await
    .assert_rejected(401, "invalid_token");
}

#[tokio::test]
async fn alg_outside_the_allow_list_is_rejected_before_key_lookup() {
    let app = start().await;
    let token = app.issuer.token().alg(Algorithm::PS256).sign();
    let reply = app.get("/private", Some(&token)).await;
    reply.assert_rejected(401, "invalid_token");
    assert!(reply.description().contains("accepted: RS256"));
    assert_eq!(app.issuer.jwks_fetches(), 0);
}

#[tokio::test]
async fn alg_names_are_case_sensitive() {
    let app = start().await;
    let token = app.issuer.token().header("alg", "rs256").sign();
    assert_invalid(&app, &token, "signing algorithm is not accepted").await;
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_rejected() {
    let app = start().await;
    let jwks = app.issuer.jwks();
    let jwk = jwks["keys"][0].to_string();
    let kid = app.issuer.signing_kid();
    let claims = app.issuer.token().claims().clone();
    let message = format!(
        "{}.{}",
        b64(&json!({ "alg": "HS256", "kid": kid }).to_string()),
        b64(&serde_json::Value::Object(claims).to_string())
    );
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, jwk.as_bytes());
    let tag = aws_lc_rs::hmac::sign(&key, message.as_bytes());
    use base64::Engine as _;
    let token = format!(
        "{message}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
    );
    assert_invalid(&app, &token, "signing algorithm is not accepted").await;
}

#[tokio::test]
async fn key_must_fit_the_alg() {
    // An EC key named by kid cannot verify an RS256 token, and a key whose JWK states RS384
    // cannot verify RS256.
    let app =
        start_with(|b| b.algorithms([Algorithm::RS256, Algorithm::RS384, Algorithm::ES256])).await;
    let ec = app.issuer.add_key(Algorithm::ES256).expect("ec key");
    let token = app.issuer.token().kid(&ec).alg(Algorithm::RS256).sign();
    assert_invalid(&app, &token, "algorithm does not match its signing key").await;

    let rs384 = app.issuer.add_key(Algorithm::RS384).expect("rsa key");
    let token = app
        .issuer
        .token()
        .signed_with(&rs384)
        .alg(Algorithm::RS256)
        .sign();
    assert_invalid(&app, &token, "algorithm does not match its signing key").await;

    let good = app.issuer.token().signed_with(&ec).sign();
    assert_eq!(app.get("/private", Some(&good)).await.status, 200);
}

#[tokio::test]
async fn curve_must_fit_the_alg() {
    let app = start_with(|b| b.algorithms([Algorithm::ES256, Algorithm::ES384])).await;
    let p384 = app.issuer.add_key(Algorithm::ES384).expect("p-384 key");
    app.issuer.set_signing_key(&p384);
    let token = app
        .issuer
        .token()
        .signed_with(&p384)
        .header("alg", "ES256")
        .sign();
    assert_invalid(&app, &token, "algorithm does not match its signing key").await;
}

#[tokio::test]
async fn rs256_and_ps256_are_not_interchangeable() {
    let app = start_with(|b| b.algorithms([Algorithm::RS256, Algorithm::PS256])).await;
    let kid = app.issuer.signing_kid();
    // PS256 signature, RS256 header.
    let ps = app.issuer.token().alg(Algorithm::PS256).sign();
    let parts: Vec<&str> = ps.split('.').collect();
    let rs = app.issuer.token().sign();
    let rs_parts: Vec<&str> = rs.split('.').collect();
    let confused = format!("{}.{}.{}", rs_parts[0], rs_parts[1], parts[2]);
    assert_invalid(&app, &confused, "signature is invalid").await;
    // Both verify on their own (the key serves both, its JWK states RS256 though).
    assert_eq!(app.get("/private", Some(&rs)).await.status, 200);
    let _ = kid;
}

#[tokio::test]
async fn every_asymmetric_algorithm_verifies() {
    let algorithms = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];
    let app = start_with(|b| b.algorithms(algorithms)).await;
    // Publish every key before the first fetch: a new kid after that would wait for the
    // unknown-kid cooldown.
    let kids: Vec<String> = algorithms
        .iter()
        .map(|alg| app.issuer.add_key(*alg).expect("key"))
        .collect();
    for (alg, kid) in algorithms.iter().zip(&kids) {
        let token = app.issuer.token().signed_with(kid).sign();
        let reply = app.get("/private", Some(&token)).await;
        assert_eq!(reply.status, 200, "{alg}: {}", reply.body);
    }
}

#[tokio::test]
async fn ed25519_is_accepted_by_its_fully_specified_name_wherever_eddsa_is() {
    // RFC 9864: providers now sign with `alg: "Ed25519"`; the key may be published as either.
    let app = start_with(|b| b.algorithms([Algorithm::EdDSA])).await;
    let eddsa_key = app.issuer.add_key(Algorithm::EdDSA).expect("key");
    let ed25519_key = app.issuer.add_key(Algorithm::Ed25519).expect("key");
    for kid in [&eddsa_key, &ed25519_key] {
        for alg in [Algorithm::EdDSA, Algorithm::Ed25519] {
            let token = app.issuer.token().signed_with(kid).alg(alg).sign();
            let reply = app.get("/private", Some(&token)).await;
            assert_eq!(reply.status, 200, "{alg} with key {kid}: {}", reply.body);
        }
    }
    // The signature must still be an Ed25519 one of that key.
    let rsa = app.issuer.signing_kid();
    let token = app
        .issuer
        .token()
        .signed_with(&rsa)
        .header("alg", "Ed25519")
        .sign();
    app.get("/private", Some(&token))
        .await
        .assert_rejected(401, "invalid_token");

    // Configured by name alone, only `Ed25519` tokens pass: `EdDSA` is not implied.
    assert_eq!("Ed25519".parse::<Algorithm>(), Ok(Algorithm::Ed25519));
    let app = start_with(|b| b.algorithms([Algorithm::Ed25519])).await;
    let kid = app.issuer.add_key(Algorithm::Ed25519).expect("key");
    app.issuer.set_signing_key(&kid);
    let named = app.issuer.token().sign();
    assert_eq!(app.get("/private", Some(&named)).await.status, 200);
    let polymorphic = app
        .issuer
        .token()
        .signed_with(&kid)
        .alg(Algorithm::EdDSA)
        .sign();
    assert_invalid(&app, &polymorphic, "algorithm is not accepted").await;
}

#[tokio::test]
async fn tampered_payload_fails_the_signature() {
    let app = start().await;
    let token = app.issuer.token().sign();
    let parts: Vec<&str> = token.split('.').collect();
    let other = app.issuer.token().sub("auth0|admin").sign();
    let other_payload = other.split('.').nth(1).unwrap_or_default();
    let forged = format!("{}.{}.{}", parts[0], other_payload, parts[2]);
    assert_invalid(&app, &forged, "signature is invalid").await;
}

#[tokio::test]
async fn keys_published_for_encryption_are_ignored() {
    let app = start().await;
    let kid = app.issuer.signing_kid();
    app.issuer.set_jwk_member(&kid, "use", json!("enc"));
    let second = app.issuer.add_key(Algorithm::RS256).expect("key");
    let token = app.issuer.token().sign();
    let reply = app.get("/private", Some(&token)).await;
    reply.assert_rejected(401, "invalid_token");
    let good = app.issuer.token().signed_with(&second).sign();
    assert_eq!(app.get("/private", Some(&good)).await.status, 200);
}

#[tokio::test]
async fn key_url_headers_are_never_fetched() {
    let app = start().await;
    // A second loopback issuer plays the attacker: it must see no request.
    let attacker = TestIssuer::start().await.expect("attacker");
    let jwks_url = format!("{}.well-known/jwks.json", attacker.issuer());
    let attacker_jwk = attacker.jwks()["keys"][0].clone();
    let token = attacker
        .token()
        .iss(app.issuer.issuer())
        .header("jku", jwks_url.as_str())
        .header("x5u", jwks_url.as_str())
        .header("jwk", attacker_jwk)
        .header(
            "x5c",
            json!(["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]),
        )
        .sign();
    let reply = app.get("/private", Some(&token)).await;
    reply.assert_rejected(401, "invalid_token");
    assert_eq!(attacker.jwks_fetches(), 0);
    assert_eq!(attacker.discovery_fetches(), 0);
}

#[tokio::test]
async fn crit_header_is_rejected() {
    let app = start().await;
    let token = app.issuer.token().header("crit", json!(["exp"])).sign();
    assert_invalid(&app, &token, "critical header").await;
}

#[tokio::test]
async fn exp_iss_and_aud_are_required() {
    let app = start().await;
    for claim in ["exp", "iss", "aud"] {
        let token = app.issuer.token().without(claim).sign();
        assert_invalid(&app, &token, &format!("no `{claim}` claim")).await;
    }
}

#[tokio::test]
async fn exp_must_be_a_number() {
    let app = start().await;
    let token = app.issuer.token().claim("exp", "9999999999").sign();
    assert_invalid(&app, &token, "claims are malformed").await;
    let float = app.issuer.token().claim("exp", 9_999_999_999.5).sign();
    assert_eq!(app.get("/private", Some(&float)).await.status, 200);
    let negative = app.issuer.token().claim("exp", -1).sign();
    assert_invalid(&app, &negative, "expired").await;
}

#[tokio::test]
async fn expiry_honours_the_leeway() {
    let app = start_with(|b| b.leeway(Duration::from_secs(60))).await;
    let within = app
        .issuer
        .token()
        .expired_for(Duration::from_secs(30))
        .sign();
    assert_eq!(app.get("/private", Some(&within)).await.status, 200);
    let beyond = app
        .issuer
        .token()
        .expired_for(Duration::from_secs(90))
        .sign();
    assert_invalid(&app, &beyond, "expired").await;
}

#[tokio::test]
async fn not_before_honours_the_leeway() {
    let app = start().await; // 30 s default leeway
    let soon = app
        .issuer
        .token()
        .not_before_in(Duration::from_secs(10))
        .sign();
    assert_eq!(app.get("/private", Some(&soon)).await.status, 200);
    let later = app
        .issuer
        .token()
        .not_before_in(Duration::from_secs(120))
        .sign();
    assert_invalid(&app, &later, "not valid yet").await;
}

#[tokio::test]
async fn issuer_must_match_exactly() {
    let app = start().await;
    let iss = app.issuer.issuer().to_owned();
    assert!(iss.ends_with('/'));
    let no_slash = app.issuer.token().iss(iss.trim_end_matches('/')).sign();
    assert_invalid(&app, &no_slash, "issuer (iss) is not accepted").await;
    let other = app.issuer.token().iss("https://evil.example.com/").sign();
    assert_invalid(&app, &other, "issuer (iss) is not accepted").await;
    let upper = app.issuer.token().iss(&iss.to_uppercase()).sign();
    assert_invalid(&app, &upper, "issuer (iss) is not accepted").await;
}

#[tokio::test]
async fn audience_may_be_a_string_or_an_array() {
    let app = start_with(|b| b.audience("https://second.example.com")).await;
    let array = app
        .issuer
        .token()
        .audiences(["https://other.example.com", TEST_AUDIENCE])
        .sign();
    assert_eq!(app.get("/private", Some(&array)).await.status, 200);
    let second = app
        .issuer
        .token()
        .audience("https://second.example.com")
        .sign();
    assert_eq!(app.get("/private", Some(&second)).await.status, 200);
    let wrong = app
        .issuer
        .token()
        .audience("https://other.example.com")
        .sign();
    assert_invalid(&app, &wrong, "audience (aud) is not accepted").await;
    let empty = app.issuer.token().audiences([]).sign();
    assert_invalid(&app, &empty, "audience (aud) is not accepted").await;
    let number = app.issuer.token().claim("aud", 42).sign();
    assert_invalid(&app, &number, "claims are malformed").await;
}

#[tokio::test]
async fn typ_accepts_jwt_and_at_jwt_by_default() {
    let app = start().await;
    for typ in [
        json!(null),
        json!("JWT"),
        json!("at+jwt"),
        json!("application/at+jwt"),
        json!("AT+JWT"),
    ] {
        let token = app.issuer.token().header("typ", typ.clone()).sign();
        assert_eq!(
            app.get("/private", Some(&token)).await.status,
            200,
            "typ {typ}"
        );
    }
    let id_token_like = app.issuer.token().header("typ", "dpop+jwt").sign();
    assert_invalid(&app, &id_token_like, "token type (typ) is not accepted").await;
}

#[tokio::test]
async fn strict_mode_requires_at_jwt() {
    let app = start_with(|b| b.require_at_jwt_typ(true)).await;
    for typ in ["at+jwt", "application/at+jwt"] {
        let token = app.issuer.token().header("typ", typ).sign();
        assert_eq!(
            app.get("/private", Some(&token)).await.status,
            200,
            "typ {typ}"
        );
    }
    for typ in [json!(null), json!("JWT")] {
        let token = app.issuer.token().header("typ", typ).sign();
        let reply = app.get("/private", Some(&token)).await;
        reply.assert_rejected(401, "invalid_token");
    }
}

#[tokio::test]
async fn missing_kid_is_accepted_only_with_a_single_key() {
    let app = start().await;
    let token = app.issuer.token().header("kid", json!(null)).sign();
    assert_eq!(app.get("/private", Some(&token)).await.status, 200);
    app.issuer.add_key(Algorithm::RS256).expect("second key");
    // Keys are cached: a fresh Authenticator sees both.
    let auth = app.issuer.authenticator().expect("auth");
    assert_eq!(
        auth.verify(&token).await.err(),
        Some(route_guard::VerifyError::MissingKid)
    );
}

/// The shared secret of [`hs256_authenticator`].
const HS256_SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

/// An Authenticator for HS256 tokens of `https://tenant.example.com/` signed with
/// [`HS256_SECRET`].
fn hs256_authenticator() -> route_guard::Authenticator {
    route_guard::Authenticator::builder()
        .domain("tenant.example.com")
        .audience(TEST_AUDIENCE)
        .algorithms([Algorithm::HS256])
        .hs256_secret(HS256_SECRET.to_vec())
        .build()
        .expect("auth")
}

/// A compact JWS of `header` and `payload` (any bytes, so not only valid JSON text) with an
/// HS256 tag made with `secret`.
fn sign_hs256(header: &[u8], payload: &[u8], secret: &[u8]) -> String {
    use base64::Engine as _;
    let encode = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let message = format!("{}.{}", encode(header), encode(payload));
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, message.as_bytes());
    format!("{message}.{}", encode(tag.as_ref()))
}

#[tokio::test]
async fn hs256_verifies_with_a_shared_secret_only() {
    let auth = hs256_authenticator();
    let header = json!({ "alg": "HS256", "typ": "JWT" }).to_string();
    let claims = json!({
        "iss": "https://tenant.example.com/",
        "aud": TEST_AUDIENCE,
        "exp": 9_999_999_999u64,
        "sub": "svc",
    })
    .to_string();
    let token = sign_hs256(header.as_bytes(), claims.as_bytes(), HS256_SECRET);
    let verified = auth.verify(&token).await.expect("verifies");
    assert_eq!(verified.algorithm(), Algorithm::HS256);
    let forged = sign_hs256(
        header.as_bytes(),
        claims.as_bytes(),
        b"another-secret-another-secret-xx",
    );
    assert_eq!(
        auth.verify(&forged).await.err(),
        Some(route_guard::VerifyError::InvalidSignature)
    );
}

/// JSON text is UTF-8 (RFC 8259 §8.1): a correctly signed payload holding a byte sequence that
/// is not, inside a string where only a UTF-8 check can see it, is refused like any payload that
/// is not a JSON object; the same claims in valid UTF-8 (non-ASCII letters included) verify.
#[tokio::test]
async fn a_payload_that_is_not_utf8_is_refused() {
    let auth = hs256_authenticator();
    let sign = |payload: &[u8]| sign_hs256(br#"{"alg":"HS256"}"#, payload, HS256_SECRET);
    let claims = |name: &[u8]| {
        let mut payload = format!(
            r#"{{"iss":"https://tenant.example.com/","aud":"{TEST_AUDIENCE}","exp":9999999999,"name":""#
        )
        .into_bytes();
        payload.extend_from_slice(name);
        payload.extend_from_slice(br#"","sub":"svc"}"#);
        payload
    };
    let valid = auth
        .verify(&sign(&claims("Zoë".as_bytes())))
        .await
        .expect("UTF-8 verifies");
    assert_eq!(valid.claim("name"), Some(&json!("Zoë")));
    for bytes in [&b"Zo\xeb"[..], b"\xff\xfe", b"\xed\xa0\x80", b"\xc3"] {
        assert_eq!(
            auth.verify(&sign(&claims(bytes))).await.err(),
            Some(route_guard::VerifyError::Malformed(
                "the payload is not a JSON object"
            )),
            "{bytes:?}"
        );
    }
}

#[tokio::test]
async fn an_id_token_is_named_as_such() {
    let app = start().await;
    let id_token = app
        .issuer
        .token()
        .audience("Xo8pqPzEXAMPLEclientID")
        .claim("nonce", "n-0S6_WzA2Mj")
        .claim("at_hash", "77QmUPtjPfzWtF2AnpK9RQ")
        .sign();
    assert_invalid(&app, &id_token, "this looks like an ID token").await;
}
