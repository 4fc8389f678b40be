//! Per-type controllers, started and stopped as FederatedTypeConfigs come and go.
//!
//! For every enabled type config one [`TypeHandle`] holds the reflector store of its
//! Federated&lt;Kind&gt; objects and the sync queue; around it run the sync controller, the
//! materialize controller (annotated sources) and one metadata watch per member cluster on the
//! member copies (label `kubefed.io/managed=true`) that requeues the origin on drift.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, RwLock};

use fed_core::api::{ApiResourceRef, Federated, FederatedTypeConfig, Placement, Scope};
use fed_core::{keys, placement, render};
use futures::channel::mpsc;
use futures::{StreamExt, TryStreamExt};
use kube::ResourceExt;
use kube::api::{Api, DynamicObject, PartialObjectMeta};
use kube::core::{ApiResource, ObjectMeta};
use kube::runtime::reflector::{self, ObjectRef, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use tracing::{debug, info, warn};

use super::members::{self, Member};
use super::status::parse_origin;
use super::{AbortOnDrop, NameKey, Ready, Shared, materialize, release, sync};
use crate::record::{self, Named};

/// The API types one type config federates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeSpec {
    /// FederatedTypeConfig name (`deployments.apps`).
    pub config_name: String,
    /// The member-side type.
    pub target: ApiResourceRef,
    /// The Federated&lt;Kind&gt; type on the host.
    pub federated: ApiResourceRef,
}

/// What sync needs of one member copy, from the member watch: where it is (the record's
/// namespace and name), the federated object it came from, and whether it changed. One is kept
/// per copy per member, so it is these few fields rather than the copy's metadata.
pub type CopyRecord = Named<CopyInfo>;

/// The fields of a [`CopyRecord`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyInfo {
    /// [`copy_fingerprint`] of the copy.
    fingerprint: u64,
    /// The copy's `kubefed.io/origin` annotation.
    origin: Option<String>,
}

/// The record of a member copy with this metadata.
pub fn copy_record(meta: &ObjectMeta) -> CopyRecord {
    let origin = meta.annotations.as_ref().and_then(|a| a.get(keys::ORIGIN)).cloned();
    Named::new(meta, CopyInfo { fingerprint: copy_fingerprint(meta), origin })
}

/// What the member watch knows about one member copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CopyState {
    /// No (ready) watch on that cluster: ask the member.
    Unknown,
    /// The watch has listed the cluster and there is no managed copy.
    Absent,
    /// A managed copy exists, with this origin annotation.
    Present(Option<String>),
}

/// Everything the controllers of one enabled type share.
pub struct TypeHandle {
    /// Which types.
    pub spec: TypeSpec,
    /// Dynamic descriptor of the target type.
    pub target_ar: ApiResource,
    /// Dynamic descriptor of the Federated&lt;Kind&gt;.
    pub fed_ar: ApiResource,
    /// Every Federated&lt;Kind&gt; on the host (managedFields stripped).
    pub fed_store: Store<Federated>,
    /// Set once `fed_store` has been listed.
    pub fed_ready: Ready,
    sync_queue: mpsc::UnboundedSender<ObjectRef<Federated>>,
    member_copies: RwLock<HashMap<String, (Store<CopyRecord>, Ready)>>,
    /// What sync last wrote to each member copy, by cluster and copy.
    applied: Mutex<HashMap<String, HashMap<NameKey, Applied>>>,
}

/// One write of sync to a member copy: a fingerprint of the rendered object sent, and the
/// copy's [`copy_fingerprint`] in the answer. While both still hold, the copy is as sync left
/// it and another write would change nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Applied {
    render: u64,
    copy: u64,
}

/// Fingerprint of a rendered member object.
pub fn render_fingerprint(obj: &serde_json::Value) -> u64 {
    let mut h = DefaultHasher::new();
    obj.to_string().hash(&mut h);
    h.finish()
}

impl TypeHandle {
    /// True for the Namespace type (FederatedNamespace).
    pub fn is_namespace(&self) -> bool {
        self.spec.target.is_namespace()
    }

    /// Reference of a federated object in the store.
    pub fn fed_ref(&self, namespace: Option<&str>, name: &str) -> ObjectRef<Federated> {
        record::object_ref(namespace, name, self.fed_ar.clone())
    }

    /// Schedules a sync of one federated object.
    pub fn requeue(&self, r: ObjectRef<Federated>) {
        let _ = self.sync_queue.unbounded_send(r);
    }

    /// Schedules a sync of every federated object of this type.
    pub fn requeue_all(&self) {
        for f in self.fed_store.state() {
            self.requeue(ObjectRef::from_obj_with(&*f, self.fed_ar.clone()));
        }
    }

    /// Schedules a sync of every object placed on (or recorded for) `cluster`.
    pub fn requeue_cluster(&self, cluster: &str, joined: &[fed_core::admission::JoinedCluster]) {
        for f in self.fed_store.state() {
            let recorded = f.status.as_ref().is_some_and(|s| s.clusters.iter().any(|c| c.name == cluster));
            if recorded || placement::resolve(&f.spec.placement, joined).contains(cluster) {
                self.requeue(ObjectRef::from_obj_with(&*f, self.fed_ar.clone()));
            }
        }
    }

    /// The `kubefed.io/origin` value for a federated object.
    pub fn origin(&self, fed: &Federated) -> String {
        render::origin(&self.spec.federated.kind, fed.metadata.namespace.as_deref(), &fed.name_any())
    }

    /// Namespace and name of the member copy of `fed`: the namespace itself for a
    /// FederatedNamespace, else the federated object's own namespace (if the target is
    /// namespaced) and name.
    pub fn member_key(&self, fed: &Federated) -> (Option<String>, String) {
        if self.is_namespace() {
            (None, fed.metadata.namespace.clone().unwrap_or_else(|| fed.name_any()))
        } else if self.spec.target.scope == Scope::Namespaced {
            (fed.metadata.namespace.clone(), fed.name_any())
        } else {
            (None, fed.name_any())
        }
    }

    fn copy_ref(namespace: Option<&str>, name: &str) -> ObjectRef<CopyRecord> {
        record::object_ref(namespace, name, ())
    }

    /// True when the member watch shows the copy exactly as sync's last write of `render` left
    /// it (nobody edited it since), so applying `render` again can be skipped.
    pub fn unchanged_since_apply(&self, cluster: &str, namespace: Option<&str>, name: &str, render: u64) -> bool {
        let copy = {
            let stores = self.member_copies.read().expect("member copies lock");
            match stores.get(cluster) {
                Some((store, ready)) if ready.is_ready() => {
                    store.get(&Self::copy_ref(namespace, name)).map(|c| c.value.fingerprint)
                }
                _ => None,
            }
        };
        let Some(copy) = copy else { return false };
        let applied = self.applied.lock().expect("applied lock");
        applied.get(cluster).and_then(|copies| copies.get(&NameKey::new(namespace, name)))
            == Some(&Applied { render, copy })
    }

    /// Records a write of `render` to a member copy and the copy the member answered with.
    pub fn record_apply(&self, cluster: &str, render: u64, answer: &DynamicObject) {
        let copy = copy_fingerprint(&answer.metadata);
        let mut applied = self.applied.lock().expect("applied lock");
        applied.entry(cluster.to_string()).or_default().insert(NameKey::of(&answer.metadata), Applied { render, copy });
    }

    /// Forgets sync's writes to a member copy (deleted, or the write failed).
    pub fn forget_apply(&self, cluster: &str, namespace: Option<&str>, name: &str) {
        let mut applied = self.applied.lock().expect("applied lock");
        if let Some(copies) = applied.get_mut(cluster) {
            copies.remove(&NameKey::new(namespace, name));
        }
    }

    /// What the member watch on `cluster` knows about the copy `namespace/name`.
    pub fn copy_on(&self, cluster: &str, namespace: Option<&str>, name: &str) -> CopyState {
        let stores = self.member_copies.read().expect("member copies lock");
        let Some((store, ready)) = stores.get(cluster) else { return CopyState::Unknown };
        if !ready.is_ready() {
            return CopyState::Unknown;
        }
        match store.get(&Self::copy_ref(namespace, name)) {
            Some(copy) => CopyState::Present(copy.value.origin.clone()),
            None => CopyState::Absent,
        }
    }
}

/// The running per-type controllers, by type config name.
#[derive(Default)]
pub struct TypeRegistry {
    inner: RwLock<HashMap<String, Arc<TypeHandle>>>,
}

impl TypeRegistry {
    fn all(&self) -> Vec<Arc<TypeHandle>> {
        self.inner.read().expect("type registry lock").values().cloned().collect()
    }

    /// The placement of the FederatedNamespace governing `namespace`, if the namespaces type is
    /// enabled and one exists (the one named like the namespace wins over others).
    pub fn namespace_placement(&self, namespace: &str) -> Option<Placement> {
        let handle = self.all().into_iter().find(|h| h.is_namespace())?;
        let mut candidates = handle.fed_store.state_filter(|f| f.metadata.namespace.as_deref() == Some(namespace));
        candidates.sort_by_key(|f| (f.name_any() != namespace, f.name_any()));
        candidates.first().map(|f| f.spec.placement.clone())
    }

    /// Requeues every federated object (of every non-namespace type) in `namespace`.
    pub fn requeue_namespace(&self, namespace: &str) {
        for h in self.all().into_iter().filter(|h| !h.is_namespace()) {
            for f in h.fed_store.state_filter(|f| f.metadata.namespace.as_deref() == Some(namespace)) {
                h.requeue(ObjectRef::from_obj_with(&*f, h.fed_ar.clone()));
            }
        }
    }
}

/// The type specs of the configs (not being deleted) that are enabled, or with `enabled`
/// false, disabled.
pub fn type_specs(configs: &[Arc<FederatedTypeConfig>], enabled: bool) -> BTreeMap<String, TypeSpec> {
    configs
        .iter()
        .filter(|c| c.is_enabled() == enabled && c.metadata.deletion_timestamp.is_none())
        .map(|c| {
            let spec = TypeSpec {
                config_name: c.name_any(),
                target: c.spec.target_type.clone(),
                federated: c.spec.federated_type.clone(),
            };
            (spec.config_name.clone(), spec)
        })
        .collect()
}

struct Running {
    spec: TypeSpec,
    _tasks: Vec<AbortOnDrop<()>>,
}

/// Watches FederatedTypeConfigs and starts/stops the per-type controllers (for enabled types)
/// and the release controllers (for disabled ones, see [`release`]).
pub async fn run(shared: Arc<Shared>) -> anyhow::Result<()> {
    let (configs, writer) = reflector::store::<FederatedTypeConfig>();
    let api: Api<FederatedTypeConfig> = Api::namespaced(shared.host.clone(), &shared.opts.federation_namespace);
    let mut events = std::pin::pin!(reflector::reflector(
        writer,
        watcher(api, watcher::Config::default()).default_backoff().modify(|c| c.managed_fields_mut().clear()),
    ));
    let mut running: HashMap<String, Running> = HashMap::new();
    let mut released: HashMap<String, Running> = HashMap::new();
    while let Some(ev) = events.next().await {
        match ev {
            Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_) | watcher::Event::InitDone) => {}
            Ok(_) => continue,
            Err(e) => {
                warn!(error = %e, "watching FederatedTypeConfigs");
                continue;
            }
        }
        let desired = type_specs(&configs.state(), true);
        let stale: Vec<String> =
            running.iter().filter(|(n, r)| desired.get(*n) != Some(&r.spec)).map(|(n, _)| n.clone()).collect();
        for name in stale {
            shared.types.inner.write().expect("type registry lock").remove(&name);
            running.remove(&name);
            info!(type_config = %name, "stopped controllers for type");
        }
        for (name, spec) in desired {
            if running.contains_key(&name) {
                continue;
            }
            let (handle, tasks) = start_type(shared.clone(), spec.clone());
            shared.types.inner.write().expect("type registry lock").insert(name.clone(), handle);
            info!(type_config = %name, federated = %spec.federated.kind, "started controllers for type");
            running.insert(name, Running { spec, _tasks: tasks });
        }
        // After the stops above, so a type switched to Disabled has no sync controller left that
        // could add the finalizer back.
        let disabled = type_specs(&configs.state(), false);
        released.retain(|name, r| disabled.get(name) == Some(&r.spec));
        for (name, spec) in disabled {
            if released.contains_key(&name) {
                continue;
            }
            let task = AbortOnDrop::spawn(release::run(shared.host.clone(), spec.federated.api_resource()));
            info!(type_config = %name, "type disabled: releasing its deleted federated objects");
            released.insert(name, Running { spec, _tasks: vec![task] });
        }
    }
    anyhow::bail!("FederatedTypeConfig watch ended")
}

fn start_type(shared: Arc<Shared>, spec: TypeSpec) -> (Arc<TypeHandle>, Vec<AbortOnDrop<()>>) {
    let target_ar = spec.target.api_resource();
    let fed_ar = spec.federated.api_resource();
    let writer = Writer::<Federated>::new(fed_ar.clone());
    let (sync_tx, sync_rx) = mpsc::unbounded();
    let handle = Arc::new(TypeHandle {
        spec,
        target_ar,
        fed_ar,
        fed_store: writer.as_reader(),
        fed_ready: Ready::new(),
        sync_queue: sync_tx,
        member_copies: RwLock::new(HashMap::new()),
        applied: Mutex::new(HashMap::new()),
    });
    let (mat, mut tasks) = materialize::start(shared.clone(), handle.clone());
    tasks.push(AbortOnDrop::spawn(watch_federated(shared.clone(), handle.clone(), writer, mat)));
    tasks.push(AbortOnDrop::spawn(sync::run(shared.clone(), handle.clone(), sync_rx)));
    tasks.push(AbortOnDrop::spawn(manage_member_watches(shared, handle.clone())));
    (handle, tasks)
}

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

fn placement_fingerprint(f: Option<&Federated>) -> u64 {
    let mut h = DefaultHasher::new();
    serde_json::to_string(&f.map(|f| &f.spec.placement)).unwrap_or_default().hash(&mut h);
    h.finish()
}

/// Reflects the Federated&lt;Kind&gt; objects into the store and turns their changes into sync
/// and materialize work.
async fn watch_federated(
    shared: Arc<Shared>,
    handle: Arc<TypeHandle>,
    writer: Writer<Federated>,
    mat: materialize::MaterializeHandle,
) {
    let api = Api::<Federated>::all_with(shared.host.clone(), &handle.fed_ar);
    let mut events = std::pin::pin!(reflector::reflector(
        writer,
        watcher(api, watcher::Config::default()).default_backoff().modify(|f| f.managed_fields_mut().clear()),
    ));
    let mut seen: HashMap<NameKey, u64> = HashMap::new();
    let mut ns_placements: HashMap<String, u64> = HashMap::new();
    let namespace_changed = |f: &Federated, gone: bool, ns_placements: &mut HashMap<String, u64>| {
        let Some(ns) = f.metadata.namespace.clone() else { return };
        let fp = placement_fingerprint((!gone).then_some(f));
        if ns_placements.insert(ns.clone(), fp) != Some(fp) {
            shared.types.requeue_namespace(&ns);
        }
    };
    while let Some(ev) = events.next().await {
        match ev {
            Ok(watcher::Event::Apply(f) | watcher::Event::InitApply(f)) => {
                let r = ObjectRef::from_obj_with(&f, handle.fed_ar.clone());
                let fp = sync_fingerprint(&f);
                if seen.insert(NameKey::of(&f.metadata), fp) != Some(fp) {
                    handle.requeue(r.clone());
                }
                mat.federated_changed(&f, &r);
                if handle.is_namespace() {
                    namespace_changed(&f, false, &mut ns_placements);
                }
            }
            Ok(watcher::Event::Delete(f)) => {
                let r = ObjectRef::from_obj_with(&f, handle.fed_ar.clone());
                seen.remove(&NameKey::of(&f.metadata));
                mat.federated_changed(&f, &r);
                if handle.is_namespace() {
                    namespace_changed(&f, true, &mut ns_placements);
                }
            }
            Ok(watcher::Event::InitDone) => {
                let present: HashSet<NameKey> =
                    handle.fed_store.state().iter().map(|f| NameKey::of(&f.metadata)).collect();
                seen.retain(|r, _| present.contains(r));
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
async fn manage_member_watches(shared: Arc<Shared>, handle: Arc<TypeHandle>) {
    let mut changes = shared.members.subscribe();
    shared.members.wait_ready().await;
    handle.fed_ready.wait().await;
    // Keyed by (client epoch, offline): a cluster coming back online gets a fresh watch at once
    // instead of waiting out the watcher's backoff (up to 30 s).
    let mut watches: HashMap<String, ((u64, bool), AbortOnDrop<()>)> = HashMap::new();
    let mut before: BTreeMap<String, Member> = BTreeMap::new();
    loop {
        let now = shared.members.snapshot();
        watches
            .retain(|name, (key, _)| now.get(name).is_some_and(|m| (m.epoch, m.offline) == *key && m.client.is_ok()));
        handle.member_copies.write().expect("member copies lock").retain(|name, _| watches.contains_key(name));
        for (name, m) in &now {
            let Ok(client) = &m.client else { continue };
            if watches.contains_key(name) {
                continue;
            }
            let writer = Writer::<CopyRecord>::new(());
            let ready = Ready::new();
            handle
                .member_copies
                .write()
                .expect("member copies lock")
                .insert(name.clone(), (writer.as_reader(), ready.clone()));
            let task = watch_member_copies(handle.clone(), name.clone(), client.clone(), writer, ready);
            watches.insert(name.clone(), ((m.epoch, m.offline), AbortOnDrop::spawn(task)));
        }
        let diff = members::diff(&before, &now);
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

/// A change of a member copy worth a re-sync: its generation (spec edits, scale), or its
/// resourceVersion for kinds without generation.
fn copy_fingerprint(meta: &ObjectMeta) -> u64 {
    let mut h = DefaultHasher::new();
    match meta.generation {
        Some(g) => g.hash(&mut h),
        None => meta.resource_version.hash(&mut h),
    }
    h.finish()
}

/// Watches the managed copies of this type on one member (metadata only) and requeues their
/// origin when one is edited or deleted, so the sync controller reverts the drift.
async fn watch_member_copies(
    handle: Arc<TypeHandle>,
    cluster: String,
    client: kube::Client,
    writer: Writer<CopyRecord>,
    ready: Ready,
) {
    let api = Api::<PartialObjectMeta<DynamicObject>>::all_with(client, &handle.target_ar);
    let config = watcher::Config::default().labels(&format!("{}=true", keys::MANAGED_LABEL));
    let store = writer.as_reader();
    let records = watcher(api, config).default_backoff().map_ok(|e| record::map_event(e, |m| copy_record(&m.metadata)));
    let mut events = std::pin::pin!(reflector::reflector(writer, records));
    let kind = handle.spec.federated.kind.clone();
    let origin_key = |copy: &CopyRecord| -> Option<NameKey> {
        let origin = parse_origin(copy.value.origin.as_deref()?)?;
        (origin.kind == kind).then(|| NameKey::new(origin.namespace.as_deref(), &origin.name))
    };
    let requeue = |origin: &NameKey| handle.requeue(handle.fed_ref(origin.namespace(), origin.name()));
    type Seen = HashMap<NameKey, (u64, Option<NameKey>)>;
    let mut seen: Seen = HashMap::new();
    let mut relist: Seen = HashMap::new();
    let mut listed = false;
    while let Some(ev) = events.next().await {
        match ev {
            Ok(watcher::Event::Apply(copy)) => {
                let key = NameKey::from(&copy);
                let entry = (copy.value.fingerprint, origin_key(&copy));
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
                if let Some(o) = origin_key(&copy) {
                    debug!(%cluster, copy = %key, origin = %o, "member copy deleted");
                    requeue(&o);
                }
            }
            Ok(watcher::Event::Init) => relist.clear(),
            Ok(watcher::Event::InitApply(copy)) => {
                relist.insert(NameKey::from(&copy), (copy.value.fingerprint, origin_key(&copy)));
            }
            Ok(watcher::Event::InitDone) => {
                // After a re-list (not the first one: the initial sync covers that), copies that
                // changed or vanished while the watch was down are drift too.
                if listed {
                    for (r, (fp, origin)) in &seen {
                        if relist.get(r).map(|e| e.0) != Some(*fp)
                            && let Some(o) = origin
                        {
                            requeue(o);
                        }
                    }
                    for (r, (_, origin)) in &relist {
                        if !seen.contains_key(r)
                            && let Some(o) = origin
                        {
                            requeue(o);
                        }
                    }
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

/// The controller owner reference of `fed` when it is the federated object of an annotated
/// source of `target` (same apiVersion and kind).
pub fn source_owner<'a>(
    fed: &'a Federated,
    target: &ApiResourceRef,
) -> Option<&'a k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference> {
    fed.owner_references()
        .iter()
        .find(|o| o.controller == Some(true) && o.api_version == target.api_version() && o.kind == target.kind)
}

/// True when `fed` has a controller owner outside the federation's own API groups (a source):
/// then the source is the host's copy.
pub fn owned_by_source(fed: &Federated) -> bool {
    fed.owner_references()
        .iter()
        .any(|o| o.controller == Some(true) && !o.api_version.starts_with(&format!("{}/", fed_core::api::TYPES_GROUP)))
}

/// Federated objects are namespaced unless their target is cluster-scoped (and not Namespace).
pub fn fed_namespace_of_source(target: &ApiResourceRef, source: &ObjectMeta) -> Option<String> {
    if target.is_namespace() { source.name.clone() } else { source.namespace.clone() }
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// A handle with empty stores, for unit tests.
    pub fn handle(target: ApiResourceRef, queue: mpsc::UnboundedSender<ObjectRef<Federated>>) -> TypeHandle {
        TypeHandle {
            spec: TypeSpec {
                config_name: target.qualified_plural(),
                federated: target.federated(),
                target: target.clone(),
            },
            target_ar: target.api_resource(),
            fed_ar: target.federated().api_resource(),
            fed_store: Writer::<Federated>::new(target.federated().api_resource()).as_reader(),
            fed_ready: Ready::new(),
            sync_queue: queue,
            member_copies: RwLock::new(HashMap::new()),
            applied: Mutex::new(HashMap::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fed_core::api::{FederatedSpec, FederatedTypeConfigSpec, Propagation};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    fn deploy_ref() -> ApiResourceRef {
        ApiResourceRef {
            group: "apps".into(),
            version: "v1".into(),
            kind: "Deployment".into(),
            plural_name: "deployments".into(),
            scope: Scope::Namespaced,
        }
    }

    fn fed_with_owner(api_version: &str, kind: &str, controller: bool) -> Federated {
        let mut f = Federated::new("web", &deploy_ref().federated().api_resource(), FederatedSpec::default());
        f.metadata.namespace = Some("ns".into());
        f.metadata.owner_references = Some(vec![OwnerReference {
            api_version: api_version.into(),
            kind: kind.into(),
            name: "web".into(),
            uid: "u1".into(),
            controller: Some(controller),
            block_owner_deletion: Some(true),
        }]);
        f
    }

    #[test]
    fn source_owner_matches_target_kind_only() {
        let f = fed_with_owner("apps/v1", "Deployment", true);
        assert!(source_owner(&f, &deploy_ref()).is_some());
        assert!(owned_by_source(&f));
        let f = fed_with_owner("apps/v1", "Deployment", false);
        assert!(source_owner(&f, &deploy_ref()).is_none());
        assert!(!owned_by_source(&f));
        let f = fed_with_owner("types.kubefed.io/v1beta1", "FederatedDeployment", true);
        assert!(source_owner(&f, &deploy_ref()).is_none());
        assert!(!owned_by_source(&f));
    }

    #[test]
    fn configs_split_into_enabled_and_disabled() {
        let mk = |name: &str, p: Propagation| {
            let mut spec = FederatedTypeConfigSpec::for_target(deploy_ref());
            spec.propagation = p;
            Arc::new(FederatedTypeConfig::new(name, spec))
        };
        let configs = [mk("deployments.apps", Propagation::Enabled), mk("x", Propagation::Disabled)];
        let d = type_specs(&configs, true);
        assert_eq!(d.keys().collect::<Vec<_>>(), vec!["deployments.apps"]);
        assert_eq!(d["deployments.apps"].federated.kind, "FederatedDeployment");
        assert_eq!(type_specs(&configs, false).keys().collect::<Vec<_>>(), vec!["x"]);
    }

    #[test]
    fn status_only_changes_do_not_change_the_sync_fingerprint() {
        let mut f = fed_with_owner("apps/v1", "Deployment", true);
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
    fn member_copy_location_follows_the_target_scope() {
        let (tx, _rx) = mpsc::unbounded();
        let handle = |target: ApiResourceRef| super::tests_support::handle(target, tx.clone());
        let f = fed_with_owner("apps/v1", "Deployment", true);
        let deploy = handle(deploy_ref());
        assert_eq!(deploy.member_key(&f), (Some("ns".into()), "web".into()));
        assert_eq!(deploy.origin(&f), "FederatedDeployment/ns/web");
        assert_eq!(deploy.copy_on("vulcan", Some("ns"), "web"), CopyState::Unknown);
        let ns = handle(ApiResourceRef {
            group: String::new(),
            version: "v1".into(),
            kind: "Namespace".into(),
            plural_name: "namespaces".into(),
            scope: Scope::Cluster,
        });
        assert_eq!(ns.member_key(&f), (None, "ns".into()));
    }

    #[test]
    fn a_copy_record_keeps_where_the_copy_is_where_it_came_from_and_its_generation() {
        let mut o = copy(4);
        o.metadata.resource_version = Some("17".into());
        o.metadata.annotations = Some(
            [(keys::ORIGIN.to_string(), "FederatedDeployment/ns/web".to_string()), ("x".into(), "y".into())].into(),
        );
        let r = copy_record(&o.metadata);
        assert_eq!((r.name.as_str(), r.namespace.as_deref()), ("web", Some("ns")));
        assert_eq!(r.value.origin.as_deref(), Some("FederatedDeployment/ns/web"));
        assert_eq!(r.value.fingerprint, copy_fingerprint(&o.metadata));
        o.metadata.resource_version = Some("18".into());
        assert_eq!(copy_record(&o.metadata).value.fingerprint, r.value.fingerprint, "status writes do not count");
        o.metadata.generation = Some(5);
        assert_ne!(copy_record(&o.metadata).value.fingerprint, r.value.fingerprint, "spec edits do");
        assert_eq!(copy_record(&copy(1).metadata).value.origin, None);
        let key = reflector::Lookup::to_object_ref(&r, ());
        assert_eq!(key, TypeHandle::copy_ref(Some("ns"), "web"));
    }

    /// A member copy as the member's watch (or an apply answer) reports it.
    fn copy(generation: i64) -> DynamicObject {
        let mut o = DynamicObject::new("web", &deploy_ref().api_resource()).within("ns");
        o.metadata.generation = Some(generation);
        o
    }

    #[test]
    fn an_untouched_copy_needs_no_second_apply_but_an_edited_one_does() {
        let (tx, _rx) = mpsc::unbounded();
        let h = tests_support::handle(deploy_ref(), tx);
        let mut writer = Writer::<CopyRecord>::new(());
        let ready = Ready::new();
        h.member_copies.write().unwrap().insert("vulcan".into(), (writer.as_reader(), ready.clone()));
        let seen = |w: &mut Writer<CopyRecord>, generation| {
            w.apply_watcher_event(&watcher::Event::Apply(copy_record(&copy(generation).metadata)))
        };

        h.record_apply("vulcan", 7, &copy(1));
        assert!(!h.unchanged_since_apply("vulcan", Some("ns"), "web", 7), "the watch has not listed vulcan yet");
        ready.set();
        assert!(!h.unchanged_since_apply("vulcan", Some("ns"), "web", 7), "the watch has not seen the copy yet");
        seen(&mut writer, 1);
        assert!(h.unchanged_since_apply("vulcan", Some("ns"), "web", 7));
        assert!(!h.unchanged_since_apply("vulcan", Some("ns"), "web", 8), "a new render must be written");
        assert!(!h.unchanged_since_apply("kronos", Some("ns"), "web", 7), "another cluster");
        seen(&mut writer, 2);
        assert!(!h.unchanged_since_apply("vulcan", Some("ns"), "web", 7), "edited on the member: revert it");
        h.record_apply("vulcan", 7, &copy(3));
        seen(&mut writer, 3);
        assert!(h.unchanged_since_apply("vulcan", Some("ns"), "web", 7));
        h.forget_apply("vulcan", Some("ns"), "web");
        assert!(!h.unchanged_since_apply("vulcan", Some("ns"), "web", 7), "forgotten after a delete");
    }
}
