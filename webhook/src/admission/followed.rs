//! The followed namespaces the follow webhook decides against: host Namespaces labelled
//! `kubefed.io/follow=true`, metadata only (a label-selected watch, so the cache holds those
//! namespaces alone), each kept as its annotations (where `kubectl fed follow` records a
//! placement).

use std::collections::BTreeMap;

use fed_core::keys;
use futures::TryStreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{Store, store::Writer};
use kube::runtime::watcher;
use kube::{Api, Client};

use super::reflect::keep_reflecting;
use crate::ready::Ready;
use crate::record::{self, Named};

/// A followed namespace as the cache keeps it: its annotations.
pub type Followed = Named<BTreeMap<String, String>>;

/// The record of a namespace with this metadata.
fn followed(meta: PartialObjectMeta<Namespace>) -> Followed {
    Named::new(&meta.metadata, meta.metadata.annotations.clone().unwrap_or_default())
}

/// The label selector of followed namespaces.
pub fn selector() -> String {
    format!("{}=true", keys::FOLLOW)
}

/// Starts reflecting the followed namespaces: the store, and its readiness once listed.
pub fn start(client: &Client) -> (Store<Followed>, Ready) {
    let writer: Writer<Followed> = Writer::new(());
    let store = writer.as_reader();
    let synced = Ready::new();
    let api: Api<PartialObjectMeta<Namespace>> = Api::all(client.clone());
    let config = watcher::Config::default().labels(&selector());
    let stream = watcher::watcher(api, config).map_ok(|e| record::map_event(e, followed));
    tokio::spawn(keep_reflecting(stream, writer, synced.clone(), "namespaces (followed)".into(), false, |_| {}));
    (store, synced)
}

/// The annotations of `namespace` when it is in the store (it follows).
pub fn annotations(store: &Store<Followed>, namespace: &str) -> Option<BTreeMap<String, String>> {
    store.get(&record::object_ref(None, namespace, ())).map(|f| f.value.clone())
}
