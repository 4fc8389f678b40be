//! Each member cluster's capacity, as overflow needs it: two watches per member with a client
//! (every node; every pod that has not finished) feed one [`ledger::Ledger`] per member, which
//! [`Capacities`] answers from: how many more pods of a size fit, the totals the cluster health
//! controller shows in the KubeFedCluster status, and since when each workload's pods have been
//! unschedulable. Subscribers hear when a workload's unschedulable pods change
//! ([`Capacities::subscribe`]) and, at most once per [`ROOM_PERIOD`], when a node's free
//! resources do ([`Capacities::subscribe_room`]).
//!
//! A pod is kept as a few fields ([`ledger::PodRecord`]), never whole. A member's ledger lives as
//! long as the member has a client: a restarted watch (new client, back online) re-lists into
//! it and only what differs is announced; a member that leaves or loses its client is forgotten.
//! While a member is unreachable its ledger keeps what was last seen.

mod ledger;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use fed_core::capacity::{ResourceSummary, Resources, WorkloadKey};
use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use tokio::sync::{Notify, broadcast, watch};
use tracing::{debug, warn};

use self::ledger::{Changed, Ledger, NodeEvent, PodEvent, PodRecord, node_record};
use super::member_registry::Members;
use super::member_tasks::MemberTasks;
use crate::record;

/// Shortest time between two bumps of [`Capacities::subscribe_room`].
pub const ROOM_PERIOD: Duration = Duration::from_secs(1);

/// The pods that hold resources on their node or wait for one.
const UNFINISHED_PODS: &str = "status.phase!=Succeeded,status.phase!=Failed";

/// Announcements of [`Capacities::subscribe`] a slow subscriber may fall behind by before it
/// is told it lagged.
const WORKLOAD_BACKLOG: usize = 1024;

/// Every member's capacity ledger. Cheap to query; fed by [`run`].
pub struct Capacities {
    ledgers: RwLock<HashMap<String, Arc<Mutex<Fed>>>>,
    workloads: broadcast::Sender<(String, WorkloadKey)>,
    room: watch::Sender<u64>,
    room_changed: Notify,
}

/// A member's ledger and which watch feeds it (a restarted watch's predecessor may deliver one
/// more event before its abort lands; that event is dropped).
#[derive(Default)]
struct Fed {
    watch: u64,
    ledger: Ledger,
}

impl Capacities {
    /// No member known yet.
    pub fn new() -> Arc<Self> {
        Arc::new(Capacities {
            ledgers: RwLock::new(HashMap::new()),
            workloads: broadcast::Sender::new(WORKLOAD_BACKLOG),
            room: watch::Sender::new(0),
            room_changed: Notify::new(),
        })
    }

    /// `cluster`'s schedulable nodes in all ([`fed_core::capacity::summarize`]); `None` until
    /// its watches have both listed once.
    pub fn summary(&self, cluster: &str) -> Option<ResourceSummary> {
        self.read(cluster, Ledger::summary).flatten()
    }

    fn read<T>(&self, cluster: &str, f: impl FnOnce(&Ledger) -> T) -> Option<T> {
        let fed = self.ledgers.read().expect("capacities lock").get(cluster).cloned()?;
        let fed = fed.lock().expect("ledger lock");
        Some(f(&fed.ledger))
    }

    /// The ledger of `cluster` (a new one if there is none) for a new watch, and that watch's
    /// number.
    fn start_watch(&self, cluster: &str) -> (Arc<Mutex<Fed>>, u64) {
        let fed = self.ledgers.write().expect("capacities lock").entry(cluster.to_string()).or_default().clone();
        let watch = {
            let mut f = fed.lock().expect("ledger lock");
            f.watch += 1;
            f.watch
        };
        (fed, watch)
    }

    /// Forgets the clusters for which `keep` is false, announcing their unschedulable workloads.
    fn retain(&self, keep: impl Fn(&str) -> bool) {
        let gone: Vec<(String, Arc<Mutex<Fed>>)> = {
            let mut ledgers = self.ledgers.write().expect("capacities lock");
            let names: Vec<String> = ledgers.keys().filter(|n| !keep(n)).cloned().collect();
            names.into_iter().filter_map(|n| ledgers.remove_entry(&n)).collect()
        };
        for (cluster, fed) in gone {
            let workloads = fed.lock().expect("ledger lock").ledger.unschedulable_workloads().cloned().collect();
            self.announce(&cluster, Changed { workloads, room: true });
        }
    }

    /// Applies `f` to `cluster`'s ledger if watch number `watch` still feeds it, and announces
    /// what changed.
    fn apply(&self, cluster: &str, fed: &Mutex<Fed>, watch: u64, f: impl FnOnce(&mut Ledger) -> Changed) {
        let changed = {
            let mut fed = fed.lock().expect("ledger lock");
            if fed.watch != watch {
                return;
            }
            f(&mut fed.ledger)
        };
        self.announce(cluster, changed);
    }

    fn announce(&self, cluster: &str, changed: Changed) {
        for key in changed.workloads {
            // No receiver yet is fine: nobody is waiting for this one.
            let _ = self.workloads.send((cluster.to_string(), key));
        }
        if changed.room {
            self.room_changed.notify_one();
        }
    }
}

/// What overflow reads (the replicas and sync controllers).
impl Capacities {
    /// Since when each currently unschedulable pod of `key` in `cluster` has been so, oldest
    /// first (empty when there is none, or the cluster is unknown).
    pub fn unschedulable(&self, cluster: &str, key: &WorkloadKey) -> Vec<Time> {
        self.read(cluster, |l| l.unschedulable(key)).unwrap_or_default()
    }

    /// How many more pods requesting `request` fit on `cluster`'s schedulable nodes
    /// ([`fed_core::capacity::room_for`]); `None` until its node and pod watches have both
    /// listed once.
    pub fn room_for(&self, cluster: &str, request: &Resources) -> Option<i64> {
        self.read(cluster, |l| l.room_for(request)).flatten()
    }

    /// `(cluster, workload)` each time the set of that workload's unschedulable pods in that
    /// cluster changes: a pod became unschedulable or stopped being so (scheduled, deleted,
    /// finished), a re-list found the set different, or the cluster was forgotten. A receiver
    /// that falls more than 1024 behind gets `RecvError::Lagged` and should re-read everything.
    pub fn subscribe(&self) -> broadcast::Receiver<(String, WorkloadKey)> {
        self.workloads.subscribe()
    }

    /// Bumped when any node's free resources (or whether it takes pods) changed, at most once
    /// per [`ROOM_PERIOD`] (changes meanwhile are folded into the next bump).
    pub fn subscribe_room(&self) -> watch::Receiver<u64> {
        self.room.subscribe()
    }
}

/// Keeps one node watch and one pod watch per member with a client, until cancelled.
pub async fn run(capacities: Arc<Capacities>, members: Arc<Members>) {
    let pace = pace_room(&capacities);
    let manage = async {
        let mut changes = members.subscribe();
        members.wait_ready().await;
        let mut watches = MemberTasks::default();
        loop {
            let now = members.snapshot();
            watches.update(&now, |m, client| {
                let (fed, watch) = capacities.start_watch(&m.name);
                watch_member(capacities.clone(), m.name.clone(), client.clone(), fed, watch)
            });
            capacities.retain(|name| watches.contains(name));
            if changes.changed().await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        () = pace => {}
        () = manage => {}
    }
}

/// Turns room changes into bumps of the room counter, at most one per [`ROOM_PERIOD`].
async fn pace_room(capacities: &Capacities) {
    loop {
        capacities.room_changed.notified().await;
        capacities.room.send_modify(|n| *n += 1);
        tokio::time::sleep(ROOM_PERIOD).await;
    }
}

/// Events of a member's two watches.
enum Watched {
    Node(Result<NodeEvent, watcher::Error>),
    Pod(Result<PodEvent, watcher::Error>),
}

/// Watches `cluster`'s nodes and unfinished pods into its ledger, as watch number `watch`.
async fn watch_member(capacities: Arc<Capacities>, cluster: String, client: Client, fed: Arc<Mutex<Fed>>, watch: u64) {
    let nodes = watcher(Api::<Node>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .map_ok(|e| record::map_event(e, |n| node_record(&n)))
        .map(Watched::Node);
    let pods = watcher(Api::<Pod>::all(client), watcher::Config::default().fields(UNFINISHED_PODS))
        .default_backoff()
        .map_ok(|e| record::map_event(e, |p| PodRecord::of(&p)))
        .map(Watched::Pod);
    let mut events = std::pin::pin!(stream::select(nodes, pods));
    while let Some(event) = events.next().await {
        match event {
            Watched::Node(Ok(e)) => capacities.apply(&cluster, &fed, watch, |l| l.node_event(e)),
            Watched::Pod(Ok(e)) => capacities.apply(&cluster, &fed, watch, |l| l.pod_event(e)),
            Watched::Node(Err(e)) => watch_failed(&cluster, "nodes", &e),
            Watched::Pod(Err(e)) => watch_failed(&cluster, "pods", &e),
        }
    }
}

/// Logs a watch error: a refusal (the member's federation ClusterRole predates the node and pod
/// rights) as a warning with the fix, anything else (an unreachable member) at debug level.
fn watch_failed(cluster: &str, what: &str, e: &watcher::Error) {
    let forbidden = match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s))
        | watcher::Error::WatchError(s) => s.is_forbidden(),
        _ => false,
    };
    if forbidden {
        warn!(%cluster, error = %e, "may not watch {what} on the member, so its capacity is unknown; `kubectl fed join {cluster} --cluster-context CONTEXT --overwrite` grants it");
    } else {
        debug!(%cluster, error = %e, "watching {what}");
    }
}

#[cfg(test)]
mod tests {
    use kube::runtime::watcher::Event;

    use super::*;

    fn web() -> WorkloadKey {
        WorkloadKey { namespace: "shop".into(), kind: "Deployment".into(), name: "web".into() }
    }

    fn stuck(uid: &str) -> (String, PodRecord) {
        let since = Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
        (uid.into(), PodRecord { unschedulable: Some(Box::new((web(), since))), ..Default::default() })
    }

    fn listed(c: &Capacities, cluster: &str, fed: &Mutex<Fed>, watch: u64) {
        for (node, pod) in [(Event::Init, Event::Init), (Event::InitDone, Event::InitDone)] {
            c.apply(cluster, fed, watch, |l| l.node_event(node));
            c.apply(cluster, fed, watch, |l| l.pod_event(pod));
        }
    }

    #[tokio::test]
    async fn events_reach_the_ledger_of_the_current_watch_and_the_subscribers() {
        let c = Capacities::new();
        let mut workloads = c.subscribe();
        assert_eq!(c.summary("vulcan"), None, "unknown cluster");
        let (fed, first) = c.start_watch("vulcan");
        listed(&c, "vulcan", &fed, first);
        assert_eq!(c.summary("vulcan"), Some(ResourceSummary::default()));
        assert_eq!(c.room_for("vulcan", &Resources::default()), Some(0));

        c.apply("vulcan", &fed, first, |l| l.pod_event(Event::Apply(stuck("p1"))));
        assert_eq!(workloads.try_recv().unwrap(), ("vulcan".to_string(), web()));
        assert_eq!(c.unschedulable("vulcan", &web()).len(), 1);

        let (same, second) = c.start_watch("vulcan");
        assert!(Arc::ptr_eq(&fed, &same), "a restarted watch keeps the ledger");
        c.apply("vulcan", &fed, first, |l| l.pod_event(Event::Apply(stuck("p2"))));
        assert_eq!(c.unschedulable("vulcan", &web()).len(), 1, "the old watch's late event is dropped");
        assert!(workloads.try_recv().is_err());
        c.apply("vulcan", &fed, second, |l| l.pod_event(Event::Apply(stuck("p2"))));
        assert_eq!(c.unschedulable("vulcan", &web()).len(), 2);
        assert_eq!(workloads.try_recv().unwrap(), ("vulcan".to_string(), web()));

        c.retain(|name| name != "vulcan");
        assert_eq!(workloads.try_recv().unwrap(), ("vulcan".to_string(), web()), "forgetting a cluster announces");
        assert!(c.unschedulable("vulcan", &web()).is_empty());
        assert_eq!(c.summary("vulcan"), None);
    }

    #[tokio::test]
    async fn room_changes_are_paced() {
        let c = Capacities::new();
        let mut room = c.subscribe_room();
        let pacer = {
            let c = c.clone();
            super::super::tasks::AbortOnDrop::spawn(async move { pace_room(&c).await })
        };
        let start = tokio::time::Instant::now();
        for _ in 0..3 {
            c.announce("vulcan", Changed { room: true, ..Default::default() });
        }
        room.changed().await.unwrap();
        assert_eq!(*room.borrow_and_update(), 1);
        c.announce("vulcan", Changed { room: true, ..Default::default() });
        room.changed().await.unwrap();
        assert_eq!(*room.borrow_and_update(), 2, "the three changes before made one bump");
        assert!(start.elapsed() >= ROOM_PERIOD, "the second bump waited: {:?}", start.elapsed());
        drop(pacer);
    }
}
