//! [`VerifyError`]: why a token was not accepted, and its counter category.

use crate::jwks::KeyError;
use crate::stats::RejectionReason;

/// Why a token was not accepted. Its `Display` is the `error_description` sent to the client:
/// useful, and never an echo of the token or of attacker-chosen header values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The token is longer than `max_token_bytes`.
    #[error("the token is larger than {limit} bytes")]
    TooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// Not a compact JWS: three base64url segments holding a JSON header and payload.
    #[error("the token is malformed: {0}")]
    Malformed(&'static str),
    /// The `alg` header is not in the allow-list (`none` never is).
    #[error("the token's signing algorithm is not accepted (accepted: {allowed})")]
    AlgorithmNotAllowed {
        /// The accepted algorithms, comma-separated.
        allowed: String,
    },
    /// The token has a `crit` header; route-guard understands no JWS extensions.
    #[error("the token has a critical header extension (crit) that is not supported")]
    CriticalHeader,
    /// The `typ` header is not accepted.
    #[error("the token type (typ) is not accepted: {0}")]
    TokenType(&'static str),
    /// No key in the issuer's key set has the token's `kid`.
    #[error("the token's key id (kid) is not in the issuer's key set")]
    UnknownKid,
    /// The token has no `kid` and the issuer has several keys.
    #[error("the token has no key id (kid) and the issuer has several keys")]
    MissingKid,
    /// The key named by `kid` cannot verify the token's `alg`.
    #[error("the token's algorithm does not match its signing key")]
    KeyMismatch,
    /// No key set of the token's issuer has loaded yet (network failure, bad JWKS since
    /// start-up). The extractors answer it 503 `temporarily_unavailable`: the token was not
    /// judged. With a key set cached, an outage of the issuer never produces it.
    #[error("the issuer's signing keys are unavailable; try again later")]
    KeysUnavailable,
    /// The signature does not verify.
    #[error("the token's signature is invalid")]
    InvalidSignature,
    /// `exp` is in the past.
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("the token is not valid yet (nbf)")]
    NotYetValid,
    /// A required registered claim is missing.
    #[error("the token has no `{0}` claim")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type.
    #[error("the token's claims are malformed: {0}")]
    InvalidClaims(String),
    /// `iss` is not the configured issuer.
    #[error("the token's issuer (iss) is not accepted")]
    WrongIssuer,
    /// No `aud` value is a configured audience.
    #[error("the token's audience (aud) is not accepted")]
    WrongAudience,
    /// A DPoP-bound token (`cnf.jkt`) was sent with the Bearer scheme: it is accepted only with
    /// `Authorization: DPoP` and a proof of its key.
    #[error("the token is DPoP-bound (cnf.jkt): send it as `Authorization: DPoP <token>` with a DPoP proof")]
    DpopBound,
    /// A token without `cnf.jkt` was sent with the DPoP scheme.
    #[error(
        "the token is not DPoP-bound (no cnf.jkt): send it as `Authorization: Bearer <token>`"
    )]
    NotDpopBound,
    /// A certificate-bound token (`cnf.x5t#S256`, RFC 8705) where certificate-bound tokens are
    /// not accepted ([`MtlsMode::Off`](crate::MtlsMode::Off)): it is never taken for a plain
    /// Bearer token.
    #[error("the token is certificate-bound (cnf.x5t#S256) and this API does not accept certificate-bound tokens")]
    CertificateBound,
    /// A token that is not certificate-bound where
    /// [`MtlsMode::Required`](crate::MtlsMode::Required) asks for one.
    #[error("the token is not certificate-bound (no cnf.x5t#S256): this API accepts only tokens bound to the client's TLS certificate")]
    NotCertificateBound,
    /// A certificate-bound token came without a client certificate.
    #[error("the token is certificate-bound (cnf.x5t#S256) but the request has no client certificate: connect with the certificate the token was issued to")]
    CertificateMissing,
    /// A certificate-bound token came with a client certificate that could not be read; the
    /// text says what was wrong (never the value).
    #[error("the token is certificate-bound (cnf.x5t#S256) but the request's client certificate could not be read: {0}")]
    CertificateUnreadable(&'static str),
    /// The client certificate is not the one the token is bound to (RFC 8705 §3).
    #[error("the token is bound to another client certificate (its cnf.x5t#S256 is not this certificate's thumbprint)")]
    CertificateMismatch,
    /// The token is bound both to a DPoP key (`cnf.jkt`) and to a certificate
    /// (`cnf.x5t#S256`): which proof would count is ambiguous, so neither does.
    #[error("the token is bound both to a DPoP key (cnf.jkt) and to a client certificate (cnf.x5t#S256); it is refused")]
    AmbiguousBinding,
    /// An encrypted token (JWE) where no decryption key is configured.
    #[error("the token is encrypted (JWE) and this API does not accept encrypted tokens")]
    EncryptedNotAccepted,
    /// A plain (signed only) token where
    /// [`require_encryption`](crate::AuthenticatorBuilder::require_encryption) is set (RFC 9068
    /// §4).
    #[error("the token is not encrypted: this API accepts only encrypted tokens (JWE)")]
    EncryptionRequired,
    /// The encrypted token's header or layout is refused, before any decryption; the text says
    /// which check (never a value from the token).
    #[error("{0}")]
    Jwe(&'static str),
    /// The encrypted token could not be decrypted: one answer for a key that does not unwrap and
    /// a tag that does not verify.
    #[error("the encrypted token (JWE) could not be decrypted")]
    Undecryptable,
    /// [`OrgPolicy::Required`](crate::OrgPolicy::Required) and the token has no `org_id`.
    #[error("the token has no organization (org_id)")]
    MissingOrganization,
    /// The token's organization is not in
    /// [`allowed_organizations`](crate::AuthenticatorBuilder::allowed_organizations). The value is
    /// logged (debug level), never sent.
    #[error("the token's organization is not accepted")]
    OrganizationNotAllowed {
        /// The token's `org_id`, for logs.
        organization: String,
    },
    /// A claim of [`required_claims`](crate::AuthenticatorBuilder::required_claims) is missing.
    #[error("the token has no `{0}` claim")]
    MissingRequiredClaim(String),
    /// The RFC 8693 delegation chain (nested `act`) is deeper than allowed.
    #[error("the token's delegation chain (act) is deeper than {limit}")]
    DelegationTooDeep {
        /// The configured maximum.
        limit: usize,
    },
    /// An Auth0 anonymous token (`sub` `anon@...`) where anonymous callers are rejected.
    #[error("anonymous tokens are not accepted")]
    Anonymous,
    /// The domain resolver failed: the request is answered 503 (our outage, not the token's).
    #[error("the token's issuer could not be checked right now; try again shortly")]
    ResolverUnavailable,
    /// An OpenID Connect ID token (for the client app) was sent instead of an access token.
    #[error("the token's audience (aud) is not accepted: this looks like an ID token; send an access token requested with your API's audience")]
    IdToken,
    /// The claim that stands for `aud` under the audience rule (Cognito's `client_id`, an
    /// `azp`) is missing or not a configured audience.
    #[error("the token's `{claim}` is not an accepted audience")]
    ClaimNotAccepted {
        /// The claim's name (from the configuration, never from the token).
        claim: String,
    },
    /// A rule of the issuer profile refused the token; the text says which, in the vendor's
    /// words (a Keycloak token without the API's audience mapper, a Cognito ID token, ...).
    #[error("{0}")]
    Profile(&'static str),
}

impl VerifyError {
    /// The counter and log category of this error.
    pub fn reason(&self) -> RejectionReason {
        match self {
            VerifyError::TooLarge { .. } | VerifyError::Malformed(_) => RejectionReason::Malformed,
            VerifyError::AlgorithmNotAllowed { .. }
            | VerifyError::CriticalHeader
            | VerifyError::TokenType(_) => RejectionReason::Header,
            VerifyError::UnknownKid | VerifyError::MissingKid | VerifyError::KeyMismatch => {
                RejectionReason::UnknownKey
            }
            VerifyError::KeysUnavailable => RejectionReason::KeysUnavailable,
            VerifyError::InvalidSignature => RejectionReason::Signature,
            VerifyError::Expired => RejectionReason::Expired,
            VerifyError::NotYetValid => RejectionReason::NotYetValid,
            VerifyError::MissingClaim(_)
            | VerifyError::InvalidClaims(_)
            | VerifyError::WrongIssuer
            | VerifyError::WrongAudience
            | VerifyError::IdToken
            | VerifyError::ClaimNotAccepted { .. }
            | VerifyError::Profile(_)
            | VerifyError::MissingOrganization
            | VerifyError::OrganizationNotAllowed { .. }
            | VerifyError::MissingRequiredClaim(_)
            | VerifyError::DelegationTooDeep { .. }
            | VerifyError::Anonymous => RejectionReason::Claims,
            VerifyError::ResolverUnavailable => RejectionReason::ResolverUnavailable,
            VerifyError::DpopBound | VerifyError::NotDpopBound => RejectionReason::DpopBinding,
            VerifyError::CertificateBound
            | VerifyError::NotCertificateBound
            | VerifyError::CertificateMissing
            | VerifyError::CertificateUnreadable(_)
            | VerifyError::CertificateMismatch
            | VerifyError::AmbiguousBinding => RejectionReason::CertificateBinding,
            VerifyError::EncryptedNotAccepted
            | VerifyError::EncryptionRequired
            | VerifyError::Jwe(_)
            | VerifyError::Undecryptable => RejectionReason::Encryption,
        }
    }
}

/// The issuer's keys could not be loaded; the message says why (for logs, not for clients).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the issuer's signing keys could not be loaded: {0}")]
pub struct KeysUnavailable(pub String);

pub(super) fn key_error(err: KeyError) -> VerifyError {
    match err {
        KeyError::UnknownKid => VerifyError::UnknownKid,
        KeyError::ForeignIssuer => VerifyError::WrongIssuer,
        KeyError::AmbiguousKey => VerifyError::MissingKid,
        KeyError::AlgorithmMismatch => VerifyError::KeyMismatch,
        KeyError::Unavailable(_) => VerifyError::KeysUnavailable,
    }
}
