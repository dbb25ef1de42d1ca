//! Reading the request's credentials: the one `Authorization` header (`Bearer` or `DPoP` with a
//! token68), and the one `DPoP` proof header.

use axum::http::header::{AsHeaderName, AUTHORIZATION};
use axum::http::{HeaderMap, HeaderName, HeaderValue};

use super::rejection::AuthError;
use crate::dpop::ProofError;

/// RFC 9449 §4.1. A `HeaderName`, not a `&str`: a string is parsed into a name on every look-up.
pub(super) const DPOP: HeaderName = HeaderName::from_static("dpop");

/// The one proof of the request: exactly one `DPoP` header with one value.
pub(super) fn single_proof(headers: &HeaderMap) -> Result<&str, ProofError> {
    let value = match sole_value(headers, DPOP) {
        Ok(Some(value)) => value,
        Ok(None) => return Err(ProofError::Missing),
        Err(Repeated) => return Err(ProofError::Multiple),
    };
    let value = value
        .to_str()
        .map_err(|_| ProofError::Malformed("the DPoP header is not visible ASCII"))?
        .trim();
    // A JWS has no commas: one means two proofs folded into one header line.
    if value.contains(',') {
        return Err(ProofError::Multiple);
    }
    if value.is_empty() {
        return Err(ProofError::Missing);
    }
    Ok(value)
}

/// The two schemes route-guard reads.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Bearer,
    Dpop,
}

/// The scheme and token of `Authorization: Bearer <token>` or `Authorization: DPoP <token>`;
/// nothing else is a source. Any other scheme is `MissingToken`.
pub(super) fn credentials(headers: &HeaderMap) -> Result<(Kind, &str), AuthError> {
    let value = match sole_value(headers, AUTHORIZATION) {
        Ok(Some(value)) => value,
        Ok(None) => return Err(AuthError::MissingToken),
        Err(Repeated) => {
            return Err(AuthError::InvalidRequest(
                "the request has more than one Authorization header",
            ))
        }
    };
    if let Some(found) = well_formed(value.as_bytes()) {
        return Ok(found);
    }
    // Anything else is worked out step by step, for the right refusal.
    let Ok(value) = value.to_str() else {
        return Err(AuthError::InvalidRequest(
            "the Authorization header holds characters that are not visible ASCII",
        ));
    };
    let (scheme, rest) = match value.find([' ', '\t']) {
        Some(i) => (&value[..i], &value[i..]),
        None => (value, ""),
    };
    let kind = if scheme.eq_ignore_ascii_case("bearer") {
        Kind::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Kind::Dpop
    } else {
        // Another scheme (Basic, ...) is no token at all: a plain challenge.
        return Err(AuthError::MissingToken);
    };
    let pick = |bearer: &'static str, dpop: &'static str| match kind {
        Kind::Bearer => bearer,
        Kind::Dpop => dpop,
    };
    if rest.starts_with('\t') {
        return Err(AuthError::InvalidRequest(pick(
            "separate the Bearer scheme from the token with a space",
            "separate the DPoP scheme from the token with a space",
        )));
    }
    let token = rest.trim_start_matches(' ');
    if token.is_empty() {
        return Err(AuthError::InvalidRequest(pick(
            "the Bearer scheme is not followed by a token",
            "the DPoP scheme is not followed by a token",
        )));
    }
    if !is_token68(token) {
        // One pass decides the common case; which rule failed is worked out only for a refusal.
        return Err(AuthError::InvalidRequest(if token.contains([' ', '\t']) {
            "the Authorization header holds more than one token"
        } else {
            pick(
                "the bearer token holds characters outside the token68 syntax",
                "the DPoP token holds characters outside the token68 syntax",
            )
        }));
    }
    Ok((kind, token))
}

/// The bytes after `Bearer ` in the request's one `Authorization` header, unscanned: only for
/// a lookup in the verified-token cache, where nothing malformed can be found.
pub(super) fn bearer_bytes(headers: &HeaderMap) -> Option<&[u8]> {
    let value = sole_value(headers, AUTHORIZATION).ok()??.as_bytes();
    if value.len() < 7 || !value[..7].eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    Some(&value[7..])
}

/// A header sent more than once.
struct Repeated;

/// The one value of header `name`: `None` when absent, `Repeated` when there are several.
fn sole_value(
    headers: &HeaderMap,
    name: impl AsHeaderName,
) -> Result<Option<&HeaderValue>, Repeated> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    match values.next() {
        Some(_) => Err(Repeated),
        None => Ok(first),
    }
}

/// The shape of nearly every request, `Bearer <token68>` or `DPoP <token68>` with one space,
/// recognised in one pass over the bytes; `None` sends anything else down the careful path.
fn well_formed(value: &[u8]) -> Option<(Kind, &str)> {
    let space = value.iter().position(|&b| b == b' ')?;
    let (scheme, token) = (&value[..space], &value[space + 1..]);
    let kind = if scheme.eq_ignore_ascii_case(b"bearer") {
        Kind::Bearer
    } else if scheme.eq_ignore_ascii_case(b"dpop") {
        Kind::Dpop
    } else {
        return None;
    };
    // token68 is ASCII, so the bytes are valid UTF-8 once it passed.
    let token = std::str::from_utf8(token).ok()?;
    is_token68(token).then_some((kind, token))
}

/// RFC 7235 token68: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
///
/// Every request with a token pays this scan of ~1 KiB, so it has no early exit and no
/// branches per byte: the compiler turns it into vector compares.
fn is_token68(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .as_bytes()
            .chunks(64)
            .all(|chunk| chunk.iter().fold(true, |ok, &b| ok & is_token68_byte(b)))
}

#[inline(always)]
fn is_token68_byte(b: u8) -> bool {
    // `| 0x20` lowercases ASCII letters and maps no other byte into `a..=z`.
    let lower = b | 0x20;
    lower.is_ascii_lowercase()
        | b.is_ascii_digit()
        | (b == b'-')
        | (b == b'.')
        | (b == b'_')
        | (b == b'~')
        | (b == b'+')
        | (b == b'/')
}
