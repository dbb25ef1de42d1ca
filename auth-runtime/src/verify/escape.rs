//! Text from a token, a client or an issuer made safe for a terminal and a log line: one rule
//! for the doctor's report and route-guard's own log events.

use std::fmt;

/// The most characters of one value shown; the rest is counted, not shown.
const SHOWN: usize = 400;

/// `text` made safe for a terminal and a log line: control characters (C0, DEL, C1), line and
/// paragraph separators and the bidirectional controls that reorder what a reader sees become
/// `\u{1b}`-style escapes, a backslash becomes `\\` (so an escape shown is never one the text
/// wrote), and text longer than 400 characters is cut with a note of how much was left out.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use route_guard::doctor::terminal_safe;
///
/// assert_eq!(terminal_safe("kid\u{1b}]0;owned\u{7}"), "kid\\u{1b}]0;owned\\u{7}");
/// assert_eq!(terminal_safe("a\r\nverdict: ok"), "a\\u{d}\\u{a}verdict: ok");
/// assert_eq!(terminal_safe("tenant.eu.auth0.com"), "tenant.eu.auth0.com");
/// ```
pub fn terminal_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(SHOWN) + 8);
    for (shown, c) in text.chars().enumerate() {
        if shown == SHOWN {
            let left = text.chars().count() - SHOWN;
            out.push_str(&format!("… ({left} more characters not shown)"));
            break;
        }
        match c {
            '\\' => out.push_str("\\\\"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// Characters a terminal acts on or that change how a line reads.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}'
        )
}

/// A value shown through [`terminal_safe`] when formatted: for log fields that carry text from a
/// token or a client (`error = %Escaped(&err)`). Formatting allocates, so it costs nothing while
/// the log level is off (tracing formats a field only for an enabled event).
pub(crate) struct Escaped<T>(pub(crate) T);

impl<T: fmt::Display> fmt::Display for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&terminal_safe(&self.0.to_string()))
    }
}
