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

/// The raw ID token (`result["id_token"]` in MSAL Python), for `id_token_hint` at sign-out: the
/// very JWT the identity provider sent and the cache keeps, whose payload is
/// `id_token_claims`; never in `Debug`; absent from cache hits and app tokens.
#[tokio::test]
async fn the_raw_id_token_is_on_the_result_and_never_printed() {
    use base64::Engine as _;
    let env = Env::start().await;
    let web = env.app(
        seeds::WEB_APP_CLIENT_ID,
        msal_core::ClientCredential::secret(seeds::WEB_APP_SECRET),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    );
    let flow = web
        .auth_code_flow([USER_READ])
        .redirect_uri(seeds::WEB_APP_REDIRECT_URI)
        .login_hint(seeds::ALICE_USERNAME)
        .initiate()
        .await
        .expect("initiate");
    let response = env.browse(flow.auth_uri()).await;
    let r = flow
        .complete(&web, response.as_str())
        .await
        .expect("complete")
        .into_result();
    let id_token = r.id_token().expect("an ID token").clone();
    let jwt = id_token.as_str();
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWT");
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts[1])
        .expect("base64url");
    let claims: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&payload).expect("a JSON payload");
    assert_eq!(Some(&claims), r.id_token_claims());
    assert_eq!(claims["preferred_username"], seeds::ALICE_USERNAME);

    // The token endpoint's own ID token, as the cache keeps it.
    let cached: serde_json::Value =
        serde_json::from_str(&web.cache().serialize().expect("json")).expect("json");
    let cached_id_tokens: Vec<&str> = cached["IdToken"]
        .as_object()
        .expect("an IdToken section")
        .values()
        .filter_map(|e| e["secret"].as_str())
        .collect();
    assert_eq!(cached_id_tokens, [jwt]);

    for printed in [
        format!("{r:?}"),
        format!("{id_token:?}"),
        format!("{:?}", r.id_token()),
    ] {
        assert!(!printed.contains(parts[1]), "{printed}");
        assert!(!printed.contains(parts[2]), "{printed}");
    }
    assert_eq!(format!("{id_token:?}"), "IdToken(<redacted>)");

    // A cache hit has none (as MSAL Python's cache hits); a refresh brings a new one.
    let account = r.account().expect("an account").clone();
    let hit = web
        .acquire_token_silent([USER_READ], &account)
        .await
        .expect("silent");
    assert_eq!(hit.source(), TokenSource::Cache);
    assert!(hit.id_token().is_none());
    let refreshed = web
        .acquire_token_silent([USER_READ], &account)
        .force_refresh(true)
        .await
        .expect("refresh");
    assert_eq!(refreshed.source(), TokenSource::IdentityProvider);
    let again = refreshed.id_token().expect("the refresh's ID token");
    assert_eq!(
        refreshed
            .id_token_claims()
            .and_then(|c| c.get("oid"))
            .and_then(|v| v.as_str()),
        Some(seeds::ALICE_OID)
    );
    assert_eq!(again.as_str().split('.').count(), 3);

    // An app token has none.
    let app_token = env
        .secret_app()
        .acquire_token_for_client("https://graph.microsoft.com/.default")
        .await
        .expect("client credentials");
    assert!(app_token.id_token().is_none());
    assert!(app_token.id_token_claims().is_none());
}

/// The `prompt` value of an auth code flow's URL.
fn prompt_of(auth_uri: &str) -> Option<String> {
    url::Url::parse(auth_uri)
        .expect("a URL")
        .query_pairs()
        .find(|(k, _)| k == "prompt")
        .map(|(_, v)| v.into_owned())
}

/// `Prompt` on the auth code flow: each value goes on the wire as MSAL Python's string would,
/// and the emulated sign-in page obeys it (`none` needs a session; an unknown value is sent
/// verbatim, and refused as Entra ID refuses it).
#[tokio::test]
async fn prompt_values_go_on_the_wire_and_the_sign_in_page_obeys() {
    use msal_core::Prompt;
    let env = Env::start().await;
    let app = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    );
    let initiate = |prompt: Prompt| {
        app.auth_code_flow([USER_READ])
            .redirect_uri("http://localhost")
            .login_hint(seeds::ALICE_USERNAME)
            .prompt(prompt)
            .initiate()
    };
    for (prompt, wire) in [
        (Prompt::None, "none"),
        (Prompt::Login, "login"),
        (Prompt::Consent, "consent"),
        (Prompt::SelectAccount, "select_account"),
        (Prompt::Create, "create"),
        (
            Prompt::Other("some_future_value".into()),
            "some_future_value",
        ),
    ] {
        assert_eq!(prompt.as_str(), wire);
        assert_eq!(prompt.to_string(), wire);
        let Ok(parsed) = wire.parse::<Prompt>();
        assert_eq!(parsed, prompt, "{wire} parses to its variant");
        let flow = initiate(prompt).await.expect("initiate");
        assert_eq!(prompt_of(flow.auth_uri()).as_deref(), Some(wire));
    }
    let plain = app
        .auth_code_flow([USER_READ])
        .redirect_uri("http://localhost")
        .initiate()
        .await
        .expect("initiate");
    assert_eq!(prompt_of(plain.auth_uri()), None, "no prompt unless asked");

    // `none` with no session: the sign-in page answers login_required.
    let flow = initiate(Prompt::None).await.expect("initiate");
    let response = env.browse(flow.auth_uri()).await;
    let e = flow
        .complete(&app, response.as_str())
        .await
        .expect_err("no session yet");
    assert_eq!(
        e.error().service().map(|s| s.error.as_str()),
        Some("login_required"),
        "{}",
        e.error()
    );

    // A sign-in showing the account picker leaves a session; `none` then succeeds silently.
    let flow = initiate(Prompt::SelectAccount).await.expect("initiate");
    let response = env.browse(flow.auth_uri()).await;
    flow.complete(&app, response.as_str())
        .await
        .expect("signed in");
    let flow = initiate(Prompt::None).await.expect("initiate");
    let response = env.browse(flow.auth_uri()).await;
    let r = flow
        .complete(&app, response.as_str())
        .await
        .expect("a session now")
        .into_result();
    assert_eq!(
        r.account().map(|a| a.username()),
        Some(seeds::ALICE_USERNAME)
    );

    // An unknown value reaches the identity provider verbatim (which refuses it).
    let flow = initiate(Prompt::Other("some_future_value".into()))
        .await
        .expect("initiate");
    let response = env.browse(flow.auth_uri()).await;
    let e = flow
        .complete(&app, response.as_str())
        .await
        .expect_err("refused");
    assert!(
        e.error().to_string().contains("some_future_value"),
        "{}",
        e.error()
    );
}

/// `Prompt` on the interactive flow: the URL the browser gets carries it, and the sign-in
/// completes through the loopback listener (the test plays the browser from `on_auth_uri`).
#[tokio::test]
async fn interactive_prompt_reaches_the_sign_in_page() {
    use msal_core::Prompt;
    let env = std::sync::Arc::new(Env::start().await);
    let app = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    );
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    let tx = std::sync::Mutex::new(Some(tx));
    let browser = {
        let env = std::sync::Arc::clone(&env);
        tokio::spawn(async move {
            let uri = rx.await.expect("the sign-in URL");
            let query: std::collections::HashMap<String, String> = url::Url::parse(&uri)
                .expect("a URL")
                .query_pairs()
                .into_owned()
                .collect();
            let form = env.browse(&uri).await;
            let redirect = query["redirect_uri"].clone();
            let status = reqwest::Client::new()
                .post(&redirect)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form)
                .send()
                .await
                .expect("the loopback listener answers")
                .status();
            (query, status)
        })
    };
    let r = app
        .acquire_token_interactive([USER_READ])
        .prompt(Prompt::Login)
        .login_hint(seeds::ALICE_USERNAME)
        .open_browser(false)
        .on_auth_uri(move |uri| {
            if let Some(tx) = tx.lock().expect("lock").take() {
                let _ = tx.send(uri.to_owned());
            }
        })
        .await
        .expect("signed in");
    let (query, status) = browser.await.expect("the browser task");
    assert!(status.is_success(), "{status}");
    assert_eq!(query["prompt"], "login");
    assert_eq!(query["response_mode"], "form_post");
    assert_eq!(
        r.account().map(|a| a.username()),
        Some(seeds::ALICE_USERNAME)
    );
}

/// The `scope` a recorded token request sent.
fn sent_scope(r: &msal_tests::emulator::RecordedRequest) -> String {
    r.form
        .iter()
        .find(|(k, _)| k == "scope")
        .map(|(_, v)| v.clone())
        .expect("a scope field")
}

/// `exclude_scopes` (msal/application.py `_decorate_scope`): the excluded scopes leave the
/// authorization URL and every token request; without `offline_access` no refresh token is
/// issued or cached; `openid` cannot be excluded.
#[tokio::test]
async fn exclude_scopes_takes_scopes_out_of_what_is_sent() {
    let env = Env::start().await;
    let app = msal_core::PublicClient::builder(seeds::PUBLIC_CLIENT_ID)
        .authority(Authority::tenant(seeds::CONTOSO_DOMAIN))
        .http_client(std::sync::Arc::clone(&env.transport))
        .exclude_scopes(["offline_access"])
        .build()
        .expect("the app builds");
    let flow = app
        .auth_code_flow([USER_READ])
        .redirect_uri("http://localhost")
        .login_hint(seeds::ALICE_USERNAME)
        .extra_scopes_to_consent(["https://graph.microsoft.com/Mail.Read"])
        .initiate()
        .await
        .expect("initiate");
    let scope = url::Url::parse(flow.auth_uri())
        .expect("a URL")
        .query_pairs()
        .find(|(k, _)| k == "scope")
        .map(|(_, v)| v.into_owned())
        .expect("a scope");
    assert_eq!(
        scope,
        "https://graph.microsoft.com/Mail.Read https://graph.microsoft.com/User.Read openid profile"
    );
    let response = env.browse(flow.auth_uri()).await;
    let r = flow
        .complete(&app, response.as_str())
        .await
        .expect("complete")
        .into_result();
    let post = env.token_requests().await.pop().expect("the redemption");
    assert_eq!(sent_scope(&post), format!("{USER_READ} openid profile"));
    let cache: serde_json::Value =
        serde_json::from_str(&app.cache().serialize().expect("json")).expect("json");
    assert!(
        cache["RefreshToken"]
            .as_object()
            .is_none_or(serde_json::Map::is_empty),
        "no offline_access, no refresh token: {cache}"
    );
    assert!(
        cache["AccessToken"]
            .as_object()
            .is_some_and(|m| m.len() == 1)
    );
    // Without a refresh token a forced refresh needs the user again.
    let account = r.account().expect("an account").clone();
    let e = app
        .acquire_token_silent([USER_READ], &account)
        .force_refresh(true)
        .await
        .expect_err("nothing to refresh with");
    assert!(e.is_interaction_required(), "{e}");

    // Any scope can be excluded, the caller's own too, compared exactly as Python's sets.
    let app = msal_core::PublicClient::builder(seeds::PUBLIC_CLIENT_ID)
        .authority(Authority::tenant(seeds::CONTOSO_DOMAIN))
        .http_client(std::sync::Arc::clone(&env.transport))
        .exclude_scopes(["profile", "OFFLINE_ACCESS"])
        .build()
        .expect("the app builds");
    app.acquire_token_by_username_password(
        seeds::ALICE_USERNAME,
        seeds::ALICE_PASSWORD,
        [USER_READ],
    )
    .await
    .expect("signed in");
    let post = env.token_requests().await.pop().expect("the request");
    assert_eq!(
        sent_scope(&post),
        format!("{USER_READ} offline_access openid"),
        "`profile` excluded; `OFFLINE_ACCESS` is not `offline_access`"
    );

    // `openid` cannot be excluded (Python: ValueError), nor can a non-scope.
    for bad in ["openid", "", "a b"] {
        let e = msal_core::PublicClient::builder(seeds::PUBLIC_CLIENT_ID)
            .exclude_scopes([bad])
            .build()
            .expect_err("refused");
        assert_eq!(
            e.kind(),
            msal_core::ErrorKind::Configuration,
            "{bad:?}: {e}"
        );
    }
    let e = msal_core::ConfidentialClient::builder(
        seeds::WEB_APP_CLIENT_ID,
        msal_core::ClientCredential::secret(seeds::WEB_APP_SECRET),
    )
    .exclude_scopes(["offline_access", "openid"])
    .build()
    .expect_err("refused");
    assert_eq!(e.kind(), msal_core::ErrorKind::Configuration);
}

/// On-behalf-of sends the decorated scopes too, less the excluded ones.
#[tokio::test]
async fn exclude_scopes_applies_to_on_behalf_of() {
    let env = Env::start().await;
    let api = msal_core::ConfidentialClient::builder(
        seeds::MIDDLE_TIER_CLIENT_ID,
        msal_core::ClientCredential::secret(seeds::MIDDLE_TIER_SECRET),
    )
    .authority(Authority::tenant(seeds::CONTOSO_DOMAIN))
    .http_client(std::sync::Arc::clone(&env.transport))
    .exclude_scopes(["offline_access"])
    .build()
    .expect("the app builds");
    let user = env
        .emulator
        .admin()
        .mint_user_token(&msal_tests::emulator::UserTokenRequest {
            tenant: seeds::CONTOSO_DOMAIN.into(),
            username: seeds::ALICE_USERNAME.into(),
            audience: seeds::MIDDLE_TIER_CLIENT_ID.into(),
            scopes: vec!["access_as_user".into()],
            lifetime_secs: None,
            client_id: None,
        })
        .await
        .expect("mint")
        .access_token;
    api.acquire_token_on_behalf_of(user, [USER_READ])
        .await
        .expect("obo");
    let post = env.token_requests().await.pop().expect("the request");
    assert_eq!(sent_scope(&post), format!("{USER_READ} openid profile"));
}

/// `acquire_token_silent(..., claims_challenge=...)`: the cached access token is skipped, the
/// refresh token is redeemed with the challenge merged with the app's client capabilities
/// (msal/application.py `_merge_claims_challenge_and_capabilities`), and the new token is
/// cached; without a challenge the next call is a cache hit again.
#[tokio::test]
async fn silent_with_a_claims_challenge_redeems_the_refresh_token_with_it() {
    let env = Env::start().await;
    let app = msal_core::PublicClient::builder(seeds::PUBLIC_CLIENT_ID)
        .authority(Authority::tenant(seeds::CONTOSO_DOMAIN))
        .http_client(std::sync::Arc::clone(&env.transport))
        .client_capabilities(["CP1"])
        .build()
        .expect("the app builds");
    let first = app
        .acquire_token_by_username_password(
            seeds::ALICE_USERNAME,
            seeds::ALICE_PASSWORD,
            [USER_READ],
        )
        .await
        .expect("signed in");
    let account = first.account().expect("an account").clone();
    let hit = app
        .acquire_token_silent([USER_READ], &account)
        .await
        .expect("silent");
    assert_eq!(hit.source(), TokenSource::Cache);
    let before = env.token_requests().await.len();

    let challenge = r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#;
    let r = app
        .acquire_token_silent([USER_READ], &account)
        .claims(challenge)
        .await
        .expect("silent with a claims challenge");
    assert_eq!(r.source(), TokenSource::IdentityProvider);
    assert_ne!(r.access_token().secret(), first.access_token().secret());
    assert_eq!(r.account(), Some(&account));
    let requests = env.token_requests().await;
    assert_eq!(requests.len(), before + 1, "one refresh");
    let post = requests.last().expect("the refresh");
    let field = |name: &str| {
        post.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(field("grant_type").as_deref(), Some("refresh_token"));
    let sent: serde_json::Value =
        serde_json::from_str(&field("claims").expect("a claims field")).expect("JSON");
    assert_eq!(
        sent,
        serde_json::json!({"access_token": {
            "nbf": {"essential": true, "value": "1700000000"},
            "xms_cc": {"values": ["CP1"]}
        }}),
        "the challenge merged with the client capabilities"
    );

    // The new token replaced the old one: served from the cache without a challenge.
    let after = app
        .acquire_token_silent([USER_READ], &account)
        .await
        .expect("silent");
    assert_eq!(after.source(), TokenSource::Cache);
    assert_eq!(after.access_token().secret(), r.access_token().secret());
    assert_eq!(env.token_requests().await.len(), before + 1);
}

/// `acquire_token_silent(..., authority=<another tenant>)` as `.tenant(...)`: a guest's home
/// refresh token is redeemed at the other tenant's endpoint, the token is that tenant's and
/// is cached under it, and each tenant's token is then served from the cache.
#[tokio::test]
async fn silent_with_a_tenant_override_gets_and_caches_the_other_tenants_token() {
    let env = Env::start().await;
    // Alice of contoso is a guest of fabrikam.
    env.emulator
        .admin()
        .add_user(&UserRegistration {
            tenant: seeds::FABRIKAM_DOMAIN.into(),
            username: seeds::ALICE_USERNAME.into(),
            home_tenant: Some(seeds::CONTOSO_DOMAIN.into()),
            ..Default::default()
        })
        .await
        .expect("admin: guest");
    let app = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    );
    let home = app
        .acquire_token_by_username_password(
            seeds::ALICE_USERNAME,
            seeds::ALICE_PASSWORD,
            [USER_READ],
        )
        .await
        .expect("signed in");
    assert_eq!(home.tenant(), seeds::CONTOSO_TENANT_ID);
    let account = home.account().expect("an account").clone();

    let guest = app
        .acquire_token_silent([USER_READ], &account)
        .tenant(seeds::FABRIKAM_DOMAIN)
        .await
        .expect("silent at fabrikam");
    assert_eq!(guest.source(), TokenSource::IdentityProvider);
    assert_eq!(guest.tenant(), seeds::FABRIKAM_TENANT_ID);
    assert_eq!(
        guest
            .id_token_claims()
            .and_then(|c| c.get("tid"))
            .and_then(|v| v.as_str()),
        Some(seeds::FABRIKAM_TENANT_ID)
    );
    assert_eq!(
        guest.account().map(|a| a.home_account_id()),
        Some(account.home_account_id()),
        "one home account across tenants"
    );
    let post = env.token_requests().await.pop().expect("the refresh");
    // The token endpoint of fabrikam's discovery document (named by tenant id).
    assert_eq!(
        post.path,
        format!("/{}/oauth2/v2.0/token", seeds::FABRIKAM_TENANT_ID)
    );
    assert!(
        post.form
            .iter()
            .any(|(k, v)| k == "grant_type" && v == "refresh_token")
    );
    let sent = env.token_requests().await.len();

    // Both tenants' tokens are cached apart and served without a request.
    let again = app
        .acquire_token_silent([USER_READ], &account)
        .tenant(seeds::FABRIKAM_DOMAIN)
        .await
        .expect("fabrikam from the cache");
    assert_eq!(again.source(), TokenSource::Cache);
    assert_eq!(again.access_token().secret(), guest.access_token().secret());
    let at_home = app
        .acquire_token_silent([USER_READ], &account)
        .await
        .expect("contoso from the cache");
    assert_eq!(at_home.source(), TokenSource::Cache);
    assert_eq!(at_home.tenant(), seeds::CONTOSO_TENANT_ID);
    assert_eq!(
        at_home.access_token().secret(),
        home.access_token().secret()
    );
    assert_eq!(env.token_requests().await.len(), sent);
}

/// `acquire_token_by_authorization_code(code, scopes, redirect_uri, nonce)` without a flow
/// object: a web app builds its own authorization URL (PKCE S256, the nonce's SHA-256 hex),
/// the browser brings back a code, and the app redeems it. The wire carries the code, the
/// verifier, the redirect URI and the client secret; the ID token's nonce is checked; the
/// tokens are cached for silent use; a wrong verifier or nonce is refused.
#[tokio::test]
async fn authorization_code_without_a_flow_end_to_end() {
    use base64::Engine as _;
    let env = Env::start().await;
    let web = env.app(
        seeds::WEB_APP_CLIENT_ID,
        msal_core::ClientCredential::secret(seeds::WEB_APP_SECRET),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    );
    let sha256 = |s: &str| aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, s.as_bytes());
    let authorize = |verifier: &str, nonce: &str| {
        let mut u = url::Url::parse(&format!(
            "https://{}/{}/oauth2/v2.0/authorize",
            seeds::PUBLIC_HOST,
            seeds::CONTOSO_DOMAIN
        ))
        .expect("a URL");
        let challenge =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha256(verifier).as_ref());
        let nonce_hex: String = sha256(nonce)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        u.query_pairs_mut()
            .append_pair("client_id", seeds::WEB_APP_CLIENT_ID)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", seeds::WEB_APP_REDIRECT_URI)
            .append_pair(
                "scope",
                &format!("{USER_READ} openid profile offline_access"),
            )
            .append_pair("state", "my-own-state")
            .append_pair("login_hint", seeds::ALICE_USERNAME)
            .append_pair("nonce", &nonce_hex)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        u.to_string()
    };
    let code_of = |query: &str| {
        let q: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect();
        assert_eq!(q.get("state").map(String::as_str), Some("my-own-state"));
        q.get("code").cloned().expect("a code")
    };
    let verifier = "my-own-pkce-verifier-of-at-least-forty-three-characters";
    let nonce = "my-own-nonce";

    let code = code_of(&env.browse(&authorize(verifier, nonce)).await);
    let r = web
        .acquire_token_by_authorization_code(code.clone(), [USER_READ])
        .redirect_uri(seeds::WEB_APP_REDIRECT_URI)
        .code_verifier(verifier)
        .nonce(nonce)
        .await
        .expect("redeemed");
    assert_eq!(r.source(), TokenSource::IdentityProvider);
    let account = r.account().expect("an account").clone();
    assert_eq!(account.username(), seeds::ALICE_USERNAME);
    assert_eq!(account.account_source(), Some("authorization_code"));
    assert!(r.id_token().is_some());
    let post = env.token_requests().await.pop().expect("the redemption");
    let field = |name: &str| {
        post.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(field("grant_type"), Some("authorization_code"));
    assert_eq!(field("code"), Some(code.as_str()));
    assert_eq!(field("code_verifier"), Some(verifier));
    assert_eq!(field("redirect_uri"), Some(seeds::WEB_APP_REDIRECT_URI));
    assert_eq!(field("client_secret"), Some(seeds::WEB_APP_SECRET));
    assert_eq!(
        field("scope").map(str::to_owned),
        Some(format!("{USER_READ} offline_access openid profile"))
    );

    // Cached for silent use, refresh token included.
    let hit = web
        .acquire_token_silent([USER_READ], &account)
        .await
        .expect("silent");
    assert_eq!(hit.source(), TokenSource::Cache);
    assert_eq!(hit.access_token().secret(), r.access_token().secret());
    let refreshed = web
        .acquire_token_silent([USER_READ], &account)
        .force_refresh(true)
        .await
        .expect("refresh");
    assert_eq!(refreshed.source(), TokenSource::IdentityProvider);

    // A code is redeemed once.
    let e = web
        .acquire_token_by_authorization_code(code, [USER_READ])
        .redirect_uri(seeds::WEB_APP_REDIRECT_URI)
        .code_verifier(verifier)
        .await
        .expect_err("a used code");
    assert_eq!(
        e.service().map(|s| s.error.as_str()),
        Some("invalid_grant"),
        "{e}"
    );
    // The wrong verifier: refused by the identity provider.
    let code = code_of(&env.browse(&authorize(verifier, nonce)).await);
    let e = web
        .acquire_token_by_authorization_code(code, [USER_READ])
        .redirect_uri(seeds::WEB_APP_REDIRECT_URI)
        .code_verifier("another-pkce-verifier-of-at-least-forty-three-characters")
        .await
        .expect_err("wrong verifier");
    assert_eq!(
        e.service().map(|s| s.error.as_str()),
        Some("invalid_grant"),
        "{e}"
    );
    // The wrong nonce: refused here, nothing cached.
    let before = web.cache().serialize().expect("json");
    let code = code_of(&env.browse(&authorize(verifier, nonce)).await);
    let e = web
        .acquire_token_by_authorization_code(code, [USER_READ])
        .redirect_uri(seeds::WEB_APP_REDIRECT_URI)
        .code_verifier(verifier)
        .nonce("another-nonce")
        .await
        .expect_err("wrong nonce");
    assert_eq!(e.kind(), msal_core::ErrorKind::Validation, "{e}");
    assert_eq!(web.cache().serialize().expect("json"), before);
}

/// `TokenCache.search(credential_type, target=, query=)` as `TokenCache::search`, returning
/// secret-free views, and the write hook: called once per entry written, after the write and
/// outside the cache's locks (it reads the cache from inside), without secrets unless it asked,
/// and a panicking hook fails nothing.
#[tokio::test]
async fn cache_search_and_the_write_hook() {
    use msal_core::cache::{CacheEntry, CacheQuery, CredentialType, WrittenEntry};
    use std::sync::{Arc, Mutex};
    let env = Env::start().await;
    let cache = msal_core::TokenCache::new();
    let app = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::organizations(),
        Some(cache.clone()),
        None,
    );
    // The hook reads the cache it is called from: the entry is already there.
    let seen: Arc<Mutex<Vec<(WrittenEntry, usize)>>> = Arc::default();
    {
        let seen = Arc::clone(&seen);
        let inner = cache.clone();
        cache.on_write(move |w| {
            let q = CacheQuery::new();
            let now_visible = inner.search(w.entry().credential_type, &q).len();
            let _ = inner.serialize();
            seen.lock().expect("lock").push((w.clone(), now_visible));
        });
    }
    let alice = app
        .acquire_token_by_username_password(
            seeds::ALICE_USERNAME,
            seeds::ALICE_PASSWORD,
            [USER_READ],
        )
        .await
        .expect("alice");
    let bob = app
        .acquire_token_by_username_password(
            seeds::BOB_USERNAME,
            seeds::BOB_PASSWORD,
            ["https://graph.microsoft.com/Mail.Read"],
        )
        .await
        .expect("bob");
    let written = seen.lock().expect("lock").clone();
    let kinds: Vec<CredentialType> = written
        .iter()
        .map(|(w, _)| w.entry().credential_type)
        .collect();
    let one_response = [
        CredentialType::AccessToken,
        CredentialType::RefreshToken,
        CredentialType::IdToken,
        CredentialType::Account,
        CredentialType::AppMetadata,
    ];
    assert_eq!(kinds, [one_response, one_response].concat());
    assert!(
        written
            .iter()
            .all(|(w, visible)| w.secret().is_none() && *visible >= 1)
    );
    let alice_id = alice
        .account()
        .expect("account")
        .home_account_id()
        .to_owned();
    assert_eq!(
        written[0].0.entry().home_account_id.as_deref(),
        Some(alice_id.as_str())
    );

    // Search by fields and target.
    let ats = cache.search(
        CredentialType::AccessToken,
        &CacheQuery::new().home_account_id(&alice_id),
    );
    assert_eq!(ats.len(), 1);
    let at: &CacheEntry = &ats[0];
    assert_eq!(at.client_id.as_deref(), Some(seeds::PUBLIC_CLIENT_ID));
    // The realm of the authority asked, as MSAL Python records it.
    assert_eq!(at.realm.as_deref(), Some("organizations"));
    assert_eq!(at.expires_on, Some(alice.expires_on()));
    assert_eq!(
        cache
            .search(
                CredentialType::AccessToken,
                &CacheQuery::new().target([USER_READ])
            )
            .len(),
        1
    );
    assert_eq!(
        cache
            .search(
                CredentialType::AccessToken,
                &CacheQuery::new().target([USER_READ.to_uppercase()])
            )
            .len(),
        0,
        "exact comparison, as msal/token_cache.py"
    );
    assert_eq!(
        cache
            .search(
                CredentialType::AccessToken,
                &CacheQuery::new().client_id(seeds::PUBLIC_CLIENT_ID)
            )
            .len(),
        2
    );
    let bobs = cache.search(
        CredentialType::Account,
        &CacheQuery::new().username(seeds::BOB_USERNAME),
    );
    assert_eq!(bobs.len(), 1);
    assert_eq!(
        bobs[0].home_account_id.as_deref(),
        bob.account().map(|a| a.home_account_id())
    );
    assert_eq!(
        cache
            .search(CredentialType::RefreshToken, &CacheQuery::new())
            .len(),
        2
    );
    assert_eq!(
        cache
            .search(
                CredentialType::IdToken,
                &CacheQuery::new()
                    .home_account_id(&alice_id)
                    .realm("organizations")
            )
            .len(),
        1
    );
    assert_eq!(
        cache
            .search(CredentialType::AppMetadata, &CacheQuery::new())
            .len(),
        1
    );

    // No view, written entry or its Debug holds a secret.
    let json: serde_json::Value =
        serde_json::from_str(&cache.serialize().expect("json")).expect("json");
    let mut secrets = Vec::new();
    for section in ["AccessToken", "RefreshToken", "IdToken"] {
        for e in json[section].as_object().expect("section").values() {
            secrets.push(e["secret"].as_str().expect("secret").to_owned());
        }
    }
    assert_eq!(secrets.len(), 6);
    let mut printed = Vec::new();
    for t in [
        CredentialType::AccessToken,
        CredentialType::RefreshToken,
        CredentialType::IdToken,
        CredentialType::Account,
        CredentialType::AppMetadata,
    ] {
        printed.push(format!("{:?}", cache.search(t, &CacheQuery::new())));
    }
    printed.push(format!("{written:?}"));
    for p in &printed {
        for s in &secrets {
            assert!(!p.contains(s.as_str()), "a secret in {p}");
        }
        assert!(
            !p.contains(seeds::BOB_USERNAME),
            "the username is personal data: {p}"
        );
    }

    // A hook that asked for secrets gets them; one that panics fails nothing, and a hook may
    // replace itself from inside.
    let secrets_seen: Arc<Mutex<Vec<(CredentialType, String)>>> = Arc::default();
    {
        let out = Arc::clone(&secrets_seen);
        cache.on_write_with_secrets(move |w| {
            if let Some(s) = w.secret() {
                out.lock()
                    .expect("lock")
                    .push((w.entry().credential_type, s.to_owned()));
            }
            assert!(!format!("{w:?}").contains(w.secret().unwrap_or("\u{0}")));
        });
    }
    let account = alice.account().expect("account").clone();
    let refreshed = app
        .acquire_token_silent([USER_READ], &account)
        .force_refresh(true)
        .await
        .expect("refresh");
    let got = secrets_seen.lock().expect("lock").clone();
    assert!(
        got.contains(&(
            CredentialType::AccessToken,
            refreshed.access_token().secret().to_owned()
        )),
        "the hook with secrets gets the access token"
    );
    assert!(got.iter().any(|(t, _)| *t == CredentialType::RefreshToken));

    let calls = Arc::new(Mutex::new(0usize));
    {
        let inner = cache.clone();
        let calls = Arc::clone(&calls);
        cache.on_write(move |_| {
            *calls.lock().expect("lock") += 1;
            inner.clear_on_write();
            panic!("a buggy hook");
        });
    }
    let r = app
        .acquire_token_silent([USER_READ], &account)
        .force_refresh(true)
        .await
        .expect("a panicking hook fails nothing");
    // The hook in place when a response is recorded sees all its entries (a refresh records
    // no account): clearing it from inside takes effect from the next response.
    assert_eq!(*calls.lock().expect("lock"), 4);
    app.acquire_token_silent([USER_READ], &account)
        .force_refresh(true)
        .await
        .expect("refresh");
    assert_eq!(*calls.lock().expect("lock"), 4, "cleared");
    let hit = app
        .acquire_token_silent([USER_READ], &account)
        .await
        .expect("silent");
    assert_eq!(hit.source(), TokenSource::Cache);
    assert_ne!(
        hit.access_token().secret(),
        r.access_token().secret(),
        "the later refresh's"
    );
}

/// Plays the browser for an interactive sign-in started with `open_browser(false)`: waits for
/// the URL, signs in at the emulator, posts the form to the loopback listener, and returns the
/// page the listener answered with (status, Content-Security-Policy, body).
/// What the listener answered the browser with: status, Content-Security-Policy, page.
type Answered = tokio::task::JoinHandle<(u16, String, String)>;

fn play_browser(env: &std::sync::Arc<Env>) -> (impl Fn(&str) + Send + Sync + 'static, Answered) {
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    let tx = std::sync::Mutex::new(Some(tx));
    let env = std::sync::Arc::clone(env);
    let task = tokio::spawn(async move {
        let uri = rx.await.expect("the sign-in URL");
        let redirect = url::Url::parse(&uri)
            .expect("a URL")
            .query_pairs()
            .find(|(k, _)| k == "redirect_uri")
            .map(|(_, v)| v.into_owned())
            .expect("a redirect URI");
        let form = env.browse(&uri).await;
        let resp = reqwest::Client::new()
            .post(&redirect)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .expect("the loopback listener answers");
        let status = resp.status().as_u16();
        let csp = resp
            .headers()
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        (status, csp, resp.text().await.expect("a page"))
    });
    let on_uri = move |uri: &str| {
        if let Some(tx) = tx.lock().expect("lock").take() {
            let _ = tx.send(uri.to_owned());
        }
    };
    (on_uri, task)
}

/// The interactive flow's own success and failure pages (MSAL Python's `success_template` and
/// `error_template`): served by the loopback listener, the failure page filled with the
/// escaped error fields only; the built-in pages otherwise. `on_before_open_browser` is not
/// called when no browser is to be opened (the BROWSER-driven test in interactive.rs covers
/// the call).
#[tokio::test]
async fn interactive_success_and_failure_pages() {
    use msal_core::Prompt;
    let env = std::sync::Arc::new(Env::start().await);
    let app = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    );
    let before = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let success = "<h1 style=\"color:green\">Signed in to Contoso CLI</h1>";
    let failure = "<h1>Sign-in failed</h1><p>$error: $error_description</p><p>$code$state</p>";

    // Success: the app's page, with the CSP of custom pages.
    let (on_uri, browser) = play_browser(&env);
    let counter = std::sync::Arc::clone(&before);
    let r = app
        .acquire_token_interactive([USER_READ])
        .login_hint(seeds::ALICE_USERNAME)
        .open_browser(false)
        .on_auth_uri(on_uri)
        .on_before_open_browser(move |_| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        })
        .success_page(success)
        .failure_page(failure)
        .await
        .expect("signed in");
    assert_eq!(r.source(), TokenSource::IdentityProvider);
    let (status, csp, page) = browser.await.expect("the browser");
    assert_eq!(status, 200);
    assert_eq!(page, success);
    assert_eq!(
        csp,
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    );
    assert_eq!(
        before.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "no browser is opened"
    );

    // Failure (bob is no user of contoso: the sign-in page answers invalid_request, with a
    // description holding quotes): the app's failure page, filled with the error fields
    // escaped, never the code or state.
    let (on_uri, browser) = play_browser(&env);
    let e = app
        .acquire_token_interactive([USER_READ])
        .login_hint(seeds::BOB_USERNAME)
        .prompt(Prompt::Login)
        .open_browser(false)
        .on_auth_uri(on_uri)
        .success_page(success)
        .failure_page(failure)
        .await
        .expect_err("bob is not in contoso");
    assert_eq!(
        e.service().map(|s| s.error.as_str()),
        Some("invalid_request"),
        "{e}"
    );
    let (status, _, page) = browser.await.expect("the browser");
    assert_eq!(status, 200);
    assert!(
        page.starts_with("<h1>Sign-in failed</h1><p>invalid_request: "),
        "{page}"
    );
    assert!(
        page.ends_with("</p><p>$code$state</p>"),
        "other placeholders stay as written: {page}"
    );
    let description = e
        .service()
        .and_then(|s| s.error_description.clone())
        .unwrap_or_default();
    assert!(description.contains('\''), "{description}");
    let escaped = description
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;");
    assert!(page.contains(&escaped), "{page}");

    // Without templates: the built-in page, under the strict CSP.
    let (on_uri, browser) = play_browser(&env);
    app.acquire_token_interactive([USER_READ])
        .login_hint(seeds::ALICE_USERNAME)
        .open_browser(false)
        .on_auth_uri(on_uri)
        .await
        .expect("signed in");
    let (status, csp, page) = browser.await.expect("the browser");
    assert_eq!(status, 200);
    assert_eq!(csp, "default-src 'none'");
    assert!(page.contains("Authentication complete"), "{page}");
}
