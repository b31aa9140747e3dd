//! User sign-in through the public API against the emulator: auth code with PKCE (and every
//! way it can go wrong), device code, username/password, silent acquisition and refresh,
//! `refresh_on` aging, FOCI siblings, sign-out, migration, and B2C, AD FS and CIAM sign-ins.

mod support;

use std::time::Duration;

use msal_core::clock::{Clock, ManualClock};
use msal_core::{
    AuthCodeFlow, Authority, ClientCredential, ErrorKind, Initiated, ResponseMode, TokenCache,
    TokenSource,
};
use msal_tests::emulator::{
    AppRegistration, DeviceSettings, FaultMatch, FaultRule, InteractionSetting, seeds,
};
use support::{Env, clock};

const USER_READ: &str = "https://graph.microsoft.com/User.Read";

async fn sign_in_with_code(
    env: &Env,
    app: &msal_core::PublicClient,
) -> msal_core::AuthenticationResult {
    let flow = app
        .auth_code_flow([USER_READ])
        .redirect_uri("http://localhost")
        .login_hint(seeds::ALICE_USERNAME)
        .initiate()
        .await
        .expect("initiate");
    let response = env.browse(flow.auth_uri()).await;
    flow.complete(app, response.as_str())
        .await
        .expect("complete")
        .into_result()
}

#[tokio::test]
async fn auth_code_with_pkce_then_silent_from_the_cache() {
    let env = Env::start().await;
    let app = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    );
    let flow = app
        .auth_code_flow([USER_READ])
        .redirect_uri("http://localhost")
        .login_hint(seeds::ALICE_USERNAME)
        .initiate()
        .await
        .expect("initiate");
    let uri = url::Url::parse(flow.auth_uri()).expect("a URL");
    let q: std::collections::HashMap<String, String> = uri.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], seeds::PUBLIC_CLIENT_ID);
    assert_eq!(q["response_type"], "code");
    assert_eq!(
        q["scope"],
        format!("{USER_READ} offline_access openid profile")
    );
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    assert_eq!(
        q["nonce"].len(),
        64,
        "the nonce goes out as its SHA-256 hex"
    );
    assert_eq!(q["state"].len(), 22);
    assert_eq!(q["client_info"], "1");
    assert_eq!(
        q["X-AnchorMailbox"],
        format!("UPN:{}", seeds::ALICE_USERNAME)
    );
    assert_eq!(q["state"], flow.state());

    let response = env.browse(flow.auth_uri()).await;
    let done = flow
        .complete(&app, response.as_str())
        .await
        .expect("complete");
    let r = done.result();
    assert_eq!(r.source(), TokenSource::IdentityProvider);
    let account = done.account().expect("an account").clone();
    assert_eq!(
        account.home_account_id(),
        format!("{}.{}", seeds::ALICE_OID, seeds::CONTOSO_TENANT_ID)
    );
    assert_eq!(account.username(), seeds::ALICE_USERNAME);
    assert_eq!(account.account_source(), Some("authorization_code"));
    let claims = r.id_token_claims().expect("ID token claims");
    assert_eq!(claims["preferred_username"], seeds::ALICE_USERNAME);

    let post = env.token_requests().await.pop().expect("the redemption");
    let names: Vec<&str> = post.form.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "client_id",
            "grant_type",
            "client_info",
            "code_verifier",
            "code",
            "redirect_uri",
            "scope"
        ]
    );
    assert_eq!(
        post.header("x-anchormailbox"),
        Some(format!("Oid:{}@{}", seeds::ALICE_OID, seeds::CONTOSO_TENANT_ID).as_str())
    );
    assert_eq!(post.header("x-client-current-telemetry"), Some("4|832,0|"));

    let accounts = app.accounts().await.expect("accounts");
    assert_eq!(accounts.len(), 1);
    let silent = app
        .acquire_token_silent([USER_READ], &accounts[0])
        .await
        .expect("silent");
    assert_eq!(silent.source(), TokenSource::Cache);
    assert_eq!(silent.access_token().secret(), r.access_token().secret());
    assert_eq!(
        env.token_requests().await.len(),
        1,
        "a silent hit sends nothing"
    );
    let found = app
        .account(account.home_account_id())
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(found, account);
}

#[tokio::test]
async fn web_app_form_post_and_the_flow_survives_a_session() {
    let env = Env::start().await;
    let app = env.app(
        seeds::WEB_APP_CLIENT_ID,
        ClientCredential::secret(seeds::WEB_APP_SECRET),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    );
    let flow = app
        .auth_code_flow([USER_READ])
        .redirect_uri(seeds::WEB_APP_REDIRECT_URI)
        .response_mode(ResponseMode::FormPost)
        .login_hint(seeds::ALICE_USERNAME)
        .initiate()
        .await
        .expect("initiate");
    // Between the redirect out and back, the flow lives in the web session.
    let session = serde_json::to_string(&flow).expect("serializes");
    assert!(!format!("{flow:?}").contains("code_verifier\": \""));
    let flow: AuthCodeFlow<Initiated> = serde_json::from_str(&session).expect("deserializes");
    let posted = env.browse(flow.auth_uri()).await;
    let done = flow
        .complete(&app, posted.as_str())
        .await
        .expect("complete");
    assert!(done.account().is_some());
    let post = env.token_requests().await.pop().expect("a redemption");
    assert_eq!(
        post.form_value("client_secret"),
        Some(seeds::WEB_APP_SECRET)
    );
    assert!(post.form_value("code_verifier").is_some());
}

#[tokio::test]
async fn state_nonce_max_age_and_pkce_are_enforced() {
    let env = Env::start().await;
    let app = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    );
    let start = || async {
        app.auth_code_flow([USER_READ])
            .redirect_uri("http://localhost")
            .login_hint(seeds::ALICE_USERNAME)
            .initiate()
            .await
            .expect("initiate")
    };

    // State mismatch: not the response to this sign-in.
    let flow = start().await;
    let other = start().await;
    let response = env.browse(other.auth_uri()).await;
    let e = flow.complete(&app, response.as_str()).await.unwrap_err();
    assert_eq!(e.error().kind(), ErrorKind::Validation);
    assert!(e.into_flow().is_none());

    // Nonce mismatch: the ID token answers another nonce.
    let flow = start().await;
    let tampered = {
        let mut u = url::Url::parse(flow.auth_uri()).expect("URL");
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "nonce" {
                    "0".repeat(64)
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
        u.to_string()
    };
    let response = env.browse(&tampered).await;
    let e = flow.complete(&app, response.as_str()).await.unwrap_err();
    assert_eq!(e.error().kind(), ErrorKind::Validation);
    assert!(e.error().to_string().contains("nonce"));

    // max_age exceeded: the user signed in two hours ago.
    let now = app_now();
    env.emulator
        .admin()
        .set_auth_time(seeds::ALICE_USERNAME, Some(now - 7200))
        .await
        .expect("auth_time");
    let flow = app
        .auth_code_flow([USER_READ])
        .redirect_uri("http://localhost")
        .login_hint(seeds::ALICE_USERNAME)
        .max_age(Duration::from_secs(600))
        .initiate()
        .await
        .expect("initiate");
    assert!(flow.auth_uri().contains("max_age=600"));
    let response = env.browse(flow.auth_uri()).await;
    let e = flow.complete(&app, response.as_str()).await.unwrap_err();
    assert_eq!(e.error().kind(), ErrorKind::Validation);
    assert!(e.error().to_string().contains("max_age"));
    env.emulator
        .admin()
        .set_auth_time(seeds::ALICE_USERNAME, None)
        .await
        .expect("auth_time");

    // A wrong PKCE verifier: the emulator refuses the code.
    let flow = start().await;
    let response = env.browse(flow.auth_uri()).await;
    let mut json: serde_json::Value = serde_json::to_value(&flow).expect("json");
    json["code_verifier"] = serde_json::Value::String("x".repeat(43));
    let forged: AuthCodeFlow<Initiated> = serde_json::from_value(json).expect("flow");
    let e = forged.complete(&app, response.as_str()).await.unwrap_err();
    assert_eq!(e.error().kind(), ErrorKind::Service);
    assert_eq!(
        e.error().service().map(|s| s.error.as_str()),
        Some("invalid_grant")
    );
    // Nothing was cached by any of these failures.
    assert!(app.accounts().await.expect("accounts").is_empty());

    // An error from the authorization endpoint is typed.
    env.emulator
        .admin()
        .set_consent_required(seeds::ALICE_USERNAME, seeds::PUBLIC_CLIENT_ID, true)
        .await
        .expect("consent");
    let flow = start().await;
    let response = env.browse(flow.auth_uri()).await;
    let e = flow.complete(&app, response.as_str()).await.unwrap_err();
    assert!(e.error().is_interaction_required(), "{:?}", e.error());
    assert_eq!(
        e.error().service().map(|s| s.error.as_str()),
        Some("consent_required")
    );
}

fn app_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_503_during_complete_hands_the_flow_back_for_a_retry() {
    let env = Env::start().await;
    let clock = clock();
    let app = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        Some(clock.clone()),
    );
    let flow = app
        .auth_code_flow([USER_READ])
        .redirect_uri("http://localhost")
        .login_hint(seeds::ALICE_USERNAME)
        .initiate()
        .await
        .expect("initiate");
    let response = env.browse(flow.auth_uri()).await;
    env.emulator
        .admin()
        .add_fault(&FaultRule {
            matches: FaultMatch {
                path_contains: Some("/token".into()),
                ..Default::default()
            },
            status: Some(503),
            retry_after: Some("2".into()),
            body: Some("busy".into()),
            ..Default::default()
        })
        .await
        .expect("fault");
    let e = flow.complete(&app, response.as_str()).await.unwrap_err();
    assert!(e.error().is_transient());
    assert_eq!(e.error().retry_after(), Some(Duration::from_secs(2)));
    let flow = e.into_flow().expect("the flow comes back");
    // Retrying at once is refused locally (the identity provider asked to wait) and still
    // hands the flow back.
    let e = flow.complete(&app, response.as_str()).await.unwrap_err();
    assert!(e.error().is_throttled());
    let flow = e.into_flow().expect("the flow comes back again");
    clock.advance(Duration::from_secs(2));
    let done = flow
        .complete(&app, response.as_str())
        .await
        .expect("the retry works");
    assert!(done.account().is_some());
}

/// Moves the client's and the emulator's clocks forward together, a second at a time, while
/// `f` runs (device code polling waits on the client's clock).
async fn with_time_passing<T>(
    env: &Env,
    clock: &ManualClock,
    f: impl std::future::Future<Output = T>,
) -> T {
    let admin = env.emulator.admin();
    let ticker = async {
        loop {
            tokio::time::sleep(Duration::from_millis(5)).await;
            clock.advance(Duration::from_secs(1));
            let _ = admin.advance_clock(1.0).await;
        }
    };
    tokio::select! {
        out = f => out,
        () = ticker => unreachable!("the ticker never ends"),
    }
}

#[tokio::test]
async fn device_code_approved_declined_expired_and_slow_down() {
    let env = Env::start().await;
    let clock = clock();
    let app = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        Some(clock.clone()),
    );
    let admin = env.emulator.admin();

    // Approved after two forced slow_downs.
    admin
        .set_device_settings(&DeviceSettings {
            force_slow_down: Some(2),
            ..Default::default()
        })
        .await
        .expect("settings");
    let flow = app
        .device_code_flow([USER_READ])
        .initiate()
        .await
        .expect("initiate");
    assert!(flow.message().contains(flow.user_code()));
    assert_eq!(
        flow.interval(),
        Duration::from_secs(seeds::DEVICE_CODE_INTERVAL)
    );
    let user_code = flow.user_code().to_owned();
    let started = clock.now();
    let approve = async {
        // The user approves on their phone once the client polled a few times.
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let polls = env
                .token_requests()
                .await
                .iter()
                .filter(|p| {
                    p.form_value("grant_type")
                        == Some("urn:ietf:params:oauth:grant-type:device_code")
                })
                .count();
            if polls >= 3 {
                admin
                    .approve_device_code(&user_code, Some(seeds::ALICE_USERNAME))
                    .await
                    .expect("approve");
                break;
            }
        }
        std::future::pending::<()>().await;
    };
    let done = with_time_passing(&env, &clock, async {
        tokio::select! {
            d = flow.poll(&app) => d,
            () = approve => unreachable!(),
        }
    })
    .await
    .expect("signed in");
    assert!(done.account().is_some());
    let polls: Vec<_> = env
        .token_requests()
        .await
        .into_iter()
        .filter(|p| {
            p.form_value("grant_type") == Some("urn:ietf:params:oauth:grant-type:device_code")
        })
        .collect();
    // 5 s, then 10 s and 15 s after each slow_down: at least 30 s of clock went by for 4 polls.
    assert!(polls.len() >= 4, "{}", polls.len());
    assert!(clock.now().duration_since(started).expect("later") >= Duration::from_secs(30));
    let p = &polls[0];
    let names: Vec<&str> = p.form.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "client_id",
            "grant_type",
            "client_info",
            "code",
            "device_code"
        ]
    );

    // Declined.
    let flow = app
        .device_code_flow([USER_READ])
        .initiate()
        .await
        .expect("initiate");
    admin
        .deny_device_code(flow.user_code())
        .await
        .expect("deny");
    let e = with_time_passing(&env, &clock, flow.poll(&app))
        .await
        .unwrap_err();
    assert_eq!(
        e.error().service().map(|s| s.error.as_str()),
        Some("authorization_declined")
    );

    // Expired: nobody approves.
    admin
        .set_device_settings(&DeviceSettings {
            expires_in: Some(60),
            ..Default::default()
        })
        .await
        .expect("settings");
    let flow = app
        .device_code_flow([USER_READ])
        .initiate()
        .await
        .expect("initiate");
    let e = with_time_passing(&env, &clock, flow.poll(&app))
        .await
        .unwrap_err();
    assert_eq!(
        e.error().service().map(|s| s.error.as_str()),
        Some("expired_token")
    );
}

#[tokio::test]
async fn username_password_managed_wrong_and_federated() {
    let env = Env::start().await;
    let app = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::organizations(),
        None,
        None,
    );
    let r = app
        .acquire_token_by_username_password(
            seeds::ALICE_USERNAME,
            seeds::ALICE_PASSWORD,
            [USER_READ],
        )
        .await
        .expect("signed in");
    assert_eq!(
        r.account().map(|a| a.username()),
        Some(seeds::ALICE_USERNAME)
    );
    assert_eq!(
        r.account().and_then(|a| a.account_source()),
        Some("password")
    );
    let post = env.token_requests().await.pop().expect("the request");
    assert_eq!(
        post.header("x-anchormailbox"),
        Some(format!("upn:{}", seeds::ALICE_USERNAME).as_str())
    );
    let realm_calls: Vec<_> = env
        .discovery_requests()
        .await
        .into_iter()
        .filter(|g| g.path.contains("userrealm"))
        .collect();
    assert_eq!(realm_calls.len(), 1);
    assert_eq!(
        realm_calls[0].path,
        format!("/common/userrealm/{}", seeds::ALICE_USERNAME)
    );

    let e = app
        .acquire_token_by_username_password(seeds::ALICE_USERNAME, "wrong", [USER_READ])
        .await
        .unwrap_err();
    assert_eq!(e.service().map(|s| s.error.as_str()), Some("invalid_grant"));

    // A federated user signs in at the federation server (WS-Trust; see tests/ws_trust.rs).
    let frank = app
        .acquire_token_by_username_password(
            seeds::FRANK_USERNAME,
            seeds::FRANK_PASSWORD,
            [USER_READ],
        )
        .await
        .expect("a federated user signs in over WS-Trust");
    assert_eq!(
        frank.account().map(|a| a.username().to_owned()),
        Some(seeds::FRANK_USERNAME.to_owned())
    );
}

#[tokio::test]
async fn silent_refresh_after_expiry_aging_fallback_and_invalid_grant() {
    let env = Env::start().await;
    let client_id = "99999999-aaaa-4bbb-8ccc-dddddddddddd";
    env.emulator
        .admin()
        .register_app(&AppRegistration {
            client_id: client_id.into(),
            public_client: true,
            redirect_uris: vec!["http://localhost".into()],
            access_token_lifetime_secs: Some(7200),
            ..Default::default()
        })
        .await
        .expect("register");
    let clock = clock();
    let cache = TokenCache::new();
    let app = env.public_app(
        client_id,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(cache.clone()),
        Some(clock.clone()),
    );
    let first = app
        .acquire_token_by_username_password(
            seeds::ALICE_USERNAME,
            seeds::ALICE_PASSWORD,
            [USER_READ],
        )
        .await
        .expect("signed in");
    let account = first.account().expect("account").clone();
    assert!(
        first.refresh_on().is_some(),
        "a 2-hour token has refresh_on"
    );

    // Past refresh_on with the identity provider down: the still-valid token is served.
    clock.advance(Duration::from_secs(3700));
    env.emulator
        .admin()
        .advance_clock(3700.0)
        .await
        .expect("clock");
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
        .acquire_token_silent([USER_READ], &account)
        .await
        .expect("fallback");
    assert_eq!(aging.source(), TokenSource::Cache);
    assert_eq!(aging.access_token().secret(), first.access_token().secret());
    // A public client waits 60 s after a 5xx without Retry-After: until then the aging token
    // keeps being served without a request.
    let sent = env.token_requests().await.len();
    let again = app
        .acquire_token_silent([USER_READ], &account)
        .await
        .expect("fallback");
    assert_eq!(again.source(), TokenSource::Cache);
    assert_eq!(env.token_requests().await.len(), sent);
    clock.advance(Duration::from_secs(60));
    env.emulator
        .admin()
        .advance_clock(60.0)
        .await
        .expect("clock");

    // Identity provider back: the refresh token is redeemed, rotated in place.
    let rt_before = rt_secrets(&cache);
    let refreshed = app
        .acquire_token_silent([USER_READ], &account)
        .await
        .expect("refreshed");
    assert_eq!(refreshed.source(), TokenSource::IdentityProvider);
    assert_ne!(
        refreshed.access_token().secret(),
        first.access_token().secret()
    );
    let rt_after = rt_secrets(&cache);
    assert_eq!(rt_after.len(), 1, "the refresh token was updated in place");
    assert_ne!(rt_before, rt_after);
    let post = env.token_requests().await.pop().expect("the refresh");
    assert_eq!(post.form_value("grant_type"), Some("refresh_token"));
    assert_eq!(post.header("x-client-current-telemetry"), Some("4|84,4|"));
    assert_eq!(
        post.header("x-anchormailbox"),
        Some(format!("Oid:{}@{}", seeds::ALICE_OID, seeds::CONTOSO_TENANT_ID).as_str())
    );

    // After expiry with the refresh token revoked: interaction required, the token kept.
    clock.advance(Duration::from_secs(7200));
    env.emulator
        .admin()
        .advance_clock(7200.0)
        .await
        .expect("clock");
    env.emulator
        .admin()
        .revoke_refresh_tokens(seeds::ALICE_USERNAME)
        .await
        .expect("revoke");
    let e = app
        .acquire_token_silent([USER_READ], &account)
        .await
        .unwrap_err();
    assert!(e.is_interaction_required(), "{e:?}");
    assert_eq!(e.service().map(|s| s.error.as_str()), Some("invalid_grant"));
    assert_eq!(
        rt_secrets(&cache),
        rt_after,
        "the refresh token is never removed on invalid_grant"
    );

    // Force refresh and a claims challenge skip the cache.
    let other_account_app = env.public_app(
        client_id,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    );
    let r = other_account_app
        .acquire_token_by_username_password(
            seeds::ALICE_USERNAME,
            seeds::ALICE_PASSWORD,
            [USER_READ],
        )
        .await
        .expect("sign in");
    let acct = r.account().expect("account").clone();
    let forced = other_account_app
        .acquire_token_silent([USER_READ], &acct)
        .force_refresh(true)
        .await
        .expect("forced");
    assert_eq!(forced.source(), TokenSource::IdentityProvider);
}

fn rt_secrets(cache: &TokenCache) -> Vec<String> {
    let json: serde_json::Value =
        serde_json::from_str(&cache.serialize().expect("json")).expect("json");
    json["RefreshToken"]
        .as_object()
        .map(|m| {
            m.values()
                .filter_map(|e| e["secret"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_foci_sibling_signs_in_silently_and_remove_account_follows_msal() {
    let env = Env::start().await;
    let cache = TokenCache::new();
    let a = env.public_app(
        seeds::FOCI_APP_A_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(cache.clone()),
        None,
    );
    let b = env.public_app(
        seeds::FOCI_APP_B_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(cache.clone()),
        None,
    );
    let c = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(cache.clone()),
        None,
    );
    let r = a
        .acquire_token_by_username_password(
            seeds::ALICE_USERNAME,
            seeds::ALICE_PASSWORD,
            [USER_READ],
        )
        .await
        .expect("A signs in");
    let account = r.account().expect("account").clone();
    // B never signed anyone in, but it is in the family: A's refresh token works for it.
    let accounts = b.accounts().await.expect("accounts");
    assert_eq!(
        accounts,
        vec![account.clone()],
        "accounts are shared through the cache"
    );
    let rb = b
        .acquire_token_silent(["https://graph.microsoft.com/Mail.Read"], &account)
        .await
        .expect("B silently");
    assert_eq!(rb.source(), TokenSource::IdentityProvider);
    let post = env.token_requests().await.pop().expect("the refresh");
    assert_eq!(
        post.form_value("client_id"),
        Some(seeds::FOCI_APP_B_CLIENT_ID)
    );
    assert_eq!(post.form_value("grant_type"), Some("refresh_token"));
    // C (not in the family) signs the same user in on its own.
    c.acquire_token_by_username_password(seeds::ALICE_USERNAME, seeds::ALICE_PASSWORD, [USER_READ])
        .await
        .expect("C signs in");

    let before: serde_json::Value =
        serde_json::from_str(&cache.serialize().expect("json")).expect("json");
    let rts = |v: &serde_json::Value| -> Vec<String> {
        v["RefreshToken"]
            .as_object()
            .map(|m| {
                m.values()
                    .filter_map(|e| e["client_id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert!(rts(&before).contains(&seeds::PUBLIC_CLIENT_ID.to_owned()));

    // A signs the user out: A's and the family's refresh tokens go, C's stays; every access
    // token, ID token and account entry of the user goes; app metadata stays.
    a.remove_account(&account).await.expect("removed");
    let after: serde_json::Value =
        serde_json::from_str(&cache.serialize().expect("json")).expect("json");
    assert_eq!(rts(&after), vec![seeds::PUBLIC_CLIENT_ID.to_owned()]);
    assert_eq!(
        after["AccessToken"]
            .as_object()
            .map(|m| m.len())
            .unwrap_or(0),
        0
    );
    assert_eq!(
        after["IdToken"].as_object().map(|m| m.len()).unwrap_or(0),
        0
    );
    assert_eq!(
        after["Account"].as_object().map(|m| m.len()).unwrap_or(0),
        0
    );
    assert!(
        after["AppMetadata"]
            .as_object()
            .map(|m| m.len())
            .unwrap_or(0)
            >= 2
    );
    assert!(a.accounts().await.expect("accounts").is_empty());
    let e = a
        .acquire_token_silent([USER_READ], &account)
        .await
        .unwrap_err();
    assert!(e.is_interaction_required());
}

#[tokio::test]
async fn refresh_token_migration_and_input_checks() {
    let env = Env::start().await;
    let source = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    );
    let r = source
        .acquire_token_by_username_password(
            seeds::ALICE_USERNAME,
            seeds::ALICE_PASSWORD,
            [USER_READ],
        )
        .await
        .expect("signed in");
    drop(r);
    let json: serde_json::Value =
        serde_json::from_str(&source.cache().serialize().expect("json")).expect("json");
    let rt = json["RefreshToken"]
        .as_object()
        .and_then(|m| m.values().next())
        .and_then(|e| e["secret"].as_str())
        .expect("an RT")
        .to_owned();
    let target = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    );
    let migrated = target
        .acquire_token_by_refresh_token(rt, [USER_READ])
        .await
        .expect("migrated");
    let account = migrated.account().expect("an account").clone();
    let silent = target
        .acquire_token_silent([USER_READ], &account)
        .await
        .expect("silent");
    assert_eq!(silent.source(), TokenSource::Cache);
    for bad in ["openid", "offline_access"] {
        let e = target
            .acquire_token_silent([USER_READ, bad], &account)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    }
    let e = target
        .acquire_token_by_refresh_token("", [USER_READ])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn b2c_adfs_and_ciam_sign_ins() {
    let env = Env::start().await;
    // B2C: the policy is part of the home account id.
    let b2c = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::b2c(
            seeds::B2C_HOST,
            seeds::B2C_TENANT_DOMAIN,
            seeds::B2C_POLICY_SIGNUP_SIGNIN,
        ),
        None,
        None,
    );
    let flow = b2c
        .auth_code_flow([USER_READ])
        .redirect_uri("http://localhost")
        .login_hint(seeds::CAROL_USERNAME)
        .initiate()
        .await
        .expect("initiate");
    let response = env.browse(flow.auth_uri()).await;
    let done = flow
        .complete(&b2c, response.as_str())
        .await
        .expect("B2C sign-in");
    let account = done.account().expect("account");
    assert!(
        account
            .home_account_id()
            .to_ascii_lowercase()
            .contains(&seeds::B2C_POLICY_SIGNUP_SIGNIN.to_ascii_lowercase()),
        "{}",
        account.home_account_id()
    );
    assert_eq!(account.authority_type(), "MSSTS");

    // AD FS: no client_info, the subject is the home account id.
    let adfs = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::adfs(&format!("https://{}/adfs", seeds::ADFS_HOST)).expect("adfs"),
        None,
        None,
    );
    let r = adfs
        .acquire_token_by_username_password(seeds::DAVE_USERNAME, seeds::DAVE_PASSWORD, [USER_READ])
        .await
        .expect("AD FS sign-in");
    let account = r.account().expect("account");
    assert_eq!(account.authority_type(), "ADFS");
    assert_eq!(account.realm(), "adfs");
    let claims = r.id_token_claims().expect("claims");
    assert_eq!(claims["sub"].as_str(), Some(account.home_account_id()));
    let silent = adfs
        .acquire_token_silent([USER_READ], account)
        .await
        .expect("silent");
    assert_eq!(silent.source(), TokenSource::Cache);

    // CIAM.
    let ciam = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::ciam(&format!("https://{}", seeds::CIAM_HOST)).expect("ciam"),
        None,
        None,
    );
    let flow = ciam
        .auth_code_flow([USER_READ])
        .redirect_uri("http://localhost")
        .login_hint(seeds::ERIN_USERNAME)
        .initiate()
        .await
        .expect("initiate");
    let response = env.browse(flow.auth_uri()).await;
    let done = flow
        .complete(&ciam, response.as_str())
        .await
        .expect("CIAM sign-in");
    assert_eq!(
        done.account().map(|a| a.realm().to_owned()),
        Some(seeds::CIAM_TENANT_ID.to_owned())
    );
}

#[tokio::test]
async fn interaction_required_on_refresh_carries_claims_and_classification() {
    let env = Env::start().await;
    let clock = clock();
    let app = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        Some(clock.clone()),
    );
    let r = sign_in_with_code(&env, &app).await;
    let account = r.account().expect("account").clone();
    env.emulator
        .admin()
        .set_interaction_required(
            seeds::ALICE_USERNAME,
            &InteractionSetting {
                required: true,
                ..Default::default()
            },
        )
        .await
        .expect("interaction");
    clock.advance(Duration::from_secs(4000));
    env.emulator
        .admin()
        .advance_clock(4000.0)
        .await
        .expect("clock");
    let e = app
        .acquire_token_silent([USER_READ], &account)
        .await
        .unwrap_err();
    assert!(e.is_interaction_required());
    let s = e.service().expect("service error");
    assert!(s.suberror.is_some());
    assert!(
        s.classification.is_some(),
        "classification is derived from suberror"
    );
}

#[tokio::test]
async fn caches_in_other_msal_dialects_give_silent_hits() {
    // As MSAL.NET/MSAL Node write them: the realm is the tenant id (not `organizations`), keys
    // carry other suffixes, ids may be "" instead of null, and unknown fields abound.
    let env = Env::start().await;
    let hid = format!("{}.{}", seeds::ALICE_OID, seeds::CONTOSO_TENANT_ID);
    let far = app_now() + 3600;
    let foreign = serde_json::json!({
        "Account": {
            format!("{hid}-login.microsoftonline.com-{}", seeds::CONTOSO_TENANT_ID): {
                "home_account_id": hid, "environment": "login.microsoftonline.com",
                "realm": seeds::CONTOSO_TENANT_ID, "local_account_id": seeds::ALICE_OID,
                "username": seeds::ALICE_USERNAME, "authority_type": "MSSTS",
                "name": "Alice", "client_info": "eyJ1aWQiOiJ4In0"
            }
        },
        "AccessToken": {
            format!("{hid}-login.microsoftonline.com-accesstoken-{}-{}-user.read--bearer", seeds::PUBLIC_CLIENT_ID, seeds::CONTOSO_TENANT_ID): {
                "credential_type": "AccessToken", "secret": "foreign-access-token",
                "home_account_id": hid, "environment": "login.microsoftonline.com",
                "client_id": seeds::PUBLIC_CLIENT_ID, "realm": seeds::CONTOSO_TENANT_ID,
                "target": "https://graph.microsoft.com/User.Read profile openid email",
                "cached_at": app_now(), "expires_on": far, "extended_expires_on": far,
                "token_type": "Bearer", "last_modification_time": "0"
            }
        },
        "AppMetadata": {}
    });
    let cache = TokenCache::new();
    cache.deserialize(&foreign.to_string()).expect("loads");
    let app = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::organizations(),
        Some(cache),
        None,
    );
    let accounts = app.accounts().await.expect("accounts");
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].username(), seeds::ALICE_USERNAME);
    let r = app
        .acquire_token_silent([USER_READ], &accounts[0])
        .await
        .expect("silent");
    assert_eq!(r.source(), TokenSource::Cache);
    assert_eq!(r.access_token().secret(), "foreign-access-token");
    assert_eq!(env.token_requests().await.len(), 0);
}
