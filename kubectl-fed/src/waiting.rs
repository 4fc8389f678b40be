//! Waiting for a condition on named objects: kube-runtime's `await_condition` (a watch on the
//! one object, not a poll loop) under a deadline.

use std::future::Future;
use std::time::Duration;

use anyhow::{Context as _, Result};
use kube::Resource;
use kube::api::Api;
use kube::runtime::wait::{Condition, await_condition};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

/// Waits until `cond` holds for the object `name` (absent objects are `None` to `cond`), for at
/// most until `deadline`. `Ok(None)` when the deadline passed first; otherwise the object as it
/// was when the condition held (`None` if it held for an absent object).
pub async fn until<K>(api: Api<K>, name: &str, deadline: Instant, cond: impl Condition<K>) -> Result<Option<Option<K>>>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    match tokio::time::timeout_at(deadline, await_condition(api, name, cond)).await {
        Ok(result) => Ok(Some(result.with_context(|| format!("watching {name}"))?)),
        Err(_elapsed) => Ok(None),
    }
}

/// Runs `wait` for every one of `names` at once, each until `timeout` from now; returns the
/// names whose condition did not hold in time.
pub async fn all_until<F, Fut>(names: &[String], timeout: Duration, wait: F) -> Result<Vec<String>>
where
    F: Fn(String, Instant) -> Fut,
    Fut: Future<Output = Result<bool>>,
{
    let deadline = Instant::now() + timeout;
    let results = futures::future::join_all(names.iter().map(|n| wait(n.clone(), deadline))).await;
    let mut late = Vec::new();
    for (name, held) in names.iter().zip(results) {
        if !held? {
            late.push(name.clone());
        }
    }
    Ok(late)
}
