//! What every API type shares: the groups, the version and the condition shape.

/// API group of the cluster registry and type configuration.
pub const CORE_GROUP: &str = "core.kubefed.io";
/// API group of every `Federated<Kind>`.
pub const TYPES_GROUP: &str = "types.kubefed.io";
/// The one API version of both groups.
pub const VERSION: &str = "v1beta1";

/// A Kubernetes-style condition (`type`, `status`, reason, message, timestamps).
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Condition type, e.g. `Ready`, `Offline`, `Propagation`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// Machine-readable reason for the last transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the condition was last checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_probe_time: Option<String>,
    /// When the condition was last updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<String>,
    /// When `status` last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}
