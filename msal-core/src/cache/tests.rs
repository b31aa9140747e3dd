use super::*;
use crate::response::TokenResponse;
use crate::scope::ScopeSet;
use document::PythonFormatter;
use serde::Serialize;
use serde_json::{Map, Value};

use base64::Engine as _;
use proptest::prelude::*;
use serde_json::json;

const CID: &str = "11111111-2222-3333-4444-555555555555";
const UID: &str = "9f4880d8-80ba-4c40-97bc-f7a23c703084";
const UTID: &str = "f645ad92-e38d-4d1a-b510-d1b09a74a8ca";

// ---- shims: the synchronous view the tests were written against --------------------------

/// What `add` recorded.
struct Applied {
    access_token: Option<Arc<AccessTokenEntity>>,
    account: Option<AccountEntity>,
}

/// A query in the shape of the first cache's API.
struct AccessTokenQuery<'a> {
    home_account_id: Option<&'a str>,
    environment: &'a str,
    client_id: &'a str,
    realm: &'a str,
    scopes: &'a ScopeSet,
    ext_cache_key: Option<&'a str>,
    user_assertion_hash: Option<&'a str>,
    binding: TokenBinding<'a>,
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
        .block_on(f)
}

impl TokenCache {
    fn add(&self, e: &TokenEvent<'_>) -> Result<Applied> {
        let r = block_on(self.record(e, None));
        Ok(Applied {
            access_token: r.access_token,
            account: r.account.map(|a| (*a).clone()),
        })
    }

    fn find_access_token(&self, q: &AccessTokenQuery<'_>) -> Option<Arc<AccessTokenEntity>> {
        let owner = match q.user_assertion_hash {
            Some(h) => AtOwner::Assertion(h),
            None => AtOwner::Home(q.home_account_id),
        };
        match self.lookup(
            &AtQuery {
                owner,
                environment: q.environment,
                client_id: q.client_id,
                realm: q.realm,
                ext_cache_key: q.ext_cache_key,
                scopes: q.scopes,
                binding: q.binding,
            },
            0,
        ) {
            AtLookup::Hit(at) => Some(at),
            _ => None,
        }
    }

    fn remove_app_tokens_now(&self, client_id: &str, environments: &[&str]) -> usize {
        block_on(self.remove_app_tokens(client_id, environments, None, 0)).expect("removed")
    }

    fn remove_expired_access_tokens(&self, now: u64) -> usize {
        let before = self.read().access_tokens.len();
        block_on(self.write(
            &PartitionKey::whole(),
            Operation::RemoveAppTokens {
                client_id: String::new(),
                environments: Vec::new(),
            },
            now,
        ))
        .expect("swept");
        before - self.read().access_tokens.len()
    }

    /// A copy of the (single, in-memory) document.
    fn read(&self) -> Document {
        let p = self.partition(&PartitionKey::whole());
        let state = lock(&p.state);
        state.doc.clone()
    }
}

const USER_CACHE: &str = include_str!("../../../tests/fixtures/cache/msal_python_user_cache.json");

fn b64u(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

fn id_token(claims: Value) -> String {
    format!("header.{}.sig", b64u(&claims))
}

fn response(v: Value) -> TokenResponse {
    TokenResponse::from_json(v).expect("a valid token response")
}

fn scopes(s: &[&'static str]) -> ScopeSet {
    ScopeSet::new(s.iter().copied()).expect("valid scopes")
}

/// An event with the common defaults; tests override fields with struct update syntax.
fn event<'a>(
    environment: &'a str,
    realm: &'a str,
    request_scopes: &'a ScopeSet,
    response: &'a TokenResponse,
    grant_type: &'a str,
    now: u64,
) -> TokenEvent<'a> {
    TokenEvent {
        client_id: CID,
        environment,
        realm,
        request_scopes,
        response,
        grant_type,
        data: &[],
        key_id: None,
        user_assertion_hash: None,
        username: None,
        authority_type: None,
        skip_account_creation: false,
        replaces_refresh_token: None,
        now,
    }
}

fn query<'a>(
    home_account_id: Option<&'a str>,
    environment: &'a str,
    realm: &'a str,
    scopes: &'a ScopeSet,
) -> AccessTokenQuery<'a> {
    AccessTokenQuery {
        home_account_id,
        environment,
        client_id: CID,
        realm,
        scopes,
        ext_cache_key: None,
        user_assertion_hash: None,
        binding: TokenBinding::BEARER,
    }
}

fn secret_of(at: Option<Arc<AccessTokenEntity>>) -> Option<String> {
    at.map(|at| at.secret.clone())
}

/// A token response for a user: client_info, an ID token, an access and a refresh token.
fn user_response(at: &str, rt: &str, scope: &str, expires_in: u64) -> TokenResponse {
    response(json!({
        "token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": expires_in,
        "access_token": at, "refresh_token": rt, "scope": scope,
        "client_info": b64u(&json!({"uid": "uid", "utid": "utid"})),
        "id_token": id_token(json!({"sub": "s", "oid": "o", "preferred_username": "u@x"})),
    }))
}

/// An app-only (client credentials) response.
fn app_response(at: &str, expires_in: u64) -> TokenResponse {
    response(json!({"token_type": "Bearer", "expires_in": expires_in, "access_token": at}))
}

#[test]
fn client_credentials_reproduces_msal_python_cache() {
    let expected = r#"{
    "AccessToken": {
        "-127.0.0.1-accesstoken-11111111-2222-3333-4444-555555555555-mytenant-api://resource/.default": {
            "credential_type": "AccessToken",
            "secret": "at-a1aa7bdae45b4290926a2a0d75e52167",
            "home_account_id": null,
            "environment": "127.0.0.1",
            "client_id": "11111111-2222-3333-4444-555555555555",
            "target": "api://resource/.default",
            "realm": "mytenant",
            "token_type": "Bearer",
            "cached_at": "1795460536",
            "expires_on": "1795464135",
            "extended_expires_on": "1795464135"
        }
    },
    "AppMetadata": {
        "appmetadata-127.0.0.1-11111111-2222-3333-4444-555555555555": {
            "client_id": "11111111-2222-3333-4444-555555555555",
            "environment": "127.0.0.1"
        }
    }
}"#;
    let cache = TokenCache::new();
    let s = scopes(&["api://resource/.default"]);
    let r = response(json!({
        "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
        "access_token": "at-a1aa7bdae45b4290926a2a0d75e52167"
    }));
    let data = [
        ("client_id", CID),
        ("grant_type", "client_credentials"),
        ("client_info", "1"),
        ("client_secret", "my-secret"),
        ("scope", "api://resource/.default"),
    ];
    let applied = cache
        .add(&TokenEvent {
            data: &data,
            ..event(
                "127.0.0.1",
                "mytenant",
                &s,
                &r,
                "client_credentials",
                1795460536,
            )
        })
        .expect("added");
    assert!(applied.account.is_none());
    assert_eq!(
        applied
            .access_token
            .as_ref()
            .and_then(|a| a.home_account_id.clone()),
        None
    );
    assert_eq!(applied.access_token.map(|a| a.expires_on), Some(1795464135));
    assert!(cache.has_state_changed());
    assert_eq!(cache.serialize().expect("serializes"), expected);
    assert!(!cache.has_state_changed());
    // Served again from the cache by an app-only query.
    let found = cache.find_access_token(&query(None, "127.0.0.1", "mytenant", &s));
    assert_eq!(
        secret_of(found).as_deref(),
        Some("at-a1aa7bdae45b4290926a2a0d75e52167")
    );
}

#[test]
fn user_flow_reproduces_msal_python_cache() {
    let fixture: Value = serde_json::from_str(USER_CACHE).expect("fixture parses");
    let id_token = fixture["IdToken"]
        .as_object()
        .and_then(|m| m.values().next())
        .and_then(|e| e["secret"].as_str())
        .expect("fixture has an ID token")
        .to_owned();
    let client_info = b64u(&json!({"uid": UID, "utid": UTID}));
    let request = scopes(&["User.Read", "offline_access", "openid", "profile"]);
    let now = 1795460556;
    let cache = TokenCache::new();
    let token = |at: &str, rt: &str| {
        response(json!({
            "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
            "access_token": at, "scope": "User.Read offline_access openid profile",
            "refresh_token": rt, "id_token": id_token, "client_info": client_info,
        }))
    };
    // The auth-code redemption, then the forced refresh that replaced both tokens.
    let first = token("at-first", "rt-first");
    let applied = cache
        .add(&event(
            "127.0.0.1",
            "organizations",
            &request,
            &first,
            "authorization_code",
            now,
        ))
        .expect("added");
    let hid = format!("{UID}.{UTID}");
    assert_eq!(
        applied
            .access_token
            .as_ref()
            .and_then(|a| a.home_account_id.clone())
            .as_deref(),
        Some(hid.as_str())
    );
    let account = applied.account.expect("an account");
    assert_eq!(account.local_account_id.as_deref(), Some(UID));
    assert_eq!(account.username, "user@contoso.example");
    let second = token(
        "at-da491e4e321249da9bcb22836edcd3d7",
        "rt-15845690c3cf4fe791ec45150be80aee",
    );
    let applied = cache
        .add(&TokenEvent {
            skip_account_creation: true,
            ..event(
                "127.0.0.1",
                "organizations",
                &request,
                &second,
                "refresh_token",
                now,
            )
        })
        .expect("added");
    assert!(applied.account.is_none());
    assert_eq!(
        cache.serialize().expect("serializes"),
        USER_CACHE.trim_end()
    );
}

#[test]
fn msal_python_file_loads_and_reserializes_byte_identically() {
    let cache = TokenCache::new();
    cache.deserialize(USER_CACHE).expect("loads");
    assert!(!cache.has_state_changed());
    let out = cache.serialize().expect("serializes");
    assert_eq!(out, USER_CACHE.trim_end());
    let a: Value = serde_json::from_str(&out).expect("valid JSON");
    let b: Value = serde_json::from_str(USER_CACHE).expect("valid JSON");
    assert_eq!(a, b);
    // The entries were understood, not just carried.
    let store = cache.read();
    assert!(store.access_tokens.values().all(|e| e.known().is_some()));
    assert!(store.refresh_tokens.values().all(|e| e.known().is_some()));
    assert!(store.id_tokens.values().all(|e| e.known().is_some()));
    assert!(store.accounts.values().all(|e| e.known().is_some()));
    assert!(store.app_metadata.values().all(|e| e.known().is_some()));
    drop(store);
    let hid = format!("{UID}.{UTID}");
    let s = scopes(&["user.read"]);
    let found = cache.find_access_token(&query(Some(&hid), "127.0.0.1", "organizations", &s));
    assert_eq!(
        secret_of(found).as_deref(),
        Some("at-da491e4e321249da9bcb22836edcd3d7")
    );
}

#[test]
fn aad_response_like_msal_python_test() {
    let cache = TokenCache::new();
    let idt = id_token(json!({
        "iss": "issuer", "sub": "subject", "aud": "my_client_id", "exp": 2000, "iat": 1000,
        "oid": "object1234", "preferred_username": "John Doe"
    }));
    let r = response(json!({
        "client_info": base64::engine::general_purpose::STANDARD
            .encode(json!({"uid": "uid", "utid": "utid"}).to_string()),
        "access_token": "an access token", "expires_in": 3600, "token_type": "some type",
        "id_token": idt, "refresh_token": "a refresh token",
    }));
    let s = scopes(&["s2", "s1", "s3"]);
    cache
        .add(&TokenEvent {
            client_id: "my_client_id",
            ..event("login.example.com", "contoso", &s, &r, "", 1000)
        })
        .expect("added");
    let out: Value = serde_json::from_str(&cache.serialize().expect("ok")).expect("json");
    assert_eq!(
        out["AccessToken"]["uid.utid-login.example.com-accesstoken-my_client_id-contoso-s1 s2 s3"],
        json!({
            "credential_type": "AccessToken", "secret": "an access token",
            "home_account_id": "uid.utid", "environment": "login.example.com",
            "client_id": "my_client_id", "target": "s1 s2 s3", "realm": "contoso",
            "token_type": "some type", "cached_at": "1000", "expires_on": "4600",
            "extended_expires_on": "4600"
        })
    );
    assert_eq!(
        out["Account"]["uid.utid-login.example.com-contoso"],
        json!({
            "home_account_id": "uid.utid", "environment": "login.example.com",
            "realm": "contoso", "local_account_id": "object1234", "username": "John Doe",
            "authority_type": "MSSTS"
        })
    );
    assert_eq!(
        out["RefreshToken"]["uid.utid-login.example.com-refreshtoken-my_client_id--s1 s2 s3"]["last_modification_time"],
        "1000"
    );
    assert_eq!(
        out["AppMetadata"]["appmetadata-login.example.com-my_client_id"],
        json!({"client_id": "my_client_id", "environment": "login.example.com"})
    );
}

#[test]
fn adfs_response_uses_the_subject_and_adfs_authority_type() {
    let cache = TokenCache::new();
    let idt = id_token(json!({
        "iss": "issuer", "sub": "subject", "aud": "my_client_id", "upn": "JaneDoe@example.com"
    }));
    let r = response(json!({
        "access_token": "an access token", "expires_in": 3600, "token_type": "some type",
        "id_token": idt, "refresh_token": "a refresh token",
    }));
    let s = scopes(&["s2", "s1", "s3"]);
    let applied = cache
        .add(&TokenEvent {
            client_id: "my_client_id",
            ..event("fs.msidlab8.com", "adfs", &s, &r, "password", 1000)
        })
        .expect("added");
    assert_eq!(
        applied
            .access_token
            .as_ref()
            .and_then(|a| a.home_account_id.clone())
            .as_deref(),
        Some("subject")
    );
    let out: Value = serde_json::from_str(&cache.serialize().expect("ok")).expect("json");
    assert_eq!(
        out["Account"]["subject-fs.msidlab8.com-adfs"],
        json!({
            "home_account_id": "subject", "environment": "fs.msidlab8.com", "realm": "adfs",
            "local_account_id": "subject", "username": "JaneDoe@example.com",
            "authority_type": "ADFS", "account_source": "password"
        })
    );
    assert_eq!(
        out["IdToken"]["subject-fs.msidlab8.com-idtoken-my_client_id-adfs-"]["secret"],
        idt
    );
    assert_eq!(
        out["AccessToken"]["subject-fs.msidlab8.com-accesstoken-my_client_id-adfs-s1 s2 s3"]["home_account_id"],
        "subject"
    );
    assert_eq!(
        out["RefreshToken"]["subject-fs.msidlab8.com-refreshtoken-my_client_id--s1 s2 s3"]["secret"],
        "a refresh token"
    );
}

#[test]
fn optional_fields_overrides_and_fallbacks() {
    let cache = TokenCache::new();
    let s = scopes(&["s1"]);
    // No expires_in: 600 by default, or expires_on - now (managed identity); refresh_in and
    // foci recorded; username from the event; authority type overridden.
    let r = response(json!({
        "access_token": "at", "refresh_in": 1800, "foci": "1", "refresh_token": "rt",
        "client_info": b64u(&json!({"uid": "u", "utid": "t"})),
    }));
    let applied = cache
        .add(&TokenEvent {
            username: Some("fed@contoso.com"),
            authority_type: Some("CLOUDSHELL"),
            key_id: Some("kid"),
            user_assertion_hash: Some("uah"),
            ..event(
                "env",
                "realm",
                &s,
                &r,
                "urn:ietf:params:oauth:grant-type:device_code",
                1000,
            )
        })
        .expect("added");
    let at = applied.access_token.expect("an AT");
    assert_eq!((at.expires_on, at.extended_expires_on), (1600, 1600));
    assert_eq!(at.refresh_on, Some(2800));
    assert_eq!(at.token_type, "Bearer");
    assert_eq!(at.key_id.as_deref(), Some("kid"));
    let account = applied.account.expect("an account");
    assert_eq!(account.username, "fed@contoso.com");
    assert_eq!(account.local_account_id, None);
    assert_eq!(account.authority_type, "CLOUDSHELL");
    assert_eq!(
        account.account_source.as_deref(),
        Some("urn:ietf:params:oauth:grant-type:device_code")
    );
    let out: Value = serde_json::from_str(&cache.serialize().expect("ok")).expect("json");
    let at_json =
        &out["AccessToken"]["u.t-env-accesstoken-11111111-2222-3333-4444-555555555555-realm-s1"];
    let names: Vec<&str> = at_json
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        names,
        [
            "credential_type",
            "secret",
            "home_account_id",
            "environment",
            "client_id",
            "target",
            "realm",
            "token_type",
            "cached_at",
            "expires_on",
            "extended_expires_on",
            "key_id",
            "refresh_on",
            "user_assertion_hash"
        ]
    );
    assert_eq!(at_json["refresh_on"], "2800");
    assert_eq!(
        out["RefreshToken"]["u.t-env-refreshtoken-11111111-2222-3333-4444-555555555555--s1"]["family_id"],
        "1"
    );
    assert_eq!(
        out["AppMetadata"]["appmetadata-env-11111111-2222-3333-4444-555555555555"]["family_id"],
        "1"
    );
    assert_eq!(
        out["Account"]["u.t-env-realm"]["local_account_id"],
        Value::Null
    );

    let mi = response(json!({"access_token": "mi", "expires_on": "5000"}));
    let applied = cache
        .add(&event("env", "realm", &s, &mi, "", 1000))
        .expect("added");
    let at = applied.access_token.expect("an AT");
    assert_eq!((at.expires_on, at.extended_expires_on), (5000, 5000));
}

#[test]
fn response_scope_wins_over_request_scope() {
    let cache = TokenCache::new();
    let asked = scopes(&["X"]);
    let r = response(json!({"access_token": "at", "expires_in": 3600, "scope": "Z Y"}));
    let applied = cache
        .add(&event(
            "env",
            "realm",
            &asked,
            &r,
            "client_credentials",
            1000,
        ))
        .expect("added");
    assert_eq!(
        applied.access_token.map(|a| a.target.clone()).as_deref(),
        Some("Y Z")
    );
    assert!(
        cache
            .find_access_token(&query(None, "env", "realm", &asked))
            .is_none()
    );
    let granted = scopes(&["Y"]);
    assert!(
        cache
            .find_access_token(&query(None, "env", "realm", &granted))
            .is_some()
    );
}

#[test]
fn ext_cache_key_entries_use_atext_and_are_isolated() {
    let cache = TokenCache::new();
    let s = scopes(&["s1"]);
    let fmi = app_response("fmi_token", 3600);
    let data = [
        ("grant_type", "client_credentials"),
        ("scope", "s1"),
        ("fmi_path", "agent-app-id"),
    ];
    let applied = cache
        .add(&TokenEvent {
            data: &data,
            ..event(
                "login.example.com",
                "tenant",
                &s,
                &fmi,
                "client_credentials",
                1000,
            )
        })
        .expect("added");
    let ext = "a0ry_zl4gccsdp7gnw927x8s0mrmnodv6tyilt0u07m";
    let at = applied.access_token.expect("an AT");
    assert_eq!(at.ext_cache_key.as_deref(), Some(ext));
    assert_eq!(
        at.key(),
        format!("-login.example.com-atext-{CID}-tenant-s1-{ext}")
    );
    let plain = query(None, "login.example.com", "tenant", &s);
    assert!(cache.find_access_token(&plain).is_none());
    let with_ext = AccessTokenQuery {
        ext_cache_key: Some(ext),
        ..query(None, "login.example.com", "tenant", &s)
    };
    assert_eq!(
        secret_of(cache.find_access_token(&with_ext)).as_deref(),
        Some("fmi_token")
    );
    let other_ext = AccessTokenQuery {
        ext_cache_key: Some("other"),
        ..query(None, "login.example.com", "tenant", &s)
    };
    assert!(cache.find_access_token(&other_ext).is_none());

    let regular = app_response("regular_token", 3600);
    cache
        .add(&event(
            "login.example.com",
            "tenant",
            &s,
            &regular,
            "client_credentials",
            1000,
        ))
        .expect("added");
    assert_eq!(
        secret_of(cache.find_access_token(&plain)).as_deref(),
        Some("regular_token")
    );
    assert_eq!(
        secret_of(cache.find_access_token(&with_ext)).as_deref(),
        Some("fmi_token")
    );
    assert_eq!(cache.read().access_tokens.len(), 2);
}

#[test]
fn find_subset_case_insensitive_and_expiry_agnostic() {
    let cache = TokenCache::new();
    let s = scopes(&[
        "https://graph.microsoft.com/User.Read",
        "Mail.Send",
        "openid",
    ]);
    // Expired long ago: find does not look at expiry.
    let r = user_response("at", "rt", "", 1);
    cache
        .add(&event(
            "login.example.com",
            "Contoso",
            &s,
            &r,
            "authorization_code",
            10,
        ))
        .expect("added");
    for (env, realm, wanted) in [
        ("login.example.com", "Contoso", &["Mail.Send"][..]),
        (
            "LOGIN.Example.com",
            "contoso",
            &["mail.send", "https://graph.microsoft.com/user.read"],
        ),
        ("login.example.com", "CONTOSO", &["OPENID"]),
    ] {
        let q = scopes(wanted);
        assert_eq!(
            secret_of(cache.find_access_token(&query(Some("uid.utid"), env, realm, &q))).as_deref(),
            Some("at"),
            "{env} {realm} {wanted:?}"
        );
    }
    let more = scopes(&["Mail.Send", "Mail.Read"]);
    assert!(
        cache
            .find_access_token(&query(
                Some("uid.utid"),
                "login.example.com",
                "contoso",
                &more
            ))
            .is_none()
    );
    let q = scopes(&["Mail.Send"]);
    for (hid, env, realm, client) in [
        (None, "login.example.com", "contoso", CID),
        (Some("other.user"), "login.example.com", "contoso", CID),
        (Some("uid.utid"), "login.other.com", "contoso", CID),
        (Some("uid.utid"), "login.example.com", "fabrikam", CID),
        (
            Some("uid.utid"),
            "login.example.com",
            "contoso",
            "other-client",
        ),
    ] {
        let miss = AccessTokenQuery {
            client_id: client,
            ..query(hid, env, realm, &q)
        };
        assert!(
            cache.find_access_token(&miss).is_none(),
            "{hid:?} {env} {realm} {client}"
        );
    }
}

#[test]
fn latest_expiry_wins_among_several_matches() {
    let cache = TokenCache::new();
    let (ab, ac) = (scopes(&["a", "b"]), scopes(&["a", "c"]));
    let r1 = app_response("early", 100);
    let r2 = app_response("late", 200);
    let r3 = app_response("middle", 150);
    cache
        .add(&event("e", "r", &ab, &r1, "client_credentials", 0))
        .expect("added");
    cache
        .add(&event("e", "r", &ac, &r2, "client_credentials", 0))
        .expect("added");
    let abc = scopes(&["a", "b", "c"]);
    cache
        .add(&event("e", "r", &abc, &r3, "client_credentials", 0))
        .expect("added");
    let a = scopes(&["a"]);
    assert_eq!(
        secret_of(cache.find_access_token(&query(None, "e", "r", &a))).as_deref(),
        Some("late")
    );
    // The exact key is served first.
    assert_eq!(
        secret_of(cache.find_access_token(&query(None, "e", "r", &ab))).as_deref(),
        Some("early")
    );
    let b = scopes(&["b"]);
    assert_eq!(
        secret_of(cache.find_access_token(&query(None, "e", "r", &b))).as_deref(),
        Some("middle")
    );
}

#[test]
fn user_assertion_hash_isolates_obo_tokens() {
    let cache = TokenCache::new();
    let s = scopes(&["api://downstream/.default"]);
    let r = user_response("obo-at", "obo-rt", "", 3600);
    let applied = cache
        .add(&TokenEvent {
            user_assertion_hash: Some("hash-1"),
            skip_account_creation: true,
            ..event(
                "e",
                "r",
                &s,
                &r,
                "urn:ietf:params:oauth:grant-type:jwt-bearer",
                0,
            )
        })
        .expect("added");
    assert!(applied.account.is_none());
    let with = |h: Option<&'static str>| AccessTokenQuery {
        user_assertion_hash: h,
        ..query(Some("uid.utid"), "e", "r", &s)
    };
    assert_eq!(
        secret_of(cache.find_access_token(&with(Some("hash-1")))).as_deref(),
        Some("obo-at")
    );
    assert!(cache.find_access_token(&with(Some("hash-2"))).is_none());
    assert!(cache.find_access_token(&with(None)).is_some());
    let out = cache.serialize().expect("ok");
    assert_eq!(
        out.matches("\"user_assertion_hash\": \"hash-1\"").count(),
        2
    );
    assert!(!out.contains("\"Account\""));
}

#[test]
fn removals_touch_only_what_they_target() {
    let cache = TokenCache::new();
    let s = scopes(&["s"]);
    let app = app_response("app", 100);
    let user = user_response("user", "rt", "", 100);
    let other_env = app_response("other-env", 100);
    cache
        .add(&event(
            "login.example.com",
            "r",
            &s,
            &app,
            "client_credentials",
            0,
        ))
        .expect("ok");
    cache
        .add(&event(
            "login.example.com",
            "r",
            &s,
            &user,
            "authorization_code",
            0,
        ))
        .expect("ok");
    cache
        .add(&event(
            "login.other.com",
            "r",
            &s,
            &other_env,
            "client_credentials",
            0,
        ))
        .expect("ok");
    cache.serialize().expect("ok");
    assert_eq!(
        cache.remove_app_tokens_now(CID, &["nowhere.example.com"]),
        0
    );
    assert!(!cache.has_state_changed());
    assert_eq!(
        cache.remove_app_tokens_now(CID, &["LOGIN.example.com", "sts.example.com"]),
        1
    );
    assert!(cache.has_state_changed());
    assert!(
        cache
            .find_access_token(&query(None, "login.example.com", "r", &s))
            .is_none()
    );
    assert!(
        cache
            .find_access_token(&query(None, "login.other.com", "r", &s))
            .is_some()
    );
    assert_eq!(
        secret_of(cache.find_access_token(&query(Some("uid.utid"), "login.example.com", "r", &s)))
            .as_deref(),
        Some("user")
    );

    let later = app_response("later", 1000);
    cache
        .add(&event(
            "login.example.com",
            "r",
            &s,
            &later,
            "client_credentials",
            0,
        ))
        .expect("ok");
    assert_eq!(cache.remove_expired_access_tokens(100), 0);
    assert_eq!(cache.remove_expired_access_tokens(101), 2);
    assert_eq!(
        secret_of(cache.find_access_token(&query(None, "login.example.com", "r", &s))).as_deref(),
        Some("later")
    );
    // Refresh tokens and the other sections are untouched.
    assert_eq!(cache.read().refresh_tokens.len(), 1);
    assert_eq!(cache.read().accounts.len(), 1);
}

#[test]
fn foreign_file_with_empty_home_account_id_is_found_by_app_query() {
    let foreign = r#"{"AccessToken":{"-login.microsoftonline.com-accesstoken-11111111-2222-3333-4444-555555555555-contoso-https://graph.microsoft.com/.default":{"home_account_id":"","environment":"login.microsoftonline.com","client_id":"11111111-2222-3333-4444-555555555555","secret":"foreign-at","credential_type":"AccessToken","realm":"contoso","target":"https://graph.microsoft.com/.default","cached_at":1700000000,"expires_on":"1800000000","extended_expires_on":1800000000.0,"token_type":"Bearer","x_foreign_field":{"keep":["me",1]}}},"XUnknownSection":{"whatever":[true,null]},"AppMetadata":{}}"#;
    let cache = TokenCache::new();
    cache.deserialize(foreign).expect("loads");
    let s = scopes(&["https://graph.microsoft.com/.default"]);
    let found = cache
        .find_access_token(&query(None, "login.microsoftonline.com", "contoso", &s))
        .expect("found by an app-only query");
    assert_eq!(found.secret, "foreign-at");
    assert_eq!(found.expires_on, 1800000000);
    let out = cache.serialize().expect("ok");
    let v: Value = serde_json::from_str(&out).expect("json");
    let names: Vec<&String> = v.as_object().expect("object").keys().collect();
    assert_eq!(names, ["AccessToken", "XUnknownSection", "AppMetadata"]);
    assert_eq!(v["XUnknownSection"], json!({"whatever": [true, null]}));
    assert_eq!(v["AppMetadata"], json!({}));
    let at = v["AccessToken"]
        .as_object()
        .and_then(|m| m.values().next())
        .expect("one AT");
    // The entry is untouched: written back as it was read (its `""`, its numbers, its
    // order), so that the MSAL that wrote it still finds it.
    let input: Value = serde_json::from_str(foreign).expect("json");
    let original = input["AccessToken"]
        .as_object()
        .and_then(|m| m.values().next())
        .expect("one AT");
    assert_eq!(at, original);
    assert_eq!(at["home_account_id"], "");
    assert_eq!(at["cached_at"], 1700000000);
    assert_eq!(
        at.as_object().expect("object").keys().collect::<Vec<_>>(),
        original
            .as_object()
            .expect("object")
            .keys()
            .collect::<Vec<_>>()
    );
    assert!(out.contains("\"extended_expires_on\": 1800000000.0"));
}

#[test]
fn corrupt_input_is_rejected_without_touching_the_cache() {
    let cache = TokenCache::new();
    cache.deserialize(USER_CACHE).expect("loads");
    let before = cache.serialize().expect("ok");
    for bad in [
        &USER_CACHE[..USER_CACHE.len() / 2],
        "[]",
        "null",
        "5",
        "\"text\"",
        "{",
        r#"{"AccessToken": 5}"#,
        r#"{"RefreshToken": []}"#,
        r#"{"Account": null}"#,
        r#"{"AppMetadata": "x", "AccessToken": {}}"#,
        "{\"IdToken\": {}} trailing",
    ] {
        let err = cache.deserialize(bad).expect_err("rejected");
        assert_eq!(err.kind(), ErrorKind::Cache, "{bad}");
        assert!(!err.to_string().contains("at-da491e4e"), "{err}");
        assert_eq!(cache.serialize().expect("ok"), before, "{bad}");
    }
    cache.deserialize("  \n").expect("blank is empty");
    assert_eq!(cache.serialize().expect("ok"), "{}");
}

#[test]
fn entries_of_the_wrong_shape_are_kept_opaque() {
    let input = json!({
        "AccessToken": {
            "an-entry": {"foo": "bar"},
            "bad-secret": {
                "credential_type": "AccessToken", "secret": 5, "home_account_id": null,
                "environment": "e", "client_id": CID, "target": "s", "realm": "r",
                "token_type": "Bearer", "cached_at": "1", "expires_on": "2",
                "extended_expires_on": "3"
            },
            "bad-expiry": {
                "credential_type": "AccessToken", "secret": "s", "home_account_id": null,
                "environment": "e", "client_id": CID, "target": "s", "realm": "r",
                "token_type": "Bearer", "cached_at": "1", "expires_on": "tomorrow",
                "extended_expires_on": "3"
            },
            "scalar": 42
        },
        "RefreshToken": {"r": "not an object"},
        "Account": {"a": {"home_account_id": 5}},
        "customized": "whatever"
    });
    let text = serde_json::to_string(&input).expect("json");
    let cache = TokenCache::new();
    cache.deserialize(&text).expect("loads");
    let s = scopes(&["s"]);
    assert!(
        cache
            .find_access_token(&query(None, "e", "r", &s))
            .is_none()
    );
    assert_eq!(cache.remove_expired_access_tokens(u64::MAX), 0);
    assert_eq!(cache.remove_app_tokens_now(CID, &["e"]), 0);
    let out: Value = serde_json::from_str(&cache.serialize().expect("ok")).expect("json");
    assert_eq!(out, input);
    // A write next to opaque entries keeps them.
    let r = app_response("new", 10);
    cache
        .add(&event("e", "r", &s, &r, "client_credentials", 0))
        .expect("ok");
    let out: Value = serde_json::from_str(&cache.serialize().expect("ok")).expect("json");
    assert_eq!(out["AccessToken"]["an-entry"], json!({"foo": "bar"}));
    assert_eq!(out["customized"], "whatever");
    assert_eq!(out["AccessToken"].as_object().map(|m| m.len()), Some(5));
}

#[test]
fn msal_python_files_are_scanned() {
    assert!(Document::scan_only(USER_CACHE).is_some());
    // One entry of another shape, or a section named twice: the complete reading, same result
    // as before.
    let odd = USER_CACHE.replacen(
        "\"credential_type\": \"AccessToken\"",
        "\"credential_type\": 5",
        1,
    );
    assert!(Document::scan_only(&odd).is_none());
    let cache = TokenCache::new();
    cache.deserialize(&odd).expect("loads");
    assert_eq!(cache.serialize().expect("ok"), odd.trim_end());
    let twice = r#"{"AccessToken": {}, "X": 1, "AccessToken": {"k": 1}, "X": 2}"#;
    assert!(Document::scan_only(twice).is_none());
    let cache = TokenCache::new();
    cache.deserialize(twice).expect("loads");
    assert_eq!(
        cache.serialize().expect("ok"),
        "{\n    \"AccessToken\": {\n        \"k\": 1\n    },\n    \"X\": 2\n}"
    );
}

#[test]
fn every_reading_rejects_what_json_rejects_and_agrees_on_the_rest() {
    let entry = |extra: &str| {
        format!(r#"{{"AppMetadata": {{"k": {{"client_id": "c", "environment": "e"{extra}}}}}}}"#)
    };
    let deep = |n: usize| format!(", \"x\": {}1{}", "[".repeat(n), "]".repeat(n));
    let mut bad: Vec<String> = [
        r#"{"AccessToken": {} "X": 1}"#,
        r#"{"AccessToken": {},}"#,
        r#"{"AccessToken": {}} x"#,
        r#"{"AccessToken": {"k": {"secret": "a	b"}}}"#,
        "{\"X\": \"a\u{1}b\"}",
        r#"{"X": nul}"#,
        r#"{"X": 1x}"#,
        r#"{"AppMetadata": {"k": {"client_id": null, "environment": "e",}}}"#,
        r#"{"AppMetadata": {"k": {"client_id": nullx, "environment": "e"}}}"#,
    ]
    .map(String::from)
    .to_vec();
    // The entry's object is at nesting level 3: 998 arrays in a field go past the limit.
    bad.push(entry(&deep(998)));
    for text in &bad {
        assert!(Document::parse(text).is_err(), "{text}");
        assert!(Document::scan_only(text).is_none(), "{text}");
    }
    // Around the nesting limit, and a few shapes the scanner leaves to serde: every reading
    // that accepts gives the same document, and the result is the generic reading's.
    let mut texts: Vec<String> = (60..=130)
        .step_by(5)
        .chain(990..=997)
        .map(|n| entry(&deep(n)))
        .collect();
    texts.extend(
        [
            r#"{"AppMetadata": {"k": {"client_id": "c\u0041", "environment": "e"}}}"#,
            r#"{"AccessToken": {"k": {"credential_type": "AccessToken", "secret": "s", "environment": "e", "target": "t", "realm": "r", "token_type": "Bearer", "cached_at": 1, "expires_on": "2", "extended_expires_on": 3.5}}}"#,
            r#"{"Account": {"k": {"environment": "e", "realm": "r", "authority_type": "MSSTS", "username": null}}}"#,
            r#"{"Account": {"k": {"environment": "e", "realm": "r", "authority_type": "MSSTS", "realm": "s"}}}"#,
            r#"{"Account": {"k": {"environment": "e", "realm": "r", "authority_type": "MSSTS", "z": 1, "z": [2]}}}"#,
            r#" { "X" : { } , "Y" : [ ] } "#,
            // Other MSALs' dialects: their order, `""` ids, `null` optional fields, missing
            // optional fields, timestamps with leading zeros.
            r#"{"AccessToken": {"k": {"home_account_id": "", "environment": "e", "credential_type": "AccessToken", "client_id": "c", "secret": "s", "realm": "r", "target": "t", "cached_at": "01", "expires_on": "2", "extended_expires_on": "3"}}}"#,
            r#"{"RefreshToken": {"k": {"home_account_id": "u.t", "environment": "e", "credential_type": "RefreshToken", "client_id": "c", "secret": "s", "family_id": null, "last_modification_time": null}}}"#,
            r#"{"Account": {"k": {"home_account_id": "u", "environment": "e", "authority_type": "ADFS", "local_account_id": "u", "username": "n"}}, "AppMetadata": {"m": {"client_id": "", "environment": "e", "family_id": null, "x": 1, "x": 2}}}"#,
        ]
        .map(String::from),
    );
    for text in &texts {
        let generic = Document::parse_complete_only(text).map(|d| d.to_json().expect("writes"));
        let read = Document::parse(text).map(|d| d.to_json().expect("writes"));
        assert_eq!(read.as_ref().ok(), generic.as_ref().ok(), "{text}");
        assert_eq!(read.is_err(), generic.is_err(), "{text}");
        if let Some(doc) = Document::scan_only(text) {
            assert_eq!(
                Some(doc.to_json().expect("writes")),
                generic.as_ref().ok().cloned()
            );
        }
    }
}

#[test]
fn index_hints_from_reading_agree_with_hashing_afresh() {
    // A cache of several users and apps, written out, then loaded twice: by `deserialize`
    // (the scanner hashes for the index as it reads) and indexed afresh from a plain reading.
    let source = TokenCache::new();
    let now = 1_700_000_000;
    let scope_sets = [
        scopes(&["User.Read"]),
        scopes(&["Mail.Send", "User.Read"]),
        scopes(&["https://x/.default"]),
    ];
    let mut n = 0;
    for u in 0..4 {
        for (realm, env) in [
            ("realm-a", "login.example.com"),
            ("Realm-B", "LOGIN.example.com"),
        ] {
            for set in &scope_sets {
                n += 1;
                let at = format!("at-{n}");
                let resp = if u == 0 {
                    app_response(&at, 3600)
                } else {
                    response(json!({
                        "token_type": "Bearer", "expires_in": 3600, "access_token": at,
                        "refresh_token": format!("rt-{n}"),
                        "client_info": b64u(&json!({"uid": format!("uid{u}"), "utid": "utid"})),
                    }))
                };
                source
                    .add(&event(env, realm, set, &resp, "authorization_code", now))
                    .expect("added");
            }
        }
    }
    let text = source.serialize().expect("serializes");
    let hinted = TokenCache::new();
    hinted.deserialize(&text).expect("loads");
    let afresh = TokenCache::new();
    let p = afresh.partition(&PartitionKey::whole());
    let doc = Document::parse(&text).expect("reads");
    afresh.index_doc(&doc, &p.meta, None);
    lock(&p.state).doc = doc;
    assert!(
        Document::parse_for_index(&text, &hinted.inner.index)
            .expect("reads")
            .1
            .is_some()
    );
    let hids: Vec<Option<String>> = std::iter::once(None)
        .chain((1..4).map(|u| Some(format!("uid{u}.utid"))))
        .collect();
    let mut hits = 0;
    for hid in &hids {
        for realm in ["realm-a", "REALM-b", "realm-c"] {
            for env in ["login.example.com", "login.EXAMPLE.com"] {
                for set in scope_sets.iter().chain([scopes(&["mail.send"])].iter()) {
                    let q = query(hid.as_deref(), env, realm, set);
                    let a = secret_of(hinted.find_access_token(&q));
                    hits += usize::from(a.is_some());
                    assert_eq!(a, secret_of(afresh.find_access_token(&q)));
                }
            }
        }
    }
    assert!(hits > 20, "{hits}");
    assert_eq!(hinted.accounts(), afresh.accounts());
    // Environments are told apart as written, as before.
    assert_eq!(hinted.accounts().len(), 6);
    for u in 1..4 {
        let env = vec!["login.example.com".to_owned()];
        assert_eq!(
            hinted.refresh_tokens(&format!("uid{u}.utid"), &env).len(),
            afresh.refresh_tokens(&format!("uid{u}.utid"), &env).len()
        );
    }

    // A key written twice: the section's hints are dropped, the last entry is served.
    let at = |secret: &str| {
        format!(
            r#"{{"credential_type": "AccessToken", "secret": "{secret}", "home_account_id": null, "environment": "e", "client_id": "{CID}", "target": "t", "realm": "r", "token_type": "Bearer", "cached_at": "1", "expires_on": "9999999999", "extended_expires_on": "9999999999"}}"#
        )
    };
    let twice = format!(
        r#"{{"AccessToken": {{"k": {}, "j": {}, "k": {}}}}}"#,
        at("first"),
        at("other"),
        at("last")
    );
    let cache = TokenCache::new();
    cache.deserialize(&twice).expect("loads");
    let t = scopes(&["t"]);
    let found = cache.find_access_token(&AccessTokenQuery {
        home_account_id: None,
        environment: "e",
        client_id: CID,
        realm: "r",
        scopes: &t,
        ext_cache_key: None,
        user_assertion_hash: None,
        binding: TokenBinding::BEARER,
    });
    // "k" (last) and "j" expire alike: the first indexed wins.
    assert_eq!(secret_of(found).as_deref(), Some("last"));
}

#[test]
fn strings_are_escaped_like_python_json_dumps() {
    // Printable ASCII is copied; quotes, backslashes, controls, DEL and everything beyond
    // ASCII are escaped as json.dumps(ensure_ascii=True) does, at any position of a long
    // string (the scan goes eight bytes at a time).
    let cases: &[(&str, &str)] = &[
        ("plain", "plain"),
        ("a\"b\\c", "a\\\"b\\\\c"),
        (
            "\u{8}\u{c}\n\r\t\u{1}\u{1f}",
            "\\b\\f\\n\\r\\t\\u0001\\u001f",
        ),
        ("\u{7f}~ ", "\\u007f~ "),
        (
            "caf\u{e9} \u{20ac} \u{1f600}",
            "caf\\u00e9 \\u20ac \\ud83d\\ude00",
        ),
    ];
    for (raw, escaped) in cases {
        for pad in [0usize, 1, 7, 8, 9, 15, 16, 17] {
            let prefix = "x".repeat(pad);
            let input = Value::String(format!("{prefix}{raw}{prefix}"));
            let want = format!("\"{prefix}{escaped}{prefix}\"");
            assert_eq!(python_dumps(&input), want, "{raw:?} after {pad} bytes");
            let doc = format!(
                r#"{{"AppMetadata": {{"k{pad}": {{"client_id": {input}, "environment": {input}, "x": [{input}, {{}}, []]}}}}}}"#
            );
            let cache = TokenCache::new();
            cache.deserialize(&doc).expect("loads");
            let out = cache.serialize().expect("ok");
            assert!(out.contains(&want), "{out}");
            assert_eq!(
                out,
                python_dumps(&serde_json::from_str::<Value>(&doc).expect("json"))
            );
        }
    }
}

#[test]
fn output_is_ascii_like_python_json_dumps() {
    // Python: json.dumps({"AccessToken": {}, "X": "Zo\u00eb \U0001F600\x7f\n\"/",
    //                     "Y": [1, 2.5, [], {"a": None, "b": True}]}, indent=4)
    let python = "{\n    \"AccessToken\": {},\n    \"X\": \"Zo\\u00eb \\ud83d\\ude00\\u007f\\n\\\"/\",\n    \"Y\": [\n        1,\n        2.5,\n        [],\n        {\n            \"a\": null,\n            \"b\": true\n        }\n    ]\n}";
    let cache = TokenCache::new();
    cache.deserialize(python).expect("loads");
    assert_eq!(cache.serialize().expect("ok"), python);
    let v: Value = serde_json::from_str(python).expect("json");
    assert_eq!(v["X"], "Zo\u{eb} \u{1F600}\u{7f}\n\"/");
}

#[test]
fn state_flag_handles_and_debug() {
    let cache = TokenCache::new();
    assert!(!cache.has_state_changed());
    let handle = cache.clone();
    let s = scopes(&["s"]);
    let r = user_response("at-secret-value", "rt-secret-value", "", 10);
    handle
        .add(&event("e", "r", &s, &r, "authorization_code", 0))
        .expect("ok");
    assert!(cache.has_state_changed(), "a clone shares the data");
    let debug = format!("{cache:?}");
    assert!(!debug.contains("secret-value"), "{debug}");
    assert!(debug.contains("access_tokens: 1"), "{debug}");
    let text = cache.serialize().expect("ok");
    assert!(!handle.has_state_changed());
    let at = cache
        .find_access_token(&query(Some("uid.utid"), "e", "r", &s))
        .expect("hit");
    assert!(!format!("{at:?}").contains("secret-value"));
    let fresh = TokenCache::default();
    fresh.deserialize(&text).expect("ok");
    assert!(!fresh.has_state_changed());
    assert_eq!(fresh.serialize().expect("ok"), text);
}

#[test]
fn a_poisoned_lock_is_recovered() {
    let cache = TokenCache::new();
    let handle = cache.clone();
    let joined = std::thread::spawn(move || {
        let p = handle.partition(&PartitionKey::whole());
        let _guard = p.state.lock();
        panic!("poison the lock");
    })
    .join();
    assert!(joined.is_err());
    assert!(cache.partition(&PartitionKey::whole()).state.is_poisoned());
    let s = scopes(&["s"]);
    let r = app_response("at", 10);
    cache
        .add(&event("e", "r", &s, &r, "client_credentials", 0))
        .expect("ok");
    assert!(
        cache
            .find_access_token(&query(None, "e", "r", &s))
            .is_some()
    );
    assert!(cache.serialize().expect("ok").contains("\"at\""));
}

// ---- property: serialize -> deserialize -> serialize is byte-identical --------------------

fn python_dumps(v: &Value) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonFormatter::new());
    v.serialize(&mut ser).expect("serializes");
    String::from_utf8(out).expect("ascii")
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1000i32..1000).prop_map(|i| Value::from(f64::from(i) / 4.0)),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((any::<String>(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn id() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        "[a-z0-9.-]{1,12}".prop_map(Value::String)
    ]
}

fn text() -> impl Strategy<Value = Value> {
    any::<String>().prop_map(Value::String)
}

fn ts() -> impl Strategy<Value = Value> {
    any::<u64>().prop_map(|t| Value::String(t.to_string()))
}

fn opt<S: Strategy<Value = Value>>(s: S) -> impl Strategy<Value = Option<Value>> {
    proptest::option::of(s)
}

fn extras() -> impl Strategy<Value = Vec<(String, Value)>> {
    prop::collection::vec(("x_[a-z]{1,6}", json_value()), 0..3)
}

fn object(fields: Vec<(&str, Option<Value>)>, extra: Vec<(String, Value)>) -> Value {
    let mut m = Map::new();
    for (k, v) in fields {
        if let Some(v) = v {
            m.insert(k.to_owned(), v);
        }
    }
    for (k, v) in extra {
        m.insert(k, v);
    }
    Value::Object(m)
}

fn access_token_json() -> impl Strategy<Value = Value> {
    (
        (text(), id(), text(), id(), text(), text(), text()),
        (
            ts(),
            ts(),
            ts(),
            opt(text()),
            opt(text()),
            opt(ts()),
            opt(text()),
        ),
        extras(),
    )
        .prop_map(
            |((secret, hid, env, cid, target, realm, tt), (c, e, x, kid, ext, ro, uah), extra)| {
                object(
                    vec![
                        ("credential_type", Some(json!("AccessToken"))),
                        ("secret", Some(secret)),
                        ("home_account_id", Some(hid)),
                        ("environment", Some(env)),
                        ("client_id", Some(cid)),
                        ("target", Some(target)),
                        ("realm", Some(realm)),
                        ("token_type", Some(tt)),
                        ("cached_at", Some(c)),
                        ("expires_on", Some(e)),
                        ("extended_expires_on", Some(x)),
                        ("key_id", kid),
                        ("ext_cache_key", ext),
                        ("refresh_on", ro),
                        ("user_assertion_hash", uah),
                    ],
                    extra,
                )
            },
        )
}

fn refresh_token_json() -> impl Strategy<Value = Value> {
    (
        (text(), id(), text(), id(), text()),
        (opt(ts()), opt(text()), opt(text())),
        extras(),
    )
        .prop_map(
            |((secret, hid, env, cid, target), (lmt, fam, uah), extra)| {
                object(
                    vec![
                        ("credential_type", Some(json!("RefreshToken"))),
                        ("secret", Some(secret)),
                        ("home_account_id", Some(hid)),
                        ("environment", Some(env)),
                        ("client_id", Some(cid)),
                        ("target", Some(target)),
                        ("last_modification_time", lmt),
                        ("family_id", fam),
                        ("user_assertion_hash", uah),
                    ],
                    extra,
                )
            },
        )
}

fn id_token_json() -> impl Strategy<Value = Value> {
    ((text(), id(), text(), text(), id()), extras()).prop_map(
        |((secret, hid, env, realm, cid), extra)| {
            object(
                vec![
                    ("credential_type", Some(json!("IdToken"))),
                    ("secret", Some(secret)),
                    ("home_account_id", Some(hid)),
                    ("environment", Some(env)),
                    ("realm", Some(realm)),
                    ("client_id", Some(cid)),
                ],
                extra,
            )
        },
    )
}

fn account_json() -> impl Strategy<Value = Value> {
    (
        (id(), text(), text(), prop_oneof![Just(Value::Null), text()]),
        (text(), text(), opt(text())),
        extras(),
    )
        .prop_map(|((hid, env, realm, local), (user, at, source), extra)| {
            object(
                vec![
                    ("home_account_id", Some(hid)),
                    ("environment", Some(env)),
                    ("realm", Some(realm)),
                    ("local_account_id", Some(local)),
                    ("username", Some(user)),
                    ("authority_type", Some(at)),
                    ("account_source", source),
                ],
                extra,
            )
        })
}

fn app_metadata_json() -> impl Strategy<Value = Value> {
    (id(), text(), opt(text()), extras()).prop_map(|(cid, env, fam, extra)| {
        object(
            vec![
                ("client_id", Some(cid)),
                ("environment", Some(env)),
                ("family_id", fam),
            ],
            extra,
        )
    })
}

fn section<S: Strategy<Value = Value>>(entity: S) -> impl Strategy<Value = Value> {
    prop::collection::vec(
        (any::<String>(), prop_oneof![4 => entity, 1 => json_value()]),
        0..4,
    )
    .prop_map(|entries| Value::Object(entries.into_iter().collect()))
}

/// A section whose entries all fit their entity type.
fn fitting_section<S: Strategy<Value = Value>>(entity: S) -> impl Strategy<Value = Value> {
    prop::collection::vec((any::<String>(), entity), 0..4)
        .prop_map(|entries| Value::Object(entries.into_iter().collect()))
}

/// A cache whose entries all fit (what the typed reading takes in one pass).
fn fitting_cache_json() -> impl Strategy<Value = Value> {
    let item = prop_oneof![
        fitting_section(access_token_json()).prop_map(|v| ("AccessToken".to_owned(), v)),
        fitting_section(refresh_token_json()).prop_map(|v| ("RefreshToken".to_owned(), v)),
        fitting_section(id_token_json()).prop_map(|v| ("IdToken".to_owned(), v)),
        fitting_section(account_json()).prop_map(|v| ("Account".to_owned(), v)),
        fitting_section(app_metadata_json()).prop_map(|v| ("AppMetadata".to_owned(), v)),
        ("X[A-Za-z]{0,8}", json_value()),
    ];
    prop::collection::vec(item, 0..8).prop_map(|items| Value::Object(items.into_iter().collect()))
}

/// Reads `text` every way (the scanner and the typed reading when they accept it) and writes
/// each document both ways: all must agree.
fn check_readings_and_writings(text: &str) -> std::result::Result<String, TestCaseError> {
    let read = Document::parse(text).expect("reads");
    let generic = Document::parse_complete_only(text).expect("reads completely");
    let out = read.to_json().expect("writes");
    prop_assert_eq!(&out, &generic.to_json().expect("writes"));
    if let Some(doc) = Document::scan_only(text) {
        prop_assert_eq!(&out, &doc.to_json().expect("writes"));
    }
    Ok(out)
}

/// `v` with every string and key stripped of what JSON escapes (quotes, backslashes, control
/// characters): what the scanner reads.
fn plain(v: Value) -> Value {
    fn s(x: &str) -> String {
        x.chars()
            .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
            .collect()
    }
    match v {
        Value::String(x) => Value::String(s(&x)),
        Value::Array(a) => Value::Array(a.into_iter().map(plain).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (s(&k), plain(v))).collect()),
        other => other,
    }
}

fn cache_json() -> impl Strategy<Value = Value> {
    let item = prop_oneof![
        section(access_token_json()).prop_map(|v| ("AccessToken".to_owned(), v)),
        section(refresh_token_json()).prop_map(|v| ("RefreshToken".to_owned(), v)),
        section(id_token_json()).prop_map(|v| ("IdToken".to_owned(), v)),
        section(account_json()).prop_map(|v| ("Account".to_owned(), v)),
        section(app_metadata_json()).prop_map(|v| ("AppMetadata".to_owned(), v)),
        ("X[A-Za-z]{0,8}", json_value()),
    ];
    prop::collection::vec(item, 0..8).prop_map(|items| Value::Object(items.into_iter().collect()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn serialize_deserialize_serialize_is_byte_identical(input in cache_json()) {
        let cache = TokenCache::new();
        cache.deserialize(&serde_json::to_string(&input).expect("json")).expect("loads");
        let first = cache.serialize().expect("serializes");
        // Nothing lost, nothing reordered: exactly what Python's json.dumps would write.
        prop_assert_eq!(&first, &python_dumps(&input));
        let again = TokenCache::new();
        again.deserialize(&first).expect("reloads");
        let second = again.serialize().expect("serializes");
        prop_assert_eq!(first, second);
    }

    #[test]
    fn typed_and_generic_readings_agree(input in cache_json()) {
        let text = serde_json::to_string(&input).expect("json");
        let out = check_readings_and_writings(&text)?;
        prop_assert_eq!(&out, &python_dumps(&input));
        // The indented layout reads back the same way.
        prop_assert_eq!(check_readings_and_writings(&out)?, out);
    }

    #[test]
    fn fitting_caches_read_and_write_like_python(input in fitting_cache_json()) {
        let text = serde_json::to_string(&input).expect("json");
        let out = check_readings_and_writings(&text)?;
        prop_assert_eq!(out, python_dumps(&input));
    }

    #[test]
    fn plain_fitting_caches_are_scanned(input in fitting_cache_json().prop_map(plain)) {
        let text = serde_json::to_string(&input).expect("json");
        prop_assert!(Document::scan_only(&text).is_some());
        let pretty = serde_json::to_string_pretty(&input).expect("json");
        prop_assert!(Document::scan_only(&pretty).is_some());
        let out = check_readings_and_writings(&text)?;
        prop_assert_eq!(&out, &python_dumps(&input));
        prop_assert_eq!(check_readings_and_writings(&pretty)?, out);
    }

    #[test]
    fn arbitrary_text_never_panics_or_clobbers(noise in any::<String>(), cut in 0usize..2000) {
        let cache = TokenCache::new();
        cache.deserialize(USER_CACHE).expect("loads");
        let before = cache.serialize().expect("ok");
        let mut end = cut.min(USER_CACHE.len());
        while !USER_CACHE.is_char_boundary(end) {
            end -= 1;
        }
        for input in [noise.as_str(), &USER_CACHE[..end]] {
            if cache.deserialize(input).is_err() {
                prop_assert_eq!(cache.serialize().expect("ok"), before.clone());
            } else {
                cache.deserialize(USER_CACHE).expect("loads");
            }
        }
    }
}

// ---- model test: the indexed cache against a brute-force reference -------------------------

/// One step of a random history.
#[derive(Debug, Clone)]
enum ModelOp {
    /// A token response for (user or app, env, client, realm, scopes, ext key, lifetime).
    Add {
        user: Option<u8>,
        env: u8,
        client: u8,
        realm: u8,
        scopes: Vec<u8>,
        ext: Option<u8>,
        expires_in: u64,
        /// A target written by another MSAL: these scopes, in this order, duplicates and
        /// case kept (instead of the sorted, de-duplicated set).
        raw_target: Option<Vec<(u8, bool)>>,
    },
    RemoveAppTokens {
        client: u8,
        env: u8,
    },
    RemoveAccount {
        user: u8,
        env: u8,
    },
    /// The clock moves on (writes sweep what expired).
    Tick(u64),
    /// A lookup to compare.
    Find {
        user: Option<u8>,
        env: u8,
        client: u8,
        realm: u8,
        scopes: Vec<u8>,
        ext: Option<u8>,
    },
}

const MODEL_ENVS: [&str; 2] = ["login.microsoftonline.com", "LOGIN.example.com"];
const MODEL_SCOPES: [&str; 4] = ["User.Read", "user.read", "Mail.Send", "https://x/.default"];

fn model_op() -> impl Strategy<Value = ModelOp> {
    let user = proptest::option::of(0u8..3);
    let scopes = proptest::collection::vec(0u8..4, 1..3);
    let raw = proptest::option::weighted(
        0.3,
        proptest::collection::vec((0u8..4, any::<bool>()), 1..4),
    );
    prop_oneof![
        4 => (user.clone(), 0u8..2, 0u8..2, 0u8..2, scopes.clone(), proptest::option::of(0u8..2), 1u64..400, raw)
            .prop_map(|(user, env, client, realm, scopes, ext, expires_in, raw_target)| ModelOp::Add {
                user, env, client, realm, scopes, ext, expires_in, raw_target
            }),
        1 => (0u8..2, 0u8..2).prop_map(|(client, env)| ModelOp::RemoveAppTokens { client, env }),
        1 => (0u8..3, 0u8..2).prop_map(|(user, env)| ModelOp::RemoveAccount { user, env }),
        1 => (1u64..200).prop_map(ModelOp::Tick),
        4 => (user, 0u8..2, 0u8..2, 0u8..2, scopes, proptest::option::of(0u8..2))
            .prop_map(|(user, env, client, realm, scopes, ext)| ModelOp::Find {
                user, env, client, realm, scopes, ext
            }),
    ]
}

/// The reference: every access token ever added and not removed, searched exhaustively.
#[derive(Debug, Clone)]
struct RefAt {
    hid: Option<String>,
    env: String,
    client: String,
    realm: String,
    /// The target as stored (what the cache key is made of).
    stored_target: String,
    target: Vec<String>,
    ext: Option<String>,
    expires_on: u64,
    secret: String,
}

fn hid_of(u: u8) -> String {
    format!("uid{u}.utid")
}

fn scope_set(ids: &[u8]) -> ScopeSet {
    ScopeSet::new(
        ids.iter()
            .map(|i| MODEL_SCOPES[usize::from(*i)])
            .collect::<Vec<_>>(),
    )
    .expect("valid scopes")
}

/// The same history in one bucket (one app, environment, client, realm): dense in exact and
/// superset matches, expiring and not.
fn focused_model_op() -> impl Strategy<Value = ModelOp> {
    let scopes = proptest::collection::vec(0u8..4, 1..3);
    let raw = proptest::option::weighted(
        0.3,
        proptest::collection::vec((0u8..4, any::<bool>()), 1..4),
    );
    prop_oneof![
        4 => (scopes.clone(), 250u64..400, raw).prop_map(|(scopes, expires_in, raw_target)| ModelOp::Add {
            user: None, env: 0, client: 0, realm: 0, scopes, ext: None, expires_in, raw_target
        }),
        1 => (1u64..60).prop_map(ModelOp::Tick),
        4 => scopes.prop_map(|scopes| ModelOp::Find {
            user: None, env: 0, client: 0, realm: 0, scopes, ext: None
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn indexed_lookups_agree_with_a_brute_force_reference(ops in proptest::collection::vec(model_op(), 1..60)) {
        check_model(ops)?;
    }

    #[test]
    fn exact_and_full_buckets_agree_with_a_brute_force_reference(ops in proptest::collection::vec(focused_model_op(), 1..40)) {
        check_model(ops)?;
    }
}

/// Runs `ops` on a cache and on the reference, comparing every lookup.
fn check_model(ops: Vec<ModelOp>) -> std::result::Result<(), TestCaseError> {
    {
        let cache = TokenCache::new();
        let mut reference: Vec<RefAt> = Vec::new();
        let mut now = 1_000_000u64;
        let mut serial = 0u32;
        for op in ops {
            match op {
                ModelOp::Add {
                    user,
                    env,
                    client,
                    realm,
                    scopes,
                    ext,
                    expires_in,
                    raw_target,
                } => {
                    serial += 1;
                    let set = scope_set(&scopes);
                    let secret = format!("at-{serial}");
                    let mut body = json!({"access_token": secret, "expires_in": expires_in});
                    if let Some(u) = user {
                        body["client_info"] =
                            json!(b64u(&json!({"uid": format!("uid{u}"), "utid": "utid"})));
                    }
                    let resp = response(body);
                    let ext_value = ext.map(|e| format!("path{e}"));
                    let data: Vec<(&str, &str)> = ext_value
                        .as_deref()
                        .map(|v| vec![("fmi_path", v)])
                        .unwrap_or_default();
                    let env_s = MODEL_ENVS[usize::from(env)];
                    let client_s = format!("client{client}");
                    let realm_s = format!("realm{realm}");
                    let e = TokenEvent {
                        client_id: &client_s,
                        data: &data,
                        ..event(env_s, &realm_s, &set, &resp, "client_credentials", now)
                    };
                    let stored_target = match &raw_target {
                        None => {
                            cache.add(&e).expect("added");
                            set.to_wire()
                        }
                        Some(raw) => {
                            let target: Vec<String> = raw
                                .iter()
                                .map(|(i, upper)| {
                                    let s = MODEL_SCOPES[usize::from(*i)];
                                    if *upper {
                                        s.to_ascii_uppercase()
                                    } else {
                                        s.to_owned()
                                    }
                                })
                                .collect();
                            let target = target.join(" ");
                            let mut entries = NewEntries::from_event(&e);
                            let mut at =
                                (**entries.access_token.as_ref().expect("an access token")).clone();
                            at.target = target.clone();
                            entries.access_token = Some(Arc::new(at));
                            block_on(cache.write(
                                &PartitionKey::whole(),
                                Operation::Add {
                                    entries,
                                    based_on: None,
                                },
                                now,
                            ))
                            .expect("added");
                            target
                        }
                    };
                    // The reference: writes sweep expired tokens, then replace the same key.
                    reference.retain(|r| r.expires_on >= now);
                    let target: Vec<String> = stored_target
                        .split_whitespace()
                        .map(str::to_owned)
                        .collect();
                    let key = |r: &RefAt| {
                        (
                            r.hid.clone(),
                            r.env.to_ascii_lowercase(),
                            r.client.clone(),
                            r.realm.clone(),
                            r.stored_target.to_ascii_lowercase(),
                            r.ext.clone(),
                        )
                    };
                    let new = RefAt {
                        hid: user.map(hid_of),
                        env: env_s.to_owned(),
                        client: client_s,
                        realm: realm_s,
                        stored_target,
                        target,
                        ext: ext_value
                            .as_deref()
                            .and_then(|v| keys::ext_cache_key(&[("fmi_path", v)])),
                        expires_on: now + expires_in,
                        secret,
                    };
                    // ... and drop the same token stored under another key (the same scopes
                    // as a set, in another order or case).
                    let slot = |r: &RefAt| {
                        let mut k = key(r);
                        let set: std::collections::BTreeSet<String> =
                            k.4.split_whitespace().map(str::to_owned).collect();
                        k.4 = set.into_iter().collect::<Vec<_>>().join(" ");
                        k
                    };
                    let k = slot(&new);
                    reference.retain(|r| slot(r) != k);
                    reference.push(new);
                }
                ModelOp::RemoveAppTokens { client, env } => {
                    let client_s = format!("client{client}");
                    let env_s = MODEL_ENVS[usize::from(env)];
                    block_on(cache.write(
                        &PartitionKey::whole(),
                        Operation::RemoveAppTokens {
                            client_id: client_s.clone(),
                            environments: vec![env_s.to_owned()],
                        },
                        now,
                    ))
                    .expect("removed");
                    reference.retain(|r| r.expires_on >= now);
                    reference.retain(|r| {
                        !(r.hid.is_none()
                            && r.client == client_s
                            && r.env.eq_ignore_ascii_case(env_s))
                    });
                }
                ModelOp::RemoveAccount { user, env } => {
                    let env_s = MODEL_ENVS[usize::from(env)];
                    block_on(cache.write(
                        &PartitionKey::whole(),
                        Operation::RemoveAccount {
                            home_account_id: hid_of(user),
                            environment: env_s.to_owned(),
                            refresh_tokens_of: None,
                        },
                        now,
                    ))
                    .expect("removed");
                    reference.retain(|r| r.expires_on >= now);
                    reference.retain(|r| {
                        !(r.hid.as_deref() == Some(hid_of(user).as_str())
                            && r.env.eq_ignore_ascii_case(env_s))
                    });
                }
                ModelOp::Tick(s) => now += s,
                ModelOp::Find {
                    user,
                    env,
                    client,
                    realm,
                    scopes,
                    ext,
                } => {
                    let set = scope_set(&scopes);
                    let hid = user.map(hid_of);
                    let env_s = MODEL_ENVS[usize::from(env)];
                    let client_s = format!("client{client}");
                    let realm_s = format!("realm{realm}");
                    let ext_key =
                        ext.and_then(|e| keys::ext_cache_key(&[("fmi_path", &format!("path{e}"))]));
                    let valid_after = now + 300;
                    let got = match cache.lookup(
                        &AtQuery {
                            owner: AtOwner::Home(hid.as_deref()),
                            environment: env_s,
                            client_id: &client_s,
                            realm: &realm_s,
                            ext_cache_key: ext_key.as_deref(),
                            scopes: &set,
                            binding: TokenBinding::BEARER,
                        },
                        valid_after,
                    ) {
                        AtLookup::Hit(at) => Some(at.secret.clone()),
                        _ => None,
                    };
                    // Brute force: every match; the best is valid, then exact, then latest, then
                    // the first added among equals.
                    let rank = |r: &RefAt| {
                        (
                            r.expires_on > valid_after,
                            r.target.len() == set.len(),
                            r.expires_on,
                        )
                    };
                    let mut best: Option<&RefAt> = None;
                    for r in reference.iter().filter(|r| {
                        r.hid == hid
                            && r.env.eq_ignore_ascii_case(env_s)
                            && r.client == client_s
                            && r.realm == realm_s
                            && r.ext == ext_key
                            && set
                                .iter()
                                .all(|s| r.target.iter().any(|t| t.eq_ignore_ascii_case(s)))
                    }) {
                        if best.is_none_or(|b| rank(b) < rank(r)) {
                            best = Some(r);
                        }
                    }
                    match (&got, best) {
                        (None, None) => {}
                        (Some(secret), Some(b)) => prop_assert_eq!(secret, &b.secret),
                        (g, e) => prop_assert!(false, "index {:?} vs reference {:?}", g, e),
                    }
                }
            }
        }
    }
    Ok(())
}

// ---- properties: documents as Python's json reads them --------------------------------------

/// A scalar Python's `json` reads, as text: the constants and escapes RFC 8259 lacks too.
fn py_scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "NaN",
            "Infinity",
            "-Infinity",
            "8.390570512703765e+211",
            "1E400",
            "-0.0e-0",
            "123456789012345678901234567890",
            r#""\ud800""#,
            r#""\uDFFF\ud83d\ude00\/é\u0000\t""#,
            "true",
            "false",
            "null",
        ])
        .prop_map(str::to_owned),
        any::<i64>().prop_map(|i| i.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:e}")),
        any::<String>().prop_map(|s| serde_json::to_string(&s).expect("json")),
    ]
}

fn py_key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{0,3}".prop_map(|k| format!("\"{k}\"")),
        Just(r#""\udc00k""#.to_owned()),
        Just(r#""é\u00e9""#.to_owned()),
    ]
}

/// Any value Python's `json` reads, as text, with varied whitespace.
fn py_value() -> impl Strategy<Value = String> {
    py_scalar().prop_recursive(4, 24, 4, |inner| {
        let sep = prop::sample::select(vec![",", ", ", ",\n    ", " ,\t"]);
        prop_oneof![
            (prop::collection::vec(inner.clone(), 0..4), sep.clone())
                .prop_map(|(v, sep)| format!("[{}]", v.join(sep))),
            (prop::collection::vec((py_key(), inner), 0..4), sep).prop_map(|(m, sep)| {
                let members: Vec<String> =
                    m.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", members.join(sep))
            }),
        ]
    })
}

/// An access token entry with unknown fields Python's `json` reads, and sometimes a member the
/// library reads given a value only Python reads (the entry then does not fit).
fn py_entry() -> impl Strategy<Value = String> {
    let field = prop::sample::select(vec!["expires_on", "secret", "cached_at", "refresh_on"]);
    (
        access_token_json(),
        prop::collection::vec(("x_[a-z]{1,4}", py_value()), 0..3),
        proptest::option::of((field, py_scalar())),
    )
        .prop_map(|(v, extras, odd)| {
            let mut s = serde_json::to_string(&v).expect("json");
            s.pop();
            for (k, v) in extras {
                s.push_str(&format!(", \"{k}\": {v}"));
            }
            if let Some((k, v)) = odd {
                s.push_str(&format!(", \"{k}\": {v}"));
            }
            s.push('}');
            s
        })
}

fn py_document() -> impl Strategy<Value = String> {
    let member = prop_oneof![
        prop::collection::vec(("[a-z]{1,3}", py_entry()), 0..3).prop_map(|es| {
            let es: Vec<String> = es
                .into_iter()
                .map(|(k, e)| format!("\"{k}\": {e}"))
                .collect();
            format!("\"AccessToken\": {{{}}}", es.join(", "))
        }),
        (py_key(), py_value()).prop_map(|(k, v)| format!("{k}: {v}")),
    ];
    prop::collection::vec(member, 0..5).prop_map(|ms| format!("{{{}}}", ms.join(", ")))
}

/// `text` with characters deleted and inserted at the given places.
fn mutate(text: &str, edits: &[(usize, bool, char)]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for &(at, insert, c) in edits {
        let at = at % (chars.len() + 1);
        if insert {
            chars.insert(at, c);
        } else if at < chars.len() {
            chars.remove(at);
        }
    }
    chars.into_iter().collect()
}

/// Every reading of `text` agrees; what is accepted is written in linear size, as ASCII, and
/// writing what was written gives the same text.
fn check_loader(text: &str) -> std::result::Result<bool, TestCaseError> {
    let parsed = Document::parse(text);
    let complete = Document::parse_complete_only(text);
    prop_assert_eq!(parsed.is_ok(), complete.is_ok());
    let scanned = Document::scan_only(text);
    if scanned.is_some() {
        prop_assert!(complete.is_ok());
    }
    let (Ok(doc), Ok(complete)) = (parsed, complete) else {
        return Ok(false);
    };
    let first = doc.to_json().expect("writes");
    prop_assert_eq!(&first, &complete.to_json().expect("writes"));
    if let Some(s) = scanned {
        prop_assert_eq!(&first, &s.to_json().expect("writes"));
    }
    prop_assert!(first.is_ascii());
    prop_assert!(
        first.len() <= 100 * text.len() + 4096,
        "{} -> {}",
        text.len(),
        first.len()
    );
    let again = Document::parse(&first).expect("what was written reads back");
    prop_assert_eq!(&again.to_json().expect("writes"), &first);
    Ok(true)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 96,
        max_shrink_iters: 512,
        ..ProptestConfig::default()
    })]

    #[test]
    fn python_json_documents_load_and_save_idempotently(doc in py_document()) {
        prop_assert!(check_loader(&doc)?, "Python reads it: {}", doc);
    }

    #[test]
    fn mutated_python_json_documents_never_panic(
        doc in py_document(),
        edits in prop::collection::vec(
            (any::<usize>(), any::<bool>(), prop::sample::select(
                "{}[]\",:\\ NaIfinityu0123456789.eE-+\n".chars().collect::<Vec<_>>()
            )),
            1..6,
        ),
    ) {
        check_loader(&mutate(&doc, &edits))?;
    }
}

#[test]
fn python_only_values_in_fields_the_library_reads_make_the_entry_opaque() {
    // MSAL Python fails on `int(NaN)`; the entry is kept and never used.
    let entry = |expires_on: &str| {
        format!(
            r#"{{"AccessToken": {{"k": {{"credential_type": "AccessToken", "secret": "s", "home_account_id": null, "environment": "e", "client_id": "{CID}", "target": "s", "realm": "r", "token_type": "Bearer", "cached_at": "1", "expires_on": {expires_on}, "extended_expires_on": "3", "x_nan": NaN}}}}, "X": [Infinity]}}"#
        )
    };
    let s = scopes(&["s"]);
    let good = TokenCache::new();
    good.deserialize(&entry("\"4000000000\"")).expect("loads");
    assert!(good.find_access_token(&query(None, "e", "r", &s)).is_some());
    for odd in ["NaN", "Infinity", "-Infinity", "1E400", r#""\ud800""#, "{}"] {
        let cache = TokenCache::new();
        cache.deserialize(&entry(odd)).expect("Python reads it");
        assert!(
            cache
                .find_access_token(&query(None, "e", "r", &s))
                .is_none(),
            "{odd}"
        );
        let out = cache.serialize().expect("writes");
        assert!(out.contains(&format!("\"expires_on\": {odd}")), "{out}");
        assert!(out.contains("\"x_nan\": NaN"), "{out}");
        let again = TokenCache::new();
        again.deserialize(&out).expect("reads back");
        assert_eq!(again.serialize().expect("writes"), out);
    }
}

#[test]
fn deep_values_are_saved_in_linear_size() {
    // 997 arrays in an entry's field reach level 1000, the limit. Laid out as Python would,
    // that is ~2 MB from 2 KB; compact input keeps its own whitespace instead.
    let deep = format!("{}1{}", "[".repeat(997), "]".repeat(997));
    let text = format!(
        r#"{{"AppMetadata": {{"k": {{"client_id": "c", "environment": "e", "x": {deep}}}}}, "X": {deep}}}"#
    );
    let doc = Document::parse(&text).expect("within the limit");
    let out = doc.to_json().expect("writes");
    assert!(out.len() < 2 * text.len() + 1024, "{} bytes", out.len());
    assert!(out.contains(&format!("\"x\": {deep}")));
    assert_eq!(
        Document::parse(&out)
            .expect("reads")
            .to_json()
            .expect("writes"),
        out
    );
}

#[test]
fn tokens_under_an_alias_of_the_cloud_answer_and_the_best_wins() {
    // MSAL Node writes the public cloud as login.windows.net.
    let at = |env: &str, secret: &str, expires_on: u64| {
        json!({
            "credential_type": "AccessToken", "secret": secret, "home_account_id": null,
            "environment": env, "client_id": CID, "target": "s1", "realm": "contoso",
            "token_type": "Bearer", "cached_at": "1", "expires_on": expires_on.to_string(),
            "extended_expires_on": expires_on.to_string()
        })
    };
    let s = scopes(&["s1"]);
    let now = 1_700_000_000;
    let lookup = |cache: &TokenCache, env: &str| match cache.lookup(
        &AtQuery {
            owner: AtOwner::Home(None),
            environment: env,
            client_id: CID,
            realm: "contoso",
            ext_cache_key: None,
            scopes: &s,
            binding: TokenBinding::BEARER,
        },
        now,
    ) {
        AtLookup::Hit(at) => Some(at.secret.clone()),
        _ => None,
    };
    let cache = TokenCache::new();
    let doc = json!({"AccessToken": {"a": at("login.windows.net", "alias", now + 3600)}});
    cache.deserialize(&doc.to_string()).expect("loads");
    assert_eq!(
        lookup(&cache, "login.microsoftonline.com").as_deref(),
        Some("alias")
    );
    assert_eq!(lookup(&cache, "sts.windows.net").as_deref(), Some("alias"));
    // Another cloud, or a host without aliases, does not share it.
    assert_eq!(lookup(&cache, "login.microsoftonline.us"), None);
    assert_eq!(lookup(&cache, "login.contoso.com"), None);

    // An expired token in the query's own environment loses to a valid one of an alias; a
    // valid one of its own is served without looking further.
    let cache = TokenCache::new();
    let doc = json!({"AccessToken": {
        "a": at("login.microsoftonline.com", "own-expired", now - 10),
        "b": at("login.windows.net", "alias-valid", now + 3600),
    }});
    cache.deserialize(&doc.to_string()).expect("loads");
    assert_eq!(
        lookup(&cache, "login.microsoftonline.com").as_deref(),
        Some("alias-valid")
    );
    let cache = TokenCache::new();
    let doc = json!({"AccessToken": {
        "a": at("login.microsoftonline.com", "own-valid", now + 600),
        "b": at("login.windows.net", "alias-later", now + 3600),
    }});
    cache.deserialize(&doc.to_string()).expect("loads");
    assert_eq!(
        lookup(&cache, "login.microsoftonline.com").as_deref(),
        Some("own-valid")
    );
}

#[test]
fn entries_in_the_writers_shape_keep_no_text_and_others_keep_theirs() {
    // MSAL Python's own file: every entry comes out of the writer (no copy of its text).
    let doc = Document::parse(USER_CACHE).expect("reads");
    let kept = |d: &Document| {
        d.access_tokens
            .values()
            .filter(|e| matches!(e, Entry::Known(_, Some(_))))
            .count()
            + d.refresh_tokens
                .values()
                .filter(|e| matches!(e, Entry::Known(_, Some(_))))
                .count()
            + d.accounts
                .values()
                .filter(|e| matches!(e, Entry::Known(_, Some(_))))
                .count()
            + d.id_tokens
                .values()
                .filter(|e| matches!(e, Entry::Known(_, Some(_))))
                .count()
            + d.app_metadata
                .values()
                .filter(|e| matches!(e, Entry::Known(_, Some(_))))
                .count()
    };
    assert_eq!(kept(&doc), 0);
    assert_eq!(doc.to_json().expect("writes"), USER_CACHE.trim_end());
    // The complete reading (taken for escape sequences, numbers, ...) keeps none either.
    let complete = Document::parse_complete_only(USER_CACHE).expect("reads");
    assert_eq!(kept(&complete), 0);
    // The same entries, each changed the way another MSAL writes: every one keeps its text.
    let mut v: Value = serde_json::from_str(USER_CACHE).expect("json");
    let mut n = 0;
    for section in [
        "AccessToken",
        "RefreshToken",
        "IdToken",
        "Account",
        "AppMetadata",
    ] {
        if let Some(m) = v[section].as_object_mut() {
            for e in m.values_mut() {
                // The first member moved last: out of the writer's order.
                let o = e.as_object_mut().expect("entry");
                let first = o.keys().next().cloned().expect("a member");
                let value = o.shift_remove(&first).expect("member");
                o.insert(first, value);
                n += 1;
            }
        }
    }
    let text = serde_json::to_string(&v).expect("json");
    let doc = Document::parse(&text).expect("reads");
    assert_eq!(kept(&doc), n);
    let again = Document::parse(&doc.to_json().expect("writes")).expect("reads");
    assert_eq!(
        again.to_json().expect("writes"),
        doc.to_json().expect("writes")
    );
}

#[test]
fn a_new_access_token_replaces_the_same_one_under_another_alias() {
    // MSAL Node's entry for the same app token, under login.windows.net; MSAL Node drops every
    // match when it finds two, so the superseded one must go.
    let now = 1_700_000_000;
    let at = |env: &str, realm: &str, target: &str, secret: &str| {
        json!({
            "home_account_id": "", "environment": env, "credential_type": "AccessToken",
            "client_id": CID, "secret": secret, "realm": realm, "target": target,
            "cached_at": now.to_string(), "expires_on": (now + 3600).to_string(),
            "extended_expires_on": (now + 3600).to_string(), "token_type": "Bearer"
        })
    };
    let doc = json!({"AccessToken": {
        "same-slot": at("login.windows.net", "contoso", "S1 s2", "old"),
        "other-scopes": at("login.windows.net", "contoso", "s1", "keep-1"),
        "other-realm": at("login.windows.net", "fabrikam", "s1 s2", "keep-2"),
        "other-cloud": at("login.microsoftonline.us", "contoso", "s1 s2", "keep-3"),
    }});
    let cache = TokenCache::new();
    cache.deserialize(&doc.to_string()).expect("loads");
    let s = scopes(&["s1", "s2"]);
    let r = response(
        json!({"access_token": "new", "expires_in": 3600, "token_type": "Bearer", "scope": "s1 s2"}),
    );
    let e = event(
        "login.microsoftonline.com",
        "contoso",
        &s,
        &r,
        "client_credentials",
        now,
    );
    block_on(cache.write(
        &PartitionKey::whole(),
        Operation::Add {
            entries: NewEntries::from_event(&e),
            based_on: None,
        },
        now,
    ))
    .expect("added");
    let out: Value = serde_json::from_str(&cache.serialize().expect("writes")).expect("json");
    let ats = out["AccessToken"].as_object().expect("section");
    let mut secrets: Vec<&str> = ats.values().filter_map(|v| v["secret"].as_str()).collect();
    secrets.sort_unstable();
    assert_eq!(secrets, ["keep-1", "keep-2", "keep-3", "new"]);
    // The entries kept are unchanged (MSAL Node's "" home account stays "").
    assert_eq!(ats["other-scopes"], doc["AccessToken"]["other-scopes"]);
}

#[test]
fn a_new_access_token_replaces_the_same_one_stored_under_another_key() {
    // MSAL Node's AD FS sign-in: its target keeps the response's scope order ("User.Read
    // profile openid") where msal-rs sorts it, so the same token has another key in the same
    // environment; left next to the new one, MSAL Node finds two matches and drops both.
    // (An app token here, as MSAL Node writes them: home_account_id "".)
    let now = 1_700_000_000;
    let hid = "";
    let at = |target: &str, secret: &str| {
        json!({
            "home_account_id": hid, "environment": "fs.contoso.com",
            "credential_type": "AccessToken", "client_id": CID, "secret": secret,
            "realm": "adfs", "target": target, "cached_at": now.to_string(),
            "expires_on": (now + 3600).to_string(),
            "extended_expires_on": (now + 3600).to_string(), "token_type": "bearer"
        })
    };
    let node_key = format!(
        "{hid}-fs.contoso.com-accesstoken-{}-adfs-https://graph.microsoft.com/user.read profile openid-",
        CID.to_ascii_lowercase()
    );
    let doc = json!({"AccessToken": {
        node_key.as_str(): at("https://graph.microsoft.com/User.Read profile openid", "node"),
        "other-scopes": at("https://graph.microsoft.com/Mail.Read openid profile", "keep"),
    }});
    let cache = TokenCache::new();
    cache.deserialize(&doc.to_string()).expect("loads");
    let s = scopes(&["https://graph.microsoft.com/User.Read"]);
    let r = response(json!({
        "access_token": "new", "expires_in": 3600, "token_type": "bearer",
        "scope": "https://graph.microsoft.com/User.Read openid profile"
    }));
    let e = event("fs.contoso.com", "adfs", &s, &r, "client_credentials", now);
    block_on(cache.write(
        &PartitionKey::whole(),
        Operation::Add {
            entries: NewEntries::from_event(&e),
            based_on: None,
        },
        now,
    ))
    .expect("added");
    let out: Value = serde_json::from_str(&cache.serialize().expect("writes")).expect("json");
    let ats = out["AccessToken"].as_object().expect("section");
    let mut secrets: Vec<&str> = ats.values().filter_map(|v| v["secret"].as_str()).collect();
    secrets.sort_unstable();
    assert_eq!(secrets, ["keep", "new"]);
    assert!(!ats.contains_key(&node_key));
    assert_eq!(ats["other-scopes"], doc["AccessToken"]["other-scopes"]);
}

#[test]
fn adfs_access_token_without_realm_and_with_a_negative_extended_expiry_is_a_token() {
    // As MSAL .NET writes an AD FS sign-in (its tests' Resources/token_cache_adfs.json): the
    // access token has no `realm`, and `extended_expires_on` is .NET's DateTime.MinValue.
    // MSAL Python reads such a token (and its sign-out removes it); so must msal-rs.
    let hid = "unZYjm1NugFLhP1l338bxhRYyHbtCYOWX1P+F2fCsiQ=";
    let at_key = "unzyjm1nugflhp1l338bxhryyhbtcyowx1p+f2fcsiq=-fs.msidlab8.com-accesstoken-publicclientid--openid";
    let file = json!({
        "AccessToken": {at_key: {
            "home_account_id": hid, "environment": "fs.msidlab8.com", "client_id": "PublicClientId",
            "secret": "adfs-at", "credential_type": "AccessToken", "target": "openid",
            "cached_at": "1613060010", "expires_on": "1613063610",
            "extended_expires_on": "-62135596800", "ext_expires_on": "-62135596800"
        }},
        "Account": {"adfs-account": {
            "home_account_id": hid, "environment": "fs.msidlab8.com",
            "username": "fidlab@msidlab8.com", "authority_type": "MSSTS"
        }}
    })
    .to_string();
    let cache = TokenCache::new();
    cache.deserialize(&file).expect("loads");
    let s = scopes(&["openid"]);
    let found = cache
        .find_access_token(&AccessTokenQuery {
            client_id: "PublicClientId",
            ..query(Some(hid), "fs.msidlab8.com", "", &s)
        })
        .expect("the token is read");
    assert_eq!(found.secret, "adfs-at");
    assert_eq!(found.extended_expires_on, 0);
    // Untouched, it is written back as it was read.
    let out: Value = serde_json::from_str(&cache.serialize().expect("ok")).expect("json");
    let original: Value = serde_json::from_str(&file).expect("json");
    assert_eq!(out["AccessToken"][at_key], original["AccessToken"][at_key]);
    // Signing the account out removes it.
    let account = cache.accounts().into_iter().next().expect("the account");
    block_on(cache.remove_account(&account)).expect("removed");
    let out: Value = serde_json::from_str(&cache.serialize().expect("ok")).expect("json");
    assert!(out["AccessToken"].get(at_key).is_none());
}

#[test]
fn accounts_of_other_authority_types_are_not_listed() {
    // MSAL Java's test cache AAD_cache_data/full_cache.json has `"authority_type":
    // "authority_type"`; MSAL Python lists only MSSTS and ADFS accounts.
    let account = |hid: &str, authority_type: &str| {
        json!({
            "home_account_id": hid, "environment": "login.windows.net", "realm": "contoso",
            "local_account_id": "oid", "username": "u@contoso.com",
            "authority_type": authority_type
        })
    };
    let file = json!({"Account": {
        "a": account("uid.aad", "MSSTS"),
        "b": account("uid.adfs", "ADFS"),
        "c": account("uid.placeholder", "authority_type"),
    }})
    .to_string();
    let cache = TokenCache::new();
    cache.deserialize(&file).expect("loads");
    let mut listed: Vec<String> = cache
        .accounts()
        .iter()
        .map(|a| a.home_account_id().to_owned())
        .collect();
    listed.sort();
    assert_eq!(listed, ["uid.aad", "uid.adfs"]);
    // The entry itself is kept.
    let out: Value = serde_json::from_str(&cache.serialize().expect("ok")).expect("json");
    assert_eq!(out["Account"]["c"]["authority_type"], "authority_type");
}

#[test]
fn access_tokens_are_served_only_for_their_token_type_and_key_id() {
    // Three tokens for the same scopes under distinct keys (as another SDK may leave them): a
    // Bearer token and two SSH certificates of different keys.
    let at = |secret: &str, token_type: &str, key_id: Option<&str>| {
        let key_id = key_id.map_or(String::new(), |k| format!(r#", "key_id": "{k}""#));
        format!(
            r#"{{"credential_type": "AccessToken", "secret": "{secret}", "home_account_id": "uid.utid", "environment": "e", "client_id": "{CID}", "target": "t", "realm": "r", "token_type": "{token_type}", "cached_at": "1", "expires_on": "9999999999", "extended_expires_on": "9999999999"{key_id}}}"#
        )
    };
    let doc = format!(
        r#"{{"AccessToken": {{"a": {}, "b": {}, "c": {}}}}}"#,
        at("bearer", "Bearer", None),
        at("cert-k1", "ssh-cert", Some("k1")),
        at("cert-k2", "ssh-cert", Some("k2")),
    );
    let cache = TokenCache::new();
    cache.deserialize(&doc).expect("loads");
    let t = scopes(&["t"]);
    let find = |token_type: &'static str, key_id: Option<&'static str>| {
        secret_of(cache.find_access_token(&AccessTokenQuery {
            binding: TokenBinding { token_type, key_id },
            ..query(Some("uid.utid"), "e", "r", &t)
        }))
    };
    assert_eq!(find("Bearer", None).as_deref(), Some("bearer"));
    assert_eq!(find("bearer", None).as_deref(), Some("bearer"));
    assert_eq!(find("ssh-cert", Some("k1")).as_deref(), Some("cert-k1"));
    assert_eq!(find("SSH-CERT", Some("k2")).as_deref(), Some("cert-k2"));
    assert_eq!(find("ssh-cert", Some("k3")), None);
    assert_eq!(find("ssh-cert", None), None);
    assert_eq!(find("Bearer", Some("k1")), None);
    assert_eq!(find("pop", Some("k1")), None);
}
