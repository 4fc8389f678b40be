//! After the rest of the e2e suite (`make test-e2e` runs this binary last, with `--ignored`):
//! the host component, installed in earth under its ServiceAccount with the shipped RBAC, and
//! the members' federation service accounts were never refused a request as Forbidden.
//!
//! The bed's apiservers audit every request of a service account of the federation namespace
//! (`hack/testbed/audit-policy.yaml`) to `.local/clusters/<name>/logs/audit.log`.

use fed_e2e::{CLUSTERS, host_in_cluster, repo_root};
use serde_json::Value;

/// The host component's ServiceAccount, as the apiserver names it.
const HOST_COMPONENT: &str = "system:serviceaccount:kube-federation-system:kubectl-fed-webhook";

#[test]
#[ignore = "runs after the whole e2e suite: make test-e2e"]
fn no_request_of_the_federation_service_accounts_was_forbidden() {
    let mut forbidden = Vec::new();
    let mut host_component_writes = 0;
    for cluster in CLUSTERS {
        let path = repo_root().join(format!(".local/clusters/{cluster}/logs/audit.log"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for line in text.lines() {
            let Ok(event) = serde_json::from_str::<Value>(line) else { continue };
            let user = event["user"]["username"].as_str().unwrap_or_default();
            let verb = event["verb"].as_str().unwrap_or_default();
            if user == HOST_COMPONENT && matches!(verb, "create" | "patch" | "update") {
                host_component_writes += 1;
            }
            if event["responseStatus"]["code"] == 403 {
                forbidden.push(format!(
                    "{cluster}: {user} {verb} {} ({})",
                    event["requestURI"].as_str().unwrap_or_default(),
                    event["responseStatus"]["message"].as_str().unwrap_or_default()
                ));
            }
        }
    }
    if host_in_cluster() {
        assert!(host_component_writes > 0, "no write by {HOST_COMPONENT} was audited: the controllers ran elsewhere");
    }
    assert!(forbidden.is_empty(), "{} Forbidden requests:\n{}", forbidden.len(), forbidden.join("\n"));
}
