//! The registered claims (`exp`, `nbf`, `iss`, `aud`, ...) as the verifier reads them, and the
//! Authenticator-wide policies on them.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;

use super::error::VerifyError;
use super::header::is_object;
use super::Authenticator;
use crate::config::{IssuerSource, OrgPolicy};

impl Authenticator {
    /// delegation depth, anonymous callers.
    pub(super) fn check_policies(
        &self,
        claims: &Registered<'_>,
        payload: &str,
    ) -> Result<(), VerifyError> {
        let settings = &self.inner.settings;
        if settings.organization == OrgPolicy::Required {
            let org_id = claims
                .org_id
                .as_deref()
                .ok_or(VerifyError::MissingOrganization)?;
            let allowed = &settings.allowed_organizations;
            if !allowed.is_empty()
                && !allowed.iter().any(|entry| {
                    if entry.starts_with("org_") {
                        entry == org_id
                    } else {
                        claims
                            .org_name
                            .as_deref()
                            .is_some_and(|name| name.eq_ignore_ascii_case(entry))
                    }
                })
            {
                // For the log only (debug level); capped so a huge claim cannot flood it.
                let organization = org_id.chars().take(128).collect();
                return Err(VerifyError::OrganizationNotAllowed { organization });
            }
        }
        if let Some(depth) = claims.act.as_ref().map(|a| a.0) {
            if depth > settings.max_delegation_depth {
                return Err(VerifyError::DelegationTooDeep {
                    limit: settings.max_delegation_depth,
                });
            }
        }
        if settings.reject_anonymous
            && claims
                .sub
                .as_deref()
                .is_some_and(|s| s.starts_with("anon@"))
        {
            return Err(VerifyError::Anonymous);
        }
        if !settings.required_claims.is_empty() {
            let present: std::collections::HashMap<Cow<'_, str>, IgnoredAny> =
                serde_json::from_str(payload).map_err(|_| NOT_AN_OBJECT)?;
            if let Some(missing) = settings
                .required_claims
                .iter()
                .find(|c| !present.contains_key(c.as_str()))
            {
                return Err(VerifyError::MissingRequiredClaim(missing.clone()));
            }
        }
        Ok(())
    }

    /// With HS256 there is no discovery: the issuer is the configured one.
    pub(super) fn hs256_issuer(&self) -> &str {
        match &self.inner.settings.source {
            IssuerSource::Fixed { issuer, .. } => issuer,
            IssuerSource::Discover { base } => base.as_str(),
            // Refused at start-up: HS256 works with one issuer.
            IssuerSource::Multi { .. } => "",
        }
    }
}

pub(super) fn parse_claims(json: &str) -> Result<Registered<'_>, VerifyError> {
    if !is_object(json.as_bytes()) {
        return Err(NOT_AN_OBJECT);
    }
    serde_json::from_str(json).map_err(|e| {
        if e.is_data() {
            VerifyError::InvalidClaims(data_error(&e))
        } else {
            NOT_AN_OBJECT
        }
    })
}

/// What a payload that is not a JSON object (or not UTF-8, which JSON text must be) is refused
/// with.
pub(super) const NOT_AN_OBJECT: VerifyError =
    VerifyError::Malformed("the payload is not a JSON object");

/// The decoded payload as text: checked as UTF-8 once here, so that each parse of it (the
/// registered claims, then the application's claims type) reads it without checking every
/// string again.
pub(super) fn payload_text(payload: Vec<u8>) -> Result<String, VerifyError> {
    String::from_utf8(payload).map_err(|_| NOT_AN_OBJECT)
}

/// A client-safe account of a claims error: serde_json's "invalid type: string \"...\"" would
/// echo the payload, so only messages that name a claim survive; the line/column goes too.
pub(super) fn data_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" at line ") {
        Some(i) => &text[..i],
        None => &text,
    };
    if let Some(rest) = text.strip_prefix("missing field `") {
        let name = rest.trim_end_matches('`');
        return format!("the `{name}` claim is missing");
    }
    if text.starts_with("the `") || text.starts_with("duplicate field `") {
        return text.to_owned();
    }
    "a claim is not of the expected type".to_owned()
}

#[derive(Deserialize)]
pub(super) struct Registered<'a> {
    #[serde(default)]
    pub(super) exp: Option<NumericDate>,
    #[serde(default)]
    pub(super) nbf: Option<NumericDate>,
    #[serde(default, borrow)]
    pub(super) iss: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub(super) aud: Option<Audiences<'a>>,
    /// Only ID tokens carry these; used to explain an audience mismatch.
    #[serde(default)]
    pub(super) nonce: Option<IgnoredAny>,
    #[serde(default)]
    pub(super) at_hash: Option<IgnoredAny>,
    /// For the organization and anonymous policies. Read leniently: a value that is not a
    /// string counts as absent, so a token is not refused for a claim no policy asked about.
    #[serde(default, borrow)]
    org_id: MaybeStr<'a>,
    #[serde(default, borrow)]
    org_name: MaybeStr<'a>,
    #[serde(default, borrow)]
    sub: MaybeStr<'a>,
    /// RFC 8693 delegation: only its depth matters here.
    #[serde(default)]
    act: Option<ActDepth>,
    /// RFC 7800 confirmation; `jkt` binds the token to a DPoP key (RFC 9449 §6.1), `x5t#S256`
    /// to a client certificate (RFC 8705 §3.1).
    #[serde(default, borrow)]
    pub(super) cnf: Option<Confirmation<'a>>,
}

/// A claim that is a string, or `None` for any other JSON value.
#[derive(Default)]
struct MaybeStr<'a>(Option<Cow<'a, str>>);

impl MaybeStr<'_> {
    fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for MaybeStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = MaybeStr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(MaybeStr(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MaybeStr(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeStr(None))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(MaybeStr(None))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// The depth of an `act` chain: 1 for `{"sub": ..}`, 2 with one nested `act`, and so on.
/// serde_json's recursion limit bounds how deep a hostile token can make the parser go.
struct ActDepth(usize);

impl<'de> Deserialize<'de> for ActDepth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Level {
            #[serde(default)]
            act: Option<ActDepth>,
        }
        let level = Level::deserialize(d)?;
        Ok(ActDepth(1 + level.act.map_or(0, |a| a.0)))
    }
}

#[derive(Deserialize)]
pub(super) struct Confirmation<'a> {
    #[serde(default, borrow)]
    pub(super) jkt: Option<Cow<'a, str>>,
    /// RFC 8705 §3.1: the SHA-256 thumbprint of the client certificate.
    #[serde(rename = "x5t#S256", default, borrow)]
    pub(super) x5t_s256: Option<Cow<'a, str>>,
}

/// RFC 7519 NumericDate: a JSON number of seconds, possibly fractional. Strings are refused.
#[derive(Clone, Copy)]
pub(crate) struct NumericDate(pub(crate) f64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NumericDate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a NumericDate (seconds since the epoch, as a JSON number)")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumericDate, E> {
                Ok(NumericDate(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumericDate, E> {
                Ok(NumericDate(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NumericDate, E> {
                if v.is_finite() {
                    Ok(NumericDate(v))
                } else {
                    Err(E::custom("a NumericDate must be finite"))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// `aud` as one string or an array of strings.
pub(super) struct Audiences<'a>(pub(super) Vec<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Audiences<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Audiences<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Audiences(vec![Cow::Borrowed(v)]))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Audiences(vec![Cow::Owned(v.to_owned())]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(2).min(8));
                while let Some(CowStr(v)) = seq.next_element::<CowStr<'a>>()? {
                    out.push(v);
                }
                Ok(Audiences(out))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A string borrowed from the payload when it has no escapes (nearly always), owned otherwise:
/// serde's own `Cow<str>` always owns.
struct CowStr<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for CowStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = CowStr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}
