//! Members that stopped answering. A hung member (its process stopped, its TCP port still
//! accepting connections) answers nothing until the member timeout, and every sync holding a
//! request to it would hold a reconcile slot that long: enough of them and the copies bound for
//! the other members wait in the queue behind it.
//!
//! So a request that got no answer for [`Stalls::call`]'s `stall_after`, while the member
//! answered nothing else since the request began, marks the member stalled and gives up at
//! once; while it is marked, requests to it fail without being sent. Any answer from it (to a
//! request, or to the health probe, see `health.rs`) clears the mark. The syncs that skipped it
//! report it `ClusterNotReady` and are retried by sync's error policy.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Why [`Stalls::call`] returned no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoAnswer {
    /// The member is marked stalled: nothing was sent.
    Stalled,
    /// No answer within the timeout.
    Timeout,
}

#[derive(Debug, Default)]
struct State {
    /// When the member last answered anything.
    last_answer: Option<Instant>,
    /// Set while the member is stalled.
    stalled_since: Option<Instant>,
}

/// Responsiveness of every member, by cluster name.
#[derive(Debug, Default)]
pub struct Stalls(Mutex<HashMap<String, State>>);

impl Stalls {
    fn with<T>(&self, cluster: &str, f: impl FnOnce(&mut State) -> T) -> T {
        let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(map.entry(cluster.to_string()).or_default())
    }

    /// Since when `cluster` is marked stalled, if it is.
    pub fn stalled_since(&self, cluster: &str) -> Option<Instant> {
        self.with(cluster, |s| s.stalled_since)
    }

    /// Records an answer from `cluster` (any answer, an error status too): it is not stalled.
    pub fn answered(&self, cluster: &str) {
        self.with(cluster, |s| {
            s.last_answer = Some(Instant::now());
            s.stalled_since = None;
        });
    }

    /// Sends `request` to `cluster` unless it is stalled, waiting at most `timeout`; gives up
    /// after `stall_after` (and marks the member stalled) when the member answered nothing else
    /// meanwhile. `answered` tells whether a result is an answer of the member (an API status)
    /// rather than a failure to reach it.
    pub async fn call<T>(
        &self,
        cluster: &str,
        stall_after: Duration,
        timeout: Duration,
        answered: impl Fn(&T) -> bool,
        request: impl Future<Output = T>,
    ) -> Result<T, NoAnswer> {
        if self.stalled_since(cluster).is_some() {
            return Err(NoAnswer::Stalled);
        }
        let started = Instant::now();
        let deadline = tokio::time::Instant::from_std(started + timeout);
        let mut request = std::pin::pin!(request);
        let mut check = tokio::time::Instant::from_std(started + stall_after).min(deadline);
        loop {
            tokio::select! {
                result = &mut request => {
                    if answered(&result) {
                        self.answered(cluster);
                    }
                    return Ok(result);
                }
                _ = tokio::time::sleep_until(check) => {}
            }
            if check >= deadline {
                return Err(NoAnswer::Timeout);
            }
            let silent = self.with(cluster, |s| {
                let silent = s.last_answer.is_none_or(|a| a < started);
                if silent {
                    s.stalled_since.get_or_insert_with(Instant::now);
                }
                silent || s.stalled_since.is_some()
            });
            if silent {
                return Err(NoAnswer::Stalled);
            }
            check = (check + stall_after).min(deadline);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STALL: Duration = Duration::from_millis(50);
    const TIMEOUT: Duration = Duration::from_secs(5);

    fn any<T>(_: &T) -> bool {
        true
    }

    #[tokio::test]
    async fn a_silent_member_is_marked_and_then_skipped_until_it_answers() {
        let stalls = Stalls::default();
        let hung = stalls.call("vulcan", STALL, TIMEOUT, any, std::future::pending::<()>());
        let started = Instant::now();
        assert_eq!(hung.await, Err(NoAnswer::Stalled));
        assert!(started.elapsed() < TIMEOUT, "gave up at the stall time, not the timeout");
        assert!(stalls.stalled_since("vulcan").is_some());
        assert_eq!(stalls.call("vulcan", STALL, TIMEOUT, any, async { 1 }).await, Err(NoAnswer::Stalled), "not sent");
        assert_eq!(stalls.call("kronos", STALL, TIMEOUT, any, async { 2 }).await, Ok(2), "others unaffected");
        stalls.answered("vulcan");
        assert_eq!(stalls.call("vulcan", STALL, TIMEOUT, any, async { 3 }).await, Ok(3));
        assert!(stalls.stalled_since("vulcan").is_none());
    }

    #[tokio::test]
    async fn a_slow_request_to_a_member_that_answers_others_runs_to_the_timeout() {
        let stalls = Stalls::default();
        let slow = async {
            tokio::time::sleep(STALL * 4).await;
            "slow"
        };
        let others = async {
            for _ in 0..8 {
                tokio::time::sleep(STALL / 2).await;
                stalls.answered("vulcan");
            }
        };
        let (result, ()) = tokio::join!(stalls.call("vulcan", STALL, TIMEOUT, any, slow), others);
        assert_eq!(result, Ok("slow"));
        let late = stalls.call("vulcan", STALL, STALL * 2, any, std::future::pending::<()>());
        stalls.answered("vulcan");
        assert_eq!(late.await, Err(NoAnswer::Stalled), "nothing answered after this request began");
    }

    #[tokio::test]
    async fn failures_to_reach_a_member_are_not_answers() {
        let stalls = Stalls::default();
        let refused = stalls.call("vulcan", STALL, TIMEOUT, |r: &Result<(), ()>| r.is_ok(), async { Err(()) });
        assert_eq!(refused.await, Ok(Err(())));
        let hung = stalls.call("vulcan", STALL, TIMEOUT, any, std::future::pending::<()>());
        assert_eq!(hung.await, Err(NoAnswer::Stalled));
    }
}
