//! The token doctor: [`Authenticator::diagnose`] runs every check of the verification path and
//! the route's requirement, explains the failures, and takes its verdict from the very code
//! that answers HTTP requests, so the two cannot disagree.

use std::sync::Arc;

use aws_lc_rs::digest::{digest, SHA256};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, Request};
use axum::response::IntoResponse;
use serde_json::Value;

use super::layer::RequestAuth;
use super::route::Rule;
use super::ClientCertificate;
use super::{authenticate, guard_request, AuthRejection, Claims};
use crate::claims::StandardClaims;
use crate::config::CertificateSource;
use crate::policy::{Insufficient, Require, Requirement};
use crate::verify::{
    Authenticator, Cause, Diagnosis, Finding, Given, Outcome, RequestContext, TokenReport, Verdict,
    VerifiedToken,
};
use axum::extract::FromRequestParts;

/// The largest rejection body read back for the verdict.
const MAX_BODY: usize = 64 * 1024;

impl Authenticator {
    /// Why `token` is accepted or refused: every check of the verification path in order (each
    /// passed, failed or not reached, with expected and actual values, evaluated past the first
    /// failure where it can be), the key selected, the time claims, the likely causes with their
    /// fixes, and the verdict: the status, `WWW-Authenticate` and body route-guard answers a
    /// request carrying it as `Authorization: Bearer`, for a route that needs a valid token.
    ///
    /// ```
    /// # extern crate auth_runtime as route_guard;
    /// # async fn doctor(auth: route_guard::Authenticator, token: &str) {
    /// let diagnosis = auth.diagnose(token).await;
    /// if !diagnosis.accepted() {
    ///     for cause in &diagnosis.causes {
    ///         eprintln!("{}\n  fix: {}", cause.explanation, cause.fix);
    ///     }
    /// }
    /// # }
    /// ```
    ///
    /// It runs the real path: a diagnosis is counted in [`stats`](Self::stats), may fetch the
    /// issuer's keys, and caches a valid token, exactly like a request.
    pub async fn diagnose(&self, token: &str) -> Diagnosis {
        self.diagnose_for(token, &Require::new()).await
    }

    /// [`diagnose`](Self::diagnose) for a route that also requires `require` (scopes,
    /// permissions, roles, claims, step-up), built at run time as for the route layers.
    pub async fn diagnose_for(&self, token: &str, require: &Require) -> Diagnosis {
        self.diagnose_with_certificate(token, require, None).await
    }

    /// [`diagnose_for`](Self::diagnose_for) for a request that comes with the client
    /// certificate `certificate` (DER), or explicitly without one: for certificate-bound tokens
    /// (RFC 8705). The certificate reaches the verdict's request the way the configured source
    /// reads it (the connection, or the proxy header in its format).
    ///
    /// ```
    /// # extern crate auth_runtime as route_guard;
    /// # async fn doctor(auth: route_guard::Authenticator, token: &str, pem: &str) {
    /// use route_guard::{layer::Require, ClientCertificate};
    ///
    /// let certificate = ClientCertificate::from_pem(pem);
    /// let der = certificate.as_ref().and_then(ClientCertificate::der);
    /// let diagnosis = auth.diagnose_with_certificate(token, &Require::new(), der).await;
    /// # }
    /// ```
    pub async fn diagnose_with_certificate(
        &self,
        token: &str,
        require: &Require,
        certificate: Option<&[u8]>,
    ) -> Diagnosis {
        let rule = Rule::Runtime(Arc::new(require.clone()));
        let expected = require.describe();
        let check =
            |claims: &StandardClaims, token: &VerifiedToken| require.check(Some(claims), token);
        self.diagnosis(token, rule, expected, check, certificate)
            .await
    }

    /// [`diagnose`](Self::diagnose) for a route guarded by the hand-written or
    /// attribute-generated requirement `R` (checked against `R::Claims`).
    pub async fn diagnose_route<R: Requirement>(&self, token: &str) -> Diagnosis {
        let rule = Rule::Typed(|parts| Box::pin(guard_request::<R>(parts)));
        let expected = match R::DESCRIPTION.is_empty() {
            true => "the route's requirement".to_owned(),
            false => format!("a valid token with {}", R::DESCRIPTION),
        };
        self.diagnosis(
            token,
            rule,
            expected,
            |_, token| {
                let claims = token.claims::<R::Claims>().map_err(|_| {
                    let mut missing = Insufficient::default();
                    missing.claims.push("claims of the route's type".to_owned());
                    missing
                })?;
                R::check(&claims, token)
            },
            None,
        )
        .await
    }

    async fn diagnosis(
        &self,
        token: &str,
        rule: Rule,
        expected: String,
        check: impl Fn(&StandardClaims, &VerifiedToken) -> Result<(), Insufficient>,
        certificate: Option<&[u8]>,
    ) -> Diagnosis {
        let given = Given(certificate);
        let context = RequestContext {
            certificate: Some(&given),
            ..RequestContext::default()
        };
        let report = self.diagnose_token(token, context).await;
        let (verdict, verified) = self.verdict(token, &rule, certificate).await;
        let mut causes = self.token_causes(&report);
        let TokenReport {
            mut findings,
            key,
            jwks_refreshed,
            times,
            ..
        } = report;
        // The claims and the requirement: on the verified token only (an unverified one proves
        // nothing).
        match &verified {
            Some(token) => {
                let parsed = token.claims::<StandardClaims>();
                if let Err(e) = &parsed {
                    causes.push(Cause {
                        id: "claims_type",
                        explanation: format!("a claim does not have the type the API reads: {e}"),
                        fix: "issue `scope` as a space-separated string and `permissions` / roles as arrays of strings".to_owned(),
                    });
                }
                findings.push(Finding {
                    check: "claims",
                    outcome: match parsed.is_ok() {
                        true => Outcome::Passed,
                        false => Outcome::Failed,
                    },
                    expected: Some("claims the handler's `Claims` can read".to_owned()),
                    actual: Some(match &parsed {
                        Ok(_) => "read".to_owned(),
                        Err(e) => e.to_string(),
                    }),
                    trusted: true,
                });
                let claims = parsed.unwrap_or_default();
                let outcome = check(&claims, token);
                if let Err(missing) = &outcome {
                    requirement_causes(missing, &claims, &mut causes);
                }
                findings.push(Finding {
                    check: "requirement",
                    outcome: match outcome.is_ok() {
                        true => Outcome::Passed,
                        false => Outcome::Failed,
                    },
                    expected: Some(expected),
                    actual: Some(match &outcome {
                        Ok(()) => "met".to_owned(),
                        Err(missing) => missing.to_string(),
                    }),
                    trusted: true,
                });
            }
            None => findings.push(Finding {
                check: "requirement",
                outcome: Outcome::NotReached,
                expected: Some(expected),
                actual: None,
                trusted: false,
            }),
        }
        let said = || {
            verdict
                .body
                .as_ref()
                .and_then(|b| b["error_description"].as_str())
                .unwrap_or("refused")
                .to_owned()
        };
        if verdict.accepted {
            causes.clear();
        } else if causes.is_empty() && findings.iter().any(|f| f.outcome == Outcome::Failed) {
            causes.push(Cause {
                id: "other",
                explanation: said(),
                fix: "see the failed check and the README's troubleshooting table".to_owned(),
            });
        } else if !findings.iter().any(|f| f.outcome == Outcome::Failed) {
            // The verification path refused something no check above names (a header member
            // given twice, a rate limit, an outage): say what it said.
            let said = said();
            findings.push(Finding {
                check: "verification",
                outcome: Outcome::Failed,
                expected: Some("the verification path accepts the token".to_owned()),
                actual: Some(said.clone()),
                trusted: true,
            });
            causes.push(Cause {
                id: "other",
                explanation: said,
                fix: "see the error description and the README's troubleshooting table".to_owned(),
            });
        }
        Diagnosis {
            token_sha256: token_fingerprint(token),
            checks: findings,
            key,
            jwks_refreshed,
            times,
            causes,
            verdict,
        }
    }

    /// The answer to `GET /` with `Authorization: Bearer <token>` on a route guarded by `rule`,
    /// through the same code as a real request; and the verified token, when it verified.
    async fn verdict(
        &self,
        token: &str,
        rule: &Rule,
        certificate: Option<&[u8]>,
    ) -> (Verdict, Option<VerifiedToken>) {
        let unsendable = Verdict {
            accepted: false,
            status: 400,
            www_authenticate: None,
            body: None,
        };
        // Not a header value at all: no HTTP client can send it, and servers refuse it with 400.
        let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) else {
            return (unsendable, None);
        };
        let Ok(request) = Request::builder()
            .uri("/")
            .header(AUTHORIZATION, value)
            .body(())
        else {
            return (unsendable, None);
        };
        let (mut parts, ()) = request.into_parts();
        parts.extensions.insert(RequestAuth::new(self.clone()));
        if let Some(der) = certificate {
            match &self.inner.settings.mtls.source {
                Some(CertificateSource::Header { name, format }) => {
                    if let Ok(value) = HeaderValue::from_str(&format.encode(der)) {
                        parts.headers.insert(name.clone(), value);
                    }
                }
                _ => {
                    parts.extensions.insert(ClientCertificate::new(der));
                }
            }
        }
        // A route whose handler reads `Claims` (StandardClaims), as most do: its extractor runs
        // after the guard, on the same verification.
        let outcome = match rule.apply(&mut parts).await {
            Ok(()) => <Claims as FromRequestParts<()>>::from_request_parts(&mut parts, &())
                .await
                .map(drop),
            Err(rejection) => Err(rejection),
        };
        let verified = authenticate(&mut parts)
            .await
            .ok()
            .map(|(_, token, _)| token);
        let verdict = match outcome {
            Ok(()) => Verdict {
                accepted: true,
                status: 200,
                www_authenticate: None,
                body: None,
            },
            Err(rejection) => render(rejection).await,
        };
        (verdict, verified)
    }
}

async fn render(rejection: AuthRejection) -> Verdict {
    let response = rejection.into_response();
    let status = response.status().as_u16();
    let www_authenticate = response
        .headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = axum::body::to_bytes(response.into_body(), MAX_BODY)
        .await
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok());
    Verdict {
        accepted: false,
        status,
        www_authenticate,
        body,
    }
}

/// The first 16 hex digits of the token's SHA-256.
fn token_fingerprint(token: &str) -> String {
    digest(&SHA256, token.as_bytes())
        .as_ref()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Why a verified token misses the route's requirement, and what to ask for.
fn requirement_causes(missing: &Insufficient, claims: &StandardClaims, causes: &mut Vec<Cause>) {
    use crate::claims::TokenClaims;
    if missing.step_up_only() || !missing.acr_values().is_empty() || missing.max_age().is_some() {
        let mut wanted = Vec::new();
        if !missing.acr_values().is_empty() {
            wanted.push(format!("acr_values={}", missing.acr_values().join(" ")));
        }
        if let Some(max_age) = missing.max_age() {
            wanted.push(format!("max_age={max_age}"));
        }
        causes.push(Cause {
            id: "step_up",
            explanation: format!("the user's login is not strong or recent enough: {missing}"),
            fix: format!(
                "send the user to log in again with {} (with Auth0, a post-login Action must put `acr` / `auth_time` into the access token)",
                wanted.join(" and ")
            ),
        });
    }
    // The scope / permission confusion: the name is there, in the other claim.
    let granted_permissions = &claims.permissions;
    for scope in &missing.scopes {
        if granted_permissions.iter().any(|p| p == scope) {
            causes.push(Cause {
                id: "scope_permission_confusion",
                explanation: format!("the route checks the scope `{scope}`, and the token carries `{scope}` as a permission (`permissions`), not in `scope`"),
                fix: format!("check the permission instead (`#[require_permissions(\"{scope}\")]`), or request the scope `{scope}` when getting the token"),
            });
        }
    }
    for permission in &missing.permissions {
        if claims.has_scope(permission) {
            causes.push(Cause {
                id: "scope_permission_confusion",
                explanation: format!("the route checks the permission `{permission}`, and the token carries `{permission}` as a scope, not in `permissions`"),
                fix: format!("check the scope instead (`#[require_scopes(\"{permission}\")]`), or turn on \"Add Permissions in the Access Token\" for the API"),
            });
        }
    }
    if !missing.permissions.is_empty() && granted_permissions.is_empty() {
        causes.push(Cause {
            id: "permissions_missing",
            explanation: "the route checks permissions and the token has no `permissions` claim: RBAC is off for the API, or \"Add Permissions in the Access Token\" is".to_owned(),
            fix: "turn on Enable RBAC and Add Permissions in the Access Token (Auth0 Dashboard, APIs, Settings, RBAC Settings), and assign the permissions to the user or application".to_owned(),
        });
    }
    if !missing.scopes.is_empty()
        || !missing.permissions.is_empty()
        || !missing.roles.is_empty()
        || !missing.claims.is_empty()
    {
        let mut ask = Vec::new();
        if !missing.scopes.is_empty() {
            ask.push(format!("request `scope={}`", missing.scopes.join(" ")));
        }
        if !missing.permissions.is_empty() {
            ask.push(format!(
                "grant the permissions {}",
                missing.permissions.join(", ")
            ));
        }
        if !missing.roles.is_empty() {
            ask.push(format!(
                "assign one of the roles {}",
                missing.roles.join(", ")
            ));
        }
        if !missing.claims.is_empty() {
            ask.push(format!("a token meeting {}", missing.claims.join(", ")));
        }
        causes.push(Cause {
            id: "requirement_not_met",
            explanation: format!("the token is valid, but {missing}"),
            fix: ask.join("; "),
        });
    }
}
