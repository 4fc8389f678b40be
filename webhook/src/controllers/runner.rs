//! The applier loop the per-type controllers (sync, materialize, the replica division) share:
//! each reconcile runs in a task of its own, so a panic fails that reconcile and not the
//! controller, at the configured concurrency, with one log line per outcome.

use std::convert::Infallible;
use std::fmt::Debug;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;

use futures::channel::mpsc;
use futures::{FutureExt, StreamExt};
use kube::Resource;
use kube::runtime::controller::{self, Action, applier};
use kube::runtime::reflector::{ObjectRef, Store};
use tokio::task::JoinError;
use tracing::{debug, warn};

use super::tasks::AbortOnDrop;

/// A reconcile error the runner can make and grade.
pub trait ReconcileError: std::error::Error + Send + 'static {
    /// The reconcile's task panicked or was cancelled.
    fn task_failed(e: JoinError) -> Self;

    /// A failure already reported elsewhere (status, Events), logged at debug on every retry.
    fn reported(&self) -> bool {
        false
    }
}

/// What one controller's log calls its outcomes, and the type it runs for.
pub struct Outcomes<'a> {
    /// The controller's type, named in the applier's own failures.
    pub kind: &'a str,
    /// A reconcile succeeded ("synced").
    pub done: &'static str,
    /// The object left the store before its turn ("gone before sync").
    pub gone: &'static str,
    /// A reconcile failed ("sync failed").
    pub failed: &'static str,
    /// The applier itself failed ("sync controller").
    pub controller: &'static str,
}

/// Runs `reconcile` for every object queued on `queue` that is in `store`, `concurrency` at a
/// time, with `error_policy` deciding retries, until the queue closes.
pub async fn run<K, C, E, Fut>(
    reconcile: fn(Arc<K>, Arc<C>) -> Fut,
    error_policy: fn(Arc<K>, &E, Arc<C>) -> Action,
    ctx: Arc<C>,
    store: Store<K>,
    queue: mpsc::UnboundedReceiver<ObjectRef<K>>,
    concurrency: u16,
    words: Outcomes<'_>,
) where
    K: Clone + Resource + Send + Sync + 'static,
    K::DynamicType: Debug + Eq + Hash + Clone + Unpin,
    C: Send + Sync + 'static,
    E: ReconcileError,
    Fut: Future<Output = Result<Action, E>> + Send + 'static,
{
    let spawned =
        move |obj, ctx| AbortOnDrop::spawn(reconcile(obj, ctx)).map(|r| r.unwrap_or_else(|e| Err(E::task_failed(e))));
    let config = controller::Config::default().concurrency(concurrency);
    applier(spawned, error_policy, ctx, store, queue.map(Ok::<_, Infallible>), config)
        .for_each(|r| {
            match r {
                Ok((obj, _)) => debug!(object = %obj, "{}", words.done),
                Err(controller::Error::ObjectNotFound(obj)) => debug!(object = %obj, "{}", words.gone),
                Err(controller::Error::ReconcilerFailed(e, obj)) if e.reported() => {
                    debug!(object = %obj, error = %e, "{}; retrying", words.failed)
                }
                Err(controller::Error::ReconcilerFailed(e, obj)) => {
                    warn!(object = %obj, error = %e, "{}", words.failed)
                }
                Err(e) => warn!(kind = %words.kind, error = %e, "{}", words.controller),
            }
            std::future::ready(())
        })
        .await;
}
