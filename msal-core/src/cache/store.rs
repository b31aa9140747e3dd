//! The seam between the token cache and where it is persisted: [`CacheStore`].
//!
//! A backend stores *partitions*: named units of MSAL-format JSON bytes, each with a
//! [`Version`]. The cache never hands a backend a merged state to overwrite blindly; every
//! write is an operation the cache applies to the partition's freshest bytes inside
//! [`CacheStore::modify`], under the backend's lock or by compare-and-set with retry. Backends
//! see only bytes and versions: parsing, indexing and the cache rules stay in msal-core.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;

/// What a partition holds, which decides how long a backend may keep it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PartitionKind {
    /// The app's own tokens (client credentials) for one tenant: `{client_id}_{tenant}_AppTokenCache`.
    App,
    /// Tokens obtained on behalf of one incoming user assertion: `{client_id}_{assertion hash}_Obo`.
    OnBehalfOf,
    /// One user's tokens and account: the home account id.
    User,
    /// Everything, in one unit (a backend that does not partition, such as a file).
    Whole,
}

/// The name of a partition (MSAL.NET's suggested cache keys).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PartitionKey {
    kind: PartitionKind,
    key: Arc<str>,
}

impl PartitionKey {
    /// The app tokens of `client_id` in `tenant` (the realm the token endpoint names).
    pub fn app(client_id: &str, tenant: &str) -> PartitionKey {
        PartitionKey {
            kind: PartitionKind::App,
            key: format!("{client_id}_{}_AppTokenCache", tenant.to_ascii_lowercase()).into(),
        }
    }

    /// The on-behalf-of tokens of `client_id` for the assertion whose hash is `assertion_hash`.
    pub fn on_behalf_of(client_id: &str, assertion_hash: &str) -> PartitionKey {
        PartitionKey {
            kind: PartitionKind::OnBehalfOf,
            key: format!("{client_id}_{assertion_hash}_Obo").into(),
        }
    }

    /// One user's tokens: `home_account_id` (`uid.utid`).
    pub fn user(home_account_id: &str) -> PartitionKey {
        PartitionKey {
            kind: PartitionKind::User,
            key: home_account_id.to_ascii_lowercase().into(),
        }
    }

    /// The key of `kind` named `key` (as [`as_str`](Self::as_str) gives it).
    pub(crate) fn from_parts(kind: PartitionKind, key: &str) -> PartitionKey {
        PartitionKey {
            kind,
            key: Arc::from(key),
        }
    }

    /// The single partition of a store that keeps everything in one unit.
    pub fn whole() -> PartitionKey {
        PartitionKey {
            kind: PartitionKind::Whole,
            key: Arc::from("msal_token_cache"),
        }
    }

    /// The key as a string, for use in a backend's own key space.
    pub fn as_str(&self) -> &str {
        &self.key
    }

    /// What the partition holds.
    pub fn kind(&self) -> PartitionKind {
        self.kind
    }
}

impl fmt::Debug for PartitionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // User partition keys are home account ids: identifiers, not secrets, but personal
        // enough to keep out of logs by default.
        match self.kind {
            PartitionKind::User => f.write_str("PartitionKey(User, <home account>)"),
            _ => write!(f, "PartitionKey({:?}, {})", self.kind, self.key),
        }
    }
}

/// A backend-defined version of a partition: equal versions mean equal contents.
///
/// A version, once given to some contents of a partition, is never given to other contents
/// of that partition, even after the partition was deleted, expired or lost (a backend
/// restarted without its data): a reader holding the old version would otherwise take the new
/// contents for [`Unchanged`](ReadOutcome::Unchanged) and keep serving what it has. A counter
/// that starts again from the same value in a new partition breaks this; a random or
/// time-based start does not.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Version(Arc<[u8]>);

impl Version {
    /// A version from the backend's own representation (a counter, file metadata, an etag).
    pub fn new(bytes: impl AsRef<[u8]>) -> Version {
        Version(Arc::from(bytes.as_ref()))
    }

    /// The backend's representation.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version(")?;
        for b in self.0.iter() {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// A partition's contents as stored.
#[derive(Clone)]
pub struct Snapshot {
    /// MSAL-format JSON.
    pub data: Arc<[u8]>,
    /// The version these bytes are.
    pub version: Version,
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("bytes", &self.data.len())
            .field("version", &self.version)
            .finish()
    }
}

/// The answer of [`CacheStore::read`].
#[derive(Debug, Clone)]
pub enum ReadOutcome {
    /// The partition does not exist.
    Missing,
    /// The partition is still at the version the caller knows.
    Unchanged,
    /// The partition's current contents.
    Current(Snapshot),
}

/// What a modification wants written.
#[derive(Debug)]
pub struct Written {
    /// The new MSAL-format JSON of the partition.
    pub data: Vec<u8>,
    /// How long the backend should keep the partition, when it expires data (the latest
    /// access-token expiry for app partitions; `None` for partitions holding refresh tokens,
    /// which carry no expiry — the backend applies its own sliding lifetime).
    pub expires_in: Option<Duration>,
}

/// A change a store announces through [`CacheStore::watch`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Invalidation {
    /// The partition with this key ([`PartitionKey::as_str`]) was written by some client
    /// (possibly this one).
    Partition(String),
    /// Announcements may have been missed (the store's subscription was (re)established after
    /// a gap, or the receiver fell behind): every partition may have changed.
    All,
}

/// The stream of [`CacheStore::watch`]: it ends when the store stops announcing changes for
/// good.
pub type Invalidations = futures_util::stream::BoxStream<'static, Invalidation>;

/// A modification: given the partition as currently stored (`None` when it does not exist:
/// its bytes and version, so the cache can skip re-parsing bytes it already holds), the bytes
/// to write (`Ok(None)`: nothing to change). It may run several times, each time on fresher
/// data, until the backend writes without a conflict.
pub type Modify<'a> = dyn FnMut(Option<&Snapshot>) -> Result<Option<Written>> + Send + 'a;

/// Where the token cache persists: a file shared with other processes and MSALs, Redis shared by
/// a fleet, or anything that can store versioned bytes.
///
/// Errors are [`ErrorKind::Cache`](crate::ErrorKind::Cache) errors. The cache treats a failing
/// store as a miss on reads and keeps acquisitions working through the identity provider.
#[async_trait]
pub trait CacheStore: Send + Sync + fmt::Debug + 'static {
    /// Reads a partition, unless it is still at `known`. With `consistent`, the read must not
    /// observe a half-written partition (a file store takes its lock): the cache asks for that
    /// before it calls data corrupt.
    async fn read(
        &self,
        partition: &PartitionKey,
        known: Option<&Version>,
        consistent: bool,
    ) -> Result<ReadOutcome>;

    /// Replaces a partition with what `modify` makes of its current bytes, atomically with
    /// respect to every other writer: under an exclusive lock, or by compare-and-set, calling
    /// `modify` again on the newer bytes after a conflict. Returns what is stored afterwards
    /// (`None` when the partition does not exist and `modify` wrote nothing).
    async fn modify(
        &self,
        partition: &PartitionKey,
        modify: &mut Modify<'_>,
    ) -> Result<Option<Snapshot>>;

    /// True when the store keeps partitions apart (a key each); false when everything lives in
    /// one unit, in which case the cache uses [`PartitionKey::whole`] for everything.
    fn is_partitioned(&self) -> bool;

    /// The partitions other writers change, as they change them, when the store can announce
    /// that (Redis pub/sub); `None` (the default) when it cannot.
    ///
    /// A [`TokenCache`](crate::TokenCache) over the store listens from its first use inside a
    /// Tokio runtime and marks each announced partition stale, so that the next read asks the
    /// store again instead of serving memory for up to
    /// [`max_staleness`](crate::cache::CacheOptions::max_staleness). Announcements are a
    /// shortcut, not a guarantee: `max_staleness` still bounds what memory serves when they are
    /// late or lost. A store sends [`Invalidation::All`] whenever it may have missed some (its
    /// subscription was down), and its own writes may be announced too (costing the cache one
    /// version check).
    fn watch(&self) -> Option<Invalidations> {
        None
    }
}

#[async_trait]
impl<T: CacheStore + ?Sized> CacheStore for Arc<T> {
    async fn read(
        &self,
        partition: &PartitionKey,
        known: Option<&Version>,
        consistent: bool,
    ) -> Result<ReadOutcome> {
        (**self).read(partition, known, consistent).await
    }

    async fn modify(
        &self,
        partition: &PartitionKey,
        modify: &mut Modify<'_>,
    ) -> Result<Option<Snapshot>> {
        (**self).modify(partition, modify).await
    }

    fn is_partitioned(&self) -> bool {
        (**self).is_partitioned()
    }

    fn watch(&self) -> Option<Invalidations> {
        (**self).watch()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_keys_follow_msal_net() {
        assert_eq!(
            PartitionKey::app("cid", "F645AD92-x").as_str(),
            "cid_f645ad92-x_AppTokenCache"
        );
        assert_eq!(PartitionKey::user("U.T").as_str(), "u.t");
        assert_eq!(
            PartitionKey::on_behalf_of("cid", "h").kind(),
            PartitionKind::OnBehalfOf
        );
        assert!(!format!("{:?}", PartitionKey::user("secret.ish")).contains("secret"));
    }
}
