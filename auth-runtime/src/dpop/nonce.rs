//! Server nonces (RFC 9449 §9) without shared state: a nonce is the time step it was issued in
//! and an HMAC of that step under a secret, so every instance with the secret accepts it.

use std::time::Duration;

use aws_lc_rs::hmac;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// The nonces of one key and time step (a view: the key is the Authenticator's).
pub(crate) struct Nonces<'a> {
    key: &'a hmac::Key,
    step: u64,
}

impl<'a> Nonces<'a> {
    pub(crate) fn new(key: &'a hmac::Key, step: Duration) -> Self {
        Nonces {
            key,
            step: step.as_secs().max(1),
        }
    }

    /// The nonce of the step `now` falls in.
    pub(crate) fn current(&self, now: f64) -> String {
        self.issue(self.step_of(now))
    }

    /// Whether `nonce` was issued in the current or the previous step.
    pub(crate) fn accepts(&self, nonce: &str, now: f64) -> bool {
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(nonce) else {
            return false;
        };
        if bytes.len() != 8 + 32 {
            return false;
        }
        let (step, tag) = bytes.split_at(8);
        let mut step_bytes = [0u8; 8];
        step_bytes.copy_from_slice(step);
        let step = u64::from_be_bytes(step_bytes);
        let now_step = self.step_of(now);
        (step == now_step || step.checked_add(1) == Some(now_step))
            && hmac::verify(self.key, &Self::message(step), tag).is_ok()
    }

    fn step_of(&self, now: f64) -> u64 {
        (now.max(0.0) as u64) / self.step
    }

    fn issue(&self, step: u64) -> String {
        let tag = hmac::sign(self.key, &Self::message(step));
        let mut bytes = Vec::with_capacity(8 + 32);
        bytes.extend_from_slice(&step.to_be_bytes());
        bytes.extend_from_slice(tag.as_ref());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn message(step: u64) -> [u8; 31] {
        let mut message = [0u8; 31];
        message[..23].copy_from_slice(b"route-guard dpop nonce:");
        message[23..].copy_from_slice(&step.to_be_bytes());
        message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_and_previous_step_accepted_older_and_forged_refused() {
        let key = |byte: u8| hmac::Key::new(hmac::HMAC_SHA256, &[byte; 32]);
        let (seven, eight, twin_key) = (key(7), key(8), key(7));
        let nonces = Nonces::new(&seven, Duration::from_secs(60));
        let t = 1_800_000_000.0;
        let nonce = nonces.current(t);
        assert!(nonces.accepts(&nonce, t));
        assert!(nonces.accepts(&nonce, t + 60.0));
        assert!(!nonces.accepts(&nonce, t + 120.0));
        let other = Nonces::new(&eight, Duration::from_secs(60));
        assert!(!other.accepts(&nonce, t));
        assert!(!nonces.accepts("", t));
        assert!(!nonces.accepts("not base64!", t));
        // Another instance with the same secret agrees.
        let twin = Nonces::new(&twin_key, Duration::from_secs(60));
        assert!(twin.accepts(&nonce, t));
    }
}
