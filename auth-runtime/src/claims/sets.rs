//! The field types that hold roles, permissions and scopes: [`StringSet`] and [`ScopeSet`].

use std::collections::{BTreeSet, HashSet};
use std::hash::BuildHasher;

/// A collection that can hold roles or permissions: `Vec<String>`, `HashSet<String>`,
/// `BTreeSet<String>`, or an `Option` of one.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot hold roles or permissions",
    label = "this field's type",
    note = "use `Vec<String>`, `HashSet<String>`, `BTreeSet<String>` or an `Option` of one"
)]
pub trait StringSet: Default {
    /// Whether `value` is an element.
    fn contains_str(&self, value: &str) -> bool;
    /// Builds the collection from the claim's strings.
    fn from_strings(values: Vec<String>) -> Self;
}

impl StringSet for Vec<String> {
    fn contains_str(&self, value: &str) -> bool {
        self.iter().any(|v| v == value)
    }
    fn from_strings(values: Vec<String>) -> Self {
        values
    }
}

impl<S: BuildHasher + Default> StringSet for HashSet<String, S> {
    fn contains_str(&self, value: &str) -> bool {
        self.contains(value)
    }
    fn from_strings(values: Vec<String>) -> Self {
        values.into_iter().collect()
    }
}

impl StringSet for BTreeSet<String> {
    fn contains_str(&self, value: &str) -> bool {
        self.contains(value)
    }
    fn from_strings(values: Vec<String>) -> Self {
        values.into_iter().collect()
    }
}

impl<T: StringSet> StringSet for Option<T> {
    fn contains_str(&self, value: &str) -> bool {
        self.as_ref().is_some_and(|s| s.contains_str(value))
    }
    fn from_strings(values: Vec<String>) -> Self {
        Some(T::from_strings(values))
    }
}

/// A field that can hold the `scope` claim: a space-separated `String`, or any [`StringSet`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot hold the scope claim",
    label = "this field's type",
    note = "use `String` (space-separated, as issued), `Vec<String>`, `HashSet<String>` or an `Option` of one"
)]
pub trait ScopeSet: Default {
    /// Whether `scope` is granted.
    fn has_scope(&self, scope: &str) -> bool;
    /// Builds the field from the granted scopes.
    fn from_scopes(scopes: Vec<String>) -> Self;
    /// Builds the field from a space-separated list (the `scope` claim as issued). The default
    /// splits it for [`from_scopes`](Self::from_scopes); `String` keeps it as one string.
    fn from_scope_list(scopes: &str) -> Self {
        Self::from_scopes(words(scopes).map(str::to_owned).collect())
    }
    /// Adds scopes implied by granted ones
    /// ([`implied_scopes`](crate::AuthenticatorBuilder::implied_scopes)). The default adds
    /// nothing.
    fn add_scopes(&mut self, scopes: &[&str]) {
        let _ = scopes;
    }
}

impl ScopeSet for String {
    fn has_scope(&self, scope: &str) -> bool {
        self.split(' ').any(|s| s == scope)
    }
    fn from_scopes(scopes: Vec<String>) -> Self {
        scopes.join(" ")
    }
    fn from_scope_list(scopes: &str) -> Self {
        let mut list = String::with_capacity(scopes.len());
        for word in words(scopes) {
            if !list.is_empty() {
                list.push(' ');
            }
            list.push_str(word);
        }
        list
    }
    fn add_scopes(&mut self, scopes: &[&str]) {
        for scope in scopes {
            if !self.has_scope(scope) {
                if !self.is_empty() {
                    self.push(' ');
                }
                self.push_str(scope);
            }
        }
    }
}

impl ScopeSet for Option<String> {
    fn has_scope(&self, scope: &str) -> bool {
        self.as_ref().is_some_and(|s| s.has_scope(scope))
    }
    fn from_scopes(scopes: Vec<String>) -> Self {
        Some(scopes.join(" "))
    }
    fn from_scope_list(scopes: &str) -> Self {
        Some(String::from_scope_list(scopes))
    }
    fn add_scopes(&mut self, scopes: &[&str]) {
        if !scopes.is_empty() {
            self.get_or_insert_with(String::new).add_scopes(scopes);
        }
    }
}

/// The words of a space-separated list (several spaces count as one).
pub(super) fn words(list: &str) -> impl Iterator<Item = &str> {
    list.split(' ').filter(|w| !w.is_empty())
}

/// Adding one scope to a set-like scope field.
trait InsertScope {
    fn insert_scope(&mut self, scope: &str);
}

impl InsertScope for Vec<String> {
    fn insert_scope(&mut self, scope: &str) {
        self.push(scope.to_owned());
    }
}

impl InsertScope for HashSet<String> {
    fn insert_scope(&mut self, scope: &str) {
        self.insert(scope.to_owned());
    }
}

impl InsertScope for BTreeSet<String> {
    fn insert_scope(&mut self, scope: &str) {
        self.insert(scope.to_owned());
    }
}

impl<T: InsertScope + Default> InsertScope for Option<T> {
    fn insert_scope(&mut self, scope: &str) {
        self.get_or_insert_with(T::default).insert_scope(scope);
    }
}

macro_rules! scope_set_via_string_set {
    ($($ty:ty),*) => {$(
        impl ScopeSet for $ty {
            fn has_scope(&self, scope: &str) -> bool {
                self.contains_str(scope)
            }
            fn from_scopes(scopes: Vec<String>) -> Self {
                <$ty as StringSet>::from_strings(scopes)
            }
            fn add_scopes(&mut self, scopes: &[&str]) {
                for scope in scopes {
                    if !self.has_scope(scope) {
                        InsertScope::insert_scope(self, scope);
                    }
                }
            }
        }
    )*};
}

scope_set_via_string_set!(
    Vec<String>,
    HashSet<String>,
    BTreeSet<String>,
    Option<Vec<String>>,
    Option<HashSet<String>>,
    Option<BTreeSet<String>>
);
