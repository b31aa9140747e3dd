//! Emulator: OIDC discovery for every authority kind, instance discovery, JWKS, host dispatch.

mod emulator_support;

use emulator_support::*;
use msal_tests::emulator::seeds::*;

fn disco(host: &str, path: &str) -> String {
    format!("https://{host}/{path}/.well-known/openid-configuration")
}

#[tokio::test]
async fn public_cloud_domain_tenant_gets_guid_endpoints() {
    let (_emu, c) = start().await;
    for tenant in [
        CONTOSO_DOMAIN,
        "CONTOSO.onmicrosoft.COM",
        CONTOSO_CUSTOM_DOMAIN,
        CONTOSO_TENANT_ID,
    ] {
        let a = get(&c, &disco(PUBLIC_HOST, &format!("{tenant}/v2.0"))).await;
        assert_eq!(a.status, 200, "{tenant}: {}", a.text);
        let base = format!("https://login.microsoftonline.com/{CONTOSO_TENANT_ID}/oauth2/v2.0");
        assert_eq!(a.json["token_endpoint"], format!("{base}/token"));
        assert_eq!(
            a.json["authorization_endpoint"],
            format!("{base}/authorize")
        );
        assert_eq!(
            a.json["device_authorization_endpoint"],
            format!("{base}/devicecode")
        );
        assert_eq!(a.json["end_session_endpoint"], format!("{base}/logout"));
        assert_eq!(
            a.json["issuer"],
            format!("https://login.microsoftonline.com/{CONTOSO_TENANT_ID}/v2.0")
        );
        assert_eq!(a.json["tenant_region_scope"], "NA");
        assert_eq!(a.json["cloud_instance_name"], "microsoftonline.com");
        assert!(
            a.json["scopes_supported"]
                .as_array()
                .unwrap()
                .contains(&"openid".into())
        );
        assert!(
            a.json["response_types_supported"]
                .as_array()
                .unwrap()
                .contains(&"code".into())
        );
        assert!(
            a.json["token_endpoint_auth_methods_supported"]
                .as_array()
                .unwrap()
                .contains(&"private_key_jwt".into())
        );
        assert_eq!(
            a.headers["content-type"].to_str().unwrap(),
            "application/json; charset=utf-8"
        );
    }
}

#[tokio::test]
async fn aliases_and_regional_hosts_keep_their_host() {
    let (_emu, c) = start().await;
    for host in [
        "login.windows.net",
        "login.microsoft.com",
        "sts.windows.net",
        "westus.login.microsoft.com",
        TRUSTED_CUSTOM_HOST,
    ] {
        let a = get(&c, &disco(host, &format!("{FABRIKAM_DOMAIN}/v2.0"))).await;
        assert_eq!(a.status, 200, "{host}: {}", a.text);
        assert_eq!(
            a.json["token_endpoint"],
            format!("https://{host}/{FABRIKAM_TENANT_ID}/oauth2/v2.0/token")
        );
        assert_eq!(
            a.json["issuer"],
            format!("https://login.microsoftonline.com/{FABRIKAM_TENANT_ID}/v2.0")
        );
    }
}

#[tokio::test]
async fn pseudo_tenants_keep_their_names() {
    let (_emu, c) = start().await;
    for (tenant, issuer_tid) in [
        ("common", "{tenantid}"),
        ("organizations", "{tenantid}"),
        ("consumers", CONSUMERS_TENANT_ID),
    ] {
        // MSAL's default authority gives a double slash: `common//v2.0`.
        let a = get(&c, &disco(PUBLIC_HOST, &format!("{tenant}//v2.0"))).await;
        assert_eq!(a.status, 200, "{tenant}: {}", a.text);
        assert_eq!(
            a.json["token_endpoint"],
            format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token")
        );
        assert_eq!(
            a.json["issuer"],
            format!("https://login.microsoftonline.com/{issuer_tid}/v2.0")
        );
    }
}

#[tokio::test]
async fn sovereign_cloud_serves_only_its_tenants() {
    let (_emu, c) = start().await;
    for host in [
        USGOV_HOST,
        "login.usgovcloudapi.net",
        "usgovvirginia.login.microsoftonline.us",
    ] {
        let a = get(&c, &disco(host, &format!("{USGOV_DOMAIN}/v2.0"))).await;
        assert_eq!(a.status, 200, "{host}: {}", a.text);
        assert_eq!(
            a.json["token_endpoint"],
            format!("https://{host}/{USGOV_TENANT_ID}/oauth2/v2.0/token")
        );
        assert_eq!(
            a.json["issuer"],
            format!("https://login.microsoftonline.us/{USGOV_TENANT_ID}/v2.0")
        );
        assert_eq!(a.json["cloud_instance_name"], "microsoftonline.us");
        assert_eq!(a.json["tenant_region_scope"], "USGov");
    }
    let a = get(&c, &disco(PUBLIC_HOST, &format!("{USGOV_DOMAIN}/v2.0"))).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json["error"], "invalid_tenant");
    let a = get(&c, &disco(USGOV_HOST, &format!("{CONTOSO_DOMAIN}/v2.0"))).await;
    assert_eq!(a.status, 400);
}

#[tokio::test]
async fn unknown_tenant_and_unknown_paths() {
    let (_emu, c) = start().await;
    let a = get(&c, &disco(PUBLIC_HOST, "nosuch.onmicrosoft.com/v2.0")).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json["error"], "invalid_tenant");
    assert_eq!(a.json["error_codes"][0], 90002);
    assert!(
        a.json["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS90002: Tenant 'nosuch.onmicrosoft.com' not found.")
    );
    for key in ["timestamp", "trace_id", "correlation_id"] {
        assert!(a.json[key].is_string(), "{key}");
    }
    // The /v2.0 suffix is required.
    let a = get(&c, &disco(PUBLIC_HOST, CONTOSO_DOMAIN)).await;
    assert_eq!(a.status, 404);
    assert_eq!(a.json["error"], "not_found");
    let a = get(
        &c,
        &format!("https://{PUBLIC_HOST}/{CONTOSO_DOMAIN}/nothing/here"),
    )
    .await;
    assert_eq!(a.status, 404);
}

#[tokio::test]
async fn b2c_discovery() {
    let (_emu, c) = start().await;
    for policy in [
        B2C_POLICY_SIGNUP_SIGNIN,
        "b2c_1_SIGNUPSIGNIN",
        B2C_POLICY_PROFILE_EDIT,
    ] {
        let a = get(
            &c,
            &disco(B2C_HOST, &format!("{B2C_TENANT_DOMAIN}/{policy}/v2.0")),
        )
        .await;
        assert_eq!(a.status, 200, "{policy}: {}", a.text);
        let lower = policy.to_ascii_lowercase();
        assert_eq!(
            a.json["token_endpoint"],
            format!(
                "https://contosob2c.b2clogin.com/contosob2c.onmicrosoft.com/{lower}/oauth2/v2.0/token"
            )
        );
        assert_eq!(
            a.json["authorization_endpoint"],
            format!(
                "https://contosob2c.b2clogin.com/contosob2c.onmicrosoft.com/{lower}/oauth2/v2.0/authorize"
            )
        );
        assert_eq!(
            a.json["issuer"],
            format!("https://contosob2c.b2clogin.com/{B2C_TENANT_ID}/v2.0/")
        );
    }
    let a = get(
        &c,
        &disco(B2C_HOST, &format!("{B2C_TENANT_DOMAIN}/B2C_1_nosuch/v2.0")),
    )
    .await;
    assert_eq!(a.status, 404);
    assert!(a.json["error"].is_string());
}

#[tokio::test]
async fn ciam_adfs_and_generic_oidc_discovery() {
    let (_emu, c) = start().await;
    for tenant in [CIAM_TENANT_DOMAIN, CIAM_TENANT_ID] {
        let a = get(&c, &disco(CIAM_HOST, &format!("{tenant}/v2.0"))).await;
        assert_eq!(a.status, 200, "{}", a.text);
        assert_eq!(
            a.json["token_endpoint"],
            format!("https://contosociam.ciamlogin.com/{CIAM_TENANT_ID}/oauth2/v2.0/token")
        );
    }

    let a = get(
        &c,
        "https://fs.contoso.com/adfs/.well-known/openid-configuration",
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(
        a.json["token_endpoint"],
        "https://fs.contoso.com/adfs/oauth2/token"
    );
    assert_eq!(
        a.json["authorization_endpoint"],
        "https://fs.contoso.com/adfs/oauth2/authorize"
    );
    assert_eq!(
        a.json["device_authorization_endpoint"],
        "https://fs.contoso.com/adfs/oauth2/devicecode"
    );
    assert_eq!(a.json["issuer"], "https://fs.contoso.com/adfs");
    // ADFS has no /v2.0 discovery.
    assert_eq!(
        get(
            &c,
            "https://fs.contoso.com/adfs/v2.0/.well-known/openid-configuration"
        )
        .await
        .status,
        404
    );

    let a = get(
        &c,
        &format!("{OIDC_ISSUER}/.well-known/openid-configuration"),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["issuer"], OIDC_ISSUER);
    assert_eq!(
        a.json["token_endpoint"],
        "https://idp.fabrikam.example/tenant1/oauth2/token"
    );
    assert_eq!(
        a.json["authorization_endpoint"],
        "https://idp.fabrikam.example/tenant1/oauth2/authorize"
    );
}

#[tokio::test]
async fn jwks_verifies_issued_tokens() {
    let (_emu, c) = start().await;
    let doc = get(&c, &disco(PUBLIC_HOST, &format!("{CONTOSO_DOMAIN}/v2.0"))).await;
    let jwks = get(&c, doc.json["jwks_uri"].as_str().unwrap()).await;
    assert_eq!(jwks.status, 200);
    let tok = post_form(
        &c,
        &token_url(PUBLIC_HOST, CONTOSO_DOMAIN),
        &[
            ("client_id", SECRET_APP_CLIENT_ID),
            ("grant_type", "client_credentials"),
            ("client_secret", SECRET_APP_SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    let at = tok.json["access_token"].as_str().unwrap();
    assert!(verify_with_jwks(at, &jwks.json));
    // A tampered token does not verify.
    let mut parts: Vec<String> = at.split('.').map(str::to_string).collect();
    parts[1] = b64url(br#"{"aud":"evil"}"#);
    assert!(!verify_with_jwks(&parts.join("."), &jwks.json));
}

#[tokio::test]
async fn instance_discovery() {
    let (emu, c) = start().await;
    let url = |host: &str, version: &str, endpoint: &str| {
        let q = form_body(&[
            ("api-version", version),
            ("authorization_endpoint", endpoint),
        ]);
        format!("https://{host}/common/discovery/instance?{q}")
    };
    for version in ["1.1", "1.0"] {
        let a = get(
            &c,
            &url(
                PUBLIC_HOST,
                version,
                "https://login.contoso.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize",
            ),
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.text);
        assert_eq!(
            a.json["tenant_discovery_endpoint"],
            "https://login.contoso.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"
        );
        assert_eq!(a.json["api-version"], version);
        let meta = a.json["metadata"].as_array().unwrap();
        assert_eq!(meta[0]["preferred_network"], "login.microsoftonline.com");
        assert_eq!(meta[0]["preferred_cache"], "login.windows.net");
        assert_eq!(meta[0]["aliases"].as_array().unwrap().len(), 4);
        assert_eq!(meta[1]["aliases"][1], "login.usgovcloudapi.net");
        assert_eq!(meta[2]["preferred_network"], "login.contoso.com");
    }
    // Known Microsoft host, queried on an alias.
    let a = get(
        &c,
        &url(
            "login.windows.net",
            "1.1",
            "https://login.microsoftonline.com/common/oauth2/authorize",
        ),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.json["tenant_discovery_endpoint"],
        "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"
    );
    // An unknown host.
    let a = get(
        &c,
        &url(
            PUBLIC_HOST,
            "1.1",
            "https://example.com/tenant/oauth2/v2.0/authorize",
        ),
    )
    .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json["error"], "invalid_instance");
    assert_eq!(a.json["error_codes"][0], 50049);
    assert!(
        a.json["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS50049: Unknown or invalid instance.")
    );
    // The admin switch.
    emu.admin().fail_instance_discovery(true).await.unwrap();
    let ok_url = url(
        PUBLIC_HOST,
        "1.1",
        "https://login.microsoftonline.com/common/oauth2/authorize",
    );
    assert_eq!(get(&c, &ok_url).await.json["error"], "invalid_instance");
    emu.admin().fail_instance_discovery(false).await.unwrap();
    assert_eq!(get(&c, &ok_url).await.status, 200);
    assert_eq!(emu.admin().stats().await.unwrap().discovery_requests, 6);
}

#[tokio::test]
async fn dispatch_uses_the_host_header_not_sni() {
    let (emu, _) = start().await;
    // As a Python client would: connect to 127.0.0.1 (the IP is in the certificate) and carry
    // the real host name in the Host header.
    let ca = reqwest::Certificate::from_pem(emu.ca_pem().as_bytes()).unwrap();
    let c = reqwest::Client::builder()
        .tls_certs_only([ca])
        .http1_only()
        .build()
        .unwrap();
    let url = format!(
        "https://{}/adfs/.well-known/openid-configuration",
        emu.https_addr()
    );
    let a = c
        .get(&url)
        .header("host", "fs.contoso.com")
        .send()
        .await
        .unwrap();
    assert_eq!(a.status(), 200);
    let doc: serde_json::Value = a.json_or_text().await;
    assert_eq!(doc["issuer"], "https://fs.contoso.com/adfs");
    let a = c
        .get(&url)
        .header("host", "login.microsoftonline.com")
        .send()
        .await
        .unwrap();
    assert_eq!(a.status(), 404);
    // An unknown host is a 404 too.
    let a = c.get(&url).send().await.unwrap();
    assert_eq!(a.status(), 404);
}

trait JsonOrText {
    async fn json_or_text(self) -> serde_json::Value;
}

impl JsonOrText for reqwest::Response {
    async fn json_or_text(self) -> serde_json::Value {
        let t = self.text().await.unwrap();
        serde_json::from_str(&t).unwrap_or(serde_json::Value::String(t))
    }
}
