//! Cluster health: what a `/readyz` probe result means for a KubeFedCluster's `Ready` and
//! `Offline` conditions (the health controller in fed-webhook probes and writes them; the sync
//! plan reads `offline` back through [`crate::placement::JoinedCluster`]).

use crate::api::{CONDITION_OFFLINE, CONDITION_READY, Condition};

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
