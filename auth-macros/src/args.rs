//! Parsing: an attribute's arguments as plain data. No rule is checked here beyond syntax.

use proc_macro2::{Span, TokenStream};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{bracketed, parenthesized, Ident, Lit, LitStr, Path, Token};

/// Which attribute this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Auth,
    Scopes,
    Permissions,
    Roles,
    Claim,
    Org,
    Actor,
    RateLimit,
    Acr,
    AuthAge,
}

impl Kind {
    pub fn from_name(name: &str) -> Option<Kind> {
        Some(match name {
            "require_auth" => Kind::Auth,
            "require_scopes" => Kind::Scopes,
            "require_permissions" => Kind::Permissions,
            "require_role" => Kind::Roles,
            "require_claim" => Kind::Claim,
            "require_org" => Kind::Org,
            "require_actor" => Kind::Actor,
            "rate_limit" => Kind::RateLimit,
            "require_acr" => Kind::Acr,
            "require_auth_age" => Kind::AuthAge,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Auth => "require_auth",
            Kind::Scopes => "require_scopes",
            Kind::Permissions => "require_permissions",
            Kind::Roles => "require_role",
            Kind::Claim => "require_claim",
            Kind::Org => "require_org",
            Kind::Actor => "require_actor",
            Kind::RateLimit => "rate_limit",
            Kind::Acr => "require_acr",
            Kind::AuthAge => "require_auth_age",
        }
    }

    /// What one value of the attribute is called, for messages.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Scopes => "scope",
            Kind::Permissions => "permission",
            Kind::Roles => "role",
            Kind::Org => "organization",
            Kind::Actor => "actor",
            Kind::RateLimit => "quota",
            Kind::Acr => "acr value",
            Kind::AuthAge => "age",
            Kind::Auth | Kind::Claim => "value",
        }
    }

    /// An example of the attribute, for messages.
    pub fn example(self) -> &'static str {
        match self {
            Kind::Auth => "#[require_auth]",
            Kind::Scopes => "#[require_scopes(\"read:messages\")]",
            Kind::Permissions => "#[require_permissions(\"read:messages\")]",
            Kind::Roles => "#[require_role(\"admin\")]",
            Kind::Claim => "#[require_claim(org_id = \"org_123\")]",
            Kind::Org => "#[require_org(\"org_abc123\")]",
            Kind::Actor => "#[require_actor(\"billing-service\")]",
            Kind::RateLimit => "#[rate_limit(\"10/minute\")]",
            Kind::Acr => {
                "#[require_acr(\"http://schemas.openid.net/pape/policies/2007/06/multi-factor\")]"
            }
            Kind::AuthAge => "#[require_auth_age(max_secs = 300)]",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    All,
    Any,
}

/// `"a", "b"` (all), `any("a", "b")` or `all("a", "b")`.
pub struct List {
    pub mode: Mode,
    pub values: Vec<LitStr>,
    /// The `any`/`all` ident, or the first literal.
    pub span: Span,
}

/// One condition of `#[require_claim]`.
pub enum ClaimCond {
    /// `org_id = "org_123"` or `"https://myapp.com/org" = "acme"`.
    Equals { name: LitStr, value: Lit },
    /// `includes(roles = ["editor", "viewer"])`.
    Includes { name: LitStr, values: Vec<LitStr> },
    /// `check = path::to::predicate`.
    Check { path: Path },
}

/// One argument as written.
pub enum Arg {
    Value(LitStr),
    List(List),
    Crate(Path),
    Merged(Span),
    Claim(ClaimCond),
    /// `name = ..` or `name(..)` that no attribute understands; kept for a pointed error.
    Unknown(Ident),
    /// A literal that is not a string.
    NotAString(Lit),
}

/// All arguments of one attribute.
pub struct Args {
    pub items: Vec<Arg>,
}

impl Args {
    pub fn parse(tokens: TokenStream) -> syn::Result<Args> {
        let items =
            syn::parse::Parser::parse2(Punctuated::<Arg, Token![,]>::parse_terminated, tokens)?;
        Ok(Args {
            items: items.into_iter().collect(),
        })
    }

    pub fn is_merged_marker(&self) -> bool {
        matches!(self.items.as_slice(), [Arg::Merged(_)])
    }
}

impl Parse for Arg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Arg> {
        if input.peek(Token![crate]) {
            input.parse::<Token![crate]>()?;
            input.parse::<Token![=]>()?;
            let lit: LitStr = input.parse()?;
            let path = lit.parse::<Path>().map_err(|_| {
                syn::Error::new(
                    lit.span(),
                    "`crate` must be a path to route-guard, such as `crate = \"::route_guard\"`",
                )
            })?;
            return Ok(Arg::Crate(path));
        }
        if input.peek(LitStr) && input.peek2(Token![=]) {
            let name: LitStr = input.parse()?;
            input.parse::<Token![=]>()?;
            let value: Lit = input.parse()?;
            return Ok(Arg::Claim(ClaimCond::Equals { name, value }));
        }
        if input.peek(Lit) {
            return Ok(match input.parse::<Lit>()? {
                Lit::Str(s) => Arg::Value(s),
                other => Arg::NotAString(other),
            });
        }
        let ident: Ident = input.call(syn::ext::IdentExt::parse_any)?;
        if ident == "__merged" {
            return Ok(Arg::Merged(ident.span()));
        }
        if input.peek(syn::token::Paren) {
            let content;
            parenthesized!(content in input);
            return match ident.to_string().as_str() {
                "any" | "all" => {
                    let values = Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?;
                    Ok(Arg::List(List {
                        mode: if ident == "any" { Mode::Any } else { Mode::All },
                        values: values.into_iter().collect(),
                        span: ident.span(),
                    }))
                }
                "includes" => {
                    let name = claim_name(&content)?;
                    content.parse::<Token![=]>()?;
                    let inner;
                    bracketed!(inner in content);
                    let values = Punctuated::<LitStr, Token![,]>::parse_terminated(&inner)?;
                    if !content.is_empty() {
                        return Err(content.error(
                            "`includes` takes one claim: `includes(roles = [\"editor\", \"viewer\"])`",
                        ));
                    }
                    Ok(Arg::Claim(ClaimCond::Includes {
                        name,
                        values: values.into_iter().collect(),
                    }))
                }
                _ => {
                    // Swallow the contents so the error below is the only one.
                    let _: TokenStream = content.parse()?;
                    Ok(Arg::Unknown(ident))
                }
            };
        }
        if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            if ident == "check" {
                let path: Path = input.parse()?;
                return Ok(Arg::Claim(ClaimCond::Check { path }));
            }
            if input.peek(Lit) {
                let value: Lit = input.parse()?;
                let name =
                    LitStr::new(&syn::ext::IdentExt::unraw(&ident).to_string(), ident.span());
                return Ok(Arg::Claim(ClaimCond::Equals { name, value }));
            }
            let _: syn::Expr = input.parse()?;
            return Ok(Arg::Unknown(ident));
        }
        Ok(Arg::Unknown(ident))
    }
}

/// A claim name: an identifier (`org_id`) or a string (`"https://myapp.com/org"`).
fn claim_name(input: ParseStream<'_>) -> syn::Result<LitStr> {
    if input.peek(LitStr) {
        return input.parse();
    }
    let ident: Ident = input.call(syn::ext::IdentExt::parse_any)?;
    Ok(LitStr::new(
        &syn::ext::IdentExt::unraw(&ident).to_string(),
        ident.span(),
    ))
}
