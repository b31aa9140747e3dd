//! Registrations (tenants, apps, users, resources) and the shared runtime state.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::clock::Clock;
use super::der::CertInfo;
use super::faults::ActiveFault;
use super::hosts::{Cloud, HostKind};
use super::ids;
use super::jwt::Signer;
use super::mi::settings::MiState;
use super::model::{
    AppRegistration, FederatedCredential, ImdsSettings, InteractionSetting, Manifest,
    RecordedRequest, Stats, UserInfo,
};
use super::seeds;
use super::vault::Vault;

/// What kind of directory a tenant is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TenantKind {
    Aad(Cloud),
    B2c,
    Ciam,
    /// The ADFS server's directory (authority `https://fs.contoso.com/adfs`).
    Adfs,
}

#[derive(Debug, Clone)]
pub(crate) struct Tenant {
    pub(crate) name: String,
    pub(crate) id: String,
    pub(crate) domains: Vec<String>,
    pub(crate) kind: TenantKind,
}

impl Tenant {
    fn matches(&self, r: &str) -> bool {
        self.id.eq_ignore_ascii_case(r)
            || self.name.eq_ignore_ascii_case(r)
            || self.domains.iter().any(|d| d.eq_ignore_ascii_case(r))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct App {
    pub(crate) client_id: String,
    pub(crate) secrets: Vec<String>,
    pub(crate) certs: Vec<CertInfo>,
    pub(crate) app_id_uri: Option<String>,
    pub(crate) scopes: Vec<String>,
    pub(crate) lifetime_secs: Option<u64>,
    pub(crate) public_client: bool,
    pub(crate) redirect_uris: Vec<String>,
    pub(crate) tenants: Option<Vec<String>>,
    pub(crate) family_id: Option<String>,
    pub(crate) federated_credentials: Vec<FederatedCredential>,
}

/// Default access token lifetime, like Entra's `expires_in`.
pub(crate) const DEFAULT_LIFETIME: u64 = 3599;

impl App {
    pub(crate) fn from_registration(reg: &AppRegistration) -> Result<Self, String> {
        if reg.client_id.trim().is_empty() {
            return Err("client_id is required".into());
        }
        let mut certs = Vec::new();
        for pem in &reg.certificates {
            certs.extend(CertInfo::from_pem(pem).ok_or("a certificate is not a valid PEM X.509")?);
        }
        Ok(Self {
            client_id: reg.client_id.trim().to_string(),
            secrets: reg.secrets.clone(),
            certs,
            app_id_uri: reg.app_id_uri.clone().filter(|u| !u.is_empty()),
            scopes: reg
                .scopes
                .clone()
                .unwrap_or_else(|| vec![seeds::MIDDLE_TIER_SCOPE.to_string()]),
            lifetime_secs: reg.access_token_lifetime_secs.filter(|&l| l > 0),
            public_client: reg.public_client,
            redirect_uris: reg.redirect_uris.clone(),
            tenants: reg.tenants.clone(),
            family_id: reg.family_id.clone().filter(|f| !f.is_empty()),
            federated_credentials: reg.federated_credentials.clone(),
        })
    }

    pub(crate) fn lifetime(&self) -> u64 {
        self.lifetime_secs.unwrap_or(DEFAULT_LIFETIME)
    }

    /// Whether the app exists in the tenant (apps are multi-tenant unless restricted).
    pub(crate) fn allowed_in(&self, tenant: Option<&Tenant>) -> bool {
        match (&self.tenants, tenant) {
            (None, _) | (Some(_), None) => true,
            (Some(list), Some(t)) => list.iter().any(|r| t.matches(r)),
        }
    }

    /// Whether `aud` names this app (client id or app id URI).
    pub(crate) fn is_audience(&self, aud: &str) -> bool {
        let aud = aud.trim_end_matches('/');
        aud.eq_ignore_ascii_case(&self.client_id)
            || self
                .app_id_uri
                .as_deref()
                .is_some_and(|u| u.trim_end_matches('/').eq_ignore_ascii_case(aud))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) username: String,
    pub(crate) tenant_id: String,
    pub(crate) oid: String,
    pub(crate) name: String,
    pub(crate) password: String,
    /// A pinned `auth_time` (admin); the sign-in time when `None`.
    pub(crate) auth_time: Option<u64>,
    /// Interaction (MFA) required until an interactive sign-in.
    pub(crate) interaction: Option<InteractionSetting>,
    /// Client ids (lowercase) the user has not consented to.
    pub(crate) needs_consent: Vec<String>,
    /// A guest (B2B) record's home identity: the home user's `(oid, tenant id)`.
    pub(crate) home: Option<(String, String)>,
}

impl User {
    pub(crate) fn info(&self) -> UserInfo {
        UserInfo {
            username: self.username.clone(),
            tenant_id: self.tenant_id.clone(),
            oid: self.oid.clone(),
            name: self.name.clone(),
        }
    }
}

/// A resource tokens can be issued for.
#[derive(Debug, Clone)]
pub(crate) struct Resource {
    /// The `aud` of its tokens.
    pub(crate) aud: String,
    /// Its delegated scopes (canonical case).
    pub(crate) scopes: Vec<String>,
}

impl Resource {
    /// The canonical spelling of `scope` if the resource exposes it.
    pub(crate) fn scope(&self, scope: &str) -> Option<&str> {
        self.scopes
            .iter()
            .find(|s| s.eq_ignore_ascii_case(scope))
            .map(String::as_str)
    }
}

/// What became of a refresh token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum RtStatus {
    Active,
    /// Redeemed once (still valid unless rotation is strict).
    Redeemed,
    /// Revoked by the admin at this time (epoch seconds).
    Revoked(u64),
}

/// An issued refresh token (kept for the refresh grant).
#[derive(Debug, Clone)]
pub(crate) struct RefreshTokenRecord {
    pub(crate) client_id: String,
    /// The FOCI family of the client it was issued to.
    pub(crate) family_id: Option<String>,
    pub(crate) oid: String,
    pub(crate) tid: String,
    pub(crate) username: String,
    pub(crate) name: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) issued_at: u64,
    /// The kind of authority that issued it (redeemable only there).
    pub(crate) kind: HostKind,
    /// `auth_time` of the sign-in it descends from.
    pub(crate) auth_time: Option<u64>,
    pub(crate) status: RtStatus,
}

/// A signed-in browser session (the emulator models one browser).
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) tenant_id: String,
    pub(crate) username: String,
    pub(crate) auth_time: u64,
    /// `session_state` of authorization responses.
    pub(crate) sid: String,
}

/// An issued authorization code.
#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    /// `(code_challenge, code_challenge_method)`.
    pub(crate) challenge: Option<(String, String)>,
    pub(crate) nonce: Option<String>,
    pub(crate) scope: String,
    pub(crate) user: User,
    pub(crate) kind: HostKind,
    pub(crate) policy: Option<String>,
    pub(crate) auth_time: u64,
    pub(crate) issued_at: f64,
    pub(crate) redeemed: bool,
}

/// Where a device code stands.
#[derive(Debug, Clone)]
pub(crate) enum DeviceStatus {
    Pending,
    Approved { user: Box<User>, auth_time: u64 },
    Declined,
    Redeemed { username: String },
}

/// An issued device code.
#[derive(Debug, Clone)]
pub(crate) struct DeviceCode {
    pub(crate) device_code: String,
    pub(crate) user_code: String,
    pub(crate) client_id: String,
    pub(crate) scope: String,
    pub(crate) host: String,
    pub(crate) segment: String,
    pub(crate) realm: Realm,
    pub(crate) kind: HostKind,
    pub(crate) issued_at: f64,
    pub(crate) expires_in: u64,
    pub(crate) interval: u64,
    pub(crate) last_poll: Option<f64>,
    pub(crate) status: DeviceStatus,
}

impl DeviceCode {
    pub(crate) fn expired(&self, now: f64) -> bool {
        now >= self.issued_at + self.expires_in as f64
    }
}

/// The users an authority signs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Realm {
    /// One directory (Entra, B2C or CIAM tenant), by id.
    Tenant(String),
    /// `common` / `organizations`: every Entra tenant of the cloud.
    AnyOf(Cloud),
    /// `consumers`: Microsoft accounts (none are seeded).
    Consumers,
    /// The ADFS server's directory.
    Adfs,
}

impl Realm {
    /// Whether `user` belongs here.
    pub(crate) fn admits(&self, reg: &Registry, user: &User) -> bool {
        match self {
            Self::Tenant(id) => user.tenant_id.eq_ignore_ascii_case(id),
            Self::AnyOf(cloud) => reg
                .tenant(&user.tenant_id)
                .is_some_and(|t| t.kind == TenantKind::Aad(*cloud)),
            Self::Consumers => user
                .tenant_id
                .eq_ignore_ascii_case(seeds::CONSUMERS_TENANT_ID),
            Self::Adfs => user.tenant_id.eq_ignore_ascii_case(seeds::ADFS_TENANT_ID),
        }
    }

    /// The key of its default user.
    pub(crate) fn default_key(&self) -> String {
        match self {
            Self::Tenant(id) => id.to_ascii_lowercase(),
            Self::AnyOf(_) => "common".into(),
            Self::Consumers => "consumers".into(),
            Self::Adfs => seeds::ADFS_TENANT_ID.into(),
        }
    }
}

/// Device authorization settings (admin).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeviceConfig {
    pub(crate) expires_in: u64,
    pub(crate) interval: u64,
    pub(crate) force_slow_down: u32,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        Self {
            expires_in: seeds::DEVICE_CODE_EXPIRES_IN,
            interval: seeds::DEVICE_CODE_INTERVAL,
            force_slow_down: 0,
        }
    }
}

/// Everything mutable, behind one mutex (never held across an await).
#[derive(Debug)]
pub(crate) struct Registry {
    pub(crate) tenants: Vec<Tenant>,
    pub(crate) apps: BTreeMap<String, App>,
    pub(crate) users: Vec<User>,
    pub(crate) refresh_tokens: HashMap<String, RefreshTokenRecord>,
    pub(crate) requests: Vec<RecordedRequest>,
    pub(crate) faults: Vec<ActiveFault>,
    pub(crate) stats: Stats,
    pub(crate) fail_instance_discovery: bool,
    /// What the emulated IMDS says.
    pub(crate) imds: ImdsSettings,
    /// Federated domains (lowercase).
    pub(crate) federated_domains: Vec<String>,
    /// Default user per realm key (tenant id lowercase, `common`, `consumers`, `adfs`).
    pub(crate) default_users: HashMap<String, String>,
    pub(crate) sessions: Vec<Session>,
    pub(crate) auth_codes: HashMap<String, AuthCode>,
    pub(crate) device_codes: Vec<DeviceCode>,
    pub(crate) device_config: DeviceConfig,
    pub(crate) strict_rotation: bool,
    /// The managed-identity sources' identities, settings, faults and Azure Arc challenges.
    pub(crate) managed_identity: MiState,
    /// SAML assertions the federation server issued, by assertion id.
    pub(crate) saml_assertions: HashMap<String, crate::wstrust::Issued>,
}

fn tenant(name: &str, id: &str, domains: &[&str], kind: TenantKind) -> Tenant {
    Tenant {
        name: name.into(),
        id: id.into(),
        domains: domains.iter().map(|d| d.to_string()).collect(),
        kind,
    }
}

fn user(username: &str, tenant_id: &str, oid: &str, name: &str, password: &str) -> User {
    User::new(username, tenant_id, oid, name, password)
}

impl User {
    pub(crate) fn new(
        username: &str,
        tenant_id: &str,
        oid: &str,
        name: &str,
        password: &str,
    ) -> Self {
        Self {
            username: username.into(),
            tenant_id: tenant_id.into(),
            oid: oid.into(),
            name: name.into(),
            password: password.into(),
            auth_time: None,
            interaction: None,
            needs_consent: Vec::new(),
            home: None,
        }
    }

    /// The person's home identity `(oid, tenant id)`: its own, or a guest's home user's.
    pub(crate) fn home_ids(&self) -> (&str, &str) {
        self.home
            .as_ref()
            .map_or((self.oid.as_str(), self.tenant_id.as_str()), |(o, t)| {
                (o.as_str(), t.as_str())
            })
    }

    /// The domain part of the username (lowercase).
    pub(crate) fn domain(&self) -> String {
        self.username
            .rsplit_once('@')
            .map_or_else(String::new, |(_, d)| d.to_ascii_lowercase())
    }

    pub(crate) fn needs_consent_for(&self, client_id: &str) -> bool {
        self.needs_consent
            .iter()
            .any(|c| c.eq_ignore_ascii_case(client_id))
    }
}

/// The seeded default users: (realm key, username).
pub(crate) const SEEDED_DEFAULT_USERS: &[(&str, &str)] = &[
    (seeds::CONTOSO_TENANT_ID, seeds::ALICE_USERNAME),
    (seeds::FABRIKAM_TENANT_ID, seeds::BOB_USERNAME),
    (seeds::B2C_TENANT_ID, seeds::CAROL_USERNAME),
    (seeds::CIAM_TENANT_ID, seeds::ERIN_USERNAME),
    (seeds::ADFS_TENANT_ID, seeds::DAVE_USERNAME),
    ("common", seeds::ALICE_USERNAME),
];

fn seeded_default_users() -> HashMap<String, String> {
    SEEDED_DEFAULT_USERS
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect()
}

/// The seeded apps as registrations.
pub(crate) fn seeded_apps() -> Vec<AppRegistration> {
    vec![
        AppRegistration {
            client_id: seeds::SECRET_APP_CLIENT_ID.into(),
            secrets: vec![seeds::SECRET_APP_SECRET.into()],
            ..Default::default()
        },
        AppRegistration {
            client_id: seeds::WORKLOAD_APP_CLIENT_ID.into(),
            federated_credentials: vec![FederatedCredential {
                issuer: seeds::WORKLOAD_ISSUER.into(),
                subject: seeds::WORKLOAD_SUBJECT.into(),
                audiences: vec![seeds::FEDERATED_AUDIENCE.into()],
            }],
            ..Default::default()
        },
        AppRegistration {
            client_id: seeds::AGENT_APP_CLIENT_ID.into(),
            secrets: vec![seeds::AGENT_APP_SECRET.into()],
            federated_credentials: vec![FederatedCredential {
                issuer: seeds::WORKLOAD_ISSUER.into(),
                subject: seeds::AGENT_INSTANCE_SUBJECT.into(),
                audiences: vec![seeds::FEDERATED_AUDIENCE.into()],
            }],
            ..Default::default()
        },
        AppRegistration {
            client_id: seeds::CERT_APP_CLIENT_ID.into(),
            certificates: vec![seeds::APP_CERT_PEM.into()],
            ..Default::default()
        },
        AppRegistration {
            client_id: seeds::MIDDLE_TIER_CLIENT_ID.into(),
            secrets: vec![seeds::MIDDLE_TIER_SECRET.into()],
            certificates: vec![seeds::APP_CERT_PEM.into()],
            app_id_uri: Some(seeds::MIDDLE_TIER_APP_ID_URI.into()),
            scopes: Some(vec![seeds::MIDDLE_TIER_SCOPE.into()]),
            ..Default::default()
        },
        AppRegistration {
            client_id: seeds::PUBLIC_CLIENT_ID.into(),
            public_client: true,
            redirect_uris: loopback(),
            scopes: Some(Vec::new()),
            ..Default::default()
        },
        AppRegistration {
            client_id: seeds::WEB_APP_CLIENT_ID.into(),
            secrets: vec![seeds::WEB_APP_SECRET.into()],
            redirect_uris: vec![seeds::WEB_APP_REDIRECT_URI.into()],
            scopes: Some(Vec::new()),
            ..Default::default()
        },
        AppRegistration {
            client_id: seeds::FOCI_APP_A_CLIENT_ID.into(),
            public_client: true,
            redirect_uris: loopback(),
            scopes: Some(Vec::new()),
            family_id: Some(seeds::FOCI_FAMILY_ID.into()),
            ..Default::default()
        },
        AppRegistration {
            client_id: seeds::FOCI_APP_B_CLIENT_ID.into(),
            public_client: true,
            redirect_uris: loopback(),
            scopes: Some(Vec::new()),
            family_id: Some(seeds::FOCI_FAMILY_ID.into()),
            ..Default::default()
        },
    ]
}

fn loopback() -> Vec<String> {
    seeds::PUBLIC_CLIENT_REDIRECT_URIS
        .iter()
        .map(|s| s.to_string())
        .collect()
}

impl Registry {
    pub(crate) fn seeded() -> Self {
        let tenants = vec![
            tenant(
                "contoso",
                seeds::CONTOSO_TENANT_ID,
                &[
                    seeds::CONTOSO_DOMAIN,
                    seeds::CONTOSO_CUSTOM_DOMAIN,
                    seeds::FEDERATED_DOMAIN,
                ],
                TenantKind::Aad(Cloud::Public),
            ),
            tenant(
                "fabrikam",
                seeds::FABRIKAM_TENANT_ID,
                &[seeds::FABRIKAM_DOMAIN],
                TenantKind::Aad(Cloud::Public),
            ),
            tenant(
                "usgov",
                seeds::USGOV_TENANT_ID,
                &[seeds::USGOV_DOMAIN],
                TenantKind::Aad(Cloud::UsGov),
            ),
            tenant(
                "contosob2c",
                seeds::B2C_TENANT_ID,
                &[seeds::B2C_TENANT_DOMAIN],
                TenantKind::B2c,
            ),
            tenant(
                "contosociam",
                seeds::CIAM_TENANT_ID,
                &[seeds::CIAM_TENANT_DOMAIN],
                TenantKind::Ciam,
            ),
            tenant("adfs", seeds::ADFS_TENANT_ID, &[], TenantKind::Adfs),
        ];
        let mut apps = BTreeMap::new();
        for reg in seeded_apps() {
            // The seeded registrations are valid by construction.
            if let Ok(app) = App::from_registration(&reg) {
                apps.insert(app.client_id.to_ascii_lowercase(), app);
            }
        }
        Self {
            tenants,
            apps,
            users: vec![
                user(
                    seeds::ALICE_USERNAME,
                    seeds::CONTOSO_TENANT_ID,
                    seeds::ALICE_OID,
                    seeds::ALICE_NAME,
                    seeds::ALICE_PASSWORD,
                ),
                user(
                    seeds::BOB_USERNAME,
                    seeds::FABRIKAM_TENANT_ID,
                    seeds::BOB_OID,
                    seeds::BOB_NAME,
                    seeds::BOB_PASSWORD,
                ),
                user(
                    seeds::CAROL_USERNAME,
                    seeds::B2C_TENANT_ID,
                    seeds::CAROL_OID,
                    seeds::CAROL_NAME,
                    seeds::CAROL_PASSWORD,
                ),
                user(
                    seeds::ERIN_USERNAME,
                    seeds::CIAM_TENANT_ID,
                    seeds::ERIN_OID,
                    seeds::ERIN_NAME,
                    seeds::ERIN_PASSWORD,
                ),
                user(
                    seeds::DAVE_USERNAME,
                    seeds::ADFS_TENANT_ID,
                    seeds::DAVE_OID,
                    seeds::DAVE_NAME,
                    seeds::DAVE_PASSWORD,
                ),
                user(
                    seeds::FRANK_USERNAME,
                    seeds::CONTOSO_TENANT_ID,
                    seeds::FRANK_OID,
                    seeds::FRANK_NAME,
                    seeds::FRANK_PASSWORD,
                ),
            ],
            refresh_tokens: HashMap::new(),
            requests: Vec::new(),
            faults: Vec::new(),
            stats: Stats::default(),
            fail_instance_discovery: false,
            imds: ImdsSettings::default(),
            federated_domains: vec![seeds::FEDERATED_DOMAIN.to_string()],
            default_users: seeded_default_users(),
            sessions: Vec::new(),
            auth_codes: HashMap::new(),
            device_codes: Vec::new(),
            device_config: DeviceConfig::default(),
            strict_rotation: false,
            managed_identity: MiState::default(),
            saml_assertions: HashMap::new(),
        }
    }

    /// Whether `domain` is federated.
    pub(crate) fn is_federated(&self, domain: &str) -> bool {
        self.federated_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(domain))
    }

    /// Users by principal name (case-insensitive), in any directory.
    pub(crate) fn users_named<'a>(&'a self, username: &'a str) -> impl Iterator<Item = &'a User> {
        self.users
            .iter()
            .filter(move |u| u.username.eq_ignore_ascii_case(username.trim()))
    }

    pub(crate) fn user_mut(&mut self, tenant_id: &str, username: &str) -> Option<&mut User> {
        self.users.iter_mut().find(|u| {
            u.tenant_id.eq_ignore_ascii_case(tenant_id) && u.username.eq_ignore_ascii_case(username)
        })
    }

    /// The default user of a realm (an admin choice, else the seeded one).
    pub(crate) fn default_user(&self, realm: &Realm) -> Option<&User> {
        let name = self.default_users.get(&realm.default_key())?;
        self.users
            .iter()
            .find(|u| u.username.eq_ignore_ascii_case(name) && realm.admits(self, u))
    }

    /// The browser session of a user.
    pub(crate) fn session(&self, tenant_id: &str, username: &str) -> Option<&Session> {
        self.sessions.iter().find(|s| {
            s.tenant_id.eq_ignore_ascii_case(tenant_id) && s.username.eq_ignore_ascii_case(username)
        })
    }

    /// Records (or refreshes) the browser session of a user; returns its `session_state`.
    pub(crate) fn sign_in(&mut self, user: &User, auth_time: u64) -> String {
        if let Some(s) = self.sessions.iter_mut().find(|s| {
            s.tenant_id.eq_ignore_ascii_case(&user.tenant_id)
                && s.username.eq_ignore_ascii_case(&user.username)
        }) {
            s.auth_time = auth_time;
            return s.sid.clone();
        }
        let sid = ids::random_uuid();
        self.sessions.push(Session {
            tenant_id: user.tenant_id.clone(),
            username: user.username.clone(),
            auth_time,
            sid: sid.clone(),
        });
        sid
    }

    /// Ends a user's browser session; returns whether there was one.
    pub(crate) fn sign_out(&mut self, tenant_id: &str, username: &str) -> bool {
        let before = self.sessions.len();
        self.sessions.retain(|s| {
            !(s.tenant_id.eq_ignore_ascii_case(tenant_id)
                && s.username.eq_ignore_ascii_case(username))
        });
        before != self.sessions.len()
    }

    /// A tenant by id, domain or short name (case-insensitive).
    pub(crate) fn tenant(&self, r: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.matches(r))
    }

    pub(crate) fn app(&self, client_id: &str) -> Option<&App> {
        self.apps.get(&client_id.trim().to_ascii_lowercase())
    }

    pub(crate) fn put_app(&mut self, app: App) {
        self.apps.insert(app.client_id.to_ascii_lowercase(), app);
    }

    pub(crate) fn user(&self, tenant_id: &str, username: &str) -> Option<&User> {
        self.users.iter().find(|u| {
            u.tenant_id.eq_ignore_ascii_case(tenant_id) && u.username.eq_ignore_ascii_case(username)
        })
    }

    pub(crate) fn put_user(&mut self, user: User) {
        self.users.retain(|u| {
            !(u.tenant_id.eq_ignore_ascii_case(&user.tenant_id)
                && u.username.eq_ignore_ascii_case(&user.username))
        });
        self.users.push(user);
    }

    /// A resource by URI, app id URI or client id (case-insensitive, trailing `/` ignored).
    pub(crate) fn resource(&self, ident: &str) -> Option<Resource> {
        let ident = ident.trim_end_matches('/');
        if ident.is_empty() {
            return None;
        }
        let fixed = [
            (seeds::GRAPH_RESOURCE, seeds::GRAPH_SCOPES),
            (seeds::ARM_RESOURCE, seeds::ARM_SCOPES),
            (seeds::KEYVAULT_RESOURCE, seeds::KEYVAULT_SCOPES),
        ];
        for (uri, scopes) in fixed {
            if uri.eq_ignore_ascii_case(ident) {
                return Some(Resource {
                    aud: uri.into(),
                    scopes: scopes.iter().map(|s| s.to_string()).collect(),
                });
            }
        }
        self.apps.values().find_map(|app| {
            let aud = if app.client_id.eq_ignore_ascii_case(ident) {
                app.client_id.clone()
            } else {
                app.app_id_uri
                    .as_ref()
                    .filter(|u| u.trim_end_matches('/').eq_ignore_ascii_case(ident))?
                    .clone()
            };
            Some(Resource {
                aud,
                scopes: app.scopes.clone(),
            })
        })
    }

    /// Every resource: the fixed ones and each app with an app id URI.
    pub(crate) fn resources(&self) -> Vec<(String, Vec<String>)> {
        let mut out = vec![
            (
                seeds::GRAPH_RESOURCE.to_string(),
                seeds::GRAPH_SCOPES.iter().map(|s| s.to_string()).collect(),
            ),
            (
                seeds::ARM_RESOURCE.to_string(),
                seeds::ARM_SCOPES.iter().map(|s| s.to_string()).collect(),
            ),
            (
                seeds::KEYVAULT_RESOURCE.to_string(),
                seeds::KEYVAULT_SCOPES
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            ),
        ];
        out.extend(
            self.apps
                .values()
                .filter_map(|a| Some((a.app_id_uri.clone()?, a.scopes.clone()))),
        );
        out
    }
}

/// The state shared by both servers.
#[derive(Debug)]
pub(crate) struct EmuState {
    pub(crate) clock: Clock,
    pub(crate) signer: Signer,
    pub(crate) manifest: Manifest,
    registry: Mutex<Registry>,
    vault: Mutex<Vault>,
    seq: AtomicU64,
}

impl EmuState {
    pub(crate) fn new(manifest: Manifest, signer: Signer) -> Self {
        Self {
            clock: Clock::default(),
            signer,
            manifest,
            registry: Mutex::new(Registry::seeded()),
            vault: Mutex::new(Vault::default()),
            seq: AtomicU64::new(0),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The emulated Key Vault's secrets.
    pub(crate) fn vault(&self) -> MutexGuard<'_, Vault> {
        self.vault.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next request sequence number (from 1).
    pub(crate) fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// A user's stable object id when none is given.
    pub(crate) fn derived_oid(tenant_id: &str, username: &str) -> String {
        ids::stable_uuid(&[
            "user",
            &tenant_id.to_ascii_lowercase(),
            &username.to_ascii_lowercase(),
        ])
    }
}
