//! Leader election: a Lease `kubectl-fed-controllers` in the federation namespace, held through
//! kube-lease-manager. The controllers run only while this replica holds the lease and are
//! stopped (every task aborted) as soon as it is lost.

use std::future::Future;
use std::time::Duration;

use kube::Client;
use kube_lease_manager::LeaseManagerBuilder;
use tracing::{info, warn};

use super::tasks::AbortOnDrop;
use crate::metrics::ControllerMetrics;

/// Name of the Lease.
pub const LEASE_NAME: &str = "kubectl-fed-controllers";
/// How long a lease is valid after its last renewal.
pub const LEASE_DURATION_SECS: u64 = 15;
/// The holder renews this long before expiry, i.e. every `LEASE_DURATION - GRACE` = 5 s.
pub const LEASE_GRACE_SECS: u64 = 10;

/// The Lease holder's name: `POD_NAME` (the manifest sets it from the downward API) or
/// `hostname-pid`. A pod's name and not its hostname: pods on the node's network share the
/// node's hostname, and each is PID 1 of its own PID namespace.
pub fn identity() -> String {
    identity_from(std::env::var("POD_NAME").ok())
}

fn identity_from(pod_name: Option<String>) -> String {
    if let Some(pod) = pod_name.filter(|p| !p.is_empty()) {
        return pod;
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_string());
    format!("{host}-{}", std::process::id())
}

/// Runs `controllers()` whenever this process holds the lease (recorded in `metrics`); aborts
/// it when the lease is lost and starts it again when it is re-acquired. Returns when
/// `shutdown` resolves (the lease is released) or when the controllers fail.
pub async fn run_while_leader<F, Fut>(
    client: Client,
    namespace: &str,
    identity: &str,
    metrics: &ControllerMetrics,
    controllers: F,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()>
where
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let manager = LeaseManagerBuilder::new(client, LEASE_NAME)
        .with_namespace(namespace)
        .with_identity(identity)
        .with_duration(LEASE_DURATION_SECS)
        .with_grace(LEASE_GRACE_SECS)
        .build()
        .await?;
    let (mut leader, lease_task) = manager.watch().await;
    info!(lease = LEASE_NAME, %namespace, %identity, "waiting for leadership");
    let mut shutdown = std::pin::pin!(shutdown);
    let result = loop {
        tokio::select! {
            _ = &mut shutdown => break Ok(()),
            r = leader.wait_for(|l| *l) => if r.is_err() { break Err(anyhow::anyhow!("lease manager stopped")) },
        }
        info!(%identity, "acquired the lease; starting controllers");
        let leading = metrics.leading();
        let mut running = AbortOnDrop::spawn(controllers());
        tokio::select! {
            _ = &mut shutdown => break Ok(()),
            r = leader.wait_for(|l| !*l) => {
                drop(running);
                drop(leading);
                if r.is_err() {
                    break Err(anyhow::anyhow!("lease manager stopped"));
                }
                warn!(%identity, "lost the lease; controllers stopped");
            }
            r = &mut running => {
                break match r {
                    Ok(Ok(())) => Err(anyhow::anyhow!("controllers exited")),
                    Ok(Err(e)) => Err(e),
                    Err(e) => Err(anyhow::anyhow!("controllers panicked: {e}")),
                };
            }
        }
    };
    // Closing the channel makes the lease task release the lease (if held) and exit.
    drop(leader);
    match tokio::time::timeout(Duration::from_secs(3), lease_task).await {
        Ok(Ok(Ok(_))) => info!("lease released"),
        Ok(Ok(Err(e))) => warn!(error = %e, "releasing the lease"),
        Ok(Err(e)) => warn!(error = %e, "lease task failed"),
        Err(_) => warn!("releasing the lease timed out"),
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_the_pod_name_else_host_and_pid() {
        assert_eq!(identity_from(Some("kubectl-fed-webhook-7d9f-abcde".into())), "kubectl-fed-webhook-7d9f-abcde");
        for outside_a_pod in [None, Some(String::new())] {
            let id = identity_from(outside_a_pod);
            assert!(id.ends_with(&format!("-{}", std::process::id())), "{id}");
            assert!(id.len() > 2);
        }
    }

    #[test]
    fn renewal_every_five_seconds() {
        assert_eq!(LEASE_DURATION_SECS - LEASE_GRACE_SECS, 5);
    }

    #[test]
    fn the_host_rbac_names_this_lease() {
        // manifests/host/rbac.yaml grants get/update/patch on this one Lease only.
        let rbac = include_str!("../../../manifests/host/rbac.yaml");
        assert!(rbac.contains(&format!("resourceNames: [\"{LEASE_NAME}\"]")), "rbac.yaml does not name {LEASE_NAME}");
    }
}
