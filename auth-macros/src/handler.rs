//! The attribute macros on a handler: read the fn, merge sibling route-guard attributes, check
//! the fn is a handler the guard can join, and rebuild it with the guard as first parameter.

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::{parse_quote, Attribute, FnArg, GenericArgument, ItemFn, PathArguments, Type};

use crate::args::{Args, Kind};
use crate::errors::combine;
use crate::requirement::{self, Attr};

/// axum implements `Handler` for at most 16 extractors; the guard takes one of them.
const MAX_PARAMS: usize = 15;

pub fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    match expand_inner(kind, args, item.clone()) {
        Ok(tokens) => tokens,
        // Keep the user's item so that only this error is reported, not every use of the fn.
        Err(err) => {
            let err = err.into_compile_error();
            quote!(#item #err)
        }
    }
}

fn expand_inner(kind: Kind, args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let args = Args::parse(args)?;
    if args.is_merged_marker() {
        // An outer route-guard attribute already merged this one.
        return Ok(item);
    }
    let mut func: ItemFn = syn::parse2(item.clone()).map_err(|_| {
        syn::Error::new(
            Span::call_site(),
            format!("`#[{}]` applies to an `async fn` axum handler", kind.name()),
        )
    })?;
    let mut attrs = vec![Attr {
        kind,
        span: Span::call_site(),
        args,
    }];
    let mut errors = Vec::new();
    for attr in &mut func.attrs {
        match sibling(attr) {
            Some(Ok(sibling)) => {
                attrs.push(sibling);
                let path = attr.path().clone();
                *attr = parse_quote!(#[#path(__merged)]);
            }
            Some(Err(err)) => errors.push(err),
            None => {}
        }
    }
    if let Err(err) = check_fn(kind, &func) {
        errors.push(err);
    }
    let requirement = requirement::validate(attrs);
    if let Err(err) = &requirement {
        errors.push(err.clone());
    }
    combine(errors)?;
    let requirement = requirement?;

    let krate = requirement::krate(&requirement);
    let name = requirement::type_name(&func.sig.ident);
    let claims = claims_type(&func);
    let requirement_tokens = requirement::expand(
        &requirement,
        &func.vis,
        &name,
        &func.sig.ident,
        claims.as_ref(),
    );
    func.sig
        .inputs
        .insert(0, parse_quote!(_: #krate::__private::Guard<#name>));
    func.attrs
        .push(parse_quote!(#[allow(clippy::too_many_arguments)]));
    Ok(quote! {
        #requirement_tokens
        #func
    })
}

/// A route-guard attribute below the one being expanded, recognised by its name.
fn sibling(attr: &Attribute) -> Option<syn::Result<Attr>> {
    let ident = &attr.path().segments.last()?.ident;
    let kind = Kind::from_name(&ident.to_string())?;
    let args = match &attr.meta {
        syn::Meta::Path(_) => Ok(Args { items: Vec::new() }),
        syn::Meta::List(list) => Args::parse(list.tokens.clone()),
        syn::Meta::NameValue(nv) => Err(syn::Error::new(
            nv.eq_token.span,
            format!("write `{}`", kind.example()),
        )),
    };
    Some(args.map(|args| Attr {
        kind,
        span: ident.span(),
        args,
    }))
}

fn check_fn(kind: Kind, func: &ItemFn) -> syn::Result<()> {
    let sig = &func.sig;
    if let Some(FnArg::Receiver(receiver)) = sig.inputs.first() {
        return Err(syn::Error::new(
            receiver.span(),
            format!(
                "`#[{}]` applies to free `async fn` handlers; a method taking `self` is not an axum handler (take the state with `State<..>` instead)",
                kind.name()
            ),
        ));
    }
    if sig.asyncness.is_none() {
        return Err(syn::Error::new(
            sig.fn_token.span,
            format!(
                "`#[{}]` applies to `async fn` handlers: make this function `async`",
                kind.name()
            ),
        ));
    }
    if sig.inputs.len() > MAX_PARAMS {
        return Err(syn::Error::new(
            sig.inputs.span(),
            format!(
                "this handler takes {} parameters; axum allows 16 extractors and the guard of `#[{}]` needs one, so take at most {MAX_PARAMS} (group some into a struct that implements `FromRequestParts`)",
                sig.inputs.len(),
                kind.name()
            ),
        ));
    }
    if has_guard(func) {
        return Err(syn::Error::new(
            Span::call_site(),
            format!(
                "this handler already has a route-guard guard: an attribute above `#[{}]` was not recognised for merging (was it imported under another name?); import the attributes under their own names, or put every requirement in one attribute",
                kind.name()
            ),
        ));
    }
    Ok(())
}

/// True when an expansion of another (unmerged) route-guard attribute already added its guard.
fn has_guard(func: &ItemFn) -> bool {
    let Some(FnArg::Typed(first)) = func.sig.inputs.first() else {
        return false;
    };
    first
        .ty
        .to_token_stream()
        .to_string()
        .contains("__RouteGuardReq_")
}

/// The `T` of a `Claims<T>` or `Option<Claims<T>>` parameter, if the handler takes one.
fn claims_type(func: &ItemFn) -> Option<Type> {
    func.sig.inputs.iter().find_map(|arg| match arg {
        FnArg::Typed(pat) => claims_arg(&pat.ty, true),
        FnArg::Receiver(_) => None,
    })
}

fn claims_arg(ty: &Type, option_allowed: bool) -> Option<Type> {
    let Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    let single_type_arg = || match &last.arguments {
        PathArguments::AngleBracketed(args) if args.args.len() == 1 => match args.args.first() {
            Some(GenericArgument::Type(inner)) => Some(inner.clone()),
            _ => None,
        },
        _ => None,
    };
    if last.ident == "Claims" {
        return single_type_arg();
    }
    if option_allowed && last.ident == "Option" {
        return claims_arg(&single_type_arg()?, false);
    }
    None
}
