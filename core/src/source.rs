//! Annotated sources and their federated objects: the `Federated<Kind>` a source with
//! `kubefed.io/` annotations asks for, whether an existing one already is that, and which
//! federated objects belong to a source.
//!
//! The materialize controller writes what [`desired_federated`] returns; sync asks
//! [`owned_by_source`] whether the host's copy is the source itself.

use std::collections::BTreeMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::ResourceExt;
use kube::core::{DynamicObject, ObjectMeta};
use serde_json::{Value, json};

use crate::annotations::{self, FederationAnnotations};
use crate::api::{ApiResourceRef, Federated, FederatedSpec, TYPES_GROUP};
use crate::{keys, render, replicas};

/// The `Federated<Kind>` spec `source` with `ann` asks for: its template (everything but status
/// and server-set metadata), placement and overrides. With `kubefed.io/replica-scheduling`
/// the `/spec/replicas` overrides are the replicas controller's (the division), so those of
/// `kubefed.io/overrides` are left out: see [`with_current_division`].
pub fn desired_spec(source: &DynamicObject, ann: &FederationAnnotations) -> FederatedSpec {
    let source_json = serde_json::to_value(source).unwrap_or_default();
    let overrides = if ann.replica_scheduling.is_some() {
        replicas::with_division(&ann.overrides, &Default::default())
    } else {
        ann.overrides.clone()
    };
    FederatedSpec {
        template: Some(render::template_from_source(&source_json)),
        placement: ann.placement.clone(),
        overrides,
    }
}

/// `spec` (a [`desired_spec`]) with the division `existing` carries, when `ann` divides the
/// replicas: materialize rewrites the federated object without undoing the division.
pub fn with_current_division(
    mut spec: FederatedSpec,
    ann: &FederationAnnotations,
    existing: Option<&Federated>,
) -> FederatedSpec {
    if let (Some(_), Some(existing)) = (&ann.replica_scheduling, existing) {
        spec.overrides = replicas::with_division(&spec.overrides, &replicas::division(&existing.spec.overrides));
    }
    spec
}

/// Digest of a federated spec: equal digests for equal specs (object keys are ordered).
pub fn spec_digest(spec: &FederatedSpec) -> u64 {
    let mut h = DefaultHasher::new();
    serde_json::to_string(spec).unwrap_or_default().hash(&mut h);
    h.finish()
}

/// The `Federated<Kind>` (as a server-side apply body) that `source` of type `target` with `ann`
/// asks for: same name, namespace per [`fed_namespace_of_source`], controller-owned by the
/// source, born with sync's finalizer, `kubefed.io/orphan` and `kubefed.io/replica-scheduling`
/// copied (the replicas controller reads the latter there), spec per [`desired_spec`] with the
/// division of `existing` kept ([`with_current_division`]).
pub fn desired_federated(
    source: &DynamicObject,
    ann: &FederationAnnotations,
    target: &ApiResourceRef,
    federated: &ApiResourceRef,
    existing: Option<&Federated>,
) -> Value {
    let mut metadata = json!({
        "name": source.name_any(),
        "ownerReferences": [{
            "apiVersion": target.api_version(),
            "kind": target.kind,
            "name": source.name_any(),
            "uid": source.uid().unwrap_or_default(),
            "controller": true,
            "blockOwnerDeletion": true,
        }],
        // Sync's finalizer from the start saves it a write (and a round of admission).
        "finalizers": [keys::FINALIZER],
    });
    if let Some(ns) = fed_namespace_of_source(target, &source.metadata) {
        metadata["namespace"] = ns.into();
    }
    let carried = carried_annotations(ann);
    if !carried.is_empty() {
        metadata["annotations"] = json!(carried);
    }
    json!({
        "apiVersion": federated.api_version(),
        "kind": federated.kind,
        "metadata": metadata,
        "spec": with_current_division(desired_spec(source, ann), ann, existing),
    })
}

/// The annotations a source's federated object carries: `kubefed.io/orphan` when true,
/// `kubefed.io/replica-scheduling` (canonical JSON) and `kubefed.io/overflow-after` (in
/// seconds) when set.
fn carried_annotations(ann: &FederationAnnotations) -> BTreeMap<&'static str, String> {
    let mut carried = BTreeMap::new();
    if ann.orphan {
        carried.insert(keys::ORPHAN, "true".to_string());
    }
    if let Some(prefs) = &ann.replica_scheduling {
        carried.insert(keys::REPLICA_SCHEDULING, replicas::format_annotation(prefs));
    }
    if let Some(after) = ann.overflow_after {
        carried.insert(keys::OVERFLOW_AFTER, format!("{}s", after.as_secs()));
    }
    carried
}

/// True when `existing` already is what the source with uid `source_uid` and annotations `ann`
/// asks for (a spec with [`spec_digest`] `desired`, apart from the division when `ann` divides
/// the replicas; the same carried annotations), so no write is needed.
pub fn up_to_date(existing: &Federated, desired: u64, ann: &FederationAnnotations, source_uid: &str) -> bool {
    let has = existing.annotations();
    let carried = carried_annotations(ann);
    let same_annotations = [keys::ORPHAN, keys::REPLICA_SCHEDULING, keys::OVERFLOW_AFTER]
        .iter()
        .all(|k| has.get(*k).filter(|v| *k != keys::ORPHAN || *v == "true") == carried.get(k));
    let owned = existing
        .owner_references()
        .iter()
        .any(|o| o.uid == source_uid && o.controller == Some(true) && o.block_owner_deletion == Some(true));
    let digest = if ann.replica_scheduling.is_some() {
        let mut spec = existing.spec.clone();
        spec.overrides = replicas::with_division(&spec.overrides, &Default::default());
        spec_digest(&spec)
    } else {
        spec_digest(&existing.spec)
    };
    same_annotations && owned && digest == desired
}

/// The controller owner reference of `fed` when it is the federated object of an annotated
/// source of `target` (same apiVersion and kind).
pub fn source_owner<'a>(fed: &'a Federated, target: &ApiResourceRef) -> Option<&'a OwnerReference> {
    fed.owner_references()
        .iter()
        .find(|o| o.controller == Some(true) && o.api_version == target.api_version() && o.kind == target.kind)
}

/// What the materialize sweep does with a source-owned federated object whose source is not
/// (or no longer) in the labelled-source store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SweepVerdict {
    /// Leave it: its source is still federated (the watch is behind), or has adopted it and
    /// is about to be annotated.
    Keep,
    /// Delete it; keep its member copies when `keep_orphan`.
    Delete {
        /// The source's `kubefed.io/orphan` choice (or `true` when the source is gone).
        keep_orphan: bool,
    },
}

/// The sweep's decision for a federated object controller-owned by `owner` (see
/// [`source_owner`]), given its source as the API server has it now (`None`: not found).
///
/// Only an object the materialize controller wrote is deleted for a source that is no longer
/// federated. That one carries [`desired_federated`]'s owner reference, with
/// `blockOwnerDeletion`. `kubectl fed place` adopts an existing federated object with a plain
/// controller reference *before* it annotates the source: in between, the source is not
/// labelled yet, and deleting the object there would delete and re-create every member copy.
/// A source that is gone (or replaced) loses its object either way; garbage collection
/// would delete it too, so the orphan choice made on it is kept.
pub fn sweep_verdict(owner: &OwnerReference, source: Option<&ObjectMeta>) -> SweepVerdict {
    let Some(source) = source.filter(|s| s.uid.as_deref() == Some(owner.uid.as_str())) else {
        return SweepVerdict::Delete { keep_orphan: true };
    };
    let labelled = source.labels.as_ref().and_then(|l| l.get(keys::FEDERATED_LABEL)).is_some_and(|v| v == "true");
    let materialized = owner.block_owner_deletion == Some(true);
    if labelled || !materialized {
        return SweepVerdict::Keep;
    }
    let keep_orphan = source.annotations.as_ref().is_some_and(annotations::orphaned);
    SweepVerdict::Delete { keep_orphan }
}

/// True when `fed` has a controller owner outside the federation's own API groups (a source):
/// then the source is the host's copy.
pub fn owned_by_source(fed: &Federated) -> bool {
    owned_by_source_meta(&fed.metadata)
}

/// [`owned_by_source`] from a federated object's metadata.
pub fn owned_by_source_meta(meta: &ObjectMeta) -> bool {
    meta.owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true) && !o.api_version.starts_with(&format!("{TYPES_GROUP}/")))
}

/// The namespace of a source's federated object: the source's own, or for a Namespace source
/// the namespace itself (a FederatedNamespace lives in the namespace it federates).
pub fn fed_namespace_of_source(target: &ApiResourceRef, source: &ObjectMeta) -> Option<String> {
    if target.is_namespace() { source.name.clone() } else { source.namespace.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Placement, Scope};

    fn deployments() -> ApiResourceRef {
        ApiResourceRef::v1("apps", "Deployment", "deployments", Scope::Namespaced)
    }

    fn fed_with_owner(api_version: &str, kind: &str, controller: bool) -> Federated {
        let mut f = Federated::new("web", &deployments().federated().api_resource(), FederatedSpec::default());
        f.metadata.namespace = Some("ns".into());
        f.metadata.owner_references = Some(vec![OwnerReference {
            api_version: api_version.into(),
            kind: kind.into(),
            name: "web".into(),
            uid: "u1".into(),
            controller: Some(controller),
            block_owner_deletion: Some(true),
        }]);
        f
    }

    #[test]
    fn source_owner_matches_target_kind_only() {
        let f = fed_with_owner("apps/v1", "Deployment", true);
        assert!(source_owner(&f, &deployments()).is_some());
        assert!(owned_by_source(&f));
        let f = fed_with_owner("apps/v1", "Deployment", false);
        assert!(source_owner(&f, &deployments()).is_none());
        assert!(!owned_by_source(&f));
        let f = fed_with_owner("types.kubefed.io/v1beta1", "FederatedDeployment", true);
        assert!(source_owner(&f, &deployments()).is_none());
        assert!(!owned_by_source(&f));
    }

    #[test]
    fn up_to_date_needs_same_spec_orphan_and_owner() {
        let spec = FederatedSpec {
            template: Some(json!({"spec": {"replicas": 2}})),
            placement: Placement::clusters(["vulcan"]),
            overrides: vec![],
        };
        let mut fed = fed_with_owner("apps/v1", "Deployment", true);
        fed.spec = spec.clone();
        let desired = spec_digest(&spec);
        let plain = FederationAnnotations::default();
        let orphan = FederationAnnotations { orphan: true, ..Default::default() };
        assert!(up_to_date(&fed, desired, &plain, "u1"));
        assert!(!up_to_date(&fed, desired, &plain, "u2"), "another source");
        assert!(!up_to_date(&fed, desired, &orphan, "u1"), "orphan wanted");
        let mut other = spec.clone();
        other.placement = Placement::clusters(["kronos"]);
        assert!(!up_to_date(&fed, spec_digest(&other), &plain, "u1"));
        let divided = FederationAnnotations { replica_scheduling: Some(Default::default()), ..Default::default() };
        assert!(!up_to_date(&fed, desired, &divided, "u1"), "the division's annotation is missing");
        fed.metadata.annotations = Some([(keys::REPLICA_SCHEDULING.to_string(), "{}".to_string())].into());
        assert!(up_to_date(&fed, desired, &divided, "u1"));
        fed.spec.overrides = serde_json::from_value(json!([
            {"clusterName": "vulcan", "clusterOverrides": [{"path": "/spec/replicas", "value": 3}]}
        ]))
        .unwrap();
        assert!(up_to_date(&fed, desired, &divided, "u1"), "the division is the replicas controller's");
        assert!(!up_to_date(&fed, desired, &plain, "u1"));
    }

    #[test]
    fn desired_federated_is_owned_by_the_source() {
        let target = deployments();
        let source: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {
                "name": "web", "namespace": "ns", "uid": "u1",
                "labels": { "kubefed.io/federated": "true", "app": "web" },
                "annotations": { "kubefed.io/placement": "vulcan,kronos", "kubefed.io/orphan": "true" }
            },
            "spec": { "replicas": 2 },
            "status": { "replicas": 2 }
        }))
        .unwrap();
        let ann = annotations::from_annotations(source.annotations()).unwrap().unwrap();
        let d = desired_federated(&source, &ann, &target, &target.federated(), None);
        assert_eq!(d["apiVersion"], "types.kubefed.io/v1beta1");
        assert_eq!(d["kind"], "FederatedDeployment");
        assert_eq!(d["metadata"]["namespace"], "ns");
        assert_eq!(d["metadata"]["annotations"]["kubefed.io/orphan"], "true");
        assert_eq!(d["metadata"]["finalizers"], json!([keys::FINALIZER]));
        let owner = &d["metadata"]["ownerReferences"][0];
        assert_eq!(
            (owner["apiVersion"].as_str(), owner["kind"].as_str(), owner["uid"].as_str()),
            (Some("apps/v1"), Some("Deployment"), Some("u1"))
        );
        assert_eq!((owner["controller"].as_bool(), owner["blockOwnerDeletion"].as_bool()), (Some(true), Some(true)));
        assert_eq!(d["spec"]["template"]["spec"]["replicas"], 2);
        assert!(d["spec"]["template"].get("status").is_none());
        let placed: Vec<String> = d["spec"]["placement"]["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(placed, ["kronos", "vulcan"]);
    }

    #[test]
    fn a_divided_source_carries_its_preferences_and_keeps_the_division() {
        let target = deployments();
        let source: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns", "uid": "u1", "annotations": {
                "kubefed.io/placement": "vulcan,kronos",
                "kubefed.io/replica-scheduling": "{ \"vulcan\": {\"weight\": 1} }",
                "kubefed.io/overrides": r#"{"vulcan":[{"path":"/spec/replicas","value":7},{"path":"/metadata/labels/x","value":"1"}]}"#,
                "kubefed.io/federated-replicas": "9"}},
            "spec": {"replicas": 0}
        }))
        .unwrap();
        let ann = annotations::from_annotations(source.annotations()).unwrap().unwrap();
        let fresh = desired_federated(&source, &ann, &target, &target.federated(), None);
        assert_eq!(fresh["metadata"]["annotations"]["kubefed.io/replica-scheduling"], r#"{"vulcan":{"weight":1}}"#);
        assert_eq!(
            fresh["spec"]["overrides"],
            json!([{"clusterName": "vulcan", "clusterOverrides": [{"path": "/metadata/labels/x", "value": "1"}]}]),
            "the division is the replicas controller's: a user /spec/replicas override does not count"
        );
        assert_eq!(fresh["spec"]["template"]["spec"]["replicas"], 9, "the total");
        let mut existing = fed_with_owner("apps/v1", "Deployment", true);
        existing.spec.overrides = serde_json::from_value(json!([
            {"clusterName": "kronos", "clusterOverrides": [{"path": "/spec/replicas", "value": 6}]},
            {"clusterName": "vulcan", "clusterOverrides": [{"path": "/spec/replicas", "value": 3}]}
        ]))
        .unwrap();
        let kept = desired_federated(&source, &ann, &target, &target.federated(), Some(&existing));
        let division =
            replicas::division(&serde_json::from_value::<FederatedSpec>(kept["spec"].clone()).unwrap().overrides);
        assert_eq!(division, [("kronos".to_string(), 6), ("vulcan".to_string(), 3)].into(), "rewriting keeps it");
    }

    #[test]
    fn the_sweep_deletes_only_what_materialize_wrote_for_a_source_no_longer_federated() {
        let owner = |materialized: bool| OwnerReference {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: "web".into(),
            uid: "u1".into(),
            controller: Some(true),
            block_owner_deletion: materialized.then_some(true),
        };
        let source = |uid: &str, labelled: bool, orphan: bool| ObjectMeta {
            uid: Some(uid.into()),
            labels: labelled.then(|| [(keys::FEDERATED_LABEL.to_string(), "true".to_string())].into()),
            annotations: orphan.then(|| [(keys::ORPHAN.to_string(), "true".to_string())].into()),
            ..Default::default()
        };
        let keep = SweepVerdict::Keep;
        let delete = |keep_orphan| SweepVerdict::Delete { keep_orphan };
        // Adopted by `kubectl fed place`, whose annotations have not landed yet.
        assert_eq!(sweep_verdict(&owner(false), Some(&source("u1", false, false))), keep);
        // Unplaced after it was materialized.
        assert_eq!(sweep_verdict(&owner(true), Some(&source("u1", false, false))), delete(false));
        assert_eq!(sweep_verdict(&owner(true), Some(&source("u1", false, true))), delete(true));
        // Still federated: the store is behind.
        assert_eq!(sweep_verdict(&owner(true), Some(&source("u1", true, false))), keep);
        // Gone, or replaced by another object of the same name.
        assert_eq!(sweep_verdict(&owner(true), None), delete(true));
        assert_eq!(sweep_verdict(&owner(false), None), delete(true));
        assert_eq!(sweep_verdict(&owner(true), Some(&source("u2", true, false))), delete(true));
    }

    #[test]
    fn a_namespace_source_federates_into_itself() {
        let ns = ApiResourceRef::v1("", "Namespace", "namespaces", Scope::Cluster);
        let meta = ObjectMeta { name: Some("shop".into()), ..Default::default() };
        assert_eq!(fed_namespace_of_source(&ns, &meta).as_deref(), Some("shop"));
        let meta = ObjectMeta { name: Some("web".into()), namespace: Some("shop".into()), ..Default::default() };
        assert_eq!(fed_namespace_of_source(&deployments(), &meta).as_deref(), Some("shop"));
    }
}
