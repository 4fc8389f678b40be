//! Cluster health: probes every member's `/readyz` and records `Ready`/`Offline` conditions in
//! the KubeFedCluster status (status subresource).
//!
//! One success → Ready=True, Offline=False; `failure_threshold` consecutive failures →
//! Ready=False, Offline=True. The status is written only when a condition changes, plus a
//! `lastProbeTime` refresh at most once per [`REFRESH`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fed_core::api::{CONDITION_OFFLINE, CONDITION_READY, Condition, KubeFedCluster};
use futures::future::join_all;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Api, Client};
use tracing::{debug, info, warn};

use super::members::{Member, Members};
use super::{ControllerOptions, now_rfc3339};
use crate::metrics::{ControllerMetrics, WriteTarget};

/// Longest time between two status writes for an unchanged cluster.
pub const REFRESH: Duration = Duration::from_secs(60);

/// Reason on Ready=True / Offline=False.
pub const REASON_READY: &str = "ClusterReady";
/// Reason on Ready=False / Offline=True.
pub const REASON_NOT_REACHABLE: &str = "ClusterNotReachable";

/// A member's health as the conditions express it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// Last probe succeeded.
    Ready,
    /// Probes failed, fewer than the threshold in a row (and it was never Ready/Offline before).
    NotReady,
    /// `threshold` consecutive probes failed.
    Offline,
}

/// Health implied by existing conditions (`None` when there are none yet).
pub fn from_conditions(conditions: &[Condition]) -> Option<Health> {
    let is_true = |t: &str| conditions.iter().any(|c| c.type_ == t && c.status == "True");
    let present = |t: &str| conditions.iter().any(|c| c.type_ == t);
    if is_true(CONDITION_OFFLINE) {
        Some(Health::Offline)
    } else if is_true(CONDITION_READY) {
        Some(Health::Ready)
    } else if present(CONDITION_READY) {
        Some(Health::NotReady)
    } else {
        None
    }
}

/// The health after a probe: success is Ready at once; a failure is Offline once
/// `failures` (consecutive, including this one) reaches `threshold`, else the previous health
/// holds (NotReady if there was none).
pub fn next_health(previous: Option<Health>, probe_ok: bool, failures: u32, threshold: u32) -> Health {
    if probe_ok {
        Health::Ready
    } else if failures >= threshold {
        Health::Offline
    } else {
        previous.unwrap_or(Health::NotReady)
    }
}

/// The Ready and Offline conditions for `health`, keeping other condition types and the
/// transition times of unchanged conditions.
pub fn conditions_for(health: Health, previous: &[Condition], detail: &str, now: &str) -> Vec<Condition> {
    let (ready, offline) = match health {
        Health::Ready => (("True", REASON_READY, "/readyz responded with ok"), ("False", REASON_READY, "")),
        Health::NotReady => (("False", REASON_NOT_REACHABLE, detail), ("False", REASON_NOT_REACHABLE, "")),
        Health::Offline => (("False", REASON_NOT_REACHABLE, detail), ("True", REASON_NOT_REACHABLE, detail)),
    };
    let make = |type_: &str, (status, reason, message): (&str, &str, &str)| {
        let prev = previous.iter().find(|c| c.type_ == type_);
        let transition = match prev {
            Some(p) if p.status == status => p.last_transition_time.clone().unwrap_or_else(|| now.to_string()),
            _ => now.to_string(),
        };
        Condition {
            type_: type_.to_string(),
            status: status.to_string(),
            reason: Some(reason.to_string()),
            message: (!message.is_empty()).then(|| message.to_string()),
            last_probe_time: Some(now.to_string()),
            last_update_time: Some(transition.clone()),
            last_transition_time: Some(transition),
        }
    };
    let mut out: Vec<Condition> =
        previous.iter().filter(|c| c.type_ != CONDITION_READY && c.type_ != CONDITION_OFFLINE).cloned().collect();
    out.push(make(CONDITION_READY, ready));
    out.push(make(CONDITION_OFFLINE, offline));
    out
}

/// True when the Ready/Offline conditions differ in type, status or reason.
pub fn conditions_changed(previous: &[Condition], next: &[Condition]) -> bool {
    let key = |cs: &[Condition]| {
        let mut v: Vec<(String, String, Option<String>)> =
            cs.iter().map(|c| (c.type_.clone(), c.status.clone(), c.reason.clone())).collect();
        v.sort();
        v
    };
    key(previous) != key(next)
}

#[derive(Default)]
struct ProbeState {
    failures: u32,
    last_write: Option<Instant>,
}

/// Probes every member every `opts.probe_period` until cancelled.
pub async fn run(
    members: Arc<Members>,
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
        let now = now_rfc3339();
        for (member, result) in all.iter().zip(results) {
            let st = state.entry(member.name.clone()).or_default();
            st.failures = if result.is_ok() { 0 } else { st.failures + 1 };
            let previous = from_conditions(&member.conditions);
            let health = next_health(previous, result.is_ok(), st.failures, opts.failure_threshold);
            let detail = result.as_ref().err().cloned().unwrap_or_default();
            if let Err(e) = &result {
                debug!(cluster = %member.name, failures = st.failures, error = %e, "probe failed");
            }
            let next = conditions_for(health, &member.conditions, &detail, &now);
            let changed = conditions_changed(&member.conditions, &next);
            let stale = st.last_write.is_none_or(|t| t.elapsed() >= REFRESH);
            if !changed && !stale {
                continue;
            }
            let patch = serde_json::json!({ "status": { "conditions": next } });
            metrics.write(WriteTarget::Host);
            match api.patch_status(&member.name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                Ok(_) => {
                    st.last_write = Some(Instant::now());
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
    let event = Event { type_, reason: reason.into(), note: Some(note), action: "Probe".into(), secondary: None };
    if let Err(e) = recorder.publish(&event, &reference).await {
        debug!(error = %e, "publishing event");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(t: &str, s: &str) -> Condition {
        Condition { type_: t.into(), status: s.into(), reason: Some("R".into()), ..Default::default() }
    }

    #[test]
    fn offline_after_threshold_ready_after_one_success() {
        let mut health = None;
        let mut failures = 0;
        for i in 1..=3 {
            failures += 1;
            let h = next_health(health, false, failures, 3);
            if i < 3 {
                assert_eq!(h, Health::NotReady, "probe {i}");
            } else {
                assert_eq!(h, Health::Offline);
            }
            health = Some(h);
        }
        assert_eq!(next_health(health, true, 0, 3), Health::Ready);
        // A Ready cluster stays Ready through fewer than threshold failures.
        assert_eq!(next_health(Some(Health::Ready), false, 2, 3), Health::Ready);
        // An Offline cluster stays Offline until a success.
        assert_eq!(next_health(Some(Health::Offline), false, 1, 3), Health::Offline);
    }

    #[test]
    fn health_is_read_back_from_conditions() {
        assert_eq!(from_conditions(&[]), None);
        assert_eq!(from_conditions(&[cond("Ready", "True"), cond("Offline", "False")]), Some(Health::Ready));
        assert_eq!(from_conditions(&[cond("Ready", "False"), cond("Offline", "True")]), Some(Health::Offline));
        assert_eq!(from_conditions(&[cond("Ready", "False")]), Some(Health::NotReady));
    }

    #[test]
    fn conditions_round_trip_and_keep_transition_times() {
        let c1 = conditions_for(Health::Ready, &[], "", "t1");
        assert_eq!(from_conditions(&c1), Some(Health::Ready));
        let c2 = conditions_for(Health::Ready, &c1, "", "t2");
        assert!(!conditions_changed(&c1, &c2));
        let ready = c2.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(ready.last_transition_time.as_deref(), Some("t1"));
        assert_eq!(ready.last_probe_time.as_deref(), Some("t2"));
        let c3 = conditions_for(Health::Offline, &c2, "connection refused", "t3");
        assert!(conditions_changed(&c2, &c3));
        assert_eq!(from_conditions(&c3), Some(Health::Offline));
        let off = c3.iter().find(|c| c.type_ == "Offline").unwrap();
        assert_eq!((off.status.as_str(), off.last_transition_time.as_deref()), ("True", Some("t3")));
        assert_eq!(off.message.as_deref(), Some("connection refused"));
    }

    #[test]
    fn message_changes_alone_are_not_a_change() {
        let a = conditions_for(Health::Offline, &[], "refused", "t1");
        let b = conditions_for(Health::Offline, &a, "timed out", "t2");
        assert!(!conditions_changed(&a, &b));
    }

    #[test]
    fn other_condition_types_are_kept() {
        let prev = vec![cond("Custom", "True")];
        let c = conditions_for(Health::Ready, &prev, "", "t");
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].type_, "Custom");
    }
}
