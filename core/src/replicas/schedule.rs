//! The division written onto a federated object: per-cluster `/spec/replicas` overrides (as
//! KubeFed's replica scheduler writes them), read back as the current layout, and the one
//! decision the replicas controller asks for ([`schedule`]).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use crate::api::{
    ClusterOverrides, ClusterPreferencesMap, Federated, OverrideOp, Placement, ReplicaSchedulingPreferenceSpec,
    WILDCARD_CLUSTER,
};
use crate::placement::{self, JoinedCluster};

use super::annotation::Scheduling;
use super::divide::{divide_within, spill};
use super::handover::handover;
use super::overflow::{self, ClusterRoom, ESTIMATES, Estimated, Seen};

/// The override path the division writes.
pub const REPLICAS_PATH: &str = "/spec/replicas";

/// The division recorded in `overrides`: cluster → the value of its `/spec/replicas` override.
pub fn division(overrides: &[ClusterOverrides]) -> BTreeMap<String, i64> {
    overrides
        .iter()
        .filter_map(|c| {
            let op = c
                .cluster_overrides
                .iter()
                .rev()
                .find(|op| op.path == REPLICAS_PATH && op.op.as_deref() != Some("remove"))?;
            Some((c.cluster_name.clone(), op.value.as_ref()?.as_i64()?))
        })
        .collect()
}

/// `overrides` carrying `replicas` as the division: every cluster of `replicas` has exactly one
/// `/spec/replicas` operation with its count (an existing one is updated where it stands), the
/// other clusters have none; every other operation stays as it is. Entries left empty go;
/// the result is sorted by cluster name.
pub fn with_division(overrides: &[ClusterOverrides], replicas: &BTreeMap<String, i64>) -> Vec<ClusterOverrides> {
    let mut by_cluster: BTreeMap<String, Vec<OverrideOp>> = BTreeMap::new();
    for c in overrides {
        by_cluster.entry(c.cluster_name.clone()).or_default().extend(c.cluster_overrides.iter().cloned());
    }
    for name in replicas.keys() {
        by_cluster.entry(name.clone()).or_default();
    }
    by_cluster
        .into_iter()
        .filter_map(|(name, all)| {
            let count = replicas.get(&name).copied();
            let first = all.iter().position(|op| op.path == REPLICAS_PATH);
            let mut ops = Vec::with_capacity(all.len() + 1);
            for (i, op) in all.into_iter().enumerate() {
                if op.path != REPLICAS_PATH {
                    ops.push(op);
                } else if let Some(n) = count.filter(|_| Some(i) == first) {
                    ops.push(OverrideOp { value: Some(Value::from(n)), ..op });
                }
            }
            if let (Some(n), None) = (count, first) {
                ops.push(OverrideOp { op: None, path: REPLICAS_PATH.to_string(), value: Some(Value::from(n)) });
            }
            (!ops.is_empty()).then_some(ClusterOverrides { cluster_name: name, cluster_overrides: ops })
        })
        .collect()
}

/// What one workload's replicas are divided by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preferences<'a> {
    /// Replicas to divide.
    pub total: i64,
    /// Per-cluster preferences (`spec.clusters`, or the annotation's map).
    pub clusters: &'a ClusterPreferencesMap,
    /// A spill-over order (the annotation's `spillOver`); when not empty it divides, and
    /// `clusters` is not used.
    pub spill_over: &'a [String],
    /// True: the preferred layout, moving running replicas; false: keep them where they are
    /// as far as the preferences allow.
    pub rebalance: bool,
}

impl<'a> Preferences<'a> {
    /// The preferences of an RSP.
    pub fn of_rsp(spec: &'a ReplicaSchedulingPreferenceSpec) -> Self {
        Preferences {
            total: i64::from(spec.total_replicas),
            clusters: &spec.clusters,
            spill_over: &[],
            rebalance: spec.rebalance,
        }
    }

    /// The preferences of `kubefed.io/replica-scheduling` (replicas stay where they are as far
    /// as the preferences allow).
    pub fn of_annotation(total: i64, scheduling: &'a Scheduling) -> Self {
        Preferences { total, clusters: &scheduling.clusters, spill_over: &scheduling.spill_over, rebalance: false }
    }
}

/// What is known of the member clusters beyond their health, for overflow (see
/// [`super::overflow`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// Per cluster: the workload's Unschedulable pods there and the room on its nodes. A
    /// cluster left out has no pods Unschedulable and unknown room.
    pub rooms: BTreeMap<String, Seen>,
    /// How long a pod stays Unschedulable before its cluster counts as full.
    pub after: Duration,
    /// Now.
    pub now: Timestamp,
}

/// The federated object's spec as the division wants it.
#[derive(Clone, Debug, PartialEq)]
pub struct Scheduled {
    /// The new placement (an RSP's clusters), or `None` to keep it.
    pub placement: Option<Placement>,
    /// The overrides with the division in them.
    pub overrides: Vec<ClusterOverrides>,
    /// Replicas per cluster (Ready ones by the division; the others as they were).
    pub replicas: BTreeMap<String, i64>,
    /// Replicas of the total no Ready cluster can take.
    pub unassigned: i64,
    /// The capacity estimates of the full clusters, to record on the object.
    pub estimated: Estimated,
}

impl Scheduled {
    /// True when `fed` already has this spec and these estimates: nothing to write.
    pub fn is_current(&self, fed: &Federated) -> bool {
        self.overrides == fed.spec.overrides
            && self.placement.as_ref().is_none_or(|p| placement_names(p) == placement_names(&fed.spec.placement))
            && self.estimates_value().as_deref()
                == fed.metadata.annotations.as_ref().and_then(|a| a.get(ESTIMATES)).map(String::as_str)
    }

    /// The value of [`ESTIMATES`] to record (`None`: remove it).
    pub fn estimates_value(&self) -> Option<String> {
        overflow::format_estimates(&self.estimated.estimates)
    }
}

fn placement_names(p: &Placement) -> Option<BTreeSet<&str>> {
    p.clusters.as_ref().map(|c| c.iter().map(|r| r.name.as_str()).collect())
}

/// Divides `prefs` over `candidates` (the clusters the workload may run on) within each
/// cluster's `capacity`; returns the replicas per candidate and those no cluster can take.
///
/// Only the candidates that are not Offline get replicas; an Offline candidate keeps its
/// place and its previous override (nothing can be written there, and a copy that comes
/// back is not scaled down before the division gives it its share again), or 0 when it had
/// none. With `rebalance` false, the previous division of the Ready candidates is kept as
/// far as the preferences allow (see [`divide`]); a previous count of 0 counts as none, so a
/// cluster that held nothing gets its preferred share, and so does a cluster in `released`
/// (room came back there: the clusters that took its overflow give it back).
pub fn schedule(
    prefs: &Preferences,
    candidates: &BTreeSet<String>,
    offline: &BTreeSet<String>,
    overrides: &[ClusterOverrides],
    capacity: &BTreeMap<String, i64>,
    released: &BTreeSet<String>,
) -> (BTreeMap<String, i64>, i64) {
    let previous = division(overrides);
    let ready: BTreeSet<&String> = candidates.iter().filter(|c| !offline.contains(*c)).collect();
    let plan = if prefs.spill_over.is_empty() {
        let current: BTreeMap<String, i64> = previous
            .iter()
            .filter(|(c, n)| ready.contains(c) && **n > 0 && !released.contains(*c))
            .map(|(c, n)| (c.clone(), *n))
            .collect();
        divide_within(prefs.total, prefs.clusters, &ready, (!prefs.rebalance).then_some(&current), capacity)
    } else {
        spill(prefs.total, prefs.spill_over, &ready, capacity)
    };
    let mut replicas = plan.replicas;
    for c in candidates.iter().filter(|c| offline.contains(*c)) {
        replicas.insert(c.clone(), previous.get(c).copied().unwrap_or(0));
    }
    (replicas, plan.unassigned)
}

/// The spec an RSP asks of its target `fed`, as KubeFed's replica scheduler writes it: the
/// placement becomes the RSP's clusters (its own entries that are joined; every joined cluster
/// for `"*"` or no entries) and the division over them. With `intersectWithClusterSelector`,
/// those clusters are first intersected with what `fed`'s cluster selector alone selects (its
/// `clusters` list is ignored, and no selector selects nothing); `None` when that leaves no
/// cluster: KubeFed then leaves the object as it is.
pub fn for_rsp(
    spec: &ReplicaSchedulingPreferenceSpec,
    fed: &Federated,
    joined: &[JoinedCluster],
    observed: &Observed,
) -> Option<Scheduled> {
    let all = spec.clusters.is_empty() || spec.clusters.contains_key(WILDCARD_CLUSTER);
    let mut candidates: BTreeSet<String> =
        joined.iter().filter(|c| all || spec.clusters.contains_key(&c.name)).map(|c| c.name.clone()).collect();
    if spec.intersect_with_cluster_selector {
        let selected = placement::resolve_selector(&fed.spec.placement, joined);
        candidates.retain(|c| selected.contains(c));
        if candidates.is_empty() {
            return None;
        }
    }
    let placement = Some(Placement::clusters(candidates.iter().cloned()));
    Some(scheduled(&Preferences::of_rsp(spec), &candidates, joined, fed, placement, observed))
}

/// The spec `kubefed.io/replica-scheduling` asks of `fed`: the division of `total` over its
/// placed clusters; the placement stays. For an annotated source's federated object
/// (`source` true) the host is left out: its copy is the source itself, pinned to 0.
pub fn for_annotation(
    total: i64,
    scheduling: &Scheduling,
    fed: &Federated,
    joined: &[JoinedCluster],
    source: bool,
    observed: &Observed,
) -> Scheduled {
    let host: BTreeSet<&str> = joined.iter().filter(|c| source && c.is_host).map(|c| c.name.as_str()).collect();
    let mut candidates = placement::resolve(&fed.spec.placement, joined);
    candidates.retain(|c| !host.contains(c.as_str()));
    scheduled(&Preferences::of_annotation(total, scheduling), &candidates, joined, fed, None, observed)
}

fn scheduled(
    prefs: &Preferences,
    candidates: &BTreeSet<String>,
    joined: &[JoinedCluster],
    fed: &Federated,
    placement: Option<Placement>,
    observed: &Observed,
) -> Scheduled {
    let offline: BTreeSet<String> = joined.iter().filter(|c| c.offline).map(|c| c.name.clone()).collect();
    let current = division(&fed.spec.overrides);
    let rooms: BTreeMap<String, ClusterRoom> = candidates
        .iter()
        .map(|c| {
            let seen = observed.rooms.get(c).cloned().unwrap_or_default();
            let free = if offline.contains(c) { None } else { seen.free };
            let assigned = current.get(c).copied().unwrap_or(0);
            (c.clone(), ClusterRoom { assigned, unschedulable: seen.unschedulable, free })
        })
        .collect();
    let previous = overflow::parse_estimates(fed.annotations().get(ESTIMATES).map(String::as_str));
    let estimated = overflow::estimate(&previous, &rooms, prefs.total, observed.after, observed.now);
    let capacity = overflow::capacities(&estimated.estimates);
    let (planned, unassigned) =
        schedule(prefs, candidates, &offline, &fed.spec.overrides, &capacity, &estimated.raised);
    let replicas = handover(&planned, &current, &ready_replicas(fed));
    let overrides = with_division(&fed.spec.overrides, &replicas);
    Scheduled { placement, overrides, replicas, unassigned, estimated }
}

/// The ready replicas per cluster, as the sync controller last reported them.
fn ready_replicas(fed: &Federated) -> BTreeMap<String, i64> {
    let clusters = fed.status.as_ref().map(|s| s.clusters.as_slice()).unwrap_or_default();
    clusters.iter().filter_map(|c| Some((c.name.clone(), c.workload.as_ref()?.ready))).collect()
}

/// The division to write with a new `placement` of `fed` before its replicas are divided:
/// every cluster placed keeps what it runs now (its division, or the whole template when the
/// replicas were not divided) and a cluster placed anew starts at 0, so no copy runs the whole
/// total before the replicas controller divides it.
pub fn first_division(fed: &Federated, placement: &Placement, joined: &[JoinedCluster]) -> BTreeMap<String, i64> {
    let now = division(&fed.spec.overrides);
    let before = placement::resolve(&fed.spec.placement, joined);
    let whole = template_replicas(fed);
    placement::resolve(placement, joined)
        .into_iter()
        .map(|c| {
            let n = now.get(&c).copied().unwrap_or(if before.contains(&c) { whole } else { 0 });
            (c, n)
        })
        .collect()
}

/// The total replicas of a federated workload: its template's `spec.replicas` (1 when unset,
/// as for a Deployment).
pub fn template_replicas(fed: &Federated) -> i64 {
    fed.spec.template.as_ref().and_then(|t| t.pointer(REPLICAS_PATH)).and_then(Value::as_i64).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::replicas::parse_annotation;

    fn ops(value: Value) -> Vec<ClusterOverrides> {
        serde_json::from_value(value).unwrap()
    }

    fn counts(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
        pairs.iter().map(|(c, n)| (c.to_string(), *n)).collect()
    }

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn cluster(name: &str, offline: bool, is_host: bool) -> JoinedCluster {
        JoinedCluster { name: name.into(), offline, is_host, ..Default::default() }
    }

    fn bed(vulcan_offline: bool) -> Vec<JoinedCluster> {
        vec![cluster("earth", false, true), cluster("kronos", false, false), cluster("vulcan", vulcan_offline, false)]
    }

    fn fed(spec: Value) -> Federated {
        let ar = kube::core::ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&());
        Federated::new("web", &ar, serde_json::from_value(spec).unwrap())
    }

    #[test]
    fn division_is_read_from_and_written_into_the_overrides() {
        let before = ops(json!([
            {"clusterName": "vulcan", "clusterOverrides": [
                {"path": "/metadata/labels/x", "value": "1"},
                {"op": "replace", "path": "/spec/replicas", "value": 7}]},
            {"clusterName": "earth", "clusterOverrides": [{"path": "/spec/replicas", "value": 2}]},
        ]));
        assert_eq!(division(&before), counts(&[("earth", 2), ("vulcan", 7)]));
        let after = with_division(&before, &counts(&[("kronos", 6), ("vulcan", 3)]));
        assert_eq!(
            serde_json::to_value(&after).unwrap(),
            json!([
                {"clusterName": "kronos", "clusterOverrides": [{"path": "/spec/replicas", "value": 6}]},
                {"clusterName": "vulcan", "clusterOverrides": [
                    {"path": "/metadata/labels/x", "value": "1"},
                    {"op": "replace", "path": "/spec/replicas", "value": 3}]},
            ]),
            "earth's entry held only the division and goes; vulcan's label stays, its count is updated in place"
        );
        assert_eq!(division(&after), counts(&[("kronos", 6), ("vulcan", 3)]));
        assert_eq!(with_division(&after, &division(&after)), after, "idempotent");
    }

    #[test]
    fn kubefeds_rsp_example_replaces_the_placement() {
        let rsp = ReplicaSchedulingPreferenceSpec {
            target_kind: "FederatedDeployment".into(),
            total_replicas: 9,
            clusters: parse_annotation(r#"{"vulcan":{"weight":1},"kronos":{"weight":2}}"#).unwrap().clusters,
            ..Default::default()
        };
        let f = fed(json!({"placement": {"clusters": [{"name": "earth"}, {"name": "vulcan"}]}}));
        let s = for_rsp(&rsp, &f, &bed(false), &Observed::default()).unwrap();
        assert_eq!(s.replicas, counts(&[("kronos", 6), ("vulcan", 3)]));
        assert_eq!(s.placement, Some(Placement::clusters(["kronos", "vulcan"])), "earth is not placed");
        assert!(!s.is_current(&f));
        let mut written = f.clone();
        written.spec.overrides = s.overrides.clone();
        written.spec.placement = s.placement.clone().unwrap();
        assert!(
            for_rsp(&rsp, &written, &bed(false), &Observed::default()).unwrap().is_current(&written),
            "a second pass writes nothing"
        );
    }

    #[test]
    fn intersect_reads_the_selector_alone_as_kubefed_does() {
        let labelled = |name: &str, zone: &str| JoinedCluster {
            labels: [("zone".to_string(), zone.to_string())].into(),
            ..cluster(name, false, false)
        };
        let joined = vec![cluster("earth", false, true), labelled("kronos", "b"), labelled("vulcan", "a")];
        let rsp = ReplicaSchedulingPreferenceSpec {
            target_kind: "FederatedDeployment".into(),
            total_replicas: 5,
            intersect_with_cluster_selector: true,
            clusters: parse_annotation(
                r#"{"vulcan":{"minReplicas":1,"weight":1},"kronos":{"minReplicas":2,"weight":3}}"#,
            )
            .unwrap()
            .clusters,
            ..Default::default()
        };
        let selector = json!({"matchLabels": {"zone": "a"}});
        let cases = [
            ("clusters: [] and a selector", json!({"clusters": [], "clusterSelector": selector}), Some(5)),
            ("clusters naming kronos", json!({"clusters": [{"name": "kronos"}], "clusterSelector": selector}), Some(5)),
            ("the selector alone", json!({"clusterSelector": selector}), Some(5)),
            ("no selector: nothing is selected", json!({"clusters": [{"name": "vulcan"}]}), None),
        ];
        for (what, placement, vulcan) in cases {
            let f = fed(json!({ "placement": placement }));
            let s = for_rsp(&rsp, &f, &joined, &Observed::default());
            assert_eq!(s.as_ref().map(|s| s.replicas.clone()), vulcan.map(|n| counts(&[("vulcan", n)])), "{what}");
            if let Some(s) = s {
                assert_eq!(s.placement, Some(Placement::clusters(["vulcan"])), "{what}: placed where the replicas go");
            }
        }
    }

    #[test]
    fn offline_clusters_keep_their_place_and_count_and_the_layout_returns() {
        let prefs = parse_annotation(
            r#"{"vulcan":{"minReplicas":4,"maxReplicas":6,"weight":1},"kronos":{"minReplicas":4,"maxReplicas":8,"weight":2}}"#,
        )
        .unwrap();
        let f = fed(json!({"placement": {"clusters": [{"name": "earth"}, {"name": "kronos"}, {"name": "vulcan"}]}}));
        let healthy = for_annotation(9, &prefs, &f, &bed(false), true, &Observed::default());
        assert_eq!(healthy.replicas, counts(&[("kronos", 5), ("vulcan", 4)]), "the host is the source: left out");
        let mut f = f;
        f.spec.overrides = healthy.overrides.clone();
        let failed = for_annotation(9, &prefs, &f, &bed(true), true, &Observed::default());
        assert_eq!(failed.replicas, counts(&[("kronos", 8), ("vulcan", 4)]), "kronos up to its max; vulcan untouched");
        assert_eq!(failed.unassigned, 1);
        f.spec.overrides = failed.overrides.clone();
        let back = for_annotation(9, &prefs, &f, &bed(false), true, &Observed::default());
        assert_eq!(back.replicas, healthy.replicas, "the layout returns");
        assert_eq!(back.overrides, healthy.overrides);
    }

    #[test]
    fn a_new_offline_candidate_gets_zero_and_a_held_zero_counts_as_none() {
        let even = ClusterPreferencesMap::new();
        let prefs = Preferences { total: 4, clusters: &even, spill_over: &[], rebalance: false };
        let zero = ops(json!([{"clusterName": "a", "clusterOverrides": [{"path": "/spec/replicas", "value": 0}]}]));
        let (replicas, _) =
            schedule(&prefs, &set(&["a", "b", "c"]), &set(&["c"]), &zero, &BTreeMap::new(), &BTreeSet::new());
        assert_eq!(replicas, counts(&[("a", 2), ("b", 2), ("c", 0)]));
    }

    #[test]
    fn a_first_division_keeps_what_runs_and_starts_new_clusters_at_zero() {
        let f = fed(json!({"template": {"spec": {"replicas": 6}}, "placement": {"clusters": [{"name": "earth"}]}}));
        let placement = Placement::clusters(["earth", "vulcan"]);
        assert_eq!(first_division(&f, &placement, &bed(false)), counts(&[("earth", 6), ("vulcan", 0)]));
        let mut divided = f.clone();
        divided.spec.overrides = with_division(&[], &counts(&[("earth", 4)]));
        assert_eq!(first_division(&divided, &placement, &bed(false)), counts(&[("earth", 4), ("vulcan", 0)]));
        let moved = Placement::clusters(["kronos"]);
        assert_eq!(first_division(&f, &moved, &bed(false)), counts(&[("kronos", 0)]), "earth is no longer placed");
    }

    #[test]
    fn the_total_is_the_templates_replicas() {
        assert_eq!(template_replicas(&fed(json!({"template": {"spec": {"replicas": 9}}}))), 9);
        assert_eq!(template_replicas(&fed(json!({"template": {"spec": {}}}))), 1);
    }
}
