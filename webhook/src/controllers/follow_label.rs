//! Follow label controller: a FederatedNamespace annotated `kubefed.io/follow: "true"` (KubeFed
//! YAML users' way to say `kubectl fed follow NS`) gets its host namespace labelled
//! `kubefed.io/follow=true`, which is what the follow webhook's `namespaceSelector` selects;
//! `"false"` removes the label. Without the annotation the label is left as `kubectl fed
//! follow` set it ([`fed_core::admission::follow::label_wanted`]).

use std::sync::Arc;
use std::time::Duration;

use fed_core::admission::follow::label_wanted;
use fed_core::keys;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use serde_json::json;
use tracing::info;

use super::error::Error;
use super::runtime::{self, Bookkeeping, LogWords, Reconciler};
use crate::metrics::ReconcileMetrics;

struct FollowCtx {
    host: Client,
    books: Bookkeeping<DynamicObject>,
}

/// Keeps the host namespaces' follow labels in step with their FederatedNamespaces' annotations
/// until aborted.
pub async fn run(host: Client, metrics: ReconcileMetrics, max_backoff: Duration) {
    let namespace = fed_core::crd::well_known_targets().into_iter().find(|t| t.is_namespace());
    let federated = namespace.expect("Namespace is a well-known target").federated().api_resource();
    let api = Api::<DynamicObject>::all_with(host.clone(), &federated);
    let ctx = Arc::new(FollowCtx { host, books: Bookkeeping::new(metrics, federated.clone(), max_backoff) });
    let controller = Controller::new_with(api, watcher::Config::default(), federated);
    let words = LogWords {
        kind: "FederatedNamespace",
        done: "follow label in step",
        gone: "FederatedNamespace gone",
        failed: "labelling a followed namespace",
        controller: "follow label controller",
    };
    runtime::run_controller(controller, reconcile, ctx, words).await;
}

impl Reconciler for FollowCtx {
    type Object = DynamicObject;

    fn books(&self) -> &Bookkeeping<DynamicObject> {
        &self.books
    }
}

async fn reconcile(fns: Arc<DynamicObject>, ctx: Arc<FollowCtx>) -> Result<Action, Error> {
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
