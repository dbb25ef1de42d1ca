//! The description rule over every rejection the crate makes: no `error_description` carries
//! `scope=`, `error=` or `resource_metadata=` (clients search the whole header for them), and
//! every challenge names each parameter at most once.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::dpop::ProofError;
use crate::policy::{Check, Insufficient};
use crate::verify::VerifyError;

/// Text a hostile token or a careless configuration could put into a description.
const HOSTILE: &str = "x\" scope=\"admin\" error=\"none\" resource_metadata=\"https://evil\"";

fn every_error() -> Vec<AuthError> {
    let verify = vec![
        VerifyError::TooLarge { limit: 8192 },
        VerifyError::Malformed("a segment is not base64url"),
        VerifyError::AlgorithmNotAllowed {
            allowed: HOSTILE.into(),
        },
        VerifyError::CriticalHeader,
        VerifyError::TokenType("at+jwt"),
        VerifyError::UnknownKid,
        VerifyError::MissingKid,
        VerifyError::KeyMismatch,
        VerifyError::KeysUnavailable,
        VerifyError::InvalidSignature,
        VerifyError::Expired,
        VerifyError::NotYetValid,
        VerifyError::MissingClaim("exp"),
        VerifyError::InvalidClaims(HOSTILE.into()),
        VerifyError::WrongIssuer,
        VerifyError::WrongAudience,
        VerifyError::DpopBound,
        VerifyError::NotDpopBound,
        VerifyError::MissingOrganization,
        VerifyError::OrganizationNotAllowed {
            organization: HOSTILE.into(),
        },
        VerifyError::MissingRequiredClaim(HOSTILE.into()),
        VerifyError::DelegationTooDeep { limit: 5 },
        VerifyError::Anonymous,
        VerifyError::ResolverUnavailable,
        VerifyError::IdToken,
    ];
    let proof = vec![
        ProofError::Missing,
        ProofError::Multiple,
        ProofError::WithoutDpopToken,
        ProofError::TooLarge,
        ProofError::Malformed("the header is not JSON"),
        ProofError::Type,
        ProofError::AlgorithmNotAllowed {
            allowed: HOSTILE.into(),
        },
        ProofError::InvalidKey,
        ProofError::PrivateKey,
        ProofError::CriticalHeader,
        ProofError::InvalidSignature,
        ProofError::InvalidClaim("htu"),
        ProofError::Method,
        ProofError::Url,
        ProofError::IssuedAt,
        ProofError::TokenHash,
        ProofError::KeyMismatch,
        ProofError::Replayed,
    ];
    let claims = crate::claims::StandardClaims::default();
    let missing: Insufficient = Check::new(&claims)
        .scopes_all(&["scope=admin"])
        .permissions_any(&["error=x", "resource_metadata=y"])
        .predicate(false, HOSTILE)
        .finish()
        .expect_err("nothing is granted");
    let mut errors = vec![
        AuthError::MissingToken,
        AuthError::InvalidRequest("the Authorization header is repeated"),
        AuthError::InsufficientScope(missing.clone()),
        AuthError::InsufficientUserAuthentication(missing),
        AuthError::MissingAuthenticator,
        AuthError::UseDpopNonce("n0nce".into()),
        AuthError::DpopRequired,
        AuthError::ReplayStoreUnavailable,
        AuthError::ResolverUnavailable,
        AuthError::DpopQuotaExceeded {
            retry_after: Duration::from_secs(3),
        },
        AuthError::KeysUnavailable {
            retry_after: Duration::from_secs(2),
        },
        AuthError::RateLimited {
            policy: Arc::from(HOSTILE),
            quota: crate::ratelimit::Quota::per_minute(10),
            retry_after: Duration::from_secs(6),
        },
        AuthError::RateLimitUnavailable,
        AuthError::ContentTooLarge { limit: 1024 },
        AuthError::InvalidBody(HOSTILE),
        AuthError::UnsupportedContentEncoding,
        AuthError::MethodNotAllowed {
            allow: "GET, POST, DELETE",
        },
        AuthError::CallNotAllowed(HOSTILE.to_owned()),
    ];
    errors.extend(verify.into_iter().map(AuthError::InvalidToken));
    errors.extend(proof.into_iter().map(AuthError::InvalidDpopProof));
    errors
}

#[test]
fn no_description_or_challenge_smuggles_a_parameter() {
    let params = ChallengeParams {
        realm: Arc::from("api"),
        algs: Arc::from("ES256"),
        resource_metadata: Some(Arc::from(
            "https://api.example.com/.well-known/oauth-protected-resource",
        )),
    };
    let mut checked = 0;
    for error in every_error() {
        for scheme in [Scheme::Bearer, Scheme::Dpop, Scheme::Both] {
            let rejection = AuthRejection::new(error.clone(), scheme, params.clone(), None)
                .for_route_scopes(&["read:messages"]);
            let description = rejection.description().to_ascii_lowercase();
            for key in ["scope=", "error=", "resource_metadata="] {
                assert!(
                    !description.contains(key),
                    "{error:?}: {key} in the description {description}"
                );
            }
            if let Some(challenge) = rejection.www_authenticate() {
                let challenge = challenge.to_str().expect("ascii").to_ascii_lowercase(); // infallible: challenges are built from quotable (ASCII) text
                                                                                         // One challenge per scheme offered, each naming its parameters once.
                let schemes = if scheme == Scheme::Both { 2 } else { 1 };
                for key in [" scope=", " error=", " resource_metadata="] {
                    assert!(
                        challenge.matches(key).count() <= schemes,
                        "{error:?}: {key} repeated in {challenge}"
                    );
                }
                assert!(!challenge.contains("evil\""), "{challenge}");
            }
            checked += 1;
        }
    }
    assert!(checked > 150, "{checked}");
}
