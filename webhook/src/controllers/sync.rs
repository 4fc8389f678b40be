//! Sync controller: every `Federated<Kind>` → its placed member clusters.
//!
//! Per object, in a straight line: finalizer `kubefed.io/sync-controller`; gather what is known
//! (joined clusters and their health, what the member watches saw, the namespace policy); ask
//! [`fed_core::plan`] once for the plan (what each cluster must hold, what to delete where);
//! execute it ([`MemberWriter`]: concurrently, bounded, each request under a timeout); hand the
//! outcomes to [`fed_core::status::desired_status`] and write `status.clusters[]` (with the
//! replicas the division assigns and, for workloads, the copy's numbers) + `Propagation` when
//! changed; Events on new failures. Deletion runs the
//! [`fed_core::plan::clean_up`] plan before the finalizer is released.
//!
//! Host semantics ([`fed_core::plan::host_is_source`]): when the federated object belongs to an
//! annotated source (or is a FederatedNamespace), the host cluster's copy is the source (or the
//! namespace holding the federated object) itself and is never written or deleted.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use fed_core::api::Federated;
use fed_core::guard::Owner;
use fed_core::plan::{self, MemberCluster, Plan};
use fed_core::status::{self, Outcome};
use fed_core::{keys, workload};
use futures::channel::mpsc;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{self, Event as Finalizer, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use serde_json::json;
use tracing::{debug, info, warn};

use super::error::Error;
use super::events;
use super::handle::TypeHandle;
use super::host_namespaces::host_namespace_ending;
use super::member_write::MemberWriter;
use super::recent_status::RecentStatus;
use super::runtime::{self, Bookkeeping, LogWords, Reconciler};
use super::shared::Shared;
use crate::metrics::ControllerLabel;

/// How long a status sync wrote is trusted over the store's copy of the object.
const RECENT_STATUS_TTL: Duration = Duration::from_secs(10);
/// The longest a status write waits for the members' reports on copies just written: one patch
/// with their numbers instead of one without and one with.
const REPORT_WAIT: Duration = Duration::from_secs(2);

/// Context of one type's sync controller.
pub struct SyncCtx {
    shared: Arc<Shared>,
    handle: Arc<TypeHandle>,
    statuses: RecentStatus,
    books: Bookkeeping<Federated>,
}

/// Runs the sync controller of one type: a kube-runtime applier over the type's
/// `Federated<Kind>` store, fed by `queue` (object changes, member drift, cluster changes).
pub async fn run(shared: Arc<Shared>, handle: Arc<TypeHandle>, queue: mpsc::UnboundedReceiver<ObjectRef<Federated>>) {
    // Until the member registry has listed the clusters and their secrets, every cluster looks
    // unjoined: a cleanup would find no copies to delete and release the finalizer, leaving
    // them behind for good, and a sync would drop every cluster from the status. (A controller
    // that has just taken over the Lease starts with an empty registry.)
    shared.members.wait_ready().await;
    let concurrency = shared.opts.reconcile_concurrency;
    let store = handle.fed_store.clone();
    let kind = handle.spec.federated.kind.clone();
    let metrics = shared.metrics.reconciles(ControllerLabel::Sync, &handle.spec.config_name);
    let ctx = Arc::new(SyncCtx {
        books: Bookkeeping::new(metrics, handle.fed_ar.clone(), shared.opts.max_backoff),
        shared,
        handle,
        statuses: RecentStatus::new(RECENT_STATUS_TTL),
    });
    let words = LogWords {
        kind: &kind,
        done: "synced",
        gone: "gone before sync",
        failed: "sync failed",
        controller: "sync controller",
    };
    runtime::run(reconcile, ctx, store, queue, concurrency, words).await;
}

impl Reconciler for SyncCtx {
    type Object = Federated;

    fn books(&self) -> &Bookkeeping<Federated> {
        &self.books
    }
}

async fn reconcile(fed: Arc<Federated>, ctx: Arc<SyncCtx>) -> Result<Action, Error> {
    let api = ctx.fed_api(fed.metadata.namespace.as_deref());
    let action = finalizer(&api, keys::FINALIZER, fed, |event| async {
        match event {
            Finalizer::Apply(fed) => ctx.apply(&fed).await,
            Finalizer::Cleanup(fed) => ctx.cleanup(&fed).await,
        }
    })
    .await;
    let action = match action {
        Ok(a) => a,
        // A re-run on a stale copy after the finalizer was already removed, or an object deleted
        // before its finalizer could be added (its source went right after it came): gone.
        Err(
            finalizer::Error::RemoveFinalizer(kube::Error::Api(s))
            | finalizer::Error::AddFinalizer(kube::Error::Api(s)),
        ) if s.code == 404 => Action::await_change(),
        Err(e) => return Err(Error::Finalizer(Box::new(e))),
    };
    Ok(action)
}

impl SyncCtx {
    fn fed_api(&self, namespace: Option<&str>) -> Api<Federated> {
        match namespace {
            Some(ns) => Api::namespaced_with(self.shared.host.clone(), ns, &self.handle.fed_ar),
            None => Api::all_with(self.shared.host.clone(), &self.handle.fed_ar),
        }
    }

    fn writer(&self) -> MemberWriter<'_> {
        MemberWriter::new(&self.shared, &self.handle)
    }

    /// Every joined member as the plan needs it: health, client, and what the member watch
    /// knows about `fed`'s copy there.
    fn members(&self, fed: &Federated) -> Vec<MemberCluster> {
        let (ns, name) = self.handle.member_key(fed);
        self.shared
            .members
            .all()
            .iter()
            .map(|m| MemberCluster {
                joined: m.joined(),
                unusable: m.client.as_ref().err().cloned(),
                copy: self.handle.copies.copy_on(&m.name, ns.as_deref(), &name),
            })
            .collect()
    }

    /// The one question sync asks fed-core per reconcile: the plan for `fed`.
    fn plan(&self, fed: &Federated, cleanup: bool) -> Option<Plan> {
        let members = self.members(fed);
        let policy = fed.metadata.namespace.as_deref().and_then(|ns| self.shared.types.namespace_placement(ns));
        let input =
            plan::Input { fed, target: &self.handle.spec.target, members: &members, namespace_policy: policy.as_ref() };
        if cleanup { plan::clean_up(&input) } else { Some(plan::propagate(&input)) }
    }

    /// The object as the API server has it now, if that is still the incarnation `cached` is a
    /// copy of, not being deleted and finalized by us, in a namespace that is not being deleted
    /// either; `None` otherwise.
    ///
    /// The store the applier reads can lag behind a busy watch by seconds. Applying from a
    /// stale copy of an object that was deleted (or deleted and re-created) meanwhile would
    /// write member copies that no finalizer guards, and nothing would ever remove them. In a
    /// namespace being deleted, the object's own deletion is coming: writing would re-create
    /// what a user is tearing down on the members (a FederatedNamespace's namespace, say).
    /// Whether the namespace is live comes from the namespace watch when it shows it so: a copy
    /// written in the moment before the watch sees a deletion is removed by the cleanup that
    /// deletion brings, and a member namespace already gone is only re-created after a fresh
    /// read ([`MemberWriter`]'s namespace check).
    async fn live(&self, cached: &Federated) -> Result<Option<Federated>, kube::Error> {
        let namespace = cached.metadata.namespace.as_deref();
        let current = self.fed_api(namespace).get_opt(&cached.name_any()).await?;
        let Some(current) = current.filter(|c| still_live(cached, c)) else { return Ok(None) };
        // The namespace watch may say it is live, except for a FederatedNamespace: its copies
        // are the member namespaces themselves, which a late write would bring back.
        if let Some(ns) = namespace
            && (self.handle.is_namespace() || !self.shared.namespaces.seen_live(ns))
            && host_namespace_ending(&self.shared.host, ns).await?
        {
            debug!(object = %self.handle.origin(cached), "its namespace is being deleted; not writing copies");
            return Ok(None);
        }
        Ok(Some(current))
    }

    async fn apply(&self, cached: &Federated) -> Result<Action, Error> {
        let plan = self.writer().without_stalled(self.plan(cached, false).expect("a propagation plan"));
        // Only a reconcile that writes to a member needs the live object: most reconciles
        // (status echoes, member watch events, resyncs) find everything up to date and cost
        // the host nothing.
        let (fed, plan) = if self.writer().writes(&plan) {
            let Some(live) = self.live(cached).await? else {
                debug!(object = %self.handle.origin(cached), "store is behind the API server; waiting for the watch");
                return Ok(Action::await_change());
            };
            let plan = self.writer().without_stalled(self.plan(&live, false).expect("a propagation plan"));
            (std::borrow::Cow::Owned(live), plan)
        } else {
            (std::borrow::Cow::Borrowed(cached), plan)
        };
        let outcomes = self.writer().execute(&plan).await;
        self.finish(&fed, &outcomes, "Propagate").await
    }

    async fn cleanup(&self, fed: &Federated) -> Result<Action, Error> {
        let Some(plan) = self.plan(fed, true) else {
            info!(object = %self.handle.origin(fed), "orphan: leaving member copies in place");
            return Ok(Action::await_change());
        };
        let outcomes = self.writer().execute(&plan).await;
        if outcomes.values().all(Outcome::is_ok) {
            info!(object = %plan.origin, "member copies deleted");
            return Ok(Action::await_change());
        }
        self.finish(fed, &outcomes, "Delete").await
    }

    /// Writes status (when changed) and Events (for new failures); errors when anything failed.
    async fn finish(
        &self,
        fed: &Federated,
        outcomes: &BTreeMap<String, Outcome>,
        action: &str,
    ) -> Result<Action, Error> {
        let now = status::condition_time(k8s_openapi::jiff::Timestamp::now());
        let mut next = status::desired_status(fed.metadata.generation, outcomes, fed.status.as_ref(), &now);
        next.clusters = status::with_replicas(next.clusters, &fed_core::replicas::division(&fed.spec.overrides));
        let (ns, name) = self.handle.member_key(fed);
        let pods = self.handle.workload_key(fed);
        for c in &mut next.clusters {
            c.workload = self.handle.copies.workload_on(&c.name, ns.as_deref(), &name);
            if c.replicas.is_some() {
                let stuck = self.shared.capacities.unschedulable(&c.name, &pods).len();
                c.unschedulable = i64::try_from(stuck).ok().filter(|n| *n > 0);
            }
        }
        let uid = fed.uid().unwrap_or_default();
        let changed = fed.status.as_ref() != Some(&next) && !self.statuses.just_written(&uid, &next);
        if changed
            && status::failures(outcomes).is_empty()
            && self.reports_pending(fed, outcomes)
            && let Some(wait) = self.statuses.wait_for_reports(&uid, REPORT_WAIT)
        {
            return Ok(Action::requeue(wait));
        }
        if changed {
            let patch = json!({ "status": {
                "observedGeneration": next.observed_generation,
                "conditions": next.conditions,
                "clusters": next.clusters,
            }});
            self.fed_api(fed.metadata.namespace.as_deref())
                .patch_status(&fed.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
            self.statuses.record(&uid, &next);
        }
        self.publish_failures(fed, outcomes, action).await;
        let failed = status::failures(outcomes);
        if failed.is_empty() {
            Ok(Action::requeue(self.shared.opts.resync_period))
        } else {
            Err(Error::Incomplete(failed.join(", ")))
        }
    }

    /// True when a workload copy just written, or not yet reported on by its member's
    /// controller, is about to bring new numbers for the status.
    fn reports_pending(&self, fed: &Federated, outcomes: &BTreeMap<String, Outcome>) -> bool {
        if !workload::is_workload(&self.handle.spec.target) {
            return false;
        }
        let (ns, name) = self.handle.member_key(fed);
        outcomes.iter().any(|(cluster, outcome)| {
            *outcome == Outcome::Propagated && self.handle.copies.report_pending(cluster, ns.as_deref(), &name)
        })
    }

    /// One Warning Event per newly failing cluster.
    async fn publish_failures(&self, fed: &Federated, outcomes: &BTreeMap<String, Outcome>, action: &str) {
        let reference = fed.object_ref(&self.handle.fed_ar);
        for (cluster, word, message) in status::new_failures(outcomes, fed.status.as_ref()) {
            warn!(object = %self.handle.origin(fed), %cluster, status = word, %message, "member cluster failed");
            let note = format!("cluster {cluster}: {message}");
            events::publish(&self.shared.recorder, &reference, EventType::Warning, word, &note, action).await;
        }
    }
}

/// True when `current` (from the API server) is the live incarnation `cached` was taken from
/// and carries the sync finalizer: only then may copies be written for it, because only then
/// will a cleanup run before it goes away.
pub fn still_live(cached: &Federated, current: &Federated) -> bool {
    Owner::of(&cached.metadata, Some(&current.metadata)) == Owner::Live
        && current.finalizers().iter().any(|f| f == keys::FINALIZER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_written_only_for_the_live_finalized_incarnation() {
        let ar = kube::core::ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&());
        let fed = |uid: &str, finalized: bool, deleting: bool| {
            let mut f = Federated::new("cm", &ar, Default::default());
            f.metadata.uid = Some(uid.to_string());
            f.metadata.finalizers = finalized.then(|| vec!["other".to_string(), keys::FINALIZER.to_string()]);
            f.metadata.deletion_timestamp = deleting
                .then(|| k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now()));
            f
        };
        let cached = fed("a", true, false);
        assert!(still_live(&cached, &fed("a", true, false)));
        assert!(!still_live(&cached, &fed("b", true, false)), "deleted and re-created under the same name");
        assert!(!still_live(&cached, &fed("a", true, true)), "being deleted: cleanup comes next");
        assert!(!still_live(&cached, &fed("a", false, false)), "finalizer gone: nothing would clean up");
    }
}
