//! The macros of [route-guard](https://docs.rs/route-guard). Depend on `route-guard`, which
//! re-exports them with examples; this crate holds only parsing, validation and expansion.
//!
//! Layout: `args` parses attribute arguments, `requirement` validates and expands a handler's
//! requirement, `handler` rewrites the fn, `claims` implements `#[derive(TokenClaims)]`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod args;
mod claims;
mod errors;
mod handler;
mod requirement;

use args::Kind;
use proc_macro::TokenStream;

/// Rejects requests without a valid access token (401) before the handler or any other
/// extractor runs.
#[proc_macro_attribute]
pub fn require_auth(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(Kind::Auth, args.into(), item.into()).into()
}

/// Requires scopes in the token's `scope` claim: all of them, or `any(..)` of them (403
/// `insufficient_scope` otherwise).
#[proc_macro_attribute]
pub fn require_scopes(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(Kind::Scopes, args.into(), item.into()).into()
}

/// Requires Auth0 RBAC permissions in the token's `permissions` claim.
#[proc_macro_attribute]
pub fn require_permissions(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(Kind::Permissions, args.into(), item.into()).into()
}

/// Requires roles of the claims type, read at the Authenticator's roles location (`roles_claim`
/// or the issuer profile's) when one is configured.
#[proc_macro_attribute]
pub fn require_role(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(Kind::Roles, args.into(), item.into()).into()
}

/// Requires a claim to equal a value, to include values, or to pass a predicate.
#[proc_macro_attribute]
pub fn require_claim(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(Kind::Claim, args.into(), item.into()).into()
}

/// Requires the token to belong to an Auth0 Organization: any (no arguments), or one of the
/// listed ids (`org_...`, compared with `org_id`) or names (compared with `org_name`).
#[proc_macro_attribute]
pub fn require_org(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(Kind::Org, args.into(), item.into()).into()
}

/// Requires a delegated token (RFC 8693 `act`) whose current actor is one of the listed ones,
/// or any actor without arguments.
#[proc_macro_attribute]
pub fn require_actor(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(Kind::Actor, args.into(), item.into()).into()
}

/// Step-up (RFC 9470): the user authenticated with one of the `acr` values.
#[proc_macro_attribute]
pub fn require_acr(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(Kind::Acr, args.into(), item.into()).into()
}

/// Step-up (RFC 9470): the user authenticated at most `max_secs` seconds ago (`auth_time`).
#[proc_macro_attribute]
pub fn require_auth_age(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(Kind::AuthAge, args.into(), item.into()).into()
}

/// Limits each caller of the handler to a quota (`"10/minute"`), checked after the requirement
/// of the handler's other attributes.
#[proc_macro_attribute]
pub fn rate_limit(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(Kind::RateLimit, args.into(), item.into()).into()
}

/// Implements `Deserialize` and `TokenClaims` for a struct of claims.
// `serde` is a helper only so that a stray `#[serde(..)]` gets the derive's pointed error
// rather than rustc's "cannot find attribute".
#[proc_macro_derive(TokenClaims, attributes(claims, claim, serde))]
pub fn derive_token_claims(input: TokenStream) -> TokenStream {
    syn::parse::<syn::DeriveInput>(input)
        .map(claims::expand)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
