//! Every rejection is one tracing event with its reason, and no event ever holds the token.

use crate::common;

use common::logs::Collector;

#[tokio::test]
async fn each_rejection_logs_one_event_with_its_reason_and_never_the_token() {
    let collector = Collector::default();
    let _guard = tracing::subscriber::set_default(collector.clone());
    let app = common::start().await;
    app.auth.warm_up().await.expect("keys");
    let before = collector.len();

    let expired = app
        .issuer
        .token()
        .expired_for(std::time::Duration::from_secs(600))
        .sign();
    let forged = {
        let real = app.issuer.token().sign();
        let other = app.issuer.token().sub("auth0|mallory").sign();
        let parts: Vec<&str> = real.split('.').collect();
        let payload = other.split('.').nth(1).unwrap_or_default();
        format!("{}.{payload}.{}", parts[0], parts[2])
    };
    let unscoped = app.issuer.token().sign();
    app.get("/private", Some(&expired)).await;
    app.get("/private", Some(&forged)).await;
    app.get("/scoped", Some(&unscoped)).await;
    app.get_with_header("/private", "Bearer").await;

    let events = collector.since(before);
    assert_eq!(events.len(), 4, "{events:#?}");
    for (event, reason) in events.iter().zip([
        "expired",
        "signature",
        "insufficient_scope",
        "invalid_request",
    ]) {
        assert!(event.contains(&format!("reason={reason}")), "{event}");
    }
    for token in [&expired, &forged, &unscoped] {
        let signature = token.rsplit('.').next().unwrap_or_default();
        assert!(events.iter().all(|e| !e.contains(signature)), "{events:#?}");
    }
}

#[tokio::test]
async fn dpop_rejections_log_one_event_each_without_token_or_proof() {
    use route_guard::testing::DpopKey;
    let collector = Collector::default();
    let _guard = tracing::subscriber::set_default(collector.clone());
    let app = common::start().await;
    app.auth.warm_up().await.expect("keys");
    let before = collector.len();

    let key = DpopKey::generate().expect("key");
    let token = app.issuer.token().dpop_bound(&key).sign();
    let url = format!("{}/private", app.base);
    let dpop = |proof: &str| {
        app.client
            .get(&url)
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof.to_owned())
    };
    let wrong_method = key.proof("POST", &url, &token);
    let valid = key.proof("GET", &url, &token);
    assert_eq!(common::send(dpop(&wrong_method)).await.status, 401);
    assert_eq!(common::send(dpop(&valid)).await.status, 200);
    assert_eq!(common::send(dpop(&valid)).await.status, 401);
    assert_eq!(app.get("/private", Some(&token)).await.status, 401);

    let events = collector.since(before);
    assert_eq!(events.len(), 3, "{events:#?}");
    for (event, reason) in events
        .iter()
        .zip(["dpop_proof", "dpop_replay", "dpop_binding"])
    {
        assert!(event.contains(&format!("reason={reason}")), "{event}");
    }
    for secret in [&token, &wrong_method, &valid] {
        let signature = secret.rsplit('.').next().unwrap_or_default();
        assert!(events.iter().all(|e| !e.contains(signature)), "{events:#?}");
    }
}
