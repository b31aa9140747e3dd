//! What every application shares, whatever its kind: identity (client id, authority), its
//! discovery cache, transport, token cache, clock and options. Apps are cheap handles over an
//! `Arc` of this.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use super::options::RequestOptions;
use crate::authority::Authority;
use crate::authority::discovery::{AuthorityMetadata, DiscoveryCache, DiscoveryOptions, Slot};
use crate::cache::TokenCache;
use crate::clock::Clock;
use crate::error::Result;
use crate::flow::claims::merge_claims_and_capabilities;
use crate::http::HttpContext;

pub(crate) struct AppCore {
    pub(crate) client_id: String,
    pub(crate) authority: Authority,
    /// The configured authority's discovery slot, held directly for the cache-hit path.
    pub(crate) authority_slot: Arc<Slot>,
    pub(crate) discovery: DiscoveryCache,
    pub(crate) discovery_opts: DiscoveryOptions,
    pub(crate) http: HttpContext,
    pub(crate) cache: TokenCache,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) client_capabilities: Vec<String>,
}

impl fmt::Debug for AppCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("client_id", &self.client_id)
            .field("authority", &self.authority)
            .field("client_capabilities", &self.client_capabilities)
            .finish_non_exhaustive()
    }
}

impl AppCore {
    pub(crate) fn now(&self) -> SystemTime {
        self.clock.now()
    }

    /// The authority of a request: the app's, or the request's own (e.g. another B2C
    /// policy), with the tenant overridden when the request says so.
    pub(crate) fn authority_for<'a>(
        &'a self,
        options: &'a RequestOptions,
    ) -> Result<Cow<'a, Authority>> {
        let base = match &options.authority {
            Some(a) => {
                a.validate(self.discovery_opts.allow_http_loopback)?;
                a
            }
            None => &self.authority,
        };
        match options.tenant.as_deref() {
            None => Ok(Cow::Borrowed(base)),
            Some(t) => Ok(Cow::Owned(base.with_tenant(t)?)),
        }
    }

    fn slot_for(&self, authority: &Authority) -> Arc<Slot> {
        if *authority == self.authority {
            Arc::clone(&self.authority_slot)
        } else {
            self.discovery.slot(authority)
        }
    }

    /// The authority's metadata if discovery already ran and is fresh: no I/O, no waiting.
    pub(crate) fn cached_metadata(&self, authority: &Authority) -> Option<Arc<AuthorityMetadata>> {
        let now = self.now();
        if *authority == self.authority {
            self.authority_slot.fresh(now)
        } else {
            self.discovery.slot(authority).fresh(now)
        }
    }

    /// The authority's metadata, discovering it if needed (single-flighted).
    pub(crate) async fn metadata(&self, authority: &Authority) -> Result<Arc<AuthorityMetadata>> {
        let slot = self.slot_for(authority);
        slot.resolve(
            &self.http,
            self.clock.as_ref(),
            authority,
            self.discovery_opts,
        )
        .await
    }

    /// The `claims` field to send: the challenge merged with the client capabilities.
    pub(crate) fn claims(&self, challenge: Option<&str>) -> Result<Option<String>> {
        merge_claims_and_capabilities(&self.client_capabilities, challenge)
    }
}
