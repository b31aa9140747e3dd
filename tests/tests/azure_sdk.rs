//! msal-rs clients as Azure SDK credentials (msal-core feature `azure`): through
//! `azure_core::credentials::TokenCredential`, against the emulator, as an SDK client calls
//! them.

mod support;

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientMethodOptions, ClientOptions, Context, Transport};
use azure_security_keyvault_secrets::models::{SecretClientGetSecretOptions, SetSecretParameters};
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};
use msal_core::azure::{AppCredential, Claims, ManagedIdentityCredential, Tenant, UserCredential};
use msal_core::environment::{AzureEnvironment, CredentialKind, DefaultCredential};
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

// ------------------------------------------------------------------ a real SDK client

/// A Key Vault secrets client of the Azure SDK for Rust, at the emulator's vault, whose HTTP
/// client resolves the vault's host to the emulator and trusts only its CA.
fn vault_client(env: &Env, credential: Arc<dyn TokenCredential>) -> SecretClient {
    let http = env
        .emulator
        .http_client_builder()
        .expect("a reqwest builder")
        .build()
        .expect("a reqwest client");
    let options = SecretClientOptions {
        client_options: ClientOptions {
            transport: Some(Transport::new(Arc::new(http))),
            ..Default::default()
        },
        ..Default::default()
    };
    SecretClient::new(
        &format!("https://{}/", seeds::KEYVAULT_HOST),
        credential,
        Some(options),
    )
    .expect("the SDK client builds")
}

async fn set_secret(client: &SecretClient, name: &str, value: &str) -> azure_core::Result<()> {
    let params = SetSecretParameters {
        value: Some(value.to_owned()),
        ..Default::default()
    };
    client
        .set_secret(name, params.try_into()?, None)
        .await
        .map(|_| ())
}

async fn get_secret(
    client: &SecretClient,
    name: &str,
    context: Option<Context<'static>>,
) -> azure_core::Result<String> {
    let options = context.map(|context| SecretClientGetSecretOptions {
        method_options: ClientMethodOptions { context },
        ..Default::default()
    });
    let secret = client.get_secret(name, options).await?.into_model()?;
    Ok(secret.value.unwrap_or_default())
}

/// Requests the emulator recorded at the vault: (status, had a bearer token).
async fn vault_requests(env: &Env) -> Vec<(u16, bool)> {
    env.emulator
        .admin()
        .requests()
        .await
        .expect("requests")
        .into_iter()
        .filter(|r| r.host == seeds::KEYVAULT_HOST)
        .map(|r| {
            let bearer = r
                .headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("authorization") && v.starts_with("Bearer "));
            (r.status, bearer)
        })
        .collect()
}

#[tokio::test]
async fn key_vault_clients_share_one_app_token() {
    let env = Env::start().await;
    let credential: Arc<dyn TokenCredential> = Arc::new(AppCredential::new(env.secret_app()));
    set_secret(
        &vault_client(&env, Arc::clone(&credential)),
        "db-password",
        "correct horse",
    )
    .await
    .expect("set through the SDK");
    // Ten SDK clients (each with its own token policy, as separate services or requests
    // would make them), ten calls each: one token request, the rest from msal-rs's cache.
    for _ in 0..10 {
        let client = vault_client(&env, Arc::clone(&credential));
        for _ in 0..10 {
            let value = get_secret(&client, "db-password", None)
                .await
                .expect("the vault accepts the token");
            assert_eq!(value, "correct horse");
        }
    }
    assert_eq!(
        env.token_requests().await.len(),
        1,
        "101 SDK calls, one token request"
    );
    let vault = vault_requests(&env).await;
    // Each new client's first request is sent without a token and gets the challenge.
    assert_eq!(vault.iter().filter(|(s, b)| *s == 401 && !b).count(), 11);
    assert_eq!(vault.iter().filter(|(s, b)| *s == 200 && *b).count(), 101);
    assert!(vault.iter().all(|(s, _)| *s == 200 || *s == 401));
}

#[tokio::test]
async fn the_vault_checks_audience_expiry_and_signature() {
    let env = Env::start().await;
    let http = env
        .emulator
        .http_client_builder()
        .expect("builder")
        .build()
        .expect("client");
    let url = format!(
        "https://{}/secrets/x?api-version=2025-07-01",
        seeds::KEYVAULT_HOST
    );
    let call = |token: Option<String>| {
        let mut req = http.get(&url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move {
            let resp = req.send().await.expect("the vault answers");
            let status = resp.status().as_u16();
            let challenge = resp
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = resp.text().await.unwrap_or_default();
            (status, challenge, body)
        }
    };
    let (status, challenge, _) = call(None).await;
    assert_eq!(status, 401);
    let challenge = challenge.expect("a challenge");
    assert!(
        challenge.contains(seeds::CONTOSO_TENANT_ID)
            && challenge.contains("resource=\"https://vault.azure.net\""),
        "{challenge}"
    );

    let app = env.secret_app();
    let vault = app
        .acquire_token_for_client(VAULT_SCOPE)
        .await
        .expect("a vault token");
    let graph = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("a Graph token");
    // Valid: 404 for a secret that is not there (authorized, then looked up).
    let (status, _, body) = call(Some(vault.access_token().secret().to_owned())).await;
    assert_eq!(status, 404, "{body}");
    let (status, _, body) = call(Some(graph.access_token().secret().to_owned())).await;
    assert_eq!(status, 401);
    assert!(body.contains("Invalid audience"), "{body}");
    // A forged signature.
    let token = vault.access_token().secret();
    let (head, _) = token.rsplit_once('.').expect("a JWT");
    let (status, _, body) = call(Some(format!("{head}.AAAA"))).await;
    assert_eq!(status, 401);
    assert!(body.contains("signature"), "{body}");
    // Expired by the emulator's clock.
    env.emulator
        .admin()
        .advance_clock(2.0 * 3600.0)
        .await
        .expect("clock");
    let (status, _, body) = call(Some(token.to_owned())).await;
    assert_eq!(status, 401);
    assert!(body.contains("expired"), "{body}");
}

#[tokio::test]
async fn a_users_key_vault_calls_end_at_sign_out() {
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
            ["https://vault.azure.net/user_impersonation"],
        )
        .await
        .expect("signed in");
    let account = signed_in.account().expect("an account").clone();
    let credential: Arc<dyn TokenCredential> =
        Arc::new(UserCredential::public(app.clone(), account.clone()));
    set_secret(
        &vault_client(&env, Arc::clone(&credential)),
        "alice-note",
        "hi",
    )
    .await
    .expect("the user's token is accepted");
    for _ in 0..10 {
        let client = vault_client(&env, Arc::clone(&credential));
        for _ in 0..10 {
            assert_eq!(
                get_secret(&client, "alice-note", None).await.expect("get"),
                "hi"
            );
        }
    }
    // Sign-in, then at most one silent request for the SDK's `.default` scope.
    let sent = env.token_requests().await.len();
    assert!(sent <= 2, "{sent} token requests for 101 SDK calls");
    app.remove_account(&account).await.expect("signed out");
    let e = get_secret(&vault_client(&env, credential), "alice-note", None)
        .await
        .expect_err("signed out");
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    let mut interaction = false;
    while let Some(s) = source {
        if let Some(m) = s.downcast_ref::<msal_core::Error>() {
            interaction |= m.is_interaction_required();
        }
        source = s.source();
    }
    assert!(
        interaction || e.to_string().contains("interaction required"),
        "{e}"
    );
}

#[tokio::test]
async fn claims_and_tenant_reach_the_token_request_through_the_sdk_context() {
    let env = Env::start().await;
    let credential: Arc<dyn TokenCredential> = Arc::new(AppCredential::new(env.secret_app()));
    let client = vault_client(&env, Arc::clone(&credential));
    set_secret(&client, "s", "v").await.expect("set");
    assert_eq!(env.token_requests().await.len(), 1);
    let claims = r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#;
    let context = Context::new()
        .with_value(Claims(claims.to_owned()))
        .with_value(Tenant(seeds::CONTOSO_TENANT_ID.to_owned()));
    // A fresh SDK client asks the credential; the claims bypass msal-rs's cache.
    let fresh = vault_client(&env, Arc::clone(&credential));
    assert_eq!(
        get_secret(&fresh, "s", Some(context)).await.expect("get"),
        "v"
    );
    let requests = env.token_requests().await;
    assert_eq!(requests.len(), 2, "the claims forced a token request");
    let last = requests.last().expect("the claims request");
    let sent_claims = last
        .form
        .iter()
        .find(|(k, _)| k == "claims")
        .map(|(_, v)| v.clone())
        .expect("claims sent");
    assert!(sent_claims.contains("1700000000"), "{sent_claims}");
    assert!(
        last.path.contains(seeds::CONTOSO_TENANT_ID),
        "{}",
        last.path
    );
}

#[tokio::test]
async fn the_default_credential_chain_behind_a_key_vault_client() {
    let env = Env::start().await;
    let token = env
        .emulator
        .admin()
        .mint_federated_token(&msal_tests::emulator::model::FederatedTokenRequest {
            subject: seeds::WORKLOAD_SUBJECT.into(),
            ..Default::default()
        })
        .await
        .expect("a service account token")
        .access_token;
    let file = std::env::temp_dir().join(format!(
        "msal-sdk-wi-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&file, &token).expect("write the token file");
    let mut vars = env.emulator.managed_identity().env("imds");
    vars.extend([
        (
            "AZURE_TENANT_ID".to_owned(),
            seeds::CONTOSO_TENANT_ID.to_owned(),
        ),
        (
            "AZURE_CLIENT_ID".to_owned(),
            seeds::WORKLOAD_APP_CLIENT_ID.to_owned(),
        ),
        (
            "AZURE_FEDERATED_TOKEN_FILE".to_owned(),
            file.to_string_lossy().into_owned(),
        ),
        (
            "AZURE_AUTHORITY_HOST".to_owned(),
            "https://login.microsoftonline.com".to_owned(),
        ),
    ]);
    let chain = DefaultCredential::builder()
        .environment(AzureEnvironment::from_vars(vars))
        .http_client(Arc::clone(&env.transport))
        .build()
        .expect("the chain builds");
    let credential: Arc<dyn TokenCredential> = Arc::new(chain.clone());
    let client = vault_client(&env, credential);
    set_secret(&client, "from-aks", "ok").await.expect("set");
    assert_eq!(
        get_secret(&client, "from-aks", None).await.expect("get"),
        "ok"
    );
    assert_eq!(chain.selected(), Some(CredentialKind::WorkloadIdentity));
    let _ = std::fs::remove_file(&file);
}
