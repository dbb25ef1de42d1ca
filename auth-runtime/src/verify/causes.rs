//! The likely causes of a token's failed checks, each with its fix in Auth0's terms.

use serde_json::Value;

use super::diagnose::{span, TokenReport};
use super::diagnosis::Cause;
use super::header::unix_now;
use super::{Authenticator, VerifyError};

pub(super) fn cause(id: &'static str, explanation: String, fix: impl Into<String>) -> Cause {
    Cause {
        id,
        explanation,
        fix: fix.into(),
    }
}

/// The host of an issuer URL, or the text itself.
fn host(issuer: &str) -> &str {
    let rest = issuer
        .strip_prefix("https://")
        .or_else(|| issuer.strip_prefix("http://"))
        .unwrap_or(issuer);
    rest.split('/').next().unwrap_or(rest)
}

impl Authenticator {
    /// The causes of `report`'s failed token checks, most likely first.
    pub(crate) fn token_causes(&self, report: &TokenReport) -> Vec<Cause> {
        let settings = &self.inner.settings;
        let mut causes = Vec::new();
        if report.failed("size") {
            causes.push(cause(
                "too_large",
                format!(
                    "the token is over the {}-byte limit (a token carrying too many claims, or not a token)",
                    settings.max_token_bytes
                ),
                "keep access tokens small (no large custom claims), or raise `max_token_bytes(..)`",
            ));
        }
        if let Some(error) = &report.encryption_error {
            causes.push(encryption_cause(error));
        } else if report.failed("format") {
            match report.segments {
                5 => causes.push(encryption_cause(&VerifyError::EncryptedNotAccepted)),
                1 => causes.push(cause(
                    "opaque_token",
                    "the token is not a JWT but an opaque string: Auth0 issues one when the login named no `audience` (a token for /userinfo only), or when an MCP client's `resource` was ignored".to_owned(),
                    format!(
                        "request the token with `audience={}` (the API identifier); for MCP clients, turn on the tenant's Resource Parameter Compatibility Profile (Settings, Advanced)",
                        settings.audiences.first().map_or("<your API identifier>", String::as_str)
                    ),
                )),
                n => causes.push(cause(
                    "malformed",
                    format!("the token has {n} dot-separated segments instead of three (cut off, or not a token)"),
                    "send the whole access token, exactly as the token endpoint returned it",
                )),
            }
        }
        let alg = report.header_member("alg").and_then(Value::as_str);
        if report.failed("alg") {
            match alg {
                Some(a) if a.eq_ignore_ascii_case("none") => causes.push(cause(
                    "alg_none",
                    "the token is unsigned (`alg: none`): anyone can write it".to_owned(),
                    "never accepted; get a token from the issuer",
                )),
                Some("HS256") => causes.push(cause(
                    "hs256",
                    "the token is signed with HS256, a shared secret: the API's signing algorithm is set to HS256".to_owned(),
                    "set the API's Signing Algorithm to RS256 (Auth0 Dashboard, APIs, Settings) and get a new token; or configure `algorithms([HS256])` with `hs256_secret`",
                )),
                Some(a) => causes.push(cause(
                    "algorithm",
                    format!("the token's algorithm {a} is not accepted"),
                    format!("accepted: {}; change the issuer's signing algorithm or `AUTH0_ALGORITHMS`", self.inner.allowed_list),
                )),
                None => {}
            }
        }
        if report.failed("crit") {
            causes.push(cause(
                "crit_header",
                "the token's header has `crit`: it demands extensions route-guard does not implement".to_owned(),
                "issue the token without critical header parameters",
            ));
        }
        if report.failed("typ") {
            let typ = report
                .header_member("typ")
                .and_then(Value::as_str)
                .unwrap_or("none");
            causes.push(cause(
                "token_type",
                format!(
                    "the token's `typ` is {typ}: {}",
                    match settings.require_at_jwt_typ {
                        true => "this API requires RFC 9068 access tokens (`at+jwt`)",
                        false => "not an access token (a DPoP proof, a logout token, ...)",
                    }
                ),
                "send the access token; to accept plain JWTs, turn off `require_at_jwt_typ`",
            ));
        }
        if report.failed("header") || report.failed("payload") {
            causes.push(cause(
                "malformed",
                "the token's header or payload is not a base64url JSON object".to_owned(),
                "send the access token exactly as issued; it was cut off or edited",
            ));
        }
        self.issuer_causes(report, &mut causes);
        if report.failed("key") {
            let kid = report
                .header_member("kid")
                .and_then(Value::as_str)
                .unwrap_or("(none)");
            causes.push(cause(
                "rotated_key",
                format!(
                    "no key of the issuer's JWKS matches the token (kid {kid}){}: the signing key was rotated out, or the token comes from another tenant using the same issuer URL",
                    if report.jwks_refreshed { ", even after fetching it again" } else { "" }
                ),
                "get a new token; after a key rotation, tokens signed by the old key stop verifying once it leaves the JWKS",
            ));
        }
        if report.failed("signature") {
            causes.push(cause(
                "invalid_signature",
                "the signature does not verify with the issuer's key: the token was edited, or signed by another key".to_owned(),
                "send the token exactly as issued; check that AUTH0_DOMAIN is the tenant that issued it",
            ));
        }
        self.time_causes(report, &mut causes);
        let explained = self.vendor_causes(report, &mut causes);
        if !explained {
            self.audience_causes(report, &mut causes);
        }
        if report.failed("policies") {
            let why = report
                .findings
                .iter()
                .find(|f| f.check == "policies")
                .and_then(|f| f.actual.clone())
                .unwrap_or_default();
            causes.push(cause(
                "policy",
                format!("the token fails one of the API's policies: {why}"),
                "see the API's organization, required-claim and delegation settings",
            ));
        }
        if let Some(error) = &report.binding_error {
            causes.push(self.binding_cause(error));
        }
        causes
    }

    fn issuer_causes(&self, report: &TokenReport, causes: &mut Vec<Cause>) {
        if !report.failed("iss") {
            return;
        }
        let Some(iss) = report.claim("iss").and_then(Value::as_str) else {
            causes.push(cause(
                "malformed",
                "the token has no `iss` claim".to_owned(),
                "route-guard needs the issuer; get a token from your tenant",
            ));
            return;
        };
        // Entra's, Okta's and Firebase's issuers have their own causes.
        if let Some(cause) = self.vendor_issuer_cause(iss, report) {
            causes.push(cause);
            return;
        }
        let accepted = self.issuers();
        let trimmed = iss.trim_end_matches('/');
        if let Some(near) = accepted.iter().find(|a| a.trim_end_matches('/') == trimmed) {
            causes.push(cause(
                "issuer_trailing_slash",
                format!("the token's issuer `{iss}` differs from the accepted `{near}` only by a trailing slash"),
                "Auth0's issuer is `https://{domain}/`, with the slash: configure AUTH0_DOMAIN as the bare domain (route-guard adds it), or make AUTH0_ISSUER_BASE_URL match the token's `iss` exactly",
            ));
            return;
        }
        let token_host = host(iss);
        causes.push(cause(
            "other_issuer",
            format!(
                "the token was issued by `{iss}`, which this API does not accept (accepted: {})",
                match accepted.is_empty() {
                    true => "the configured issuer".to_owned(),
                    false => accepted.join(", "),
                }
            ),
            format!(
                "if `{token_host}` is your tenant (or its custom domain), set AUTH0_DOMAIN to `{token_host}`, or add it to AUTH0_DOMAINS; otherwise get the token from the accepted issuer"
            ),
        ));
    }

    fn time_causes(&self, report: &TokenReport, causes: &mut Vec<Cause>) {
        let now = unix_now();
        let leeway = self.inner.settings.leeway.as_secs_f64();
        let time = |name: &str| report.claim(name).and_then(Value::as_f64);
        if report.failed("exp") {
            match time("exp") {
                Some(exp) => causes.push(cause(
                    "expired",
                    format!(
                        "the token expired {} ago (leeway {leeway} s)",
                        span(now - exp)
                    ),
                    "get a new token; clients should refresh before `exp`",
                )),
                None => causes.push(cause(
                    "malformed",
                    "the token has no `exp` claim".to_owned(),
                    "access tokens must expire; get one from your tenant",
                )),
            }
        }
        // Expired moments ago: a token that was just issued points at this server's clock.
        let just_expired = report.failed("exp")
            && time("exp").is_some_and(|exp| now - exp - leeway < 120.0)
            && time("iat").is_some_and(|iat| now - iat < 3600.0);
        if just_expired {
            causes.push(cause(
                "clock_skew",
                "the token expired only moments ago, soon after it was issued: if it is fresh from the token endpoint, this server's clock is ahead of the issuer's".to_owned(),
                "synchronise the clocks (NTP); otherwise get a new token",
            ));
        }
        let issued_ahead = time("iat").is_some_and(|iat| iat > now + leeway);
        if report.failed("nbf") || (issued_ahead && !causes.is_empty() && !just_expired) {
            let (claim, at) = match (report.failed("nbf"), time("nbf"), time("iat")) {
                (true, Some(nbf), _) => ("valid from", nbf),
                (_, _, Some(iat)) => ("issued", iat),
                _ => ("valid from", now),
            };
            causes.push(cause(
                "clock_skew",
                format!(
                    "the token is {claim} {} in the future, beyond the leeway of {leeway} s: this server's clock and the issuer's disagree",
                    span(at - now)
                ),
                "synchronise the clocks (NTP), or raise `leeway(..)` if a small skew is expected",
            ));
        }
    }

    fn audience_causes(&self, report: &TokenReport, causes: &mut Vec<Cause>) {
        if !report.failed("aud") {
            return;
        }
        let settings = &self.inner.settings;
        let expected = settings.audiences.join(", ");
        let id_token = report.claim("nonce").is_some() || report.claim("at_hash").is_some();
        if id_token {
            causes.push(cause(
                "id_token",
                "this is an ID token (its `aud` is an application's client id, and it has `nonce` / `at_hash`), not an access token".to_owned(),
                format!("send the `access_token` of the login (requested with `audience={expected}`), not the `id_token`"),
            ));
            return;
        }
        let auds = report.audiences();
        let slash = auds.iter().find_map(|a| {
            settings
                .audiences
                .iter()
                .find(|c| c.trim_end_matches('/') == a.trim_end_matches('/'))
                .map(|c| (*a, c.as_str()))
        });
        let explanation = match slash {
            Some((theirs, ours)) => format!(
                "the token's audience `{theirs}` differs from the accepted `{ours}` only by a trailing slash"
            ),
            None if auds.iter().any(|a| a.len() == 24 && a.bytes().all(|b| b.is_ascii_hexdigit())) => format!(
                "the token's audience {} looks like the API's id, not its identifier (accepted: {expected})",
                auds.join(", ")
            ),
            None if auds.iter().all(|a| a.ends_with("/userinfo")) && !auds.is_empty() => format!(
                "the token is only for /userinfo ({}): the login named no audience (accepted: {expected})",
                auds.join(", ")
            ),
            None => format!(
                "the token is for {}, not for this API (accepted: {expected})",
                match auds.is_empty() {
                    true => "no audience".to_owned(),
                    false => auds.join(", "),
                }
            ),
        };
        causes.push(cause(
            "wrong_audience",
            explanation,
            format!("request the token with `audience={expected}` (the API identifier exactly; a trailing slash counts), or set AUTH0_AUDIENCE to the identifier the tokens carry"),
        ));
    }
}

/// Why an encrypted token (or a plain one where encryption is required) was refused.
fn encryption_cause(error: &VerifyError) -> Cause {
    match error {
        VerifyError::EncryptionRequired => cause(
            "encryption_required",
            "the API accepts only encrypted tokens (AUTH0_JWE_REQUIRED) and this one is signed only".to_owned(),
            "turn on Token Encryption for the API in Auth0 (format compact-nested-jwe, with the public key of AUTH0_JWE_KEY_FILE), or unset AUTH0_JWE_REQUIRED",
        ),
        VerifyError::Jwe(why) => cause(
            "jwe_header",
            format!("the encrypted token's layout is refused before decryption: {why}"),
            "Auth0 encrypts with alg RSA-OAEP-256 (or RSA-OAEP-384/512, accepted with AUTH0_JWE_ALGORITHMS) and enc A256GCM; its kid must be one of the configured keys' (AUTH0_JWE_KEY_FILE=kid=path,...)",
        ),
        VerifyError::Undecryptable => cause(
            "jwe_undecryptable",
            "the token was not encrypted to any configured key, or it was changed on the way".to_owned(),
            "configure the private key whose public key the API's Token Encryption uses (AUTH0_JWE_KEY_FILE); while the key rotates, keep the old key beside the new one",
        ),
        _ => cause(
            "jwe_token",
            "the token has five segments: an encrypted token (JWE), and this API has no decryption key".to_owned(),
            "set AUTH0_JWE_KEY_FILE to the private key of the API's Token Encryption (`.jwe_key(..)`), or turn Token Encryption off in the API's settings (Auth0 Dashboard, APIs)",
        ),
    }
}
