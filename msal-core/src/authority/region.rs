//! Regional token endpoints (ESTS-R, msal/region.py): which Azure region a confidential client's
//! client-credentials requests go to, and the regional host of a central authority.
//!
//! The region comes from, in order: the builder ([`AzureRegion`]), else the environment
//! variable `MSAL_FORCE_REGION`. With [`AzureRegion::AutoDetect`] it is detected on the first
//! request that needs it: `REGION_NAME` (set by Azure Functions), else the Azure Instance
//! Metadata Service (IMDS). The IMDS probe is lazy (never at construction), bounded
//! ([`IMDS_PROBE_TIMEOUT`], connection included), made at most once per process for each IMDS
//! endpoint (concurrent first callers share it), and never sent through a proxy. When it
//! fails or times out, the app uses the central endpoint.
//!
//! The regional token endpoint is the central one (from the central authority's discovery) with
//! its host replaced; the regional host's own discovery document would name the same endpoint,
//! so it is not fetched. Only the host changes: the client assertion's `aud` stays central and
//! tokens are cached under the central host.
//!
//! Differences from MSAL Python 1.39, on purpose:
//! - IMDS is asked only for [`AzureRegion::AutoDetect`]. MSAL Python also asks it for an
//!   explicit region (to log a mismatch), during construction, where it can hang outside Azure.
//! - The probe has its own short deadline and its result (success or failure) is kept for the
//!   process; MSAL Python uses the app's HTTP timeout and probes once per app.
//! - Only Entra ID authorities get a region; MSAL Python would also build `{region}.{host}` for
//!   B2C, CIAM or AD FS authorities, which do not exist.
//! - An empty `MSAL_FORCE_REGION` counts as unset; MSAL Python rejects it.
//!
//! As MSAL Python 1.39: the probe is `GET /metadata/instance/compute?api-version=2021-02-01`
//! with `Metadata: true`, reading `location`; an invalid `REGION_NAME` or IMDS location is
//! dropped (logged), and `REGION_NAME` set means IMDS is not asked.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use serde_json::Value;

use super::{Authority, AuthorityKind};
use crate::error::{Error, Result};
use crate::http::{BypassProxy, HttpClient};

/// Which Azure region's token service (ESTS-R) a [`ConfidentialClient`] asks for its own
/// tokens ([`acquire_token_for_client`]). Other flows (on-behalf-of, user sign-in, silent
/// refresh) always use the central endpoint, as in MSAL.
///
/// Only Microsoft Entra ID authorities get a regional endpoint: `{region}.login.microsoft.com`
/// for the public cloud's hosts (`login.microsoftonline.com`, `login.microsoft.com`,
/// `login.windows.net`, `sts.windows.net`), `{region}.{host}` for other clouds (e.g.
/// `usgovvirginia.login.microsoftonline.us`). The client assertion's `aud` stays the central
/// token endpoint and tokens are cached under the central host, so a regional and a central
/// app share tokens.
///
/// Not setting a region means: use `MSAL_FORCE_REGION` from the environment when it is set
/// (checked when the app is built), else no region.
///
/// ```
/// use msal_core::{Authority, AzureRegion, ClientCredential, ConfidentialClient, ErrorKind};
///
/// let client_id = "5e6a1c3d-0b1f-4f27-9a1e-7c3b2d4e5f60";
/// let app = ConfidentialClient::builder(client_id, ClientCredential::secret("s"))
///     .authority(Authority::tenant("contoso.onmicrosoft.com"))
///     .azure_region(AzureRegion::named("westus2"))
///     .build();
/// assert!(app.is_ok());
///
/// // A region is a lower-case DNS label; anything else fails at build time.
/// let bad = ConfidentialClient::builder(client_id, ClientCredential::secret("s"))
///     .azure_region(AzureRegion::named("West US 2"))
///     .build();
/// assert_eq!(bad.unwrap_err().kind(), ErrorKind::Configuration);
/// ```
///
/// [`ConfidentialClient`]: crate::ConfidentialClient
/// [`acquire_token_for_client`]: crate::ConfidentialClient::acquire_token_for_client
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AzureRegion {
    /// This region, e.g. `westus2`: a lower-case DNS label (`^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$`),
    /// checked when the app is built. IMDS is never asked (MSAL Python asks it anyway, only to
    /// log a mismatch, and can hang at construction outside Azure).
    Named(String),
    /// Detect the region on the first client-credentials request: `REGION_NAME` from the
    /// environment, else IMDS (`169.254.169.254`, at most [`IMDS_PROBE_TIMEOUT`], once per
    /// process). No region found → the central endpoint.
    AutoDetect,
    /// No region, whatever `MSAL_FORCE_REGION` says.
    Disabled,
}

impl AzureRegion {
    /// [`AzureRegion::Named`].
    pub fn named(region: impl Into<String>) -> AzureRegion {
        AzureRegion::Named(region.into())
    }
}

/// How long the IMDS probe of [`AzureRegion::AutoDetect`] may take, connection included.
pub const IMDS_PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Where IMDS lives on an Azure VM.
pub(crate) const IMDS_DEFAULT_ENDPOINT: &str = "http://169.254.169.254";

/// The compute metadata MSAL Python 1.39 reads the region from (`location`).
const IMDS_COMPUTE_PATH: &str = "/metadata/instance/compute?api-version=2021-02-01";

/// Hosts whose regional form is `{region}.login.microsoft.com` (MSAL's list).
const PUBLIC_CLOUD_HOSTS: [&str; 4] = [
    "login.microsoftonline.com",
    "login.microsoft.com",
    "login.windows.net",
    "sts.windows.net",
];

/// Reads an environment variable (replaceable in tests).
pub(crate) type EnvReader = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The process environment.
pub(crate) fn process_env() -> EnvReader {
    Arc::new(|name| std::env::var(name).ok())
}

/// True for a valid region name: `^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$` (msal/region.py).
pub(crate) fn is_valid_region(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_lowercase()
        && b[b.len() - 1] != b'-'
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

fn checked(region: &str, source: &str) -> Result<Arc<str>> {
    if is_valid_region(region) {
        Ok(Arc::from(region))
    } else {
        Err(Error::config(format!(
            "the Azure region {region:?} from {source} is not valid: it must be a lower-case DNS label (a letter, then letters, digits and inner hyphens, at most 63 characters), e.g. \"westus2\""
        )))
    }
}

/// The regional host of a central authority host (msal/application.py `_get_regional_authority`).
pub(crate) fn regional_host(region: &str, central_host: &str) -> String {
    if PUBLIC_CLOUD_HOSTS
        .iter()
        .any(|h| h.eq_ignore_ascii_case(central_host))
    {
        format!("{region}.login.microsoft.com")
    } else {
        format!("{region}.{central_host}")
    }
}

#[derive(Debug, Clone)]
enum Mode {
    Off,
    Fixed(Arc<str>),
    AutoDetect,
}

/// The region setting of one confidential client, resolved at build (no I/O) and, for
/// auto-detection, on first use.
pub(crate) struct Region {
    mode: Mode,
    imds_endpoint: String,
    env: EnvReader,
    detected: tokio::sync::OnceCell<Option<Arc<str>>>,
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Region")
            .field("mode", &self.mode)
            .field("imds_endpoint", &self.imds_endpoint)
            .finish_non_exhaustive()
    }
}

impl Region {
    /// Resolves the builder's choice and `MSAL_FORCE_REGION` (read from `env`). Fails on an
    /// invalid region name. No I/O.
    pub(crate) fn configure(
        explicit: Option<AzureRegion>,
        env: EnvReader,
        imds_endpoint: Option<&str>,
    ) -> Result<Region> {
        let mode = match explicit {
            Some(AzureRegion::Disabled) => Mode::Off,
            Some(AzureRegion::AutoDetect) => Mode::AutoDetect,
            Some(AzureRegion::Named(r)) => Mode::Fixed(checked(&r, "the builder")?),
            // An empty value counts as unset (MSAL Python rejects it).
            None => match env("MSAL_FORCE_REGION").filter(|v| !v.is_empty()) {
                Some(r) => Mode::Fixed(checked(&r, "MSAL_FORCE_REGION")?),
                None => Mode::Off,
            },
        };
        let imds_endpoint = match imds_endpoint {
            Some(e) => validate_imds_endpoint(e)?,
            None => IMDS_DEFAULT_ENDPOINT.to_owned(),
        };
        Ok(Region {
            mode,
            imds_endpoint,
            env,
            detected: tokio::sync::OnceCell::new(),
        })
    }

    /// The region to use, detecting it on first use for [`AzureRegion::AutoDetect`].
    pub(crate) async fn region(&self, http: &dyn HttpClient) -> Option<Arc<str>> {
        match &self.mode {
            Mode::Off => None,
            Mode::Fixed(r) => Some(Arc::clone(r)),
            Mode::AutoDetect => self
                .detected
                .get_or_init(|| detect(&self.env, http, &self.imds_endpoint))
                .await
                .clone(),
        }
    }

    /// Where a client-credentials request for `authority` goes: the regional form of its
    /// central `token_endpoint` when a region applies, else `token_endpoint` itself.
    pub(crate) async fn token_endpoint<'e>(
        &self,
        http: &dyn HttpClient,
        authority: &Authority,
        token_endpoint: &'e str,
    ) -> Cow<'e, str> {
        if matches!(self.mode, Mode::Off) {
            return Cow::Borrowed(token_endpoint);
        }
        if authority.kind() != AuthorityKind::Aad {
            tracing::debug!(
                kind = ?authority.kind(),
                "regional endpoints are for Entra ID authorities only; using the central endpoint"
            );
            return Cow::Borrowed(token_endpoint);
        }
        let Ok(mut url) = url::Url::parse(token_endpoint) else {
            return Cow::Borrowed(token_endpoint);
        };
        let central = match url.host() {
            Some(url::Host::Domain(h)) if url.scheme() == "https" => h.to_owned(),
            _ => return Cow::Borrowed(token_endpoint),
        };
        let Some(region) = self.region(http).await else {
            return Cow::Borrowed(token_endpoint);
        };
        let host = regional_host(&region, &central);
        if url.set_host(Some(&host)).is_err() {
            return Cow::Borrowed(token_endpoint);
        }
        tracing::debug!(region = %region, host = %host, "using the regional token endpoint");
        Cow::Owned(url.into())
    }
}

/// Checks a replacement IMDS endpoint: an http(s) URL without query or fragment; plain http only
/// to loopback, link-local or `localhost` (IMDS itself is plain http on a link-local address).
fn validate_imds_endpoint(endpoint: &str) -> Result<String> {
    let bad = || {
        Error::config(
            "the IMDS endpoint must be an http(s) URL without query or fragment; plain http only to a loopback or link-local address",
        )
    };
    let url = url::Url::parse(endpoint).map_err(|_| bad())?;
    let host = url.host_str().ok_or_else(bad)?;
    let ok = match url.scheme() {
        "https" => true,
        "http" => crate::http::is_local_host(host),
        _ => false,
    };
    if !ok || url.query().is_some() || url.fragment().is_some() {
        return Err(bad());
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// `REGION_NAME`, else IMDS.
async fn detect(env: &EnvReader, http: &dyn HttpClient, imds_endpoint: &str) -> Option<Arc<str>> {
    if let Some(name) = env("REGION_NAME").filter(|v| !v.is_empty()) {
        // As MSAL Python 1.39: an invalid REGION_NAME is dropped, and IMDS is not asked.
        return match checked(&name, "REGION_NAME") {
            Ok(r) => {
                tracing::debug!(region = %r, "region detected from REGION_NAME");
                Some(r)
            }
            Err(_) => {
                tracing::warn!(
                    "REGION_NAME is not a valid region name; using the central endpoint"
                );
                None
            }
        };
    }
    probe_cell(imds_endpoint)
        .get_or_init(|| probe_imds(http, imds_endpoint))
        .await
        .clone()
}

type ProbeCell = Arc<tokio::sync::OnceCell<Option<Arc<str>>>>;

/// The process-wide result of probing `endpoint`: every app of the process shares one probe.
fn probe_cell(endpoint: &str) -> ProbeCell {
    static CELLS: OnceLock<Mutex<HashMap<String, ProbeCell>>> = OnceLock::new();
    let mut cells = CELLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    Arc::clone(cells.entry(endpoint.to_owned()).or_default())
}

/// One bounded GET of the compute metadata; `None` on any failure.
async fn probe_imds(http: &dyn HttpClient, endpoint: &str) -> Option<Arc<str>> {
    let url = format!("{endpoint}{IMDS_COMPUTE_PATH}");
    let request = http::Request::builder()
        .method(http::Method::GET)
        .uri(&url)
        .header("Metadata", "true")
        .extension(BypassProxy)
        .body(Vec::new())
        .ok()?;
    tracing::debug!(endpoint, "asking IMDS for the region");
    let response = match tokio::time::timeout(IMDS_PROBE_TIMEOUT, http.send(request)).await {
        Err(_) => {
            tracing::warn!(
                endpoint,
                timeout_ms = IMDS_PROBE_TIMEOUT.as_millis() as u64,
                "IMDS did not answer in time (not on an Azure VM?); using the central endpoint"
            );
            return None;
        }
        Ok(Err(e)) => {
            tracing::warn!(endpoint, error = %e, "IMDS is unreachable (not on an Azure VM?); using the central endpoint");
            return None;
        }
        Ok(Ok(r)) => r,
    };
    let status = response.status().as_u16();
    let location = (status == 200)
        .then(|| serde_json::from_slice::<Value>(response.body()).ok())
        .flatten()
        .and_then(|v| v.get("location").and_then(Value::as_str).map(str::to_owned));
    match location {
        Some(l) if is_valid_region(&l) => {
            tracing::debug!(region = %l, "region detected from IMDS");
            Some(Arc::from(l))
        }
        _ => {
            tracing::warn!(
                endpoint,
                status,
                "IMDS gave no valid region; using the central endpoint"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn env(vars: &[(&'static str, &'static str)]) -> EnvReader {
        let vars = vars.to_vec();
        Arc::new(move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[derive(Debug, Default)]
    struct FakeImds {
        calls: AtomicUsize,
        body: &'static str,
    }

    #[async_trait::async_trait]
    impl HttpClient for FakeImds {
        async fn send(&self, req: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            assert_eq!(
                req.headers().get("Metadata").and_then(|v| v.to_str().ok()),
                Some("true")
            );
            assert!(req.extensions().get::<BypassProxy>().is_some());
            assert!(
                req.uri()
                    .to_string()
                    .ends_with("/metadata/instance/compute?api-version=2021-02-01")
            );
            tokio::task::yield_now().await;
            Ok(http::Response::builder()
                .status(200)
                .body(self.body.as_bytes().to_vec())
                .expect("valid"))
        }
    }

    #[test]
    fn region_names() {
        for ok in ["westus2", "a", "east-us-2", "a1", &"a".repeat(63)] {
            assert!(is_valid_region(ok), "{ok}");
        }
        for bad in [
            "",
            "West US",
            "WestUS",
            "westus-",
            "-westus",
            "1westus",
            "west_us",
            "west.us",
            "westus\n",
            &"a".repeat(64),
        ] {
            assert!(!is_valid_region(bad), "{bad:?}");
        }
    }

    #[test]
    fn regional_hosts() {
        for h in PUBLIC_CLOUD_HOSTS {
            assert_eq!(regional_host("westus2", h), "westus2.login.microsoft.com");
        }
        assert_eq!(
            regional_host("usgovvirginia", "login.microsoftonline.us"),
            "usgovvirginia.login.microsoftonline.us"
        );
        assert_eq!(
            regional_host("westus", "login.contoso.com"),
            "westus.login.contoso.com"
        );
    }

    #[test]
    fn configuration_order() {
        let mode = |explicit, vars: &[(&'static str, &'static str)]| {
            Region::configure(explicit, env(vars), None).map(|r| r.mode)
        };
        assert!(matches!(mode(None, &[]), Ok(Mode::Off)));
        assert!(
            matches!(mode(None, &[("MSAL_FORCE_REGION", "eastus")]), Ok(Mode::Fixed(r)) if &*r == "eastus")
        );
        assert!(matches!(
            mode(None, &[("MSAL_FORCE_REGION", "")]),
            Ok(Mode::Off)
        ));
        let e = mode(None, &[("MSAL_FORCE_REGION", "East US")]).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Configuration);
        assert!(e.to_string().contains("MSAL_FORCE_REGION"));
        assert!(matches!(
            mode(
                Some(AzureRegion::Disabled),
                &[("MSAL_FORCE_REGION", "East US")]
            ),
            Ok(Mode::Off)
        ));
        assert!(
            matches!(mode(Some(AzureRegion::named("westus")), &[("MSAL_FORCE_REGION", "eastus")]), Ok(Mode::Fixed(r)) if &*r == "westus")
        );
        assert!(matches!(
            mode(
                Some(AzureRegion::AutoDetect),
                &[("MSAL_FORCE_REGION", "eastus")]
            ),
            Ok(Mode::AutoDetect)
        ));
        assert!(mode(Some(AzureRegion::named("bad region")), &[]).is_err());
    }

    #[test]
    fn imds_endpoints() {
        let ok = |e: &str| validate_imds_endpoint(e).is_ok();
        assert!(ok("http://169.254.169.254"));
        assert!(ok("http://127.0.0.1:8080/"));
        assert!(ok("http://localhost:1"));
        assert!(ok("http://[::1]:1"));
        assert!(ok("https://imds.example"));
        assert!(!ok("http://imds.example"));
        assert!(!ok("http://127.0.0.1/?x=1"));
        assert!(!ok("ftp://127.0.0.1"));
        assert!(!ok("not a url"));
        assert_eq!(
            validate_imds_endpoint("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
    }

    #[tokio::test]
    async fn auto_detection_reads_region_name_first_then_imds_once() {
        let aad = Authority::tenant("contoso.onmicrosoft.com");
        let central = "https://login.microsoftonline.com/tid/oauth2/v2.0/token";
        let imds = FakeImds {
            body: r#"{"location":"centralus","name":"vm"}"#,
            ..Default::default()
        };

        // REGION_NAME wins; IMDS is not asked.
        let r = Region::configure(
            Some(AzureRegion::AutoDetect),
            env(&[("REGION_NAME", "eastus2")]),
            Some("http://127.0.0.1:1"),
        )
        .unwrap();
        assert_eq!(
            r.token_endpoint(&imds, &aad, central).await,
            "https://eastus2.login.microsoft.com/tid/oauth2/v2.0/token"
        );
        // An invalid REGION_NAME is dropped (MSAL Python 1.39), IMDS still not asked.
        let r = Region::configure(
            Some(AzureRegion::AutoDetect),
            env(&[("REGION_NAME", "East US 2")]),
            Some("http://127.0.0.1:2"),
        )
        .unwrap();
        assert_eq!(r.token_endpoint(&imds, &aad, central).await, central);
        assert_eq!(imds.calls.load(Ordering::SeqCst), 0);

        // IMDS: concurrent first callers of two apps share one probe.
        let endpoint = "http://127.0.0.1:3";
        let apps: Vec<Region> = (0..2)
            .map(|_| {
                Region::configure(Some(AzureRegion::AutoDetect), env(&[]), Some(endpoint)).unwrap()
            })
            .collect();
        let calls = futures_util::future::join_all(
            apps.iter()
                .cycle()
                .take(20)
                .map(|r| r.token_endpoint(&imds, &aad, central)),
        )
        .await;
        assert!(
            calls
                .iter()
                .all(|e| e == "https://centralus.login.microsoft.com/tid/oauth2/v2.0/token")
        );
        assert_eq!(imds.calls.load(Ordering::SeqCst), 1);

        // Non-AAD authorities never go regional, nor ask IMDS.
        let b2c = Authority::b2c("contoso.b2clogin.com", "contoso.onmicrosoft.com", "B2C_1_x");
        let fresh = Region::configure(
            Some(AzureRegion::AutoDetect),
            env(&[]),
            Some("http://127.0.0.1:4"),
        )
        .unwrap();
        let b2c_endpoint = "https://contoso.b2clogin.com/tid/b2c_1_x/oauth2/v2.0/token";
        assert_eq!(
            fresh.token_endpoint(&imds, &b2c, b2c_endpoint).await,
            b2c_endpoint
        );
        assert_eq!(imds.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn malformed_imds_answers_mean_no_region() {
        let aad = Authority::tenant("contoso.onmicrosoft.com");
        let central = "https://login.microsoftonline.com/tid/oauth2/v2.0/token";
        for (i, body) in [
            "not json",
            "[]",
            r#"{"location":7}"#,
            r#"{"location":"West US"}"#,
            "{}",
        ]
        .into_iter()
        .enumerate()
        {
            let imds = FakeImds {
                body,
                ..Default::default()
            };
            let endpoint = format!("http://127.0.0.1:{}", 100 + i);
            let r = Region::configure(Some(AzureRegion::AutoDetect), env(&[]), Some(&endpoint))
                .unwrap();
            assert_eq!(
                r.token_endpoint(&imds, &aad, central).await,
                central,
                "{body}"
            );
        }
    }
}
