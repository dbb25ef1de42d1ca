//! Encrypted tokens (JWE, RFC 7516) over real HTTP: Auth0's Token Encryption accepted (and its
//! RSA-OAEP-384/512 variants when enabled), key rotation by `kid`, every malformed or hostile
//! JWE refused with one `invalid_token`, the inner token verified whole, DPoP's `ath` over the
//! JWE as sent, the verified-token cache, `require_encryption`, the configuration errors and
//! the doctor.

use crate::common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::{App, Reply};
use route_guard::testing::{DpopKey, TestEncryptionKey};
use route_guard::{AuthenticatorBuilder, ConfigError, JweAlgorithm, RejectionReason};
use serde_json::{json, Value};

fn key(kid: &str) -> TestEncryptionKey {
    TestEncryptionKey::generate(kid).expect("RSA key")
}

async fn app_for(keys: &[&TestEncryptionKey]) -> App {
    let pems: Vec<(String, String)> = keys
        .iter()
        .map(|k| (k.kid().to_owned(), k.private_key_pem()))
        .collect();
    common::start_with(move |mut b| {
        for (kid, pem) in pems {
            b = b.jwe_key_with_kid(kid, pem);
        }
        b
    })
    .await
}

async fn get(app: &App, token: &str) -> Reply {
    app.get("/private", Some(token)).await
}

#[tokio::test]
async fn auth0_token_encryption_is_accepted_and_the_inner_token_verified_whole() {
    let k = key("api-2026");
    let app = app_for(&[&k]).await;
    let jwe = app
        .issuer
        .token()
        .scopes("read:messages")
        .sign_encrypted(&k);
    assert_eq!(jwe.split('.').count(), 5);
    let reply = get(&app, &jwe).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let scoped = app.get("/scoped", Some(&jwe)).await;
    assert_eq!(scoped.status, 200, "{}", scoped.body);
    // The JWS inside is checked like any other: an expired one, another audience, a bad
    // signature.
    let expired = app
        .issuer
        .token()
        .expired_for(std::time::Duration::from_secs(600))
        .sign_encrypted(&k);
    get(&app, &expired).await.assert_invalid_token("expired");
    let other = app
        .issuer
        .token()
        .audience("https://other")
        .sign_encrypted(&k);
    get(&app, &other).await.assert_invalid_token("audience");
    let signed = app.issuer.token().sign();
    let forged = format!("{}x", &signed[..signed.len() - 1]);
    let forged = k.encrypt(&forged);
    assert_eq!(get(&app, &forged).await.status, 401);
    // A plain token is still accepted when encryption is not required.
    assert_eq!(get(&app, &app.issuer.token().sign()).await.status, 200);
}

#[tokio::test]
async fn a_token_seen_before_costs_no_decryption() {
    let k = key("k");
    let app = app_for(&[&k]).await;
    let jwe = app.issuer.token().sign_encrypted(&k);
    for _ in 0..3 {
        assert_eq!(get(&app, &jwe).await.status, 200);
    }
    // Found by its bytes as sent, before any RSA work.
    assert_eq!(app.auth.stats().verified_from_cache(), 2);
}

#[tokio::test]
async fn rsa_oaep_384_and_512_only_when_enabled() {
    let k = key("k");
    let default = app_for(&[&k]).await;
    let pem = k.private_key_pem();
    let all = common::start_with(move |b| {
        b.jwe_key_with_kid("k", pem)
            .jwe_algorithms(JweAlgorithm::ALL)
    })
    .await;
    for algorithm in [JweAlgorithm::RsaOaep384, JweAlgorithm::RsaOaep512] {
        let jws = default.issuer.token().sign();
        let jwe = k.jwe(&jws).algorithm(algorithm).build();
        get(&default, &jwe)
            .await
            .assert_invalid_token("(alg) is not accepted");
        let jws = all.issuer.token().sign();
        let jwe = k.jwe(&jws).algorithm(algorithm).build();
        assert_eq!(get(&all, &jwe).await.status, 200, "{algorithm}");
    }
}

#[tokio::test]
async fn keys_rotate_by_kid() {
    let old = key("2026-06");
    let new = key("2026-12");
    let app = app_for(&[&old, &new]).await;
    for k in [&old, &new] {
        assert_eq!(
            get(&app, &app.issuer.token().sign_encrypted(k))
                .await
                .status,
            200
        );
    }
    // No kid with two keys: which one is ambiguous.
    let jws = app.issuer.token().sign();
    let anonymous = new.jwe(&jws).header("kid", Value::Null).build();
    get(&app, &anonymous)
        .await
        .assert_invalid_token("no key id (kid)");
    // An unknown kid, and a kid naming the other key.
    let unknown = new.jwe(&jws).header("kid", "2025-01").build();
    get(&app, &unknown)
        .await
        .assert_invalid_token("not one of this API's decryption keys");
    let crossed = new.jwe(&jws).header("kid", "2026-06").build();
    get(&app, &crossed)
        .await
        .assert_invalid_token("could not be decrypted");
    // With one key, no kid is fine.
    let single = app_for(&[&new]).await;
    let jws = single.issuer.token().sign();
    let anonymous = new.jwe(&jws).header("kid", Value::Null).build();
    assert_eq!(get(&single, &anonymous).await.status, 200);
}

#[tokio::test]
async fn every_hostile_or_malformed_jwe_is_one_invalid_token() {
    let k = key("k");
    let app = app_for(&[&k]).await;
    let jws = app.issuer.token().sign();
    let claims = Value::Object(app.issuer.token().claims().clone()).to_string();
    let tamper_header = |jwe: &str| {
        let (header, rest) = jwe.split_once('.').expect("segments");
        let mut json: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("b64")).expect("json");
        json["x"] = json!(1);
        format!("{}.{rest}", URL_SAFE_NO_PAD.encode(json.to_string()))
    };
    let flip_ciphertext = |jwe: &str| {
        let mut parts: Vec<String> = jwe.split('.').map(str::to_owned).collect();
        let mut bytes = URL_SAFE_NO_PAD.decode(&parts[3]).expect("b64");
        bytes[0] ^= 1;
        parts[3] = URL_SAFE_NO_PAD.encode(bytes);
        parts.join(".")
    };
    let other_key = key("k");
    let nested = k.encrypt(&k.encrypt(&jws));
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "alg and enc swapped, as in Auth0's documentation",
            k.jwe(&jws)
                .header("alg", "A256GCM")
                .header("enc", "RSA-OAEP-256")
                .build(),
            "(alg) is not accepted",
        ),
        (
            "zip: DEF",
            k.jwe(&jws).header("zip", "DEF").build(),
            "(zip)",
        ),
        (
            "RSA1_5",
            k.jwe(&jws).header("alg", "RSA1_5").build(),
            "(alg) is not accepted",
        ),
        (
            "RSA-OAEP (SHA-1)",
            k.jwe(&jws).header("alg", "RSA-OAEP").build(),
            "(alg) is not accepted",
        ),
        (
            "dir",
            k.jwe(&jws).header("alg", "dir").build(),
            "(alg) is not accepted",
        ),
        (
            "PBES2",
            k.jwe(&jws)
                .header("alg", "PBES2-HS256+A128KW")
                .header("p2c", 1_000_000_000u64)
                .build(),
            "(alg) is not accepted",
        ),
        (
            "ECDH-ES",
            k.jwe(&jws).header("alg", "ECDH-ES").build(),
            "(alg) is not accepted",
        ),
        (
            "A128GCM",
            k.jwe(&jws).header("enc", "A128GCM").build(),
            "(enc) is not A256GCM",
        ),
        (
            "A256CBC-HS512",
            k.jwe(&jws).header("enc", "A256CBC-HS512").build(),
            "(enc) is not A256GCM",
        ),
        (
            "crit",
            k.jwe(&jws).header("crit", json!(["exp"])).build(),
            "(crit)",
        ),
        (
            "cty application/json",
            k.jwe(&jws).header("cty", "application/json").build(),
            "(cty) is not JWT",
        ),
        (
            "alg twice",
            k.jwe(&jws)
                .raw_header(r#"{"alg":"RSA-OAEP-256","alg":"RSA1_5","enc":"A256GCM","kid":"k"}"#)
                .build(),
            "not a JSON object",
        ),
        (
            "a header that is an array",
            k.jwe(&jws).raw_header(r#"["RSA-OAEP-256"]"#).build(),
            "not a JSON object",
        ),
        (
            "a 16-byte IV",
            k.jwe(&jws).iv_len(16).build(),
            "not 96 bits",
        ),
        (
            "an empty IV",
            k.jwe(&jws).iv_len(0).build(),
            "segment of the encrypted token is empty",
        ),
        (
            "a truncated tag",
            k.jwe(&jws).tag_len(12).build(),
            "not 128 bits",
        ),
        (
            "a 16-byte content key",
            k.jwe(&jws).content_key_len(16).build(),
            "could not be decrypted",
        ),
        (
            "a header byte changed (AAD)",
            tamper_header(&k.encrypt(&jws)),
            "could not be decrypted",
        ),
        (
            "a ciphertext bit flipped",
            flip_ciphertext(&k.encrypt(&jws)),
            "could not be decrypted",
        ),
        (
            "encrypted to another key with the same kid",
            other_key.encrypt(&jws),
            "could not be decrypted",
        ),
        (
            "plain claims encrypted to the public key",
            k.jwe(&claims).header("cty", Value::Null).build(),
            "does not hold a signed token",
        ),
        ("a nested JWE", nested, "does not hold a signed token"),
        (
            "six segments",
            format!("{}.x", k.encrypt(&jws)),
            "malformed",
        ),
        (
            "an oversize JWE",
            k.jwe(&format!("{jws}{}", "A".repeat(9000))).build(),
            "larger than",
        ),
    ];
    for (what, jwe, description) in cases {
        let reply = get(&app, &jwe).await;
        assert_eq!(reply.status, 401, "{what}: {}", reply.body);
        reply.assert_invalid_token(description);
        common::assert_doctor_agrees(&app, "/private", &format!("Bearer {jwe}"), &reply).await;
    }
    // A bad key and a bad tag say the same thing (no padding oracle).
    let bad_key = get(&app, &other_key.encrypt(&jws)).await;
    let bad_tag = get(&app, &flip_ciphertext(&k.encrypt(&jws))).await;
    assert_eq!(bad_key.body, bad_tag.body);
    assert_eq!(bad_key.www_authenticate, bad_tag.www_authenticate);
    assert!(app.auth.stats().rejected(RejectionReason::Encryption) >= 20);
    // Nothing was poisoned.
    assert_eq!(get(&app, &k.encrypt(&jws)).await.status, 200);
}

#[tokio::test]
async fn a_jwe_where_none_is_configured_and_a_jws_where_one_is_required() {
    let k = key("k");
    let plain = common::start().await;
    let jwe = plain.issuer.token().sign_encrypted(&k);
    let reply = get(&plain, &jwe).await;
    reply.assert_invalid_token("does not accept encrypted tokens");
    common::assert_doctor_agrees(&plain, "/private", &format!("Bearer {jwe}"), &reply).await;
    let diagnosis = plain.auth.diagnose(&jwe).await;
    assert!(
        diagnosis
            .causes
            .iter()
            .any(|c| c.id == "jwe_token" && c.fix.contains("AUTH0_JWE_KEY_FILE")),
        "{diagnosis:#?}"
    );

    let pem = k.private_key_pem();
    let required = common::start_with(move |b| b.jwe_key(pem).require_encryption(true)).await;
    let jws = required.issuer.token().sign();
    let reply = get(&required, &jws).await;
    reply.assert_invalid_token("accepts only encrypted tokens");
    common::assert_doctor_agrees(&required, "/private", &format!("Bearer {jws}"), &reply).await;
    let diagnosis = required.auth.diagnose(&jws).await;
    assert!(
        diagnosis
            .causes
            .iter()
            .any(|c| c.id == "encryption_required"),
        "{diagnosis:#?}"
    );
    // `jwe_key` without a kid: the key's RFC 7638 thumbprint, which a JWE without kid needs
    // not name (one key).
    let jwe = k
        .jwe(&required.issuer.token().sign())
        .header("kid", Value::Null)
        .build();
    assert_eq!(get(&required, &jwe).await.status, 200);
    let diagnosis = required.auth.diagnose(&jwe).await;
    assert!(diagnosis.accepted(), "{diagnosis:#?}");
    let encryption = diagnosis
        .checks
        .iter()
        .find(|c| c.check == "encryption")
        .expect("finding");
    assert_eq!(
        encryption.actual.as_deref(),
        Some("decrypted: a signed token inside")
    );
}

#[tokio::test]
async fn dpop_ath_is_over_the_jwe_as_sent() {
    let k = key("k");
    let app = app_for(&[&k]).await;
    let dpop = DpopKey::generate().expect("key");
    let jws = app.issuer.token().dpop_bound(&dpop).sign();
    let jwe = k.encrypt(&jws);
    let url = format!("{}/private", app.base);
    let send = |proof: String| {
        common::send(
            app.client
                .get(&url)
                .header("authorization", format!("DPoP {jwe}"))
                .header("dpop", proof),
        )
    };
    let reply = send(dpop.proof("GET", &url, &jwe)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // A proof whose `ath` hashes the inner token is not a proof for this request's token.
    let reply = send(dpop.proof("GET", &url, &jws)).await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert_eq!(reply.error(), "invalid_dpop_proof");
}

fn env_error(vars: &[(&str, String)]) -> ConfigError {
    let vars = vars.to_vec();
    AuthenticatorBuilder::from_vars(move |name| match name {
        "AUTH0_DOMAIN" => Some("tenant.us.auth0.com".into()),
        "AUTH0_AUDIENCE" => Some("https://api".into()),
        _ => vars
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone()),
    })
    .build()
    .expect_err("refused")
}

#[test]
fn unreadable_or_unsuitable_keys_stop_start_up_naming_the_variable() {
    let dir = std::env::temp_dir().join(format!("route-guard-jwe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path.display().to_string()
    };
    let k = key("k");
    let good = write("good.pem", &k.private_key_pem());
    let pkcs1 = write(
        "pkcs1.pem",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n",
    );
    let ec_der = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &aws_lc_rs::rand::SystemRandom::new(),
    )
    .expect("EC key");
    let ec_pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(ec_der.as_ref())
    );
    let ec = write("ec.pem", &ec_pem);
    let named = |e: ConfigError, variable: &str, words: &str| {
        assert!(
            matches!(&e, ConfigError::InvalidSetting { setting, .. } if *setting == variable),
            "{e:?}"
        );
        assert!(e.to_string().contains(words), "{e}");
    };
    let missing = dir.join("missing.pem").display().to_string();
    named(
        env_error(&[("AUTH0_JWE_KEY_FILE", missing)]),
        "AUTH0_JWE_KEY_FILE",
        "cannot read",
    );
    named(
        env_error(&[("AUTH0_JWE_KEY_FILE", pkcs1)]),
        "AUTH0_JWE_KEY_FILE",
        "openssl pkcs8",
    );
    named(
        env_error(&[("AUTH0_JWE_KEY_FILE", ec)]),
        "AUTH0_JWE_KEY_FILE",
        "not an RSA private key",
    );
    named(
        env_error(&[("AUTH0_JWE_KEY_FILE", format!("a={good},a={good}"))]),
        "AUTH0_JWE_KEY_FILE",
        "two keys have the kid `a`",
    );
    named(
        env_error(&[("AUTH0_JWE_REQUIRED", "true".into())]),
        "AUTH0_JWE_REQUIRED",
        "AUTH0_JWE_KEY_FILE",
    );
    named(
        env_error(&[("AUTH0_JWE_REQUIRED", "sometimes".into())]),
        "AUTH0_JWE_REQUIRED",
        "true or false",
    );
    named(
        env_error(&[("AUTH0_JWE_ALGORITHMS", "RSA1_5".into())]),
        "AUTH0_JWE_ALGORITHMS",
        "RSA-OAEP-256",
    );
    // kid=path pairs and a bare path (its kid the key's thumbprint) build.
    let built = AuthenticatorBuilder::from_vars(|name| match name {
        "AUTH0_DOMAIN" => Some("tenant.us.auth0.com".into()),
        "AUTH0_AUDIENCE" => Some("https://api".into()),
        "AUTH0_JWE_KEY_FILE" => Some(format!("2026-12={good}")),
        "AUTH0_JWE_REQUIRED" => Some("true".into()),
        _ => None,
    })
    .build();
    assert!(built.is_ok(), "{built:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
