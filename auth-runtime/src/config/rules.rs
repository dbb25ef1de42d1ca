//! The token rules an issuer profile resolves to at start-up: which issuers share the key set,
//! the audience rule, the vendor's extra checks and where authorization data lives. `verify`
//! applies them in the one verification path; nothing here knows HTTP.

use reqwest::Url;
use serde_json::Value;

use super::error::{invalid, ConfigError};
use super::locations::{ClaimLocation, ClaimLocations};
use super::options::Algorithm;
use super::profile::{AudienceRule, IssuerProfile, IssuerTemplate, Tenants};
use super::settings::IssuerSource;

/// Keycloak: a token whose `aud` lacks the API (only `account`, the account console's).
const KEYCLOAK_AUDIENCE: &str = "the token's audience (aud) does not include this API: in Keycloak, add an Audience mapper for this API to the client scope of the client that requests the token";

/// Entra's multi-tenant placeholder, in its discovery document and in the v1 issuer form.
const ENTRA_PLACEHOLDER: &str = "{tenantid}";

/// The validated rules of the profile.
#[derive(Debug, Clone, Default)]
pub(crate) struct TokenRules {
    pub(crate) profile: IssuerProfile,
    /// Issuers accepted with the key set beside the discovered one (may hold the placeholder).
    pub(crate) also_issuers: Vec<String>,
    pub(crate) template: Option<Template>,
    pub(crate) audience: AudienceRule,
    /// How a token whose `aud` lacks the API is refused, when the vendor has words for it.
    pub(crate) missing_audience: Option<&'static str>,
    pub(crate) checks: Checks,
    pub(crate) locations: ClaimLocations,
}

/// A validated [`IssuerTemplate`].
#[derive(Debug, Clone)]
pub(crate) struct Template {
    pub(crate) placeholder: String,
    pub(crate) claim: String,
    /// `None`: any value.
    pub(crate) allowed: Option<Vec<String>>,
}

/// The vendor checks beyond the registered claims.
#[derive(Debug, Clone, Default)]
pub(crate) struct Checks {
    /// Keycloak: the payload `typ` is `Bearer` or `DPoP` when present (`ID` is an ID token).
    pub(crate) keycloak_typ: bool,
    /// Cognito: `token_use` is `access`.
    pub(crate) token_use_access: bool,
    /// Entra: no payload `nonce` (an ID token; access tokens for an API never carry one there).
    pub(crate) no_nonce: bool,
    /// Firebase: `sub` of 1 to 128 characters, a `kid`, and `firebase.tenant` equal to this
    /// (`None`: a token with a tenant is refused).
    pub(crate) firebase: Option<Option<String>>,
}

impl TokenRules {
    /// Whether the verification path needs every claim as JSON (a template value, an audience
    /// substitute, a vendor check): Auth0's rules need none.
    pub(crate) fn needs_claims_map(&self) -> bool {
        self.template.is_some()
            || self.audience != AudienceRule::Aud
            || self.checks.keycloak_typ
            || self.checks.token_use_access
            || self.checks.no_nonce
            || self.checks.firebase.is_some()
    }

    /// Whether `iss` is an issuer of the key set whose discovered issuer is `set_issuer`:
    /// exactly it or one of the also-accepted issuers, with a template's placeholder replaced by
    /// the value of the token's own template claim (which must be allowed), looked up in the
    /// token's claims with `claim`.
    pub(crate) fn issuer_matches<'v>(
        &self,
        set_issuer: &str,
        iss: &str,
        claim: &dyn Fn(&str) -> Option<&'v Value>,
    ) -> bool {
        let candidates =
            std::iter::once(set_issuer).chain(self.also_issuers.iter().map(String::as_str));
        match &self.template {
            None => candidates.into_iter().any(|c| c == iss),
            Some(template) => {
                let value = claim(&template.claim).and_then(Value::as_str);
                let Some(value) = value.filter(|v| template.value_allowed(v)) else {
                    return false;
                };
                candidates
                    .into_iter()
                    .any(|c| match c.split_once(template.placeholder.as_str()) {
                        Some((before, after)) => {
                            iss.len() == before.len() + value.len() + after.len()
                                && iss.starts_with(before)
                                && iss[before.len()..].starts_with(value)
                                && iss.ends_with(after)
                        }
                        None => c == iss,
                    })
            }
        }
    }
}

impl Template {
    /// One path segment, and allowed.
    pub(crate) fn value_allowed(&self, value: &str) -> bool {
        !value.is_empty()
            && !value
                .chars()
                .any(|c| matches!(c, '/' | '?' | '#' | '{' | '}' | '%') || c.is_control())
            && self
                .allowed
                .as_ref()
                .is_none_or(|allowed| allowed.iter().any(|a| a == value))
    }

    /// Whether a discovery document's `issuer` is this template for the configured `base`: the
    /// placeholder stands where the base has one path segment (`common`, `organizations`).
    pub(crate) fn matches_base(&self, issuer: &str, base: &str) -> bool {
        let (issuer, base) = (issuer.trim_end_matches('/'), base.trim_end_matches('/'));
        match issuer.split_once(self.placeholder.as_str()) {
            Some((before, after)) => {
                base.len() > before.len() + after.len()
                    && base.starts_with(before)
                    && base.ends_with(after)
                    && !base[before.len()..base.len() - after.len()].contains('/')
            }
            None => false,
        }
    }
}

/// What the builder says about the profile, taken out of it by `validate`.
pub(super) struct ProfileInput {
    pub(super) profile: Option<IssuerProfile>,
    pub(super) roles_claim: Option<String>,
    pub(super) roles: Option<Vec<ClaimLocation>>,
    pub(super) scopes: Option<Vec<ClaimLocation>>,
    pub(super) permissions: Option<Vec<ClaimLocation>>,
    pub(super) audience: Option<AudienceRule>,
    pub(super) also_issuers: Vec<String>,
    pub(super) template: Option<IssuerTemplate>,
    pub(super) entra_tenants: Option<Tenants>,
    pub(super) firebase_tenant: Option<String>,
}

/// Resolves the profile into rules, refusing what cannot work at start-up.
pub(super) fn resolve(
    input: ProfileInput,
    source: &IssuerSource,
    audiences: &[String],
    algorithms: &[Algorithm],
) -> Result<TokenRules, ConfigError> {
    let profile = input.profile.unwrap_or_default();
    let custom_issuers = input.template.is_some() || !input.also_issuers.is_empty();
    let base = match source {
        IssuerSource::Fixed { issuer, .. } => Some(issuer.as_str()),
        IssuerSource::Discover { base } => Some(base.as_str()),
        IssuerSource::Multi { .. } => None,
    };
    let Some(base) = base else {
        if profile != IssuerProfile::Auth0 || custom_issuers {
            return Err(invalid(
                "profile",
                "issuer profiles, templates and extra issuers work with one issuer: use `.issuer_base_url(..)` (AUTH0_ISSUER_BASE_URL), not several domains",
            ));
        }
        return Ok(TokenRules {
            locations: own_locations(&input, None)?,
            ..TokenRules::default()
        });
    };
    let mut rules = TokenRules {
        profile,
        also_issuers: input.also_issuers.clone(),
        audience: input.audience.clone().unwrap_or_default(),
        ..TokenRules::default()
    };
    let at = |text: &str| ClaimLocation::new(text);
    let profile_roles: Option<Vec<ClaimLocation>> = match profile {
        IssuerProfile::Auth0 => None,
        IssuerProfile::Keycloak => {
            rules.checks.keycloak_typ = true;
            rules.missing_audience = Some(KEYCLOAK_AUDIENCE);
            let mut roles = vec![at("/realm_access/roles")?];
            for audience in audiences {
                let escaped = audience.replace('~', "~0").replace('/', "~1");
                roles.push(at(&format!("/resource_access/{escaped}/roles"))?);
            }
            Some(roles)
        }
        IssuerProfile::Entra => {
            let first_segment = Url::parse(base)
                .ok()
                .and_then(|u| u.path_segments()?.next().map(str::to_owned))
                .unwrap_or_default();
            let multi = ["common", "organizations", "consumers"]
                .contains(&first_segment.to_ascii_lowercase().as_str());
            let allowed = match (&input.entra_tenants, multi) {
                (Some(Tenants::Only(list)), _) => {
                    if list.is_empty() || list.iter().any(String::is_empty) {
                        return Err(invalid("entra_tenants", "a tenant ID must not be empty"));
                    }
                    Some(list.clone())
                }
                (Some(Tenants::Any), _) => None,
                (None, true) => return Err(ConfigError::MissingEntraTenants),
                (None, false) => Some(vec![first_segment]),
            };
            rules.template = Some(Template {
                placeholder: ENTRA_PLACEHOLDER.to_owned(),
                claim: "tid".to_owned(),
                allowed,
            });
            rules
                .also_issuers
                .push(format!("https://sts.windows.net/{ENTRA_PLACEHOLDER}/"));
            rules.checks.no_nonce = true;
            Some(vec![at("roles")?])
        }
        IssuerProfile::Cognito => {
            rules.checks.token_use_access = true;
            if input.audience.is_none() {
                rules.audience = AudienceRule::Claim("client_id".to_owned());
            }
            Some(vec![at("cognito:groups")?])
        }
        IssuerProfile::Okta => {
            let org_server = Url::parse(base)
                .map(|u| !u.path().split('/').any(|s| s == "oauth2"))
                .unwrap_or(false);
            if org_server {
                return Err(ConfigError::OktaOrgServer {
                    url: base.to_owned(),
                });
            }
            Some(vec![at("groups")?])
        }
        IssuerProfile::Firebase => {
            if algorithms != [Algorithm::RS256] {
                return Err(invalid(
                    "algorithms",
                    "Firebase signs ID tokens with RS256 only: leave AUTH0_ALGORITHMS / `.algorithms(..)` unset",
                ));
            }
            rules.checks.firebase = Some(input.firebase_tenant.clone());
            Some(vec![at("roles")?])
        }
    };
    if profile != IssuerProfile::Entra && input.entra_tenants.is_some() {
        return Err(invalid(
            "entra_tenants",
            "ENTRA_TENANTS / `.entra_tenants(..)` needs the Entra profile (ISSUER_PROFILE=entra)",
        ));
    }
    if profile != IssuerProfile::Firebase && input.firebase_tenant.is_some() {
        return Err(invalid(
            "firebase_tenant",
            "FIREBASE_TENANT / `.firebase_tenant(..)` needs the Firebase profile (ISSUER_PROFILE=firebase)",
        ));
    }
    if let Some(template) = &input.template {
        if rules.template.is_some() {
            return Err(invalid(
                "issuer_template",
                "the Entra profile has its own tenant template: name the tenants with ENTRA_TENANTS / `.entra_tenants(..)`",
            ));
        }
        let allowed = template.allowed.clone().ok_or_else(|| {
            invalid(
                "issuer_template",
                "say which values are accepted with `.allow([..])`, or `.allow_any()` to accept every one",
            )
        })?;
        if template.placeholder.len() < 3
            || !template.placeholder.starts_with('{')
            || !template.placeholder.ends_with('}')
            || template.claim.is_empty()
        {
            return Err(invalid(
                "issuer_template",
                "the placeholder is written with its braces (`{tenantid}`) and the claim is named",
            ));
        }
        rules.template = Some(Template {
            placeholder: template.placeholder.clone(),
            claim: template.claim.clone(),
            allowed,
        });
    }
    if let AudienceRule::AudOrClaim(claim) | AudienceRule::Claim(claim) = &rules.audience {
        if claim.is_empty() {
            return Err(invalid(
                "audience_rule",
                "name the claim that stands for `aud`",
            ));
        }
    }
    rules.locations = own_locations(&input, profile_roles)?;
    Ok(rules)
}

/// The locations: the builder's own, else the profile's.
fn own_locations(
    input: &ProfileInput,
    profile_roles: Option<Vec<ClaimLocation>>,
) -> Result<ClaimLocations, ConfigError> {
    let roles =
        match (&input.roles, &input.roles_claim) {
            (Some(_), Some(_)) => return Err(invalid(
                "roles_claim",
                "both `.roles_claim(..)` (ROLES_CLAIM) and `.roles_from(..)` are set: choose one",
            )),
            (Some(locations), None) => Some(locations.clone()),
            (None, Some(claim)) => Some(vec![ClaimLocation::new(claim)?]),
            (None, None) => profile_roles,
        };
    Ok(ClaimLocations {
        roles,
        scopes: input.scopes.clone(),
        permissions: input.permissions.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entra(allowed: Option<Vec<String>>) -> TokenRules {
        TokenRules {
            template: Some(Template {
                placeholder: ENTRA_PLACEHOLDER.into(),
                claim: "tid".into(),
                allowed,
            }),
            also_issuers: vec!["https://sts.windows.net/{tenantid}/".into()],
            ..TokenRules::default()
        }
    }

    #[test]
    fn template_issuers_take_the_tokens_own_tenant() {
        let set = "https://login.microsoftonline.com/{tenantid}/v2.0";
        // The token's `tid`, looked up as the verifier does.
        let accepted = |rules: &TokenRules, iss: &str, tid: Option<&str>| {
            let tid = tid.map(|t| Value::String(t.to_owned()));
            rules.issuer_matches(set, iss, &|name| tid.as_ref().filter(|_| name == "tid"))
        };
        let rules = entra(Some(vec!["t1".into()]));
        assert!(accepted(
            &rules,
            "https://login.microsoftonline.com/t1/v2.0",
            Some("t1")
        ));
        assert!(accepted(&rules, "https://sts.windows.net/t1/", Some("t1")));
        // Another tenant's issuer with this tenant's `tid`, and a tenant not allowed.
        assert!(!accepted(
            &rules,
            "https://login.microsoftonline.com/t2/v2.0",
            Some("t1")
        ));
        assert!(!accepted(
            &rules,
            "https://login.microsoftonline.com/t2/v2.0",
            Some("t2")
        ));
        assert!(!accepted(
            &rules,
            "https://login.microsoftonline.com/t1/v2.0",
            None
        ));
        let any = entra(None);
        assert!(accepted(
            &any,
            "https://login.microsoftonline.com/t9/v2.0",
            Some("t9")
        ));
        assert!(!accepted(
            &any,
            "https://login.microsoftonline.com/a/b/v2.0",
            Some("a/b")
        ));
        assert!(!accepted(
            &any,
            "https://login.microsoftonline.com//v2.0",
            Some("")
        ));
        let template = any.template.unwrap_or_else(|| unreachable!());
        assert!(template.matches_base(set, "https://login.microsoftonline.com/common/v2.0"));
        assert!(!template.matches_base(set, "https://login.microsoftonline.com/a/b/v2.0"));
        assert!(!template.matches_base(set, "https://evil.example/common/v2.0"));
    }
}
