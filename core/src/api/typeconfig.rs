use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::meta::{TYPES_GROUP, VERSION};

/// Enables federation of one Kubernetes type (`core.kubefed.io/v1beta1`).
///
/// Named `<plural>.<group>` (`deployments.apps`), or `<plural>` for the core group.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "core.kubefed.io",
    version = "v1beta1",
    kind = "FederatedTypeConfig",
    namespaced,
    status = "FederatedTypeConfigStatus",
    shortname = "ftc",
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct FederatedTypeConfigSpec {
    /// The type being federated.
    pub target_type: ApiResourceRef,
    /// The `Federated<Kind>` that carries its template, placement and overrides.
    pub federated_type: ApiResourceRef,
    /// Whether the sync controller propagates objects of this type.
    #[serde(default)]
    pub propagation: Propagation,
}

/// Group/version/kind/plural/scope of an API resource.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiResourceRef {
    /// API group; empty for the core group.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// API version, e.g. `v1`.
    pub version: String,
    /// Kind, e.g. `Deployment`.
    pub kind: String,
    /// Plural resource name, e.g. `deployments`.
    pub plural_name: String,
    /// `Namespaced` or `Cluster`.
    pub scope: Scope,
}

/// Whether a resource lives in a namespace.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum Scope {
    /// Namespaced resource.
    #[default]
    Namespaced,
    /// Cluster-scoped resource.
    Cluster,
}

/// Propagation switch of a type config.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Propagation {
    /// Objects of the type are propagated.
    #[default]
    Enabled,
    /// The type stays configured but nothing is propagated.
    Disabled,
}

/// Observed state of a type config.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FederatedTypeConfigStatus {
    /// Generation last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

impl ApiResourceRef {
    /// A `v1` resource of `group` (empty for the core group).
    pub fn v1(group: &str, kind: &str, plural: &str, scope: Scope) -> Self {
        ApiResourceRef {
            group: group.to_string(),
            version: "v1".to_string(),
            kind: kind.to_string(),
            plural_name: plural.to_string(),
            scope,
        }
    }

    /// `group/version`, or just `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    /// `plural.group`, or just `plural` for the core group (the FederatedTypeConfig name).
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() { self.plural_name.clone() } else { format!("{}.{}", self.plural_name, self.group) }
    }

    /// The `Federated<Kind>` resource that federates this target type.
    ///
    /// A federated type lives in a namespace when its target does, and also for `Namespace`
    /// itself (a FederatedNamespace lives in the namespace it propagates).
    pub fn federated(&self) -> ApiResourceRef {
        let scope =
            if self.scope == Scope::Namespaced || self.is_namespace() { Scope::Namespaced } else { Scope::Cluster };
        ApiResourceRef {
            group: TYPES_GROUP.to_string(),
            version: VERSION.to_string(),
            kind: format!("Federated{}", self.kind),
            plural_name: format!("federated{}", self.plural_name),
            scope,
        }
    }

    /// True for the core `Namespace` type.
    pub fn is_namespace(&self) -> bool {
        self.group.is_empty() && self.kind == "Namespace"
    }

    /// The kube dynamic resource descriptor for API calls.
    pub fn api_resource(&self) -> kube::core::ApiResource {
        kube::core::ApiResource {
            group: self.group.clone(),
            version: self.version.clone(),
            api_version: self.api_version(),
            kind: self.kind.clone(),
            plural: self.plural_name.clone(),
        }
    }
}

impl FederatedTypeConfigSpec {
    /// A config that federates `target` with the standard federated type.
    pub fn for_target(target: ApiResourceRef) -> Self {
        let federated_type = target.federated();
        FederatedTypeConfigSpec { target_type: target, federated_type, propagation: Propagation::Enabled }
    }
}

impl FederatedTypeConfig {
    /// True when objects of this type are propagated.
    pub fn is_enabled(&self) -> bool {
        self.spec.propagation == Propagation::Enabled
    }
}
