//! The bookkeeping of one member's capacity, fed with the events of its node and pod watches:
//! the facts of each node, a compact record of each pod that has not finished, the requests
//! summed per node (kept up to date event by event) and the unschedulable pods of each
//! workload. No I/O: [`super`] drives it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::{Add, Sub};

use fed_core::capacity::{
    self, NodeFacts, ResourceSummary, Resources, WorkloadKey, node_facts, owner_workload, pod_requests,
    unschedulable_since,
};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::runtime::watcher::Event;

/// What the ledger keeps of a pod (never the pod).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodRecord {
    /// The node it is bound to, if any.
    pub node: Option<String>,
    /// What the scheduler reserves for it.
    pub requests: Resources,
    /// Its workload and since when the scheduler has found no node for it, when it has not
    /// (boxed: most pods are scheduled, and each record stays small).
    pub unschedulable: Option<Box<(WorkloadKey, Time)>>,
}

impl PodRecord {
    /// The pod's uid and its record.
    pub fn of(pod: &Pod) -> (String, PodRecord) {
        let spec = pod.spec.as_ref();
        let record = PodRecord {
            node: spec.and_then(|s| s.node_name.clone()),
            requests: spec.map(pod_requests).unwrap_or_default(),
            unschedulable: owner_workload(pod).zip(unschedulable_since(pod)).map(Box::new),
        };
        (pod.uid().unwrap_or_default(), record)
    }
}

/// A node's name and facts.
pub fn node_record(node: &Node) -> (String, NodeFacts) {
    (node.name_any(), node_facts(node))
}

/// An event of the node watch: a node's name and facts.
pub type NodeEvent = Event<(String, NodeFacts)>;

/// An event of the pod watch: a pod's uid and record.
pub type PodEvent = Event<(String, PodRecord)>;

/// What one event changed, for the subscribers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changed {
    /// Workloads whose set of unschedulable pods changed.
    pub workloads: BTreeSet<WorkloadKey>,
    /// Some node's free resources (or whether it takes pods) changed.
    pub room: bool,
}

/// Unschedulable pods of each workload: pod uid → since when.
type Unschedulable = BTreeMap<WorkloadKey, BTreeMap<String, Time>>;

/// One member's capacity as its watches have shown it.
#[derive(Debug, Default)]
pub struct Ledger {
    nodes: HashMap<String, NodeFacts>,
    pods: HashMap<String, PodRecord>,
    /// Per node name, the summed requests of the pods bound to it (absent: none).
    requested: HashMap<String, Resources>,
    unschedulable: Unschedulable,
    /// Between a re-list's `Init` and `InitDone`: what it has listed so far.
    nodes_relist: Option<HashMap<String, NodeFacts>>,
    pods_relist: Option<HashMap<String, PodRecord>>,
    nodes_listed: bool,
    pods_listed: bool,
}

impl Ledger {
    /// Applies one event of the node watch.
    pub fn node_event(&mut self, event: NodeEvent) -> Changed {
        let room = match event {
            Event::Apply((name, facts)) => self.nodes.insert(name, facts) != Some(facts),
            Event::Delete((name, _)) => self.nodes.remove(&name).is_some(),
            Event::Init => {
                self.nodes_relist = Some(HashMap::new());
                false
            }
            Event::InitApply((name, facts)) => {
                self.nodes_relist.get_or_insert_default().insert(name, facts);
                false
            }
            Event::InitDone => {
                let listed = self.nodes_relist.take().unwrap_or_default();
                self.nodes_listed = true;
                std::mem::replace(&mut self.nodes, listed) != self.nodes
            }
        };
        Changed { workloads: BTreeSet::new(), room }
    }

    /// Applies one event of the pod watch.
    pub fn pod_event(&mut self, event: PodEvent) -> Changed {
        match event {
            Event::Apply((uid, record)) => {
                let old = self.pods.insert(uid.clone(), record.clone());
                self.replace(&uid, old.as_ref(), Some(&record))
            }
            Event::Delete((uid, _)) => {
                let old = self.pods.remove(&uid);
                self.replace(&uid, old.as_ref(), None)
            }
            Event::Init => {
                self.pods_relist = Some(HashMap::new());
                Changed::default()
            }
            Event::InitApply((uid, record)) => {
                self.pods_relist.get_or_insert_default().insert(uid, record);
                Changed::default()
            }
            Event::InitDone => {
                self.pods = self.pods_relist.take().unwrap_or_default();
                self.pods_listed = true;
                self.rebuild()
            }
        }
    }

    /// Moves pod `uid`'s contribution from `old` to `new` in the sums and the index.
    fn replace(&mut self, uid: &str, old: Option<&PodRecord>, new: Option<&PodRecord>) -> Changed {
        let room = bound(old) != bound(new);
        if room {
            if let Some((node, requests)) = bound(old) {
                self.add_requested(node, requests, Resources::sub);
            }
            if let Some((node, requests)) = bound(new) {
                self.add_requested(node, requests, Resources::add);
            }
        }
        let mut workloads = BTreeSet::new();
        let (was, is) = (old.and_then(|r| r.unschedulable.as_deref()), new.and_then(|r| r.unschedulable.as_deref()));
        if was != is {
            if let Some((key, _)) = was {
                remove_pod(&mut self.unschedulable, key, uid);
                workloads.insert(key.clone());
            }
            if let Some((key, since)) = is {
                self.unschedulable.entry(key.clone()).or_default().insert(uid.to_string(), since.clone());
                workloads.insert(key.clone());
            }
        }
        Changed { workloads, room }
    }

    /// `requested[node] = op(requested[node], requests)`, dropping a node left without pods.
    fn add_requested(&mut self, node: &str, requests: Resources, op: fn(Resources, Resources) -> Resources) {
        let sum = op(self.requested.get(node).copied().unwrap_or_default(), requests);
        if sum.pods > 0 {
            self.requested.insert(node.to_string(), sum);
        } else {
            self.requested.remove(node);
        }
    }

    /// Recomputes the sums and the index from the pods (after a re-list), reporting what differs.
    fn rebuild(&mut self) -> Changed {
        let mut requested: HashMap<String, Resources> = HashMap::new();
        let mut unschedulable = Unschedulable::new();
        for (uid, pod) in &self.pods {
            if let Some(node) = &pod.node {
                let sum = requested.entry(node.clone()).or_default();
                *sum = *sum + pod.requests;
            }
            if let Some((key, since)) = pod.unschedulable.as_deref() {
                unschedulable.entry(key.clone()).or_default().insert(uid.clone(), since.clone());
            }
        }
        let room = std::mem::replace(&mut self.requested, requested) != self.requested;
        let before = std::mem::replace(&mut self.unschedulable, unschedulable);
        let keys: BTreeSet<&WorkloadKey> = before.keys().chain(self.unschedulable.keys()).collect();
        let workloads = keys.into_iter().filter(|k| before.get(*k) != self.unschedulable.get(*k)).cloned().collect();
        Changed { workloads, room }
    }

    /// Both watches have listed once.
    pub fn listed(&self) -> bool {
        self.nodes_listed && self.pods_listed
    }

    /// Since when each unschedulable pod of `key` has been so, oldest first.
    pub fn unschedulable(&self, key: &WorkloadKey) -> Vec<Time> {
        let mut since: Vec<Time> = self.unschedulable.get(key).into_iter().flat_map(|p| p.values().cloned()).collect();
        since.sort();
        since
    }

    /// [`capacity::room_for`] over the nodes; `None` until both watches have listed.
    pub fn room_for(&self, request: &Resources) -> Option<i64> {
        self.listed().then(|| capacity::room_for(self.node_requests(), request))
    }

    /// Every workload with unschedulable pods.
    pub fn unschedulable_workloads(&self) -> impl Iterator<Item = &WorkloadKey> {
        self.unschedulable.keys()
    }

    /// [`capacity::summarize`] over the nodes; `None` until both watches have listed.
    pub fn summary(&self) -> Option<ResourceSummary> {
        self.listed().then(|| capacity::summarize(self.node_requests()))
    }

    /// Each node with the summed requests of its pods.
    fn node_requests(&self) -> impl Iterator<Item = (&NodeFacts, &Resources)> {
        const NONE: Resources = Resources { cpu_millis: 0, memory_bytes: 0, pods: 0 };
        self.nodes.iter().map(|(name, facts)| (facts, self.requested.get(name).unwrap_or(&NONE)))
    }
}

/// The node a pod is bound to and what it requests there.
fn bound(r: Option<&PodRecord>) -> Option<(&str, Resources)> {
    r.and_then(|r| Some((r.node.as_deref()?, r.requests)))
}

/// Drops pod `uid` from `key`'s unschedulable pods (and `key` when none is left).
fn remove_pod(index: &mut Unschedulable, key: &WorkloadKey, uid: &str) {
    if let Some(pods) = index.get_mut(key) {
        pods.remove(uid);
        if pods.is_empty() {
            index.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::jiff::Timestamp;

    use super::*;

    fn res(cpu_millis: i64, memory_bytes: i64) -> Resources {
        Resources { cpu_millis, memory_bytes, pods: 1 }
    }

    fn node(cpu: i64) -> NodeFacts {
        NodeFacts { allocatable: Resources { cpu_millis: cpu, memory_bytes: 1000, pods: 100 }, schedulable: true }
    }

    fn web() -> WorkloadKey {
        WorkloadKey { namespace: "shop".into(), kind: "Deployment".into(), name: "web".into() }
    }

    fn at(s: i64) -> Time {
        Time(Timestamp::from_second(1_700_000_000 + s).unwrap())
    }

    fn bound(uid: &str, node: &str, cpu: i64) -> (String, PodRecord) {
        (uid.into(), PodRecord { node: Some(node.into()), requests: res(cpu, 0), unschedulable: None })
    }

    fn stuck(uid: &str, since: i64) -> (String, PodRecord) {
        (uid.into(), PodRecord { node: None, requests: res(100, 0), unschedulable: Some(Box::new((web(), at(since)))) })
    }

    fn changed(workloads: &[WorkloadKey], room: bool) -> Changed {
        Changed { workloads: workloads.iter().cloned().collect(), room }
    }

    /// A ledger whose watches listed nodes a (1000m) and b (500m) and `pods`.
    fn listed(pods: Vec<(String, PodRecord)>) -> Ledger {
        let mut l = Ledger::default();
        for e in [Event::Init, Event::InitApply(("a".into(), node(1000))), Event::InitApply(("b".into(), node(500)))] {
            l.node_event(e);
        }
        l.node_event(Event::InitDone);
        l.pod_event(Event::Init);
        for p in pods {
            l.pod_event(Event::InitApply(p));
        }
        l.pod_event(Event::InitDone);
        l
    }

    #[test]
    fn nothing_is_known_until_both_watches_listed() {
        let mut l = Ledger::default();
        assert_eq!(l.room_for(&res(100, 0)), None);
        l.node_event(Event::Init);
        l.node_event(Event::InitApply(("a".into(), node(1000))));
        assert!(l.node_event(Event::InitDone).room);
        assert_eq!((l.room_for(&res(100, 0)), l.summary()), (None, None), "pods not listed yet");
        l.pod_event(Event::Init);
        l.pod_event(Event::InitDone);
        assert_eq!(l.room_for(&res(100, 0)), Some(10));
    }

    #[test]
    fn requests_are_summed_per_node_as_pods_come_move_and_go() {
        let mut l = listed(vec![bound("p1", "a", 300)]);
        let request = res(100, 0);
        assert_eq!(l.room_for(&request), Some(7 + 5));
        let table: Vec<(&str, PodEvent, Changed, i64)> = vec![
            ("a new pod on b", Event::Apply(bound("p2", "b", 200)), changed(&[], true), 7 + 3),
            ("a status change only", Event::Apply(bound("p2", "b", 200)), changed(&[], false), 7 + 3),
            ("resized in place", Event::Apply(bound("p2", "b", 400)), changed(&[], true), 7 + 1),
            ("a pending pod takes nothing", Event::Apply(stuck("p3", 0)), changed(&[web()], false), 7 + 1),
            ("bound at last", Event::Apply(bound("p3", "a", 100)), changed(&[web()], true), 6 + 1),
            ("deleted", Event::Delete(bound("p1", "ignored", 0)), changed(&[], true), 9 + 1),
            ("deleting what is not there", Event::Delete(bound("p9", "a", 100)), changed(&[], false), 9 + 1),
        ];
        for (what, event, want, room) in table {
            assert_eq!(l.pod_event(event), want, "{what}");
            assert_eq!(l.room_for(&request), Some(room), "{what}");
        }
        l.pod_event(Event::Delete(bound("p2", "b", 0)));
        l.pod_event(Event::Delete(bound("p3", "a", 0)));
        assert!(l.requested.is_empty(), "nodes left without pods are dropped: {:?}", l.requested);
    }

    #[test]
    fn unschedulable_pods_are_indexed_per_workload() {
        let mut l = listed(vec![]);
        assert_eq!(l.pod_event(Event::Apply(stuck("p1", 20))), changed(&[web()], false));
        assert_eq!(l.pod_event(Event::Apply(stuck("p2", 10))), changed(&[web()], false));
        assert_eq!(l.pod_event(Event::Apply(stuck("p2", 10))), changed(&[], false), "no change");
        assert_eq!(l.unschedulable(&web()), [at(10), at(20)], "oldest first");
        assert_eq!(l.pod_event(Event::Apply(stuck("p2", 30))), changed(&[web()], false), "unschedulable again");
        assert_eq!(l.unschedulable(&web()), [at(20), at(30)]);
        assert_eq!(l.pod_event(Event::Delete(stuck("p1", 0))), changed(&[web()], false));
        assert_eq!(l.pod_event(Event::Delete(stuck("p2", 0))), changed(&[web()], false));
        assert_eq!(l.unschedulable(&web()), Vec::<Time>::new());
        assert_eq!(l.unschedulable_workloads().count(), 0, "a workload left without such pods is dropped");
    }

    #[test]
    fn nodes_change_the_room() {
        let mut l = listed(vec![bound("p1", "b", 500)]);
        let request = res(100, 0);
        let table: Vec<(&str, NodeEvent, bool, i64)> = vec![
            ("unchanged", Event::Apply(("a".into(), node(1000))), false, 10),
            ("grown", Event::Apply(("a".into(), node(2000))), true, 20),
            ("cordoned", Event::Apply(("a".into(), NodeFacts { schedulable: false, ..node(2000) })), true, 0),
            ("b grown under its pod", Event::Apply(("b".into(), node(800))), true, 3),
            ("b gone", Event::Delete(("b".into(), node(0))), true, 0),
            ("c joins", Event::Apply(("c".into(), node(300))), true, 3),
        ];
        for (what, event, room, want) in table {
            assert_eq!(l.node_event(event).room, room, "{what}");
            assert_eq!(l.room_for(&request), Some(want), "{what}");
        }
    }

    #[test]
    fn a_relist_swaps_at_init_done_and_reports_the_difference() {
        let mut l = listed(vec![bound("p1", "a", 300), stuck("p2", 10), stuck("p3", 20)]);
        let request = res(100, 0);
        l.pod_event(Event::Init);
        l.pod_event(Event::InitApply(bound("p1", "a", 300)));
        l.pod_event(Event::InitApply(stuck("p2", 10)));
        l.pod_event(Event::InitApply(bound("p4", "b", 500)));
        assert_eq!(l.room_for(&request), Some(7 + 5), "the old state serves until InitDone");
        assert_eq!(l.unschedulable(&web()), [at(10), at(20)]);
        assert_eq!(l.pod_event(Event::InitDone), changed(&[web()], true), "p3 went away, p4 came");
        assert_eq!(l.room_for(&request), Some(7));
        assert_eq!(l.unschedulable(&web()), [at(10)]);

        let same = |l: &mut Ledger| {
            l.pod_event(Event::Init);
            for p in [bound("p1", "a", 300), stuck("p2", 10), bound("p4", "b", 500)] {
                l.pod_event(Event::InitApply(p));
            }
            l.pod_event(Event::InitDone)
        };
        assert_eq!(same(&mut l), Changed::default(), "a relist that finds what was there changes nothing");

        l.node_event(Event::Init);
        l.node_event(Event::InitApply(("a".into(), node(1000))));
        assert!(l.node_event(Event::InitDone).room, "node b vanished");
        assert_eq!(l.room_for(&request), Some(7));
        assert_eq!(l.summary().unwrap().requested, res(300, 0), "b's pod is not on a schedulable node any more");
    }

    #[test]
    fn records_of_pods() {
        let mut pod = Pod::default();
        pod.metadata.uid = Some("u1".into());
        pod.spec = Some(k8s_openapi::api::core::v1::PodSpec { node_name: Some("a".into()), ..Default::default() });
        assert_eq!(
            PodRecord::of(&pod),
            ("u1".to_string(), PodRecord { node: Some("a".into()), requests: res(0, 0), unschedulable: None })
        );
    }
}
