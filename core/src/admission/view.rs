//! What admission decides against: a read-only view of the federation, backed by reflector
//! caches in the webhook and by plain structs in tests ([`super::memory`]).

use std::collections::BTreeMap;

use crate::api::{ApiResourceRef, Federated, FederatedTypeConfig};
use crate::placement::JoinedCluster;

/// Read-only view of the federation's state that admission decides against.
pub trait FederationView {
    /// Every joined cluster.
    fn clusters(&self) -> Vec<JoinedCluster>;
    /// The type config whose target type has this API group and kind, if any.
    fn type_config(&self, group: &str, kind: &str) -> Option<FederatedTypeConfig>;
    /// The FederatedNamespace that governs `namespace`, if one exists.
    fn namespace_placement(&self, namespace: &str) -> Option<Federated>;
    /// The federated object of type `federated` with this namespace and name, if one exists.
    /// Only its metadata (identity and owner references) is needed; a view may leave the rest
    /// out.
    fn federated_object(&self, federated: &ApiResourceRef, namespace: &str, name: &str) -> Option<Federated>;
    /// The annotations of host namespace `namespace` when it follows (labelled
    /// `kubefed.io/follow=true`), else `None`. Read by the follow webhook ([`follow`]).
    fn followed_namespace(&self, namespace: &str) -> Option<BTreeMap<String, String>>;
}
