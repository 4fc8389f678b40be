//! KubeFed's `scheduling.kubefed.io/v1alpha1` ReplicaSchedulingPreference, accepted unchanged.
//!
//! An RSP is namespaced and has the same name as the FederatedDeployment or FederatedReplicaSet
//! whose replicas it divides. The division itself is [`crate::replicas::divide`].

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// API group of ReplicaSchedulingPreference.
pub const SCHEDULING_GROUP: &str = "scheduling.kubefed.io";
/// API version of ReplicaSchedulingPreference.
pub const SCHEDULING_VERSION: &str = "v1alpha1";
/// `spec.targetKind` for a FederatedDeployment target.
pub const TARGET_FEDERATED_DEPLOYMENT: &str = "FederatedDeployment";
/// `spec.targetKind` for a FederatedReplicaSet target.
pub const TARGET_FEDERATED_REPLICA_SET: &str = "FederatedReplicaSet";
/// The `spec.targetKind` values KubeFed accepts.
pub const TARGET_KINDS: [&str; 2] = [TARGET_FEDERATED_DEPLOYMENT, TARGET_FEDERATED_REPLICA_SET];
/// Key of `spec.clusters` that applies to every cluster without an entry of its own.
pub const WILDCARD_CLUSTER: &str = "*";

/// Per-cluster preferences: cluster name (or [`WILDCARD_CLUSTER`]) to [`ClusterPreferences`].
///
/// An explicit entry replaces `"*"` for its cluster entirely (fields are not merged), as in
/// KubeFed. An empty map means "no preferences": an even split over the clusters.
pub type ClusterPreferencesMap = BTreeMap<String, ClusterPreferences>;

/// Divides a workload's replicas across member clusters (`scheduling.kubefed.io/v1alpha1`).
///
/// Named like its target; `spec.totalReplicas` replaces the target's own `spec.replicas`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[kube(
    group = "scheduling.kubefed.io",
    version = "v1alpha1",
    kind = "ReplicaSchedulingPreference",
    namespaced,
    shortname = "rsp",
    printcolumn = r#"{"name":"Target","type":"string","jsonPath":".spec.targetKind"}"#,
    printcolumn = r#"{"name":"Total","type":"integer","jsonPath":".spec.totalReplicas"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaSchedulingPreferenceSpec {
    /// Kind of the target federated object: `FederatedDeployment` or `FederatedReplicaSet`.
    #[schemars(schema_with = "target_kind_schema")]
    pub target_kind: String,
    /// Replicas to divide across the clusters.
    pub total_replicas: i32,
    /// When true, running replicas may move to match the preferences; when false they stay
    /// where they are as far as the preferences allow.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rebalance: bool,
    /// When true, the divided clusters are first intersected with the clusters the target's
    /// cluster selector alone selects (as KubeFed: its `clusters` list is ignored); either way
    /// the divided clusters become the target's placement.
    #[serde(default)]
    pub intersect_with_cluster_selector: bool,
    /// Cluster name or `"*"` to preferences. Clusters without an entry (and no `"*"`) get no
    /// replicas; no entries at all means an even split.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub clusters: ClusterPreferencesMap,
}

/// Replica preferences for one cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterPreferences {
    /// Replicas this cluster gets before any are divided by weight. 0 by default.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub min_replicas: i64,
    /// Most replicas this cluster gets; unbounded when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replicas: Option<i64>,
    /// Share of the replicas left after the minimums. 0 (the default) means only the minimum.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub weight: i64,
}

impl ClusterPreferences {
    /// Preferences with only a weight.
    pub fn weight(weight: i64) -> Self {
        ClusterPreferences { weight, ..Default::default() }
    }
}

impl ReplicaSchedulingPreferenceSpec {
    /// True when `target_kind` is one KubeFed accepts.
    pub fn target_kind_is_known(&self) -> bool {
        TARGET_KINDS.contains(&self.target_kind.as_str())
    }
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn target_kind_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "Kind of the target federated object: `FederatedDeployment` or `FederatedReplicaSet`.",
        "type": "string",
        "enum": TARGET_KINDS,
    })
}

#[cfg(test)]
mod tests {
    use kube::CustomResourceExt;

    use super::*;

    #[test]
    fn reads_kubefeds_yaml() {
        let yaml = r#"
apiVersion: scheduling.kubefed.io/v1alpha1
kind: ReplicaSchedulingPreference
metadata: {name: test-deployment, namespace: test-ns}
spec:
  targetKind: FederatedDeployment
  totalReplicas: 9
  clusters:
    A: {minReplicas: 4, maxReplicas: 6, weight: 1}
    "*": {weight: 2}
"#;
        let rsp: ReplicaSchedulingPreference = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(rsp.spec.total_replicas, 9);
        assert!(!rsp.spec.rebalance && !rsp.spec.intersect_with_cluster_selector);
        assert!(rsp.spec.target_kind_is_known());
        let a = ClusterPreferences { min_replicas: 4, max_replicas: Some(6), weight: 1 };
        assert_eq!(rsp.spec.clusters["A"], a);
        assert_eq!(rsp.spec.clusters[WILDCARD_CLUSTER], ClusterPreferences::weight(2));
    }

    #[test]
    fn writes_only_what_is_set() {
        let prefs = ClusterPreferences { max_replicas: Some(20), ..Default::default() };
        assert_eq!(serde_json::to_string(&prefs).unwrap(), r#"{"maxReplicas":20}"#);
        let spec = ReplicaSchedulingPreferenceSpec {
            target_kind: TARGET_FEDERATED_REPLICA_SET.into(),
            total_replicas: 3,
            ..Default::default()
        };
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(
            json,
            r#"{"targetKind":"FederatedReplicaSet","totalReplicas":3,"intersectWithClusterSelector":false}"#
        );
    }

    #[test]
    fn crd_is_namespaced_with_short_name_and_kind_enum() {
        let crd = ReplicaSchedulingPreference::crd();
        assert_eq!(crd.metadata.name.as_deref(), Some("replicaschedulingpreferences.scheduling.kubefed.io"));
        assert_eq!(crd.spec.scope, "Namespaced");
        assert_eq!(crd.spec.names.short_names, Some(vec!["rsp".to_string()]));
        let yaml = serde_yaml::to_string(&crd).unwrap();
        assert!(yaml.contains("- FederatedDeployment\n") && yaml.contains("- FederatedReplicaSet\n"), "{yaml}");
        assert!(!yaml.contains("subresources"), "KubeFed's RSP has no status subresource");
    }
}
