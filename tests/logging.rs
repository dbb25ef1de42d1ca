//! Every rejection is one tracing event with its reason, and no event ever holds the token.

mod common;

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
