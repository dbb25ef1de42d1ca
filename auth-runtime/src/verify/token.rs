//! [`VerifiedToken`]: what the verification path hands on, and the [`ClaimsContext`] it carries.

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::VerifyError;
use super::registered::data_error;
use crate::config::Algorithm;

/// Settings of the Authenticator that shape how claims are read (e.g. where roles live).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ClaimsContext {
    /// The claim holding roles for types without a roles field, from
    /// [`roles_claim`](crate::AuthenticatorBuilder::roles_claim).
    pub roles_claim: Option<String>,
}

/// A token whose signature and registered claims were verified.
///
/// It holds the decoded claims (not the token); read them with [`claims`](Self::claims).
/// `Debug` shows the algorithm and key id only.
#[derive(Clone)]
pub struct VerifiedToken {
    inner: Arc<VerifiedInner>,
}

struct VerifiedInner {
    payload: Vec<u8>,
    alg: Algorithm,
    kid: Option<String>,
    /// The verified `iss`.
    issuer: Box<str>,
    /// `cnf.jkt`: the thumbprint of the key a DPoP-bound token is bound to.
    jkt: Option<Box<str>>,
    context: ClaimsContext,
    /// Every claim as JSON, parsed on first use (only claim predicates need it).
    raw: OnceLock<Map<String, Value>>,
}

impl fmt::Debug for VerifiedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedToken")
            .field("alg", &self.inner.alg)
            .field("kid", &self.inner.kid)
            .finish_non_exhaustive()
    }
}

impl VerifiedToken {
    pub(super) fn new(
        payload: Vec<u8>,
        alg: Algorithm,
        kid: Option<String>,
        issuer: Box<str>,
        jkt: Option<Box<str>>,
        context: ClaimsContext,
    ) -> Self {
        VerifiedToken {
            inner: Arc::new(VerifiedInner {
                payload,
                alg,
                kid,
                issuer,
                jkt,
                context,
                raw: OnceLock::new(),
            }),
        }
    }

    /// How the Authenticator reads claims (where roles live), for typed claims.
    pub(crate) fn context(&self) -> &ClaimsContext {
        &self.inner.context
    }

    /// Deserializes the claims into any type, without route-guard's role context.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, VerifyError> {
        serde_json::from_slice(&self.inner.payload)
            .map_err(|e| VerifyError::InvalidClaims(data_error(&e)))
    }

    /// One claim as JSON, by name (e.g. `"org_id"` or `"https://myapp.com/roles"`).
    ///
    /// The payload is parsed into a map on the first call and kept with the token.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.inner
            .raw
            .get_or_init(|| serde_json::from_slice(&self.inner.payload).unwrap_or_default())
            .get(name)
    }

    /// The verified `alg`.
    pub fn algorithm(&self) -> Algorithm {
        self.inner.alg
    }

    /// The `kid` of the key that verified the token.
    pub fn key_id(&self) -> Option<&str> {
        self.inner.kid.as_deref()
    }

    /// The verified issuer (`iss`).
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// `cnf.jkt` of a DPoP-bound token: the RFC 7638 thumbprint of the client's proof key.
    pub fn dpop_thumbprint(&self) -> Option<&str> {
        self.inner.jkt.as_deref()
    }
}
