//! Self-signed certificates for mTLS tests (RFC 8705): a client certificate that certificate-bound
//! tokens name, and a server certificate for a loopback TLS listener.

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair, SanType,
};

use crate::config::CertificateHeaderFormat;
use crate::verify::certificate_thumbprint;

/// A self-signed ECDSA P-256 certificate and its private key, made for one test run.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::testing::{TestCertificate, TestIssuer};
/// use route_guard::{CertificateHeaderFormat, MtlsMode};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let issuer = TestIssuer::start().await?;
/// let auth = issuer
///     .authenticator_builder()
///     .mtls(MtlsMode::Allowed)
///     .client_certificate_header("client-cert", CertificateHeaderFormat::Rfc9440)
///     .build()?;
/// let client = issuer.client_certificate();
/// let token = issuer.token().certificate_bound(client).sign();
/// let verified = auth.verify_with_certificate(&token, Some(client.der())).await?;
/// assert_eq!(verified.certificate_thumbprint(), Some(client.thumbprint().as_str()));
///
/// // Any other certificate is refused.
/// let other = TestCertificate::client("mallory")?;
/// assert!(auth.verify_with_certificate(&token, Some(other.der())).await.is_err());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct TestCertificate {
    der: Vec<u8>,
    cert_pem: String,
    key_pem: String,
    key_der: Vec<u8>,
}

impl std::fmt::Debug for TestCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCertificate")
            .field("thumbprint", &self.thumbprint())
            .finish_non_exhaustive()
    }
}

/// Why a [`TestCertificate`] could not be made.
#[derive(Debug, thiserror::Error)]
#[error("the test certificate could not be generated: {0}")]
pub struct CertificateError(String);

impl From<rcgen::Error> for CertificateError {
    fn from(e: rcgen::Error) -> Self {
        CertificateError(e.to_string())
    }
}

impl TestCertificate {
    /// A client certificate (extended key usage `clientAuth`) for the subject `name`.
    pub fn client(name: &str) -> Result<TestCertificate, CertificateError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = subject(name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        Self::self_signed(params)
    }

    /// A server certificate (`serverAuth`) for the host names `hosts` (`localhost`, an IP
    /// address such as `127.0.0.1`), to serve TLS on loopback in tests.
    pub fn server(hosts: &[&str]) -> Result<TestCertificate, CertificateError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = subject(hosts.first().copied().unwrap_or("localhost"));
        for host in hosts {
            params.subject_alt_names.push(match host.parse() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName((*host).try_into()?),
            });
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        Self::self_signed(params)
    }

    fn self_signed(params: CertificateParams) -> Result<TestCertificate, CertificateError> {
        let key = KeyPair::generate()?;
        let certificate = params.self_signed(&key)?;
        Ok(TestCertificate {
            der: certificate.der().to_vec(),
            cert_pem: certificate.pem(),
            key_pem: key.serialize_pem(),
            key_der: key.serialize_der(),
        })
    }

    /// The certificate, DER-encoded.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate, PEM-encoded (for `curl --cert`, reqwest's `Identity`).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The private key, PKCS#8 PEM (for `curl --key`).
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// The private key, PKCS#8 DER (for rustls).
    pub fn key_der(&self) -> &[u8] {
        &self.key_der
    }

    /// The RFC 8705 thumbprint (`cnf.x5t#S256` of tokens bound to this certificate).
    pub fn thumbprint(&self) -> String {
        certificate_thumbprint(&self.der)
    }

    /// The header value a TLS-terminating proxy writing `format` sends for this certificate.
    pub fn header_value(&self, format: CertificateHeaderFormat) -> String {
        format.encode(&self.der)
    }
}

fn subject(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name
}
