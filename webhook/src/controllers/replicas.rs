//! Replicas controller: the replica division of a workload's federated object, written as
//! per-cluster `/spec/replicas` overrides (as KubeFed's replica scheduler writes them).
//!
//! Two sources of preferences, one decision each in fed-core:
//! - a `ReplicaSchedulingPreference` with the name and namespace of a FederatedDeployment or
//!   FederatedReplicaSet ([`fed_core::replicas::for_rsp`]: its clusters, intersected with the
//!   object's cluster selector when `intersectWithClusterSelector`, replace the placement);
//! - `kubefed.io/replica-scheduling` on the federated object: copied there from an annotated
//!   source by materialize, or set on it by `kubectl fed place`
//!   ([`fed_core::replicas::for_annotation`]; the total is the template's replicas).
//!
//! Only Ready clusters get replicas: an Offline one keeps its place and its last count, its
//! share goes to the others, and comes back when it is Ready again (failover). A cluster whose
//! pods stay Unschedulable is capped at what runs there and the rest overflows to the others,
//! until its nodes show room again ([`fed_core::replicas::overflow`], with the facts of
//! [`super::capacity::Capacities`]); replicas move make-before-break. Runs again when the
//! object, its RSP, any cluster's health, a workload's Unschedulable pods or a node's room
//! change; writes only when the division or the estimates moved, with the object's
//! resourceVersion as precondition (never over a newer write).

use std::sync::Arc;

use fed_core::api::{Federated, ReplicaSchedulingPreference, TARGET_KINDS};
use fed_core::capacity::pod_requests;
use fed_core::keys;
use fed_core::placement::JoinedCluster;
use fed_core::replicas::overflow::{self, ESTIMATES, OVERFLOW_AFTER};
use fed_core::replicas::{self, Observed, Scheduled};
use fed_core::source::owned_by_source;
use futures::StreamExt;
use futures::channel::mpsc;
use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;
use tracing::{info, warn};

use super::error::Error;
use super::events;
use super::handle::TypeHandle;
use super::runtime::{self, Bookkeeping, LogWords, Reconciler};
use super::shared::Shared;
use super::tasks::AbortOnDrop;
use crate::listing::HeldWhileListing;
use crate::metrics::{ControllerLabel, WriteTarget};
use crate::ready::Ready;

/// True when the replicas of `handle`'s type can be divided: Deployments, ReplicaSets and
/// StatefulSets (group `apps`).
pub fn divides(handle: &TypeHandle) -> bool {
    let target = &handle.spec.target;
    target.group == "apps" && fed_core::admission::DIVISIBLE_KINDS.contains(&target.kind.as_str())
}

/// Lets the federated-object watch queue divisions.
#[derive(Clone)]
pub struct ReplicasHandle {
    queue: mpsc::UnboundedSender<ObjectRef<Federated>>,
}

impl ReplicasHandle {
    /// A federated object of the type changed: its division may have to follow.
    pub fn federated_changed(&self, r: &ObjectRef<Federated>) {
        let _ = self.queue.unbounded_send(r.clone());
    }
}

struct ReplicasCtx {
    shared: Arc<Shared>,
    handle: Arc<TypeHandle>,
    rsps: Store<ReplicaSchedulingPreference>,
    books: Bookkeeping<Federated>,
}

/// Starts the RSP watch (for FederatedDeployment and FederatedReplicaSet), the cluster-change
/// trigger and the applier of one divisible type.
pub fn start(shared: Arc<Shared>, handle: Arc<TypeHandle>) -> (ReplicasHandle, Vec<AbortOnDrop<()>>) {
    let (tx, rx) = mpsc::unbounded();
    let (rsps, writer) = reflector::store();
    let rsps_ready = Ready::new();
    let ctx = Arc::new(ReplicasCtx {
        books: Bookkeeping::new(
            shared.metrics.reconciles(ControllerLabel::Replicas, &handle.spec.config_name),
            handle.fed_ar.clone(),
            shared.opts.max_backoff,
        ),
        shared,
        handle,
        rsps,
    });
    let queue = ReplicasHandle { queue: tx };
    let mut tasks = vec![
        AbortOnDrop::spawn(on_cluster_changes(ctx.clone(), queue.clone())),
        AbortOnDrop::spawn(on_unschedulable_changes(ctx.clone(), queue.clone())),
        AbortOnDrop::spawn(on_room_changes(ctx.clone(), queue.clone())),
    ];
    if TARGET_KINDS.contains(&ctx.handle.spec.federated.kind.as_str()) {
        tasks.push(AbortOnDrop::spawn(watch_rsps(ctx.clone(), writer, rsps_ready.clone(), queue.clone())));
    } else {
        rsps_ready.set();
    }
    tasks.push(AbortOnDrop::spawn(run_applier(ctx, rx, rsps_ready)));
    (queue, tasks)
}

/// Reflects the RSPs aimed at this type and queues their targets.
async fn watch_rsps(
    ctx: Arc<ReplicasCtx>,
    writer: reflector::store::Writer<ReplicaSchedulingPreference>,
    ready: Ready,
    queue: ReplicasHandle,
) {
    let api = Api::<ReplicaSchedulingPreference>::all(ctx.shared.host.clone());
    let kind = ctx.handle.spec.federated.kind.clone();
    let stream = watcher(api, watcher::Config::default()).default_backoff().modify(|r| r.managed_fields_mut().clear());
    let mut events = std::pin::pin!(reflector::reflector(writer, stream));
    let target = |r: &ReplicaSchedulingPreference| ctx.handle.fed_ref(r.namespace().as_deref(), &r.name_any());
    // A division reads the RSP from its store: what a re-list finds waits for it.
    let mut held = HeldWhileListing::default();
    while let Some(ev) = events.next().await {
        for r in held.observe(&ev) {
            queue.federated_changed(&r);
        }
        match ev {
            Ok(watcher::Event::Apply(r) | watcher::Event::InitApply(r) | watcher::Event::Delete(r)) => {
                if r.spec.target_kind == kind
                    && let Some(f) = held.now_or_held(target(&r))
                {
                    queue.federated_changed(&f);
                }
            }
            Ok(watcher::Event::InitDone) => {
                ready.set();
            }
            Ok(watcher::Event::Init) => {}
            Err(e) => warn!(error = %e, "watching ReplicaSchedulingPreferences"),
        }
    }
}

/// Requeues every divided object of the type when clusters join, leave or change health.
async fn on_cluster_changes(ctx: Arc<ReplicasCtx>, queue: ReplicasHandle) {
    let mut changes = ctx.shared.members.subscribe();
    loop {
        if changes.changed().await.is_err() {
            return;
        }
        ctx.requeue_divided(&queue, |_| true);
    }
}

/// Queues the divided object of a workload whose Unschedulable pods changed in some cluster.
async fn on_unschedulable_changes(ctx: Arc<ReplicasCtx>, queue: ReplicasHandle) {
    let mut changes = ctx.shared.capacities.subscribe();
    loop {
        match changes.recv().await {
            Ok((_, key)) if key.kind == ctx.handle.spec.target.kind => {
                let r = ctx.handle.fed_ref(Some(&key.namespace), &key.name);
                if ctx.handle.fed_store.get(&r).is_some_and(|f| ctx.divided(&f)) {
                    queue.federated_changed(&r);
                    // The status shows the Unschedulable pods per cluster.
                    ctx.handle.requeue(r);
                }
            }
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => ctx.requeue_divided(&queue, |_| true),
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Queues every object with a capped cluster when room on some node changed: it may be
/// given back.
async fn on_room_changes(ctx: Arc<ReplicasCtx>, queue: ReplicasHandle) {
    let mut changes = ctx.shared.capacities.subscribe_room();
    while changes.changed().await.is_ok() {
        ctx.requeue_divided(&queue, |f| f.annotations().contains_key(ESTIMATES));
    }
}

async fn run_applier(ctx: Arc<ReplicasCtx>, queue: mpsc::UnboundedReceiver<ObjectRef<Federated>>, rsps: Ready) {
    // Before the registry and the RSPs are listed, every cluster looks unjoined and every
    // object undivided: a division then would take every replica away.
    ctx.shared.members.wait_ready().await;
    ctx.handle.fed_ready.wait().await;
    rsps.wait().await;
    let (concurrency, store) = (ctx.shared.opts.reconcile_concurrency, ctx.handle.fed_store.clone());
    let kind = ctx.handle.spec.federated.kind.clone();
    let words = LogWords {
        kind: &kind,
        done: "replicas divided",
        gone: "gone before division",
        failed: "division failed",
        controller: "replicas controller",
    };
    runtime::run(reconcile, ctx, store, queue, concurrency, words).await;
}

impl Reconciler for ReplicasCtx {
    type Object = Federated;

    fn books(&self) -> &Bookkeeping<Federated> {
        &self.books
    }
}

async fn reconcile(fed: Arc<Federated>, ctx: Arc<ReplicasCtx>) -> Result<Action, Error> {
    let recheck = ctx.divide(&fed).await?;
    Ok(recheck.map_or_else(Action::await_change, Action::requeue))
}

impl ReplicasCtx {
    /// The RSP aimed at `fed`: same namespace and name, its kind as target; not for an
    /// annotated source's object (the annotation is its form of the preferences).
    fn rsp_of(&self, fed: &Federated) -> Option<Arc<ReplicaSchedulingPreference>> {
        if owned_by_source(fed) {
            return None;
        }
        let r = ObjectRef::new(&fed.name_any()).within(&fed.namespace().unwrap_or_default());
        self.rsps.get(&r).filter(|rsp| rsp.spec.target_kind == self.handle.spec.federated.kind)
    }

    /// True when `fed`'s replicas are divided (by the annotation or an RSP).
    fn divided(&self, fed: &Federated) -> bool {
        fed.annotations().contains_key(keys::REPLICA_SCHEDULING) || self.rsp_of(fed).is_some()
    }

    /// Queues every divided object of the type that `pick` selects.
    fn requeue_divided(&self, queue: &ReplicasHandle, pick: impl Fn(&Federated) -> bool) {
        for f in self.handle.fed_store.state() {
            if self.divided(&f) && pick(&f) {
                queue.federated_changed(&ObjectRef::from_obj_with(&*f, self.handle.fed_ar.clone()));
            }
        }
    }

    /// What `fed`'s spec should be, if its replicas are divided. An RSP wins over the
    /// annotation on an object no source owns.
    /// Also returns the overflow threshold used.
    fn scheduled(&self, fed: &Federated) -> Option<(Scheduled, std::time::Duration)> {
        let joined: Vec<JoinedCluster> = self.shared.members.all().iter().map(|m| m.joined()).collect();
        let source = owned_by_source(fed);
        if let Some(rsp) = self.rsp_of(fed) {
            let observed = self.observed(fed, &joined, rsp.annotations());
            return replicas::for_rsp(&rsp.spec, fed, &joined, &observed).map(|s| (s, observed.after));
        }
        let scheduling = replicas::parse_annotation(fed.annotations().get(keys::REPLICA_SCHEDULING)?).ok()?;
        let observed = self.observed(fed, &joined, fed.annotations());
        let total = replicas::template_replicas(fed);
        Some((replicas::for_annotation(total, &scheduling, fed, &joined, source, &observed), observed.after))
    }

    /// What the capacity ledgers say of `fed`'s workload in each joined cluster; the
    /// threshold from `annotations` (the RSP's, or the object's own), else the object's.
    fn observed(
        &self,
        fed: &Federated,
        joined: &[JoinedCluster],
        annotations: &std::collections::BTreeMap<String, String>,
    ) -> Observed {
        let after = [annotations, fed.annotations()]
            .iter()
            .find_map(|a| overflow::parse_after(a.get(OVERFLOW_AFTER)?).ok())
            .unwrap_or(overflow::DEFAULT_AFTER);
        let key = self.handle.workload_key(fed);
        let pod: PodSpec = fed
            .spec
            .template
            .as_ref()
            .and_then(|t| t.pointer("/spec/template/spec"))
            .and_then(|s| serde_json::from_value(s.clone()).ok())
            .unwrap_or_default();
        let request = pod_requests(&pod);
        let capacities = &self.shared.capacities;
        let rooms = joined
            .iter()
            .map(|c| {
                let unschedulable = capacities.unschedulable(&c.name, &key).into_iter().map(|t| t.0).collect();
                let free = capacities.room_for(&c.name, &request);
                (c.name.clone(), overflow::Seen { unschedulable, free })
            })
            .collect();
        Observed { rooms, after, now: Timestamp::now() }
    }

    /// Writes the division of `fed` when it moved; returns when to look again.
    async fn divide(&self, fed: &Federated) -> Result<Option<std::time::Duration>, kube::Error> {
        if fed.metadata.deletion_timestamp.is_some() {
            return Ok(None);
        }
        let Some((scheduled, after)) = self.scheduled(fed) else { return Ok(None) };
        let recheck = scheduled.estimated.recheck;
        if scheduled.is_current(fed) {
            return Ok(recheck);
        }
        let mut spec = json!({ "overrides": scheduled.overrides });
        if let Some(placement) = &scheduled.placement {
            spec["placement"] = json!({ "clusters": placement.clusters });
        }
        let metadata = json!({
            "resourceVersion": fed.resource_version(),
            "annotations": { ESTIMATES: scheduled.estimates_value() },
        });
        let patch = json!({ "metadata": metadata, "spec": spec });
        let api: Api<Federated> = match fed.namespace() {
            Some(ns) => Api::namespaced_with(self.shared.host.clone(), &ns, &self.handle.fed_ar),
            None => Api::all_with(self.shared.host.clone(), &self.handle.fed_ar),
        };
        self.shared.metrics.write(WriteTarget::Host);
        api.patch(&fed.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await?;
        info!(object = %self.handle.origin(fed), replicas = ?scheduled.replicas, unassigned = scheduled.unassigned, "replicas divided");
        self.publish_overflow(fed, &scheduled, after).await;
        Ok(recheck)
    }

    /// An Event on `fed` when overflow moved replicas, with the numbers.
    async fn publish_overflow(&self, fed: &Federated, scheduled: &Scheduled, after: std::time::Duration) {
        let before = replicas::division(&fed.spec.overrides);
        let Some((reason, note)) = overflow::describe(&before, &scheduled.replicas, &scheduled.estimated, after) else {
            return;
        };
        info!(object = %self.handle.origin(fed), %note, "{reason}");
        let reference = kube::Resource::object_ref(fed, &self.handle.fed_ar);
        events::publish(&self.shared.recorder, &reference, EventType::Normal, reason, &note, "Divide").await;
    }
}
