//! The federation controllers: member clients, materialize (annotated source →
//! Federated&lt;Kind&gt;), sync (Federated&lt;Kind&gt; → member clusters), cluster health, and
//! leader election around all of them.
//!
//! Entry point: [`run`] (or [`run_until`] with a shutdown signal). Everything is generic over
//! the enabled FederatedTypeConfigs: per-type controllers start and stop as type configs are
//! created, changed, disabled or deleted; a disabled type keeps a release controller so its
//! federated objects can still be deleted.

pub mod health;
pub mod leader;
pub mod materialize;
pub mod members;
pub mod release;
pub mod source;
pub mod status;
pub mod sync;
pub mod types;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::runtime::events::{Recorder, Reporter};
use tokio::task::{JoinError, JoinHandle};
use tracing::info;

use crate::metrics::ControllerMetrics;

/// Settings of the controllers.
#[derive(Clone, Debug)]
pub struct ControllerOptions {
    /// Namespace holding KubeFedClusters, FederatedTypeConfigs, member secrets and the Lease.
    pub federation_namespace: String,
    /// Member clusters written concurrently for one federated object.
    pub member_concurrency: usize,
    /// Federated objects reconciled concurrently per type (0 = unbounded).
    pub reconcile_concurrency: u16,
    /// Timeout of one request to a member cluster.
    pub member_timeout: Duration,
    /// Period of the `/readyz` probes.
    pub probe_period: Duration,
    /// Timeout of one `/readyz` probe.
    pub probe_timeout: Duration,
    /// Consecutive failed probes before a cluster is Offline.
    pub failure_threshold: u32,
    /// Periodic re-sync of every federated object even without changes.
    pub resync_period: Duration,
    /// Longest retry delay after failures.
    pub max_backoff: Duration,
    /// Run only while holding the Lease `kubectl-fed-controllers`.
    pub leader_election: bool,
    /// Lease holder identity; default `hostname-pid`.
    pub identity: Option<String>,
}

impl Default for ControllerOptions {
    fn default() -> Self {
        ControllerOptions {
            federation_namespace: fed_core::keys::FEDERATION_NAMESPACE.to_string(),
            member_concurrency: 8,
            reconcile_concurrency: 64,
            member_timeout: Duration::from_secs(10),
            probe_period: Duration::from_secs(10),
            probe_timeout: Duration::from_secs(3),
            failure_threshold: 3,
            resync_period: Duration::from_secs(300),
            max_backoff: Duration::from_secs(60),
            leader_election: true,
            identity: None,
        }
    }
}

/// Runs the controllers until `shutdown` resolves; with leader election they run only while this
/// process holds the lease, which is released on shutdown. Leadership and writes are recorded
/// in `metrics`.
pub async fn run_until(
    client: Client,
    opts: ControllerOptions,
    metrics: ControllerMetrics,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let identity = opts.identity.clone().unwrap_or_else(leader::identity);
    let opts = Arc::new(ControllerOptions { identity: Some(identity.clone()), ..opts });
    if opts.leader_election {
        let ns = opts.federation_namespace.clone();
        let start = || federation(client.clone(), opts.clone(), metrics.clone());
        leader::run_while_leader(client.clone(), &ns, &identity, &metrics, start, shutdown).await
    } else {
        let _leading = metrics.leading();
        tokio::select! {
            r = federation(client, opts, metrics.clone()) => r,
            _ = shutdown => Ok(()),
        }
    }
}

/// State shared by every controller of this process.
pub(crate) struct Shared {
    /// Host cluster client.
    pub host: Client,
    /// Options.
    pub opts: Arc<ControllerOptions>,
    /// Member clients and health.
    pub members: Arc<members::Members>,
    /// Events on host objects.
    pub recorder: Recorder,
    /// Running per-type controllers (for cross-type lookups such as namespace placement).
    pub types: types::TypeRegistry,
    /// Counts every write request the controllers send.
    pub metrics: ControllerMetrics,
}

/// Every controller; dropping the future aborts them all.
async fn federation(client: Client, opts: Arc<ControllerOptions>, metrics: ControllerMetrics) -> anyhow::Result<()> {
    info!(namespace = %opts.federation_namespace, "starting federation controllers");
    let reporter = Reporter { controller: "kubectl-fed".into(), instance: opts.identity.clone() };
    let shared = Arc::new(Shared {
        host: client.clone(),
        opts: opts.clone(),
        members: members::Members::new(),
        recorder: Recorder::new(client.clone(), reporter),
        types: types::TypeRegistry::default(),
        metrics: metrics.clone(),
    });
    let members_task =
        AbortOnDrop::spawn(members::run(shared.members.clone(), client.clone(), opts.federation_namespace.clone()));
    let health_task = AbortOnDrop::spawn(health::run(
        shared.members.clone(),
        client.clone(),
        opts.clone(),
        shared.recorder.clone(),
        metrics,
    ));
    let types_task = AbortOnDrop::spawn(types::run(shared.clone()));
    tokio::select! {
        r = members_task => flatten(r, "member registry"),
        r = health_task => r.map_err(anyhow::Error::from).and_then(|()| anyhow::bail!("cluster health stopped")),
        r = types_task => flatten(r, "type config supervisor"),
    }
}

fn flatten(r: Result<anyhow::Result<()>, JoinError>, what: &str) -> anyhow::Result<()> {
    match r {
        Ok(Ok(())) => anyhow::bail!("{what} stopped"),
        Ok(Err(e)) => Err(e.context(format!("{what} failed"))),
        Err(e) => Err(anyhow::anyhow!("{what} panicked: {e}")),
    }
}

/// A spawned task that is aborted when this handle is dropped, so dropping a parent stops its
/// whole tree of tasks.
pub(crate) struct AbortOnDrop<T>(JoinHandle<T>);

impl<T: Send + 'static> AbortOnDrop<T> {
    /// Spawns `fut` on the current runtime.
    pub fn spawn(fut: impl Future<Output = T> + Send + 'static) -> Self {
        AbortOnDrop(tokio::spawn(fut))
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

/// "This reflector has listed once" flag with any number of waiters.
///
/// kube-runtime's `Store::wait_until_ready` is backed by a oneshot receiver that remembers only
/// the last task that polled it, so with several waiters (or a `now_or_never` probe) the others
/// are never woken. Every store here gets one of these, set by the task that drives its
/// reflector on the first `InitDone`; the kube-runtime applier stays the only
/// `wait_until_ready` caller of its own store.
#[derive(Clone)]
pub(crate) struct Ready(Arc<tokio::sync::watch::Sender<bool>>);

impl Ready {
    /// Not ready yet.
    pub fn new() -> Self {
        Ready(Arc::new(tokio::sync::watch::Sender::new(false)))
    }

    /// Marks the store as listed.
    pub fn set(&self) {
        self.0.send_if_modified(|r| !std::mem::replace(r, true));
    }

    /// True once listed.
    pub fn is_ready(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once listed.
    pub async fn wait(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|r| *r).await;
    }
}

/// True when `current` (just read from the API server) is the incarnation `cached` (from a
/// store, which can lag behind a busy watch by seconds) was taken from — same uid — and is not
/// being deleted. Writes that would create something on behalf of `cached` check this first, so
/// a stale store never resurrects what was deleted meanwhile.
pub(crate) fn same_live_incarnation(cached: &ObjectMeta, current: &ObjectMeta) -> bool {
    current.uid.is_some() && current.uid == cached.uid && current.deletion_timestamp.is_none()
}

/// Namespace and name of an object: the key of the controllers' own per-object maps. (An
/// [`ObjectRef`](kube::runtime::reflector::ObjectRef) of a dynamic type carries a copy of the
/// type's API resource, five strings, in every key.)
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct NameKey {
    namespace: Option<Box<str>>,
    name: Box<str>,
}

impl NameKey {
    /// The key of `namespace/name`.
    pub fn new(namespace: Option<&str>, name: &str) -> Self {
        NameKey { namespace: namespace.map(Into::into), name: name.into() }
    }

    /// The key of the object with this metadata.
    pub fn of(meta: &ObjectMeta) -> Self {
        Self::new(meta.namespace.as_deref(), meta.name.as_deref().unwrap_or_default())
    }

    /// Its namespace.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl<T> From<&crate::record::Named<T>> for NameKey {
    fn from(r: &crate::record::Named<T>) -> Self {
        Self::new(r.namespace.as_deref(), &r.name)
    }
}

impl std::fmt::Display for NameKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{ns}/{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Now as RFC 3339 with second precision (the format of condition timestamps).
pub(crate) fn now_rfc3339() -> String {
    k8s_openapi::jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ready_wakes_every_waiter() {
        let ready = Ready::new();
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                tokio::spawn({
                    let r = ready.clone();
                    async move { r.wait().await }
                })
            })
            .collect();
        tokio::task::yield_now().await;
        assert!(!ready.is_ready());
        ready.set();
        for w in waiters {
            tokio::time::timeout(Duration::from_secs(1), w).await.expect("woken").unwrap();
        }
        assert!(ready.is_ready());
    }

    #[test]
    fn only_the_same_undeleted_incarnation_is_live() {
        let meta = |uid: Option<&str>, deleting: bool| ObjectMeta {
            uid: uid.map(String::from),
            deletion_timestamp: deleting
                .then(|| k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now())),
            ..Default::default()
        };
        let cached = meta(Some("a"), false);
        assert!(same_live_incarnation(&cached, &meta(Some("a"), false)));
        assert!(!same_live_incarnation(&cached, &meta(Some("b"), false)), "deleted and re-created");
        assert!(!same_live_incarnation(&cached, &meta(Some("a"), true)), "being deleted");
        assert!(!same_live_incarnation(&meta(None, false), &meta(None, false)), "no uid proves nothing");
    }

    #[tokio::test]
    async fn abort_on_drop_aborts() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = AbortOnDrop::spawn(async move {
            let _tx = tx;
            std::future::pending::<()>().await
        });
        drop(task);
        assert!(rx.await.is_err(), "the task (and its sender) was dropped");
    }
}
