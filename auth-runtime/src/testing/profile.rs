//! The shapes of each issuer profile's tokens, for a [`TestIssuer`](super::TestIssuer) started
//! with [`start_for`](super::TestIssuer::start_for): where the vendor puts its issuer, scopes and
//! roles, and the claims its access tokens always carry.

use serde_json::{json, Map, Value};

use super::{TEST_AUDIENCE, TEST_PROJECT, TEST_ROLES_CLAIM, TEST_TENANT};
use crate::config::{AuthenticatorBuilder, IssuerProfile};
use crate::verify::Authenticator;

/// The issuer's path, as the vendor forms it.
pub(super) fn path(profile: IssuerProfile) -> String {
    match profile {
        IssuerProfile::Keycloak => "/realms/route-guard".to_owned(),
        IssuerProfile::Entra => format!("/{TEST_TENANT}/v2.0"),
        IssuerProfile::Cognito => "/us-east-1_RouteGuard".to_owned(),
        IssuerProfile::Okta => "/oauth2/default".to_owned(),
        IssuerProfile::Firebase => format!("/{TEST_PROJECT}"),
        _ => "/".to_owned(),
    }
}

/// The audience the profile's tokens carry (or, for Cognito, their `client_id`).
pub(super) fn audience(profile: IssuerProfile) -> &'static str {
    match profile {
        IssuerProfile::Firebase => TEST_PROJECT,
        _ => TEST_AUDIENCE,
    }
}

/// A builder for `issuer` with the profile and its audience.
pub(super) fn builder(issuer: &str, profile: IssuerProfile) -> AuthenticatorBuilder {
    let builder = Authenticator::builder()
        .issuer_base_url(issuer)
        .audience(audience(profile));
    match profile {
        IssuerProfile::Auth0 => builder.roles_claim(TEST_ROLES_CLAIM),
        profile => builder.profile(profile),
    }
}

/// Turns the Auth0-shaped claims and header of a new token into the vendor's.
pub(super) fn shape(
    profile: IssuerProfile,
    header: &mut Map<String, Value>,
    claims: &mut Map<String, Value>,
) {
    // Cognito's and Okta's headers have only `alg` and `kid`; Cognito's access tokens no `aud`.
    if matches!(profile, IssuerProfile::Cognito | IssuerProfile::Okta) {
        header.remove("typ");
    }
    if profile == IssuerProfile::Cognito {
        claims.remove("aud");
    }
    let mut set = |name: &str, value: Value| {
        claims.insert(name.to_owned(), value);
    };
    match profile {
        IssuerProfile::Keycloak => {
            set("typ", json!("Bearer"));
            set("azp", json!("route-guard-test"));
            set("sub", json!("8f1c2e3d-0d4a-4b0e-9d57-2f5f3c1a9b10"));
        }
        IssuerProfile::Entra => {
            set("tid", json!(TEST_TENANT));
            set("ver", json!("2.0"));
            set("azp", json!("c44b4083-3bb0-49c1-b47d-974e53cbdf3c"));
            set("oid", json!("690222be-ff1a-4d56-abd1-7e4f7d38e474"));
            set("sub", json!("HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ"));
        }
        IssuerProfile::Cognito => {
            set("token_use", json!("access"));
            set("client_id", json!(TEST_AUDIENCE));
            set("sub", json!("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"));
            set("version", json!(2));
        }
        IssuerProfile::Okta => {
            set("ver", json!(1));
            set("cid", json!("0oaosna3ilNxgPTmk0h7"));
            set("sub", json!("test.user@route-guard.test"));
        }
        IssuerProfile::Firebase => {
            set("aud", json!(TEST_PROJECT));
            set("sub", json!("kq3ZJ1tVbAe0Rb5nUx2WcLhQpY83"));
            set("firebase", json!({ "sign_in_provider": "password" }));
        }
        _ => {}
    }
}

/// Where the profile's tokens carry scopes, and in which form.
pub(super) fn scopes(profile: IssuerProfile, scopes: &str) -> (&'static str, Value) {
    match profile {
        IssuerProfile::Entra => ("scp", json!(scopes)),
        IssuerProfile::Okta => (
            "scp",
            json!(scopes
                .split(' ')
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()),
        ),
        _ => ("scope", json!(scopes)),
    }
}

/// Sets the roles where the profile's tokens carry them.
pub(super) fn roles(profile: IssuerProfile, claims: &mut Map<String, Value>, roles: Vec<&str>) {
    let name = match profile {
        IssuerProfile::Keycloak => {
            claims.insert("realm_access".to_owned(), json!({ "roles": roles }));
            return;
        }
        IssuerProfile::Entra | IssuerProfile::Firebase => "roles",
        IssuerProfile::Cognito => "cognito:groups",
        IssuerProfile::Okta => "groups",
        _ => TEST_ROLES_CLAIM,
    };
    claims.insert(name.to_owned(), json!(roles));
}
