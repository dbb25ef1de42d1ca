//! [`DpopKey`] and [`ProofBuilder`]: a DPoP client's key and its proofs (RFC 9449 §4).

use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use serde_json::{json, Map, Value};

use super::keys::{generate, public_jwk, sign, KeyPair};
use super::{b64, unix_now, TestIssuerError};
use crate::config::Algorithm;
use crate::dpop::{thumbprint, token_hash};

/// A client's DPoP key (ES256 unless chosen otherwise) that makes proofs (RFC 9449 §4) for
/// tests: [`proof`](Self::proof) for a valid one, [`proof_builder`](Self::proof_builder) to
/// break any rule.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::testing::{DpopKey, TestIssuer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let issuer = TestIssuer::start().await?;
/// let key = DpopKey::generate()?;
/// let token = issuer.token().dpop_bound(&key).sign();
/// let url = "http://127.0.0.1:3000/api/private";
/// // What a client sends: `Authorization: DPoP <token>` and `DPoP: <proof>`.
/// let proof = key.proof("GET", url, &token);
/// // A proof that is ten minutes old, for a test that expects a rejection.
/// let stale = key.proof_builder("GET", url).token(&token).issued_secs_ago(600).sign();
/// # let _ = (proof, stale);
/// # Ok(())
/// # }
/// ```
pub struct DpopKey {
    pair: KeyPair,
    alg: Algorithm,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey")
            .field("alg", &self.alg)
            .field("thumbprint", &self.thumbprint())
            .finish()
    }
}

impl DpopKey {
    /// A new ES256 (P-256) key, the default proof algorithm.
    pub fn generate() -> Result<DpopKey, TestIssuerError> {
        Self::generate_for(Algorithm::ES256)
    }

    /// A new key for `alg` (ES256, ES384, EdDSA, RS256, PS256, ...).
    pub fn generate_for(alg: Algorithm) -> Result<DpopKey, TestIssuerError> {
        Ok(DpopKey {
            pair: generate(alg)?,
            alg,
        })
    }

    /// The proof algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The public JWK, as proofs carry it in their header.
    pub fn jwk(&self) -> Value {
        public_jwk(&self.pair)
    }

    /// The RFC 7638 thumbprint: what a bound token carries in `cnf.jkt`.
    pub fn thumbprint(&self) -> String {
        match self.jwk() {
            Value::Object(jwk) => thumbprint(&jwk).unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// A valid proof for `method` and `url` with `token`'s `ath`, a fresh `jti` and `iat` now.
    pub fn proof(&self, method: &str, url: &str, token: &str) -> String {
        self.proof_builder(method, url).token(token).sign()
    }

    /// A proof to adjust before signing: every claim and header member can be changed.
    pub fn proof_builder(&self, method: &str, url: &str) -> ProofBuilder<'_> {
        let mut random = [0u8; 16];
        // A failed read leaves zeros; tests that need distinct jtis would notice.
        let _ = SystemRandom::new().fill(&mut random);
        let mut header = Map::new();
        header.insert("typ".into(), json!("dpop+jwt"));
        header.insert("alg".into(), json!(self.alg.as_str()));
        header.insert("jwk".into(), self.jwk());
        let mut claims = Map::new();
        claims.insert("jti".into(), json!(b64(&random)));
        claims.insert("htm".into(), json!(method));
        claims.insert("htu".into(), json!(url));
        claims.insert("iat".into(), json!(unix_now()));
        ProofBuilder {
            key: self,
            header,
            claims,
            alg: self.alg,
        }
    }
}

/// A DPoP proof being built by [`DpopKey::proof_builder`].
#[must_use]
pub struct ProofBuilder<'a> {
    key: &'a DpopKey,
    header: Map<String, Value>,
    claims: Map<String, Value>,
    alg: Algorithm,
}

impl std::fmt::Debug for ProofBuilder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofBuilder")
            .field("header", &self.header)
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

impl ProofBuilder<'_> {
    /// Sets `ath` to the hash of `token`.
    pub fn token(self, token: &str) -> Self {
        self.claim("ath", token_hash(token))
    }

    /// Sets `nonce`.
    pub fn nonce(self, nonce: &str) -> Self {
        self.claim("nonce", nonce)
    }

    /// Sets `jti`.
    pub fn jti(self, jti: &str) -> Self {
        self.claim("jti", jti)
    }

    /// `iat` this many seconds in the past.
    pub fn issued_secs_ago(self, secs: i64) -> Self {
        self.claim("iat", unix_now() - secs)
    }

    /// `iat` this many seconds in the future.
    pub fn issued_secs_ahead(self, secs: i64) -> Self {
        self.claim("iat", unix_now() + secs)
    }

    /// Sets any claim; `null` removes it.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        set_or_remove(&mut self.claims, name, value.into());
        self
    }

    /// Sets any header member (`typ`, `jwk`, `crit`, ...); `null` removes it.
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        set_or_remove(&mut self.header, name, value.into());
        self
    }

    /// The `alg` header and the signature scheme (e.g. PS256 with an RSA key).
    pub fn alg(mut self, alg: Algorithm) -> Self {
        self.alg = alg;
        self.header("alg", alg.as_str())
    }

    /// Signs the proof.
    pub fn sign(self) -> String {
        let message = format!(
            "{}.{}",
            b64(Value::Object(self.header).to_string().as_bytes()),
            b64(Value::Object(self.claims).to_string().as_bytes())
        );
        let signature = sign(&self.key.pair, self.alg, message.as_bytes());
        format!("{message}.{}", b64(&signature))
    }
}

fn set_or_remove(map: &mut Map<String, Value>, name: &str, value: Value) {
    if value.is_null() {
        map.remove(name);
    } else {
        map.insert(name.to_owned(), value);
    }
}
