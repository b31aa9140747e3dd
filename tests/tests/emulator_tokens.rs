//! Emulator: the token endpoint (client credentials with secrets and assertions, OBO).

mod emulator_support;

use emulator_support::*;
use msal_tests::emulator::seeds::*;
use msal_tests::emulator::{AppRegistration, UserTokenRequest};
use serde_json::json;

const GRAPH_DEFAULT: &str = "https://graph.microsoft.com/.default";

fn contoso_token() -> String {
    token_url(PUBLIC_HOST, CONTOSO_DOMAIN)
}

async fn cc_with_assertion(c: &reqwest::Client, url: &str, assertion: &str) -> Answer {
    post_form(
        c,
        url,
        &[
            ("client_id", CERT_APP_CLIENT_ID),
            ("grant_type", "client_credentials"),
            ("client_assertion", assertion),
            ("client_info", "1"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("scope", GRAPH_DEFAULT),
        ],
    )
    .await
}

#[tokio::test]
async fn client_credentials_with_secret() {
    let (_emu, c) = start().await;
    let before = now().floor() as u64;
    let a = post_form_with(
        &c,
        &contoso_token(),
        &[
            ("client_id", SECRET_APP_CLIENT_ID),
            ("grant_type", "client_credentials"),
            ("client_info", "1"),
            ("client_secret", SECRET_APP_SECRET),
            ("scope", GRAPH_DEFAULT),
        ],
        &[("client-request-id", "5b2e6d3a-0000-4000-8000-000000000001")],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.headers["content-type"], "application/json; charset=utf-8");
    assert_eq!(
        a.headers["client-request-id"],
        "5b2e6d3a-0000-4000-8000-000000000001"
    );
    let keys: Vec<&str> = a
        .json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["token_type", "expires_in", "ext_expires_in", "access_token"]
    );
    assert_eq!(a.json["token_type"], "Bearer");
    assert_eq!(a.json["expires_in"], 3599);
    let at = a.json["access_token"].as_str().unwrap();
    assert_eq!(header(at)["alg"], "RS256");
    assert!(header(at)["kid"].is_string());
    let cl = claims(at);
    assert_eq!(cl["aud"], "https://graph.microsoft.com");
    assert_eq!(
        cl["iss"],
        format!("https://sts.windows.net/{CONTOSO_TENANT_ID}/")
    );
    assert_eq!(cl["tid"], CONTOSO_TENANT_ID);
    assert_eq!(cl["appid"], SECRET_APP_CLIENT_ID);
    assert_eq!(cl["azp"], SECRET_APP_CLIENT_ID);
    assert_eq!(cl["appidacr"], "1");
    assert!(cl["oid"].is_string() && cl["sub"] == cl["oid"]);
    let iat = cl["iat"].as_u64().unwrap();
    assert!(iat >= before && iat <= before + 5);
    assert_eq!(cl["exp"].as_u64().unwrap(), iat + 3599);
    // Each token is unique.
    let b = post_form(
        &c,
        &contoso_token(),
        &[
            ("client_id", SECRET_APP_CLIENT_ID),
            ("grant_type", "client_credentials"),
            ("client_secret", SECRET_APP_SECRET),
            ("scope", GRAPH_DEFAULT),
        ],
    )
    .await;
    assert_ne!(
        claims(b.json["access_token"].as_str().unwrap())["uti"],
        cl["uti"]
    );
}

#[tokio::test]
async fn client_credentials_errors() {
    let (_emu, c) = start().await;
    let base = |secret: &'static str, scope: &'static str| {
        vec![
            ("client_id", SECRET_APP_CLIENT_ID),
            ("grant_type", "client_credentials"),
            ("client_secret", secret),
            ("scope", scope),
        ]
    };
    let a = post_form_with(
        &c,
        &contoso_token(),
        &base("wrong", GRAPH_DEFAULT),
        &[("client-request-id", "cid-1")],
    )
    .await;
    assert_eq!(a.status, 401);
    assert_eq!(a.json["error"], "invalid_client");
    assert_eq!(aadsts(&a), 7000215);
    assert_eq!(a.json["correlation_id"], "cid-1");
    assert_eq!(a.headers["client-request-id"], "cid-1");
    assert!(
        a.json["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS7000215: ")
    );

    let a = post_form(
        &c,
        &contoso_token(),
        &[
            ("client_id", "00000000-0000-0000-0000-000000000000"),
            ("grant_type", "client_credentials"),
            ("client_secret", "x"),
            ("scope", GRAPH_DEFAULT),
        ],
    )
    .await;
    assert_eq!(
        (a.status, a.json["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
    assert_eq!(aadsts(&a), 700016);

    let a = post_form(
        &c,
        &contoso_token(),
        &base(SECRET_APP_SECRET, "https://graph.microsoft.com/User.Read"),
    )
    .await;
    assert_eq!(
        (a.status, a.json["error"].as_str(), aadsts(&a)),
        (400, Some("invalid_scope"), 1002012)
    );
    let a = post_form(
        &c,
        &contoso_token(),
        &base(SECRET_APP_SECRET, "https://nosuch.example/.default"),
    )
    .await;
    assert_eq!(
        (a.status, a.json["error"].as_str(), aadsts(&a)),
        (400, Some("invalid_resource"), 500011)
    );
    let a = post_form(
        &c,
        &contoso_token(),
        &base(
            SECRET_APP_SECRET,
            "https://graph.microsoft.com/.default https://management.azure.com/.default",
        ),
    )
    .await;
    assert_eq!(a.json["error"], "invalid_scope");

    for pseudo in ["common", "organizations", "consumers"] {
        let a = post_form(
            &c,
            &token_url(PUBLIC_HOST, pseudo),
            &base(SECRET_APP_SECRET, GRAPH_DEFAULT),
        )
        .await;
        assert_eq!(
            (a.status, a.json["error"].as_str()),
            (400, Some("invalid_request")),
            "{pseudo}"
        );
    }
    let mut with_claims = base(SECRET_APP_SECRET, GRAPH_DEFAULT);
    with_claims.push(("claims", "{not json"));
    let a = post_form(&c, &contoso_token(), &with_claims).await;
    assert_eq!(
        (a.status, a.json["error"].as_str()),
        (400, Some("invalid_request"))
    );

    let mut other_grant = base(SECRET_APP_SECRET, GRAPH_DEFAULT);
    other_grant[1] = ("grant_type", "urn:example:nope");
    let a = post_form(&c, &contoso_token(), &other_grant).await;
    assert_eq!(
        (a.status, a.json["error"].as_str(), aadsts(&a)),
        (400, Some("unsupported_grant_type"), 70003)
    );

    // Garbage bodies get OAuth errors, never a crash.
    let r = c
        .post(contoso_token())
        .body("\u{0}\u{1}garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = c.get(contoso_token()).send().await.unwrap();
    assert_eq!(r.status(), 405);
    let a = post_form(
        &c,
        &contoso_token(),
        &[
            ("grant_type", "client_credentials"),
            ("scope", GRAPH_DEFAULT),
        ],
    )
    .await;
    assert_eq!((a.status, aadsts(&a)), (400, 900144));
}

#[tokio::test]
async fn claims_capabilities_and_fmi_path_reach_the_token() {
    let (_emu, c) = start().await;
    let a = post_form(
        &c,
        &contoso_token(),
        &[
            ("client_id", SECRET_APP_CLIENT_ID),
            ("grant_type", "client_credentials"),
            ("client_secret", SECRET_APP_SECRET),
            ("scope", "https://management.azure.com//.default"),
            (
                "claims",
                r#"{"access_token": {"xms_cc": {"values": ["CP1"]}}}"#,
            ),
            ("fmi_path", "a/b"),
        ],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let cl = claims(a.json["access_token"].as_str().unwrap());
    assert_eq!(cl["aud"], "https://management.azure.com");
    assert_eq!(cl["xms_cc"], json!(["CP1"]));
    assert_eq!(cl["fmi_path"], "a/b");
}

#[tokio::test]
async fn lifetime_is_configurable_per_app() {
    let (emu, c) = start().await;
    emu.admin()
        .register_app(&AppRegistration {
            client_id: "11111111-2222-4333-8444-555555555555".into(),
            secrets: vec!["long".into()],
            access_token_lifetime_secs: Some(86_400),
            ..Default::default()
        })
        .await
        .unwrap();
    let a = post_form(
        &c,
        &contoso_token(),
        &[
            ("client_id", "11111111-2222-4333-8444-555555555555"),
            ("grant_type", "client_credentials"),
            ("client_secret", "long"),
            ("scope", &format!("{MIDDLE_TIER_APP_ID_URI}/.default")),
        ],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["expires_in"], 86_400);
    assert_eq!(a.json["refresh_in"], 43_200);
    let cl = claims(a.json["access_token"].as_str().unwrap());
    assert_eq!(cl["aud"], MIDDLE_TIER_APP_ID_URI);
    assert_eq!(
        cl["exp"].as_u64().unwrap() - cl["iat"].as_u64().unwrap(),
        86_400
    );
}

#[tokio::test]
async fn client_credentials_with_certificate_assertions() {
    let (emu, c) = start().await;
    // PS256 + padded x5t#S256 + multi-line x5c, aud = the central token endpoint.
    let central = format!("https://login.microsoftonline.com/{CONTOSO_DOMAIN}/oauth2/v2.0/token");
    let assertion = cert_app_assertion(&central);
    assert!(
        header(&assertion)["x5t#S256"]
            .as_str()
            .unwrap()
            .ends_with('=')
    );
    assert!(
        header(&assertion)["x5c"][0]
            .as_str()
            .unwrap()
            .contains('\n')
    );
    let a = cc_with_assertion(&c, &contoso_token(), &assertion).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let cl = claims(a.json["access_token"].as_str().unwrap());
    assert_eq!(cl["appid"], CERT_APP_CLIENT_ID);
    assert_eq!(cl["appidacr"], "2");

    // RS256 + unpadded x5t (SHA-1), no x5c, aud with the tenant GUID.
    let rs = sign_assertion(&AssertionSpec {
        alg: Alg::Rs256,
        key_pem: APP_KEY_PKCS8_PEM,
        cert_pem: APP_CERT_PEM,
        padded_thumbprint: false,
        with_x5c: false,
        claims: assertion_claims(
            CERT_APP_CLIENT_ID,
            &token_url(PUBLIC_HOST, CONTOSO_TENANT_ID),
        ),
    });
    let a = cc_with_assertion(&c, &contoso_token(), &rs).await;
    assert_eq!(a.status, 200, "{}", a.text);

    // A regional request accepts the central audience (MSAL builds it once, centrally)...
    let regional = token_url("westus.login.microsoft.com", CONTOSO_DOMAIN);
    let a = cc_with_assertion(&c, &regional, &cert_app_assertion(&central)).await;
    assert_eq!(a.status, 200, "{}", a.text);
    // ... and only that: an assertion addressed to the regional endpoint itself is refused.
    let a = cc_with_assertion(&c, &regional, &cert_app_assertion(&regional)).await;
    assert_eq!(
        (a.status, a.json["error"].as_str(), aadsts(&a)),
        (401, Some("invalid_client"), 50012),
        "{}",
        a.text
    );

    // Reuse is accepted and counted.
    let a = cc_with_assertion(&c, &contoso_token(), &assertion).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let jti = claims(&assertion)["jti"].as_str().unwrap().to_string();
    let stats = emu.admin().stats().await.unwrap();
    assert_eq!(stats.assertion_reuse[&jti], 2);
    assert_eq!(
        stats.assertion_reuse[claims(&rs)["jti"].as_str().unwrap()],
        1
    );
    assert_eq!(stats.token_requests, 5);
}

#[tokio::test]
async fn bad_assertions_are_rejected() {
    let (emu, c) = start().await;
    let url = contoso_token();
    let central = format!("https://login.microsoftonline.com/{CONTOSO_DOMAIN}/oauth2/v2.0/token");
    let spec = |claims: serde_json::Value| AssertionSpec {
        alg: Alg::Ps256,
        key_pem: APP_KEY_PKCS8_PEM,
        cert_pem: APP_CERT_PEM,
        padded_thumbprint: true,
        with_x5c: false,
        claims,
    };
    let check = |a: &Answer, code: u64| {
        assert_eq!(
            (a.status, a.json["error"].as_str()),
            (401, Some("invalid_client")),
            "{}",
            a.text
        );
        assert_eq!(aadsts(a), code, "{}", a.text);
    };

    // Expired (float exp in the past).
    let mut cl = assertion_claims(CERT_APP_CLIENT_ID, &central);
    cl["exp"] = json!(now() - 30.5);
    check(
        &cc_with_assertion(&c, &url, &sign_assertion(&spec(cl))).await,
        700024,
    );
    // Not yet valid.
    let mut cl = assertion_claims(CERT_APP_CLIENT_ID, &central);
    cl["nbf"] = json!(now() + 300.0);
    check(
        &cc_with_assertion(&c, &url, &sign_assertion(&spec(cl))).await,
        700024,
    );
    // Signed with another key but claiming the registered thumbprint.
    let wrong_key = sign_assertion(&AssertionSpec {
        key_pem: OTHER_KEY_PEM,
        ..spec(assertion_claims(CERT_APP_CLIENT_ID, &central))
    });
    check(&cc_with_assertion(&c, &url, &wrong_key).await, 700027);
    // The other certificate entirely: its thumbprint is unknown.
    let unknown = sign_assertion(&AssertionSpec {
        key_pem: OTHER_KEY_PEM,
        cert_pem: OTHER_CERT_PEM,
        ..spec(assertion_claims(CERT_APP_CLIENT_ID, &central))
    });
    check(&cc_with_assertion(&c, &url, &unknown).await, 700021);
    // Wrong audience.
    let bad_aud = sign_assertion(&spec(assertion_claims(
        CERT_APP_CLIENT_ID,
        "https://login.microsoftonline.com/fabrikam.onmicrosoft.com/oauth2/v2.0/token",
    )));
    check(&cc_with_assertion(&c, &url, &bad_aud).await, 50012);
    // iss/sub of another app.
    let other_iss = sign_assertion(&spec(assertion_claims(SECRET_APP_CLIENT_ID, &central)));
    check(&cc_with_assertion(&c, &url, &other_iss).await, 700021);
    // Garbage.
    check(&cc_with_assertion(&c, &url, "not.a.jwt").await, 50027);
    // None of the rejected ones were counted as uses.
    assert!(
        emu.admin()
            .stats()
            .await
            .unwrap()
            .assertion_reuse
            .is_empty()
    );
}

#[tokio::test]
async fn other_authorities_issue_client_credentials() {
    let (_emu, c) = start().await;
    let cases = [
        (
            "https://fs.contoso.com/adfs/oauth2/token",
            "https://fs.contoso.com/adfs",
        ),
        (
            "https://idp.fabrikam.example/tenant1/oauth2/token",
            OIDC_ISSUER,
        ),
        (
            "https://contosob2c.b2clogin.com/contosob2c.onmicrosoft.com/b2c_1_signupsignin/oauth2/v2.0/token",
            "https://contosob2c.b2clogin.com/c0b2c0b2-5e1a-4c2f-8d3b-1a2b3c4d5e6f/v2.0/",
        ),
        (
            "https://contosociam.ciamlogin.com/c1a0c1a0-3b2d-4e5f-9a8b-7c6d5e4f3a2b/oauth2/v2.0/token",
            "https://c1a0c1a0-3b2d-4e5f-9a8b-7c6d5e4f3a2b.ciamlogin.com/c1a0c1a0-3b2d-4e5f-9a8b-7c6d5e4f3a2b/v2.0",
        ),
    ];
    for (url, issuer) in cases {
        let a = post_form(
            &c,
            url,
            &[
                ("client_id", SECRET_APP_CLIENT_ID),
                ("grant_type", "client_credentials"),
                ("client_secret", SECRET_APP_SECRET),
                ("scope", GRAPH_DEFAULT),
            ],
        )
        .await;
        assert_eq!(a.status, 200, "{url}: {}", a.text);
        assert_eq!(
            claims(a.json["access_token"].as_str().unwrap())["iss"],
            issuer,
            "{url}"
        );
        // An assertion whose aud is that token endpoint.
        let a = cc_with_assertion(&c, url, &cert_app_assertion(url)).await;
        assert_eq!(a.status, 200, "{url}: {}", a.text);
    }
}

async fn obo(c: &reqwest::Client, user_token: &str, scope: &str, extra: &[(&str, &str)]) -> Answer {
    let mut form = vec![
        ("client_id", MIDDLE_TIER_CLIENT_ID),
        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
        ("client_info", "1"),
        ("client_secret", MIDDLE_TIER_SECRET),
        ("assertion", user_token),
        ("requested_token_use", "on_behalf_of"),
        ("scope", scope),
    ];
    // A field in `extra` replaces the default one.
    form.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    form.extend_from_slice(extra);
    post_form(c, &contoso_token(), &form).await
}

fn alice_token(audience: &str, lifetime: Option<u64>) -> UserTokenRequest {
    UserTokenRequest {
        tenant: CONTOSO_DOMAIN.into(),
        username: ALICE_USERNAME.into(),
        audience: audience.into(),
        scopes: vec!["access_as_user".into()],
        lifetime_secs: lifetime,
        client_id: None,
    }
}

#[tokio::test]
async fn on_behalf_of() {
    let (emu, c) = start().await;
    let minted = emu
        .admin()
        .mint_user_token(&alice_token(MIDDLE_TIER_CLIENT_ID, None))
        .await
        .unwrap();
    let ut = claims(&minted.access_token);
    assert_eq!(ut["aud"], MIDDLE_TIER_CLIENT_ID);
    assert_eq!(ut["scp"], "access_as_user");
    assert_eq!(ut["oid"], ALICE_OID);
    assert_eq!(ut["exp"].as_u64().unwrap(), minted.expires_on);

    let a = obo(
        &c,
        &minted.access_token,
        "https://graph.microsoft.com/User.Read offline_access openid profile",
        &[],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["token_type"], "Bearer");
    assert_eq!(a.json["scope"], "https://graph.microsoft.com/User.Read");
    assert_eq!(a.json["expires_in"], 3599);
    assert!(
        a.json["refresh_token"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
    let at = claims(a.json["access_token"].as_str().unwrap());
    assert_eq!(at["aud"], "https://graph.microsoft.com");
    assert_eq!(at["oid"], ALICE_OID);
    assert_eq!(at["tid"], CONTOSO_TENANT_ID);
    assert_eq!(at["upn"], ALICE_USERNAME);
    assert_eq!(at["scp"], "User.Read");
    assert_eq!(at["azp"], MIDDLE_TIER_CLIENT_ID);
    let id = claims(a.json["id_token"].as_str().unwrap());
    assert_eq!(id["aud"], MIDDLE_TIER_CLIENT_ID);
    assert_eq!(
        id["iss"],
        format!("https://login.microsoftonline.com/{CONTOSO_TENANT_ID}/v2.0")
    );
    assert_eq!(id["name"], ALICE_NAME);
    assert_eq!(id["preferred_username"], ALICE_USERNAME);
    assert_eq!(id["oid"], ALICE_OID);
    assert_eq!(id["tid"], CONTOSO_TENANT_ID);
    assert_eq!(id["ver"], "2.0");
    let sub = id["sub"].as_str().unwrap().to_string();
    let info: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            a.json["client_info"].as_str().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(info, json!({"uid": ALICE_OID, "utid": CONTOSO_TENANT_ID}));

    // The pairwise sub is stable; without offline_access/openid/client_info those are absent.
    let b = obo(
        &c,
        &minted.access_token,
        "https://graph.microsoft.com/Mail.Read openid",
        &[],
    )
    .await;
    assert_eq!(
        claims(b.json["id_token"].as_str().unwrap())["sub"],
        sub.as_str()
    );
    let b = obo(
        &c,
        &minted.access_token,
        "https://graph.microsoft.com/.default",
        &[("client_info", "")],
    )
    .await;
    assert_eq!(b.status, 200, "{}", b.text);
    for absent in ["refresh_token", "id_token", "client_info"] {
        assert!(b.json.get(absent).is_none(), "{absent}");
    }
    // Delegated grants echo the `.default` asked for after the scopes it stands for.
    assert_eq!(
        b.json["scope"],
        "https://graph.microsoft.com/User.Read https://graph.microsoft.com/Mail.Send https://graph.microsoft.com/Mail.Read https://graph.microsoft.com/.default"
    );

    // The middle tier may also authenticate with its certificate, and the user token may carry
    // its app id URI as audience.
    let by_uri = emu
        .admin()
        .mint_user_token(&alice_token(MIDDLE_TIER_APP_ID_URI, None))
        .await
        .unwrap();
    let assertion = sign_assertion(&AssertionSpec {
        alg: Alg::Ps256,
        key_pem: APP_KEY_PKCS8_PEM,
        cert_pem: APP_CERT_PEM,
        padded_thumbprint: true,
        with_x5c: true,
        claims: assertion_claims(MIDDLE_TIER_CLIENT_ID, &contoso_token()),
    });
    let a = post_form(
        &c,
        &contoso_token(),
        &[
            ("client_id", MIDDLE_TIER_CLIENT_ID),
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("client_assertion", &assertion),
            ("client_assertion_type", ASSERTION_TYPE),
            ("assertion", &by_uri.access_token),
            ("requested_token_use", "on_behalf_of"),
            ("scope", "https://management.azure.com/user_impersonation"),
        ],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(
        claims(a.json["access_token"].as_str().unwrap())["aud"],
        "https://management.azure.com"
    );
}

#[tokio::test]
async fn on_behalf_of_rejections() {
    let (emu, c) = start().await;
    let admin = emu.admin();
    // Expired by the emulator clock.
    let short = admin
        .mint_user_token(&alice_token(MIDDLE_TIER_CLIENT_ID, Some(60)))
        .await
        .unwrap();
    admin.advance_clock(120.0).await.unwrap();
    let a = obo(
        &c,
        &short.access_token,
        "https://graph.microsoft.com/User.Read",
        &[],
    )
    .await;
    assert_eq!(
        (a.status, a.json["error"].as_str(), aadsts(&a)),
        (400, Some("invalid_grant"), 500133),
        "{}",
        a.text
    );
    admin.reset().await.unwrap();
    // Issued for another audience.
    let foreign = admin
        .mint_user_token(&alice_token(SECRET_APP_CLIENT_ID, None))
        .await
        .unwrap();
    let a = obo(
        &c,
        &foreign.access_token,
        "https://graph.microsoft.com/User.Read",
        &[],
    )
    .await;
    assert_eq!(
        (a.status, a.json["error"].as_str(), aadsts(&a)),
        (400, Some("invalid_grant"), 50013),
        "{}",
        a.text
    );
    // Not issued by the emulator (well-formed, signed by the app key).
    let forged = sign_assertion(&AssertionSpec {
        alg: Alg::Rs256,
        key_pem: APP_KEY_PKCS8_PEM,
        cert_pem: APP_CERT_PEM,
        padded_thumbprint: false,
        with_x5c: false,
        claims: claims(&foreign.access_token),
    });
    let a = obo(&c, &forged, "https://graph.microsoft.com/User.Read", &[]).await;
    assert_eq!((a.status, aadsts(&a)), (400, 50013), "{}", a.text);
    // The middle tier must authenticate.
    let good = admin
        .mint_user_token(&alice_token(MIDDLE_TIER_CLIENT_ID, None))
        .await
        .unwrap();
    let a = obo(
        &c,
        &good.access_token,
        "https://graph.microsoft.com/User.Read",
        &[("client_secret", "")],
    )
    .await;
    assert_eq!(
        (a.status, aadsts(&a)),
        (401, 7000218),
        "an empty secret is no secret: {}",
        a.text
    );
    let a = obo(
        &c,
        &good.access_token,
        "https://graph.microsoft.com/User.Read",
        &[],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let a = post_form(
        &c,
        &contoso_token(),
        &[
            ("client_id", MIDDLE_TIER_CLIENT_ID),
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", &good.access_token),
            ("requested_token_use", "on_behalf_of"),
            ("scope", "https://graph.microsoft.com/User.Read"),
        ],
    )
    .await;
    assert_eq!(
        (a.status, a.json["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // Two resources at once.
    let a = obo(
        &c,
        &good.access_token,
        "https://graph.microsoft.com/User.Read https://management.azure.com/user_impersonation",
        &[],
    )
    .await;
    assert_eq!(
        (a.status, a.json["error"].as_str()),
        (400, Some("invalid_scope"))
    );
}

#[tokio::test]
async fn extreme_admin_values_do_not_break_the_server() {
    let (emu, c) = start().await;
    let admin = emu.admin();
    admin
        .register_app(&AppRegistration {
            client_id: "99999999-2222-4333-8444-555555555555".into(),
            secrets: vec!["s".into()],
            access_token_lifetime_secs: Some(u64::MAX),
            ..Default::default()
        })
        .await
        .unwrap();
    admin.set_clock(1.0e15).await.unwrap();
    let a = post_form(
        &c,
        &contoso_token(),
        &[
            ("client_id", "99999999-2222-4333-8444-555555555555"),
            ("grant_type", "client_credentials"),
            ("client_secret", "s"),
            ("scope", GRAPH_DEFAULT),
        ],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(
        claims(a.json["access_token"].as_str().unwrap())["exp"],
        u64::MAX
    );
    let t = admin
        .mint_user_token(&UserTokenRequest {
            lifetime_secs: Some(u64::MAX),
            ..alice_token(MIDDLE_TIER_CLIENT_ID, None)
        })
        .await
        .unwrap();
    assert_eq!(t.expires_on, u64::MAX);
    // A clock at the end of representable time still answers (errors carry a timestamp).
    admin.advance_clock(f64::MAX).await.unwrap();
    let e = post_form(
        &c,
        &contoso_token(),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(e.status, 400);
    // The server still answers.
    admin.reset().await.unwrap();
    let a = get(
        &c,
        &format!("https://{PUBLIC_HOST}/common/v2.0/.well-known/openid-configuration"),
    )
    .await;
    assert_eq!(a.status, 200);
}

#[tokio::test]
async fn malformed_requests_get_errors_not_crashes() {
    let (_emu, c) = start().await;
    let b64 = |s: &str| b64url(s.as_bytes());
    let junk_jwts = [
        String::new(),
        "a.b.c".into(),
        format!("{}.{}.", b64("[]"), b64("{}")),
        format!(
            "{}.{}.{}",
            b64(r#"{"alg":"PS256","x5t#S256":"!!!"}"#),
            b64(
                r#"{"iss":"c3a7e1f0-2b4d-4c6e-8a9b-0d1e2f3a4b5c","sub":"c3a7e1f0-2b4d-4c6e-8a9b-0d1e2f3a4b5c"}"#
            ),
            b64("sig")
        ),
        format!(
            "{}.{}.{}",
            b64(r#"{"alg":"RS256","x5t":"AA","x5c":[42]}"#),
            b64(
                r#"{"iss":"c3a7e1f0-2b4d-4c6e-8a9b-0d1e2f3a4b5c","sub":"c3a7e1f0-2b4d-4c6e-8a9b-0d1e2f3a4b5c"}"#
            ),
            b64("sig")
        ),
        format!(
            "{}.{}.{}",
            b64(r#"{"alg":"none"}"#),
            b64(r#"{"iss":5}"#),
            ""
        ),
    ];
    for jwt in &junk_jwts {
        let a = post_form(
            &c,
            &contoso_token(),
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion", jwt),
                ("client_assertion_type", ASSERTION_TYPE),
                ("scope", GRAPH_DEFAULT),
            ],
        )
        .await;
        assert!(matches!(a.status, 400 | 401), "{jwt}: {}", a.text);
        assert!(a.json["error"].is_string(), "{jwt}: {}", a.text);
        let a = post_form(
            &c,
            &contoso_token(),
            &[
                ("client_id", MIDDLE_TIER_CLIENT_ID),
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("client_secret", MIDDLE_TIER_SECRET),
                ("assertion", jwt),
                ("requested_token_use", "on_behalf_of"),
                ("scope", "https://graph.microsoft.com/User.Read"),
            ],
        )
        .await;
        assert_eq!(a.status, 400, "{jwt}: {}", a.text);
    }
    // Invalid UTF-8 and odd encodings in a form body.
    let r = c
        .post(contoso_token())
        .header("content-type", FORM)
        .body(vec![
            b'g', b'r', b'a', b'n', b't', b'_', b't', b'y', b'p', b'e', b'=', 0xff, 0xfe, b'&',
            b'%', b'z', b'z',
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Unknown hosts and paths.
    for url in [
        "https://localhost/anything",
        "https://login.microsoftonline.com/",
        "https://login.microsoftonline.com/%00/v2.0/.well-known/openid-configuration",
        "https://contosob2c.b2clogin.com/contosob2c.onmicrosoft.com",
        "https://fs.contoso.com/notadfs/.well-known/openid-configuration",
    ] {
        let a = get(&c, url).await;
        assert!(matches!(a.status, 400 | 404), "{url}: {}", a.status);
        assert!(a.json["error"].is_string(), "{url}: {}", a.text);
    }
    // A body over the limit.
    let r = c
        .post(contoso_token())
        .header("content-type", FORM)
        .body(vec![b'a'; 2 << 20])
        .send()
        .await;
    assert!(r.map(|r| r.status() == 413).unwrap_or(true));
}
