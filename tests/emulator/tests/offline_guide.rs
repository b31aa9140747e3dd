//! The guide "Test your app offline" (README.md): a user's own integration test against the
//! emulator, through the public APIs of msal-core and msal-emulator only. The README shows the
//! part between the `guide` markers verbatim; `the_readme_shows_this_guide` checks the copy.

// guide:start
use std::time::Duration;

use msal_core::clock::ManualClock;
use msal_core::http::ReqwestHttpClient;
use msal_core::{
    Authority, ClientCredential, ConfidentialClient, DangerousOptions, ErrorKind, PublicClient,
    TokenSource,
};
use msal_emulator::{
    AppRegistration, Emulator, EmulatorConfig, FaultMatch, FaultRule, UserRegistration,
};

const TENANT: &str = "contoso.onmicrosoft.com";
const DAEMON_ID: &str = "11111111-2222-4333-8444-555555555555";
const CLI_ID: &str = "66666666-7777-4888-8999-000000000000";
const USER: &str = "carol@contoso.onmicrosoft.com";

#[tokio::test]
async fn my_app_signs_in_against_the_emulator() -> anyhow::Result<()> {
    // 1. Start the emulator in this process (shut down when dropped).
    let emu = Emulator::start(EmulatorConfig::default()).await?;
    let admin = emu.admin();

    // 2. Register your apps and a user through the admin API.
    let daemon_app = AppRegistration {
        client_id: DAEMON_ID.into(),
        secrets: vec!["test-secret".into()],
        ..Default::default()
    };
    admin.register_app(&daemon_app).await?;
    let cli_app = AppRegistration {
        client_id: CLI_ID.into(),
        public_client: true,
        ..Default::default()
    };
    admin.register_app(&cli_app).await?;
    let user = UserRegistration {
        tenant: TENANT.into(),
        username: USER.into(),
        ..Default::default()
    };
    admin.add_user(&user).await?;

    // 3. One step: Microsoft's host names resolve to the emulator, only its CA is trusted.
    let http = ReqwestHttpClient::builder()
        .trust_emulator(&emu.manifest_json())?
        .build()?;

    // 4. A daemon: client credentials.
    let daemon = ConfidentialClient::builder(DAEMON_ID, ClientCredential::secret("test-secret"))
        .authority(Authority::tenant(TENANT))
        .http_client(http.clone())
        .build()?;
    let graph = "https://graph.microsoft.com/.default";
    let token = daemon.acquire_token_for_client(graph).await?;
    assert_eq!(token.source(), TokenSource::IdentityProvider);

    // 5. A user signs in with a device code; the admin API plays the user.
    let clock = ManualClock::new(); // your app's clock, moved in step 7
    let cli = PublicClient::builder(CLI_ID)
        .authority(Authority::tenant(TENANT))
        .http_client(http.clone())
        .dangerous(DangerousOptions::new().clock(clock.clone()))
        .build()?;
    let flow = cli.device_code_flow(["User.Read"]).initiate().await?;
    admin
        .approve_device_code(flow.user_code(), Some(USER))
        .await?;
    let signed_in = flow.poll(&cli).await?;
    let account = signed_in.account().cloned().expect("Carol signed in");
    assert_eq!(account.username(), USER);

    // 6. Inject a fault: the next token request gets 503 with Retry-After.
    admin
        .add_fault(&FaultRule {
            matches: FaultMatch {
                path_contains: Some("/oauth2/v2.0/token".into()),
                ..Default::default()
            },
            status: Some(503),
            retry_after: Some("30".into()),
            json: Some(serde_json::json!({"error": "temporarily_unavailable"})),
            ..Default::default()
        })
        .await?;
    let err = daemon
        .acquire_token_for_client(graph)
        .force_refresh(true)
        .await
        .expect_err("the emulator answered 503");
    assert_eq!(err.kind(), ErrorKind::Service);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));

    // 7. Two hours later (both clocks): the access token has expired, the refresh token works.
    clock.advance(Duration::from_secs(2 * 3600));
    admin.advance_clock(2.0 * 3600.0).await?;
    let later = cli.acquire_token_silent(["User.Read"], &account).await?;
    assert_eq!(later.source(), TokenSource::IdentityProvider);
    Ok(())
}
// guide:end

/// The README shows the guide above verbatim.
#[test]
fn the_readme_shows_this_guide() {
    let this = include_str!("offline_guide.rs");
    let start = this.find("// guide:start\n").expect("start marker") + "// guide:start\n".len();
    let end = this.find("// guide:end").expect("end marker");
    let guide = &this[start..end];
    let readme = include_str!("../README.md");
    assert!(
        readme.contains(&format!("```rust,ignore\n{guide}```")),
        "README.md must show tests/offline_guide.rs between its guide markers, verbatim, in a \
         ```rust,ignore block"
    );
}
