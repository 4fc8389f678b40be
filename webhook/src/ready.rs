//! "This reflector has listed once" flags, for the admission caches and the controllers alike.

use std::sync::Arc;

/// "This reflector has listed once" flag with any number of waiters.
///
/// kube-runtime's `Store::wait_until_ready` is backed by a oneshot receiver that remembers only
/// the last task that polled it, so with several waiters (or a `now_or_never` probe) the others
/// are never woken. Every store here gets one of these, set by the task that drives its
/// reflector on the first `InitDone`; the kube-runtime applier stays the only
/// `wait_until_ready` caller of its own store.
#[derive(Clone, Debug)]
pub struct Ready(Arc<tokio::sync::watch::Sender<bool>>);

impl Default for Ready {
    fn default() -> Self {
        Self::new()
    }
}

impl Ready {
    /// Not ready yet.
    pub fn new() -> Self {
        Ready(Arc::new(tokio::sync::watch::Sender::new(false)))
    }

    /// Marks the store as listed; true when this call did (it was not ready before).
    pub fn set(&self) -> bool {
        self.0.send_if_modified(|r| !std::mem::replace(r, true))
    }

    /// True once listed.
    pub fn is_ready(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once listed.
    pub async fn wait(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|r| *r).await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn ready_wakes_every_waiter() {
        let ready = Ready::new();
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                tokio::spawn({
                    let r = ready.clone();
                    async move { r.wait().await }
                })
            })
            .collect();
        tokio::task::yield_now().await;
        assert!(!ready.is_ready());
        assert!(ready.set(), "the first set reports the change");
        for w in waiters {
            tokio::time::timeout(Duration::from_secs(1), w).await.expect("woken").unwrap();
        }
        assert!(ready.is_ready());
        assert!(!ready.set(), "a second set changes nothing");
    }
}
