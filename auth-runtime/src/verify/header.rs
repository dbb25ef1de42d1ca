//! The token's shape and JOSE header: base64url segments, JSON objects, `alg`, `kid`, `typ`,
//! `crit`.

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::de::IgnoredAny;
use serde::Deserialize;

use super::error::VerifyError;

pub(crate) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

pub(crate) fn decode_segment(segment: &str, what: &'static str) -> Result<Vec<u8>, VerifyError> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| VerifyError::Malformed(what))
}

/// [`decode_segment`] into `buffer` when it fits (no allocation), onto the heap otherwise.
pub(super) fn decode_segment_into<'b>(
    segment: &str,
    buffer: &'b mut [u8],
    what: &'static str,
) -> Result<Cow<'b, [u8]>, VerifyError> {
    if segment.len().div_ceil(4) * 3 > buffer.len() {
        return decode_segment(segment, what).map(Cow::Owned);
    }
    let len = URL_SAFE_NO_PAD
        .decode_slice(segment, buffer)
        .map_err(|_| VerifyError::Malformed(what))?;
    Ok(Cow::Borrowed(&buffer[..len]))
}

/// serde's derived struct impls also accept JSON arrays; a JOSE header or claims set must be an
/// object, so check the first byte before parsing.
pub(crate) fn is_object(json: &[u8]) -> bool {
    json.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

pub(super) fn parse_header(json: &[u8]) -> Result<Header<'_>, VerifyError> {
    const NOT_A_HEADER: VerifyError =
        VerifyError::Malformed("the header is not a JSON object with a string `alg`");
    if !is_object(json) {
        return Err(NOT_A_HEADER);
    }
    // A duplicate or mistyped member (two `alg`s, a numeric `kid`) is as malformed as bad JSON.
    serde_json::from_slice(json).map_err(|_| NOT_A_HEADER)
}

pub(super) fn check_typ(typ: Option<&str>, strict: bool) -> Result<(), VerifyError> {
    // Media types are case-insensitive (RFC 7515 §4.1.9).
    let is = |v: &str| typ.is_some_and(|t| t.eq_ignore_ascii_case(v));
    let at_jwt = is("at+jwt") || is("application/at+jwt");
    match (strict, typ) {
        (true, _) if at_jwt => Ok(()),
        (true, _) => Err(VerifyError::TokenType(
            "an RFC 9068 access token (typ at+jwt) is required",
        )),
        (false, None) => Ok(()),
        (false, Some(_)) if at_jwt || is("JWT") => Ok(()),
        (false, Some(_)) => Err(VerifyError::TokenType("expected JWT or at+jwt")),
    }
}

#[derive(Deserialize)]
pub(super) struct Header<'a> {
    #[serde(borrow)]
    pub(super) alg: Cow<'a, str>,
    #[serde(default, borrow)]
    pub(super) kid: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub(super) typ: Option<Cow<'a, str>>,
    #[serde(default)]
    pub(super) crit: Option<IgnoredAny>,
}
