//! Username/password sign-in of a federated user (Frank, domain `fed.example`) through the
//! public API against the emulator over real HTTPS: user realm discovery answers `Federated`,
//! msal-core reads the federation server's WS-MetadataExchange document, sends a WS-Trust 1.3
//! (or 2005) request with the password, and redeems the SAML assertion with the SAML bearer
//! grant, as MSAL Python 1.39 does (msal/application.py
//! `_acquire_token_by_username_password_federated`).

mod support;

use base64::Engine as _;
use msal_core::{Authority, ErrorKind, TokenCache, TokenSource};
use msal_tests::emulator::model::{FaultMatch, FaultRule};
use msal_tests::emulator::{RecordedRequest, seeds, wstrust};
use support::Env;

const USER_READ: &str = "https://graph.microsoft.com/User.Read";
const SAML2_GRANT: &str = "urn:ietf:params:oauth:grant-type:saml2-bearer";
const SAML11_GRANT: &str = "urn:ietf:params:oauth:grant-type:saml1_1-bearer";

fn field<'a>(r: &'a RecordedRequest, name: &str) -> Option<&'a str> {
    r.form
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn header<'a>(r: &'a RecordedRequest, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The requests the federation server received.
async fn federation_requests(env: &Env) -> Vec<RecordedRequest> {
    env.emulator
        .admin()
        .requests()
        .await
        .expect("admin: requests")
        .into_iter()
        .filter(|r| r.host == seeds::FEDERATION_HOST)
        .collect()
}

fn frank_app(env: &Env, cache: Option<TokenCache>) -> msal_core::PublicClient {
    env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        cache,
        None,
    )
}

/// Serves `body` (once) in place of the federation server's answer at `path`.
async fn serve_instead(env: &Env, path: &str, status: u16, body: String) {
    env.emulator
        .admin()
        .add_fault(&FaultRule {
            matches: FaultMatch {
                host: Some(seeds::FEDERATION_HOST.into()),
                path_contains: Some(path.into()),
                ..Default::default()
            },
            status: Some(status),
            body: Some(body),
            content_type: Some("application/soap+xml; charset=utf-8".into()),
            ..Default::default()
        })
        .await
        .expect("admin: fault");
}

#[tokio::test]
async fn a_federated_user_signs_in_over_ws_trust_13_with_a_saml2_assertion() {
    let env = Env::start().await;
    let cache = TokenCache::new();
    let app = frank_app(&env, Some(cache.clone()));
    let result = app
        .acquire_token_by_username_password(
            seeds::FRANK_USERNAME,
            seeds::FRANK_PASSWORD,
            [USER_READ],
        )
        .await
        .expect("Frank signs in through his federation server");
    assert_eq!(result.source(), TokenSource::IdentityProvider);
    let account = result.account().expect("an account").clone();
    assert_eq!(account.username(), seeds::FRANK_USERNAME);
    assert_eq!(account.local_account_id(), seeds::FRANK_OID);

    // The MEX document, then the WS-Trust 1.3 endpoint (preferred over 2005).
    let fed = federation_requests(&env).await;
    assert_eq!(fed.len(), 2, "{fed:#?}");
    assert_eq!(
        (fed[0].method.as_str(), fed[0].path.as_str()),
        ("GET", "/adfs/services/trust/mex")
    );
    assert_eq!(
        (fed[1].method.as_str(), fed[1].path.as_str()),
        ("POST", "/adfs/services/trust/13/usernamemixed")
    );
    assert_eq!(
        header(&fed[1], "soapaction"),
        Some("http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue")
    );
    assert!(
        header(&fed[1], "content-type").is_some_and(|c| c.starts_with("application/soap+xml")),
        "{:?}",
        fed[1].headers
    );
    assert_eq!(fed[1].status, 200);

    // The token request: the SAML 2.0 bearer grant with the assertion, base64url unpadded.
    let token = env.token_requests().await;
    assert_eq!(token.len(), 1);
    let t = &token[0];
    assert_eq!(field(t, "grant_type"), Some(SAML2_GRANT));
    assert_eq!(field(t, "password"), None);
    assert_eq!(field(t, "username"), None);
    assert_eq!(header(t, "x-anchormailbox"), None);
    let assertion = field(t, "assertion").expect("an assertion");
    assert!(!assertion.contains('='));
    let xml = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(assertion)
        .expect("base64url");
    let xml = String::from_utf8(xml).expect("UTF-8");
    assert!(
        xml.starts_with("<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\""),
        "{xml}"
    );
    assert!(xml.contains(seeds::FRANK_USERNAME));
    assert!(field(t, "scope").is_some_and(|s| s.contains(USER_READ)));

    // The account is cached: a silent call is served from the cache.
    let again = app
        .acquire_token_silent([USER_READ], &account)
        .await
        .expect("silent");
    assert_eq!(again.source(), TokenSource::Cache);
    let accounts = app.accounts().await.expect("accounts");
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].username(), seeds::FRANK_USERNAME);
}

#[tokio::test]
async fn a_mex_with_only_ws_trust_2005_gets_a_saml11_assertion() {
    let env = Env::start().await;
    serve_instead(&env, "/trust/mex", 200, wstrust::mex_document(false, true)).await;
    let result = frank_app(&env, None)
        .acquire_token_by_username_password(
            seeds::FRANK_USERNAME,
            seeds::FRANK_PASSWORD,
            [USER_READ],
        )
        .await
        .expect("Frank signs in over WS-Trust 2005");
    assert_eq!(
        result.account().map(|a| a.local_account_id()),
        Some(seeds::FRANK_OID)
    );
    let fed = federation_requests(&env).await;
    assert_eq!(fed.len(), 2, "{fed:#?}");
    assert_eq!(fed[1].path, "/adfs/services/trust/2005/usernamemixed");
    assert_eq!(
        header(&fed[1], "soapaction"),
        Some("http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue")
    );
    let token = env.token_requests().await;
    assert_eq!(token.len(), 1);
    assert_eq!(field(&token[0], "grant_type"), Some(SAML11_GRANT));
    let xml = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(field(&token[0], "assertion").expect("assertion"))
        .expect("base64url");
    assert!(String::from_utf8_lossy(&xml).contains("urn:oasis:names:tc:SAML:1.0:assertion"));
}

#[tokio::test]
async fn a_wrong_password_is_the_federation_servers_fault_as_invalid_grant() {
    let env = Env::start().await;
    let e = frank_app(&env, None)
        .acquire_token_by_username_password(seeds::FRANK_USERNAME, "wrong-password", [USER_READ])
        .await
        .expect_err("a wrong password");
    assert_eq!(e.kind(), ErrorKind::Service);
    let s = e.service().expect("service fields");
    assert_eq!(s.error, "invalid_grant");
    let description = s.error_description.as_deref().unwrap_or_default();
    assert!(
        description.contains("FailedAuthentication"),
        "{description}"
    );
    assert!(description.contains("ID3242"), "{description}");
    assert_eq!(e.http_status(), Some(500));
    assert!(!format!("{e} {e:?}").contains("wrong-password"));
    // No token request was sent.
    assert!(env.token_requests().await.is_empty());
}

#[tokio::test]
async fn a_mex_without_a_username_endpoint_or_a_broken_one_is_a_typed_error() {
    let env = Env::start().await;
    let app = frank_app(&env, None);
    let sign_in = || {
        app.acquire_token_by_username_password(
            seeds::FRANK_USERNAME,
            seeds::FRANK_PASSWORD,
            [USER_READ],
        )
    };

    // Only the Windows-integrated endpoint: nothing to send a password to.
    serve_instead(&env, "/trust/mex", 200, wstrust::mex_document(false, false)).await;
    let e = sign_in().await.expect_err("no endpoint");
    assert_eq!(e.kind(), ErrorKind::Discovery, "{e}");

    // Not XML.
    serve_instead(&env, "/trust/mex", 200, "<wsdl:definitions".into()).await;
    let e = sign_in().await.expect_err("malformed MEX");
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");

    // An entity expansion bomb is refused, not expanded.
    let bomb = format!(
        "<!DOCTYPE d [<!ENTITY a \"{}\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;\">]><d>&c;</d>",
        "x".repeat(1000)
    );
    serve_instead(&env, "/trust/mex", 200, bomb).await;
    let e = sign_in().await.expect_err("DTD");
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");

    // An HTTP error.
    serve_instead(&env, "/trust/mex", 404, String::new()).await;
    let e = sign_in().await.expect_err("404");
    assert_eq!(e.kind(), ErrorKind::Discovery, "{e}");
    assert_eq!(e.http_status(), Some(404));

    // A WS-Trust answer with neither token nor fault, and one that is not XML.
    serve_instead(
        &env,
        "/trust/13/usernamemixed",
        200,
        "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Body/></s:Envelope>"
            .into(),
    )
    .await;
    let e = sign_in().await.expect_err("no token");
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
    serve_instead(&env, "/trust/13/usernamemixed", 502, "Bad gateway".into()).await;
    let e = sign_in().await.expect_err("not XML");
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
    assert_eq!(e.http_status(), Some(502));

    assert!(env.token_requests().await.is_empty());
    // After the faults, the real federation server signs Frank in.
    sign_in().await.expect("signs in");
}

#[tokio::test]
async fn a_slow_federation_server_is_bounded_by_the_http_clients_deadline() {
    let env = Env::start().await;
    let client = msal_core::http::ReqwestHttpClient::builder()
        .trust_emulator(&env.emulator.manifest_json())
        .expect("manifest")
        .timeout(std::time::Duration::from_secs(1))
        .build()
        .expect("client");
    let app = msal_core::PublicClient::builder(seeds::PUBLIC_CLIENT_ID)
        .authority(Authority::tenant(seeds::CONTOSO_DOMAIN))
        .http_client(client)
        .build()
        .expect("app");
    env.emulator
        .admin()
        .add_fault(&FaultRule {
            matches: FaultMatch {
                host: Some(seeds::FEDERATION_HOST.into()),
                path_contains: Some("/usernamemixed".into()),
                ..Default::default()
            },
            delay_ms: Some(5_000),
            ..Default::default()
        })
        .await
        .expect("fault");
    let e = app
        .acquire_token_by_username_password(
            seeds::FRANK_USERNAME,
            seeds::FRANK_PASSWORD,
            [USER_READ],
        )
        .await
        .expect_err("a timeout");
    assert_eq!(e.kind(), ErrorKind::Transport, "{e}");
}

#[tokio::test]
async fn the_token_endpoint_refuses_assertions_it_did_not_issue_or_of_the_wrong_version() {
    let env = Env::start().await;
    // A real sign-in, to get a real SAML 2.0 assertion.
    frank_app(&env, None)
        .acquire_token_by_username_password(
            seeds::FRANK_USERNAME,
            seeds::FRANK_PASSWORD,
            [USER_READ],
        )
        .await
        .expect("signs in");
    let issued = field(&env.token_requests().await[0], "assertion")
        .expect("assertion")
        .to_owned();
    let http = env
        .emulator
        .http_client_builder()
        .expect("a client builder")
        .build()
        .expect("a client");
    let url = format!(
        "https://{}/{}/oauth2/v2.0/token",
        seeds::PUBLIC_HOST,
        seeds::CONTOSO_DOMAIN
    );
    let post = |grant: &'static str, assertion: String| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("client_id", seeds::PUBLIC_CLIENT_ID)
                .append_pair("grant_type", grant)
                .append_pair("scope", USER_READ)
                .append_pair("assertion", &assertion)
                .finish();
            let r = http
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .expect("sent");
            let status = r.status().as_u16();
            let bytes = r.bytes().await.expect("a body");
            let json: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
            (status, json)
        }
    };
    // The same assertion again works (a bearer assertion, within its validity).
    let (status, _) = post(SAML2_GRANT, issued.clone()).await;
    assert_eq!(status, 200);
    // The wrong grant for its version.
    let (status, json) = post(SAML11_GRANT, issued.clone()).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // A forged assertion.
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
        "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_forged\" Version=\"2.0\"><saml:Subject><saml:NameID>{}</saml:NameID></saml:Subject></saml:Assertion>",
        seeds::FRANK_USERNAME
    ));
    let (status, json) = post(SAML2_GRANT, forged).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // Not base64.
    let (status, _) = post(SAML2_GRANT, "!!!".into()).await;
    assert_eq!(status, 400);
}
