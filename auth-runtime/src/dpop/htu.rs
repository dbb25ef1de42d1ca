//! The URL a proof's `htu` is compared with, both sides normalised per RFC 3986 §6.2.2 and
//! §6.2.3 (RFC 9449 §4.3 step 9).

use axum::http::request::Parts;
use url::Url;

use crate::config::{DpopSettings, ProxyHeaders};

/// `url` without query and fragment, normalised: scheme and host lowercased (the `url` crate),
/// default port dropped, dot segments removed, empty path as `/`, percent-encoded unreserved
/// characters decoded and the remaining escapes in upper case. `None` if it is not an absolute
/// http(s) URL with a host and no credentials.
pub(crate) fn normalize(url: &str) -> Option<String> {
    let parsed = Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return None;
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return None;
    }
    let host = parsed.host_str()?;
    let mut out = String::with_capacity(url.len());
    out.push_str(parsed.scheme());
    out.push_str("://");
    out.push_str(host);
    if let Some(port) = parsed.port() {
        out.push(':');
        out.push_str(&port.to_string());
    }
    normalize_escapes(parsed.path(), &mut out);
    Some(out)
}

/// Decodes `%XX` escapes of unreserved characters and upper-cases the others.
fn normalize_escapes(path: &str, out: &mut String) {
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                let c = hi << 4 | lo;
                if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') {
                    out.push(char::from(c));
                } else {
                    out.push('%');
                    out.push(char::from(bytes[i + 1].to_ascii_uppercase()));
                    out.push(char::from(bytes[i + 2].to_ascii_uppercase()));
                }
                i += 3;
                continue;
            }
        }
        out.push(char::from(bytes[i]));
        i += 1;
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The URL of this request as the client addressed it: the configured public base URL and the
/// path; else the scheme and host the trusted proxy recorded ([`ProxyHeaders`], the element it
/// added); else the request's own scheme (http unless the URI says otherwise) and `host`.
/// `host` and `path` are the request's own, as the axum layer reads them for every scheme.
/// Normalised; `None` when no host is known.
pub(crate) fn request_url(
    parts: &Parts,
    host: Option<&str>,
    path: &str,
    dpop: &DpopSettings,
    proxy: ProxyHeaders,
) -> Option<String> {
    if let Some(base) = &dpop.public_base_url {
        return normalize(&format!("{base}{path}"));
    }
    let (proto, forwarded_host) = proxy.scheme_and_host(&parts.headers);
    let scheme = proto.or(parts.uri.scheme_str()).unwrap_or("http");
    let host = forwarded_host.or(host)?;
    normalize(&format!("{scheme}://{host}{path}"))
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn rfc_3986_normalisation() {
        let same = [
            ("https://API.Example.COM/a", "https://api.example.com/a"),
            ("HTTPS://api.example.com:443/a", "https://api.example.com/a"),
            ("http://api.example.com:80/a", "http://api.example.com/a"),
            ("https://api.example.com", "https://api.example.com/"),
            (
                "https://api.example.com/%7euser/%61",
                "https://api.example.com/~user/a",
            ),
            (
                "https://api.example.com/a%2fb",
                "https://api.example.com/a%2Fb",
            ),
            (
                "https://api.example.com/a/./b/../c",
                "https://api.example.com/a/c",
            ),
            (
                "https://api.example.com/a?q=1#f",
                "https://api.example.com/a",
            ),
        ];
        for (input, expected) in same {
            assert_eq!(normalize(input).as_deref(), Some(expected), "{input}");
        }
        assert_eq!(
            normalize("https://api.example.com:8443/a").as_deref(),
            Some("https://api.example.com:8443/a")
        );
        assert_ne!(
            normalize("https://api.example.com/A"),
            normalize("https://api.example.com/a")
        );
        for bad in [
            "/relative",
            "ftp://x/a",
            "https://user:pw@x/a",
            "not a url",
            "",
        ] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
        // A truncated escape stays as it is.
        assert_eq!(normalize("https://x/a%4").as_deref(), Some("https://x/a%4"));
    }
}
