//! Cluster health: probes every member's `/readyz` and records `Ready`/`Offline` conditions in
//! the KubeFedCluster status (status subresource).
//!
//! What a probe result means is decided in [`fed_core::health`]: one success → Ready=True,
//! Offline=False; `failure_threshold` consecutive failures → Ready=False, Offline=True. The
//! conditions are written only when one changes, plus a `lastProbeTime` refresh at most once
//! per [`REFRESH`].
//!
//! The same status patch carries `resourceSummary`, the member's nodes in all as
//! [`Capacities::summary`] knows them, when it differs from what this process last wrote (so
//! at most once per probe period). Until the member's watches have listed, and after it loses
//! its client, the summary last written stays.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fed_core::api::{Condition, KubeFedCluster};
use fed_core::capacity::ResourceSummary;
use fed_core::health::{Health, conditions_changed, conditions_for, from_conditions, next_health};
use futures::future::join_all;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{EventType, Recorder};
use kube::{Api, Client};
use tracing::{debug, info, warn};

use super::capacity::Capacities;
use super::events;
use super::member_registry::{Member, Members};
use super::options::ControllerOptions;
use crate::metrics::{ControllerMetrics, WriteTarget};

/// Longest time between two status writes for an unchanged cluster.
pub const REFRESH: Duration = Duration::from_secs(60);

#[derive(Default)]
struct ProbeState {
    failures: u32,
    /// When the conditions were last written.
    last_write: Option<Instant>,
    /// The resource summary last written.
    summary: Option<ResourceSummary>,
}

/// Probes every member every `opts.probe_period` until cancelled.
pub async fn run(
    members: Arc<Members>,
    capacities: Arc<Capacities>,
    host: Client,
    opts: Arc<ControllerOptions>,
    recorder: Recorder,
    metrics: ControllerMetrics,
) {
    members.wait_ready().await;
    let api: Api<KubeFedCluster> = Api::namespaced(host, &opts.federation_namespace);
    let mut state: HashMap<String, ProbeState> = HashMap::new();
    let mut tick = tokio::time::interval(opts.probe_period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let all = members.all();
        state.retain(|name, _| all.iter().any(|m| &m.name == name));
        let results = join_all(all.iter().map(|m| probe(m, opts.probe_timeout))).await;
        let now = fed_core::status::condition_time(k8s_openapi::jiff::Timestamp::now());
        for (member, result) in all.iter().zip(results) {
            let st = state.entry(member.name.clone()).or_default();
            st.failures = if result.is_ok() { 0 } else { st.failures + 1 };
            if result.is_ok() {
                // A stalled member that answers its probe gets requests again.
                members.stalls.answered(&member.name);
            }
            let previous = from_conditions(&member.conditions);
            let health = next_health(previous, result.is_ok(), st.failures, opts.failure_threshold);
            let detail = result.as_ref().err().cloned().unwrap_or_default();
            if let Err(e) = &result {
                debug!(cluster = %member.name, failures = st.failures, error = %e, "probe failed");
            }
            let next = conditions_for(health, &member.conditions, &detail, &now);
            let changed = conditions_changed(&member.conditions, &next);
            let stale = st.last_write.is_none_or(|t| t.elapsed() >= REFRESH);
            let conditions = (changed || stale).then_some(next.as_slice());
            let summary = capacities.summary(&member.name).filter(|s| st.summary.as_ref() != Some(s));
            let Some(patch) = status_patch(conditions, summary.as_ref()) else { continue };
            metrics.write(WriteTarget::Host);
            match api.patch_status(&member.name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                Ok(_) => {
                    if conditions.is_some() {
                        st.last_write = Some(Instant::now());
                    }
                    st.summary = summary.or(st.summary);
                    if changed && previous != Some(health) {
                        info!(cluster = %member.name, ?health, "cluster health changed");
                        publish(&recorder, member, health, &detail, &opts.federation_namespace).await;
                    }
                }
                Err(e) => warn!(cluster = %member.name, error = %e, "writing KubeFedCluster status"),
            }
        }
    }
}

/// The merge patch of a KubeFedCluster's status that writes `conditions` and `summary`, those
/// given; `None` when neither is.
fn status_patch(conditions: Option<&[Condition]>, summary: Option<&ResourceSummary>) -> Option<serde_json::Value> {
    let mut status = serde_json::Map::new();
    if let Some(c) = conditions {
        status.insert("conditions".into(), serde_json::json!(c));
    }
    if let Some(s) = summary {
        status.insert("resourceSummary".into(), serde_json::json!(s));
    }
    (!status.is_empty()).then(|| serde_json::json!({ "status": status }))
}

async fn probe(member: &Member, timeout: Duration) -> Result<(), String> {
    let client = member.client.as_ref().map_err(|e| format!("no client: {e}"))?;
    let request = hyper::Request::get("/readyz").body(Vec::new()).map_err(|e| e.to_string())?;
    match tokio::time::timeout(timeout, client.request_text(request)).await {
        Ok(Ok(body)) if body.trim() == "ok" => Ok(()),
        Ok(Ok(body)) => Err(format!("/readyz answered {:?}", body.chars().take(200).collect::<String>())),
        Ok(Err(e)) => Err(format!("/readyz: {e}")),
        Err(_) => Err(format!("/readyz did not answer within {timeout:?}")),
    }
}

async fn publish(recorder: &Recorder, member: &Member, health: Health, detail: &str, ns: &str) {
    let (type_, reason, note) = match health {
        Health::Ready => (EventType::Normal, "ClusterReady", "cluster answers /readyz".to_string()),
        Health::NotReady => (EventType::Warning, "ClusterNotReady", detail.to_string()),
        Health::Offline => (EventType::Warning, "ClusterOffline", detail.to_string()),
    };
    let reference = ObjectReference {
        api_version: Some("core.kubefed.io/v1beta1".into()),
        kind: Some("KubeFedCluster".into()),
        name: Some(member.name.clone()),
        namespace: Some(ns.to_string()),
        ..Default::default()
    };
    events::publish(recorder, &reference, type_, reason, &note, "Probe").await;
}

#[cfg(test)]
mod tests {
    use fed_core::capacity::Resources;
    use serde_json::json;

    use super::*;

    #[test]
    fn the_patch_writes_what_changed() {
        let ready = [Condition { type_: "Ready".into(), status: "True".into(), ..Default::default() }];
        let pods = |n| Resources { pods: n, ..Default::default() };
        let summary = ResourceSummary { allocatable: pods(110), requested: pods(3) };
        let summary_json = json!({
            "allocatable": { "cpuMillis": 0, "memoryBytes": 0, "pods": 110 },
            "requested": { "cpuMillis": 0, "memoryBytes": 0, "pods": 3 },
        });
        let conditions_json = json!([{ "type": "Ready", "status": "True" }]);
        let table = [
            (None, None, None),
            (Some(&ready[..]), None, Some(json!({ "status": { "conditions": conditions_json } }))),
            (None, Some(&summary), Some(json!({ "status": { "resourceSummary": summary_json } }))),
            (
                Some(&ready[..]),
                Some(&summary),
                Some(json!({ "status": { "conditions": conditions_json, "resourceSummary": summary_json } })),
            ),
        ];
        for (conditions, summary, want) in table {
            assert_eq!(status_patch(conditions, summary), want, "{conditions:?} {summary:?}");
        }
    }
}
