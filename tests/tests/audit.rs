//! After the rest of the e2e suite (`make test-e2e` runs this binary last, with `--ignored`):
//! the host component, installed in earth under its ServiceAccount with the shipped RBAC, and
//! the members' federation service accounts were never refused a request by the authorizer.
//!
//! The bed's apiservers audit every request of a service account of the federation namespace,
//! and every change of a ClusterRole or ClusterRoleBinding (`hack/testbed/audit-policy.yaml`), to
//! `.local/clusters/<name>/logs/audit.log`. A refusal within [`REVOCATION_WINDOW`] of such a
//! change is a watch that was still open when `disable`, `unjoin` or `join --overwrite` took the
//! rights away (or one that the aggregation of a new ClusterRole had not reached yet), and is
//! counted apart. So is a refusal within [`STARTUP_WINDOW`] after that cluster's apiserver was
//! (re)started (tests stop and start it): it serves before its RBAC cache has synced, and the
//! controllers' watches re-list the moment it accepts connections. Any other refusal means the
//! shipped RBAC lacks a rule.

use std::time::Duration;

use fed_e2e::{CLUSTERS, host_in_cluster, repo_root};
use serde_json::Value;

/// The host component's ServiceAccount, as the apiserver names it.
const HOST_COMPONENT: &str = "system:serviceaccount:kube-federation-system:kubectl-fed-webhook";
/// How close to a change of cluster RBAC (before or after) a refusal is put down to that change.
const REVOCATION_WINDOW: Duration = Duration::from_secs(10);

/// How long after an apiserver (re)start a refusal is put down to its unsynced RBAC cache.
const STARTUP_WINDOW: Duration = Duration::from_secs(30);

/// When `cluster`'s kube-apiserver was started: the `==== <time> starting:` lines that
/// `hack/lib.sh` (`start_process`) writes to its log.
fn apiserver_starts(cluster: &str) -> Vec<k8s_openapi::jiff::Timestamp> {
    let path = repo_root().join(format!(".local/clusters/{cluster}/logs/kube-apiserver.log"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().filter_map(|l| l.strip_prefix("==== ")?.split_once(" starting:")?.0.parse().ok()).collect()
}

/// One audit event's fields that matter here.
struct Event {
    at: k8s_openapi::jiff::Timestamp,
    user: String,
    verb: String,
    uri: String,
    forbidden: bool,
    /// The authorizer's reason, for the message.
    reason: String,
    rbac_change: bool,
}

fn events(cluster: &str) -> Vec<Event> {
    let path = repo_root().join(format!(".local/clusters/{cluster}/logs/audit.log"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let parse = |line: &str| -> Option<Event> {
        let e: Value = serde_json::from_str(line).ok()?;
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        Some(Event {
            at: e["stageTimestamp"].as_str()?.parse().ok()?,
            user: s(&e["user"]["username"]),
            verb: s(&e["verb"]),
            uri: s(&e["requestURI"]),
            forbidden: e["annotations"]["authorization.k8s.io/decision"] == "forbid",
            reason: s(&e["annotations"]["authorization.k8s.io/reason"]),
            rbac_change: e["objectRef"]["apiGroup"] == "rbac.authorization.k8s.io"
                && e["responseStatus"]["code"].as_i64().is_some_and(|c| c < 300),
        })
    };
    text.lines().filter_map(parse).collect()
}

#[test]
#[ignore = "runs after the whole e2e suite: make test-e2e"]
fn no_request_of_the_federation_service_accounts_was_refused_by_rbac() {
    let mut gaps = Vec::new();
    let mut revoked = 0;
    let mut restarting = 0;
    let mut host_component_writes = 0;
    for cluster in CLUSTERS {
        let events = events(cluster);
        let changes: Vec<k8s_openapi::jiff::Timestamp> =
            events.iter().filter(|e| e.rbac_change).map(|e| e.at).collect();
        let starts = apiserver_starts(cluster);
        assert!(!starts.is_empty(), "no start of {cluster}'s apiserver in its log");
        let startup = k8s_openapi::jiff::SignedDuration::try_from(STARTUP_WINDOW).unwrap();
        let starting = |at: k8s_openapi::jiff::Timestamp| {
            starts.iter().map(|s| at.duration_since(*s)).any(|d| !d.is_negative() && d <= startup)
        };
        for e in events.iter().filter(|e| !e.rbac_change) {
            if e.user == HOST_COMPONENT && matches!(e.verb.as_str(), "create" | "patch" | "update") {
                host_component_writes += 1;
            }
            if !e.forbidden {
                continue;
            }
            let window = k8s_openapi::jiff::SignedDuration::try_from(REVOCATION_WINDOW).unwrap();
            if changes.iter().any(|c| e.at.duration_since(*c).abs() <= window) {
                revoked += 1;
            } else if starting(e.at) {
                restarting += 1;
            } else {
                gaps.push(format!("{cluster}: {} {} {} at {} ({:?})", e.user, e.verb, e.uri, e.at, e.reason));
            }
        }
    }
    eprintln!("{revoked} refusals next to a change of cluster RBAC (rights changing under an open watch)");
    eprintln!("{restarting} refusals right after an apiserver (re)start (its RBAC cache not synced yet)");
    if host_in_cluster() {
        assert!(host_component_writes > 0, "no write by {HOST_COMPONENT} was audited: the controllers ran elsewhere");
    }
    assert!(gaps.is_empty(), "{} requests refused by RBAC:\n{}", gaps.len(), gaps.join("\n"));
}
