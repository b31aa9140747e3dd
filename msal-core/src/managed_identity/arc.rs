//! Azure Arc-enabled servers: a challenge, then the token (msal/managed_identity.py
//! `_obtain_token_on_arc`).
//!
//! 1. `GET {endpoint}?api-version=2020-06-01&resource=…` with `Metadata: true` must be
//!    answered `401` with `WWW-Authenticate: Basic realm=<path of a key file>`.
//! 2. The key is read from `<key directory>/<file name of the realm, without extension>.key`:
//!    only from the fixed directory the Arc agent writes to (a realm naming another directory
//!    reads nothing there), only a regular file of at most 4096 bytes.
//! 3. The same GET with `Authorization: Basic <key>`.
//! 4. For a user-assigned identity, the answer must name the identity asked for (its client
//!    id, object id or resource id, compared case-insensitively), or nothing is returned: a
//!    token for another identity must never be used in its place (fail closed).

use std::io::Read as _;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Map, Value};
use url::Url;

use super::identity::{ManagedIdentity, UserAssignedId};
use super::retry::Policy;
use super::sources::{IdNames, has_token, id_param};
use super::wire::{self, ATTEMPT_TIMEOUT, Outgoing};
use crate::clock::Clock;
use crate::error::{Error, ErrorKind, Result};
use crate::http::HttpClient;

const API_VERSION: &str = "2020-06-01";
const ID_NAMES: IdNames = IdNames {
    client_id: "client_id",
    resource_id: "msi_res_id",
    object_id: "object_id",
};
/// The largest key file read (the agent's keys are far smaller).
pub(crate) const MAX_KEY_FILE_BYTES: u64 = 4096;

fn request(url: &Url, resource: &str, identity: &ManagedIdentity) -> Outgoing {
    let mut params = vec![("api-version", API_VERSION), ("resource", resource)];
    params.extend(id_param(identity, &ID_NAMES));
    Outgoing::get(url, &params).header("Metadata", "true")
}

/// Runs the challenge and the token request; returns the token body.
pub(crate) async fn acquire(
    http: &dyn HttpClient,
    clock: &dyn Clock,
    url: &Url,
    key_dir: &Path,
    resource: &str,
    identity: &ManagedIdentity,
) -> Result<Map<String, Value>> {
    let first = request(url, resource, identity);
    let challenge = wire::send(http, clock, Policy::Default, ATTEMPT_TIMEOUT, &first).await?;
    let status = challenge.status().as_u16();
    if status != 401 {
        return Err(wire::service_error(
            status,
            "invalid_request",
            Some(wire::body_text(&challenge)),
            wire::retry_after_secs(&challenge),
        ));
    }
    let realm = challenge
        .headers()
        .get(http::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| bad_challenge("the challenge has no WWW-Authenticate header"))?;
    let key_file = key_file_for(realm, key_dir)?;
    let key = read_key(&key_file)?;
    let second = request(url, resource, identity)
        .header("Authorization", format!("Basic {}", key.expose_secret()));
    let resp = wire::send(http, clock, Policy::Default, ATTEMPT_TIMEOUT, &second).await?;
    let m = parse(&resp)?;
    check_echo(&m, identity)?;
    Ok(m)
}

fn bad_challenge(why: &str) -> Error {
    Error::new(
        ErrorKind::InvalidResponse,
        format!("the Azure Arc endpoint's challenge is not valid: {why}"),
    )
}

/// The key file a `WWW-Authenticate: Basic realm=<path>` challenge names, inside `key_dir`.
pub(crate) fn key_file_for(www_authenticate: &str, key_dir: &Path) -> Result<PathBuf> {
    let mut parts = www_authenticate.split('=');
    let (Some(scheme), Some(realm), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad_challenge("expected `Basic realm=<path>`"));
    };
    if !scheme.trim().eq_ignore_ascii_case("basic realm") {
        return Err(bad_challenge("expected `Basic realm=<path>`"));
    }
    if !cfg!(any(target_os = "linux", windows)) {
        return Err(Error::config(
            "Azure Arc managed identity is supported on Linux and Windows only",
        ));
    }
    // Only the file name counts, whichever separator the realm uses.
    let name = realm
        .trim()
        .trim_matches('"')
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("");
    let stem = match name.rfind('.') {
        Some(0) | None => name,
        Some(i) => name.get(..i).unwrap_or(name),
    };
    if stem.is_empty() || stem == "." || stem == ".." || stem.chars().any(char::is_control) {
        return Err(bad_challenge("the realm names no key file"));
    }
    Ok(key_dir.join(format!("{stem}.key")))
}

/// Reads the key: a regular file of at most [`MAX_KEY_FILE_BYTES`], checked before and while
/// reading (a FIFO or device is never opened).
pub(crate) fn read_key(path: &Path) -> Result<SecretString> {
    let io = |e: std::io::Error| {
        Error::with_source(
            ErrorKind::Credential,
            "the Azure Arc key file could not be read",
            e,
        )
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(Error::new(
            ErrorKind::Credential,
            "the Azure Arc key file is not a regular file",
        ));
    }
    if meta.len() > MAX_KEY_FILE_BYTES {
        return Err(Error::new(
            ErrorKind::Credential,
            format!("the Azure Arc key file is larger than {MAX_KEY_FILE_BYTES} bytes"),
        ));
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let mut buf = Vec::new();
    file.take(MAX_KEY_FILE_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(io)?;
    if u64::try_from(buf.len()).unwrap_or(u64::MAX) > MAX_KEY_FILE_BYTES {
        return Err(Error::new(
            ErrorKind::Credential,
            format!("the Azure Arc key file is larger than {MAX_KEY_FILE_BYTES} bytes"),
        ));
    }
    let key = String::from_utf8(buf)
        .map_err(|_| Error::new(ErrorKind::Credential, "the Azure Arc key is not UTF-8"))?;
    let key = key.trim_end_matches(['\r', '\n']);
    if key.is_empty() || key.chars().any(char::is_control) {
        return Err(Error::new(
            ErrorKind::Credential,
            "the Azure Arc key file is empty or holds control characters",
        ));
    }
    Ok(SecretString::from(key.to_owned()))
}

/// A token with `expires_in`; anything else is `invalid_request` (MSAL Python).
fn parse(resp: &http::Response<Vec<u8>>) -> Result<Map<String, Value>> {
    let status = resp.status().as_u16();
    match serde_json::from_slice::<Value>(resp.body()) {
        Ok(Value::Object(m)) if has_token(&m) && m.contains_key("expires_in") => Ok(m),
        _ => Err(wire::service_error(
            status,
            "invalid_request",
            Some(wire::body_text(resp)),
            wire::retry_after_secs(resp),
        )),
    }
}

/// Fails closed unless the answer names the user-assigned identity that was asked for.
fn check_echo(m: &Map<String, Value>, identity: &ManagedIdentity) -> Result<()> {
    let Some(id) = identity.user_assigned_id() else {
        return Ok(());
    };
    let fields: &[&str] = match id {
        UserAssignedId::ClientId(_) => &["client_id"],
        UserAssignedId::ObjectId(_) => &["object_id"],
        UserAssignedId::ResourceId(_) => &["msi_res_id", "mi_res_id"],
    };
    let echoed = fields
        .iter()
        .filter_map(|f| m.get(*f).and_then(Value::as_str))
        .any(|v| v.eq_ignore_ascii_case(id.value()));
    if echoed {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::Validation,
            "the Azure Arc endpoint's token does not name the user-assigned identity asked for; it was not used",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_key_file_is_always_in_the_key_directory() {
        let dir = Path::new("/var/opt/azcmagent/tokens");
        for (header, want) in [
            ("Basic realm=/var/opt/azcmagent/tokens/abc.key", "abc.key"),
            ("basic realm=/tmp/../x/abc.txt", "abc.key"),
            ("BASIC REALM=C:\\ProgramData\\x\\abc.key", "abc.key"),
            ("Basic realm=abc", "abc.key"),
            (" Basic realm =/a/b.c.key", "b.c.key"),
        ] {
            assert_eq!(
                key_file_for(header, dir).unwrap(),
                dir.join(want),
                "{header}"
            );
        }
        for bad in [
            "Bearer realm=/x/abc.key",
            "Basic realm=/x/a=b.key",
            "Basic realm",
            "Basic realm=/x/",
            "Basic realm=/x/..",
            "Digest realm=/x/a.key",
        ] {
            assert!(key_file_for(bad, dir).is_err(), "{bad}");
        }
    }

    #[test]
    fn key_files_must_be_small_regular_files() {
        let dir = std::env::temp_dir().join(format!("msal-arc-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ok = dir.join("ok.key");
        std::fs::write(&ok, "the-key\n").unwrap();
        assert_eq!(read_key(&ok).unwrap().expose_secret(), "the-key");
        let big = dir.join("big.key");
        std::fs::write(&big, vec![b'a'; 4097]).unwrap();
        assert!(read_key(&big).is_err());
        let max = dir.join("max.key");
        std::fs::write(&max, vec![b'a'; 4096]).unwrap();
        assert!(read_key(&max).is_ok());
        assert!(read_key(&dir).is_err(), "a directory");
        assert!(read_key(&dir.join("missing.key")).is_err());
        let empty = dir.join("empty.key");
        std::fs::write(&empty, "").unwrap();
        assert!(read_key(&empty).is_err());
        let binary = dir.join("bin.key");
        std::fs::write(&binary, [0xffu8, 0xfe]).unwrap();
        assert!(read_key(&binary).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_user_assigned_answer_must_echo_the_id() {
        let by_client = ManagedIdentity::user_assigned(UserAssignedId::ClientId("AbC".into()));
        let by_res = ManagedIdentity::user_assigned(UserAssignedId::ResourceId("/R".into()));
        let ok = |m: serde_json::Value, id: &ManagedIdentity| {
            check_echo(m.as_object().unwrap(), id).is_ok()
        };
        assert!(ok(json!({"client_id": "abc"}), &by_client));
        assert!(!ok(json!({"client_id": "abd"}), &by_client));
        assert!(!ok(json!({}), &by_client));
        assert!(!ok(json!({"object_id": "abc"}), &by_client));
        assert!(ok(json!({"msi_res_id": "/r"}), &by_res));
        assert!(ok(json!({"mi_res_id": "/R"}), &by_res));
        assert!(!ok(json!({"client_id": "/R"}), &by_res));
        assert!(ok(json!({}), &ManagedIdentity::SystemAssigned));
    }
}
