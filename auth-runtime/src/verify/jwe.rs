//! Encrypted tokens (JWE compact serialization, RFC 7516): a five-segment token in, the
//! three-segment JWS it holds out, before the JWS path, which then checks it whole (signature,
//! claims, binding, policies). Only RSA-OAEP-256/384/512 and A256GCM; every header check comes
//! before any RSA work, and a failed key unwrap and a failed tag give the same answer after the
//! same work (RFC 7516 §11.5: a random key stands in for one that did not unwrap).

use std::borrow::Cow;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::IgnoredAny;
use serde::Deserialize;

use super::diagnose::{passed, TokenReport};
use super::error::VerifyError;
use super::header::is_object;
use super::Authenticator;
use crate::config::{DecryptionKey, JweSettings};

/// Longer protected headers are refused before they are decoded.
const MAX_HEADER_CHARS: usize = 1024;

/// The members of a JWE protected header route-guard reads. A member given twice is refused
/// (serde's derive), unknown ones are ignored unless `crit` names them.
#[derive(Deserialize)]
struct JweHeader<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow)]
    enc: Cow<'a, str>,
    #[serde(default, borrow)]
    kid: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    cty: Option<Cow<'a, str>>,
    #[serde(default)]
    zip: Option<IgnoredAny>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
}

impl Authenticator {
    /// The JWS `token` is or holds: itself (three segments), or what its encryption (five
    /// segments) hides, when decryption keys are configured. A plain token where encryption is
    /// required, and an encrypted one where it is not accepted, are refused.
    pub(super) fn unwrap_jwe<'t>(&self, token: &'t str) -> Result<Cow<'t, str>, VerifyError> {
        let jwe = &self.inner.settings.jwe;
        // `split` finds the dots with memchr: a few hundred instructions for a token.
        let encrypted = token.split('.').count() == 5;
        match (encrypted, jwe.enabled()) {
            (true, false) => Err(VerifyError::EncryptedNotAccepted),
            (true, true) => decrypt(jwe, token).map(Cow::Owned),
            (false, _) if jwe.required => Err(VerifyError::EncryptionRequired),
            (false, _) => Ok(Cow::Borrowed(token)),
        }
    }
}

/// The doctor's view of the encryption layer.
impl Authenticator {
    /// The `encryption` finding, for an encrypted token or where encryption is required; the
    /// signed token inside, when the token was decrypted.
    pub(super) fn encryption_check(&self, report: &mut TokenReport, token: &str) -> Option<String> {
        let jwe = &self.inner.settings.jwe;
        let encrypted = report.segments == 5;
        if !encrypted && !jwe.required {
            return None;
        }
        let expected = match (jwe.enabled(), jwe.required) {
            (false, _) => "a signed token (JWS): no decryption key is configured".to_owned(),
            (true, required) => format!(
                "{}a JWE with alg {} and enc A256GCM, to one of the keys {}, holding a signed token",
                if required { "only " } else { "a JWS, or " },
                jwe.algorithms
                    .iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join(" / "),
                jwe.keys.iter().map(|k| &*k.kid).collect::<Vec<_>>().join(", ")
            ),
        };
        let outcome = self.unwrap_jwe(token);
        let actual = match (&outcome, encrypted) {
            (Ok(_), true) => "decrypted: a signed token inside".to_owned(),
            (Ok(_), false) => "a signed token (JWS)".to_owned(),
            (Err(e), _) => e.to_string(),
        };
        report.push(
            "encryption",
            passed(outcome.is_ok()),
            expected,
            actual,
            true,
        );
        match outcome {
            Ok(jws) => Some(jws.into_owned()).filter(|_| encrypted),
            Err(e) => {
                report.encryption_error = Some(e);
                None
            }
        }
    }
}

fn refuse(why: &'static str) -> VerifyError {
    VerifyError::Jwe(why)
}

/// RFC 7516 §5.2, for RSA-OAEP-* and A256GCM only.
fn decrypt(settings: &JweSettings, token: &str) -> Result<String, VerifyError> {
    let mut parts = token.split('.');
    let (Some(header_b64), Some(key_b64), Some(iv_b64), Some(ciphertext_b64), Some(tag_b64)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(refuse("the encrypted token does not have five segments"));
    };
    if [header_b64, key_b64, iv_b64, ciphertext_b64, tag_b64]
        .iter()
        .any(|s| s.is_empty())
    {
        return Err(refuse("a segment of the encrypted token is empty"));
    }
    if header_b64.len() > MAX_HEADER_CHARS {
        return Err(refuse("the encrypted token's header is too large"));
    }
    // The header's checks: before any RSA work.
    let header_json = URL_SAFE_NO_PAD
        .decode(header_b64)
        .map_err(|_| refuse("the encrypted token's header is not base64url"))?;
    const NOT_A_HEADER: &str =
        "the encrypted token's header is not a JSON object with a string `alg` and `enc`";
    if !is_object(&header_json) {
        return Err(refuse(NOT_A_HEADER));
    }
    let header: JweHeader<'_> =
        serde_json::from_slice(&header_json).map_err(|_| refuse(NOT_A_HEADER))?;
    let alg = settings
        .algorithms
        .iter()
        .find(|a| a.as_str() == header.alg)
        .ok_or(refuse(
            "the encrypted token's key management algorithm (alg) is not accepted",
        ))?;
    if header.enc != "A256GCM" {
        return Err(refuse(
            "the encrypted token's content encryption (enc) is not A256GCM",
        ));
    }
    if header.zip.is_some() {
        return Err(refuse("compressed encrypted tokens (zip) are not accepted"));
    }
    if header.crit.is_some() {
        return Err(refuse(
            "the encrypted token has a critical header extension (crit) that is not supported",
        ));
    }
    if header
        .cty
        .as_deref()
        .is_some_and(|cty| !cty.eq_ignore_ascii_case("JWT"))
    {
        return Err(refuse(
            "the encrypted token's content type (cty) is not JWT: it must hold a signed token",
        ));
    }
    let key = select_key(&settings.keys, header.kid.as_deref())?;
    let encrypted_key = URL_SAFE_NO_PAD
        .decode(key_b64)
        .map_err(|_| refuse("the encrypted token's encrypted key is not base64url"))?;
    if encrypted_key.len() != key.size {
        return Err(refuse(
            "the encrypted token's encrypted key is not as long as the decryption key",
        ));
    }
    let iv = exact::<12>(iv_b64).ok_or(refuse(
        "the encrypted token's initialization vector is not 96 bits",
    ))?;
    let tag = exact::<16>(tag_b64).ok_or(refuse(
        "the encrypted token's authentication tag is not 128 bits",
    ))?;
    let mut sealed = URL_SAFE_NO_PAD
        .decode(ciphertext_b64)
        .map_err(|_| refuse("the encrypted token's ciphertext is not base64url"))?;
    sealed.extend_from_slice(&tag);

    // The content key: a random one stands in when the unwrap fails or yields another length,
    // so that a bad key and a bad tag cost the same and answer the same (no padding oracle).
    let mut cek = [0u8; 32];
    aws_lc_rs::rand::fill(&mut cek).map_err(|_| VerifyError::Undecryptable)?;
    let mut unwrapped = vec![0u8; key.key.min_output_size()];
    if let Ok(plain) = key
        .key
        .decrypt(alg.oaep(), &encrypted_key, &mut unwrapped, None)
    {
        if plain.len() == cek.len() {
            cek.copy_from_slice(plain);
        }
    }
    let opening = UnboundKey::new(&AES_256_GCM, &cek)
        .map(LessSafeKey::new)
        .map_err(|_| VerifyError::Undecryptable)?;
    let nonce = Nonce::try_assume_unique_for_key(&iv).map_err(|_| VerifyError::Undecryptable)?;
    // The AAD is the protected header exactly as received (RFC 7516 §5.2 step 14).
    let plaintext = opening
        .open_in_place(nonce, Aad::from(header_b64.as_bytes()), &mut sealed)
        .map_err(|_| VerifyError::Undecryptable)?;
    // Only a signed token inside (RFC 8725 §2.3): never claims anyone could encrypt to the
    // public key, never a second layer of encryption.
    const NOT_A_JWS: &str = "the encrypted token does not hold a signed token (JWS): unsigned claims and nested encryption are refused";
    let text = std::str::from_utf8(plaintext).map_err(|_| refuse(NOT_A_JWS))?;
    if text.bytes().filter(|&b| b == b'.').count() != 2 || is_object(text.as_bytes()) {
        return Err(refuse(NOT_A_JWS));
    }
    Ok(text.to_owned())
}

/// The key `kid` names, or the only key when the header names none.
fn select_key<'k>(
    keys: &'k [DecryptionKey],
    kid: Option<&str>,
) -> Result<&'k DecryptionKey, VerifyError> {
    match (kid, keys) {
        (Some(kid), _) => keys.iter().find(|k| *k.kid == *kid).ok_or(refuse(
            "the encrypted token's key id (kid) is not one of this API's decryption keys",
        )),
        (None, [only]) => Ok(only),
        (None, _) => Err(refuse(
            "the encrypted token has no key id (kid) and this API has several decryption keys",
        )),
    }
}

/// A base64url segment that decodes to exactly `N` bytes.
fn exact<const N: usize>(segment: &str) -> Option<[u8; N]> {
    if segment.len() != (N * 4).div_ceil(3) {
        return None;
    }
    let mut out = [0u8; N];
    match URL_SAFE_NO_PAD.decode_slice(segment, &mut out) {
        Ok(n) if n == N => Some(out),
        _ => None,
    }
}
