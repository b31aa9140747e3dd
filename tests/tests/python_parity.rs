//! Papercuts of a port from MSAL Python, through the public API against the emulator: accounts
//! filtered by username, the raw ID token on the result, the `Prompt` type, `exclude_scopes`,
//! silent acquisition with a claims challenge or a tenant override, and redeeming an
//! authorization code without a flow object.

mod support;

use msal_core::{Authority, TokenSource};
use msal_tests::emulator::{UserRegistration, seeds};
use support::Env;

const USER_READ: &str = "https://graph.microsoft.com/User.Read";

/// `get_accounts(username=...)`: case-insensitive (both sides lowercased, as msal/application.py
/// does, Unicode included), on both app kinds, empty for an unknown name.
#[tokio::test]
async fn accounts_by_username_is_case_insensitive_on_both_app_kinds() {
    let env = Env::start().await;
    // A mixed-case, non-ASCII user principal name, as federated accounts can have.
    const EMILE: &str = "Émile.Zola@Contoso.OnMicrosoft.com";
    env.emulator
        .admin()
        .add_user(&UserRegistration {
            tenant: seeds::CONTOSO_DOMAIN.into(),
            username: EMILE.into(),
            ..Default::default()
        })
        .await
        .expect("admin: add user");
    let cache = msal_core::TokenCache::new();
    let public = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(cache.clone()),
        None,
    );
    for (user, password) in [
        (seeds::ALICE_USERNAME, seeds::ALICE_PASSWORD),
        (EMILE, seeds::DEFAULT_USER_PASSWORD),
    ] {
        public
            .acquire_token_by_username_password(user, password, [USER_READ])
            .await
            .expect("signed in");
    }
    assert_eq!(public.accounts().await.expect("accounts").len(), 2);

    let alice = public
        .accounts_by_username("ALICE@contoso.ONMICROSOFT.com")
        .await
        .expect("accounts");
    assert_eq!(alice.len(), 1);
    assert_eq!(alice[0].username(), seeds::ALICE_USERNAME);

    let emile = public
        .accounts_by_username("émile.zola@contoso.onmicrosoft.com")
        .await
        .expect("accounts");
    assert_eq!(emile.len(), 1, "É and é are the same letter, lowercased");
    assert_eq!(
        emile[0].username(),
        EMILE,
        "the account keeps its own casing"
    );
    let silent = public
        .acquire_token_silent([USER_READ], &emile[0])
        .await
        .expect("silent");
    assert_eq!(silent.source(), TokenSource::Cache);
    assert_eq!(
        silent.account().map(|a| a.username()),
        Some(EMILE),
        "the filtered account is the one signed in"
    );

    assert!(
        public
            .accounts_by_username("mallory@contoso.onmicrosoft.com")
            .await
            .expect("accounts")
            .is_empty()
    );
    assert!(
        public
            .accounts_by_username("alice")
            .await
            .expect("accounts")
            .is_empty(),
        "the whole name is compared, not a prefix"
    );

    // A web app reading the same cache sees the same accounts.
    let web = env.app(
        seeds::WEB_APP_CLIENT_ID,
        msal_core::ClientCredential::secret(seeds::WEB_APP_SECRET),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(cache),
        None,
    );
    let found = web
        .accounts_by_username(&seeds::ALICE_USERNAME.to_uppercase())
        .await
        .expect("accounts");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0], alice[0]);
}
