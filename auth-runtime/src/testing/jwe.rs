//! An API's encryption key for tests: encrypts tokens as Auth0 does with JSON Web Encryption
//! (RSA-OAEP-256 and A256GCM around the signed token), and builds the malformed ones an
//! attacker would try.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeySize, OaepPublicEncryptingKey, PrivateDecryptingKey};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};

use super::{b64, TestIssuerError};
use crate::config::{pem, Algorithm, JweAlgorithm};

/// An RSA-2048 key pair an API decrypts tokens with, made for one test run: its private key as
/// PKCS#8 PEM (for [`jwe_key`](crate::AuthenticatorBuilder::jwe_key) or a file named by
/// `AUTH0_JWE_KEY_FILE`), and the encryption Auth0 does with its public key.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::testing::{TestEncryptionKey, TestIssuer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let issuer = TestIssuer::start().await?;
/// let key = TestEncryptionKey::generate("api-key-1")?;
/// let auth = issuer
///     .authenticator_builder()
///     .jwe_key_with_kid(key.kid(), key.private_key_pem())
///     .build()?;
/// let jwe = key.encrypt(&issuer.token().scopes("read:messages").sign());
/// assert_eq!(jwe.split('.').count(), 5);
/// let verified = auth.verify(&jwe).await?;
/// assert_eq!(verified.standard_claims()?.scope.as_deref(), Some("read:messages"));
/// # Ok(())
/// # }
/// ```
pub struct TestEncryptionKey {
    kid: String,
    private_pkcs8: Vec<u8>,
    public_der: Vec<u8>,
    public: OaepPublicEncryptingKey,
}

impl std::fmt::Debug for TestEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestEncryptionKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl TestEncryptionKey {
    /// A new RSA-2048 key whose JWE header names it `kid`.
    pub fn generate(kid: &str) -> Result<TestEncryptionKey, TestIssuerError> {
        let failed = || TestIssuerError::KeyGeneration(Algorithm::RS256);
        let private = PrivateDecryptingKey::generate(KeySize::Rsa2048).map_err(|_| failed())?;
        let pkcs8 = private.as_der().map_err(|_| failed())?.as_ref().to_vec();
        Self::from_pkcs8(kid, pkcs8).ok_or_else(failed)
    }

    /// The key of an existing PKCS#8 PEM private key (the one an API is configured with, as the
    /// quickstart's development mode reads it from `AUTH0_JWE_KEY_FILE`); `None` when the text
    /// holds no RSA private key in PKCS#8.
    pub fn from_private_key_pem(kid: &str, pem: &str) -> Option<TestEncryptionKey> {
        let body = pem::body(pem, "PRIVATE KEY").ok()?;
        Self::from_pkcs8(kid, STANDARD.decode(body).ok()?)
    }

    /// The key of a PKCS#8 DER RSA private key.
    fn from_pkcs8(kid: &str, pkcs8: Vec<u8>) -> Option<TestEncryptionKey> {
        let private = PrivateDecryptingKey::from_pkcs8(&pkcs8).ok()?;
        let public_der = private.public_key().as_der().ok()?.as_ref().to_vec();
        let public = OaepPublicEncryptingKey::new(private.public_key()).ok()?;
        Some(TestEncryptionKey {
            kid: kid.to_owned(),
            private_pkcs8: pkcs8,
            public_der,
            public,
        })
    }

    /// The `kid` its JWE headers carry.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The private key, PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn private_key_pem(&self) -> String {
        pem::encode("PRIVATE KEY", &self.private_pkcs8)
    }

    /// The public key, SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`): what an API
    /// uploads to Auth0, and what any other JWE library encrypts to.
    pub fn public_key_pem(&self) -> String {
        pem::encode("PUBLIC KEY", &self.public_der)
    }

    /// `token` (a signed JWT) encrypted as Auth0 does: `{"alg":"RSA-OAEP-256","enc":"A256GCM",
    /// "kid":..,"cty":"JWT"}`.
    pub fn encrypt(&self, token: &str) -> String {
        self.jwe(token).build()
    }

    /// A JWE of `plaintext` to change before [`build`](JweBuilder::build): its header members,
    /// the RSA-OAEP hash actually used, the lengths of its parts.
    pub fn jwe(&self, plaintext: &str) -> JweBuilder<'_> {
        let mut header = Map::new();
        header.insert("alg".into(), json!("RSA-OAEP-256"));
        header.insert("enc".into(), json!("A256GCM"));
        header.insert("kid".into(), json!(self.kid));
        header.insert("cty".into(), json!("JWT"));
        JweBuilder {
            key: self,
            header,
            raw_header: None,
            oaep: JweAlgorithm::RsaOaep256,
            plaintext: plaintext.as_bytes().to_vec(),
            iv_len: 12,
            tag_len: 16,
            wrapped_key_len: 32,
        }
    }
}

/// A JWE being put together; see [`TestEncryptionKey::jwe`].
#[derive(Debug)]
#[must_use]
pub struct JweBuilder<'a> {
    key: &'a TestEncryptionKey,
    header: Map<String, Value>,
    raw_header: Option<String>,
    oaep: JweAlgorithm,
    plaintext: Vec<u8>,
    iv_len: usize,
    tag_len: usize,
    wrapped_key_len: usize,
}

impl JweBuilder<'_> {
    /// Sets a header member (`Value::Null` removes it).
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        match value.into() {
            Value::Null => {
                self.header.remove(name);
            }
            value => {
                self.header.insert(name.to_owned(), value);
            }
        }
        self
    }

    /// The protected header exactly as this text (JSON or not), instead of the members.
    pub fn raw_header(mut self, text: &str) -> Self {
        self.raw_header = Some(text.to_owned());
        self
    }

    /// The OAEP hash the content key is wrapped with, and the `alg` the header names.
    pub fn algorithm(mut self, algorithm: JweAlgorithm) -> Self {
        self.oaep = algorithm;
        self.header("alg", algorithm.as_str())
    }

    /// The length of the initialization vector (12 for A256GCM).
    pub fn iv_len(mut self, len: usize) -> Self {
        self.iv_len = len;
        self
    }

    /// The authentication tag cut to `len` bytes (16 for A256GCM).
    pub fn tag_len(mut self, len: usize) -> Self {
        self.tag_len = len;
        self
    }

    /// The length of the content key that is wrapped (32 for A256GCM).
    pub fn content_key_len(mut self, len: usize) -> Self {
        self.wrapped_key_len = len;
        self
    }

    /// The compact serialization. With a nonstandard IV length, content key length or tag
    /// length, the parts are made as given (the token is then refused by any honest recipient).
    pub fn build(self) -> String {
        let header = match &self.raw_header {
            Some(text) => text.clone(),
            None => Value::Object(self.header.clone()).to_string(),
        };
        let header_b64 = b64(header.as_bytes());
        let mut cek = vec![0u8; self.wrapped_key_len.max(32)];
        let _ = aws_lc_rs::rand::fill(&mut cek);
        let mut wrapped = vec![0u8; self.key.public.ciphertext_size()];
        let wrapped = self
            .key
            .public
            .encrypt(
                self.oaep.oaep(),
                &cek[..self.wrapped_key_len],
                &mut wrapped,
                None,
            )
            .map(|w| w.to_vec())
            .unwrap_or_default();
        let mut iv = vec![0u8; self.iv_len];
        let _ = aws_lc_rs::rand::fill(&mut iv);
        let mut sealed = self.plaintext.clone();
        let mut nonce = [0u8; 12];
        for (n, i) in nonce.iter_mut().zip(&iv) {
            *n = *i;
        }
        let mut content_key = [0u8; 32];
        content_key.copy_from_slice(&cek[..32]);
        let tag = UnboundKey::new(&AES_256_GCM, &content_key)
            .map(LessSafeKey::new)
            .ok()
            .and_then(|key| {
                key.seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(header_b64.as_bytes()),
                    &mut sealed,
                )
                .ok()
            })
            .map(|tag| tag.as_ref().to_vec())
            .unwrap_or_default();
        let tag: Vec<u8> = tag.into_iter().take(self.tag_len).collect();
        format!(
            "{header_b64}.{}.{}.{}.{}",
            b64(&wrapped),
            b64(&iv),
            b64(&sealed),
            b64(&tag)
        )
    }
}
