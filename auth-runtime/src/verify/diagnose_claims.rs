//! The doctor's claim checks: the audience rule, the issuer profile's vendor checks, the
//! Authenticator's policies and the Bearer binding rule, each as a finding.

use serde_json::Value;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::binding::{Binding, Presentation, PresentedCertificate};
use super::causes::cause;
use super::diagnose::{passed, TokenReport};
use super::diagnosis::Cause;
use super::{Authenticator, RequestContext, VerifyError};
use crate::config::{AudienceRule, CertificateSource, IssuerProfile, MtlsMode};

impl Authenticator {
    /// `aud`, the Authenticator's policies (organization, required claims, delegation,
    /// anonymous) and the Bearer scheme's binding rule.
    pub(super) fn claim_checks(
        &self,
        report: &mut TokenReport,
        trusted: bool,
        context: RequestContext<'_>,
    ) {
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
        let binding = text
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|text| Binding::of(super::registered::parse_claims(text)?.cnf));
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
        self.binding_check(report, trusted, context, binding);
    }

    /// The binding of a token sent as Bearer, judged by the verification path's own rule.
    fn binding_check(
        &self,
        report: &mut TokenReport,
        trusted: bool,
        context: RequestContext<'_>,
        binding: Result<Binding, VerifyError>,
    ) {
        let mode = self.inner.settings.mtls.mode;
        let outcome = binding.as_ref().map_err(Clone::clone).and_then(|binding| {
            self.check_binding_of(binding, Presentation::Bearer, context.certificate)
        });
        let expected = match (&binding, mode) {
            (Ok(Binding::Certificate { text, .. }), MtlsMode::Allowed | MtlsMode::Required) => {
                format!(
                    "a client certificate with the thumbprint {text} ({})",
                    self.certificate_source()
                )
            }
            (_, MtlsMode::Required) => "a certificate-bound token (`cnf.x5t#S256`)".to_owned(),
            (_, MtlsMode::Unchecked) => {
                "a Bearer token (no `cnf.jkt`; a certificate binding is not checked)".to_owned()
            }
            (_, MtlsMode::Off) => "a Bearer token (no `cnf.jkt` or `cnf.x5t#S256`)".to_owned(),
            _ => "a Bearer token (no `cnf.jkt`), or one bound to the request's certificate"
                .to_owned(),
        };
        let actual = match &binding {
            Err(e) => e.to_string(),
            Ok(Binding::None) => "not bound".to_owned(),
            Ok(Binding::Dpop(jkt)) => format!("DPoP-bound to the key {jkt}"),
            Ok(Binding::Certificate { text, .. }) if mode.checks_certificates() => {
                let presented = context
                    .certificate
                    .map_or(PresentedCertificate::Absent, |c| c.read());
                match super::binding::presented_sha256(presented) {
                    Ok(sha256) => format!(
                        "certificate-bound to {text}; the request's certificate is {}",
                        URL_SAFE_NO_PAD.encode(sha256)
                    ),
                    Err(VerifyError::CertificateMissing) => {
                        format!("certificate-bound to {text}; the request has no certificate")
                    }
                    Err(e) => format!("certificate-bound to {text}; {e}"),
                }
            }
            Ok(Binding::Certificate { text, .. }) => format!("certificate-bound to {text}"),
        };
        report.push(
            "binding",
            passed(outcome.is_ok()),
            expected,
            actual,
            trusted,
        );
        report.binding_error = outcome.err();
    }

    /// Where client certificates are read, in words.
    pub(super) fn certificate_source(&self) -> String {
        match &self.inner.settings.mtls.source {
            Some(CertificateSource::Header { name, format }) => {
                format!("read from the header {name} in the {format} format")
            }
            Some(CertificateSource::Connection) => "read from the TLS connection".to_owned(),
            None => "no certificate source".to_owned(),
        }
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

/// The doctor's causes of a binding that does not fit.
impl Authenticator {
    /// Why the token's binding does not fit a Bearer request, and what to do.
    pub(super) fn binding_cause(&self, error: &VerifyError) -> Cause {
        let source = self.certificate_source();
        match error {
            VerifyError::DpopBound => cause(
                "dpop_as_bearer",
                "the token is DPoP-bound (`cnf.jkt`) but was sent as a Bearer token: without a proof of its key it is refused in every DPoP mode".to_owned(),
                "send `Authorization: DPoP <token>` with a `DPoP` proof header signed by the bound key",
            ),
            VerifyError::CertificateBound => cause(
                "certificate_bound_not_accepted",
                "the token is certificate-bound (`cnf.x5t#S256`, RFC 8705) and this API does not check client certificates, so it refuses such tokens rather than accept them as plain Bearer tokens".to_owned(),
                "set AUTH0_MTLS=allowed with the certificate's source (AUTH0_MTLS_CERT_HEADER and AUTH0_MTLS_CERT_FORMAT behind a TLS-terminating proxy; the TLS connection otherwise), or get a token for an API without mTLS binding",
            ),
            VerifyError::NotCertificateBound => cause(
                "not_certificate_bound",
                "AUTH0_MTLS is `required` and the token is not bound to a client certificate (no `cnf.x5t#S256`)".to_owned(),
                "get the token over mTLS from an Auth0 application with a client certificate (Highly Regulated Identity, the API's sender-constraining setting set to mTLS), or set AUTH0_MTLS=allowed",
            ),
            VerifyError::CertificateMissing => cause(
                "certificate_missing",
                format!("the token is certificate-bound but the request came without a client certificate ({source})"),
                "send the request with the certificate the token was issued to (curl `--cert` / `--key`; `route-guard doctor --cert <file.pem>`); behind a proxy, check that it asks for client certificates and forwards them",
            ),
            VerifyError::CertificateUnreadable(why) => cause(
                "certificate_unreadable",
                format!("the token is certificate-bound and the request's client certificate could not be read ({source}): {why}"),
                "check that the proxy writes the certificate in the configured format (AUTH0_MTLS_CERT_FORMAT), and only once",
            ),
            VerifyError::CertificateMismatch => cause(
                "certificate_mismatch",
                "the token is bound to another client certificate than the request's: a token issued to one certificate is refused with any other (a rotated certificate invalidates its tokens, RFC 8705 §6.3)".to_owned(),
                "send the certificate the token was issued to, or get a new token over mTLS with this certificate",
            ),
            VerifyError::AmbiguousBinding => cause(
                "ambiguous_binding",
                "the token is bound both to a DPoP key (`cnf.jkt`) and to a client certificate (`cnf.x5t#S256`): route-guard accepts neither binding for it".to_owned(),
                "configure the API (or the client) for one sender constraint: DPoP or mTLS",
            ),
            other => cause(
                "binding",
                other.to_string(),
                "see the binding check",
            ),
        }
    }
}
