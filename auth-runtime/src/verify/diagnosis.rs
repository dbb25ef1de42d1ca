//! The token doctor's report: what `Authenticator::diagnose` returns.

use std::fmt;

pub use super::escape::terminal_safe;

use serde::Serialize;
use serde_json::Value;

/// What `Authenticator::diagnose` found: every check in order, the key it selected, the time
/// claims, the likely causes with their fixes, and the verdict route-guard gives the token.
///
/// Values read from the token before its signature passed are marked untrusted
/// ([`Finding::trusted`]): anyone can write them.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Diagnosis {
    /// The first 16 hex digits of the token's SHA-256: which token this is, without showing it.
    pub token_sha256: String,
    /// Every check, in the order the verification path runs them.
    pub checks: Vec<Finding>,
    /// The key chosen to check the signature, if one was found.
    pub key: Option<SelectedKey>,
    /// Whether looking for the key made route-guard fetch the issuer's JWKS.
    pub jwks_refreshed: bool,
    /// `exp`, `nbf`, `iat` and `auth_time`, as UTC and relative to now.
    pub times: Vec<TimeClaim>,
    /// The likely causes, most likely first, each with its fix; empty when the token passes.
    pub causes: Vec<Cause>,
    /// What route-guard answers a request with this token as `Authorization: Bearer`.
    pub verdict: Verdict,
}

impl Diagnosis {
    /// Whether route-guard accepts the token (for the requirement it was diagnosed against).
    pub fn accepted(&self) -> bool {
        self.verdict.accepted
    }

    /// The first failed check.
    pub fn first_failure(&self) -> Option<&Finding> {
        self.checks.iter().find(|f| f.outcome == Outcome::Failed)
    }

    /// The check named `name` (`"signature"`, `"exp"`, `"aud"`, ...).
    pub fn check(&self, name: &str) -> Option<&Finding> {
        self.checks.iter().find(|f| f.check == name)
    }

    /// Whether `cause` (a [`Cause::id`]) is among the causes.
    pub fn has_cause(&self, cause: &str) -> bool {
        self.causes.iter().any(|c| c.id == cause)
    }
}

/// One check's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The check passed.
    Passed,
    /// The check failed.
    Failed,
    /// The check could not be evaluated: something it needs failed first (no key, no payload).
    NotReached,
}

/// One check of the verification path.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Finding {
    /// Its name: `size`, `format`, `header`, `alg`, `crit`, `typ`, `payload`, `iss`, `key`,
    /// `signature`, `exp`, `nbf`, `aud`, `policies`, `binding`, `requirement`.
    pub check: &'static str,
    /// Passed, failed or not reached.
    pub outcome: Outcome,
    /// What route-guard expects.
    pub expected: Option<String>,
    /// What the token holds.
    pub actual: Option<String>,
    /// False for values read before the signature passed: anyone could have written them.
    pub trusted: bool,
}

/// The key chosen for the signature.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct SelectedKey {
    /// The issuer whose key set holds it.
    pub issuer: String,
    /// The token's `kid`.
    pub kid: Option<String>,
    /// The key type: `RSA`, `EC`, `OKP` or `oct` (HS256's shared secret).
    pub kty: &'static str,
    /// The algorithm it verifies.
    pub alg: &'static str,
}

/// A time claim, absolute and relative.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct TimeClaim {
    /// `exp`, `nbf`, `iat` or `auth_time`.
    pub claim: &'static str,
    /// Seconds since the epoch, as in the token.
    pub unix: f64,
    /// `2026-12-01 16:40:00 UTC`.
    pub utc: String,
    /// `3 h 2 min ago`, `in 47 s`.
    pub relative: String,
}

/// A likely cause of a rejection, with its fix in the issuer's terms (Auth0's dashboard).
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Cause {
    /// A stable name: `opaque_token`, `jwe_token`, `id_token`, `wrong_audience`,
    /// `other_issuer`, `issuer_trailing_slash`, `hs256`, `clock_skew`, `expired`,
    /// `permissions_missing`, `scope_permission_confusion`, `rotated_key`, `dpop_as_bearer`,
    /// `alg_none`, `crit_header`, `too_large`, `requirement_not_met`, `step_up`, ...
    pub id: &'static str,
    /// What happened.
    pub explanation: String,
    /// What to change.
    pub fix: String,
}

/// What route-guard sends back for a request with the token.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Verdict {
    /// Whether the request reaches the handler.
    pub accepted: bool,
    /// The status: 200 when accepted, else the rejection's.
    pub status: u16,
    /// The `WWW-Authenticate` header, if any.
    pub www_authenticate: Option<String>,
    /// The JSON body of a rejection.
    pub body: Option<Value>,
}

impl Diagnosis {
    /// The report as text, with ANSI colours when `color` is set: what `route-guard doctor`
    /// prints. Every value that came from the token or the issuer is escaped for a terminal
    /// (see [`Diagnosis`]'s `Display`).
    ///
    /// ```
    /// # extern crate auth_runtime as route_guard;
    /// # async fn show(auth: route_guard::Authenticator, token: &str) {
    /// let diagnosis = auth.diagnose(token).await;
    /// eprintln!("{}", diagnosis.report(std::io::IsTerminal::is_terminal(&std::io::stderr())));
    /// # }
    /// ```
    pub fn report(&self, color: bool) -> Report<'_> {
        Report {
            diagnosis: self,
            color,
        }
    }
}

/// The text report of a [`Diagnosis`] ([`Diagnosis::report`]).
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    diagnosis: &'a Diagnosis,
    color: bool,
}

impl Report<'_> {
    fn paint(&self, code: &str, text: &str) -> String {
        match self.color {
            true => format!("\x1b[{code}m{text}\x1b[0m"),
            false => text.to_owned(),
        }
    }
}

/// The plain-text report, one check a line, then the key, the times, the causes with their
/// fixes and the verdict. A token can hold anything in `kid`, `iss`, `aud` or a claim, and an
/// issuer anything in its key set: every such value is shown through [`terminal_safe`], so no
/// escape sequence reaches the terminal and no line break forges a line of the report.
/// (`--json` output is exact: JSON escapes control characters itself.)
impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.report(false).fmt(f)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.diagnosis;
        let safe = terminal_safe;
        writeln!(
            out,
            "route-guard doctor: token sha256:{}… (the token itself is never shown)",
            safe(&d.token_sha256)
        )?;
        writeln!(out)?;
        for (n, finding) in d.checks.iter().enumerate() {
            let (mark, code) = match finding.outcome {
                Outcome::Passed => ("ok  ", "32"),
                Outcome::Failed => ("FAIL", "31;1"),
                Outcome::NotReached => ("--  ", "2"),
            };
            let actual = match finding.outcome {
                Outcome::NotReached => "not reached".to_owned(),
                _ => safe(finding.actual.as_deref().unwrap_or_default()),
            };
            let untrusted = match (finding.trusted, finding.outcome) {
                (false, Outcome::Passed | Outcome::Failed) => {
                    " (untrusted: read before the signature passed)"
                }
                _ => "",
            };
            writeln!(
                out,
                "{:>3}. {} {:<12} {actual}{untrusted}",
                n + 1,
                self.paint(code, mark),
                finding.check
            )?;
            if finding.outcome == Outcome::Failed {
                if let Some(expected) = &finding.expected {
                    writeln!(out, "                      expected: {}", safe(expected))?;
                }
            }
        }
        writeln!(out)?;
        if let Some(key) = &d.key {
            writeln!(
                out,
                "key:     {} {} kid {} of {}{}",
                key.kty,
                key.alg,
                safe(key.kid.as_deref().unwrap_or("(none)")),
                safe(&key.issuer),
                match d.jwks_refreshed {
                    true => " (JWKS fetched for this)",
                    false => "",
                }
            )?;
        }
        for time in &d.times {
            writeln!(
                out,
                "{:<8} {} ({})",
                format!("{}:", time.claim),
                safe(&time.utc),
                safe(&time.relative)
            )?;
        }
        for cause in &d.causes {
            writeln!(out)?;
            let explanation = safe(&cause.explanation);
            writeln!(out, "{} {explanation}", self.paint("33;1", "cause:"))?;
            writeln!(out, "{} {}", self.paint("36;1", "fix:  "), safe(&cause.fix))?;
        }
        writeln!(out)?;
        let verdict = &d.verdict;
        match verdict.accepted {
            true => writeln!(
                out,
                "{} the API accepts this token (200)",
                self.paint("32;1", "verdict:")
            ),
            false => {
                writeln!(
                    out,
                    "{} the API refuses this token: {}",
                    self.paint("31;1", "verdict:"),
                    verdict.status
                )?;
                if let Some(challenge) = &verdict.www_authenticate {
                    writeln!(out, "  WWW-Authenticate: {}", safe(challenge))?;
                }
                if let Some(body) = &verdict.body {
                    writeln!(out, "  body: {}", safe(&body.to_string()))?;
                }
                Ok(())
            }
        }
    }
}
