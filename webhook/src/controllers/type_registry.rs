//! The running per-type controllers, by type config name, for lookups across types.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use fed_core::api::Placement;
use fed_core::placement;
use kube::runtime::reflector::ObjectRef;

use super::handle::TypeHandle;

/// The running per-type controllers, by type config name.
#[derive(Default)]
pub struct TypeRegistry {
    inner: RwLock<HashMap<String, Arc<TypeHandle>>>,
}

impl TypeRegistry {
    fn all(&self) -> Vec<Arc<TypeHandle>> {
        self.inner.read().expect("type registry lock").values().cloned().collect()
    }

    /// Registers the controllers of type config `name`.
    pub fn insert(&self, name: &str, handle: Arc<TypeHandle>) {
        self.inner.write().expect("type registry lock").insert(name.to_string(), handle);
    }

    /// Forgets the controllers of type config `name`.
    pub fn remove(&self, name: &str) {
        self.inner.write().expect("type registry lock").remove(name);
    }

    /// The placement of the FederatedNamespace governing `namespace`
    /// ([`placement::governing`]), if the namespaces type is enabled and one exists.
    pub fn namespace_placement(&self, namespace: &str) -> Option<Placement> {
        let handle = self.all().into_iter().find(|h| h.is_namespace())?;
        let candidates = handle.fed_store.state_filter(|f| f.metadata.namespace.as_deref() == Some(namespace));
        placement::governing(namespace, candidates.iter().map(|f| &**f)).map(|f| f.spec.placement.clone())
    }

    /// Requeues every federated object (of every non-namespace type) in `namespace`.
    pub fn requeue_namespace(&self, namespace: &str) {
        for h in self.all().into_iter().filter(|h| !h.is_namespace()) {
            for f in h.fed_store.state_filter(|f| f.metadata.namespace.as_deref() == Some(namespace)) {
                h.requeue(ObjectRef::from_obj_with(&*f, h.fed_ar.clone()));
            }
        }
    }
}
