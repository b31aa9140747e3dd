//! What the examples share: the APIs they call, declared once as types; reaching the local
//! emulator when `cargo xtask demo` runs them; printing steps.
//!
//! Against the real Entra ID none of this is needed: `ReqwestHttpClient::new()` (the default)
//! uses the platform trust store and DNS.

use std::net::SocketAddr;
use std::time::Instant;

use msal_core::http::ReqwestHttpClient;
use msal_core::{AuthenticationResult, Error, ErrorKind, Resource, Result};

/// Microsoft Graph, declared once: a misspelt scope or a resource URI that does not parse is a
/// compile error, and `Graph::default_scope()` is a static, pre-normalised scope set.
#[derive(Resource, Debug, Clone, Copy, PartialEq, Eq)]
#[resource("https://graph.microsoft.com")]
#[allow(dead_code)] // each example uses some of it
pub(crate) enum Graph {
    /// Sign in and read the user's profile.
    #[scope("User.Read")]
    UserRead,
    /// Read the user's mail.
    #[scope("Mail.Read")]
    MailRead,
}

/// A required environment variable.
pub(crate) fn env(name: &str) -> Result<String> {
    std::env::var(name).map_err(|_| {
        Error::new(
            ErrorKind::Configuration,
            format!("set {name} (cargo xtask demo does)"),
        )
    })
}

/// The HTTP client: with `MSAL_EMULATOR_MANIFEST` set (the line `msal-emulator` printed),
/// Microsoft's host names resolve to the local emulator and only its test CA is trusted
/// (`ReqwestHttpClient::builder().trust_emulator`, the one step a user's own tests take).
pub(crate) fn http_client() -> Result<ReqwestHttpClient> {
    let builder = ReqwestHttpClient::builder();
    match std::env::var("MSAL_EMULATOR_MANIFEST") {
        Ok(manifest) => builder.trust_emulator(&manifest)?.build(),
        Err(_) => builder.build(),
    }
}

/// Prints one step's outcome: where the token came from, how long it took.
pub(crate) fn report(step: &str, started: Instant, r: &AuthenticationResult) {
    println!(
        "  {step:<48} {:>9.3} ms  source={:?}  scopes=\"{}\"  tenant={}",
        started.elapsed().as_secs_f64() * 1000.0,
        r.source(),
        r.scopes(),
        r.tenant(),
    );
}

/// A plain HTTP client standing in for the user's browser in the demo (the same emulator
/// routing as [`http_client`], from the manifest); it never follows redirects, as the demo
/// reads them itself.
#[allow(dead_code)]
pub(crate) fn browser() -> Result<reqwest::Client> {
    let mut b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    if let Ok(line) = std::env::var("MSAL_EMULATOR_MANIFEST") {
        let bad = |what: &str| Error::new(ErrorKind::Configuration, format!("manifest: {what}"));
        let manifest: serde_json::Value =
            serde_json::from_str(&line).map_err(|_| bad("not JSON"))?;
        let addr: SocketAddr = manifest["https_addr"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .filter(|a: &SocketAddr| a.ip().is_loopback())
            .ok_or_else(|| bad("https_addr is not a loopback host:port"))?;
        for host in manifest["hosts"].as_array().into_iter().flatten() {
            if let Some(h) = host.as_str() {
                b = b.resolve(h, addr);
            }
        }
        let pem = manifest["ca_pem"].as_str().ok_or_else(|| bad("ca_pem"))?;
        let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
            .map_err(|e| Error::with_source(ErrorKind::Configuration, "bad CA", e))?;
        b = b.tls_certs_only(certs).no_proxy();
    }
    b.build()
        .map_err(|e| Error::with_source(ErrorKind::Configuration, "browser client", e))
}

/// Demo only: moves the emulator's clock forward (the local emulator can do that; Entra ID
/// cannot), so a token can be shown expiring without waiting an hour.
#[allow(dead_code)]
pub(crate) async fn advance_emulator_clock(secs: u64) -> Result<()> {
    let admin = env("MSAL_EMULATOR_ADMIN")?;
    let url = format!("{}/admin/clock", admin.trim_end_matches('/'));
    if !url.starts_with("http://127.0.0.1:") {
        return Err(Error::new(
            ErrorKind::Configuration,
            "the emulator admin API must be on loopback",
        ));
    }
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(serde_json::json!({ "advance": secs }).to_string())
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| Error::with_source(ErrorKind::Transport, "emulator admin API", e))?;
    Ok(())
}
