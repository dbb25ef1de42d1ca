//! Validation of one handler's (merged) attributes into a requirement, and its expansion into a
//! `Requirement` impl. Validation never emits tokens; expansion never finds a user error.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::{Ident, Lit, LitStr, Path, Type, Visibility};

use crate::args::{Arg, Args, ClaimCond, Kind, Mode};
use crate::errors::combine;

/// One attribute of the handler: its kind, where it is written, and its arguments.
pub struct Attr {
    pub kind: Kind,
    pub span: Span,
    pub args: Args,
}

/// What the handler requires, validated.
pub struct Requirement {
    pub krate: Option<Path>,
    pub steps: Vec<Step>,
    /// `#[rate_limit("10/minute")]`: the quota's text (checked by the compiler's const
    /// evaluation of route-guard's own parser, so there is one grammar).
    pub rate_limit: Option<LitStr>,
}

pub enum Step {
    Strings {
        kind: Kind,
        mode: Mode,
        values: Vec<LitStr>,
        span: Span,
    },
    Claim(ClaimCond),
    /// `#[require_org]` / `#[require_actor]`: one of `values`, or any at all when empty.
    OneOf {
        kind: Kind,
        values: Vec<LitStr>,
    },
    /// `#[require_acr("..")]`: one of the `acr` values (RFC 9470 step-up).
    Acr(Vec<LitStr>),
    /// `#[require_auth_age(max_secs = N)]`: `auth_time` at most N seconds ago.
    AuthAge(u64),
}

/// Checks every attribute, collecting all errors before failing.
pub fn validate(attrs: Vec<Attr>) -> syn::Result<Requirement> {
    let mut errors: Vec<syn::Error> = Vec::new();
    let mut krate = None;
    let mut steps = Vec::new();
    let mut rate_limit: Option<LitStr> = None;
    for attr in attrs {
        let Attr { kind, span, args } = attr;
        if kind == Kind::RateLimit {
            validate_rate_limit(span, args, &mut krate, &mut rate_limit, &mut errors);
            continue;
        }
        if matches!(kind, Kind::Acr | Kind::AuthAge) {
            if let Some(step) = validate_step_up(kind, span, args, &mut krate, &mut errors) {
                steps.push(step);
            }
            continue;
        }
        let errors_before = errors.len();
        let mut loose: Vec<LitStr> = Vec::new();
        let mut counted = 0usize;
        let mut one_of: Vec<LitStr> = Vec::new();
        for item in args.items {
            match item {
                Arg::Crate(path) => {
                    krate.get_or_insert(path);
                }
                Arg::Merged(span) => errors.push(syn::Error::new(
                    span,
                    "`__merged` is internal to route-guard; remove it",
                )),
                Arg::Unknown(ident) => errors.push(syn::Error::new(
                    ident.span(),
                    format!("unknown option `{ident}`: {}", takes(kind)),
                )),
                Arg::NotAString(lit) => errors.push(syn::Error::new(
                    lit.span(),
                    format!("{}s are string literals: `{}`", kind.noun(), kind.example()),
                )),
                Arg::Value(value) if is_one_of_kind(kind) => {
                    check_value(kind, &value, &mut errors);
                    one_of.push(value);
                }
                Arg::List(list) if is_one_of_kind(kind) => {
                    if list.mode == Mode::All {
                        errors.push(syn::Error::new(
                            list.span,
                            format!(
                                "{}, so `all(..)` could never pass: `#[{}(\"a\", \"b\")]` accepts any of them",
                                if kind == Kind::Org {
                                    "a token belongs to one organization"
                                } else {
                                    "a token has one current actor"
                                },
                                kind.name(),
                            ),
                        ));
                    } else if list.values.is_empty() {
                        errors.push(syn::Error::new(
                            list.span,
                            format!(
                                "`any()` needs at least one {noun}; `#[{}]` alone accepts any {noun}",
                                kind.name(),
                                noun = kind.noun()
                            ),
                        ));
                    }
                    for value in &list.values {
                        check_value(kind, value, &mut errors);
                    }
                    one_of.extend(list.values);
                }
                Arg::Value(value) if is_list_kind(kind) => {
                    check_value(kind, &value, &mut errors);
                    counted += 1;
                    loose.push(value);
                }
                Arg::List(list) if is_list_kind(kind) => {
                    if list.values.is_empty() {
                        let name = if list.mode == Mode::Any { "any" } else { "all" };
                        errors.push(syn::Error::new(
                            list.span,
                            format!(
                                "`{name}()` needs at least one {noun}: `{name}(\"a\", \"b\")`",
                                noun = kind.noun()
                            ),
                        ));
                    }
                    for value in &list.values {
                        check_value(kind, value, &mut errors);
                    }
                    counted += list.values.len();
                    steps.push(Step::Strings {
                        kind,
                        mode: list.mode,
                        values: list.values,
                        span,
                    });
                }
                Arg::Claim(cond) if kind == Kind::Claim => {
                    check_claim(&cond, &mut errors);
                    counted += 1;
                    steps.push(Step::Claim(cond));
                }
                Arg::Value(v) => errors.push(syn::Error::new(v.span(), takes(kind))),
                Arg::List(list) => errors.push(syn::Error::new(list.span, takes(kind))),
                Arg::Claim(cond) => errors.push(syn::Error::new(
                    cond_span(&cond),
                    format!("unknown option `{}`: {}", cond_name(&cond), takes(kind)),
                )),
            }
        }
        if is_one_of_kind(kind) && errors.len() == errors_before {
            steps.push(Step::OneOf {
                kind,
                values: one_of,
            });
            continue;
        }
        if !loose.is_empty() {
            steps.push(Step::Strings {
                kind,
                mode: Mode::All,
                values: loose,
                span,
            });
        }
        // "needs at least one" would only repeat an error already pointed at an argument.
        if kind != Kind::Auth && counted == 0 && errors.len() == errors_before {
            errors.push(syn::Error::new(
                span,
                format!(
                    "`#[{}]` needs at least one {}: `{}`",
                    kind.name(),
                    if kind == Kind::Claim {
                        "condition"
                    } else {
                        kind.noun()
                    },
                    kind.example()
                ),
            ));
        }
    }
    combine(errors)?;
    Ok(Requirement {
        krate,
        steps,
        rate_limit,
    })
}

/// `#[require_acr("a", "b")]` (any of them) or `#[require_auth_age(max_secs = 300)]`.
fn validate_step_up(
    kind: Kind,
    span: Span,
    args: Args,
    krate: &mut Option<Path>,
    errors: &mut Vec<syn::Error>,
) -> Option<Step> {
    let takes = match kind {
        Kind::Acr => "`#[require_acr]` takes `acr` values (any of them is enough): `#[require_acr(\"http://schemas.openid.net/pape/policies/2007/06/multi-factor\")]`",
        _ => "`#[require_auth_age]` takes the most seconds since the user logged in: `#[require_auth_age(max_secs = 300)]`",
    };
    let before = errors.len();
    let mut values = Vec::new();
    let mut max_secs = None;
    for item in args.items {
        match item {
            Arg::Crate(path) => {
                krate.get_or_insert(path);
            }
            Arg::Value(value) if kind == Kind::Acr => {
                if value.value().trim().is_empty() {
                    errors.push(syn::Error::new(
                        value.span(),
                        "an acr value must not be empty",
                    ));
                }
                values.push(value);
            }
            Arg::List(list) if kind == Kind::Acr && list.mode == Mode::Any => {
                values.extend(list.values)
            }
            Arg::Claim(ClaimCond::Equals { name, value })
                if kind == Kind::AuthAge && name.value() == "max_secs" =>
            {
                match &value {
                    Lit::Int(int) => match int.base10_parse::<u64>() {
                        Ok(secs) if max_secs.is_none() => max_secs = Some(secs),
                        Ok(_) => {
                            errors.push(syn::Error::new(int.span(), "`max_secs` is given twice"))
                        }
                        Err(_) => errors.push(syn::Error::new(int.span(), takes)),
                    },
                    other => errors.push(syn::Error::new(other.span(), takes)),
                }
            }
            Arg::Merged(span) => errors.push(syn::Error::new(
                span,
                "`__merged` is internal to route-guard; remove it",
            )),
            Arg::Value(v) => errors.push(syn::Error::new(v.span(), takes)),
            Arg::NotAString(lit) => errors.push(syn::Error::new(lit.span(), takes)),
            Arg::List(list) => errors.push(syn::Error::new(list.span, takes)),
            Arg::Unknown(ident) => errors.push(syn::Error::new(ident.span(), takes)),
            Arg::Claim(cond) => errors.push(syn::Error::new(cond_span(&cond), takes)),
        }
    }
    if errors.len() > before {
        return None;
    }
    match kind {
        Kind::Acr if values.is_empty() => {
            errors.push(syn::Error::new(span, takes));
            None
        }
        Kind::Acr => Some(Step::Acr(values)),
        _ => match max_secs {
            Some(secs) => Some(Step::AuthAge(secs)),
            None => {
                errors.push(syn::Error::new(span, takes));
                None
            }
        },
    }
}

/// `#[rate_limit("10/minute")]`: one quota string (and `crate = ".."`), once per handler.
fn validate_rate_limit(
    span: Span,
    args: Args,
    krate: &mut Option<Path>,
    rate_limit: &mut Option<LitStr>,
    errors: &mut Vec<syn::Error>,
) {
    const TAKES: &str = "`#[rate_limit]` takes one quota: `#[rate_limit(\"10/minute\")]` (per second, minute, hour or day)";
    let mut quotas = Vec::new();
    for item in args.items {
        match item {
            Arg::Crate(path) => {
                krate.get_or_insert(path);
            }
            Arg::Value(value) => quotas.push(value),
            Arg::NotAString(lit) => errors.push(syn::Error::new(lit.span(), TAKES)),
            Arg::List(list) => errors.push(syn::Error::new(list.span, TAKES)),
            Arg::Unknown(ident) => errors.push(syn::Error::new(ident.span(), TAKES)),
            Arg::Claim(cond) => errors.push(syn::Error::new(cond_span(&cond), TAKES)),
            Arg::Merged(span) => errors.push(syn::Error::new(
                span,
                "`__merged` is internal to route-guard; remove it",
            )),
        }
    }
    match (quotas.len(), rate_limit.is_some()) {
        (0, _) => errors.push(syn::Error::new(span, TAKES)),
        (1, false) => *rate_limit = quotas.pop(),
        (1, true) => errors.push(syn::Error::new(
            span,
            "one `#[rate_limit]` per handler: keep the stricter one, or put a router-wide limit in a layer (`route_guard::layer::rate_limit`)",
        )),
        _ => errors.push(syn::Error::new(quotas[1].span(), TAKES)),
    }
}

fn is_one_of_kind(kind: Kind) -> bool {
    matches!(kind, Kind::Org | Kind::Actor)
}

fn is_list_kind(kind: Kind) -> bool {
    matches!(kind, Kind::Scopes | Kind::Permissions | Kind::Roles)
}

fn takes(kind: Kind) -> String {
    match kind {
        Kind::Auth => "`#[require_auth]` takes no arguments but `crate = \"..\"`; to require scopes, use `#[require_scopes(\"read:messages\")]`".to_owned(),
        Kind::Claim => "`#[require_claim]` takes conditions: `org_id = \"org_123\"`, `includes(roles = [\"editor\"])` or `check = path::to::fn`".to_owned(),
        Kind::Org => "`#[require_org]` takes nothing (any organization), organization ids or names (`\"org_abc123\"`, `\"acme\"`), `any(..)` of them, or `crate = \"..\"`".to_owned(),
        Kind::Actor => "`#[require_actor]` takes nothing (any delegated token), actor ids (`\"billing-service\"`), `any(..)` of them, or `crate = \"..\"`".to_owned(),
        _ => format!(
            "`#[{}]` takes {noun} strings, `any(\"a\", \"b\")`, `all(\"a\", \"b\")` or `crate = \"..\"`",
            kind.name(),
            noun = kind.noun()
        ),
    }
}

fn check_value(kind: Kind, value: &LitStr, errors: &mut Vec<syn::Error>) {
    let text = value.value();
    if text.trim().is_empty() {
        errors.push(syn::Error::new(
            value.span(),
            format!(
                "{} {} must not be empty",
                if kind == Kind::Org { "an" } else { "a" },
                kind.noun()
            ),
        ));
    } else if matches!(kind, Kind::Scopes | Kind::Permissions)
        && text.chars().any(char::is_whitespace)
    {
        // Scopes travel space-separated, so a space inside one could never match.
        let parts: Vec<String> = text
            .split_whitespace()
            .map(|p| format!("\"{p}\""))
            .collect();
        errors.push(syn::Error::new(
            value.span(),
            format!(
                "a {noun} must not contain whitespace; pass each {noun} as its own string: `#[{}({})]`",
                kind.name(),
                parts.join(", "),
                noun = kind.noun()
            ),
        ));
    }
}

fn check_claim(cond: &ClaimCond, errors: &mut Vec<syn::Error>) {
    match cond {
        ClaimCond::Equals { name, value } => {
            if name.value().is_empty() {
                errors.push(syn::Error::new(
                    name.span(),
                    "a claim name must not be empty",
                ));
            }
            if !matches!(
                value,
                Lit::Str(_) | Lit::Int(_) | Lit::Bool(_) | Lit::Float(_)
            ) {
                errors.push(syn::Error::new(
                    value.span(),
                    "a claim can equal a string, integer, float or bool literal",
                ));
            }
        }
        ClaimCond::Includes { name, values } => {
            if values.is_empty() {
                errors.push(syn::Error::new(
                    name.span(),
                    "`includes` needs at least one value: `includes(roles = [\"editor\"])`",
                ));
            }
        }
        ClaimCond::Check { .. } => {}
    }
}

fn cond_name(cond: &ClaimCond) -> String {
    match cond {
        ClaimCond::Equals { name, .. } => name.value(),
        ClaimCond::Includes { .. } => "includes".to_owned(),
        ClaimCond::Check { .. } => "check".to_owned(),
    }
}

fn cond_span(cond: &ClaimCond) -> Span {
    match cond {
        ClaimCond::Equals { name, .. } | ClaimCond::Includes { name, .. } => name.span(),
        ClaimCond::Check { path } => path
            .segments
            .first()
            .map_or_else(Span::call_site, |s| s.ident.span()),
    }
}

/// The hidden requirement type's name for handler `fn_name`.
pub fn type_name(fn_name: &Ident) -> Ident {
    format_ident!("__RouteGuardReq_{}", syn::ext::IdentExt::unraw(fn_name))
}

/// The route-guard path the generated code names.
pub fn krate(requirement: &Requirement) -> TokenStream {
    match &requirement.krate {
        Some(path) => path.to_token_stream(),
        None => quote!(::route_guard),
    }
}

/// The requirement type and its `Requirement` impl.
pub fn expand(
    requirement: &Requirement,
    vis: &Visibility,
    name: &Ident,
    handler: &Ident,
    claims: Option<&Type>,
) -> TokenStream {
    let krate = krate(requirement);
    let claims = match claims {
        Some(ty) => ty.to_token_stream(),
        None => quote!(#krate::__private::StandardClaims),
    };
    let reads = !requirement.steps.is_empty();
    // Every scope the route names: for its challenges and RFC 9728's `scopes_supported`.
    let mut scopes: Vec<&LitStr> = Vec::new();
    for step in &requirement.steps {
        if let Step::Strings {
            kind: Kind::Scopes,
            values,
            ..
        } = step
        {
            for value in values {
                if !scopes.iter().any(|s| s.value() == value.value()) {
                    scopes.push(value);
                }
            }
        }
    }
    let scopes_registry = match scopes.is_empty() {
        true => quote!(),
        false => quote! {
            #krate::__private::inventory::submit! {
                #krate::__private::RouteScopes { scopes: &[#(#scopes),*] }
            }
        },
    };
    let description = describe(&krate, requirement);
    let steps = requirement
        .steps
        .iter()
        .map(|step| expand_step(&krate, step));
    let (rate_limit, quota_check) = match &requirement.rate_limit {
        None => (quote!(), quote!()),
        Some(quota) => {
            // Evaluated while compiling: a malformed quota fails the build at its literal.
            let parsed = quote_spanned!(quota.span()=> #krate::__private::route_quota(#quota));
            let handler = syn::ext::IdentExt::unraw(handler).to_string();
            (
                quote! {
                    const RATE_LIMIT: ::core::option::Option<#krate::__private::RouteLimit> =
                        ::core::option::Option::Some(#krate::__private::RouteLimit::new(
                            ::core::concat!(::core::module_path!(), "::", #handler),
                            #parsed,
                        ));
                },
                quote!(const _: () = { let _ = #parsed; };),
            )
        }
    };
    let handler_name = syn::ext::IdentExt::unraw(handler).to_string();
    // As written: evaluating the quota again would repeat a malformed one's error.
    let rate_limit_text = match &requirement.rate_limit {
        Some(quota) => quote!(::core::option::Option::Some(#quota)),
        None => quote!(::core::option::Option::None),
    };
    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #name;

        #quota_check
        #scopes_registry
        #krate::__private::inventory::submit! {
            #krate::__private::GuardedRoute {
                handler: #handler_name,
                module: ::core::module_path!(),
                description: <#name as #krate::__private::Requirement>::DESCRIPTION,
                rate_limit: #rate_limit_text,
            }
        }

        impl #krate::__private::Requirement for #name {
            type Claims = #claims;
            const READS_CLAIMS: bool = #reads;
            #description
            #rate_limit

            fn check(
                claims: &#claims,
                token: &#krate::__private::VerifiedToken,
            ) -> ::core::result::Result<(), #krate::__private::Insufficient> {
                let _ = token;
                let check = #krate::__private::Check::new(claims);
                #(#steps)*
                check.finish()
            }
        }
    }
}

/// `const DESCRIPTION`: the requirement's static description (nothing when it asks only for a
/// valid token).
fn describe(krate: &TokenStream, requirement: &Requirement) -> TokenStream {
    let mut groups: [Vec<TokenStream>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    let mut claims: Vec<String> = Vec::new();
    let mut acr: Vec<&LitStr> = Vec::new();
    let mut max_age: Option<u64> = None;
    let list = |values: &[LitStr]| {
        values
            .iter()
            .map(LitStr::value)
            .collect::<Vec<_>>()
            .join(", ")
    };
    for step in &requirement.steps {
        match step {
            Step::Strings {
                kind, mode, values, ..
            } => {
                let at = match kind {
                    Kind::Scopes => 0,
                    Kind::Permissions => 1,
                    _ => 2,
                };
                let ctor = match mode {
                    Mode::All => quote!(all),
                    Mode::Any => quote!(any),
                };
                groups[at].push(quote!(#krate::__private::NameGroup::#ctor(&[#(#values),*])));
            }
            Step::OneOf { kind, values } => claims.push(match (kind, values.is_empty()) {
                (Kind::Org, true) => "an organization".to_owned(),
                (Kind::Org, false) => format!("the organization {}", list(values)),
                (_, true) => "a delegated token (act)".to_owned(),
                (_, false) => format!("the actor {}", list(values)),
            }),
            Step::Claim(ClaimCond::Equals { name, value }) => {
                claims.push(format!("{} = {}", name.value(), value.to_token_stream()))
            }
            Step::Claim(ClaimCond::Includes { name, values }) => {
                claims.push(format!("{} includes {}", name.value(), list(values)))
            }
            Step::Claim(ClaimCond::Check { path }) => claims.push(format!(
                "check `{}`",
                path.to_token_stream().to_string().replace(' ', "")
            )),
            Step::Acr(values) => acr.extend(values),
            Step::AuthAge(secs) => max_age = Some(max_age.map_or(*secs, |m| m.min(*secs))),
        }
    }
    if requirement.steps.is_empty() {
        return quote!();
    }
    let [scopes, permissions, roles] = groups;
    let max_age = max_age.map(|secs| quote!(.max_auth_age(#secs)));
    quote! {
        const DESCRIPTION: #krate::__private::Description = #krate::__private::Description::new()
            .scopes(&[#(#scopes),*])
            .permissions(&[#(#permissions),*])
            .roles(&[#(#roles),*])
            .claims(&[#(#claims),*])
            .acr(&[#(#acr),*])
            #max_age;
    }
}

fn expand_step(krate: &TokenStream, step: &Step) -> TokenStream {
    match step {
        Step::Strings {
            kind,
            mode,
            values,
            span,
        } => {
            let helper = match (kind, mode) {
                (Kind::Scopes, Mode::All) => "scopes_all",
                (Kind::Scopes, Mode::Any) => "scopes_any",
                (Kind::Permissions, Mode::All) => "permissions_all",
                (Kind::Permissions, Mode::Any) => "permissions_any",
                (_, Mode::All) => "roles_all",
                (_, Mode::Any) => "roles_any",
            };
            // Spanned on the attribute: a claims type without roles fails to compile there.
            let helper = Ident::new(helper, *span);
            let call = quote_spanned!(*span=> #krate::__private::#helper);
            quote!(let check = #call(check, &[#(#values),*]);)
        }
        Step::OneOf { kind, values } => {
            let method = match kind {
                Kind::Org => quote!(organization_in),
                _ => quote!(actor_in),
            };
            quote!(let check = check.#method(token, &[#(#values),*]);)
        }
        Step::Claim(ClaimCond::Equals { name, value }) => {
            quote!(let check = check.claim_equals(token, #name, #value);)
        }
        Step::Acr(values) => quote!(let check = check.acr_in(token, &[#(#values),*]);),
        Step::AuthAge(secs) => quote!(let check = check.max_auth_age(token, #secs);),
        Step::Claim(ClaimCond::Includes { name, values }) => {
            quote!(let check = check.claim_includes(token, #name, &[#(#values),*]);)
        }
        Step::Claim(ClaimCond::Check { path }) => {
            let description = format!(
                "check `{}`",
                path.to_token_stream().to_string().replace(' ', "")
            );
            let call = quote_spanned!(path_span(path)=> #path(check.claims()));
            quote! {
                let check = {
                    let ok: bool = #call;
                    check.predicate(ok, #description)
                };
            }
        }
    }
}

fn path_span(path: &Path) -> Span {
    path.segments
        .last()
        .map_or_else(Span::call_site, |s| s.ident.span())
}
