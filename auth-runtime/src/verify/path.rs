//! The one verification path: the verified-token cache in front, then the full check (token
//! shape, header, issuer, key, signature, registered claims, the Authenticator's policies).

use std::sync::Arc;

use serde_json::{Map, Value};

use super::binding::{Binding, CertificateReader, Given, Presentation};
use super::error::{key_error, VerifyError};
use super::escape::Escaped;
use super::header::{check_typ, decode_segment, decode_segment_into, parse_header, unix_now};
use super::profile::{check_audience, check_vendor};
use super::registered::{parse_claims, payload_text, NOT_AN_OBJECT};
use super::token::VerifiedToken;
use super::{Allowed, Authenticator, Keys, RequestContext};
use crate::config::{normalize_domain, Algorithm, IssuerRequest, Resolver};
use crate::jwks::JwksCache;

impl Authenticator {
    /// Verifies a compact JWS access token: size and shape, `alg` allow-list, `crit`, `typ`, key by
    /// `kid`, signature, `exp`/`nbf` with leeway, `iss` and `aud`. Counts and logs the outcome.
    /// An encrypted token (a JWE, five segments) is decrypted first when decryption keys are
    /// configured ([`jwe_key`](crate::AuthenticatorBuilder::jwe_key)), and the signed token
    /// inside is verified.
    ///
    /// This is the Bearer path: a DPoP-bound token (`cnf.jkt`) is refused here, whatever the
    /// DPoP mode, since no proof of its key comes with it; see
    /// [`verify_dpop`](Self::verify_dpop). A certificate-bound token (`cnf.x5t#S256`) is
    /// refused too, unless [`MtlsMode::Unchecked`](crate::MtlsMode::Unchecked): no certificate
    /// comes with it; see [`verify_with_certificate`](Self::verify_with_certificate).
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, VerifyError> {
        self.verify_with(token, RequestContext::default()).await
    }

    /// [`verify`](Self::verify) for a request that came with the client certificate
    /// `certificate` (its DER), or over a connection without one (`None`): a certificate-bound
    /// token (RFC 8705) is accepted when the [`MtlsMode`](crate::MtlsMode) checks certificates
    /// and this is the certificate it is bound to. For servers that do not use the axum layer.
    ///
    /// ```
    /// # extern crate auth_runtime as route_guard;
    /// # async fn f(auth: route_guard::Authenticator, token: &str, der: &[u8]) {
    /// match auth.verify_with_certificate(token, Some(der)).await {
    ///     Ok(verified) => println!("bound to {:?}", verified.certificate_thumbprint()),
    ///     Err(e) => println!("refused: {e}"),
    /// }
    /// # }
    /// ```
    pub async fn verify_with_certificate(
        &self,
        token: &str,
        certificate: Option<&[u8]>,
    ) -> Result<VerifiedToken, VerifyError> {
        let given = Given(certificate);
        let context = RequestContext {
            certificate: Some(&given),
            ..RequestContext::default()
        };
        self.verify_with(token, context).await
    }

    /// [`verify`](Self::verify) with what the request tells a domain resolver, and its client
    /// certificate.
    pub(crate) async fn verify_with(
        &self,
        token: &str,
        context: RequestContext<'_>,
    ) -> Result<VerifiedToken, VerifyError> {
        let outcome = self.verify_inner(token, context).await;
        self.bearer_outcome(outcome, context.certificate)
    }

    /// The Bearer path for a token found in the verified-token cache, `None` when it is not
    /// there. The token is looked up as the header's bytes, before anything scans them: only a
    /// token that passed every check was ever cached, and it is compared byte for byte.
    /// `context` is asked only when a domain resolver needs it.
    pub(crate) async fn verify_seen<'c>(
        &self,
        token: &[u8],
        context: impl Fn() -> RequestContext<'c>,
        certificate: Option<&dyn CertificateReader>,
    ) -> Option<Result<VerifiedToken, VerifyError>> {
        let outcome = self.seen_before(token, context).await?;
        Some(self.bearer_outcome(outcome, certificate))
    }

    /// The binding of a token presented as Bearer (a DPoP-bound one is refused, a
    /// certificate-bound one needs its certificate); the outcome is counted and logged.
    fn bearer_outcome(
        &self,
        outcome: Result<VerifiedToken, VerifyError>,
        certificate: Option<&dyn CertificateReader>,
    ) -> Result<VerifiedToken, VerifyError> {
        let outcome = outcome.and_then(|verified| {
            self.check_binding(&verified, Presentation::Bearer, certificate)?;
            Ok(verified)
        });
        match outcome {
            Ok(verified) => {
                self.inner.counters.verified();
                Ok(verified)
            }
            Err(err) => {
                let reason = err.reason();
                self.inner.counters.rejected(reason);
                match &err {
                    VerifyError::OrganizationNotAllowed { organization } => {
                        tracing::debug!(target: "route_guard", %reason, error = %Escaped(&err), organization = %Escaped(organization), "token rejected");
                    }
                    _ => {
                        tracing::debug!(target: "route_guard", %reason, error = %Escaped(&err), "token rejected")
                    }
                }
                Err(err)
            }
        }
    }

    /// The token checks shared by the Bearer and DPoP paths, through the verified-token cache.
    pub(crate) async fn verify_inner(
        &self,
        token: &str,
        context: RequestContext<'_>,
    ) -> Result<VerifiedToken, VerifyError> {
        if let Some(outcome) = self.seen_before(token.as_bytes(), || context).await {
            return outcome;
        }
        let settings = &self.inner.settings;
        if token.len() > settings.max_token_bytes {
            return Err(VerifyError::TooLarge {
                limit: settings.max_token_bytes,
            });
        }
        let Some(cache) = &self.inner.token_cache else {
            return self
                .verify_uncached(token, context)
                .await
                .map(|(v, _, _)| v);
        };
        let (verified, valid_until, generation) = self.verify_uncached(token, context).await?;
        cache.insert(
            cache.key(token.as_bytes()),
            token,
            verified.clone(),
            valid_until,
            generation,
            unix_now(),
        );
        Ok(verified)
    }

    /// The verified-token cache's entry for exactly `token`, if it is still valid: unexpired,
    /// verified by the key set in use now, and (several domains) its issuer still accepted for
    /// this request. `None` when there is no such entry.
    async fn seen_before<'c>(
        &self,
        token: &[u8],
        context: impl FnOnce() -> RequestContext<'c>,
    ) -> Option<Result<VerifiedToken, VerifyError>> {
        let cache = self.inner.token_cache.as_ref()?;
        if token.len() > self.inner.settings.max_token_bytes {
            return None;
        }
        let hit = cache.get(
            cache.key(token),
            token,
            unix_now(),
            |verified, generation| self.key_set_generation(verified.issuer()) == Some(generation),
        );
        let verified = hit?.seen_again();
        // A resolver's answer may differ from request to request: ask it every time.
        if let Keys::Multi { .. } = &self.inner.keys {
            if let Err(e) = self.resolve_cache(verified.issuer(), context()).await {
                return Some(Err(e));
            }
        }
        self.inner.counters.cache_hit();
        Some(Ok(verified))
    }

    /// The generation of the keys of `issuer` in use now (0 for HS256); `None` before any key
    /// set loaded. Also keeps the key set fresh: a cache hit skips the key lookup that would
    /// otherwise notice stale keys, and a removed key must stop verifying after the next refresh.
    fn key_set_generation(&self, issuer: &str) -> Option<u64> {
        if self.inner.hmac.is_some() {
            return Some(0);
        }
        // Cold: nothing can be cached yet, and an unchecked token must not cause a fetch.
        match &self.inner.keys {
            Keys::Single(cache) => cache.current_generation(),
            Keys::Multi { caches, .. } => caches.get(issuer)?.current_generation(),
        }
    }

    /// The JWKS cache for a token claiming `issuer`, after checking that the issuer is accepted
    /// for this request: before any network request, so an attacker's `iss` fetches nothing.
    pub(super) async fn resolve_cache(
        &self,
        issuer: &str,
        context: RequestContext<'_>,
    ) -> Result<Arc<JwksCache>, VerifyError> {
        let (caches, allowed) = match &self.inner.keys {
            Keys::Single(cache) => return Ok(Arc::clone(cache)),
            Keys::Multi { caches, allowed } => (caches, allowed),
        };
        match allowed {
            Allowed::Static(bases) => bases
                .iter()
                .find(|b| b.as_str() == issuer)
                .map(|base| caches.get_or_create(base))
                .ok_or(VerifyError::WrongIssuer),
            Allowed::Resolver(Resolver(resolve)) => {
                let request = IssuerRequest {
                    host: context.host.map(str::to_owned),
                    path: context.path.to_owned(),
                    issuer: issuer.to_owned(),
                };
                let domains = resolve(request).await.map_err(|error| {
                    tracing::error!(target: "route_guard", %error, "the domain resolver failed: the request is answered 503");
                    VerifyError::ResolverUnavailable
                })?;
                for domain in &domains {
                    match normalize_domain(domain) {
                        Ok(base) if base.as_str() == issuer => {
                            return Ok(caches.get_or_create(&base))
                        }
                        Ok(_) => {}
                        Err(error) => {
                            tracing::warn!(target: "route_guard", error = %Escaped(&error), "the domain resolver answered an entry that is not a domain; skipped");
                        }
                    }
                }
                Err(VerifyError::WrongIssuer)
            }
        }
    }
}

/// The full verification, behind the cache.
impl Authenticator {
    /// The full check; also returns until when the token is valid (`exp` + leeway) and the
    /// generation of the key set that verified it.
    async fn verify_uncached(
        &self,
        token: &str,
        context: RequestContext<'_>,
    ) -> Result<(VerifiedToken, f64, u64), VerifyError> {
        let settings = &self.inner.settings;
        // An encrypted token is judged by the signed token inside; the cache keys it as sent.
        // Without decryption keys, a JWE is only told apart from a malformed token when refused.
        let jwe = &settings.jwe;
        let jws = match jwe.enabled() || jwe.required {
            true => self.unwrap_jwe(token)?,
            false => std::borrow::Cow::Borrowed(token),
        };
        let token: &str = &jws;
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            self.unwrap_jwe(token)?;
            return Err(VerifyError::Malformed(
                "expected three dot-separated segments",
            ));
        };
        if header_b64.is_empty() || payload_b64.is_empty() || signature_b64.is_empty() {
            return Err(VerifyError::Malformed("a segment is empty"));
        }
        let (alg, kid) = self.read_header(header_b64)?;
        let signature = decode_segment(signature_b64, "the signature is not base64url")?;
        let signed = &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
        // Parsed once, before the key lookup: the unverified `iss` chooses the issuer (and a
        // token of another issuer is refused before it can cause a fetch); every claim is
        // checked again below, after the signature.
        let payload = payload_text(decode_segment(payload_b64, "the payload is not base64url")?)?;
        let claims = parse_claims(&payload)?;
        let rules = &settings.rules;
        // Only a profile's rules read claims beyond the registered ones.
        let map: Option<Map<String, Value>> = match rules.needs_claims_map() {
            true => Some(serde_json::from_str(&payload).map_err(|_| NOT_AN_OBJECT)?),
            false => None,
        };
        let claim = |name: &str| map.as_ref()?.get(name);

        let key_set = match &self.inner.hmac {
            Some(key) => {
                aws_lc_rs::hmac::verify(key, signed, &signature)
                    .map_err(|_| VerifyError::InvalidSignature)?;
                None
            }
            None => {
                let issuer = claims
                    .iss
                    .as_deref()
                    .ok_or(VerifyError::MissingClaim("iss"))?;
                let cache = match &self.inner.keys {
                    Keys::Single(cache) => Arc::clone(cache),
                    Keys::Multi { .. } => self.resolve_cache(issuer, context).await?,
                };
                let kid = kid.as_deref();
                let accepts = |set_issuer: &str| rules.issuer_matches(set_issuer, issuer, &claim);
                let set = cache.key_set(&accepts, kid).await.map_err(key_error)?;
                let key = set.find(kid, alg).map_err(key_error)?;
                key.verify_sig(signed, &signature)
                    .map_err(|_| VerifyError::InvalidSignature)?;
                Some(set)
            }
        };

        let now = unix_now();
        let leeway = settings.leeway.as_secs_f64();
        let exp = claims.exp.ok_or(VerifyError::MissingClaim("exp"))?;
        if now >= exp.0 + leeway {
            return Err(VerifyError::Expired);
        }
        if let Some(nbf) = claims.nbf {
            if now + leeway < nbf.0 {
                return Err(VerifyError::NotYetValid);
            }
        }
        let iss = claims
            .iss
            .as_deref()
            .ok_or(VerifyError::MissingClaim("iss"))?;
        let issuer_ok = match &key_set {
            Some(set) => rules.issuer_matches(&set.issuer, iss, &claim),
            None => iss == self.hs256_issuer(),
        };
        if !issuer_ok {
            return Err(VerifyError::WrongIssuer);
        }
        check_audience(settings, &claims, map.as_ref())?;
        check_vendor(settings, map.as_ref(), kid.as_deref())?;
        self.check_policies(&claims, &payload)?;
        let issuer = match &key_set {
            // The key set's own issuer is shared; an also-accepted or templated one is the token's.
            Some(set) if *set.issuer == *iss => Arc::clone(&set.issuer),
            _ => Arc::from(iss),
        };
        let binding = Binding::of(claims.cnf)?;
        let generation = key_set.as_ref().map_or(0, |set| set.generation);
        let verified = VerifiedToken::new(
            payload,
            alg,
            kid,
            issuer,
            binding,
            self.inner.context.clone(),
            map,
        );
        Ok((verified, exp.0 + leeway, generation))
    }

    /// The JOSE header: `crit`, `alg` against the allow-list, `typ`; the `alg` and `kid`.
    /// The same text as the last header that passed gives the same answer without decoding
    /// (the checks depend on the header and the settings only); any other header is read.
    fn read_header(&self, header_b64: &str) -> Result<(Algorithm, Option<Arc<str>>), VerifyError> {
        if let Some(known) = &*self.inner.last_header.load() {
            if *known.text == *header_b64 {
                return Ok((known.alg, known.kid.clone()));
            }
        }
        let (alg, kid) = self.check_header(header_b64)?;
        if header_b64.len() <= KNOWN_HEADER_BYTES {
            self.inner.last_header.store(Some(Arc::new(KnownHeader {
                text: header_b64.into(),
                alg,
                kid: kid.clone(),
            })));
        }
        Ok((alg, kid))
    }

    /// [`read_header`](Self::read_header)'s checks. Decoded on the stack (a header is a few
    /// dozen bytes), and not an `async` step, so the buffer is not kept in the request's future.
    fn check_header(&self, header_b64: &str) -> Result<(Algorithm, Option<Arc<str>>), VerifyError> {
        let settings = &self.inner.settings;
        let mut buffer = [0u8; 512];
        let header_json =
            decode_segment_into(header_b64, &mut buffer, "the header is not base64url")?;
        let header = parse_header(&header_json)?;
        if header.crit.is_some() {
            return Err(VerifyError::CriticalHeader);
        }
        let alg = Algorithm::accepted(&header.alg, &settings.algorithms).ok_or_else(|| {
            VerifyError::AlgorithmNotAllowed {
                allowed: self.inner.allowed_list.clone(),
            }
        })?;
        check_typ(header.typ.as_deref(), settings.require_at_jwt_typ)?;
        Ok((alg, header.kid.as_deref().map(Arc::from)))
    }
}

/// Longer headers are read every time rather than remembered.
const KNOWN_HEADER_BYTES: usize = 512;

/// A JOSE header that passed [`Authenticator::read_header`]'s checks, and what they found.
pub(crate) struct KnownHeader {
    text: Box<str>,
    alg: Algorithm,
    /// Shared with every token verified under this header, not copied for each.
    kid: Option<Arc<str>>,
}
