//! The managed-identity sources, over HTTP against an in-process emulator: every source's
//! tokens (verified with the emulator's JWKS), its validation errors, Azure Arc's challenge,
//! Service Fabric's pinned TLS, the fault rules and the admin API.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use msal_emulator::seeds::*;
use msal_emulator::{
    Emulator, EmulatorConfig, ManagedIdentityEndpoints, ManagedIdentityFault,
    ManagedIdentityRegistration, ManagedIdentitySettings, ManagedIdentitySource,
};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

const ARM: &str = "https://management.azure.com/";
const VAULT: &str = "https://vault.azure.net";

/// An answer: status, headers, body text.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

struct Fixture {
    emu: Emulator,
    http: reqwest::Client,
    ep: ManagedIdentityEndpoints,
}

async fn start() -> Fixture {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let ep = emu.managed_identity().clone();
    Fixture { emu, http, ep }
}

impl Fixture {
    async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        Answer {
            status,
            headers,
            text,
        }
    }

    async fn get(&self, url: &str, query: &[(&str, &str)], headers: &[(&str, &str)]) -> Answer {
        let mut req = self.http.get(with_query(url, query));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req).await
    }

    fn imds_url(&self) -> String {
        format!("{}/metadata/identity/oauth2/token", self.ep.imds_host)
    }

    async fn imds(&self, extra: &[(&str, &str)]) -> Answer {
        let q = merged(&[("api-version", "2018-02-01"), ("resource", ARM)], extra);
        self.get(&self.imds_url(), &q, &[("Metadata", "true")])
            .await
    }

    async fn app_service(&self, extra: &[(&str, &str)]) -> Answer {
        let q = merged(&[("api-version", "2019-08-01"), ("resource", VAULT)], extra);
        let h = [("X-IDENTITY-HEADER", self.ep.identity_header.as_str())];
        self.get(&self.ep.app_service_endpoint, &q, &h).await
    }

    async fn azure_ml(&self, extra: &[(&str, &str)]) -> Answer {
        let q = merged(&[("api-version", "2017-09-01"), ("resource", VAULT)], extra);
        let h = [("secret", self.ep.msi_secret.as_str())];
        self.get(&self.ep.azure_ml_endpoint, &q, &h).await
    }

    /// Azure Arc's first GET (expected to be challenged): the key file's path.
    async fn arc_challenge(&self, query: &[(&str, &str)]) -> String {
        let a = self
            .get(&self.ep.arc_endpoint, query, &[("Metadata", "true")])
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text);
        let challenge = a.header("www-authenticate").expect("a challenge");
        let (scheme, path) = challenge.split_once('=').expect("Basic realm=<path>");
        assert_eq!(scheme, "Basic realm");
        path.to_string()
    }

    /// Azure Arc's whole flow: challenge, read the key file, retry.
    async fn arc(&self, extra: &[(&str, &str)]) -> Answer {
        let q = merged(&[("api-version", "2020-06-01"), ("resource", ARM)], extra);
        let path = self.arc_challenge(&q).await;
        let secret = std::fs::read_to_string(&path).unwrap();
        let auth = format!("Basic {secret}");
        self.get(
            &self.ep.arc_endpoint,
            &q,
            &[("Metadata", "true"), ("Authorization", auth.as_str())],
        )
        .await
    }

    async fn cloud_shell(&self, resource: &str) -> Answer {
        let req = self
            .http
            .post(&self.ep.cloud_shell_endpoint)
            .header("Metadata", "true")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("resource", resource)]));
        self.send(req).await
    }

    /// The claims of `token`, after checking its signature with the emulator's JWKS.
    async fn verified_claims(&self, token: &str) -> Value {
        let client = self.emu.http_client_builder().unwrap().build().unwrap();
        let jwks = json_of(
            client
                .get(format!(
                    "https://login.microsoftonline.com/{CONTOSO_TENANT_ID}/discovery/v2.0/keys"
                ))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3, "a JWS compact token");
        let header: Value = serde_json::from_slice(&b64(parts[0])).unwrap();
        assert_eq!(header["alg"], "RS256");
        let key = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == header["kid"])
            .expect("the token's kid is in the JWKS");
        let public = RsaPublicKeyComponents {
            n: b64(key["n"].as_str().unwrap()),
            e: b64(key["e"].as_str().unwrap()),
        };
        let input = format!("{}.{}", parts[0], parts[1]);
        public
            .verify(
                &RSA_PKCS1_2048_8192_SHA256,
                input.as_bytes(),
                &b64(parts[2]),
            )
            .expect("the JWKS verifies the token");
        serde_json::from_slice(&b64(parts[1])).unwrap()
    }

    async fn now(&self) -> i64 {
        self.emu.admin().clock().await.unwrap().floor() as i64
    }
}

/// `base` with the pairs of `extra` replacing those of the same name, or appended.
fn merged<'a>(
    base: &[(&'a str, &'a str)],
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut q = base.to_vec();
    for (k, v) in extra {
        match q.iter_mut().find(|(n, _)| n == k) {
            Some(slot) => slot.1 = v,
            None => q.push((k, v)),
        }
    }
    q
}

/// `url` with `query` appended (percent-encoded).
fn with_query(url: &str, query: &[(&str, &str)]) -> String {
    let mut u = url::Url::parse(url).unwrap();
    if !query.is_empty() {
        u.query_pairs_mut().extend_pairs(query);
    }
    u.to_string()
}

/// A form-encoded body.
fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A response's JSON body.
async fn json_of(resp: reqwest::Response) -> Value {
    let text = resp.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn b64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).unwrap()
}

fn secs(v: &Value) -> i64 {
    match v {
        Value::String(s) => s.parse().unwrap(),
        other => other.as_i64().unwrap(),
    }
}

/// The claims of every managed-identity token of `client_id`.
fn assert_app_claims(c: &Value, client: &str, object: &str, resource_id: &str, aud: &str) {
    assert_eq!(c["aud"], aud);
    assert_eq!(
        c["iss"],
        format!("https://sts.windows.net/{CONTOSO_TENANT_ID}/")
    );
    assert_eq!(c["tid"], CONTOSO_TENANT_ID);
    assert_eq!(c["oid"], object);
    assert_eq!(c["sub"], object);
    assert_eq!(c["appid"], client);
    assert_eq!(c["xms_mirid"], resource_id);
    assert_eq!(c["idtyp"], "app");
    assert_eq!(c["uti"].as_str().unwrap().len(), 22);
    assert_eq!(secs(&c["nbf"]), secs(&c["iat"]));
    assert_eq!(secs(&c["exp"]) - secs(&c["iat"]), 86_400);
}

fn assert_system_claims(c: &Value, aud: &str) {
    assert_app_claims(
        c,
        MI_SYSTEM_CLIENT_ID,
        MI_SYSTEM_OBJECT_ID,
        MI_SYSTEM_RESOURCE_ID,
        aud,
    );
}

/// (parameter, value, client id expected) for each user-assigned id kind of IMDS and Arc.
fn imds_id_kinds() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        ("client_id", MI_USER_ONE_CLIENT_ID, MI_USER_ONE_CLIENT_ID),
        ("object_id", MI_USER_TWO_OBJECT_ID, MI_USER_TWO_CLIENT_ID),
        ("msi_res_id", MI_USER_ONE_RESOURCE_ID, MI_USER_ONE_CLIENT_ID),
    ]
}

// ---------------------------------------------------------------- IMDS

#[tokio::test]
async fn imds_issues_verifiable_tokens_with_string_numbers() {
    let f = start().await;
    let before = f.now().await;
    let a = f.imds(&[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let body = a.json();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "access_token",
            "client_id",
            "expires_in",
            "expires_on",
            "ext_expires_in",
            "not_before",
            "resource",
            "token_type"
        ]
    );
    for k in [
        "expires_in",
        "expires_on",
        "ext_expires_in",
        "not_before",
        "client_id",
    ] {
        assert!(body[k].is_string(), "{k} is a string: {body}");
    }
    assert_eq!(body["expires_in"], "86400");
    assert_eq!(body["client_id"], MI_SYSTEM_CLIENT_ID);
    assert_eq!(body["resource"], ARM);
    assert_eq!(body["token_type"], "Bearer");
    let not_before = secs(&body["not_before"]);
    assert!((before..=before + 5).contains(&not_before));
    assert_eq!(secs(&body["expires_on"]), not_before + 86_400);
    let claims = f
        .verified_claims(body["access_token"].as_str().unwrap())
        .await;
    assert_system_claims(&claims, ARM);
    assert_eq!(secs(&claims["exp"]), secs(&body["expires_on"]));

    for (param, value, client) in imds_id_kinds() {
        let a = f.imds(&[(param, value)]).await;
        assert_eq!(a.status, StatusCode::OK, "{param}: {}", a.text);
        let body = a.json();
        assert_eq!(body["client_id"], client, "{param}");
        let claims = f
            .verified_claims(body["access_token"].as_str().unwrap())
            .await;
        assert_eq!(claims["appid"], client, "{param}");
    }
    // Ids compare case-insensitively.
    let upper = MI_USER_ONE_RESOURCE_ID.to_ascii_uppercase();
    let a = f.imds(&[("msi_res_id", upper.as_str())]).await;
    assert_eq!(a.json()["client_id"], MI_USER_ONE_CLIENT_ID);
}

#[tokio::test]
async fn imds_validates_like_the_service() {
    let f = start().await;
    let url = f.imds_url();
    let no_metadata = f
        .get(
            &url,
            &[("api-version", "2018-02-01"), ("resource", ARM)],
            &[],
        )
        .await;
    assert_eq!(no_metadata.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        no_metadata.json(),
        json!({"error":"invalid_request","error_description":"Required metadata header not specified"})
    );
    let md = [("Metadata", "true")];
    for (query, status, error) in [
        (vec![("resource", ARM)], 400, "invalid_request"),
        (
            vec![("api-version", "2019-08-01"), ("resource", ARM)],
            400,
            "invalid_request",
        ),
        (vec![("api-version", "2018-02-01")], 400, "invalid_request"),
        (
            vec![
                ("api-version", "2018-02-01"),
                ("resource", "http://x.example"),
            ],
            400,
            "invalid_resource",
        ),
    ] {
        let a = f.get(&url, &query, &md).await;
        assert_eq!(a.status.as_u16(), status, "{query:?}: {}", a.text);
        assert_eq!(a.json()["error"], error, "{query:?}");
    }
    let missing_resource = f.get(&url, &[("api-version", "2018-02-01")], &md).await;
    assert_eq!(
        missing_resource.json()["error_description"],
        "Required audience parameter not specified"
    );
    let refused = f
        .get(
            &url,
            &[("api-version", "2018-02-01"), ("resource", "api://nope")],
            &md,
        )
        .await;
    assert!(
        refused.json()["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS500011: The resource principal named api://nope")
    );
    let unknown = f
        .imds(&[("client_id", "00000000-0000-0000-0000-000000000000")])
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        unknown.json(),
        json!({"error":"invalid_request","error_description":"Identity not found"})
    );
    let two = f
        .imds(&[
            ("client_id", MI_USER_ONE_CLIENT_ID),
            ("object_id", MI_USER_ONE_OBJECT_ID),
        ])
        .await;
    assert_eq!(two.status, StatusCode::BAD_REQUEST);
    assert_eq!(two.json()["error"], "invalid_request");
    let post = f
        .send(
            f.http
                .post(with_query(
                    &url,
                    &[("api-version", "2018-02-01"), ("resource", ARM)],
                ))
                .header("Metadata", "true"),
        )
        .await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);

    // No system-assigned identity: a request naming none is refused.
    let admin = f.emu.admin();
    let mut settings = admin.managed_identity().await.unwrap();
    settings.identities.retain(|i| !i.system_assigned);
    admin.set_managed_identity(&settings).await.unwrap();
    let none = f.imds(&[]).await;
    assert_eq!(none.status, StatusCode::BAD_REQUEST);
    assert_eq!(none.json()["error"], "invalid_request");
    settings.identities.truncate(1);
    admin.set_managed_identity(&settings).await.unwrap();
    assert_eq!(
        f.imds(&[]).await.json(),
        json!({"error":"invalid_request","error_description":"Identity not found"})
    );
    // The user-assigned one still answers.
    let a = f.imds(&[("client_id", MI_USER_ONE_CLIENT_ID)]).await;
    assert_eq!(a.status, StatusCode::OK);
}

// ---------------------------------------------------------------- App Service

#[tokio::test]
async fn app_service_issues_tokens_for_each_id_kind() {
    let f = start().await;
    let a = f.app_service(&[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let body = a.json();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "access_token",
            "expires_on",
            "resource",
            "token_type",
            "client_id"
        ]
    );
    assert!(body["expires_on"].is_string());
    assert_eq!(body["client_id"], MI_SYSTEM_CLIENT_ID);
    assert_eq!(body["resource"], VAULT);
    let claims = f
        .verified_claims(body["access_token"].as_str().unwrap())
        .await;
    assert_system_claims(&claims, VAULT);
    assert_eq!(secs(&claims["exp"]), secs(&body["expires_on"]));

    for (param, value, client) in [
        ("client_id", MI_USER_ONE_CLIENT_ID, MI_USER_ONE_CLIENT_ID),
        ("object_id", MI_USER_TWO_OBJECT_ID, MI_USER_TWO_CLIENT_ID),
        ("principal_id", MI_USER_ONE_OBJECT_ID, MI_USER_ONE_CLIENT_ID),
        ("mi_res_id", MI_USER_TWO_RESOURCE_ID, MI_USER_TWO_CLIENT_ID),
    ] {
        let a = f.app_service(&[(param, value)]).await;
        assert_eq!(a.status, StatusCode::OK, "{param}: {}", a.text);
        assert_eq!(a.json()["client_id"], client, "{param}");
    }
}

#[tokio::test]
async fn app_service_validates_like_the_service() {
    let f = start().await;
    let url = &f.ep.app_service_endpoint;
    let q = [("api-version", "2019-08-01"), ("resource", VAULT)];
    for headers in [vec![], vec![("X-IDENTITY-HEADER", "wrong")]] {
        let a = f.get(url, &q, &headers).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{headers:?}");
        assert_eq!(a.json()["statusCode"], 401);
    }
    let h = [("X-IDENTITY-HEADER", f.ep.identity_header.as_str())];
    for query in [
        vec![("resource", VAULT)],
        vec![("api-version", "2017-09-01"), ("resource", VAULT)],
        vec![("api-version", "2019-08-01")],
    ] {
        let a = f.get(url, &query, &h).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{query:?}");
        let body = a.json();
        assert_eq!(body["statusCode"], 400);
        assert!(body["message"].is_string());
        assert_eq!(body["correlationId"].as_str().unwrap().len(), 36);
    }
    let unknown = f
        .app_service(&[("mi_res_id", "/subscriptions/x/nope")])
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        unknown.json()["message"],
        "Unable to load the proper Managed Identity."
    );
    let two = f
        .app_service(&[
            ("object_id", MI_USER_ONE_OBJECT_ID),
            ("principal_id", MI_USER_ONE_OBJECT_ID),
        ])
        .await;
    assert_eq!(two.status, StatusCode::BAD_REQUEST);
    let refused = f
        .get(
            url,
            &[("api-version", "2019-08-01"), ("resource", "ftp://x")],
            &h,
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS500011")
    );
}

// ---------------------------------------------------------------- Azure Machine Learning

#[tokio::test]
async fn azure_ml_issues_tokens_with_a_numeric_expires_in() {
    let f = start().await;
    let a = f.azure_ml(&[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let body = a.json();
    assert_eq!(body["expires_in"], 86_400);
    assert!(body["expires_on"].is_string());
    assert_eq!(body["clientid"], MI_SYSTEM_CLIENT_ID);
    assert_eq!(body["token_type"], "Bearer");
    let claims = f
        .verified_claims(body["access_token"].as_str().unwrap())
        .await;
    assert_system_claims(&claims, VAULT);

    for (param, value, client) in [
        ("clientid", MI_USER_TWO_CLIENT_ID, MI_USER_TWO_CLIENT_ID),
        ("object_id", MI_USER_ONE_OBJECT_ID, MI_USER_ONE_CLIENT_ID),
        ("msi_res_id", MI_USER_TWO_RESOURCE_ID, MI_USER_TWO_CLIENT_ID),
    ] {
        let a = f.azure_ml(&[(param, value)]).await;
        assert_eq!(a.status, StatusCode::OK, "{param}: {}", a.text);
        assert_eq!(a.json()["clientid"], client, "{param}");
    }
    // `client_id` is not one of its parameters: the system-assigned identity answers.
    let a = f.azure_ml(&[("client_id", MI_USER_ONE_CLIENT_ID)]).await;
    assert_eq!(a.json()["clientid"], MI_SYSTEM_CLIENT_ID);
}

#[tokio::test]
async fn azure_ml_validates_like_the_service() {
    let f = start().await;
    let url = &f.ep.azure_ml_endpoint;
    let q = [("api-version", "2017-09-01"), ("resource", VAULT)];
    for headers in [vec![], vec![("secret", "wrong")]] {
        let a = f.get(url, &q, &headers).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        assert_eq!(a.text, "Invalid secret token header: .");
        assert!(a.header("content-type").unwrap().starts_with("text/plain"));
    }
    let h = [("secret", f.ep.msi_secret.as_str())];
    for query in [
        vec![("resource", VAULT)],
        vec![("api-version", "2019-08-01"), ("resource", VAULT)],
        vec![("api-version", "2017-09-01")],
    ] {
        let a = f.get(url, &query, &h).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{query:?}");
        assert_eq!(a.json()["statusCode"], 400);
    }
    let unknown = f.azure_ml(&[("clientid", "nobody")]).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    let two = f
        .azure_ml(&[
            ("clientid", MI_USER_ONE_CLIENT_ID),
            ("msi_res_id", MI_USER_ONE_RESOURCE_ID),
        ])
        .await;
    assert_eq!(two.status, StatusCode::BAD_REQUEST);
}

// ---------------------------------------------------------------- Service Fabric

/// A certificate verifier that accepts exactly the certificate whose SHA-1 is `pin` (as a
/// Service Fabric client does), and remembers what it saw.
#[derive(Debug)]
struct Pinned {
    pin: String,
    seen: Arc<Mutex<Vec<String>>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

fn sha1_hex(der: &[u8]) -> String {
    digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &rustls_pki_types::CertificateDer<'_>,
        _intermediates: &[rustls_pki_types::CertificateDer<'_>],
        _server_name: &rustls_pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let got = sha1_hex(end_entity.as_ref());
        self.seen.lock().unwrap().push(got.clone());
        if got == self.pin {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "thumbprint {got} is not pinned"
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A client pinning `pin`, and the thumbprints its verifier saw.
fn pinned_client(pin: &str) -> (reqwest::Client, Arc<Mutex<Vec<String>>>) {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let verifier = Pinned {
        pin: pin.to_string(),
        seen: seen.clone(),
        provider: provider.clone(),
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .use_preconfigured_tls(config)
        .build()
        .unwrap();
    (client, seen)
}

#[tokio::test]
async fn service_fabric_serves_over_tls_pinned_by_thumbprint() {
    let f = start().await;
    let thumbprint = &f.ep.service_fabric_thumbprint;
    assert_eq!(thumbprint.len(), 40);
    assert!(
        thumbprint
            .chars()
            .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c))
    );
    assert!(
        f.ep.service_fabric_endpoint
            .starts_with("https://127.0.0.1:")
    );
    let (client, seen) = pinned_client(thumbprint);
    let resp = client
        .get(with_query(
            &f.ep.service_fabric_endpoint,
            &[
                ("api-version", "2019-07-01-preview"),
                ("resource", ARM),
                // Ignored: Service Fabric serves the application's identity.
                ("client_id", MI_USER_ONE_CLIENT_ID),
                ("token_sha256_to_refresh", "ab12"),
                ("xms_cc", "cp1,llt"),
            ],
        ))
        .header("Secret", f.ep.identity_header.as_str())
        .send()
        .await
        .expect("the pinned certificate is accepted");
    assert_eq!(resp.status(), StatusCode::OK);
    let body = json_of(resp).await;
    assert_eq!(*seen.lock().unwrap(), vec![thumbprint.to_string()]);
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["access_token", "expires_on", "resource", "token_type"]
    );
    assert!(body["expires_on"].is_i64(), "a number: {body}");
    let claims = f
        .verified_claims(body["access_token"].as_str().unwrap())
        .await;
    assert_system_claims(&claims, ARM);
    assert_eq!(claims["xms_cc"], json!(["cp1", "llt"]));
    assert_eq!(secs(&claims["exp"]), secs(&body["expires_on"]));
    let recorded = f
        .emu
        .admin()
        .managed_identity_requests(ManagedIdentitySource::ServiceFabric)
        .await
        .unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        recorded[0].query_value("token_sha256_to_refresh"),
        Some("ab12")
    );
    assert_eq!(recorded[0].query_value("xms_cc"), Some("cp1,llt"));
    assert_eq!(recorded[0].status, 200);

    // The presented certificate, seen by a client that accepts any: its SHA-1 is the pin.
    let any = reqwest::Client::builder()
        .no_proxy()
        .danger_accept_invalid_certs(true)
        .tls_info(true)
        .build()
        .unwrap();
    let resp = any.get(&f.ep.service_fabric_endpoint).send().await.unwrap();
    let info = resp.extensions().get::<reqwest::tls::TlsInfo>().unwrap();
    assert_eq!(&sha1_hex(info.peer_certificate().unwrap()), thumbprint);
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // A wrong pin fails in TLS, before any request; the emulator's CA does not vouch for it.
    let (wrong, _) = pinned_client(&"0".repeat(40));
    assert!(
        wrong
            .get(&f.ep.service_fabric_endpoint)
            .send()
            .await
            .is_err()
    );
    let ca = reqwest::Certificate::from_pem(f.emu.ca_pem().as_bytes()).unwrap();
    let ca_only = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    assert!(
        ca_only
            .get(&f.ep.service_fabric_endpoint)
            .send()
            .await
            .is_err()
    );
    assert_eq!(
        f.emu
            .admin()
            .managed_identity_request_count(ManagedIdentitySource::ServiceFabric)
            .await
            .unwrap(),
        2,
        "only the two requests that passed TLS arrived"
    );
}

#[tokio::test]
async fn service_fabric_validates_like_the_service() {
    let f = start().await;
    let (client, _) = pinned_client(&f.ep.service_fabric_thumbprint);
    let call = |query: Vec<(&'static str, &'static str)>, secret: Option<String>| {
        let mut req = client.get(with_query(&f.ep.service_fabric_endpoint, &query));
        if let Some(s) = secret {
            req = req.header("Secret", s);
        }
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, json_of(resp).await)
        }
    };
    let good = vec![("api-version", "2019-07-01-preview"), ("resource", ARM)];
    let secret = Some(f.ep.identity_header.clone());
    for (query, secret, status, code) in [
        (good.clone(), None, 401, "SecretHeaderNotFound"),
        (
            good.clone(),
            Some("wrong".to_string()),
            404,
            "ManagedIdentityNotFound",
        ),
        (
            vec![("resource", ARM)],
            secret.clone(),
            400,
            "InvalidApiVersion",
        ),
        (
            vec![("api-version", "2019-08-01"), ("resource", ARM)],
            secret.clone(),
            400,
            "InvalidApiVersion",
        ),
        (
            vec![("api-version", "2019-07-01-preview")],
            secret.clone(),
            400,
            "ArgumentNullOrEmpty",
        ),
        (
            vec![("api-version", "2019-07-01-preview"), ("resource", "nope")],
            secret.clone(),
            500,
            "InternalServerError",
        ),
    ] {
        let (got, body) = call(query.clone(), secret).await;
        assert_eq!(got, status, "{query:?}: {body}");
        assert_eq!(body["error"]["code"], code, "{query:?}");
        assert!(body["error"]["message"].is_string());
        assert!(body["error"]["correlationId"].is_string());
    }
    assert_eq!(
        call(good.clone(), None).await.1["error"]["message"],
        "Secret is not found in the request headers."
    );
}

// ---------------------------------------------------------------- Azure Arc

#[tokio::test]
async fn arc_challenges_then_serves_and_echoes_user_assigned_ids() {
    let f = start().await;
    let q = [("api-version", "2020-06-01"), ("resource", ARM)];
    let path = f.arc_challenge(&q).await;
    let key = std::path::Path::new(&path);
    assert_eq!(
        key.parent().unwrap(),
        std::path::Path::new(&f.ep.arc_key_dir)
    );
    assert_eq!(key.extension().unwrap(), "key");
    let stem = key.file_stem().unwrap().to_str().unwrap();
    assert!(stem.len() >= 32 && stem.chars().all(|c| c.is_ascii_hexdigit()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let secret = std::fs::read_to_string(key).unwrap();
    assert!(secret.len() >= 32);
    let auth = format!("Basic {secret}");
    let with = [("Metadata", "true"), ("Authorization", auth.as_str())];
    let a = f.get(&f.ep.arc_endpoint, &q, &with).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let body = a.json();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "access_token",
            "expires_in",
            "expires_on",
            "not_before",
            "resource",
            "token_type"
        ],
        "system-assigned: no echo"
    );
    assert_eq!(body["expires_in"], "86400");
    let claims = f
        .verified_claims(body["access_token"].as_str().unwrap())
        .await;
    assert_system_claims(&claims, ARM);
    // The secret works once; its file is gone.
    assert!(!key.exists());
    let again = f.get(&f.ep.arc_endpoint, &q, &with).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert!(again.header("www-authenticate").is_some());
    // A wrong secret is challenged again.
    let wrong = f
        .get(
            &f.ep.arc_endpoint,
            &q,
            &[("Metadata", "true"), ("Authorization", "Basic nope")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

    for (param, value, client) in imds_id_kinds() {
        let a = f.arc(&[(param, value)]).await;
        assert_eq!(a.status, StatusCode::OK, "{param}: {}", a.text);
        let body = a.json();
        let expected = match param {
            "client_id" => client,
            _ => value,
        };
        assert_eq!(body[param], expected, "{param} echoed");
        let claims = f
            .verified_claims(body["access_token"].as_str().unwrap())
            .await;
        assert_eq!(claims["appid"], client);
    }
    // 2019-11-01 is answered too.
    let a = f.arc(&[("api-version", "2019-11-01")]).await;
    assert_eq!(a.status, StatusCode::OK);
}

#[tokio::test]
async fn arc_validates_and_expires_its_challenges() {
    let f = start().await;
    let url = &f.ep.arc_endpoint;
    let q = [("api-version", "2020-06-01"), ("resource", ARM)];
    let no_metadata = f.get(url, &q, &[]).await;
    assert_eq!(no_metadata.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        no_metadata.json(),
        json!({"error":"invalid_request","error_description":"Required metadata header not specified"})
    );
    let old = f
        .get(
            url,
            &[("api-version", "2018-02-01"), ("resource", ARM)],
            &[("Metadata", "true")],
        )
        .await;
    assert_eq!(old.status, StatusCode::BAD_REQUEST);
    let unknown = f.arc(&[("object_id", "nobody")]).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.json()["error_description"], "Identity not found");
    let no_resource = f.arc(&[("resource", "")]).await;
    assert_eq!(no_resource.status, StatusCode::BAD_REQUEST);

    // A challenge answered more than five minutes later (emulator clock) is refused.
    let path = f.arc_challenge(&q).await;
    let secret = std::fs::read_to_string(&path).unwrap();
    f.emu.admin().advance_clock(301.0).await.unwrap();
    let auth = format!("Basic {secret}");
    let late = f
        .get(
            url,
            &q,
            &[("Metadata", "true"), ("Authorization", auth.as_str())],
        )
        .await;
    assert_eq!(late.status, StatusCode::UNAUTHORIZED);
    assert!(
        !std::path::Path::new(&path).exists(),
        "the expired key file is removed"
    );
}

// ---------------------------------------------------------------- Cloud Shell

#[tokio::test]
async fn cloud_shell_issues_the_signed_in_users_token() {
    let f = start().await;
    let a = f.cloud_shell("https://graph.microsoft.com").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let body = a.json();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "access_token",
            "refresh_token",
            "expires_in",
            "expires_on",
            "not_before",
            "resource",
            "token_type"
        ]
    );
    assert_eq!(body["refresh_token"], "");
    assert_eq!(body["expires_in"], "86400");
    assert!(body["expires_on"].is_string() && body["not_before"].is_string());
    let claims = f
        .verified_claims(body["access_token"].as_str().unwrap())
        .await;
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    assert_eq!(claims["oid"], ALICE_OID);
    assert_eq!(claims["tid"], CONTOSO_TENANT_ID);
    assert_eq!(claims["upn"], ALICE_USERNAME);
    assert_eq!(claims["preferred_username"], ALICE_USERNAME);
    assert_eq!(claims["name"], ALICE_NAME);
    assert_eq!(claims["idtyp"], "user");
    assert_eq!(claims["appid"], CLOUD_SHELL_CLIENT_ID);
    // Repeats of one resource are one resource.
    let twice = f
        .cloud_shell("https://graph.microsoft.com https://graph.microsoft.com")
        .await;
    assert_eq!(twice.status, StatusCode::OK);
}

#[tokio::test]
async fn cloud_shell_validates_like_the_service() {
    let f = start().await;
    let url = &f.ep.cloud_shell_endpoint;
    let get = f
        .get(url, &[("resource", ARM)], &[("Metadata", "true")])
        .await;
    assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(get.json()["error"]["code"].is_string());
    let no_metadata = f
        .send(
            f.http
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(&[("resource", ARM)])),
        )
        .await;
    assert_eq!(no_metadata.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        no_metadata.json()["error"]["message"],
        "Required metadata header not specified"
    );
    for resource in [
        "",
        "https://a.example https://b.example",
        "http://plain.example",
    ] {
        let a = f.cloud_shell(resource).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{resource:?}");
        let body = a.json();
        assert!(body["error"]["code"].is_string() && body["error"]["message"].is_string());
    }
}

// ---------------------------------------------------------------- faults

#[tokio::test]
async fn faults_answer_verbatim_or_in_each_sources_shape() {
    let f = start().await;
    let admin = f.emu.admin();
    admin
        .add_managed_identity_faults(&[
            ManagedIdentityFault {
                source: ManagedIdentitySource::Imds,
                status: 429,
                retry_after: Some("7".into()),
                body: Some("<html>slow down</html>".into()),
                times: Some(1),
                ..Default::default()
            },
            ManagedIdentityFault {
                source: ManagedIdentitySource::AppService,
                status: 200,
                body: Some("not json {".into()),
                times: Some(1),
                ..Default::default()
            },
            ManagedIdentityFault {
                source: ManagedIdentitySource::ServiceFabric,
                status: 503,
                times: Some(1),
                ..Default::default()
            },
            ManagedIdentityFault {
                source: ManagedIdentitySource::AzureMl,
                status: 500,
                body: Some(String::new()),
                times: Some(1),
                ..Default::default()
            },
            ManagedIdentityFault {
                source: ManagedIdentitySource::CloudShell,
                status: 500,
                times: Some(1),
                ..Default::default()
            },
        ])
        .await
        .unwrap();
    assert_eq!(admin.managed_identity_faults().await.unwrap().len(), 5);

    let a = f.imds(&[]).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(a.header("retry-after"), Some("7"));
    assert_eq!(a.text, "<html>slow down</html>");
    assert!(a.header("content-type").unwrap().starts_with("text/html"));
    let a = f.app_service(&[]).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.text, "not json {");
    let (client, _) = pinned_client(&f.ep.service_fabric_thumbprint);
    let resp = client
        .get(&f.ep.service_fabric_endpoint)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = json_of(resp).await;
    assert_eq!(body["error"]["code"], "ServiceUnavailable");
    let a = f.azure_ml(&[]).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(a.text, "");
    let a = f.cloud_shell(ARM).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(a.json()["error"]["code"], "InternalServerError");

    // Each applied once: everything answers normally again.
    assert!(admin.managed_identity_faults().await.unwrap().is_empty());
    assert_eq!(f.imds(&[]).await.status, StatusCode::OK);
    assert_eq!(f.app_service(&[]).await.status, StatusCode::OK);
    assert_eq!(f.azure_ml(&[]).await.status, StatusCode::OK);
    assert_eq!(f.cloud_shell(ARM).await.status, StatusCode::OK);
}

#[tokio::test]
async fn fault_rules_count_down_in_order_until_cleared() {
    let f = start().await;
    let admin = f.emu.admin();
    let rule = |source, status, times| ManagedIdentityFault {
        source,
        status,
        times,
        ..Default::default()
    };
    admin
        .add_managed_identity_faults(&[
            rule(ManagedIdentitySource::Imds, 500, Some(2)),
            rule(ManagedIdentitySource::Any, 503, None),
        ])
        .await
        .unwrap();
    let listed = admin.managed_identity_faults().await.unwrap();
    assert_eq!(listed[0].times, Some(2));
    assert_eq!(listed[1].times, None);
    // The IMDS rule first (twice, its error in IMDS's shape), then the one for any source.
    let a = f.imds(&[]).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(a.json()["error"], "server_error");
    assert_eq!(
        admin.managed_identity_faults().await.unwrap()[0].times,
        Some(1)
    );
    assert_eq!(f.imds(&[]).await.status, StatusCode::INTERNAL_SERVER_ERROR);
    for _ in 0..3 {
        assert_eq!(f.imds(&[]).await.status, StatusCode::SERVICE_UNAVAILABLE);
    }
    let a = f.app_service(&[]).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(a.json()["statusCode"], 503);
    admin.clear_managed_identity_faults().await.unwrap();
    assert_eq!(f.imds(&[]).await.status, StatusCode::OK);

    // A reset drops them too.
    admin
        .add_managed_identity_fault(&rule(ManagedIdentitySource::Any, 500, None))
        .await
        .unwrap();
    admin.reset().await.unwrap();
    assert_eq!(f.imds(&[]).await.status, StatusCode::OK);

    // Rules that do nothing, or with impossible values, are refused.
    for bad in [
        json!({"source": "imds"}),
        json!({"source": "imds", "status": 1000}),
        json!({"source": "imds", "status": 500, "times": 0}),
        json!({"source": "nowhere", "status": 500}),
    ] {
        let resp = reqwest::Client::new()
            .post(format!(
                "{}/admin/managed-identity/faults",
                f.emu.admin_url()
            ))
            .header("content-type", "application/json")
            .body(bad.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    assert!(admin.managed_identity_faults().await.unwrap().is_empty());
}

#[tokio::test]
async fn delays_slow_down_or_hang_an_answer() {
    let f = start().await;
    let admin = f.emu.admin();
    admin
        .add_managed_identity_fault(&ManagedIdentityFault {
            source: ManagedIdentitySource::AppService,
            delay_ms: Some(400),
            times: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    let started = Instant::now();
    let a = f.app_service(&[]).await;
    let took = started.elapsed();
    assert_eq!(a.status, StatusCode::OK, "a delay alone answers normally");
    assert!(took >= Duration::from_millis(400), "{took:?}");

    admin
        .add_managed_identity_fault(&ManagedIdentityFault {
            source: ManagedIdentitySource::Imds,
            delay_ms: Some(60_000),
            status: 500,
            times: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    let impatient = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = impatient
        .get(with_query(
            &f.imds_url(),
            &[("api-version", "2018-02-01"), ("resource", ARM)],
        ))
        .header("Metadata", "true")
        .send()
        .await
        .expect_err("the answer hangs");
    assert!(err.is_timeout(), "{err}");
    // It arrived (recorded, unanswered).
    let recorded = admin
        .managed_identity_requests(ManagedIdentitySource::Imds)
        .await
        .unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].status, 0);
}

#[tokio::test]
async fn arc_faults_can_spare_the_challenge_and_echo_a_wrong_id() {
    let f = start().await;
    let admin = f.emu.admin();
    admin
        .add_managed_identity_fault(&ManagedIdentityFault {
            source: ManagedIdentitySource::Arc,
            wrong_echo: true,
            times: Some(3),
            ..Default::default()
        })
        .await
        .unwrap();
    for (param, value, _) in imds_id_kinds() {
        let a = f.arc(&[(param, value)]).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        let echoed = a.json()[param].as_str().unwrap().to_string();
        assert!(!echoed.eq_ignore_ascii_case(value), "{param}: {echoed}");
    }
    // Three challenges and three token answers: the rule was spent by the token answers only.
    assert!(admin.managed_identity_faults().await.unwrap().is_empty());
    let a = f.arc(&[("client_id", MI_USER_ONE_CLIENT_ID)]).await;
    assert_eq!(a.json()["client_id"], MI_USER_ONE_CLIENT_ID);
    // System-assigned: nothing is echoed, wrong or not.
    admin
        .add_managed_identity_fault(&ManagedIdentityFault {
            source: ManagedIdentitySource::Arc,
            wrong_echo: true,
            times: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    let a = f.arc(&[]).await;
    assert!(a.json().get("client_id").is_none());

    // A status for the retry after the challenge only.
    admin.clear_managed_identity_faults().await.unwrap();
    admin
        .add_managed_identity_fault(&ManagedIdentityFault {
            source: ManagedIdentitySource::Arc,
            status: 500,
            after_challenge: true,
            times: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    let a = f.arc(&[]).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(f.arc(&[]).await.status, StatusCode::OK);
    // Without `after_challenge`, the challenged request takes it.
    admin
        .add_managed_identity_fault(&ManagedIdentityFault {
            source: ManagedIdentitySource::Arc,
            status: 404,
            times: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    let first = f
        .get(
            &f.ep.arc_endpoint,
            &[("api-version", "2020-06-01"), ("resource", ARM)],
            &[("Metadata", "true")],
        )
        .await;
    assert_eq!(first.status, StatusCode::NOT_FOUND);
    assert!(first.header("www-authenticate").is_none());
}

// ---------------------------------------------------------------- admin API

#[tokio::test]
async fn admin_round_trip_lifetimes_resources_and_reset() {
    let f = start().await;
    let admin = f.emu.admin();
    let defaults = admin.managed_identity().await.unwrap();
    assert_eq!(defaults, ManagedIdentitySettings::default());
    assert_eq!(defaults.token_lifetime_secs, 86_400);
    assert_eq!(
        defaults.identities,
        f.emu.manifest().seeds.managed_identities
    );
    assert_eq!(defaults.identities.len(), 3);
    assert_eq!(
        defaults
            .identities
            .iter()
            .filter(|i| i.system_assigned)
            .count(),
        1
    );
    assert!(
        defaults
            .identities
            .iter()
            .all(|i| i.resource_id.starts_with(&format!(
                "/subscriptions/{MI_SUBSCRIPTION_ID}/resourcegroups/rg/providers/"
            )))
    );

    let custom = ManagedIdentitySettings {
        identities: vec![ManagedIdentityRegistration {
            client_id: "c1".into(),
            object_id: "o1".into(),
            resource_id: "/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/fab".into(),
            system_assigned: true,
            tenant: Some("fabrikam.onmicrosoft.com".into()),
        }],
        token_lifetime_secs: -60,
        resources: Some(vec!["api://my-api".into()]),
    };
    assert_eq!(admin.set_managed_identity(&custom).await.unwrap(), custom);
    assert_eq!(admin.managed_identity().await.unwrap(), custom);
    let now = f.now().await;
    let a = f.imds(&[("resource", "api://my-api")]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let body = a.json();
    assert_eq!(body["expires_in"], "-60");
    assert!(secs(&body["expires_on"]) < now);
    let claims = f
        .verified_claims(body["access_token"].as_str().unwrap())
        .await;
    assert_eq!(claims["tid"], FABRIKAM_TENANT_ID);
    assert_eq!(
        claims["iss"],
        format!("https://sts.windows.net/{FABRIKAM_TENANT_ID}/")
    );
    assert_eq!(claims["appid"], "c1");
    assert_eq!(claims["aud"], "api://my-api");
    // Only the listed resources now.
    let refused = f.imds(&[]).await;
    assert_eq!(refused.json()["error"], "invalid_resource");

    // The clock moves issued times.
    admin.set_clock(2_000_000_000.0).await.unwrap();
    admin
        .set_managed_identity_token_lifetime(600)
        .await
        .unwrap();
    let a = f.imds(&[("resource", "api://my-api")]).await;
    let body = a.json();
    assert!((2_000_000_000..2_000_000_010).contains(&secs(&body["not_before"])));
    assert_eq!(secs(&body["expires_on"]), secs(&body["not_before"]) + 600);

    // Refused settings change nothing.
    let mut two_system = ManagedIdentitySettings::default();
    for i in &mut two_system.identities {
        i.system_assigned = true;
    }
    assert!(admin.set_managed_identity(&two_system).await.is_err());
    let mut unknown_tenant = ManagedIdentitySettings::default();
    unknown_tenant.identities[0].tenant = Some("nowhere.example".into());
    assert!(admin.set_managed_identity(&unknown_tenant).await.is_err());
    assert_eq!(
        admin.managed_identity().await.unwrap().token_lifetime_secs,
        600
    );

    // Reset restores the defaults.
    admin.reset().await.unwrap();
    assert_eq!(
        admin.managed_identity().await.unwrap(),
        ManagedIdentitySettings::default()
    );
    assert_eq!(f.imds(&[]).await.status, StatusCode::OK);
}

#[tokio::test]
async fn requests_are_recorded_tagged_and_counted_per_source() {
    let f = start().await;
    let admin = f.emu.admin();
    f.imds(&[]).await;
    f.app_service(&[]).await;
    f.app_service(&[("client_id", MI_USER_ONE_CLIENT_ID)]).await;
    f.azure_ml(&[]).await;
    f.arc(&[]).await;
    f.cloud_shell(ARM).await;
    let (client, _) = pinned_client(&f.ep.service_fabric_thumbprint);
    client
        .get(&f.ep.service_fabric_endpoint)
        .send()
        .await
        .unwrap();

    let stats = admin.stats().await.unwrap();
    let mi = &stats.managed_identity;
    assert_eq!(
        (
            mi.imds,
            mi.app_service,
            mi.azure_ml,
            mi.service_fabric,
            mi.arc,
            mi.cloud_shell
        ),
        (1, 2, 1, 1, 2, 1)
    );
    assert_eq!(mi.get(ManagedIdentitySource::Any), 8);
    assert_eq!(
        stats.imds_requests, 1,
        "the IMDS listener counts its token path"
    );

    let app = admin
        .managed_identity_requests(ManagedIdentitySource::AppService)
        .await
        .unwrap();
    assert_eq!(app.len(), 2);
    assert_eq!(app[0].method, "GET");
    assert_eq!(app[0].path, "/msi/token");
    assert_eq!(app[0].host, "127.0.0.1");
    assert_eq!(app[1].query_value("client_id"), Some(MI_USER_ONE_CLIENT_ID));
    assert_eq!(
        app[1].header("x-identity-header"),
        Some(f.ep.identity_header.as_str())
    );
    assert_eq!(app[1].status, 200);
    let arc = admin
        .managed_identity_requests(ManagedIdentitySource::Arc)
        .await
        .unwrap();
    assert_eq!(arc.iter().map(|r| r.status).collect::<Vec<_>>(), [401, 200]);
    assert!(
        arc[1]
            .header("authorization")
            .unwrap()
            .starts_with("Basic ")
    );
    let shell = admin
        .managed_identity_requests(ManagedIdentitySource::CloudShell)
        .await
        .unwrap();
    assert_eq!(shell[0].form_value("resource"), Some(ARM));
    assert_eq!(shell[0].method, "POST");
    let all = admin
        .managed_identity_requests(ManagedIdentitySource::Any)
        .await
        .unwrap();
    assert_eq!(all.len(), 8);
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    // An unknown source name is refused.
    let resp = reqwest::Client::new()
        .get(format!(
            "{}/admin/requests?source=nowhere",
            f.emu.admin_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // Unknown paths on the listener are answered 404 and recorded without a source.
    let a = f
        .get(
            &f.ep.app_service_endpoint.replace("/msi/token", "/nope"),
            &[],
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_manifest_lists_the_endpoints_and_env_names_the_variables() {
    let f = start().await;
    let m = f.emu.manifest();
    let ep = &m.managed_identity;
    assert_eq!(ep, &f.ep);
    assert_eq!(ep.imds_host, f.emu.imds_url());
    let base = ep.app_service_endpoint.trim_end_matches("/msi/token");
    assert!(base.starts_with("http://127.0.0.1:"));
    assert_eq!(ep.azure_ml_endpoint, format!("{base}/mlmsi/token"));
    assert_eq!(
        ep.arc_endpoint,
        format!("{base}/arc/metadata/identity/oauth2/token")
    );
    assert_eq!(
        ep.cloud_shell_endpoint,
        format!("{base}/cloudshell/oauth2/token")
    );
    assert!(std::path::Path::new(&ep.arc_key_dir).starts_with(f.emu.state_dir()));
    assert_ne!(ep.identity_header, ep.msi_secret);
    assert!(ep.identity_header.len() >= 32);
    // The JSON manifest carries the same object.
    let parsed: Value = serde_json::from_str(&f.emu.manifest_json()).unwrap();
    assert_eq!(
        parsed["managed_identity"]["service_fabric_thumbprint"],
        ep.service_fabric_thumbprint.as_str()
    );
    assert_eq!(
        parsed["seeds"]["managed_identities"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let env = |s: &str| -> Vec<(String, String)> { ep.env(s) };
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    assert_eq!(
        env("imds"),
        [pair("AZURE_POD_IDENTITY_AUTHORITY_HOST", &ep.imds_host)]
    );
    assert_eq!(
        env("app_service"),
        [
            pair("IDENTITY_ENDPOINT", &ep.app_service_endpoint),
            pair("IDENTITY_HEADER", &ep.identity_header)
        ]
    );
    assert_eq!(
        env("azure_ml"),
        [
            pair("MSI_ENDPOINT", &ep.azure_ml_endpoint),
            pair("MSI_SECRET", &ep.msi_secret)
        ]
    );
    assert_eq!(
        env("service_fabric"),
        [
            pair("IDENTITY_ENDPOINT", &ep.service_fabric_endpoint),
            pair("IDENTITY_HEADER", &ep.identity_header),
            pair("IDENTITY_SERVER_THUMBPRINT", &ep.service_fabric_thumbprint)
        ]
    );
    assert_eq!(
        env("arc"),
        [
            pair("IDENTITY_ENDPOINT", &ep.arc_endpoint),
            pair("IMDS_ENDPOINT", base)
        ]
    );
    assert_eq!(
        env("cloud_shell"),
        [
            pair("AZUREPS_HOST_ENVIRONMENT", "cloud-shell/1.0"),
            pair("MSI_ENDPOINT", &ep.cloud_shell_endpoint)
        ]
    );
    assert!(env("vm").is_empty());
    // Debug output hides the secrets.
    let debug = format!("{ep:?}");
    assert!(!debug.contains(&ep.identity_header) && !debug.contains(&ep.msi_secret));
}

#[tokio::test]
async fn fixed_ports_are_honoured() {
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    // A port found free can be taken by a test running beside this one before the emulator
    // binds it: try a few pairs.
    let mut attempt = 0;
    let (emu, mi_port, sf_port) = loop {
        let (mi_port, sf_port) = (free(), free());
        match Emulator::start(EmulatorConfig {
            managed_identity_port: mi_port,
            service_fabric_port: sf_port,
            ..Default::default()
        })
        .await
        {
            Ok(emu) => break (emu, mi_port, sf_port),
            Err(e) if attempt < 5 && format!("{e:#}").contains("in use") => attempt += 1,
            Err(e) => panic!("the emulator starts on fixed ports: {e:#}"),
        }
    };
    let ep = emu.managed_identity();
    assert_eq!(
        ep.app_service_endpoint,
        format!("http://127.0.0.1:{mi_port}/msi/token")
    );
    assert_eq!(
        ep.service_fabric_endpoint,
        format!("https://127.0.0.1:{sf_port}/sf/token")
    );
}
