//! Table tests of the follow decision against an in-memory federation.

use std::collections::BTreeMap;

use kube::core::ObjectMeta;
use kube::core::admission::{AdmissionRequest, AdmissionReview};
use serde_json::{Value, json};

use super::super::memory::MemoryView;
use super::super::{Endpoint, review};
use super::{label_wanted, placement_annotations};
use crate::api::{
    ApiResourceRef, ClusterSelector, Federated, FederatedSpec, FederatedTypeConfig, FederatedTypeConfigSpec, Placement,
    Propagation, Scope,
};
use crate::keys;
use crate::placement::JoinedCluster;

fn config(group: &str, kind: &str, plural: &str, propagation: Propagation) -> FederatedTypeConfig {
    let mut spec = FederatedTypeConfigSpec::for_target(ApiResourceRef::v1(group, kind, plural, Scope::Namespaced));
    spec.propagation = propagation;
    FederatedTypeConfig::new(&spec.target_type.qualified_plural(), spec)
}

fn fns(namespace: &str, placement: Placement, annotations: &[(&str, &str)]) -> Federated {
    let annotations: BTreeMap<String, String> =
        annotations.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Federated {
        types: None,
        metadata: ObjectMeta {
            name: Some(namespace.into()),
            namespace: Some(namespace.into()),
            annotations: Some(annotations),
            ..Default::default()
        },
        spec: FederatedSpec { template: None, placement, overrides: Vec::new() },
        status: None,
    }
}

/// earth (host) and vulcan; deployments, configmaps, services and pods enabled, secrets
/// disabled. Namespace `demo` follows with FederatedNamespace earth+vulcan; `bare` follows
/// with no FederatedNamespace and a recorded placement (vulcan); `plain` follows with nothing
/// recorded; `off` has a FederatedNamespace annotated follow=false.
fn view() -> MemoryView {
    let earth = JoinedCluster { name: "earth".into(), is_host: true, ..Default::default() };
    let vulcan = JoinedCluster { name: "vulcan".into(), ..Default::default() };
    MemoryView {
        clusters: vec![earth, vulcan],
        configs: vec![
            config("apps", "Deployment", "deployments", Propagation::Enabled),
            config("", "ConfigMap", "configmaps", Propagation::Enabled),
            config("", "Service", "services", Propagation::Enabled),
            config("", "Pod", "pods", Propagation::Enabled),
            config("", "Secret", "secrets", Propagation::Disabled),
        ],
        namespaces: vec![
            fns("demo", Placement::clusters(["earth", "vulcan"]), &[]),
            fns("off", Placement::clusters(["vulcan"]), &[(keys::FOLLOW, "false")]),
            fns("empty", Placement::default(), &[]),
        ],
        followed: [
            ("demo".to_string(), BTreeMap::new()),
            ("bare".to_string(), [(keys::FOLLOW_PLACEMENT.to_string(), "vulcan".to_string())].into()),
            ("plain".to_string(), BTreeMap::new()),
        ]
        .into(),
        ..Default::default()
    }
}

fn request(operation: &str, gvr: (&str, &str, &str), object: Value) -> AdmissionRequest<DynamicObject> {
    let (group, kind, resource) = gvr;
    let review: AdmissionReview<DynamicObject> = serde_json::from_value(json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "req-1",
            "kind": {"group": group, "version": "v1", "kind": kind},
            "resource": {"group": group, "version": "v1", "resource": resource},
            "name": object["metadata"]["name"],
            "namespace": object["metadata"]["namespace"],
            "operation": operation,
            "userInfo": {"username": "alice"},
            "object": object,
            "oldObject": if operation == "UPDATE" { object.clone() } else { Value::Null },
        }
    }))
    .expect("a valid AdmissionReview");
    review.try_into().expect("a request")
}

use kube::core::DynamicObject;

const DEPLOYMENT: (&str, &str, &str) = ("apps", "Deployment", "deployments");
const CONFIG_MAP: (&str, &str, &str) = ("", "ConfigMap", "configmaps");
const SERVICE_ACCOUNT: (&str, &str, &str) = ("", "ServiceAccount", "serviceaccounts");
const SECRET: (&str, &str, &str) = ("", "Secret", "secrets");
const POD: (&str, &str, &str) = ("", "Pod", "pods");
const STATEFUL_SET: (&str, &str, &str) = ("apps", "StatefulSet", "statefulsets");

fn object(ns: &str, name: &str, extra: Value) -> Value {
    let mut o = json!({"metadata": {"name": name, "namespace": ns}, "spec": {"replicas": 2}});
    json_patch::merge(&mut o, &extra);
    o
}

/// The object after the follow webhook's patch, and the response's warnings.
fn followed(req: &AdmissionRequest<DynamicObject>) -> (Value, Vec<String>) {
    let response = review(&view(), Endpoint::Follow, req);
    assert!(response.allowed, "denied: {}", response.result.message);
    let mut obj = serde_json::to_value(req.object.as_ref().unwrap()).unwrap();
    if let Some(patch) = &response.patch {
        let patch: json_patch::Patch = serde_json::from_slice(patch).unwrap();
        json_patch::patch(&mut obj, &patch).expect("the patch applies");
    }
    (obj, response.warnings.unwrap_or_default())
}

fn ann(obj: &Value, key: &str) -> Option<String> {
    obj["metadata"]["annotations"][key].as_str().map(str::to_string)
}

#[test]
fn new_objects_take_their_namespace_placement() {
    // (namespace, placement annotation, cluster-selector annotation)
    let cases = [("demo", Some("earth,vulcan"), None), ("bare", Some("vulcan"), None), ("plain", Some("*"), None)];
    for (ns, placement, selector) in cases {
        let (obj, warnings) = followed(&request("CREATE", DEPLOYMENT, object(ns, "web", json!({}))));
        assert_eq!(ann(&obj, keys::PLACEMENT).as_deref(), placement, "{ns}");
        assert_eq!(ann(&obj, keys::CLUSTER_SELECTOR).as_deref(), selector, "{ns}");
        assert_eq!(obj["metadata"]["labels"][keys::FEDERATED_LABEL], "true", "{ns}: a source, as /mutate makes it");
        assert!(warnings.is_empty(), "{ns}: {warnings:?}");
    }
    // vulcan only: the host copy is pinned to zero replicas, as /mutate does to any source.
    let (obj, _) = followed(&request("CREATE", DEPLOYMENT, object("bare", "web", json!({}))));
    assert_eq!(obj["spec"]["replicas"], 0);
    assert_eq!(ann(&obj, keys::FEDERATED_REPLICAS).as_deref(), Some("2"));
    let (obj, _) = followed(&request("CREATE", CONFIG_MAP, object("demo", "settings", json!({"data": {"a": "b"}}))));
    assert_eq!(ann(&obj, keys::PLACEMENT).as_deref(), Some("earth,vulcan"));
    let (obj, _) = followed(&request("CREATE", POD, object("demo", "bare-pod", json!({}))));
    assert_eq!(ann(&obj, keys::PLACEMENT).as_deref(), Some("earth,vulcan"), "a Pod nobody owns follows");
}

#[test]
fn the_patched_object_needs_nothing_more_from_mutate() {
    let req = request("CREATE", DEPLOYMENT, object("bare", "web", json!({"metadata": {"labels": {"app": "web"}}})));
    let (obj, _) = followed(&req);
    let mut again = req.clone();
    again.object = Some(serde_json::from_value(obj).unwrap());
    let response = review(&view(), Endpoint::Mutate, &again);
    assert!(response.allowed && response.patch.is_none(), "{:?}", response.patch.map(String::from_utf8));
}

#[test]
fn what_is_not_the_namespace_own_or_opts_out_is_left_alone() {
    let owned = json!({"metadata": {"ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "u", "controller": true}]}});
    let own_placement = json!({"metadata": {"annotations": {keys::PLACEMENT: "earth"}}});
    let own_selector = json!({"metadata": {"annotations": {keys::CLUSTER_SELECTOR: "region=eu"}}});
    let opted_out = json!({"metadata": {"annotations": {keys::FOLLOW: "false"}}});
    let copy = json!({"metadata": {"labels": {keys::MANAGED_LABEL: "true"}}});
    let cases = [
        ("CREATE", POD, object("demo", "web-1-abc", owned), "controller-made Pod"),
        ("CREATE", DEPLOYMENT, object("demo", "web", own_placement), "own placement"),
        ("CREATE", DEPLOYMENT, object("demo", "web", own_selector), "own selector"),
        ("CREATE", DEPLOYMENT, object("demo", "web", opted_out), "follow: false"),
        ("CREATE", DEPLOYMENT, object("demo", "web", copy), "a federation copy"),
        ("CREATE", SERVICE_ACCOUNT, object("demo", "default", json!({})), "default ServiceAccount"),
        ("CREATE", CONFIG_MAP, object("demo", "kube-root-ca.crt", json!({})), "root CA"),
        ("CREATE", SECRET, object("demo", "t", json!({"type": "kubernetes.io/service-account-token"})), "token Secret"),
        ("UPDATE", DEPLOYMENT, object("demo", "web", json!({})), "an update"),
        ("CREATE", DEPLOYMENT, object("off", "web", json!({})), "FederatedNamespace follow: false"),
    ];
    for (op, gvr, obj, what) in cases {
        let before = obj.clone();
        let (after, warnings) = followed(&request(op, gvr, obj));
        assert_eq!(after, before, "{what}: unchanged");
        assert!(warnings.is_empty(), "{what}: {warnings:?}");
    }
}

#[test]
fn types_not_enabled_are_admitted_with_the_command_that_enables_them() {
    for (gvr, qualified) in [(STATEFUL_SET, "statefulsets.apps"), (SECRET, "secrets")] {
        let obj = object("demo", "db", json!({"type": "Opaque"}));
        let (after, warnings) = followed(&request("CREATE", gvr, obj.clone()));
        assert_eq!(after, obj, "{qualified}");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains(&format!("run: kubectl fed enable {qualified}")), "{}", warnings[0]);
        assert!(warnings[0].contains("stays on the host only"), "{}", warnings[0]);
    }
}

#[test]
fn a_namespace_placed_nowhere_or_not_seen_yet_says_so() {
    let (after, warnings) = followed(&request("CREATE", DEPLOYMENT, object("empty", "web", json!({}))));
    assert!(ann(&after, keys::PLACEMENT).is_none());
    assert!(warnings[0].contains("places its namespace on no cluster"), "{warnings:?}");
    let response = review(&view(), Endpoint::Follow, &request("CREATE", DEPLOYMENT, object("new", "web", json!({}))));
    assert!(!response.allowed);
    assert!(response.result.message.contains("has not seen it follow yet; retry"), "{}", response.result.message);
}

#[test]
fn placements_become_source_annotations() {
    let one = |k: &str, v: &str| Some(BTreeMap::from([(k.to_string(), v.to_string())]));
    let eu = ClusterSelector { match_labels: [("region".into(), "eu".into())].into(), ..Default::default() };
    let cases = [
        (Placement::clusters(["a", "b"]), one(keys::PLACEMENT, "a,b")),
        (Placement { clusters: None, cluster_selector: Some(eu.clone()) }, one(keys::CLUSTER_SELECTOR, "region=eu")),
        (Placement { clusters: None, cluster_selector: Some(ClusterSelector::default()) }, one(keys::PLACEMENT, "*")),
        (Placement { cluster_selector: Some(eu), ..Placement::clusters(["a"]) }, one(keys::PLACEMENT, "a")),
        (Placement::clusters(Vec::<&str>::new()), None),
        (Placement::default(), None),
    ];
    for (placement, want) in cases {
        assert_eq!(placement_annotations(&placement), want, "{placement:?}");
    }
}

#[test]
fn a_federated_namespace_annotation_turns_the_label_on_or_off() {
    let with = |v: &str| BTreeMap::from([(keys::FOLLOW.to_string(), v.to_string())]);
    assert_eq!(label_wanted(&with("true")), Some(true));
    assert_eq!(label_wanted(&with("false")), Some(false));
    assert_eq!(label_wanted(&with("yes")), None);
    assert_eq!(label_wanted(&BTreeMap::new()), None, "no annotation: kubectl fed follow decides");
}
