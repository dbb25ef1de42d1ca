//! End to end: the quickstart's release binary under `wrk`, protected routes against the public
//! route of the same run, and the limit the RS256 floor allows.
//!
//! Run: `cargo bench -p route-guard-benches --bench e2e` (about three minutes; installs Debian's `wrk` if it is missing).
//! Every pool goes to the public route and the private one, in `E2E_ROUNDS` rounds (default 5)
//! that interleave the pairs, each run `E2E_SECONDS` long (default 4; the first round warms up
//! each pair for 1 s); the table gives medians, and the range of the per-round ratios.
//! `E2E_PIN=0` leaves both processes unpinned.
//! `E2E_PERF=<dir>` records the server with `perf record -e cpu-clock -g` during each measured
//! run, into `<dir>/<n>.data`, for `perf report`.
//!
//! Beside rps, each run reads the server's CPU time a request (`/proc/<pid>/task/*/schedstat`)
//! and the share of the server's core the hypervisor stole (`steal` in `/proc/stat`): on a
//! shared VM the steal moves the rps ratios from one run to the next, the CPU figures much less.
//! The floor is given both ways, so the 20,000-token pool is set against the limit in wall time
//! and in CPU time.
//!
//! The quickstart runs against a `TestIssuer` with `RUST_LOG=warn` (its per-request log line is
//! the application's choice, not route-guard's cost), pinned to one core with `wrk -t1 -c32` on
//! the other when `taskset` is there. Every run sends the same request shape: a 740-byte
//! Auth0-shaped token in `Authorization`, which the public route ignores. The pools are used
//! round-robin: 2,000 tokens fit the verified-token cache (4,096 entries), 20,000 do not, so there
//! every request is a full verification.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use route_guard::testing::TestIssuer;

/// The token pools: 2,000 tokens fit the verified-token cache, 20,000 do not.
const POOLS: [(usize, &str); 3] = [
    (1, "1 token"),
    (2_000, "2,000 tokens"),
    (20_000, "20,000 tokens"),
];

/// Each pool is sent to both: the public route is the baseline of the same pool, so the load
/// generator's own cost (and the memory traffic of the pool) is the same on both sides.
const ROUTES: [&str; 2] = ["/api/public", "/api/private"];

/// Builds the request of each token once; `request()` only hands the next one out.
const LUA: &str = r#"
local requests = {}
local i = 0
init = function(args)
  for token in io.lines(args[1]) do
    requests[#requests + 1] = wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. token })
  end
end
request = function()
  i = i % #requests + 1
  return requests[i]
end
"#;

#[derive(Clone, Copy)]
struct Measured {
    rps: f64,
    p99_ms: f64,
    non_2xx: u64,
    /// The server's CPU time per request, in µs (all its threads, from `/proc`).
    cpu_us: f64,
    /// The share of the run's wall time the server spent on a CPU: near 1 when the server's
    /// core limits the run, lower when wrk does.
    busy: f64,
    /// The share of the run's wall time the hypervisor took from the server's core (`steal`
    /// in `/proc/stat`): time the server could not run, whatever it had to do.
    steal: f64,
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The median of a non-empty list.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The median of one figure over a route's runs.
fn median_of(runs: &[Measured], figure: impl Fn(&Measured) -> f64) -> f64 {
    median(runs.iter().map(figure).collect())
}

/// The median, over the rounds, of the server's CPU a public request over a private one.
fn cpu_ratio(public: &[Measured], private: &[Measured]) -> f64 {
    median(
        public
            .iter()
            .zip(private)
            .map(|(public, private)| public.cpu_us / private.cpu_us)
            .collect(),
    )
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and test harness probing
    }
    let seconds = env_number("E2E_SECONDS", 4);
    let rounds = env_number("E2E_ROUNDS", 5).max(1);
    ensure_wrk();
    let quickstart = support::server::build_quickstart();
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e");
    std::fs::create_dir_all(&work).expect("work dir");
    let script = work.join("pool.lua");
    std::fs::write(&script, LUA).expect("lua script");

    let rt = support::serving_runtime();
    let issuer = rt.block_on(TestIssuer::start()).expect("issuer");
    let started = Instant::now();
    let pools: Vec<(usize, PathBuf)> = [1, 2_000, 20_000]
        .into_iter()
        .map(|size| (size, write_pool(&issuer, size, &work)))
        .collect();
    println!(
        "e2e: minted {} tokens in {:.1} s",
        1 + 2_000 + 20_000,
        started.elapsed().as_secs_f64()
    );
    let floor = floor_us(&issuer);

    let (mut server, base) =
        support::server::start_quickstart(pinned(1, &quickstart), issuer.issuer());
    let pid = server.id();
    // runs[pool][route]: one measurement a round. Rounds interleave every pair, so a machine
    // that drifts during the run drifts for the public route and the private one alike.
    let mut runs = vec![[const { Vec::new() }; ROUTES.len()]; POOLS.len()];
    let mut recorded = 0;
    for round in 0..rounds {
        for (p, (_, pool)) in pools.iter().enumerate() {
            for (r, route) in ROUTES.iter().enumerate() {
                let url = format!("{base}{route}");
                if round == 0 {
                    run_wrk(&script, pool, &url, 1, pid); // warm-up: connections, caches, allocator
                }
                let perf = std::env::var("E2E_PERF").ok().map(|dir| {
                    let out = Path::new(&dir).join(format!("{recorded}.data"));
                    recorded += 1;
                    Command::new("perf")
                        .args(["record", "-q", "-e", "cpu-clock", "-g", "-p"])
                        .arg(pid.to_string())
                        .arg("-o")
                        .arg(out)
                        .spawn()
                        .expect("perf runs")
                });
                let measured = run_wrk(&script, pool, &url, seconds, pid);
                if let Some(mut perf) = perf {
                    let _ = Command::new("kill")
                        .args(["-INT", &perf.id().to_string()])
                        .status();
                    let _ = perf.wait();
                }
                runs[p][r].push(measured);
            }
        }
    }
    let peak_rss_kib = peak_rss_kib(pid);
    let _ = server.kill();
    let _ = server.wait();
    drop(issuer);

    println!(
        "\ne2e: quickstart (release), wrk -t1 -c32, {rounds} rounds of {seconds} s, {}",
        if has_taskset() {
            "server and wrk pinned to a core each"
        } else {
            "unpinned (no taskset)"
        }
    );
    println!(
        "  {:<14} {:>11} {:>12} {:>7} {:>8} {:>15} {:>8}",
        "pool", "public rps", "private rps", "p99 ms", "p99 ms", "private/public", "non-2xx"
    );
    println!(
        "  {:<14} {:>11} {:>12} {:>7} {:>8} {:>15} {:>8}",
        "", "(median)", "(median)", "public", "private", "median (range)", ""
    );
    let mut ratios = Vec::new();
    for ((_, name), runs) in POOLS.iter().zip(&runs) {
        let [public, private] = runs;
        let per_round: Vec<f64> = public
            .iter()
            .zip(private)
            .map(|(public, private)| private.rps / public.rps)
            .collect();
        let (low, high) = per_round
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), &r| (l.min(r), h.max(r)));
        let ratio = median(per_round);
        let rps = |runs: &[Measured]| median_of(runs, |m| m.rps);
        let p99 = |runs: &[Measured]| median_of(runs, |m| m.p99_ms);
        println!(
            "  {:<14} {:>11.0} {:>12.0} {:>7.2} {:>8.2} {:>6.3} ({:.2}-{:.2}) {:>8}",
            name,
            rps(public),
            rps(private),
            p99(public),
            p99(private),
            ratio,
            low,
            high,
            public.iter().chain(private).map(|m| m.non_2xx).sum::<u64>()
        );
        ratios.push((ratio, rps(public)));
    }
    // What the server's core spent a request: the ratio the rps would show if that core alone
    // limited both routes. A public run whose server was idle part of the time was limited by
    // wrk, and its rps ratio is compressed toward 1.
    println!(
        "\n  {:<14} {:>14} {:>14} {:>10} {:>13} {:>13}",
        "pool", "server µs/req", "server µs/req", "CPU ratio", "server busy", "core stolen"
    );
    println!(
        "  {:<14} {:>14} {:>14} {:>10} {:>13} {:>13}",
        "", "public", "private", "(median)", "public, priv.", "public, priv."
    );
    let mut wrk_bound = false;
    for ((_, name), [public, private]) in POOLS.iter().zip(&runs) {
        let cpu = |runs: &[Measured]| median_of(runs, |m| m.cpu_us);
        let busy = |runs: &[Measured]| median_of(runs, |m| m.busy);
        let steal = |runs: &[Measured]| median_of(runs, |m| m.steal);
        let ratio = cpu_ratio(public, private);
        wrk_bound |= busy(public) + steal(public) < 0.9;
        println!(
            "  {:<14} {:>14.2} {:>14.2} {:>10.3} {:>7.2}, {:.2} {:>7.2}, {:.2}",
            name,
            cpu(public),
            cpu(private),
            ratio,
            busy(public),
            busy(private),
            steal(public),
            steal(private)
        );
    }
    if wrk_bound {
        println!(
            "  note: the server's core was idle during part of a public run: wrk, not the server, \
             limited it, and that pool's rps ratio is closer to 1 than the server's costs are"
        );
    }
    // Every request of the 20,000-token pool verifies: the floor bounds what it can reach.
    let (every_request_verifies, public) = ratios[2];
    let t_public_us = 1e6 / public;
    let limit = t_public_us / (t_public_us + floor.wall_us);
    println!(
        "  floor: RS256 verify {:.1} µs, public {t_public_us:.1} µs a request -> limit {limit:.3}; \
         20,000 tokens reach {:.2} of it",
        floor.wall_us,
        every_request_verifies / limit
    );
    // The same in CPU time, which the hypervisor's steal does not inflate.
    let [public, private] = &runs[2];
    let cpu_public = median_of(public, |m| m.cpu_us);
    let cpu_limit = cpu_public / (cpu_public + floor.cpu_us);
    println!(
        "  in CPU time: RS256 verify {:.1} µs, public {cpu_public:.1} µs -> limit {cpu_limit:.3}; \
         20,000 tokens reach {:.2} of it",
        floor.cpu_us,
        cpu_ratio(public, private) / cpu_limit
    );
    println!("  server peak RSS: {:.1} MiB", peak_rss_kib as f64 / 1024.0);
}

/// Whether processes are pinned: `taskset` exists and `E2E_PIN` is not `0` (asked once).
fn has_taskset() -> bool {
    static PIN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PIN.get_or_init(|| {
        std::env::var("E2E_PIN").as_deref() != Ok("0")
            && Command::new("taskset")
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
    })
}

/// `command` on `core` when `taskset` exists.
fn pinned(core: u32, program: &Path) -> Command {
    if has_taskset() {
        let mut command = Command::new("taskset");
        command.arg("-c").arg(core.to_string()).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn ensure_wrk() {
    let found = Command::new("wrk")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if found {
        return;
    }
    println!("e2e: installing wrk (Debian's package)");
    let sudo = if std::env::var("USER").as_deref() == Ok("root") {
        None
    } else {
        Some("sudo")
    };
    for args in [
        &["apt-get", "update", "-qq"][..],
        &["apt-get", "install", "-y", "-qq", "wrk"][..],
    ] {
        let mut command = match sudo {
            Some(sudo) => {
                let mut c = Command::new(sudo);
                c.args(args);
                c
            }
            None => {
                let mut c = Command::new(args[0]);
                c.args(&args[1..]);
                c
            }
        };
        let status = command.status().expect("apt-get runs");
        assert!(status.success(), "could not install wrk: {args:?} failed");
    }
}

/// `size` distinct Auth0-shaped tokens (740 bytes or so), one a line, minted on two threads.
fn write_pool(issuer: &TestIssuer, size: usize, dir: &Path) -> PathBuf {
    let mint = |i: usize| support::pool_token(issuer, i);
    let half = size / 2;
    let (first, second) = std::thread::scope(|s| {
        let a = s.spawn(|| (0..half).map(mint).collect::<Vec<_>>());
        let b = s.spawn(|| (half..size).map(mint).collect::<Vec<_>>());
        (
            a.join().expect("minting thread"),
            b.join().expect("minting thread"),
        )
    });
    let path = dir.join(format!("tokens-{size}.txt"));
    let mut text = first.join("\n");
    if !second.is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&second.join("\n"));
    }
    text.push('\n');
    std::fs::write(&path, text).expect("token pool");
    path
}

/// One RS256 verification with a key parsed once, in µs, the best of five rounds: the floor
/// measured in this run, as wall time and as this thread's CPU time (which leaves out what the
/// hypervisor steals, like the server's CPU figures).
fn floor_us(issuer: &TestIssuer) -> Floor {
    let kid = issuer.signing_kid();
    let der = issuer.public_key_der(&kid).expect("signing key");
    let key = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der).expect("key");
    let token = support::auth0_shaped(issuer).sign();
    assert!(support::signature_verifies(&key, &token));
    let mut floor = Floor {
        wall_us: f64::MAX,
        cpu_us: f64::MAX,
    };
    let rounds = 20_000;
    for _ in 0..5 {
        let cpu_before = thread_cpu_ns();
        let started = Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(support::signature_verifies(&key, &token));
        }
        let wall = started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
        let cpu = thread_cpu_ns().saturating_sub(cpu_before) as f64 / 1e3 / f64::from(rounds);
        floor.wall_us = floor.wall_us.min(wall);
        floor.cpu_us = floor.cpu_us.min(cpu);
    }
    floor
}

/// The RS256 floor of a run (see [`floor_us`]).
struct Floor {
    wall_us: f64,
    cpu_us: f64,
}

/// This thread's CPU time so far, in ns (`/proc/thread-self/schedstat`).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|line| line.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The CPU time of every thread of `pid` so far, in ns (`/proc/<pid>/task/*/schedstat`).
fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|line| line.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// The steal time of `core` so far, in clock ticks (`/proc/stat`, the eighth field of `cpuN`).
fn steal_ticks(core: u32) -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let name = format!("cpu{core}");
    stat.lines()
        .find_map(|l| l.strip_prefix(&name)?.strip_prefix(' '))
        .and_then(|fields| fields.split_whitespace().nth(7)?.parse().ok())
        .unwrap_or(0)
}

/// `USER_HZ`, the unit of `/proc/stat` (`getconf CLK_TCK`; 100 where that fails).
fn ticks_per_second() -> f64 {
    static HZ: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *HZ.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

fn run_wrk(script: &Path, pool: &Path, url: &str, seconds: u64, pid: u32) -> Measured {
    let cpu_before = cpu_ns(pid);
    let steal_before = steal_ticks(1);
    let started = Instant::now();
    let output = pinned(0, Path::new("wrk"))
        .args(["-t1", "-c32", "--latency", "-d"])
        .arg(format!("{seconds}s"))
        .arg("-s")
        .arg(script)
        .arg(url)
        .arg("--")
        .arg(pool)
        .output()
        .expect("wrk runs");
    let wall_ns = started.elapsed().as_nanos() as f64;
    let cpu = cpu_ns(pid).saturating_sub(cpu_before) as f64;
    let steal_ns = steal_ticks(1).saturating_sub(steal_before) as f64 * 1e9 / ticks_per_second();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "wrk failed: {text}");
    let requests: f64 = text
        .lines()
        .find_map(|l| l.trim().split_once(" requests in "))
        .and_then(|(n, _)| n.trim().parse().ok())
        .unwrap_or(f64::NAN);
    let rps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk's output:\n{text}"));
    let p99_ms = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .and_then(|v| millis(v.trim()))
        .unwrap_or(f64::NAN);
    let non_2xx = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    Measured {
        rps,
        p99_ms,
        non_2xx,
        cpu_us: cpu / requests / 1000.0,
        busy: cpu / wall_ns,
        steal: steal_ns / wall_ns,
    }
}

/// wrk's `1.23ms`, `456.00us`, `1.01s` in milliseconds.
fn millis(value: &str) -> Option<f64> {
    let split = value.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse().ok()?;
    Some(match unit {
        "us" => number / 1000.0,
        "ms" => number,
        "s" => number * 1000.0,
        _ => return None,
    })
}

/// The server's peak resident set (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
