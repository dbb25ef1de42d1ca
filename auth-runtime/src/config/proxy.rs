//! [`ProxyHeaders`]: which header a trusted reverse proxy writes, and the one rule that reads
//! it for everything behind a proxy (the client address of rate limits, the scheme and host
//! DPoP's `htu` is compared with).

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

/// Which header the reverse proxy in front of this API sets, so route-guard can read the
/// client's address (rate limits) and the scheme and host it called (DPoP's `htu`) from it.
/// Set it with [`proxy_headers`](crate::AuthenticatorBuilder::proxy_headers).
///
/// One rule for every reader: only the named header counts (a client can send either; only the
/// one your proxy writes is trustworthy), and only the element the proxy added, which is the
/// **last** one: a proxy appends its element to what the client sent (RFC 7239 §4, and the
/// `X-Forwarded-*` convention), so everything before it is whatever the client claimed.
/// A proxy that overwrites the header instead leaves one element, its own, which is also the
/// last. Enable it only behind a proxy that sets the header on every request; with several
/// proxies in a chain, the last element is the nearest one's (behind a chain, set
/// [`public_base_url`](crate::AuthenticatorBuilder::public_base_url) for the URL a DPoP proof
/// names: the nearest proxy may have been called by an inner name).
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::{AuthenticatorBuilder, ProxyHeaders};
///
/// // nginx: proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
/// //        proxy_set_header X-Forwarded-Proto $scheme; proxy_set_header X-Forwarded-Host $host;
/// let builder = AuthenticatorBuilder::default()
///     .domain("tenant.us.auth0.com")
///     .audience("https://api.example.com")
///     .proxy_headers(ProxyHeaders::XForwarded);
/// # let _ = builder;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ProxyHeaders {
    /// No proxy is trusted (the default): the peer address of the connection, and the request's
    /// own scheme and `Host`.
    #[default]
    None,
    /// `Forwarded` (RFC 7239): `for=`, `proto=` and `host=` of its last element.
    Forwarded,
    /// `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Forwarded-Host`: the last value of each.
    XForwarded,
}

impl ProxyHeaders {
    /// The client address the proxy recorded, if it recorded one this rule can read.
    pub(crate) fn client_ip(self, headers: &HeaderMap) -> Option<IpAddr> {
        let node = match self {
            ProxyHeaders::None => return None,
            ProxyHeaders::Forwarded => forwarded_param(last_element(headers, "forwarded")?, "for")?,
            ProxyHeaders::XForwarded => last_element(headers, "x-forwarded-for")?,
        };
        parse_node(node.trim().trim_matches('"'))
    }

    /// The scheme and host the client called, as the proxy recorded them.
    pub(crate) fn scheme_and_host(self, headers: &HeaderMap) -> (Option<&str>, Option<&str>) {
        fn nonempty(value: Option<&str>) -> Option<&str> {
            value.map(str::trim).filter(|v| !v.is_empty())
        }
        match self {
            ProxyHeaders::None => (None, None),
            ProxyHeaders::Forwarded => match last_element(headers, "forwarded") {
                Some(element) => (
                    nonempty(forwarded_param(element, "proto")),
                    nonempty(forwarded_param(element, "host")),
                ),
                None => (None, None),
            },
            ProxyHeaders::XForwarded => (
                nonempty(last_element(headers, "x-forwarded-proto")),
                nonempty(last_element(headers, "x-forwarded-host")),
            ),
        }
    }
}

/// The last comma-separated element of the last `name` header: the one the nearest proxy added.
fn last_element<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(name)
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(str::trim)
}

/// The value of the parameter `name` (case-insensitive, RFC 7239 §4) in one element of a
/// `Forwarded` header, unquoted.
fn forwarded_param<'a>(element: &'a str, name: &str) -> Option<&'a str> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().trim_matches('"'))
    })
}

/// `203.0.113.7`, `203.0.113.7:4711`, `[2001:db8::1]` or `[2001:db8::1]:4711`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse() {
        return Some(ip);
    }
    if let Ok(addr) = node.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    node.strip_prefix('[')
        .and_then(|rest| rest.split(']').next())
        .and_then(|ip| ip.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            let value = value.parse().expect("value"); // infallible: ASCII literals
            map.append(*name, value);
        }
        map
    }

    #[test]
    fn only_the_named_header_and_only_its_last_element_count() {
        let sent = headers(&[
            ("forwarded", "for=192.0.2.1;host=evil.example;proto=http"),
            (
                "forwarded",
                "for=\"[2001:db8::17]:4711\";host=api.example.com;proto=https",
            ),
            ("x-forwarded-for", "192.0.2.1, 198.51.100.7"),
            ("x-forwarded-host", "evil.example, api.example.com"),
            ("x-forwarded-proto", "https"),
        ]);
        assert_eq!(
            ProxyHeaders::Forwarded.client_ip(&sent),
            "2001:db8::17".parse().ok()
        );
        assert_eq!(
            ProxyHeaders::Forwarded.scheme_and_host(&sent),
            (Some("https"), Some("api.example.com"))
        );
        assert_eq!(
            ProxyHeaders::XForwarded.client_ip(&sent),
            "198.51.100.7".parse().ok()
        );
        assert_eq!(
            ProxyHeaders::XForwarded.scheme_and_host(&sent),
            (Some("https"), Some("api.example.com"))
        );
        assert_eq!(ProxyHeaders::None.client_ip(&sent), None);
        assert_eq!(ProxyHeaders::None.scheme_and_host(&sent), (None, None));
        // A client's header of the other kind is never read.
        let spoofed = headers(&[("forwarded", "for=192.0.2.1;host=evil.example")]);
        assert_eq!(ProxyHeaders::XForwarded.client_ip(&spoofed), None);
        assert_eq!(
            ProxyHeaders::XForwarded.scheme_and_host(&spoofed),
            (None, None)
        );
        // The proxy's element without `for`: no address, not the client's earlier one.
        let partial = headers(&[("forwarded", "for=192.0.2.1, proto=https")]);
        assert_eq!(ProxyHeaders::Forwarded.client_ip(&partial), None);
        assert_eq!(
            ProxyHeaders::Forwarded.client_ip(&headers(&[("forwarded", "for=unknown")])),
            None
        );
    }
}
