//! What the member watches know about member copies, and what sync last wrote to them.
//!
//! One [`CopyRecord`] is kept per copy per member (from a metadata-only watch on the managed
//! copies, see [`super::triggers`]); together with the fingerprints of sync's own writes it
//! lets sync skip an apply that would change nothing.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use fed_core::api::WorkloadStatus;
use fed_core::guard::Seen;
use fed_core::plan::CopyState;
use fed_core::{keys, ownership};
use kube::api::DynamicObject;
use kube::core::ObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};

use super::adopt::Known;
use crate::ready::Ready;
use crate::record::{self, NameKey, Named};

/// What sync needs of one member copy, from the member watch: where it is (the record's
/// namespace and name), the federated object it came from, and whether it changed. One is kept
/// per copy per member, so it is these few fields rather than the copy's metadata.
pub type CopyRecord = Named<CopyInfo>;

/// The fields of a [`CopyRecord`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyInfo {
    /// [`copy_fingerprint`] of the copy.
    pub fingerprint: u64,
    /// The copy's `kubefed.io/origin` annotation.
    pub origin: Option<String>,
    /// Its workload numbers, for workload kinds (watched whole, kept as these numbers).
    pub workload: Option<WorkloadStatus>,
    /// Whether its controller has reported on its current spec ([`fed_core::workload::observed`];
    /// always true for other kinds).
    pub reported: bool,
    /// True while sync's POST still owns its fields as an `Update`
    /// ([`fed_core::ownership::needs_adoption`]): adopt them before the next apply.
    pub adopt: bool,
}

impl CopyInfo {
    /// What about the copy is worth a sync: a spec change (its fingerprint, which sync reverts
    /// drift by), new workload numbers (which sync writes into the status) or its controller's
    /// report on the current spec (which a status write waits for).
    pub fn trigger(&self) -> u64 {
        let mut h = DefaultHasher::new();
        (self.fingerprint, self.workload, self.reported).hash(&mut h);
        h.finish()
    }
}

/// The record of a member copy with this metadata.
pub fn copy_record(meta: &ObjectMeta) -> CopyRecord {
    copy_record_with(meta, None, true)
}

/// The record of a member copy with this metadata and these workload numbers, `reported` by its
/// controller for its current spec or not.
pub fn copy_record_with(meta: &ObjectMeta, workload: Option<WorkloadStatus>, reported: bool) -> CopyRecord {
    let origin = meta.annotations.as_ref().and_then(|a| a.get(keys::ORIGIN)).cloned();
    let adopt = ownership::needs_adoption(meta.managed_fields.as_deref().unwrap_or_default(), keys::FIELD_MANAGER);
    Named::new(meta, CopyInfo { fingerprint: copy_fingerprint(meta), origin, workload, reported, adopt })
}

/// A change of a member copy worth a re-sync: its generation (spec edits, scale), or its
/// resourceVersion for kinds without generation.
pub fn copy_fingerprint(meta: &ObjectMeta) -> u64 {
    let mut h = DefaultHasher::new();
    match meta.generation {
        Some(g) => g.hash(&mut h),
        None => meta.resource_version.hash(&mut h),
    }
    h.finish()
}

/// Fingerprint of a rendered member object.
pub fn render_fingerprint(obj: &serde_json::Value) -> u64 {
    let mut h = DefaultHasher::new();
    obj.to_string().hash(&mut h);
    h.finish()
}

/// One write of sync to a member copy: a fingerprint of the rendered object sent, and the
/// copy's [`copy_fingerprint`] in the answer. While both still hold, the copy is as sync left
/// it and another write would change nothing.
#[derive(Clone, Copy, Debug)]
struct Applied {
    render: u64,
    copy: u64,
    at: Instant,
}

/// How long a copy sync has just written counts as written while the member watch has not
/// delivered it yet: a reconcile in that moment (another member's watch was faster) would
/// otherwise read the host and write it again. A copy deleted meanwhile is forgotten by its
/// watch's Delete event ([`MemberCopies::forget_apply`]) and written again at once.
const UNSEEN_WRITE: Duration = Duration::from_secs(10);

/// The member-copy stores of one type (one per member cluster) and sync's writes to them.
#[derive(Default)]
pub struct MemberCopies {
    stores: RwLock<HashMap<String, (Store<CopyRecord>, Ready)>>,
    /// What sync last wrote to each member copy, by cluster and copy.
    applied: Mutex<HashMap<String, HashMap<NameKey, Applied>>>,
}

fn copy_ref(namespace: Option<&str>, name: &str) -> ObjectRef<CopyRecord> {
    record::object_ref(namespace, name, ())
}

impl MemberCopies {
    /// Registers the store of `cluster`'s watch (replacing an earlier one).
    pub fn insert(&self, cluster: &str, store: Store<CopyRecord>, ready: Ready) {
        self.stores.write().expect("member copies lock").insert(cluster.to_string(), (store, ready));
    }

    /// Drops the stores of clusters for which `keep` is false.
    pub fn retain(&self, keep: impl Fn(&str) -> bool) {
        self.stores.write().expect("member copies lock").retain(|name, _| keep(name));
    }

    /// What the member watch on `cluster` has of the copy `namespace/name`: `None` when it has
    /// not listed the cluster (nothing is known), `Some(None)` when there is no such copy.
    fn listed(&self, cluster: &str, namespace: Option<&str>, name: &str) -> Option<Option<Arc<CopyRecord>>> {
        let stores = self.stores.read().expect("member copies lock");
        let (store, ready) = stores.get(cluster)?;
        ready.is_ready().then(|| store.get(&copy_ref(namespace, name)))
    }

    /// Sync's last write to the copy `namespace/name` on `cluster`, if it remembers one.
    fn written(&self, cluster: &str, namespace: Option<&str>, name: &str) -> Option<Applied> {
        let applied = self.applied.lock().expect("applied lock");
        applied.get(cluster).and_then(|copies| copies.get(&NameKey::new(namespace, name))).copied()
    }

    /// What the member watch on `cluster` knows about the copy `namespace/name`.
    pub fn copy_on(&self, cluster: &str, namespace: Option<&str>, name: &str) -> CopyState {
        match self.listed(cluster, namespace, name) {
            None => CopyState::Unknown,
            Some(None) => CopyState::Absent,
            Some(Some(copy)) => CopyState::Present(copy.value.origin.clone()),
        }
    }

    /// What the member watch on `cluster` knows of the copy `namespace/name`, for
    /// [`super::adopt::put`]: not listed, absent, or present (its uid is not kept), with the
    /// fields sync's POST still owns to adopt first ([`CopyInfo::adopt`]).
    pub fn known(&self, cluster: &str, namespace: Option<&str>, name: &str) -> Known {
        match self.listed(cluster, namespace, name) {
            None => Known::UNKNOWN,
            Some(None) => Known::ABSENT,
            Some(Some(copy)) => Known { seen: Seen::Present(None), unadopted: copy.value.adopt },
        }
    }

    /// True when the member watch shows the copy exactly as sync's last write of `render` left
    /// it (nobody edited it since), or does not show that write yet ([`UNSEEN_WRITE`]), so
    /// applying `render` again can be skipped.
    pub fn unchanged_since_apply(&self, cluster: &str, namespace: Option<&str>, name: &str, render: u64) -> bool {
        let (Some(copy), Some(a)) = (self.listed(cluster, namespace, name), self.written(cluster, namespace, name))
        else {
            return false;
        };
        a.render == render
            && match copy {
                Some(copy) => a.copy == copy.value.fingerprint,
                None => a.at.elapsed() < UNSEEN_WRITE,
            }
    }

    /// True when a report on the copy `namespace/name` that sync wrote on `cluster` is on its
    /// way: the member watch has not seen that write yet, or the copy's controller has not
    /// reported on its current spec. False for a copy sync has not written, and when the watch
    /// has not listed the cluster (nothing is known).
    pub fn report_pending(&self, cluster: &str, namespace: Option<&str>, name: &str) -> bool {
        let Some(a) = self.written(cluster, namespace, name) else { return false };
        match self.listed(cluster, namespace, name) {
            None => false,
            Some(None) => true,
            Some(Some(copy)) => !copy.value.reported || copy.value.fingerprint != a.copy,
        }
    }

    /// The workload numbers the member watch on `cluster` last saw of the copy `namespace/name`.
    /// Until the watch has seen sync's last write there (a new generation), they describe the
    /// spec before it: then the rollout does not count as complete.
    pub fn workload_on(&self, cluster: &str, namespace: Option<&str>, name: &str) -> Option<WorkloadStatus> {
        let copy = self.listed(cluster, namespace, name)??;
        let mut workload = copy.value.workload?;
        if self.written(cluster, namespace, name).is_some_and(|a| a.copy != copy.value.fingerprint) {
            workload.rolled_out = false;
        }
        Some(workload)
    }

    /// Records a write of `render` to a member copy and the copy the member answered with.
    pub fn record_apply(&self, cluster: &str, render: u64, answer: &DynamicObject) {
        let copy = copy_fingerprint(&answer.metadata);
        let mut applied = self.applied.lock().expect("applied lock");
        applied
            .entry(cluster.to_string())
            .or_default()
            .insert(NameKey::of(&answer.metadata), Applied { render, copy, at: Instant::now() });
    }

    /// Forgets sync's writes to a member copy (deleted, or the write failed).
    pub fn forget_apply(&self, cluster: &str, namespace: Option<&str>, name: &str) {
        let mut applied = self.applied.lock().expect("applied lock");
        if let Some(copies) = applied.get_mut(cluster) {
            copies.remove(&NameKey::new(namespace, name));
        }
    }
}

#[cfg(test)]
mod tests {
    use kube::runtime::reflector::store::Writer;
    use kube::runtime::watcher;

    use super::*;

    /// A member copy as the member's watch (or an apply answer) reports it.
    fn copy(generation: i64) -> DynamicObject {
        let ar = kube::core::ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&());
        let mut o = DynamicObject::new("web", &ar).within("ns");
        o.metadata.generation = Some(generation);
        o
    }

    /// Member copies with a watch store registered for vulcan, not listed yet.
    fn watched_vulcan() -> (MemberCopies, Writer<CopyRecord>, Ready) {
        let h = MemberCopies::default();
        let writer = Writer::<CopyRecord>::new(());
        let ready = Ready::new();
        h.insert("vulcan", writer.as_reader(), ready.clone());
        (h, writer, ready)
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
        let key = kube::runtime::reflector::Lookup::to_object_ref(&r, ());
        assert_eq!(key, copy_ref(Some("ns"), "web"));
    }

    #[test]
    fn an_unwatched_cluster_is_unknown() {
        let copies = MemberCopies::default();
        assert_eq!(copies.copy_on("vulcan", Some("ns"), "web"), CopyState::Unknown);
        let mut writer = Writer::<CopyRecord>::new(());
        let ready = Ready::new();
        copies.insert("vulcan", writer.as_reader(), ready.clone());
        assert_eq!(copies.copy_on("vulcan", Some("ns"), "web"), CopyState::Unknown, "not listed yet");
        ready.set();
        assert_eq!(copies.copy_on("vulcan", Some("ns"), "web"), CopyState::Absent);
        writer.apply_watcher_event(&watcher::Event::Apply(copy_record(&copy(1).metadata)));
        assert_eq!(copies.copy_on("vulcan", Some("ns"), "web"), CopyState::Present(None));
        copies.retain(|c| c != "vulcan");
        assert_eq!(copies.copy_on("vulcan", Some("ns"), "web"), CopyState::Unknown);
    }

    #[test]
    fn a_copy_is_created_when_absent_and_adopted_while_a_post_owns_it() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
        let (h, mut writer, ready) = watched_vulcan();
        let present = |unadopted| Known { seen: Seen::Present(None), unadopted };
        assert_eq!(h.known("vulcan", Some("ns"), "web"), Known::UNKNOWN, "not listed: it may exist");
        ready.set();
        assert_eq!(h.known("vulcan", Some("ns"), "web"), Known::ABSENT);
        let mut posted = copy(1);
        let entry = |operation: &str| ManagedFieldsEntry {
            manager: Some(keys::FIELD_MANAGER.into()),
            operation: Some(operation.into()),
            ..Default::default()
        };
        posted.metadata.managed_fields = Some(vec![entry("Update")]);
        writer.apply_watcher_event(&watcher::Event::Apply(copy_record(&posted.metadata)));
        assert_eq!(h.known("vulcan", Some("ns"), "web"), present(true));
        posted.metadata.managed_fields = Some(vec![entry("Apply")]);
        writer.apply_watcher_event(&watcher::Event::Apply(copy_record(&posted.metadata)));
        assert_eq!(h.known("vulcan", Some("ns"), "web"), present(false));
    }

    #[test]
    fn an_untouched_copy_needs_no_second_apply_but_an_edited_one_does() {
        let (h, mut writer, ready) = watched_vulcan();
        let seen = |w: &mut Writer<CopyRecord>, generation| {
            w.apply_watcher_event(&watcher::Event::Apply(copy_record(&copy(generation).metadata)))
        };

        h.record_apply("vulcan", 7, &copy(1));
        assert!(!h.unchanged_since_apply("vulcan", Some("ns"), "web", 7), "the watch has not listed vulcan yet");
        ready.set();
        assert!(h.unchanged_since_apply("vulcan", Some("ns"), "web", 7), "just written, not seen by the watch yet");
        assert!(!h.unchanged_since_apply("vulcan", Some("ns"), "web", 8), "another render is a change");
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

    #[test]
    fn workload_numbers_do_not_count_as_rolled_out_until_the_watch_sees_syncs_write() {
        let (h, mut writer, ready) = watched_vulcan();
        ready.set();
        let done = WorkloadStatus { desired: 2, ready: 2, available: 2, updated: 2, rolled_out: true };
        let seen = |w: &mut Writer<CopyRecord>, generation| {
            w.apply_watcher_event(&watcher::Event::Apply(copy_record_with(
                &copy(generation).metadata,
                Some(done),
                true,
            )))
        };
        seen(&mut writer, 1);
        assert_eq!(h.workload_on("vulcan", Some("ns"), "web"), Some(done));
        h.record_apply("vulcan", 7, &copy(2));
        assert!(!h.workload_on("vulcan", Some("ns"), "web").unwrap().rolled_out, "numbers of the old spec");
        seen(&mut writer, 2);
        assert_eq!(h.workload_on("vulcan", Some("ns"), "web"), Some(done));
        assert_eq!(h.workload_on("kronos", Some("ns"), "web"), None);
        let a = copy_record_with(&copy(2).metadata, Some(done), true).value;
        let b = copy_record_with(&copy(2).metadata, Some(WorkloadStatus { ready: 1, ..done }), true).value;
        assert_eq!(a.fingerprint, b.fingerprint, "status is not drift");
        assert_ne!(a.trigger(), b.trigger(), "but it is worth a sync");
    }

    #[test]
    fn a_report_is_pending_from_sync_s_write_until_the_copy_s_controller_has_seen_it() {
        let (h, mut writer, ready) = watched_vulcan();
        let zero = WorkloadStatus { desired: 0, ready: 0, available: 0, updated: 0, rolled_out: false };
        let seen = |w: &mut Writer<CopyRecord>, generation, reported| {
            let r = copy_record_with(&copy(generation).metadata, Some(zero), reported);
            w.apply_watcher_event(&watcher::Event::Apply(r))
        };
        assert!(!h.report_pending("vulcan", Some("ns"), "web"), "sync wrote nothing: nothing to wait for");
        h.record_apply("vulcan", 7, &copy(1));
        assert!(!h.report_pending("vulcan", Some("ns"), "web"), "not listed: nothing is known");
        ready.set();
        assert!(h.report_pending("vulcan", Some("ns"), "web"), "the watch has not seen the write");
        seen(&mut writer, 1, false);
        assert!(h.report_pending("vulcan", Some("ns"), "web"), "its controller has not reported");
        seen(&mut writer, 1, true);
        assert!(!h.report_pending("vulcan", Some("ns"), "web"));
        h.record_apply("vulcan", 8, &copy(2));
        assert!(h.report_pending("vulcan", Some("ns"), "web"), "a new write waits for its own report");
        let a = copy_record_with(&copy(2).metadata, Some(zero), false).value;
        let b = copy_record_with(&copy(2).metadata, Some(zero), true).value;
        assert_ne!(a.trigger(), b.trigger(), "the report itself is worth a sync");
    }
}
