//! Why a sync runs: the watches that turn changes into work for one type.
//!
//! - [`watch_federated`]: a `Federated<Kind>` changed (anything but its status) → sync it; a
//!   source-owned one changed → materialize re-checks its source; a workload's changed → the
//!   replicas controller re-checks its division; a FederatedNamespace's
//!   placement changed → sync everything in that namespace.
//! - [`manage_member_watches`]: clusters joined, left, changed labels, client or health → sync
//!   what is placed on (or recorded for) them; and one [`watch_member_copies`] per member.
//! - [`watch_member_copies`]: a member copy was edited or deleted (drift) → sync its origin.
//!
//! Besides these, sync resyncs every object each `resync_period`, and retries failures.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use fed_core::api::Federated;
use fed_core::{keys, render, workload};
use futures::{StreamExt, TryStreamExt};
use kube::ResourceExt;
use kube::api::{Api, DynamicObject, PartialObjectMeta};
use kube::runtime::reflector::{self, ObjectRef, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use tracing::{debug, warn};

use super::copies::{CopyRecord, copy_record, copy_record_with};
use super::handle::TypeHandle;
use super::materialize::MaterializeHandle;
use super::member_registry::{self, Member};
use super::member_tasks::MemberTasks;
use super::replicas::ReplicasHandle;
use super::shared::Shared;
use crate::listing::HeldWhileListing;
use crate::ready::Ready;
use crate::record::{self, NameKey};

/// What about a federated object makes the sync controller act: everything but its status.
fn sync_fingerprint(f: &Federated) -> u64 {
    let mut h = DefaultHasher::new();
    f.metadata.generation.hash(&mut h);
    f.metadata.deletion_timestamp.is_some().hash(&mut h);
    f.metadata.finalizers.hash(&mut h);
    f.metadata.annotations.hash(&mut h);
    f.metadata.labels.hash(&mut h);
    serde_json::to_string(&f.metadata.owner_references).unwrap_or_default().hash(&mut h);
    h.finish()
}

/// The ready replicas per cluster of a divided object (`None` when its replicas are not
/// divided): a change may let the division hand replicas over (it waits for them).
fn ready_fingerprint(f: &Federated) -> Option<u64> {
    if fed_core::replicas::division(&f.spec.overrides).is_empty() {
        return None;
    }
    let mut h = DefaultHasher::new();
    for c in f.status.iter().flat_map(|s| &s.clusters) {
        (&c.name, c.workload.map(|w| w.ready)).hash(&mut h);
    }
    Some(h.finish())
}

fn placement_fingerprint(f: Option<&Federated>) -> u64 {
    let mut h = DefaultHasher::new();
    serde_json::to_string(&f.map(|f| &f.spec.placement)).unwrap_or_default().hash(&mut h);
    h.finish()
}

/// Reflects the `Federated<Kind>` objects into the store and turns their changes into sync
/// and materialize work (and division work, for a type whose replicas are divided).
pub async fn watch_federated(
    shared: Arc<Shared>,
    handle: Arc<TypeHandle>,
    writer: Writer<Federated>,
    mat: MaterializeHandle,
    replicas: Option<ReplicasHandle>,
) {
    let api = Api::<Federated>::all_with(shared.host.clone(), &handle.fed_ar);
    let mut events = std::pin::pin!(reflector::reflector(
        writer,
        watcher(api, watcher::Config::default()).default_backoff().modify(|f| f.managed_fields_mut().clear()),
    ));
    let mut seen: HashMap<NameKey, u64> = HashMap::new();
    let mut ready_seen: HashMap<NameKey, u64> = HashMap::new();
    let mut ns_placements: HashMap<String, u64> = HashMap::new();
    let namespace_changed = |f: &Federated, gone: bool, ns_placements: &mut HashMap<String, u64>| {
        let Some(ns) = f.metadata.namespace.clone() else { return };
        let fp = placement_fingerprint((!gone).then_some(f));
        if ns_placements.insert(ns.clone(), fp) != Some(fp) {
            shared.types.requeue_namespace(&ns);
        }
    };
    // Sync and division look the object up in the store: what a re-list finds waits for it.
    let mut held = HeldWhileListing::default();
    let requeue = |r: ObjectRef<Federated>| {
        if let Some(replicas) = &replicas {
            replicas.federated_changed(&r);
        }
        handle.requeue(r);
    };
    while let Some(ev) = events.next().await {
        held.observe(&ev).into_iter().for_each(requeue);
        match ev {
            Ok(watcher::Event::Apply(f) | watcher::Event::InitApply(f)) => {
                let r = ObjectRef::from_obj_with(&f, handle.fed_ar.clone());
                let fp = sync_fingerprint(&f);
                if seen.insert(NameKey::of(&f.metadata), fp) != Some(fp) {
                    held.now_or_held(r.clone()).into_iter().for_each(requeue);
                }
                if let (Some(replicas), Some(fp)) = (&replicas, ready_fingerprint(&f))
                    && ready_seen.insert(NameKey::of(&f.metadata), fp) != Some(fp)
                {
                    replicas.federated_changed(&r);
                }
                mat.federated_changed(&f, &r);
                if handle.is_namespace() {
                    namespace_changed(&f, false, &mut ns_placements);
                }
            }
            Ok(watcher::Event::Delete(f)) => {
                let r = ObjectRef::from_obj_with(&f, handle.fed_ar.clone());
                seen.remove(&NameKey::of(&f.metadata));
                ready_seen.remove(&NameKey::of(&f.metadata));
                mat.federated_changed(&f, &r);
                if handle.is_namespace() {
                    namespace_changed(&f, true, &mut ns_placements);
                }
            }
            Ok(watcher::Event::InitDone) => {
                let present: HashSet<NameKey> =
                    handle.fed_store.state().iter().map(|f| NameKey::of(&f.metadata)).collect();
                seen.retain(|r, _| present.contains(r));
                ready_seen.retain(|r, _| present.contains(r));
                handle.fed_ready.set();
                mat.sweep_all();
            }
            Ok(watcher::Event::Init) => {}
            Err(e) => warn!(federated = %handle.spec.federated.kind, error = %e, "watching federated objects"),
        }
    }
}

/// Keeps one member-copy watch per (this type, member cluster) and requeues federated objects
/// when clusters join, leave, change labels, get a new client, or change health.
pub async fn manage_member_watches(shared: Arc<Shared>, handle: Arc<TypeHandle>) {
    let mut changes = shared.members.subscribe();
    shared.members.wait_ready().await;
    handle.fed_ready.wait().await;
    let mut watches = MemberTasks::default();
    let mut before: BTreeMap<String, Member> = BTreeMap::new();
    loop {
        let now = shared.members.snapshot();
        watches.update(&now, |m, client| {
            let writer = Writer::<CopyRecord>::new(());
            let ready = Ready::new();
            handle.copies.insert(&m.name, writer.as_reader(), ready.clone());
            watch_member_copies(handle.clone(), m.name.clone(), client.clone(), writer, ready)
        });
        handle.copies.retain(|name| watches.contains(name));
        let diff = member_registry::diff(&before, &now);
        if diff.membership {
            handle.requeue_all();
        } else if !diff.clusters.is_empty() {
            let joined: Vec<_> = now.values().map(Member::joined).collect();
            for c in &diff.clusters {
                handle.requeue_cluster(c, &joined);
            }
        }
        before = now;
        if changes.changed().await.is_err() {
            return;
        }
    }
}

/// Watches the managed copies of this type on one member (metadata only; workloads whole, kept
/// as their numbers) and requeues their origin when one is edited or deleted, so the sync
/// controller reverts the drift, or when a workload's numbers change, so sync shows them.
async fn watch_member_copies(
    handle: Arc<TypeHandle>,
    cluster: String,
    client: kube::Client,
    writer: Writer<CopyRecord>,
    ready: Ready,
) {
    let config = watcher::Config::default().labels(&format!("{}=true", keys::MANAGED_LABEL));
    let store = writer.as_reader();
    let records = if workload::is_workload(&handle.spec.target) {
        // Whole objects for their status, each kept as a few numbers.
        let api = Api::<DynamicObject>::all_with(client, &handle.target_ar);
        let kind = handle.spec.target.kind.clone();
        let of = move |o: DynamicObject| {
            let value = serde_json::to_value(&o).ok();
            let numbers = value.as_ref().and_then(|v| workload::of(&kind, v));
            copy_record_with(&o.metadata, numbers, value.as_ref().is_some_and(workload::observed))
        };
        watcher(api, config).default_backoff().map_ok(move |e| record::map_event(e, &of)).boxed()
    } else {
        let api = Api::<PartialObjectMeta<DynamicObject>>::all_with(client, &handle.target_ar);
        watcher(api, config).default_backoff().map_ok(|e| record::map_event(e, |m| copy_record(&m.metadata))).boxed()
    };
    let mut events = std::pin::pin!(reflector::reflector(writer, records));
    let kind = handle.spec.federated.kind.clone();
    let origin_key = |copy: &CopyRecord| -> Option<NameKey> {
        let origin = render::parse_origin(copy.value.origin.as_deref()?)?;
        (origin.kind == kind).then(|| NameKey::new(origin.namespace.as_deref(), &origin.name))
    };
    let requeue = |origin: &NameKey| handle.requeue(handle.fed_ref(origin.namespace(), origin.name()));
    let mut seen: Seen = HashMap::new();
    let mut relist: Seen = HashMap::new();
    let mut listed = false;
    while let Some(ev) = events.next().await {
        match ev {
            Ok(watcher::Event::Apply(copy)) => {
                let key = NameKey::from(&copy);
                let entry = (copy.value.trigger(), origin_key(&copy));
                if seen.get(&key).map(|e| e.0) != Some(entry.0)
                    && let Some(o) = &entry.1
                {
                    debug!(%cluster, copy = %key, origin = %o, "member copy changed");
                    requeue(o);
                }
                seen.insert(key, entry);
            }
            Ok(watcher::Event::Delete(copy)) => {
                let key = NameKey::from(&copy);
                seen.remove(&key);
                handle.copies.forget_apply(&cluster, key.namespace(), key.name());
                if let Some(o) = origin_key(&copy) {
                    debug!(%cluster, copy = %key, origin = %o, "member copy deleted");
                    requeue(&o);
                }
            }
            Ok(watcher::Event::Init) => relist.clear(),
            Ok(watcher::Event::InitApply(copy)) => {
                relist.insert(NameKey::from(&copy), (copy.value.trigger(), origin_key(&copy)));
            }
            Ok(watcher::Event::InitDone) => {
                // After a re-list (not the first one: the initial sync covers that), copies that
                // changed or vanished while the watch was down are drift too.
                if listed {
                    for gone in seen.keys().filter(|k| !relist.contains_key(*k)) {
                        handle.copies.forget_apply(&cluster, gone.namespace(), gone.name());
                    }
                    relist_drift(&seen, &relist).into_iter().for_each(requeue);
                }
                seen = std::mem::take(&mut relist);
                listed = true;
                ready.set();
                debug!(%cluster, kind = %handle.spec.target.kind, copies = store.len(), "member copies listed");
            }
            Err(e) => debug!(%cluster, kind = %handle.spec.target.kind, error = %e, "watching member copies"),
        }
    }
}

/// What the member watch remembers of each copy: its fingerprint and its origin.
type Seen = HashMap<NameKey, (u64, Option<NameKey>)>;

/// The origins to re-sync after a re-list: copies that changed or vanished while the watch was
/// down (`seen` before, `relist` now), and copies that appeared meanwhile.
fn relist_drift<'a>(seen: &'a Seen, relist: &'a Seen) -> Vec<&'a NameKey> {
    let changed = seen.iter().filter(|(r, (fp, _))| relist.get(*r).map(|e| e.0) != Some(*fp)).map(|(_, e)| e);
    let appeared = relist.iter().filter(|(r, _)| !seen.contains_key(*r)).map(|(_, e)| e);
    changed.chain(appeared).filter_map(|(_, origin)| origin.as_ref()).collect()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    use super::*;

    fn fed() -> Federated {
        let ar = kube::core::ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&());
        let mut f = Federated::new("web", &ar, Default::default());
        f.metadata.namespace = Some("ns".into());
        f.metadata.owner_references = Some(vec![OwnerReference { uid: "u1".into(), ..Default::default() }]);
        f
    }

    #[test]
    fn status_only_changes_do_not_change_the_sync_fingerprint() {
        let mut f = fed();
        f.metadata.generation = Some(1);
        let a = sync_fingerprint(&f);
        f.status = Some(Default::default());
        f.metadata.resource_version = Some("99".into());
        assert_eq!(a, sync_fingerprint(&f));
        f.metadata.generation = Some(2);
        assert_ne!(a, sync_fingerprint(&f));
        let b = sync_fingerprint(&f);
        f.metadata.finalizers = Some(vec![keys::FINALIZER.into()]);
        assert_ne!(b, sync_fingerprint(&f));
    }

    #[test]
    fn a_relist_requeues_copies_that_changed_vanished_or_appeared() {
        let key = |n: &str| NameKey::new(Some("ns"), n);
        let entry = |fp: u64, origin: &str| (fp, Some(key(origin)));
        let seen: Seen = [(key("a"), entry(1, "fa")), (key("b"), entry(1, "fb")), (key("c"), entry(1, "fc"))].into();
        let relist: Seen = [(key("a"), entry(1, "fa")), (key("b"), entry(2, "fb")), (key("d"), entry(1, "fd"))].into();
        let mut drift: Vec<String> = relist_drift(&seen, &relist).iter().map(|k| k.to_string()).collect();
        drift.sort();
        assert_eq!(drift, ["ns/fb", "ns/fc", "ns/fd"]);
        assert!(relist_drift(&seen, &seen).is_empty());
    }
}
