//! The one loop every admission cache runs: a watch stream into a reflector store, retried with
//! backoff and logged once per distinct error.

use std::hash::Hash;
use std::time::Duration;

use backon::ExponentialBuilder;
use futures::{Stream, StreamExt};
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, store::Writer};
use kube::runtime::watcher::{self, Event};

use crate::ready::Ready;

/// Drive `stream` into `writer` forever: backoff on errors, `synced` once the first list is in.
/// `after` runs after each event is applied and before `synced` is set.
pub async fn keep_reflecting<K, S>(
    stream: S,
    writer: Writer<K>,
    synced: Ready,
    what: String,
    missing_is_empty: bool,
    mut after: impl FnMut(&Event<K>) + Send,
) where
    K: reflector::Lookup + Clone + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Send + Sync,
    S: Stream<Item = watcher::Result<Event<K>>> + Send,
{
    let stream = reflector::reflector(writer, stream.backoff(retry_backoff()));
    futures::pin_mut!(stream);
    let mut last_error: Option<String> = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(event) => {
                after(&event);
                if matches!(event, Event::InitDone) && synced.set() {
                    tracing::info!(resource = %what, "cache synced");
                }
                if last_error.take().is_some() {
                    tracing::info!(resource = %what, "watch recovered");
                }
            }
            Err(e) => {
                let not_found = is_not_found(&e);
                if missing_is_empty && not_found && synced.set() {
                    tracing::info!(resource = %what, "resource not installed; treating it as empty until it appears");
                }
                let message = e.to_string();
                if last_error.as_deref() != Some(message.as_str()) {
                    if not_found {
                        tracing::warn!(resource = %what, error = %message, "resource not found (CRD not installed?); retrying with backoff");
                    } else {
                        tracing::warn!(resource = %what, error = %message, "watch failed; retrying with backoff");
                    }
                    last_error = Some(message);
                }
            }
        }
    }
}

/// Watch retry delays: 0.5 s doubling to 5 s, reset by the next successful event. Shorter than
/// kube-runtime's default (30 s cap) so the webhook turns ready soon after its CRDs appear.
fn retry_backoff() -> watcher::ExponentialBackoff {
    ExponentialBuilder::default()
        .with_min_delay(RETRY_MIN)
        .with_max_delay(RETRY_MAX)
        .with_factor(2.0)
        .without_max_times()
        .into()
}

const RETRY_MIN: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(5);

fn is_not_found(e: &watcher::Error) -> bool {
    match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => s.is_not_found(),
        watcher::Error::WatchError(s) => s.is_not_found(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use kube::runtime::utils::Backoff;

    use super::*;

    #[test]
    fn retries_back_off_to_five_seconds_and_reset() {
        let mut b = retry_backoff();
        let delays: Vec<u64> = (0..6).map(|_| b.next().unwrap().as_millis() as u64).collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 5000, 5000]);
        b.reset();
        assert_eq!(b.next(), Some(RETRY_MIN));
    }

    #[test]
    fn not_found_errors_are_recognised() {
        let status = kube::core::Status::failure("the server could not find the requested resource", "NotFound")
            .with_code(404)
            .boxed();
        assert!(is_not_found(&watcher::Error::InitialListFailed(kube::Error::Api(status.clone()))));
        let forbidden = kube::core::Status::failure("no", "Forbidden").with_code(403).boxed();
        assert!(!is_not_found(&watcher::Error::InitialListFailed(kube::Error::Api(forbidden))));
        assert!(is_not_found(&watcher::Error::WatchError(status)));
    }
}
