//! The calls in a JSON-RPC request body, as far as an MCP guard reads them: each message's
//! method and what it names (a tool, a prompt, a resource). Framework-free.
//!
//! Two rules keep the guard and the MCP server reading the same calls:
//! - Only the few fields that name a call are read (`method`; `params.name`, `params.uri`,
//!   `params.ref`); everything else is skipped by `serde_json`'s iterative skipper, so no depth
//!   or shape of the rest (a tool's arguments) can make this reader fail where the server's
//!   parser succeeds.
//! - A key that names a call, given twice in one object, makes the body ambiguous: parsers
//!   disagree on which one wins, and a guard that reads one tool while the server runs another
//!   would be a bypass. Such a body is refused, never guessed at.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// What a request body holds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Body {
    /// Not strict JSON (RFC 8259 in UTF-8: a syntax error, a body cut short, a byte-order mark,
    /// invalid UTF-8, `NaN`): refused with a JSON-RPC parse error, because lenient parsers
    /// downstream read some of these and the guard would not have judged what they run.
    Malformed,
    /// A key naming a call is repeated inside one object.
    Ambiguous,
    /// A method that names a tool, prompt or resource, whose name the guard cannot read (not a
    /// string, `params` not an object, a subscription filter in serde's sequence form): refused
    /// with JSON-RPC's invalid params rather than forwarded unjudged.
    Unreadable(&'static str),
    /// One message or a batch: the calls in it (messages without a method, such as a client's
    /// responses, name none).
    Calls(Vec<Call>),
}

/// One JSON-RPC request or notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Call {
    /// `method`, e.g. `tools/call`.
    pub(crate) method: String,
    /// What the method acts on: none for most methods, one for `tools/call`, several for a
    /// `subscriptions/listen` naming several resources.
    pub(crate) targets: Vec<Target>,
}

/// What a call names, by its method: `tools/call` a tool, `prompts/get` a prompt,
/// `resources/read` / `subscribe` / `unsubscribe` / `directory/read` and `skills/get` a
/// resource, `subscriptions/listen` the resources of its filter, `completion/complete` the
/// prompt or resource of its `ref`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A tool, by name.
    Tool(String),
    /// A prompt, by name.
    Prompt(String),
    /// A resource, by URI.
    Resource(String),
}

/// The methods that name what they act on (the rest name nothing a policy can match but the
/// method itself).
pub(crate) const NAMING_METHODS: [&str; 9] = [
    "tools/call",
    "prompts/get",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "resources/directory/read",
    "skills/get",
    "subscriptions/listen",
    "completion/complete",
];

/// The visitor methods for JSON scalars, each answering `value`: what a reader does with a
/// value that is not the object or list it looks for.
macro_rules! scalars {
    ($ret:ty = $value:expr; $($kind:ident),*) => {
        $(scalars!(@one $kind, $ret, $value);)*
    };
    (@one bool, $ret:ty, $value:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<$ret, E> { Ok($value) }
    };
    (@one i64, $ret:ty, $value:expr) => {
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<$ret, E> { Ok($value) }
    };
    (@one u64, $ret:ty, $value:expr) => {
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<$ret, E> { Ok($value) }
    };
    (@one f64, $ret:ty, $value:expr) => {
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<$ret, E> { Ok($value) }
    };
    (@one str, $ret:ty, $value:expr) => {
        fn visit_str<E: de::Error>(self, _: &str) -> Result<$ret, E> { Ok($value) }
    };
    (@one unit, $ret:ty, $value:expr) => {
        fn visit_unit<E: de::Error>(self) -> Result<$ret, E> { Ok($value) }
    };
}

/// Reads the calls of `body`.
pub(crate) fn read(body: &[u8]) -> Body {
    // serde_json checks UTF-8 only in the strings it decodes, not in those it skips: a
    // lenient reader downstream would turn a bad byte into U+FFFD and see another name.
    let Ok(text) = std::str::from_utf8(body) else {
        return Body::Malformed;
    };
    let mut ambiguous = false;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let messages = match (Top {
        ambiguous: &mut ambiguous,
    })
    .deserialize(&mut deserializer)
    .and_then(|messages| deserializer.end().map(|()| messages))
    {
        Ok(messages) => messages,
        Err(_) => return Body::Malformed,
    };
    if ambiguous {
        return Body::Ambiguous;
    }
    let mut calls = Vec::with_capacity(messages.len());
    for message in messages {
        match message.into_call() {
            Some(Ok(call)) => calls.push(call),
            Some(Err(why)) => return Body::Unreadable(why),
            None => {}
        }
    }
    Body::Calls(calls)
}

/// A key's value as read: absent, what was wanted, or some other JSON value.
#[derive(Debug, Default)]
enum Slot<T> {
    #[default]
    Absent,
    Found(T),
    Other,
}

impl<T> Slot<T> {
    fn from_option(value: Option<T>) -> Self {
        match value {
            Some(value) => Slot::Found(value),
            None => Slot::Other,
        }
    }
}

/// The fields of one message that name a call.
#[derive(Default)]
struct Message {
    method: Option<String>,
    params: Slot<Params>,
}

/// `params`, as far as it names a call.
#[derive(Default)]
struct Params {
    name: Slot<String>,
    uri: Slot<String>,
    reference: Slot<Reference>,
    notifications: Slot<Filter>,
}

/// `completion/complete`'s `ref`: `{"type": "ref/prompt", "name": ..}` or
/// `{"type": "ref/resource", "uri": ..}`, or serde's sequence form of an internally tagged enum,
/// which rmcp reads too: `["ref/prompt", name]`, `["ref/resource", uri]`.
#[derive(Default)]
struct Reference {
    kind: Slot<String>,
    name: Slot<String>,
    uri: Slot<String>,
}

/// `subscriptions/listen`'s `notifications`, as far as it names resources.
#[derive(Default)]
struct Filter {
    resources: Slot<Vec<Option<String>>>,
}

/// Why a naming method's target cannot be read.
const NO_PARAMS: &str = "the call's params must be an object naming what it acts on";
const NO_NAME: &str = "the call must name its tool or prompt with a string params.name";
const NO_URI: &str = "the call must name its resource with a string params.uri";
const NO_REF: &str = "completion/complete must name a prompt or resource in params.ref";
const NO_FILTER: &str = "subscriptions/listen must give params.notifications as an object whose resourceSubscriptions is a list of URIs";

impl Message {
    /// The call, `None` for a message of no method, or why its target cannot be read.
    fn into_call(self) -> Option<Result<Call, &'static str>> {
        let method = self.method?;
        let params = match self.params {
            Slot::Found(params) => Some(params),
            Slot::Absent => None,
            Slot::Other => {
                return Some(match NAMING_METHODS.contains(&method.as_str()) {
                    true => Err(NO_PARAMS),
                    false => Ok(Call {
                        method,
                        targets: Vec::new(),
                    }),
                })
            }
        };
        let targets = match params {
            Some(params) => params.targets(&method),
            None => match method.as_str() {
                "subscriptions/listen" => Ok(Vec::new()),
                m if NAMING_METHODS.contains(&m) => Err(NO_PARAMS),
                _ => Ok(Vec::new()),
            },
        };
        Some(targets.map(|targets| Call { method, targets }))
    }
}

impl Params {
    fn targets(self, method: &str) -> Result<Vec<Target>, &'static str> {
        let one = |slot: Slot<String>, target: fn(String) -> Target, why| match slot {
            Slot::Found(value) => Ok(vec![target(value)]),
            _ => Err(why),
        };
        match method {
            "tools/call" => one(self.name, Target::Tool, NO_NAME),
            "prompts/get" => one(self.name, Target::Prompt, NO_NAME),
            "resources/read"
            | "resources/subscribe"
            | "resources/unsubscribe"
            | "resources/directory/read"
            | "skills/get" => one(self.uri, Target::Resource, NO_URI),
            "completion/complete" => match self.reference {
                Slot::Found(reference) => match reference.kind {
                    Slot::Found(kind) if kind == "ref/prompt" => {
                        one(reference.name, Target::Prompt, NO_REF)
                    }
                    Slot::Found(kind) if kind == "ref/resource" => {
                        one(reference.uri, Target::Resource, NO_REF)
                    }
                    _ => Err(NO_REF),
                },
                _ => Err(NO_REF),
            },
            "subscriptions/listen" => match self.notifications {
                Slot::Absent => Ok(Vec::new()),
                Slot::Other => Err(NO_FILTER),
                Slot::Found(filter) => match filter.resources {
                    Slot::Absent => Ok(Vec::new()),
                    Slot::Other => Err(NO_FILTER),
                    Slot::Found(uris) => uris
                        .into_iter()
                        .map(|uri| uri.map(Target::Resource).ok_or(NO_FILTER))
                        .collect(),
                },
            },
            _ => Ok(Vec::new()),
        }
    }
}

/// The top level: one message, or a batch of them.
struct Top<'a> {
    ambiguous: &'a mut bool,
}

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = Vec<Message>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = Vec<Message>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON-RPC message or batch")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut messages = Vec::new();
        while let Some(message) = seq.next_element_seed(Fields::<Message>::new(self.ambiguous))? {
            messages.extend(message);
        }
        Ok(messages)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let message = Fields::<Message>::new(self.ambiguous).visit_map(map)?;
        Ok(message.into_iter().collect())
    }

    // Any other JSON value is a message of no call: the server answers it.
    scalars!(Self::Value = Vec::new(); bool, i64, u64, f64, str, unit);
}

/// An object whose fields are read into `T` (a [`Message`], its `params`, a [`Reference`]); any
/// other JSON value gives `None`, skipped without depth limits.
struct Fields<'a, T> {
    ambiguous: &'a mut bool,
    marker: std::marker::PhantomData<T>,
}

impl<'a, T> Fields<'a, T> {
    fn new(ambiguous: &'a mut bool) -> Self {
        Fields {
            ambiguous,
            marker: std::marker::PhantomData,
        }
    }
}

/// The object kinds [`Fields`] reads: which keys matter, and where each goes.
trait Object: Default {
    /// Reads the value of `key` from `map` into `self`; `false` when `key` is not one of
    /// `Self`'s (the caller skips its value). Nested objects report repeats in `ambiguous`.
    fn field<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
        ambiguous: &mut bool,
    ) -> Result<bool, A::Error>;
}

impl<'de, T: Object> DeserializeSeed<'de> for Fields<'_, T> {
    type Value = Option<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, T: Object> Visitor<'de> for Fields<'_, T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = T::default();
        let mut seen: Vec<String> = Vec::new();
        while let Some(key) = map.next_key::<Key>()? {
            if seen.contains(&key.0) {
                *self.ambiguous = true;
            }
            if object.field(&key.0, &mut map, self.ambiguous)? {
                seen.push(key.0);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Some(object))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    scalars!(Self::Value = None; bool, i64, u64, f64, str, unit);
}

impl Object for Message {
    fn field<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
        ambiguous: &mut bool,
    ) -> Result<bool, A::Error> {
        match key {
            "method" => self.method = map.next_value::<Text>()?.0,
            "params" => {
                let params = map.next_value_seed(Fields::<Params>::new(ambiguous))?;
                self.params = Slot::from_option(params);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl Object for Params {
    fn field<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
        ambiguous: &mut bool,
    ) -> Result<bool, A::Error> {
        match key {
            "name" => self.name = Slot::from_option(map.next_value::<Text>()?.0),
            "uri" => self.uri = Slot::from_option(map.next_value::<Text>()?.0),
            "ref" => {
                let reference = map.next_value_seed(ReferenceSeed { ambiguous })?;
                self.reference = Slot::from_option(reference);
            }
            "notifications" => {
                let filter = map.next_value_seed(Fields::<Filter>::new(ambiguous))?;
                self.notifications = Slot::from_option(filter);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl Object for Reference {
    fn field<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
        _ambiguous: &mut bool,
    ) -> Result<bool, A::Error> {
        let slot = match key {
            "type" => &mut self.kind,
            "name" => &mut self.name,
            "uri" => &mut self.uri,
            _ => return Ok(false),
        };
        *slot = Slot::from_option(map.next_value::<Text>()?.0);
        Ok(true)
    }
}

impl Object for Filter {
    fn field<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
        _ambiguous: &mut bool,
    ) -> Result<bool, A::Error> {
        match key {
            "resourceSubscriptions" => self.resources = map.next_value::<Texts>()?.0,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// `ref` in either of the forms serde reads an internally tagged enum from: an object, or a
/// sequence whose first element is the tag and whose second is the variant's first field
/// (`name` of a prompt, `uri` of a resource).
struct ReferenceSeed<'a> {
    ambiguous: &'a mut bool,
}

impl<'de> DeserializeSeed<'de> for ReferenceSeed<'_> {
    type Value = Option<Reference>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ReferenceSeed<'_> {
    type Value = Option<Reference>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Fields::<Reference>::new(self.ambiguous).visit_map(map)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let kind = seq.next_element::<Text>()?.and_then(|t| t.0);
        let first = seq.next_element::<Text>()?.and_then(|t| t.0);
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        let slot = || Slot::from_option(first.clone());
        Ok(Some(Reference {
            kind: Slot::from_option(kind),
            name: slot(),
            uri: slot(),
        }))
    }

    scalars!(Self::Value = None; bool, i64, u64, f64, str, unit);
}

/// A list of strings (`Found`, each element `None` when it is not a string), nothing for
/// `null`, `Other` for any other value.
struct Texts(Slot<Vec<Option<String>>>);

impl<'de> de::Deserialize<'de> for Texts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextsVisitor;
        impl<'de> Visitor<'de> for TextsVisitor {
            type Value = Texts;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Texts, A::Error> {
                let mut texts = Vec::new();
                while let Some(text) = seq.next_element::<Text>()? {
                    texts.push(text.0);
                }
                Ok(Texts(Slot::Found(texts)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Texts, E> {
                Ok(Texts(Slot::Absent))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Texts, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Texts(Slot::Other))
            }
            scalars!(Texts = Texts(Slot::Other); bool, i64, u64, f64, str);
        }
        deserializer.deserialize_any(TextsVisitor)
    }
}

/// An object key, escapes decoded.
struct Key(String);

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(Key(key.to_owned()))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// A string, or `None` for any other JSON value (skipped without depth limits).
struct Text(Option<String>);

impl<'de> de::Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Text, E> {
                Ok(Text(Some(text.to_owned())))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Text, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
            scalars!(Text = Text(None); bool, i64, u64, f64, unit);
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

#[cfg(test)]
mod tests;
