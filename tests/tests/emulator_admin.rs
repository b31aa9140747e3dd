//! Emulator: faults, clock, request recording and the admin API (the `msal-emulator` binary is
//! tested in its package, `tests/emulator/tests/binary.rs`).

mod emulator_support;

use std::time::{Duration, Instant};

use emulator_support::*;
use msal_tests::emulator::seeds::*;
use msal_tests::emulator::{
    FaultMatch, FaultRule, RequestFilter, UserRegistration, UserTokenRequest,
};
use serde_json::json;

const GRAPH_DEFAULT: &str = "https://graph.microsoft.com/.default";

fn secret_cc() -> Vec<(&'static str, &'static str)> {
    vec![
        ("client_id", SECRET_APP_CLIENT_ID),
        ("grant_type", "client_credentials"),
        ("client_info", "1"),
        ("client_secret", SECRET_APP_SECRET),
        ("scope", GRAPH_DEFAULT),
    ]
}

fn contoso_token() -> String {
    token_url(PUBLIC_HOST, CONTOSO_DOMAIN)
}

#[tokio::test]
async fn fault_503_with_retry_after_once_then_normal() {
    let (emu, c) = start().await;
    let admin = emu.admin();
    admin
        .add_fault(&FaultRule {
            matches: FaultMatch {
                path_contains: Some("/oauth2/v2.0/token".into()),
                grant_type: Some("client_credentials".into()),
                ..Default::default()
            },
            status: Some(503),
            retry_after: Some("7".into()),
            json: Some(json!({"error": "temporarily_unavailable"})),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(admin.faults().await.unwrap().len(), 1);
    // A discovery request does not match.
    let d = get(
        &c,
        &format!("https://{PUBLIC_HOST}/{CONTOSO_DOMAIN}/v2.0/.well-known/openid-configuration"),
    )
    .await;
    assert_eq!(d.status, 200);
    let a = post_form(&c, &contoso_token(), &secret_cc()).await;
    assert_eq!(a.status, 503);
    assert_eq!(a.headers["retry-after"], "7");
    assert_eq!(a.json["error"], "temporarily_unavailable");
    let a = post_form(&c, &contoso_token(), &secret_cc()).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(admin.faults().await.unwrap().is_empty());
    // Both token requests were recorded with their statuses.
    let recorded = admin
        .requests_filtered(&RequestFilter {
            grant_type: Some("client_credentials".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        recorded.iter().map(|r| r.status).collect::<Vec<_>>(),
        [503, 200]
    );
    assert_eq!(admin.stats().await.unwrap().token_requests, 2);
}

#[tokio::test]
async fn fault_delay_malformed_body_and_forever() {
    let (emu, c) = start().await;
    let admin = emu.admin();
    admin
        .add_fault(&FaultRule {
            matches: FaultMatch {
                host: Some(PUBLIC_HOST.into()),
                method: Some("post".into()),
                ..Default::default()
            },
            delay_ms: Some(400),
            ..Default::default()
        })
        .await
        .unwrap();
    let t = Instant::now();
    let a = post_form(&c, &contoso_token(), &secret_cc()).await;
    assert!(t.elapsed() >= Duration::from_millis(400));
    assert_eq!(
        a.status, 200,
        "a delay-only fault processes normally: {}",
        a.text
    );
    let t = Instant::now();
    assert_eq!(
        post_form(&c, &contoso_token(), &secret_cc()).await.status,
        200
    );
    assert!(
        t.elapsed() < Duration::from_millis(400),
        "the delay applied once"
    );

    admin
        .add_fault(&FaultRule {
            matches: FaultMatch {
                path_contains: Some("/token".into()),
                ..Default::default()
            },
            times: Some(0),
            body: Some(r#"{"access_token": "trunc"#.into()),
            content_type: Some("application/json".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    for _ in 0..3 {
        let a = post_form(&c, &contoso_token(), &secret_cc()).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.text, r#"{"access_token": "trunc"#);
        assert!(a.json.is_null(), "not valid JSON");
        assert_eq!(a.headers["content-type"], "application/json");
    }
    admin.clear_faults().await.unwrap();
    assert!(post_form(&c, &contoso_token(), &secret_cc()).await.json["access_token"].is_string());

    // Invalid rules are refused.
    assert!(
        admin
            .add_fault(&FaultRule {
                status: Some(1000),
                ..Default::default()
            })
            .await
            .is_err()
    );
}

#[tokio::test]
async fn clock_drives_issued_times() {
    let (emu, c) = start().await;
    let admin = emu.admin();
    let t0 = 2_000_000_000.0;
    let now = admin.set_clock(t0).await.unwrap();
    assert!((now - t0).abs() < 2.0);
    let a = post_form(&c, &contoso_token(), &secret_cc()).await;
    let cl = claims(a.json["access_token"].as_str().unwrap());
    let iat = cl["iat"].as_u64().unwrap();
    assert!((2_000_000_000..2_000_000_003).contains(&iat), "{iat}");
    assert_eq!(cl["exp"].as_u64().unwrap(), iat + 3599);

    admin.advance_clock(86_400.0).await.unwrap();
    assert!((admin.clock().await.unwrap() - (t0 + 86_400.0)).abs() < 3.0);
    let a = post_form(&c, &contoso_token(), &secret_cc()).await;
    let exp = claims(a.json["access_token"].as_str().unwrap())["exp"]
        .as_u64()
        .unwrap();
    assert!(
        (2_000_086_400 + 3599..2_000_086_400 + 3599 + 4).contains(&exp),
        "{exp}"
    );
    // Error timestamps follow the clock too.
    let e = post_form(
        &c,
        &contoso_token(),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert!(
        e.json["timestamp"]
            .as_str()
            .unwrap()
            .starts_with("2033-05-19"),
        "{}",
        e.json["timestamp"]
    );

    // An assertion valid by the system clock has expired by the emulator clock.
    let central = format!("https://login.microsoftonline.com/{CONTOSO_DOMAIN}/oauth2/v2.0/token");
    let a = post_form(
        &c,
        &contoso_token(),
        &[
            ("client_id", CERT_APP_CLIENT_ID),
            ("grant_type", "client_credentials"),
            ("client_assertion", &cert_app_assertion(&central)),
            ("client_assertion_type", ASSERTION_TYPE),
            ("scope", GRAPH_DEFAULT),
        ],
    )
    .await;
    assert_eq!(aadsts(&a), 700024, "{}", a.text);

    admin.reset().await.unwrap();
    assert!((admin.clock().await.unwrap() - emulator_support::now()).abs() < 5.0);
}

#[tokio::test]
async fn requests_are_recorded_in_order_with_form_fields() {
    let (emu, c) = start().await;
    let admin = emu.admin();
    get(&c, &format!("https://login.windows.net/common/discovery/instance?api-version=1.1&authorization_endpoint={}", "https://login.microsoftonline.com/common/oauth2/authorize")).await;
    post_form_with(
        &c,
        &token_url("westus.login.microsoft.com", CONTOSO_DOMAIN),
        &secret_cc(),
        &[
            ("x-client-sku", "MSAL.Rust"),
            ("client-request-id", "abc-123"),
        ],
    )
    .await;
    let all = admin.requests().await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[0].seq < all[1].seq);
    let d = &all[0];
    assert_eq!(
        (d.method.as_str(), d.host.as_str(), d.path.as_str()),
        ("GET", "login.windows.net", "/common/discovery/instance")
    );
    assert_eq!(d.query_value("api-version"), Some("1.1"));
    assert_eq!(
        d.query_value("authorization_endpoint"),
        Some("https://login.microsoftonline.com/common/oauth2/authorize")
    );
    let t = &all[1];
    assert_eq!(t.host, "westus.login.microsoft.com");
    assert_eq!(t.path, format!("/{CONTOSO_DOMAIN}/oauth2/v2.0/token"));
    let names: Vec<&str> = t.form.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "client_id",
            "grant_type",
            "client_info",
            "client_secret",
            "scope"
        ]
    );
    assert_eq!(
        t.form_value("client_secret"),
        Some(SECRET_APP_SECRET),
        "decoded"
    );
    assert!(
        t.body
            .contains("client_secret=s3cr%2Bt%2F%3D%26%25value%7EX"),
        "raw: {}",
        t.body
    );
    assert_eq!(t.header("x-client-sku"), Some("MSAL.Rust"));
    assert_eq!(t.header("client-request-id"), Some("abc-123"));
    let sku = t
        .headers
        .iter()
        .position(|(k, _)| k == "x-client-sku")
        .unwrap();
    let cid = t
        .headers
        .iter()
        .position(|(k, _)| k == "client-request-id")
        .unwrap();
    assert!(sku < cid, "headers keep their order");
    assert_eq!(t.status, 200);

    let only = admin
        .requests_filtered(&RequestFilter {
            host: Some("LOGIN.WINDOWS.NET".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(only.len(), 1);
    let only = admin
        .requests_filtered(&RequestFilter {
            path_contains: Some("/token".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(only.len(), 1);
    admin.clear_requests().await.unwrap();
    assert!(admin.requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn users_and_minted_tokens() {
    let (emu, _c) = start().await;
    let admin = emu.admin();
    let carol = admin
        .add_user(&UserRegistration {
            tenant: "fabrikam".into(),
            username: "carol@fabrikam.onmicrosoft.com".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(carol.tenant_id, FABRIKAM_TENANT_ID);
    assert_eq!(carol.name, "carol");
    let again = admin
        .add_user(&UserRegistration {
            tenant: FABRIKAM_DOMAIN.into(),
            username: "carol@fabrikam.onmicrosoft.com".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(again.oid, carol.oid, "derived oids are stable");
    let t = admin
        .mint_user_token(&UserTokenRequest {
            tenant: FABRIKAM_TENANT_ID.into(),
            username: "carol@fabrikam.onmicrosoft.com".into(),
            audience: MIDDLE_TIER_CLIENT_ID.into(),
            scopes: vec!["access_as_user".into()],
            lifetime_secs: Some(600),
            client_id: None,
        })
        .await
        .unwrap();
    let cl = claims(&t.access_token);
    assert_eq!(cl["oid"], carol.oid.as_str());
    assert_eq!(cl["tid"], FABRIKAM_TENANT_ID);
    assert_eq!(cl["azp"], PUBLIC_CLIENT_ID);
    assert_eq!(cl["preferred_username"], "carol@fabrikam.onmicrosoft.com");
    assert_eq!(t.expires_on, cl["iat"].as_u64().unwrap() + 600);
    // Unknown user / tenant are errors.
    let mut req = UserTokenRequest {
        tenant: "contoso".into(),
        username: "nobody@contoso.com".into(),
        audience: "x".into(),
        ..Default::default()
    };
    assert!(admin.mint_user_token(&req).await.is_err());
    req.tenant = "nosuch".into();
    assert!(admin.mint_user_token(&req).await.is_err());
    // Malformed admin JSON is a 400, not a crash.
    let r = reqwest::Client::new()
        .post(format!("{}/admin/faults", emu.admin_url()))
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(admin.manifest().await.unwrap(), *emu.manifest());
}

#[tokio::test]
async fn in_process_api() {
    let (emu, _) = start().await;
    assert!(emu.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(
        std::fs::read_to_string(emu.ca_pem_path()).unwrap(),
        emu.ca_pem()
    );
    assert!(emu.hosts().contains(&"contosob2c.b2clogin.com"));
    assert!(emu.https_addr().ip().is_loopback());
    let c = emu.http_client_builder().unwrap().build().unwrap();
    let a = get(
        &c,
        "https://fs.contoso.com/adfs/.well-known/openid-configuration",
    )
    .await;
    assert_eq!(a.status, 200);
    let dir = emu.state_dir().to_path_buf();
    emu.shutdown().await;
    assert!(!dir.exists(), "the temporary state directory is removed");
}
