//! State shared by every controller of this process.

use std::sync::Arc;

use kube::Client;
use kube::runtime::events::Recorder;

use super::capacity::Capacities;
use super::host_namespaces::HostNamespaces;
use super::member_registry::Members;
use super::options::ControllerOptions;
use super::type_registry::TypeRegistry;
use crate::metrics::ControllerMetrics;

/// State shared by every controller of this process.
pub struct Shared {
    /// Host cluster client.
    pub host: Client,
    /// Options.
    pub opts: Arc<ControllerOptions>,
    /// Member clients and health.
    pub members: Arc<Members>,
    /// Each member's capacity: room on its nodes, its workloads' unschedulable pods.
    pub capacities: Arc<Capacities>,
    /// Events on host objects.
    pub recorder: Recorder,
    /// Running per-type controllers (for cross-type lookups such as namespace placement).
    pub types: TypeRegistry,
    /// Writes and reconciles of the controllers.
    pub metrics: ControllerMetrics,
    /// The host's namespaces, from a watch.
    pub namespaces: HostNamespaces,
}
