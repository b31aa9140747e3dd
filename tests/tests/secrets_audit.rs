//! The secrets audit: every flow runs with tracing at TRACE (our spans and events, and the
//! `log` records of reqwest, hyper and rustls), with secrets full of `+/=&%`; then the captured
//! output and the `Debug`/`Display` of every value a user can print are scanned for each
//! secret in raw, form-encoded, percent-encoded and base64 forms. Covers client credentials
//! (central and regional), certificates, assertions, on-behalf-of and a proxy with credentials.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use msal_core::http::ReqwestHttpClient;
use msal_core::{
    Authority, AzureRegion, ClientCredential, ConfidentialClient, DangerousOptions, ErrorKind,
    TokenCache,
};
use msal_tests::emulator::{AppRegistration, UserTokenRequest, seeds};
use support::{Env, GRAPH_DEFAULT};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every spelling a secret could leak in.
fn forms(secret: &str) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let pct: String = secret
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let mut v = vec![
        secret.to_owned(),
        form,
        pct.clone(),
        pct.to_lowercase(),
        STANDARD.encode(secret),
        STANDARD_NO_PAD.encode(secret),
        URL_SAFE.encode(secret),
        URL_SAFE_NO_PAD.encode(secret),
    ];
    v.sort();
    v.dedup();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_logs_debug_or_errors() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()
        .expect("the only subscriber of this test binary");

    let env = Env::start().await;
    let admin = env.emulator.admin();
    let special_secret = "Zq+/=&%~ secret+with/every=odd&char%20".to_owned();
    admin
        .register_app(&AppRegistration {
            client_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee".into(),
            secrets: vec![special_secret.clone()],
            ..Default::default()
        })
        .await
        .expect("register");

    let mut printed: Vec<String> = Vec::new();
    let mut secrets: Vec<String> = vec![
        special_secret.clone(),
        seeds::SECRET_APP_SECRET.to_owned(),
        seeds::MIDDLE_TIER_SECRET.to_owned(),
        seeds::APP_KEY_PASSPHRASE.to_owned(),
        "wr+ng/=&%secret".to_owned(),
    ];
    // A line of each private key's base64 body.
    for pem in [
        seeds::APP_KEY_PKCS8_PEM,
        seeds::APP_KEY_PKCS1_PEM,
        seeds::APP_KEY_ENCRYPTED_PEM,
    ] {
        secrets.extend(
            pem.lines()
                .filter(|l| l.len() == 64)
                .take(2)
                .map(str::to_owned),
        );
    }

    // 1. Client credentials with a secret of odd characters: network, cache hit, claims, tenant override.
    let cache = TokenCache::new();
    let app = env.app(
        "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        ClientCredential::secret(&special_secret),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(cache.clone()),
        None,
    );
    printed.push(format!("{app:?}"));
    let builder = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .claims(r#"{"access_token":{"nbf":{"essential":true}}}"#)
        .extra_body("fmi_path", "x/y");
    printed.push(format!("{builder:?}"));
    for r in [
        app.acquire_token_for_client(GRAPH_DEFAULT).await,
        app.acquire_token_for_client(GRAPH_DEFAULT).await,
        builder.await,
        app.acquire_token_for_client(GRAPH_DEFAULT)
            .tenant(seeds::FABRIKAM_DOMAIN)
            .await,
    ] {
        let r = r.expect("token");
        secrets.push(r.access_token().secret().to_owned());
        printed.push(format!("{r:?}"));
        printed.push(format!("{:?}", r.access_token()));
    }
    printed.push(format!("{cache:?}"));

    // 2. Failures that carry a secret: a wrong secret, a wrong passphrase, a failing callback.
    let wrong = env.app(
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret("wr+ng/=&%secret"),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    );
    let e = wrong
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .unwrap_err();
    printed.push(format!("{e:?}"));
    printed.push(e.to_string());
    let e = ClientCredential::certificate_pem_encrypted(
        seeds::APP_KEY_ENCRYPTED_PEM,
        seeds::APP_CERT_PEM,
        "p@ss+/=&%wrong",
    )
    .unwrap_err();
    secrets.push("p@ss+/=&%wrong".into());
    printed.push(format!("{e:?}"));
    printed.push(e.to_string());

    // 3. Certificates: an encrypted key with its passphrase; an assertion callback.
    let cert = ClientCredential::certificate_pem_encrypted(
        seeds::APP_KEY_ENCRYPTED_PEM,
        seeds::APP_CERT_PEM,
        seeds::APP_KEY_PASSPHRASE,
    )
    .expect("decrypts");
    printed.push(format!("{cert:?}"));
    let cert_app = env.app(
        seeds::CERT_APP_CLIENT_ID,
        cert,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    );
    let r = cert_app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    secrets.push(r.access_token().secret().to_owned());
    printed.push(format!("{cert_app:?}"));
    let recorded = env.token_requests().await;
    let assertion = recorded
        .iter()
        .rev()
        .find_map(|p| p.form_value("client_assertion"))
        .expect("an assertion")
        .to_owned();
    secrets.push(assertion.clone());
    let callback = ClientCredential::assertion_callback(move |_ctx| {
        let a = assertion.clone();
        async move { Ok(a) }
    });
    printed.push(format!("{callback:?}"));
    let cb_app = env.app(
        seeds::CERT_APP_CLIENT_ID,
        callback,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    );
    let r = cb_app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    secrets.push(r.access_token().secret().to_owned());
    printed.push(format!("{r:?}"));

    // 4. On-behalf-of: the user's token in, a user token, a refresh token and an ID token out.
    let obo_cache = TokenCache::new();
    let api = env.app(
        seeds::MIDDLE_TIER_CLIENT_ID,
        ClientCredential::secret(seeds::MIDDLE_TIER_SECRET),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(obo_cache.clone()),
        None,
    );
    let user = admin
        .mint_user_token(&UserTokenRequest {
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
    secrets.push(user.clone());
    let obo = api.acquire_token_on_behalf_of(&user, ["https://graph.microsoft.com/User.Read"]);
    printed.push(format!("{obo:?}"));
    let r = obo.await.expect("obo");
    secrets.push(r.access_token().secret().to_owned());
    printed.push(format!("{r:?}"));
    printed.push(format!("{:?}", r.account()));
    printed.push(format!("{:?}", r.id_token()));
    let r = api
        .acquire_token_on_behalf_of(&user, ["https://graph.microsoft.com/User.Read"])
        .await
        .expect("hit");
    printed.push(format!("{r:?}"));
    let e = api
        .acquire_token_on_behalf_of(
            format!("{user}x"),
            ["https://graph.microsoft.com/User.Read"],
        )
        .await
        .unwrap_err();
    printed.push(format!("{e:?}"));
    printed.push(e.to_string());
    // The refresh and ID tokens live in the cache (by design) and nowhere else.
    let json: serde_json::Value =
        serde_json::from_str(&obo_cache.serialize().expect("json")).expect("json");
    for section in ["RefreshToken", "IdToken"] {
        for entry in json[section].as_object().expect("section").values() {
            secrets.push(entry["secret"].as_str().expect("secret").to_owned());
        }
    }
    printed.push(format!("{obo_cache:?}"));

    // 5. Transport: a proxy URL with credentials (a proxy that refuses them), and client
    //    credentials sent to a regional endpoint found through IMDS.
    let proxy_secret = "pr0xy+/=&%pass";
    secrets.push(proxy_secret.to_owned());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let proxy_addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n",
                )
                .await;
        }
    });
    let encoded: String = url::form_urlencoded::byte_serialize(proxy_secret.as_bytes()).collect();
    let mut http = ReqwestHttpClient::builder()
        .add_root_certificate_pem(env.emulator.ca_pem())
        .only_added_roots(true)
        .proxy(format!("http://user:{encoded}@{proxy_addr}"));
    for h in env.emulator.hosts() {
        http = http.resolve(*h, env.emulator.https_addr());
    }
    printed.push(format!("{http:?}"));
    let http = http.build().expect("the client builds");
    printed.push(format!("{http:?}"));
    let proxied = ConfidentialClient::builder(
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret(seeds::SECRET_APP_SECRET),
    )
    .authority(Authority::tenant(seeds::CONTOSO_DOMAIN))
    .http_client(http)
    .build()
    .expect("builds");
    printed.push(format!("{proxied:?}"));
    let e = proxied
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport, "the proxy refused: {e}");
    printed.push(format!("{e:?}"));
    printed.push(e.to_string());
    let regional = ConfidentialClient::builder(
        "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        ClientCredential::secret(&special_secret),
    )
    .authority(Authority::tenant(seeds::CONTOSO_DOMAIN))
    .http_client(Arc::clone(&env.transport))
    .azure_region(AzureRegion::AutoDetect)
    .dangerous(DangerousOptions::new().imds_endpoint(env.emulator.imds_url()))
    .build()
    .expect("builds");
    printed.push(format!("{regional:?}"));
    let r = regional
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    secrets.push(r.access_token().secret().to_owned());
    printed.push(format!("{r:?}"));
    assert_eq!(
        env.token_requests().await.pop().map(|p| p.host),
        Some("westus2.login.microsoft.com".to_owned())
    );

    let logs =
        String::from_utf8_lossy(&capture.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned();
    assert!(
        logs.contains("sending token request"),
        "TRACE output was captured"
    );
    assert!(
        logs.lines().count() > 50,
        "TRACE output includes the dependencies' records"
    );
    let haystack = format!("{logs}\n{}", printed.join("\n"));
    let mut leaks = Vec::new();
    for s in &secrets {
        for f in forms(s) {
            if f.len() >= 6 && haystack.contains(&f) {
                leaks.push(format!(
                    "{}… as {}…",
                    &s[..s.len().min(8)],
                    &f[..f.len().min(12)]
                ));
            }
        }
    }
    assert!(leaks.is_empty(), "secrets leaked: {leaks:?}");
    assert!(
        secrets.len() >= 20,
        "the audit covered every kind of secret ({})",
        secrets.len()
    );
}
