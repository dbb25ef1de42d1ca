//! Certificate-bound access tokens (RFC 8705): the [`MtlsMode`], where the client certificate
//! comes from, and their validation.

use std::fmt;
use std::str::FromStr;

use axum::http::HeaderName;

use super::error::ConfigError;
use super::options::DpopMode;
use super::AuthenticatorBuilder;

/// How certificate-bound access tokens (`cnf.x5t#S256`, RFC 8705 §3) are treated; set with
/// [`AuthenticatorBuilder::mtls`] or `AUTH0_MTLS`.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::MtlsMode;
/// assert_eq!("required".parse::<MtlsMode>(), Ok(MtlsMode::Required));
/// assert_eq!(MtlsMode::default(), MtlsMode::Off);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum MtlsMode {
    /// No client certificate is read, and a certificate-bound token is refused (401
    /// `invalid_token`): it is never accepted as a plain Bearer token. The default.
    #[default]
    Off,
    /// A certificate-bound token is accepted when the request's client certificate has its
    /// thumbprint; tokens that are not bound are accepted as before.
    Allowed,
    /// Every token must be certificate-bound, and the request's client certificate must have its
    /// thumbprint. DPoP-bound and plain Bearer tokens are refused.
    Required,
    /// The opt-out: certificate-bound tokens are accepted as plain Bearer tokens, their binding
    /// unchecked. Only for an API whose TLS-terminating gateway already checks the binding
    /// itself; anywhere else a stolen token would be usable without its certificate.
    Unchecked,
}

impl MtlsMode {
    /// The name used by `AUTH0_MTLS`: `off`, `allowed`, `required` or `unchecked`.
    pub fn as_str(self) -> &'static str {
        match self {
            MtlsMode::Off => "off",
            MtlsMode::Allowed => "allowed",
            MtlsMode::Required => "required",
            MtlsMode::Unchecked => "unchecked",
        }
    }

    /// Whether the binding of a certificate-bound token is checked against a client certificate.
    pub(crate) fn checks_certificates(self) -> bool {
        matches!(self, MtlsMode::Allowed | MtlsMode::Required)
    }
}

impl fmt::Display for MtlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MtlsMode {
    type Err = ConfigError;

    /// `off`, `allowed`, `required` or `unchecked`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            MtlsMode::Off,
            MtlsMode::Allowed,
            MtlsMode::Required,
            MtlsMode::Unchecked,
        ]
        .into_iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
        .ok_or_else(|| ConfigError::InvalidSetting {
            setting: "AUTH0_MTLS",
            reason: format!(
                "`{}` is not an mTLS mode: use off, allowed or required",
                s.escape_default()
            ),
        })
    }
}

/// How a TLS-terminating proxy writes the client certificate into its header; see
/// [`AuthenticatorBuilder::client_certificate_header`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CertificateHeaderFormat {
    /// RFC 9440 `Client-Cert`: the DER certificate as a structured-field byte sequence,
    /// `:<base64>:` (Cloudflare's transform rule, CloudFront, any RFC 9440 proxy).
    Rfc9440,
    /// Envoy's `x-forwarded-client-cert`: exactly one element, whose `Hash` (hex SHA-256 of the
    /// certificate) or `Cert` (URL-encoded PEM) is read. Several elements (a proxy that appends
    /// instead of sanitizing) are refused as unreadable.
    Xfcc,
    /// A URL-encoded PEM certificate: nginx `$ssl_client_escaped_cert`, AWS ALB
    /// `X-Amzn-Mtls-Clientcert-Leaf` (whose `+` stays a `+`), Auth0's customer-edge
    /// `client-certificate`. The first `CERTIFICATE` block is read.
    PemUrlEncoded,
    /// The DER certificate in standard base64, without PEM armour (Traefik v3
    /// `X-Forwarded-Tls-Client-Cert`; the first of a comma-separated chain is read).
    Base64Der,
}

impl CertificateHeaderFormat {
    /// Every format, in the order of [`as_str`](Self::as_str)'s documentation.
    pub const ALL: [CertificateHeaderFormat; 4] = [
        CertificateHeaderFormat::Rfc9440,
        CertificateHeaderFormat::Xfcc,
        CertificateHeaderFormat::PemUrlEncoded,
        CertificateHeaderFormat::Base64Der,
    ];

    /// The name used by `AUTH0_MTLS_CERT_FORMAT`: `rfc9440`, `xfcc`, `pem-urlencoded` or
    /// `base64-der`.
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateHeaderFormat::Rfc9440 => "rfc9440",
            CertificateHeaderFormat::Xfcc => "xfcc",
            CertificateHeaderFormat::PemUrlEncoded => "pem-urlencoded",
            CertificateHeaderFormat::Base64Der => "base64-der",
        }
    }

    /// The header value a proxy writing this format sends for the DER certificate `der`: for
    /// tests, and for a client that plays the proxy in development.
    ///
    /// ```
    /// # extern crate auth_runtime as route_guard;
    /// use route_guard::CertificateHeaderFormat;
    ///
    /// let der = [0x30, 0x03, 0x02, 0x01, 0x07];
    /// assert_eq!(CertificateHeaderFormat::Rfc9440.encode(&der), ":MAMCAQc=:");
    /// assert_eq!(CertificateHeaderFormat::Base64Der.encode(&der), "MAMCAQc=");
    /// assert!(CertificateHeaderFormat::Xfcc.encode(&der).starts_with("Hash="));
    /// ```
    pub fn encode(self, der: &[u8]) -> String {
        use base64::engine::general_purpose::STANDARD;
        use base64::Engine;
        match self {
            CertificateHeaderFormat::Rfc9440 => format!(":{}:", STANDARD.encode(der)),
            CertificateHeaderFormat::Base64Der => STANDARD.encode(der),
            CertificateHeaderFormat::Xfcc => {
                let sha256 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
                let hex: String = sha256.as_ref().iter().map(|b| format!("{b:02x}")).collect();
                format!("Hash={hex}")
            }
            CertificateHeaderFormat::PemUrlEncoded => {
                // As nginx's `$ssl_client_escaped_cert`: everything but unreserved characters.
                super::pem::encode("CERTIFICATE", der)
                    .bytes()
                    .map(|b| match b {
                        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                            (b as char).to_string()
                        }
                        _ => format!("%{b:02X}"),
                    })
                    .collect()
            }
        }
    }
}

impl fmt::Display for CertificateHeaderFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CertificateHeaderFormat {
    type Err = ConfigError;

    /// `rfc9440`, `xfcc`, `pem-urlencoded` or `base64-der`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CertificateHeaderFormat::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ConfigError::InvalidSetting {
                setting: "AUTH0_MTLS_CERT_FORMAT",
                reason: format!(
                    "`{}` is not a certificate header format: use rfc9440, xfcc, pem-urlencoded or base64-der",
                    s.escape_default()
                ),
            })
    }
}

/// Where the request's client certificate is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CertificateSource {
    /// The [`ClientCertificate`](crate::ClientCertificate) extension the server's accept loop
    /// inserts into each request of a TLS connection.
    Connection,
    /// A header a TLS-terminating proxy sets (and strips from what clients send).
    Header {
        name: HeaderName,
        format: CertificateHeaderFormat,
    },
}

/// The mTLS part of the builder.
#[derive(Debug, Clone, Default)]
pub(crate) struct MtlsBuilder {
    mode: MtlsMode,
    source: Option<Chosen>,
    error: Option<ConfigError>,
}

/// The validated mTLS settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct MtlsSettings {
    pub(crate) mode: MtlsMode,
    /// `Some` exactly when the mode checks certificates.
    pub(crate) source: Option<CertificateSource>,
}

/// The source as the builder was told it, checked by `validate`.
#[derive(Debug, Clone)]
enum Chosen {
    Connection,
    Header(String, CertificateHeaderFormat),
}

impl AuthenticatorBuilder {
    /// How certificate-bound tokens (`cnf.x5t#S256`, RFC 8705) are treated (default
    /// [`MtlsMode::Off`], which refuses them). [`Allowed`](MtlsMode::Allowed) and
    /// [`Required`](MtlsMode::Required) need the source of the client certificate:
    /// [`client_certificate_from_connection`](Self::client_certificate_from_connection) or
    /// [`client_certificate_header`](Self::client_certificate_header).
    ///
    /// ```
    /// # extern crate auth_runtime as route_guard;
    /// use route_guard::{Authenticator, CertificateHeaderFormat, MtlsMode};
    ///
    /// // Behind a proxy that terminates TLS and forwards the certificate (RFC 9440).
    /// let auth = Authenticator::builder()
    ///     .domain("tenant.us.auth0.com")
    ///     .audience("https://api.example.com")
    ///     .mtls(MtlsMode::Allowed)
    ///     .client_certificate_header("client-cert", CertificateHeaderFormat::Rfc9440)
    ///     .build()?;
    /// # Ok::<(), route_guard::ConfigError>(())
    /// ```
    pub fn mtls(mut self, mode: MtlsMode) -> Self {
        self.mtls.mode = mode;
        self
    }

    /// The client certificate is the one of the TLS connection: the server's accept loop
    /// inserts a [`ClientCertificate`](crate::ClientCertificate) into each request's extensions
    /// (see its documentation for axum on tokio-rustls). A request without that extension has
    /// no certificate.
    pub fn client_certificate_from_connection(mut self) -> Self {
        self.mtls.source = Some(Chosen::Connection);
        self
    }

    /// The client certificate is read from the header `name`, written by a TLS-terminating
    /// proxy in `format`.
    ///
    /// Trust: route-guard cannot tell a header the proxy wrote from one a client sent. Use this
    /// only when every request reaches the API through that proxy, and the proxy removes or
    /// overwrites the header on every request (Envoy's default `SANITIZE`, nginx
    /// `proxy_set_header`, Cloudflare's transform rule that first removes it). There is no
    /// default header. A value that cannot be read is no certificate (RFC 9440 §2.1).
    pub fn client_certificate_header(
        mut self,
        name: impl Into<String>,
        format: CertificateHeaderFormat,
    ) -> Self {
        self.mtls.source = Some(Chosen::Header(name.into(), format));
        self
    }

    /// `AUTH0_MTLS`, `AUTH0_MTLS_CERT_HEADER` and `AUTH0_MTLS_CERT_FORMAT`.
    pub(super) fn mtls_from_vars(mut self, var: &dyn Fn(&str) -> Option<String>) -> Self {
        if let Some(mode) = var("AUTH0_MTLS") {
            match mode.parse() {
                Ok(mode) => self.mtls.mode = mode,
                Err(e) => self.mtls.error = Some(e),
            }
        }
        let format = var("AUTH0_MTLS_CERT_FORMAT").map(|f| f.parse::<CertificateHeaderFormat>());
        match (var("AUTH0_MTLS_CERT_HEADER"), format) {
            (_, Some(Err(e))) => self.mtls.error = Some(e),
            (Some(name), Some(Ok(format))) => {
                self = self.client_certificate_header(name.trim(), format)
            }
            (Some(_), None) => {
                self.mtls.error = Some(ConfigError::InvalidSetting {
                    setting: "AUTH0_MTLS_CERT_FORMAT",
                    reason: "AUTH0_MTLS_CERT_HEADER is set without its format: set AUTH0_MTLS_CERT_FORMAT to rfc9440, xfcc, pem-urlencoded or base64-der".to_owned(),
                })
            }
            (None, Some(Ok(_))) => {
                self.mtls.error = Some(ConfigError::InvalidSetting {
                    setting: "AUTH0_MTLS_CERT_HEADER",
                    reason: "AUTH0_MTLS_CERT_FORMAT is set without the header: set AUTH0_MTLS_CERT_HEADER to the header your proxy writes the certificate into".to_owned(),
                })
            }
            (None, None) if self.mtls.mode.checks_certificates() => {
                self = self.client_certificate_from_connection()
            }
            (None, None) => {}
        }
        self
    }
}

impl MtlsBuilder {
    /// The mode and source, checked against each other and against the DPoP mode.
    pub(super) fn validate(self, dpop: DpopMode) -> Result<MtlsSettings, ConfigError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let source = match self.source {
            None => None,
            Some(Chosen::Connection) => Some(CertificateSource::Connection),
            Some(Chosen::Header(name, format)) => {
                let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                    ConfigError::InvalidSetting {
                        setting: "AUTH0_MTLS_CERT_HEADER",
                        reason: format!("`{}` is not a header name", name.escape_default()),
                    }
                })?;
                let reserved = ["authorization", "dpop", "host", "cookie"];
                if reserved.contains(&name.as_str()) {
                    return Err(ConfigError::InvalidSetting {
                        setting: "AUTH0_MTLS_CERT_HEADER",
                        reason: format!(
                            "`{name}` carries something else than a certificate: name the header your proxy writes it into"
                        ),
                    });
                }
                Some(CertificateSource::Header { name, format })
            }
        };
        match (self.mode.checks_certificates(), &source) {
            (true, None) => {
                return Err(ConfigError::InvalidSetting {
                    setting: "AUTH0_MTLS",
                    reason: format!(
                        "mTLS is `{}` but no client certificate source is configured: set AUTH0_MTLS_CERT_HEADER and AUTH0_MTLS_CERT_FORMAT for a proxy header, or call `.client_certificate_from_connection()` / `.client_certificate_header(..)`",
                        self.mode
                    ),
                })
            }
            (false, Some(_)) => {
                return Err(ConfigError::InvalidSetting {
                    setting: "AUTH0_MTLS",
                    reason: format!(
                        "a client certificate source is configured but mTLS is `{}`: set AUTH0_MTLS to allowed or required (`.mtls(..)`), or remove the source",
                        self.mode
                    ),
                })
            }
            _ => {}
        }
        if self.mode == MtlsMode::Required && dpop == DpopMode::Required {
            return Err(ConfigError::InvalidSetting {
                setting: "AUTH0_MTLS",
                reason: "mTLS and DPoP are both `required`, and no token can be bound both ways: require one of them".to_owned(),
            });
        }
        Ok(MtlsSettings {
            mode: self.mode,
            source,
        })
    }
}
