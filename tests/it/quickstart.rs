//! The quickstart as a user runs it: the built example binary, configured through the
//! environment, answering every route of its table over real HTTP.

use crate::common;
use crate::common::quickstart::{get, quickstart_binary, start, Example};

use std::process::Stdio;
use std::time::Duration;

use route_guard::testing::{TestIssuer, TEST_AUDIENCE};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const ROLES: &str = "https://myapp.com/roles";

/// `examples/testing.rs` is documentation that must stay true: run it.
#[tokio::test]
async fn the_testing_example_passes() {
    let output = Command::new(common::example_binary("testing"))
        .env_clear()
        .output()
        .await
        .expect("the testing example is built by `cargo test`");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.contains("all checks passed"), "{stdout}");
}

#[tokio::test]
async fn every_route_answers_as_its_table_says() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let mut app = start(&[
        ("AUTH0_ISSUER_BASE_URL", issuer.issuer()),
        ("AUTH0_AUDIENCE", TEST_AUDIENCE),
    ])
    .await;
    let base = app.base.clone();
    let user = issuer.token().sub("auth0|user").sign();
    let reader = issuer
        .token()
        .sub("auth0|reader")
        .scopes("read:messages")
        .permissions(["read:messages"])
        .sign();
    let writer = issuer.token().permissions(["write:messages"]).sign();
    let admin = issuer
        .token()
        .sub("auth0|admin")
        .claim(ROLES, json!(["admin"]))
        .sign();
    let manager = issuer.token().claim(ROLES, json!(["manager"])).sign();

    let public = get(&base, "/api/public", None).await;
    assert_eq!(public.status, 200);
    assert!(public.body["message"].is_string() && public.body["timestamp"].is_number());

    let private = get(&base, "/api/private", Some(&user)).await;
    assert_eq!(private.status, 200);
    assert_eq!(private.body["user"], "auth0|user");
    get(&base, "/api/private", None)
        .await
        .assert_rejected(401, "unauthorized");
    get(&base, "/api/private", Some("a.b.c"))
        .await
        .assert_rejected(401, "invalid_token");

    let scoped = get(&base, "/api/private-scoped", Some(&reader)).await;
    assert_eq!(scoped.status, 200);
    assert_eq!(scoped.body["scope"], "read:messages");
    let denied = get(&base, "/api/private-scoped", Some(&user)).await;
    denied.assert_rejected(403, "insufficient_scope");
    assert!(denied.challenge().ends_with("scope=\"read:messages\""));

    let profile = get(&base, "/api/profile", Some(&admin)).await;
    assert_eq!(profile.body["profile"]["sub"], "auth0|admin");
    assert_eq!(profile.body["profile"][ROLES], json!(["admin"]));

    let messages = get(&base, "/api/messages", Some(&reader)).await;
    assert!(messages.body["messages"].is_array());
    get(&base, "/api/messages", Some(&user))
        .await
        .assert_rejected(403, "insufficient_scope");
    let created = common::send(
        common::client()
            .post(format!("{base}/api/messages"))
            .bearer_auth(&writer)
            .header("content-type", "application/json")
            .body(r#"{"text":"hi"}"#),
    )
    .await;
    assert_eq!(created.status, 201);
    assert!(created.body["id"].is_number());
    let refused = common::send(
        common::client()
            .post(format!("{base}/api/messages"))
            .bearer_auth(&reader)
            .header("content-type", "application/json")
            .body(r#"{"text":"hi"}"#),
    )
    .await;
    refused.assert_rejected(403, "insufficient_scope");

    assert!(get(&base, "/api/admin", Some(&admin)).await.body["users"].is_array());
    get(&base, "/api/admin", Some(&manager))
        .await
        .assert_rejected(403, "insufficient_scope");
    assert!(get(&base, "/api/reports", Some(&manager)).await.body["reports"].is_array());
    assert_eq!(get(&base, "/api/reports", Some(&admin)).await.status, 200);
    get(&base, "/api/reports", Some(&user))
        .await
        .assert_rejected(403, "insufficient_scope");

    let expensive = get(&base, "/api/expensive", Some(&user)).await;
    assert_eq!(
        expensive.body,
        json!({ "result": "expensive operation result" })
    );
    assert!(expensive
        .header("ratelimit-policy")
        .ends_with("::expensive\";q=10;w=60"));
    get(&base, "/api/expensive", None)
        .await
        .assert_rejected(401, "unauthorized");

    // A nested router guarded by a route layer.
    let audit = get(&base, "/api/audit/events", Some(&admin)).await;
    assert_eq!(audit.status, 200);
    assert_eq!(audit.body["requested_by"], "auth0|admin");
    get(&base, "/api/audit/events", Some(&manager))
        .await
        .assert_rejected(403, "insufficient_scope");
    get(&base, "/api/audit/events", None)
        .await
        .assert_rejected(401, "unauthorized");

    let guest = get(&base, "/api/feed", None).await;
    assert!(guest.body["message"]
        .as_str()
        .unwrap_or_default()
        .contains("guest"));
    let personal = get(&base, "/api/feed", Some(&user)).await;
    assert!(personal.body["message"]
        .as_str()
        .unwrap_or_default()
        .contains("auth0|user"));
    get(&base, "/api/feed", Some("a.b.c"))
        .await
        .assert_rejected(401, "invalid_token");

    let missing = get(&base, "/api/nothing-here", None).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["error"], "not_found");

    assert_eq!(issuer.jwks_fetches(), 1);
    app.child.kill().await.expect("stops");
}

/// Runs every printed `# what: status` / `curl -i ...` pair of development mode, with the
/// headers of the line as they are, and checks the status. How many lines ran, and how many of
/// them carried a DPoP proof and a client certificate header `certificate_header`.
async fn run_printed_lines(app: &Example, certificate_header: &str) -> (usize, usize, usize) {
    let mut checked = 0;
    let mut dpop_lines = 0;
    let mut certificate_lines = 0;
    for pair in app.printed.windows(2) {
        let (Some(expected), Some(curl)) = (
            pair[0].trim().strip_prefix("# "),
            pair[1].trim().strip_prefix("curl -i "),
        ) else {
            continue;
        };
        let status: u16 = expected
            .rsplit(": ")
            .next()
            .and_then(|s| s.parse().ok())
            .expect("each comment ends with the expected status");
        let url = curl.rsplit(' ').next().expect("url");
        let path = url
            .strip_prefix(&app.base)
            .expect("printed URLs use the listening address");
        // Every `-H "Name: value"` of the line, sent as it is.
        let headers: Vec<(&str, &str)> = curl
            .split("-H \"")
            .skip(1)
            .filter_map(|h| h.split('"').next()?.split_once(": "))
            .collect();
        let send = || {
            let mut request = common::client().get(format!("{}{path}", app.base));
            for (name, value) in &headers {
                request = request.header(*name, *value);
            }
            common::send(request)
        };
        let reply = send().await;
        assert_eq!(reply.status, status, "{expected}: {}", reply.body);
        if headers.iter().any(|(name, _)| *name == "DPoP") {
            // A proof is single-use, as the comment says.
            let again = send().await;
            assert_eq!(again.status, 401, "{expected} (again): {}", again.body);
            assert_eq!(again.error(), "invalid_dpop_proof");
            dpop_lines += 1;
        }
        if headers.iter().any(|(name, _)| *name == certificate_header) {
            certificate_lines += 1;
        }
        checked += 1;
    }
    (checked, dpop_lines, certificate_lines)
}

#[tokio::test]
async fn development_mode_prints_curl_commands_that_work() {
    let app = start(&[]).await;
    let text = app.printed.join("\n");
    assert!(text.contains("development mode"), "{text}");
    let (checked, dpop_lines, certificate_lines) = run_printed_lines(&app, "client-cert").await;
    assert_eq!(dpop_lines, 1, "{text}");
    assert_eq!(certificate_lines, 0, "{text}");
    assert!(checked >= 11, "{text}");

    // The printed client-credentials line works, and its token opens the scoped route.
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("curl -s -X POST -u "))
        .expect("a token request line");
    let mut words = line.split(' ');
    let (user, _, form, endpoint) = (
        words.next().expect("user"),
        words.next(),
        words.next().expect("form"),
        words.next().expect("endpoint"),
    );
    let (id, secret) = user.split_once(':').expect("id:secret");
    let answer = common::send(
        common::client()
            .post(endpoint)
            .basic_auth(id, Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_owned()),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let token = answer.body["access_token"].as_str().expect("token");
    assert_eq!(
        get(&app.base, "/api/private-scoped", Some(token))
            .await
            .status,
        200
    );

    // Development mode publishes its Protected Resource Metadata, its own URL as the resource,
    // its routes' scopes gathered without a list, and names it in every challenge.
    let metadata = get(&app.base, "/.well-known/oauth-protected-resource", None).await;
    assert_eq!(metadata.status, 200);
    assert_eq!(metadata.body["resource"], app.base.as_str());
    assert!(metadata.body["scopes_supported"]
        .as_array()
        .is_some_and(|s| s.contains(&serde_json::json!("read:messages"))));
    let denied = get(&app.base, "/api/private-scoped", None).await;
    assert!(
        denied.challenge().starts_with(&format!(
            "Bearer realm=\"api\", scope=\"read:messages\", resource_metadata=\"{}/.well-known/oauth-protected-resource\"",
            app.base
        )),
        "{}",
        denied.challenge()
    );
}

#[tokio::test]
async fn an_issuer_unreachable_since_start_up_is_503_until_it_answers() {
    let issuer = TestIssuer::start().await.expect("issuer");
    issuer.set_down(true);
    let mut app = start(&[
        ("AUTH0_ISSUER_BASE_URL", issuer.issuer()),
        ("AUTH0_AUDIENCE", TEST_AUDIENCE),
    ])
    .await;
    let base = app.base.clone();
    let token = issuer.token().sign();
    // Our outage, not the token's: 503 without a challenge, so a client keeps its token.
    get(&base, "/api/private", Some(&token))
        .await
        .assert_unavailable_for("signing keys are unavailable", "2");
    assert_eq!(get(&base, "/api/public", None).await.status, 200);
    issuer.set_down(false);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let reply = get(&base, "/api/private", Some(&token)).await;
        if reply.status == 200 {
            break;
        }
        assert_eq!(reply.status, 503, "{}", reply.body);
        assert!(std::time::Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.child.kill().await.expect("stops");
}

#[tokio::test]
async fn rate_limit_limits_every_api_route_per_caller_beside_the_expensive_routes_own() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let mut app = start(&[
        ("AUTH0_ISSUER_BASE_URL", issuer.issuer()),
        ("AUTH0_AUDIENCE", TEST_AUDIENCE),
        ("RATE_LIMIT", "12/minute"),
    ])
    .await;
    let base = app.base.clone();
    // Without a token the caller is its address: 12 requests, then 429.
    for _ in 0..12 {
        let reply = get(&base, "/api/public", None).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("ratelimit-policy"), "\"api\";q=12;w=60");
    }
    let limited = get(&base, "/api/public", None).await;
    assert_eq!(limited.status.as_u16(), 429);
    assert_eq!(limited.error(), "rate_limited");
    assert!(!limited.header("retry-after").is_empty());
    // A verified caller has its own budget; the expensive route's own limit (10) bites first.
    let user = issuer.token().sub("auth0|busy").sign();
    for _ in 0..10 {
        assert_eq!(get(&base, "/api/expensive", Some(&user)).await.status, 200);
    }
    let expensive = get(&base, "/api/expensive", Some(&user)).await;
    assert_eq!(expensive.status.as_u16(), 429);
    assert!(expensive
        .description()
        .starts_with("too many requests: this route allows 10/minute per caller"));
    // The global budget (12) still has one request for this caller, then it is spent too.
    assert_eq!(get(&base, "/api/private", Some(&user)).await.status, 200);
    assert_eq!(
        get(&base, "/api/private", Some(&user))
            .await
            .status
            .as_u16(),
        429
    );
    app.child.kill().await.expect("stops");
}

#[tokio::test]
async fn a_malformed_rate_limit_stops_start_up_naming_the_variable() {
    let stderr = start_up_error(&[("RATE_LIMIT", "lots")]).await;
    assert!(
        stderr.contains("RATE_LIMIT: `lots` is not a rate limit"),
        "{stderr}"
    );
}

#[tokio::test]
async fn development_mode_with_mtls_prints_a_bound_token_and_its_proxy_header() {
    for (header, format) in [
        ("client-cert", "rfc9440"),
        ("x-forwarded-client-cert", "xfcc"),
        ("ssl-client-cert", "pem-urlencoded"),
        ("x-forwarded-tls-client-cert", "base64-der"),
    ] {
        let app = start(&[
            ("AUTH0_MTLS", "allowed"),
            ("AUTH0_MTLS_CERT_HEADER", header),
            ("AUTH0_MTLS_CERT_FORMAT", format),
        ])
        .await;
        let text = app.printed.join("\n");
        let (checked, _, certificate_lines) = run_printed_lines(&app, header).await;
        assert_eq!(certificate_lines, 1, "{format}: {text}");
        assert!(checked >= 13, "{text}");
        assert!(
            text.contains(&format!("in {header} ({format}): 200")),
            "{text}"
        );
        let metadata = get(&app.base, "/.well-known/oauth-protected-resource", None).await;
        assert_eq!(
            metadata.body["tls_client_certificate_bound_access_tokens"],
            true
        );
    }
}

#[tokio::test]
async fn development_mode_with_a_jwe_key_prints_encrypted_tokens_that_work() {
    let key = route_guard::testing::TestEncryptionKey::generate("dev").expect("key");
    let dir =
        std::env::temp_dir().join(format!("route-guard-quickstart-jwe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("api-key.pem");
    std::fs::write(&path, key.private_key_pem()).expect("write");
    let file = format!("dev={}", path.display());
    for required in ["false", "true"] {
        let app = start(&[
            ("AUTH0_JWE_KEY_FILE", &file),
            ("AUTH0_JWE_REQUIRED", required),
        ])
        .await;
        let text = app.printed.join("\n");
        assert!(text.contains("an encrypted token (JWE)"), "{text}");
        let (checked, dpop_lines, _) = run_printed_lines(&app, "client-cert").await;
        assert!(checked >= 12, "{text}");
        assert_eq!(dpop_lines, 1, "{text}");
        let encrypted = app
            .printed
            .iter()
            .filter(|l| {
                l.contains("Bearer ")
                    && l.split("Bearer ").nth(1).is_some_and(|t| {
                        t.split('"').next().unwrap_or_default().split('.').count() == 5
                    })
            })
            .count();
        match required {
            // Every printed token is encrypted, and a plain one is refused.
            "true" => {
                assert!(encrypted >= 11, "{text}");
                // The token endpoint's tokens are signed only: refused here.
                let line = text
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("curl -s -X POST -u "))
                    .expect("a token request line");
                let endpoint = line.rsplit(' ').next().expect("endpoint");
                let answer = common::send(
                    common::client()
                        .post(endpoint)
                        .basic_auth("quickstart-agent", Some("quickstart-secret"))
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body("grant_type=client_credentials"),
                )
                .await;
                let token = answer.body["access_token"].as_str().expect("token");
                let reply = get(&app.base, "/api/private", Some(token)).await;
                assert_eq!(reply.status, 401, "{}", reply.body);
                assert!(
                    reply.description().contains("only encrypted tokens"),
                    "{}",
                    reply.body
                );
            }
            _ => assert_eq!(encrypted, 1, "{text}"),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    // An unreadable key stops start-up, in development mode and with a tenant.
    let unreadable = [("AUTH0_JWE_KEY_FILE", "/nonexistent/route-guard/key.pem")];
    stops_start_up_naming(&unreadable, "AUTH0_JWE_KEY_FILE").await;
}

/// The quickstart with `vars`, in development mode and with a tenant, exits 1 with a message
/// naming `variable`, and no panic.
async fn stops_start_up_naming(vars: &[(&str, &str)], variable: &str) {
    let tenant = [
        ("AUTH0_DOMAIN", "tenant.us.auth0.com"),
        ("AUTH0_AUDIENCE", "https://api.example.com"),
    ];
    for with_tenant in [vars.to_vec(), [vars, &tenant].concat()] {
        let stderr = start_up_error(&with_tenant).await;
        assert!(stderr.contains(variable), "{with_tenant:?}: {stderr}");
    }
}

/// The quickstart with exactly `vars` (and `PORT=0`: a refusal that comes after the listener is
/// bound must not meet another test's process on the default port) exits 1 without a panic;
/// what it printed on stderr.
async fn start_up_error(vars: &[(&str, &str)]) -> String {
    let output = Command::new(quickstart_binary())
        .env_clear()
        .envs(vars.iter().copied())
        .env("PORT", "0")
        .current_dir(std::env::temp_dir())
        .output()
        .await
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{vars:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[tokio::test]
async fn a_wrong_mtls_setting_stops_start_up_naming_the_variable() {
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("AUTH0_MTLS", "sometimes")], "AUTH0_MTLS"),
        (&[("AUTH0_MTLS", "allowed")], "AUTH0_MTLS_CERT_HEADER"),
        (
            &[
                ("AUTH0_MTLS", "allowed"),
                ("AUTH0_MTLS_CERT_HEADER", "client-cert"),
            ],
            "AUTH0_MTLS_CERT_FORMAT",
        ),
        (
            &[
                ("AUTH0_MTLS", "allowed"),
                ("AUTH0_MTLS_CERT_HEADER", "client-cert"),
                ("AUTH0_MTLS_CERT_FORMAT", "pem"),
            ],
            "AUTH0_MTLS_CERT_FORMAT",
        ),
        (
            &[
                ("AUTH0_MTLS_CERT_HEADER", "client-cert"),
                ("AUTH0_MTLS_CERT_FORMAT", "rfc9440"),
            ],
            "AUTH0_MTLS",
        ),
    ];
    for (vars, variable) in cases {
        stops_start_up_naming(vars, variable).await;
    }
}

#[tokio::test]
async fn a_wrong_setting_stops_start_up_with_what_to_set() {
    let stderr = start_up_error(&[
        ("AUTH0_DOMAIN", "https://tenant.us.auth0.com"),
        ("AUTH0_AUDIENCE", "https://api.example.com"),
    ])
    .await;
    assert!(stderr.contains("AUTH0_DOMAIN"), "{stderr}");
    let stderr = start_up_error(&[("AUTH0_DOMAIN", "tenant.us.auth0.com")]).await;
    assert!(stderr.contains("AUTH0_AUDIENCE"), "{stderr}");
}

#[tokio::test]
async fn cors_origins_enable_cors_and_ctrl_c_shuts_down_cleanly() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let mut app = start(&[
        ("AUTH0_ISSUER_BASE_URL", issuer.issuer()),
        ("AUTH0_AUDIENCE", TEST_AUDIENCE),
        (
            "CORS_ORIGINS",
            "https://app.example.com, http://localhost:3000",
        ),
    ])
    .await;
    let client = common::client();
    // Without a token, on a route guarded by an attribute and on one guarded by a route layer.
    for path in ["/api/private", "/api/audit/events"] {
        let preflight = client
            .request(reqwest::Method::OPTIONS, format!("{}{path}", app.base))
            .header("origin", "https://app.example.com")
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
            .await
            .expect("preflight answered");
        assert!(
            preflight.status().is_success(),
            "{path}: {}",
            preflight.status()
        );
        assert!(preflight.headers().get("www-authenticate").is_none());
        let headers = preflight.headers();
        assert_eq!(
            headers["access-control-allow-origin"],
            "https://app.example.com"
        );
        assert!(headers["access-control-allow-headers"]
            .to_str()
            .unwrap_or_default()
            .contains("authorization"));
    }

    let denied = client
        .get(format!("{}/api/private", app.base))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .expect("answered");
    assert_eq!(denied.status(), 401);
    assert!(denied.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap_or_default()
        .contains("www-authenticate"));

    let other = client
        .get(format!("{}/api/public", app.base))
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .expect("answered");
    assert!(other.headers().get("access-control-allow-origin").is_none());

    // Ctrl-C: the server stops accepting and the process exits successfully.
    let pid = app.child.id().expect("running").to_string();
    let sent = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .await
        .expect("kill runs");
    assert!(sent.success());
    let status = tokio::time::timeout(Duration::from_secs(10), app.child.wait())
        .await
        .expect("exits within 10 s")
        .expect("exit status");
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn each_request_is_logged_once() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let dir = std::env::temp_dir();
    let mut child = Command::new(quickstart_binary())
        .env_clear()
        .env("AUTH0_ISSUER_BASE_URL", issuer.issuer())
        .env("AUTH0_AUDIENCE", TEST_AUDIENCE)
        .env("PORT", "0")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawns");
    let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let base = loop {
        let line = out
            .next_line()
            .await
            .expect("line")
            .expect("listening line");
        if let Some(base) = line.strip_prefix("listening on ") {
            break base.to_owned();
        }
    };
    assert_eq!(get(&base, "/api/public", None).await.status, 200);
    assert_eq!(get(&base, "/api/private", None).await.status, 401);
    let pid = child.id().expect("running").to_string();
    Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .await
        .expect("kill");
    let output = child.wait_with_output().await.expect("exits");
    let log = String::from_utf8_lossy(&output.stderr);
    let responses: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("finished processing request"))
        .collect();
    assert_eq!(responses.len(), 2, "{log}");
    assert!(responses.iter().any(|l| l.contains("status=200")), "{log}");
    assert!(responses.iter().any(|l| l.contains("status=401")), "{log}");
}

#[tokio::test]
async fn several_domains_from_auth0_domains() {
    let (a, b, other) = (
        TestIssuer::start().await.expect("issuer"),
        TestIssuer::start().await.expect("issuer"),
        TestIssuer::start().await.expect("issuer"),
    );
    let domains = format!("{}, {}", a.issuer(), b.issuer());
    let app = start(&[
        ("AUTH0_DOMAINS", domains.as_str()),
        ("AUTH0_AUDIENCE", TEST_AUDIENCE),
    ])
    .await;
    let text = app.printed.join("\n");
    assert!(
        text.contains(a.issuer()) && text.contains(b.issuer()),
        "{text}"
    );
    for issuer in [&a, &b] {
        let token = issuer.token().sub("auth0|user").sign();
        let reply = get(&app.base, "/api/private", Some(&token)).await;
        assert_eq!(reply.status, 200, "{}: {}", issuer.issuer(), reply.body);
    }
    let foreign = other.token().sign();
    let reply = get(&app.base, "/api/private", Some(&foreign)).await;
    assert_eq!(reply.status, 401);
    assert_eq!((other.discovery_fetches(), other.jwks_fetches()), (0, 0));
}

/// `ISSUER_PROFILE` with each vendor: the quickstart's three guarded routes answer that vendor's
/// tokens exactly as they answer Auth0's (scopes from Okta's `scp` array and Entra's `scp`
/// string, roles from Keycloak's `realm_access`, Cognito's groups, ...), and refuse with
/// 401 `invalid_token` or 403 `insufficient_scope`.
#[tokio::test]
async fn every_issuer_profile_drives_the_same_routes() {
    use route_guard::IssuerProfile;
    for profile in IssuerProfile::ALL {
        let issuer = TestIssuer::start_for(profile).await.expect("issuer");
        let mut vars = vec![
            ("AUTH0_ISSUER_BASE_URL", issuer.issuer().to_owned()),
            ("AUTH0_AUDIENCE", issuer.audience().to_owned()),
            ("ISSUER_PROFILE", profile.as_str().to_owned()),
        ];
        if profile == IssuerProfile::Auth0 {
            // The quickstart's own roles claim, as an Auth0 Action adds it.
            vars.push((
                "ROLES_CLAIM",
                route_guard::testing::TEST_ROLES_CLAIM.to_owned(),
            ));
        }
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let app = start(&vars).await;
        let reader = issuer.token().scopes("openid read:messages").sign();
        let admin = issuer.token().roles(["admin"]).sign();
        let plain = issuer.token().sign();
        for (path, token, status) in [
            ("/api/private", &plain, 200),
            ("/api/private-scoped", &reader, 200),
            ("/api/private-scoped", &plain, 403),
            ("/api/admin", &admin, 200),
            ("/api/admin", &reader, 403),
        ] {
            let reply = get(&app.base, path, Some(token)).await;
            assert_eq!(
                reply.status.as_u16(),
                status,
                "{profile} {path}: {}",
                reply.body
            );
            if status == 403 {
                reply.assert_rejected(403, "insufficient_scope");
            }
        }
        let expired = issuer.token().expired_for(Duration::from_secs(600)).sign();
        get(&app.base, "/api/private", Some(&expired))
            .await
            .assert_rejected(401, "invalid_token");
    }
}

#[tokio::test]
async fn an_unknown_issuer_profile_stops_start_up_naming_the_variable() {
    let stderr = start_up_error(&[
        ("ISSUER_PROFILE", "zitadel"),
        ("AUTH0_ISSUER_BASE_URL", "https://issuer.example.com"),
        ("AUTH0_AUDIENCE", "https://api.example.com"),
    ])
    .await;
    assert!(
        stderr.contains("ISSUER_PROFILE is `zitadel`")
            && stderr.contains("auth0, keycloak, entra, cognito, okta, firebase"),
        "{stderr}"
    );
    // Without an issuer, too (development mode is Auth0's only).
    let stderr = start_up_error(&[("ISSUER_PROFILE", "keycloak")]).await;
    assert!(stderr.contains("AUTH0_ISSUER_BASE_URL"), "{stderr}");
}
