//! Follow label controller: a FederatedNamespace annotated `kubefed.io/follow: "true"` (KubeFed
//! YAML users' way to say `kubectl fed follow NS`) gets its host namespace labelled
//! `kubefed.io/follow=true`, which is what the follow webhook's `namespaceSelector` selects;
//! `"false"` removes the label. Without the annotation the label is left as `kubectl fed
//! follow` set it ([`fed_core::admission::follow::label_wanted`]).

use std::sync::Arc;
use std::time::Duration;

use fed_core::admission::follow::label_wanted;
use fed_core::keys;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use serde_json::json;
use tracing::{debug, info, warn};

use crate::metrics::ReconcileMetrics;

/// Retry delay after a failed label write.
const RETRY: Duration = Duration::from_secs(5);

struct FollowCtx {
    host: Client,
    metrics: ReconcileMetrics,
}

/// Keeps the host namespaces' follow labels in step with their FederatedNamespaces' annotations
/// until aborted.
pub async fn run(host: Client, metrics: ReconcileMetrics) {
    let namespace = fed_core::crd::well_known_targets().into_iter().find(|t| t.is_namespace());
    let federated = namespace.expect("Namespace is a well-known target").federated().api_resource();
    let api = Api::<DynamicObject>::all_with(host.clone(), &federated);
    let ctx = Arc::new(FollowCtx { host, metrics });
    Controller::new_with(api, watcher::Config::default(), federated)
        .run(reconcile, error_policy, ctx)
        .for_each(|r| {
            match r {
                Ok(_) | Err(controller::Error::ObjectNotFound(_)) => {}
                Err(controller::Error::ReconcilerFailed(e, obj)) => {
                    warn!(object = %obj, error = %e, "labelling a followed namespace")
                }
                Err(e) => debug!(error = %e, "follow label controller"),
            }
            std::future::ready(())
        })
        .await;
}

/// The one place that decides retries: a fixed delay.
fn error_policy(_obj: Arc<DynamicObject>, _err: &kube::Error, ctx: Arc<FollowCtx>) -> Action {
    ctx.metrics.failed();
    Action::requeue(RETRY)
}

async fn reconcile(fns: Arc<DynamicObject>, ctx: Arc<FollowCtx>) -> Result<Action, kube::Error> {
    let _timer = ctx.metrics.start();
    let Some(wanted) = label_wanted(fns.annotations()) else { return Ok(Action::await_change()) };
    let Some(ns) = fns.namespace() else { return Ok(Action::await_change()) };
    let namespaces: Api<Namespace> = Api::all(ctx.host.clone());
    let Some(current) = namespaces.get_metadata_opt(&ns).await? else { return Ok(Action::await_change()) };
    let has = current.labels().get(keys::FOLLOW).is_some_and(|v| v == "true");
    if has == wanted || current.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let value = if wanted { json!("true") } else { json!(null) };
    let patch = json!({ "metadata": { "labels": { keys::FOLLOW: value } } });
    namespaces.patch(&ns, &PatchParams::default(), &Patch::Merge(&patch)).await?;
    info!(namespace = %ns, follows = wanted, "FederatedNamespace annotation: namespace follow label written");
    Ok(Action::await_change())
}
