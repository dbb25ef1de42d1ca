//! PEM text (RFC 7468): the base64 body of the first block with a given label, and a block
//! written out. Shared by the JWE keys read at start-up, the certificates a proxy forwards, and
//! the test keys and certificates.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// Why no body was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Missing {
    /// No `-----BEGIN {label}-----` line.
    Begin,
    /// A `BEGIN` line without its `END` line.
    End,
}

/// The base64 text of the first `label` block of `pem`, whitespace removed (each caller decodes
/// it as strictly as its source needs).
pub(crate) fn body(pem: &str, label: &str) -> Result<String, Missing> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin).ok_or(Missing::Begin)? + begin.len();
    let length = pem[start..].find(&end).ok_or(Missing::End)?;
    Ok(pem[start..start + length]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect())
}

/// `der` as a `label` block, in lines of 64 characters.
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let base64 = STANDARD.encode(der);
    let mut text = format!("-----BEGIN {label}-----\n");
    for line in base64.as_bytes().chunks(64) {
        text.push_str(&String::from_utf8_lossy(line));
        text.push('\n');
    }
    text.push_str(&format!("-----END {label}-----\n"));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_round_trips_and_the_first_one_is_read() {
        let der: Vec<u8> = (0..=255).collect();
        let text = encode("CERTIFICATE", &der);
        assert!(text
            .lines()
            .all(|l| l.len() <= 64 || l.starts_with("-----")));
        let body = body(
            &format!("junk\n{text}{}", encode("CERTIFICATE", b"x")),
            "CERTIFICATE",
        );
        assert_eq!(body.map(|b| STANDARD.decode(b).ok()), Ok(Some(der)));
        assert_eq!(body_of("no block"), Err(Missing::Begin));
        assert_eq!(
            body_of("-----BEGIN CERTIFICATE-----\nAAEC"),
            Err(Missing::End)
        );
    }

    fn body_of(text: &str) -> Result<String, Missing> {
        body(text, "CERTIFICATE")
    }
}
