//! Configuration, the floor of the runtime: the [`AuthenticatorBuilder`] and its defaults,
//! [`Authenticator::from_env`](crate::Authenticator::from_env), the typed [`ConfigError`]s, and
//! the validation of every setting, done once at start-up. It imports nothing from the layers
//! above it: the plug-in points a setting takes (the domain resolver, the DPoP replay store, the
//! custom error body) are defined here, in `hooks`.

mod builder;
mod domains;
mod dpop;
mod env;
mod error;
mod hooks;
mod jwe;
mod locations;
mod mtls;
mod options;
pub(crate) mod pem;
mod profile;
mod proxy;
mod ratelimit;
mod resource;
mod rules;
mod scopes;
mod settings;
mod validate;

pub use builder::AuthenticatorBuilder;
pub(crate) use domains::{issuer_url, normalize_domain};
pub use error::ConfigError;
pub use hooks::{
    BoundedFuture, IssuerRequest, Recorded, ReplayFuture, ReplayStore, ReplayStoreError,
    ResolverError,
};
pub(crate) use hooks::{ErrorBody, Resolver};
pub use jwe::JweAlgorithm;
pub(crate) use jwe::{DecryptionKey, JweSettings};
pub use locations::{ClaimLocation, ClaimLocations, Grants};
pub(crate) use mtls::CertificateSource;
pub use mtls::{CertificateHeaderFormat, MtlsMode};
pub use options::{Algorithm, DpopMode, OrgPolicy};
pub use profile::{AudienceRule, IssuerProfile, IssuerTemplate};
pub use proxy::ProxyHeaders;
pub(crate) use resource::WELL_KNOWN;
pub(crate) use settings::{
    DpopSettings, IssuerSource, RateLimitSettings, ReplayChoice, Settings, Validated,
};
