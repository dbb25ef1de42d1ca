//! Several issuers: a static list of domains (each with its own discovery and JWKS cache) and a
//! resolver that answers the allowed domains per request. Over real HTTP, with one `TestIssuer`
//! per domain and their fetch counters.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{send, App, Reply};
use route_guard::testing::{TestIssuer, TEST_AUDIENCE, TEST_ROLES_CLAIM};
use route_guard::{
    Authenticator, AuthenticatorBuilder, IssuerRequest, RejectionReason, ResolverError,
};

async fn issuers<const N: usize>() -> [TestIssuer; N] {
    let mut started = Vec::new();
    for _ in 0..N {
        started.push(TestIssuer::start().await.expect("issuer"));
    }
    started
        .try_into()
        .unwrap_or_else(|_| unreachable!("N issuers started"))
}

fn builder() -> AuthenticatorBuilder {
    Authenticator::builder()
        .audience(TEST_AUDIENCE)
        .roles_claim(TEST_ROLES_CLAIM)
}

/// Serves the common routes with `auth`; the `App`'s own issuer is an unused extra.
async fn serve(auth: Authenticator) -> App {
    let spare = TestIssuer::start().await.expect("issuer");
    common::serve_app(spare, auth, common::routes()).await
}

async fn get_as(app: &App, host: &str, token: &str) -> Reply {
    send(
        app.client
            .get(format!("{}/private", app.base))
            .header("host", host)
            .bearer_auth(token),
    )
    .await
}

fn fetches(issuer: &TestIssuer) -> (usize, usize) {
    (issuer.discovery_fetches(), issuer.jwks_fetches())
}

#[tokio::test]
async fn tokens_of_each_domain_pass_and_a_third_issuer_is_never_contacted() {
    let [a, b, attacker] = issuers::<3>().await;
    // Written the ways people write them: case, spaces, trailing slashes.
    let auth = builder()
        .domains([
            format!(" {} ", a.issuer().to_uppercase()),
            b.issuer().to_owned(),
        ])
        .build()
        .expect("builds");
    assert_eq!(auth.issuers(), [a.issuer(), b.issuer()]);
    let app = serve(auth).await;

    for issuer in [&a, &b] {
        let token = issuer.token().sub("auth0|alice").sign();
        let reply = app.get("/private", Some(&token)).await;
        assert_eq!(reply.status, 200, "{}: {}", issuer.issuer(), reply.body);
        assert_eq!(fetches(issuer), (1, 1), "{}", issuer.issuer());
    }

    // A token of an issuer not on the list: rejected before any request to it.
    let foreign = attacker.token().sign();
    let reply = app.get("/private", Some(&foreign)).await;
    reply.assert_rejected(401, "invalid_token");
    assert_eq!(
        reply.description(),
        "the token's issuer (iss) is not accepted"
    );
    // Claiming an accepted issuer while signed by the attacker's key: the accepted issuer's
    // keys decide, and the attacker still sees nothing.
    let forged = attacker.token().iss(a.issuer()).sign();
    let reply = app.get("/private", Some(&forged)).await;
    reply.assert_rejected(401, "invalid_token");
    assert_eq!(reply.description(), "the token's signature is invalid");
    assert_eq!(fetches(&attacker), (0, 0));
    assert_eq!((fetches(&a), fetches(&b)), ((1, 1), (1, 1)));
    assert_eq!(app.auth.stats().verified(), 2);
}

#[tokio::test]
async fn each_issuer_rotates_its_keys_on_its_own() {
    let [a, b] = issuers::<2>().await;
    let auth = builder()
        .domains([a.issuer(), b.issuer()])
        .build()
        .expect("builds");
    auth.warm_up().await.expect("both key sets load");
    assert_eq!((fetches(&a), fetches(&b)), ((1, 1), (1, 1)));
    let app = serve(auth).await;

    a.rotate_keys().expect("rotation");
    let rotated = a.token().sign();
    assert_eq!(app.get("/private", Some(&rotated)).await.status, 200);
    assert_eq!(a.jwks_fetches(), 2, "the new kid made `a` refetch");
    let other = b.token().sign();
    assert_eq!(app.get("/private", Some(&other)).await.status, 200);
    assert_eq!(b.jwks_fetches(), 1, "`b` keeps its keys");

    // `a` going down does not touch `b`.
    a.set_down(true);
    let still_b = b.token().sub("auth0|bob").sign();
    assert_eq!(app.get("/private", Some(&still_b)).await.status, 200);
}

/// host → domains: `a.example` → issuer A, `b.example` → issuer B, `broken.example` → error,
/// anything else → nothing. Counts calls.
fn resolver(
    a: String,
    b: String,
    calls: Arc<AtomicUsize>,
) -> impl Fn(IssuerRequest) -> std::future::Ready<Result<Vec<String>, ResolverError>>
       + Send
       + Sync
       + 'static {
    move |request: IssuerRequest| {
        calls.fetch_add(1, Ordering::SeqCst);
        let host = request.host.as_deref().unwrap_or("");
        std::future::ready(match host.split(':').next() {
            Some("a.example") => Ok(vec![a.clone(), "not a domain/with/a path".to_owned()]),
            Some("b.example") => Ok(vec![b.clone()]),
            Some("broken.example") => Err(ResolverError::from("tenant database unreachable")),
            _ => Ok(Vec::new()),
        })
    }
}

/// An Authenticator whose domains `resolver` answers by host, with `a` and `b`.
fn resolved_by_host(a: &TestIssuer, b: &TestIssuer, calls: Arc<AtomicUsize>) -> Authenticator {
    builder()
        .domain_resolver(resolver(
            a.issuer().to_owned(),
            b.issuer().to_owned(),
            calls,
        ))
        .build()
        .expect("builds")
}

#[tokio::test]
async fn a_resolver_chooses_the_domains_by_host() {
    let collector = common::logs::Collector::default();
    let _logs = tracing::subscriber::set_default(collector.clone());
    let [a, b] = issuers::<2>().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let auth = resolved_by_host(&a, &b, Arc::clone(&calls));
    assert!(auth.issuers().is_empty());
    let app = serve(auth).await;
    let token_a = a.token().sub("auth0|alice").sign();
    let token_b = b.token().sub("auth0|bob").sign();

    let reply = get_as(&app, "a.example", &token_a).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(get_as(&app, "b.example", &token_b).await.status, 200);
    // The right token on the wrong host: rejected, also once it is in the token cache.
    for _ in 0..2 {
        get_as(&app, "b.example", &token_a)
            .await
            .assert_rejected(401, "invalid_token");
        assert_eq!(get_as(&app, "a.example", &token_a).await.status, 200);
    }
    assert!(app.auth.stats().verified_from_cache() >= 1);
    // An empty answer rejects; nothing is fetched for a host the resolver does not know.
    get_as(&app, "unknown.example", &token_a)
        .await
        .assert_rejected(401, "invalid_token");
    assert_eq!((fetches(&a), fetches(&b)), ((1, 1), (1, 1)));

    // A failing resolver is our outage: 503, logged at error level, counted.
    let before = collector.len();
    get_as(&app, "broken.example", &token_a)
        .await
        .assert_unavailable("issuer could not be checked");
    let errors = collector.at_level_since("ERROR", before);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].contains("tenant database unreachable"),
        "{errors:#?}"
    );
    assert_eq!(
        app.auth
            .stats()
            .rejected(RejectionReason::ResolverUnavailable),
        1
    );
    // Every request asked the resolver, cached tokens included.
    assert_eq!(calls.load(Ordering::SeqCst), 8);
}

#[tokio::test]
async fn an_attackers_issuer_is_checked_against_the_resolver_before_any_fetch() {
    let [a, b, attacker] = issuers::<3>().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let auth = resolved_by_host(&a, &b, calls);
    let app = serve(auth).await;
    let foreign = attacker.token().sign();
    get_as(&app, "a.example", &foreign)
        .await
        .assert_rejected(401, "invalid_token");
    assert_eq!(fetches(&attacker), (0, 0));
    assert_eq!((fetches(&a), fetches(&b)), ((0, 0), (0, 0)));
}

#[tokio::test]
async fn resolved_issuers_are_bounded() {
    let [a, b, c] = issuers::<3>().await;
    let all = vec![
        a.issuer().to_owned(),
        b.issuer().to_owned(),
        c.issuer().to_owned(),
    ];
    let auth = builder()
        .domain_resolver(move |_| std::future::ready(Ok(all.clone())))
        .max_issuers(2)
        .verified_token_cache(0)
        .build()
        .expect("builds");
    let app = serve(auth).await;
    for round in 1..=2 {
        for issuer in [&a, &b, &c] {
            let token = issuer.token().sign();
            let reply = app.get("/private", Some(&token)).await;
            assert_eq!(reply.status, 200, "round {round}: {}", reply.body);
        }
    }
    // Two caches at a time, oldest dropped first: each issuer was fetched once per round.
    for issuer in [&a, &b, &c] {
        assert_eq!(issuer.jwks_fetches(), 2, "{}", issuer.issuer());
    }
}

#[tokio::test]
async fn domains_win_over_domain_for_migrations() {
    let [a, b] = issuers::<2>().await;
    let auth = builder()
        .domain("old-tenant.us.auth0.com")
        .domains([a.issuer(), b.issuer()])
        .build()
        .expect("builds");
    assert_eq!(auth.issuers(), [a.issuer(), b.issuer()]);
    let app = serve(auth).await;
    assert_eq!(
        app.get("/private", Some(&b.token().sign())).await.status,
        200
    );
}

#[tokio::test]
async fn dpop_requests_reach_the_resolver_with_their_host() {
    let [a, b] = issuers::<2>().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let auth = resolved_by_host(&a, &b, Arc::clone(&calls));
    let app = serve(auth).await;
    let key = route_guard::testing::DpopKey::generate().expect("key");
    let token = a.token().dpop_bound(&key).sign();
    for (host, expected) in [("a.example", 200), ("b.example", 401)] {
        let proof = key.proof("GET", &format!("http://{host}/private"), &token);
        let reply = send(
            app.client
                .get(format!("{}/private", app.base))
                .header("host", host)
                .header("authorization", format!("DPoP {token}"))
                .header("dpop", proof),
        )
        .await;
        assert_eq!(reply.status, expected, "{host}: {}", reply.body);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}
