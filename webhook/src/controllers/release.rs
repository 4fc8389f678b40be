//! Release controller for disabled types.
//!
//! A type whose FederatedTypeConfig says `spec.propagation: Disabled` has no sync controller, so
//! nothing would remove the sync finalizer (`kubefed.io/sync-controller`) from its
//! `Federated<Kind>` objects: a deleted one would stay Terminating for ever. While a type is
//! disabled this controller removes that finalizer from each of its federated objects that is
//! being deleted. Nothing is propagated while disabled, so their member copies stay where they
//! are (`kubectl fed disable` says so, and asks for `--force`, before disabling a type that has
//! federated objects). Objects that are not being deleted keep the finalizer, so enabling the
//! type again picks them up unchanged.

use std::sync::Arc;
use std::time::Duration;

use fed_core::keys;
use kube::api::{Api, DynamicObject, ObjectMeta, Patch, PatchParams};
use kube::core::ApiResource;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use serde_json::json;
use tracing::info;

use super::error::Error;
use super::runtime::{self, Bookkeeping, LogWords, Reconciler};
use crate::metrics::ReconcileMetrics;

struct ReleaseCtx {
    host: Client,
    federated: ApiResource,
    books: Bookkeeping<DynamicObject>,
}

/// Releases the deleted federated objects of one disabled type until aborted; reconciles are
/// recorded in `metrics`.
pub async fn run(host: Client, federated: ApiResource, metrics: ReconcileMetrics, max_backoff: Duration) {
    let api = Api::<DynamicObject>::all_with(host.clone(), &federated);
    let kind = federated.kind.clone();
    let ctx = Arc::new(ReleaseCtx {
        host,
        federated: federated.clone(),
        books: Bookkeeping::new(metrics, federated.clone(), max_backoff),
    });
    let controller = Controller::new_with(api, watcher::Config::default(), federated);
    let words = LogWords {
        kind: &kind,
        done: "release checked",
        gone: "gone before release",
        failed: "releasing a federated object of a disabled type",
        controller: "release controller",
    };
    runtime::run_controller(controller, reconcile, ctx, words).await;
}

impl Reconciler for ReleaseCtx {
    type Object = DynamicObject;

    fn books(&self) -> &Bookkeeping<DynamicObject> {
        &self.books
    }
}

/// Index of the sync finalizer when `meta` is being deleted and still holds it.
pub fn releasable(meta: &ObjectMeta) -> Option<usize> {
    meta.deletion_timestamp.as_ref()?;
    meta.finalizers.as_ref()?.iter().position(|f| f == keys::FINALIZER)
}

async fn reconcile(obj: Arc<DynamicObject>, ctx: Arc<ReleaseCtx>) -> Result<Action, Error> {
    let Some(index) = releasable(&obj.metadata) else { return Ok(Action::await_change()) };
    let api = match obj.namespace() {
        Some(ns) => Api::<DynamicObject>::namespaced_with(ctx.host.clone(), &ns, &ctx.federated),
        None => Api::<DynamicObject>::all_with(ctx.host.clone(), &ctx.federated),
    };
    // The test guards against removing another finalizer if the list changed meanwhile.
    let path = format!("/metadata/finalizers/{index}");
    let patch: json_patch::Patch = serde_json::from_value(json!([
        { "op": "test", "path": path, "value": keys::FINALIZER },
        { "op": "remove", "path": path },
    ]))
    .expect("a valid JSON patch");
    match api.patch(&obj.name_any(), &PatchParams::default(), &Patch::Json::<()>(patch)).await {
        Ok(_) => {
            info!(
                kind = %ctx.federated.kind,
                namespace = obj.namespace().unwrap_or_default(),
                name = %obj.name_any(),
                "type disabled: released the deleted federated object; its member copies stay"
            );
            Ok(Action::await_change())
        }
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(Action::await_change()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn meta(deleting: bool, finalizers: &[&str]) -> ObjectMeta {
        ObjectMeta {
            deletion_timestamp: deleting.then_some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH)),
            finalizers: Some(finalizers.iter().map(|f| f.to_string()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn only_deleted_objects_holding_the_sync_finalizer_are_released() {
        assert_eq!(releasable(&meta(true, &["other", keys::FINALIZER])), Some(1));
        assert_eq!(releasable(&meta(false, &[keys::FINALIZER])), None, "kept for when the type is enabled again");
        assert_eq!(releasable(&meta(true, &["other"])), None);
        assert_eq!(releasable(&ObjectMeta::default()), None);
    }
}
