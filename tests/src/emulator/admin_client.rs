//! [`AdminClient`]: a typed client of the admin API.

use anyhow::{Context as _, bail};
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::model::{
    AppRegistration, ClockChange, ClockState, DiscoverySettings, FaultRule, Manifest, MintedToken,
    RecordedRequest, RequestFilter, Stats, UserInfo, UserRegistration, UserTokenRequest,
};

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

    /// `POST /admin/reset`: clears recorded requests, faults, stats and the clock offset.
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

    /// `GET /admin/requests`: every recorded request, in arrival order.
    pub async fn requests(&self) -> anyhow::Result<Vec<RecordedRequest>> {
        self.get("/admin/requests").await
    }

    /// `GET /admin/requests?host=&path_contains=&grant_type=`.
    pub async fn requests_filtered(
        &self,
        filter: &RequestFilter,
    ) -> anyhow::Result<Vec<RecordedRequest>> {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("host", &filter.host),
            ("path_contains", &filter.path_contains),
            ("grant_type", &filter.grant_type),
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
}
