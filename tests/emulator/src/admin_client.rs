//! [`AdminClient`]: a typed client of the admin API.

use anyhow::{Context as _, bail};
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::model::{
    AppRegistration, AuthTimeSetting, ClockChange, ClockState, ConsentSetting, DefaultUserSetting,
    DeviceApproval, DeviceCodeInfo, DeviceSettings, DiscoverySettings, FaultRule,
    FederatedTokenRequest, ImdsMode, ImdsSettings, InteractionSetting, ManagedIdentityFault,
    ManagedIdentitySettings, ManagedIdentitySource, Manifest, MintedToken, RecordedRequest,
    RefreshTokenSettings, RequestFilter, RevokeResult, Stats, UserInfo, UserRegistration,
    UserTokenRequest,
};

/// Percent-encodes a path segment (unreserved characters and `@` kept).
fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A typed client of the emulator's admin API (one method per endpoint).
#[derive(Debug, Clone)]
pub struct AdminClient {
    base: String,
    http: reqwest::Client,
}

impl AdminClient {
    /// A client for the admin API at `admin_url` (`http://127.0.0.1:Q`).
    pub fn new(admin_url: impl Into<String>) -> Self {
        Self {
            base: admin_url.into().trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// The admin API's base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .with_context(|| format!("{method} {url}: body"))?;
        if !status.is_success() {
            bail!(
                "{method} {url}: {status}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        serde_json::from_slice(&bytes).with_context(|| format!("{method} {url}: bad JSON answer"))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.call(Method::GET, path, None).await
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> anyhow::Result<T> {
        self.call(Method::POST, path, Some(serde_json::to_vec(body)?))
            .await
    }

    async fn delete(&self, path: &str) -> anyhow::Result<()> {
        self.call::<Value>(Method::DELETE, path, None)
            .await
            .map(drop)
    }

    /// `GET /admin/manifest`.
    pub async fn manifest(&self) -> anyhow::Result<Manifest> {
        self.get("/admin/manifest").await
    }

    /// `POST /admin/reset`: clears recorded requests, faults, stats and the clock offset; resets
    /// the refresh token, device code, IMDS and managed-identity settings (and drops the
    /// managed-identity faults and Azure Arc challenges); signs every browser session out.
    /// Issued codes and tokens, registrations and per-user switches stay.
    pub async fn reset(&self) -> anyhow::Result<()> {
        self.post::<Value>("/admin/reset", &serde_json::json!({}))
            .await
            .map(drop)
    }

    /// `POST /admin/apps`: registers or replaces an app.
    pub async fn register_app(&self, app: &AppRegistration) -> anyhow::Result<()> {
        self.post::<Value>("/admin/apps", app).await.map(drop)
    }

    /// `POST /admin/users`: registers or replaces a user.
    pub async fn add_user(&self, user: &UserRegistration) -> anyhow::Result<UserInfo> {
        self.post("/admin/users", user).await
    }

    /// `POST /admin/tokens/user`: mints a user access token.
    pub async fn mint_user_token(&self, req: &UserTokenRequest) -> anyhow::Result<MintedToken> {
        self.post("/admin/tokens/user", req).await
    }

    /// `POST /admin/tokens/federated`: a token of an external issuer (a Kubernetes service
    /// account token, say) that an app's federated identity credential accepts.
    pub async fn mint_federated_token(
        &self,
        req: &FederatedTokenRequest,
    ) -> anyhow::Result<MintedToken> {
        self.post("/admin/tokens/federated", req).await
    }

    /// `GET /admin/requests`: every recorded request, in arrival order.
    pub async fn requests(&self) -> anyhow::Result<Vec<RecordedRequest>> {
        self.get("/admin/requests").await
    }

    /// `GET /admin/requests?host=&path_contains=&grant_type=&source=`.
    pub async fn requests_filtered(
        &self,
        filter: &RequestFilter,
    ) -> anyhow::Result<Vec<RecordedRequest>> {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        let source = filter.source.map(|s| s.name().to_string());
        for (k, v) in [
            ("host", &filter.host),
            ("path_contains", &filter.path_contains),
            ("grant_type", &filter.grant_type),
            ("source", &source),
        ] {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
        self.get(&format!("/admin/requests?{}", q.finish())).await
    }

    /// `DELETE /admin/requests`.
    pub async fn clear_requests(&self) -> anyhow::Result<()> {
        self.delete("/admin/requests").await
    }

    /// `POST /admin/faults`: adds a fault rule.
    pub async fn add_fault(&self, rule: &FaultRule) -> anyhow::Result<()> {
        self.post::<Value>("/admin/faults", rule).await.map(drop)
    }

    /// `GET /admin/faults`: the active rules.
    pub async fn faults(&self) -> anyhow::Result<Vec<FaultRule>> {
        self.get("/admin/faults").await
    }

    /// `DELETE /admin/faults`.
    pub async fn clear_faults(&self) -> anyhow::Result<()> {
        self.delete("/admin/faults").await
    }

    /// `GET /admin/clock`: the emulator's time, epoch seconds.
    pub async fn clock(&self) -> anyhow::Result<f64> {
        Ok(self.get::<ClockState>("/admin/clock").await?.now)
    }

    /// `POST /admin/clock {"set": epoch}`; returns the new time.
    pub async fn set_clock(&self, epoch: f64) -> anyhow::Result<f64> {
        let change = ClockChange {
            set: Some(epoch),
            advance: None,
        };
        Ok(self.post::<ClockState>("/admin/clock", &change).await?.now)
    }

    /// `POST /admin/clock {"advance": secs}`; returns the new time.
    pub async fn advance_clock(&self, secs: f64) -> anyhow::Result<f64> {
        let change = ClockChange {
            set: None,
            advance: Some(secs),
        };
        Ok(self.post::<ClockState>("/admin/clock", &change).await?.now)
    }

    /// `GET /admin/stats`.
    pub async fn stats(&self) -> anyhow::Result<Stats> {
        self.get("/admin/stats").await
    }

    /// `GET /admin/imds`: what the emulated IMDS says.
    pub async fn imds(&self) -> anyhow::Result<ImdsSettings> {
        self.get("/admin/imds").await
    }

    /// `POST /admin/imds`: sets the region and behaviour of the emulated IMDS.
    pub async fn set_imds(&self, settings: &ImdsSettings) -> anyhow::Result<()> {
        self.post::<Value>("/admin/imds", settings).await.map(drop)
    }

    /// `POST /admin/imds`: IMDS answers `region` (`None`: no location).
    pub async fn set_imds_region(&self, region: Option<&str>) -> anyhow::Result<()> {
        let mut s = self.imds().await?;
        s.region = region.map(str::to_string);
        self.set_imds(&s).await
    }

    /// `POST /admin/imds`: IMDS answers, hangs or fails.
    pub async fn set_imds_mode(&self, mode: ImdsMode) -> anyhow::Result<()> {
        let mut s = self.imds().await?;
        s.mode = mode;
        self.set_imds(&s).await
    }

    /// How many IMDS requests arrived (from `GET /admin/stats`).
    pub async fn imds_requests(&self) -> anyhow::Result<u64> {
        Ok(self.stats().await?.imds_requests)
    }

    // ------------------------------------------------------------ managed identity

    /// `GET /admin/managed-identity`: the identities and token settings behind every
    /// managed-identity source.
    pub async fn managed_identity(&self) -> anyhow::Result<ManagedIdentitySettings> {
        self.get("/admin/managed-identity").await
    }

    /// `POST /admin/managed-identity`: replaces the identities and token settings; returns
    /// them.
    pub async fn set_managed_identity(
        &self,
        settings: &ManagedIdentitySettings,
    ) -> anyhow::Result<ManagedIdentitySettings> {
        self.post("/admin/managed-identity", settings).await
    }

    /// `POST /admin/managed-identity`: the lifetime of the tokens issued from now on (zero or
    /// negative: already expired), the rest unchanged.
    pub async fn set_managed_identity_token_lifetime(&self, secs: i64) -> anyhow::Result<()> {
        let mut s = self.managed_identity().await?;
        s.token_lifetime_secs = secs;
        self.set_managed_identity(&s).await.map(drop)
    }

    /// `POST /admin/managed-identity/faults`: appends fault rules (tried in order).
    pub async fn add_managed_identity_faults(
        &self,
        rules: &[ManagedIdentityFault],
    ) -> anyhow::Result<()> {
        self.post::<Value>("/admin/managed-identity/faults", &rules)
            .await
            .map(drop)
    }

    /// `POST /admin/managed-identity/faults` with one rule.
    pub async fn add_managed_identity_fault(
        &self,
        rule: &ManagedIdentityFault,
    ) -> anyhow::Result<()> {
        self.add_managed_identity_faults(std::slice::from_ref(rule))
            .await
    }

    /// `GET /admin/managed-identity/faults`: the active rules (`times`: the remaining count).
    pub async fn managed_identity_faults(&self) -> anyhow::Result<Vec<ManagedIdentityFault>> {
        self.get("/admin/managed-identity/faults").await
    }

    /// `DELETE /admin/managed-identity/faults`.
    pub async fn clear_managed_identity_faults(&self) -> anyhow::Result<()> {
        self.delete("/admin/managed-identity/faults").await
    }

    /// The recorded requests to `source` ([`ManagedIdentitySource::Any`]: to every
    /// managed-identity source), in arrival order.
    pub async fn managed_identity_requests(
        &self,
        source: ManagedIdentitySource,
    ) -> anyhow::Result<Vec<RecordedRequest>> {
        self.requests_filtered(&RequestFilter {
            source: Some(source),
            ..Default::default()
        })
        .await
    }

    /// How many requests reached `source` (from `GET /admin/stats`).
    pub async fn managed_identity_request_count(
        &self,
        source: ManagedIdentitySource,
    ) -> anyhow::Result<u64> {
        Ok(self.stats().await?.managed_identity.get(source))
    }

    /// `POST /admin/discovery`.
    pub async fn set_discovery(&self, settings: DiscoverySettings) -> anyhow::Result<()> {
        self.post::<Value>("/admin/discovery", &settings)
            .await
            .map(drop)
    }

    /// `POST /admin/discovery {"fail_instance_discovery": fail}`.
    pub async fn fail_instance_discovery(&self, fail: bool) -> anyhow::Result<()> {
        self.set_discovery(DiscoverySettings {
            fail_instance_discovery: fail,
        })
        .await
    }

    // ------------------------------------------------------------ user sign-in switches

    /// `POST /admin/users/{username}/consent`: whether `username` must consent to `client_id`
    /// (authorize answers `consent_required` unless `prompt=consent`; token grants answer
    /// `invalid_grant` AADSTS65001).
    pub async fn set_consent_required(
        &self,
        username: &str,
        client_id: &str,
        required: bool,
    ) -> anyhow::Result<()> {
        let body = ConsentSetting {
            client_id: client_id.into(),
            required,
        };
        self.post::<Value>(&format!("/admin/users/{}/consent", seg(username)), &body)
            .await
            .map(drop)
    }

    /// `POST /admin/users/{username}/interaction`: require (or, with `required: false`, clear)
    /// interaction: `prompt=none` answers `interaction_required`, refresh and ROPC answer
    /// `invalid_grant` with `suberror` and `claims`.
    pub async fn set_interaction_required(
        &self,
        username: &str,
        setting: &InteractionSetting,
    ) -> anyhow::Result<()> {
        self.post::<Value>(
            &format!("/admin/users/{}/interaction", seg(username)),
            setting,
        )
        .await
        .map(drop)
    }

    /// `POST /admin/users/{username}/auth_time`: pin the `auth_time` of the user's sign-ins
    /// (`None`: the sign-in time).
    pub async fn set_auth_time(
        &self,
        username: &str,
        auth_time: Option<u64>,
    ) -> anyhow::Result<()> {
        self.post::<Value>(
            &format!("/admin/users/{}/auth_time", seg(username)),
            &AuthTimeSetting { auth_time },
        )
        .await
        .map(drop)
    }

    /// `POST /admin/users/{username}/revoke`: revokes every refresh token of the user (they
    /// then answer `invalid_grant` AADSTS50173) and ends the user's browser session.
    pub async fn revoke_refresh_tokens(&self, username: &str) -> anyhow::Result<u64> {
        let r: RevokeResult = self
            .post(
                &format!("/admin/users/{}/revoke", seg(username)),
                &serde_json::json!({}),
            )
            .await?;
        Ok(r.revoked)
    }

    /// `POST /admin/users/{username}/session`: signs the user in to the emulated browser (so
    /// that `prompt=none` succeeds); returns the `session_state`.
    pub async fn sign_in(&self, username: &str) -> anyhow::Result<String> {
        let v: Value = self
            .post(
                &format!("/admin/users/{}/session", seg(username)),
                &serde_json::json!({}),
            )
            .await?;
        Ok(v["session_state"].as_str().unwrap_or_default().to_string())
    }

    /// `DELETE /admin/users/{username}/session`: signs the user out of the emulated browser.
    pub async fn sign_out(&self, username: &str) -> anyhow::Result<()> {
        self.delete(&format!("/admin/users/{}/session", seg(username)))
            .await
    }

    /// `POST /admin/tenants/{tenant}/default_user`: who signs in when a request names no user
    /// (`tenant` may be `common`, `organizations`, `consumers` or `adfs`).
    pub async fn set_default_user(&self, tenant: &str, username: &str) -> anyhow::Result<()> {
        self.post::<Value>(
            &format!("/admin/tenants/{}/default_user", seg(tenant)),
            &DefaultUserSetting {
                username: username.into(),
            },
        )
        .await
        .map(drop)
    }

    /// `POST /admin/refresh_tokens {"strict_rotation"}`: strict rotation rejects a refresh
    /// token once redeemed (default: lenient, like Entra).
    pub async fn set_strict_rotation(&self, strict: bool) -> anyhow::Result<()> {
        self.post::<Value>(
            "/admin/refresh_tokens",
            &RefreshTokenSettings {
                strict_rotation: strict,
            },
        )
        .await
        .map(drop)
    }

    /// `GET /admin/device`: every device code (newest last), with its status.
    pub async fn device_codes(&self) -> anyhow::Result<Vec<DeviceCodeInfo>> {
        self.get("/admin/device").await
    }

    /// The pending device codes (from [`device_codes`](Self::device_codes)).
    pub async fn pending_device_codes(&self) -> anyhow::Result<Vec<DeviceCodeInfo>> {
        let mut all = self.device_codes().await?;
        all.retain(|d| d.status == "pending");
        Ok(all)
    }

    /// `POST /admin/device/{user_code}/approve`: `username` (default: the tenant's default
    /// user) signs in; the next poll gets the tokens.
    pub async fn approve_device_code(
        &self,
        user_code: &str,
        username: Option<&str>,
    ) -> anyhow::Result<()> {
        let body = DeviceApproval {
            username: username.map(str::to_string),
        };
        self.post::<Value>(&format!("/admin/device/{}/approve", seg(user_code)), &body)
            .await
            .map(drop)
    }

    /// `POST /admin/device/{user_code}/deny`: polls then get `authorization_declined`.
    pub async fn deny_device_code(&self, user_code: &str) -> anyhow::Result<()> {
        self.post::<Value>(
            &format!("/admin/device/{}/deny", seg(user_code)),
            &serde_json::json!({}),
        )
        .await
        .map(drop)
    }

    /// `POST /admin/device/settings`: `expires_in` and `interval` of new codes, and
    /// `force_slow_down` (answer `slow_down` to the next N polls). Returns the settings.
    pub async fn set_device_settings(
        &self,
        settings: &DeviceSettings,
    ) -> anyhow::Result<DeviceSettings> {
        self.post("/admin/device/settings", settings).await
    }
}
