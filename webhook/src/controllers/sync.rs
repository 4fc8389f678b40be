//! Sync controller: every Federated&lt;Kind&gt; → its placed member clusters.
//!
//! Per object: finalizer `kubefed.io/sync-controller`; placement resolved against the joined
//! clusters and intersected with the namespace's FederatedNamespace placement; for each placed
//! cluster (concurrently, bounded, each request under a timeout) server-side apply of the
//! rendered member object, creating the namespace on the member when missing; copies removed
//! from clusters no longer placed; `status.clusters[]` + `Propagation` written when changed;
//! Events on new failures. Deletion removes every copy (unless `kubefed.io/orphan: "true"`)
//! before the finalizer is released.
//!
//! Host semantics: when the federated object belongs to an annotated source (or is a
//! FederatedNamespace), the host cluster's copy is the source (or the namespace holding the
//! federated object) itself and is never written or deleted.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use fed_core::api::Federated;
use fed_core::render::{self, RenderError};
use fed_core::{keys, placement};
use futures::channel::mpsc;
use futures::{FutureExt, StreamExt, stream};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams, Preconditions, PropagationPolicy};
use kube::runtime::controller::{self, Action, applier};
use kube::runtime::events::{Event as KubeEvent, EventType};
use kube::runtime::finalizer::{self, Event as Finalizer, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::{Client, Resource, ResourceExt};
use serde_json::{Value, json};
use tracing::{debug, info, warn};

use super::members::Member;
use super::status::{
    self, APPLY_OVERRIDES_FAILED, CLUSTER_NOT_READY, CREATION_FAILED, DELETION_FAILED, Outcome, UPDATE_FAILED,
};
use super::types::{CopyState, TypeHandle, owned_by_source, render_fingerprint};
use super::{AbortOnDrop, Shared, now_rfc3339, same_live_incarnation};
use crate::metrics::WriteTarget;

/// Why a sync did not complete; every variant is retried with backoff by [`error_policy`].
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// A host API call failed.
    #[error(transparent)]
    Kube(#[from] kube::Error),
    /// Some member clusters failed (details in the object's status).
    #[error("not propagated everywhere: {0}")]
    Incomplete(String),
    /// The finalizer helper failed (adding/removing the finalizer or the wrapped sync).
    #[error(transparent)]
    Finalizer(Box<finalizer::Error<SyncError>>),
    /// The reconcile task panicked.
    #[error("reconcile task failed: {0}")]
    Task(String),
}

impl SyncError {
    /// True when only member clusters failed: already reported in status and Events, so it is
    /// logged quietly on every retry.
    pub fn is_incomplete(&self) -> bool {
        match self {
            SyncError::Incomplete(_) => true,
            SyncError::Finalizer(e) => {
                matches!(&**e, finalizer::Error::ApplyFailed(inner) | finalizer::Error::CleanupFailed(inner)
                    if inner.is_incomplete())
            }
            _ => false,
        }
    }
}

/// How long a status sync wrote is trusted over the store's copy of the object.
const RECENT_STATUS_TTL: Duration = Duration::from_secs(10);

/// Context of one type's sync controller.
pub struct SyncCtx {
    shared: Arc<Shared>,
    handle: Arc<TypeHandle>,
    failures: status::FailureCounts<ObjectRef<Federated>>,
    statuses: status::RecentStatus,
}

/// Runs the sync controller of one type: a kube-runtime applier over the type's
/// Federated&lt;Kind&gt; store, fed by `queue` (object changes, member drift, cluster changes).
pub async fn run(shared: Arc<Shared>, handle: Arc<TypeHandle>, queue: mpsc::UnboundedReceiver<ObjectRef<Federated>>) {
    // Until the member registry has listed the clusters and their secrets, every cluster looks
    // unjoined: a cleanup would find no copies to delete and release the finalizer, leaving
    // them behind for good, and a sync would drop every cluster from the status. (A controller
    // that has just taken over the Lease starts with an empty registry.)
    shared.members.wait_ready().await;
    let config = controller::Config::default().concurrency(shared.opts.reconcile_concurrency);
    let store = handle.fed_store.clone();
    let kind = handle.spec.federated.kind.clone();
    let ctx = Arc::new(SyncCtx {
        shared,
        handle,
        failures: status::FailureCounts::new(),
        statuses: status::RecentStatus::new(RECENT_STATUS_TTL),
    });
    applier(
        |fed, ctx| {
            AbortOnDrop::spawn(reconcile(fed, ctx)).map(|r| r.unwrap_or_else(|e| Err(SyncError::Task(e.to_string()))))
        },
        error_policy,
        ctx,
        store,
        queue.map(Ok::<_, Infallible>),
        config,
    )
    .for_each(|r| {
        match r {
            Ok((obj, _)) => debug!(object = %obj, "synced"),
            Err(controller::Error::ObjectNotFound(obj)) => debug!(object = %obj, "gone before sync"),
            Err(controller::Error::ReconcilerFailed(e, obj)) if e.is_incomplete() => {
                debug!(object = %obj, error = %e, "sync incomplete; retrying")
            }
            Err(controller::Error::ReconcilerFailed(e, obj)) => warn!(object = %obj, error = %e, "sync failed"),
            Err(e) => warn!(%kind, error = %e, "sync controller"),
        }
        std::future::ready(())
    })
    .await;
}

/// The one place that decides retries: exponential backoff per object, capped.
fn error_policy(fed: Arc<Federated>, _err: &SyncError, ctx: Arc<SyncCtx>) -> Action {
    let r = ObjectRef::from_obj_with(&*fed, ctx.handle.fed_ar.clone());
    Action::requeue(ctx.failures.next_retry(r, ctx.shared.opts.max_backoff))
}

async fn reconcile(fed: Arc<Federated>, ctx: Arc<SyncCtx>) -> Result<Action, SyncError> {
    let r = ObjectRef::from_obj_with(&*fed, ctx.handle.fed_ar.clone());
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
        Err(e) => return Err(SyncError::Finalizer(Box::new(e))),
    };
    ctx.failures.clear(&r);
    Ok(action)
}

/// What one member request failed with.
enum CallError {
    Timeout,
    Kube(kube::Error),
}

impl CallError {
    fn code(&self) -> Option<u16> {
        match self {
            CallError::Kube(kube::Error::Api(s)) => Some(s.code),
            _ => None,
        }
    }

    /// The outcome for this error: unreachable → ClusterNotReady, refused → `word`.
    fn outcome(&self, word: &'static str, timeout: Duration) -> Outcome {
        match self {
            CallError::Timeout => Outcome::failed(CLUSTER_NOT_READY, format!("no answer within {timeout:?}")),
            CallError::Kube(kube::Error::Api(s)) => Outcome::failed(word, s.message.clone()),
            CallError::Kube(e @ (kube::Error::HyperError(_) | kube::Error::Service(_))) => {
                Outcome::failed(CLUSTER_NOT_READY, e.to_string())
            }
            CallError::Kube(e) => Outcome::failed(word, e.to_string()),
        }
    }
}

/// Host-side operation per cluster.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Apply,
    Delete,
}

impl SyncCtx {
    fn fed_api(&self, namespace: Option<&str>) -> Api<Federated> {
        match namespace {
            Some(ns) => Api::namespaced_with(self.shared.host.clone(), ns, &self.handle.fed_ar),
            None => Api::all_with(self.shared.host.clone(), &self.handle.fed_ar),
        }
    }

    fn member_api(&self, client: Client, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace {
            Some(ns) => Api::namespaced_with(client, ns, &self.handle.target_ar),
            None => Api::all_with(client, &self.handle.target_ar),
        }
    }

    /// A write request to a member, counted and under the member timeout.
    async fn member_write<T>(&self, f: impl Future<Output = Result<T, kube::Error>>) -> Result<T, CallError> {
        self.shared.metrics.write(WriteTarget::Member);
        self.timed(f).await
    }

    async fn timed<T>(&self, f: impl Future<Output = Result<T, kube::Error>>) -> Result<T, CallError> {
        match tokio::time::timeout(self.shared.opts.member_timeout, f).await {
            Ok(r) => r.map_err(CallError::Kube),
            Err(_) => Err(CallError::Timeout),
        }
    }

    /// The host's copy is the source (or, for a FederatedNamespace, the namespace holding it).
    fn host_is_source(&self, fed: &Federated) -> bool {
        self.handle.is_namespace() || owned_by_source(fed)
    }

    /// Clusters the object goes to: its placement, within the namespace's FederatedNamespace
    /// placement when one governs the namespace.
    fn placed(&self, fed: &Federated, joined: &[fed_core::admission::JoinedCluster]) -> BTreeSet<String> {
        let placed = placement::resolve(&fed.spec.placement, joined);
        if self.handle.is_namespace() {
            return placed;
        }
        let Some(ns) = fed.metadata.namespace.as_deref() else { return placed };
        match self.shared.types.namespace_placement(ns) {
            Some(allowed) => {
                let allowed = placement::resolve(&allowed, joined);
                placed.intersection(&allowed).cloned().collect()
            }
            None => placed,
        }
    }

    /// Clusters whose member watch has seen a copy of `fed` (with its origin).
    fn present(&self, fed: &Federated, origin: &str, clusters: &[Member]) -> BTreeSet<String> {
        let (ns, name) = self.handle.member_key(fed);
        clusters
            .iter()
            .filter(|m| {
                matches!(self.handle.copy_on(&m.name, ns.as_deref(), &name),
                    CopyState::Present(Some(o)) if o == origin)
            })
            .map(|m| m.name.clone())
            .collect()
    }

    /// The object as the API server has it now, if that is still the incarnation `cached` is a
    /// copy of, not being deleted and finalized by us; `None` otherwise.
    ///
    /// The store the applier reads can lag behind a busy watch by seconds. Applying from a
    /// stale copy of an object that was deleted (or deleted and re-created) meanwhile would
    /// write member copies that no finalizer guards, and nothing would ever remove them.
    async fn live(&self, cached: &Federated) -> Result<Option<Federated>, kube::Error> {
        let current = self.fed_api(cached.metadata.namespace.as_deref()).get_opt(&cached.name_any()).await?;
        Ok(current.filter(|c| still_live(cached, c)))
    }

    async fn apply(&self, cached: &Federated) -> Result<Action, SyncError> {
        // Only a reconcile that writes to a member needs the live object: most reconciles
        // (status echoes, member watch events, resyncs) find everything up to date and cost
        // the host nothing.
        let mut ops = self.plan(cached);
        let live;
        let fed = if ops.iter().any(|(cluster, op)| self.writes(cached, cluster, *op)) {
            let Some(current) = self.live(cached).await? else {
                debug!(object = %self.handle.origin(cached), "store is behind the API server; waiting for the watch");
                return Ok(Action::await_change());
            };
            live = current;
            ops = self.plan(&live);
            &live
        } else {
            cached
        };
        let origin = self.handle.origin(fed);
        let outcomes = self.run_ops(fed, &origin, ops).await;
        self.finish(fed, &outcomes, "Propagate").await
    }

    /// The per-cluster operations that bring `fed`'s copies to its placement: an apply on every
    /// placed cluster, a delete on every other cluster that holds (or held) a copy.
    fn plan(&self, fed: &Federated) -> Vec<(String, Op)> {
        let members = self.shared.members.all();
        let joined: Vec<_> = members.iter().map(Member::joined).collect();
        let placed = self.placed(fed, &joined);
        let present = self.present(fed, &self.handle.origin(fed), &members);
        let recorded = fed.status.as_ref().map(|s| s.clusters.clone()).unwrap_or_default();
        let remove = status::clusters_to_clean(&placed, &present, &recorded);
        placed.into_iter().map(|c| (c, Op::Apply)).chain(remove.into_iter().map(|c| (c, Op::Delete))).collect()
    }

    /// Whether `op` on `cluster` would send a write to the member: every delete does; an apply
    /// does unless the member is the source's own cluster, cannot be written to now, or already
    /// holds exactly this render.
    fn writes(&self, fed: &Federated, cluster: &str, op: Op) -> bool {
        let Some(member) = self.shared.members.get(cluster) else { return false };
        match op {
            Op::Delete => true,
            Op::Apply if member.is_host && self.host_is_source(fed) => false,
            Op::Apply => self.rendered(fed, &self.handle.origin(fed), &member).is_ok_and(|r| !r.unchanged),
        }
    }

    async fn cleanup(&self, fed: &Federated) -> Result<Action, SyncError> {
        if fed.annotations().get(keys::ORPHAN).is_some_and(|v| v == "true") {
            info!(object = %self.handle.origin(fed), "orphan: leaving member copies in place");
            return Ok(Action::await_change());
        }
        let members = self.shared.members.all();
        let joined: Vec<_> = members.iter().map(Member::joined).collect();
        let placed = placement::resolve(&fed.spec.placement, &joined);
        let recorded: BTreeSet<String> =
            fed.status.iter().flat_map(|s| s.clusters.iter().map(|c| c.name.clone())).collect();
        let (ns, name) = self.handle.member_key(fed);
        let origin = self.handle.origin(fed);
        let ops: Vec<(String, Op)> = members
            .iter()
            .filter(|m| match self.handle.copy_on(&m.name, ns.as_deref(), &name) {
                CopyState::Present(o) => o.as_deref() == Some(origin.as_str()),
                CopyState::Unknown => true,
                CopyState::Absent => placed.contains(&m.name) || recorded.contains(&m.name),
            })
            .map(|m| (m.name.clone(), Op::Delete))
            .collect();
        let outcomes = self.run_ops(fed, &origin, ops).await;
        if outcomes.values().all(Outcome::is_ok) {
            info!(object = %origin, "member copies deleted");
            return Ok(Action::await_change());
        }
        self.finish(fed, &outcomes, "Delete").await
    }

    /// Runs the per-cluster operations concurrently (at most `member_concurrency` at a time).
    async fn run_ops(&self, fed: &Federated, origin: &str, ops: Vec<(String, Op)>) -> BTreeMap<String, Outcome> {
        let host_is_source = self.host_is_source(fed);
        stream::iter(ops)
            .map(|(cluster, op)| async move {
                let outcome = match self.shared.members.get(&cluster) {
                    None => match op {
                        Op::Apply => Outcome::failed(CLUSTER_NOT_READY, "cluster is not joined"),
                        Op::Delete => Outcome::Removed,
                    },
                    Some(m) if m.is_host && host_is_source => match op {
                        Op::Apply => Outcome::Propagated,
                        Op::Delete => Outcome::Removed,
                    },
                    Some(m) => match op {
                        Op::Apply => self.apply_on(fed, origin, &m).await,
                        Op::Delete => self.delete_on(fed, origin, &m).await,
                    },
                };
                (cluster, outcome)
            })
            .buffer_unordered(self.shared.opts.member_concurrency.max(1))
            .collect()
            .await
    }

    /// Writes status (when changed) and Events (for new failures); errors when anything failed.
    async fn finish(
        &self,
        fed: &Federated,
        outcomes: &BTreeMap<String, Outcome>,
        action: &str,
    ) -> Result<Action, SyncError> {
        let next = status::desired_status(fed.metadata.generation, outcomes, fed.status.as_ref(), &now_rfc3339());
        let uid = fed.uid().unwrap_or_default();
        if fed.status.as_ref() != Some(&next) && !self.statuses.just_written(&uid, &next) {
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
        let reference = fed.object_ref(&self.handle.fed_ar);
        for (cluster, word, message) in status::new_failures(outcomes, fed.status.as_ref()) {
            warn!(object = %self.handle.origin(fed), %cluster, status = word, %message, "member cluster failed");
            let event = KubeEvent {
                type_: EventType::Warning,
                reason: word.to_string(),
                note: Some(format!("cluster {cluster}: {message}").chars().take(1000).collect()),
                action: action.to_string(),
                secondary: None,
            };
            if let Err(e) = self.shared.recorder.publish(&event, &reference).await {
                debug!(error = %e, "publishing event");
            }
        }
        let failed: Vec<String> = outcomes
            .iter()
            .filter_map(|(c, o)| match o {
                Outcome::Failed { word, .. } => Some(format!("{c}: {word}")),
                _ => None,
            })
            .collect();
        if failed.is_empty() {
            Ok(Action::requeue(self.shared.opts.resync_period))
        } else {
            Err(SyncError::Incomplete(failed.join(", ")))
        }
    }

    /// The copy of `fed` for `member`, or the outcome that stands in for writing it (the member
    /// cannot be written to, or the render failed).
    fn rendered(&self, fed: &Federated, origin: &str, member: &Member) -> Result<Rendered, Outcome> {
        if member.offline {
            return Err(Outcome::failed(CLUSTER_NOT_READY, "cluster is Offline"));
        }
        let client = member.client.clone().map_err(|e| Outcome::failed(CLUSTER_NOT_READY, e))?;
        let mut obj = render::member_object(fed, &self.handle.spec.target, &member.name).map_err(|e| match e {
            RenderError::Override { .. } => Outcome::failed(APPLY_OVERRIDES_FAILED, e.to_string()),
            _ => Outcome::failed(CREATION_FAILED, e.to_string()),
        })?;
        mark_managed(&mut obj, origin);
        let render = render_fingerprint(&obj);
        let (ns, name) = self.handle.member_key(fed);
        let unchanged = self.handle.unchanged_since_apply(&member.name, ns.as_deref(), &name, render);
        Ok(Rendered { client, obj, render, unchanged })
    }

    /// Server-side applies the rendered object on one member.
    async fn apply_on(&self, fed: &Federated, origin: &str, member: &Member) -> Outcome {
        let Rendered { client, obj, render, unchanged } = match self.rendered(fed, origin, member) {
            Ok(r) => r,
            Err(outcome) => return outcome,
        };
        if unchanged {
            return Outcome::Propagated;
        }
        // Where the copy goes comes from the federated object alone, never from the rendered
        // body: a copy can only ever be written into its own namespace, under its own name.
        let (ns, name) = self.handle.member_key(fed);
        let word = match self.handle.copy_on(&member.name, ns.as_deref(), &name) {
            CopyState::Present(_) => UPDATE_FAILED,
            _ => CREATION_FAILED,
        };
        let api = self.member_api(client.clone(), ns.as_deref());
        let params = PatchParams::apply(keys::FIELD_MANAGER).force();
        let mut result = self.member_write(api.patch(&name, &params, &Patch::Apply(&obj))).await;
        if let (Some(ns), Some(404)) = (ns.as_deref(), result.as_ref().err().and_then(CallError::code)) {
            if let Err(e) = self.ensure_namespace(client, ns).await {
                return e.outcome(word, self.shared.opts.member_timeout);
            }
            result = self.member_write(api.patch(&name, &params, &Patch::Apply(&obj))).await;
        }
        match result {
            Ok(answer) => {
                self.handle.record_apply(&member.name, render, &answer);
                Outcome::Propagated
            }
            Err(e) => {
                self.handle.forget_apply(&member.name, ns.as_deref(), &name);
                match e.code() {
                    // The namespace exists by now: the member does not serve the type at all.
                    Some(404) => Outcome::failed(word, not_served(&self.handle.spec.target, &member.name)),
                    _ => e.outcome(word, self.shared.opts.member_timeout),
                }
            }
        }
    }

    /// Creates `namespace` on a member (labelled managed, so unjoin can remove it).
    async fn ensure_namespace(&self, client: Client, namespace: &str) -> Result<(), CallError> {
        let api: Api<Namespace> = Api::all(client);
        let ns: Namespace = serde_json::from_value(json!({
            "metadata": { "name": namespace, "labels": { keys::MANAGED_LABEL: "true" } }
        }))
        .expect("a valid Namespace");
        let pp = PostParams { field_manager: Some(keys::FIELD_MANAGER.to_string()), ..Default::default() };
        match self.member_write(api.create(&pp, &ns)).await {
            Ok(_) => {
                info!(%namespace, "created namespace on member");
                Ok(())
            }
            Err(e) if e.code() == Some(409) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Deletes the copy on one member if it is ours (origin annotation matches).
    async fn delete_on(&self, fed: &Federated, origin: &str, member: &Member) -> Outcome {
        if member.offline {
            return Outcome::failed(DELETION_FAILED, "cluster is Offline");
        }
        let client = match &member.client {
            Ok(c) => c.clone(),
            Err(e) => return Outcome::failed(DELETION_FAILED, format!("no client: {e}")),
        };
        let (ns, name) = self.handle.member_key(fed);
        self.handle.forget_apply(&member.name, ns.as_deref(), &name);
        let api = self.member_api(client, ns.as_deref());
        let current = match self.timed(api.get_opt(&name)).await {
            Ok(Some(o)) => o,
            Ok(None) => return Outcome::Removed,
            Err(e) => return e.outcome(DELETION_FAILED, self.shared.opts.member_timeout),
        };
        if current.annotations().get(keys::ORIGIN).map(String::as_str) != Some(origin) {
            debug!(cluster = %member.name, %name, "not our copy; leaving it");
            return Outcome::Removed;
        }
        if current.metadata.deletion_timestamp.is_some() {
            return Outcome::Removed;
        }
        let dp = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            preconditions: Some(Preconditions { uid: current.metadata.uid.clone(), resource_version: None }),
            ..Default::default()
        };
        match self.member_write(api.delete(&name, &dp)).await {
            Ok(_) => {
                info!(cluster = %member.name, copy = %origin, "deleted member copy");
                Outcome::Removed
            }
            Err(e) if e.code() == Some(404) => Outcome::Removed,
            Err(e) => e.outcome(DELETION_FAILED, self.shared.opts.member_timeout),
        }
    }
}

/// A member copy as sync would write it.
struct Rendered {
    /// The member's client.
    client: Client,
    /// The object to apply (overrides applied, marked managed).
    obj: Value,
    /// [`render_fingerprint`] of `obj`.
    render: u64,
    /// The member already holds this render, untouched since sync wrote it.
    unchanged: bool,
}

/// True when `current` (from the API server) is the live incarnation `cached` was taken from
/// and carries the sync finalizer: only then may copies be written for it, because only then
/// will a cleanup run before it goes away.
pub fn still_live(cached: &Federated, current: &Federated) -> bool {
    same_live_incarnation(&cached.metadata, &current.metadata)
        && current.finalizers().iter().any(|f| f == keys::FINALIZER)
}

/// Why a member answers 404 to the apply of a copy: it does not serve the type (typically a
/// custom resource whose CRD is not installed there).
pub fn not_served(target: &fed_core::api::ApiResourceRef, cluster: &str) -> String {
    format!(
        "cluster {cluster} does not serve {} {}: install its CustomResourceDefinition there, or leave {cluster} out of the placement",
        target.api_version(),
        target.plural_name
    )
}

/// Makes sure a rendered object carries the managed label and the origin annotation.
pub fn mark_managed(obj: &mut Value, origin: &str) {
    let Some(root) = obj.as_object_mut() else { return };
    let meta = root.entry("metadata").or_insert_with(|| json!({}));
    let Some(meta) = meta.as_object_mut() else { return };
    for (field, key, value) in [("labels", keys::MANAGED_LABEL, "true"), ("annotations", keys::ORIGIN, origin)] {
        let map = meta.entry(field).or_insert_with(|| json!({}));
        if !map.is_object() {
            *map = json!({});
        }
        map[key] = Value::String(value.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mark_managed_adds_label_and_origin() {
        let mut v =
            json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "a", "labels": { "x": "y" } } });
        mark_managed(&mut v, "FederatedConfigMap/ns/a");
        assert_eq!(v["metadata"]["labels"], json!({ "x": "y", "kubefed.io/managed": "true" }));
        assert_eq!(v["metadata"]["annotations"], json!({ "kubefed.io/origin": "FederatedConfigMap/ns/a" }));
        let mut v = json!({ "kind": "X" });
        mark_managed(&mut v, "o");
        assert_eq!(v["metadata"]["labels"]["kubefed.io/managed"], "true");
        let mut v = json!({ "metadata": { "annotations": null } });
        mark_managed(&mut v, "o");
        assert_eq!(v["metadata"]["annotations"]["kubefed.io/origin"], "o");
    }

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

    #[test]
    fn a_type_the_member_does_not_serve_is_named() {
        let target = fed_core::api::ApiResourceRef {
            group: "example.com".into(),
            version: "v1".into(),
            kind: "Widget".into(),
            plural_name: "widgets".into(),
            scope: fed_core::api::Scope::Namespaced,
        };
        let msg = not_served(&target, "kronos");
        assert!(msg.starts_with("cluster kronos does not serve example.com/v1 widgets"), "{msg}");
    }

    #[test]
    fn errors_map_to_status_words() {
        let t = Duration::from_secs(1);
        let api = |code: u16| {
            CallError::Kube(kube::Error::Api(Box::new(kube::core::Status {
                code,
                message: "denied".into(),
                ..Default::default()
            })))
        };
        assert_eq!(
            CallError::Timeout.outcome(CREATION_FAILED, t),
            Outcome::failed(CLUSTER_NOT_READY, "no answer within 1s")
        );
        assert_eq!(api(403).outcome(UPDATE_FAILED, t), Outcome::failed(UPDATE_FAILED, "denied"));
        assert_eq!(api(404).code(), Some(404));
        assert_eq!(CallError::Timeout.code(), None);
    }

    #[test]
    fn incomplete_is_recognised_through_the_finalizer_wrapper() {
        let inner = SyncError::Incomplete("vulcan: ClusterNotReady".into());
        assert!(inner.is_incomplete());
        let wrapped = SyncError::Finalizer(Box::new(finalizer::Error::ApplyFailed(inner)));
        assert!(wrapped.is_incomplete());
        let other = SyncError::Finalizer(Box::new(finalizer::Error::UnnamedObject));
        assert!(!other.is_incomplete());
        assert!(!SyncError::Task("x".into()).is_incomplete());
    }
}
