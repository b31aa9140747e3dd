//! Instance and tenant discovery (msal/authority.py): what an authority's endpoints are, whether its
//! host is a genuine Entra ID instance, and which hosts are its aliases.
//!
//! Discovery is lazy (never at construction), single-flighted per authority (concurrent
//! callers wait for one fetch; if that caller is cancelled the next waiter fetches), cached for
//! 24 hours per application, and a failure is never cached.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::{Authority, AuthorityKind, WORLD_WIDE, is_well_known_host, known_aliases};
use crate::clock::Clock;
use crate::error::{Error, ErrorKind, Result, ServiceError};
use crate::http::HttpContext;
use crate::http::token_request::get_json;

/// How long discovered metadata is reused.
pub(crate) const DISCOVERY_TTL: Duration = Duration::from_secs(24 * 3600);

/// What discovery learnt about an authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuthorityMetadata {
    pub(crate) token_endpoint: String,
    pub(crate) authorization_endpoint: Option<String>,
    pub(crate) device_authorization_endpoint: Option<String>,
    pub(crate) end_session_endpoint: Option<String>,
    pub(crate) issuer: Option<String>,
    /// The tenant as the token endpoint names it (a GUID for a domain tenant): the cache realm.
    pub(crate) realm: String,
    /// The configured host: the cache environment.
    pub(crate) environment: String,
    /// Hosts sharing tokens with this one (itself included).
    pub(crate) aliases: Vec<String>,
    pub(crate) is_adfs: bool,
    fetched_at: SystemTime,
}

/// The switches that decide how much discovery checks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DiscoveryOptions {
    /// Check unknown Entra hosts through instance discovery.
    pub(crate) validate_authority: bool,
    /// Use instance discovery at all (also for aliases).
    pub(crate) instance_discovery: bool,
    /// Accept http endpoints on loopback hosts.
    pub(crate) allow_http_loopback: bool,
}

/// One authority's cached metadata and the lock that single-flights its fetch.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    ready: RwLock<Option<Arc<AuthorityMetadata>>>,
    fetching: tokio::sync::Mutex<()>,
}

impl Slot {
    /// The metadata if it was fetched less than 24 hours ago.
    pub(crate) fn fresh(&self, now: SystemTime) -> Option<Arc<AuthorityMetadata>> {
        let guard = self.ready.read().unwrap_or_else(PoisonError::into_inner);
        let m = guard.as_ref()?;
        let age = now.duration_since(m.fetched_at).unwrap_or(Duration::ZERO);
        (age < DISCOVERY_TTL).then(|| Arc::clone(m))
    }

    /// Resolves the metadata: from this slot if fresh, else by one fetch shared with every
    /// concurrent caller.
    pub(crate) async fn resolve(
        &self,
        ctx: &HttpContext,
        clock: &dyn Clock,
        authority: &Authority,
        opts: DiscoveryOptions,
    ) -> Result<Arc<AuthorityMetadata>> {
        if let Some(m) = self.fresh(clock.now()) {
            return Ok(m);
        }
        let _leader = self.fetching.lock().await;
        if let Some(m) = self.fresh(clock.now()) {
            return Ok(m);
        }
        let m = Arc::new(fetch(ctx, authority, opts, clock.now()).await?);
        *self.ready.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&m));
        Ok(m)
    }
}

/// The discovery cache of one application: a slot per authority URL (hashed with foldhash:
/// a per-request tenant override looks its slot up on every cache hit).
#[derive(Debug, Default)]
pub(crate) struct DiscoveryCache {
    slots: RwLock<HashMap<String, Arc<Slot>, foldhash::fast::RandomState>>,
}

impl DiscoveryCache {
    /// The slot of `authority`, created on first use.
    pub(crate) fn slot(&self, authority: &Authority) -> Arc<Slot> {
        if let Some(s) = self
            .slots
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(authority.as_str())
        {
            return Arc::clone(s);
        }
        let mut w = self.slots.write().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(w.entry(authority.as_str().to_owned()).or_default())
    }
}

fn discovery_error(message: String, status: u16, body: &Value) -> Error {
    match ServiceError::from_json(status, body) {
        Some(s) => Error::with_service(ErrorKind::Discovery, message, s),
        None => Error::new(ErrorKind::Discovery, message),
    }
    .at_http_status(status)
}

fn endpoint(doc: &Value, name: &str, opts: DiscoveryOptions) -> Result<Option<String>> {
    let Some(v) = doc.get(name) else {
        return Ok(None);
    };
    let s = v.as_str().ok_or_else(|| {
        Error::new(
            ErrorKind::Discovery,
            format!("the discovery document's {name} is not a string"),
        )
    })?;
    let url = url::Url::parse(s).map_err(|_| {
        Error::new(
            ErrorKind::Discovery,
            format!("the discovery document's {name} is not a URL"),
        )
    })?;
    let loopback_http = opts.allow_http_loopback
        && url.scheme() == "http"
        && url.host_str().is_some_and(|h| {
            h == "localhost"
                || h.trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        });
    if url.scheme() != "https" && !loopback_http {
        return Err(Error::new(
            ErrorKind::Discovery,
            format!("the discovery document's {name} is not https"),
        ));
    }
    Ok(Some(s.to_owned()))
}

/// MSAL's rules for the `issuer` an OIDC authority's discovery document names (msal/authority.py).
fn issuer_is_valid(authority: &Authority, issuer: &str) -> bool {
    let a = authority.as_str().trim_end_matches('/');
    if issuer.trim_end_matches('/').eq_ignore_ascii_case(a) {
        return true;
    }
    let Ok(iu) = url::Url::parse(issuer) else {
        return false;
    };
    let Some(ih) = iu.host_str().map(str::to_ascii_lowercase) else {
        return false;
    };
    if is_well_known_host(&ih) {
        return true;
    }
    if let Some((label, base)) = ih.split_once('.')
        && !label.is_empty()
        && (is_well_known_host(base) || base == authority.host())
    {
        return true;
    }
    if iu.scheme() == "https" && ih == authority.host() && iu.port() == authority.port {
        return true;
    }
    super::B2C_HOST_SUFFIXES
        .iter()
        .any(|b| ih.ends_with(&format!(".{b}")))
}

async fn fetch(
    ctx: &HttpContext,
    authority: &Authority,
    opts: DiscoveryOptions,
    now: SystemTime,
) -> Result<AuthorityMetadata> {
    let mut aliases: Option<Vec<String>> =
        known_aliases(authority.host()).map(|a| a.iter().map(|h| (*h).to_owned()).collect());
    let mut tenant_discovery = authority.tenant_discovery_url();
    let needs_instance_discovery = authority.kind() == AuthorityKind::Aad
        && !is_well_known_host(authority.host())
        && opts.validate_authority
        && opts.instance_discovery
        && !authority.is_known_to_developer();
    if needs_instance_discovery {
        let mut url =
            url::Url::parse(&format!("https://{WORLD_WIDE}/common/discovery/instance"))
                .map_err(|_| Error::new(ErrorKind::Discovery, "invalid instance discovery URL"))?;
        url.query_pairs_mut()
            .append_pair("api-version", "1.1")
            .append_pair(
                "authorization_endpoint",
                &authority.authorize_endpoint_for_instance_discovery(),
            );
        let (status, body) = get_json(ctx, url.as_str(), true, None).await?;
        let (t, a) = read_instance_discovery(authority, opts, status, &body)?;
        if let Some(t) = t {
            tenant_discovery = t;
        }
        aliases = a.or(aliases);
    }

    let (status, doc) = get_json(ctx, &tenant_discovery, false, None).await?;
    read_discovery_document(authority, opts, status, &doc, aliases, now)
}

/// Reads an instance discovery answer (`/common/discovery/instance`, as MSAL Python's
/// `authority.py` uses it): the tenant discovery endpoint it names, if any, and the aliases of
/// the authority's host, if it lists them.
pub(crate) fn read_instance_discovery(
    authority: &Authority,
    opts: DiscoveryOptions,
    status: u16,
    body: &Value,
) -> Result<(Option<String>, Option<Vec<String>>)> {
    if status != 200 || body.get("error").is_some() {
        return Err(discovery_error(
            format!(
                "instance discovery does not know the authority host {} (HTTP {status}); an authority outside Entra ID needs validation turned off in the dangerous options",
                authority.host()
            ),
            status,
            body,
        ));
    }
    let tenant_discovery = endpoint(body, "tenant_discovery_endpoint", opts)?;
    let aliases = body
        .get("metadata")
        .and_then(Value::as_array)
        .and_then(|groups| {
            groups.iter().find_map(|g| {
                let a: Vec<String> = g
                    .get("aliases")?
                    .as_array()?
                    .iter()
                    .filter_map(|h| h.as_str().map(str::to_ascii_lowercase))
                    .collect();
                a.iter().any(|h| h == authority.host()).then_some(a)
            })
        });
    Ok((tenant_discovery, aliases))
}

/// Reads an OpenID Connect discovery document (OpenID Connect Discovery 1.0 §3) into the
/// authority's metadata.
pub(crate) fn read_discovery_document(
    authority: &Authority,
    opts: DiscoveryOptions,
    status: u16,
    doc: &Value,
    aliases: Option<Vec<String>>,
    now: SystemTime,
) -> Result<AuthorityMetadata> {
    if status != 200 {
        return Err(discovery_error(
            format!(
                "OpenID Connect discovery for {} failed with HTTP {status}",
                authority.as_str()
            ),
            status,
            doc,
        ));
    }
    let token_endpoint = endpoint(doc, "token_endpoint", opts)?.ok_or_else(|| {
        Error::new(
            ErrorKind::Discovery,
            "the discovery document has no token_endpoint",
        )
    })?;
    let issuer = doc.get("issuer").and_then(Value::as_str).map(str::to_owned);
    if authority.kind() == AuthorityKind::Oidc {
        match &issuer {
            Some(i) if issuer_is_valid(authority, i) => {}
            _ => {
                return Err(Error::new(
                    ErrorKind::Discovery,
                    "the OpenID Connect issuer does not match the authority",
                ));
            }
        }
    }
    let realm = url::Url::parse(&token_endpoint)
        .ok()
        .and_then(|u| {
            u.path_segments()
                .and_then(|mut s| s.find(|p| !p.is_empty()).map(str::to_owned))
        })
        .unwrap_or_else(|| authority.tenant_name().to_owned());
    Ok(AuthorityMetadata {
        authorization_endpoint: endpoint(doc, "authorization_endpoint", opts)?,
        device_authorization_endpoint: endpoint(doc, "device_authorization_endpoint", opts)?,
        end_session_endpoint: endpoint(doc, "end_session_endpoint", opts)?,
        token_endpoint,
        issuer,
        realm,
        environment: authority.host().to_owned(),
        aliases: aliases.unwrap_or_else(|| vec![authority.host().to_owned()]),
        is_adfs: authority.kind() == AuthorityKind::Adfs,
        fetched_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_rules() {
        let a = Authority::oidc("https://login.contoso.com/tid").expect("valid");
        assert!(issuer_is_valid(&a, "https://login.contoso.com/tid/"));
        assert!(issuer_is_valid(&a, "https://login.contoso.com/other"));
        assert!(issuer_is_valid(&a, "https://tenant.login.contoso.com/x"));
        assert!(issuer_is_valid(
            &a,
            "https://login.microsoftonline.com/x/v2.0"
        ));
        assert!(issuer_is_valid(&a, "https://x.b2clogin.com/y"));
        assert!(!issuer_is_valid(&a, "https://evil.example/tid"));
        assert!(!issuer_is_valid(&a, "https://a.b.login.contoso.com/tid"));
        assert!(!issuer_is_valid(&a, "http://login.contoso.com/tid"));
        assert!(!issuer_is_valid(&a, "not a url"));
    }
}
