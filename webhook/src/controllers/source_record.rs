//! What the materialize controller keeps of each annotated source object.
//!
//! Not the object: its identity, its federation annotations, and a digest of the
//! `Federated<Kind>` spec it asks for. That is enough to tell whether its federated object is
//! up to date; when it is not, materialize reads the source from the API server anyway (it must
//! not write from a stale copy) and renders the federated object from what it read.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use fed_core::annotations;
use fed_core::keys;
use fed_core::source::{desired_spec, spec_digest};
use kube::core::{ApiResource, DynamicObject, DynamicResourceScope, ObjectMeta};
use kube::{Resource, ResourceExt};

/// One annotated source, as materialize keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceRecord {
    /// Name, namespace, uid, resourceVersion, generation, deletion timestamp and owner
    /// references of the source; nothing else.
    pub metadata: ObjectMeta,
    /// Its `kubefed.io/` annotations (a list: a map node is larger than the few entries).
    federation: Box<[(String, String)]>,
    /// [`spec_digest`] of the federated spec the source asks for, when its annotations parse.
    pub desired: Option<u64>,
}

impl SourceRecord {
    /// The record of `source`.
    pub fn of(source: DynamicObject) -> Self {
        let desired = match annotations::from_annotations(source.annotations()) {
            Ok(Some(ann)) => Some(spec_digest(&desired_spec(&source, &ann))),
            _ => None,
        };
        let m = source.metadata;
        let federation = m.annotations.into_iter().flatten().filter(|(k, _)| k.starts_with(keys::PREFIX)).collect();
        let metadata = ObjectMeta {
            name: m.name,
            namespace: m.namespace,
            uid: m.uid,
            resource_version: m.resource_version,
            generation: m.generation,
            deletion_timestamp: m.deletion_timestamp,
            owner_references: m.owner_references,
            ..Default::default()
        };
        SourceRecord { metadata, federation, desired }
    }

    /// The source's `kubefed.io/` annotations.
    pub fn federation_annotations(&self) -> BTreeMap<String, String> {
        self.federation.iter().cloned().collect()
    }

    /// What about the record makes materialize act: a new desired spec, new federation
    /// annotations, a new incarnation, or deletion.
    pub fn fingerprint(&self) -> u64 {
        let mut h = DefaultHasher::new();
        self.desired.hash(&mut h);
        self.metadata.uid.hash(&mut h);
        self.federation.hash(&mut h);
        self.metadata.deletion_timestamp.is_some().hash(&mut h);
        h.finish()
    }
}

/// The records are keyed by a shared [`ApiResource`]: one per type, not one per key.
impl Resource for SourceRecord {
    type DynamicType = Arc<ApiResource>;
    type Scope = DynamicResourceScope;

    fn kind(dt: &Self::DynamicType) -> Cow<'_, str> {
        Cow::Borrowed(&dt.kind)
    }

    fn group(dt: &Self::DynamicType) -> Cow<'_, str> {
        Cow::Borrowed(&dt.group)
    }

    fn version(dt: &Self::DynamicType) -> Cow<'_, str> {
        Cow::Borrowed(&dt.version)
    }

    fn api_version(dt: &Self::DynamicType) -> Cow<'_, str> {
        Cow::Borrowed(&dt.api_version)
    }

    fn plural(dt: &Self::DynamicType) -> Cow<'_, str> {
        Cow::Borrowed(&dt.plural)
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fed_core::api::FederatedSpec;
    use serde_json::json;

    fn source(annotations: serde_json::Value, data: &str) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {
                "name": "cm", "namespace": "ns", "uid": "u1", "resourceVersion": "5",
                "labels": { "kubefed.io/federated": "true", "app": "web" },
                "annotations": annotations,
                "managedFields": [{ "manager": "kubectl" }]
            },
            "data": { "k": data }
        }))
        .unwrap()
    }

    #[test]
    fn a_record_keeps_identity_and_federation_annotations_only() {
        let r = SourceRecord::of(source(json!({ "kubefed.io/placement": "vulcan", "team": "a" }), "v"));
        let m = &r.metadata;
        assert_eq!((m.name.as_deref(), m.namespace.as_deref(), m.uid.as_deref()), (Some("cm"), Some("ns"), Some("u1")));
        assert_eq!(m.resource_version.as_deref(), Some("5"));
        assert_eq!(r.federation_annotations().keys().collect::<Vec<_>>(), ["kubefed.io/placement"]);
        assert!(m.labels.is_none() && m.annotations.is_none() && m.managed_fields.is_none());
        assert!(r.desired.is_some());
    }

    #[test]
    fn the_digest_follows_what_the_federated_object_would_hold() {
        let digest = |annotations, data| SourceRecord::of(source(annotations, data)).desired;
        let placed = json!({ "kubefed.io/placement": "vulcan" });
        assert_eq!(digest(placed.clone(), "v"), digest(placed.clone(), "v"));
        assert_ne!(digest(placed.clone(), "v"), digest(placed.clone(), "w"), "data");
        assert_ne!(digest(placed.clone(), "v"), digest(json!({ "kubefed.io/placement": "kronos" }), "v"), "placement");
        assert_ne!(
            digest(placed, "v"),
            digest(json!({ "kubefed.io/placement": "vulcan", "team": "a" }), "v"),
            "user annotations are templated"
        );
        assert_eq!(digest(json!({}), "v"), None, "no placement");
        assert_eq!(digest(json!({ "kubefed.io/placement": "" }), "v"), None, "invalid annotations");
    }

    #[test]
    fn the_digest_matches_the_spec_read_back_from_the_api_server() {
        let src = source(json!({ "kubefed.io/placement": "vulcan,kronos" }), "v");
        let ann = annotations::from_annotations(src.annotations()).unwrap().unwrap();
        let spec = desired_spec(&src, &ann);
        let read_back: FederatedSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
        assert_eq!(spec_digest(&read_back), spec_digest(&spec));
        assert_eq!(SourceRecord::of(src).desired, Some(spec_digest(&spec)));
    }

    #[test]
    fn the_fingerprint_ignores_what_does_not_reach_the_federated_object() {
        let a = SourceRecord::of(source(json!({ "kubefed.io/placement": "vulcan" }), "v"));
        let mut b = a.clone();
        b.metadata.resource_version = Some("6".into());
        assert_eq!(a.fingerprint(), b.fingerprint());
        b.metadata.uid = Some("u2".into());
        assert_ne!(a.fingerprint(), b.fingerprint());
        let orphaned =
            SourceRecord::of(source(json!({ "kubefed.io/placement": "vulcan", "kubefed.io/orphan": "true" }), "v"));
        assert_ne!(a.fingerprint(), orphaned.fingerprint());
        let c = SourceRecord::of(source(json!({ "kubefed.io/placement": "vulcan" }), "w"));
        assert_ne!(a.fingerprint(), c.fingerprint());
    }
}
