//! Instructions a request costs, counted by valgrind's callgrind: the same figures whatever
//! else the machine is doing, where wall-clock figures on a shared machine move by ±30% from one
//! run to the next. One request through the quickstart's routes in an axum `Router` (as
//! `benches/request.rs`, without sockets):
//!
//! - `public`: the public route, the baseline;
//! - `seen, shared`: `#[require_auth]` with `Claims<Arc<ApiClaims>>` (the quickstart), a token
//!   seen before;
//! - `seen, copied`: the same with `Claims<ApiClaims>` of a `Clone` type;
//! - `new token`: the shared route with a token never seen (a full verification and its cache
//!   insert, as for the end-to-end bench's 20,000 tokens);
//! - `floor`: the bare aws-lc-rs RS256 check of such a token, key parsed once.
//!
//! Then what a cache hit reads from memory: the public and the shared route with one token, and
//! with 200 tokens in turn (each cached, its claims kept), under callgrind's cache simulator
//! (32 KiB L1d, a 256 KiB last level the pool's entries do not fit, as 2,000 real ones do not
//! fit a core's L2): the misses a request adds beyond the public route sent the same tokens.
//!
//! Then the same over real HTTP, in the quickstart's release binary (every layer it has: hyper,
//! the router, tracing, the guards, the handler's JSON): public route, token seen before, new
//! token, each request on one keep-alive connection; callgrind counts the whole server's
//! user-space instructions (the kernel's share, the sockets, is not counted).
//!
//! Each is counted over two request counts, and the difference divided by the difference of
//! the counts, so start-up and warm-up cancel out. Instruction counts are not time (RSA's wide
//! multiplies do more per instruction than parsing does), but they move only with the code.
//!
//! Run: `cargo bench -p route-guard-benches --bench instructions` (needs `valgrind`: Debian's package; about three
//! minutes). Without valgrind it says so and does nothing.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use route_guard::testing::TestIssuer;
use support::quickstart::app;
use tower::ServiceExt as _;

const MODES: [(&str, &str); 5] = [
    ("public", "public route"),
    ("shared", "token seen before, claims shared"),
    ("copied", "token seen before, claims copied"),
    ("new", "new token (full verification)"),
    ("floor", "RS256 floor"),
];
/// The two request counts; their difference is what is measured.
const COUNTS: [usize; 2] = [40, 200];

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and test harness probing
    }
    if let Ok(mode) = std::env::var("INSTRUCTIONS_MODE") {
        child(&mode);
        return;
    }
    let found = Command::new("valgrind").arg("--version").output();
    if !found.is_ok_and(|o| o.status.success()) {
        println!("instructions: valgrind is not installed (apt-get install valgrind); skipped");
        return;
    }
    // The issuer keeps serving its keys to the children while this thread waits for them.
    let rt = support::serving_runtime();
    let issuer = rt.block_on(TestIssuer::start()).expect("issuer");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("instructions");
    std::fs::create_dir_all(&dir).expect("work dir");
    // Minted here, natively: signing under valgrind would take minutes.
    let tokens: Vec<String> = (0..=COUNTS[1])
        .map(|i| support::pool_token(&issuer, i))
        .collect();
    std::fs::write(dir.join("tokens.txt"), tokens.join("\n")).expect("tokens");
    let der = issuer
        .public_key_der(&issuer.signing_kid())
        .expect("signing key");
    std::fs::write(dir.join("key.der"), der).expect("key");

    let mut per_request = Vec::new();
    for (mode, _) in MODES {
        let counted: Vec<u64> = COUNTS
            .iter()
            .map(|&n| count(mode, n, &dir, issuer.issuer(), false).event("Ir"))
            .collect();
        per_request.push((counted[1] - counted[0]) as f64 / (COUNTS[1] - COUNTS[0]) as f64);
    }
    let public = per_request[0];
    let floor = per_request[4];
    println!("\ninstructions: a request in process, counted by callgrind");
    for ((_, name), per) in MODES.iter().zip(&per_request) {
        let beyond = match *name {
            "public route" | "RS256 floor" => String::new(),
            _ => format!("  +{:.1}k beyond the public route", (per - public) / 1000.0),
        };
        println!("  {name:<36} {:>8.1}k{beyond}", per / 1000.0);
    }
    let new = per_request[3];
    println!(
        "  a new token beyond the public route and the floor: {:.1}k ({:.3}× the floor for the whole verification)",
        (new - public - floor) / 1000.0,
        (new - public) / floor
    );
    memory(&dir, issuer.issuer());
    server(&issuer, &tokens, &dir, floor);
}

/// Caches: the same router with one token, and with 200 tokens in turn (each cached, with its
/// claims kept), under callgrind's cache simulator. The pool's entries do not fit the simulated
/// last-level cache, as 2,000 real ones do not fit a core's L2: what a hit reads from memory.
fn memory(dir: &Path, issuer: &str) {
    // (mode, name): each pool's baseline is the public route sent the same tokens.
    let modes = [
        ("public", "public route, 1 token"),
        ("shared", "token seen before, 1 token"),
        ("pool-public", "public route, 200 tokens in turn"),
        ("pool-shared", "1 of 200 tokens seen before, in turn"),
    ];
    let per_request: Vec<(f64, f64, f64)> = modes
        .iter()
        .map(|(mode, _)| {
            let [few, many] = COUNTS.map(|n| count(mode, n, dir, issuer, true));
            let per = |event: &str| {
                (many.event(event) as f64 - few.event(event) as f64)
                    / (COUNTS[1] - COUNTS[0]) as f64
            };
            (
                per("Ir"),
                per("D1mr") + per("D1mw"),
                per("DLmr") + per("DLmw"),
            )
        })
        .collect();
    println!(
        "\ninstructions: memory a request reads, callgrind's cache simulator \
         ({} KiB L1d, {} KiB last level)",
        L1D_BYTES / 1024,
        LL_BYTES / 1024
    );
    println!(
        "  {:<38} {:>8} {:>10} {:>18}",
        "", "instr", "L1d misses", "last-level misses"
    );
    for ((_, name), (ir, d1, ll)) in modes.iter().zip(&per_request) {
        println!("  {name:<38} {:>7.1}k {d1:>10.1} {ll:>18.1}", ir / 1000.0);
    }
    let ll = |i: usize| per_request[i].2;
    println!(
        "  a hit beyond the public route with the same tokens: {:+.1} last-level misses with 1 token, {:+.1} with 200",
        ll(1) - ll(0),
        ll(3) - ll(2)
    );
}

/// The quickstart over HTTP: each mode's instructions a request, and the ratios to the public
/// route (the kernel's part of a request, the same for every route, is left out).
fn server(issuer: &TestIssuer, tokens: &[String], dir: &Path, floor: f64) {
    let quickstart = support::server::build_quickstart();
    let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let seen = vec![tokens[0]; COUNTS[1]];
    // (name, path, the warm-up requests, the counted ones)
    let modes: [(&str, &str, &[&str], &[&str]); 3] = [
        ("public route", "/api/public", &tokens[..1], &seen),
        (
            "token seen before",
            "/api/private",
            &[tokens[0], tokens[0]],
            &seen,
        ),
        ("new token", "/api/private", &tokens[..1], &tokens[1..]),
    ];
    let per_request: Vec<f64> = modes
        .iter()
        .map(|(_, path, warm, counted)| {
            let [few, many] = COUNTS.map(|n| {
                count_server(&quickstart, issuer.issuer(), dir, path, warm, &counted[..n])
            });
            (many - few) as f64 / (COUNTS[1] - COUNTS[0]) as f64
        })
        .collect();
    println!("\ninstructions: a request to the quickstart's release binary over HTTP (user space)");
    for ((name, ..), per) in modes.iter().zip(&per_request) {
        println!(
            "  {name:<36} {:>8.1}k  public / this: {:.3}",
            per / 1000.0,
            per_request[0] / per
        );
    }
    println!(
        "  a new token beyond the public route and the floor: {:.1}k",
        (per_request[2] - per_request[0] - floor) / 1000.0
    );
}

/// The server's instructions while it answers `counted` (after `warm`, which is not counted).
fn count_server(
    quickstart: &Path,
    issuer: &str,
    dir: &Path,
    path: &str,
    warm: &[&str],
    counted: &[&str],
) -> u64 {
    let log = dir.join("server.log");
    let mut valgrind = Command::new("valgrind");
    valgrind
        .args(["--tool=callgrind", "--instr-atstart=no"])
        .arg(format!("--log-file={}", log.display()))
        .arg(format!(
            "--callgrind-out-file={}",
            dir.join("callgrind.server").display()
        ))
        .arg(quickstart);
    let (mut server, base) = support::server::start_quickstart(valgrind, issuer);
    // Outside the count: the connection's first request, the token's entry and kept claims.
    assert_eq!(support::server::get_each(&base, path, warm), warm.len());
    let on = Command::new("callgrind_control")
        .args(["-i", "on"])
        .arg(server.id().to_string())
        .output()
        .expect("callgrind_control runs");
    assert!(on.status.success(), "callgrind_control: {on:?}");
    assert_eq!(
        support::server::get_each(&base, path, counted),
        counted.len(),
        "{path}"
    );
    let _ = Command::new("kill")
        .args(["-INT", &server.id().to_string()])
        .status();
    let _ = server.wait();
    collected(&std::fs::read_to_string(&log).expect("valgrind's log")).event("Ir")
}

/// The simulated caches of [`memory`]: a core's L1d, and a last level that 200 cached tokens
/// do not fit.
const L1D_BYTES: u32 = 32 * 1024;
const LL_BYTES: u32 = 256 * 1024;

/// What a callgrind run collected: each event's total (`Ir` alone, or with the cache
/// simulator's misses).
struct Collected(Vec<(String, u64)>);

impl Collected {
    fn event(&self, name: &str) -> u64 {
        self.0
            .iter()
            .find(|(event, _)| event == name)
            .map(|(_, total)| *total)
            .unwrap_or_else(|| panic!("callgrind collected no {name}"))
    }
}

/// The `Events :` and `Collected :` lines of a callgrind run's log.
fn collected(log: &str) -> Collected {
    let line = |label: &str| {
        log.lines()
            .find_map(|l| l.split_once(label).map(|(_, v)| v.trim().to_owned()))
            .unwrap_or_else(|| panic!("no `{label}` line from callgrind: {log}"))
    };
    let events = line("Events    :");
    let totals = line("Collected :");
    // Callgrind leaves out trailing totals that are zero.
    let mut totals = totals.split_whitespace().map(|v| v.parse().unwrap_or(0));
    Collected(
        events
            .split_whitespace()
            .map(|event| (event.to_owned(), totals.next().unwrap_or(0)))
            .collect(),
    )
}

/// `valgrind --tool=callgrind` of this binary in `mode` for `n` requests (with the cache
/// simulator when `cache`): what it collected in the counted function only.
fn count(mode: &str, n: usize, dir: &Path, issuer: &str, cache: bool) -> Collected {
    let suffix = if cache { ".cache" } else { "" };
    let out = dir.join(format!("callgrind.{mode}.{n}{suffix}"));
    let mut valgrind = Command::new("valgrind");
    valgrind.arg("--tool=callgrind");
    if cache {
        valgrind.args([
            "--cache-sim=yes".to_owned(),
            format!("--D1={L1D_BYTES},8,64"),
            format!("--LL={LL_BYTES},16,64"),
        ]);
    }
    let output = valgrind
        .arg("--toggle-collect=*instructions::counted*")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(std::env::current_exe().expect("this bench"))
        .env("INSTRUCTIONS_MODE", mode)
        .env("INSTRUCTIONS_COUNT", n.to_string())
        .env("INSTRUCTIONS_DIR", dir)
        .env("INSTRUCTIONS_ISSUER", issuer)
        .output()
        .expect("valgrind runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{mode} {n}: {stderr}");
    collected(&stderr)
}

/// Under valgrind: `INSTRUCTIONS_COUNT` requests of `mode`, after a warm-up outside the count.
fn child(mode: &str) {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is set"));
    let n: usize = var("INSTRUCTIONS_COUNT").parse().expect("a count");
    let dir = PathBuf::from(var("INSTRUCTIONS_DIR"));
    let text = std::fs::read_to_string(dir.join("tokens.txt")).expect("tokens");
    let tokens: Vec<&str> = text.lines().collect();
    let rt = support::runtime();
    if mode == "floor" {
        let der = std::fs::read(dir.join("key.der")).expect("key");
        let key = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der).expect("key");
        assert_eq!(counted_floor(&key, &tokens[1..=n]), n);
        return;
    }
    let auth = route_guard::Authenticator::builder()
        .issuer_base_url(var("INSTRUCTIONS_ISSUER"))
        .audience(route_guard::testing::TEST_AUDIENCE)
        .roles_claim("https://myapp.com/roles")
        .build()
        .expect("authenticator");
    rt.block_on(auth.warm_up()).expect("keys");
    let router = app(&auth);
    let (path, requests) = match mode {
        "public" => ("/api/public", vec![tokens[0]; n]),
        "shared" => ("/api/private", vec![tokens[0]; n]),
        "copied" => ("/api/private-copied", vec![tokens[0]; n]),
        "new" => ("/api/private", tokens[1..=n].to_vec()),
        "pool-public" | "pool-shared" => {
            // Every token of the pool cached, its claims kept (a second request), then each in turn.
            for token in &tokens[1..] {
                assert_eq!(send(&rt, &router, "/api/private", &[token, token]), 2);
            }
            let path = if mode == "pool-public" {
                "/api/public"
            } else {
                "/api/private"
            };
            (path, tokens[1..].iter().cycle().take(n).copied().collect())
        }
        other => panic!("unknown mode {other}"),
    };
    // Warm-up: the seen token twice (so its claims are kept), and the public route.
    for path in [path, path, "/api/public"] {
        assert_eq!(send(&rt, &router, path, &tokens[..1]), 1, "{path}");
    }
    assert_eq!(counted_requests(&rt, &router, path, &requests), n);
}

/// The counted requests: callgrind's `--toggle-collect` names this function.
#[inline(never)]
fn counted_requests(
    rt: &tokio::runtime::Runtime,
    router: &Router,
    path: &str,
    tokens: &[&str],
) -> usize {
    send(rt, router, path, tokens)
}

/// Sends a request for each token; how many were answered 200.
fn send(rt: &tokio::runtime::Runtime, router: &Router, path: &str, tokens: &[&str]) -> usize {
    tokens
        .iter()
        .filter(|token| {
            let request = Request::get(path)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .expect("request");
            rt.block_on(router.clone().oneshot(request))
                .is_ok_and(|r| r.status() == StatusCode::OK)
        })
        .count()
}

#[inline(never)]
fn counted_floor(key: &ParsedPublicKey, tokens: &[&str]) -> usize {
    tokens
        .iter()
        .filter(|jws| support::signature_verifies(key, jws))
        .count()
}
