//! Admission decisions: a pure function from an AdmissionRequest and a read-only view of the
//! federation to an AdmissionResponse. The webhook server (transport) is in fed-webhook.
//!
//! The view is backed by reflector caches in the webhook and by plain structs in tests, so
//! no decision ever makes an API call.

use std::collections::BTreeMap;

use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse};

use crate::api::{ApiResourceRef, Federated, FederatedTypeConfig};

/// A joined member cluster as admission sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JoinedCluster {
    /// KubeFedCluster name.
    pub name: String,
    /// KubeFedCluster labels (what selectors match).
    pub labels: BTreeMap<String, String>,
    /// True when the health controller marked it Offline.
    pub offline: bool,
    /// True when this member is the host cluster itself (label `kubefed.io/host=true`).
    pub is_host: bool,
}

/// Read-only view of the federation's state that admission decides against.
pub trait FederationView {
    /// Every joined cluster.
    fn clusters(&self) -> Vec<JoinedCluster>;
    /// The type config whose target type has this API group and kind, if any.
    fn type_config(&self, group: &str, kind: &str) -> Option<FederatedTypeConfig>;
    /// The FederatedNamespace that governs `namespace`, if one exists.
    fn namespace_placement(&self, namespace: &str) -> Option<Federated>;
    /// The federated object of type `federated` with this namespace and name, if one exists.
    fn federated_object(&self, federated: &ApiResourceRef, namespace: &str, name: &str) -> Option<Federated>;
}

/// Which webhook endpoint is deciding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `/mutate`: normalise annotations, label sources, pin host replicas.
    Mutate,
    /// `/validate`: deny what breaks the rules, warn about what is risky.
    Validate,
}

/// Decide one admission request. Never panics; identical under `dryRun`.
pub fn review(
    _view: &dyn FederationView,
    _endpoint: Endpoint,
    request: &AdmissionRequest<DynamicObject>,
) -> AdmissionResponse {
    AdmissionResponse::from(request)
}
