//! On-behalf-of through the public API against the emulator: the wire request, the account it
//! yields, the cache read first and partitioned by the incoming assertion, served only while
//! that assertion is unexpired.

mod support;

use std::time::Duration;

use msal_core::{
    Authority, ClientCredential, ConfidentialClient, ErrorKind, TokenCache, TokenSource,
};
use msal_tests::emulator::{UserTokenRequest, seeds};
use support::{Env, clock};

const USER_READ: &str = "https://graph.microsoft.com/User.Read";

async fn user_token(env: &Env, username: &str, tenant: &str, lifetime: Option<u64>) -> String {
    env.emulator
        .admin()
        .mint_user_token(&UserTokenRequest {
            tenant: tenant.into(),
            username: username.into(),
            audience: seeds::MIDDLE_TIER_CLIENT_ID.into(),
            scopes: vec!["access_as_user".into()],
            lifetime_secs: lifetime,
            client_id: None,
        })
        .await
        .expect("mint")
        .access_token
}

fn api(
    env: &Env,
    credential: ClientCredential,
    cache: &TokenCache,
    clock: Option<msal_core::clock::ManualClock>,
) -> ConfidentialClient {
    env.app(
        seeds::MIDDLE_TIER_CLIENT_ID,
        credential,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(cache.clone()),
        clock,
    )
}

#[tokio::test]
async fn obo_wire_account_and_cache_partitioned_by_assertion() {
    let env = Env::start().await;
    let cache = TokenCache::new();
    let app = api(
        &env,
        ClientCredential::secret(seeds::MIDDLE_TIER_SECRET),
        &cache,
        None,
    );
    let alice = user_token(&env, seeds::ALICE_USERNAME, seeds::CONTOSO_DOMAIN, None).await;

    let r = app
        .acquire_token_on_behalf_of(&alice, [USER_READ])
        .await
        .expect("obo");
    assert_eq!(r.source(), TokenSource::IdentityProvider);
    let account = r.account().expect("an account from client_info");
    assert_eq!(
        account.home_account_id(),
        format!("{}.{}", seeds::ALICE_OID, seeds::CONTOSO_TENANT_ID)
    );
    assert_eq!(account.username(), seeds::ALICE_USERNAME);
    assert_eq!(account.local_account_id(), seeds::ALICE_OID);
    let claims = r.id_token_claims().expect("id token claims");
    assert_eq!(claims["oid"], seeds::ALICE_OID);

    let posts = env.token_requests().await;
    let form: Vec<&str> = posts[0].form.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        form,
        [
            "client_id",
            "grant_type",
            "client_info",
            "client_secret",
            "requested_token_use",
            "scope",
            "assertion"
        ]
    );
    assert_eq!(
        posts[0].form_value("grant_type"),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    );
    assert_eq!(
        posts[0].form_value("requested_token_use"),
        Some("on_behalf_of")
    );
    assert_eq!(
        posts[0].form_value("scope"),
        Some("https://graph.microsoft.com/User.Read offline_access openid profile")
    );
    assert_eq!(posts[0].form_value("assertion"), Some(alice.as_str()));
    assert_eq!(
        posts[0].header("x-client-current-telemetry"),
        Some("4|523,0|")
    );

    // The same caller again: from the cache, no request.
    let again = app
        .acquire_token_on_behalf_of(&alice, [USER_READ])
        .await
        .expect("hit");
    assert_eq!(again.source(), TokenSource::Cache);
    assert_eq!(again.access_token().secret(), r.access_token().secret());
    // A subset of the granted scopes, in another case: still a hit.
    let lower = app
        .acquire_token_on_behalf_of(&alice, ["https://graph.microsoft.com/user.read"])
        .await
        .expect("hit");
    assert_eq!(lower.source(), TokenSource::Cache);
    // Another caller (another assertion) never gets alice's token.
    let bob = user_token(&env, seeds::BOB_USERNAME, seeds::FABRIKAM_DOMAIN, None).await;
    let b = app
        .acquire_token_on_behalf_of(&bob, [USER_READ])
        .await
        .expect("obo");
    assert_eq!(b.source(), TokenSource::IdentityProvider);
    assert_ne!(b.access_token().secret(), r.access_token().secret());
    // A fresh token for alice (a new assertion) is a new partition too.
    let alice2 = user_token(
        &env,
        seeds::ALICE_USERNAME,
        seeds::CONTOSO_DOMAIN,
        Some(3000),
    )
    .await;
    assert_ne!(alice2, alice);
    let a2 = app
        .acquire_token_on_behalf_of(&alice2, [USER_READ])
        .await
        .expect("obo");
    assert_eq!(a2.source(), TokenSource::IdentityProvider);
    assert_eq!(env.token_requests().await.len(), 3);

    // The cache holds the user's entities in MSAL's schema, marked with the assertion hash.
    let json = cache.serialize().expect("serialize");
    for section in [
        "AccessToken",
        "RefreshToken",
        "IdToken",
        "Account",
        "AppMetadata",
    ] {
        assert!(
            json.contains(&format!("\"{section}\"")),
            "{section} missing"
        );
    }
    assert!(json.contains("\"user_assertion_hash\""));
}

#[tokio::test]
async fn cached_obo_tokens_are_not_served_once_the_incoming_assertion_expired() {
    let env = Env::start().await;
    let cache = TokenCache::new();
    let clock = clock();
    let app = api(
        &env,
        ClientCredential::secret(seeds::MIDDLE_TIER_SECRET),
        &cache,
        Some(clock.clone()),
    );
    let short = user_token(
        &env,
        seeds::ALICE_USERNAME,
        seeds::CONTOSO_DOMAIN,
        Some(600),
    )
    .await;
    app.acquire_token_on_behalf_of(&short, [USER_READ])
        .await
        .expect("obo");
    assert_eq!(
        app.acquire_token_on_behalf_of(&short, [USER_READ])
            .await
            .expect("hit")
            .source(),
        TokenSource::Cache
    );
    // The downstream token is good for an hour, but the caller's assertion ends in 10 minutes.
    clock.advance(Duration::from_secs(601));
    env.emulator
        .admin()
        .advance_clock(601.0)
        .await
        .expect("clock");
    let e = app
        .acquire_token_on_behalf_of(&short, [USER_READ])
        .await
        .unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::Service,
        "the expired assertion went to the IdP, which refused it"
    );
    assert!(e.is_interaction_required(), "{e:?}");
    assert_eq!(env.token_requests().await.len(), 2);
}

#[tokio::test]
async fn obo_with_a_certificate_credential_and_input_checks() {
    let env = Env::start().await;
    let cache = TokenCache::new();
    let app = api(&env, Env::cert_credential(), &cache, None);
    let alice = user_token(&env, seeds::ALICE_USERNAME, seeds::CONTOSO_DOMAIN, None).await;
    let r = app
        .acquire_token_on_behalf_of(&alice, [USER_READ])
        .await
        .expect("obo");
    assert_eq!(r.source(), TokenSource::IdentityProvider);
    let posts = env.token_requests().await;
    assert!(posts[0].form_value("client_assertion").is_some());
    assert!(posts[0].form_value("client_secret").is_none());

    for reserved in ["openid", "offline_access", "PROFILE"] {
        let e = app
            .acquire_token_on_behalf_of(&alice, [USER_READ, reserved])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{reserved}");
    }
    let e = app
        .acquire_token_on_behalf_of("  ", [USER_READ])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    // A token the emulator did not issue is refused by the identity provider.
    let e = app
        .acquire_token_on_behalf_of("eyJhbGciOiJub25lIn0.eyJleHAiOjR9.", [USER_READ])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Service);
    assert_eq!(env.token_requests().await.len(), 2);
}
