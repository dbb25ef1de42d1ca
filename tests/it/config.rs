//! Misconfiguration is a typed error at start-up that says what to set; nothing panics.

use route_guard::testing::{TestIssuer, TEST_AUDIENCE};
use route_guard::{Algorithm, Authenticator, AuthenticatorBuilder, ConfigError};

fn domain(d: &str) -> Result<Authenticator, ConfigError> {
    Authenticator::builder()
        .domain(d)
        .audience("https://api")
        .build()
}

fn issuer(url: &str) -> Result<Authenticator, ConfigError> {
    Authenticator::builder()
        .issuer_base_url(url)
        .audience("https://api")
        .build()
}

#[test]
fn domain_gives_the_auth0_issuer() {
    let auth = domain("tenant.us.auth0.com").expect("builds");
    assert_eq!(
        auth.issuer().as_deref(),
        Some("https://tenant.us.auth0.com/")
    );
    assert_eq!(auth.realm(), "api");
}

#[test]
fn missing_audience_is_an_error_naming_the_variable() {
    let err = Authenticator::builder()
        .domain("tenant.us.auth0.com")
        .build()
        .unwrap_err();
    assert_eq!(err, ConfigError::MissingAudience);
    assert!(err.to_string().contains("AUTH0_AUDIENCE"));
    let err = Authenticator::builder()
        .domain("tenant.us.auth0.com")
        .audience(" ")
        .build()
        .unwrap_err();
    assert_eq!(err, ConfigError::EmptyAudience);
}

#[test]
fn missing_domain_is_an_error_naming_the_variables() {
    let err = Authenticator::builder()
        .audience("https://api")
        .build()
        .unwrap_err();
    assert_eq!(err, ConfigError::MissingIssuer);
    let text = err.to_string();
    assert!(text.contains("AUTH0_DOMAIN") && text.contains("AUTH0_ISSUER_BASE_URL"));
}

#[test]
fn domain_given_as_url_is_an_error() {
    for d in [
        "https://tenant.us.auth0.com",
        "http://tenant.us.auth0.com/",
        "HTTPS://tenant.us.auth0.com",
    ] {
        let err = domain(d).unwrap_err();
        assert!(
            matches!(err, ConfigError::DomainHasScheme { .. }),
            "{d}: {err}"
        );
        assert!(err.to_string().contains("without `https://`"));
    }
}

#[test]
fn domain_with_a_path_is_an_error() {
    for d in [
        "tenant.us.auth0.com/",
        "tenant.us.auth0.com/api",
        "tenant.com?x=1",
    ] {
        let err = domain(d).unwrap_err();
        assert!(
            matches!(err, ConfigError::DomainHasPath { .. }),
            "{d}: {err}"
        );
    }
    assert!(matches!(
        domain("").unwrap_err(),
        ConfigError::InvalidDomain { .. }
    ));
    assert!(matches!(
        domain("user@host").unwrap_err(),
        ConfigError::InvalidDomain { .. }
    ));
}

#[test]
fn http_issuer_is_allowed_only_on_loopback() {
    for ok in [
        "http://localhost:3000",
        "http://127.0.0.1:8080/",
        "http://127.8.9.10/",
        "http://[::1]:9000/",
        "https://issuer.example.com/",
    ] {
        assert!(issuer(ok).is_ok(), "{ok}");
    }
    for bad in [
        "http://issuer.example.com/",
        "http://10.0.0.1/",
        "http://128.0.0.1/",
    ] {
        let err = issuer(bad).unwrap_err();
        assert!(
            matches!(err, ConfigError::InsecureIssuer { .. }),
            "{bad}: {err}"
        );
        assert!(err.to_string().contains("use https"));
    }
    for bad in [
        "ftp://issuer.example.com/",
        "not a url",
        "https://issuer.example.com/?q=1",
        "https://u:p@issuer.example.com/",
    ] {
        assert!(
            matches!(
                issuer(bad).unwrap_err(),
                ConfigError::InvalidIssuerUrl { .. }
            ),
            "{bad}"
        );
    }
}

#[test]
fn domain_and_issuer_together_is_an_error() {
    let err = Authenticator::builder()
        .domain("tenant.us.auth0.com")
        .issuer_base_url("https://tenant.us.auth0.com/")
        .audience("https://api")
        .build()
        .unwrap_err();
    assert_eq!(err, ConfigError::ConflictingIssuer);
}

#[test]
fn algorithm_list_errors() {
    let base = || {
        Authenticator::builder()
            .domain("t.example.com")
            .audience("https://api")
    };
    assert_eq!(
        base().algorithms([]).build().unwrap_err(),
        ConfigError::EmptyAlgorithms
    );
    assert_eq!(
        base().algorithms([Algorithm::HS256]).build().unwrap_err(),
        ConfigError::MissingSecret
    );
    assert_eq!(
        base()
            .algorithms([Algorithm::HS256, Algorithm::RS256])
            .hs256_secret(vec![7; 32])
            .build()
            .unwrap_err(),
        ConfigError::MixedAlgorithms
    );
    assert_eq!(
        base().hs256_secret(vec![7; 32]).build().unwrap_err(),
        ConfigError::UnusedSecret
    );
    assert_eq!(
        base()
            .algorithms([Algorithm::HS256])
            .hs256_secret(vec![7; 8])
            .build()
            .unwrap_err(),
        ConfigError::WeakSecret { len: 8 }
    );
    assert!(base()
        .algorithms([Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA])
        .build()
        .is_ok());
}

#[test]
fn environment_variables_configure_the_authenticator() {
    let vars = |pairs: &'static [(&'static str, &'static str)]| {
        AuthenticatorBuilder::from_vars(move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    };
    let auth = vars(&[
        ("AUTH0_DOMAIN", "tenant.eu.auth0.com"),
        (
            "AUTH0_AUDIENCE",
            "https://a.example.com, https://b.example.com",
        ),
        ("AUTH0_ALGORITHMS", "RS256,PS256"),
    ])
    .build()
    .expect("builds");
    assert_eq!(
        auth.issuer().as_deref(),
        Some("https://tenant.eu.auth0.com/")
    );

    assert_eq!(
        vars(&[("AUTH0_DOMAIN", "t.example.com")])
            .build()
            .unwrap_err(),
        ConfigError::MissingAudience
    );
    assert_eq!(
        vars(&[("AUTH0_AUDIENCE", "https://api")])
            .build()
            .unwrap_err(),
        ConfigError::MissingIssuer
    );
    assert_eq!(
        vars(&[
            ("AUTH0_DOMAIN", "t.example.com"),
            ("AUTH0_AUDIENCE", "https://api"),
            ("AUTH0_ALGORITHMS", "RS256,none")
        ])
        .build()
        .unwrap_err(),
        ConfigError::UnknownAlgorithm {
            value: "none".into()
        }
    );
    assert_eq!(
        vars(&[
            ("AUTH0_DOMAIN", "t.example.com"),
            ("AUTH0_AUDIENCE", "https://api"),
            ("AUTH0_ALGORITHMS", " , ")
        ])
        .build()
        .unwrap_err(),
        ConfigError::EmptyAlgorithms
    );
    assert!(matches!(
        vars(&[
            ("AUTH0_DOMAIN", "https://t.example.com"),
            ("AUTH0_AUDIENCE", "https://api")
        ])
        .build()
        .unwrap_err(),
        ConfigError::DomainHasScheme { .. }
    ));
}

#[tokio::test]
async fn environment_audience_list_accepts_each_audience() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let url = issuer.issuer().to_owned();
    let auth = AuthenticatorBuilder::from_vars(|name| match name {
        "AUTH0_ISSUER_BASE_URL" => Some(url.clone()),
        "AUTH0_AUDIENCE" => Some(format!("https://first.example.com,{TEST_AUDIENCE}")),
        _ => None,
    })
    .build()
    .expect("builds");
    let token = issuer.token().sign();
    assert!(auth.verify(&token).await.is_ok());
    let first = issuer.token().audience("https://first.example.com").sign();
    assert!(auth.verify(&first).await.is_ok());
}

#[test]
fn invalid_settings_are_errors() {
    let base = || {
        Authenticator::builder()
            .domain("t.example.com")
            .audience("https://api")
    };
    assert!(matches!(
        base().realm("a\"b").build().unwrap_err(),
        ConfigError::InvalidSetting {
            setting: "realm",
            ..
        }
    ));
    assert!(matches!(
        base().max_token_bytes(10).build().unwrap_err(),
        ConfigError::InvalidSetting {
            setting: "max_token_bytes",
            ..
        }
    ));
    assert!(matches!(
        base()
            .http_timeout(std::time::Duration::ZERO)
            .build()
            .unwrap_err(),
        ConfigError::InvalidSetting {
            setting: "http_timeout",
            ..
        }
    ));
    assert!(matches!(
        base()
            .jwks_ttl_bounds(
                std::time::Duration::from_secs(60),
                std::time::Duration::from_secs(1)
            )
            .build()
            .unwrap_err(),
        ConfigError::InvalidSetting {
            setting: "jwks_ttl_bounds",
            ..
        }
    ));
}

#[test]
fn debug_output_never_shows_the_secret() {
    let builder =
        Authenticator::builder().hs256_secret(b"super-secret-value-of-32-bytes!!".to_vec());
    let text = format!("{builder:?}");
    assert!(!text.contains("super-secret"), "{text}");
}

fn dpop(configure: impl FnOnce(AuthenticatorBuilder) -> AuthenticatorBuilder) -> ConfigError {
    configure(
        Authenticator::builder()
            .domain("tenant.us.auth0.com")
            .audience("https://api"),
    )
    .build()
    .expect_err("a DPoP misconfiguration")
}

fn setting_of(err: &ConfigError) -> &'static str {
    match err {
        ConfigError::InvalidSetting { setting, .. } => setting,
        other => panic!("expected InvalidSetting, got {other:?}"),
    }
}

#[test]
fn dpop_misconfiguration_is_a_typed_error_naming_the_setting() {
    use std::time::Duration;
    let cases: Vec<(ConfigError, &str, &str)> = vec![
        (dpop(|b| b.dpop_algorithms([])), "dpop_algorithms", "empty"),
        (
            dpop(|b| b.dpop_algorithms([Algorithm::ES256, Algorithm::HS256])),
            "dpop_algorithms",
            "HS256",
        ),
        (
            dpop(|b| {
                b.dpop_iat_leeway(Duration::from_secs(60))
                    .dpop_iat_offset(Duration::from_secs(30))
            }),
            "dpop_iat_offset",
            "not shorter than dpop_iat_leeway",
        ),
        (
            dpop(|b| b.public_base_url("api.example.com")),
            "public_base_url",
            "absolute URL",
        ),
        (
            dpop(|b| b.public_base_url("ftp://api.example.com")),
            "public_base_url",
            "http(s)",
        ),
        (
            dpop(|b| b.public_base_url("https://api.example.com/?x=1")),
            "public_base_url",
            "query",
        ),
        (dpop(|b| b.dpop_nonce("short")), "dpop_nonce", "32 bytes"),
        (
            dpop(|b| b.dpop_replay_capacity(0)),
            "dpop_replay_capacity",
            "cannot be turned off",
        ),
        (
            dpop(|b| b.dpop_replay_quota(0)),
            "dpop_replay_quota",
            "at least 1",
        ),
        (
            dpop(|b| b.dpop_replay_capacity(1000).dpop_replay_quota(1000)),
            "dpop_replay_quota",
            "below dpop_replay_capacity",
        ),
    ];
    for (err, setting, hint) in cases {
        assert_eq!(setting_of(&err), setting, "{err}");
        assert!(err.to_string().contains(hint), "{err}");
    }
    let err = AuthenticatorBuilder::from_vars(|name| match name {
        "AUTH0_DOMAIN" => Some("tenant.us.auth0.com".to_owned()),
        "AUTH0_AUDIENCE" => Some("https://api".to_owned()),
        "AUTH0_DPOP" => Some("sometimes".to_owned()),
        _ => None,
    })
    .build()
    .expect_err("bad mode");
    assert_eq!(setting_of(&err), "AUTH0_DPOP");
    assert!(
        err.to_string().contains("allowed, required or disabled"),
        "{err}"
    );
}

#[test]
fn dpop_mode_and_redis_store_from_the_environment() {
    let vars = |mode: &'static str, redis: Option<&'static str>| {
        move |name: &str| match name {
            "AUTH0_DOMAIN" => Some("tenant.us.auth0.com".to_owned()),
            "AUTH0_AUDIENCE" => Some("https://api".to_owned()),
            "AUTH0_DPOP" => Some(mode.to_owned()),
            "AUTH0_DPOP_REPLAY_REDIS_URL" => redis.map(str::to_owned),
            _ => None,
        }
    };
    for (value, mode) in [
        ("allowed", route_guard::DpopMode::Allowed),
        ("Required", route_guard::DpopMode::Required),
        (" disabled ", route_guard::DpopMode::Disabled),
    ] {
        let auth = AuthenticatorBuilder::from_vars(vars(value, None))
            .build()
            .expect("builds");
        assert_eq!(auth.dpop_mode(), mode);
    }
    let redis =
        AuthenticatorBuilder::from_vars(vars("allowed", Some("redis://127.0.0.1:6379/0"))).build();
    #[cfg(feature = "redis")]
    {
        assert!(redis.is_ok(), "{redis:?}");
        let err = AuthenticatorBuilder::from_vars(vars("allowed", Some("http://:pw@x:notaport")))
            .build()
            .expect_err("bad URL");
        assert_eq!(setting_of(&err), "AUTH0_DPOP_REPLAY_REDIS_URL");
        assert!(!err.to_string().contains("pw"), "{err}");
    }
    #[cfg(not(feature = "redis"))]
    {
        let err = redis.expect_err("no redis feature");
        assert_eq!(err, ConfigError::RedisFeatureMissing);
        assert!(err.to_string().contains("features = [\"redis\"]"), "{err}");
    }
}

#[test]
fn domains_are_normalised_and_misspellings_are_errors() {
    let auth = Authenticator::builder()
        .domains([
            " Tenant.US.Auth0.com ",
            "https://auth.example.com/",
            "HTTPS://AUTH.EXAMPLE.COM",
            "auth.example.com:443",
            "http://127.0.0.1:8080/",
        ])
        .audience("https://api")
        .build()
        .expect("builds");
    assert_eq!(
        auth.issuers(),
        [
            "https://tenant.us.auth0.com/",
            "https://auth.example.com/",
            "http://127.0.0.1:8080/",
        ]
    );
    assert_eq!(auth.issuer(), None);
    for (bad, hint) in [
        ("auth.example.com/tenant", "no path"),
        ("https://auth.example.com/a/", "no path"),
        ("auth.example.com:8443", "port 443"),
        ("http://auth.example.com", "only for localhost"),
        ("ftp://auth.example.com", "only https"),
        ("  ", "empty"),
        ("user@auth.example.com", "not a host name"),
    ] {
        let err = Authenticator::builder()
            .domains(["tenant.us.auth0.com", bad])
            .audience("https://api")
            .build()
            .expect_err(bad);
        assert!(
            matches!(&err, ConfigError::InvalidDomains { domain, .. } if domain == bad),
            "{bad}: {err:?}"
        );
        assert!(err.to_string().contains(hint), "{bad}: {err}");
        assert!(err.to_string().contains("AUTH0_DOMAINS"), "{err}");
    }
}

#[test]
fn domains_from_the_environment_and_conflicts() {
    let auth = AuthenticatorBuilder::from_vars(|name| match name {
        "AUTH0_DOMAINS" => Some("a.example.com, b.example.com,".to_owned()),
        "AUTH0_DOMAIN" => Some("old.example.com".to_owned()),
        "AUTH0_AUDIENCE" => Some("https://api".to_owned()),
        _ => None,
    })
    .build()
    .expect("builds");
    assert_eq!(
        auth.issuers(),
        ["https://a.example.com/", "https://b.example.com/"]
    );
    let err = Authenticator::builder()
        .issuer_base_url("https://issuer.example.com")
        .domains(["a.example.com"])
        .audience("https://api")
        .build()
        .expect_err("conflict");
    assert_eq!(err, ConfigError::ConflictingIssuer);
    let err = Authenticator::builder()
        .domains(Vec::<String>::new())
        .audience("https://api")
        .build()
        .expect_err("no domain");
    assert_eq!(err, ConfigError::MissingIssuer);
    let err = Authenticator::builder()
        .domains(["a.example.com"])
        .domain_resolver(|_| std::future::ready(Ok(Vec::new())))
        .audience("https://api")
        .build()
        .expect_err("both");
    assert_eq!(setting_of(&err), "domain_resolver");
    let err = Authenticator::builder()
        .domains(["a.example.com"])
        .algorithms([Algorithm::HS256])
        .hs256_secret(vec![7; 32])
        .audience("https://api")
        .build()
        .expect_err("HS256 with several issuers");
    assert_eq!(setting_of(&err), "algorithms");
}

#[test]
fn organization_and_claim_policy_errors() {
    let err = dpop(|b| b.allowed_organizations(["org_abc"]));
    assert_eq!(setting_of(&err), "allowed_organizations");
    assert!(err.to_string().contains("OrgPolicy::Required"), "{err}");
    let err = dpop(|b| {
        b.organization(route_guard::OrgPolicy::Required)
            .allowed_organizations([" "])
    });
    assert_eq!(setting_of(&err), "allowed_organizations");
    let err = dpop(|b| b.required_claims([""]));
    assert_eq!(setting_of(&err), "required_claims");
    let err = dpop(|b| b.max_issuers(0));
    assert_eq!(setting_of(&err), "max_issuers");
}
