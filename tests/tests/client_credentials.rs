//! Client credentials through the public API, against the emulator over real HTTPS: secrets,
//! certificates (every key form), assertions, the cache, tenant overrides, claims and
//! capabilities, expiry and `refresh_on`, and every kind of failure.

mod support;

use std::time::Duration;

use base64::Engine as _;
use msal_core::{Authority, ClientCredential, ErrorKind, IntoScopes, TokenCache, TokenSource};
use msal_tests::emulator::{AppRegistration, FaultMatch, FaultRule, seeds};
use serde_json::Value;
use support::{Env, GRAPH_DEFAULT, clock};

fn jwt_part(jwt: &str, i: usize) -> Value {
    let part = jwt.split('.').nth(i).expect("a JWT part");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON")
}

#[tokio::test]
async fn secret_first_from_the_identity_provider_then_from_the_cache() {
    let env = Env::start().await;
    let app = env.secret_app();
    let first = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    assert_eq!(first.source(), TokenSource::IdentityProvider);
    assert_eq!(
        first.tenant(),
        seeds::CONTOSO_TENANT_ID,
        "realm is the tenant GUID from discovery"
    );
    assert_eq!(first.scopes(), GRAPH_DEFAULT);
    assert_eq!(first.token_type(), "Bearer");
    let claims = jwt_part(first.access_token().secret(), 1);
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    assert_eq!(claims["tid"], seeds::CONTOSO_TENANT_ID);

    let second = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    assert_eq!(second.source(), TokenSource::Cache);
    assert_eq!(
        second.access_token().secret(),
        first.access_token().secret()
    );
    assert!(second.correlation_id().is_none());

    let posts = env.token_requests().await;
    assert_eq!(posts.len(), 1, "the second call sent nothing");
    let form: Vec<(&str, &str)> = posts[0]
        .form
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        form,
        vec![
            ("client_id", seeds::SECRET_APP_CLIENT_ID),
            ("grant_type", "client_credentials"),
            ("client_info", "1"),
            ("client_secret", seeds::SECRET_APP_SECRET),
            ("scope", GRAPH_DEFAULT),
        ]
    );
    let h = |n: &str| posts[0].header(n).map(str::to_owned);
    assert_eq!(h("x-client-sku").as_deref(), Some("MSAL.Rust"));
    assert_eq!(h("x-client-os").as_deref(), Some("linux"));
    assert_eq!(
        h("x-ms-lib-capability").as_deref(),
        Some("retry-after, h429")
    );
    assert_eq!(h("x-client-current-telemetry").as_deref(), Some("4|730,2|"));
    assert_eq!(h("x-client-last-telemetry").as_deref(), Some("4|0|||"));
    assert_eq!(h("accept").as_deref(), Some("application/json"));
    assert!(uuid_like(h("client-request-id").as_deref().unwrap_or("")));
    assert_eq!(
        posts[0].path,
        format!("/{}/oauth2/v2.0/token", seeds::CONTOSO_TENANT_ID)
    );
    // Discovery once, for the domain tenant, and nothing else (a known host: no instance discovery).
    let gets = env.discovery_requests().await;
    assert_eq!(gets.len(), 1);
    assert_eq!(
        gets[0].path,
        format!(
            "/{}/v2.0/.well-known/openid-configuration",
            seeds::CONTOSO_DOMAIN
        )
    );
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

#[tokio::test]
async fn telemetry_reports_cache_hits_on_the_next_request() {
    let env = Env::start().await;
    let app = env.secret_app();
    app.acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    app.acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("hit");
    app.acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("hit");
    app.acquire_token_for_client(GRAPH_DEFAULT)
        .force_refresh(true)
        .await
        .expect("token");
    let posts = env.token_requests().await;
    assert_eq!(posts.len(), 2);
    assert_eq!(
        posts[1].header("x-client-current-telemetry"),
        Some("4|730,1|")
    );
    assert_eq!(posts[1].header("x-client-last-telemetry"), Some("4|2|||"));
}

#[tokio::test]
async fn certificate_in_every_key_form_signs_a_ps256_assertion_the_emulator_accepts() {
    let env = Env::start().await;
    let forms = [
        ClientCredential::certificate_pem(seeds::APP_KEY_PKCS8_PEM, seeds::APP_CERT_PEM),
        ClientCredential::certificate_pem(seeds::APP_KEY_PKCS1_PEM, seeds::APP_CERT_PEM),
        ClientCredential::certificate_pem_encrypted(
            seeds::APP_KEY_ENCRYPTED_PEM,
            seeds::APP_CERT_PEM,
            seeds::APP_KEY_PASSPHRASE,
        ),
    ];
    for (i, credential) in forms.into_iter().enumerate() {
        let app = env.app(
            seeds::CERT_APP_CLIENT_ID,
            credential.expect("credential loads"),
            Authority::tenant(seeds::CONTOSO_DOMAIN),
            None,
            None,
        );
        let r = app
            .acquire_token_for_client(GRAPH_DEFAULT)
            .await
            .expect("token");
        assert_eq!(r.source(), TokenSource::IdentityProvider, "form {i}");
    }
    let posts = env.token_requests().await;
    assert_eq!(posts.len(), 3);
    for p in &posts {
        assert_eq!(p.status, 200);
        assert_eq!(
            p.form_value("client_assertion_type"),
            Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        );
        assert!(p.form_value("client_secret").is_none());
        let assertion = p.form_value("client_assertion").expect("an assertion");
        let header = jwt_part(assertion, 0);
        assert_eq!(header["alg"], "PS256");
        assert!(
            header["x5t#S256"]
                .as_str()
                .is_some_and(|t| t.len() == 44 && t.ends_with('='))
        );
        assert!(header.get("x5c").is_none(), "no x5c unless asked");
        let claims = jwt_part(assertion, 1);
        assert_eq!(
            claims["aud"],
            format!(
                "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
                seeds::CONTOSO_TENANT_ID
            )
        );
        assert_eq!(claims["iss"], seeds::CERT_APP_CLIENT_ID);
        assert!(claims["exp"].is_f64() && claims["iat"].is_f64());
    }
}

#[tokio::test]
async fn assertions_are_reused_for_nine_minutes_then_renewed() {
    let env = Env::start().await;
    let clock = clock();
    let app = env.app(
        seeds::CERT_APP_CLIENT_ID,
        Env::cert_credential().send_x5c(true),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        Some(clock.clone()),
    );
    for _ in 0..2 {
        app.acquire_token_for_client(GRAPH_DEFAULT)
            .force_refresh(true)
            .await
            .expect("token");
    }
    clock.advance(Duration::from_secs(541));
    env.emulator
        .admin()
        .advance_clock(541.0)
        .await
        .expect("clock");
    app.acquire_token_for_client(GRAPH_DEFAULT)
        .force_refresh(true)
        .await
        .expect("token");
    let posts = env.token_requests().await;
    let jti = |i: usize| {
        jwt_part(
            posts[i].form_value("client_assertion").expect("assertion"),
            1,
        )["jti"]
            .clone()
    };
    assert_eq!(jti(0), jti(1), "reused within the window");
    assert_ne!(jti(1), jti(2), "renewed after 540 s");
    let stats = env.emulator.admin().stats().await.expect("stats");
    assert_eq!(stats.assertion_reuse.values().copied().max(), Some(2));
    // SNI mode sends the chain.
    let header = jwt_part(
        posts[0].form_value("client_assertion").expect("assertion"),
        0,
    );
    assert_eq!(header["x5c"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn assertion_callback_receives_the_token_endpoint() {
    let env = Env::start().await;
    // The callback signs with a certificate credential of its own: a federated assertion stand-in.
    let signer = Env::cert_credential();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen2 = seen.clone();
    let probe_app = env.app(
        seeds::CERT_APP_CLIENT_ID,
        signer,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    );
    // Produce a valid assertion through the library itself, then hand it out from a callback.
    probe_app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    let assertion = env.token_requests().await[0]
        .form_value("client_assertion")
        .expect("assertion")
        .to_owned();
    let credential = ClientCredential::assertion_callback(move |ctx| {
        let seen = seen2.clone();
        let assertion = assertion.clone();
        async move {
            seen.lock().expect("lock").push(ctx.token_endpoint.clone());
            Ok(assertion)
        }
    });
    let app = env.app(
        seeds::CERT_APP_CLIENT_ID,
        credential,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    );
    let r = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    assert_eq!(r.source(), TokenSource::IdentityProvider);
    assert_eq!(
        seen.lock().expect("lock").as_slice(),
        [format!(
            "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
            seeds::CONTOSO_TENANT_ID
        )]
    );
}

#[tokio::test]
async fn tenant_override_gets_and_caches_a_token_per_tenant() {
    let env = Env::start().await;
    let app = env.app(
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret(seeds::SECRET_APP_SECRET),
        Authority::organizations(),
        None,
        None,
    );
    let a = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .tenant(seeds::CONTOSO_DOMAIN)
        .await
        .expect("contoso");
    let b = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .tenant(seeds::FABRIKAM_DOMAIN)
        .await
        .expect("fabrikam");
    assert_eq!(a.tenant(), seeds::CONTOSO_TENANT_ID);
    assert_eq!(b.tenant(), seeds::FABRIKAM_TENANT_ID);
    assert_ne!(a.access_token().secret(), b.access_token().secret());
    for t in [seeds::CONTOSO_DOMAIN, seeds::FABRIKAM_DOMAIN] {
        let r = app
            .acquire_token_for_client(GRAPH_DEFAULT)
            .tenant(t)
            .await
            .expect("cached");
        assert_eq!(r.source(), TokenSource::Cache);
    }
    assert_eq!(env.token_requests().await.len(), 2);
    // The multi-tenant authority itself cannot do client credentials: Entra says so.
    let e = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Service);
    assert_eq!(e.service().map(|s| s.status), Some(400));
}

#[tokio::test]
async fn claims_challenge_skips_the_cache_and_capabilities_are_merged() {
    let env = Env::start().await;
    let app = msal_core::ConfidentialClient::builder(
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret(seeds::SECRET_APP_SECRET),
    )
    .authority(Authority::tenant(seeds::CONTOSO_DOMAIN))
    .client_capabilities(["CP1"])
    .http_client(std::sync::Arc::clone(&env.transport))
    .build()
    .expect("app");
    app.acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    let challenge = r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#;
    let r = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .claims(challenge)
        .await
        .expect("token");
    assert_eq!(
        r.source(),
        TokenSource::IdentityProvider,
        "a claims challenge skips the cache"
    );
    let posts = env.token_requests().await;
    assert_eq!(posts.len(), 2);
    assert_eq!(
        posts[0].form_value("claims"),
        Some(r#"{"access_token": {"xms_cc": {"values": ["CP1"]}}}"#)
    );
    assert_eq!(
        posts[1].form_value("claims"),
        Some(
            r#"{"access_token": {"nbf": {"essential": true, "value": "1700000000"}, "xms_cc": {"values": ["CP1"]}}}"#
        )
    );
    assert_eq!(
        posts[1].header("x-client-current-telemetry"),
        Some("4|730,1|")
    );
    let e = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .claims("not json")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn expiry_buffer_and_refresh_on_with_fallback_when_the_identity_provider_is_down() {
    let env = Env::start().await;
    env.emulator
        .admin()
        .register_app(&AppRegistration {
            client_id: "11111111-2222-3333-4444-555555555555".into(),
            secrets: vec!["long-lived+secret".into()],
            access_token_lifetime_secs: Some(7200),
            ..Default::default()
        })
        .await
        .expect("register");
    let clock = clock();
    let app = env.app(
        "11111111-2222-3333-4444-555555555555",
        ClientCredential::secret("long-lived+secret"),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        Some(clock.clone()),
    );
    let first = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    let refresh_on = first.refresh_on().expect("refresh_in → refresh_on");
    let lifetime = first
        .expires_on()
        .duration_since(refresh_on)
        .expect("refresh_on before expiry");
    assert!(
        lifetime >= Duration::from_secs(3590),
        "refresh_on is half-way: {lifetime:?}"
    );

    // Past refresh_on, with the identity provider failing: the old (still valid) token is served.
    clock.advance(Duration::from_secs(3700));
    env.emulator
        .admin()
        .add_fault(&FaultRule {
            matches: FaultMatch {
                path_contains: Some("/token".into()),
                ..Default::default()
            },
            status: Some(503),
            body: Some("down".into()),
            ..Default::default()
        })
        .await
        .expect("fault");
    let aging = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("fallback");
    assert_eq!(aging.source(), TokenSource::Cache);
    assert_eq!(aging.access_token().secret(), first.access_token().secret());
    // The 503 without Retry-After throttles identical requests for 5 s (confidential client).
    clock.advance(Duration::from_secs(6));
    // With the identity provider back, the aging token is refreshed.
    let refreshed = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("refresh");
    assert_eq!(refreshed.source(), TokenSource::IdentityProvider);
    let posts = env.token_requests().await;
    assert_eq!(
        posts
            .last()
            .and_then(|p| p.header("x-client-current-telemetry")),
        Some("4|730,4|")
    );

    // Within five minutes of expiry a token is no longer served.
    let exp = refreshed.expires_on();
    let now = msal_core::clock::Clock::now(&clock);
    clock.advance(exp.duration_since(now).expect("future") - Duration::from_secs(299));
    env.emulator
        .admin()
        .advance_clock(7200.0 - 299.0)
        .await
        .expect("clock");
    let renewed = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("renewed");
    assert_eq!(renewed.source(), TokenSource::IdentityProvider);
    let posts = env.token_requests().await;
    assert_eq!(
        posts
            .last()
            .and_then(|p| p.header("x-client-current-telemetry")),
        Some("4|730,3|")
    );
}

#[tokio::test]
async fn failures_are_typed() {
    let env = Env::start().await;
    // Wrong secret.
    let bad = env.app(
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret("wrong"),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    );
    let e = bad
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .unwrap_err();
    assert!(e.is_invalid_client(), "{e:?}");
    assert_eq!(e.service().map(|s| s.status), Some(401));
    assert!(
        e.service()
            .is_some_and(|s| s.error_codes.contains(&7000215))
    );
    assert!(!e.is_transient());

    // A certificate the app does not have registered.
    let other = env.app(
        seeds::CERT_APP_CLIENT_ID,
        ClientCredential::certificate_pem(seeds::OTHER_KEY_PEM, seeds::OTHER_CERT_PEM)
            .expect("loads"),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    );
    assert!(
        other
            .acquire_token_for_client(GRAPH_DEFAULT)
            .await
            .unwrap_err()
            .is_invalid_client()
    );

    let clock = clock();
    let app = env.app(
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret(seeds::SECRET_APP_SECRET),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        Some(clock.clone()),
    );
    let fault = |status: Option<u16>, body: Option<&str>, retry: Option<&str>| FaultRule {
        matches: FaultMatch {
            path_contains: Some("/token".into()),
            ..Default::default()
        },
        status,
        retry_after: retry.map(str::to_owned),
        body: body.map(str::to_owned),
        ..Default::default()
    };
    // 503 with Retry-After.
    env.emulator
        .admin()
        .add_fault(&fault(Some(503), Some("busy"), Some("7")))
        .await
        .expect("fault");
    let e = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .unwrap_err();
    assert!(e.is_transient());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    // The identical request is not sent again before those 7 s are over.
    let sent = env.token_requests().await.len();
    let e = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .unwrap_err();
    assert!(e.is_throttled());
    assert_eq!(e.kind(), ErrorKind::Throttled);
    assert!(e.retry_after().is_some_and(|d| d <= Duration::from_secs(7)));
    assert_eq!(env.token_requests().await.len(), sent, "nothing was sent");
    clock.advance(Duration::from_secs(7));
    // 429.
    env.emulator
        .admin()
        .add_fault(&fault(Some(429), Some("{}"), Some("30")))
        .await
        .expect("fault");
    let e = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .unwrap_err();
    assert!(e.is_throttled() && e.is_transient());
    clock.advance(Duration::from_secs(30));
    // A truncated body.
    env.emulator
        .admin()
        .add_fault(&fault(
            Some(200),
            Some(r#"{"access_token": "abc", "expi"#),
            None,
        ))
        .await
        .expect("fault");
    let e = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    // JSON without an access token.
    env.emulator
        .admin()
        .add_fault(&fault(Some(200), Some(r#"{"token_type": "Bearer"}"#), None))
        .await
        .expect("fault");
    let e = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    // A redirect is never followed.
    env.emulator
        .admin()
        .add_fault(&fault(Some(302), Some(""), None))
        .await
        .expect("fault");
    let e = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    // An oversized body is cut off.
    let huge = format!("{{\"access_token\": \"{}\"}}", "a".repeat(1536 * 1024));
    env.emulator
        .admin()
        .add_fault(&fault(Some(200), Some(&huge), None))
        .await
        .expect("fault");
    let e = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    assert!(e.to_string().contains("exceeds"), "{e}");
    // And then a normal token: nothing was poisoned.
    let ok = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    assert_eq!(ok.source(), TokenSource::IdentityProvider);

    // Bad scopes never leave the process.
    let before = env.token_requests().await.len();
    for bad in ["", "a b\u{7}"] {
        let e = app.acquire_token_for_client(bad).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    }
    assert_eq!(env.token_requests().await.len(), before);
}

#[tokio::test]
async fn discovery_failures_are_typed_and_not_cached() {
    let env = Env::start().await;
    let unknown_tenant = env.app(
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret(seeds::SECRET_APP_SECRET),
        Authority::tenant("nosuchtenant.onmicrosoft.com"),
        None,
        None,
    );
    let e = unknown_tenant
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Discovery);
    assert_eq!(
        e.service().map(|s| s.error.as_str()),
        Some("invalid_tenant")
    );

    // An unknown host is validated through instance discovery and refused...
    let stranger = env.app(
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret(seeds::SECRET_APP_SECRET),
        Authority::from_url("https://localhost/contoso.onmicrosoft.com").expect("parses"),
        None,
        None,
    );
    let e = stranger
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Discovery);
    assert_eq!(
        e.service().map(|s| s.error.as_str()),
        Some("invalid_instance")
    );
    // ...while a trusted custom host passes and gets its endpoints from instance discovery.
    let custom = env.app(
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret(seeds::SECRET_APP_SECRET),
        Authority::from_url(&format!(
            "https://{}/{}",
            seeds::TRUSTED_CUSTOM_HOST,
            seeds::CONTOSO_DOMAIN
        ))
        .expect("parses"),
        None,
        None,
    );
    let r = custom
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    assert_eq!(r.tenant(), seeds::CONTOSO_TENANT_ID);

    // A failed discovery is retried on the next call (not cached for 24 h).
    let app = env.secret_app();
    env.emulator
        .admin()
        .add_fault(&FaultRule {
            matches: FaultMatch {
                path_contains: Some("openid-configuration".into()),
                ..Default::default()
            },
            status: Some(500),
            body: Some("oops".into()),
            ..Default::default()
        })
        .await
        .expect("fault");
    assert_eq!(
        app.acquire_token_for_client(GRAPH_DEFAULT)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Discovery
    );
    app.acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("the second attempt discovers again");
}

#[tokio::test]
async fn every_authority_kind_does_client_credentials() {
    let env = Env::start().await;
    let cases: Vec<(Authority, &str)> = vec![
        (
            Authority::tenant(seeds::CONTOSO_TENANT_ID),
            seeds::CONTOSO_TENANT_ID,
        ),
        (
            Authority::aad(seeds::USGOV_HOST, seeds::USGOV_DOMAIN),
            seeds::USGOV_TENANT_ID,
        ),
        (
            Authority::b2c(
                seeds::B2C_HOST,
                seeds::B2C_TENANT_DOMAIN,
                seeds::B2C_POLICY_SIGNUP_SIGNIN,
            ),
            seeds::B2C_TENANT_DOMAIN,
        ),
        (
            Authority::ciam(&format!("https://{}", seeds::CIAM_HOST)).expect("ciam"),
            seeds::CIAM_TENANT_ID,
        ),
        (
            Authority::adfs(&format!("https://{}/adfs", seeds::ADFS_HOST)).expect("adfs"),
            "adfs",
        ),
        (
            Authority::oidc(seeds::OIDC_ISSUER).expect("oidc"),
            seeds::OIDC_TENANT,
        ),
    ];
    for (authority, realm) in cases {
        let name = authority.to_string();
        let app = env.app(
            seeds::SECRET_APP_CLIENT_ID,
            ClientCredential::secret(seeds::SECRET_APP_SECRET),
            authority,
            None,
            None,
        );
        let r = app
            .acquire_token_for_client(GRAPH_DEFAULT)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(
            r.tenant().to_ascii_lowercase(),
            realm.to_ascii_lowercase(),
            "{name}"
        );
        let again = app
            .acquire_token_for_client(GRAPH_DEFAULT)
            .await
            .expect("hit");
        assert_eq!(again.source(), TokenSource::Cache, "{name}");
    }
    // ADFS with a certificate: RS256 and x5t (SHA-1), as MSAL does.
    let adfs = env.app(
        seeds::CERT_APP_CLIENT_ID,
        Env::cert_credential(),
        Authority::adfs(&format!("https://{}/adfs", seeds::ADFS_HOST)).expect("adfs"),
        None,
        None,
    );
    adfs.acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("adfs token");
    let last = env.token_requests().await.pop().expect("a request");
    let header = jwt_part(last.form_value("client_assertion").expect("assertion"), 0);
    assert_eq!(header["alg"], "RS256");
    assert!(header.get("x5t").is_some() && header.get("x5t#S256").is_none());
}

#[tokio::test]
async fn cache_survives_serialization_and_removal_is_scoped() {
    let env = Env::start().await;
    let cache = TokenCache::new();
    let app = env.app(
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret(seeds::SECRET_APP_SECRET),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(cache.clone()),
        None,
    );
    app.acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    let json = cache.serialize().expect("serialize");
    assert!(json.contains("\"home_account_id\": null"));

    let restored = TokenCache::new();
    restored.deserialize(&json).expect("deserialize");
    let app2 = env.app(
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret(seeds::SECRET_APP_SECRET),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(restored),
        None,
    );
    let r = app2
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    assert_eq!(
        r.source(),
        TokenSource::Cache,
        "a restored cache serves the token"
    );

    assert_eq!(app2.remove_tokens_for_client().await.expect("removed"), 1);
    let r = app2
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    assert_eq!(r.source(), TokenSource::IdentityProvider);

    // Corrupt input is an error and loses nothing.
    let e = cache.deserialize("{\"AccessToken\": [").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Cache);
    let r = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("still cached");
    assert_eq!(r.source(), TokenSource::Cache);
}

#[tokio::test]
async fn scopes_in_every_input_shape_reach_the_same_cache_entry() {
    let env = Env::start().await;
    let app = env.secret_app();
    app.acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    let owned = GRAPH_DEFAULT.to_owned();
    let set = [GRAPH_DEFAULT].into_scopes().expect("valid");
    assert_eq!(
        app.acquire_token_for_client(owned.clone())
            .await
            .expect("hit")
            .source(),
        TokenSource::Cache
    );
    assert_eq!(
        app.acquire_token_for_client(&owned)
            .await
            .expect("hit")
            .source(),
        TokenSource::Cache
    );
    assert_eq!(
        app.acquire_token_for_client([GRAPH_DEFAULT])
            .await
            .expect("hit")
            .source(),
        TokenSource::Cache
    );
    assert_eq!(
        app.acquire_token_for_client(vec![owned.clone()])
            .await
            .expect("hit")
            .source(),
        TokenSource::Cache
    );
    assert_eq!(
        app.acquire_token_for_client(&set)
            .await
            .expect("hit")
            .source(),
        TokenSource::Cache
    );
    assert_eq!(
        app.acquire_token_for_client("HTTPS://GRAPH.MICROSOFT.COM/.DEFAULT")
            .await
            .expect("hit")
            .source(),
        TokenSource::Cache,
        "scopes match case-insensitively"
    );
}

#[test]
fn public_futures_are_send_and_apps_are_cheap_handles() {
    fn send<T: Send>(_: &T) {}
    fn send_sync_clone<T: Send + Sync + Clone + 'static>() {}
    send_sync_clone::<msal_core::ConfidentialClient>();
    send_sync_clone::<TokenCache>();
    send_sync_clone::<msal_core::Error>();
    let app = msal_core::ConfidentialClient::builder("c", ClientCredential::secret("s"))
        .build()
        .expect("app");
    let f = std::future::IntoFuture::into_future(app.acquire_token_for_client(GRAPH_DEFAULT));
    send(&f);
    let g = std::future::IntoFuture::into_future(app.acquire_token_on_behalf_of("a.b.c", ["x"]));
    send(&g);
    let h = app.remove_tokens_for_client();
    send(&h);
}

#[tokio::test]
async fn per_request_authority_override_switches_the_b2c_policy() {
    let env = Env::start().await;
    let signin = Authority::b2c(
        seeds::B2C_HOST,
        seeds::B2C_TENANT_DOMAIN,
        seeds::B2C_POLICY_SIGNUP_SIGNIN,
    );
    let edit = Authority::b2c(
        seeds::B2C_HOST,
        seeds::B2C_TENANT_DOMAIN,
        seeds::B2C_POLICY_PROFILE_EDIT,
    );
    let app = env.app(
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret(seeds::SECRET_APP_SECRET),
        signin,
        None,
        None,
    );
    app.acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("signin policy");
    app.acquire_token_for_client(GRAPH_DEFAULT)
        .authority(edit)
        .force_refresh(true)
        .await
        .expect("edit policy");
    let paths: Vec<String> = env
        .token_requests()
        .await
        .into_iter()
        .map(|p| p.path)
        .collect();
    assert_eq!(paths.len(), 2);
    assert!(
        paths[0].to_ascii_lowercase().contains("b2c_1_signupsignin"),
        "{paths:?}"
    );
    assert!(
        paths[1].to_ascii_lowercase().contains("b2c_1_profileedit"),
        "{paths:?}"
    );
    let bad = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .authority(Authority::tenant("bad/tenant"))
        .await
        .unwrap_err();
    assert_eq!(bad.kind(), ErrorKind::Configuration);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cold_calls_share_one_discovery() {
    let env = Env::start().await;
    let app = env.secret_app();
    let calls: Vec<_> = (0..64)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { app.acquire_token_for_client(GRAPH_DEFAULT).await })
        })
        .collect();
    for c in calls {
        c.await.expect("joined").expect("token");
    }
    assert_eq!(
        env.discovery_requests().await.len(),
        1,
        "discovery is single-flighted"
    );
    let stats = env.emulator.admin().stats().await.expect("stats");
    assert_eq!(stats.discovery_requests, 1);
}

#[tokio::test]
async fn forwarded_client_claims_are_sent_as_claims_and_key_the_cache() {
    let env = Env::start().await;
    let app = env.secret_app();
    let claims = r#"{"access_token":{"xms_ds_cnf":{"essential":true,"value":"one"}}}"#;
    let other = r#"{"access_token":{"xms_ds_cnf":{"essential":true,"value":"two"}}}"#;
    let first = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .forwarded_client_claims(claims)
        .await
        .expect("a token");
    assert_eq!(first.source(), TokenSource::IdentityProvider);
    let sent = env.token_requests().await;
    let form = |i: usize, name: &str| {
        sent.get(i)
            .and_then(|r| r.form.iter().find(|(k, _)| k == name))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        form(0, "claims").as_deref(),
        Some(claims),
        "sent as the claims field"
    );
    assert_eq!(form(0, "client_claims"), None, "never a field of its own");
    // The same claims: the cache (unlike a claims challenge).
    let again = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .forwarded_client_claims(claims)
        .await
        .expect("from the cache");
    assert_eq!(again.source(), TokenSource::Cache);
    assert_eq!(again.access_token().secret(), first.access_token().secret());
    // Other claims, or none: other cache entries.
    for (c, n) in [(Some(other), 2), (None, 3)] {
        let mut req = app.acquire_token_for_client(GRAPH_DEFAULT);
        if let Some(c) = c {
            req = req.forwarded_client_claims(c);
        }
        let r = req.await.expect("a token");
        assert_eq!(r.source(), TokenSource::IdentityProvider);
        assert_eq!(env.token_requests().await.len(), n);
    }
    let doc: Value =
        serde_json::from_str(&app.cache().serialize().expect("serializes")).expect("JSON");
    let ext_keys = doc["AccessToken"]
        .as_object()
        .expect("access tokens")
        .values()
        .filter(|at| at.get("ext_cache_key").is_some())
        .count();
    assert_eq!(ext_keys, 2, "one extended key per claims value");
    // Not a JSON object: refused before anything is sent or read.
    let e = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .forwarded_client_claims("not json")
        .await
        .expect_err("invalid claims");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(env.token_requests().await.len(), 3);
}
