//! The division written onto a federated object: per-cluster `/spec/replicas` overrides (as
//! KubeFed's replica scheduler writes them), read back as the current layout, and the one
//! decision the replicas controller asks for ([`schedule`]).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::api::{
    ClusterOverrides, ClusterPreferencesMap, Federated, OverrideOp, Placement, ReplicaSchedulingPreferenceSpec,
    WILDCARD_CLUSTER,
};
use crate::placement::{self, JoinedCluster};

use super::divide::divide;

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
    /// True: the preferred layout, moving running replicas; false: keep them where they are
    /// as far as the preferences allow.
    pub rebalance: bool,
}

/// The federated object's spec as the division wants it.
#[derive(Clone, Debug, PartialEq)]
pub struct Scheduled {
    /// The new placement (an RSP without `intersectWithClusterSelector`), or `None` to keep it.
    pub placement: Option<Placement>,
    /// The overrides with the division in them.
    pub overrides: Vec<ClusterOverrides>,
    /// Replicas per cluster (Ready ones by the division; the others as they were).
    pub replicas: BTreeMap<String, i64>,
    /// Replicas of the total no Ready cluster can take.
    pub unassigned: i64,
}

impl Scheduled {
    /// True when `fed` already has this spec: nothing to write.
    pub fn is_current(&self, fed: &Federated) -> bool {
        self.overrides == fed.spec.overrides
            && self.placement.as_ref().is_none_or(|p| placement_names(p) == placement_names(&fed.spec.placement))
    }
}

fn placement_names(p: &Placement) -> Option<BTreeSet<&str>> {
    p.clusters.as_ref().map(|c| c.iter().map(|r| r.name.as_str()).collect())
}

/// Divides `prefs` over `candidates` (the clusters the workload may run on) and writes the
/// result into `overrides`.
///
/// Only the candidates that are not Offline get replicas; an Offline candidate keeps its
/// place and its previous override (nothing can be written there, and a copy that comes
/// back is not scaled down before the division gives it its share again), or 0 when it had
/// none. With `rebalance` false, the previous division of the Ready candidates is kept as
/// far as the preferences allow (see [`divide`]); a previous count of 0 counts as none, so a
/// cluster that held nothing gets its preferred share.
pub fn schedule(
    prefs: &Preferences,
    candidates: &BTreeSet<String>,
    offline: &BTreeSet<String>,
    overrides: &[ClusterOverrides],
) -> (BTreeMap<String, i64>, i64) {
    let previous = division(overrides);
    let ready: BTreeSet<&String> = candidates.iter().filter(|c| !offline.contains(*c)).collect();
    let current: BTreeMap<String, i64> =
        previous.iter().filter(|(c, n)| ready.contains(c) && **n > 0).map(|(c, n)| (c.clone(), *n)).collect();
    let plan = divide(prefs.total, prefs.clusters, &ready, (!prefs.rebalance).then_some(&current));
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
pub fn for_rsp(spec: &ReplicaSchedulingPreferenceSpec, fed: &Federated, joined: &[JoinedCluster]) -> Option<Scheduled> {
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
    let prefs =
        Preferences { total: i64::from(spec.total_replicas), clusters: &spec.clusters, rebalance: spec.rebalance };
    let placement = Some(Placement::clusters(candidates.iter().cloned()));
    Some(scheduled(&prefs, &candidates, joined, fed, placement))
}

/// The spec an annotated source's `kubefed.io/replica-scheduling` asks of its federated object
/// `fed`: the division of `total` over `fed`'s placed clusters except the host (whose copy is
/// the source itself, pinned to 0); the placement stays.
pub fn for_source(total: i64, prefs: &ClusterPreferencesMap, fed: &Federated, joined: &[JoinedCluster]) -> Scheduled {
    let host: BTreeSet<&str> = joined.iter().filter(|c| c.is_host).map(|c| c.name.as_str()).collect();
    let mut candidates = placement::resolve(&fed.spec.placement, joined);
    candidates.retain(|c| !host.contains(c.as_str()));
    let prefs = Preferences { total, clusters: prefs, rebalance: false };
    scheduled(&prefs, &candidates, joined, fed, None)
}

fn scheduled(
    prefs: &Preferences,
    candidates: &BTreeSet<String>,
    joined: &[JoinedCluster],
    fed: &Federated,
    placement: Option<Placement>,
) -> Scheduled {
    let offline: BTreeSet<String> = joined.iter().filter(|c| c.offline).map(|c| c.name.clone()).collect();
    let (replicas, unassigned) = schedule(prefs, candidates, &offline, &fed.spec.overrides);
    let overrides = with_division(&fed.spec.overrides, &replicas);
    Scheduled { placement, overrides, replicas, unassigned }
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
            clusters: parse_annotation(r#"{"vulcan":{"weight":1},"kronos":{"weight":2}}"#).unwrap(),
            ..Default::default()
        };
        let f = fed(json!({"placement": {"clusters": [{"name": "earth"}, {"name": "vulcan"}]}}));
        let s = for_rsp(&rsp, &f, &bed(false)).unwrap();
        assert_eq!(s.replicas, counts(&[("kronos", 6), ("vulcan", 3)]));
        assert_eq!(s.placement, Some(Placement::clusters(["kronos", "vulcan"])), "earth is not placed");
        assert!(!s.is_current(&f));
        let mut written = f.clone();
        written.spec.overrides = s.overrides.clone();
        written.spec.placement = s.placement.clone().unwrap();
        assert!(for_rsp(&rsp, &written, &bed(false)).unwrap().is_current(&written), "a second pass writes nothing");
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
            .unwrap(),
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
            let s = for_rsp(&rsp, &f, &joined);
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
        let healthy = for_source(9, &prefs, &f, &bed(false));
        assert_eq!(healthy.replicas, counts(&[("kronos", 5), ("vulcan", 4)]), "the host is the source: left out");
        let mut f = f;
        f.spec.overrides = healthy.overrides.clone();
        let failed = for_source(9, &prefs, &f, &bed(true));
        assert_eq!(failed.replicas, counts(&[("kronos", 8), ("vulcan", 4)]), "kronos up to its max; vulcan untouched");
        assert_eq!(failed.unassigned, 1);
        f.spec.overrides = failed.overrides.clone();
        let back = for_source(9, &prefs, &f, &bed(false));
        assert_eq!(back.replicas, healthy.replicas, "the layout returns");
        assert_eq!(back.overrides, healthy.overrides);
    }

    #[test]
    fn a_new_offline_candidate_gets_zero_and_a_held_zero_counts_as_none() {
        let even = ClusterPreferencesMap::new();
        let prefs = Preferences { total: 4, clusters: &even, rebalance: false };
        let zero = ops(json!([{"clusterName": "a", "clusterOverrides": [{"path": "/spec/replicas", "value": 0}]}]));
        let (replicas, _) = schedule(&prefs, &set(&["a", "b", "c"]), &set(&["c"]), &zero);
        assert_eq!(replicas, counts(&[("a", 2), ("b", 2), ("c", 0)]));
    }

    #[test]
    fn the_total_is_the_templates_replicas() {
        assert_eq!(template_replicas(&fed(json!({"template": {"spec": {"replicas": 9}}}))), 9);
        assert_eq!(template_replicas(&fed(json!({"template": {"spec": {}}}))), 1);
    }
}
