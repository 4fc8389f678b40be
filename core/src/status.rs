//! Sync outcomes → status: the per-cluster outcome of a sync, `status.clusters[]`, the
//! `Propagation` condition, and which failures are new (worth an Event).

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use crate::api::{CONDITION_PROPAGATION, ClusterStatus, Condition, FederatedStatus};

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
            Outcome::Propagated => {
                Some(ClusterStatus { name: name.clone(), status: None, message: None, ..Default::default() })
            }
            Outcome::Removed => None,
            Outcome::Failed { word, message } => Some(ClusterStatus {
                name: name.clone(),
                status: Some((*word).to_string()),
                message: (!message.is_empty()).then(|| message.clone()),
                ..Default::default()
            }),
        })
        .collect()
}

/// `clusters` with the replicas `division` assigns to each (see
/// [`crate::replicas::division`]); `None` for the clusters it does not mention.
pub fn with_replicas(mut clusters: Vec<ClusterStatus>, division: &BTreeMap<String, i64>) -> Vec<ClusterStatus> {
    for c in &mut clusters {
        c.replicas = division.get(&c.name).copied();
    }
    clusters
}

/// `cluster: Word` for every failed cluster, by cluster name: the `Propagation` message, and
/// the error a sync with failures returns.
pub fn failures(outcomes: &BTreeMap<String, Outcome>) -> Vec<String> {
    outcomes
        .iter()
        .filter_map(|(name, o)| match o {
            Outcome::Failed { word, .. } => Some(format!("{name}: {word}")),
            _ => None,
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
    let failed = failures(outcomes);
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

/// What a status says, without its timestamps: two statuses with the same content are the
/// same report even when written at different times.
pub fn status_content(status: &FederatedStatus) -> u64 {
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

/// `t` as a condition timestamp: RFC 3339 with second precision.
pub fn condition_time(t: k8s_openapi::jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcomes(items: &[(&str, Outcome)]) -> BTreeMap<String, Outcome> {
        items.iter().map(|(n, o)| (n.to_string(), o.clone())).collect()
    }

    #[test]
    fn statuses_show_the_assigned_replicas() {
        let outcomes: BTreeMap<String, Outcome> =
            [("kronos".to_string(), Outcome::Propagated), ("vulcan".to_string(), Outcome::Propagated)].into();
        let division: BTreeMap<String, i64> = [("kronos".to_string(), 6)].into();
        let clusters = with_replicas(cluster_statuses(&outcomes), &division);
        assert_eq!((clusters[0].replicas, clusters[1].replicas), (Some(6), None));
    }

    #[test]
    fn condition_times_have_second_precision() {
        let t: k8s_openapi::jiff::Timestamp = "2026-11-29T05:00:00.123456Z".parse().unwrap();
        assert_eq!(condition_time(t), "2026-11-29T05:00:00Z");
    }

    #[test]
    fn the_content_of_a_status_ignores_its_timestamps() {
        let ok = outcomes(&[("vulcan", Outcome::Propagated), ("kronos", Outcome::Propagated)]);
        let first = desired_status(Some(1), &ok, None, "2026-11-29T05:00:00Z");
        // The same report from a stale store (no status yet), built a second later.
        let again = desired_status(Some(1), &ok, None, "2026-11-29T05:00:01Z");
        assert_ne!(first, again);
        assert_eq!(status_content(&first), status_content(&again));
        let failed =
            outcomes(&[("vulcan", Outcome::Propagated), ("kronos", Outcome::failed(CLUSTER_NOT_READY, "down"))]);
        assert_ne!(status_content(&first), status_content(&desired_status(Some(1), &failed, None, "t")));
        assert_ne!(status_content(&first), status_content(&desired_status(Some(2), &ok, None, "t")));
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
                ClusterStatus { name: "earth".into(), status: None, message: None, ..Default::default() },
                ClusterStatus { name: "vulcan".into(), status: None, message: None, ..Default::default() },
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
        assert_eq!(
            s.clusters[0],
            ClusterStatus { name: "earth".into(), status: None, message: None, ..Default::default() }
        );
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
    fn new_failures_only_on_word_change() {
        let prev = FederatedStatus {
            clusters: vec![ClusterStatus {
                name: "vulcan".into(),
                status: Some(CLUSTER_NOT_READY.into()),
                message: None,
                ..Default::default()
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
}
