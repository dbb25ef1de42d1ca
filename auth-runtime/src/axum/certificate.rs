//! The request's client certificate (RFC 8705): the [`ClientCertificate`] extension a TLS
//! server's accept loop inserts, or the header a TLS-terminating proxy writes, in one of the
//! named formats. What is read is handed down as bytes (or Envoy's hash); `verify` checks it is
//! a certificate and compares its thumbprint.

use std::borrow::Cow;
use std::sync::Arc;

use axum::http::request::Parts;
use axum::http::HeaderName;
use base64::alphabet::STANDARD;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

use crate::config::{pem, CertificateHeaderFormat, CertificateSource};
use crate::verify::{CertificateReader, PresentedCertificate};

/// The client certificate of the TLS connection a request came on, for
/// [`client_certificate_from_connection`](crate::AuthenticatorBuilder::client_certificate_from_connection):
/// the server's accept loop inserts it into every request of the connection (the certificate
/// belongs to the connection, which is what RFC 8705 binds a token to).
///
/// With tokio-rustls and hyper-util, after the handshake:
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::ClientCertificate;
///
/// // `peer_certificates()` of the rustls `ServerConnection`: the client's chain, leaf first.
/// fn for_connection(peer_certificates: Option<&[Vec<u8>]>) -> ClientCertificate {
///     ClientCertificate::from_chain(peer_certificates)
/// }
///
/// // Then, for each request of that connection (in the hyper `service_fn`):
/// // request.extensions_mut().insert(certificate.clone());
/// # assert_eq!(for_connection(None).der(), None);
/// ```
///
/// `tests-integration/examples/mtls_server.rs` in the repository is a whole server. A request
/// without this extension has no client certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientCertificate(Option<Arc<[u8]>>);

impl ClientCertificate {
    /// The certificate `der` (DER-encoded X.509).
    pub fn new(der: impl Into<Vec<u8>>) -> Self {
        ClientCertificate(Some(Arc::from(der.into())))
    }

    /// The first `CERTIFICATE` block of a PEM text; `None` when there is none.
    ///
    /// ```
    /// # extern crate auth_runtime as route_guard;
    /// use route_guard::ClientCertificate;
    ///
    /// let pem = "-----BEGIN CERTIFICATE-----\nMAMCAQc=\n-----END CERTIFICATE-----\n";
    /// let certificate = ClientCertificate::from_pem(pem);
    /// let der = certificate.as_ref().and_then(ClientCertificate::der);
    /// assert_eq!(der, Some(&[0x30, 0x03, 0x02, 0x01, 0x07][..]));
    /// ```
    pub fn from_pem(pem: &str) -> Option<Self> {
        pem_der(pem).ok().map(ClientCertificate::new)
    }

    /// A TLS connection on which the client presented no certificate.
    pub fn none() -> Self {
        ClientCertificate(None)
    }

    /// The leaf of a peer's certificate chain (rustls `peer_certificates()`), or none.
    pub fn from_chain<C: AsRef<[u8]>>(chain: Option<&[C]>) -> Self {
        match chain.and_then(|chain| chain.first()) {
            Some(leaf) => ClientCertificate::new(leaf.as_ref()),
            None => ClientCertificate::none(),
        }
    }

    /// The DER bytes, if the client presented a certificate.
    pub fn der(&self) -> Option<&[u8]> {
        self.0.as_deref()
    }
}

/// The configured source, read from one request when a certificate-bound token asks for it.
pub(super) struct RequestCertificate<'a> {
    pub(super) parts: &'a Parts,
    pub(super) source: &'a CertificateSource,
}

impl CertificateReader for RequestCertificate<'_> {
    fn read(&self) -> PresentedCertificate<'_> {
        match self.source {
            CertificateSource::Connection => match self
                .parts
                .extensions
                .get::<ClientCertificate>()
                .and_then(ClientCertificate::der)
            {
                Some(der) => PresentedCertificate::Der(Cow::Borrowed(der)),
                None => PresentedCertificate::Absent,
            },
            CertificateSource::Header { name, format } => from_header(self.parts, name, *format),
        }
    }
}

/// Longer values are refused before they are decoded: one certificate is a few KiB (proxies
/// cap it at 4 KiB to 10 KiB).
const MAX_HEADER_BYTES: usize = 16 * 1024;

fn from_header(
    parts: &Parts,
    name: &HeaderName,
    format: CertificateHeaderFormat,
) -> PresentedCertificate<'static> {
    let mut values = parts.headers.get_all(name).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return match parts.headers.contains_key(name) {
            true => PresentedCertificate::Unreadable("the certificate header is repeated"),
            false => PresentedCertificate::Absent,
        };
    };
    if value.len() > MAX_HEADER_BYTES {
        return PresentedCertificate::Unreadable("the certificate header is too large");
    }
    let Ok(value) = value.to_str() else {
        return PresentedCertificate::Unreadable(
            "the certificate header holds characters that are not visible ASCII",
        );
    };
    let value = value.trim();
    if value.is_empty() {
        return PresentedCertificate::Absent;
    }
    let read = match format {
        CertificateHeaderFormat::Rfc9440 => rfc9440(value),
        CertificateHeaderFormat::Xfcc => return xfcc(value),
        CertificateHeaderFormat::PemUrlEncoded => {
            percent_decode(value).and_then(|pem| pem_der(&pem))
        }
        CertificateHeaderFormat::Base64Der => base64_der(value),
    };
    match read {
        Ok(der) => PresentedCertificate::Der(Cow::Owned(der)),
        Err(why) => PresentedCertificate::Unreadable(why),
    }
}

/// Standard base64, padded or not (RFC 9440 proxies pad; a PEM body may not).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// RFC 9440 §2.1: `:` base64 `:`, an RFC 8941 byte sequence.
fn rfc9440(value: &str) -> Result<Vec<u8>, &'static str> {
    let inner = value
        .strip_prefix(':')
        .and_then(|v| v.strip_suffix(':'))
        .ok_or("the Client-Cert value is not an RFC 9440 byte sequence (`:base64:`)")?;
    BASE64
        .decode(inner)
        .map_err(|_| "the Client-Cert value is not base64")
}

/// Traefik: the certificate's base64 DER, the first of a comma-separated chain; URL-escaped by
/// older versions.
fn base64_der(value: &str) -> Result<Vec<u8>, &'static str> {
    let first = value.split(',').next().unwrap_or_default().trim();
    let text = match first.contains('%') {
        true => percent_decode(first)?,
        false => first.to_owned(),
    };
    BASE64
        .decode(text.trim())
        .map_err(|_| "the certificate header is not base64")
}

/// RFC 3986 percent-decoding. Not form decoding: a `+` stays a `+` (AWS ALB leaves it as is).
fn percent_decode(value: &str) -> Result<String, &'static str> {
    const BAD: &str = "the certificate header holds a malformed percent-escape";
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or(BAD)?;
                let hex = std::str::from_utf8(hex).map_err(|_| BAD)?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| BAD)?);
                i += 3;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| BAD)
}

/// The DER of the first `CERTIFICATE` block of a PEM text.
fn pem_der(pem: &str) -> Result<Vec<u8>, &'static str> {
    let body = pem::body(pem, "CERTIFICATE").map_err(|missing| match missing {
        pem::Missing::Begin => "no PEM certificate in the header",
        pem::Missing::End => "the PEM certificate in the header is not terminated",
    })?;
    BASE64
        .decode(body)
        .map_err(|_| "the PEM certificate in the header is not base64")
}

/// Envoy's `x-forwarded-client-cert`: exactly one element; its `Hash` (hex SHA-256 of the DER)
/// or else its `Cert` (URL-encoded PEM).
fn xfcc(value: &str) -> PresentedCertificate<'static> {
    let elements = split_unquoted(value, ',');
    let [element] = elements.as_slice() else {
        return PresentedCertificate::Unreadable(
            "x-forwarded-client-cert holds several elements: have the proxy sanitize the header and set its own",
        );
    };
    let mut hash = None;
    let mut cert = None;
    for pair in split_unquoted(element, ';') {
        let Some((key, value)) = pair.split_once('=') else {
            return PresentedCertificate::Unreadable("x-forwarded-client-cert is malformed");
        };
        let value = unquote(value.trim());
        match key.trim() {
            k if k.eq_ignore_ascii_case("hash") => hash = Some(value),
            k if k.eq_ignore_ascii_case("cert") => cert = Some(value),
            _ => {}
        }
    }
    if let Some(hash) = hash {
        return match hex_sha256(&hash) {
            Some(sha256) => PresentedCertificate::Sha256(sha256),
            None => PresentedCertificate::Unreadable(
                "the Hash of x-forwarded-client-cert is not a hex SHA-256",
            ),
        };
    }
    match cert.map(|c| percent_decode(&c).and_then(|pem| pem_der(&pem))) {
        Some(Ok(der)) => PresentedCertificate::Der(Cow::Owned(der)),
        Some(Err(why)) => PresentedCertificate::Unreadable(why),
        None => PresentedCertificate::Absent,
    }
}

/// `value` split at `separator`s outside double quotes (where `\"` is a quote).
fn split_unquoted(value: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut quoted, mut escaped, mut start) = (false, false, 0);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts
}

/// A value without its surrounding quotes and with `\"` unescaped.
fn unquote(value: &str) -> String {
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\""),
        None => value.to_owned(),
    }
}

/// 64 hex digits as 32 bytes.
fn hex_sha256(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_keeps_plus_and_refuses_broken_escapes() {
        assert_eq!(percent_decode("a+b%2Fc%3D"), Ok("a+b/c=".to_owned()));
        assert!(percent_decode("%4").is_err());
        assert!(percent_decode("%zz").is_err());
        assert!(percent_decode("%FF").is_err());
    }

    #[test]
    fn xfcc_elements_and_quotes() {
        assert_eq!(
            split_unquoted(r#"By=a;Subject="x,y;z";Hash=00"#, ';'),
            vec!["By=a", r#"Subject="x,y;z""#, "Hash=00"]
        );
        assert_eq!(split_unquoted(r#"a="\",",b"#, ',').len(), 2);
        assert_eq!(
            xfcc("Hash=abc"),
            PresentedCertificate::Unreadable(
                "the Hash of x-forwarded-client-cert is not a hex SHA-256"
            )
        );
        assert_eq!(xfcc("By=spiffe://x"), PresentedCertificate::Absent);
        let hash = "468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688";
        assert!(matches!(
            xfcc(&format!("By=http://frontend.lyft.com;Hash={hash};Subject=\"/C=US/CN=Test Client\"")),
            PresentedCertificate::Sha256(h) if h[0] == 0x46 && h[31] == 0x88
        ));
        assert!(matches!(
            xfcc(&format!("Hash={hash},Hash={hash}")),
            PresentedCertificate::Unreadable(_)
        ));
    }

    #[test]
    fn pem_blocks() {
        let pem = "junk\n-----BEGIN CERTIFICATE-----\nAAEC\nAw==\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_der(pem), Ok(vec![0, 1, 2, 3]));
        assert!(pem_der("-----BEGIN CERTIFICATE-----\nAAEC").is_err());
        assert_eq!(rfc9440(":AAECAw==:"), Ok(vec![0, 1, 2, 3]));
        assert!(rfc9440("AAECAw==").is_err());
        assert_eq!(base64_der("AAECAw==,BBBB"), Ok(vec![0, 1, 2, 3]));
        assert_eq!(base64_der("AAECAw%3D%3D"), Ok(vec![0, 1, 2, 3]));
    }
}
