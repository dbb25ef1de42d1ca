//! Sustained mixed traffic against a loopback server while the issuer flaps. Ignored by default
//! (it takes time and both cores); run it with
//!
//! ```sh
//! cargo test --release --all-features --test it load -- --ignored --nocapture
//! ```
//!
//! `LOAD_SECONDS` (default 20) bounds its length. It prints requests served, the mix of statuses
//! and peak memory, and fails on any 5xx, on a valid token or fresh DPoP proof refused, or on a
//! replayed proof accepted.

use crate::common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// Peak resident memory of this process (server, issuer and clients), in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "load test: run by hand, see the module docs"]
async fn mixed_traffic_while_the_issuer_flaps() {
    let seconds: u64 = std::env::var("LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let app = common::start_with(|b| {
        b.jwks_ttl_bounds(Duration::from_millis(500), Duration::from_secs(60))
            .jwks_default_ttl(Duration::from_millis(500))
            .jwks_retry_interval(Duration::from_millis(200))
            .unknown_kid_cooldown(Duration::from_secs(2))
            .http_timeout(Duration::from_millis(500))
    })
    .await;
    app.auth.warm_up().await.expect("keys");
    let valid = app.issuer.token().scopes("read:messages").sign();
    let expired = app
        .issuer
        .token()
        .expired_for(Duration::from_secs(600))
        .sign();
    let rest = valid.split_once('.').map_or("", |(_, r)| r).to_owned();
    // DPoP: a bound token with a fresh proof per request, and one proof sent again and again
    // (accepted the first time only).
    let key = std::sync::Arc::new(route_guard::testing::DpopKey::generate().expect("key"));
    let bound = app
        .issuer
        .token()
        .scopes("read:messages")
        .dpop_bound(&key)
        .sign();
    let scoped_url = format!("{}/scoped", app.base);
    let replayed = key.proof("GET", &scoped_url, &bound);
    let rss_before = peak_rss_kib();

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..32u64 {
        let client = app.client.clone();
        let url = format!("{}/scoped", app.base);
        let (valid, expired, rest) = (valid.clone(), expired.clone(), rest.clone());
        let (bound, replayed) = (bound.clone(), replayed.clone());
        // Each worker is a client with a key of its own (one key for all would be one client
        // minting proofs faster than any, held to its replay-store quota).
        let own = route_guard::testing::DpopKey::generate().expect("key");
        let own_bound = app
            .issuer
            .token()
            .scopes("read:messages")
            .dpop_bound(&own)
            .sign();
        workers.spawn(async move {
            let mut statuses: BTreeMap<(u16, &'static str), u64> = BTreeMap::new();
            let mut i = 0u64;
            while Instant::now() < deadline {
                i += 1;
                let dpop = |token: &str, proof: String| {
                    client
                        .get(&url)
                        .header("authorization", format!("DPoP {token}"))
                        .header("dpop", proof)
                };
                let (kind, request) = match i % 6 {
                    0 => ("valid", client.get(&url).bearer_auth(&valid)),
                    1 => ("expired", client.get(&url).bearer_auth(&expired)),
                    2 => (
                        "garbage",
                        client.get(&url).bearer_auth(format!("not.a.token{i}")),
                    ),
                    3 => {
                        let header = format!(r#"{{"alg":"RS256","kid":"random-{worker}-{i}"}}"#);
                        let token = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header));
                        ("random kid", client.get(&url).bearer_auth(token))
                    }
                    4 => ("dpop", dpop(&own_bound, own.proof("GET", &url, &own_bound))),
                    _ => ("dpop replay", dpop(&bound, replayed.clone())),
                };
                let status = match request.send().await {
                    Ok(response) => response.status().as_u16(),
                    Err(_) => 0,
                };
                *statuses.entry((status, kind)).or_default() += 1;
            }
            statuses
        });
    }
    // The issuer goes down and comes back every 700 ms while keys refresh every 500 ms.
    let mut down = false;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(700)).await;
        down = !down;
        app.issuer.set_down(down);
    }
    app.issuer.set_down(false);

    let mut totals: BTreeMap<(u16, &'static str), u64> = BTreeMap::new();
    for statuses in workers.join_all().await {
        for (key, n) in statuses {
            *totals.entry(key).or_default() += n;
        }
    }
    let served: u64 = totals.values().sum();
    let server_errors: u64 = totals
        .iter()
        .filter(|((s, _), _)| *s >= 500 || *s == 0)
        .map(|(_, n)| n)
        .sum();
    let stats = app.auth.stats();
    println!("load: {seconds} s, 32 connections, issuer down/up every 700 ms");
    println!(
        "  requests served: {served} ({:.0}/s)",
        served as f64 / seconds as f64
    );
    for ((status, kind), n) in &totals {
        println!("  {status} {kind:<10} {n}");
    }
    println!("  5xx or transport errors: {server_errors}");
    println!(
        "  JWKS fetches {} (failed {}), unknown kids remembered {}",
        stats.jwks_fetches(),
        stats.jwks_failures(),
        stats.unknown_kids_remembered()
    );
    println!(
        "  peak RSS: {} KiB before, {} KiB after",
        rss_before,
        peak_rss_kib()
    );
    assert_eq!(server_errors, 0);
    assert!(
        totals
            .keys()
            .all(|(s, k)| !matches!(*k, "valid" | "dpop") || *s == 200),
        "{totals:?}"
    );
    // One proof sent by every worker: accepted the first time only, across all connections.
    assert_eq!(totals.get(&(200, "dpop replay")), Some(&1), "{totals:?}");
    assert!(
        totals
            .keys()
            .all(|(s, k)| *k != "dpop replay" || *s == 401 || *s == 200),
        "{totals:?}"
    );
    println!(
        "  DPoP verified: {}, replays refused: {}",
        stats.dpop_verified(),
        stats.rejected(route_guard::RejectionReason::DpopReplay)
    );
    assert!(stats.unknown_kids_remembered() <= 1024);
}

/// The status of one DPoP request with a fresh proof.
async fn dpop_status(
    app: &common::App,
    key: &route_guard::testing::DpopKey,
    token: &str,
    target: &str,
) -> u16 {
    let proof = key.proof("GET", target, token);
    common::send(
        app.client
            .get(target)
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof),
    )
    .await
    .status
    .as_u16()
}

/// One client with one valid DPoP-bound token mints fresh proofs as fast as it can, next to
/// honest clients each making a request every 10 ms. The in-memory replay store is small
/// (20,000 proofs): without the per-key quota the flood would fill it within seconds and every
/// DPoP client would get 503. With it, the flood is refused 429 at its quota (10,000 here, the
/// default of half a small store) and the honest clients never see a 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "load test: run by hand, see the module docs"]
async fn one_abusive_dpop_client_cannot_deny_the_honest_ones() {
    use route_guard::testing::DpopKey;
    use std::sync::Arc;

    let seconds: u64 = std::env::var("LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let app = Arc::new(common::start_with(|b| b.dpop_replay_capacity(20_000)).await);
    app.auth.warm_up().await.expect("keys");
    let target = format!("{}/private", app.base);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();

    // Two tasks share the abusive key and token, so proofs come as fast as two cores allow.
    let abuser = Arc::new(DpopKey::generate().expect("key"));
    let abusive_token = Arc::new(app.issuer.token().dpop_bound(&abuser).sign());
    let mut flood = tokio::task::JoinSet::new();
    for _ in 0..2 {
        let (app, key, token, target) = (
            Arc::clone(&app),
            Arc::clone(&abuser),
            Arc::clone(&abusive_token),
            target.clone(),
        );
        flood.spawn(async move {
            let mut statuses = BTreeMap::<u16, u64>::new();
            while Instant::now() < deadline {
                let status = dpop_status(&app, &key, &token, &target).await;
                *statuses.entry(status).or_default() += 1;
            }
            statuses
        });
    }
    let mut honest = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (app, target) = (Arc::clone(&app), target.clone());
        let key = DpopKey::generate().expect("key");
        let token = app.issuer.token().dpop_bound(&key).sign();
        honest.spawn(async move {
            let mut statuses = BTreeMap::<u16, u64>::new();
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            while Instant::now() < deadline {
                tick.tick().await;
                let status = dpop_status(&app, &key, &token, &target).await;
                *statuses.entry(status).or_default() += 1;
            }
            statuses
        });
    }
    let merge = |all: Vec<BTreeMap<u16, u64>>| {
        let mut total = BTreeMap::<u16, u64>::new();
        for statuses in all {
            for (status, n) in statuses {
                *total.entry(status).or_default() += n;
            }
        }
        total
    };
    let flood = merge(flood.join_all().await);
    let honest = merge(honest.join_all().await);
    let elapsed = started.elapsed().as_secs_f64();
    println!("one abusive DPoP client, four honest ones, {elapsed:.1} s:");
    println!("  abusive client: {flood:?}");
    println!("  honest clients: {honest:?}");
    let stats = app.auth.stats();
    println!(
        "  refused over the quota: {}, peak RSS {} MiB",
        stats.rejected(route_guard::RejectionReason::DpopQuota),
        peak_rss_kib() / 1024
    );
    assert_eq!(
        honest.get(&503),
        None,
        "honest clients were denied: {honest:?}"
    );
    assert_eq!(
        honest.keys().copied().collect::<Vec<_>>(),
        vec![200],
        "{honest:?}"
    );
    assert!(honest[&200] > 100, "{honest:?}");
    // The flood reached its quota and was refused, never by filling the store.
    assert_eq!(flood.get(&503), None, "{flood:?}");
    assert_eq!(flood.get(&200).copied(), Some(10_000), "{flood:?}");
    assert!(flood.get(&429).copied().unwrap_or(0) > 0, "{flood:?}");
}
