//! The builder's Protected Resource Metadata settings (RFC 9728): the API's resource identifier
//! and what its metadata document says beside what route-guard knows by itself.

use url::Url;

use super::domains::is_loopback;
use super::error::ConfigError;
use super::AuthenticatorBuilder;

/// What was set with the builder, checked in `validate`.
#[derive(Debug, Clone, Default)]
pub(crate) struct ResourceBuilder {
    pub(crate) url: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) documentation: Option<String>,
    pub(crate) authorization_servers: Option<Vec<String>>,
    pub(crate) scopes_supported: Option<Vec<String>>,
}

/// The validated resource: its identifier and the document's optional members.
#[derive(Debug, Clone)]
pub(crate) struct ResourceSettings {
    /// The resource identifier, exactly as configured (no trailing slash added).
    pub(crate) resource: String,
    /// Where the document is served: `/.well-known/oauth-protected-resource` followed by the
    /// resource's path, if any (RFC 9728 §3.1).
    pub(crate) metadata_path: String,
    /// The absolute URL of the document, as challenges name it.
    pub(crate) metadata_url: String,
    pub(crate) name: Option<String>,
    pub(crate) documentation: Option<String>,
    pub(crate) authorization_servers: Option<Vec<String>>,
    pub(crate) scopes_supported: Option<Vec<String>>,
}

/// The well-known path of RFC 9728 §3.
pub(crate) const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

impl AuthenticatorBuilder {
    /// This API's resource identifier (RFC 9728), e.g. `https://api.example.com` or
    /// `https://api.example.com/mcp`: https (http only on a loopback host), no fragment. With
    /// it, the API serves its Protected Resource Metadata
    /// ([`Authenticator::protected_resource_router`](crate::Authenticator::protected_resource_router))
    /// and every 401 / 403 challenge names the document in `resource_metadata`. Also
    /// `AUTH0_RESOURCE_URL`.
    pub fn protected_resource(mut self, url: impl Into<String>) -> Self {
        self.resource.url = Some(url.into());
        self
    }

    /// A human-readable name for the metadata document (`resource_name`).
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource.name = Some(name.into());
        self
    }

    /// A page for developers about this API (`resource_documentation`).
    pub fn resource_documentation(mut self, url: impl Into<String>) -> Self {
        self.resource.documentation = Some(url.into());
        self
    }

    /// The authorization servers the document lists (default: the accepted issuers, exactly as
    /// the tokens' `iss`).
    pub fn authorization_servers<I, S>(mut self, servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.resource.authorization_servers = Some(servers.into_iter().map(Into::into).collect());
        self
    }

    /// The scopes the document lists (default: every scope the application's attributes and
    /// route layers require). `offline_access` is never listed.
    pub fn scopes_supported<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.resource.scopes_supported = Some(scopes.into_iter().map(Into::into).collect());
        self
    }
}

impl ResourceBuilder {
    pub(crate) fn validate(self) -> Result<Option<ResourceSettings>, ConfigError> {
        let Some(raw) = self.url else {
            if self.name.is_some() || self.documentation.is_some() {
                return Err(ConfigError::InvalidResource {
                    url: String::new(),
                    reason: "resource_name / resource_documentation need a resource: set AUTH0_RESOURCE_URL or call `.protected_resource(..)`".to_owned(),
                });
            }
            return Ok(None);
        };
        let resource = raw.trim().to_owned();
        let invalid = |reason: &str| ConfigError::InvalidResource {
            url: resource.clone(),
            reason: reason.to_owned(),
        };
        let url = Url::parse(&resource).map_err(|_| invalid("it is not an absolute URL"))?;
        if url.host_str().is_none() {
            return Err(invalid("it has no host"));
        }
        if url.fragment().is_some() || resource.contains('#') {
            return Err(invalid("it must not have a fragment (RFC 9728 §1.2)"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("it must not contain credentials"));
        }
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => {
                return Err(invalid(
                    "http is allowed only on a loopback host: use https",
                ))
            }
            _ => return Err(invalid("the scheme must be https")),
        }
        if let Some(doc) = &self.documentation {
            Url::parse(doc).map_err(|_| ConfigError::InvalidResource {
                url: doc.clone(),
                reason: "resource_documentation must be an absolute URL".to_owned(),
            })?;
        }
        let path = url.path().trim_end_matches('/');
        let metadata_path = format!("{WELL_KNOWN}{path}");
        let origin = url.origin().ascii_serialization();
        Ok(Some(ResourceSettings {
            metadata_url: format!("{origin}{metadata_path}"),
            metadata_path,
            resource,
            name: self.name,
            documentation: self.documentation,
            authorization_servers: self.authorization_servers,
            scopes_supported: self.scopes_supported,
        }))
    }
}
