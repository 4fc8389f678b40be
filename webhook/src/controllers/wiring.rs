//! Wiring of the controllers: leader election around the member registry, the members'
//! capacity, cluster health, the type config supervisor and the follow label controller.

use std::future::Future;
use std::sync::Arc;

use kube::Client;
use kube::runtime::events::{Recorder, Reporter};
use tokio::task::JoinError;
use tracing::info;

use super::capacity::{self, Capacities};
use super::host_namespaces::HostNamespaces;
use super::member_registry::{self, Members};
use super::options::ControllerOptions;
use super::shared::Shared;
use super::tasks::AbortOnDrop;
use super::type_registry::TypeRegistry;
use super::{follow_label, health, leader, supervisor};
use crate::metrics::{ControllerLabel, ControllerMetrics};

/// Runs the controllers until `shutdown` resolves, only while this process holds the Lease
/// (released on shutdown). Leadership, writes and reconciles are recorded in `metrics`.
pub async fn run_until(
    client: Client,
    opts: ControllerOptions,
    metrics: ControllerMetrics,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let identity = leader::identity();
    let opts = Arc::new(opts);
    let ns = opts.federation_namespace.clone();
    let start = || federation(client.clone(), opts.clone(), identity.clone(), metrics.clone());
    leader::run_while_leader(client.clone(), &ns, &identity, &metrics, start, shutdown).await
}

/// Every controller; dropping the future aborts them all.
async fn federation(
    client: Client,
    opts: Arc<ControllerOptions>,
    identity: String,
    metrics: ControllerMetrics,
) -> anyhow::Result<()> {
    info!(namespace = %opts.federation_namespace, "starting federation controllers");
    let reporter = Reporter { controller: "kubectl-fed".into(), instance: Some(identity) };
    let (namespaces, _namespaces_task) = HostNamespaces::start(&client);
    let shared = Arc::new(Shared {
        host: client.clone(),
        opts: opts.clone(),
        members: Members::new(),
        capacities: Capacities::new(),
        recorder: Recorder::new(client.clone(), reporter),
        types: TypeRegistry::default(),
        metrics: metrics.clone(),
        namespaces,
    });
    let members_task = AbortOnDrop::spawn(member_registry::run(
        shared.members.clone(),
        client.clone(),
        opts.federation_namespace.clone(),
    ));
    let capacity_task = AbortOnDrop::spawn(capacity::run(shared.capacities.clone(), shared.members.clone()));
    let health_task = AbortOnDrop::spawn(health::run(
        shared.members.clone(),
        shared.capacities.clone(),
        client.clone(),
        opts.clone(),
        shared.recorder.clone(),
        metrics,
    ));
    let types_task = AbortOnDrop::spawn(supervisor::run(shared.clone()));
    let follow_metrics = shared.metrics.reconciles(ControllerLabel::Follow, "federatednamespaces.types.kubefed.io");
    let follow_task = AbortOnDrop::spawn(follow_label::run(client.clone(), follow_metrics, shared.opts.max_backoff));
    tokio::select! {
        r = members_task => flatten(r, "member registry"),
        r = capacity_task => r.map_err(anyhow::Error::from).and_then(|()| anyhow::bail!("capacity ledger stopped")),
        r = health_task => r.map_err(anyhow::Error::from).and_then(|()| anyhow::bail!("cluster health stopped")),
        r = types_task => flatten(r, "type config supervisor"),
        r = follow_task => r.map_err(anyhow::Error::from).and_then(|()| anyhow::bail!("follow label controller stopped")),
    }
}

fn flatten(r: Result<anyhow::Result<()>, JoinError>, what: &str) -> anyhow::Result<()> {
    match r {
        Ok(Ok(())) => anyhow::bail!("{what} stopped"),
        Ok(Err(e)) => Err(e.context(format!("{what} failed"))),
        Err(e) => Err(anyhow::anyhow!("{what} panicked: {e}")),
    }
}
