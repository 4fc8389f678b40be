//! Materialize controller: an annotated source object (label `kubefed.io/federated=true`) ⇄ a
//! `Federated<Kind>` of the same name, owned by the source.
//!
//! - source with federation annotations → the `Federated<Kind>` is created (a POST) or
//!   server-side applied
//!   (template from the source, placement/overrides from the annotations, `kubefed.io/orphan`
//!   copied, controller ownerReference to the source);
//! - source without the annotations, or that lost the label → its `Federated<Kind>` is
//!   deleted (the sync finalizer then removes the member copies), if this controller wrote it:
//!   one that `kubectl fed place` has just adopted, before annotating the source, is kept
//!   ([`fed_core::source::sweep_verdict`]) and then updated in place;
//! - source deleted → garbage collection deletes the `Federated<Kind>` (ownerReference).
//!
//! A kube-runtime applier reconciles sources from the labelled-source store; a sweeper handles
//! the sources that left that store (deleted or unlabelled) and federated objects whose owner is
//! gone.

use std::collections::HashMap;
use std::sync::Arc;

use fed_core::annotations;
use fed_core::api::Federated;
use fed_core::guard::{self, Cleanup, Owner, Seen};
use fed_core::source::{
    SweepVerdict, desired_federated, fed_namespace_of_source, source_owner, sweep_verdict, up_to_date,
};
use fed_core::{keys, render};
use futures::channel::mpsc;
use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions, PropagationPolicy};
use kube::core::ApiResource;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::reflector::{self, ObjectRef, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use serde_json::json;
use tracing::{debug, info, warn};

use super::adopt::{self, Known, Put};
use super::error::Error;
use super::events;
use super::handle::TypeHandle;
use super::runtime::{self, Bookkeeping, LogWords, Reconciler};
use super::shared::Shared;
use super::source_record::SourceRecord;
use super::tasks::AbortOnDrop;
use crate::listing::HeldWhileListing;
use crate::metrics::{ControllerLabel, WriteTarget};
use crate::ready::Ready;
use crate::record::{self, NameKey};

enum Sweep {
    One(Box<ObjectRef<Federated>>),
    All,
}

/// Lets the federated-object watch feed the materialize controller.
#[derive(Clone)]
pub struct MaterializeHandle {
    handle: Arc<TypeHandle>,
    source_type: Arc<ApiResource>,
    queue: mpsc::UnboundedSender<ObjectRef<SourceRecord>>,
    sweep: mpsc::UnboundedSender<Sweep>,
}

impl MaterializeHandle {
    /// A `Federated<Kind>` changed or was deleted: if a source owns it, re-check the source
    /// (restores hand edits, recreates a deleted one) and whether the source still exists.
    pub fn federated_changed(&self, fed: &Federated, r: &ObjectRef<Federated>) {
        let Some(owner) = source_owner(fed, &self.handle.spec.target) else { return };
        let source = source_ref(&self.handle, &self.source_type, fed.metadata.namespace.as_deref(), &owner.name);
        let _ = self.queue.unbounded_send(source);
        let _ = self.sweep.unbounded_send(Sweep::One(Box::new(r.clone())));
    }

    /// Re-check every source-owned federated object (after a re-list).
    pub fn sweep_all(&self) {
        let _ = self.sweep.unbounded_send(Sweep::All);
    }
}

fn source_ref(
    handle: &TypeHandle,
    source_type: &Arc<ApiResource>,
    fed_namespace: Option<&str>,
    name: &str,
) -> ObjectRef<SourceRecord> {
    let namespace = if handle.is_namespace() { None } else { fed_namespace };
    record::object_ref(namespace, name, source_type.clone())
}

struct MaterializeCtx {
    shared: Arc<Shared>,
    handle: Arc<TypeHandle>,
    source_type: Arc<ApiResource>,
    sources: Store<SourceRecord>,
    sources_ready: Ready,
    books: Bookkeeping<SourceRecord>,
}

/// Starts the source watch, the applier and the sweeper for one type.
pub fn start(shared: Arc<Shared>, handle: Arc<TypeHandle>) -> (MaterializeHandle, Vec<AbortOnDrop<()>>) {
    let (queue_tx, queue_rx) = mpsc::unbounded();
    let (sweep_tx, sweep_rx) = mpsc::unbounded();
    let source_type = Arc::new(handle.target_ar.clone());
    let writer = Writer::<SourceRecord>::new(source_type.clone());
    let ctx = Arc::new(MaterializeCtx {
        handle: handle.clone(),
        source_type: source_type.clone(),
        sources: writer.as_reader(),
        sources_ready: Ready::new(),
        books: Bookkeeping::new(
            shared.metrics.reconciles(ControllerLabel::Materialize, &handle.spec.config_name),
            source_type.clone(),
            shared.opts.max_backoff,
        ),
        shared,
    });
    let mat = MaterializeHandle { handle, source_type, queue: queue_tx, sweep: sweep_tx };
    let tasks = vec![
        AbortOnDrop::spawn(watch_sources(ctx.clone(), writer, mat.clone())),
        AbortOnDrop::spawn(run_applier(ctx.clone(), queue_rx)),
        AbortOnDrop::spawn(sweeper(ctx, sweep_rx, mat.sweep.clone())),
    ];
    (mat, tasks)
}

/// Watches labelled sources; applied ones are queued, ones that leave the selection (deleted or
/// unlabelled) are swept.
async fn watch_sources(ctx: Arc<MaterializeCtx>, writer: Writer<SourceRecord>, mat: MaterializeHandle) {
    let api = Api::<DynamicObject>::all_with(ctx.shared.host.clone(), &ctx.handle.target_ar);
    let config = watcher::Config::default().labels(&format!("{}=true", keys::FEDERATED_LABEL));
    let records = watcher(api, config)
        .default_backoff()
        .modify(render::trim_source)
        .map_ok(|e| record::map_event(e, SourceRecord::of));
    let mut events = std::pin::pin!(reflector::reflector(writer, records));
    let mut seen: HashMap<NameKey, u64> = HashMap::new();
    let mut held = HeldWhileListing::default();
    while let Some(ev) = events.next().await {
        for r in held.observe(&ev) {
            let _ = mat.queue.unbounded_send(r);
        }
        match ev {
            Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                let fp = o.fingerprint();
                if seen.insert(NameKey::of(&o.metadata), fp) != Some(fp)
                    && let Some(r) = held.now_or_held(ObjectRef::from_obj_with(&o, ctx.source_type.clone()))
                {
                    let _ = mat.queue.unbounded_send(r);
                }
            }
            Ok(watcher::Event::Delete(o)) => {
                seen.remove(&NameKey::of(&o.metadata));
                let ns = fed_namespace_of_source(&ctx.handle.spec.target, &o.metadata);
                let fed = ctx.handle.fed_ref(ns.as_deref(), &o.name_any());
                let _ = mat.sweep.unbounded_send(Sweep::One(Box::new(fed)));
            }
            Ok(watcher::Event::InitDone) => {
                ctx.sources_ready.set();
                mat.sweep_all();
            }
            Ok(watcher::Event::Init) => {}
            Err(e) => warn!(kind = %ctx.handle.spec.target.kind, error = %e, "watching federated sources"),
        }
    }
}

async fn run_applier(ctx: Arc<MaterializeCtx>, queue: mpsc::UnboundedReceiver<ObjectRef<SourceRecord>>) {
    let (concurrency, store) = (ctx.shared.opts.reconcile_concurrency, ctx.sources.clone());
    let kind = ctx.handle.spec.target.kind.clone();
    let words = LogWords {
        kind: &kind,
        done: "materialized",
        gone: "source gone",
        failed: "materialize failed",
        controller: "materialize controller",
    };
    runtime::run(reconcile, ctx, store, queue, concurrency, words).await;
}

/// The one place that decides retries: exponential backoff per source, capped.
/// What the store has of a source's federated object, for [`adopt::put`]: one it does not have
/// is created with a POST (cheaper for the host than an apply, and most are new); one it has is
/// applied pinned to its uid, so that an apply landing after garbage collection removed it (its
/// source deleted meanwhile) cannot create it again; one whose spec never changed since it was
/// created (generation 1) may still be owned by that POST, so its fields are checked first.
fn known_federated(existing: Option<&Federated>) -> Known {
    match existing {
        None => Known::ABSENT,
        Some(f) => Known {
            seen: Seen::Present(f.metadata.uid.clone()),
            unadopted: f.metadata.generation.is_none_or(|g| g <= 1),
        },
    }
}

/// True for the API server's refusal to create anything in a namespace that is being deleted.
pub fn namespace_terminating(status: &kube::core::Status) -> bool {
    status.details.iter().flat_map(|d| &d.causes).any(|c| c.reason == "NamespaceTerminating")
}

impl Reconciler for MaterializeCtx {
    type Object = SourceRecord;

    fn books(&self) -> &Bookkeeping<SourceRecord> {
        &self.books
    }
}

async fn reconcile(src: Arc<SourceRecord>, ctx: Arc<MaterializeCtx>) -> Result<Action, Error> {
    ctx.reconcile(&src).await
}

impl MaterializeCtx {
    fn fed_api(&self, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace {
            Some(ns) => Api::namespaced_with(self.shared.host.clone(), ns, &self.handle.fed_ar),
            None => Api::all_with(self.shared.host.clone(), &self.handle.fed_ar),
        }
    }

    fn source_api(&self, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace {
            Some(ns) if !self.handle.is_namespace() => {
                Api::namespaced_with(self.shared.host.clone(), ns, &self.handle.target_ar)
            }
            _ => Api::all_with(self.shared.host.clone(), &self.handle.target_ar),
        }
    }

    async fn reconcile(&self, src: &SourceRecord) -> Result<Action, Error> {
        if src.metadata.deletion_timestamp.is_some() {
            return Ok(Action::await_change());
        }
        let fed_ns = fed_namespace_of_source(&self.handle.spec.target, &src.metadata);
        let fed_ref = self.handle.fed_ref(fed_ns.as_deref(), &src.name_any());
        let existing = self.handle.fed_store.get(&fed_ref);
        let uid = src.uid().unwrap_or_default();
        let owned =
            existing.as_ref().map(|f| f.owner_references().iter().any(|o| o.uid == uid && o.controller == Some(true)));
        let federation = src.federation_annotations();
        match annotations::from_annotations(&federation) {
            Ok(None) => {
                if let (Some(fed), Some(true)) = (existing, owned) {
                    let keep_orphan = annotations::orphaned(&federation);
                    info!(source = %fed_ref, "source no longer carries placement annotations; deleting its federated object");
                    self.delete_federated(&fed, keep_orphan).await?;
                }
                Ok(Action::await_change())
            }
            Err(e) => {
                self.event(src, "InvalidAnnotations", &e.to_string()).await;
                Ok(Action::await_change())
            }
            Ok(Some(ann)) => {
                if owned == Some(false) {
                    let note = format!(
                        "{} {} exists and is not owned by this object; not federating it",
                        self.handle.spec.federated.kind, fed_ref
                    );
                    self.event(src, "NameConflict", &note).await;
                    return Ok(Action::await_change());
                }
                let desired = src.desired.unwrap_or_default();
                if existing.as_ref().is_some_and(|f| up_to_date(f, desired, &ann, &uid)) {
                    return Ok(Action::await_change());
                }
                let (owner, live) = self.live_source(src).await?;
                let (Some(live), None) = (live, guard::owner_hold(owner)) else {
                    debug!(source = %fed_ref, ?owner, "source store is behind; not writing the federated object");
                    return Ok(Action::await_change());
                };
                let Ok(Some(ann)) = annotations::from_annotations(live.annotations()) else {
                    debug!(source = %fed_ref, "source changed its annotations meanwhile; waiting for the watch");
                    return Ok(Action::await_change());
                };
                let desired = desired_federated(
                    &live,
                    &ann,
                    &self.handle.spec.target,
                    &self.handle.spec.federated,
                    existing.as_deref(),
                );
                self.shared.metrics.write(WriteTarget::Host);
                let known = known_federated(existing.as_deref());
                let api = self.fed_api(fed_ns.as_deref());
                match adopt::put(&api, &src.name_any(), &desired, known, owner, Cleanup::Collected).await {
                    // The namespace is being deleted with the source in it: nothing to keep.
                    Err(kube::Error::Api(s)) if namespace_terminating(&s) => {
                        debug!(source = %fed_ref, "namespace is being deleted; not federating");
                    }
                    // Its watch brings what happened meanwhile, and with it the next reconcile.
                    Ok(Put::Held(hold)) => {
                        debug!(source = %fed_ref, reason = hold.reason(), "federated object not written");
                    }
                    applied => {
                        applied?;
                        info!(source = %fed_ref, kind = %self.handle.spec.federated.kind, "federated object applied");
                    }
                }
                Ok(Action::await_change())
            }
        }
    }

    /// Deletes a source's federated object; unless `keep_orphan`, first drops its orphan
    /// annotation so the member copies go too.
    async fn delete_federated(&self, fed: &Federated, keep_orphan: bool) -> Result<(), kube::Error> {
        if fed.metadata.deletion_timestamp.is_some() {
            return Ok(());
        }
        let api = self.fed_api(fed.metadata.namespace.as_deref());
        let name = fed.name_any();
        if !keep_orphan && fed.annotations().contains_key(keys::ORPHAN) {
            let patch = json!({ "metadata": { "annotations": { keys::ORPHAN: null } } });
            self.shared.metrics.write(WriteTarget::Host);
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
        }
        let dp = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            preconditions: Some(Preconditions { uid: fed.uid(), resource_version: None }),
            ..Default::default()
        };
        self.shared.metrics.write(WriteTarget::Host);
        match api.delete(&name, &dp).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The source as the API server has it now, and what that makes of the incarnation `src`
    /// (from the store) records ([`Owner::of`]): read before writing its federated object, which
    /// is rendered from it, so a stale store never brings back a federated object for a source
    /// deleted meanwhile.
    async fn live_source(&self, src: &SourceRecord) -> Result<(Owner, Option<DynamicObject>), kube::Error> {
        let current = self.source_api(src.metadata.namespace.as_deref()).get_opt(&src.name_any()).await?;
        let owner = Owner::of(&src.metadata, current.as_ref().map(|c| &c.metadata));
        Ok((
            owner,
            current.map(|mut c| {
                render::trim_source(&mut c);
                c
            }),
        ))
    }

    /// A source-owned federated object whose source is no longer a labelled source: delete it,
    /// as [`sweep_verdict`] decides.
    async fn sweep_one(&self, r: &ObjectRef<Federated>) -> Result<(), kube::Error> {
        let Some(fed) = self.handle.fed_store.get(r) else { return Ok(()) };
        if fed.metadata.deletion_timestamp.is_some() {
            return Ok(());
        }
        let Some(owner) = source_owner(&fed, &self.handle.spec.target) else { return Ok(()) };
        let src_ref = source_ref(&self.handle, &self.source_type, fed.metadata.namespace.as_deref(), &owner.name);
        if self.sources.get(&src_ref).is_some_and(|s| s.uid().as_deref() == Some(owner.uid.as_str())) {
            return Ok(());
        }
        let current = self.source_api(fed.metadata.namespace.as_deref()).get_opt(&owner.name).await?;
        let SweepVerdict::Delete { keep_orphan } = sweep_verdict(owner, current.as_ref().map(|s| &s.metadata)) else {
            debug!(federated = %r, "sweep: its source is still federated, or adopted it and is being annotated");
            return Ok(());
        };
        info!(federated = %r, "source is gone or no longer federated; deleting its federated object");
        self.delete_federated(&fed, keep_orphan).await
    }

    async fn event(&self, src: &SourceRecord, reason: &str, note: &str) {
        warn!(source = %src.name_any(), %reason, %note, "not materializing");
        let reference = src.object_ref(&self.source_type);
        events::publish(&self.shared.recorder, &reference, EventType::Warning, reason, note, "Materialize").await;
    }
}

/// Deletes federated objects whose source left the labelled-source store; failures are retried.
async fn sweeper(ctx: Arc<MaterializeCtx>, rx: mpsc::UnboundedReceiver<Sweep>, retry: mpsc::UnboundedSender<Sweep>) {
    ctx.sources_ready.wait().await;
    ctx.handle.fed_ready.wait().await;
    let mut rx = rx.ready_chunks(256);
    while let Some(batch) = rx.next().await {
        let mut refs: Vec<ObjectRef<Federated>> = Vec::new();
        for s in batch {
            match s {
                Sweep::One(r) => refs.push(*r),
                Sweep::All => refs.extend(
                    ctx.handle
                        .fed_store
                        .state()
                        .iter()
                        .filter(|f| source_owner(f, &ctx.handle.spec.target).is_some())
                        .map(|f| ObjectRef::from_obj_with(&**f, ctx.handle.fed_ar.clone())),
                ),
            }
        }
        refs.sort_by_key(|r| r.to_string());
        refs.dedup();
        for r in refs {
            if let Err(e) = ctx.sweep_one(&r).await {
                warn!(federated = %r, error = %e, "deleting orphaned federated object; will retry");
                let retry = retry.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                    let _ = retry.unbounded_send(Sweep::One(Box::new(r)));
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_federated_object_is_posted_when_absent_and_checked_until_its_spec_changes() {
        let ar = kube::core::ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&());
        let at = |generation: Option<i64>| {
            let mut f = Federated::new("cm", &ar, Default::default());
            f.metadata.uid = Some("u-1".into());
            f.metadata.generation = generation;
            f
        };
        let present = |unadopted| Known { seen: Seen::Present(Some("u-1".into())), unadopted };
        assert_eq!(known_federated(None), Known::ABSENT);
        assert_eq!(known_federated(Some(&at(Some(1)))), present(true), "as the POST left it");
        assert_eq!(known_federated(Some(&at(None))), present(true), "nothing known: check");
        assert_eq!(known_federated(Some(&at(Some(2)))), present(false), "applied since: ours");
    }

    #[test]
    fn a_terminating_namespace_is_recognised_by_its_cause() {
        let status: kube::core::Status = serde_json::from_value(json!({
            "status": "Failure", "code": 403, "reason": "Forbidden",
            "message": "federatedconfigmaps.types.kubefed.io \"m1\" is forbidden: unable to create new content in namespace b because it is being terminated",
            "details": {"name": "m1", "kind": "federatedconfigmaps",
                        "causes": [{"reason": "NamespaceTerminating", "message": "namespace b is being terminated", "field": "metadata.namespace"}]}
        }))
        .unwrap();
        assert!(namespace_terminating(&status));
        let other: kube::core::Status =
            serde_json::from_value(json!({"status": "Failure", "code": 403, "reason": "Forbidden", "message": "no"}))
                .unwrap();
        assert!(!namespace_terminating(&other));
    }
}
