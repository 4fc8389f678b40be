//! The host component as pods (the default, in-cluster form): deleting them at once (grace
//! period 0, so their containers get SIGKILL as `kill -9` gives the local form's process), and
//! whether the controllers' Lease is held by one of them.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams};

use crate::{Bed, lease_holder, webhook_pods};

fn pods(bed: &Bed) -> Api<Pod> {
    Api::namespaced(bed.earth.clone(), "kube-federation-system")
}

/// Deletes the host component's pods `names` with grace period 0.
pub async fn kill_pods(bed: &Bed, names: &[String]) {
    for name in names {
        pods(bed).delete(name, &DeleteParams { grace_period_seconds: Some(0), ..DeleteParams::default() }).await.ok();
    }
}

/// The Lease holder, when it is a live pod other than `not`.
pub async fn leading_pod(bed: &Bed, not: Option<&str>) -> Option<String> {
    let holder = lease_holder(bed).await?;
    (Some(holder.as_str()) != not && webhook_pods(bed).await.contains(&holder)).then_some(holder)
}
