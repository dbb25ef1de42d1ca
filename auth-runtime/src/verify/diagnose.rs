//! The token doctor's findings: every check of the verification path, evaluated one by one
//! without stopping at the first failure, with expected and actual values. Framework-free; the
//! route requirement and the verdict (the exact HTTP answer) are added in `axum/`.

use std::fmt::Write as _;

use serde_json::Value;

use super::diagnosis::{Finding, Outcome, SelectedKey, TimeClaim};
use super::header::{check_typ, decode_segment, unix_now};
use super::{Authenticator, Keys, RequestContext};
use crate::config::Algorithm;

/// The token-level part of a diagnosis, before the requirement and the verdict.
pub(crate) struct TokenReport {
    pub(crate) findings: Vec<Finding>,
    pub(crate) key: Option<SelectedKey>,
    pub(crate) jwks_refreshed: bool,
    pub(crate) times: Vec<TimeClaim>,
    /// The JOSE header and the claims, as JSON, when they decode.
    pub(crate) header: Option<Value>,
    pub(crate) payload: Option<Value>,
    pub(super) payload_bytes: Option<Vec<u8>>,
    /// How many dot-separated segments the token has.
    pub(crate) segments: usize,
    pub(crate) signature_ok: bool,
    /// Why the token's binding does not fit a Bearer request, if it does not.
    pub(crate) binding_error: Option<super::VerifyError>,
    /// Why an encrypted token (or a plain one where encryption is required) was refused.
    pub(crate) encryption_error: Option<super::VerifyError>,
}

impl TokenReport {
    pub(super) fn push(
        &mut self,
        check: &'static str,
        outcome: Outcome,
        expected: impl Into<Option<String>>,
        actual: impl Into<Option<String>>,
        trusted: bool,
    ) {
        self.findings.push(Finding {
            check,
            outcome,
            expected: expected.into(),
            actual: actual.into(),
            trusted,
        });
    }

    pub(super) fn not_reached(&mut self, checks: &[&'static str]) {
        for check in checks {
            self.push(check, Outcome::NotReached, None, None, false);
        }
    }

    /// A claim of the payload, as JSON.
    pub(crate) fn claim(&self, name: &str) -> Option<&Value> {
        self.payload.as_ref()?.get(name)
    }

    /// The token's `aud` values (one string or an array; other values read as none).
    pub(crate) fn audiences(&self) -> Vec<&str> {
        match self.claim("aud") {
            Some(Value::String(aud)) => vec![aud.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// A member of the header.
    pub(crate) fn header_member(&self, name: &str) -> Option<&Value> {
        self.header.as_ref()?.get(name)
    }

    /// Whether `check` failed.
    pub(crate) fn failed(&self, check: &str) -> bool {
        self.findings
            .iter()
            .any(|f| f.check == check && f.outcome == Outcome::Failed)
    }
}

pub(super) fn passed(ok: bool) -> Outcome {
    match ok {
        true => Outcome::Passed,
        false => Outcome::Failed,
    }
}

fn json_object(bytes: &[u8]) -> Option<Value> {
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .filter(Value::is_object)
}

fn kty(alg: Algorithm) -> &'static str {
    match alg.as_str() {
        "HS256" => "oct",
        "EdDSA" => "OKP",
        name if name.starts_with("ES") => "EC",
        _ => "RSA",
    }
}

impl Authenticator {
    /// Every token-level check of the verification path, each evaluated whatever failed before
    /// it when it can be.
    pub(crate) async fn diagnose_token(
        &self,
        token: &str,
        context: RequestContext<'_>,
    ) -> TokenReport {
        let settings = &self.inner.settings;
        let mut report = TokenReport {
            findings: Vec::new(),
            key: None,
            jwks_refreshed: false,
            times: Vec::new(),
            header: None,
            payload: None,
            payload_bytes: None,
            segments: token.split('.').count(),
            signature_ok: false,
            binding_error: None,
            encryption_error: None,
        };
        let size_ok = token.len() <= settings.max_token_bytes;
        report.push(
            "size",
            passed(size_ok),
            format!("at most {} bytes", settings.max_token_bytes),
            format!("{} bytes", token.len()),
            true,
        );
        // An encrypted token: decrypted first, then the signed token inside is diagnosed.
        let unwrapped = self.encryption_check(&mut report, token);
        let token: &str = unwrapped.as_deref().unwrap_or(token);
        report.segments = token.split('.').count();
        let parts: Vec<&str> = token.split('.').collect();
        let format_ok = parts.len() == 3 && parts.iter().all(|p| !p.is_empty());
        report.push(
            "format",
            passed(format_ok),
            "a JWS: three dot-separated base64url segments".to_owned(),
            format!(
                "{} segment{}",
                parts.len(),
                if parts.len() == 1 { "" } else { "s" }
            ),
            true,
        );
        let header_bytes = parts.first().and_then(|h| decode_segment(h, "").ok());
        report.header = header_bytes.as_deref().and_then(json_object);
        report.payload_bytes = parts
            .get(1)
            .filter(|_| parts.len() >= 3)
            .and_then(|p| decode_segment(p, "").ok());
        report.payload = report.payload_bytes.as_deref().and_then(json_object);

        // The header.
        let alg_name = report
            .header_member("alg")
            .and_then(Value::as_str)
            .map(str::to_owned);
        report.push(
            "header",
            passed(report.header.is_some() && alg_name.is_some()),
            "a base64url JSON object with a string `alg`".to_owned(),
            match (&report.header, &alg_name) {
                (None, _) => "not a JSON object".to_owned(),
                (Some(_), None) => "no string `alg`".to_owned(),
                (Some(_), Some(_)) => "a JSON object".to_owned(),
            },
            false,
        );
        let alg = alg_name
            .as_deref()
            .and_then(|name| Algorithm::accepted(name, &settings.algorithms));
        match &alg_name {
            Some(name) => report.push(
                "alg",
                passed(alg.is_some()),
                format!("one of {}", self.inner.allowed_list),
                name.clone(),
                false,
            ),
            None => report.not_reached(&["alg"]),
        }
        if report.header.is_some() {
            let crit = report.header_member("crit").is_some();
            report.push(
                "crit",
                passed(!crit),
                "no `crit` header (no extension is understood)".to_owned(),
                match crit {
                    true => "a `crit` header".to_owned(),
                    false => "none".to_owned(),
                },
                false,
            );
            let typ = report
                .header_member("typ")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let typ_ok = check_typ(typ.as_deref(), settings.require_at_jwt_typ).is_ok();
            report.push(
                "typ",
                passed(typ_ok),
                match settings.require_at_jwt_typ {
                    true => "at+jwt".to_owned(),
                    false => "JWT, at+jwt or none".to_owned(),
                },
                typ.unwrap_or_else(|| "none".to_owned()),
                false,
            );
        } else {
            report.not_reached(&["crit", "typ"]);
        }
        report.push(
            "payload",
            passed(report.payload.is_some()),
            "a base64url JSON object".to_owned(),
            match report.payload.is_some() {
                true => "a JSON object".to_owned(),
                false => "not a JSON object".to_owned(),
            },
            false,
        );

        // The issuer and its key.
        let iss = report
            .claim("iss")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let kid = report
            .header_member("kid")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let issuers = self.issuers();
        let expected_issuers = match (&self.inner.keys, issuers.is_empty()) {
            (Keys::Multi { .. }, true) => "an issuer the domain resolver names".to_owned(),
            (_, true) => "the configured issuer (not discovered yet)".to_owned(),
            (_, false) => issuers.join(", "),
        };
        let cache = match &iss {
            Some(iss) if self.inner.hmac.is_none() => match &self.inner.keys {
                Keys::Single(cache) => Some(std::sync::Arc::clone(cache)),
                Keys::Multi { .. } => self.resolve_cache(iss, context).await.ok(),
            },
            _ => None,
        };
        // The issuer rules read the token's template claim (Entra's `tid`), if any: taken out
        // once, as the report is written to below.
        let rules = &self.inner.settings.rules;
        let template_claim: Option<(&str, Value)> = rules
            .template
            .as_ref()
            .and_then(|t| Some((t.claim.as_str(), report.claim(&t.claim)?.clone())));
        let claim = |name: &str| {
            template_claim
                .as_ref()
                .filter(|(n, _)| *n == name)
                .map(|(_, v)| v)
        };
        // Whether `iss` is the issuer: `None` while nothing has decided it (no key step), so the
        // report never says "ok" of an issuer it did not check.
        let mut issuer_ok: Option<bool> = match (&iss, &self.inner.hmac, &self.inner.keys) {
            (None, _, _) => Some(false),
            (Some(iss), Some(_), _) => Some(iss == self.hs256_issuer()),
            (Some(_), None, _) if cache.is_none() => Some(false),
            (Some(iss), None, Keys::Single(_)) if !issuers.is_empty() => {
                match issuers
                    .iter()
                    .any(|known| rules.issuer_matches(known, iss, &claim))
                {
                    true => None,
                    false => Some(false),
                }
            }
            _ => None,
        };
        let fetches_before = self.stats().jwks_fetches();
        let mut signature_checked = false;
        match (&self.inner.hmac, alg, parts.len() == 3) {
            (Some(key), Some(alg), true) => {
                let signed = &token.as_bytes()[..parts[0].len() + 1 + parts[1].len()];
                let ok = decode_segment(parts[2], "")
                    .is_ok_and(|sig| aws_lc_rs::hmac::verify(key, signed, &sig).is_ok());
                report.key = Some(SelectedKey {
                    issuer: self.hs256_issuer().to_owned(),
                    kid: kid.clone(),
                    kty: kty(alg),
                    alg: alg.as_str(),
                });
                report.signature_ok = ok;
                signature_checked = true;
            }
            (None, Some(alg), true) => {
                if let (Some(cache), Some(iss)) = (&cache, &iss) {
                    let accepts = |set_issuer: &str| rules.issuer_matches(set_issuer, iss, &claim);
                    match cache.key_set(&accepts, kid.as_deref()).await {
                        Ok(set) => match set.find(kid.as_deref(), alg) {
                            Ok(key) => {
                                let signed =
                                    &token.as_bytes()[..parts[0].len() + 1 + parts[1].len()];
                                report.signature_ok = decode_segment(parts[2], "")
                                    .is_ok_and(|sig| key.verify_sig(signed, &sig).is_ok());
                                report.key = Some(SelectedKey {
                                    issuer: set.issuer.to_string(),
                                    kid: kid.clone(),
                                    kty: kty(alg),
                                    alg: alg.as_str(),
                                });
                                signature_checked = true;
                                issuer_ok = Some(true);
                                report.push_key(true, &kid, "found in the issuer's key set");
                            }
                            Err(e) => {
                                issuer_ok = Some(true);
                                report.push_key(false, &kid, &format!("{e:?}"));
                            }
                        },
                        Err(crate::jwks::KeyError::ForeignIssuer) => {
                            issuer_ok = Some(false);
                            report.push_key(false, &kid, "the key set belongs to another issuer");
                        }
                        Err(e) => report.push_key(false, &kid, &format!("{e:?}")),
                    }
                }
            }
            _ => {}
        }
        report.jwks_refreshed = self.stats().jwks_fetches() > fetches_before;
        report.findings.insert(
            report
                .findings
                .iter()
                .position(|f| f.check == "key")
                .unwrap_or(report.findings.len()),
            Finding {
                check: "iss",
                outcome: match issuer_ok {
                    Some(ok) => passed(ok),
                    None => Outcome::NotReached,
                },
                expected: Some(expected_issuers),
                actual: Some(iss.clone().unwrap_or_else(|| "no `iss` claim".to_owned())),
                trusted: false,
            },
        );
        if !report.findings.iter().any(|f| f.check == "key") && self.inner.hmac.is_none() {
            report.not_reached(&["key"]);
        }
        match signature_checked {
            true => report.push(
                "signature",
                passed(report.signature_ok),
                "valid for the key".to_owned(),
                match report.signature_ok {
                    true => "valid".to_owned(),
                    false => "invalid".to_owned(),
                },
                true,
            ),
            false => report.not_reached(&["signature"]),
        }
        let trusted = report.signature_ok;
        self.time_checks(&mut report, trusted);
        self.claim_checks(&mut report, trusted, context);
        report
    }
}

/// The time claims.
impl Authenticator {
    /// `exp`, `nbf` (failures), and the times of `iat` and `auth_time` (for the report).
    fn time_checks(&self, report: &mut TokenReport, trusted: bool) {
        let now = unix_now();
        let leeway = self.inner.settings.leeway.as_secs_f64();
        let time = |name: &str| report.claim(name).and_then(Value::as_f64);
        let (exp, nbf, iat, auth_time) = (time("exp"), time("nbf"), time("iat"), time("auth_time"));
        for (claim, value) in [
            ("exp", exp),
            ("nbf", nbf),
            ("iat", iat),
            ("auth_time", auth_time),
        ] {
            if let Some(unix) = value {
                report.times.push(TimeClaim {
                    claim,
                    unix,
                    utc: utc(unix),
                    relative: relative(unix - now),
                });
            }
        }
        if report.payload.is_none() {
            report.not_reached(&["exp", "nbf", "iat"]);
            return;
        }
        let leeway_text = format!("leeway {} s", leeway);
        match exp {
            Some(exp) => report.push(
                "exp",
                passed(now < exp + leeway),
                format!("after now ({leeway_text})"),
                match now < exp {
                    true => format!("expires {}", relative(exp - now)),
                    false => format!("expired {}", relative(exp - now)),
                },
                trusted,
            ),
            None => report.push(
                "exp",
                Outcome::Failed,
                "an `exp` claim".to_owned(),
                "none".to_owned(),
                trusted,
            ),
        }
        match nbf {
            Some(nbf) => report.push(
                "nbf",
                passed(now + leeway >= nbf),
                format!("not after now ({leeway_text})"),
                format!("valid {}", relative(nbf - now)),
                trusted,
            ),
            None => report.push(
                "nbf",
                Outcome::Passed,
                "absent, or not after now".to_owned(),
                "none".to_owned(),
                trusted,
            ),
        }
        // Not a rule of route-guard's (RFC 7519 makes `iat` informational); shown because an
        // `iat` in the future is the sign of clocks that disagree.
        let issued = match iat {
            Some(iat) if iat > now + leeway => {
                format!("issued {} in the future, {leeway_text}", span(iat - now))
            }
            Some(iat) => format!("issued {}", relative(iat - now)),
            None => "none".to_owned(),
        };
        report.push(
            "iat",
            Outcome::Passed,
            "informational: a time in the past".to_owned(),
            issued,
            trusted,
        );
    }
}

impl TokenReport {
    fn push_key(&mut self, found: bool, kid: &Option<String>, detail: &str) {
        self.push(
            "key",
            passed(found),
            "a key of the issuer's JWKS for the token's `kid` and `alg`".to_owned(),
            format!("kid {}: {detail}", kid.as_deref().unwrap_or("(none)")),
            false,
        );
    }
}

/// `2026-12-01 16:40:00 UTC` (days from the civil calendar algorithm of H. Hinnant).
pub(crate) fn utc(unix: f64) -> String {
    if !unix.is_finite() || unix.abs() > 1e12 {
        return format!("{unix} (not a date)");
    }
    let secs = unix.floor() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `in 3 h 2 min`, `47 s ago`, `now`.
pub(crate) fn relative(delta: f64) -> String {
    if !delta.is_finite() {
        return "never".to_owned();
    }
    let span = span(delta.abs());
    match delta {
        d if d.abs() < 1.0 => "now".to_owned(),
        d if d > 0.0 => format!("in {span}"),
        _ => format!("{span} ago"),
    }
}

/// `3 h 2 min`, `47 s`, `2 d 4 h`.
pub(crate) fn span(secs: f64) -> String {
    let secs = secs.min(1e15) as u64;
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    let mut out = String::new();
    let _ = match (d, h, m) {
        (0, 0, 0) => write!(out, "{s} s"),
        (0, 0, _) => write!(out, "{m} min {s} s"),
        (0, _, _) => write!(out, "{h} h {m} min"),
        _ => write!(out, "{d} d {h} h"),
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_people_write_them() {
        assert_eq!(utc(0.0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_796_143_200.0), "2026-12-01 16:40:00 UTC");
        assert_eq!(utc(951_782_400.0), "2000-02-29 00:00:00 UTC");
        assert_eq!(
            relative(-(3.0 * 3600.0 + 2.0 * 60.0 + 5.0)),
            "3 h 2 min ago"
        );
        assert_eq!(relative(47.2), "in 47 s");
        assert_eq!(relative(0.2), "now");
        assert_eq!(relative(-90.0), "1 min 30 s ago");
        assert_eq!(relative(2.0 * 86_400.0 + 4.0 * 3600.0), "in 2 d 4 h");
        assert_eq!(relative(f64::INFINITY), "never");
        assert!(utc(1e300).contains("not a date"));
    }
}
