//! Emulator: the user sign-in side. Authorize (query, fragment, form_post, PKCE, state, nonce,
//! prompt, consent), the authorization code, refresh token (rotation, revocation, FOCI),
//! password and device code grants, user realm, and the B2C, ADFS and CIAM specifics.

mod emulator_support;

use std::collections::HashMap;

use aws_lc_rs::digest;
use emulator_support::*;
use msal_tests::emulator::seeds::*;
use msal_tests::emulator::{DeviceSettings, Emulator, InteractionSetting, UserRegistration};
use serde_json::{Value, json};

const GRAPH_SCOPES: &str = "User.Read offline_access openid profile";

/// The emulator and a client that does not follow redirects.
async fn start_user() -> (Emulator, reqwest::Client) {
    let (emu, _) = start().await;
    let c = emu
        .http_client_builder()
        .unwrap()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    (emu, c)
}

fn authorize_url(host: &str, tenant: &str) -> String {
    format!("https://{host}/{tenant}/oauth2/v2.0/authorize")
}

fn random_token(len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
    let mut out = String::new();
    while out.len() < len {
        for b in uuid::Uuid::new_v4().as_bytes() {
            if out.len() < len {
                out.push(CHARS[usize::from(*b) % CHARS.len()] as char);
            }
        }
    }
    out
}

/// (verifier, S256 challenge), as MSAL makes them.
fn pkce() -> (String, String) {
    let verifier = random_token(43);
    let challenge = b64url(digest::digest(&digest::SHA256, verifier.as_bytes()).as_ref());
    (verifier, challenge)
}

/// MSAL's nonce on the wire: the SHA-256 hex of a random string.
fn nonce_hex() -> String {
    digest::digest(&digest::SHA256, random_token(22).as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What authorize answered.
struct AuthResponse {
    status: u16,
    /// Where the answer goes (Location without query/fragment, or the form action).
    target: String,
    params: HashMap<String, String>,
    body: String,
}

impl AuthResponse {
    fn get(&self, k: &str) -> &str {
        self.params
            .get(k)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no '{k}' in {:?} / {}", self.params, self.body))
    }
}

fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
    let end = start + tag[start..].find('"')?;
    Some(html_unescape(&tag[start..end]))
}

/// Parses the auto-submitting form of `response_mode=form_post`.
fn parse_form_post(html: &str) -> (String, HashMap<String, String>) {
    let forms: Vec<&str> = html.split("<form ").skip(1).collect();
    assert_eq!(forms.len(), 1, "exactly one form: {html}");
    let form_tag = &forms[0][..forms[0].find('>').unwrap()];
    assert_eq!(attr(form_tag, "method").as_deref(), Some("post"));
    let action = attr(form_tag, "action").unwrap();
    let mut params = HashMap::new();
    for input in html.split("<input ").skip(1) {
        let tag = &input[..input.find('>').unwrap()];
        if attr(tag, "type").as_deref() == Some("hidden") {
            params.insert(attr(tag, "name").unwrap(), attr(tag, "value").unwrap());
        }
    }
    (action, params)
}

async fn authorize(c: &reqwest::Client, url: &str, pairs: &[(&str, &str)]) -> AuthResponse {
    let mut full = url::Url::parse(url).unwrap();
    full.query_pairs_mut().extend_pairs(pairs);
    let resp = c.get(full).send().await.expect("GET authorize");
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    let body = resp.text().await.unwrap();
    if let Some(loc) = location {
        let (target, encoded) = match loc.split_once('#') {
            Some((t, f)) => (t.to_string(), f.to_string()),
            None => match loc.split_once('?') {
                Some((t, q)) => (t.to_string(), q.to_string()),
                None => (loc.clone(), String::new()),
            },
        };
        let params = url::form_urlencoded::parse(encoded.as_bytes())
            .into_owned()
            .collect();
        return AuthResponse {
            status,
            target,
            params,
            body,
        };
    }
    if body.contains("<form ") {
        let (target, params) = parse_form_post(&body);
        return AuthResponse {
            status,
            target,
            params,
            body,
        };
    }
    AuthResponse {
        status,
        target: String::new(),
        params: HashMap::new(),
        body,
    }
}

/// A standard public-client authorization request (PKCE, state, nonce, client_info).
fn auth_params<'a>(
    client_id: &'a str,
    redirect: &'a str,
    challenge: &'a str,
    state: &'a str,
    nonce: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("client_id", client_id),
        ("response_type", "code"),
        ("redirect_uri", redirect),
        ("scope", GRAPH_SCOPES),
        ("state", state),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("nonce", nonce),
        ("client_info", "1"),
    ]
}

async fn redeem(
    c: &reqwest::Client,
    token_url: &str,
    client_id: &str,
    code: &str,
    redirect: &str,
    verifier: &str,
) -> Answer {
    post_form(
        c,
        token_url,
        &[
            ("client_id", client_id),
            ("grant_type", "authorization_code"),
            ("client_info", "1"),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
            ("scope", GRAPH_SCOPES),
        ],
    )
    .await
}

fn client_info(encoded: &str) -> Value {
    let bytes = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        encoded.trim_end_matches('='),
    )
    .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

async fn ropc(
    c: &reqwest::Client,
    url: &str,
    client_id: &str,
    username: &str,
    password: &str,
    scope: &str,
) -> Answer {
    post_form(
        c,
        url,
        &[
            ("client_id", client_id),
            ("grant_type", "password"),
            ("client_info", "1"),
            ("username", username),
            ("password", password),
            ("scope", scope),
        ],
    )
    .await
}

async fn refresh(c: &reqwest::Client, url: &str, client_id: &str, rt: &str, scope: &str) -> Answer {
    post_form(
        c,
        url,
        &[
            ("client_id", client_id),
            ("grant_type", "refresh_token"),
            ("client_info", "1"),
            ("refresh_token", rt),
            ("scope", scope),
        ],
    )
    .await
}

fn contoso_token() -> String {
    token_url(PUBLIC_HOST, CONTOSO_DOMAIN)
}

// ------------------------------------------------------------------ authorization code

#[tokio::test]
async fn auth_code_with_pkce_query_mode() {
    let (emu, c) = start_user().await;
    let (verifier, challenge) = pkce();
    let nonce = nonce_hex();
    let redirect = "http://localhost:53124";
    let state = "st-123";
    let url = authorize_url(PUBLIC_HOST, CONTOSO_DOMAIN);
    let before = emu.admin().clock().await.unwrap().floor() as u64;
    let a = authorize(
        &c,
        &url,
        &auth_params(PUBLIC_CLIENT_ID, redirect, &challenge, state, &nonce),
    )
    .await;
    assert_eq!(a.status, 302, "{}", a.body);
    assert_eq!(a.target, redirect);
    assert_eq!(a.get("state"), state);
    assert_eq!(
        client_info(a.get("client_info")),
        json!({"uid": ALICE_OID, "utid": CONTOSO_TENANT_ID})
    );
    assert!(!a.get("session_state").is_empty());
    let code = a.get("code").to_string();

    let t = redeem(
        &c,
        &contoso_token(),
        PUBLIC_CLIENT_ID,
        &code,
        redirect,
        &verifier,
    )
    .await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(
        keys(&t.json),
        [
            "token_type",
            "scope",
            "expires_in",
            "ext_expires_in",
            "access_token",
            "refresh_token",
            "id_token",
            "client_info"
        ]
    );
    assert_eq!(t.json["scope"], "User.Read profile openid");
    assert_eq!(t.json["expires_in"], 3599);
    let at = claims(t.json["access_token"].as_str().unwrap());
    assert_eq!(at["aud"], GRAPH_RESOURCE);
    assert_eq!(at["oid"], ALICE_OID);
    assert_eq!(at["tid"], CONTOSO_TENANT_ID);
    assert_eq!(at["scp"], "User.Read");
    assert_eq!(at["upn"], ALICE_USERNAME);
    assert_eq!(at["preferred_username"], ALICE_USERNAME);
    assert_eq!(at["azp"], PUBLIC_CLIENT_ID);
    assert_eq!(at["appidacr"], "0");
    let id_token = t.json["id_token"].as_str().unwrap();
    let h = header(id_token);
    assert_eq!(h["alg"], "RS256");
    assert_eq!(h["kid"], emu.manifest().seeds.signing_kid.as_str());
    let jwks = get(
        &c,
        &format!("https://{PUBLIC_HOST}/{CONTOSO_TENANT_ID}/discovery/v2.0/keys"),
    )
    .await;
    assert!(verify_with_jwks(id_token, &jwks.json));
    let id = claims(id_token);
    assert_eq!(id["aud"], PUBLIC_CLIENT_ID);
    assert_eq!(
        id["iss"],
        format!("https://login.microsoftonline.com/{CONTOSO_TENANT_ID}/v2.0")
    );
    assert_eq!(id["nonce"], nonce.as_str());
    assert_eq!(id["oid"], ALICE_OID);
    assert_eq!(id["tid"], CONTOSO_TENANT_ID);
    assert_eq!(id["name"], ALICE_NAME);
    assert_eq!(id["preferred_username"], ALICE_USERNAME);
    assert_eq!(id["ver"], "2.0");
    assert_eq!(id["sub"].as_str().unwrap().len(), 43);
    let auth_time = id["auth_time"].as_u64().unwrap();
    assert!(auth_time >= before && auth_time <= before + 60);
    assert!(id["exp"].as_u64().unwrap() > id["iat"].as_u64().unwrap());
    assert_eq!(
        client_info(t.json["client_info"].as_str().unwrap()),
        json!({"uid": ALICE_OID, "utid": CONTOSO_TENANT_ID})
    );

    // Single use.
    let again = redeem(
        &c,
        &contoso_token(),
        PUBLIC_CLIENT_ID,
        &code,
        redirect,
        &verifier,
    )
    .await;
    assert_eq!(again.status, 400);
    assert_eq!(again.json["error"], "invalid_grant");
    assert_eq!(aadsts(&again), 54005);
}

#[tokio::test]
async fn auth_code_form_post_and_fragment() {
    let (_emu, c) = start_user().await;
    let (verifier, challenge) = pkce();
    let nonce = nonce_hex();
    let redirect = "http://127.0.0.1:8400/";
    let state = r#"s"<&'>"#;
    let mut p = auth_params(PUBLIC_CLIENT_ID, redirect, &challenge, state, &nonce);
    p.push(("response_mode", "form_post"));
    p.push(("login_hint", BOB_USERNAME));
    p.push(("prompt", "select_account"));
    let a = authorize(&c, &authorize_url(PUBLIC_HOST, "organizations"), &p).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("&quot;&lt;&amp;&#39;&gt;"), "{}", a.body);
    assert_eq!(a.target, redirect);
    assert_eq!(a.get("state"), state);
    assert_eq!(
        client_info(a.get("client_info")),
        json!({"uid": BOB_OID, "utid": FABRIKAM_TENANT_ID})
    );
    let code = a.get("code").to_string();
    // Bound to the user's tenant: not redeemable at contoso.
    let wrong = redeem(
        &c,
        &contoso_token(),
        PUBLIC_CLIENT_ID,
        &code,
        redirect,
        &verifier,
    )
    .await;
    assert_eq!(wrong.status, 400, "{}", wrong.text);
    assert_eq!(wrong.json["error"], "invalid_grant");
    // Bound to the redirect URI.
    let url = token_url(PUBLIC_HOST, "organizations");
    let wrong = redeem(
        &c,
        &url,
        PUBLIC_CLIENT_ID,
        &code,
        "http://127.0.0.1:8401/",
        &verifier,
    )
    .await;
    assert_eq!(aadsts(&wrong), 500112);
    let t = redeem(&c, &url, PUBLIC_CLIENT_ID, &code, redirect, &verifier).await;
    assert_eq!(t.status, 200, "{}", t.text);
    let id = claims(t.json["id_token"].as_str().unwrap());
    assert_eq!(id["tid"], FABRIKAM_TENANT_ID);
    assert_eq!(id["preferred_username"], BOB_USERNAME);

    // Fragment.
    let (_, challenge) = pkce();
    let mut p = auth_params(
        PUBLIC_CLIENT_ID,
        "http://localhost",
        &challenge,
        "f",
        &nonce,
    );
    p.push(("response_mode", "fragment"));
    let a = authorize(&c, &authorize_url(PUBLIC_HOST, CONTOSO_DOMAIN), &p).await;
    assert_eq!(a.status, 302);
    assert!(a.get("code").starts_with("0."));
    assert_eq!(a.get("state"), "f");
}

#[tokio::test]
async fn pkce_verifier_and_client_checks() {
    let (_emu, c) = start_user().await;
    let (verifier, challenge) = pkce();
    let redirect = "http://localhost:1234";
    let url = authorize_url(PUBLIC_HOST, CONTOSO_DOMAIN);
    let a = authorize(
        &c,
        &url,
        &auth_params(PUBLIC_CLIENT_ID, redirect, &challenge, "s", "n"),
    )
    .await;
    let code = a.get("code").to_string();
    let (other_verifier, _) = pkce();
    let bad = redeem(
        &c,
        &contoso_token(),
        PUBLIC_CLIENT_ID,
        &code,
        redirect,
        &other_verifier,
    )
    .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json["error"], "invalid_grant");
    assert_eq!(aadsts(&bad), 501481);
    // Another client cannot redeem it.
    let other = redeem(
        &c,
        &contoso_token(),
        FOCI_APP_A_CLIENT_ID,
        &code,
        redirect,
        &verifier,
    )
    .await;
    assert_eq!(other.json["error"], "invalid_grant");
    // The right verifier still works (failed attempts do not burn the code).
    let ok = redeem(
        &c,
        &contoso_token(),
        PUBLIC_CLIENT_ID,
        &code,
        redirect,
        &verifier,
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text);

    // A public client must send PKCE: the error goes to the redirect URI.
    let a = authorize(
        &c,
        &url,
        &[
            ("client_id", PUBLIC_CLIENT_ID),
            ("response_type", "code"),
            ("redirect_uri", redirect),
            ("scope", GRAPH_SCOPES),
            ("state", "s1"),
        ],
    )
    .await;
    assert_eq!(a.status, 302);
    assert_eq!(a.get("error"), "invalid_request");
    assert_eq!(a.get("state"), "s1");
    // An unregistered redirect URI is never redirected to.
    let a = authorize(
        &c,
        &url,
        &auth_params(
            PUBLIC_CLIENT_ID,
            "https://evil.example/cb",
            &challenge,
            "s",
            "n",
        ),
    )
    .await;
    assert_eq!(a.status, 400);
    assert!(a.body.contains("AADSTS50011"), "{}", a.body);
    let a = authorize(
        &c,
        &url,
        &auth_params(
            "00000000-0000-0000-0000-000000000000",
            redirect,
            &challenge,
            "s",
            "n",
        ),
    )
    .await;
    assert_eq!(a.status, 400);
    assert!(a.body.contains("AADSTS700016"), "{}", a.body);
    // A code expires after 10 minutes.
    let a = authorize(
        &c,
        &url,
        &auth_params(PUBLIC_CLIENT_ID, redirect, &challenge, "s", "n"),
    )
    .await;
    _emu.admin().advance_clock(601.0).await.unwrap();
    let late = redeem(
        &c,
        &contoso_token(),
        PUBLIC_CLIENT_ID,
        a.get("code"),
        redirect,
        &verifier,
    )
    .await;
    assert_eq!(aadsts(&late), 70008);
}

#[tokio::test]
async fn confidential_web_app() {
    let (_emu, c) = start_user().await;
    let url = authorize_url(PUBLIC_HOST, CONTOSO_DOMAIN);
    // PKCE is optional for a confidential client.
    let a = authorize(
        &c,
        &url,
        &[
            ("client_id", WEB_APP_CLIENT_ID),
            ("response_type", "code"),
            ("redirect_uri", WEB_APP_REDIRECT_URI),
            (
                "scope",
                "https://graph.microsoft.com/Mail.Read openid offline_access",
            ),
            ("state", "w"),
            ("response_mode", "form_post"),
            ("client_info", "1"),
        ],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.target, WEB_APP_REDIRECT_URI);
    let code = a.get("code").to_string();
    let form = |secret: Option<&'static str>| {
        let mut f = vec![
            ("client_id", WEB_APP_CLIENT_ID),
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", WEB_APP_REDIRECT_URI),
            (
                "scope",
                "https://graph.microsoft.com/Mail.Read openid offline_access",
            ),
        ];
        if let Some(s) = secret {
            f.push(("client_secret", s));
        }
        f
    };
    let no_secret = post_form(&c, &contoso_token(), &form(None)).await;
    assert_eq!(no_secret.status, 401, "{}", no_secret.text);
    assert_eq!(no_secret.json["error"], "invalid_client");
    let t = post_form(&c, &contoso_token(), &form(Some(WEB_APP_SECRET))).await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(
        t.json["scope"],
        "https://graph.microsoft.com/Mail.Read openid"
    );
    assert!(t.json.get("client_info").is_none());
    assert_eq!(
        claims(t.json["access_token"].as_str().unwrap())["appidacr"],
        "1"
    );
}

#[tokio::test]
async fn prompt_none_sessions_and_interaction() {
    let (emu, c) = start_user().await;
    let admin = emu.admin();
    let url = authorize_url(PUBLIC_HOST, CONTOSO_DOMAIN);
    let (_, challenge) = pkce();
    let mut p = auth_params(PUBLIC_CLIENT_ID, "http://localhost", &challenge, "pn", "n");
    p.push(("prompt", "none"));
    let a = authorize(&c, &url, &p).await;
    assert_eq!(a.status, 302);
    assert_eq!(a.get("error"), "login_required");
    assert!(a.get("error_description").starts_with("AADSTS50058:"));
    assert_eq!(a.get("state"), "pn");

    // An interactive sign-in leaves a session; prompt=none then succeeds.
    let i = authorize(
        &c,
        &url,
        &auth_params(PUBLIC_CLIENT_ID, "http://localhost", &challenge, "x", "n"),
    )
    .await;
    let a = authorize(&c, &url, &p).await;
    assert!(a.params.contains_key("code"), "{:?}", a.params);
    assert_eq!(a.get("session_state"), i.get("session_state"));

    admin
        .set_interaction_required(
            ALICE_USERNAME,
            &InteractionSetting {
                required: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let a = authorize(&c, &url, &p).await;
    assert_eq!(a.get("error"), "interaction_required");
    assert!(a.get("error_description").starts_with("AADSTS50076:"));
    // An interactive sign-in satisfies it.
    authorize(
        &c,
        &url,
        &auth_params(PUBLIC_CLIENT_ID, "http://localhost", &challenge, "x", "n"),
    )
    .await;
    assert!(authorize(&c, &url, &p).await.params.contains_key("code"));

    admin.sign_out(ALICE_USERNAME).await.unwrap();
    assert_eq!(authorize(&c, &url, &p).await.get("error"), "login_required");
    admin.sign_in(ALICE_USERNAME).await.unwrap();
    assert!(authorize(&c, &url, &p).await.params.contains_key("code"));
    // A hint naming someone without a session.
    let mut hinted = p.clone();
    hinted.push(("login_hint", FRANK_USERNAME));
    assert_eq!(
        authorize(&c, &url, &hinted).await.get("error"),
        "login_required"
    );
}

#[tokio::test]
async fn consent_required_and_granted() {
    let (emu, c) = start_user().await;
    let admin = emu.admin();
    admin
        .set_consent_required(ALICE_USERNAME, PUBLIC_CLIENT_ID, true)
        .await
        .unwrap();
    let url = authorize_url(PUBLIC_HOST, CONTOSO_DOMAIN);
    let (verifier, challenge) = pkce();
    let p = auth_params(PUBLIC_CLIENT_ID, "http://localhost", &challenge, "c", "n");
    let a = authorize(&c, &url, &p).await;
    assert_eq!(a.get("error"), "consent_required");
    assert!(a.get("error_description").starts_with("AADSTS65001:"));
    assert_eq!(
        a.get("error_uri"),
        "https://login.microsoftonline.com/error?code=65001"
    );
    assert_eq!(a.get("state"), "c");
    let r = ropc(
        &c,
        &contoso_token(),
        PUBLIC_CLIENT_ID,
        ALICE_USERNAME,
        ALICE_PASSWORD,
        GRAPH_SCOPES,
    )
    .await;
    assert_eq!(r.json["error"], "invalid_grant");
    assert_eq!(aadsts(&r), 65001);
    assert_eq!(r.json["suberror"], "consent_required");
    // prompt=consent: the user consents.
    let mut consent = p.clone();
    consent.push(("prompt", "consent"));
    let a = authorize(&c, &url, &consent).await;
    let t = redeem(
        &c,
        &contoso_token(),
        PUBLIC_CLIENT_ID,
        a.get("code"),
        "http://localhost",
        &verifier,
    )
    .await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert!(authorize(&c, &url, &p).await.params.contains_key("code"));
}

#[tokio::test]
async fn pinned_auth_time_and_max_age() {
    let (emu, c) = start_user().await;
    let pinned = emu.admin().clock().await.unwrap() as u64 - 7200;
    emu.admin()
        .set_auth_time(ALICE_USERNAME, Some(pinned))
        .await
        .unwrap();
    let (verifier, challenge) = pkce();
    let mut p = auth_params(PUBLIC_CLIENT_ID, "http://localhost", &challenge, "m", "n");
    p.push(("max_age", "3600"));
    let a = authorize(&c, &authorize_url(PUBLIC_HOST, CONTOSO_DOMAIN), &p).await;
    let t = redeem(
        &c,
        &contoso_token(),
        PUBLIC_CLIENT_ID,
        a.get("code"),
        "http://localhost",
        &verifier,
    )
    .await;
    assert_eq!(
        claims(t.json["id_token"].as_str().unwrap())["auth_time"],
        pinned
    );
    // The refreshed ID token keeps the sign-in's auth_time.
    let r = refresh(
        &c,
        &contoso_token(),
        PUBLIC_CLIENT_ID,
        t.json["refresh_token"].as_str().unwrap(),
        GRAPH_SCOPES,
    )
    .await;
    let id = claims(r.json["id_token"].as_str().unwrap());
    assert_eq!(id["auth_time"], pinned);
    assert!(id.get("nonce").is_none());
}

// ------------------------------------------------------------------ refresh tokens

#[tokio::test]
async fn refresh_rotation_lenient_then_strict() {
    let (emu, c) = start_user().await;
    let url = contoso_token();
    let t = ropc(
        &c,
        &url,
        PUBLIC_CLIENT_ID,
        ALICE_USERNAME,
        ALICE_PASSWORD,
        GRAPH_SCOPES,
    )
    .await;
    assert_eq!(t.status, 200, "{}", t.text);
    let rt1 = t.json["refresh_token"].as_str().unwrap().to_string();
    let r = refresh(&c, &url, PUBLIC_CLIENT_ID, &rt1, GRAPH_SCOPES).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rt2 = r.json["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2);
    // Lenient (Entra): the old one still works.
    let r = refresh(&c, &url, PUBLIC_CLIENT_ID, &rt1, GRAPH_SCOPES).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Another consented resource.
    let r = refresh(
        &c,
        &url,
        PUBLIC_CLIENT_ID,
        &rt2,
        "https://management.azure.com/user_impersonation offline_access openid profile",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json["scope"],
        "https://management.azure.com/user_impersonation"
    );
    assert_eq!(
        claims(r.json["access_token"].as_str().unwrap())["aud"],
        ARM_RESOURCE
    );
    let rt3 = r.json["refresh_token"].as_str().unwrap().to_string();

    emu.admin().set_strict_rotation(true).await.unwrap();
    let r = refresh(&c, &url, PUBLIC_CLIENT_ID, &rt3, GRAPH_SCOPES).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let again = refresh(&c, &url, PUBLIC_CLIENT_ID, &rt3, GRAPH_SCOPES).await;
    assert_eq!(again.status, 400);
    assert_eq!(again.json["error"], "invalid_grant");
    // Already-redeemed tokens are refused too once rotation is strict.
    assert_eq!(
        refresh(&c, &url, PUBLIC_CLIENT_ID, &rt1, GRAPH_SCOPES)
            .await
            .json["error"],
        "invalid_grant"
    );
    let garbage = refresh(&c, &url, PUBLIC_CLIENT_ID, "not-a-token", GRAPH_SCOPES).await;
    assert_eq!(aadsts(&garbage), 9002313);
}

#[tokio::test]
async fn revocation_and_interaction_on_refresh() {
    let (emu, c) = start_user().await;
    let admin = emu.admin();
    let url = contoso_token();
    let t = ropc(
        &c,
        &url,
        PUBLIC_CLIENT_ID,
        ALICE_USERNAME,
        ALICE_PASSWORD,
        GRAPH_SCOPES,
    )
    .await;
    let rt = t.json["refresh_token"].as_str().unwrap().to_string();

    admin
        .set_interaction_required(
            ALICE_USERNAME,
            &InteractionSetting {
                required: true,
                suberror: Some("basic_action".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let r = refresh(&c, &url, PUBLIC_CLIENT_ID, &rt, GRAPH_SCOPES).await;
    assert_eq!(r.json["error"], "invalid_grant");
    assert_eq!(aadsts(&r), 50076);
    assert_eq!(r.json["suberror"], "basic_action");
    let challenge: Value = serde_json::from_str(r.json["claims"].as_str().unwrap()).unwrap();
    assert!(challenge["access_token"]["capolids"].is_object());
    admin
        .set_interaction_required(ALICE_USERNAME, &InteractionSetting::default())
        .await
        .unwrap();
    assert_eq!(
        refresh(&c, &url, PUBLIC_CLIENT_ID, &rt, GRAPH_SCOPES)
            .await
            .status,
        200
    );

    assert!(admin.revoke_refresh_tokens(ALICE_USERNAME).await.unwrap() >= 2);
    let r = refresh(&c, &url, PUBLIC_CLIENT_ID, &rt, GRAPH_SCOPES).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json["error"], "invalid_grant");
    assert_eq!(aadsts(&r), 50173);
    // A fresh sign-in works again.
    let t = ropc(
        &c,
        &url,
        PUBLIC_CLIENT_ID,
        ALICE_USERNAME,
        ALICE_PASSWORD,
        GRAPH_SCOPES,
    )
    .await;
    let rt = t.json["refresh_token"].as_str().unwrap();
    assert_eq!(
        refresh(&c, &url, PUBLIC_CLIENT_ID, rt, GRAPH_SCOPES)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn family_refresh_token_redeemed_by_a_sibling() {
    let (_emu, c) = start_user().await;
    let url = contoso_token();
    let t = ropc(
        &c,
        &url,
        FOCI_APP_A_CLIENT_ID,
        ALICE_USERNAME,
        ALICE_PASSWORD,
        GRAPH_SCOPES,
    )
    .await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(t.json["foci"], FOCI_FAMILY_ID);
    assert_eq!(
        keys(&t.json),
        [
            "token_type",
            "scope",
            "expires_in",
            "ext_expires_in",
            "access_token",
            "refresh_token",
            "foci",
            "id_token",
            "client_info"
        ]
    );
    let family_rt = t.json["refresh_token"].as_str().unwrap().to_string();
    let b = refresh(&c, &url, FOCI_APP_B_CLIENT_ID, &family_rt, GRAPH_SCOPES).await;
    assert_eq!(b.status, 200, "{}", b.text);
    assert_eq!(b.json["foci"], FOCI_FAMILY_ID);
    assert_eq!(
        claims(b.json["id_token"].as_str().unwrap())["aud"],
        FOCI_APP_B_CLIENT_ID
    );
    assert_eq!(
        claims(b.json["access_token"].as_str().unwrap())["azp"],
        FOCI_APP_B_CLIENT_ID
    );
    // A client outside the family cannot.
    let x = refresh(&c, &url, PUBLIC_CLIENT_ID, &family_rt, GRAPH_SCOPES).await;
    assert_eq!(x.status, 400);
    assert_eq!(x.json["error"], "invalid_grant");
    assert_eq!(x.json["suberror"], "client_mismatch");
    assert_eq!(x.json["error_additional_info"], json!(["client_mismatch"]));
    // Non-family apps answer no foci.
    let p = ropc(
        &c,
        &url,
        PUBLIC_CLIENT_ID,
        ALICE_USERNAME,
        ALICE_PASSWORD,
        GRAPH_SCOPES,
    )
    .await;
    assert!(p.json.get("foci").is_none());
    // A sibling cannot use a non-family RT.
    let own = p.json["refresh_token"].as_str().unwrap();
    let y = refresh(&c, &url, FOCI_APP_B_CLIENT_ID, own, GRAPH_SCOPES).await;
    assert_eq!(y.json["error"], "invalid_grant");
}

// ------------------------------------------------------------------ password (ROPC)

#[tokio::test]
async fn ropc_passwords_and_federation() {
    let (emu, c) = start_user().await;
    let url = contoso_token();
    let ok = ropc(
        &c,
        &url,
        PUBLIC_CLIENT_ID,
        ALICE_USERNAME,
        ALICE_PASSWORD,
        GRAPH_SCOPES,
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let id = claims(ok.json["id_token"].as_str().unwrap());
    assert_eq!(id["preferred_username"], ALICE_USERNAME);
    assert!(id["auth_time"].is_u64());
    let bad = ropc(
        &c,
        &url,
        PUBLIC_CLIENT_ID,
        ALICE_USERNAME,
        "wrong",
        GRAPH_SCOPES,
    )
    .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json["error"], "invalid_grant");
    assert_eq!(aadsts(&bad), 50126);
    let fed = ropc(
        &c,
        &url,
        PUBLIC_CLIENT_ID,
        FRANK_USERNAME,
        FRANK_PASSWORD,
        GRAPH_SCOPES,
    )
    .await;
    assert_eq!(fed.json["error"], "invalid_grant");
    assert!(
        fed.json["error_description"]
            .as_str()
            .unwrap()
            .contains("federated"),
        "{}",
        fed.text
    );
    let nobody = ropc(
        &c,
        &url,
        PUBLIC_CLIENT_ID,
        "nobody@contoso.com",
        "x",
        GRAPH_SCOPES,
    )
    .await;
    assert_eq!(aadsts(&nobody), 50034);
    // Bob is not in contoso; at common he signs in to his own tenant.
    let bob = ropc(
        &c,
        &url,
        PUBLIC_CLIENT_ID,
        BOB_USERNAME,
        BOB_PASSWORD,
        GRAPH_SCOPES,
    )
    .await;
    assert_eq!(aadsts(&bob), 50034);
    let bob = ropc(
        &c,
        &token_url(PUBLIC_HOST, "common"),
        PUBLIC_CLIENT_ID,
        BOB_USERNAME,
        BOB_PASSWORD,
        GRAPH_SCOPES,
    )
    .await;
    assert_eq!(bob.status, 200, "{}", bob.text);
    assert_eq!(
        claims(bob.json["access_token"].as_str().unwrap())["tid"],
        FABRIKAM_TENANT_ID
    );
    // Users added through the admin API get the default password.
    emu.admin()
        .add_user(&UserRegistration {
            tenant: "contoso".into(),
            username: "gina@contoso.com".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let gina = ropc(
        &c,
        &url,
        PUBLIC_CLIENT_ID,
        "gina@contoso.com",
        DEFAULT_USER_PASSWORD,
        "User.Read",
    )
    .await;
    assert_eq!(gina.status, 200, "{}", gina.text);
    assert_eq!(
        keys(&gina.json),
        [
            "token_type",
            "scope",
            "expires_in",
            "ext_expires_in",
            "access_token",
            "client_info"
        ]
    );
}

#[tokio::test]
async fn a_guest_is_one_home_account_across_tenants() {
    let (emu, c) = start_user().await;
    let fabrikam = token_url(PUBLIC_HOST, FABRIKAM_DOMAIN);
    // Before alice is a guest of fabrikam, her refresh token is refused there.
    let home = ropc(
        &c,
        &contoso_token(),
        PUBLIC_CLIENT_ID,
        ALICE_USERNAME,
        ALICE_PASSWORD,
        GRAPH_SCOPES,
    )
    .await;
    assert_eq!(home.status, 200, "{}", home.text);
    let home_rt = home.json["refresh_token"].as_str().unwrap().to_string();
    let refused = refresh(&c, &fabrikam, PUBLIC_CLIENT_ID, &home_rt, GRAPH_SCOPES).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(refused.text.contains("AADSTS50034"), "{}", refused.text);
    // A guest needs its home user.
    let orphan = emu
        .admin()
        .add_user(&UserRegistration {
            tenant: "fabrikam".into(),
            username: "nobody@contoso.onmicrosoft.com".into(),
            home_tenant: Some("contoso".into()),
            ..Default::default()
        })
        .await;
    assert!(orphan.is_err());
    let guest = emu
        .admin()
        .add_user(&UserRegistration {
            tenant: "fabrikam".into(),
            username: ALICE_USERNAME.into(),
            home_tenant: Some("contoso".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(guest.tenant_id, FABRIKAM_TENANT_ID);
    assert_ne!(guest.oid, ALICE_OID);
    let home_info = json!({"uid": ALICE_OID, "utid": CONTOSO_TENANT_ID});
    // Her home refresh token is redeemed at fabrikam: fabrikam's tid and the guest's oid in
    // the tokens, her home account in client_info.
    let there = refresh(&c, &fabrikam, PUBLIC_CLIENT_ID, &home_rt, GRAPH_SCOPES).await;
    assert_eq!(there.status, 200, "{}", there.text);
    assert_eq!(
        client_info(there.json["client_info"].as_str().unwrap()),
        home_info
    );
    let id = claims(there.json["id_token"].as_str().unwrap());
    assert_eq!(id["tid"], FABRIKAM_TENANT_ID);
    assert_eq!(id["oid"], guest.oid.as_str());
    assert_eq!(id["preferred_username"], ALICE_USERNAME);
    assert_eq!(
        claims(there.json["access_token"].as_str().unwrap())["tid"],
        FABRIKAM_TENANT_ID
    );
    // The guest's refresh token goes back home, and the guest signs in with her password.
    let guest_rt = there.json["refresh_token"].as_str().unwrap().to_string();
    let back = refresh(
        &c,
        &contoso_token(),
        PUBLIC_CLIENT_ID,
        &guest_rt,
        GRAPH_SCOPES,
    )
    .await;
    assert_eq!(back.status, 200, "{}", back.text);
    assert_eq!(
        client_info(back.json["client_info"].as_str().unwrap()),
        home_info
    );
    assert_eq!(
        claims(back.json["id_token"].as_str().unwrap())["oid"],
        ALICE_OID
    );
    let direct = ropc(
        &c,
        &fabrikam,
        PUBLIC_CLIENT_ID,
        ALICE_USERNAME,
        ALICE_PASSWORD,
        GRAPH_SCOPES,
    )
    .await;
    assert_eq!(direct.status, 200, "{}", direct.text);
    assert_eq!(
        client_info(direct.json["client_info"].as_str().unwrap()),
        home_info
    );
    // Bob is no guest of contoso: his refresh token stays refused there.
    let bob = ropc(
        &c,
        &fabrikam,
        PUBLIC_CLIENT_ID,
        BOB_USERNAME,
        BOB_PASSWORD,
        GRAPH_SCOPES,
    )
    .await;
    let bob_rt = bob.json["refresh_token"].as_str().unwrap().to_string();
    let no = refresh(
        &c,
        &contoso_token(),
        PUBLIC_CLIENT_ID,
        &bob_rt,
        GRAPH_SCOPES,
    )
    .await;
    assert_eq!(no.status, 400, "{}", no.text);
}

// ------------------------------------------------------------------ device code

async fn start_device(c: &reqwest::Client, tenant: &str) -> Answer {
    post_form(
        c,
        &format!("https://{PUBLIC_HOST}/{tenant}/oauth2/v2.0/devicecode"),
        &[("client_id", PUBLIC_CLIENT_ID), ("scope", GRAPH_SCOPES)],
    )
    .await
}

async fn poll(c: &reqwest::Client, tenant: &str, device_code: &str) -> Answer {
    post_form(
        c,
        &token_url(PUBLIC_HOST, tenant),
        &[
            ("client_id", PUBLIC_CLIENT_ID),
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_info", "1"),
            ("code", device_code),
            ("device_code", device_code),
        ],
    )
    .await
}

#[tokio::test]
async fn device_code_pending_slow_down_approved() {
    let (emu, c) = start_user().await;
    let admin = emu.admin();
    let d = start_device(&c, "organizations").await;
    assert_eq!(d.status, 200, "{}", d.text);
    assert_eq!(
        keys(&d.json),
        [
            "user_code",
            "device_code",
            "verification_uri",
            "expires_in",
            "interval",
            "message"
        ]
    );
    let user_code = d.json["user_code"].as_str().unwrap().to_string();
    assert_eq!(user_code.len(), 9);
    assert_eq!(d.json["verification_uri"], DEVICE_VERIFICATION_URI);
    assert_eq!(d.json["expires_in"], 900);
    assert_eq!(d.json["interval"], 5);
    assert_eq!(
        d.json["message"],
        format!(
            "To sign in, use a web browser to open the page https://microsoft.com/devicelogin \
             and enter the code {user_code} to authenticate."
        )
    );
    let device_code = d.json["device_code"].as_str().unwrap().to_string();
    let p = poll(&c, "organizations", &device_code).await;
    assert_eq!(p.status, 400);
    assert_eq!(p.json["error"], "authorization_pending");
    let p = poll(&c, "organizations", &device_code).await;
    assert_eq!(p.json["error"], "slow_down");
    admin.advance_clock(6.0).await.unwrap();
    assert_eq!(
        poll(&c, "organizations", &device_code).await.json["error"],
        "authorization_pending"
    );

    let pending = admin.pending_device_codes().await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].user_code, user_code);
    assert_eq!(pending[0].client_id, PUBLIC_CLIENT_ID);
    admin
        .approve_device_code(&user_code.to_lowercase(), Some(BOB_USERNAME))
        .await
        .unwrap();
    let t = poll(&c, "organizations", &device_code).await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(t.json["scope"], "User.Read profile openid");
    let id = claims(t.json["id_token"].as_str().unwrap());
    assert_eq!(id["preferred_username"], BOB_USERNAME);
    assert_eq!(
        client_info(t.json["client_info"].as_str().unwrap()),
        json!({"uid": BOB_OID, "utid": FABRIKAM_TENANT_ID})
    );
    // Once only.
    let again = poll(&c, "organizations", &device_code).await;
    assert_eq!(again.json["error"], "invalid_grant");
    assert_eq!(admin.device_codes().await.unwrap()[0].status, "redeemed");
    let unknown = poll(&c, "organizations", "DAQ.nope").await;
    assert_eq!(unknown.json["error"], "bad_verification_code");

    // Forced slow_down for two polls, whatever their pace.
    admin
        .set_device_settings(&DeviceSettings {
            force_slow_down: Some(2),
            interval: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    let d = start_device(&c, CONTOSO_DOMAIN).await;
    assert_eq!(d.json["interval"], 1);
    let code = d.json["device_code"].as_str().unwrap().to_string();
    for _ in 0..2 {
        admin.advance_clock(10.0).await.unwrap();
        assert_eq!(
            poll(&c, CONTOSO_DOMAIN, &code).await.json["error"],
            "slow_down"
        );
    }
    admin.advance_clock(10.0).await.unwrap();
    assert_eq!(
        poll(&c, CONTOSO_DOMAIN, &code).await.json["error"],
        "authorization_pending"
    );
    // Without a username the tenant's default user signs in.
    admin
        .approve_device_code(d.json["user_code"].as_str().unwrap(), None)
        .await
        .unwrap();
    let t = poll(&c, CONTOSO_DOMAIN, &code).await;
    assert_eq!(
        claims(t.json["access_token"].as_str().unwrap())["oid"],
        ALICE_OID
    );
}

#[tokio::test]
async fn device_code_declined_and_expired() {
    let (emu, c) = start_user().await;
    let admin = emu.admin();
    let d = start_device(&c, CONTOSO_DOMAIN).await;
    let code = d.json["device_code"].as_str().unwrap().to_string();
    admin
        .deny_device_code(d.json["user_code"].as_str().unwrap())
        .await
        .unwrap();
    let p = poll(&c, CONTOSO_DOMAIN, &code).await;
    assert_eq!(p.json["error"], "authorization_declined");
    assert!(
        admin
            .approve_device_code(d.json["user_code"].as_str().unwrap(), None)
            .await
            .is_err()
    );

    admin
        .set_device_settings(&DeviceSettings {
            expires_in: Some(60),
            ..Default::default()
        })
        .await
        .unwrap();
    let d = start_device(&c, CONTOSO_DOMAIN).await;
    assert_eq!(d.json["expires_in"], 60);
    let code = d.json["device_code"].as_str().unwrap().to_string();
    admin.advance_clock(61.0).await.unwrap();
    let p = poll(&c, CONTOSO_DOMAIN, &code).await;
    assert_eq!(p.json["error"], "expired_token");
    assert_eq!(aadsts(&p), 70020);
    assert_eq!(admin.device_codes().await.unwrap()[1].status, "expired");
    // Bad requests are OAuth errors.
    let bad = post_form(
        &c,
        &format!("https://{PUBLIC_HOST}/{CONTOSO_DOMAIN}/oauth2/v2.0/devicecode"),
        &[("client_id", PUBLIC_CLIENT_ID)],
    )
    .await;
    assert_eq!(bad.status, 400);
    assert_eq!(aadsts(&bad), 900144);
    let bad = post_form(
        &c,
        &format!("https://{PUBLIC_HOST}/{CONTOSO_DOMAIN}/oauth2/v2.0/devicecode"),
        &[("client_id", "nope"), ("scope", "User.Read")],
    )
    .await;
    assert_eq!(bad.json["error"], "unauthorized_client");
}

// ------------------------------------------------------------------ user realm

#[tokio::test]
async fn user_realm_kinds() {
    let (_emu, c) = start_user().await;
    let realm =
        |host: &str, user: &str| format!("https://{host}/common/userrealm/{user}?api-version=1.0");
    let m = get(&c, &realm(PUBLIC_HOST, ALICE_USERNAME)).await;
    assert_eq!(m.status, 200, "{}", m.text);
    assert_eq!(
        m.json,
        json!({
            "ver": "1.0",
            "account_type": "Managed",
            "domain_name": CONTOSO_DOMAIN,
            "cloud_instance_name": "microsoftonline.com",
            "cloud_audience_urn": "urn:federation:MicrosoftOnline",
        })
    );
    let f = get(&c, &realm("login.windows.net", FRANK_USERNAME)).await;
    assert_eq!(f.json["account_type"], "Federated");
    assert_eq!(f.json["domain_name"], FEDERATED_DOMAIN);
    assert_eq!(f.json["federation_protocol"], "WSTrust");
    assert_eq!(f.json["federation_metadata_url"], FEDERATION_METADATA_URL);
    assert_eq!(
        f.json["federation_active_auth_url"],
        FEDERATION_ACTIVE_AUTH_URL
    );
    let u = get(&c, &realm(PUBLIC_HOST, "someone@unknown.example")).await;
    assert_eq!(u.json["account_type"], "Unknown");
    let gov = get(&c, &realm(USGOV_HOST, "x@usgov.onmicrosoft.us")).await;
    assert_eq!(gov.json["account_type"], "Managed");
    assert_eq!(gov.json["cloud_instance_name"], "microsoftonline.us");
}

// ------------------------------------------------------------------ B2C, ADFS, CIAM

#[tokio::test]
async fn b2c_home_account_carries_the_policy() {
    let (_emu, c) = start_user().await;
    let (verifier, challenge) = pkce();
    let nonce = nonce_hex();
    let base = format!("https://{B2C_HOST}/{B2C_TENANT_DOMAIN}/{B2C_POLICY_SIGNUP_SIGNIN}");
    let a = authorize(
        &c,
        &format!("{base}/oauth2/v2.0/authorize"),
        &auth_params(
            PUBLIC_CLIENT_ID,
            "http://localhost",
            &challenge,
            "b",
            &nonce,
        ),
    )
    .await;
    assert_eq!(a.status, 302, "{}", a.body);
    assert!(!a.params.contains_key("session_state"));
    let uid = format!("{CAROL_OID}-b2c_1_signupsignin");
    assert_eq!(
        client_info(a.get("client_info")),
        json!({"uid": uid, "utid": B2C_TENANT_ID})
    );
    let t = redeem(
        &c,
        &format!("{base}/oauth2/v2.0/token"),
        PUBLIC_CLIENT_ID,
        a.get("code"),
        "http://localhost",
        &verifier,
    )
    .await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(
        client_info(t.json["client_info"].as_str().unwrap()),
        json!({"uid": uid, "utid": B2C_TENANT_ID})
    );
    let id = claims(t.json["id_token"].as_str().unwrap());
    assert_eq!(id["tfp"], B2C_POLICY_SIGNUP_SIGNIN);
    assert_eq!(id["acr"], "b2c_1_signupsignin");
    assert_eq!(id["sub"], CAROL_OID);
    assert_eq!(id["nonce"], nonce.as_str());
    assert_eq!(
        id["iss"],
        format!("https://{B2C_HOST}/{B2C_TENANT_ID}/v2.0/")
    );
    assert!(t.json["id_token_expires_in"].is_u64());
}

#[tokio::test]
async fn adfs_id_token_has_x5t_and_no_client_info() {
    let (_emu, c) = start_user().await;
    let (verifier, challenge) = pkce();
    let a = authorize(
        &c,
        &format!("https://{ADFS_HOST}/adfs/oauth2/authorize"),
        &auth_params(PUBLIC_CLIENT_ID, "http://localhost", &challenge, "a", "n"),
    )
    .await;
    assert_eq!(a.status, 302, "{}", a.body);
    let mut names: Vec<&str> = a.params.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["code", "state"]);
    let t = redeem(
        &c,
        &format!("https://{ADFS_HOST}/adfs/oauth2/token"),
        PUBLIC_CLIENT_ID,
        a.get("code"),
        "http://localhost",
        &verifier,
    )
    .await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert!(t.json.get("client_info").is_none(), "{}", t.text);
    let id_token = t.json["id_token"].as_str().unwrap();
    let thumb = b64url(
        digest::digest(
            &digest::SHA1_FOR_LEGACY_USE_ONLY,
            &pem_der(EMULATOR_SIGNING_CERT_PEM),
        )
        .as_ref(),
    );
    assert_eq!(header(id_token)["alg"], "RS256");
    assert_eq!(header(id_token)["x5t"], thumb.as_str());
    let id = claims(id_token);
    assert_eq!(id["iss"], "https://fs.contoso.com/adfs");
    assert_eq!(id["upn"], DAVE_USERNAME);
    assert!(id["sub"].is_string());
    assert!(id.get("oid").is_none() && id.get("tid").is_none());
    // ROPC works at ADFS too, still without client_info.
    let r = ropc(
        &c,
        &format!("https://{ADFS_HOST}/adfs/oauth2/token"),
        PUBLIC_CLIENT_ID,
        DAVE_USERNAME,
        DAVE_PASSWORD,
        GRAPH_SCOPES,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json.get("client_info").is_none());
    assert_eq!(r.json["token_type"], "bearer");
}

#[tokio::test]
async fn ciam_signs_in_like_entra() {
    let (_emu, c) = start_user().await;
    let url = format!("https://{CIAM_HOST}/{CIAM_TENANT_DOMAIN}/oauth2/v2.0/token");
    let t = ropc(
        &c,
        &url,
        PUBLIC_CLIENT_ID,
        ERIN_USERNAME,
        ERIN_PASSWORD,
        GRAPH_SCOPES,
    )
    .await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(
        client_info(t.json["client_info"].as_str().unwrap()),
        json!({"uid": ERIN_OID, "utid": CIAM_TENANT_ID})
    );
    assert_eq!(
        claims(t.json["id_token"].as_str().unwrap())["iss"],
        format!("https://{CIAM_TENANT_ID}.ciamlogin.com/{CIAM_TENANT_ID}/v2.0")
    );
}
