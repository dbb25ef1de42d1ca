//! Key pairs the test issuer and DPoP clients sign with, and their public JWKs.

use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use serde_json::{json, Map, Value};

use super::{b64, TestIssuerError};
use crate::config::Algorithm;

pub(super) enum KeyPair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair, Algorithm),
    Ed(Ed25519KeyPair),
}

pub(super) struct TestKey {
    pub(super) kid: String,
    pub(super) alg: Algorithm,
    pub(super) pair: Arc<KeyPair>,
    pub(super) published: bool,
    /// Extra JWK members (e.g. `use`), merged into the published JWK.
    pub(super) extra: Map<String, Value>,
}

/// The public JWK of a key pair (`kty` and key members only).
pub(super) fn public_jwk(pair: &KeyPair) -> Value {
    match pair {
        KeyPair::Rsa(pair) => {
            let public = pair.public_key();
            json!({
                "kty": "RSA",
                "n": b64(public.modulus().big_endian_without_leading_zero()),
                "e": b64(public.exponent().big_endian_without_leading_zero()),
            })
        }
        KeyPair::Ec(pair, alg) => {
            let point = pair.public_key().as_ref();
            let len = (point.len() - 1) / 2;
            json!({
                "kty": "EC",
                "crv": if *alg == Algorithm::ES384 { "P-384" } else { "P-256" },
                "x": b64(&point[1..1 + len]),
                "y": b64(&point[1 + len..]),
            })
        }
        KeyPair::Ed(pair) => json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64(pair.public_key().as_ref()),
        }),
    }
}

impl TestKey {
    pub(super) fn jwk(&self) -> Value {
        let mut jwk = public_jwk(&self.pair);
        if let Value::Object(map) = &mut jwk {
            map.insert("kid".into(), Value::String(self.kid.clone()));
            map.insert("use".into(), Value::String("sig".into()));
            map.insert("alg".into(), Value::String(self.alg.as_str().into()));
            for (k, v) in &self.extra {
                if v.is_null() {
                    map.remove(k);
                } else {
                    map.insert(k.clone(), v.clone());
                }
            }
        }
        jwk
    }
}

pub(super) fn generate(alg: Algorithm) -> Result<KeyPair, TestIssuerError> {
    let err = |_| TestIssuerError::KeyGeneration(alg);
    Ok(match alg {
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => KeyPair::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).map_err(err)?),
        Algorithm::ES256 => KeyPair::Ec(
            EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).map_err(err)?,
            alg,
        ),
        Algorithm::ES384 => KeyPair::Ec(
            EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_FIXED_SIGNING).map_err(err)?,
            alg,
        ),
        Algorithm::EdDSA | Algorithm::Ed25519 => {
            KeyPair::Ed(Ed25519KeyPair::generate().map_err(err)?)
        }
        Algorithm::HS256 => return Err(TestIssuerError::KeyGeneration(alg)),
    })
}

/// The compact JWS of the header and payload JSON texts, signed with `key` (an empty signature
/// without one: an invalid token, never a panic): what the token builder, `sign_raw` and the
/// token endpoint all make.
pub(super) fn compact_jws(
    header_json: &str,
    payload_json: &str,
    key: Option<(&KeyPair, Algorithm)>,
) -> String {
    let message = format!(
        "{}.{}",
        b64(header_json.as_bytes()),
        b64(payload_json.as_bytes())
    );
    let signature = key
        .map(|(pair, alg)| sign(pair, alg, message.as_bytes()))
        .unwrap_or_default();
    format!("{message}.{}", b64(&signature))
}

pub(super) fn sign(pair: &KeyPair, alg: Algorithm, message: &[u8]) -> Vec<u8> {
    let rng = SystemRandom::new();
    match pair {
        KeyPair::Rsa(pair) => {
            let padding: &'static dyn signature::RsaEncoding = match alg {
                Algorithm::RS384 => &signature::RSA_PKCS1_SHA384,
                Algorithm::RS512 => &signature::RSA_PKCS1_SHA512,
                Algorithm::PS256 => &signature::RSA_PSS_SHA256,
                Algorithm::PS384 => &signature::RSA_PSS_SHA384,
                Algorithm::PS512 => &signature::RSA_PSS_SHA512,
                _ => &signature::RSA_PKCS1_SHA256,
            };
            let mut out = vec![0; pair.public_modulus_len()];
            match pair.sign(padding, &rng, message, &mut out) {
                Ok(()) => out,
                Err(_) => Vec::new(),
            }
        }
        KeyPair::Ec(pair, _) => pair
            .sign(&rng, message)
            .map(|s| s.as_ref().to_vec())
            .unwrap_or_default(),
        KeyPair::Ed(pair) => pair.sign(message).as_ref().to_vec(),
    }
}
