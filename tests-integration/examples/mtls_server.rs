//! An API served over TLS that asks clients for a certificate, for certificate-bound access
//! tokens (RFC 8705): axum on tokio-rustls and hyper-util, its accept loop inserting each
//! connection's [`ClientCertificate`] into the connection's requests.
//!
//! ```sh
//! cargo run -p route-guard-integration --example mtls_server
//! ```
//!
//! Without `AUTH0_DOMAIN` it runs in development mode: a loopback [`TestIssuer`] mints a token
//! bound to a client certificate it generates, and the program prints the `curl --cert --key`
//! line that calls the API with both. With `AUTH0_DOMAIN` / `AUTH0_AUDIENCE` it protects the
//! route with your tenant; give the server's certificate and key in `TLS_CERT_FILE` and
//! `TLS_KEY_FILE` (PEM).
//!
//! The server does not validate the client's certificate chain (RFC 8705 §6.2: the binding to
//! the token is the check, and Auth0's self-signed client certificates have no chain), but the
//! TLS handshake still proves the client holds the certificate's private key.

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::{Extension, Json, Router};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use route_guard::testing::{TestCertificate, TestIssuer};
use route_guard::{require_auth, Authenticator, ClientCertificate, MtlsMode};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

#[require_auth]
async fn private(claims: route_guard::Claims) -> Json<Value> {
    Json(json!({ "message": "bound to this client", "sub": claims.sub }))
}

/// The routes, protected by `auth` (built with an mTLS mode and the connection source).
pub fn app(auth: &Authenticator) -> Router {
    Router::new()
        .route("/private", get(private))
        .layer(auth.layer())
}

/// A rustls server configuration with `certificate` and `key` (DER) that asks every client for
/// a certificate and accepts connections without one (Bearer clients).
pub fn tls_config(
    certificate: Vec<u8>,
    key: Vec<u8>,
) -> Result<Arc<ServerConfig>, Box<dyn std::error::Error>> {
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let verifier = Arc::new(AnyClientCertificate {
        algorithms: provider.signature_verification_algorithms,
    });
    let key = PrivateKeyDer::try_from(key)?;
    let config = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![CertificateDer::from(certificate)], key)?;
    Ok(Arc::new(config))
}

/// Serves `app` over TLS on `listener`: each handshake in a task of its own (a silent client
/// cannot hold up the others), then the connection's certificate inserted into each of its
/// requests.
pub async fn serve(listener: TcpListener, config: Arc<ServerConfig>, app: Router) {
    let acceptor = TlsAcceptor::from(config);
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp));
            let Ok(Ok(tls)) = handshake.await else {
                return;
            };
            // The leaf of the chain the client presented, or none.
            let certificate = ClientCertificate::from_chain(tls.get_ref().1.peer_certificates());
            let service = TowerToHyperService::new(app.layer(Extension(certificate)));
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

/// Requests a client certificate and accepts any well-formed one, self-signed included: the
/// token's `cnf.x5t#S256` decides (RFC 8705 §6.2). The handshake signature is still verified,
/// so the client proves it holds the private key.
#[derive(Debug)]
struct AnyClientCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, certificate, signature, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, certificate, signature, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("127.0.0.1:8443").await?;
    if std::env::var_os("AUTH0_DOMAIN").is_some() {
        let auth = route_guard::AuthenticatorBuilder::from_env()?
            .mtls(MtlsMode::Allowed)
            .client_certificate_from_connection()
            .build()?;
        let read = |name: &str| -> Result<Vec<u8>, Box<dyn std::error::Error>> {
            let path = std::env::var(name).map_err(|_| format!("set {name}"))?;
            Ok(std::fs::read(path)?)
        };
        let certificate = ClientCertificate::from_pem(&String::from_utf8(read("TLS_CERT_FILE")?)?)
            .and_then(|c| c.der().map(<[u8]>::to_vec))
            .ok_or("TLS_CERT_FILE holds no PEM certificate")?;
        let key = pem_key(&String::from_utf8(read("TLS_KEY_FILE")?)?)
            .ok_or("TLS_KEY_FILE holds no PEM private key")?;
        println!("serving https://127.0.0.1:8443/private");
        serve(listener, tls_config(certificate, key)?, app(&auth)).await;
        return Ok(());
    }
    // Development mode: a loopback issuer, a server certificate, a client certificate.
    let issuer = TestIssuer::start().await?;
    let auth = issuer
        .authenticator_builder()
        .mtls(MtlsMode::Allowed)
        .client_certificate_from_connection()
        .build()?;
    let server = TestCertificate::server(&["localhost", "127.0.0.1"])?;
    let client = issuer.client_certificate();
    let dir = std::env::temp_dir().join("route-guard-mtls");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("server.pem"), server.cert_pem())?;
    std::fs::write(dir.join("client.pem"), client.cert_pem())?;
    std::fs::write(dir.join("client-key.pem"), client.key_pem())?;
    let token = issuer.token().certificate_bound(client).sign();
    let d = dir.display();
    println!("serving https://localhost:8443/private over TLS, asking for client certificates");
    println!(
        "a token bound to {d}/client.pem (cnf.x5t#S256 {}):\n",
        client.thumbprint()
    );
    println!("curl --cacert {d}/server.pem --cert {d}/client.pem --key {d}/client-key.pem \\\n  -H 'Authorization: Bearer {token}' https://localhost:8443/private\n");
    println!("without --cert/--key, or with another certificate, the same token is refused (401).");
    serve(
        listener,
        tls_config(server.der().to_vec(), server.key_der().to_vec())?,
        app(&auth),
    )
    .await;
    Ok(())
}

/// The DER of the first `PRIVATE KEY` (PKCS#8) block of a PEM text.
fn pem_key(pem: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let start = pem.find("-----BEGIN PRIVATE KEY-----")? + "-----BEGIN PRIVATE KEY-----".len();
    let end = start + pem[start..].find("-----END PRIVATE KEY-----")?;
    let body: String = pem[start..end].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}
