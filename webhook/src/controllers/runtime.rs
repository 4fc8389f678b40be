//! The one controller runtime: every controller's reconciles run here, each in a task of its own
//! (a panic fails that reconcile, not the controller), measured by the controller's reconcile
//! metrics, retried by the one error policy ([`super::retry::Retries`]: per object, exponential,
//! cleared by a success) and logged one line per outcome.
//!
//! Two ways in, one loop: [`run`] for the per-type controllers (sync, materialize, the replica
//! division), fed by a queue over a store their triggers keep; [`run_controller`] for the
//! controllers that watch one type themselves (follow label, release).

use std::convert::Infallible;
use std::fmt::{Debug, Display};
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc;
use futures::{FutureExt, StreamExt};
use kube::Resource;
use kube::runtime::controller::{self, Action, Controller, applier};
use kube::runtime::reflector::{ObjectRef, Store};
use serde::de::DeserializeOwned;
use tracing::{debug, warn};

use super::error::Error;
use super::retry::Retries;
use super::tasks::AbortOnDrop;
use crate::metrics::ReconcileMetrics;

/// What the runtime keeps for one controller: its per-object retries, its reconcile metrics and
/// the dynamic type its object keys carry.
pub struct Bookkeeping<K: Resource> {
    retries: Retries<ObjectRef<K>>,
    metrics: ReconcileMetrics,
    dyntype: K::DynamicType,
}

impl<K: Resource> Bookkeeping<K>
where
    K::DynamicType: Clone + Eq + Hash,
{
    /// Retries capped at `max_backoff`, counted in `metrics`, keys of type `dyntype`.
    pub fn new(metrics: ReconcileMetrics, dyntype: K::DynamicType, max_backoff: Duration) -> Self {
        Bookkeeping { retries: Retries::new(max_backoff), metrics, dyntype }
    }

    fn key(&self, obj: &K) -> ObjectRef<K> {
        ObjectRef::from_obj_with(obj, self.dyntype.clone())
    }
}

/// What the runtime needs of a controller's context.
pub trait Reconciler: Send + Sync + 'static {
    /// The objects the controller reconciles.
    type Object: Clone + Resource + Send + Sync + 'static;

    /// The controller's [`Bookkeeping`].
    fn books(&self) -> &Bookkeeping<Self::Object>;
}

/// What one controller's log calls its outcomes, and the type it runs for.
pub struct LogWords<'a> {
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
/// time, until the queue closes.
pub async fn run<C, Fut>(
    reconcile: fn(Arc<C::Object>, Arc<C>) -> Fut,
    ctx: Arc<C>,
    store: Store<C::Object>,
    queue: mpsc::UnboundedReceiver<ObjectRef<C::Object>>,
    concurrency: u16,
    words: LogWords<'_>,
) where
    C: Reconciler,
    <C::Object as Resource>::DynamicType: Debug + Eq + Hash + Clone + Unpin,
    Fut: Future<Output = Result<Action, Error>> + Send + 'static,
{
    let config = controller::Config::default().concurrency(concurrency);
    applier(in_task(reconcile), error_policy::<C>, ctx, store, queue.map(Ok::<_, Infallible>), config)
        .for_each(|r| {
            log(r, &words);
            std::future::ready(())
        })
        .await;
}

/// Runs `controller` (its own watch of one type) with `reconcile`, until aborted.
pub async fn run_controller<C, Fut>(
    controller: Controller<C::Object>,
    reconcile: fn(Arc<C::Object>, Arc<C>) -> Fut,
    ctx: Arc<C>,
    words: LogWords<'_>,
) where
    C: Reconciler,
    C::Object: DeserializeOwned + Debug,
    <C::Object as Resource>::DynamicType: Debug + Eq + Hash + Clone + Unpin,
    Fut: Future<Output = Result<Action, Error>> + Send + 'static,
{
    controller
        .run(in_task(reconcile), error_policy::<C>, ctx)
        .for_each(|r| {
            log(r, &words);
            std::future::ready(())
        })
        .await;
}

/// `reconcile` in a task of its own, timed, its retries forgotten when it succeeds.
fn in_task<C, Fut>(
    reconcile: fn(Arc<C::Object>, Arc<C>) -> Fut,
) -> impl FnMut(Arc<C::Object>, Arc<C>) -> futures::future::BoxFuture<'static, Result<Action, Error>>
where
    C: Reconciler,
    <C::Object as Resource>::DynamicType: Clone + Eq + Hash,
    Fut: Future<Output = Result<Action, Error>> + Send + 'static,
{
    move |obj, ctx| {
        let key = ctx.books().key(&obj);
        let timer = ctx.books().metrics.start();
        let task = AbortOnDrop::spawn(reconcile(obj, ctx.clone()));
        async move {
            let result = task.await.unwrap_or_else(|e| Err(Error::Task(e.to_string())));
            drop(timer);
            if result.is_ok() {
                ctx.books().retries.clear(&key);
            }
            result
        }
        .boxed()
    }
}

/// The one error policy: count the failure, retry the object after its next delay.
fn error_policy<C>(obj: Arc<C::Object>, _err: &Error, ctx: Arc<C>) -> Action
where
    C: Reconciler,
    <C::Object as Resource>::DynamicType: Clone + Eq + Hash,
{
    let books = ctx.books();
    books.metrics.failed();
    Action::requeue(books.retries.next(books.key(&obj)))
}

/// One log line per outcome: failures already reported in status and Events at debug.
fn log<K: Resource, Q: Display>(r: Result<(ObjectRef<K>, Action), controller::Error<Error, Q>>, words: &LogWords<'_>)
where
    K::DynamicType: Debug,
{
    match r {
        Ok((obj, _)) => debug!(object = %obj, "{}", words.done),
        Err(controller::Error::ObjectNotFound(obj)) => debug!(object = %obj, "{}", words.gone),
        Err(controller::Error::ReconcilerFailed(e, obj)) if e.reported() => {
            debug!(object = %obj, error = %e, "{}; retrying", words.failed)
        }
        Err(controller::Error::ReconcilerFailed(e, obj)) => warn!(object = %obj, error = %e, "{}", words.failed),
        // A controller's own watch failing (its type's CRD gone, say) retries with backoff.
        Err(controller::Error::QueueError(e)) => debug!(kind = %words.kind, error = %e, "{}", words.controller),
        Err(e) => warn!(kind = %words.kind, error = %e, "{}", words.controller),
    }
}
