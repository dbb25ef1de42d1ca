//! [`VerifiedToken`]: what the verification path hands on, and the [`ClaimsContext`] it carries.

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::binding::Binding;
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
    /// Where roles, scopes and permissions live (the issuer profile's locations, or
    /// [`roles_claim`](crate::AuthenticatorBuilder::roles_claim) and its siblings).
    pub locations: crate::config::ClaimLocations,
    /// For each broader scope, every scope it implies, from
    /// [`implied_scopes`](crate::AuthenticatorBuilder::implied_scopes).
    pub implied_scopes: std::collections::BTreeMap<String, Vec<String>>,
    /// The clock leeway the token was verified with, from
    /// [`leeway`](crate::AuthenticatorBuilder::leeway): step-up's `auth_time` check allows the
    /// same skew, and no more, for a login time in the future.
    pub leeway: std::time::Duration,
}

impl ClaimsContext {
    /// The scopes implied by those `granted` says the token has, not granted themselves: what a
    /// claims type adds to its scope set in `apply_context`.
    pub fn implied_scopes_for(&self, granted: impl Fn(&str) -> bool) -> Vec<&str> {
        let mut implied: Vec<&str> = Vec::new();
        for (broader, narrower) in &self.implied_scopes {
            if granted(broader) {
                for scope in narrower {
                    if !granted(scope) && !implied.contains(&scope.as_str()) {
                        implied.push(scope);
                    }
                }
            }
        }
        implied
    }
}

/// A token whose signature and registered claims were verified.
///
/// It holds the decoded claims (not the token); read them with [`claims`](Self::claims).
/// `Debug` shows the algorithm and key id only.
#[derive(Clone)]
pub struct VerifiedToken {
    inner: Arc<VerifiedInner>,
    /// Handed out by the verified-token cache: the client sends this token again and again, so
    /// its typed claims are worth keeping.
    seen_before: bool,
}

struct VerifiedInner {
    /// The decoded payload, UTF-8 checked once: every parse reads it as `str`.
    payload: String,
    alg: Algorithm,
    kid: Option<Arc<str>>,
    /// The verified `iss` (shared with the key set that verified it).
    issuer: Arc<str>,
    /// What the token is bound to: a DPoP key, a client certificate, or nothing.
    binding: Binding,
    context: Arc<ClaimsContext>,
    /// Every claim as JSON, parsed on first use (claim predicates and claim locations need it),
    /// or already parsed by a profile's checks.
    raw: OnceLock<Map<String, Value>>,
    /// What the configured claim locations hold, found on first use.
    grants: OnceLock<crate::config::Grants>,
    /// The claims already parsed into a type, kept with the token (and so with its entry in the
    /// verified-token cache): a token seen before costs no second parse.
    typed: TypedClaims,
}

type Shared = Arc<dyn Any + Send + Sync>;

/// Parsed claims by type. Keyed by `TypeId`, so one type's claims are never served for another;
/// the first type (most APIs use one) is read without a lock.
#[derive(Default)]
struct TypedClaims {
    first: OnceLock<(TypeId, Shared)>,
    others: Mutex<Vec<(TypeId, Shared)>>,
}

/// At most this many claims types are kept for one token (a bound for an application that
/// parses one token into many types; beyond it, the others are parsed each time).
const MAX_TYPED: usize = 8;

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
        payload: String,
        alg: Algorithm,
        kid: Option<Arc<str>>,
        issuer: Arc<str>,
        binding: Binding,
        context: Arc<ClaimsContext>,
        raw: Option<Map<String, Value>>,
    ) -> Self {
        VerifiedToken {
            inner: Arc::new(VerifiedInner {
                payload,
                alg,
                kid,
                issuer,
                binding,
                context,
                raw: raw.map_or_else(OnceLock::new, OnceLock::from),
                grants: OnceLock::new(),
                typed: TypedClaims::default(),
            }),
            seen_before: false,
        }
    }

    /// This token as the verified-token cache hands it out again.
    pub(super) fn seen_again(&self) -> Self {
        VerifiedToken {
            inner: Arc::clone(&self.inner),
            seen_before: true,
        }
    }

    /// Whether the token came from the verified-token cache (its client sent it before).
    pub(crate) fn seen_before(&self) -> bool {
        self.seen_before
    }

    /// The claims of type `T` parsed earlier for this token, if any.
    pub(crate) fn typed<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let typed = &self.inner.typed;
        let wanted = TypeId::of::<T>();
        let found = match typed.first.get() {
            Some((id, shared)) if *id == wanted => Some(Arc::clone(shared)),
            Some(_) => typed.others.lock().ok().and_then(|others| {
                others
                    .iter()
                    .find(|(id, _)| *id == wanted)
                    .map(|(_, shared)| Arc::clone(shared))
            }),
            None => None,
        };
        found.and_then(|shared| shared.downcast().ok())
    }

    /// Keeps `claims` as this token's claims of type `T` (the first keeper of a type wins).
    pub(crate) fn keep_typed<T: Any + Send + Sync>(&self, claims: Arc<T>) {
        let typed = &self.inner.typed;
        let id = TypeId::of::<T>();
        let Err((_, shared)) = typed.first.set((id, claims as Shared)) else {
            return;
        };
        if typed.first.get().is_some_and(|(first, _)| *first == id) {
            return;
        }
        if let Ok(mut others) = typed.others.lock() {
            if others.len() < MAX_TYPED && others.iter().all(|(other, _)| *other != id) {
                others.push((id, shared));
            }
        }
    }

    /// How the Authenticator reads claims (where roles live), for typed claims.
    pub(crate) fn context(&self) -> &ClaimsContext {
        &self.inner.context
    }

    /// Deserializes the claims into any type, without route-guard's role context.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, VerifyError> {
        serde_json::from_str(&self.inner.payload)
            .map_err(|e| VerifyError::InvalidClaims(data_error(&e)))
    }

    /// One claim as JSON, by name (e.g. `"org_id"` or `"https://myapp.com/roles"`).
    ///
    /// The payload is parsed into a map on the first call and kept with the token.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims_map().get(name)
    }

    /// Every claim as JSON, parsed once and kept with the token.
    fn claims_map(&self) -> &Map<String, Value> {
        self.inner
            .raw
            .get_or_init(|| serde_json::from_str(&self.inner.payload).unwrap_or_default())
    }

    /// The roles, scopes and permissions at the configured claim locations (the issuer
    /// profile's, or [`roles_claim`](crate::AuthenticatorBuilder::roles_claim)'s): found once,
    /// and kept with the token.
    pub fn grants(&self) -> &crate::config::Grants {
        self.inner.grants.get_or_init(|| {
            let locations = &self.inner.context.locations;
            match self.inner.raw.get() {
                Some(claims) => locations.grants(claims),
                None => locations.grants_from_json(&self.inner.payload),
            }
        })
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

    /// The verified issuer, shared with the key set that verified it (and every other token
    /// verified by that set): what per-issuer caches key on.
    pub(crate) fn shared_issuer(&self) -> &Arc<str> {
        &self.inner.issuer
    }

    /// `cnf.jkt` of a DPoP-bound token: the RFC 7638 thumbprint of the client's proof key.
    pub fn dpop_thumbprint(&self) -> Option<&str> {
        match &self.inner.binding {
            Binding::Dpop(jkt) => Some(jkt),
            _ => None,
        }
    }

    /// `cnf.x5t#S256` of a certificate-bound token (RFC 8705): the base64url SHA-256 of the
    /// client certificate it is bound to. When the token was accepted under
    /// [`MtlsMode::Allowed`](crate::MtlsMode::Allowed) or
    /// [`Required`](crate::MtlsMode::Required), the request's certificate had this thumbprint.
    pub fn certificate_thumbprint(&self) -> Option<&str> {
        match &self.inner.binding {
            Binding::Certificate { text, .. } => Some(text),
            _ => None,
        }
    }

    /// What the token is bound to.
    pub(super) fn binding(&self) -> &Binding {
        &self.inner.binding
    }
}
