//! Encrypted tokens made by another JOSE implementation: Devolutions' picky (RustCrypto's RSA
//! and AES-GCM) encrypts the test issuer's signed token to the API's public key, as Auth0's
//! Token Encryption does, and route-guard (aws-lc-rs) decrypts and accepts it over HTTP. The
//! algorithms route-guard does not accept are refused from picky too.

use crate::common;

use picky::jose::jwe::{Jwe, JweAlg, JweEnc};
use picky::key::PublicKey;
use route_guard::testing::TestEncryptionKey;

/// `token` encrypted by picky with `alg`/`enc` to `key`'s public key, naming its `kid`.
fn picky_jwe(key: &TestEncryptionKey, token: &str, alg: JweAlg, enc: JweEnc) -> String {
    let public = PublicKey::from_pem_str(&key.public_key_pem()).expect("picky reads the SPKI PEM");
    let mut jwe = Jwe::new(alg, enc, token.as_bytes().to_vec());
    jwe.header.kid = Some(key.kid().to_owned());
    jwe.header.cty = Some("JWT".to_owned());
    jwe.encode(&public).expect("picky encrypts")
}

#[tokio::test]
async fn a_jwe_made_by_picky_is_accepted() {
    let key = TestEncryptionKey::generate("picky-interop").expect("key");
    let pem = key.private_key_pem();
    let kid = key.kid().to_owned();
    let app = common::start_with(move |b| b.jwe_key_with_kid(kid, pem)).await;
    let token = app.issuer.token().scopes("read:messages").sign();
    let jwe = picky_jwe(&key, &token, JweAlg::RsaOaep256, JweEnc::Aes256Gcm);
    assert_eq!(jwe.split('.').count(), 5);
    let reply = app.get("/scoped", Some(&jwe)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    // What route-guard never accepts, from picky too: RSA1_5, RSA-OAEP with SHA-1, A128GCM.
    for (alg, enc, says) in [
        (
            JweAlg::RsaPkcs1v15,
            JweEnc::Aes256Gcm,
            "(alg) is not accepted",
        ),
        (JweAlg::RsaOaep, JweEnc::Aes256Gcm, "(alg) is not accepted"),
        (
            JweAlg::RsaOaep256,
            JweEnc::Aes128Gcm,
            "(enc) is not A256GCM",
        ),
    ] {
        let jwe = picky_jwe(&key, &token, alg, enc);
        let reply = app.get("/private", Some(&jwe)).await;
        reply.assert_rejected(401, "invalid_token");
        assert!(reply.description().contains(says), "{}", reply.body);
    }
}
