//! `RedisCache` on a Redis Cluster started by the test on loopback (`redis-server
//! --cluster-enabled yes` nodes joined by `redis-cli --cluster create`): the store's contract
//! across primaries, partitions spread over slots, a slot moved under the store (`MOVED`), and
//! a primary killed and replaced by its replica.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::RedisCluster;
use msal_cache_redis::{Invalidation, RedisCache};
use msal_core::cache::{CacheStore, PartitionKey, ReadOutcome, Snapshot, Written};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Appends `name` to the comma-separated list in `current`.
fn add(current: Option<&Snapshot>, name: &str) -> msal_core::Result<Option<Written>> {
    let mut text = current
        .map(|s| String::from_utf8_lossy(&s.data).into_owned())
        .unwrap_or_default();
    if !text.is_empty() {
        text.push(',');
    }
    text.push_str(name);
    Ok(Some(Written {
        data: text.into_bytes(),
        expires_in: None,
    }))
}

fn names(s: &Snapshot) -> BTreeSet<String> {
    String::from_utf8_lossy(&s.data)
        .split(',')
        .map(str::to_owned)
        .collect()
}

async fn store(cluster: &RedisCluster, seeds: Vec<String>) -> RedisCache {
    let _ = cluster;
    RedisCache::cluster_builder(seeds)
        .deadline(Duration::from_millis(500))
        .circuit_breaker(3, Duration::from_millis(300))
        .require_connection(true)
        .connect()
        .await
        .expect("connect to the cluster")
}

async fn current(store: &RedisCache, key: &PartitionKey) -> Snapshot {
    match store.read(key, None, false).await.expect("read") {
        ReadOutcome::Current(s) => s,
        other => panic!("{other:?}"),
    }
}

fn slot(cluster: &RedisCluster, key: &str) -> u16 {
    redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(key)
        .query(&mut cluster.nodes[0].conn())
        .expect("CLUSTER KEYSLOT")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contract_holds_across_the_primaries_and_a_moved_slot() -> TestResult {
    let cluster = RedisCluster::start(3, 0);
    // Seeded with one node only: the rest is discovered.
    let a = store(&cluster, vec![cluster.nodes[0].url()]).await;
    let b = store(
        &cluster,
        vec![cluster.nodes[1].url(), cluster.nodes[2].url()],
    )
    .await;
    let mut rx = b.invalidations();
    // Generous: on a loaded machine nine redis-servers of two tests compete for the CPU.
    let first = tokio::time::timeout(Duration::from_secs(15), rx.recv())
        .await
        .map_err(|_| "the invalidation subscriber did not connect within 15 s")??;
    assert_eq!(first, Invalidation::All);

    let keys: Vec<PartitionKey> = (0..12)
        .map(|i| PartitionKey::app("cid", &format!("tenant-{i}")))
        .collect();
    for key in &keys {
        assert!(matches!(
            a.read(key, None, false).await?,
            ReadOutcome::Missing
        ));
        let s = a.modify(key, &mut |c| add(c, "a")).await?.expect("written");
        // B (other seeds) reads what A wrote; a known version is Unchanged.
        let seen = current(&b, key).await;
        assert_eq!(seen.version, s.version);
        assert!(matches!(
            b.read(key, Some(&s.version), false).await?,
            ReadOutcome::Unchanged
        ));
    }
    // Different partitions land in different slots, served by every primary.
    let slots: BTreeSet<u16> = keys.iter().map(|k| slot(&cluster, &a.key_of(k))).collect();
    assert!(slots.len() > 1, "{slots:?}");
    let owners: BTreeSet<u16> = keys
        .iter()
        .map(|k| cluster.primary_of(&a.key_of(k)).port)
        .collect();
    assert_eq!(owners.len(), 3, "partitions on every primary: {owners:?}");

    // Invalidations published on any node reach B's subscriber.
    let mut announced = BTreeSet::new();
    let t = Instant::now();
    while announced.len() < keys.len() && t.elapsed() < Duration::from_secs(5) {
        if let Ok(Ok(Invalidation::Partition(p))) =
            tokio::time::timeout(Duration::from_secs(1), rx.recv()).await
        {
            announced.insert(p);
        }
    }
    assert_eq!(announced.len(), keys.len(), "{announced:?}");

    // Compare-and-set under contention, two stores on one partition: nothing lost.
    let key = &keys[0];
    let mut tasks = Vec::new();
    for (who, store) in [("a", a.clone()), ("b", b.clone())] {
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..20 {
                let name = format!("{who}{i}");
                store
                    .modify(&key, &mut |c| add(c, &name))
                    .await
                    .expect("contended write");
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let all = names(&current(&a, key).await);
    assert_eq!(all.len(), 41, "{all:?}");

    // MOVED: the slot of one partition is migrated to another primary behind the stores'
    // backs; their next calls are redirected and find the data there.
    let key = &keys[1];
    let redis_key = a.key_of(key);
    let s = slot(&cluster, &redis_key);
    let source = cluster.primary_of(&redis_key);
    let target = cluster
        .nodes
        .iter()
        .find(|n| n.port != source.port)
        .expect("another primary");
    let (source_id, target_id) = (source.node_id(), target.node_id());
    let setslot = |node: &common::RedisServer, how: &str, id: &str| {
        let _: () = redis::cmd("CLUSTER")
            .arg("SETSLOT")
            .arg(s)
            .arg(how)
            .arg(id)
            .query(&mut node.conn())
            .expect("CLUSTER SETSLOT");
    };
    setslot(target, "IMPORTING", &source_id);
    setslot(source, "MIGRATING", &target_id);
    let _: redis::Value = redis::cmd("MIGRATE")
        .arg("127.0.0.1")
        .arg(target.port)
        .arg("")
        .arg(0)
        .arg(5000)
        .arg("KEYS")
        .arg(&redis_key)
        .query(&mut source.conn())?;
    for node in &cluster.nodes {
        setslot(node, "NODE", &target_id);
    }
    assert_eq!(cluster.primary_of(&redis_key).port, target.port);
    let before = current(&a, key).await;
    assert_eq!(names(&before), BTreeSet::from(["a".to_owned()]));
    a.modify(key, &mut |c| add(c, "after-move")).await?;
    assert_eq!(
        names(&current(&b, key).await),
        BTreeSet::from(["a".to_owned(), "after-move".to_owned()])
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_primary_is_replaced_and_the_store_recovers() -> TestResult {
    let mut cluster = RedisCluster::start(3, 1);
    let a = store(&cluster, cluster.urls()).await;
    let key = PartitionKey::app("cid", "failover");
    a.modify(&key, &mut |c| add(c, "before")).await?;
    let redis_key = a.key_of(&key);
    let port = cluster.primary_of(&redis_key).port;
    // Replicated before the primary dies (replication is asynchronous).
    let acked: i64 = redis::cmd("WAIT")
        .arg(1)
        .arg(5000)
        .query(&mut cluster.primary_of(&redis_key).conn())?;
    assert_eq!(acked, 1);
    let victim = cluster
        .nodes
        .iter_mut()
        .find(|n| n.port == port)
        .expect("the primary");
    victim.kill();

    // Calls fail (typed, within their deadline) until the replica takes over; then they work.
    let t = Instant::now();
    let mut recovered = None;
    while t.elapsed() < Duration::from_secs(30) {
        let call = Instant::now();
        match a.modify(&key, &mut |c| add(c, "after")).await {
            Ok(Some(s)) => {
                recovered = Some(s);
                break;
            }
            Ok(None) => unreachable!("the closure always writes"),
            Err(e) => {
                assert_eq!(e.kind(), msal_core::ErrorKind::Cache, "{e}");
                assert!(
                    call.elapsed() < Duration::from_secs(2),
                    "a call took {:?}",
                    call.elapsed()
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let s = recovered.expect("the store recovers after the failover");
    eprintln!("recovered after {:?}", t.elapsed());
    assert_eq!(
        names(&s),
        BTreeSet::from(["before".to_owned(), "after".to_owned()]),
        "the promoted replica had the data"
    );
    assert_ne!(cluster.primary_of(&redis_key).port, port);
    Ok(())
}
