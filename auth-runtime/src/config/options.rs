//! The values settings take: the signature [`Algorithm`]s, the [`DpopMode`] and the
//! [`OrgPolicy`].

use std::fmt;
use std::str::FromStr;

use super::error::ConfigError;

/// A JWS signature algorithm route-guard can verify.
///
/// The names are the JOSE names (`RS256`, `ES256`, ...). Parse them with [`str::parse`]:
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::Algorithm;
/// assert_eq!("PS256".parse::<Algorithm>(), Ok(Algorithm::PS256));
/// assert!("none".parse::<Algorithm>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(clippy::upper_case_acronyms)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (Auth0's default).
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// EdDSA, as Auth0 and most providers name it; only the Ed25519 curve is supported.
    EdDSA,
    /// Ed25519 by its RFC 9864 fully-specified name. Accepted wherever `EdDSA` is (a token
    /// signed with an Ed25519 key may say either); configure it alone to accept only tokens
    /// that name it.
    Ed25519,
    /// HMAC with SHA-256: needs [`AuthenticatorBuilder::hs256_secret`](crate::AuthenticatorBuilder::hs256_secret).
    HS256,
}

impl Algorithm {
    /// The JOSE name of the algorithm, as it appears in a token's `alg` header.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
            Algorithm::Ed25519 => "Ed25519",
            Algorithm::HS256 => "HS256",
        }
    }

    /// Every algorithm, in a stable order.
    pub(crate) const ALL: [Algorithm; 11] = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
        Algorithm::Ed25519,
        Algorithm::HS256,
    ];

    pub(crate) fn is_symmetric(self) -> bool {
        matches!(self, Algorithm::HS256)
    }

    /// The algorithm a JOSE header's `alg` names, if `allowed` accepts it.
    pub(crate) fn accepted(name: &str, allowed: &[Algorithm]) -> Option<Algorithm> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.as_str() == name)
            .filter(|a| a.allowed_by(allowed))
    }

    /// Whether `allowed` accepts this algorithm. RFC 9864: the fully-specified `Ed25519` is
    /// accepted wherever the polymorphic `EdDSA` is.
    pub(crate) fn allowed_by(self, allowed: &[Algorithm]) -> bool {
        allowed.contains(&self)
            || (self == Algorithm::Ed25519 && allowed.contains(&Algorithm::EdDSA))
    }

    /// Whether a key published for `self` (a JWK's `alg`) may verify `alg`: the same name, or
    /// the two names of Ed25519 signatures.
    pub(crate) fn same_signature(self, alg: Algorithm) -> bool {
        let eddsa = |a| matches!(a, Algorithm::EdDSA | Algorithm::Ed25519);
        self == alg || (eddsa(self) && eddsa(alg))
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = ConfigError;

    /// JOSE names are case-sensitive (RFC 7515 §4.1.1): `rs256` is not `RS256`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| ConfigError::UnknownAlgorithm {
                value: s.to_owned(),
            })
    }
}

/// How an API treats DPoP (RFC 9449, sender-constrained tokens); set with
/// [`AuthenticatorBuilder::dpop`](crate::AuthenticatorBuilder::dpop) or `AUTH0_DPOP`.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::DpopMode;
/// assert_eq!("required".parse::<DpopMode>(), Ok(DpopMode::Required));
/// assert_eq!(DpopMode::default(), DpopMode::Allowed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum DpopMode {
    /// Bearer and DPoP-bound tokens are both accepted (the default, as in Auth0's SDKs). A
    /// DPoP-bound token must still come with its proof: it is never accepted as Bearer.
    #[default]
    Allowed,
    /// Only DPoP-bound tokens with a valid proof are accepted; Bearer is rejected.
    Required,
    /// The DPoP scheme is treated like any unknown scheme (a bare 401); DPoP-bound tokens are
    /// rejected, since their proof cannot be checked.
    Disabled,
}

impl DpopMode {
    /// The name used by `AUTH0_DPOP`: `allowed`, `required` or `disabled`.
    pub fn as_str(self) -> &'static str {
        match self {
            DpopMode::Allowed => "allowed",
            DpopMode::Required => "required",
            DpopMode::Disabled => "disabled",
        }
    }
}

impl fmt::Display for DpopMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DpopMode {
    type Err = ConfigError;

    /// `allowed`, `required` or `disabled`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [DpopMode::Allowed, DpopMode::Required, DpopMode::Disabled]
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ConfigError::InvalidSetting {
                setting: "AUTH0_DPOP",
                reason: format!("`{s}` is not a DPoP mode: use allowed, required or disabled"),
            })
    }
}

/// Whether tokens must belong to an Auth0 Organization (`org_id`); set with
/// [`AuthenticatorBuilder::organization`](crate::AuthenticatorBuilder::organization).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum OrgPolicy {
    /// Tokens with or without `org_id` are accepted (the default); routes can still require
    /// one with `#[require_org]`.
    #[default]
    Optional,
    /// Tokens without a string `org_id` are rejected with 401 `invalid_token`.
    Required,
}
