//! The user-flow methods both app kinds offer (generated once for each by a macro, so they
//! cannot drift apart): auth code, silent acquisition, accounts and sign-out, refresh-token
//! migration, username/password.

use crate::cache::PartitionKey;
use crate::clock::unix_seconds;
use crate::error::Result;
use crate::result::Account;

use super::core::AppRef;

/// The accounts an app sees: those of its authority's environment (or its aliases).
pub(crate) async fn accounts(app: AppRef<'_>) -> Result<Vec<Account>> {
    let core = app.core;
    if !core.cache.is_partitioned()
        && let Err(e) = core.cache.refresh(&PartitionKey::whole()).await
    {
        tracing::warn!(error = %e, "the token cache store failed; listing accounts from memory");
    }
    let envs = environments(app);
    let mine = core
        .cache
        .accounts_in(Some(&envs), core.cloud_shell.is_some());
    Ok(mine)
}

/// The accounts an app sees whose username is `username`, compared as msal/application.py
/// `get_accounts(username=...)` does: both sides lowercased (Unicode, as Python's
/// `str.lower()`), then equal.
pub(crate) async fn accounts_by_username(app: AppRef<'_>, username: &str) -> Result<Vec<Account>> {
    let wanted = username.to_lowercase();
    let mut all = accounts(app).await?;
    all.retain(|a| a.username().to_lowercase() == wanted);
    if all.is_empty() {
        // msal/application.py logs the same hint: tokens acquired without the `profile` scope
        // leave accounts without a username.
        tracing::debug!(
            "no account has this username; accounts from tokens acquired without the `profile` scope have none, list them all with accounts()"
        );
    }
    Ok(all)
}

/// The configured host and its known aliases.
fn environments(app: AppRef<'_>) -> Vec<String> {
    let core = app.core;
    match core.cached_metadata(&core.authority) {
        Some(m) => m.aliases.clone(),
        None => crate::authority::known_aliases(core.authority.host())
            .map(|a| a.iter().map(|s| (*s).to_owned()).collect())
            .unwrap_or_else(|| vec![core.authority.host().to_owned()]),
    }
}

/// One account by home account id, loading its partition from the store first.
pub(crate) async fn account(app: AppRef<'_>, home_account_id: &str) -> Result<Option<Account>> {
    let envs = environments(app);
    Ok(app
        .core
        .cache
        .account(home_account_id)
        .await?
        .filter(|a| envs.iter().any(|e| e.eq_ignore_ascii_case(a.environment()))))
}

/// Signs `account` out of this app (msal/application.py `remove_account`): its refresh tokens of this app and its
/// family, all its access tokens, its ID tokens and account entries.
pub(crate) async fn remove_account(app: AppRef<'_>, account: &Account) -> Result<()> {
    let core = app.core;
    let partition = core
        .cache
        .route(|| PartitionKey::user(account.home_account_id()));
    let family = core
        .cache
        .app_metadata(&partition, account.environment(), &core.client_id)
        .and_then(|m| m.family_id.clone())
        .filter(|f| !f.is_empty());
    core.cache
        .remove_account_at(
            account,
            Some((core.client_id.clone(), family)),
            unix_seconds(core.now()),
        )
        .await
}

/// Generates the user-flow methods on an app type that implements `Sealed`.
macro_rules! user_flow_methods {
    ($app:ty) => {
        impl $app {
            /// Starts an authorization code flow with PKCE: set its options, `initiate()` it,
            /// send the user to [`auth_uri`](crate::AuthCodeFlow::auth_uri), then
            /// [`complete`](crate::AuthCodeFlow::complete) it with what comes back.
            pub fn auth_code_flow(
                &self,
                scopes: impl $crate::IntoScopes,
            ) -> $crate::flow::auth_code::AuthCodeFlowBuilder<'_> {
                use $crate::app::core::sealed::Sealed as _;
                $crate::flow::auth_code::AuthCodeFlowBuilder::new(
                    self.app_ref(),
                    scopes.into_scopes(),
                )
            }

            /// Redeems an authorization code the app obtained with its own authorization URL
            /// (MSAL Python's `acquire_token_by_authorization_code`). Pass the same
            /// [`redirect_uri`](crate::flow::auth_code::AcquireTokenByAuthorizationCode::redirect_uri),
            /// the PKCE verifier whose S256 challenge the URL carried and the nonce whose SHA-256
            /// hex it carried; the ID token's nonce is then checked before anything is cached.
            /// Prefer [`auth_code_flow`](Self::auth_code_flow), which does all of that for you.
            pub fn acquire_token_by_authorization_code(
                &self,
                code: impl Into<String>,
                scopes: impl $crate::IntoScopes,
            ) -> $crate::flow::auth_code::AcquireTokenByAuthorizationCode<'_> {
                use $crate::app::core::sealed::Sealed as _;
                $crate::flow::auth_code::AcquireTokenByAuthorizationCode::new(
                    self.app_ref(),
                    code.into(),
                    scopes.into_scopes(),
                )
            }

            /// A token for `account` without user interaction: from the cache when valid for
            /// five more minutes, else by redeeming a cached refresh token (FOCI-aware).
            /// Fails with [`is_interaction_required`](crate::Error::is_interaction_required)
            /// when the user must sign in again.
            ///
            /// As MSAL Python's `acquire_token_silent(..., claims_challenge=...)`,
            /// `.claims(challenge)` skips the cached access token and redeems the refresh
            /// token with the challenge (merged with the app's client capabilities);
            /// `.tenant(t)` gets a token of another tenant of the same cloud (a guest's, say)
            /// with the account's refresh token, cached under that tenant.
            pub fn acquire_token_silent(
                &self,
                scopes: impl $crate::IntoScopes,
                account: &$crate::Account,
            ) -> $crate::flow::silent::AcquireTokenSilent<'_> {
                use $crate::app::core::sealed::Sealed as _;
                $crate::flow::silent::AcquireTokenSilent::new(
                    self.app_ref(),
                    scopes.into_scopes(),
                    account,
                )
            }

            /// Redeems a refresh token obtained elsewhere (migration into the cache).
            pub fn acquire_token_by_refresh_token(
                &self,
                refresh_token: impl Into<String>,
                scopes: impl $crate::IntoScopes,
            ) -> $crate::flow::refresh_token::AcquireTokenByRefreshToken<'_> {
                use $crate::app::core::sealed::Sealed as _;
                $crate::flow::refresh_token::AcquireTokenByRefreshToken::new(
                    self.app_ref(),
                    refresh_token.into(),
                    scopes.into_scopes(),
                )
            }

            /// Signs a user in with their username and password (managed accounts only; not
            /// recommended: no MFA, no consent).
            pub fn acquire_token_by_username_password(
                &self,
                username: impl Into<String>,
                password: impl Into<String>,
                scopes: impl $crate::IntoScopes,
            ) -> $crate::flow::password::AcquireTokenByUsernamePassword<'_> {
                use $crate::app::core::sealed::Sealed as _;
                $crate::flow::password::AcquireTokenByUsernamePassword::new(
                    self.app_ref(),
                    username.into(),
                    password.into(),
                    scopes.into_scopes(),
                )
            }

            /// The signed-in accounts of this app's cloud (for a partitioned store, those whose
            /// partitions this process loaded; use [`account`](Self::account) to find one).
            pub async fn accounts(&self) -> $crate::Result<Vec<$crate::Account>> {
                use $crate::app::core::sealed::Sealed as _;
                $crate::app::user_methods::accounts(self.app_ref()).await
            }

            /// The signed-in accounts of this app's cloud whose username is `username`, compared
            /// case-insensitively as MSAL Python's `get_accounts(username=...)` (both sides
            /// lowercased, Unicode-aware). Empty when none matches, including for accounts of
            /// tokens acquired without the `profile` scope, which carry no username.
            ///
            /// ```no_run
            /// # async fn f(app: msal_core::PublicClient) -> msal_core::Result<()> {
            /// if let Some(account) = app.accounts_by_username("Alice@Contoso.com").await?.first() {
            ///     let token = app.acquire_token_silent(["User.Read"], account).await?;
            /// #   let _ = token;
            /// }
            /// # Ok(()) }
            /// ```
            pub async fn accounts_by_username(
                &self,
                username: &str,
            ) -> $crate::Result<Vec<$crate::Account>> {
                use $crate::app::core::sealed::Sealed as _;
                $crate::app::user_methods::accounts_by_username(self.app_ref(), username).await
            }

            /// The account with this home account id (`uid.utid`), looked up in the store.
            pub async fn account(
                &self,
                home_account_id: &str,
            ) -> $crate::Result<Option<$crate::Account>> {
                use $crate::app::core::sealed::Sealed as _;
                $crate::app::user_methods::account(self.app_ref(), home_account_id).await
            }

            /// Signs `account` out of this app: its refresh tokens (this app's and its
            /// family's), access tokens, ID tokens and account entries leave the cache, and
            /// stay out even if another writer held an older copy.
            pub async fn remove_account(&self, account: &$crate::Account) -> $crate::Result<()> {
                use $crate::app::core::sealed::Sealed as _;
                $crate::app::user_methods::remove_account(self.app_ref(), account).await
            }
        }
    };
}
user_flow_methods!(crate::PublicClient);
user_flow_methods!(crate::ConfidentialClient);
