//! The reader against every shape of body: methods, batches, escapes, repeats, strictness.
use super::*;

fn calls(body: &str) -> Vec<Call> {
    match read(body.as_bytes()) {
        Body::Calls(calls) => calls,
        other => panic!("{body}: {other:?}"),
    }
}

fn call(method: &str, targets: &[Target]) -> Call {
    Call {
        method: method.to_owned(),
        targets: targets.to_vec(),
    }
}

#[test]
fn every_method_class_names_its_target() {
    let tool = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"send_message","arguments":{"text":"hi"}}}"#;
    assert_eq!(
        calls(tool),
        [call("tools/call", &[Target::Tool("send_message".into())])]
    );
    let prompt = r#"{"jsonrpc":"2.0","id":2,"method":"prompts/get","params":{"name":"greet"}}"#;
    assert_eq!(
        calls(prompt),
        [call("prompts/get", &[Target::Prompt("greet".into())])]
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
            [call(method, &[Target::Resource("file:///a".into())])]
        );
    }
    let complete = r#"{"jsonrpc":"2.0","id":4,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"greet"},"argument":{"name":"n","value":"x"}}}"#;
    assert_eq!(
        calls(complete),
        [call(
            "completion/complete",
            &[Target::Prompt("greet".into())]
        )]
    );
    let complete = r#"{"jsonrpc":"2.0","id":5,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"db://{table}"}}}"#;
    assert_eq!(
        calls(complete),
        [call(
            "completion/complete",
            &[Target::Resource("db://{table}".into())]
        )]
    );
    let list = r#"{"jsonrpc":"2.0","id":6,"method":"tools/list"}"#;
    assert_eq!(calls(list), [call("tools/list", &[])]);
    let note = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    assert_eq!(calls(note), [call("notifications/initialized", &[])]);
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
            call("tools/call", &[Target::Tool("a".into())]),
            call("tools/list", &[]),
            call("tools/call", &[Target::Tool("b".into())]),
        ]
    );
}

#[test]
fn escapes_are_read_as_the_server_reads_them() {
    let body = r#"{"m\u0065thod":"tools\/call","params":{"n\u0061me":"send_\u006dessage"}}"#;
    assert_eq!(
        calls(body),
        [call("tools/call", &[Target::Tool("send_message".into())])]
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
        [call("tools/call", &[Target::Tool("read".into())])]
    );
}

#[test]
fn not_strict_json_is_malformed_and_odd_shapes_name_nothing() {
    for body in [
        "",
        "{",
        "{\"method\":",
        "not json",
        "{\"method\":\"tools/call\"} trailing",
        "\u{feff}{}",
        r#"{"method":"tools/call","params":{"name":"send_message","arguments":{"n":NaN}}}"#,
        r#"{"method":"tools/call","params":{"name":"send_message","arguments":{"n":Infinity}}}"#,
    ] {
        assert_eq!(read(body.as_bytes()), Body::Malformed, "{body:?}");
    }
    // Invalid UTF-8, in a key and in a value the reader skips; UTF-16.
    let mut key = br#"{"method":"tools/call","params":{"na"#.to_vec();
    key.extend_from_slice(b"\xffme\":\"send_message\"}}");
    let mut skipped = br#"{"method":"tools/call","x":""#.to_vec();
    skipped.extend_from_slice(b"\xc3\x28\",\"params\":{\"name\":\"send_message\"}}");
    let utf16: Vec<u8> = r#"{"method":"tools/call","params":{"name":"send_message"}}"#
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    for body in [key, skipped, utf16] {
        assert_eq!(read(&body), Body::Malformed, "{body:?}");
    }
    // A lone surrogate escape is JSON by RFC 8259's grammar: refused where it is decoded (a
    // key, a name), skipped elsewhere, where no reader takes a call's name from it.
    let body = r#"{"method":"tools/call","params":{"name":"a\ud800"}}"#;
    assert_eq!(read(body.as_bytes()), Body::Malformed);
    // A method that names nothing, in odd shapes: no call to judge but the method.
    let body = r#"{"method":7,"params":{"name":"send_message"}}"#;
    assert_eq!(calls(body), []);
    assert_eq!(calls("null"), []);
    let body = r#"{"method":"tools/list","params":[1]}"#;
    assert_eq!(calls(body), [call("tools/list", &[])]);
}

#[test]
fn a_naming_call_whose_target_cannot_be_read_is_refused() {
    for body in [
        r#"{"method":"tools/call","params":{"name":["send_message"]}}"#,
        r#"{"method":"tools/call","params":{"name":null}}"#,
        r#"{"method":"tools/call","params":{"arguments":{}}}"#,
        r#"{"method":"tools/call","params":["send_message"]}"#,
        r#"{"method":"tools/call"}"#,
        r#"{"method":"prompts/get","params":"greet"}"#,
        r#"{"method":"resources/read","params":{"uri":7}}"#,
        r#"{"method":"skills/get","params":{}}"#,
        r#"{"method":"completion/complete","params":{"ref":{"type":"ref/other","name":"a"}}}"#,
        r#"{"method":"completion/complete","params":{"ref":"ref/prompt"}}"#,
        r#"{"method":"completion/complete","params":{"ref":["ref/prompt"]}}"#,
        r#"{"method":"subscriptions/listen","params":{"notifications":[null,null,null,["file:///a"]]}}"#,
        r#"{"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":"file:///a"}}}"#,
        r#"{"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":["file:///a",7]}}}"#,
        r#"[{"method":"tools/list"},{"method":"tools/call","params":{"name":1}}]"#,
    ] {
        assert!(
            matches!(read(body.as_bytes()), Body::Unreadable(_)),
            "{body}: {:?}",
            read(body.as_bytes())
        );
    }
}

#[test]
fn newer_methods_name_their_resources() {
    for method in ["resources/directory/read", "skills/get"] {
        let body = format!(r#"{{"method":"{method}","params":{{"uri":"skill://a/SKILL.md"}}}}"#);
        assert_eq!(
            calls(&body),
            [call(
                method,
                &[Target::Resource("skill://a/SKILL.md".into())]
            )]
        );
    }
    let listen = r#"{"method":"subscriptions/listen","params":{"_meta":{},"notifications":{"toolsListChanged":true,"resourceSubscriptions":["file:///a","file:///b"]}}}"#;
    assert_eq!(
        calls(listen),
        [call(
            "subscriptions/listen",
            &[
                Target::Resource("file:///a".into()),
                Target::Resource("file:///b".into())
            ]
        )]
    );
    for quiet in [
        r#"{"method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true}}}"#,
        r#"{"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":null}}}"#,
        r#"{"method":"subscriptions/listen"}"#,
    ] {
        assert_eq!(calls(quiet), [call("subscriptions/listen", &[])], "{quiet}");
    }
    let twice = r#"{"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":[],"resourceSubscriptions":["file:///a"]}}}"#;
    assert_eq!(read(twice.as_bytes()), Body::Ambiguous);
}

#[test]
fn a_completion_ref_in_sequence_form_is_read_as_serde_reads_it() {
    let prompt = r#"{"method":"completion/complete","params":{"ref":["ref/prompt","greet"],"argument":{"name":"n","value":""}}}"#;
    assert_eq!(
        calls(prompt),
        [call(
            "completion/complete",
            &[Target::Prompt("greet".into())]
        )]
    );
    let resource =
        r#"{"method":"completion/complete","params":{"ref":["ref/resource","db://{t}",7]}}"#;
    assert_eq!(
        calls(resource),
        [call(
            "completion/complete",
            &[Target::Resource("db://{t}".into())]
        )]
    );
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
        [call("tools/call", &[Target::Tool("send_message".into())])]
    );
    let body = format!(r#"[{deep},{{"method":"tools/call","params":{{"name":"send_message"}}}}]"#);
    assert_eq!(
        calls(&body),
        [call("tools/call", &[Target::Tool("send_message".into())])]
    );
    let body = format!(r#"{{"method":{deep},"params":{{"name":{deep}}}}}"#);
    assert_eq!(calls(&body), []);
}
