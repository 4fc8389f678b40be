//! Shared pieces of the fuzz targets: a fixed federation that admission decides against, and
//! the checks every user-facing message must pass.

use std::sync::OnceLock;

use fed_core::admission::memory::MemoryView;
use fed_core::api::{ApiResourceRef, Federated, FederatedTypeConfig, FederatedTypeConfigSpec, Propagation, Scope};
use fed_core::placement::JoinedCluster;
use serde_json::json;

/// A fixed federation: earth (the host, eu), vulcan (eu), kronos (us, Offline); deployments,
/// configmaps and namespaces enabled, services configured but disabled; FederatedNamespace
/// `shop/shop` placing on earth and vulcan; FederatedDeployment `shop/web` owned by Deployment
/// `web` (uid `u-web`). Built once.
pub fn federation() -> &'static MemoryView {
    static FEDERATION: OnceLock<MemoryView> = OnceLock::new();
    FEDERATION.get_or_init(fixed_federation)
}

fn fixed_federation() -> MemoryView {
    let cluster = |name: &str, region: &str, is_host: bool, offline: bool| JoinedCluster {
        name: name.to_string(),
        labels: [("region".to_string(), region.to_string())].into(),
        offline,
        is_host,
    };
    let config = |target: ApiResourceRef, propagation| {
        let spec = FederatedTypeConfigSpec { propagation, ..FederatedTypeConfigSpec::for_target(target) };
        FederatedTypeConfig::new(&spec.target_type.qualified_plural(), spec)
    };
    let deployments = ApiResourceRef::v1("apps", "Deployment", "deployments", Scope::Namespaced);
    let federated = |kind: &str, name: &str, spec, owner| -> Federated {
        serde_json::from_value(json!({
            "apiVersion": "types.kubefed.io/v1beta1", "kind": kind,
            "metadata": {"name": name, "namespace": "shop", "ownerReferences": owner},
            "spec": spec
        }))
        .expect("a valid federated object")
    };
    let web_owner = json!([{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "u-web"}]);
    MemoryView {
        clusters: vec![
            cluster("earth", "eu", true, false),
            cluster("vulcan", "eu", false, false),
            cluster("kronos", "us", false, true),
        ],
        configs: vec![
            config(deployments.clone(), Propagation::Enabled),
            config(ApiResourceRef::v1("", "ConfigMap", "configmaps", Scope::Namespaced), Propagation::Enabled),
            config(ApiResourceRef::v1("", "Namespace", "namespaces", Scope::Cluster), Propagation::Enabled),
            config(ApiResourceRef::v1("", "Service", "services", Scope::Namespaced), Propagation::Disabled),
        ],
        namespaces: vec![federated(
            "FederatedNamespace",
            "shop",
            json!({"placement": {"clusters": [{"name": "earth"}, {"name": "vulcan"}]}}),
            json!(null),
        )],
        federated: vec![(
            deployments.federated(),
            federated("FederatedDeployment", "web", json!({"placement": {"clusterSelector": {}}}), web_owner),
        )],
        followed: [("shop".to_string(), Default::default())].into(),
    }
}

/// Asserts that a message shown to a user is one non-empty line that starts with `prefix`.
#[track_caller]
pub fn assert_message(message: &str, prefix: &str) {
    assert!(message.starts_with(prefix), "{message:?} does not start with {prefix:?}");
    assert!(message.len() > prefix.len(), "nothing after {prefix:?}");
    assert!(!message.contains(['\n', '\r']), "not one line: {message:?}");
}
