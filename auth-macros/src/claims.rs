//! `#[derive(TokenClaims)]`: read the struct and its `#[claims]`/`#[claim]` attributes, check
//! them, and generate `Deserialize` (through a private shadow struct) and `TokenClaims`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, LitStr, Path, Type};

use crate::errors::combine;

/// Claims that keep their name under `#[claims(namespace = "..")]`: registered JWT claims and
/// the standard claims of OAuth 2.0 / OIDC access tokens and Auth0.
const STANDARD_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "azp",
    "scope",
    "scp",
    "permissions",
    "client_id",
    "gty",
    "org_id",
    "org_name",
    "act",
    "cnf",
    "sid",
    "auth_time",
    "acr",
    "amr",
    "email",
    "email_verified",
    "name",
    "given_name",
    "family_name",
    "nickname",
    "picture",
    "locale",
    "updated_at",
];

/// Where authorization data lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Roles,
    Permissions,
    Scope,
}

impl Source {
    fn marker(self) -> &'static str {
        match self {
            Source::Roles => "roles",
            Source::Permissions => "permissions",
            Source::Scope => "scope",
        }
    }
}

/// One field as written.
struct Field {
    ident: Ident,
    ty: Type,
    rename: Option<LitStr>,
    source: Option<(Source, Span)>,
    flatten: bool,
}

/// The struct as written.
struct Input {
    ident: Ident,
    namespace: Option<LitStr>,
    krate: Option<Path>,
    fields: Vec<Field>,
}

/// A field after validation: its claim name and role.
struct Claim {
    ident: Ident,
    ty: Type,
    name: String,
    source: Option<Source>,
    flatten: bool,
    optional: bool,
}

pub fn expand(input: DeriveInput) -> TokenStream {
    parse(input)
        .and_then(validate)
        .map(|(input, claims)| generate(&input, &claims))
        .unwrap_or_else(syn::Error::into_compile_error)
}

fn parse(input: DeriveInput) -> syn::Result<Input> {
    let mut errors = Vec::new();
    let named = match input.data {
        Data::Struct(data) => match data.fields {
            Fields::Named(named) => Some(named),
            Fields::Unnamed(f) => {
                errors.push(syn::Error::new(
                    f.span(),
                    "`#[derive(TokenClaims)]` needs named fields, one per claim: `struct MyClaims { sub: String }`",
                ));
                None
            }
            Fields::Unit => {
                errors.push(syn::Error::new(
                    input.ident.span(),
                    "`#[derive(TokenClaims)]` needs named fields, one per claim: `struct MyClaims { sub: String }`",
                ));
                None
            }
        },
        Data::Enum(e) => {
            errors.push(syn::Error::new(
                e.enum_token.span,
                "`#[derive(TokenClaims)]` applies to structs with named fields: a token's claims are one JSON object, not a choice of variants",
            ));
            None
        }
        Data::Union(u) => {
            errors.push(syn::Error::new(
                u.union_token.span,
                "`#[derive(TokenClaims)]` applies to structs with named fields",
            ));
            None
        }
    };
    if !input.generics.params.is_empty() {
        errors.push(syn::Error::new(
            input.generics.span(),
            "`#[derive(TokenClaims)]` does not support generic parameters: claims are deserialized into one concrete type",
        ));
    }
    let mut namespace = None;
    let mut krate = None;
    for attr in &input.attrs {
        if attr.path().is_ident("claim") {
            errors.push(syn::Error::new(
                attr.path().span(),
                "on the struct, write `#[claims(..)]`; `#[claim(..)]` goes on fields",
            ));
        }
        if !attr.path().is_ident("claims") {
            continue;
        }
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("namespace") {
                let value: LitStr = meta.value()?.parse()?;
                if value.value().is_empty() {
                    return Err(meta.error("the namespace must not be empty: `#[claims(namespace = \"https://myapp.com/\")]`"));
                }
                namespace = Some(value);
                Ok(())
            } else if meta.path.is_ident("crate") {
                let value: LitStr = meta.value()?.parse()?;
                krate = Some(value.parse::<Path>()?);
                Ok(())
            } else {
                Err(meta.error(
                    "unknown option: `#[claims(..)]` takes `namespace = \"https://myapp.com/\"` or `crate = \"..\"`",
                ))
            }
        });
        if let Err(err) = result {
            errors.push(err);
        }
    }
    let mut fields = Vec::new();
    for field in named.iter().flat_map(|n| n.named.iter()) {
        let Some(ident) = field.ident.clone() else {
            continue;
        };
        let mut parsed = Field {
            ident,
            ty: field.ty.clone(),
            rename: None,
            source: None,
            flatten: false,
        };
        for attr in &field.attrs {
            if attr.path().is_ident("serde") {
                errors.push(syn::Error::new(
                    attr.path().span(),
                    "`#[serde(..)]` has no effect here: `#[derive(TokenClaims)]` writes the `Deserialize` impl; use `#[claim(rename = \"..\")]`, `#[claim(flatten)]` or an `Option<_>` field",
                ));
                continue;
            }
            if !attr.path().is_ident("claim") {
                continue;
            }
            let result = attr.parse_nested_meta(|meta| {
                let source = if meta.path.is_ident("roles") {
                    Some(Source::Roles)
                } else if meta.path.is_ident("permissions") {
                    Some(Source::Permissions)
                } else if meta.path.is_ident("scope") {
                    Some(Source::Scope)
                } else {
                    None
                };
                if let Some(source) = source {
                    if let Some((other, _)) = parsed.source {
                        return Err(meta.error(format!(
                            "a field holds one kind of authorization data; it is already `#[claim({})]`",
                            other.marker()
                        )));
                    }
                    parsed.source = Some((source, meta.path.span()));
                    Ok(())
                } else if meta.path.is_ident("rename") {
                    let value: LitStr = meta.value()?.parse()?;
                    if value.value().is_empty() {
                        return Err(meta.error("a claim name must not be empty"));
                    }
                    parsed.rename = Some(value);
                    Ok(())
                } else if meta.path.is_ident("flatten") {
                    parsed.flatten = true;
                    Ok(())
                } else {
                    Err(meta.error(
                        "unknown option: `#[claim(..)]` takes `rename = \"..\"`, `roles`, `permissions`, `scope` or `flatten`",
                    ))
                }
            });
            if let Err(err) = result {
                errors.push(err);
            }
        }
        fields.push(parsed);
    }
    combine(errors)?;
    Ok(Input {
        ident: input.ident,
        namespace,
        krate,
        fields,
    })
}

fn validate(input: Input) -> syn::Result<(Input, Vec<Claim>)> {
    let mut errors = Vec::new();
    let mut claims: Vec<Claim> = Vec::new();
    for field in &input.fields {
        let plain = field.ident.unraw().to_string();
        let name = match (&field.rename, &input.namespace) {
            (Some(rename), _) => rename.value(),
            (None, Some(ns)) if !STANDARD_CLAIMS.contains(&plain.as_str()) => {
                format!("{}{plain}", ns.value())
            }
            _ => plain.clone(),
        };
        if field.flatten && (field.rename.is_some() || field.source.is_some()) {
            errors.push(syn::Error::new(
                field.ident.span(),
                "a `#[claim(flatten)]` field collects the remaining claims; it takes no name or marker",
            ));
        }
        // Explicit markers first; otherwise the standard claim names speak for themselves.
        let source = field.source.map(|(s, _)| s).or(match name.as_str() {
            _ if field.flatten => None,
            "scope" => Some(Source::Scope),
            "permissions" => Some(Source::Permissions),
            _ if plain == "roles" => Some(Source::Roles),
            _ => None,
        });
        if let Some(dup) = claims
            .iter()
            .find(|c| c.name == name && !field.flatten && !c.flatten)
        {
            errors.push(syn::Error::new(
                field.ident.span(),
                format!(
                    "the claim `{name}` is already read by field `{}`",
                    dup.ident
                ),
            ));
        }
        claims.push(Claim {
            ident: field.ident.clone(),
            ty: field.ty.clone(),
            name,
            source,
            flatten: field.flatten,
            optional: is_option(&field.ty),
        });
    }
    for source in [Source::Roles, Source::Permissions, Source::Scope] {
        let explicit: Vec<&Field> = input
            .fields
            .iter()
            .filter(|f| f.source.map(|(s, _)| s) == Some(source))
            .collect();
        if explicit.len() > 1 {
            for field in &explicit[1..] {
                let span = field.source.map_or(field.ident.span(), |(_, s)| s);
                errors.push(syn::Error::new(
                    span,
                    format!(
                        "only one field can be `#[claim({m})]`; `{}` already is",
                        explicit[0].ident,
                        m = source.marker()
                    ),
                ));
            }
        }
        // An implicit source never competes with an explicit one.
        if explicit.len() == 1 {
            for claim in &mut claims {
                if claim.source == Some(source) && claim.ident != explicit[0].ident {
                    claim.source = None;
                }
            }
        }
    }
    if claims.iter().filter(|c| c.flatten).count() > 1 {
        errors.push(syn::Error::new(
            input.ident.span(),
            "only one field can be `#[claim(flatten)]`",
        ));
    }
    combine(errors)?;
    Ok((input, claims))
}

fn is_option(ty: &Type) -> bool {
    match ty {
        Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Option"),
        _ => false,
    }
}

fn generate(input: &Input, claims: &[Claim]) -> TokenStream {
    let krate = match &input.krate {
        Some(path) => path.to_token_stream(),
        None => quote!(::route_guard),
    };
    let private = quote!(#krate::__private);
    let serde_path = format!("{}::__private::serde", krate.to_string().replace(' ', ""));
    let ident = &input.ident;

    let mut shadow_fields = Vec::new();
    let mut helpers = Vec::new();
    for (i, claim) in claims.iter().enumerate() {
        let field = &claim.ident;
        let ty = &claim.ty;
        if claim.flatten {
            shadow_fields.push(quote!(#[serde(flatten)] #field: #ty,));
            continue;
        }
        let name = &claim.name;
        let helper = format_ident!("__route_guard_de_{}", i);
        let body = match claim.source {
            Some(Source::Roles | Source::Permissions) => {
                quote_spanned!(ty.span()=> #private::de_string_set::<D, #ty>(d))
            }
            Some(Source::Scope) => quote_spanned!(ty.span()=> #private::de_scope_set::<D, #ty>(d)),
            None => quote!(#private::de_claim::<D, #ty>(d, #name)),
        };
        helpers.push(quote! {
            fn #helper<'de, D: #private::serde::Deserializer<'de>>(
                d: D,
            ) -> ::core::result::Result<#ty, D::Error> {
                #body
            }
        });
        let helper_name = helper.to_string();
        // Authorization data and `Option`s may be absent; other claims are required.
        let default = if claim.source.is_some() || claim.optional {
            quote!(default,)
        } else {
            quote!()
        };
        shadow_fields.push(quote! {
            #[serde(rename = #name, #default deserialize_with = #helper_name)]
            #field: #ty,
        });
    }
    // A scope field also takes `scp` (Okta's array, Entra's string), unless a field reads it.
    let scope_field = claims
        .iter()
        .find(|c| c.source == Some(Source::Scope) && c.name == "scope");
    let scp_merge = match scope_field {
        Some(scope) if !claims.iter().any(|c| !c.flatten && c.name == "scp") => {
            let field = &scope.ident;
            shadow_fields.push(quote! {
                #[serde(rename = "scp", default, deserialize_with = "__route_guard_de_scp")]
                __route_guard_scp: ::std::vec::Vec<::std::string::String>,
            });
            helpers.push(quote! {
                fn __route_guard_de_scp<'de, D: #private::serde::Deserializer<'de>>(
                    d: D,
                ) -> ::core::result::Result<::std::vec::Vec<::std::string::String>, D::Error> {
                    #private::de_scope_set::<D, ::std::vec::Vec<::std::string::String>>(d)
                }
            });
            quote! {
                if !shadow.__route_guard_scp.is_empty() {
                    let scp: ::std::vec::Vec<&str> =
                        shadow.__route_guard_scp.iter().map(::std::string::String::as_str).collect();
                    #private::ScopeSet::add_scopes(&mut claims.#field, &scp);
                }
            }
        }
        _ => quote!(),
    };
    let moves = claims.iter().map(|c| {
        let f = &c.ident;
        quote!(#f: shadow.#f,)
    });

    let mut methods = Vec::new();
    let mut markers = Vec::new();
    let mut grants = Vec::new();
    for claim in claims {
        let field = &claim.ident;
        let ty = &claim.ty;
        match claim.source {
            Some(Source::Roles) => {
                methods.push(quote_spanned!(ty.span()=>
                    fn has_role(&self, role: &str) -> bool {
                        #private::StringSet::contains_str(&self.#field, role)
                    }
                ));
                grants.push(quote_spanned!(ty.span()=>
                    if let ::core::option::Option::Some(roles) = &grants.roles {
                        if let ::core::result::Result::Ok(set) = #private::de_string_set::<_, #ty>(#private::grants_deserializer(roles)) {
                            self.#field = set;
                        }
                    }
                ));
                markers.push(quote!(impl #private::HasRoles for #ident {}));
            }
            Some(Source::Permissions) => {
                methods.push(quote_spanned!(ty.span()=>
                    fn has_permission(&self, permission: &str) -> bool {
                        #private::StringSet::contains_str(&self.#field, permission)
                    }
                ));
                grants.push(quote_spanned!(ty.span()=>
                    if let ::core::option::Option::Some(permissions) = &grants.permissions {
                        if let ::core::result::Result::Ok(set) = #private::de_string_set::<_, #ty>(#private::grants_deserializer(permissions)) {
                            self.#field = set;
                        }
                    }
                ));
                markers.push(quote!(impl #private::HasPermissions for #ident {}));
            }
            Some(Source::Scope) => {
                methods.push(quote_spanned!(ty.span()=>
                    fn has_scope(&self, scope: &str) -> bool {
                        #private::ScopeSet::has_scope(&self.#field, scope)
                    }

                    // Scopes implied by granted ones (`implied_scopes`) join the field.
                    fn apply_context(&mut self, context: &#private::ClaimsContext) {
                        let implied = context.implied_scopes_for(|scope| {
                            #private::ScopeSet::has_scope(&self.#field, scope)
                        });
                        #private::ScopeSet::add_scopes(&mut self.#field, &implied);
                    }
                ));
                grants.push(quote_spanned!(ty.span()=>
                    if let ::core::option::Option::Some(scopes) = &grants.scopes {
                        if let ::core::result::Result::Ok(set) = #private::de_scope_set::<_, #ty>(#private::grants_deserializer(scopes)) {
                            self.#field = set;
                        }
                    }
                ));
                markers.push(quote!(impl #private::HasScopes for #ident {}));
            }
            None => {}
        }
    }

    let own_locations: Vec<TokenStream> = claims
        .iter()
        .filter(|c| !c.flatten)
        .filter_map(|c| {
            let name = &c.name;
            match c.source? {
                Source::Roles => Some(quote!(context.locations.roles_read_from(#name))),
                Source::Permissions => Some(quote!(context.locations.permissions_read_from(#name))),
                Source::Scope => Some(quote!(context.locations.scopes_read_from(#name))),
            }
        })
        .collect();
    quote! {
        #[doc(hidden)]
        #[allow(non_upper_case_globals, non_snake_case, clippy::all)]
        const _: () = {
            #[derive(#private::serde::Deserialize)]
            #[serde(crate = #serde_path)]
            struct __RouteGuardShadow {
                #(#shadow_fields)*
            }

            #(#helpers)*

            #[automatically_derived]
            impl<'de> #private::serde::Deserialize<'de> for #ident {
                fn deserialize<D: #private::serde::Deserializer<'de>>(
                    deserializer: D,
                ) -> ::core::result::Result<Self, D::Error> {
                    let shadow = <__RouteGuardShadow as #private::serde::Deserialize<'de>>::deserialize(deserializer)?;
                    #[allow(unused_mut)]
                    let mut claims = #ident { #(#moves)* };
                    #scp_merge
                    ::core::result::Result::Ok(claims)
                }
            }

            #[automatically_derived]
            impl #private::TokenClaims for #ident {
                #(#methods)*

                // The Authenticator's claim locations (an issuer profile) decide where roles,
                // scopes and permissions are read.
                #[allow(unused_variables)]
                fn apply_grants(&mut self, grants: &#private::Grants) {
                    #(#grants)*
                }

                // Not when every location is the field's own claim: the field holds it already.
                fn needs_grants(&self, context: &#private::ClaimsContext) -> bool {
                    !(true #(&& #own_locations)*)
                }

                // `Some` when the type is also `Clone` (a derive cannot see its siblings): the
                // probe picks the cloning impl only then.
                fn clone_claims(&self) -> ::core::option::Option<Self> {
                    #[allow(unused_imports)]
                    use #private::{CannotClone as _, CloneClaims as _};
                    (&#private::ClaimsProbe(self)).__route_guard_clone_claims()
                }
            }

            #(#markers)*
        };
    }
}

#[cfg(test)]
mod tests {
    use super::STANDARD_CLAIMS;

    #[test]
    fn standard_claims_are_unique() {
        let mut sorted = STANDARD_CLAIMS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), STANDARD_CLAIMS.len());
    }
}
