//! DPoP (RFC 9449): proof checks, the token binding, server nonces and the replay check. The
//! state (the replay store, the nonce key) is held by the Authenticator (`verify::DpopState`);
//! the stores themselves live in `store`.
//!
//! The order is fixed: the proof (shape, `typ`, `alg`, public `jwk`, signature, `htm`, `htu`,
//! `iat`, `ath`, nonce), then the access token through the one verification path, then the
//! binding (`cnf.jkt` against the proof key's RFC 7638 thumbprint), and the replay check last,
//! so that only proofs made with the key of a valid token can ever enter the store.

mod htu;
mod nonce;

use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::time::Duration;

use aws_lc_rs::digest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{Map, Value};

pub(crate) use htu::request_url;

use crate::config::{Algorithm, DpopMode, Recorded};
use crate::jwks::parse_key;
use crate::stats::RejectionReason;
use crate::verify::{
    decode_segment, is_object, unix_now, Authenticator, Escaped, NumericDate, Presentation,
    RequestContext, VerifiedToken, VerifyError,
};

/// The largest DPoP proof accepted, in bytes (an RSA 4096 `jwk` fits with room to spare).
const MAX_PROOF_BYTES: usize = 8 * 1024;
/// The longest `jti` accepted, in bytes.
const MAX_JTI_BYTES: usize = 256;

/// Why a DPoP proof was not accepted (`error="invalid_dpop_proof"`). Its `Display` is the
/// `error_description`: it never echoes the proof or its claims.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// `Authorization: DPoP` without a `DPoP` header.
    #[error("a DPoP-bound token needs a DPoP proof: send it in one `DPoP` header")]
    Missing,
    /// More than one `DPoP` header, or a header holding more than one value.
    #[error("the request has more than one DPoP proof")]
    Multiple,
    /// A `DPoP` header without `Authorization: DPoP <token>`.
    #[error("a DPoP proof was sent without a DPoP-bound access token: use `Authorization: DPoP <token>`")]
    WithoutDpopToken,
    /// Larger than 8 KiB.
    #[error("the DPoP proof is too large")]
    TooLarge,
    /// Not a compact JWS with a JSON header and claims.
    #[error("the DPoP proof is malformed: {0}")]
    Malformed(&'static str),
    /// `typ` is not `dpop+jwt`.
    #[error("the DPoP proof's type (typ) must be dpop+jwt")]
    Type,
    /// `alg` is not in the proof algorithm allow-list.
    #[error("the DPoP proof's algorithm is not accepted (accepted: {allowed})")]
    AlgorithmNotAllowed {
        /// The accepted algorithms, space-separated.
        allowed: String,
    },
    /// The header `jwk` is missing, not a public key of the proof's `alg`, or not usable.
    #[error("the DPoP proof's jwk is not a public key for its algorithm")]
    InvalidKey,
    /// The header `jwk` holds private key members.
    #[error("the DPoP proof's jwk must not contain private key material")]
    PrivateKey,
    /// The proof has a `crit` header.
    #[error("the DPoP proof has a critical header extension (crit) that is not supported")]
    CriticalHeader,
    /// The signature does not verify with the header `jwk`.
    #[error("the DPoP proof's signature is invalid")]
    InvalidSignature,
    /// A required claim is missing or of the wrong type.
    #[error("the DPoP proof has no valid `{0}` claim")]
    InvalidClaim(&'static str),
    /// `htm` is not the request method.
    #[error("the DPoP proof's htm does not match the request method")]
    Method,
    /// `htu` is not the request URL.
    #[error("the DPoP proof's htu does not match the request URL")]
    Url,
    /// `iat` is outside `[now - offset - leeway, now + leeway]`.
    #[error("the DPoP proof's iat is outside the accepted window (too old or in the future)")]
    IssuedAt,
    /// `ath` is not the hash of the access token.
    #[error("the DPoP proof's ath does not match the access token")]
    TokenHash,
    /// The token's `cnf.jkt` is not the thumbprint of the proof's `jwk`.
    #[error("the access token is bound to another key than the DPoP proof's jwk (cnf.jkt)")]
    KeyMismatch,
    /// The proof's `jti` was seen before.
    #[error("the DPoP proof was already used (jti replay): make a new proof for each request")]
    Replayed,
}

impl ProofError {
    /// The counter and log category.
    pub fn reason(&self) -> RejectionReason {
        match self {
            ProofError::KeyMismatch => RejectionReason::DpopBinding,
            ProofError::Replayed => RejectionReason::DpopReplay,
            _ => RejectionReason::DpopProof,
        }
    }
}

/// Why [`Authenticator::verify_dpop`] refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// The access token failed (`invalid_token`), or is not DPoP-bound.
    #[error(transparent)]
    Token(VerifyError),
    /// The proof failed (`invalid_dpop_proof`).
    #[error(transparent)]
    Proof(ProofError),
    /// The proof lacks the current server nonce (`use_dpop_nonce`); `nonce` is the one to use,
    /// sent in the `DPoP-Nonce` response header.
    #[error(
        "a DPoP nonce is required: make a new proof with the nonce from the DPoP-Nonce header"
    )]
    UseNonce {
        /// The current nonce.
        nonce: String,
    },
    /// The replay store did not answer: the request fails closed (503).
    #[error("the DPoP replay store is unavailable; try again shortly")]
    ReplayStoreUnavailable,
    /// The proof key already holds its quota of live proofs in the replay store
    /// ([`dpop_replay_quota`](crate::AuthenticatorBuilder::dpop_replay_quota)): the proof was not
    /// recorded. Answered 429 with `Retry-After`.
    #[error("this DPoP key has too many recent proofs; retry later")]
    QuotaExceeded {
        /// How long until the key's oldest proof leaves the store.
        retry_after: Duration,
    },
}

impl DpopError {
    /// The counter and log category.
    pub fn reason(&self) -> RejectionReason {
        match self {
            DpopError::Token(e) => e.reason(),
            DpopError::Proof(e) => e.reason(),
            DpopError::UseNonce { .. } => RejectionReason::DpopNonce,
            DpopError::ReplayStoreUnavailable => RejectionReason::ReplayStoreUnavailable,
            DpopError::QuotaExceeded { .. } => RejectionReason::DpopQuota,
        }
    }
}

impl From<ProofError> for DpopError {
    fn from(e: ProofError) -> Self {
        DpopError::Proof(e)
    }
}

/// What a valid proof yields for the binding and replay checks.
struct Proof {
    jkt: String,
    jti: String,
    iat: f64,
}

#[derive(Deserialize)]
struct ProofHeader<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(default, borrow)]
    typ: Option<Cow<'a, str>>,
    #[serde(default)]
    jwk: Option<Map<String, Value>>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct ProofClaims<'a> {
    #[serde(default, borrow)]
    jti: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    htm: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    htu: Option<Cow<'a, str>>,
    #[serde(default)]
    iat: Option<NumericDate>,
    #[serde(default, borrow)]
    ath: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    nonce: Option<Cow<'a, str>>,
}

/// JWK members that only a private key has (RFC 7518 §6).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

impl Authenticator {
    /// Verifies a DPoP request (RFC 9449): the access token of `Authorization: DPoP <token>`,
    /// the `proof` of its `DPoP` header, the request `method` and its absolute `url` (query and
    /// fragment are ignored). Counts and logs the outcome like [`verify`](Self::verify).
    ///
    /// The extractors call this for every `Authorization: DPoP` request (unless the mode is
    /// [`DpopMode::Disabled`]); call it yourself outside axum. The proof is recorded in the replay
    /// store only when everything else passed.
    ///
    /// ```
    /// # extern crate auth_runtime as route_guard;
    /// use route_guard::testing::{DpopKey, TestIssuer};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let issuer = TestIssuer::start().await?;
    /// let auth = issuer.authenticator()?;
    /// let key = DpopKey::generate()?;
    /// let token = issuer.token().dpop_bound(&key).sign();
    /// let url = "https://api.example.com/messages";
    /// let proof = key.proof("GET", url, &token);
    /// assert!(auth.verify_dpop(&token, &proof, "GET", url).await.is_ok());
    /// // The same proof a second time is a replay.
    /// assert!(auth.verify_dpop(&token, &proof, "GET", url).await.is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn verify_dpop(
        &self,
        token: &str,
        proof: &str,
        method: &str,
        url: &str,
    ) -> Result<VerifiedToken, DpopError> {
        // Outside a request, a domain resolver learns the host and path from the URL.
        let parsed = url::Url::parse(url).ok();
        let host = parsed.as_ref().and_then(|u| {
            let host = u.host_str()?;
            Some(match u.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_owned(),
            })
        });
        let context = RequestContext {
            host: host.as_deref(),
            path: parsed.as_ref().map_or("", |u| u.path()),
            certificate: None,
        };
        self.verify_dpop_with(token, proof, method, url, context)
            .await
    }

    /// [`verify_dpop`](Self::verify_dpop) with the request's own host and path for a domain
    /// resolver (the same the Bearer path gives it); counts and logs the outcome.
    pub(crate) async fn verify_dpop_with(
        &self,
        token: &str,
        proof: &str,
        method: &str,
        url: &str,
        context: RequestContext<'_>,
    ) -> Result<VerifiedToken, DpopError> {
        match self
            .verify_dpop_inner(token, proof, method, url, context)
            .await
        {
            Ok(verified) => {
                self.inner.counters.verified();
                self.inner.counters.dpop_verified();
                Ok(verified)
            }
            Err(err) => {
                let reason = err.reason();
                self.inner.counters.rejected(reason);
                tracing::debug!(target: "route_guard", %reason, error = %Escaped(&err), "DPoP request rejected");
                Err(err)
            }
        }
    }

    /// How this Authenticator treats DPoP.
    pub fn dpop_mode(&self) -> DpopMode {
        self.inner.settings.dpop.mode
    }

    async fn verify_dpop_inner(
        &self,
        token: &str,
        proof: &str,
        method: &str,
        url: &str,
        context: RequestContext<'_>,
    ) -> Result<VerifiedToken, DpopError> {
        let now = unix_now();
        let checked = self.check_proof(proof, method, url, token, now)?;
        let verified = self
            .verify_inner(token, context)
            .await
            .map_err(DpopError::Token)?;
        // Which binding applies is decided with the Bearer path's; the proof's key is ours.
        self.check_binding(&verified, Presentation::Dpop, context.certificate)
            .map_err(DpopError::Token)?;
        if verified.dpop_thumbprint() != Some(checked.jkt.as_str()) {
            return Err(ProofError::KeyMismatch.into());
        }
        self.record_proof(&checked, now).await?;
        Ok(verified)
    }

    /// RFC 9449 §4.3 steps 1-11 and the nonce, without touching the replay store.
    fn check_proof(
        &self,
        proof: &str,
        method: &str,
        url: &str,
        token: &str,
        now: f64,
    ) -> Result<Proof, DpopError> {
        let settings = &self.inner.settings.dpop;
        if proof.len() > MAX_PROOF_BYTES {
            return Err(ProofError::TooLarge.into());
        }
        let mut parts = proof.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ProofError::Malformed("expected three dot-separated segments").into());
        };
        let malformed = |_| ProofError::Malformed("a segment is not base64url");
        let header_json = decode_segment(header_b64, "").map_err(malformed)?;
        let payload = decode_segment(payload_b64, "").map_err(malformed)?;
        let signature = decode_segment(signature_b64, "").map_err(malformed)?;
        if !is_object(&header_json) || !is_object(&payload) {
            return Err(ProofError::Malformed("the header and claims must be JSON objects").into());
        }
        let header: ProofHeader<'_> = serde_json::from_slice(&header_json).map_err(|_| {
            ProofError::Malformed("the header is not a JSON object with a string `alg`")
        })?;
        if !header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("dpop+jwt"))
        {
            return Err(ProofError::Type.into());
        }
        let alg = Algorithm::accepted(&header.alg, &settings.algorithms).ok_or_else(|| {
            ProofError::AlgorithmNotAllowed {
                allowed: self.inner.dpop.algs.to_string(),
            }
        })?;
        if header.crit.is_some() {
            return Err(ProofError::CriticalHeader.into());
        }
        let jwk = header.jwk.ok_or(ProofError::InvalidKey)?;
        if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
            return Err(ProofError::PrivateKey.into());
        }
        let jkt = thumbprint(&jwk).ok_or(ProofError::InvalidKey)?;
        let key = parse_key(Value::Object(jwk), &[alg]).map_err(|_| ProofError::InvalidKey)?;
        let key = key.for_alg(alg).ok_or(ProofError::InvalidKey)?;
        let signed = &proof.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
        key.verify_sig(signed, &signature)
            .map_err(|_| ProofError::InvalidSignature)?;

        let claims: ProofClaims<'_> = serde_json::from_slice(&payload)
            .map_err(|_| ProofError::Malformed("the claims are not of the expected types"))?;
        let jti = claims
            .jti
            .filter(|j| !j.is_empty() && j.len() <= MAX_JTI_BYTES)
            .ok_or(ProofError::InvalidClaim("jti"))?;
        let htm = claims.htm.ok_or(ProofError::InvalidClaim("htm"))?;
        if htm != method {
            return Err(ProofError::Method.into());
        }
        let htu = claims.htu.ok_or(ProofError::InvalidClaim("htu"))?;
        let expected = htu::normalize(url);
        if expected.is_none() || htu::normalize(&htu) != expected {
            return Err(ProofError::Url.into());
        }
        let iat = claims.iat.ok_or(ProofError::InvalidClaim("iat"))?.0;
        let leeway = settings.iat_leeway.as_secs_f64();
        let offset = settings.iat_offset.as_secs_f64();
        if iat < now - offset - leeway || iat > now + leeway {
            return Err(ProofError::IssuedAt.into());
        }
        let ath = claims.ath.ok_or(ProofError::InvalidClaim("ath"))?;
        if ath != token_hash(token) {
            return Err(ProofError::TokenHash.into());
        }
        if let Some((key, step)) = &self.inner.dpop.nonce_key {
            let nonces = nonce::Nonces::new(key, *step);
            if !claims.nonce.is_some_and(|n| nonces.accepts(&n, now)) {
                return Err(DpopError::UseNonce {
                    nonce: nonces.current(now),
                });
            }
        }
        Ok(Proof {
            jkt,
            jti: jti.into_owned(),
            iat,
        })
    }

    /// Records the proof; a second sighting is a replay, a store failure fails closed.
    async fn record_proof(&self, proof: &Proof, now: f64) -> Result<(), DpopError> {
        let dpop = &self.inner.dpop;
        let settings = &self.inner.settings.dpop;
        // Until the proof could no longer pass the iat window.
        let until =
            proof.iat + settings.iat_offset.as_secs_f64() + settings.iat_leeway.as_secs_f64();
        let ttl = Duration::from_secs_f64((until - now).clamp(1.0, 86_400.0));
        let key = replay_key(&proof.jkt, &proof.jti);
        let quota = settings.replay_quota;
        match dpop
            .replay
            .insert_bounded(&proof.jkt, &key, ttl, quota)
            .await
        {
            Ok(recorded) => {
                if dpop.store_down.swap(false, Ordering::Relaxed) {
                    tracing::info!(target: "route_guard", "the DPoP replay store is available again");
                }
                match recorded {
                    Recorded::Replayed => Err(ProofError::Replayed.into()),
                    Recorded::OverQuota { retry_after } => {
                        Err(DpopError::QuotaExceeded { retry_after })
                    }
                    Recorded::First => Ok(()),
                }
            }
            Err(error) => {
                if dpop.store_down.swap(true, Ordering::Relaxed) {
                    tracing::debug!(target: "route_guard", %error, "the DPoP replay store is still unavailable");
                } else {
                    tracing::error!(target: "route_guard", %error, "the DPoP replay store is unavailable: DPoP requests fail with 503 until it answers again");
                }
                Err(DpopError::ReplayStoreUnavailable)
            }
        }
    }
}

/// `ath`: base64url of the SHA-256 of the access token (RFC 9449 §4.2).
pub(crate) fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, token.as_bytes()))
}

/// The RFC 7638 JWK thumbprint: SHA-256 of the required members in lexicographic order, no
/// whitespace. `None` for a key type route-guard does not verify or a member that is missing.
pub(crate) fn thumbprint(jwk: &Map<String, Value>) -> Option<String> {
    let member = |name: &str| -> Option<String> {
        let value = jwk.get(name)?.as_str()?;
        serde_json::to_string(value).ok()
    };
    let canonical = match jwk.get("kty")?.as_str()? {
        "RSA" => format!(
            r#"{{"e":{},"kty":"RSA","n":{}}}"#,
            member("e")?,
            member("n")?
        ),
        "EC" => format!(
            r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
            member("crv")?,
            member("x")?,
            member("y")?
        ),
        "OKP" => format!(
            r#"{{"crv":{},"kty":"OKP","x":{}}}"#,
            member("crv")?,
            member("x")?
        ),
        _ => return None,
    };
    Some(URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes())))
}

/// The store key of a proof: scoped to the key that signed it, so one client's `jti`s cannot
/// collide with another's.
fn replay_key(jkt: &str, jti: &str) -> String {
    let mut context = digest::Context::new(&digest::SHA256);
    context.update(jkt.as_bytes());
    context.update(b".");
    context.update(jti.as_bytes());
    URL_SAFE_NO_PAD.encode(context.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7638_example_thumbprint() {
        // RFC 7638 §3.1.
        let jwk: Map<String, Value> = serde_json::from_str(
            r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#,
        )
        .unwrap_or_default();
        assert_eq!(
            thumbprint(&jwk).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
    }

    #[test]
    fn rfc_9449_ath_example() {
        // RFC 9449 §7.1: the access token of the example and its `ath`.
        assert_eq!(
            token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }
}
