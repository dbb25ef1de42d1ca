//! Reading authorization data leniently, straight from the deserializer: a value of the wrong
//! JSON type grants nothing and the token stays valid. Visitors, not a `serde_json::Value` built
//! and taken apart: a claim is read where it lies, one allocation per string kept.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::{ScopeSet, StringSet};

/// Roles or permissions, leniently: an array of strings (other items skipped) or one string.
/// Any other JSON grants nothing; the token stays valid.
#[doc(hidden)]
pub fn de_string_set<'de, D: Deserializer<'de>, T: StringSet>(d: D) -> Result<T, D::Error> {
    Ok(T::from_strings(
        d.deserialize_any(Strings { split: false })?,
    ))
}

/// The scope claim, leniently: a space-separated string or an array of strings.
#[doc(hidden)]
pub fn de_scope_set<'de, D: Deserializer<'de>, T: ScopeSet>(d: D) -> Result<T, D::Error> {
    d.deserialize_any(Scopes(PhantomData))
}

/// A required claim: a type mismatch names the claim and never echoes the value.
#[doc(hidden)]
pub fn de_claim<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
    name: &str,
) -> Result<T, D::Error> {
    T::deserialize(d).map_err(|_| {
        <D::Error as serde::de::Error>::custom(format!(
            "the `{name}` claim is not of the expected type"
        ))
    })
}

/// A string claim, or `None` for any other JSON value.
pub(super) fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(OneString)
}

pub(super) fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
        Null(()),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
        OneOrMany::Null(()) => Vec::new(),
    })
}

/// The "anything else" arms of a lenient visitor: every other JSON value reads as `$none`, and
/// an array or object is skipped (serde_json skips without recursing, so no depth matters).
macro_rules! otherwise {
    ($none:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok($none)
        }
    };
}

/// One string, or `None`.
struct OneString;

impl<'de> Visitor<'de> for OneString {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Some(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(Some(s))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    otherwise!(None);
}

/// A string (split at spaces when `split`) or an array whose strings are read the same way.
struct Strings {
    split: bool,
}

impl Strings {
    fn push(&self, out: &mut Vec<String>, s: &str) {
        if self.split {
            out.extend(super::sets::words(s).map(str::to_owned));
        } else {
            out.push(s.to_owned());
        }
    }
}

impl<'de> Visitor<'de> for Strings {
    type Value = Vec<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        let mut out = Vec::new();
        self.push(&mut out, s);
        Ok(out)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element_seed(Item)? {
            if let Some(s) = item {
                if self.split {
                    self.push(&mut out, &s);
                } else {
                    out.push(s);
                }
            }
        }
        Ok(out)
    }

    otherwise!(Vec::new());
}

/// The scope claim: a space-separated list handed to the field as it is, or an array whose
/// strings are split.
struct Scopes<T>(PhantomData<T>);

impl<'de, T: ScopeSet> Visitor<'de> for Scopes<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(T::from_scope_list(s))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Strings { split: true }.visit_seq(seq).map(T::from_scopes)
    }

    otherwise!(T::from_scopes(Vec::new()));
}

/// An item of an array: a string, or `None` for anything else (skipped).
#[derive(Clone, Copy)]
struct Item;

impl<'de> serde::de::DeserializeSeed<'de> for Item {
    type Value = Option<String>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(OneString)
    }
}

/// The values of [`Grants`](crate::Grants) as a deserializer, for `#[derive(TokenClaims)]`: it
/// fills a field through the same [`de_string_set`] / [`de_scope_set`] as the claim itself, so
/// a field of the wrong type is one error, not two.
#[doc(hidden)]
pub fn grants_deserializer(
    values: &[String],
) -> impl Deserializer<'_, Error = serde::de::value::Error> {
    serde::de::value::SeqDeserializer::new(values.iter().map(String::as_str))
}

#[cfg(test)]
mod tests {
    use super::{de_scope_set, de_string_set, lenient_string};

    // The lenient readers accept every JSON value: their `expect`s below are what these tests
    // assert, never reached by a request.

    fn strings(json: &str) -> Vec<String> {
        let mut json = serde_json::Deserializer::from_str(json);
        de_string_set(&mut json).expect("lenient") // infallible: see above
    }

    fn scopes(json: &str) -> Option<String> {
        let mut json = serde_json::Deserializer::from_str(json);
        de_scope_set(&mut json).expect("lenient") // infallible: see above
    }

    fn scope_set(json: &str) -> Vec<String> {
        let mut json = serde_json::Deserializer::from_str(json);
        de_scope_set(&mut json).expect("lenient") // infallible: see above
    }

    fn one(json: &str) -> Option<String> {
        let mut json = serde_json::Deserializer::from_str(json);
        lenient_string(&mut json).expect("lenient") // infallible: see above
    }

    #[test]
    fn every_json_shape_reads_as_the_strings_it_holds_or_none() {
        assert_eq!(strings(r#"["a", "b c"]"#), ["a", "b c"]);
        assert_eq!(strings(r#""admin""#), ["admin"]);
        assert_eq!(
            strings(r#"["a", 1, null, ["b"], {"c": "d"}, true, "e"]"#),
            ["a", "e"]
        );
        for other in [
            "1",
            "-1",
            "1.5",
            "true",
            "null",
            "{}",
            r#"{"a": ["b"]}"#,
            "[]",
        ] {
            assert!(strings(other).is_empty(), "{other}");
        }
        assert_eq!(
            scopes(r#""read:a  write:b ""#).as_deref(),
            Some("read:a write:b")
        );
        assert_eq!(
            scopes(r#"["read:a write:b", "x", 3]"#).as_deref(),
            Some("read:a write:b x")
        );
        assert_eq!(scopes("7").as_deref(), Some(""));
        assert_eq!(scope_set(r#"" a  b ""#), ["a", "b"]);
        assert_eq!(scope_set(r#"["a b", "c"]"#), ["a", "b", "c"]);
        assert_eq!(one(r#""org_1""#).as_deref(), Some("org_1"));
        for other in ["1", "true", "null", "[\"org_1\"]", r#"{"id": "org_1"}"#] {
            assert_eq!(one(other), None, "{other}");
        }
        // Escapes are decoded (the owned-string path).
        assert_eq!(strings(r#"["a\"b", "\u00e9"]"#), ["a\"b", "é"]);
    }

    #[test]
    fn nesting_deeper_than_any_recursion_limit_is_skipped_not_refused() {
        let deep = format!("[\"kept\", {}{}]", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(strings(&deep), ["kept"]);
        let deep_object = format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
        assert!(strings(&deep_object).is_empty());
    }
}
