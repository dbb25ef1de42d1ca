//! Issuer profiles: what differs between Auth0, Keycloak, Entra ID, Cognito, Okta and Firebase
//! tokens, as data ([`IssuerProfile`]), and the generic settings the profiles are made of (claim
//! locations, the audience rule, several issuers, an issuer template, a fixed JWKS URL).

use std::fmt;
use std::str::FromStr;

use super::error::ConfigError;
use super::locations::ClaimLocation;
use super::AuthenticatorBuilder;

/// The kind of issuer whose tokens an API accepts: it fixes the issuer form, the audience rule,
/// where scopes and roles live and the vendor's extra checks. A handler written for Auth0 works
/// unchanged under every profile.
///
/// | profile | audience | roles | scopes | extra checks |
/// |---|---|---|---|---|
/// | `auth0` (default) | `aud` | [`roles_claim`](AuthenticatorBuilder::roles_claim) | `scope`, `scp` | none |
/// | `keycloak` | `aud` (an audience mapper adds the API) | `realm_access.roles`, `resource_access.<audience>.roles` | `scope` | payload `typ` is `Bearer` or `DPoP` (an ID token's `ID` is refused) |
/// | `entra` | `aud`: the application (client) ID or App ID URI | `roles` | `scp` | `iss` is the tenant's v2 or v1 issuer built from the token's own `tid`; `tid` allowed |
/// | `cognito` | `client_id` is an app client ID (`aud` not used) | `cognito:groups` | `scope` | `token_use` is `access` |
/// | `okta` | `aud` (such as `api://default`) | `groups` | `scp` | a custom authorization server only |
/// | `firebase` | `aud` is the project ID | `roles` | none | RS256 only, `kid` present, `sub` of 1 to 128 characters, `firebase.tenant` |
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::{Authenticator, IssuerProfile};
///
/// let auth = Authenticator::builder()
///     .issuer_base_url("https://sso.example.com/realms/acme")
///     .profile(IssuerProfile::Keycloak)
///     .audience("orders-api")
///     .build()?;
/// assert_eq!(auth.profile(), IssuerProfile::Keycloak);
/// assert_eq!("entra".parse::<IssuerProfile>()?, IssuerProfile::Entra);
/// # Ok::<(), route_guard::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IssuerProfile {
    /// Auth0 (the default): today's rules.
    #[default]
    Auth0,
    /// Keycloak 17 and later: a realm's tokens.
    Keycloak,
    /// Microsoft Entra ID (v1 and v2 access tokens, one tenant or several).
    Entra,
    /// Amazon Cognito user pools.
    Cognito,
    /// Okta custom authorization servers.
    Okta,
    /// Firebase Authentication and Google Identity Platform ID tokens.
    Firebase,
}

impl IssuerProfile {
    /// Every profile, in the order of the documentation.
    pub const ALL: [IssuerProfile; 6] = [
        IssuerProfile::Auth0,
        IssuerProfile::Keycloak,
        IssuerProfile::Entra,
        IssuerProfile::Cognito,
        IssuerProfile::Okta,
        IssuerProfile::Firebase,
    ];

    /// The name `ISSUER_PROFILE` takes: `auth0`, `keycloak`, `entra`, `cognito`, `okta`,
    /// `firebase`.
    pub fn as_str(self) -> &'static str {
        match self {
            IssuerProfile::Auth0 => "auth0",
            IssuerProfile::Keycloak => "keycloak",
            IssuerProfile::Entra => "entra",
            IssuerProfile::Cognito => "cognito",
            IssuerProfile::Okta => "okta",
            IssuerProfile::Firebase => "firebase",
        }
    }
}

impl fmt::Display for IssuerProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IssuerProfile {
    type Err = ConfigError;

    fn from_str(value: &str) -> Result<Self, ConfigError> {
        let trimmed = value.trim();
        IssuerProfile::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(trimmed))
            .ok_or_else(|| ConfigError::UnknownProfile {
                value: trimmed.chars().take(64).collect(),
            })
    }
}

/// How a token shows it is meant for this API.
///
/// An audience-less rule is never the default: choosing a substitute is explicit.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::{AudienceRule, Authenticator};
///
/// // Clerk session tokens have no `aud`: the authorized party (`azp`) must be one of ours.
/// let auth = Authenticator::builder()
///     .issuer_base_url("https://clerk.example.com")
///     .audience("https://app.example.com")
///     .audience_rule(AudienceRule::claim("azp"))
///     .build()?;
/// # let _ = auth;
/// # Ok::<(), route_guard::ConfigError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AudienceRule {
    /// `aud` (a string or an array) holds a configured audience (the default).
    #[default]
    Aud,
    /// `aud` holds a configured audience, or, when the token has no `aud`, the named claim
    /// (`client_id` or `azp`) is one of the configured audiences.
    AudOrClaim(String),
    /// The named claim (a string) is one of the configured audiences; `aud` is not consulted
    /// (Cognito access tokens: `client_id` is the app client).
    Claim(String),
}

impl AudienceRule {
    /// [`AudienceRule::Claim`]: the named claim stands for `aud`.
    pub fn claim(name: impl Into<String>) -> Self {
        AudienceRule::Claim(name.into())
    }

    /// [`AudienceRule::AudOrClaim`]: `aud`, or the named claim when there is no `aud`.
    pub fn aud_or_claim(name: impl Into<String>) -> Self {
        AudienceRule::AudOrClaim(name.into())
    }
}

/// An issuer whose identifier varies with a claim of the token, like Entra's multi-tenant
/// `https://login.microsoftonline.com/{tenantid}/v2.0`: a token's `iss` must equal the template
/// with the value of its own claim (`tid`) put in, and that value must be allowed.
///
/// The template is the issuer the discovery document names (a document whose `issuer` has the
/// placeholder where the configured URL has one path segment is accepted), and each issuer of
/// [`also_accept_issuers`](AuthenticatorBuilder::also_accept_issuers) may hold the placeholder
/// too. A value is one path segment: empty values and values with `/`, `?`, `#` or braces are
/// refused.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::{Authenticator, IssuerTemplate};
///
/// let auth = Authenticator::builder()
///     .issuer_base_url("https://login.example.com/common")
///     .issuer_template(IssuerTemplate::new("{tenant}", "tenant_id").allow(["acme", "globex"]))
///     .audience("api://orders")
///     .build()?;
/// # let _ = auth;
/// # Ok::<(), route_guard::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerTemplate {
    pub(crate) placeholder: String,
    pub(crate) claim: String,
    /// `None` before `allow`/`allow_any`; `Some(None)` for any value.
    pub(crate) allowed: Option<Option<Vec<String>>>,
}

impl IssuerTemplate {
    /// A template whose `placeholder` (with its braces, `{tenantid}`) is filled from `claim`.
    /// Say which values are allowed with [`allow`](Self::allow) or
    /// [`allow_any`](Self::allow_any): without one, `build()` fails.
    pub fn new(placeholder: impl Into<String>, claim: impl Into<String>) -> Self {
        IssuerTemplate {
            placeholder: placeholder.into(),
            claim: claim.into(),
            allowed: None,
        }
    }

    /// Only these values (tenant IDs) are accepted.
    pub fn allow<I, S>(mut self, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed = Some(Some(values.into_iter().map(Into::into).collect()));
        self
    }

    /// Any value is accepted (a multi-tenant API open to every tenant): an explicit choice.
    pub fn allow_any(mut self) -> Self {
        self.allowed = Some(None);
        self
    }
}

/// Entra tenants a multi-tenant API accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tenants {
    Only(Vec<String>),
    Any,
}

impl AuthenticatorBuilder {
    /// The issuer profile (default [`IssuerProfile::Auth0`]); also `ISSUER_PROFILE`. Point the
    /// builder at the issuer with [`issuer_base_url`](Self::issuer_base_url), or use the
    /// profile's own constructor ([`keycloak`](Self::keycloak), [`entra`](Self::entra),
    /// [`cognito`](Self::cognito), [`okta`](Self::okta), [`firebase`](Self::firebase)).
    pub fn profile(mut self, profile: IssuerProfile) -> Self {
        self.profile = Some(profile);
        self
    }

    /// A Keycloak realm: `https://{host}/realms/{realm}` (the frontend URL the tokens' `iss`
    /// carries). Add the API's audience with [`audience`](Self::audience) (the client an
    /// Audience mapper adds to `aud`).
    pub fn keycloak(self, realm_url: impl Into<String>) -> Self {
        self.issuer_base_url(realm_url)
            .profile(IssuerProfile::Keycloak)
    }

    /// A Microsoft Entra ID tenant, by its directory (tenant) ID (a GUID: the discovery document
    /// of a domain name names the GUID, which would not match), or `common` /
    /// `organizations` for a multi-tenant API (then name the tenants with
    /// [`entra_tenants`](Self::entra_tenants) or open it with
    /// [`entra_any_tenant`](Self::entra_any_tenant)). The audience is the application (client)
    /// ID and/or the App ID URI (`api://...`). Tokens of the v2.0 endpoint
    /// (`https://login.microsoftonline.com/{tid}/v2.0`) and of the v1.0 one
    /// (`https://sts.windows.net/{tid}/`) are both accepted.
    pub fn entra(self, tenant: impl Into<String>) -> Self {
        let tenant = tenant.into();
        self.issuer_base_url(format!(
            "https://login.microsoftonline.com/{}/v2.0",
            tenant.trim()
        ))
        .profile(IssuerProfile::Entra)
    }

    /// The tenants (`tid`) a multi-tenant Entra API accepts; also `ENTRA_TENANTS`
    /// (comma-separated).
    pub fn entra_tenants<I, S>(mut self, tenants: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.entra_tenants = Some(Tenants::Only(
            tenants
                .into_iter()
                .map(|t| t.into().trim().to_owned())
                .collect(),
        ));
        self
    }

    /// A multi-tenant Entra API that accepts every tenant (`ENTRA_TENANTS=*`). Authorize by
    /// `tid` in your handlers then: any Entra tenant can get tokens for a multi-tenant app.
    pub fn entra_any_tenant(mut self) -> Self {
        self.entra_tenants = Some(Tenants::Any);
        self
    }

    /// An Amazon Cognito user pool: `region` such as `eu-west-1`, `user_pool_id` such as
    /// `eu-west-1_AbC123xyz`. The audiences are the pool's app client IDs: an access token's
    /// `client_id` must be one of them. Tokens of the pool's original issuer
    /// (`https://cognito-idp.{region}.amazonaws.com/{pool}`) and of its updated one
    /// (`https://issuer-cognito-idp.{region}.amazonaws.com/{pool}`) are accepted.
    pub fn cognito(mut self, region: impl Into<String>, user_pool_id: impl Into<String>) -> Self {
        let (region, pool) = (region.into(), user_pool_id.into());
        let (region, pool) = (region.trim(), pool.trim());
        let plain = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if !plain(region) || !plain(pool) {
            self.profile_error = Some(super::error::invalid(
                "cognito",
                "the region (such as `eu-west-1`) and user pool ID (such as `eu-west-1_AbC123xyz`) hold only letters, digits, `-` and `_`",
            ));
        }
        self.also_issuers.push(format!(
            "https://issuer-cognito-idp.{region}.amazonaws.com/{pool}"
        ));
        self.issuer_base_url(format!("https://cognito-idp.{region}.amazonaws.com/{pool}"))
            .profile(IssuerProfile::Cognito)
    }

    /// An Okta custom authorization server: `https://{org}.okta.com/oauth2/default` or
    /// `https://{org}.okta.com/oauth2/{authorizationServerId}`. The org authorization server
    /// (`https://{org}.okta.com`) is refused: its access tokens are for Okta's own APIs.
    pub fn okta(self, authorization_server: impl Into<String>) -> Self {
        self.issuer_base_url(authorization_server)
            .profile(IssuerProfile::Okta)
    }

    /// A Firebase (or Identity Platform) project: the issuer is
    /// `https://securetoken.google.com/{project_id}` and the audience the project ID.
    pub fn firebase(self, project_id: impl Into<String>) -> Self {
        let project = project_id.into();
        let project = project.trim();
        self.issuer_base_url(format!("https://securetoken.google.com/{project}"))
            .audience(project)
            .profile(IssuerProfile::Firebase)
    }

    /// The Identity Platform tenant whose users are accepted (`firebase.tenant`); also
    /// `FIREBASE_TENANT`. Without it, a token of any tenant is refused: only the project's own
    /// users pass.
    pub fn firebase_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.firebase_tenant = Some(tenant.into().trim().to_owned());
        self
    }

    /// Where roles live, replacing the profile's locations: several places are read and joined.
    /// [`roles_claim`](Self::roles_claim) is the one-location form.
    ///
    /// ```
    /// # extern crate auth_runtime as route_guard;
    /// use route_guard::{Authenticator, ClaimLocation};
    ///
    /// // Zitadel: the roles are the keys of a map.
    /// let auth = Authenticator::builder()
    ///     .issuer_base_url("https://acme.zitadel.cloud")
    ///     .audience("328859038248927902")
    ///     .roles_from([ClaimLocation::new("urn:zitadel:iam:org:project:roles")?.object_keys()])
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), route_guard::ConfigError>(())
    /// ```
    pub fn roles_from(mut self, locations: impl IntoIterator<Item = ClaimLocation>) -> Self {
        self.roles_locations = Some(locations.into_iter().collect());
        self
    }

    /// Where scopes live, replacing the default (`scope` and `scp`, each a space-separated
    /// string or an array).
    pub fn scopes_from(mut self, locations: impl IntoIterator<Item = ClaimLocation>) -> Self {
        self.scopes_locations = Some(locations.into_iter().collect());
        self
    }

    /// Where permissions live, replacing the default (`permissions`, Auth0's RBAC claim).
    pub fn permissions_from(mut self, locations: impl IntoIterator<Item = ClaimLocation>) -> Self {
        self.permissions_locations = Some(locations.into_iter().collect());
        self
    }

    /// How a token shows it is for this API (default [`AudienceRule::Aud`]; the profile may
    /// set another).
    pub fn audience_rule(mut self, rule: AudienceRule) -> Self {
        self.audience_rule = Some(rule);
        self
    }

    /// More issuers accepted with the same keys, beside the discovered one (Cognito's original
    /// and updated issuer, Google's `accounts.google.com` with and without the scheme). Compared
    /// exactly. An [`issuer_template`](Self::issuer_template)'s placeholder may appear in them.
    pub fn also_accept_issuers<I, S>(mut self, issuers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.also_issuers
            .extend(issuers.into_iter().map(Into::into));
        self
    }

    /// An issuer bound to a claim of the token: see [`IssuerTemplate`].
    pub fn issuer_template(mut self, template: IssuerTemplate) -> Self {
        self.issuer_template = Some(template);
        self
    }

    /// The JWKS URL, with no discovery: the issuer is then exactly the
    /// [`issuer_base_url`](Self::issuer_base_url) as given (WorkOS, whose discovery document
    /// names another issuer than its tokens; Google IAP).
    pub fn jwks_uri(mut self, url: impl Into<String>) -> Self {
        self.jwks_uri = Some(url.into());
        self
    }
}
