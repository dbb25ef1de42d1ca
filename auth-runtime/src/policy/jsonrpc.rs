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
    /// Not JSON (a syntax error, or cut short): no JSON-RPC server can run anything from it,
    /// and the MCP server's own parse error is the right answer.
    Malformed,
    /// A key naming a call is repeated inside one object.
    Ambiguous,
    /// One message or a batch: the calls in it (messages without a method, such as a client's
    /// responses, name none).
    Calls(Vec<Call>),
}

/// One JSON-RPC request or notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Call {
    /// `method`, e.g. `tools/call`.
    pub(crate) method: String,
    /// What the method acts on.
    pub(crate) target: Target,
}

/// What a call names, by its method: `tools/call` a tool, `prompts/get` a prompt,
/// `resources/read` / `subscribe` / `unsubscribe` a resource, `completion/complete` the prompt or
/// resource of its `ref`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// Nothing a policy can name (or a name that is not a string: the server refuses it).
    None,
    /// A tool, by name.
    Tool(String),
    /// A prompt, by name.
    Prompt(String),
    /// A resource, by URI.
    Resource(String),
}

/// Reads the calls of `body`.
pub(crate) fn read(body: &[u8]) -> Body {
    let mut ambiguous = false;
    let mut deserializer = serde_json::Deserializer::from_slice(body);
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
    Body::Calls(
        messages
            .into_iter()
            .filter_map(Message::into_call)
            .collect(),
    )
}

/// The fields of one message that name a call.
#[derive(Default)]
struct Message {
    method: Option<String>,
    name: Option<String>,
    uri: Option<String>,
    reference: Option<Reference>,
}

/// `completion/complete`'s `ref`: `{"type": "ref/prompt", "name": ..}` or
/// `{"type": "ref/resource", "uri": ..}`.
#[derive(Default)]
struct Reference {
    kind: Option<String>,
    name: Option<String>,
    uri: Option<String>,
}

impl Message {
    fn into_call(self) -> Option<Call> {
        let method = self.method?;
        let target = match method.as_str() {
            "tools/call" => self.name.map(Target::Tool),
            "prompts/get" => self.name.map(Target::Prompt),
            "resources/read" | "resources/subscribe" | "resources/unsubscribe" => {
                self.uri.map(Target::Resource)
            }
            "completion/complete" => self.reference.and_then(|r| match r.kind.as_deref() {
                Some("ref/prompt") => r.name.map(Target::Prompt),
                Some("ref/resource") => r.uri.map(Target::Resource),
                _ => None,
            }),
            _ => None,
        };
        Some(Call {
            method,
            target: target.unwrap_or(Target::None),
        })
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
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
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

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
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
                if let Some(params) = map.next_value_seed(Fields::<Params>::new(ambiguous))? {
                    self.name = params.name;
                    self.uri = params.uri;
                    self.reference = params.reference;
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// `params`, as far as it names a call.
#[derive(Default)]
struct Params {
    name: Option<String>,
    uri: Option<String>,
    reference: Option<Reference>,
}

impl Object for Params {
    fn field<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
        ambiguous: &mut bool,
    ) -> Result<bool, A::Error> {
        match key {
            "name" => self.name = map.next_value::<Text>()?.0,
            "uri" => self.uri = map.next_value::<Text>()?.0,
            "ref" => self.reference = map.next_value_seed(Fields::<Reference>::new(ambiguous))?,
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
        match key {
            "type" => self.kind = map.next_value::<Text>()?.0,
            "name" => self.name = map.next_value::<Text>()?.0,
            "uri" => self.uri = map.next_value::<Text>()?.0,
            _ => return Ok(false),
        }
        Ok(true)
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
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Text, E> {
                Ok(Text(None))
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls(body: &str) -> Vec<Call> {
        match read(body.as_bytes()) {
            Body::Calls(calls) => calls,
            other => panic!("{body}: {other:?}"),
        }
    }

    fn call(method: &str, target: Target) -> Call {
        Call {
            method: method.to_owned(),
            target,
        }
    }

    #[test]
    fn every_method_class_names_its_target() {
        let tool = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"send_message","arguments":{"text":"hi"}}}"#;
        assert_eq!(
            calls(tool),
            [call("tools/call", Target::Tool("send_message".into()))]
        );
        let prompt = r#"{"jsonrpc":"2.0","id":2,"method":"prompts/get","params":{"name":"greet"}}"#;
        assert_eq!(
            calls(prompt),
            [call("prompts/get", Target::Prompt("greet".into()))]
        );
        for method in [
            "resources/read",
            "resources/subscribe",
            "resources/unsubscribe",
        ] {
            let body = format!(
                r#"{{"jsonrpc":"2.0","id":3,"method":"{method}","params":{{"uri":"file:///a"}}}}"#
            );
            assert_eq!(
                calls(&body),
                [call(method, Target::Resource("file:///a".into()))]
            );
        }
        let complete = r#"{"jsonrpc":"2.0","id":4,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"greet"},"argument":{"name":"n","value":"x"}}}"#;
        assert_eq!(
            calls(complete),
            [call("completion/complete", Target::Prompt("greet".into()))]
        );
        let complete = r#"{"jsonrpc":"2.0","id":5,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"db://{table}"}}}"#;
        assert_eq!(
            calls(complete),
            [call(
                "completion/complete",
                Target::Resource("db://{table}".into())
            )]
        );
        let list = r#"{"jsonrpc":"2.0","id":6,"method":"tools/list"}"#;
        assert_eq!(calls(list), [call("tools/list", Target::None)]);
        let note = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        assert_eq!(
            calls(note),
            [call("notifications/initialized", Target::None)]
        );
        let response = r#"{"jsonrpc":"2.0","id":7,"result":{}}"#;
        assert_eq!(calls(response), []);
    }

    #[test]
    fn a_batch_lists_every_call() {
        let batch = r#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}},
            {"jsonrpc":"2.0","id":2,"method":"tools/list"}, 7, "x", [1],
            {"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"b"}}]"#;
        assert_eq!(
            calls(batch),
            [
                call("tools/call", Target::Tool("a".into())),
                call("tools/list", Target::None),
                call("tools/call", Target::Tool("b".into())),
            ]
        );
    }

    #[test]
    fn escapes_are_read_as_the_server_reads_them() {
        let body = r#"{"m\u0065thod":"tools\/call","params":{"n\u0061me":"send_\u006dessage"}}"#;
        assert_eq!(
            calls(body),
            [call("tools/call", Target::Tool("send_message".into()))]
        );
    }

    #[test]
    fn a_repeated_key_that_names_a_call_is_ambiguous() {
        for body in [
            r#"{"method":"tools/call","params":{"name":"read","name":"send"}}"#,
            r#"{"method":"tools/list","method":"tools/call","params":{"name":"send"}}"#,
            r#"{"method":"tools/call","params":{"name":"read"},"params":{"name":"send"}}"#,
            r#"{"method":"tools/call","params":{"name":"read"},"p\u0061rams":{"name":"send"}}"#,
            r#"[{"method":"tools/list"},{"method":"resources/read","params":{"uri":"a","uri":"b"}}]"#,
            r#"{"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"a","name":"b"}}}"#,
        ] {
            assert_eq!(read(body.as_bytes()), Body::Ambiguous, "{body}");
        }
        // Keys that name nothing may repeat: no reader decides a call by them.
        let body = r#"{"method":"tools/call","id":1,"id":2,"params":{"name":"read","arguments":{"a":1,"a":2}}}"#;
        assert_eq!(
            calls(body),
            [call("tools/call", Target::Tool("read".into()))]
        );
    }

    #[test]
    fn not_json_is_malformed_and_odd_shapes_name_nothing() {
        for body in [
            "",
            "{",
            "{\"method\":",
            "not json",
            "{\"method\":\"tools/call\"} trailing",
            "\u{feff}{}",
        ] {
            assert_eq!(read(body.as_bytes()), Body::Malformed, "{body:?}");
        }
        // A name that is not a string names nothing (the server refuses the call itself).
        let body = r#"{"method":"tools/call","params":{"name":["send_message"]}}"#;
        assert_eq!(calls(body), [call("tools/call", Target::None)]);
        let body = r#"{"method":7,"params":{"name":"send_message"}}"#;
        assert_eq!(calls(body), []);
        assert_eq!(calls("null"), []);
    }

    #[test]
    fn depth_in_what_is_skipped_never_hides_a_call() {
        // Nested far deeper than serde_json's recursion limit (128), where the server's own
        // parser skips it: the call is still read.
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let body = format!(
            r#"{{"extra":{deep},"method":"tools/call","params":{{"name":"send_message","arguments":{{"x":{deep}}},"_meta":{deep}}}}}"#
        );
        assert_eq!(
            calls(&body),
            [call("tools/call", Target::Tool("send_message".into()))]
        );
        let body =
            format!(r#"[{deep},{{"method":"tools/call","params":{{"name":"send_message"}}}}]"#);
        assert_eq!(
            calls(&body),
            [call("tools/call", Target::Tool("send_message".into()))]
        );
        let body = format!(r#"{{"method":{deep},"params":{{"name":{deep}}}}}"#);
        assert_eq!(calls(&body), []);
    }
}
