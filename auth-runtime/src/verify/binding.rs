//! Sender-constrained tokens: which binding a token carries (none, a DPoP key `cnf.jkt`, a
//! client certificate `cnf.x5t#S256`) and whether the request's presentation fits it. Both are
//! answers to one question, decided here for the Bearer and the DPoP paths alike; the DPoP layer
//! then compares the proof's key, this module the certificate (RFC 8705 §3).

use std::borrow::Cow;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{digest, SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::error::VerifyError;
use super::registered::Confirmation;
use super::token::VerifiedToken;
use super::Authenticator;
use crate::config::MtlsMode;

/// What a verified token is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Binding {
    /// A plain Bearer token.
    None,
    /// `cnf.jkt`: the RFC 7638 thumbprint of the DPoP key (RFC 9449 §6.1).
    Dpop(Box<str>),
    /// `cnf.x5t#S256`: the SHA-256 of the client certificate's DER (RFC 8705 §3.1), as the
    /// token says it and decoded.
    Certificate { text: Box<str>, sha256: [u8; 32] },
}

impl Binding {
    /// The binding of a token's `cnf` claim. Both members at once are ambiguous; a thumbprint
    /// that is not the base64url of 32 bytes is a malformed claim, whatever the mTLS mode.
    pub(super) fn of(cnf: Option<Confirmation<'_>>) -> Result<Binding, VerifyError> {
        let Some(cnf) = cnf else {
            return Ok(Binding::None);
        };
        match (cnf.jkt, cnf.x5t_s256) {
            (Some(_), Some(_)) => Err(VerifyError::AmbiguousBinding),
            (Some(jkt), None) => Ok(Binding::Dpop(jkt.into())),
            (None, Some(x5t)) => {
                let mut sha256 = [0u8; 32];
                match URL_SAFE_NO_PAD.decode_slice(x5t.as_bytes(), &mut sha256) {
                    Ok(32) if x5t.len() == 43 => Ok(Binding::Certificate {
                        text: x5t.into(),
                        sha256,
                    }),
                    _ => Err(VerifyError::InvalidClaims(
                        "cnf.x5t#S256 is not the base64url SHA-256 thumbprint of a certificate"
                            .to_owned(),
                    )),
                }
            }
            (None, None) => Ok(Binding::None),
        }
    }
}

/// How the request presented its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Presentation {
    /// `Authorization: Bearer` (also [`Authenticator::verify`] and its kin).
    Bearer,
    /// `Authorization: DPoP` with a proof, whose key the DPoP layer compares with `cnf.jkt`.
    Dpop,
}

/// The client certificate of a request, as its source delivered it: the raw DER (hashed here),
/// or only its SHA-256 (Envoy's `Hash`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PresentedCertificate<'a> {
    /// The request has none (no certificate on the connection, no header).
    Absent,
    /// The source had something that is not a certificate; the text says what (never the value).
    Unreadable(&'static str),
    /// DER bytes, not yet checked to be a certificate.
    Der(Cow<'a, [u8]>),
    /// The SHA-256 of the DER, computed by a trusted proxy.
    Sha256([u8; 32]),
}

/// Reads a request's client certificate, only when a certificate-bound token asks for it: the
/// axum layer implements it for the configured source.
pub(crate) trait CertificateReader: Sync {
    fn read(&self) -> PresentedCertificate<'_>;
}

/// The certificate handed to [`Authenticator::verify_with_certificate`].
pub(crate) struct Given<'a>(pub(crate) Option<&'a [u8]>);

impl CertificateReader for Given<'_> {
    fn read(&self) -> PresentedCertificate<'_> {
        match self.0 {
            Some(der) => PresentedCertificate::Der(Cow::Borrowed(der)),
            None => PresentedCertificate::Absent,
        }
    }
}

/// The RFC 8705 §3.1 thumbprint of a DER certificate: its SHA-256, base64url without padding.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// // Not a certificate, but any bytes hash the same way.
/// let thumbprint = route_guard::certificate_thumbprint(b"");
/// assert_eq!(thumbprint, "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
/// ```
pub fn certificate_thumbprint(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, der))
}

impl Authenticator {
    /// Whether the way `verified` was presented fits its binding, under the DPoP and mTLS
    /// modes. `certificate` is read only for a certificate-bound token whose binding is checked.
    pub(crate) fn check_binding(
        &self,
        verified: &VerifiedToken,
        presentation: Presentation,
        certificate: Option<&dyn CertificateReader>,
    ) -> Result<(), VerifyError> {
        self.check_binding_of(verified.binding(), presentation, certificate)
    }

    /// [`check_binding`](Self::check_binding) for a binding found in a token (the doctor's too).
    pub(super) fn check_binding_of(
        &self,
        binding: &Binding,
        presentation: Presentation,
        certificate: Option<&dyn CertificateReader>,
    ) -> Result<(), VerifyError> {
        let mode = self.inner.settings.mtls.mode;
        match (binding, presentation) {
            (Binding::Dpop(_), Presentation::Bearer) => Err(VerifyError::DpopBound),
            (Binding::None | Binding::Certificate { .. }, Presentation::Dpop) => {
                Err(VerifyError::NotDpopBound)
            }
            (Binding::None | Binding::Dpop(_), _) if mode == MtlsMode::Required => {
                Err(VerifyError::NotCertificateBound)
            }
            (Binding::None | Binding::Dpop(_), _) => Ok(()),
            (Binding::Certificate { sha256, .. }, Presentation::Bearer) => match mode {
                MtlsMode::Off => Err(VerifyError::CertificateBound),
                MtlsMode::Unchecked => Ok(()),
                _ => {
                    let presented = certificate.map_or(PresentedCertificate::Absent, |c| c.read());
                    check_certificate(sha256, presented)
                }
            },
        }
    }
}

/// RFC 8705 §3: the certificate's SHA-256 equals the token's, compared in constant time. The
/// chain is not validated (§6.2): the TLS layer or the proxy did that, or chose not to.
fn check_certificate(
    bound: &[u8; 32],
    presented: PresentedCertificate<'_>,
) -> Result<(), VerifyError> {
    let sha256 = presented_sha256(presented)?;
    verify_slices_are_equal(bound, &sha256).map_err(|_| VerifyError::CertificateMismatch)
}

/// The SHA-256 of a presented certificate, after checking that DER bytes are a certificate.
pub(super) fn presented_sha256(
    presented: PresentedCertificate<'_>,
) -> Result<[u8; 32], VerifyError> {
    match presented {
        PresentedCertificate::Absent => Err(VerifyError::CertificateMissing),
        PresentedCertificate::Unreadable(why) => Err(VerifyError::CertificateUnreadable(why)),
        PresentedCertificate::Sha256(sha256) => Ok(sha256),
        PresentedCertificate::Der(der) => {
            let certificate = rustls_pki_types::CertificateDer::from(der.as_ref());
            if webpki::EndEntityCert::try_from(&certificate).is_err() {
                return Err(VerifyError::CertificateUnreadable(
                    "it is not a DER X.509 certificate",
                ));
            }
            let mut sha256 = [0u8; 32];
            sha256.copy_from_slice(digest(&SHA256, &der).as_ref());
            Ok(sha256)
        }
    }
}
