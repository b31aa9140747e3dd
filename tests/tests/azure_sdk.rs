//! msal-rs clients as Azure SDK credentials (msal-core feature `azure`): through
//! `azure_core::credentials::TokenCredential`, against the emulator, as an SDK client calls
//! them.

mod support;

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use msal_core::azure::{AppCredential, ManagedIdentityCredential, UserCredential};
use msal_core::managed_identity::{
    ManagedIdentity, ManagedIdentityClient, ManagedIdentityEnvironment,
};
use msal_core::{Authority, ClientCredential};
use msal_tests::emulator::model::ManagedIdentitySource as EmuSource;
use msal_tests::emulator::seeds;
use support::{Env, GRAPH_DEFAULT};

const VAULT_SCOPE: &str = "https://vault.azure.net/.default";

/// The msal-rs error an azure_core error carries.
fn msal_error(e: &azure_core::Error) -> &msal_core::Error {
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<msal_core::Error>())
        .or_else(|| {
            e.get_ref()
                .and_then(|r| r.downcast_ref::<msal_core::Error>())
        })
        .expect("the msal-rs error is the source")
}

#[tokio::test]
async fn a_managed_identity_serves_the_sdk_from_its_cache() {
    let env = Env::start().await;
    let endpoints = env.emulator.managed_identity().clone();
    let mi = ManagedIdentityClient::builder(ManagedIdentity::SystemAssigned)
        .environment(ManagedIdentityEnvironment::from_vars(
            endpoints.env("app_service"),
        ))
        .http_client(Arc::clone(&env.transport))
        .build()
        .expect("builds");
    let credential: Arc<dyn TokenCredential> = Arc::new(ManagedIdentityCredential::new(mi));
    let mut tokens = Vec::new();
    for _ in 0..100 {
        let t = credential
            .get_token(&[VAULT_SCOPE], None)
            .await
            .expect("a token");
        tokens.push(t);
    }
    assert!(
        tokens
            .iter()
            .all(|t| t.token.secret() == tokens[0].token.secret())
    );
    let now = azure_core::time::OffsetDateTime::now_utc();
    assert!(tokens[0].expires_on > now + azure_core::time::Duration::hours(1));
    let sent = env
        .emulator
        .admin()
        .managed_identity_requests(EmuSource::AppService)
        .await
        .expect("requests")
        .len();
    assert_eq!(sent, 1, "100 SDK calls, one token request");
}

#[tokio::test]
async fn an_apps_token_and_its_errors_reach_the_sdk() {
    let env = Env::start().await;
    let credential = AppCredential::new(env.secret_app());
    let a = credential
        .get_token(&[GRAPH_DEFAULT], None)
        .await
        .expect("a token");
    let b = credential
        .get_token(&[GRAPH_DEFAULT], None)
        .await
        .expect("again");
    assert_eq!(a.token.secret(), b.token.secret());
    assert_eq!(env.token_requests().await.len(), 1);
    // A wrong secret: an azure_core Credential error with the msal-rs error as its source.
    let wrong = AppCredential::new(env.app(
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret("not-the-secret"),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    ));
    let e = wrong
        .get_token(&[GRAPH_DEFAULT], None)
        .await
        .expect_err("wrong secret");
    assert_eq!(*e.kind(), azure_core::error::ErrorKind::Credential);
    assert!(msal_error(&e).is_invalid_client(), "{e}");
    assert!(!format!("{e:?}").contains("not-the-secret"));
}

#[tokio::test]
async fn a_signed_in_user_until_sign_out_then_interaction_required() {
    let env = Env::start().await;
    let app = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    );
    let signed_in = app
        .acquire_token_by_username_password(
            seeds::ALICE_USERNAME,
            seeds::ALICE_PASSWORD,
            ["https://graph.microsoft.com/User.Read"],
        )
        .await
        .expect("signed in");
    let account = signed_in.account().expect("an account").clone();
    let credential = UserCredential::public(app.clone(), account.clone());
    let t = credential
        .get_token(&["https://graph.microsoft.com/User.Read"], None)
        .await
        .expect("from the cache");
    assert_eq!(t.token.secret(), signed_in.access_token().secret());
    // Another scope: the refresh token, silently.
    credential
        .get_token(&["https://graph.microsoft.com/Mail.Read"], None)
        .await
        .expect("silently, with the refresh token");
    app.remove_account(&account).await.expect("signed out");
    let e = credential
        .get_token(&["https://graph.microsoft.com/User.Read"], None)
        .await
        .expect_err("signed out");
    assert!(e.to_string().contains("interaction required"), "{e}");
    assert!(msal_error(&e).is_interaction_required());
}
