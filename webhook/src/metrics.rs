//! Prometheus metrics of the admission endpoints and the controllers (prometheus-client,
//! OpenMetrics text).
//!
//! - `fed_webhook_requests_total{endpoint, decision}`: decision is `allowed`, `denied` or
//!   `error` (bad input, not ready, internal failure).
//! - `fed_webhook_request_duration_seconds{endpoint}`: time from the request head to the
//!   serialized answer, with sub-millisecond buckets.
//! - `fed_controller_leader`: 1 while this process runs the controllers (holds the Lease).
//! - `fed_controller_writes_total{target}`: write requests the controllers sent, to the host
//!   (federated objects, their status, KubeFedCluster status) or to member clusters (copies,
//!   namespaces). A replica that is not the leader keeps it at 0.
//! - `fed_controller_reconciles_total{controller, type}`,
//!   `fed_controller_reconcile_failures_total{controller, type}` and
//!   `fed_controller_reconcile_duration_seconds{controller, type}`: reconciles of the sync,
//!   materialize and release controllers per type config (`deployments.apps`), as kube-rs's
//!   controller-rs records them.
//!
//! Label sets are enums, so recording allocates nothing.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Admission endpoint label.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum EndpointLabel {
    /// `/mutate`.
    Mutate,
    /// `/validate`.
    Validate,
    /// `/follow`.
    Follow,
}

/// Decision label.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Decision {
    /// `allowed: true`.
    Allowed,
    /// `allowed: false` from the decision logic.
    Denied,
    /// No decision: bad input (HTTP 400), caches not synced, or an internal failure.
    Error,
}

impl EndpointLabel {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointLabel::Mutate => "mutate",
            EndpointLabel::Validate => "validate",
            EndpointLabel::Follow => "follow",
        }
    }
}

impl Decision {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::Denied => "denied",
            Decision::Error => "error",
        }
    }
}

impl EncodeLabelValue for EndpointLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

impl EncodeLabelValue for Decision {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    endpoint: EndpointLabel,
    decision: Decision,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DurationLabels {
    endpoint: EndpointLabel,
}

/// Where a controller write went.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum WriteTarget {
    /// The host cluster's API (federated objects, statuses).
    Host,
    /// A member cluster's API (copies, namespaces).
    Member,
}

impl EncodeLabelValue for WriteTarget {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        let value = match self {
            WriteTarget::Host => "host",
            WriteTarget::Member => "member",
        };
        EncodeLabelValue::encode(&value, encoder)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WriteLabels {
    target: WriteTarget,
}

/// Which controller reconciled.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum ControllerLabel {
    /// `Federated<Kind>` → member clusters.
    Sync,
    /// Annotated source → `Federated<Kind>`.
    Materialize,
    /// Deleted federated objects of a disabled type.
    Release,
    /// FederatedNamespace `kubefed.io/follow` annotation → host namespace label.
    Follow,
    /// Replica division → `/spec/replicas` overrides.
    Replicas,
}

impl EncodeLabelValue for ControllerLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        let value = match self {
            ControllerLabel::Sync => "sync",
            ControllerLabel::Materialize => "materialize",
            ControllerLabel::Release => "release",
            ControllerLabel::Follow => "follow",
            ControllerLabel::Replicas => "replicas",
        };
        EncodeLabelValue::encode(&value, encoder)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileLabels {
    controller: ControllerLabel,
    r#type: String,
}

/// The controllers' metrics; clones share the same series.
#[derive(Clone, Debug)]
pub struct ControllerMetrics {
    leader: Gauge,
    writes: Family<WriteLabels, Counter>,
    reconciles: Family<ReconcileLabels, Counter>,
    failures: Family<ReconcileLabels, Counter>,
    duration: Family<ReconcileLabels, Histogram, Buckets>,
}

impl Default for ControllerMetrics {
    fn default() -> Self {
        ControllerMetrics {
            leader: Gauge::default(),
            writes: Family::default(),
            reconciles: Family::default(),
            failures: Family::default(),
            duration: Family::new_with_constructor(Buckets),
        }
    }
}

/// The reconcile series of one controller of one type, resolved once when it starts.
#[derive(Clone, Debug)]
pub struct ReconcileMetrics {
    reconciles: Counter,
    failures: Counter,
    duration: Histogram,
}

impl ReconcileMetrics {
    /// Counts one reconcile and measures it until the returned guard is dropped.
    pub fn start(&self) -> ReconcileTimer {
        self.reconciles.inc();
        ReconcileTimer { duration: self.duration.clone(), started: std::time::Instant::now() }
    }

    /// Counts one failed reconcile (called from the error policy).
    pub fn failed(&self) {
        self.failures.inc();
    }
}

/// Returned by [`ReconcileMetrics::start`]: observes the reconcile's duration when dropped.
#[must_use = "the duration is observed when the timer is dropped"]
pub struct ReconcileTimer {
    duration: Histogram,
    started: std::time::Instant,
}

impl Drop for ReconcileTimer {
    fn drop(&mut self) {
        self.duration.observe(self.started.elapsed().as_secs_f64());
    }
}

impl ControllerMetrics {
    /// Marks this process as running the controllers until the guard is dropped.
    pub fn leading(&self) -> Leading {
        self.leader.set(1);
        Leading(self.leader.clone())
    }

    /// Records one write request about to be sent.
    pub fn write(&self, target: WriteTarget) {
        self.writes.get_or_create(&WriteLabels { target }).inc();
    }

    /// The reconcile series of `controller` for type config `type_config`.
    pub fn reconciles(&self, controller: ControllerLabel, type_config: &str) -> ReconcileMetrics {
        let labels = ReconcileLabels { controller, r#type: type_config.to_string() };
        ReconcileMetrics {
            reconciles: self.reconciles.get_or_create(&labels).clone(),
            failures: self.failures.get_or_create(&labels).clone(),
            duration: self.duration.get_or_create(&labels).clone(),
        }
    }
}

/// Returned by [`ControllerMetrics::leading`]: `fed_controller_leader` is 1 while it lives.
#[must_use = "leadership is recorded only while the guard lives"]
pub struct Leading(Gauge);

impl Drop for Leading {
    fn drop(&mut self) {
        self.0.set(0);
    }
}

/// Upper bounds (seconds) of the latency buckets: 50 µs … 5 s.
pub const LATENCY_BUCKETS: [f64; 16] =
    [0.00005, 0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Clone)]
struct Buckets;

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(LATENCY_BUCKETS)
    }
}

/// The webhook's metrics and the registry that exposes them.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Family<DurationLabels, Histogram, Buckets>,
    controllers: ControllerMetrics,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Fresh metrics in their own registry.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let duration = Family::new_with_constructor(Buckets);
        registry.register("fed_webhook_requests", "Admission requests by endpoint and decision", requests.clone());
        registry.register(
            "fed_webhook_request_duration_seconds",
            "Time to answer an admission request",
            duration.clone(),
        );
        let controllers = ControllerMetrics::default();
        registry.register(
            "fed_controller_leader",
            "1 while this process holds the Lease and runs the controllers",
            controllers.leader.clone(),
        );
        registry.register(
            "fed_controller_writes",
            "Write requests sent by the controllers, by target API",
            controllers.writes.clone(),
        );
        for (name, help, counters) in [
            ("fed_controller_reconciles", "Reconciles by controller and type config", &controllers.reconciles),
            (
                "fed_controller_reconcile_failures",
                "Failed reconciles by controller and type config",
                &controllers.failures,
            ),
        ] {
            registry.register(name, help, counters.clone());
        }
        registry.register(
            "fed_controller_reconcile_duration_seconds",
            "Time one reconcile took, by controller and type config",
            controllers.duration.clone(),
        );
        Metrics { registry, requests, duration, controllers }
    }

    /// The controllers' share of the metrics (same registry).
    pub fn controllers(&self) -> ControllerMetrics {
        self.controllers.clone()
    }

    /// Record one answered admission request.
    pub fn observe(&self, endpoint: EndpointLabel, decision: Decision, seconds: f64) {
        self.requests.get_or_create(&RequestLabels { endpoint, decision }).inc();
        self.duration.get_or_create(&DurationLabels { endpoint }).observe(seconds);
    }

    /// OpenMetrics text exposition (Prometheus scrapes it).
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(4096);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Content type of [`Metrics::encode`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_histograms_are_exposed() {
        let m = Metrics::new();
        m.observe(EndpointLabel::Validate, Decision::Denied, 0.0003);
        m.observe(EndpointLabel::Validate, Decision::Denied, 0.0004);
        m.observe(EndpointLabel::Mutate, Decision::Allowed, 0.002);
        let text = m.encode();
        assert!(text.contains(r#"fed_webhook_requests_total{endpoint="validate",decision="denied"} 2"#), "{text}");
        assert!(text.contains(r#"fed_webhook_requests_total{endpoint="mutate",decision="allowed"} 1"#), "{text}");
        assert!(
            text.contains(r#"fed_webhook_request_duration_seconds_bucket{le="0.0005",endpoint="validate"} 2"#),
            "{text}"
        );
        assert!(text.contains(r#"fed_webhook_request_duration_seconds_count{endpoint="mutate"} 1"#), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn controller_leadership_and_writes_are_exposed() {
        let m = Metrics::new();
        let text = m.encode();
        assert!(text.contains("fed_controller_leader 0\n"), "{text}");
        assert!(!text.contains("fed_controller_writes_total{"), "no series before the first write: {text}");
        let c = m.controllers();
        let leading = c.leading();
        c.write(WriteTarget::Member);
        c.write(WriteTarget::Member);
        c.write(WriteTarget::Host);
        let text = m.encode();
        assert!(text.contains("fed_controller_leader 1\n"), "{text}");
        assert!(text.contains(r#"fed_controller_writes_total{target="member"} 2"#), "{text}");
        assert!(text.contains(r#"fed_controller_writes_total{target="host"} 1"#), "{text}");
        drop(leading);
        assert!(m.encode().contains("fed_controller_leader 0\n"));
    }

    #[test]
    fn reconciles_are_counted_and_timed_per_controller_and_type() {
        let m = Metrics::new();
        let sync = m.controllers().reconciles(ControllerLabel::Sync, "deployments.apps");
        drop(sync.start());
        drop(sync.start());
        sync.failed();
        let mat = m.controllers().reconciles(ControllerLabel::Materialize, "configmaps");
        drop(mat.start());
        let text = m.encode();
        let sync_labels = r#"{controller="sync",type="deployments.apps"}"#;
        assert!(text.contains(&format!("fed_controller_reconciles_total{sync_labels} 2")), "{text}");
        assert!(text.contains(&format!("fed_controller_reconcile_failures_total{sync_labels} 1")), "{text}");
        assert!(text.contains(&format!("fed_controller_reconcile_duration_seconds_count{sync_labels} 2")), "{text}");
        assert!(
            text.contains(r#"fed_controller_reconciles_total{controller="materialize",type="configmaps"} 1"#),
            "{text}"
        );
    }
}
