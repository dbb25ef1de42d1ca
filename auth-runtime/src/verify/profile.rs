//! The issuer profile's rules in the verification path: the audience rule and the vendor
//! checks, read from the settings (data), never from a vendor name.

use serde_json::{Map, Value};

use super::error::VerifyError;
use super::registered::Registered;
use crate::config::{AudienceRule, Settings};

/// Keycloak: payload `typ` `ID`.
pub(super) const KEYCLOAK_ID_TOKEN: &str =
    "this is a Keycloak ID token (typ `ID`): send the access token instead";
/// Keycloak: payload `typ` other than `Bearer` / `DPoP` (a refresh or logout token).
pub(super) const KEYCLOAK_TYP: &str =
    "the token is not a Keycloak access token (its typ is not `Bearer`): send the access token";
/// Cognito: `token_use` `id`.
pub(super) const COGNITO_ID_TOKEN: &str =
    "this is a Cognito ID token (token_use `id`): send the access token instead";
/// Cognito: `token_use` missing or not `access`.
pub(super) const COGNITO_TOKEN_USE: &str =
    "the token is not a Cognito access token (token_use is not `access`)";
/// Entra: a payload `nonce` (an ID token whose `aud` is the API's own application).
pub(super) const ENTRA_ID_TOKEN: &str =
    "this is an Entra ID token (it has a nonce): send the access token requested for the API's scope";
/// Firebase: `sub` empty, too long or not a string.
pub(super) const FIREBASE_SUBJECT: &str =
    "the token's subject (sub) must be a non-empty string of at most 128 characters";
/// Firebase: no `kid`.
pub(super) const FIREBASE_KID: &str =
    "the token has no key id (kid), which Firebase ID tokens always have";
/// Firebase: the Identity Platform tenant is not the configured one.
pub(super) const FIREBASE_TENANT: &str =
    "the token's Identity Platform tenant (firebase.tenant) is not accepted";

/// The audience rule: `aud`, a claim standing for it, or either.
pub(super) fn check_audience(
    settings: &Settings,
    claims: &Registered<'_>,
    map: Option<&Map<String, Value>>,
) -> Result<(), VerifyError> {
    let accepted = |value: &str| settings.audiences.iter().any(|a| a == value);
    let substitute = |name: &str| -> Result<(), VerifyError> {
        match map.and_then(|m| m.get(name)).and_then(Value::as_str) {
            Some(value) if accepted(value) => Ok(()),
            _ => Err(VerifyError::ClaimNotAccepted {
                claim: name.to_owned(),
            }),
        }
    };
    match &settings.rules.audience {
        AudienceRule::Claim(name) => return substitute(name),
        AudienceRule::AudOrClaim(name) if claims.aud.is_none() => return substitute(name),
        _ => {}
    }
    let aud = claims
        .aud
        .as_ref()
        .ok_or(VerifyError::MissingClaim("aud"))?;
    if aud.0.iter().any(|a| accepted(a)) {
        return Ok(());
    }
    // A common mistake: the ID token goes to the API. Say so.
    Err(if claims.nonce.is_some() || claims.at_hash.is_some() {
        VerifyError::IdToken
    } else {
        settings
            .rules
            .missing_audience
            .map_or(VerifyError::WrongAudience, VerifyError::Profile)
    })
}

/// The vendor checks of the profile, on a verified token's claims.
pub(super) fn check_vendor(
    settings: &Settings,
    map: Option<&Map<String, Value>>,
    kid: Option<&str>,
) -> Result<(), VerifyError> {
    let checks = &settings.rules.checks;
    let Some(map) = map else {
        return Ok(());
    };
    let text = |name: &str| map.get(name).map(Value::as_str);
    if checks.keycloak_typ {
        match text("typ") {
            None => {}
            Some(Some(typ))
                if typ.eq_ignore_ascii_case("Bearer") || typ.eq_ignore_ascii_case("DPoP") => {}
            Some(Some(typ)) if typ.eq_ignore_ascii_case("ID") => {
                return Err(VerifyError::Profile(KEYCLOAK_ID_TOKEN))
            }
            Some(_) => return Err(VerifyError::Profile(KEYCLOAK_TYP)),
        }
    }
    if checks.no_nonce && map.contains_key("nonce") {
        return Err(VerifyError::Profile(ENTRA_ID_TOKEN));
    }
    if checks.token_use_access {
        match text("token_use") {
            Some(Some("access")) => {}
            Some(Some("id")) => return Err(VerifyError::Profile(COGNITO_ID_TOKEN)),
            _ => return Err(VerifyError::Profile(COGNITO_TOKEN_USE)),
        }
    }
    if let Some(tenant) = &checks.firebase {
        if kid.is_none_or(str::is_empty) {
            return Err(VerifyError::Profile(FIREBASE_KID));
        }
        match text("sub") {
            Some(Some(sub)) if !sub.is_empty() && sub.chars().count() <= 128 => {}
            _ => return Err(VerifyError::Profile(FIREBASE_SUBJECT)),
        }
        let claimed = map
            .get("firebase")
            .and_then(|f| f.get("tenant"))
            .map(Value::as_str);
        let fits = match (tenant, claimed) {
            (None, None) => true,
            (Some(tenant), Some(Some(claimed))) => tenant == claimed,
            _ => false,
        };
        if !fits {
            return Err(VerifyError::Profile(FIREBASE_TENANT));
        }
    }
    Ok(())
}
