//! The Azure SDK for Rust with an msal-rs credential: a Key Vault secrets client whose tokens
//! come from `DefaultCredential` (here workload identity: `AZURE_FEDERATED_TOKEN_FILE`), shared
//! by several SDK clients through msal-rs's cache.
//!
//! Environment: azure-identity's variables (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, and
//! `AZURE_CLIENT_SECRET`, `AZURE_CLIENT_CERTIFICATE_PATH` or `AZURE_FEDERATED_TOKEN_FILE`; or
//! none, on Azure, for managed identity) and `AZURE_KEYVAULT_URL`. `cargo xtask demo` runs it
//! against the local emulator's vault (`https://contoso.vault.azure.net`) as an AKS pod would.
//! Needs the feature `azure`: `cargo run -p msal-core --features azure --example azure_sdk`.

#[allow(dead_code)] // each example uses some of it
mod common;

use std::sync::Arc;
use std::time::Instant;

use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientOptions, Transport};
use azure_security_keyvault_secrets::models::SetSecretParameters;
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};
use msal_core::environment::DefaultCredential;
use msal_core::{Error, ErrorKind};

/// The SDK's HTTP client: with `MSAL_EMULATOR_MANIFEST` set, the vault's host resolves to the
/// emulator and only its test CA is trusted; otherwise the default reqwest client.
fn sdk_transport() -> msal_core::Result<Transport> {
    let config = |m: String| Error::new(ErrorKind::Configuration, m);
    let mut builder = reqwest::Client::builder();
    if let Ok(manifest) = std::env::var("MSAL_EMULATOR_MANIFEST") {
        let m: serde_json::Value =
            serde_json::from_str(&manifest).map_err(|e| config(format!("manifest: {e}")))?;
        let addr: std::net::SocketAddr = m["https_addr"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| config("manifest: https_addr".into()))?;
        let ca =
            reqwest::Certificate::from_pem(m["ca_pem"].as_str().unwrap_or_default().as_bytes())
                .map_err(|e| config(format!("manifest: ca_pem: {e}")))?;
        builder = builder.tls_certs_only([ca]).no_proxy();
        for host in m["hosts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|h| h.as_str())
        {
            builder = builder.resolve(host, addr);
        }
    }
    let client = builder
        .build()
        .map_err(|e| config(format!("the SDK's HTTP client: {e}")))?;
    Ok(Transport::new(Arc::new(client)))
}

fn sdk_error(e: azure_core::Error) -> Error {
    Error::with_source(ErrorKind::Transport, format!("Key Vault: {e}"), e)
}

#[tokio::main]
async fn main() -> msal_core::Result<()> {
    let vault = common::env("AZURE_KEYVAULT_URL")?;
    let chain = DefaultCredential::builder()
        .http_client(common::http_client()?)
        .build()?;
    println!("credential chain: {:?}", chain.kinds());
    let credential: Arc<dyn TokenCredential> = Arc::new(chain.clone());
    let client = |credential: Arc<dyn TokenCredential>| -> msal_core::Result<SecretClient> {
        let options = SecretClientOptions {
            client_options: ClientOptions {
                transport: Some(sdk_transport()?),
                ..Default::default()
            },
            ..Default::default()
        };
        SecretClient::new(&vault, credential, Some(options)).map_err(sdk_error)
    };

    let t = Instant::now();
    let params = SetSecretParameters {
        value: Some("s3cr3t from msal-rs".into()),
        ..Default::default()
    };
    client(Arc::clone(&credential))?
        .set_secret("demo-secret", params.try_into().map_err(sdk_error)?, None)
        .await
        .map_err(sdk_error)?;
    println!(
        "  {:<48} {:>9.3} ms  credential={:?}",
        "set a secret (challenge, token, PUT)",
        t.elapsed().as_secs_f64() * 1000.0,
        chain.selected()
    );
    // Five SDK clients (as five services of one process would make): each asks the credential
    // once; msal-rs answers all but the first from its cache.
    for i in 1..=5 {
        let t = Instant::now();
        let secret = client(Arc::clone(&credential))?
            .get_secret("demo-secret", None)
            .await
            .map_err(sdk_error)?
            .into_model()
            .map_err(sdk_error)?;
        println!(
            "  {:<48} {:>9.3} ms  value={:?}",
            format!("SDK client {i}: get the secret"),
            t.elapsed().as_secs_f64() * 1000.0,
            secret.value.unwrap_or_default()
        );
    }
    Ok(())
}
