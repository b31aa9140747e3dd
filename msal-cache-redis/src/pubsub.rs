//! The invalidation subscriber: one pub/sub connection, owned by the `RedisCache` (its task is
//! aborted when the last clone is dropped), reconnecting by itself.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::broadcast;
use tokio::task::AbortHandle;

/// A change announced on the invalidation channel: msal-core's [`Invalidation`], which
/// [`CacheStore::watch`](msal_core::cache::CacheStore::watch) hands to the token cache.
pub use msal_core::cache::Invalidation;

/// How often the subscriber pings its connection to notice one that died silently.
const PING_EVERY: Duration = Duration::from_secs(5);
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The running subscriber; aborts its task when dropped.
#[derive(Debug)]
pub(crate) struct Subscriber {
    pub(crate) sender: broadcast::Sender<Invalidation>,
    task: AbortHandle,
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Subscriber {
    pub(crate) fn start(
        runtime: &tokio::runtime::Handle,
        clients: Vec<redis::Client>,
        channel: String,
        timeout: Duration,
        capacity: usize,
    ) -> Subscriber {
        let (sender, _) = broadcast::channel(capacity.max(1));
        let tx = sender.clone();
        let task = runtime
            .spawn(run(clients, channel, timeout, tx))
            .abort_handle();
        Subscriber { sender, task }
    }
}

async fn connect(
    client: &redis::Client,
    channel: &str,
    timeout: Duration,
) -> Option<redis::aio::PubSub> {
    let attempt = async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(channel).await?;
        Ok::<_, redis::RedisError>(pubsub)
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(pubsub)) => Some(pubsub),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "redis invalidation subscriber: connection failed");
            None
        }
        Err(_) => {
            tracing::debug!("redis invalidation subscriber: connection timed out");
            None
        }
    }
}

/// Subscribes through the first client, then after each loss through the next one: on a
/// Redis Cluster a PUBLISH reaches every node, so any seed node will do.
async fn run(
    clients: Vec<redis::Client>,
    channel: String,
    timeout: Duration,
    tx: broadcast::Sender<Invalidation>,
) {
    let mut backoff = MIN_BACKOFF;
    let mut next = 0usize;
    loop {
        let Some(client) = clients.get(next % clients.len().max(1)) else {
            return;
        };
        next = next.wrapping_add(1);
        if let Some(pubsub) = connect(client, &channel, timeout).await {
            backoff = MIN_BACKOFF;
            // Whatever was published before this subscription existed is lost.
            let _ = tx.send(Invalidation::All);
            let (mut sink, mut stream) = pubsub.split();
            let mut ping = tokio::time::interval(PING_EVERY);
            ping.reset();
            loop {
                tokio::select! {
                    msg = stream.next() => match msg {
                        Some(msg) => match std::str::from_utf8(msg.get_payload_bytes()) {
                            Ok(key) => {
                                let _ = tx.send(Invalidation::Partition(key.to_owned()));
                            }
                            Err(_) => {
                                let _ = tx.send(Invalidation::All);
                            }
                        },
                        None => break,
                    },
                    _ = ping.tick() => {
                        let alive = tokio::time::timeout(timeout, sink.ping::<redis::Value>()).await;
                        if !matches!(alive, Ok(Ok(_))) {
                            break;
                        }
                    }
                }
            }
            tracing::debug!("redis invalidation subscriber: connection lost, reconnecting");
            let _ = tx.send(Invalidation::All);
        }
        let jitter = fastrand::u64(0..=backoff.as_millis() as u64 / 2);
        tokio::time::sleep(backoff + Duration::from_millis(jitter)).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
