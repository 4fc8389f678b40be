//! What the members' watches see of the workload's copies while a scenario runs: every uid
//! each copy had (a copy whose uid changed was deleted and created again although its source
//! never left the placement: the "re-created" column) and when each content marker first
//! appeared (source → member latency).
//!
//! The workload never creates an object twice under one name, so a second uid for a name is
//! always a re-creation.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use fed_e2e::Bed;
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};

use crate::converge::MEMBERS;

/// What one member's watch saw.
#[derive(Debug, Default)]
struct Seen {
    /// Copy name → every uid it had.
    uids: BTreeMap<String, BTreeSet<String>>,
    /// (copy name, content marker) → when the watch first saw it.
    first: BTreeMap<(String, String), Instant>,
}

/// Watches of the managed ConfigMaps of one namespace on every member, stopped when dropped.
pub struct CopyWatch {
    seen: BTreeMap<&'static str, Arc<Mutex<Seen>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl CopyWatch {
    /// Starts watching namespace `ns` on vulcan and kronos.
    pub fn start(bed: &Bed, ns: &str) -> CopyWatch {
        let mut seen = BTreeMap::new();
        let mut tasks = Vec::new();
        for member in MEMBERS {
            let state = Arc::new(Mutex::new(Seen::default()));
            let api: Api<ConfigMap> = Api::namespaced(bed.cluster(member).clone(), ns);
            let config = watcher::Config::default().labels("kubefed.io/managed=true");
            let sink = state.clone();
            tasks.push(tokio::spawn(async move {
                let mut events = std::pin::pin!(watcher(api, config).default_backoff());
                while let Some(event) = events.next().await {
                    let (watcher::Event::Apply(cm) | watcher::Event::InitApply(cm) | watcher::Event::Delete(cm)) =
                        (match event {
                            Ok(e) => e,
                            Err(_) => continue,
                        })
                    else {
                        continue;
                    };
                    sink.lock().expect("watch state").record(&cm, Instant::now());
                }
            }));
            seen.insert(member, state);
        }
        CopyWatch { seen, tasks }
    }

    /// Copies that had more than one uid, summed over the members, with the first few named.
    pub fn recreated(&self) -> (usize, Vec<String>) {
        self.recreated_on(&MEMBERS)
    }

    /// [`CopyWatch::recreated`] on `members` only (those that stayed in the placement).
    pub fn recreated_on(&self, members: &[&str]) -> (usize, Vec<String>) {
        self.count_recreated(members, &BTreeSet::new())
    }

    /// [`CopyWatch::recreated`] but for the copies named in `expected` (deleted and asked for
    /// again by the host: a new uid is what it asked for).
    pub fn recreated_except(&self, expected: &BTreeSet<String>) -> (usize, Vec<String>) {
        self.count_recreated(&MEMBERS, expected)
    }

    fn count_recreated(&self, members: &[&str], expected: &BTreeSet<String>) -> (usize, Vec<String>) {
        let mut count = 0;
        let mut examples = Vec::new();
        for (member, state) in self.seen.iter().filter(|(m, _)| members.contains(m)) {
            for (name, uids) in &state.lock().expect("watch state").uids {
                if uids.len() > 1 && !expected.contains(name) {
                    count += uids.len() - 1;
                    if examples.len() < 5 {
                        examples.push(format!("{member}: {name} re-created ({} uids)", uids.len()));
                    }
                }
            }
        }
        (count, examples)
    }

    /// When `member`'s watch first saw copy `name` with content marker `v`.
    pub fn first_seen(&self, member: &str, name: &str, v: &str) -> Option<Instant> {
        let state = self.seen.get(member)?.lock().expect("watch state");
        state.first.get(&(name.to_string(), v.to_string())).copied()
    }
}

impl Seen {
    fn record(&mut self, cm: &ConfigMap, at: Instant) {
        let Some(name) = cm.metadata.name.clone() else { return };
        if let Some(uid) = cm.metadata.uid.clone() {
            self.uids.entry(name.clone()).or_default().insert(uid);
        }
        let v = cm.data.as_ref().and_then(|d| d.get("v")).cloned().unwrap_or_default();
        self.first.entry((name, v)).or_insert(at);
    }
}

impl Drop for CopyWatch {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cm(name: &str, uid: &str, v: &str) -> ConfigMap {
        serde_json::from_value(serde_json::json!({
            "metadata": { "name": name, "uid": uid }, "data": { "v": v }
        }))
        .unwrap()
    }

    #[test]
    fn a_second_uid_is_a_recreation_and_markers_keep_their_first_sighting() {
        let mut seen = Seen::default();
        let t0 = Instant::now();
        seen.record(&cm("a", "u1", "0"), t0);
        seen.record(&cm("a", "u1", "1"), t0 + std::time::Duration::from_secs(1));
        seen.record(&cm("a", "u1", "0"), t0 + std::time::Duration::from_secs(2));
        seen.record(&cm("b", "u2", "0"), t0);
        seen.record(&cm("b", "u3", "0"), t0);
        assert_eq!(seen.uids["a"].len(), 1, "updates keep the uid");
        assert_eq!(seen.uids["b"].len(), 2);
        assert_eq!(seen.first[&("a".to_string(), "0".to_string())], t0);
        let watch = CopyWatch { seen: [("vulcan", Arc::new(Mutex::new(seen)))].into(), tasks: vec![] };
        assert_eq!(watch.recreated(), (1, vec!["vulcan: b re-created (2 uids)".to_string()]));
    }
}
