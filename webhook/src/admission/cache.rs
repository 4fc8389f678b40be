//! In-memory caches of the federation, kept by kube-runtime reflectors, and the
//! [`FederationView`] admission decides against.
//!
//! - KubeFedClusters and FederatedTypeConfigs in the federation namespace (typed stores).
//! - One store per federated type (`types.kubefed.io`, all namespaces): FederatedNamespace
//!   always (it is the namespace placement policy), plus the federated type of every
//!   FederatedTypeConfig, started and stopped as type configs come and go. FederatedNamespaces
//!   are watched as `DynamicObject` and converted to [`Federated`] once per watch event (not per
//!   request), leniently, so one odd object can never stall a cache. Of the other types only
//!   metadata is watched and only owner references are kept ([`Owners`]): that is all admission
//!   reads of them, and the controllers keep their own full copies.
//!
//! Ready = every cache that existed when the type configs were first listed has completed its
//! initial list; once ready it stays ready (a type enabled later does not take admission down).
//! A federated type whose CRD is not installed lists as empty. Watch errors are retried with
//! backoff (0.5 s → 5 s) and logged once per distinct error.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::Duration;

use fed_core::admission::FederationView;
use fed_core::api::{ApiResourceRef, Federated, FederatedTypeConfig, KubeFedCluster, Scope, TYPES_GROUP};
use fed_core::keys;
use fed_core::placement::{self, JoinedCluster};
use futures::TryStreamExt;
use kube::core::{DynamicObject, PartialObjectMeta};
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};
use serde_json::Value;
use tokio::task::AbortHandle;

use crate::admission::followed::{self, Followed};
use crate::admission::reflect::keep_reflecting;
use crate::admission::server::Backend;
use crate::ready::Ready;
use crate::record::{self, Named};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

/// Key of a federated type cache: (group, kind) of the federated type.
type TypeKey = (String, String);

fn type_key(r: &ApiResourceRef) -> TypeKey {
    (r.group.clone(), r.kind.clone())
}

/// The federated type of `Namespace`: FederatedNamespace.
pub fn namespace_federated_type() -> ApiResourceRef {
    ApiResourceRef {
        group: String::new(),
        version: "v1".to_string(),
        kind: "Namespace".to_string(),
        plural_name: "namespaces".to_string(),
        scope: Scope::Cluster,
    }
    .federated()
}

struct TypeCache {
    resource: ApiResourceRef,
    api_resource: kube::core::ApiResource,
    store: TypeStore,
    synced: Ready,
    task: Option<AbortHandle>,
}

/// The objects of one federated type: whole for FederatedNamespace (its placement is the
/// namespace policy), [`Owners`] records for every other type.
enum TypeStore {
    Full(Store<Federated>),
    Owners(Store<Owners>),
}

/// A federated object of a type other than FederatedNamespace as admission keeps it: its owner
/// references (all admission reads of it, for name clashes with annotated sources).
pub type Owners = Named<Vec<OwnerReference>>;

/// The [`Owners`] record of a federated object with this metadata.
pub fn owners(meta: PartialObjectMeta<DynamicObject>) -> Owners {
    let owners = meta.metadata.owner_references.clone().unwrap_or_default();
    Named::new(&meta.metadata, owners)
}

impl Drop for TypeCache {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The caches; implements [`FederationView`] and [`Backend`].
pub struct Caches {
    clusters: Store<KubeFedCluster>,
    clusters_synced: Ready,
    type_configs: Store<FederatedTypeConfig>,
    type_configs_synced: Ready,
    types: RwLock<HashMap<TypeKey, TypeCache>>,
    followed: Store<Followed>,
    followed_synced: Ready,
    ready: Ready,
}

impl std::fmt::Debug for Caches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caches").field("ready", &self.ready.is_ready()).finish_non_exhaustive()
    }
}

/// Start every reflector in the background; the caches fill (and become ready) asynchronously.
/// Must be called inside a tokio runtime.
pub fn start(client: Client, namespace: &str) -> Arc<Caches> {
    let (clusters, clusters_writer) = reflector::store::<KubeFedCluster>();
    let (type_configs, type_configs_writer) = reflector::store::<FederatedTypeConfig>();
    let (followed, followed_synced) = followed::start(&client);
    let caches = Arc::new(Caches {
        clusters,
        clusters_synced: Ready::new(),
        type_configs,
        type_configs_synced: Ready::new(),
        types: RwLock::new(HashMap::new()),
        followed,
        followed_synced,
        ready: Ready::new(),
    });

    let api: Api<KubeFedCluster> = Api::namespaced(client.clone(), namespace);
    let stream = watcher::watcher(api, watcher::Config::default());
    let synced = caches.clusters_synced.clone();
    tokio::spawn(keep_reflecting(
        stream,
        clusters_writer,
        synced,
        "kubefedclusters.core.kubefed.io".into(),
        false,
        |_| {},
    ));

    caches.reconcile_types(&client);

    let api: Api<FederatedTypeConfig> = Api::namespaced(client.clone(), namespace);
    let stream = watcher::watcher(api, watcher::Config::default());
    let synced = caches.type_configs_synced.clone();
    let weak: Weak<Caches> = Arc::downgrade(&caches);
    tokio::spawn(keep_reflecting(
        stream,
        type_configs_writer,
        synced,
        "federatedtypeconfigs.core.kubefed.io".into(),
        false,
        move |event| {
            if matches!(event, Event::Apply(_) | Event::Delete(_) | Event::InitDone)
                && let Some(caches) = weak.upgrade()
            {
                caches.reconcile_types(&client);
            }
        },
    ));

    // Announce readiness in the log even when nobody probes /readyz.
    let weak = Arc::downgrade(&caches);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            match weak.upgrade() {
                Some(caches) if !caches.synced() => {}
                _ => return,
            }
        }
    });
    caches
}

/// A federated object from its dynamic form: metadata as is (minus managedFields), `spec` and
/// `status` parsed leniently (an unparseable part becomes empty and is logged).
pub fn to_federated(obj: DynamicObject) -> Federated {
    let DynamicObject { types, mut metadata, mut data } = obj;
    metadata.managed_fields = None;
    let mut take = |field: &str| data.get_mut(field).map(Value::take).filter(|v| !v.is_null());
    let spec = match take("spec").map(serde_json::from_value) {
        Some(Ok(spec)) => spec,
        Some(Err(e)) => {
            tracing::warn!(
                namespace = metadata.namespace.as_deref().unwrap_or(""),
                name = metadata.name.as_deref().unwrap_or(""),
                error = %e,
                "federated object has a malformed spec; treating it as empty"
            );
            Default::default()
        }
        None => Default::default(),
    };
    let status = take("status").and_then(|v| serde_json::from_value(v).ok());
    Federated { types, metadata, spec, status }
}

fn joined(c: &KubeFedCluster) -> JoinedCluster {
    let labels: BTreeMap<String, String> = c.metadata.labels.clone().unwrap_or_default();
    JoinedCluster {
        name: c.metadata.name.clone().unwrap_or_default(),
        is_host: labels.get(keys::HOST_LABEL).is_some_and(|v| v == "true"),
        labels,
        offline: c.is_offline(),
    }
}

impl Caches {
    fn types(&self) -> std::sync::RwLockReadGuard<'_, HashMap<TypeKey, TypeCache>> {
        self.types.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Start a cache for every federated type the type configs name (and FederatedNamespace);
    /// stop those no longer named.
    fn reconcile_types(&self, client: &Client) {
        let mut desired: HashMap<TypeKey, ApiResourceRef> = HashMap::new();
        let ns_type = namespace_federated_type();
        desired.insert(type_key(&ns_type), ns_type);
        for ftc in self.type_configs.state() {
            let federated = &ftc.spec.federated_type;
            if federated.group != TYPES_GROUP {
                tracing::warn!(
                    type_config = ftc.metadata.name.as_deref().unwrap_or(""),
                    group = %federated.group,
                    "federated type outside {TYPES_GROUP}; not watching it"
                );
                continue;
            }
            desired.insert(type_key(federated), federated.clone());
        }
        let mut types = self.types.write().unwrap_or_else(PoisonError::into_inner);
        types.retain(|key, cache| {
            let keep = desired.get(key) == Some(&cache.resource);
            if !keep {
                tracing::info!(resource = %cache.resource.qualified_plural(), "stopped watching federated type");
            }
            keep
        });
        for (key, resource) in desired {
            if let std::collections::hash_map::Entry::Vacant(slot) = types.entry(key) {
                tracing::info!(resource = %resource.qualified_plural(), "watching federated type");
                slot.insert(spawn_type_cache(client, resource));
            }
        }
    }

    /// True once the first lists are in (then stays true).
    pub fn synced(&self) -> bool {
        if self.ready.is_ready() {
            return true;
        }
        let ready = self.type_configs_synced.is_ready()
            && self.clusters_synced.is_ready()
            && self.followed_synced.is_ready()
            && self.types().values().all(|t| t.synced.is_ready());
        if ready && self.ready.set() {
            tracing::info!("all caches synced; ready");
        }
        ready
    }
}

fn spawn_type_cache(client: &Client, resource: ApiResourceRef) -> TypeCache {
    let api_resource = resource.api_resource();
    let synced = Ready::new();
    let what = resource.qualified_plural();
    let config = watcher::Config::default();
    let (store, task) = if resource == namespace_federated_type() {
        let writer: Writer<Federated> = Writer::new(api_resource.clone());
        let store = TypeStore::Full(writer.as_reader());
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &api_resource);
        let stream = watcher::watcher(api, config).map_ok(|e| record::map_event(e, to_federated));
        (store, tokio::spawn(keep_reflecting(stream, writer, synced.clone(), what, true, |_| {})))
    } else {
        let writer: Writer<Owners> = Writer::new(());
        let store = TypeStore::Owners(writer.as_reader());
        let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(client.clone(), &api_resource);
        let stream = watcher::watcher(api, config).map_ok(|e| record::map_event(e, owners));
        (store, tokio::spawn(keep_reflecting(stream, writer, synced.clone(), what, true, |_| {})))
    };
    TypeCache { resource, api_resource, store, synced, task: Some(task.abort_handle()) }
}

impl FederationView for Caches {
    fn clusters(&self) -> Vec<JoinedCluster> {
        let mut clusters: Vec<JoinedCluster> = self.clusters.state().iter().map(|c| joined(c)).collect();
        clusters.sort_by(|a, b| a.name.cmp(&b.name));
        clusters
    }

    fn type_config(&self, group: &str, kind: &str) -> Option<FederatedTypeConfig> {
        self.type_configs
            .find(|t| t.spec.target_type.group == group && t.spec.target_type.kind == kind)
            .map(|t| (*t).clone())
    }

    fn namespace_placement(&self, namespace: &str) -> Option<Federated> {
        let types = self.types();
        let cache = types.get(&type_key(&namespace_federated_type()))?;
        let TypeStore::Full(store) = &cache.store else { return None };
        // The one named after its namespace governs it (placement::governing); looked up by key
        // first, so the common case costs no scan.
        let exact = record::object_ref(Some(namespace), namespace, cache.api_resource.clone());
        if let Some(fns) = store.get(&exact) {
            return Some((*fns).clone());
        }
        let candidates = store.state_filter(|o| o.metadata.namespace.as_deref() == Some(namespace));
        placement::governing(namespace, candidates.iter().map(|o| &**o)).cloned()
    }

    fn federated_object(&self, federated: &ApiResourceRef, namespace: &str, name: &str) -> Option<Federated> {
        let types = self.types();
        let cache = types.get(&type_key(federated))?;
        let namespace = Some(namespace).filter(|ns| !ns.is_empty());
        match &cache.store {
            TypeStore::Full(store) => {
                store.get(&record::object_ref(namespace, name, cache.api_resource.clone())).map(|o| (*o).clone())
            }
            TypeStore::Owners(store) => store.get(&record::object_ref(namespace, name, ())).map(|o| {
                let mut f = Federated::new(name, &cache.api_resource, Default::default());
                f.metadata.namespace = o.namespace.clone();
                f.metadata.owner_references = Some(o.value.clone());
                f
            }),
        }
    }

    fn followed_namespace(&self, namespace: &str) -> Option<BTreeMap<String, String>> {
        followed::annotations(&self.followed, namespace)
    }
}

impl Backend for Caches {
    fn is_ready(&self) -> bool {
        self.synced()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fed_core::api::{
        Condition, FederatedTypeConfigSpec, KubeFedClusterSpec, KubeFedClusterStatus, LocalSecretReference, Placement,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    use kube::core::{ObjectMeta, PartialObjectMetaExt};

    fn cluster(name: &str, labels: &[(&str, &str)], offline: bool) -> KubeFedCluster {
        let mut c = KubeFedCluster::new(
            name,
            KubeFedClusterSpec {
                api_endpoint: "https://127.0.0.1:1".into(),
                secret_ref: LocalSecretReference { name: name.into() },
                ..Default::default()
            },
        );
        c.metadata.namespace = Some(keys::FEDERATION_NAMESPACE.into());
        c.metadata.labels = Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        if offline {
            c.status = Some(KubeFedClusterStatus {
                conditions: vec![Condition { type_: "Offline".into(), status: "True".into(), ..Default::default() }],
                ..Default::default()
            });
        }
        c
    }

    fn deployments() -> ApiResourceRef {
        ApiResourceRef::v1("apps", "Deployment", "deployments", Scope::Namespaced)
    }

    fn federated(resource: &ApiResourceRef, ns: &str, name: &str, clusters: &[&str]) -> DynamicObject {
        let mut o = DynamicObject::new(name, &resource.api_resource()).within(ns);
        o.data = serde_json::json!({
            "spec": { "placement": Placement::clusters(clusters.iter().copied()) },
        });
        o.metadata.managed_fields = Some(vec![Default::default()]);
        o
    }

    fn offline_type_cache(resource: ApiResourceRef, objects: Vec<DynamicObject>, synced: bool) -> TypeCache {
        let api_resource = resource.api_resource();
        let store = if resource == namespace_federated_type() {
            let mut writer: Writer<Federated> = Writer::new(api_resource.clone());
            let objects = objects.into_iter().map(to_federated);
            objects.for_each(|f| writer.apply_watcher_event(&Event::Apply(f)));
            TypeStore::Full(writer.as_reader())
        } else {
            let mut writer: Writer<Owners> = Writer::new(());
            let objects = objects.into_iter().map(|o| owners(o.metadata.into_response_partial()));
            objects.for_each(|f| writer.apply_watcher_event(&Event::Apply(f)));
            TypeStore::Owners(writer.as_reader())
        };
        TypeCache { resource, api_resource, store, synced: ready(synced), task: None }
    }

    fn ready(listed: bool) -> Ready {
        let r = Ready::new();
        if listed {
            r.set();
        }
        r
    }

    /// Caches filled by hand, as the reflectors would fill them.
    fn caches(synced: bool) -> Caches {
        let (clusters, mut cw) = reflector::store::<KubeFedCluster>();
        for c in [cluster("vulcan", &[("region", "eu")], true), cluster("earth", &[(keys::HOST_LABEL, "true")], false)]
        {
            cw.apply_watcher_event(&Event::Apply(c));
        }
        let (type_configs, mut tw) = reflector::store::<FederatedTypeConfig>();
        let mut ftc = FederatedTypeConfig::new("deployments.apps", FederatedTypeConfigSpec::for_target(deployments()));
        ftc.metadata.namespace = Some(keys::FEDERATION_NAMESPACE.into());
        tw.apply_watcher_event(&Event::Apply(ftc));
        let ns_type = namespace_federated_type();
        let fd = deployments().federated();
        let mut owned = federated(&fd, "team-a", "owned", &["vulcan"]);
        owned.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: "owned".into(),
            uid: "s1".into(),
            controller: Some(true),
            ..Default::default()
        }]);
        let mut types = HashMap::new();
        types.insert(
            type_key(&ns_type),
            offline_type_cache(
                ns_type.clone(),
                vec![
                    federated(&ns_type, "team-a", "team-a", &["earth"]),
                    federated(&ns_type, "team-b", "zz-other", &["vulcan"]),
                    federated(&ns_type, "team-b", "other", &["kronos"]),
                ],
                true,
            ),
        );
        types.insert(
            type_key(&fd),
            offline_type_cache(fd.clone(), vec![federated(&fd, "team-a", "web", &["vulcan"]), owned], synced),
        );
        let (followed, mut fw) = reflector::store::<Followed>();
        let demo = ObjectMeta {
            name: Some("demo".into()),
            annotations: Some([(keys::FOLLOW_PLACEMENT.to_string(), "vulcan".to_string())].into()),
            ..Default::default()
        };
        fw.apply_watcher_event(&Event::Apply(Named::new(&demo, demo.annotations.clone().unwrap())));
        Caches {
            clusters,
            clusters_synced: ready(true),
            type_configs,
            type_configs_synced: ready(true),
            types: RwLock::new(types),
            followed,
            followed_synced: ready(true),
            ready: Ready::new(),
        }
    }

    #[test]
    fn followed_namespaces_are_found_with_their_annotations() {
        let c = caches(true);
        let demo = c.followed_namespace("demo").expect("demo follows");
        assert_eq!(demo.get(keys::FOLLOW_PLACEMENT).map(String::as_str), Some("vulcan"));
        assert_eq!(c.followed_namespace("team-a"), None);
    }

    #[test]
    fn clusters_are_sorted_with_host_and_offline_flags() {
        let c = caches(true).clusters();
        assert_eq!(c.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["earth", "vulcan"]);
        assert!(c[0].is_host && !c[0].offline);
        assert!(!c[1].is_host && c[1].offline);
        assert_eq!(c[1].labels.get("region").map(String::as_str), Some("eu"));
    }

    #[test]
    fn type_configs_are_found_by_target_group_and_kind() {
        let c = caches(true);
        assert_eq!(c.type_config("apps", "Deployment").unwrap().spec.federated_type.kind, "FederatedDeployment");
        assert!(c.type_config("", "Deployment").is_none());
        assert!(c.type_config("apps", "StatefulSet").is_none());
    }

    #[test]
    fn namespace_placement_prefers_the_namespace_named_object() {
        let c = caches(true);
        let a = c.namespace_placement("team-a").unwrap();
        assert_eq!(a.spec.placement, Placement::clusters(["earth"]));
        assert!(a.metadata.managed_fields.is_none(), "managedFields are dropped from the cache");
        // No object named team-b: the first by name.
        assert_eq!(c.namespace_placement("team-b").unwrap().metadata.name.as_deref(), Some("other"));
        assert!(c.namespace_placement("team-c").is_none());
    }

    #[test]
    fn federated_objects_are_looked_up_by_type_namespace_and_name() {
        let c = caches(true);
        let fd = deployments().federated();
        let web = c.federated_object(&fd, "team-a", "web").unwrap();
        assert_eq!((web.metadata.namespace.as_deref(), web.metadata.name.as_deref()), (Some("team-a"), Some("web")));
        assert!(c.federated_object(&fd, "team-b", "web").is_none());
        let mut unknown = fd.clone();
        unknown.kind = "FederatedSecret".into();
        assert!(c.federated_object(&unknown, "team-a", "web").is_none());
    }

    #[test]
    fn ready_needs_every_cache_and_then_latches() {
        let c = caches(false);
        assert!(!c.is_ready());
        c.types.read().unwrap().values().for_each(|t| {
            t.synced.set();
        });
        assert!(c.is_ready());
        let later = deployments().federated();
        let later = ApiResourceRef { kind: "FederatedStatefulSet".into(), ..later };
        c.types.write().unwrap().insert(type_key(&later), offline_type_cache(later, vec![], false));
        assert!(c.is_ready(), "readiness latches: a type enabled later does not take admission down");
        let mut fresh = caches(true);
        fresh.type_configs_synced = ready(false);
        assert!(!fresh.is_ready());
    }

    #[test]
    fn malformed_specs_become_empty_instead_of_stalling_the_cache() {
        let mut o = DynamicObject::new("x", &deployments().federated().api_resource()).within("ns");
        o.data = serde_json::json!({ "spec": { "placement": "not an object" }, "status": 3 });
        let f = to_federated(o);
        assert_eq!(f.spec, Default::default());
        assert!(f.status.is_none());
        assert_eq!(f.metadata.name.as_deref(), Some("x"));
        let empty = to_federated(DynamicObject { types: None, metadata: ObjectMeta::default(), data: Value::Null });
        assert_eq!(empty.spec, Default::default());
    }

    #[test]
    fn other_federated_types_are_kept_as_their_owners_only() {
        let mut o = DynamicObject::new("web", &deployments().federated().api_resource()).within("ns");
        o.metadata.uid = Some("u1".into());
        o.metadata.labels = Some([("app".to_string(), "web".to_string())].into());
        o.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: "web".into(),
            uid: "s1".into(),
            controller: Some(true),
            ..Default::default()
        }]);
        let r = owners(o.metadata.clone().into_response_partial());
        assert_eq!((Some(r.name), r.namespace), (o.metadata.name, o.metadata.namespace));
        assert_eq!(Some(r.value), o.metadata.owner_references);
        let c = caches(true);
        let fd = deployments().federated();
        let owned = c.federated_object(&fd, "team-a", "owned").unwrap();
        assert_eq!(owned.metadata.owner_references.unwrap()[0].uid, "s1");
        assert_eq!(
            (owned.metadata.namespace.as_deref(), owned.metadata.name.as_deref()),
            (Some("team-a"), Some("owned"))
        );
    }
}
