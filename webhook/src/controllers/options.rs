//! Settings of the controllers.

use std::time::Duration;

/// Settings of the controllers.
#[derive(Clone, Debug)]
pub struct ControllerOptions {
    /// Namespace holding KubeFedClusters, FederatedTypeConfigs, member secrets and the Lease.
    pub federation_namespace: String,
    /// Member clusters written concurrently for one federated object.
    pub member_concurrency: usize,
    /// Federated objects reconciled concurrently per type (0 = unbounded).
    pub reconcile_concurrency: u16,
    /// Timeout of one request to a member cluster.
    pub member_timeout: Duration,
    /// A member request unanswered this long, while the member answered nothing else, marks
    /// the member stalled (see `stalls.rs`).
    pub stall_after: Duration,
    /// Period of the `/readyz` probes.
    pub probe_period: Duration,
    /// Timeout of one `/readyz` probe.
    pub probe_timeout: Duration,
    /// Consecutive failed probes before a cluster is Offline.
    pub failure_threshold: u32,
    /// Periodic re-sync of every federated object even without changes.
    pub resync_period: Duration,
    /// Longest retry delay after failures.
    pub max_backoff: Duration,
}

impl Default for ControllerOptions {
    fn default() -> Self {
        ControllerOptions {
            federation_namespace: fed_core::keys::FEDERATION_NAMESPACE.to_string(),
            member_concurrency: 8,
            reconcile_concurrency: 64,
            member_timeout: Duration::from_secs(10),
            stall_after: Duration::from_secs(2),
            probe_period: Duration::from_secs(10),
            probe_timeout: Duration::from_secs(3),
            failure_threshold: 3,
            resync_period: Duration::from_secs(300),
            max_backoff: Duration::from_secs(60),
        }
    }
}
