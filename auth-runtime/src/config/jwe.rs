//! Encrypted access tokens (JWE, RFC 7516): the decryption keys, the accepted key management
//! algorithms, `require_encryption`, and their validation. Keys are read and parsed once, at
//! start-up; `verify` decrypts.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use aws_lc_rs::rsa::{OaepAlgorithm, OaepPrivateDecryptingKey, PrivateDecryptingKey};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;

use super::error::ConfigError;
use super::AuthenticatorBuilder;

/// The key management algorithms of encrypted tokens route-guard decrypts: RSA-OAEP with
/// SHA-256 (Auth0's default), SHA-384 or SHA-512. The content is always encrypted with A256GCM.
/// RSA1_5, `dir`, AES key wrap, ECDH-ES and PBES2 are never accepted.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::JweAlgorithm;
/// assert_eq!("RSA-OAEP-512".parse::<JweAlgorithm>(), Ok(JweAlgorithm::RsaOaep512));
/// assert!("RSA1_5".parse::<JweAlgorithm>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JweAlgorithm {
    /// `RSA-OAEP-256`: OAEP with SHA-256 and MGF1 with SHA-256 (RFC 7518 §4.3).
    RsaOaep256,
    /// `RSA-OAEP-384`: OAEP with SHA-384.
    RsaOaep384,
    /// `RSA-OAEP-512`: OAEP with SHA-512.
    RsaOaep512,
}

impl JweAlgorithm {
    /// Every algorithm.
    pub const ALL: [JweAlgorithm; 3] = [
        JweAlgorithm::RsaOaep256,
        JweAlgorithm::RsaOaep384,
        JweAlgorithm::RsaOaep512,
    ];

    /// The JOSE name: `RSA-OAEP-256`, `RSA-OAEP-384` or `RSA-OAEP-512`.
    pub fn as_str(self) -> &'static str {
        match self {
            JweAlgorithm::RsaOaep256 => "RSA-OAEP-256",
            JweAlgorithm::RsaOaep384 => "RSA-OAEP-384",
            JweAlgorithm::RsaOaep512 => "RSA-OAEP-512",
        }
    }

    /// The aws-lc-rs OAEP parameters of this algorithm (the label is empty, RFC 7518 §4.3).
    pub(crate) fn oaep(self) -> &'static OaepAlgorithm {
        match self {
            JweAlgorithm::RsaOaep256 => &aws_lc_rs::rsa::OAEP_SHA256_MGF1SHA256,
            JweAlgorithm::RsaOaep384 => &aws_lc_rs::rsa::OAEP_SHA384_MGF1SHA384,
            JweAlgorithm::RsaOaep512 => &aws_lc_rs::rsa::OAEP_SHA512_MGF1SHA512,
        }
    }
}

impl fmt::Display for JweAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JweAlgorithm {
    type Err = ConfigError;

    /// The JOSE names, case-sensitive as in a JWE header.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JweAlgorithm::ALL
            .into_iter()
            .find(|a| a.as_str() == s.trim())
            .ok_or_else(|| ConfigError::InvalidSetting {
                setting: "AUTH0_JWE_ALGORITHMS",
                reason: format!(
                    "`{}` is not an accepted JWE key management algorithm: use RSA-OAEP-256, RSA-OAEP-384 or RSA-OAEP-512",
                    s.escape_default()
                ),
            })
    }
}

/// One private key tokens are encrypted to, with its `kid`.
#[derive(Clone)]
pub(crate) struct DecryptionKey {
    pub(crate) kid: Arc<str>,
    pub(crate) key: Arc<OaepPrivateDecryptingKey>,
    /// The modulus length: the exact length of an encrypted key for this key.
    pub(crate) size: usize,
}

/// The validated JWE settings.
#[derive(Clone, Default)]
pub(crate) struct JweSettings {
    pub(crate) keys: Vec<DecryptionKey>,
    pub(crate) algorithms: Vec<JweAlgorithm>,
    /// RFC 9068 §4: plain (signed only) tokens are refused.
    pub(crate) required: bool,
}

impl JweSettings {
    /// Whether encrypted tokens are accepted at all.
    pub(crate) fn enabled(&self) -> bool {
        !self.keys.is_empty()
    }
}

impl fmt::Debug for JweSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Key ids only: never key material.
        f.debug_struct("JweSettings")
            .field(
                "kids",
                &self.keys.iter().map(|k| &*k.kid).collect::<Vec<_>>(),
            )
            .field("algorithms", &self.algorithms)
            .field("required", &self.required)
            .finish()
    }
}

/// Where a key comes from, as configured.
#[derive(Clone)]
enum KeySource {
    Pem(String),
    File(PathBuf),
}

/// The JWE part of the builder.
#[derive(Clone, Default)]
pub(crate) struct JweBuilder {
    /// Each key with its explicit `kid`, if any, and the setting that named it (for errors).
    keys: Vec<(Option<String>, KeySource, &'static str)>,
    algorithms: Option<Vec<JweAlgorithm>>,
    required: bool,
    error: Option<ConfigError>,
}

impl fmt::Debug for JweBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JweBuilder")
            .field("keys", &self.keys.len())
            .field("algorithms", &self.algorithms)
            .field("required", &self.required)
            .finish()
    }
}

impl AuthenticatorBuilder {
    /// A private key encrypted tokens (JWE) are decrypted with: PKCS#8 PEM (`-----BEGIN PRIVATE
    /// KEY-----`) of an RSA key of 2048 to 8192 bits. Its `kid` is the RFC 7638 thumbprint of its
    /// public key; [`jwe_key_with_kid`](Self::jwe_key_with_kid) names it. Call again to add keys
    /// (rotation: the new key before the issuer switches, the old one until its tokens expire).
    ///
    /// Encrypted tokens take the JWE path only when a key is configured; the inner token is then
    /// verified like any other (signature, claims, binding, policies).
    ///
    /// ```no_run
    /// # extern crate auth_runtime as route_guard;
    /// use route_guard::Authenticator;
    ///
    /// let pem = std::fs::read_to_string("/run/secrets/api-jwe-key.pem")?;
    /// let auth = Authenticator::builder()
    ///     .domain("tenant.us.auth0.com")
    ///     .audience("https://api.example.com")
    ///     .jwe_key_with_kid("2026-12", pem)
    ///     .require_encryption(true)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn jwe_key(mut self, pkcs8_pem: impl Into<String>) -> Self {
        let source = KeySource::Pem(pkcs8_pem.into());
        self.jwe.keys.push((None, source, "jwe_key"));
        self
    }

    /// [`jwe_key`](Self::jwe_key) with the `kid` Auth0 writes into the JWE header (the `kid`
    /// of the API's encryption key, when one was set).
    pub fn jwe_key_with_kid(
        mut self,
        kid: impl Into<String>,
        pkcs8_pem: impl Into<String>,
    ) -> Self {
        let source = KeySource::Pem(pkcs8_pem.into());
        self.jwe.keys.push((Some(kid.into()), source, "jwe_key"));
        self
    }

    /// [`jwe_key`](Self::jwe_key) read from a PEM file at start-up.
    pub fn jwe_key_file(mut self, path: impl Into<PathBuf>) -> Self {
        let source = KeySource::File(path.into());
        self.jwe.keys.push((None, source, "jwe_key_file"));
        self
    }

    /// The key management algorithms accepted (default `RSA-OAEP-256`, Auth0's default).
    pub fn jwe_algorithms(mut self, algorithms: impl IntoIterator<Item = JweAlgorithm>) -> Self {
        self.jwe.algorithms = Some(algorithms.into_iter().collect());
        self
    }

    /// RFC 9068 §4: an API that expects encrypted tokens refuses plain ones (default `false`).
    /// Needs a key.
    pub fn require_encryption(mut self, required: bool) -> Self {
        self.jwe.required = required;
        self
    }

    /// `AUTH0_JWE_KEY_FILE` (a path, or comma-separated `kid=path` pairs), `AUTH0_JWE_REQUIRED`
    /// and `AUTH0_JWE_ALGORITHMS`.
    pub(super) fn jwe_from_vars(mut self, var: &dyn Fn(&str) -> Option<String>) -> Self {
        if let Some(list) = var("AUTH0_JWE_KEY_FILE") {
            for entry in super::env::split_list(&list) {
                let (kid, path) = match entry.split_once('=') {
                    Some((kid, path)) => (Some(kid.trim().to_owned()), path.trim().to_owned()),
                    None => (None, entry),
                };
                let source = KeySource::File(PathBuf::from(path));
                self.jwe.keys.push((kid, source, "AUTH0_JWE_KEY_FILE"));
            }
        }
        if let Some(required) = var("AUTH0_JWE_REQUIRED") {
            match required.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => self.jwe.required = true,
                "false" | "0" | "no" => self.jwe.required = false,
                _ => {
                    self.jwe.error = Some(ConfigError::InvalidSetting {
                        setting: "AUTH0_JWE_REQUIRED",
                        reason: format!("`{}` is not true or false", required.escape_default()),
                    })
                }
            }
        }
        if let Some(list) = var("AUTH0_JWE_ALGORITHMS") {
            let parsed: Result<Vec<JweAlgorithm>, _> =
                super::env::split_list(&list).map(|a| a.parse()).collect();
            match parsed {
                Ok(algorithms) => self.jwe.algorithms = Some(algorithms),
                Err(e) => self.jwe.error = Some(e),
            }
        }
        self
    }
}

impl JweBuilder {
    /// Reads and parses every key; checks the `kid`s are distinct and the settings agree.
    pub(super) fn validate(self) -> Result<JweSettings, ConfigError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let algorithms = self
            .algorithms
            .unwrap_or_else(|| vec![JweAlgorithm::RsaOaep256]);
        if algorithms.is_empty() {
            return Err(ConfigError::InvalidSetting {
                setting: "AUTH0_JWE_ALGORITHMS",
                reason: "the list is empty: name at least one of RSA-OAEP-256, RSA-OAEP-384, RSA-OAEP-512".to_owned(),
            });
        }
        let mut keys: Vec<DecryptionKey> = Vec::new();
        for (kid, source, setting) in self.keys {
            let invalid = |reason: String| ConfigError::InvalidSetting { setting, reason };
            let (pem, named) = match &source {
                KeySource::Pem(pem) => (pem.clone(), "the key".to_owned()),
                KeySource::File(path) => {
                    let pem = std::fs::read_to_string(path)
                        .map_err(|e| invalid(format!("cannot read `{}`: {e}", path.display())))?;
                    (pem, format!("`{}`", path.display()))
                }
            };
            let der = pkcs8_der(&pem).map_err(|why| invalid(format!("{named} {why}")))?;
            let private = PrivateDecryptingKey::from_pkcs8(&der).map_err(|e| {
                invalid(format!(
                    "{named} is not an RSA private key of 2048 to 8192 bits in PKCS#8 ({e})"
                ))
            })?;
            let size = private.key_size_bytes();
            let kid = match kid {
                Some(kid) if kid.is_empty() => {
                    return Err(invalid(format!("the kid of {named} is empty")))
                }
                Some(kid) => kid,
                None => rsa_thumbprint(&der).ok_or_else(|| {
                    invalid(format!(
                        "{named}: its public key's thumbprint cannot be computed"
                    ))
                })?,
            };
            if keys.iter().any(|k| *k.kid == *kid) {
                return Err(invalid(format!("two keys have the kid `{kid}`")));
            }
            let key = OaepPrivateDecryptingKey::new(private)
                .map_err(|_| invalid(format!("{named} cannot decrypt with RSA-OAEP")))?;
            keys.push(DecryptionKey {
                kid: Arc::from(kid),
                key: Arc::new(key),
                size,
            });
        }
        if self.required && keys.is_empty() {
            return Err(ConfigError::InvalidSetting {
                setting: "AUTH0_JWE_REQUIRED",
                reason: "encryption is required but no decryption key is configured: set AUTH0_JWE_KEY_FILE (`.jwe_key(..)`)".to_owned(),
            });
        }
        Ok(JweSettings {
            keys,
            algorithms,
            required: self.required,
        })
    }
}

/// The DER of the PKCS#8 `PRIVATE KEY` block of a PEM text.
fn pkcs8_der(pem: &str) -> Result<Vec<u8>, &'static str> {
    if pem.contains("-----BEGIN RSA PRIVATE KEY-----") {
        return Err("is PKCS#1 (`BEGIN RSA PRIVATE KEY`): convert it with `openssl pkcs8 -topk8 -nocrypt -in key.pem -out key.pk8.pem`");
    }
    if pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        return Err("is encrypted: give the key without a passphrase (`openssl pkcs8 -topk8 -nocrypt`) from a secret store");
    }
    let body = super::pem::body(pem, "PRIVATE KEY").map_err(|missing| match missing {
        super::pem::Missing::Begin => "holds no `-----BEGIN PRIVATE KEY-----` block (PKCS#8 PEM)",
        super::pem::Missing::End => "has no `-----END PRIVATE KEY-----` line",
    })?;
    STANDARD
        .decode(body)
        .map_err(|_| "holds a PEM block that is not base64")
}

/// The RFC 7638 thumbprint of an RSA private key's public part.
fn rsa_thumbprint(pkcs8: &[u8]) -> Option<String> {
    let pair = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(pkcs8).ok()?;
    let public = aws_lc_rs::signature::KeyPair::public_key(&pair);
    let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
    let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    let sha256 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
    Some(URL_SAFE_NO_PAD.encode(sha256))
}
