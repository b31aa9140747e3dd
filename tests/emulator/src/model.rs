//! Wire types of the manifest and of the admin API (shared by the server and [`AdminClient`]).
//!
//! [`AdminClient`]: super::AdminClient

use serde::{Deserialize, Serialize};
use serde_json::Value;

mod managed_identity;

pub use managed_identity::{
    DEFAULT_MANAGED_IDENTITY_TOKEN_LIFETIME, ManagedIdentityEndpoints, ManagedIdentityFault,
    ManagedIdentityRegistration, ManagedIdentitySettings, ManagedIdentitySource,
    ManagedIdentityStats, seeded_managed_identities,
};

/// The [`Manifest::manifest_version`] this emulator writes.
///
/// It changes only when a field is removed or changes meaning; fields are added without a
/// change (readers ignore the fields they do not know).
pub const MANIFEST_VERSION: u32 = 1;

/// What a running emulator tells its callers: printed as one JSON line by the binary and served
/// at `GET /admin/manifest`.
///
/// To trust a running emulator from a program using msal-core, hand the whole JSON text to
/// `msal_core::http::ReqwestHttpClientBuilder::trust_emulator`: it reads `manifest_version`,
/// `https_addr`, `hosts` and `ca_pem`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The version of this format, [`MANIFEST_VERSION`] (`1`).
    pub manifest_version: u32,
    /// `127.0.0.1:P`: the HTTPS port serving every host name.
    pub https_addr: String,
    /// `http://127.0.0.1:Q`: the admin API.
    pub admin_url: String,
    /// The test CA certificate (PEM) that clients must trust: the emulator's HTTPS certificate
    /// is issued by it for every name in `hosts`. A fresh CA each start.
    pub ca_pem: String,
    /// Path of the same CA certificate, written into the state directory.
    pub ca_pem_path: String,
    /// Every host name served (map each to `https_addr` in the client's resolver).
    pub hosts: Vec<String>,
    /// `http://127.0.0.1:R`: the emulated Azure Instance Metadata Service (plain HTTP, as IMDS
    /// at `169.254.169.254`), for region auto-detection.
    #[serde(default)]
    pub imds_url: String,
    /// The emulated managed-identity sources: their endpoints and secrets.
    #[serde(default)]
    pub managed_identity: ManagedIdentityEndpoints,
    /// The seeded tenants, apps, users, resources, authorities and key files.
    pub seeds: Seeds,
}

/// The seeded data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seeds {
    /// Tenants.
    pub tenants: Vec<SeedTenant>,
    /// Apps.
    pub apps: Vec<SeedApp>,
    /// Users.
    pub users: Vec<SeedUser>,
    /// Resources that client credentials / OBO may target.
    pub resources: Vec<SeedResource>,
    /// Ready-made authority URLs.
    pub authorities: SeedAuthorities,
    /// Paths of the fixed key and certificate files (written into the state directory).
    pub certificates: SeedCertificates,
    /// The `kid` of the key signing access and ID tokens.
    pub signing_kid: String,
    /// The managed identities behind every managed-identity source (the defaults of
    /// `/admin/managed-identity`).
    #[serde(default)]
    pub managed_identities: Vec<ManagedIdentityRegistration>,
}

/// A seeded tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedTenant {
    /// Short name (`contoso`).
    pub name: String,
    /// Tenant id (GUID).
    pub id: String,
    /// Domain names.
    pub domains: Vec<String>,
    /// The central host serving it.
    pub host: String,
    /// `aad`, `b2c`, `ciam` or `adfs`.
    pub kind: String,
    /// The user signed in when an authorization request names no user (no `login_hint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_user: Option<String>,
}

/// A seeded app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedApp {
    /// Short name (`secret app`).
    pub name: String,
    /// Client id.
    pub client_id: String,
    /// Client secret, if it has one.
    pub secret: Option<String>,
    /// Path of its registered certificate (PEM), if any.
    pub certificate_path: Option<String>,
    /// Path of that certificate's private key (PKCS#8 PEM), if any.
    pub private_key_path: Option<String>,
    /// Application id URI, if it exposes an API.
    pub app_id_uri: Option<String>,
    /// Scopes it exposes.
    pub scopes: Vec<String>,
    /// Whether it is a public client.
    pub public_client: bool,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// FOCI family id (`"1"`), if the app is a family member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_id: Option<String>,
    /// Its federated identity credentials (workload identity).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub federated_credentials: Vec<FederatedCredential>,
}

/// A seeded user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedUser {
    /// User principal name.
    pub username: String,
    /// Home tenant id.
    pub tenant_id: String,
    /// Object id.
    pub oid: String,
    /// Display name.
    pub name: String,
    /// Password (ROPC).
    #[serde(default)]
    pub password: String,
    /// Whether the user's domain is federated (ROPC refused, user realm `Federated`).
    #[serde(default)]
    pub federated: bool,
}

/// A resource (API) tokens may be requested for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedResource {
    /// Resource URI (`https://graph.microsoft.com`, `api://…`).
    pub uri: String,
    /// Delegated scopes it exposes.
    pub scopes: Vec<String>,
}

/// Authority URLs for each kind the emulator serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedAuthorities {
    /// `https://login.microsoftonline.com/contoso.onmicrosoft.com`.
    pub contoso: String,
    /// `https://login.microsoftonline.com/{contoso tenant id}`.
    pub contoso_by_id: String,
    /// `https://login.microsoftonline.com/fabrikam.onmicrosoft.com`.
    pub fabrikam: String,
    /// `https://login.microsoftonline.com/common`.
    pub common: String,
    /// `https://login.microsoftonline.com/organizations`.
    pub organizations: String,
    /// `https://login.microsoftonline.com/consumers`.
    pub consumers: String,
    /// `https://login.microsoftonline.us/usgov.onmicrosoft.us`.
    pub usgov: String,
    /// `https://login.contoso.com/contoso.onmicrosoft.com` (trusted custom host).
    pub custom_trusted: String,
    /// `https://contosob2c.b2clogin.com/contosob2c.onmicrosoft.com/B2C_1_signupsignin`.
    pub b2c_signupsignin: String,
    /// `https://contosob2c.b2clogin.com/contosob2c.onmicrosoft.com/B2C_1_profileedit`.
    pub b2c_profileedit: String,
    /// `https://contosociam.ciamlogin.com/contosociam.onmicrosoft.com`.
    pub ciam: String,
    /// `https://fs.contoso.com/adfs`.
    pub adfs: String,
    /// `https://idp.fabrikam.example/tenant1` (an `oidc_authority`).
    pub oidc: String,
}

/// Paths of the fixed test keys, written into the state directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedCertificates {
    /// The app certificate (PEM).
    pub app_cert_pem: String,
    /// Its key as PKCS#8 PEM.
    pub app_key_pkcs8_pem: String,
    /// Its key as PKCS#1 PEM.
    pub app_key_pkcs1_pem: String,
    /// Its key as encrypted PKCS#8 PEM.
    pub app_key_encrypted_pem: String,
    /// The passphrase of the encrypted key.
    pub app_key_passphrase: String,
    /// An unrelated certificate.
    pub other_cert_pem: String,
    /// The unrelated certificate's key (PKCS#8).
    pub other_key_pem: String,
    /// The certificate of the emulator's token-signing key.
    pub emulator_signing_cert_pem: String,
}

// ---------------------------------------------------------------- admin API bodies

/// `POST /admin/apps`: register or replace an app.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AppRegistration {
    /// Client id.
    pub client_id: String,
    /// Client secrets.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Certificates (PEM; each string may hold several blocks).
    #[serde(default)]
    pub certificates: Vec<String>,
    /// Application id URI (makes the app a resource).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id_uri: Option<String>,
    /// Delegated scopes the app exposes as a resource (default `["access_as_user"]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Access token lifetime (default 3599 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_lifetime_secs: Option<u64>,
    /// Public client (no credentials).
    #[serde(default)]
    pub public_client: bool,
    /// Redirect URIs.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Restrict the app to these tenants (ids or domains); all tenants when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenants: Option<Vec<String>>,
    /// FOCI family id (e.g. `"1"`): token responses carry `"foci"` and any member may redeem
    /// the family's refresh tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_id: Option<String>,
    /// Federated identity credentials: tokens of other issuers (a Kubernetes service account,
    /// a CI system) the app accepts as its client assertion.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub federated_credentials: Vec<FederatedCredential>,
}

/// A federated identity credential of an app (Microsoft Graph's `federatedIdentityCredential`):
/// an assertion is accepted when its `iss` and `sub` equal these and its `aud` is one of
/// `audiences`. The emulator is every issuer's signer: assertions are verified with its own
/// signing key (mint them with `POST /admin/tokens/federated`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FederatedCredential {
    /// The external issuer (`iss`).
    pub issuer: String,
    /// The subject (`sub`), e.g. `system:serviceaccount:default:workload`.
    pub subject: String,
    /// Accepted audiences (default `["api://AzureADTokenExchange"]`).
    #[serde(default = "default_fic_audiences")]
    pub audiences: Vec<String>,
}

fn default_fic_audiences() -> Vec<String> {
    vec![crate::seeds::FEDERATED_AUDIENCE.to_string()]
}

/// `POST /admin/tokens/federated`: a token of an external issuer, signed by the emulator, as a
/// workload's identity provider (the kubelet's projected service account token) would issue it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FederatedTokenRequest {
    /// `iss` (default [`seeds::WORKLOAD_ISSUER`](crate::seeds::WORKLOAD_ISSUER)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// `sub`.
    pub subject: String,
    /// `aud` (default `api://AzureADTokenExchange`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// Lifetime (default 3600 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime_secs: Option<u64>,
}

/// `POST /admin/users`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserRegistration {
    /// Tenant id, domain or short name.
    pub tenant: String,
    /// User principal name.
    pub username: String,
    /// Object id (derived from the username when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oid: Option<String>,
    /// Display name (the username's local part when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Password (default [`DEFAULT_USER_PASSWORD`](super::seeds::DEFAULT_USER_PASSWORD), or
    /// for a guest the home user's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Makes the user a guest (B2B) of `tenant`: the same person as the user with this
    /// username in this home tenant (id, domain or short name), who must exist. In `tenant`
    /// the guest's tokens carry its own `oid` and `tenant`'s `tid`, and `client_info` the home
    /// `uid`/`utid` (one home account id across tenants, as Entra ID answers); a refresh token
    /// of either tenant is redeemed at the other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_tenant: Option<String>,
}

/// `POST /admin/tokens/user`: mint an access token as if the user had signed in to a client.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserTokenRequest {
    /// Tenant id, domain or short name.
    pub tenant: String,
    /// The user's principal name.
    pub username: String,
    /// `aud`: the client id (or app id URI) of the API the token is for.
    pub audience: String,
    /// Scopes (`scp`), e.g. `["access_as_user"]`.
    pub scopes: Vec<String>,
    /// Lifetime (default 3599 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime_secs: Option<u64>,
    /// `azp`/`appid` (default: the seeded public client).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// Answer of `POST /admin/tokens/user` and `POST /admin/tokens/federated`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MintedToken {
    /// The JWT.
    pub access_token: String,
    /// Its `exp` (epoch seconds).
    pub expires_on: u64,
}

/// A registered user, as answered by `POST /admin/users`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserInfo {
    /// User principal name.
    pub username: String,
    /// Home tenant id.
    pub tenant_id: String,
    /// Object id.
    pub oid: String,
    /// Display name.
    pub name: String,
}

/// One request received on the HTTPS side (`GET /admin/requests`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// Arrival sequence number (from 1).
    pub seq: u64,
    /// HTTP method.
    pub method: String,
    /// Host (from the `Host` header or `:authority`, port stripped, lowercase).
    pub host: String,
    /// Path, as received (not decoded).
    pub path: String,
    /// Decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    /// Headers in arrival order (names lowercase).
    pub headers: Vec<(String, String)>,
    /// Decoded form pairs in order (when the body is form-encoded).
    pub form: Vec<(String, String)>,
    /// The raw body (lossy UTF-8).
    pub body: String,
    /// The response status (0 while unanswered).
    pub status: u16,
    /// The managed-identity source it reached, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ManagedIdentitySource>,
}

impl RecordedRequest {
    /// The first form value named `name`.
    pub fn form_value(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first header value named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first query value named `name`.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Filters of `GET /admin/requests`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestFilter {
    /// Only this host (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Only paths containing this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_contains: Option<String>,
    /// Only requests whose form `grant_type` equals this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_type: Option<String>,
    /// Only requests to this managed-identity source ([`ManagedIdentitySource::Any`]: to any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ManagedIdentitySource>,
}

/// `POST /admin/faults`: a fault rule applied before normal processing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    /// Which requests it applies to (all criteria must hold).
    #[serde(rename = "match", default)]
    pub matches: FaultMatch,
    /// How many requests it applies to (default 1; 0 = forever).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// Response status (default 200 when a body is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// A `Retry-After` header value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<String>,
    /// Delay before answering (alone: delay, then process normally).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// A raw response body (e.g. truncated or non-JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The response content type (default `application/json; charset=utf-8` for `json`,
    /// `text/plain; charset=utf-8` for `body`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// A JSON response body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
}

/// Matching criteria of a [`FaultRule`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultMatch {
    /// Host equals (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Path contains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_contains: Option<String>,
    /// Form `grant_type` equals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_type: Option<String>,
    /// Method equals (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

/// `GET /admin/clock`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClockState {
    /// The emulator's current time, epoch seconds.
    pub now: f64,
}

/// `POST /admin/clock`: exactly one of `set` or `advance`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ClockChange {
    /// Set the clock to this epoch time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<f64>,
    /// Move the clock by this many seconds (may be negative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advance: Option<f64>,
}

/// `GET /admin/stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// How many times each client assertion `jti` was presented (more than 1 = reused).
    pub assertion_reuse: std::collections::BTreeMap<String, u64>,
    /// Token endpoint requests received (including faulted ones).
    pub token_requests: u64,
    /// OIDC and instance discovery requests received (including faulted ones).
    pub discovery_requests: u64,
    /// IMDS requests received (any path, answered or not).
    #[serde(default)]
    pub imds_requests: u64,
    /// Managed-identity requests received, per source.
    #[serde(default)]
    pub managed_identity: ManagedIdentityStats,
}

/// `GET`/`POST /admin/imds`: what the emulated Azure Instance Metadata Service says.
///
/// It serves `GET /metadata/instance/compute?api-version=…` (JSON with `location`, what MSAL
/// Python 1.39 reads) and `GET /metadata/instance/compute/location?format=text&api-version=…`
/// (the bare region, what MSAL.NET reads), each requiring the `Metadata: true` header (400
/// otherwise) and an `api-version` (400 otherwise).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImdsSettings {
    /// The VM's region (`compute.location`), default `westus2`; `None`: no location (the JSON
    /// has none, the text route answers 404).
    #[serde(default)]
    pub region: Option<String>,
    /// How IMDS behaves.
    #[serde(default)]
    pub mode: ImdsMode,
}

impl Default for ImdsSettings {
    fn default() -> Self {
        Self {
            region: Some("westus2".into()),
            mode: ImdsMode::Answer,
        }
    }
}

/// How the emulated IMDS behaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImdsMode {
    /// Answers normally.
    #[default]
    Answer,
    /// Reads the request and never answers (as a black-holed address outside Azure).
    Hang,
    /// Answers 500.
    Fail,
}

/// `POST /admin/discovery`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DiscoverySettings {
    /// Make instance discovery answer `400 invalid_instance` for every authority.
    pub fail_instance_discovery: bool,
}

// ---------------------------------------------------------------- user sign-in switches

/// `POST /admin/users/{username}/consent`: whether the user must (still) consent to an app.
/// While required, authorize answers `consent_required` (unless `prompt=consent`, which grants
/// it) and the token endpoint answers `invalid_grant` AADSTS65001 (`suberror`
/// `consent_required`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConsentSetting {
    /// The app.
    pub client_id: String,
    /// `true`: consent needed; `false`: consented.
    pub required: bool,
}

/// `POST /admin/users/{username}/interaction`: require interaction (MFA, Conditional Access).
/// While required, `prompt=none` answers `interaction_required`, and refresh / ROPC answer
/// `invalid_grant` with `suberror` and a `claims` challenge. An interactive sign-in (authorize
/// without `prompt=none`, or a device code approval) satisfies it and clears it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InteractionSetting {
    /// `false` clears the requirement.
    pub required: bool,
    /// AADSTS code (default 50076).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u32>,
    /// `suberror` (default `basic_action`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suberror: Option<String>,
    /// `claims` challenge, a JSON string (default an `access_token.capolids` challenge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<String>,
}

/// `POST /admin/users/{username}/auth_time`: pin the `auth_time` of the user's sign-ins
/// (`null`: the sign-in time by the emulator clock, the default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct AuthTimeSetting {
    /// Epoch seconds, or `None` to unpin.
    pub auth_time: Option<u64>,
}

/// `POST /admin/tenants/{tenant}/default_user`: who signs in when a request names no user.
/// `{tenant}` may also be `common`, `organizations` or `consumers`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DefaultUserSetting {
    /// The user's principal name.
    pub username: String,
}

/// Answer of `POST /admin/users/{username}/revoke`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RevokeResult {
    /// How many refresh tokens were revoked.
    pub revoked: u64,
}

/// `GET|POST /admin/refresh_tokens`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RefreshTokenSettings {
    /// Strict rotation: a refresh token is rejected once it has been redeemed (default: lenient,
    /// like Entra, where redeemed refresh tokens stay valid).
    pub strict_rotation: bool,
}

/// `GET|POST /admin/device/settings`. Fields left out keep their value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceSettings {
    /// `expires_in` of new device codes (default 900).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    /// `interval` of new device codes (default 5); polling faster earns `slow_down`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<u64>,
    /// Answer `slow_down` to the next N polls of pending device codes, whatever their pace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_slow_down: Option<u32>,
}

/// One device code (`GET /admin/device`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceCodeInfo {
    /// The code the user enters (`ABCDEFGHJ`).
    pub user_code: String,
    /// The code the client polls with.
    pub device_code: String,
    /// The client.
    pub client_id: String,
    /// The requested scope.
    pub scope: String,
    /// The authority host.
    pub host: String,
    /// The tenant path segment, as requested.
    pub tenant: String,
    /// `pending`, `approved`, `declined`, `redeemed` or `expired` (by the emulator clock).
    pub status: String,
    /// Who approved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Expiry, epoch seconds.
    pub expires_at: u64,
}

/// `POST /admin/device/{user_code}/approve`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceApproval {
    /// Who signs in (default: the tenant's default user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}
