//! Certificate-bound tokens (RFC 8705) over a real TLS listener: `examples/mtls_server.rs`
//! (axum on tokio-rustls, asking for client certificates), reached with a client certificate by
//! reqwest (rustls) and by curl (OpenSSL): the bound token with the right certificate is
//! accepted, with another certificate or none refused.

#[allow(dead_code)] // `main` and its helpers are the example's own.
#[path = "../../examples/mtls_server.rs"]
mod example;

use std::process::Command;

use route_guard::testing::{TestCertificate, TestIssuer};
use route_guard::MtlsMode;
use serde_json::Value;

struct Server {
    issuer: TestIssuer,
    server_certificate: TestCertificate,
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start() -> Server {
    let issuer = TestIssuer::start().await.expect("issuer");
    let auth = issuer
        .authenticator_builder()
        .mtls(MtlsMode::Allowed)
        .client_certificate_from_connection()
        .build()
        .expect("authenticator");
    let server_certificate =
        TestCertificate::server(&["localhost", "127.0.0.1"]).expect("server certificate");
    let config = example::tls_config(
        server_certificate.der().to_vec(),
        server_certificate.key_der().to_vec(),
    )
    .expect("TLS configuration");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    let task = tokio::spawn(example::serve(listener, config, example::app(&auth)));
    Server {
        issuer,
        server_certificate,
        url: format!("https://localhost:{port}/private"),
        task,
    }
}

/// A reqwest client (rustls) that trusts the server's certificate and presents `identity`.
fn client(server: &Server, identity: Option<&TestCertificate>) -> reqwest::Client {
    let root = reqwest::Certificate::from_pem(server.server_certificate.cert_pem().as_bytes())
        .expect("server certificate");
    let mut builder = reqwest::Client::builder().tls_certs_only([root]);
    if let Some(certificate) = identity {
        let pem = format!("{}{}", certificate.key_pem(), certificate.cert_pem());
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).expect("identity"));
    }
    builder.build().expect("client")
}

async fn call(client: &reqwest::Client, url: &str, token: &str) -> (u16, String, Value) {
    let response = client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("answered over TLS");
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, challenge, body)
}

#[tokio::test]
async fn reqwest_with_the_bound_certificate_is_accepted_and_any_other_refused() {
    let server = start().await;
    let own = server.issuer.client_certificate();
    let token = server.issuer.token().certificate_bound(own).sign();

    let (status, _, body) = call(&client(&server, Some(own)), &server.url, &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "bound to this client");

    let other = TestCertificate::client("mallory").expect("certificate");
    let (status, challenge, body) = call(&client(&server, Some(&other)), &server.url, &token).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_token");
    assert!(
        challenge.starts_with("Bearer realm=\"api\", error=\"invalid_token\""),
        "{challenge}"
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("another client certificate"),
        "{body}"
    );

    let (status, _, body) = call(&client(&server, None), &server.url, &token).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("no client certificate"),
        "{body}"
    );

    // A plain Bearer token needs no certificate (`allowed`), on the same listener.
    let plain = server.issuer.token().sign();
    let (status, _, body) = call(&client(&server, None), &server.url, &plain).await;
    assert_eq!(status, 200, "{body}");
}

/// curl, or `None` (the test is skipped) when it is not installed outside CI.
fn curl_available() -> bool {
    let found = Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        found || !ci,
        "CI=true but curl was not found: install it (.ci/run does)"
    );
    if !found {
        eprintln!("curl not found: the curl mTLS test is skipped");
    }
    found
}

#[tokio::test]
async fn curl_with_the_bound_certificate_is_accepted_and_any_other_refused() {
    if !curl_available() {
        return;
    }
    let server = start().await;
    let own = server.issuer.client_certificate();
    let other = TestCertificate::client("eve").expect("certificate");
    let token = server.issuer.token().certificate_bound(own).sign();
    let dir = std::env::temp_dir().join(format!("route-guard-mtls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path
    };
    let ca = write("server.pem", server.server_certificate.cert_pem());
    let own_cert = write("own.pem", own.cert_pem());
    let own_key = write("own-key.pem", own.key_pem());
    let other_cert = write("other.pem", other.cert_pem());
    let other_key = write("other-key.pem", other.key_pem());
    let curl = |identity: Option<(&std::path::Path, &std::path::Path)>| {
        let url = server.url.clone();
        let (ca, token) = (ca.clone(), token.clone());
        let identity = identity.map(|(c, k)| (c.to_owned(), k.to_owned()));
        async move {
            tokio::task::spawn_blocking(move || {
                let mut command = Command::new("curl");
                command
                    .args([
                        "-sS",
                        "--max-time",
                        "10",
                        "-o",
                        "-",
                        "-w",
                        "\n%{http_code}",
                        "--cacert",
                    ])
                    .arg(&ca)
                    .args(["-H", &format!("Authorization: Bearer {token}")]);
                if let Some((cert, key)) = identity {
                    command.arg("--cert").arg(cert).arg("--key").arg(key);
                }
                let output = command.arg(&url).output().expect("curl runs");
                let text = String::from_utf8_lossy(&output.stdout).into_owned();
                assert!(
                    output.status.success(),
                    "curl: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
                let (body, status) = text.rsplit_once('\n').expect("status line");
                (status.to_owned(), body.to_owned())
            })
            .await
            .expect("curl task")
        }
    };
    let (status, body) = curl(Some((&own_cert, &own_key))).await;
    assert_eq!(status, "200", "{body}");
    let (status, body) = curl(Some((&other_cert, &other_key))).await;
    assert_eq!(status, "401", "{body}");
    assert!(body.contains("another client certificate"), "{body}");
    let (status, body) = curl(None).await;
    assert_eq!(status, "401", "{body}");
    assert!(body.contains("no client certificate"), "{body}");
    let _ = std::fs::remove_dir_all(&dir);
}
