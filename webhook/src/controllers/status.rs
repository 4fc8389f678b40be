//! Pure helpers of the sync controller: per-cluster outcomes → `status.clusters[]` and the
//! `Propagation` condition, origin annotation parsing, and the placed-vs-present diff.

use std::collections::{BTreeMap, BTreeSet};

use fed_core::api::{CONDITION_PROPAGATION, ClusterStatus, Condition, FederatedStatus};

/// KubeFed status word: the member is Offline or could not be reached.
pub const CLUSTER_NOT_READY: &str = "ClusterNotReady";
/// KubeFed status word: creating the member copy failed.
pub const CREATION_FAILED: &str = "CreationFailed";
/// KubeFed status word: updating the member copy failed.
pub const UPDATE_FAILED: &str = "UpdateFailed";
/// KubeFed status word: deleting the member copy failed.
pub const DELETION_FAILED: &str = "DeletionFailed";
/// KubeFed status word: the overrides for the cluster do not apply to the template.
pub const APPLY_OVERRIDES_FAILED: &str = "ApplyOverridesFailed";

/// Propagation condition reasons.
pub const REASON_PROPAGATED: &str = "Propagated";
/// At least one cluster has a non-empty status word.
pub const REASON_CHECK_CLUSTERS: &str = "CheckClusters";

/// What happened on one member cluster during a sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The copy is as rendered (or, on the host, the source is the copy).
    Propagated,
    /// The copy was removed (or never existed); the cluster gets no status entry.
    Removed,
    /// The cluster failed; `word` is a KubeFed status word.
    Failed {
        /// `ClusterNotReady`, `CreationFailed`, `UpdateFailed`, `DeletionFailed`, …
        word: &'static str,
        /// Human-readable detail.
        message: String,
    },
}

impl Outcome {
    /// A failure with a status word and message.
    pub fn failed(word: &'static str, message: impl Into<String>) -> Self {
        Outcome::Failed { word, message: message.into() }
    }

    /// True unless this is a failure.
    pub fn is_ok(&self) -> bool {
        !matches!(self, Outcome::Failed { .. })
    }
}

/// `status.clusters[]` for these outcomes, sorted by cluster name: every propagated or failed
/// cluster gets an entry (empty status when propagated); removed clusters get none.
pub fn cluster_statuses(outcomes: &BTreeMap<String, Outcome>) -> Vec<ClusterStatus> {
    outcomes
        .iter()
        .filter_map(|(name, outcome)| match outcome {
            Outcome::Propagated => Some(ClusterStatus { name: name.clone(), status: None, message: None }),
            Outcome::Removed => None,
            Outcome::Failed { word, message } => Some(ClusterStatus {
                name: name.clone(),
                status: Some((*word).to_string()),
                message: (!message.is_empty()).then(|| message.clone()),
            }),
        })
        .collect()
}

/// The status the sync controller wants on a federated object.
///
/// Timestamps of the `Propagation` condition are carried over from `previous` unless its status
/// flips (`lastTransitionTime`) or anything in it changes (`lastUpdateTime`), so an unchanged
/// result produces an identical status and no write.
pub fn desired_status(
    generation: Option<i64>,
    outcomes: &BTreeMap<String, Outcome>,
    previous: Option<&FederatedStatus>,
    now: &str,
) -> FederatedStatus {
    let failed: Vec<String> = outcomes
        .iter()
        .filter_map(|(name, o)| match o {
            Outcome::Failed { word, .. } => Some(format!("{name}: {word}")),
            _ => None,
        })
        .collect();
    let (status, reason, message) = if failed.is_empty() {
        ("True", REASON_PROPAGATED, None)
    } else {
        ("False", REASON_CHECK_CLUSTERS, Some(failed.join(", ")))
    };
    let prev = previous.and_then(|s| s.conditions.iter().find(|c| c.type_ == CONDITION_PROPAGATION));
    let mut cond = Condition {
        type_: CONDITION_PROPAGATION.to_string(),
        status: status.to_string(),
        reason: Some(reason.to_string()),
        message,
        last_probe_time: None,
        last_update_time: Some(now.to_string()),
        last_transition_time: Some(now.to_string()),
    };
    if let Some(prev) = prev
        && prev.status == cond.status
    {
        cond.last_transition_time = prev.last_transition_time.clone().or(cond.last_transition_time);
        if prev.reason == cond.reason && prev.message == cond.message {
            cond.last_update_time = prev.last_update_time.clone().or(cond.last_update_time);
        }
    }
    let mut conditions: Vec<Condition> = previous
        .map(|s| s.conditions.iter().filter(|c| c.type_ != CONDITION_PROPAGATION).cloned().collect())
        .unwrap_or_default();
    conditions.push(cond);
    FederatedStatus { observed_generation: generation, conditions, clusters: cluster_statuses(outcomes) }
}

/// Clusters that may still hold a copy but are no longer placed: those where a copy was seen
/// plus those the previous status recorded, minus the placed ones.
pub fn clusters_to_clean(
    placed: &BTreeSet<String>,
    present: &BTreeSet<String>,
    recorded: &[ClusterStatus],
) -> BTreeSet<String> {
    present.iter().cloned().chain(recorded.iter().map(|c| c.name.clone())).filter(|c| !placed.contains(c)).collect()
}

/// Newly failing clusters: failures whose word differs from what the previous status recorded
/// (so an Event is published once per transition, not on every retry).
pub fn new_failures<'a>(
    outcomes: &'a BTreeMap<String, Outcome>,
    previous: Option<&FederatedStatus>,
) -> Vec<(&'a str, &'static str, &'a str)> {
    outcomes
        .iter()
        .filter_map(|(name, o)| match o {
            Outcome::Failed { word, message } => {
                let before = previous
                    .and_then(|s| s.clusters.iter().find(|c| &c.name == name))
                    .and_then(|c| c.status.as_deref());
                (before != Some(*word)).then_some((name.as_str(), *word, message.as_str()))
            }
            _ => None,
        })
        .collect()
}

/// A parsed `kubefed.io/origin` annotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The federated kind, e.g. `FederatedDeployment`.
    pub kind: String,
    /// Namespace of the federated object (`None` when cluster-scoped).
    pub namespace: Option<String>,
    /// Name of the federated object.
    pub name: String,
}

/// Parses `<FederatedKind>/<namespace>/<name>` or `<FederatedKind>/<name>` (the format of
/// `fed_core::render::origin`).
pub fn parse_origin(value: &str) -> Option<Origin> {
    let parts: Vec<&str> = value.split('/').collect();
    let nonempty = |s: &&str| !s.is_empty();
    match parts.as_slice() {
        [kind, ns, name] if [kind, ns, name].iter().all(|s| nonempty(s)) => {
            Some(Origin { kind: kind.to_string(), namespace: Some(ns.to_string()), name: name.to_string() })
        }
        [kind, name] if nonempty(kind) && nonempty(name) => {
            Some(Origin { kind: kind.to_string(), namespace: None, name: name.to_string() })
        }
        _ => None,
    }
}

/// Consecutive failure counts per object: the state behind the controllers' error policies.
pub struct FailureCounts<K>(std::sync::Mutex<std::collections::HashMap<K, u32>>);

impl<K: std::hash::Hash + Eq> FailureCounts<K> {
    /// No failures recorded.
    pub fn new() -> Self {
        FailureCounts(std::sync::Mutex::new(std::collections::HashMap::new()))
    }

    /// Records one more failure of `key` and returns how long to wait before retrying it.
    pub fn next_retry(&self, key: K, cap: std::time::Duration) -> std::time::Duration {
        let mut counts = self.0.lock().expect("failure counts lock");
        let n = counts.entry(key).or_insert(0);
        *n = n.saturating_add(1);
        backoff(*n, cap)
    }

    /// Forgets the failures of `key` after a success.
    pub fn clear(&self, key: &K) {
        self.0.lock().expect("failure counts lock").remove(key);
    }
}

/// What a status says, without its timestamps: two statuses with the same content are the
/// same report even when written at different times.
pub fn status_content(status: &FederatedStatus) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    status.observed_generation.hash(&mut h);
    for c in &status.conditions {
        (&c.type_, &c.status, &c.reason, &c.message).hash(&mut h);
    }
    for c in &status.clusters {
        serde_json::to_string(c).unwrap_or_default().hash(&mut h);
    }
    h.finish()
}

/// Statuses sync wrote in the last `ttl`, by object uid.
///
/// The store the applier reads can lag behind sync's own status patch (under load the member
/// watch that requeues an object is faster than the host watch that brings the patch back), and
/// a reconcile from that stale copy would write the same status again: on the propagation
/// benchmark, 1.99 status patches per object instead of one.
pub struct RecentStatus {
    ttl: std::time::Duration,
    written: std::sync::Mutex<std::collections::HashMap<String, (u64, std::time::Instant)>>,
}

impl RecentStatus {
    /// Remembers each write for `ttl`.
    pub fn new(ttl: std::time::Duration) -> Self {
        RecentStatus { ttl, written: Default::default() }
    }

    /// True when a status with the same content as `status` was written for `uid` within the TTL.
    pub fn just_written(&self, uid: &str, status: &FederatedStatus) -> bool {
        let written = self.written.lock().expect("recent status lock");
        written.get(uid).is_some_and(|(content, at)| *content == status_content(status) && at.elapsed() < self.ttl)
    }

    /// Records that `status` was written for `uid` now (and forgets expired writes).
    pub fn record(&self, uid: &str, status: &FederatedStatus) {
        let mut written = self.written.lock().expect("recent status lock");
        if written.len() >= 1024 {
            written.retain(|_, (_, at)| at.elapsed() < self.ttl);
        }
        written.insert(uid.to_string(), (status_content(status), std::time::Instant::now()));
    }
}

/// Exponential requeue delay after `failures` consecutive failed syncs: 1 s, 2 s, 4 s … capped.
pub fn backoff(failures: u32, cap: std::time::Duration) -> std::time::Duration {
    let secs = 1u64.checked_shl(failures.saturating_sub(1).min(16)).unwrap_or(u64::MAX);
    std::time::Duration::from_secs(secs).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn outcomes(items: &[(&str, Outcome)]) -> BTreeMap<String, Outcome> {
        items.iter().map(|(n, o)| (n.to_string(), o.clone())).collect()
    }

    #[test]
    fn a_status_just_written_is_not_written_again_whatever_its_timestamps() {
        let ok = outcomes(&[("vulcan", Outcome::Propagated), ("kronos", Outcome::Propagated)]);
        let first = desired_status(Some(1), &ok, None, "2026-11-29T05:00:00Z");
        // The same report from a stale store (no status yet), built a second later.
        let again = desired_status(Some(1), &ok, None, "2026-11-29T05:00:01Z");
        assert_ne!(first, again);
        assert_eq!(status_content(&first), status_content(&again));

        let recent = RecentStatus::new(Duration::from_secs(60));
        assert!(!recent.just_written("u1", &first));
        recent.record("u1", &first);
        assert!(recent.just_written("u1", &again));
        assert!(!recent.just_written("u2", &again), "another object");
        let failed =
            outcomes(&[("vulcan", Outcome::Propagated), ("kronos", Outcome::failed(CLUSTER_NOT_READY, "down"))]);
        assert!(!recent.just_written("u1", &desired_status(Some(1), &failed, None, "t")), "another report");
        assert!(!recent.just_written("u1", &desired_status(Some(2), &ok, None, "t")), "another generation");

        let expired = RecentStatus::new(Duration::ZERO);
        expired.record("u1", &first);
        assert!(!expired.just_written("u1", &again), "past the TTL the store is trusted again");
    }

    #[test]
    fn all_propagated_gives_true_and_empty_words() {
        let o =
            outcomes(&[("vulcan", Outcome::Propagated), ("earth", Outcome::Propagated), ("kronos", Outcome::Removed)]);
        let s = desired_status(Some(3), &o, None, "2025-01-01T00:00:00Z");
        assert_eq!(s.observed_generation, Some(3));
        assert_eq!(
            s.clusters,
            vec![
                ClusterStatus { name: "earth".into(), status: None, message: None },
                ClusterStatus { name: "vulcan".into(), status: None, message: None },
            ]
        );
        let c = &s.conditions[0];
        assert_eq!((c.type_.as_str(), c.status.as_str()), ("Propagation", "True"));
        assert_eq!(c.reason.as_deref(), Some(REASON_PROPAGATED));
    }

    #[test]
    fn a_failure_gives_false_with_the_words() {
        let o = outcomes(&[
            ("earth", Outcome::Propagated),
            ("vulcan", Outcome::failed(CLUSTER_NOT_READY, "cluster is offline")),
            ("kronos", Outcome::failed(DELETION_FAILED, "")),
        ]);
        let s = desired_status(None, &o, None, "t0");
        let c = &s.conditions[0];
        assert_eq!(c.status, "False");
        assert_eq!(c.reason.as_deref(), Some(REASON_CHECK_CLUSTERS));
        assert_eq!(c.message.as_deref(), Some("kronos: DeletionFailed, vulcan: ClusterNotReady"));
        assert_eq!(s.clusters[0], ClusterStatus { name: "earth".into(), status: None, message: None });
        assert_eq!(s.clusters[1].status.as_deref(), Some(DELETION_FAILED));
        assert_eq!(s.clusters[1].message, None);
        assert_eq!(s.clusters[2].message.as_deref(), Some("cluster is offline"));
    }

    #[test]
    fn unchanged_result_keeps_timestamps_so_status_is_identical() {
        let o = outcomes(&[("earth", Outcome::Propagated)]);
        let first = desired_status(Some(1), &o, None, "t0");
        let second = desired_status(Some(1), &o, Some(&first), "t1");
        assert_eq!(first, second);
    }

    #[test]
    fn transition_updates_transition_time_only_on_flip() {
        let ok = outcomes(&[("earth", Outcome::Propagated)]);
        let bad = outcomes(&[("earth", Outcome::failed(UPDATE_FAILED, "x"))]);
        let bad2 =
            outcomes(&[("earth", Outcome::failed(UPDATE_FAILED, "y")), ("b", Outcome::failed(UPDATE_FAILED, ""))]);
        let s0 = desired_status(Some(1), &ok, None, "t0");
        let s1 = desired_status(Some(1), &bad, Some(&s0), "t1");
        assert_eq!(s1.conditions[0].last_transition_time.as_deref(), Some("t1"));
        let s2 = desired_status(Some(1), &bad2, Some(&s1), "t2");
        assert_eq!(s2.conditions[0].last_transition_time.as_deref(), Some("t1"));
        assert_eq!(s2.conditions[0].last_update_time.as_deref(), Some("t2"));
    }

    #[test]
    fn other_conditions_are_kept() {
        let prev = FederatedStatus {
            conditions: vec![Condition { type_: "Other".into(), status: "True".into(), ..Default::default() }],
            ..Default::default()
        };
        let s = desired_status(None, &BTreeMap::new(), Some(&prev), "t");
        assert_eq!(s.conditions.len(), 2);
        assert_eq!(s.conditions[0].type_, "Other");
        assert!(s.clusters.is_empty());
    }

    #[test]
    fn clean_set_is_present_or_recorded_minus_placed() {
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        let recorded = vec![
            ClusterStatus { name: "vulcan".into(), status: None, message: None },
            ClusterStatus { name: "earth".into(), status: None, message: None },
        ];
        assert_eq!(
            clusters_to_clean(&set(&["earth"]), &set(&["kronos", "earth"]), &recorded),
            set(&["kronos", "vulcan"])
        );
        assert!(clusters_to_clean(&set(&["earth", "vulcan"]), &set(&["earth"]), &recorded).is_empty());
    }

    #[test]
    fn new_failures_only_on_word_change() {
        let prev = FederatedStatus {
            clusters: vec![ClusterStatus {
                name: "vulcan".into(),
                status: Some(CLUSTER_NOT_READY.into()),
                message: None,
            }],
            ..Default::default()
        };
        let o = outcomes(&[
            ("vulcan", Outcome::failed(CLUSTER_NOT_READY, "still")),
            ("kronos", Outcome::failed(CREATION_FAILED, "denied")),
            ("earth", Outcome::Propagated),
        ]);
        assert_eq!(new_failures(&o, Some(&prev)), vec![("kronos", CREATION_FAILED, "denied")]);
        assert_eq!(new_failures(&o, None).len(), 2);
    }

    #[test]
    fn origin_round_trips_core_format() {
        let ns = fed_core::render::origin("FederatedDeployment", Some("fedtestns"), "fedhttp");
        assert_eq!(
            parse_origin(&ns),
            Some(Origin {
                kind: "FederatedDeployment".into(),
                namespace: Some("fedtestns".into()),
                name: "fedhttp".into()
            })
        );
        let cluster = fed_core::render::origin("FederatedClusterRole", None, "reader");
        assert_eq!(
            parse_origin(&cluster),
            Some(Origin { kind: "FederatedClusterRole".into(), namespace: None, name: "reader".into() })
        );
        for bad in ["", "x", "a//b", "/a/b", "a/b/", "a/b/c/d"] {
            assert_eq!(parse_origin(bad), None, "{bad}");
        }
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let cap = Duration::from_secs(60);
        assert_eq!(backoff(0, cap), Duration::from_secs(1));
        assert_eq!(backoff(1, cap), Duration::from_secs(1));
        assert_eq!(backoff(2, cap), Duration::from_secs(2));
        assert_eq!(backoff(4, cap), Duration::from_secs(8));
        assert_eq!(backoff(10, cap), cap);
        assert_eq!(backoff(u32::MAX, cap), cap);
    }
}
