//! Metadata watches that record when each object is first seen on each cluster.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, PartialObjectMeta};
use kube::core::NamespaceResourceScope;
use kube::runtime::watcher::{self, Event};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;

/// First-seen instants per cluster and object name, filled by metadata watches.
#[derive(Default)]
pub struct Seen {
    pub by_cluster: Mutex<HashMap<String, HashMap<String, Instant>>>,
    pub changed: Notify,
}

impl Seen {
    /// Objects seen on `cluster`.
    pub fn count(&self, cluster: &str) -> usize {
        self.by_cluster.lock().unwrap().get(cluster).map_or(0, HashMap::len)
    }
    /// When `name` was first seen on `cluster`.
    pub fn get(&self, cluster: &str, name: &str) -> Option<Instant> {
        self.by_cluster.lock().unwrap().get(cluster).and_then(|m| m.get(name).copied())
    }
    /// When the last object was first seen on `cluster`.
    pub fn last(&self, cluster: &str) -> Option<Instant> {
        self.by_cluster.lock().unwrap().get(cluster).and_then(|m| m.values().max().copied())
    }
}

/// Watches `K` metadata in `namespace` on `cluster` (names starting with `prefix`), recording
/// the first time each object is seen. Resolves once the initial list is done.
pub async fn start_watch<K>(
    client: Client,
    cluster: &str,
    namespace: &str,
    prefix: &str,
    seen: Arc<Seen>,
) -> Result<tokio::task::JoinHandle<()>>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static,
{
    // Metadata-only list and watch: presence is all that is measured.
    let api: Api<PartialObjectMeta<K>> = Api::namespaced(client, namespace);
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<()>();
    let cluster = cluster.to_string();
    let prefix = prefix.to_string();
    seen.by_cluster.lock().unwrap().entry(cluster.clone()).or_default();
    let handle = tokio::spawn(async move {
        let mut ready = Some(ready_tx);
        let mut stream = watcher::watcher(api, watcher::Config::default()).boxed();
        loop {
            match stream.try_next().await {
                Ok(Some(Event::Apply(o) | Event::InitApply(o))) => {
                    let now = Instant::now();
                    let Some(name) = o.metadata.name else { continue };
                    if !name.starts_with(&prefix) {
                        continue;
                    }
                    let mut g = seen.by_cluster.lock().unwrap();
                    g.entry(cluster.clone()).or_default().entry(name).or_insert(now);
                    drop(g);
                    seen.changed.notify_waiters();
                }
                Ok(Some(Event::InitDone)) => {
                    if let Some(tx) = ready.take() {
                        let _ = tx.send(());
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    eprintln!("watch on {cluster}: {e} (retrying)");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(30), ready_rx)
        .await
        .context("watch did not finish its initial list in 30s")?
        .ok();
    Ok(handle)
}

/// Waits until every cluster in `want` has seen `count` objects, or `deadline` passes.
pub async fn wait_all(seen: &Seen, want: &[String], count: usize, deadline: Instant) -> bool {
    loop {
        let notified = seen.changed.notified();
        if want.iter().all(|c| seen.count(c) >= count) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        let _ = tokio::time::timeout(Duration::from_millis(250), notified).await;
    }
}
