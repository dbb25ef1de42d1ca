//! The cost of a DPoP request (access token plus proof) against a Bearer request, in one run.
//!
//! - `bearer_verify` / `dpop_verify`: the full path, verified-token cache off (every request
//!   checks the token's RS256 signature; DPoP adds the proof's ES256 signature, its claims, the
//!   thumbprint and the replay store).
//! - `bearer_verify_cached` / `dpop_verify_cached`: the defaults, the same token seen before
//!   (the token is answered from the cache; a proof never can be).
//! - `floor_rs256_plus_es256`: the two bare aws-lc-rs signature checks a DPoP request cannot
//!   avoid, with keys parsed once.
//!
//! Each DPoP iteration gets a fresh proof (made outside the timed part), as a client would send.
//!
//! Run: `cargo bench -p route-guard-benches --bench dpop`

mod support;

use std::hint::black_box;
use std::time::Duration;

use aws_lc_rs::signature::{ParsedPublicKey, ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use criterion::{BatchSize, Criterion};
use route_guard::testing::{DpopKey, TestIssuer};

const URL: &str = "https://api.example.com/api/messages";

struct Fixture {
    rt: tokio::runtime::Runtime,
    full: route_guard::Authenticator,
    cached: route_guard::Authenticator,
    key: DpopKey,
    bearer: String,
    bound: String,
    rs256: ParsedPublicKey,
    es256: ParsedPublicKey,
    _issuer: TestIssuer,
}

fn fixture() -> Fixture {
    let rt = support::runtime();
    let issuer = rt.block_on(TestIssuer::start()).expect("issuer");
    // One key sends every proof of the run, far faster than any client: lift its replay-store
    // quota (the default would refuse it after 45,000 live proofs, as it should a real client).
    let quota = 900_000;
    let full = issuer
        .authenticator_builder()
        .verified_token_cache(0)
        .dpop_replay_quota(quota)
        .build()
        .expect("authenticator");
    let cached = issuer
        .authenticator_builder()
        .dpop_replay_quota(quota)
        .build()
        .expect("authenticator");
    rt.block_on(full.warm_up()).expect("keys");
    rt.block_on(cached.warm_up()).expect("keys");
    let key = DpopKey::generate().expect("key");
    // The same Auth0-shaped claims in both tokens; the bound one adds `cnf.jkt`.
    let bearer = support::auth0_shaped(&issuer).sign();
    let bound = support::auth0_shaped(&issuer).dpop_bound(&key).sign();
    let der = issuer
        .public_key_der(&issuer.signing_kid())
        .expect("signing key");
    let rs256 = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &der).expect("key");
    let jwk = key.jwk();
    let coordinate = |name: &str| {
        URL_SAFE_NO_PAD
            .decode(jwk[name].as_str().unwrap_or_default())
            .expect("coordinate")
    };
    let mut point = vec![0x04];
    point.extend(coordinate("x"));
    point.extend(coordinate("y"));
    let es256 = ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point).expect("key");
    Fixture {
        rt,
        full,
        cached,
        key,
        bearer,
        bound,
        rs256,
        es256,
        _issuer: issuer,
    }
}

fn bench(c: &mut Criterion, f: &Fixture) {
    let proof = || f.key.proof("GET", URL, &f.bound);
    assert!(f.rt.block_on(f.full.verify(&f.bearer)).is_ok());
    assert!(f
        .rt
        .block_on(f.full.verify_dpop(&f.bound, &proof(), "GET", URL))
        .is_ok());
    let sample = proof();
    assert!(
        support::signature_verifies(&f.rs256, &f.bound)
            && support::signature_verifies(&f.es256, &sample)
    );

    let mut group = c.benchmark_group("dpop");
    group.bench_function("floor_rs256_plus_es256", |b| {
        b.iter(|| {
            support::signature_verifies(black_box(&f.rs256), black_box(&f.bound))
                && support::signature_verifies(black_box(&f.es256), black_box(&sample))
        })
    });
    group.bench_function("bearer_verify", |b| {
        b.iter(|| f.rt.block_on(f.full.verify(black_box(&f.bearer))).is_ok())
    });
    group.bench_function("dpop_verify", |b| {
        b.iter_batched(
            proof,
            |p| {
                f.rt.block_on(f.full.verify_dpop(black_box(&f.bound), &p, "GET", URL))
                    .is_ok()
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("bearer_verify_cached", |b| {
        b.iter(|| f.rt.block_on(f.cached.verify(black_box(&f.bearer))).is_ok())
    });
    group.bench_function("dpop_verify_cached", |b| {
        b.iter_batched(
            proof,
            |p| {
                f.rt.block_on(f.cached.verify_dpop(black_box(&f.bound), &p, "GET", URL))
                    .is_ok()
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
    // Every timed DPoP request passed: a rejected proof would have been much cheaper.
    assert_eq!(f.full.stats().rejected_total(), 0);
    assert_eq!(f.cached.stats().rejected_total(), 0);
}

fn report_ratios() {
    let (Some(bearer), Some(bearer_cached), Some(floor)) = (
        support::mean_ns("dpop", "bearer_verify"),
        support::mean_ns("dpop", "bearer_verify_cached"),
        support::mean_ns("dpop", "floor_rs256_plus_es256"),
    ) else {
        return;
    };
    support::print_ratios(
        "dpop",
        ("a Bearer request, full path", bearer),
        &["dpop_verify", "floor_rs256_plus_es256"],
    );
    support::print_ratios(
        "dpop",
        ("a Bearer request, token cached", bearer_cached),
        &["dpop_verify_cached"],
    );
    support::print_ratios(
        "dpop",
        ("the floor RS256 + ES256", floor),
        &["dpop_verify", "dpop_verify_cached"],
    );
}

fn main() {
    let fixture = fixture();
    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5));
    bench(&mut c, &fixture);
    c.final_summary();
    report_ratios();
}
