//! The doctor's claim checks: the audience rule, the issuer profile's vendor checks, the
//! Authenticator's policies and the Bearer binding rule, each as a finding.

use serde_json::Value;

use super::diagnose::{passed, TokenReport};
use super::Authenticator;
use crate::config::{AudienceRule, IssuerProfile};

impl Authenticator {
    /// `aud`, the Authenticator's policies (organization, required claims, delegation,
    /// anonymous) and the Bearer scheme's binding rule.
    pub(super) fn claim_checks(&self, report: &mut TokenReport, trusted: bool) {
        let settings = &self.inner.settings;
        let Some(bytes) = report.payload_bytes.take() else {
            report.not_reached(&["aud", "profile", "policies", "binding"]);
            return;
        };
        let text = super::registered::payload_text(bytes);
        // Judged first, while the payload is borrowed; then written to the report.
        let map = match &report.payload {
            Some(Value::Object(map)) => Some(map),
            _ => None,
        };
        let audience = text.as_ref().map_err(Clone::clone).and_then(|text| {
            let claims = super::registered::parse_claims(text)?;
            super::profile::check_audience(settings, &claims, map)
        });
        let vendor = (settings.rules.profile != IssuerProfile::Auth0).then(|| {
            let kid = report.header_member("kid").and_then(Value::as_str);
            super::profile::check_vendor(settings, map, kid).map_err(|e| e.to_string())
        });
        let (expected, actual) = self.audience_finding(report);
        report.push("aud", passed(audience.is_ok()), expected, actual, trusted);
        if let Some(vendor) = vendor {
            report.push(
                "profile",
                passed(vendor.is_ok()),
                format!("the {} profile's checks", settings.rules.profile),
                match vendor {
                    Ok(()) => "met".to_owned(),
                    Err(why) => why,
                },
                trusted,
            );
        }
        let policies = text.and_then(|text| {
            let claims = super::registered::parse_claims(&text)?;
            self.check_policies(&claims, &text)
        });
        let policies = policies.map_err(|e| e.to_string());
        report.push(
            "policies",
            passed(policies.is_ok()),
            "the organization, required-claim, delegation and anonymous-user policies".to_owned(),
            match policies {
                Ok(()) => "met".to_owned(),
                Err(why) => why,
            },
            trusted,
        );
        let jkt = report
            .claim("cnf")
            .and_then(|cnf| cnf.get("jkt"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        report.push(
            "binding",
            passed(jkt.is_none()),
            "a Bearer token (no `cnf.jkt`)".to_owned(),
            match jkt {
                Some(jkt) => format!("DPoP-bound to the key {jkt}"),
                None => "not bound".to_owned(),
            },
            trusted,
        );
    }
}

impl Authenticator {
    /// What the audience rule expects, and what the token has, for the `aud` finding.
    fn audience_finding(&self, report: &TokenReport) -> (String, String) {
        let settings = &self.inner.settings;
        let list = settings.audiences.join(", ");
        let auds = report.audiences();
        let aud_text = match auds.is_empty() {
            true => "no `aud` claim".to_owned(),
            false => auds.join(", "),
        };
        let claim_text = |name: &str| match report.claim(name).and_then(Value::as_str) {
            Some(value) => format!("`{name}` {value}"),
            None => format!("no `{name}` claim"),
        };
        match &settings.rules.audience {
            AudienceRule::Claim(name) => (format!("`{name}` one of {list}"), claim_text(name)),
            AudienceRule::AudOrClaim(name) => (
                format!("`aud` (or, without one, `{name}`) one of {list}"),
                format!("{aud_text}; {}", claim_text(name)),
            ),
            _ => (format!("one of {list}"), aud_text),
        }
    }
}
