//! Certificate-bound tokens (RFC 8705) over real HTTP, with the certificate forwarded by a
//! TLS-terminating proxy in each named header format: the binding, the modes, the refusals,
//! DPoP and mTLS never both, the verified-token cache, the metadata and the doctor. The TLS
//! listener itself (rustls, reqwest and curl with client certificates) is tested in
//! tests-integration/tests/mtls_tls.rs.

use crate::common;

use common::{send, App, Reply};
use route_guard::testing::{DpopKey, TestCertificate};
use route_guard::{
    certificate_thumbprint, AuthenticatorBuilder, CertificateHeaderFormat, ClientCertificate,
    ConfigError, DpopMode, MtlsMode, RejectionReason,
};
use serde_json::json;

/// The leaf certificate of RFC 9440 Appendix A, and its RFC 8705 thumbprint.
const RFC9440_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBqDCCAU6gAwIBAgIBBzAKBggqhkjOPQQDAjA6MRswGQYDVQQKDBJMZXQncyBB
dXRoZW50aWNhdGUxGzAZBgNVBAMMEkxBIEludGVybWVkaWF0ZSBDQTAeFw0yMDAx
MTQyMjU1MzNaFw0yMTAxMjMyMjU1MzNaMA0xCzAJBgNVBAMMAkJDMFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAE8YnXXfaUgmnMtOXU/IncWalRhebrXmckC8vdgJ1p
5Be5F/3YC8OthxM4+k1M6aEAEFcGzkJiNy6J84y7uzo9M6NyMHAwCQYDVR0TBAIw
ADAfBgNVHSMEGDAWgBRm3WjLa38lbEYCuiCPct0ZaSED2DAOBgNVHQ8BAf8EBAMC
BsAwEwYDVR0lBAwwCgYIKwYBBQUHAwIwHQYDVR0RAQH/BBMwEYEPYmRjQGV4YW1w
bGUuY29tMAoGCCqGSM49BAMCA0gAMEUCIBHda/r1vaL6G3VliL4/Di6YK0Q6bMje
SkC3dFCOOB8TAiEAx/kHSB4urmiZ0NX5r5XarmPk0wmuydBVoU4hBVZ1yhk=
-----END CERTIFICATE-----
";
const RFC9440_THUMBPRINT: &str = "v68ffgcPn6jdYpBfFY2nP4ShE2Yk-6_Mk5PI9yh6aes";
const RFC9440_SHA256_HEX: &str = "bfaf1f7e070f9fa8dd62905f158da73f84a1136624fbafcc9393c8f7287a69eb";

/// The RFC 9440 leaf's base64 body, on one line.
fn rfc9440_base64() -> String {
    RFC9440_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect()
}

/// An app that reads the certificate from `header` in `format`.
async fn behind_proxy(header: &str, format: CertificateHeaderFormat) -> App {
    let header = header.to_owned();
    common::start_with(move |b| {
        b.mtls(MtlsMode::Allowed)
            .client_certificate_header(header, format)
    })
    .await
}

/// `GET /private` with the Bearer `token` and the headers `extra`.
async fn get(app: &App, token: &str, extra: &[(&str, &str)]) -> Reply {
    let mut request = app
        .client
        .get(format!("{}/private", app.base))
        .header("authorization", format!("Bearer {token}"));
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    send(request).await
}

fn bound_to(app: &App, thumbprint: &str) -> String {
    app.issuer
        .token()
        .claim("cnf", json!({ "x5t#S256": thumbprint }))
        .sign()
}

#[tokio::test]
async fn the_rfc9440_vector_is_read_in_every_header_format() {
    let b64 = rfc9440_base64();
    // nginx `$ssl_client_escaped_cert`: everything escaped.
    let nginx: String = RFC9440_PEM
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    // AWS ALB: `+`, `=` and `/` left as they are; a form decoder would turn `+` into a space.
    let alb = RFC9440_PEM.replace(' ', "%20").replace('\n', "%0A");
    assert!(alb.contains('+'), "the vector exercises `+`");
    let cases = [
        (
            "client-cert",
            CertificateHeaderFormat::Rfc9440,
            format!(":{b64}:"),
        ),
        (
            "x-forwarded-client-cert",
            CertificateHeaderFormat::Xfcc,
            format!("By=spiffe://api.internal;Hash={RFC9440_SHA256_HEX};Subject=\"/CN=BC\";URI="),
        ),
        (
            "x-forwarded-client-cert",
            CertificateHeaderFormat::Xfcc,
            format!("By=spiffe://api.internal;Cert=\"{nginx}\";Subject=\"/CN=BC\""),
        ),
        (
            "ssl-client-cert",
            CertificateHeaderFormat::PemUrlEncoded,
            nginx.clone(),
        ),
        (
            "x-amzn-mtls-clientcert-leaf",
            CertificateHeaderFormat::PemUrlEncoded,
            alb,
        ),
        (
            "x-forwarded-tls-client-cert",
            CertificateHeaderFormat::Base64Der,
            format!("{b64},MIIBAAAA"),
        ),
    ];
    for (header, format, value) in cases {
        let app = behind_proxy(header, format).await;
        let token = bound_to(&app, RFC9440_THUMBPRINT);
        let reply = get(&app, &token, &[(header, &value)]).await;
        assert_eq!(reply.status, 200, "{format} in {header}: {}", reply.body);
        // The same header from another client's certificate is refused.
        let other = TestCertificate::client("other").expect("certificate");
        let reply = get(&app, &token, &[(header, &other.header_value(format))]).await;
        reply.assert_invalid_token("another client certificate");
    }
    let der = ClientCertificate::from_pem(RFC9440_PEM).expect("PEM");
    assert_eq!(
        certificate_thumbprint(der.der().expect("DER")),
        RFC9440_THUMBPRINT
    );
}

#[tokio::test]
async fn a_bound_token_needs_its_own_certificate() {
    let app = behind_proxy("client-cert", CertificateHeaderFormat::Rfc9440).await;
    let client = app.issuer.client_certificate();
    let token = app.issuer.token().certificate_bound(client).sign();
    let right = client.header_value(CertificateHeaderFormat::Rfc9440);
    assert_eq!(
        get(&app, &token, &[("client-cert", &right)]).await.status,
        200
    );

    let none = get(&app, &token, &[]).await;
    none.assert_invalid_token("the request has no client certificate");

    let other = TestCertificate::client("mallory").expect("certificate");
    let wrong = other.header_value(CertificateHeaderFormat::Rfc9440);
    (get(&app, &token, &[("client-cert", &wrong)]).await)
        .assert_invalid_token("bound to another client certificate");
    // Not a byte sequence, not base64, not a certificate: unreadable is no certificate.
    for junk in [right.trim_matches(':'), ":%%%:", ":AAECAw==:"] {
        let reply = get(&app, &token, &[("client-cert", junk)]).await;
        reply.assert_invalid_token("could not be read");
    }
    // Two copies (a client's and the proxy's): refused, never the first one read.
    let reply = send(
        app.client
            .get(format!("{}/private", app.base))
            .header("authorization", format!("Bearer {token}"))
            .header("client-cert", &right)
            .header("client-cert", &right),
    )
    .await;
    reply.assert_invalid_token("repeated");
    // A token that is not bound is still accepted in `allowed`, with or without a certificate.
    let plain = app.issuer.token().sign();
    assert_eq!(get(&app, &plain, &[]).await.status, 200);
    assert_eq!(
        get(&app, &plain, &[("client-cert", &wrong)]).await.status,
        200
    );
    let stats = app.auth.stats();
    assert_eq!(stats.rejected(RejectionReason::CertificateBinding), 6);
}

#[tokio::test]
async fn the_binding_is_checked_on_every_request_of_a_cached_token() {
    let app = behind_proxy("client-cert", CertificateHeaderFormat::Rfc9440).await;
    let client = app.issuer.client_certificate();
    let token = app.issuer.token().certificate_bound(client).sign();
    let right = client.header_value(CertificateHeaderFormat::Rfc9440);
    for _ in 0..3 {
        assert_eq!(
            get(&app, &token, &[("client-cert", &right)]).await.status,
            200
        );
    }
    assert_eq!(app.auth.stats().verified_from_cache(), 2);
    // Cached, and still refused with another certificate or none.
    let other = TestCertificate::client("thief").expect("certificate");
    let wrong = other.header_value(CertificateHeaderFormat::Rfc9440);
    (get(&app, &token, &[("client-cert", &wrong)]).await)
        .assert_invalid_token("another client certificate");
    get(&app, &token, &[])
        .await
        .assert_invalid_token("no client certificate");
    assert_eq!(app.auth.stats().verified_from_cache(), 4);
}

#[tokio::test]
async fn a_bound_token_is_refused_when_mtls_is_off_unless_unchecked() {
    let app = common::start().await;
    let client = app.issuer.client_certificate();
    let token = app.issuer.token().certificate_bound(client).sign();
    let reply = get(&app, &token, &[]).await;
    reply.assert_invalid_token("does not accept certificate-bound tokens");
    assert_eq!(
        app.auth.verify(&token).await.err().map(|e| e.reason()),
        Some(RejectionReason::CertificateBinding)
    );

    let unchecked = common::start_with(|b| b.mtls(MtlsMode::Unchecked)).await;
    let token = unchecked.issuer.token().certificate_bound(client).sign();
    assert_eq!(get(&unchecked, &token, &[]).await.status, 200);
}

#[tokio::test]
async fn required_refuses_every_token_that_is_not_certificate_bound() {
    let app = common::start_with(|b| {
        b.mtls(MtlsMode::Required)
            .client_certificate_header("client-cert", CertificateHeaderFormat::Rfc9440)
    })
    .await;
    let plain = app.issuer.token().sign();
    get(&app, &plain, &[])
        .await
        .assert_invalid_token("not certificate-bound");

    // A DPoP-bound token with a valid proof is not certificate-bound either.
    let key = DpopKey::generate().expect("key");
    let token = app.issuer.token().dpop_bound(&key).sign();
    let url = format!("{}/private", app.base);
    let proof = key.proof("GET", &url, &token);
    let reply = send(
        app.client
            .get(&url)
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof),
    )
    .await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert!(
        reply.description().contains("not certificate-bound"),
        "{}",
        reply.body
    );

    let client = app.issuer.client_certificate();
    let bound = app.issuer.token().certificate_bound(client).sign();
    let header = client.header_value(CertificateHeaderFormat::Rfc9440);
    assert_eq!(
        get(&app, &bound, &[("client-cert", &header)]).await.status,
        200
    );
}

#[tokio::test]
async fn dpop_and_mtls_are_never_both_accepted_for_one_token() {
    let app = behind_proxy("client-cert", CertificateHeaderFormat::Rfc9440).await;
    let key = DpopKey::generate().expect("key");
    let client = app.issuer.client_certificate();
    let header = client.header_value(CertificateHeaderFormat::Rfc9440);
    let url = format!("{}/private", app.base);
    // Bound both ways: refused as Bearer with the certificate, and as DPoP with a valid proof.
    let both = app
        .issuer
        .token()
        .claim(
            "cnf",
            json!({ "jkt": key.thumbprint(), "x5t#S256": client.thumbprint() }),
        )
        .sign();
    get(&app, &both, &[("client-cert", &header)])
        .await
        .assert_invalid_token("bound both");
    let proof = key.proof("GET", &url, &both);
    let reply = send(
        app.client
            .get(&url)
            .header("authorization", format!("DPoP {both}"))
            .header("dpop", proof)
            .header("client-cert", &header),
    )
    .await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert!(reply.description().contains("bound both"), "{}", reply.body);

    // Certificate-bound, sent as DPoP with a proof: the DPoP path wants `cnf.jkt`.
    let bound = app.issuer.token().certificate_bound(client).sign();
    let proof = key.proof("GET", &url, &bound);
    let reply = send(
        app.client
            .get(&url)
            .header("authorization", format!("DPoP {bound}"))
            .header("dpop", proof)
            .header("client-cert", &header),
    )
    .await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert!(
        reply.description().contains("not DPoP-bound"),
        "{}",
        reply.body
    );

    // Auth0's documented `Authorization: DPoP <certificate-bound token>` without a proof:
    // refused (RFC 9449 §7 wants a proof with the DPoP scheme); send it as Bearer.
    let reply = send(
        app.client
            .get(&url)
            .header("authorization", format!("DPoP {bound}"))
            .header("client-cert", &header),
    )
    .await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert_eq!(
        get(&app, &bound, &[("client-cert", &header)]).await.status,
        200
    );
}

#[tokio::test]
async fn a_thumbprint_that_is_not_a_sha256_is_a_malformed_claim() {
    let app = behind_proxy("client-cert", CertificateHeaderFormat::Rfc9440).await;
    let header = app
        .issuer
        .client_certificate()
        .header_value(CertificateHeaderFormat::Rfc9440);
    for bad in [
        json!("short"),
        json!(42),
        json!(format!("{RFC9440_THUMBPRINT}A")),
        json!("v68ffgcPn6jdYpBfFY2nP4ShE2Yk+6/Mk5PI9yh6aes"),
    ] {
        let token = app
            .issuer
            .token()
            .claim("cnf", json!({ "x5t#S256": bad }))
            .sign();
        let reply = get(&app, &token, &[("client-cert", &header)]).await;
        reply.assert_rejected(401, "invalid_token");
    }
}

#[tokio::test]
async fn the_metadata_says_certificate_bound_tokens_are_supported() {
    let app = common::start_with(|b| {
        b.protected_resource("https://api.example.com")
            .mtls(MtlsMode::Allowed)
            .client_certificate_from_connection()
    })
    .await;
    let document = app.auth.protected_resource_metadata().expect("metadata");
    assert_eq!(document["tls_client_certificate_bound_access_tokens"], true);
    let off = common::start_with(|b| b.protected_resource("https://api.example.com")).await;
    let document = off.auth.protected_resource_metadata().expect("metadata");
    assert!(document
        .get("tls_client_certificate_bound_access_tokens")
        .is_none());
}

#[tokio::test]
async fn the_connection_source_reads_the_extension_and_nothing_else() {
    let app = common::start_with(|b| {
        b.mtls(MtlsMode::Allowed)
            .client_certificate_from_connection()
    })
    .await;
    let client = app.issuer.client_certificate();
    let token = app.issuer.token().certificate_bound(client).sign();
    // Over plain HTTP no accept loop inserts a certificate, and no header stands in for one.
    let header = client.header_value(CertificateHeaderFormat::Rfc9440);
    let reply = get(&app, &token, &[("client-cert", &header)]).await;
    reply.assert_invalid_token("no client certificate");
    // Outside axum, the certificate is given.
    let verified = app
        .auth
        .verify_with_certificate(&token, Some(client.der()))
        .await
        .expect("bound to this certificate");
    assert_eq!(
        verified.certificate_thumbprint(),
        Some(client.thumbprint().as_str())
    );
    assert_eq!(
        app.auth.verify_with_certificate(&token, None).await.err().map(|e| e.to_string()),
        Some("the token is certificate-bound (cnf.x5t#S256) but the request has no client certificate: connect with the certificate the token was issued to".to_owned())
    );
}

fn env_error(vars: &[(&str, &str)]) -> ConfigError {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    AuthenticatorBuilder::from_vars(|name| {
        vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    })
    .build()
    .expect_err("refused")
}

#[test]
fn misconfiguration_is_a_typed_error_naming_the_variable() {
    let base = [
        ("AUTH0_DOMAIN", "tenant.us.auth0.com"),
        ("AUTH0_AUDIENCE", "https://api"),
    ];
    let with = |more: &[(&'static str, &'static str)]| {
        let mut all = base.to_vec();
        all.extend_from_slice(more);
        env_error(&all)
    };
    let named = |e: ConfigError, variable: &str| {
        assert!(
            matches!(&e, ConfigError::InvalidSetting { setting, .. } if *setting == variable),
            "{e:?}"
        );
        assert!(e.to_string().contains(variable), "{e}");
    };
    named(with(&[("AUTH0_MTLS", "sometimes")]), "AUTH0_MTLS");
    named(
        with(&[
            ("AUTH0_MTLS", "allowed"),
            ("AUTH0_MTLS_CERT_HEADER", "client-cert"),
        ]),
        "AUTH0_MTLS_CERT_FORMAT",
    );
    named(
        with(&[
            ("AUTH0_MTLS", "allowed"),
            ("AUTH0_MTLS_CERT_HEADER", "client-cert"),
            ("AUTH0_MTLS_CERT_FORMAT", "der"),
        ]),
        "AUTH0_MTLS_CERT_FORMAT",
    );
    named(
        with(&[
            ("AUTH0_MTLS", "allowed"),
            ("AUTH0_MTLS_CERT_FORMAT", "rfc9440"),
        ]),
        "AUTH0_MTLS_CERT_HEADER",
    );
    named(
        with(&[
            ("AUTH0_MTLS", "allowed"),
            ("AUTH0_MTLS_CERT_HEADER", "bad header"),
            ("AUTH0_MTLS_CERT_FORMAT", "rfc9440"),
        ]),
        "AUTH0_MTLS_CERT_HEADER",
    );
    named(
        with(&[
            ("AUTH0_MTLS", "allowed"),
            ("AUTH0_MTLS_CERT_HEADER", "Authorization"),
            ("AUTH0_MTLS_CERT_FORMAT", "rfc9440"),
        ]),
        "AUTH0_MTLS_CERT_HEADER",
    );
    named(
        with(&[
            ("AUTH0_MTLS_CERT_HEADER", "client-cert"),
            ("AUTH0_MTLS_CERT_FORMAT", "rfc9440"),
        ]),
        "AUTH0_MTLS",
    );
    named(
        with(&[("AUTH0_MTLS", "required"), ("AUTH0_DPOP", "required")]),
        "AUTH0_MTLS",
    );
    let builder = || {
        AuthenticatorBuilder::default()
            .domain("tenant.us.auth0.com")
            .audience("https://api")
    };
    named(
        builder()
            .mtls(MtlsMode::Allowed)
            .build()
            .expect_err("no source"),
        "AUTH0_MTLS",
    );
    assert!(builder()
        .mtls(MtlsMode::Required)
        .dpop(DpopMode::Disabled)
        .client_certificate_from_connection()
        .build()
        .is_ok());
    // From the environment, a mode without a header reads the TLS connection.
    let auth = AuthenticatorBuilder::from_vars(|name| match name {
        "AUTH0_DOMAIN" => Some("tenant.us.auth0.com".into()),
        "AUTH0_AUDIENCE" => Some("https://api".into()),
        "AUTH0_MTLS" => Some("Allowed".into()),
        _ => None,
    })
    .build();
    assert!(auth.is_ok(), "{auth:?}");
}

#[tokio::test]
async fn the_doctor_names_the_certificate_cause_and_agrees_with_the_server() {
    let app = behind_proxy("x-forwarded-client-cert", CertificateHeaderFormat::Xfcc).await;
    let client = app.issuer.client_certificate();
    let token = app.issuer.token().certificate_bound(client).sign();
    let require = route_guard::layer::Require::new();
    let other = TestCertificate::client("eve").expect("certificate");
    let cases: [(Option<&TestCertificate>, Option<&str>); 3] = [
        (Some(client), None),
        (Some(&other), Some("certificate_mismatch")),
        (None, Some("certificate_missing")),
    ];
    for (certificate, cause) in cases {
        let der = certificate.map(TestCertificate::der);
        let diagnosis = app
            .auth
            .diagnose_with_certificate(&token, &require, der)
            .await;
        let mut headers: Vec<(&str, String)> = Vec::new();
        if let Some(c) = certificate {
            headers.push((
                "x-forwarded-client-cert",
                c.header_value(CertificateHeaderFormat::Xfcc),
            ));
        }
        let extra: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let reply = get(&app, &token, &extra).await;
        assert_eq!(
            diagnosis.verdict.status,
            reply.status.as_u16(),
            "{diagnosis:#?}"
        );
        assert_eq!(diagnosis.verdict.www_authenticate, reply.www_authenticate);
        let binding = diagnosis
            .checks
            .iter()
            .find(|f| f.check == "binding")
            .expect("a binding check");
        assert!(
            binding
                .expected
                .as_deref()
                .unwrap_or_default()
                .contains(&client.thumbprint()),
            "{binding:?}"
        );
        assert!(
            binding
                .expected
                .as_deref()
                .unwrap_or_default()
                .contains("x-forwarded-client-cert"),
            "{binding:?}"
        );
        match cause {
            None => assert!(diagnosis.accepted(), "{diagnosis:#?}"),
            Some(id) => {
                assert!(!diagnosis.accepted());
                assert!(
                    diagnosis.causes.iter().any(|c| c.id == id),
                    "{diagnosis:#?}"
                );
            }
        }
        if let Some(c) = certificate {
            let actual = binding.actual.as_deref().unwrap_or_default();
            assert!(actual.contains(&c.thumbprint()), "{actual}");
        }
    }
    // mTLS off: the doctor says how to turn it on.
    let off = common::start().await;
    let token = off.issuer.token().certificate_bound(client).sign();
    let diagnosis = off.auth.diagnose(&token).await;
    assert!(
        diagnosis
            .causes
            .iter()
            .any(|c| c.id == "certificate_bound_not_accepted"
                && c.fix.contains("AUTH0_MTLS=allowed")),
        "{diagnosis:#?}"
    );
}
