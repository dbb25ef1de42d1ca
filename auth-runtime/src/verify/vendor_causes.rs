//! The likely causes of a failed check under an issuer profile other than Auth0, each with its
//! fix in that vendor's words (Keycloak's audience mapper, Entra's `accessTokenAcceptedVersion`,
//! Cognito's ID token, Okta's org authorization server, Firebase's project).

use serde_json::Value;

use super::causes::cause;
use super::diagnose::TokenReport;
use super::diagnosis::Cause;
use super::Authenticator;
use crate::config::IssuerProfile;

impl Authenticator {
    /// The vendor's cause for a failed `iss` check of a token that has one (Okta's org server,
    /// an Entra tenant, another Firebase project), in place of the Auth0 wording.
    pub(super) fn vendor_issuer_cause(&self, iss: &str, report: &TokenReport) -> Option<Cause> {
        match self.inner.settings.rules.profile {
            IssuerProfile::Okta if !iss.contains("/oauth2/") => Some(cause(
                "okta_org_server",
                format!("the token comes from the Okta org authorization server (`{iss}`): its access tokens are for Okta's own APIs and cannot be validated by yours"),
                "request tokens from a custom authorization server (`https://{your-org}.okta.com/oauth2/default`, or one you create under Security, API) and set OKTA_ISSUER to it",
            )),
            IssuerProfile::Entra => {
                let tid = report.claim("tid").and_then(Value::as_str).unwrap_or("(none)");
                Some(cause(
                    "entra_tenant",
                    format!("the token's issuer `{iss}` (tenant `tid` {tid}) is not accepted: a token's issuer must be its own tenant's, and the tenant must be allowed"),
                    "for a multi-tenant API, add the tenant ID to ENTRA_TENANTS (or `*` for every tenant); for one tenant, point ENTRA_TENANT_ID at the tenant that issues the tokens",
                ))
            }
            IssuerProfile::Firebase => Some(cause(
                "firebase_project",
                format!("the token was issued for another Firebase project (`{iss}`)"),
                "sign in to the Firebase project this API serves, or set FIREBASE_PROJECT_ID to the project your app uses",
            )),
            _ => None,
        }
    }

    /// Vendor causes for failed `aud` and `profile` checks; `true` when they explain the
    /// audience failure (the Auth0 wording is then left out).
    pub(super) fn vendor_causes(&self, report: &TokenReport, causes: &mut Vec<Cause>) -> bool {
        let settings = &self.inner.settings;
        let profile = settings.rules.profile;
        let expected = settings.audiences.join(", ");
        let text = |name: &str| report.claim(name).and_then(Value::as_str);
        let mut explained_audience = false;
        match profile {
            IssuerProfile::Keycloak if report.failed("aud") && text("nonce").is_none() => {
                let auds = report.audiences();
                causes.push(cause(
                    "keycloak_audience_mapper",
                    format!(
                        "the token's audience is {}: Keycloak puts only `account` (the account console) in `aud` unless an Audience mapper adds the API",
                        match auds.is_empty() {
                            true => "empty".to_owned(),
                            false => auds.join(", "),
                        }
                    ),
                    format!("in the Keycloak admin console, open the client that requests the token: Client scopes, its dedicated scope, Add mapper, By configuration, Audience, with Included Client Audience (or Custom Audience) `{expected}`"),
                ));
                explained_audience = true;
            }
            IssuerProfile::Entra if report.failed("aud") && text("ver") == Some("1.0") => {
                causes.push(cause(
                    "entra_v1_token",
                    format!(
                        "the token is an Entra ID v1.0 token (issuer sts.windows.net), whose `aud` is {}; this API accepts {expected}",
                        report.audiences().join(", ")
                    ),
                    "set `accessTokenAcceptedVersion` to 2 in the API's app registration manifest (Entra admin center, App registrations, Manifest), so tokens carry the application (client) ID; or add the App ID URI (`api://...`) to AUTH0_AUDIENCE",
                ));
                explained_audience = true;
            }
            IssuerProfile::Cognito if report.failed("aud") => {
                let client = text("client_id");
                causes.push(cause(
                    if text("token_use") == Some("id") { "cognito_id_token" } else { "cognito_app_client" },
                    match (text("token_use"), client) {
                        (Some("id"), _) => "this is a Cognito ID token (`token_use: id`, the app client in `aud`), not an access token".to_owned(),
                        (_, Some(client)) => format!("the token's app client (`client_id`) {client} is not one of {expected}"),
                        (_, None) => "the token has no `client_id`: Cognito access tokens name their app client there".to_owned(),
                    },
                    "send the `access_token` of the Cognito token response; list every app client ID that may call the API in AUTH0_AUDIENCE (or COGNITO_APP_CLIENT_IDS), comma-separated",
                ));
                explained_audience = true;
            }
            IssuerProfile::Firebase if report.failed("aud") => {
                causes.push(cause(
                    "firebase_project",
                    format!(
                        "the token is for the Firebase project {}, not {expected}",
                        report.audiences().join(", ")
                    ),
                    "sign in to the Firebase project this API serves, or set FIREBASE_PROJECT_ID (or AUTH0_AUDIENCE) to the project ID in your app's Firebase config",
                ));
                explained_audience = true;
            }
            _ => {}
        }
        if report.failed("profile") {
            let why = report
                .findings
                .iter()
                .find(|f| f.check == "profile")
                .and_then(|f| f.actual.clone())
                .unwrap_or_default();
            let (id, fix) = match profile {
                IssuerProfile::Keycloak if text("typ") == Some("ID") => (
                    "keycloak_id_token",
                    "send the `access_token` of the Keycloak token response, not the `id_token`",
                ),
                IssuerProfile::Keycloak => (
                    "keycloak_token_type",
                    "send the `access_token` (payload `typ` Bearer), not a refresh or logout token",
                ),
                IssuerProfile::Entra => (
                    "entra_id_token",
                    "send the access token MSAL returns for the API's scope (`api://.../access_as_user`), not the ID token",
                ),
                IssuerProfile::Cognito if text("token_use") == Some("id") => (
                    "cognito_id_token",
                    "send the `access_token` of the Cognito token response, not the `id_token`",
                ),
                IssuerProfile::Cognito => (
                    "cognito_token_use",
                    "send a Cognito access token (`token_use: access`)",
                ),
                IssuerProfile::Firebase if why == super::profile::FIREBASE_TENANT => (
                    "firebase_tenant",
                    "set FIREBASE_TENANT to the Identity Platform tenant whose users call this API, or sign the user in to the project itself (no tenant)",
                ),
                IssuerProfile::Firebase => (
                    "firebase_token",
                    "send the ID token Firebase Authentication minted (`getIdToken()`), unchanged",
                ),
                _ => (
                    "profile",
                    "send an access token of the configured issuer, as it issued it",
                ),
            };
            causes.push(cause(id, why, fix));
        }
        explained_audience
    }
}
