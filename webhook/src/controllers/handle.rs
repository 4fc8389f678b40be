//! What the controllers of one enabled type share: the type, its `Federated<Kind>` store, the
//! sync queue and the member copies.

use std::time::Duration;

use fed_core::api::{ApiResourceRef, Federated};
use fed_core::placement::{self, JoinedCluster};
use fed_core::render;
use futures::channel::mpsc;
use kube::core::ApiResource;
use kube::runtime::reflector::{ObjectRef, Store};

use super::copies::MemberCopies;
use crate::ready::Ready;
use crate::record;

/// The API types one type config federates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeSpec {
    /// FederatedTypeConfig name (`deployments.apps`).
    pub config_name: String,
    /// The member-side type.
    pub target: ApiResourceRef,
    /// The `Federated<Kind>` type on the host.
    pub federated: ApiResourceRef,
}

/// How many objects a bulk requeue (a member's health or a membership change: every object placed
/// there) hands to sync per [`BULK_TICK`]. Queued all at once they would take every reconcile
/// slot and the host's status writes for seconds, ahead of the users' own changes: scenario 8
/// of the fault suite measured 450 status writes in 2 s when the hung member went Offline, and
/// the latency of the other member's copies doubled. 100 objects a second leave the host room.
const BULK_CHUNK: usize = 10;
/// See [`BULK_CHUNK`].
const BULK_TICK: Duration = Duration::from_millis(100);

/// Everything the controllers of one enabled type share.
pub struct TypeHandle {
    /// Which types.
    pub spec: TypeSpec,
    /// Dynamic descriptor of the target type.
    pub target_ar: ApiResource,
    /// Dynamic descriptor of the `Federated<Kind>`.
    pub fed_ar: ApiResource,
    /// Every `Federated<Kind>` on the host (managedFields stripped).
    pub fed_store: Store<Federated>,
    /// Set once `fed_store` has been listed.
    pub fed_ready: Ready,
    /// What the member watches know about the copies, and sync's writes to them.
    pub copies: MemberCopies,
    sync_queue: mpsc::UnboundedSender<ObjectRef<Federated>>,
}

impl TypeHandle {
    /// The handle of `spec`, reading federated objects from `fed_store` and queueing syncs on
    /// `sync_queue`.
    pub fn new(
        spec: TypeSpec,
        fed_store: Store<Federated>,
        sync_queue: mpsc::UnboundedSender<ObjectRef<Federated>>,
    ) -> Self {
        TypeHandle {
            target_ar: spec.target.api_resource(),
            fed_ar: spec.federated.api_resource(),
            spec,
            fed_store,
            fed_ready: Ready::new(),
            copies: MemberCopies::default(),
            sync_queue,
        }
    }

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

    /// Schedules a sync of every federated object of this type, paced ([`BULK_CHUNK`]).
    pub fn requeue_all(&self) {
        let all = self.fed_store.state().iter().map(|f| ObjectRef::from_obj_with(&**f, self.fed_ar.clone())).collect();
        self.requeue_paced(all);
    }

    /// Schedules a sync of every object placed on (or recorded for) `cluster`, paced
    /// ([`BULK_CHUNK`]).
    pub fn requeue_cluster(&self, cluster: &str, joined: &[JoinedCluster]) {
        let placed = self
            .fed_store
            .state()
            .iter()
            .filter(|f| {
                let recorded = f.status.as_ref().is_some_and(|s| s.clusters.iter().any(|c| c.name == cluster));
                recorded || placement::resolve(&f.spec.placement, joined).contains(cluster)
            })
            .map(|f| ObjectRef::from_obj_with(&**f, self.fed_ar.clone()))
            .collect();
        self.requeue_paced(placed);
    }

    /// Hands `refs` to sync [`BULK_CHUNK`] at a time, one chunk per [`BULK_TICK`], from a task
    /// of its own; the first chunk at once.
    fn requeue_paced(&self, refs: Vec<ObjectRef<Federated>>) {
        let queue = self.sync_queue.clone();
        let send = move |chunk: &[ObjectRef<Federated>]| chunk.iter().all(|r| queue.unbounded_send(r.clone()).is_ok());
        if refs.len() <= BULK_CHUNK {
            send(&refs);
            return;
        }
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(BULK_TICK);
            for chunk in refs.chunks(BULK_CHUNK) {
                tick.tick().await;
                if !send(chunk) {
                    return;
                }
            }
        });
    }

    /// The `kubefed.io/origin` of the member copies of a federated object.
    pub fn origin(&self, fed: &Federated) -> String {
        render::origin_of(fed, &self.spec.target)
    }

    /// Namespace and name of the member copy of `fed` ([`render::member_key`]).
    pub fn member_key(&self, fed: &Federated) -> (Option<String>, String) {
        render::member_key(fed, &self.spec.target)
    }

    /// The workload `fed`'s member copies are, as their pods name it (the capacity ledger's key).
    pub fn workload_key(&self, fed: &Federated) -> fed_core::capacity::WorkloadKey {
        let (namespace, name) = self.member_key(fed);
        fed_core::capacity::WorkloadKey {
            namespace: namespace.unwrap_or_default(),
            kind: self.spec.target.kind.clone(),
            name,
        }
    }
}

#[cfg(test)]
mod tests {
    use fed_core::api::Scope;
    use futures::StreamExt;
    use kube::runtime::reflector::store::Writer;
    use kube::runtime::watcher;

    use super::*;

    /// A handle of `kind`, its store's writer and its sync queue.
    fn handle_of(
        kind: &str,
        plural: &str,
    ) -> (TypeHandle, Writer<Federated>, mpsc::UnboundedReceiver<ObjectRef<Federated>>) {
        let target = ApiResourceRef::v1("apps", kind, plural, Scope::Namespaced);
        let spec = TypeSpec { config_name: target.qualified_plural(), federated: target.federated(), target };
        let writer = Writer::<Federated>::new(spec.federated.api_resource());
        let (tx, rx) = mpsc::unbounded();
        (TypeHandle::new(spec, writer.as_reader(), tx), writer, rx)
    }

    #[tokio::test]
    async fn a_handle_names_copies_and_queues_syncs() {
        let (handle, mut writer, mut rx) = handle_of("Deployment", "deployments");
        let mut f = Federated::new("web", &handle.fed_ar, Default::default());
        f.metadata.namespace = Some("ns".into());
        f.spec.placement = fed_core::api::Placement::clusters(["vulcan"]);
        assert_eq!(handle.origin(&f), "FederatedDeployment/ns/web");
        assert_eq!(handle.member_key(&f), (Some("ns".into()), "web".into()));
        writer.apply_watcher_event(&watcher::Event::Apply(f));
        let vulcan = JoinedCluster { name: "vulcan".into(), ..Default::default() };
        handle.requeue_cluster("kronos", std::slice::from_ref(&vulcan));
        handle.requeue_cluster("vulcan", &[vulcan]);
        assert_eq!(rx.next().await, Some(handle.fed_ref(Some("ns"), "web")), "placed on vulcan only");
        handle.requeue_all();
        assert_eq!(rx.next().await, Some(handle.fed_ref(Some("ns"), "web")));
        assert!(rx.try_recv().is_err(), "nothing else queued");
    }

    #[tokio::test]
    async fn a_bulk_requeue_is_paced() {
        let (handle, mut writer, mut rx) = handle_of("ReplicaSet", "replicasets");
        let total = 3 * BULK_CHUNK + 1;
        for i in 0..total {
            let mut f = Federated::new(&format!("cm-{i}"), &handle.fed_ar, Default::default());
            f.metadata.namespace = Some("ns".into());
            writer.apply_watcher_event(&watcher::Event::Apply(f));
        }
        let started = tokio::time::Instant::now();
        handle.requeue_all();
        let mut arrivals = Vec::new();
        while arrivals.len() < total {
            rx.next().await.expect("queued");
            arrivals.push(started.elapsed());
        }
        assert!(arrivals[BULK_CHUNK - 1] < BULK_TICK, "the first chunk at once: {:?}", arrivals[BULK_CHUNK - 1]);
        assert!(arrivals[BULK_CHUNK] >= BULK_TICK, "the next one a tick later: {:?}", arrivals[BULK_CHUNK]);
        assert!(arrivals[total - 1] >= BULK_TICK * 3, "the last of four chunks three ticks later");
    }
}
