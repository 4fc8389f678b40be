//! Spawned tasks that stop with their owner.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::task::{JoinError, JoinHandle};

/// A spawned task that is aborted when this handle is dropped, so dropping a parent stops its
/// whole tree of tasks.
pub struct AbortOnDrop<T>(JoinHandle<T>);

impl<T: Send + 'static> AbortOnDrop<T> {
    /// Spawns `fut` on the current runtime.
    pub fn spawn(fut: impl Future<Output = T> + Send + 'static) -> Self {
        AbortOnDrop(tokio::spawn(fut))
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn abort_on_drop_aborts() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = AbortOnDrop::spawn(async move {
            let _tx = tx;
            std::future::pending::<()>().await
        });
        drop(task);
        assert!(rx.await.is_err(), "the task (and its sender) was dropped");
    }
}
