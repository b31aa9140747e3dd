//! What a token response adds to the cache: the five entities MSAL Python records for it
//! (msal/token_cache.py `TokenCache.add`), built once and then applied to whichever document holds them.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::keys;
use super::schema::{
    AccessTokenEntity, AccountEntity, AppMetadataEntity, IdTokenEntity, RefreshTokenEntity,
};
use crate::response::{ClientInfo, TokenResponse, decode_jwt_claims};
use crate::result::MAX_TOKEN_LIFETIME;
use crate::scope::ScopeSet;

/// The grants whose accounts record how they were established (`account_source`).
const ACCOUNT_SOURCE_GRANTS: [&str; 5] = [
    "broker",
    "authorization_code",
    "password",
    "urn:ietf:params:oauth:grant-type:device_code",
    "user_fic",
];

/// A token response to record, with the request context it came from.
pub(crate) struct TokenEvent<'a> {
    /// The application's client id.
    pub(crate) client_id: &'a str,
    /// The authority host, never with a port.
    pub(crate) environment: &'a str,
    /// The first path segment of the token endpoint (tenant GUID, `organizations`, `adfs`...).
    pub(crate) realm: &'a str,
    /// The scopes sent; the response's `scope` wins when present.
    pub(crate) request_scopes: &'a ScopeSet,
    /// The successful response.
    pub(crate) response: &'a TokenResponse,
    /// The request's `grant_type`.
    pub(crate) grant_type: &'a str,
    /// Every form field of the request (the extended cache key is computed from them).
    pub(crate) data: &'a [(&'a str, &'a str)],
    /// The key id of a proof-of-possession or SSH-certificate request.
    pub(crate) key_id: Option<&'a str>,
    /// The hash of an on-behalf-of request's incoming assertion.
    pub(crate) user_assertion_hash: Option<&'a str>,
    /// The username of a (federated) ROPC request, used when the ID token names none.
    pub(crate) username: Option<&'a str>,
    /// Overrides the account's `authority_type` (else `ADFS` for realm `adfs`, else `MSSTS`).
    pub(crate) authority_type: Option<&'a str>,
    /// True to record no account (refresh-token redemption).
    pub(crate) skip_account_creation: bool,
    /// The refresh token this request redeemed: a new refresh token replaces its secret in
    /// place (same key, same client id: a FOCI sibling's entry stays the sibling's).
    pub(crate) replaces_refresh_token: Option<&'a RefreshTokenEntity>,
    /// The current time, in seconds since the Unix epoch.
    pub(crate) now: u64,
}

/// The entities one token response adds.
#[derive(Debug, Clone)]
pub(crate) struct NewEntries {
    pub(crate) access_token: Option<Arc<AccessTokenEntity>>,
    pub(crate) account: Option<Arc<AccountEntity>>,
    pub(crate) id_token: Option<Arc<IdTokenEntity>>,
    pub(crate) refresh_token: Option<Arc<RefreshTokenEntity>>,
    pub(crate) app_metadata: Arc<AppMetadataEntity>,
    /// `uid.utid`, or the ID token's `sub` without client_info; `None` for app tokens.
    pub(crate) home_account_id: Option<String>,
}

/// `now + secs` as an epoch timestamp: a lifetime is clamped to at most
/// [`MAX_TOKEN_LIFETIME`]; a negative one gives a time in the past (0 at the earliest).
pub(crate) fn after(now: u64, secs: i64) -> u64 {
    let max = i64::try_from(MAX_TOKEN_LIFETIME.as_secs()).unwrap_or(i64::MAX);
    now.saturating_add_signed(secs.min(max))
}

impl NewEntries {
    /// The entities a token response adds, built the way MSAL Python's `TokenCache.add` does (msal/token_cache.py).
    pub(crate) fn from_event(event: &TokenEvent<'_>) -> NewEntries {
        let r = event.response;
        let now = event.now;
        let claims: Map<String, Value> = match &r.synthetic_id_token_claims {
            Some(c) => c.clone(),
            None => r
                .id_token
                .as_deref()
                .filter(|t| !t.is_empty())
                .and_then(decode_jwt_claims)
                .unwrap_or_default(),
        };
        let claim = |name: &str| claims.get(name).and_then(Value::as_str);
        let nonempty_claim = |name: &str| claim(name).filter(|s| !s.is_empty());

        // client_info gives uid.utid; without it (ADFS) the ID token's subject identifies the
        // user; without either (client credentials) there is no user.
        let home_account_id = match r.client_info.as_deref().and_then(ClientInfo::parse) {
            Some(ci) => Some(ci.home_account_id()),
            None => nonempty_claim("sub").map(str::to_owned),
        }
        .filter(|h| !h.is_empty());

        let target = match r.scope_list() {
            Some(granted) => keys::target(granted),
            None => event.request_scopes.to_wire(),
        };
        let client_id = Some(event.client_id.to_owned()).filter(|c| !c.is_empty());
        let data = |name: &str| {
            event
                .data
                .iter()
                .rev()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| *v)
                .filter(|v| !v.is_empty())
        };

        let access_token = r
            .access_token
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|secret| {
                // As `msal/token_cache.py` `add()`: `expires_on - now` when a managed identity
                // endpoint sends only that, else 600 s; a negative lifetime is already expired.
                let now_signed = i64::try_from(now).unwrap_or(i64::MAX);
                let default_expires_in = r
                    .expires_on()
                    .filter(|&e| e != 0)
                    .map_or(600, |e| e.saturating_sub(now_signed));
                let expires_in = r.expires_in().unwrap_or(default_expires_in);
                let ext_expires_in = r.ext_expires_in().unwrap_or(expires_in);
                Arc::new(AccessTokenEntity {
                    credential_type: "AccessToken".to_owned(),
                    secret: secret.to_owned(),
                    home_account_id: home_account_id.clone(),
                    environment: event.environment.to_owned(),
                    client_id: client_id.clone(),
                    target: target.clone(),
                    realm: event.realm.to_owned(),
                    token_type: r.token_type.clone().unwrap_or_else(|| "Bearer".to_owned()),
                    cached_at: now,
                    expires_on: after(now, expires_in),
                    extended_expires_on: after(now, ext_expires_in),
                    key_id: event
                        .key_id
                        .filter(|k| !k.is_empty())
                        .or_else(|| data("key_id"))
                        .map(str::to_owned),
                    ext_cache_key: keys::ext_cache_key(event.data),
                    refresh_on: r.refresh_in().map(|ri| after(now, ri)),
                    user_assertion_hash: event.user_assertion_hash.map(str::to_owned),
                    extra: Map::new(),
                    raw_extra: Default::default(),
                })
            });

        let account =
            (home_account_id.is_some() && !event.skip_account_creation).then(|| AccountEntity {
                home_account_id: home_account_id.clone(),
                environment: event.environment.to_owned(),
                realm: event.realm.to_owned(),
                local_account_id: claim("oid").or_else(|| claim("sub")).map(str::to_owned),
                username: nonempty_claim("preferred_username")
                    .or_else(|| nonempty_claim("upn"))
                    .or_else(|| data("username"))
                    .or(event.username.filter(|u| !u.is_empty()))
                    .unwrap_or("")
                    .to_owned(),
                authority_type: event
                    .authority_type
                    .unwrap_or(if event.realm == "adfs" {
                        "ADFS"
                    } else {
                        "MSSTS"
                    })
                    .to_owned(),
                account_source: ACCOUNT_SOURCE_GRANTS
                    .contains(&event.grant_type)
                    .then(|| event.grant_type.to_owned()),
                extra: Map::new(),
                raw_extra: Default::default(),
            });

        let id_token = r
            .id_token
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|secret| IdTokenEntity {
                credential_type: "IdToken".to_owned(),
                secret: secret.to_owned(),
                home_account_id: home_account_id.clone(),
                environment: event.environment.to_owned(),
                realm: event.realm.to_owned(),
                client_id: client_id.clone(),
                extra: Map::new(),
                raw_extra: Default::default(),
            });

        let refresh_token = r
            .refresh_token
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|secret| match event.replaces_refresh_token {
                Some(old) => RefreshTokenEntity {
                    secret: secret.to_owned(),
                    last_modification_time: Some(now),
                    ..old.clone()
                },
                None => RefreshTokenEntity {
                    credential_type: "RefreshToken".to_owned(),
                    secret: secret.to_owned(),
                    home_account_id: home_account_id.clone(),
                    environment: event.environment.to_owned(),
                    client_id: client_id.clone(),
                    target: target.clone(),
                    last_modification_time: Some(now),
                    family_id: r.foci.clone(),
                    user_assertion_hash: event.user_assertion_hash.map(str::to_owned),
                    extra: Map::new(),
                    raw_extra: Default::default(),
                },
            });

        let app_metadata = AppMetadataEntity {
            client_id: client_id.clone(),
            environment: event.environment.to_owned(),
            family_id: r.foci.clone(),
            extra: Map::new(),
            raw_extra: Default::default(),
        };

        NewEntries {
            access_token,
            account: account.map(Arc::new),
            id_token: id_token.map(Arc::new),
            refresh_token: refresh_token.map(Arc::new),
            app_metadata: Arc::new(app_metadata),
            home_account_id,
        }
    }
}
