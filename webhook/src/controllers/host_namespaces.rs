//! The host's namespaces, read now and as a watch sees them: what sync checks before it writes
//! copies of an object in a namespace (the incarnation of the object itself is
//! [`fed_core::guard::Owner`]'s question).

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{self, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use tracing::warn;

use super::tasks::AbortOnDrop;
use crate::record::{self, Named};

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
