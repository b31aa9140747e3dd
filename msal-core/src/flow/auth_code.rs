//! The authorization code flow with PKCE, as compile-time typestates:
//! [`AuthCodeFlow<Initiated>`] (the user was sent to the authorization endpoint; the flow
//! waits for the redirect) → [`AuthCodeFlow<Completed>`] (tokens redeemed and cached).
//!
//! `complete` consumes the initiated flow, so a flow cannot be completed twice, and a result
//! can only be read from a completed flow (both are compile errors, pinned by the trybuild
//! cases in the repository's `tests/ui/api/`):
//!
//! ```no_run
//! # async fn f(app: msal_core::PublicClient, flow: msal_core::AuthCodeFlow<msal_core::Initiated>) -> msal_core::Result<()> {
//! let done = flow.complete(&app, "code=c&state=s").await?;
//! let r = done.result();
//! # Ok(()) }
//! ```
//!
//! The initiated flow serializes (for a web session between the redirect out and back); its
//! PKCE verifier and nonce are kept in redacting newtypes. Serialization can copy a flow, so the
//! typestate prevents misuse, not replay: the identity provider refuses a code used twice.

use std::fmt;
use std::future::IntoFuture;
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::prompt::Prompt;
use super::state::{AuthCodeState, Completed, FlowError, FlowOutcome, Initiated};
use super::user::{Grant, classify, record, send, user_scopes};
use crate::app::core::{AppRef, ClientApplication};
use crate::app::options::{AcquireFuture, RequestOptions, SshCertificateRequest};
use crate::authority::Authority;
use crate::clock::unix_seconds;
use crate::error::{Error, ErrorKind, Result, ServiceError};
use crate::http::telemetry::{ApiId, RefreshReason};
use crate::response::{ClientInfo, decode_jwt_claims};
use crate::result::{Account, AuthenticationResult};
use crate::scope::{IntoScopes, ScopeSet};

const GRANT_TYPE: &str = "authorization_code";
/// MSAL's allowance for clock skew when checking `max_age`.
const MAX_AGE_SKEW_SECS: u64 = 120;

/// A string that is serialized (the flow must survive a redirect) but never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Hidden(String);

impl Hidden {
    pub(crate) fn new(s: String) -> Hidden {
        Hidden(s)
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Hidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How the authorization endpoint returns the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ResponseMode {
    /// In the redirect URI's query string (the default).
    Query,
    /// In a form POSTed to the redirect URI (recommended: the code stays out of logs).
    FormPost,
}

/// What an [`AuthCodeFlow<Initiated>`] holds while it waits for the redirect: the
/// authorization URL, `state`, the PKCE verifier and the nonce, the scopes, and the authority
/// the code is to be redeemed at (always this app's; see [`AuthCodeFlow::complete`]).
///
/// Serializable, so that the flow can live in a web session between the redirect out and
/// back; its verifier and nonce are redacted from `Debug`. Treat the serialized form as
/// secret (it holds the PKCE verifier) and as untrusted when it comes back.
#[derive(Clone, Serialize, Deserialize)]
pub struct AuthCodePending {
    client_id: String,
    authority: String,
    auth_uri: String,
    state: String,
    redirect_uri: Option<String>,
    scopes: Vec<String>,
    code_verifier: Hidden,
    nonce: Hidden,
    max_age: Option<u64>,
    claims: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ssh_certificate: Option<SshCertificateRequest>,
}

impl fmt::Debug for AuthCodePending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Initiated")
            .field("client_id", &self.client_id)
            .field("authority", &self.authority)
            .field("redirect_uri", &self.redirect_uri)
            .field("scopes", &self.scopes)
            .field("code_verifier", &self.code_verifier)
            .field("nonce", &self.nonce)
            .finish_non_exhaustive()
    }
}

/// An authorization code flow in state `S` ([`Initiated`] or [`Completed`]).
#[derive(Serialize, Deserialize)]
#[serde(
    transparent,
    bound(
        serialize = "S::Data: Serialize",
        deserialize = "S::Data: Deserialize<'de>"
    )
)]
pub struct AuthCodeFlow<S: AuthCodeState> {
    state: S::Data,
}

impl<S: AuthCodeState> Clone for AuthCodeFlow<S>
where
    S::Data: Clone,
{
    fn clone(&self) -> Self {
        AuthCodeFlow {
            state: self.state.clone(),
        }
    }
}

impl<S: AuthCodeState> fmt::Debug for AuthCodeFlow<S>
where
    S::Data: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AuthCodeFlow").field(&self.state).finish()
    }
}

/// What came back to the redirect URI: the query string or the posted form, as pairs.
#[derive(Clone, Default)]
pub struct AuthResponse {
    params: Vec<(String, String)>,
}

impl AuthResponse {
    /// Parses a query string or a form body (`code=…&state=…`; a leading `?` is ignored).
    pub fn from_query(query: &str) -> AuthResponse {
        let q = query.trim().trim_start_matches('?');
        AuthResponse {
            params: url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

impl fmt::Debug for AuthResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.params.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("AuthResponse")
            .field("fields", &names)
            .finish()
    }
}

impl From<&str> for AuthResponse {
    fn from(s: &str) -> Self {
        AuthResponse::from_query(s)
    }
}

impl From<&String> for AuthResponse {
    fn from(s: &String) -> Self {
        AuthResponse::from_query(s)
    }
}

impl From<Vec<(String, String)>> for AuthResponse {
    fn from(params: Vec<(String, String)>) -> Self {
        AuthResponse { params }
    }
}

impl From<std::collections::HashMap<String, String>> for AuthResponse {
    fn from(m: std::collections::HashMap<String, String>) -> Self {
        AuthResponse {
            params: m.into_iter().collect(),
        }
    }
}

/// `n` random bytes from the operating system.
fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| {
        Error::new(
            ErrorKind::Configuration,
            "the system random generator failed",
        )
    })?;
    Ok(b)
}

/// A 43-character PKCE verifier from `[A-Za-z0-9-._~]`, as MSAL draws it.
pub(crate) fn pkce_verifier() -> Result<String> {
    const ALPHABET: &[u8; 66] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
    // 256 is not a multiple of 66: bytes of 198 and above are dropped so the choice is uniform.
    let mut out = String::with_capacity(43);
    while out.len() < 43 {
        for b in random_bytes::<64>()? {
            if b < 198 && out.len() < 43 {
                out.push(char::from(ALPHABET[usize::from(b) % 66]));
            }
        }
    }
    Ok(out)
}

/// base64url(SHA-256(verifier)) without padding.
pub(crate) fn pkce_challenge(verifier: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d.as_ref())
}

/// 22 characters of base64url over 16 random bytes (Python's `token_urlsafe(16)`).
pub(crate) fn random_token() -> Result<String> {
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<16>()?))
}

/// The lower-case hex SHA-256 of the nonce: what goes in the URL and comes back in the ID token.
pub(crate) fn nonce_hash(nonce: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, nonce.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Appends `name=value` to a URL being built, form-encoded as Python's `urlencode` does.
fn push_query(url: &mut String, first: &mut bool, name: &str, value: &str) {
    url.push(if *first { '?' } else { '&' });
    *first = false;
    url.extend(url::form_urlencoded::byte_serialize(name.as_bytes()));
    url.push('=');
    url.extend(url::form_urlencoded::byte_serialize(value.as_bytes()));
}

/// Builds an [`AuthCodeFlow<Initiated>`]: set the options, then `.initiate().await`.
#[must_use = "a flow does nothing until initiated"]
pub struct AuthCodeFlowBuilder<'a> {
    app: AppRef<'a>,
    scopes: Result<ScopeSet>,
    extra_scopes: Result<ScopeSet>,
    redirect_uri: Option<String>,
    state: Option<String>,
    prompt: Option<Prompt>,
    login_hint: Option<String>,
    domain_hint: Option<String>,
    max_age: Option<u64>,
    claims: Option<String>,
    response_mode: Option<ResponseMode>,
    authority: Option<Authority>,
    extra_query: Vec<(String, String)>,
    ssh_certificate: Option<SshCertificateRequest>,
}

impl fmt::Debug for AuthCodeFlowBuilder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthCodeFlowBuilder")
            .field("scopes", &self.scopes)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

impl<'a> AuthCodeFlowBuilder<'a> {
    pub(crate) fn new(app: AppRef<'a>, scopes: Result<ScopeSet>) -> Self {
        AuthCodeFlowBuilder {
            app,
            scopes,
            extra_scopes: ScopeSet::new(Vec::<String>::new()),
            redirect_uri: None,
            state: None,
            prompt: None,
            login_hint: None,
            domain_hint: None,
            max_age: None,
            claims: None,
            response_mode: None,
            authority: None,
            extra_query: Vec::new(),
            ssh_certificate: None,
        }
    }

    /// Asks for an SSH certificate for a public key instead of a Bearer token when the code
    /// is redeemed (see [`SshCertificateRequest`]).
    pub fn ssh_certificate(mut self, request: SshCertificateRequest) -> Self {
        self.ssh_certificate = Some(request);
        self
    }

    /// Where the authorization endpoint sends the user back (must be registered).
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(uri.into());
        self
    }

    /// The `state` value (a random 22 characters otherwise).
    pub fn state(mut self, state: impl Into<String>) -> Self {
        self.state = Some(state.into());
        self
    }

    /// What the sign-in page does (`prompt`): [`Prompt::SelectAccount`] to show the account
    /// picker, [`Prompt::Login`] to ask for credentials again, [`Prompt::Consent`],
    /// [`Prompt::Create`], [`Prompt::None`] (no page: fails if the user would have to act), or
    /// [`Prompt::Other`] for a value this crate does not know yet.
    pub fn prompt(mut self, prompt: Prompt) -> Self {
        self.prompt = Some(prompt);
        self
    }

    /// Pre-fills the username; also sent as the `X-AnchorMailbox` routing hint.
    pub fn login_hint(mut self, hint: impl Into<String>) -> Self {
        self.login_hint = Some(hint.into());
        self
    }

    /// `domain_hint`: `consumers`, `organizations` or a tenant domain.
    pub fn domain_hint(mut self, hint: impl Into<String>) -> Self {
        self.domain_hint = Some(hint.into());
        self
    }

    /// Requires a sign-in no older than `max_age`; checked against the ID token's `auth_time`.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age.as_secs());
        self
    }

    /// A claims challenge (JSON), merged with the app's client capabilities.
    pub fn claims(mut self, claims: impl Into<String>) -> Self {
        self.claims = Some(claims.into());
        self
    }

    /// How the code comes back (default [`ResponseMode::Query`]).
    pub fn response_mode(mut self, mode: ResponseMode) -> Self {
        self.response_mode = Some(mode);
        self
    }

    /// More scopes the user consents to now (asked for in the URL, not redeemed).
    pub fn extra_scopes_to_consent(mut self, scopes: impl IntoScopes) -> Self {
        self.extra_scopes = scopes.into_scopes();
        self
    }

    /// Another authority than the app's (e.g. another B2C policy).
    pub fn authority(mut self, authority: Authority) -> Self {
        self.authority = Some(authority);
        self
    }

    /// An extra query parameter for the authorization URL.
    pub fn extra_query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_query.push((name.into(), value.into()));
        self
    }

    /// Discovers the authorization endpoint (if not yet known) and builds the flow: its URL
    /// carries PKCE (S256), `state`, and the SHA-256 of a fresh nonce.
    pub async fn initiate(self) -> Result<AuthCodeFlow<Initiated>> {
        let core = self.app.core;
        let scopes = user_scopes(self.scopes)?;
        let extra = user_scopes(self.extra_scopes)?;
        if let Some(ssh) = &self.ssh_certificate {
            ssh.check()?;
        }
        if let Some(c) = &self.claims {
            super::claims::parse_claims(c)?;
        }
        let options = RequestOptions {
            authority: self.authority,
            ..RequestOptions::default()
        };
        let authority = core.authority_for(&options)?.into_owned();
        // Refuse now an override the flow could not complete at (see `AppCore::flow_authority`).
        core.flow_authority(authority.as_str())?;
        let meta = core.metadata(&authority).await?;
        let endpoint = meta.authorization_endpoint.clone().ok_or_else(|| {
            Error::new(
                ErrorKind::Discovery,
                "the authority's discovery document has no authorization_endpoint",
            )
        })?;
        let verifier = pkce_verifier()?;
        let nonce = random_token()?;
        let state = match self.state {
            Some(s) if !s.is_empty() => s,
            _ => random_token()?,
        };
        let mut all = scopes.with_reserved();
        if !extra.is_empty() {
            all = ScopeSet::new(
                all.iter()
                    .chain(extra.iter())
                    .map(str::to_owned)
                    .collect::<Vec<_>>(),
            )?;
        }
        // The extra scopes are excluded too (msal/application.py decorates their union).
        let all = all.without(&core.exclude_scopes);
        let mut uri = endpoint.clone();
        let mut first = !uri.contains('?');
        push_query(&mut uri, &mut first, "client_id", &core.client_id);
        push_query(&mut uri, &mut first, "response_type", "code");
        if let Some(r) = &self.redirect_uri {
            push_query(&mut uri, &mut first, "redirect_uri", r);
        }
        push_query(&mut uri, &mut first, "scope", &all.to_wire());
        push_query(&mut uri, &mut first, "state", &state);
        match self.response_mode {
            Some(ResponseMode::FormPost) => {
                push_query(&mut uri, &mut first, "response_mode", "form_post")
            }
            Some(ResponseMode::Query) => push_query(&mut uri, &mut first, "response_mode", "query"),
            None => {}
        }
        push_query(
            &mut uri,
            &mut first,
            "code_challenge",
            &pkce_challenge(&verifier),
        );
        push_query(&mut uri, &mut first, "code_challenge_method", "S256");
        push_query(&mut uri, &mut first, "nonce", &nonce_hash(&nonce));
        push_query(&mut uri, &mut first, "client_info", "1");
        if let Some(h) = &self.login_hint {
            push_query(&mut uri, &mut first, "login_hint", h);
        }
        if let Some(p) = &self.prompt {
            push_query(&mut uri, &mut first, "prompt", p.as_str());
        }
        if let Some(d) = &self.domain_hint {
            push_query(&mut uri, &mut first, "domain_hint", d);
        }
        if let Some(c) = core.claims(self.claims.as_deref())? {
            push_query(&mut uri, &mut first, "claims", &c);
        }
        if let Some(m) = self.max_age {
            push_query(&mut uri, &mut first, "max_age", &m.to_string());
        }
        if let Some(h) = &self.login_hint {
            push_query(&mut uri, &mut first, "X-AnchorMailbox", &format!("UPN:{h}"));
        }
        for (k, v) in &self.extra_query {
            push_query(&mut uri, &mut first, k, v);
        }
        Ok(AuthCodeFlow {
            state: AuthCodePending {
                client_id: core.client_id.clone(),
                authority: authority.as_str().to_owned(),
                auth_uri: uri,
                state,
                redirect_uri: self.redirect_uri,
                scopes: scopes.iter().map(str::to_owned).collect(),
                code_verifier: Hidden(verifier),
                nonce: Hidden(nonce),
                max_age: self.max_age,
                claims: self.claims,
                ssh_certificate: self.ssh_certificate,
            },
        })
    }
}

impl AuthCodeFlow<Initiated> {
    /// The URL to send the user to.
    pub fn auth_uri(&self) -> &str {
        &self.state.auth_uri
    }

    /// The `state` the response must carry back.
    pub fn state(&self) -> &str {
        &self.state.state
    }

    /// The redirect URI the flow was started with.
    pub fn redirect_uri(&self) -> Option<&str> {
        self.state.redirect_uri.as_deref()
    }

    /// Checks the response from the redirect (state, error) and redeems its code with the PKCE
    /// verifier; checks the ID token's nonce and `auth_time` (`max_age`); caches the tokens.
    ///
    /// On a transient failure (network, 5xx, throttling) the error hands this flow back
    /// ([`FlowError::into_flow`]) so the same response can be redeemed again.
    pub async fn complete<A: ClientApplication>(
        self,
        app: &A,
        response: impl Into<AuthResponse>,
    ) -> std::result::Result<AuthCodeFlow<Completed>, FlowError<AuthCodeFlow<Initiated>>> {
        let response: AuthResponse = response.into();
        let app = app.app_ref();
        let s = &self.state;
        if app.core.client_id != s.client_id {
            return Err(FlowError::fatal(Error::invalid_input(
                "this flow was started by another application",
            )));
        }
        let authority = match app.core.flow_authority(&s.authority) {
            Ok(a) => a,
            Err(e) => return Err(FlowError::fatal(e)),
        };
        if response.get("state") != Some(s.state.as_str()) {
            return Err(FlowError::fatal(Error::new(
                ErrorKind::Validation,
                "the response's state does not match the flow's: not the response to this sign-in",
            )));
        }
        if let Some(error) = response.get("error") {
            return Err(FlowError::fatal(classify(Error::from_service(
                ServiceError {
                    status: 0,
                    error: error.to_owned(),
                    error_description: response.get("error_description").map(str::to_owned),
                    suberror: response.get("suberror").map(str::to_owned),
                    ..ServiceError::default()
                },
            ))));
        }
        let Some(code) = response.get("code") else {
            return Err(FlowError::fatal(Error::new(
                ErrorKind::Validation,
                "the response carries neither a code nor an error",
            )));
        };
        let anchor = response
            .get("client_info")
            .and_then(ClientInfo::parse)
            .map(|ci| format!("Oid:{}@{}", ci.uid, ci.utid));
        let redeemed = redeem_code(
            app,
            RedeemCode {
                authority: &authority,
                code,
                redirect_uri: s.redirect_uri.as_deref(),
                verifier: Some(s.code_verifier.expose()),
                nonce: Some(s.nonce.expose()),
                max_age: s.max_age,
                claims: s.claims.as_deref(),
                scopes: &s.scopes,
                anchor,
                ssh_certificate: s.ssh_certificate.as_ref(),
            },
        )
        .await;
        match redeemed {
            Ok(result) => Ok(AuthCodeFlow {
                state: FlowOutcome { result },
            }),
            Err(e) if e.is_transient() => Err(FlowError::retryable(e, self)),
            Err(e) => Err(FlowError::fatal(e)),
        }
    }
}

impl AuthCodeFlow<Completed> {
    /// The tokens the flow obtained.
    pub fn result(&self) -> &AuthenticationResult {
        &self.state.result
    }

    /// The signed-in account.
    pub fn account(&self) -> Option<&Account> {
        self.state.result.account()
    }

    /// The result, by value.
    pub fn into_result(self) -> AuthenticationResult {
        self.state.result
    }
}

/// One code redemption.
pub(crate) struct RedeemCode<'a> {
    pub(crate) authority: &'a Authority,
    pub(crate) code: &'a str,
    pub(crate) redirect_uri: Option<&'a str>,
    pub(crate) verifier: Option<&'a str>,
    pub(crate) nonce: Option<&'a str>,
    pub(crate) max_age: Option<u64>,
    pub(crate) claims: Option<&'a str>,
    pub(crate) scopes: &'a [String],
    pub(crate) anchor: Option<String>,
    pub(crate) ssh_certificate: Option<&'a SshCertificateRequest>,
}

/// Redeems a code; checks nonce and `max_age` before anything is cached.
pub(crate) async fn redeem_code(
    app: AppRef<'_>,
    r: RedeemCode<'_>,
) -> Result<AuthenticationResult> {
    let core = app.core;
    let meta = core.metadata(r.authority).await?;
    let scopes = ScopeSet::new(r.scopes.to_vec())?;
    let options = RequestOptions {
        claims: r.claims.map(str::to_owned),
        ssh_certificate: r.ssh_certificate.cloned(),
        ..RequestOptions::default()
    };
    let mut fields = Vec::new();
    if let Some(v) = r.verifier {
        fields.push(("code_verifier", v.to_owned()));
    }
    fields.push(("code", r.code.to_owned()));
    if let Some(u) = r.redirect_uri {
        fields.push(("redirect_uri", u.to_owned()));
    }
    let grant = Grant {
        app,
        meta: &meta,
        grant_type: GRANT_TYPE,
        api: ApiId::AcquireTokenByAuthorizationCode,
        reason: RefreshReason::NotApplicable,
        scopes: &scopes,
        options: &options,
        leading: Vec::new(),
        fields,
        send_scope: true,
        anchor: r.anchor,
        refreshed: None,
        username: None,
        correlation_id: None,
    };
    let (resp, req) = send(&grant).await?;
    let claims = resp.id_token.as_deref().and_then(decode_jwt_claims);
    if let Some(nonce) = r.nonce {
        let expected = nonce_hash(nonce);
        let got = claims
            .as_ref()
            .and_then(|c| c.get("nonce"))
            .and_then(|v| v.as_str());
        if got != Some(expected.as_str()) {
            return Err(Error::new(
                ErrorKind::Validation,
                "the ID token's nonce does not match the flow's: the response was not issued for this sign-in",
            ));
        }
    }
    if let Some(max_age) = r.max_age {
        let auth_time = claims
            .as_ref()
            .and_then(|c| c.get("auth_time"))
            .and_then(|v| v.as_u64().or_else(|| v.as_f64().map(|f| f as u64)));
        let Some(auth_time) = auth_time else {
            return Err(Error::new(
                ErrorKind::Validation,
                "max_age was requested but the ID token has no auth_time",
            ));
        };
        let now = unix_seconds(core.now());
        if now.saturating_sub(MAX_AGE_SKEW_SECS) > auth_time.saturating_add(max_age) {
            return Err(Error::new(
                ErrorKind::Validation,
                "the sign-in is older than max_age allows: the user must sign in again",
            ));
        }
    }
    record(&grant, &resp, &req).await
}

/// The request builder of `acquire_token_by_authorization_code`, for apps that build their
/// own authorization URL. Set options, then `.await` it.
#[must_use = "a request does nothing until awaited"]
pub struct AcquireTokenByAuthorizationCode<'a> {
    app: AppRef<'a>,
    code: String,
    scopes: Result<ScopeSet>,
    redirect_uri: Option<String>,
    verifier: Option<String>,
    nonce: Option<String>,
    claims: Option<String>,
    authority: Option<Authority>,
    ssh_certificate: Option<SshCertificateRequest>,
}

impl fmt::Debug for AcquireTokenByAuthorizationCode<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireTokenByAuthorizationCode")
            .field("scopes", &self.scopes)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

impl<'a> AcquireTokenByAuthorizationCode<'a> {
    pub(crate) fn new(app: AppRef<'a>, code: String, scopes: Result<ScopeSet>) -> Self {
        AcquireTokenByAuthorizationCode {
            app,
            code,
            scopes,
            redirect_uri: None,
            verifier: None,
            nonce: None,
            claims: None,
            authority: None,
            ssh_certificate: None,
        }
    }

    /// Asks for an SSH certificate for a public key instead of a Bearer token (see
    /// [`SshCertificateRequest`]).
    pub fn ssh_certificate(mut self, request: SshCertificateRequest) -> Self {
        self.ssh_certificate = Some(request);
        self
    }

    /// The redirect URI of the authorization request (must be the same).
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(uri.into());
        self
    }

    /// The PKCE verifier whose S256 challenge the authorization request carried.
    pub fn code_verifier(mut self, verifier: impl Into<String>) -> Self {
        self.verifier = Some(verifier.into());
        self
    }

    /// The nonce whose SHA-256 hex the authorization request carried; the ID token must echo it.
    pub fn nonce(mut self, nonce: impl Into<String>) -> Self {
        self.nonce = Some(nonce.into());
        self
    }

    /// A claims challenge, merged with the app's client capabilities.
    pub fn claims(mut self, claims: impl Into<String>) -> Self {
        self.claims = Some(claims.into());
        self
    }

    /// Another authority than the app's.
    pub fn authority(mut self, authority: Authority) -> Self {
        self.authority = Some(authority);
        self
    }
}

impl<'a> IntoFuture for AcquireTokenByAuthorizationCode<'a> {
    type Output = Result<AuthenticationResult>;
    type IntoFuture = AcquireFuture<'a, AuthenticationResult>;

    fn into_future(self) -> Self::IntoFuture {
        AcquireFuture::pending(async move {
            let scopes = user_scopes(self.scopes)?;
            if self.code.trim().is_empty() {
                return Err(Error::invalid_input("the authorization code is empty"));
            }
            let core = self.app.core;
            let options = RequestOptions {
                authority: self.authority,
                ..RequestOptions::default()
            };
            let authority = core.authority_for(&options)?.into_owned();
            let scopes: Vec<String> = scopes.iter().map(str::to_owned).collect();
            redeem_code(
                self.app,
                RedeemCode {
                    authority: &authority,
                    code: &self.code,
                    redirect_uri: self.redirect_uri.as_deref(),
                    verifier: self.verifier.as_deref(),
                    nonce: self.nonce.as_deref(),
                    max_age: None,
                    claims: self.claims.as_deref(),
                    scopes: &scopes,
                    anchor: None,
                    ssh_certificate: self.ssh_certificate.as_ref(),
                },
            )
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_state_and_nonce_shapes() {
        let v = pkce_verifier().expect("random");
        assert_eq!(v.len(), 43);
        assert!(
            v.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
        );
        assert_ne!(v, pkce_verifier().expect("random"));
        // RFC 7636 appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(random_token().expect("random").len(), 22);
        let h = nonce_hash("n");
        assert_eq!(h.len(), 64);
        assert!(
            h.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    #[test]
    fn auth_response_parsing() {
        let r = AuthResponse::from_query("?code=a%2Bb&state=s&empty=");
        assert_eq!(r.get("code"), Some("a+b"));
        assert_eq!(r.get("state"), Some("s"));
        assert_eq!(r.get("empty"), None);
        assert!(!format!("{r:?}").contains("a+b"));
    }

    #[test]
    fn initiated_flow_round_trips_and_hides_its_secrets() {
        let flow: AuthCodeFlow<Initiated> = AuthCodeFlow {
            state: AuthCodePending {
                client_id: "c".into(),
                authority: "https://login.microsoftonline.com/common".into(),
                auth_uri: "https://x".into(),
                state: "st".into(),
                redirect_uri: None,
                scopes: vec!["User.Read".into()],
                code_verifier: Hidden("verifier-secret".into()),
                nonce: Hidden("nonce-secret".into()),
                max_age: Some(5),
                claims: None,
                ssh_certificate: None,
            },
        };
        let json = serde_json::to_string(&flow).expect("serializes");
        let back: AuthCodeFlow<Initiated> = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back.state.code_verifier.expose(), "verifier-secret");
        let debug = format!("{back:?}");
        assert!(!debug.contains("verifier-secret") && !debug.contains("nonce-secret"));
    }
}
