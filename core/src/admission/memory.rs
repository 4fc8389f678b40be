//! A federation held in memory, for the admission unit tests and the fuzz targets (behind the
//! `fixtures` feature outside this crate's tests).

use std::collections::BTreeMap;

use super::view::FederationView;
use crate::api::{ApiResourceRef, Federated, FederatedTypeConfig};
use crate::placement::JoinedCluster;

/// Everything admission reads, as plain lists.
#[derive(Clone, Default)]
pub struct MemoryView {
    /// The joined clusters.
    pub clusters: Vec<JoinedCluster>,
    /// The FederatedTypeConfigs.
    pub configs: Vec<FederatedTypeConfig>,
    /// FederatedNamespaces (each governs the namespace it is in).
    pub namespaces: Vec<Federated>,
    /// Other federated objects, with their `Federated<Kind>` resource.
    pub federated: Vec<(ApiResourceRef, Federated)>,
    /// Followed host namespaces (labelled `kubefed.io/follow=true`) and their annotations.
    pub followed: BTreeMap<String, BTreeMap<String, String>>,
}

impl FederationView for MemoryView {
    fn clusters(&self) -> Vec<JoinedCluster> {
        self.clusters.clone()
    }

    fn type_config(&self, group: &str, kind: &str) -> Option<FederatedTypeConfig> {
        self.configs.iter().find(|c| c.spec.target_type.group == group && c.spec.target_type.kind == kind).cloned()
    }

    fn namespace_placement(&self, namespace: &str) -> Option<Federated> {
        self.namespaces.iter().find(|f| f.metadata.namespace.as_deref() == Some(namespace)).cloned()
    }

    fn federated_object(&self, federated: &ApiResourceRef, namespace: &str, name: &str) -> Option<Federated> {
        self.federated
            .iter()
            .find(|(t, f)| {
                t == federated
                    && f.metadata.namespace.as_deref().unwrap_or_default() == namespace
                    && f.metadata.name.as_deref() == Some(name)
            })
            .map(|(_, f)| f.clone())
    }

    fn followed_namespace(&self, namespace: &str) -> Option<BTreeMap<String, String>> {
        self.followed.get(namespace).cloned()
    }
}
