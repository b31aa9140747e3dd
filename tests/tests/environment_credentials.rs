//! Credentials from azure-identity's environment variables (`msal_core::environment`):
//! client secret, client certificate, workload identity with a rotating token file, and the
//! `DefaultCredential` chain, against the emulator (its federated identity credentials and
//! managed identity sources). Managed identity always points at the emulator's loopback IMDS
//! (`AZURE_POD_IDENTITY_AUTHORITY_HOST`) or at a closed loopback port.

mod support;

use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use msal_core::environment::{AzureEnvironment, ChainFailure, CredentialKind, DefaultCredential};
use msal_core::managed_identity::ManagedIdentitySource;
use msal_core::{ConfidentialClient, ErrorKind};
use msal_tests::emulator::model::FederatedTokenRequest;
use msal_tests::emulator::seeds;
use support::Env;

const VAULT_SCOPE: &str = "https://vault.azure.net/.default";
const AUTHORITY_HOST: &str = "https://login.microsoftonline.com";

/// A scratch directory removed at the end of the test.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "msal-envcred-{name}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A service account token for `subject`, as the kubelet would project it.
async fn federated_token(env: &Env, subject: &str, lifetime_secs: Option<u64>) -> String {
    env.emulator
        .admin()
        .mint_federated_token(&FederatedTokenRequest {
            subject: subject.to_owned(),
            lifetime_secs,
            ..Default::default()
        })
        .await
        .expect("a federated token")
        .access_token
}

/// The variables of the emulator's IMDS (loopback), plus `extra`.
fn vars(env: &Env, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v = env.emulator.managed_identity().env("imds");
    v.push(("AZURE_AUTHORITY_HOST".into(), AUTHORITY_HOST.into()));
    v.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    v
}

/// The form field `name` of the `i`th token request.
async fn sent_field(env: &Env, i: usize, name: &str) -> Option<String> {
    env.token_requests()
        .await
        .get(i)?
        .form
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

fn chain(env: &Env, vars: Vec<(String, String)>) -> DefaultCredential {
    DefaultCredential::builder()
        .environment(AzureEnvironment::from_vars(vars))
        .http_client(Arc::clone(&env.transport))
        .build()
        .expect("the chain builds")
}

fn workload_app(env: &Env, token_file: &std::path::Path) -> ConfidentialClient {
    let env_vars = AzureEnvironment::from_vars(vars(
        env,
        &[
            ("AZURE_TENANT_ID", seeds::CONTOSO_TENANT_ID),
            ("AZURE_CLIENT_ID", seeds::WORKLOAD_APP_CLIENT_ID),
            ("AZURE_FEDERATED_TOKEN_FILE", &token_file.to_string_lossy()),
        ],
    ));
    env_vars
        .workload_identity_client()
        .expect("workload identity is configured")
        .expect("valid")
        .http_client(Arc::clone(&env.transport))
        .build()
        .expect("builds")
}

#[tokio::test]
async fn workload_identity_sends_the_token_file_as_it_is_rotated() {
    let env = Env::start().await;
    let dir = Scratch::new("wi");
    let first = federated_token(&env, seeds::WORKLOAD_SUBJECT, None).await;
    let file = dir.write("token", &format!("{first}\n"));
    let app = workload_app(&env, &file);
    let t = app
        .acquire_token_for_client(VAULT_SCOPE)
        .await
        .expect("a token for the workload");
    assert!(!t.access_token().secret().is_empty());
    assert_eq!(
        sent_field(&env, 0, "client_assertion").await.as_deref(),
        Some(first.as_str())
    );
    assert_eq!(
        sent_field(&env, 0, "client_assertion_type")
            .await
            .as_deref(),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );

    // The kubelet rotates the file: the next token request sends the new token.
    let second = federated_token(&env, seeds::WORKLOAD_SUBJECT, None).await;
    assert_ne!(first, second);
    std::fs::write(&file, &second).expect("rotate");
    app.acquire_token_for_client(VAULT_SCOPE)
        .force_refresh(true)
        .await
        .expect("with the rotated token");
    assert_eq!(
        sent_field(&env, 1, "client_assertion").await.as_deref(),
        Some(second.as_str())
    );

    // An expired token in the file: Entra's error; a fresh one: served again, same client.
    let short = federated_token(&env, seeds::WORKLOAD_SUBJECT, Some(60)).await;
    std::fs::write(&file, &short).expect("write");
    env.emulator
        .admin()
        .advance_clock(120.0)
        .await
        .expect("clock");
    let e = app
        .acquire_token_for_client(VAULT_SCOPE)
        .force_refresh(true)
        .await
        .expect_err("expired assertion");
    assert!(e.is_invalid_client(), "{e}");
    assert!(
        e.service()
            .is_some_and(|s| s.error_codes.contains(&700_024)),
        "{e}"
    );
    let fresh = federated_token(&env, seeds::WORKLOAD_SUBJECT, None).await;
    std::fs::write(&file, &fresh).expect("write");
    app.acquire_token_for_client(VAULT_SCOPE)
        .force_refresh(true)
        .await
        .expect("served again after the rotation");

    // Another service account: no federated credential matches.
    let other = federated_token(&env, "system:serviceaccount:default:other", None).await;
    std::fs::write(&file, &other).expect("write");
    let e = app
        .acquire_token_for_client(VAULT_SCOPE)
        .force_refresh(true)
        .await
        .expect_err("wrong subject");
    assert!(
        e.service().is_some_and(|s| s.error_codes.contains(&70_021)),
        "{e}"
    );

    // A missing file: a credential error naming it, before any request.
    std::fs::remove_file(&file).expect("remove");
    let before = env.token_requests().await.len();
    let e = app
        .acquire_token_for_client(VAULT_SCOPE)
        .force_refresh(true)
        .await
        .expect_err("no file");
    assert_eq!(e.kind(), ErrorKind::Credential, "{e}");
    assert!(e.to_string().contains("AZURE_FEDERATED_TOKEN_FILE"), "{e}");
    assert_eq!(env.token_requests().await.len(), before);
}

#[tokio::test]
async fn environment_secret_and_certificate_credentials() {
    let env = Env::start().await;
    // A client secret.
    let secret = chain(
        &env,
        vars(
            &env,
            &[
                ("AZURE_TENANT_ID", seeds::CONTOSO_DOMAIN),
                ("AZURE_CLIENT_ID", seeds::SECRET_APP_CLIENT_ID),
                ("AZURE_CLIENT_SECRET", seeds::SECRET_APP_SECRET),
            ],
        ),
    );
    assert_eq!(
        secret.kinds(),
        [
            CredentialKind::ClientSecret,
            CredentialKind::ManagedIdentity
        ]
    );
    secret.acquire_token(&[VAULT_SCOPE]).await.expect("a token");
    assert_eq!(secret.selected(), Some(CredentialKind::ClientSecret));
    assert_eq!(
        sent_field(&env, 0, "client_secret").await.as_deref(),
        Some(seeds::SECRET_APP_SECRET)
    );
    assert!(!format!("{secret:?}").contains(seeds::SECRET_APP_SECRET));

    // A certificate: the key and the certificate in one PEM file, the chain sent as x5c.
    let dir = Scratch::new("cert");
    let pem = dir.write(
        "app.pem",
        &format!("{}\n{}", seeds::APP_KEY_PKCS8_PEM, seeds::APP_CERT_PEM),
    );
    let cert = chain(
        &env,
        vars(
            &env,
            &[
                ("AZURE_TENANT_ID", seeds::CONTOSO_TENANT_ID),
                ("AZURE_CLIENT_ID", seeds::CERT_APP_CLIENT_ID),
                ("AZURE_CLIENT_CERTIFICATE_PATH", &pem.to_string_lossy()),
                ("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "true"),
            ],
        ),
    );
    assert_eq!(cert.kinds()[0], CredentialKind::ClientCertificate);
    cert.acquire_token(&[VAULT_SCOPE]).await.expect("a token");
    let assertion = sent_field(&env, 1, "client_assertion")
        .await
        .expect("an assertion");
    let header = assertion.split('.').next().expect("a JWT header");
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .expect("base64url"),
    )
    .expect("JSON");
    assert!(header.get("x5c").is_some(), "{header}");

    // An encrypted key with AZURE_CLIENT_CERTIFICATE_PASSWORD.
    let enc = dir.write(
        "enc.pem",
        &format!("{}\n{}", seeds::APP_KEY_ENCRYPTED_PEM, seeds::APP_CERT_PEM),
    );
    let encrypted = chain(
        &env,
        vars(
            &env,
            &[
                ("AZURE_TENANT_ID", seeds::CONTOSO_TENANT_ID),
                ("AZURE_CLIENT_ID", seeds::CERT_APP_CLIENT_ID),
                ("AZURE_CLIENT_CERTIFICATE_PATH", &enc.to_string_lossy()),
                (
                    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
                    seeds::APP_KEY_PASSPHRASE,
                ),
            ],
        ),
    );
    encrypted
        .acquire_token(&[VAULT_SCOPE])
        .await
        .expect("a token");

    // A PKCS#12 file (OpenSSL 3's default AES protection) with its password.
    let pfx = dir.0.join("app.pfx");
    std::fs::write(&pfx, seeds::APP_PFX_AES).expect("write");
    let pkcs12 = chain(
        &env,
        vars(
            &env,
            &[
                ("AZURE_TENANT_ID", seeds::CONTOSO_TENANT_ID),
                ("AZURE_CLIENT_ID", seeds::CERT_APP_CLIENT_ID),
                ("AZURE_CLIENT_CERTIFICATE_PATH", &pfx.to_string_lossy()),
                (
                    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
                    seeds::APP_KEY_PASSPHRASE,
                ),
            ],
        ),
    );
    assert_eq!(pkcs12.kinds()[0], CredentialKind::ClientCertificate);
    pkcs12.acquire_token(&[VAULT_SCOPE]).await.expect("a token");

    // A misconfigured environment credential is reported when the chain is built.
    let e = DefaultCredential::builder()
        .environment(AzureEnvironment::from_vars(vars(
            &env,
            &[
                ("AZURE_TENANT_ID", seeds::CONTOSO_TENANT_ID),
                ("AZURE_CLIENT_ID", seeds::CERT_APP_CLIENT_ID),
                ("AZURE_CLIENT_CERTIFICATE_PATH", &enc.to_string_lossy()),
                ("AZURE_CLIENT_CERTIFICATE_PASSWORD", "hunter2-not-it"),
            ],
        )))
        .http_client(Arc::clone(&env.transport))
        .build()
        .expect_err("a wrong password");
    assert_eq!(e.kind(), ErrorKind::Configuration, "{e}");
    assert!(!e.to_string().contains("hunter2-not-it"), "{e}");
}

#[tokio::test]
async fn the_chain_tries_what_is_present_in_order_and_keeps_the_first_that_works() {
    let env = Env::start().await;
    let dir = Scratch::new("chain");
    let token = federated_token(&env, seeds::WORKLOAD_SUBJECT, None).await;
    let file = dir.write("token", &token);
    // A wrong secret (environment), a valid token file (workload identity), IMDS.
    let credential = chain(
        &env,
        vars(
            &env,
            &[
                ("AZURE_TENANT_ID", seeds::CONTOSO_TENANT_ID),
                ("AZURE_CLIENT_ID", seeds::WORKLOAD_APP_CLIENT_ID),
                ("AZURE_CLIENT_SECRET", "not-the-secret"),
                ("AZURE_FEDERATED_TOKEN_FILE", &file.to_string_lossy()),
            ],
        ),
    );
    assert_eq!(
        credential.kinds(),
        [
            CredentialKind::ClientSecret,
            CredentialKind::WorkloadIdentity,
            CredentialKind::ManagedIdentity
        ]
    );
    let t = credential
        .acquire_token(&[VAULT_SCOPE])
        .await
        .expect("workload identity answers");
    assert_eq!(
        credential.selected(),
        Some(CredentialKind::WorkloadIdentity)
    );
    assert!(sent_field(&env, 0, "client_secret").await.is_some());
    assert_eq!(
        sent_field(&env, 1, "client_assertion").await.as_deref(),
        Some(token.as_str())
    );
    // Kept: the next call is served by workload identity's cache, nothing is sent.
    let again = credential
        .acquire_token(&[VAULT_SCOPE])
        .await
        .expect("again");
    assert_eq!(again.access_token().secret(), t.access_token().secret());
    assert_eq!(env.token_requests().await.len(), 2);
    let mi_requests = env
        .emulator
        .admin()
        .managed_identity_request_count(msal_tests::emulator::model::ManagedIdentitySource::Imds)
        .await
        .expect("count");
    assert_eq!(mi_requests, 0, "managed identity was never asked");

    // Nothing but managed identity: IMDS (the emulator's, on loopback) answers.
    let mi_only = chain(&env, vars(&env, &[]));
    assert_eq!(mi_only.kinds(), [CredentialKind::ManagedIdentity]);
    assert_eq!(
        mi_only.managed_identity_source(),
        Some(ManagedIdentitySource::Imds)
    );
    mi_only
        .acquire_token(&[VAULT_SCOPE])
        .await
        .expect("a managed identity token");
    assert_eq!(mi_only.selected(), Some(CredentialKind::ManagedIdentity));

    // Exclusions.
    let no_mi = DefaultCredential::builder()
        .environment(AzureEnvironment::from_vars(vars(&env, &[])))
        .http_client(Arc::clone(&env.transport))
        .exclude(CredentialKind::ManagedIdentity)
        .build()
        .expect("builds");
    assert!(no_mi.kinds().is_empty());
    let e = no_mi
        .acquire_token(&[VAULT_SCOPE])
        .await
        .expect_err("nothing to try");
    assert!(e.to_string().contains("not configured"), "{e}");
}

#[tokio::test]
async fn a_failing_chain_names_every_credential_it_tried() {
    let env = Env::start().await;
    let dir = Scratch::new("fail");
    let token = federated_token(&env, "system:serviceaccount:default:stranger", None).await;
    let file = dir.write("token", &token);
    // A port nothing listens on, for IMDS: refused at once.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let credential = DefaultCredential::builder()
        .environment(AzureEnvironment::from_vars([
            ("AZURE_TENANT_ID", seeds::CONTOSO_TENANT_ID.to_owned()),
            ("AZURE_CLIENT_ID", seeds::WORKLOAD_APP_CLIENT_ID.to_owned()),
            ("AZURE_CLIENT_SECRET", "not-the-secret".to_owned()),
            (
                "AZURE_FEDERATED_TOKEN_FILE",
                file.to_string_lossy().into_owned(),
            ),
            ("AZURE_AUTHORITY_HOST", AUTHORITY_HOST.to_owned()),
            (
                "AZURE_POD_IDENTITY_AUTHORITY_HOST",
                format!("http://127.0.0.1:{closed}"),
            ),
        ]))
        .http_client(Arc::clone(&env.transport))
        .build()
        .expect("builds");
    let e = credential
        .acquire_token(&[VAULT_SCOPE])
        .await
        .expect_err("every credential fails");
    assert_eq!(e.kind(), ErrorKind::Credential);
    let message = e.to_string();
    let positions: Vec<usize> = [
        "environment (client secret) failed",
        "workload identity failed",
        "managed identity (IMDS) failed",
    ]
    .iter()
    .map(|needle| {
        message
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} in {message}"))
    })
    .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{message}");
    assert!(!message.contains("not-the-secret"), "{message}");
    let failure = std::error::Error::source(&e)
        .and_then(|s| s.downcast_ref::<ChainFailure>())
        .expect("the chain's failure is the source");
    let kinds: Vec<CredentialKind> = failure.attempts.iter().map(|a| a.kind).collect();
    assert_eq!(
        kinds,
        [
            CredentialKind::ClientSecret,
            CredentialKind::WorkloadIdentity,
            CredentialKind::ManagedIdentity
        ]
    );
    assert!(failure.attempts[0].error.is_invalid_client());
    assert!(failure.not_configured.is_empty());
    assert_eq!(credential.selected(), None);

    // With only managed identity present, the message says what was not configured.
    let bare = DefaultCredential::builder()
        .environment(AzureEnvironment::from_vars([(
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            format!("http://127.0.0.1:{closed}"),
        )]))
        .http_client(Arc::clone(&env.transport))
        .build()
        .expect("builds");
    let e = bare
        .acquire_token(&[VAULT_SCOPE])
        .await
        .expect_err("no IMDS");
    let message = e.to_string();
    assert!(message.contains("not configured: environment"), "{message}");
    assert!(message.contains("AZURE_FEDERATED_TOKEN_FILE"), "{message}");
}
