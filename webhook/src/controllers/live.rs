//! The checks every write made on behalf of a cached object does first.

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{self, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use tracing::warn;

use super::tasks::AbortOnDrop;
use crate::record::{self, Named};

/// True when `current` (just read from the API server) is the incarnation `cached` (from a
/// store, which can lag behind a busy watch by seconds) was taken from (same uid) and is not
/// being deleted. Writes that would create something on behalf of `cached` check this first, so
/// a stale store never resurrects what was deleted meanwhile.
pub fn same_live_incarnation(cached: &ObjectMeta, current: &ObjectMeta) -> bool {
    current.uid.is_some() && current.uid == cached.uid && current.deletion_timestamp.is_none()
}

/// The host's namespace `name` as the API server has it now (`None`: not found).
pub async fn host_namespace(host: &Client, name: &str) -> Result<Option<Namespace>, kube::Error> {
    Api::<Namespace>::all(host.clone()).get_opt(name).await
}

/// True when the host's namespace `name` is gone or being deleted, read now
/// ([`fed_core::plan::namespace_ending`]).
pub async fn host_namespace_ending(host: &Client, name: &str) -> Result<bool, kube::Error> {
    Ok(fed_core::plan::namespace_ending(host_namespace(host, name).await?.as_ref()))
}

/// The host's namespaces as a metadata-only watch sees them, each kept as whether it is being
/// deleted.
pub struct HostNamespaces {
    store: Store<Named<bool>>,
}

impl HostNamespaces {
    /// Starts the watch; it stops when the returned task is dropped.
    pub fn start(host: &Client) -> (Self, AbortOnDrop<()>) {
        let writer = Writer::<Named<bool>>::new(());
        let store = writer.as_reader();
        let api: Api<PartialObjectMeta<Namespace>> = Api::all(host.clone());
        let records = watcher(api, watcher::Config::default())
            .default_backoff()
            .map_ok(|e| record::map_event(e, |m| Named::new(&m.metadata, m.metadata.deletion_timestamp.is_some())));
        let task = AbortOnDrop::spawn(async move {
            let mut events = std::pin::pin!(reflector::reflector(writer, records));
            while let Some(ev) = events.next().await {
                if let Err(e) = ev {
                    warn!(error = %e, "watching host namespaces");
                }
            }
        });
        (HostNamespaces { store }, task)
    }

    /// True when the watch shows `name` present and not being deleted. Only that answer is
    /// taken from the watch: one that has not seen a new namespace yet, or still shows an earlier
    /// one of the same name being deleted, must not stop a write, so any other answer is asked
    /// of the API server ([`host_namespace_ending`]).
    pub fn seen_live(&self, name: &str) -> bool {
        self.store.get(&record::object_ref(None, name, ())).is_some_and(|n| !n.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_undeleted_incarnation_is_live() {
        let meta = |uid: Option<&str>, deleting: bool| ObjectMeta {
            uid: uid.map(String::from),
            deletion_timestamp: deleting
                .then(|| k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now())),
            ..Default::default()
        };
        let cached = meta(Some("a"), false);
        assert!(same_live_incarnation(&cached, &meta(Some("a"), false)));
        assert!(!same_live_incarnation(&cached, &meta(Some("b"), false)), "deleted and re-created");
        assert!(!same_live_incarnation(&cached, &meta(Some("a"), true)), "being deleted");
        assert!(!same_live_incarnation(&meta(None, false), &meta(None, false)), "no uid proves nothing");
    }
}
