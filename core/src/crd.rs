//! CustomResourceDefinitions generated from the Rust types.
//!
//! The fixed CRDs (KubeFedCluster, FederatedTypeConfig, ReplicaSchedulingPreference) come straight from the derives; a
//! `Federated<Kind>` CRD is generated for any target type by renaming the template CRD
//! of [`crate::api::FederatedSpec`]. `fed-crdgen` prints them and `manifests/crds/` holds the
//! result; a test fails when the two drift apart.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceColumnDefinition, CustomResourceDefinition,
};
use kube::CustomResourceExt;

use crate::api::{
    ApiResourceRef, FederatedObject, FederatedTypeConfig, KubeFedCluster, ReplicaSchedulingPreference, Scope,
};

/// The CRDs every installation needs regardless of enabled types.
pub fn fixed_crds() -> Vec<CustomResourceDefinition> {
    vec![KubeFedCluster::crd(), FederatedTypeConfig::crd(), ReplicaSchedulingPreference::crd()]
}

/// The `Federated<Kind>` CRD for `target`.
pub fn federated_crd(target: &ApiResourceRef) -> CustomResourceDefinition {
    let fed = target.federated();
    let mut crd = FederatedObject::crd();
    crd.metadata.name = Some(format!("{}.{}", fed.plural_name, fed.group));
    let names = &mut crd.spec.names;
    names.kind = fed.kind.clone();
    names.list_kind = Some(format!("{}List", fed.kind));
    names.plural = fed.plural_name.clone();
    names.singular = Some(fed.kind.to_lowercase());
    names.short_names = None;
    names.categories = Some(vec!["federated".to_string()]);
    crd.spec.scope = match fed.scope {
        Scope::Namespaced => "Namespaced".to_string(),
        Scope::Cluster => "Cluster".to_string(),
    };
    for version in &mut crd.spec.versions {
        version.additional_printer_columns = Some(vec![
            column("Propagation", "string", ".status.conditions[?(@.type=='Propagation')].status"),
            column("Age", "date", ".metadata.creationTimestamp"),
        ]);
    }
    crd
}

fn column(name: &str, type_: &str, json_path: &str) -> CustomResourceColumnDefinition {
    CustomResourceColumnDefinition {
        name: name.to_string(),
        type_: type_.to_string(),
        json_path: json_path.to_string(),
        ..Default::default()
    }
}

/// Target types whose `Federated<Kind>` CRDs ship in `manifests/crds/` (the KubeFed
/// walk-through's types); any other type gets its CRD from `kubectl fed enable`.
pub fn well_known_targets() -> Vec<ApiResourceRef> {
    let target = ApiResourceRef::v1;
    vec![
        target("", "Namespace", "namespaces", Scope::Cluster),
        target("apps", "Deployment", "deployments", Scope::Namespaced),
        target("", "Service", "services", Scope::Namespaced),
        target("", "ConfigMap", "configmaps", Scope::Namespaced),
    ]
}

/// Every CRD that `manifests/crds/` holds, in a stable order.
pub fn shipped_crds() -> Vec<CustomResourceDefinition> {
    let mut crds = fixed_crds();
    crds.extend(well_known_targets().iter().map(federated_crd));
    crds
}

/// File name under `manifests/crds/` for a CRD.
pub fn file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}.yaml", crd.metadata.name.as_deref().unwrap_or("unnamed"))
}

/// A CRD as YAML, as written to `manifests/crds/`.
pub fn to_yaml(crd: &CustomResourceDefinition) -> String {
    serde_yaml::to_string(crd).expect("a CRD always serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn federated_crd_is_named_after_the_target() {
        let deploy = &well_known_targets()[1];
        let crd = federated_crd(deploy);
        assert_eq!(crd.metadata.name.as_deref(), Some("federateddeployments.types.kubefed.io"));
        assert_eq!(crd.spec.names.kind, "FederatedDeployment");
        assert_eq!(crd.spec.names.list_kind.as_deref(), Some("FederatedDeploymentList"));
        assert_eq!(crd.spec.scope, "Namespaced");
        assert_eq!(crd.spec.group, "types.kubefed.io");
    }

    #[test]
    fn federated_namespace_is_namespaced() {
        let ns = &well_known_targets()[0];
        assert_eq!(federated_crd(ns).spec.scope, "Namespaced");
        let cluster_role = ApiResourceRef {
            group: "rbac.authorization.k8s.io".into(),
            version: "v1".into(),
            kind: "ClusterRole".into(),
            plural_name: "clusterroles".into(),
            scope: Scope::Cluster,
        };
        assert_eq!(federated_crd(&cluster_role).spec.scope, "Cluster");
    }

    #[test]
    fn template_and_override_values_keep_unknown_fields() {
        let yaml = to_yaml(&federated_crd(&well_known_targets()[1]));
        assert!(yaml.matches("x-kubernetes-preserve-unknown-fields: true").count() >= 2, "{yaml}");
    }

    /// `manifests/crds/` must be exactly what the code generates (`make manifests` rewrites it).
    #[test]
    fn shipped_crd_yaml_has_not_drifted() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/crds");
        let mut expected: Vec<String> = shipped_crds().iter().map(file_name).collect();
        expected.sort();
        let mut present: Vec<String> = std::fs::read_dir(&dir)
            .expect("manifests/crds exists")
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".yaml"))
            .collect();
        present.sort();
        assert_eq!(present, expected, "manifests/crds holds other files than the code generates; run `make manifests`");
        for crd in shipped_crds() {
            let on_disk = std::fs::read_to_string(dir.join(file_name(&crd))).unwrap();
            assert_eq!(on_disk, to_yaml(&crd), "{} drifted; run `make manifests`", file_name(&crd));
        }
    }
}
