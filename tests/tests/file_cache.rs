//! The token cache persisted in a file (msal-cache-file) through the public API, against the
//! emulator: tokens written in MSAL's format and shared between caches (processes), a corrupt
//! file reported without losing data, and sign-out honoured by every writer.

mod support;

use std::time::Duration;

use msal_cache_file::FileCache;
use msal_core::cache::CacheOptions;
use msal_core::{Authority, ClientCredential, ErrorKind, TokenCache, TokenSource};
use msal_tests::emulator::seeds;
use support::{Env, GRAPH_DEFAULT};

const USER_READ: &str = "https://graph.microsoft.com/User.Read";

fn file_cache(path: &std::path::Path) -> TokenCache {
    TokenCache::with_store_options(
        FileCache::new(path),
        CacheOptions::default().max_staleness(Duration::ZERO),
    )
}

#[tokio::test]
async fn tokens_persist_in_msal_format_and_are_shared_between_processes() {
    let env = Env::start().await;
    let dir = tempfile_dir();
    let path = dir.join("msal_token_cache.json");
    let first = env.app(
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret(seeds::SECRET_APP_SECRET),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(file_cache(&path)),
        None,
    );
    let r = first
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    assert_eq!(r.source(), TokenSource::IdentityProvider);
    let text = std::fs::read_to_string(&path).expect("the file exists");
    let json: serde_json::Value = serde_json::from_str(&text).expect("MSAL JSON");
    assert_eq!(json["AccessToken"].as_object().map(|m| m.len()), Some(1));
    assert!(
        text.starts_with("{\n    \"AccessToken\""),
        "indented like MSAL Python"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    // Another process (another cache over the same file) finds the token: no request.
    let second = env.app(
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret(seeds::SECRET_APP_SECRET),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(file_cache(&path)),
        None,
    );
    let r2 = second
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    assert_eq!(r2.source(), TokenSource::Cache);
    assert_eq!(r2.access_token().secret(), r.access_token().secret());
    assert_eq!(env.token_requests().await.len(), 1);

    // A write by the second is seen by the first (another tenant).
    second
        .acquire_token_for_client(GRAPH_DEFAULT)
        .tenant(seeds::FABRIKAM_DOMAIN)
        .await
        .expect("token");
    let r3 = first
        .acquire_token_for_client(GRAPH_DEFAULT)
        .tenant(seeds::FABRIKAM_DOMAIN)
        .await
        .expect("token");
    assert_eq!(r3.source(), TokenSource::Cache);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_corrupt_file_is_a_typed_error_and_destroys_nothing() {
    let env = Env::start().await;
    let dir = tempfile_dir();
    let path = dir.join("cache.json");
    let cache = file_cache(&path);
    let app = env.app(
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret(seeds::SECRET_APP_SECRET),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(cache.clone()),
        None,
    );
    let good = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    std::fs::write(&path, b"{\"AccessToken\": {\"truncated").expect("corrupt it");
    let e = cache.sync().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Cache);
    assert!(e.to_string().contains("corrupt"), "{e}");
    // Acquisitions go on: memory still holds the last good token.
    let r = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("still served");
    assert_eq!(r.access_token().secret(), good.access_token().secret());
    // A write does not overwrite the corrupt file (someone may want to look at it).
    app.acquire_token_for_client(GRAPH_DEFAULT)
        .tenant(seeds::FABRIKAM_DOMAIN)
        .await
        .expect("the token is still returned");
    assert_eq!(
        std::fs::read(&path).expect("file"),
        b"{\"AccessToken\": {\"truncated".to_vec()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn sign_out_stays_signed_out_for_a_writer_holding_an_older_copy() {
    let env = Env::start().await;
    let dir = tempfile_dir();
    let path = dir.join("cache.json");
    // Two processes of the same CLI share the file; the second has an old view (30 s).
    let a = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(TokenCache::with_store(FileCache::new(&path))),
        None,
    );
    let b = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(TokenCache::with_store(FileCache::new(&path))),
        None,
    );
    let r = a
        .acquire_token_by_username_password(
            seeds::ALICE_USERNAME,
            seeds::ALICE_PASSWORD,
            [USER_READ],
        )
        .await
        .expect("signed in");
    let account = r.account().expect("account").clone();
    assert_eq!(b.accounts().await.expect("accounts"), vec![account.clone()]);
    // B signs the user out.
    b.remove_account(&account).await.expect("removed");
    let on_disk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("file")).expect("json");
    for section in ["AccessToken", "RefreshToken", "IdToken", "Account"] {
        assert_eq!(
            on_disk[section].as_object().map(|m| m.len()).unwrap_or(0),
            0,
            "{section} left after sign-out"
        );
    }
    // A still holds the account in memory; its next write (another client-credentials token
    // or a forced refresh) must not bring the user back.
    let e = a
        .acquire_token_silent([USER_READ], &account)
        .force_refresh(true)
        .await
        .unwrap_err();
    assert!(e.is_interaction_required(), "{e:?}");
    a.acquire_token_by_username_password(seeds::BOB_USERNAME, seeds::BOB_PASSWORD, [USER_READ])
        .tenant(seeds::FABRIKAM_DOMAIN)
        .await
        .expect("another user signs in through A");
    let on_disk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("file")).expect("json");
    let accounts: Vec<String> = on_disk["Account"]
        .as_object()
        .map(|m| {
            m.values()
                .filter_map(|a| a["username"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        accounts,
        vec![seeds::BOB_USERNAME.to_owned()],
        "alice stays signed out"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "msal-rs-file-cache-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&d).expect("dir");
    d
}
