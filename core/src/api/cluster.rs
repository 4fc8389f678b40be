use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::meta::Condition;
use crate::capacity::ResourceSummary;

/// A member cluster joined to the federation (`core.kubefed.io/v1beta1`).
///
/// Its labels are what cluster selectors match.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "core.kubefed.io",
    version = "v1beta1",
    kind = "KubeFedCluster",
    namespaced,
    status = "KubeFedClusterStatus",
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type=='Ready')].status"}"#,
    printcolumn = r#"{"name":"Endpoint","type":"string","jsonPath":".spec.apiEndpoint","priority":1}"#
)]
#[serde(rename_all = "camelCase")]
pub struct KubeFedClusterSpec {
    /// `https://host:port` of the member's kube-apiserver.
    pub api_endpoint: String,
    /// Base64 PEM of the CA that signs the member's serving certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<String>,
    /// Secret in the federation namespace holding the member's `token`.
    pub secret_ref: LocalSecretReference,
    /// TLS validations to skip; only `*` (skip all) is recognised.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disabled_tls_validations: Vec<String>,
}

/// Reference to a Secret in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct LocalSecretReference {
    /// Name of the Secret.
    pub name: String,
}

/// Observed health of a member cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KubeFedClusterStatus {
    /// `Ready` and `Offline` conditions written by the cluster health controller.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// The member's schedulable nodes in all: what they offer pods and what the pods bound to
    /// them request, from the controllers' node and pod watches on the member (written by the
    /// cluster health controller when it changes, at most once per probe period).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_summary: Option<ResourceSummary>,
}

/// Condition type: the member answered its last probe.
pub const CONDITION_READY: &str = "Ready";
/// Condition type: the member failed enough consecutive probes to be considered gone.
pub const CONDITION_OFFLINE: &str = "Offline";

impl KubeFedCluster {
    /// True when a `Ready` condition is `True`.
    pub fn is_ready(&self) -> bool {
        self.condition_true(CONDITION_READY)
    }

    /// True when an `Offline` condition is `True`.
    pub fn is_offline(&self) -> bool {
        self.condition_true(CONDITION_OFFLINE)
    }

    fn condition_true(&self, type_: &str) -> bool {
        self.status.as_ref().is_some_and(|s| s.conditions.iter().any(|c| c.type_ == type_ && c.status == "True"))
    }
}
