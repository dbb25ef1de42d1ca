//! [`Quota`]: how many requests a caller may make in a window, and its text form `10/minute`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// How many requests one caller may make per window: `Quota::per_minute(100)`, or the text
/// `"100/minute"` (also `/second`, `/hour`, `/day` and the short forms `s`, `sec`, `m`, `min`,
/// `h`, `d`).
///
/// Enforced as a GCRA (a leaky bucket without timers): a caller may spend the whole quota at
/// once, and then one more request each `window / n`, so no caller ever exceeds `n` in any
/// window.
///
/// ```
/// # extern crate auth_runtime as route_guard;
/// use std::time::Duration;
/// use route_guard::layer::Quota;
///
/// let quota: Quota = "10/minute".parse()?;
/// assert_eq!(quota, Quota::per_minute(10));
/// assert_eq!(quota.requests(), 10);
/// assert_eq!(quota.window(), Duration::from_secs(60));
/// assert!("10 per fortnight".parse::<Quota>().is_err());
/// # Ok::<(), route_guard::layer::QuotaError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    requests: u32,
    window_secs: u64,
}

/// A quota that is not `<n>/<unit>` with `n` from 1: what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a rate limit: write <requests>/<second|minute|hour|day>, e.g. `100/minute`, with at least 1 request")]
pub struct QuotaError(pub(crate) String);

impl Quota {
    /// `requests` per second. Panics when `requests` is 0 (no request could ever pass).
    pub const fn per_second(requests: u32) -> Quota {
        Quota::new(requests, 1)
    }

    /// `requests` per minute. Panics when `requests` is 0.
    pub const fn per_minute(requests: u32) -> Quota {
        Quota::new(requests, 60)
    }

    /// `requests` per hour. Panics when `requests` is 0.
    pub const fn per_hour(requests: u32) -> Quota {
        Quota::new(requests, 3600)
    }

    /// `requests` per day. Panics when `requests` is 0.
    pub const fn per_day(requests: u32) -> Quota {
        Quota::new(requests, 86_400)
    }

    const fn new(requests: u32, window_secs: u64) -> Quota {
        assert!(requests > 0, "a rate limit must allow at least 1 request");
        Quota {
            requests,
            window_secs,
        }
    }

    /// The requests allowed per window.
    pub const fn requests(&self) -> u32 {
        self.requests
    }

    /// The window.
    pub const fn window(&self) -> Duration {
        Duration::from_secs(self.window_secs)
    }

    /// Parses `<n>/<unit>`, in a `const` context too (`#[rate_limit("10/minute")]` is checked
    /// at compile time this way). `None` for anything else.
    pub const fn parse_const(text: &str) -> Option<Quota> {
        let bytes = text.as_bytes();
        let (mut start, mut end) = (0, bytes.len());
        while start < end && bytes[start].is_ascii_whitespace() {
            start += 1;
        }
        while end > start && bytes[end - 1].is_ascii_whitespace() {
            end -= 1;
        }
        let mut i = start;
        let mut requests: u64 = 0;
        while i < end && bytes[i].is_ascii_digit() {
            requests = requests * 10 + (bytes[i] - b'0') as u64;
            if requests > u32::MAX as u64 {
                return None;
            }
            i += 1;
        }
        if i == start || requests == 0 {
            return None;
        }
        while i < end && bytes[i] == b' ' {
            i += 1;
        }
        if i >= end || bytes[i] != b'/' {
            return None;
        }
        i += 1;
        while i < end && bytes[i] == b' ' {
            i += 1;
        }
        let window_secs = match unit(bytes, i, end) {
            Some(secs) => secs,
            None => return None,
        };
        Some(Quota {
            requests: requests as u32,
            window_secs,
        })
    }
}

/// The seconds of the unit in `bytes[from..to]`, case-insensitively.
const fn unit(bytes: &[u8], from: usize, to: usize) -> Option<u64> {
    const UNITS: [(&str, u64); 12] = [
        ("s", 1),
        ("sec", 1),
        ("second", 1),
        ("m", 60),
        ("min", 60),
        ("minute", 60),
        ("h", 3600),
        ("hour", 3600),
        ("d", 86_400),
        ("day", 86_400),
        ("secs", 1),
        ("mins", 60),
    ];
    let mut u = 0;
    while u < UNITS.len() {
        let (name, secs) = UNITS[u];
        let name = name.as_bytes();
        if name.len() == to - from {
            let mut k = 0;
            while k < name.len() && bytes[from + k].to_ascii_lowercase() == name[k] {
                k += 1;
            }
            if k == name.len() {
                return Some(secs);
            }
        }
        u += 1;
    }
    None
}

impl FromStr for Quota {
    type Err = QuotaError;

    fn from_str(text: &str) -> Result<Quota, QuotaError> {
        Quota::parse_const(text).ok_or_else(|| QuotaError(text.to_owned()))
    }
}

impl fmt::Display for Quota {
    /// `10/minute`, `3/second`, `1000/hour`, `5/day`, or `7/90s` for another window.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.window_secs {
            1 => "second",
            60 => "minute",
            3600 => "hour",
            86_400 => "day",
            secs => return write!(f, "{}/{secs}s", self.requests),
        };
        write!(f, "{}/{unit}", self.requests)
    }
}
