//! Collecting errors: every problem is reported at once, each spanned on its own token.

/// `Ok` when `errors` is empty, otherwise all of them combined into one error.
pub fn combine(errors: Vec<syn::Error>) -> syn::Result<()> {
    match errors.into_iter().reduce(|mut all, next| {
        all.combine(next);
        all
    }) {
        Some(err) => Err(err),
        None => Ok(()),
    }
}
