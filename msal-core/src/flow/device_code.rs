//! The device code flow (RFC 8628) as typestates: [`DeviceCodeFlow<Initiated>`] shows the user
//! a code to enter on another device; [`DeviceCodeFlow::poll`] waits for the sign-in and yields
//! [`DeviceCodeFlow<Completed>`].
//!
//! Polling follows the server: every `interval` seconds, five more after each `slow_down`;
//! `authorization_pending` and transient failures (network, 5xx) are retried; a declined or
//! expired code ends the flow. Every wait goes through the app's clock, and dropping the
//! `poll` future cancels the polling (no task is left behind).

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::auth_code::Hidden;
use super::state::{Completed, DeviceCodeState, FlowError, FlowOutcome, Initiated};
use super::user::{Grant, classify, redeem, user_scopes};
use crate::app::core::{AppRef, ClientApplication};
use crate::app::options::{RequestOptions, SshCertificateRequest};
use crate::authority::Authority;
use crate::cache::after;
use crate::clock::unix_seconds;
use crate::error::{Error, ErrorKind, Result, ServiceError};
use crate::http::telemetry::{ApiId, RefreshReason};
use crate::http::token_request::{TokenRequest, post_json};
use crate::response::WireSeconds;
use crate::result::{Account, AuthenticationResult, epoch_seconds};
use crate::scope::ScopeSet;

const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
const SLOW_DOWN_SECS: u64 = 5;

/// What a [`DeviceCodeFlow<Initiated>`] holds while the user signs in on another device: the
/// device code (redacted from `Debug`), the user code and verification URI to show, the
/// expiry and polling interval. Serializable, so that polling can resume in another process;
/// the serialized form is secret (it holds the device code) and untrusted when it comes back.
#[derive(Clone, Serialize, Deserialize)]
pub struct DeviceCodePending {
    client_id: String,
    authority: String,
    scopes: Vec<String>,
    device_code: Hidden,
    user_code: String,
    verification_uri: String,
    message: String,
    expires_at: u64,
    interval: u64,
    correlation_id: String,
    claims: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ssh_certificate: Option<SshCertificateRequest>,
}

impl fmt::Debug for DeviceCodePending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Initiated")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("expires_at", &self.expires_at)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// A device code flow in state `S` ([`Initiated`] or [`Completed`]).
#[derive(Serialize, Deserialize)]
#[serde(
    transparent,
    bound(
        serialize = "S::Data: Serialize",
        deserialize = "S::Data: Deserialize<'de>"
    )
)]
pub struct DeviceCodeFlow<S: DeviceCodeState> {
    state: S::Data,
}

impl<S: DeviceCodeState> fmt::Debug for DeviceCodeFlow<S>
where
    S::Data: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DeviceCodeFlow").field(&self.state).finish()
    }
}

/// Builds a [`DeviceCodeFlow<Initiated>`]: set options, then `.initiate().await`.
#[must_use = "a flow does nothing until initiated"]
pub struct DeviceCodeFlowBuilder<'a> {
    app: AppRef<'a>,
    scopes: Result<ScopeSet>,
    options: RequestOptions,
}

impl fmt::Debug for DeviceCodeFlowBuilder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceCodeFlowBuilder")
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// A number of seconds in the device authorization response, read as MSAL Python's
/// `int(flow.get(name, default))` in `msal/oauth2cli/oauth2.py` `initiate_device_flow`:
/// absent (or `null`) is `None`, a number or numeric string is used, anything else is an error.
fn seconds(v: &Value, name: &str) -> Result<Option<i64>> {
    match v.get(name).and_then(WireSeconds::from_json) {
        None => Ok(None),
        Some(WireSeconds::Value(s)) => Ok(Some(s)),
        Some(WireSeconds::Invalid) => Err(Error::invalid_response(format!(
            "the device authorization response's {name} is not a number"
        ))),
    }
}

impl<'a> DeviceCodeFlowBuilder<'a> {
    pub(crate) fn new(app: AppRef<'a>, scopes: Result<ScopeSet>) -> Self {
        DeviceCodeFlowBuilder {
            app,
            scopes,
            options: RequestOptions::default(),
        }
    }

    /// A claims challenge, merged with the app's client capabilities.
    pub fn claims(mut self, claims: impl Into<String>) -> Self {
        self.options.claims = Some(claims.into());
        self
    }

    /// Asks for an SSH certificate for a public key instead of a Bearer token when the code
    /// is redeemed (see [`SshCertificateRequest`]).
    pub fn ssh_certificate(mut self, request: SshCertificateRequest) -> Self {
        self.options.ssh_certificate = Some(request);
        self
    }

    /// Another authority than the app's.
    pub fn authority(mut self, authority: Authority) -> Self {
        self.options.authority = Some(authority);
        self
    }

    /// Another tenant of the app's cloud.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.options.tenant = Some(tenant.into());
        self
    }

    /// Asks the device authorization endpoint for a user code.
    pub async fn initiate(self) -> Result<DeviceCodeFlow<Initiated>> {
        let core = self.app.core;
        let scopes = user_scopes(self.scopes)?;
        self.options.check()?;
        let authority = core.authority_for(&self.options)?.into_owned();
        // Refuse now an override the flow could not complete at (see `AppCore::flow_authority`).
        core.flow_authority(authority.as_str())?;
        let meta = core.metadata(&authority).await?;
        let endpoint = meta.device_authorization_endpoint.clone().ok_or_else(|| {
            Error::new(
                ErrorKind::Discovery,
                "the authority has no device authorization endpoint",
            )
        })?;
        let mut req = TokenRequest::new(
            endpoint,
            ApiId::AcquireTokenByDeviceFlow,
            RefreshReason::NotApplicable,
        );
        req.bare = true;
        req.form.push("client_id", core.client_id.clone());
        req.form.push("scope", core.decorate(&scopes).to_wire());
        if let Some(c) = core.claims(self.options.claims.as_deref())? {
            req.form.push("claims", c);
        }
        let (status, json) = post_json(&core.http, &req).await?;
        DeviceCodeFlow::from_response(
            status,
            &json,
            Started {
                client_id: core.client_id.clone(),
                authority: authority.as_str().to_owned(),
                scopes: scopes.iter().map(str::to_owned).collect(),
                now: unix_seconds(core.now()),
                correlation_id: req.correlation_id,
                claims: self.options.claims,
                ssh_certificate: self.options.ssh_certificate,
            },
        )
    }
}

/// The request a device authorization response answers.
pub(crate) struct Started {
    pub(crate) client_id: String,
    pub(crate) authority: String,
    pub(crate) scopes: Vec<String>,
    /// When the request was sent, in seconds since the Unix epoch.
    pub(crate) now: u64,
    pub(crate) correlation_id: String,
    pub(crate) claims: Option<String>,
    pub(crate) ssh_certificate: Option<SshCertificateRequest>,
}

impl DeviceCodeFlow<Initiated> {
    /// Reads a device authorization response (RFC 8628 §3.2), received with HTTP `status`,
    /// into an initiated flow.
    pub(crate) fn from_response(status: u16, json: &Value, started: Started) -> Result<Self> {
        // Every error below is about this response: it carries its status.
        let at_status = |e: Error| e.at_http_status(status);
        let text = |name: &str| json.get(name).and_then(Value::as_str).map(str::to_owned);
        let device_code = text("device_code")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                Error::invalid_response("the device authorization response has no device_code")
            })
            .map_err(at_status)?;
        let user_code = text("user_code")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                Error::invalid_response("the device authorization response has no user_code")
            })
            .map_err(at_status)?;
        let verification_uri = text("verification_uri")
            .or_else(|| text("verification_url"))
            .unwrap_or_default();
        // A lifetime above MAX_TOKEN_LIFETIME is clamped to it (by `after`); a negative one
        // means the code is already expired (the first poll reports `expired_token` without
        // sending a request).
        let expires_in = seconds(json, "expires_in")
            .map_err(at_status)?
            .unwrap_or(1800);
        let interval = seconds(json, "interval")
            .map_err(at_status)?
            .unwrap_or(5)
            .clamp(1, 60)
            .unsigned_abs();
        let message = text("message").unwrap_or_else(|| {
            format!("To sign in, use a web browser to open the page {verification_uri} and enter the code {user_code} to authenticate.")
        });
        Ok(DeviceCodeFlow {
            state: DeviceCodePending {
                client_id: started.client_id,
                authority: started.authority,
                scopes: started.scopes,
                device_code: Hidden::new(device_code),
                user_code,
                verification_uri,
                message,
                expires_at: after(started.now, expires_in),
                interval,
                correlation_id: started.correlation_id,
                claims: started.claims,
                ssh_certificate: started.ssh_certificate,
            },
        })
    }
}

fn terminal(error: &str, description: &str) -> Error {
    Error::from_service(ServiceError {
        status: 400,
        error: error.to_owned(),
        error_description: Some(description.to_owned()),
        ..ServiceError::default()
    })
}

impl DeviceCodeFlow<Initiated> {
    /// The code the user enters.
    pub fn user_code(&self) -> &str {
        &self.state.user_code
    }

    /// Where the user enters it.
    pub fn verification_uri(&self) -> &str {
        &self.state.verification_uri
    }

    /// The instructions to show the user, from the identity provider.
    pub fn message(&self) -> &str {
        &self.state.message
    }

    /// When the code stops working: now plus the server's `expires_in`, which is clamped to
    /// [`MAX_TOKEN_LIFETIME`](crate::MAX_TOKEN_LIFETIME) (a negative one is already past; one
    /// that is not a number fails [`initiate`](DeviceCodeFlowBuilder::initiate) with
    /// [`ErrorKind::InvalidResponse`]).
    pub fn expires_at(&self) -> SystemTime {
        epoch_seconds(self.state.expires_at)
    }

    /// Seconds between polls (as the server asks).
    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.state.interval)
    }

    /// How long to wait before the next poll: the interval, but never past the code's expiry
    /// (a serialized flow's interval is untrusted: a huge one must not park the poll forever).
    fn wait(&self, now: SystemTime) -> Duration {
        let left = self.state.expires_at.saturating_sub(unix_seconds(now));
        Duration::from_secs(self.state.interval.min(left).max(1))
    }

    /// Polls until the user signs in (or declines, or the code expires). Transient failures
    /// are retried; a fatal one ends the flow.
    pub async fn poll<A: ClientApplication>(
        mut self,
        app: &A,
    ) -> std::result::Result<DeviceCodeFlow<Completed>, FlowError<DeviceCodeFlow<Initiated>>> {
        let app = app.app_ref();
        let core = app.core;
        if core.client_id != self.state.client_id {
            return Err(FlowError::fatal(Error::invalid_input(
                "this flow was started by another application",
            )));
        }
        let authority = match core.flow_authority(&self.state.authority) {
            Ok(a) => a,
            Err(e) => return Err(FlowError::fatal(e)),
        };
        let scopes = match ScopeSet::new(self.state.scopes.clone()) {
            Ok(s) => s,
            Err(e) => return Err(FlowError::fatal(e)),
        };
        let options = RequestOptions {
            claims: self.state.claims.clone(),
            ssh_certificate: self.state.ssh_certificate.clone(),
            ..RequestOptions::default()
        };
        loop {
            if unix_seconds(core.now()) >= self.state.expires_at {
                return Err(FlowError::fatal(terminal(
                    "expired_token",
                    "the device code expired before the user signed in",
                )));
            }
            let meta = match core.metadata(&authority).await {
                Ok(m) => m,
                Err(e) if e.is_transient() => {
                    core.clock.sleep(self.wait(core.now())).await;
                    continue;
                }
                Err(e) => return Err(FlowError::fatal(e)),
            };
            let dc = self.state.device_code.expose().to_owned();
            let attempt = redeem(Grant {
                app,
                meta: &meta,
                grant_type: GRANT_TYPE,
                api: ApiId::AcquireTokenByDeviceFlow,
                reason: RefreshReason::NotApplicable,
                scopes: &scopes,
                options: &options,
                leading: vec![("code", dc.clone())],
                fields: vec![("device_code", dc)],
                send_scope: false,
                anchor: None,
                refreshed: None,
                username: None,
                correlation_id: Some(&self.state.correlation_id),
            })
            .await;
            match attempt {
                Ok(result) => {
                    return Ok(DeviceCodeFlow {
                        state: FlowOutcome { result },
                    });
                }
                Err(e) => {
                    let code = e.service().map(|s| s.error.as_str());
                    match code {
                        Some("authorization_pending") => {}
                        Some("slow_down") => {
                            self.state.interval =
                                self.state.interval.saturating_add(SLOW_DOWN_SECS);
                        }
                        _ if e.is_transient() => {
                            tracing::debug!(error = %e, "device code polling: transient failure, retrying");
                        }
                        _ => return Err(FlowError::fatal(classify(e))),
                    }
                }
            }
            core.clock.sleep(self.wait(core.now())).await;
        }
    }
}

impl DeviceCodeFlow<Completed> {
    /// The tokens the flow obtained.
    pub fn result(&self) -> &AuthenticationResult {
        &self.state.result
    }

    /// The signed-in account.
    pub fn account(&self) -> Option<&Account> {
        self.state.account()
    }

    /// The result, by value.
    pub fn into_result(self) -> AuthenticationResult {
        self.state.result
    }
}
