//! JWK -> parsed verification key, done once when a key set arrives.

use aws_lc_rs::signature::{self, ParsedPublicKey, VerificationAlgorithm};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;

use crate::config::Algorithm;

/// One JWK as it arrives; every field optional so that one odd key cannot spoil the set.
#[derive(Deserialize)]
pub(crate) struct RawJwk {
    #[serde(default)]
    kty: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
    #[serde(default)]
    d: Option<serde::de::IgnoredAny>,
}

/// A `{"keys": [...]}` document; entries that are not objects are skipped, not fatal.
#[derive(Deserialize)]
pub(crate) struct RawJwkSet {
    pub(crate) keys: Vec<serde_json::Value>,
}

/// A key ready to verify: parsed once for each allowed algorithm it can serve.
pub(crate) struct VerifyingKey {
    pub(crate) kid: Option<String>,
    parsed: Vec<(Algorithm, ParsedPublicKey)>,
}

impl VerifyingKey {
    /// The parsed key for `alg`, if this key may verify it (key type, curve and the JWK's own
    /// `alg` all agree).
    pub(crate) fn for_alg(&self, alg: Algorithm) -> Option<&ParsedPublicKey> {
        self.parsed.iter().find(|(a, _)| *a == alg).map(|(_, k)| k)
    }
}

/// Why a JWK was skipped (logged at debug level, never fatal for the set).
#[derive(Debug)]
pub(crate) enum SkipReason {
    NotAnObject,
    NotForSignatures,
    PrivateKey,
    Unsupported,
    Malformed,
}

pub(crate) fn parse_key(
    value: serde_json::Value,
    allowed: &[Algorithm],
) -> Result<VerifyingKey, SkipReason> {
    if !value.is_object() {
        return Err(SkipReason::NotAnObject);
    }
    let jwk: RawJwk = serde_json::from_value(value).map_err(|_| SkipReason::Malformed)?;
    // A key published for encryption must never verify a signature (RFC 7517 §4.2).
    if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
        return Err(SkipReason::NotForSignatures);
    }
    // A JWKS that leaks a private key is misconfigured; refusing the key is the safe reading.
    if jwk.d.is_some() {
        return Err(SkipReason::PrivateKey);
    }
    // Every algorithm a token may use with this key: the allowed ones (with `Ed25519` wherever
    // `EdDSA` is allowed, RFC 9864) that fit the JWK's own `alg`, if it states one.
    let stated = match jwk.alg.as_deref() {
        None => None,
        Some(name) => Some(
            name.parse::<Algorithm>()
                .map_err(|_| SkipReason::Unsupported)?,
        ),
    };
    let candidates: Vec<Algorithm> = Algorithm::ALL
        .into_iter()
        .filter(|a| a.allowed_by(allowed))
        .filter(|a| stated.is_none_or(|s| s.same_signature(*a)))
        .collect();
    let mut parsed = Vec::new();
    match jwk.kty.as_deref() {
        Some("RSA") => {
            let n = b64(jwk.n.as_deref())?;
            let e = b64(jwk.e.as_deref())?;
            let der = rsa_public_key_der(&n, &e);
            for alg in candidates {
                if let Some(verification) = rsa_algorithm(alg) {
                    let key = ParsedPublicKey::new(verification, &der)
                        .map_err(|_| SkipReason::Malformed)?;
                    parsed.push((alg, key));
                }
            }
        }
        Some("EC") => {
            let x = b64(jwk.x.as_deref())?;
            let y = b64(jwk.y.as_deref())?;
            let (alg, verification, len): (_, &'static dyn VerificationAlgorithm, _) =
                match jwk.crv.as_deref() {
                    Some("P-256") => (Algorithm::ES256, &signature::ECDSA_P256_SHA256_FIXED, 32),
                    Some("P-384") => (Algorithm::ES384, &signature::ECDSA_P384_SHA384_FIXED, 48),
                    _ => return Err(SkipReason::Unsupported),
                };
            if x.len() != len || y.len() != len {
                return Err(SkipReason::Malformed);
            }
            if candidates.contains(&alg) {
                let mut point = Vec::with_capacity(1 + 2 * len);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                let key = ParsedPublicKey::new(verification, &point)
                    .map_err(|_| SkipReason::Malformed)?;
                parsed.push((alg, key));
            }
        }
        Some("OKP") => {
            if jwk.crv.as_deref() != Some("Ed25519") {
                return Err(SkipReason::Unsupported);
            }
            let x = b64(jwk.x.as_deref())?;
            if x.len() != 32 {
                return Err(SkipReason::Malformed);
            }
            for alg in [Algorithm::EdDSA, Algorithm::Ed25519] {
                if candidates.contains(&alg) {
                    let key = ParsedPublicKey::new(&signature::ED25519, &x)
                        .map_err(|_| SkipReason::Malformed)?;
                    parsed.push((alg, key));
                }
            }
        }
        _ => return Err(SkipReason::Unsupported),
    }
    if parsed.is_empty() {
        return Err(SkipReason::Unsupported);
    }
    Ok(VerifyingKey {
        kid: jwk.kid,
        parsed,
    })
}

fn b64(value: Option<&str>) -> Result<Vec<u8>, SkipReason> {
    let value = value.ok_or(SkipReason::Malformed)?;
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| SkipReason::Malformed)
}

/// The aws-lc-rs verification algorithm for an RSA `alg`. The 2048-bit minimum is deliberate:
/// shorter RSA keys are refused when the key set is parsed.
pub(crate) fn rsa_algorithm(alg: Algorithm) -> Option<&'static dyn VerificationAlgorithm> {
    Some(match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

/// DER of PKCS#1 `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    let n = der_integer(n);
    let e = der_integer(e);
    let mut out = Vec::with_capacity(n.len() + e.len() + 8);
    out.push(0x30);
    der_length(&mut out, n.len() + e.len());
    out.extend_from_slice(&n);
    out.extend_from_slice(&e);
    out
}

fn der_integer(bytes: &[u8]) -> Vec<u8> {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let trimmed = &bytes[first..];
    let pad = trimmed.first().is_some_and(|&b| b & 0x80 != 0);
    let len = trimmed.len() + usize::from(pad);
    let mut out = Vec::with_capacity(len + 6);
    out.push(0x02);
    der_length(&mut out, len.max(1));
    if pad {
        out.push(0);
    }
    if trimmed.is_empty() {
        out.push(0);
    }
    out.extend_from_slice(trimmed);
    out
}

fn der_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}
