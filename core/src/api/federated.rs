use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::meta::Condition;

/// Spec shared by every `Federated<Kind>` (`types.kubefed.io/v1beta1`).
///
/// The derive produces a template CRD (`FederatedObject`) that [`crate::crd::federated_crd`]
/// renames for each enabled type; at run time objects are handled as [`Federated`].
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "types.kubefed.io",
    version = "v1beta1",
    kind = "FederatedObject",
    namespaced,
    status = "FederatedStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct FederatedSpec {
    /// The object to create on each member cluster (its `metadata` may carry labels and
    /// annotations; name and namespace come from the federated object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_object")]
    pub template: Option<Value>,
    /// Which member clusters get the object.
    #[serde(default)]
    pub placement: Placement,
    /// Per-cluster changes to the template.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<ClusterOverrides>,
}

/// Which clusters an object is placed on: explicit `clusters` win over `clusterSelector`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Placement {
    /// Explicit list of member cluster names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clusters: Option<Vec<ClusterRef>>,
    /// Selector over KubeFedCluster labels; `{}` selects every cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_selector: Option<ClusterSelector>,
}

/// A member cluster named in a placement.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct ClusterRef {
    /// Name of the KubeFedCluster.
    pub name: String,
}

/// Label selector over KubeFedCluster labels (the `metav1.LabelSelector` shape).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSelector {
    /// Labels that must all be present with these values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Set-based requirements that must all hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<SelectorRequirement>,
}

/// One set-based selector requirement.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct SelectorRequirement {
    /// Label key.
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: String,
    /// Values for `In` / `NotIn`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// The overrides for one member cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterOverrides {
    /// Member cluster the overrides apply to.
    pub cluster_name: String,
    /// Operations applied in order to the rendered object.
    #[serde(default)]
    pub cluster_overrides: Vec<OverrideOp>,
}

/// One JSON-pointer override operation.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct OverrideOp {
    /// `add`, `remove` or `replace` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<String>,
    /// JSON pointer into the member object, e.g. `/spec/replicas`.
    pub path: String,
    /// Value for `add` / `replace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_value")]
    pub value: Option<Value>,
}

/// Observed propagation state of a federated object.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FederatedStatus {
    /// Generation the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The `Propagation` condition.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// One entry per placed cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<ClusterStatus>,
}

/// Propagation state on one member cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct ClusterStatus {
    /// Member cluster name.
    pub name: String,
    /// KubeFed status word: empty when propagated, else e.g. `ClusterNotReady`, `CreationFailed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Detail for a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Replicas the division assigns to this cluster (its `/spec/replicas` override), when the
    /// object's replicas are divided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i64>,
    /// Pods of the divided workload that are Unschedulable on this cluster now, when there are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unschedulable: Option<i64>,
    /// The member copy's workload numbers (Deployment, ReplicaSet, StatefulSet, DaemonSet,
    /// Job), as the member's watch last saw them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadStatus>,
}

/// Condition type on federated objects.
pub const CONDITION_PROPAGATION: &str = "Propagation";

/// A `Federated<Kind>` object of any enabled type (use with a dynamic `ApiResource`).
pub type Federated = kube::core::Object<FederatedSpec, FederatedStatus>;

fn any_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true })
}

fn any_value(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "x-kubernetes-preserve-unknown-fields": true })
}

impl Placement {
    /// Placement on exactly these clusters.
    pub fn clusters<I: IntoIterator<Item = S>, S: Into<String>>(names: I) -> Self {
        Placement {
            clusters: Some(names.into_iter().map(|n| ClusterRef { name: n.into() }).collect()),
            cluster_selector: None,
        }
    }
}

/// The numbers of one member copy of a workload (`crate::workload::of` reads them).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadStatus {
    /// Pods wanted (spec.replicas; a DaemonSet's desiredNumberScheduled; a Job's completions).
    pub desired: i64,
    /// Pods ready.
    pub ready: i64,
    /// Pods available (a Job's succeeded).
    pub available: i64,
    /// Pods of the current template (a ReplicaSet's replicas; a Job's succeeded).
    pub updated: i64,
    /// The controller has seen the current spec and the rollout has finished: every pod is
    /// of the current template and available, none of an older one is left (a Job: complete).
    pub rolled_out: bool,
}
