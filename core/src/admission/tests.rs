//! Table-driven tests of every admission rule against an in-memory federation.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::core::ObjectMeta;
use kube::core::admission::AdmissionReview;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::api::{
    ApiResourceRef, Federated, FederatedSpec, FederatedTypeConfig, FederatedTypeConfigSpec, Placement, Propagation,
    Scope,
};
use crate::keys;
use crate::placement::JoinedCluster;

// ---- the in-memory federation ----

use super::memory::MemoryView as View;

fn cluster(name: &str, region: &str) -> JoinedCluster {
    JoinedCluster {
        name: name.into(),
        labels: [("region".to_string(), region.to_string())].into(),
        ..Default::default()
    }
}

fn deployments() -> ApiResourceRef {
    ApiResourceRef::v1("apps", "Deployment", "deployments", Scope::Namespaced)
}

fn type_config(target: ApiResourceRef, propagation: Propagation) -> FederatedTypeConfig {
    let mut spec = FederatedTypeConfigSpec::for_target(target);
    spec.propagation = propagation;
    FederatedTypeConfig::new(&spec.target_type.qualified_plural(), spec)
}

/// earth (the host, eu), vulcan (eu), kronos (us); deployments, configmaps and namespaces
/// enabled, services configured but disabled.
fn federation() -> View {
    let mut earth = cluster("earth", "eu");
    earth.is_host = true;
    View {
        clusters: vec![earth, cluster("vulcan", "eu"), cluster("kronos", "us")],
        configs: vec![
            type_config(deployments(), Propagation::Enabled),
            type_config(ApiResourceRef::v1("", "ConfigMap", "configmaps", Scope::Namespaced), Propagation::Enabled),
            type_config(ApiResourceRef::v1("", "Namespace", "namespaces", Scope::Cluster), Propagation::Enabled),
            type_config(ApiResourceRef::v1("", "Service", "services", Scope::Namespaced), Propagation::Disabled),
        ],
        ..Default::default()
    }
}

fn federated(namespace: &str, name: &str, placement: Placement) -> Federated {
    Federated {
        types: None,
        metadata: ObjectMeta { name: Some(name.into()), namespace: Some(namespace.into()), ..Default::default() },
        spec: FederatedSpec { template: None, placement, overrides: Vec::new() },
        status: None,
    }
}

/// The federation with FederatedNamespace `shop/shop` placing on earth only.
fn with_shop_policy() -> View {
    let mut view = federation();
    view.namespaces.push(federated("shop", "shop", Placement::clusters(["earth"])));
    view
}

/// The federation with a FederatedDeployment `shop/web` owned by `owner` (kind, name, uid).
fn with_existing_federated(owner: Option<(&str, &str, &str)>) -> View {
    let mut view = federation();
    let mut existing = federated("shop", "web", Placement::clusters(["vulcan"]));
    existing.metadata.owner_references = owner.map(|(kind, name, uid)| {
        vec![OwnerReference {
            api_version: "apps/v1".into(),
            kind: kind.into(),
            name: name.into(),
            uid: uid.into(),
            ..Default::default()
        }]
    });
    view.federated.push((deployments().federated(), existing));
    view
}

// ---- requests ----

/// (group, version, kind, plural) of the object under review.
type Gvkr = (&'static str, &'static str, &'static str, &'static str);

const DEPLOYMENT: Gvkr = ("apps", "v1", "Deployment", "deployments");
const STATEFUL_SET: Gvkr = ("apps", "v1", "StatefulSet", "statefulsets");
const CONFIG_MAP: Gvkr = ("", "v1", "ConfigMap", "configmaps");
const SERVICE: Gvkr = ("", "v1", "Service", "services");
const NAMESPACE: Gvkr = ("", "v1", "Namespace", "namespaces");
const FEDERATED_DEPLOYMENT: Gvkr = ("types.kubefed.io", "v1beta1", "FederatedDeployment", "federateddeployments");
const FEDERATED_NS: Gvkr = ("types.kubefed.io", "v1beta1", "FederatedNamespace", "federatednamespaces");
const KUBEFED_CLUSTER: Gvkr = ("core.kubefed.io", "v1beta1", "KubeFedCluster", "kubefedclusters");
const TYPE_CONFIG: Gvkr = ("core.kubefed.io", "v1beta1", "FederatedTypeConfig", "federatedtypeconfigs");

fn request(operation: &str, gvkr: Gvkr, object: Option<Value>, old: Option<Value>) -> AdmissionRequest<DynamicObject> {
    let (group, version, kind, resource) = gvkr;
    let meta = object.as_ref().or(old.as_ref()).map(|o| o["metadata"].clone()).unwrap_or_default();
    let review: AdmissionReview<DynamicObject> = serde_json::from_value(json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "req-1",
            "kind": {"group": group, "version": version, "kind": kind},
            "resource": {"group": group, "version": version, "resource": resource},
            "name": meta["name"].as_str().unwrap_or_default(),
            "namespace": meta["namespace"],
            "operation": operation,
            "userInfo": {"username": "alice"},
            "object": object,
            "oldObject": old,
            "dryRun": false
        }
    }))
    .expect("a valid AdmissionReview");
    review.try_into().expect("a request")
}

fn create(gvkr: Gvkr, object: Value) -> AdmissionRequest<DynamicObject> {
    request("CREATE", gvkr, Some(object), None)
}

fn update(gvkr: Gvkr, object: Value, old: Value) -> AdmissionRequest<DynamicObject> {
    request("UPDATE", gvkr, Some(object), Some(old))
}

/// A Deployment `shop/web` with these annotations and replicas.
fn deployment(annotations: &[(&str, &str)], replicas: i64) -> Value {
    let annotations: BTreeMap<_, _> = annotations.iter().copied().collect();
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "annotations": annotations},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}}
    })
}

fn placed(placement: &str) -> Value {
    deployment(&[(keys::PLACEMENT, placement)], 2)
}

fn federated_deployment(spec: Value) -> Value {
    json!({
        "apiVersion": "types.kubefed.io/v1beta1", "kind": "FederatedDeployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": spec
    })
}

// ---- outcomes ----

fn validate(view: &View, req: &AdmissionRequest<DynamicObject>) -> AdmissionResponse {
    review(view, Endpoint::Validate, req)
}

fn mutate(view: &View, req: &AdmissionRequest<DynamicObject>) -> AdmissionResponse {
    review(view, Endpoint::Mutate, req)
}

#[track_caller]
fn assert_allowed(response: &AdmissionResponse) {
    assert!(response.allowed, "denied: {}", response.result.message);
}

#[track_caller]
fn assert_denied(response: &AdmissionResponse, want: &str) {
    assert!(!response.allowed, "allowed, expected a denial containing {want:?}");
    assert!(response.result.message.contains(want), "{:?} does not contain {want:?}", response.result.message);
    assert!(!response.result.message.contains('\n'), "one line: {:?}", response.result.message);
}

fn warnings(response: &AdmissionResponse) -> Vec<String> {
    response.warnings.clone().unwrap_or_default()
}

fn patch_of(response: &AdmissionResponse) -> json_patch::Patch {
    response.patch.as_ref().map(|p| serde_json::from_slice(p).expect("a JSON patch")).unwrap_or_default()
}

/// The object as the API server stores it after the mutating webhook's patch.
fn mutated(view: &View, req: &AdmissionRequest<DynamicObject>) -> Value {
    let response = mutate(view, req);
    assert_allowed(&response);
    let mut object = serde_json::to_value(req.object.as_ref().expect("an object")).unwrap();
    json_patch::patch(&mut object, &patch_of(&response)).expect("the patch applies");
    object
}

fn annotation(object: &Value, key: &str) -> Option<String> {
    object["metadata"]["annotations"][key].as_str().map(str::to_string)
}

// ---- validate: annotated sources ----

#[test]
fn sources_with_valid_annotations_are_admitted() {
    let view = federation();
    let cases = [
        deployment(&[], 2),
        placed("earth"),
        placed(" vulcan,earth"),
        placed("*"),
        deployment(&[(keys::CLUSTER_SELECTOR, "region=eu")], 2),
        deployment(&[(keys::CLUSTER_SELECTOR, "")], 2),
        deployment(
            &[(keys::PLACEMENT, "vulcan"), (keys::OVERRIDES, r#"{"vulcan":[{"path":"/spec/replicas","value":5}]}"#)],
            2,
        ),
        deployment(&[(keys::PLACEMENT, "vulcan"), (keys::ORPHAN, "true")], 2),
        deployment(&[("unrelated", "x")], 2),
    ];
    for object in cases {
        let response = validate(&view, &create(DEPLOYMENT, object.clone()));
        assert_allowed(&response);
        assert_eq!(warnings(&response), Vec::<String>::new(), "{object}");
    }
}

#[test]
fn sources_are_denied_with_an_actionable_message() {
    let view = federation();
    let cases: Vec<(Gvkr, Value, &str)> = vec![
        (
            DEPLOYMENT,
            placed("earth,mars"),
            "Deployment \"shop/web\": kubefed.io/placement: cluster \"mars\" is not joined to the federation (joined: earth, kronos, vulcan)",
        ),
        (
            DEPLOYMENT,
            placed("vulcn"),
            "cluster \"vulcn\" is not joined to the federation (joined: earth, kronos, vulcan); did you mean \"vulcan\"?",
        ),
        (DEPLOYMENT, placed("earth,,vulcan"), "kubefed.io/placement: item 2 of \"earth,,vulcan\" is empty"),
        (DEPLOYMENT, placed("earth,*"), "kubefed.io/placement: item 2 \"*\" means every cluster"),
        (DEPLOYMENT, placed(""), "kubefed.io/placement: the value is empty"),
        (
            DEPLOYMENT,
            deployment(&[(keys::CLUSTER_SELECTOR, "region=eu,tier!!=x")], 2),
            "kubefed.io/cluster-selector: term 2 \"tier!!=x\"",
        ),
        (
            DEPLOYMENT,
            deployment(
                &[(keys::PLACEMENT, "vulcan"), (keys::OVERRIDES, r#"{"vulcan":[{"path":"spec/replicas","value":1}]}"#)],
                2,
            ),
            "kubefed.io/overrides: cluster \"vulcan\": operation 0: path \"spec/replicas\" is not a valid JSON pointer: it must start with \"/\"",
        ),
        (
            DEPLOYMENT,
            deployment(
                &[
                    (keys::PLACEMENT, "vulcan"),
                    (keys::OVERRIDES, r#"{"vulcan":[{"op":"move","path":"/spec/replicas"}]}"#),
                ],
                2,
            ),
            "kubefed.io/overrides: cluster \"vulcan\": operation 0: op \"move\" is not supported (use add, remove or replace)",
        ),
        (
            DEPLOYMENT,
            deployment(
                &[
                    (keys::PLACEMENT, "vulcan"),
                    (keys::OVERRIDES, r#"{"kronos":[{"path":"/spec/replicas","value":1}]}"#),
                ],
                2,
            ),
            "kubefed.io/overrides: cluster \"kronos\" is not in the placement (placed: vulcan); add it to the placement or remove its overrides",
        ),
        (
            DEPLOYMENT,
            deployment(&[(keys::CLUSTER_SELECTOR, "region=us"), (keys::OVERRIDES, r#"{"earth":[]}"#)], 2),
            "cluster \"earth\" is not in the placement (placed: kronos)",
        ),
        (
            DEPLOYMENT,
            deployment(&[(keys::PLACEMENT, "vulcan"), (keys::OVERRIDES, "[]")], 2),
            "kubefed.io/overrides: expected a JSON object",
        ),
        (
            DEPLOYMENT,
            deployment(&[(keys::PLACEMENT, "vulcan"), (keys::ORPHAN, "yes")], 2),
            "kubefed.io/orphan: \"yes\" is not \"true\" or \"false\"",
        ),
        (DEPLOYMENT, deployment(&[(keys::ORPHAN, "yes")], 2), "kubefed.io/orphan"),
        (
            STATEFUL_SET,
            placed("vulcan"),
            "StatefulSet \"shop/web\": statefulsets.apps is not enabled for federation; run: kubectl fed enable statefulsets.apps",
        ),
        (
            SERVICE,
            placed("vulcan"),
            "federation of services is disabled (spec.propagation: Disabled); run: kubectl fed enable services",
        ),
    ];
    for (gvkr, object, want) in cases {
        assert_denied(&validate(&view, &create(gvkr, object)), want);
    }
}

#[test]
fn a_type_that_is_not_enabled_is_named_with_its_core_group_plural() {
    let mut view = federation();
    view.configs.retain(|c| c.spec.target_type.kind != "ConfigMap");
    let config_map = json!({"metadata": {"name": "cfg", "namespace": "shop", "annotations": {keys::PLACEMENT: "vulcan"}}, "data": {}});
    assert_denied(
        &validate(&view, &create(CONFIG_MAP, config_map)),
        "configmaps is not enabled for federation; run: kubectl fed enable configmaps",
    );
}

#[test]
fn namespace_policy_limits_sources() {
    let view = with_shop_policy();
    assert_allowed(&validate(&view, &create(DEPLOYMENT, placed("earth"))));
    let cases = [
        (
            placed("vulcan"),
            "cluster \"vulcan\" is outside the placement of FederatedNamespace \"shop/shop\" (allowed: earth); place within it or widen the FederatedNamespace",
        ),
        (placed("*"), "clusters \"kronos\", \"vulcan\" are outside the placement of FederatedNamespace \"shop/shop\""),
        (deployment(&[(keys::CLUSTER_SELECTOR, "region=eu")], 2), "cluster \"vulcan\" is outside"),
    ];
    for (object, want) in cases {
        assert_denied(&validate(&view, &create(DEPLOYMENT, object)), want);
    }
    // Another namespace is not limited by shop's policy.
    let mut elsewhere = placed("vulcan");
    elsewhere["metadata"]["namespace"] = json!("other");
    assert_allowed(&validate(&view, &create(DEPLOYMENT, elsewhere)));
}

#[test]
fn a_namespace_source_is_not_limited_by_its_own_policy() {
    let view = with_shop_policy();
    let namespace = json!({"metadata": {"name": "shop", "annotations": {keys::PLACEMENT: "earth,vulcan"}}});
    assert_allowed(&validate(&view, &create(NAMESPACE, namespace)));
}

#[test]
fn name_clashes_with_federated_objects_not_owned_by_the_source() {
    let clash = "FederatedDeployment \"shop/web\" already exists and is not owned by this Deployment; rename one of them or delete the FederatedDeployment";
    let with_uid = |mut object: Value| {
        object["metadata"]["uid"] = json!("uid-1");
        object
    };
    let cases: Vec<(View, AdmissionRequest<DynamicObject>, Option<&str>)> = vec![
        (federation(), create(DEPLOYMENT, placed("vulcan")), None),
        (with_existing_federated(None), create(DEPLOYMENT, placed("vulcan")), Some(clash)),
        (
            with_existing_federated(Some(("Deployment", "web", "old-uid"))),
            create(DEPLOYMENT, with_uid(placed("vulcan"))),
            None,
        ),
        (with_existing_federated(Some(("StatefulSet", "web", "x"))), create(DEPLOYMENT, placed("vulcan")), Some(clash)),
        (
            with_existing_federated(Some(("Deployment", "other", "x"))),
            create(DEPLOYMENT, placed("vulcan")),
            Some(clash),
        ),
        (
            with_existing_federated(Some(("Deployment", "web", "uid-1"))),
            update(DEPLOYMENT, with_uid(placed("vulcan")), with_uid(placed("vulcan"))),
            None,
        ),
        (
            with_existing_federated(Some(("Deployment", "web", "old-uid"))),
            update(DEPLOYMENT, with_uid(placed("vulcan")), with_uid(deployment(&[], 2))),
            Some(clash),
        ),
    ];
    for (view, req, want) in cases {
        let response = validate(&view, &req);
        match want {
            None => assert_allowed(&response),
            Some(want) => assert_denied(&response, want),
        }
    }
}

#[test]
fn sources_get_warnings() {
    let mut view = federation();
    view.clusters[2].offline = true;
    let offline = "cluster \"kronos\" is Offline; the object reaches it once it is back";
    let both = "both kubefed.io/placement and kubefed.io/cluster-selector are set; kubefed.io/placement wins and kubefed.io/cluster-selector is ignored";
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (placed("kronos,vulcan"), vec![offline]),
        (placed("vulcan"), vec![]),
        (deployment(&[(keys::CLUSTER_SELECTOR, "region=us")], 2), vec![offline]),
        (deployment(&[(keys::PLACEMENT, "vulcan"), (keys::CLUSTER_SELECTOR, "region=us")], 2), vec![both]),
        (deployment(&[(keys::PLACEMENT, "*"), (keys::CLUSTER_SELECTOR, "region=us")], 2), vec![offline, both]),
    ];
    for (object, want) in cases {
        let response = validate(&view, &create(DEPLOYMENT, object));
        assert_allowed(&response);
        assert_eq!(warnings(&response), want);
    }
}

#[test]
fn removing_the_annotations_is_always_admitted() {
    let mut view = federation();
    view.configs.clear();
    let req = update(DEPLOYMENT, deployment(&[], 2), placed("mars"));
    assert_allowed(&validate(&view, &req));
}

#[test]
fn an_object_being_deleted_is_admitted_whatever_it_names() {
    let view = federation();
    let named_mars = federated_deployment(json!({ "placement": { "clusters": [{ "name": "mars" }] } }));
    let mut finalizer_removed = named_mars.clone();
    finalizer_removed["metadata"]["deletionTimestamp"] = json!("2026-12-02T00:00:00Z");
    let req = update(FEDERATED_DEPLOYMENT, finalizer_removed, named_mars.clone());
    assert_allowed(&validate(&view, &req));
    let mut source = placed("mars");
    source["metadata"]["deletionTimestamp"] = json!("2026-12-02T00:00:00Z");
    assert_allowed(&validate(&view, &update(DEPLOYMENT, source, placed("mars"))));
    let live = update(FEDERATED_DEPLOYMENT, named_mars.clone(), named_mars);
    assert_denied(&validate(&view, &live), "cluster \"mars\" is not joined");
}

#[test]
fn objects_another_object_controls_are_not_sources() {
    // A ReplicaSet that the deployment controller made for an annotated Deployment: it inherits
    // the Deployment's annotations, its type is not enabled, and it must still be admitted.
    const REPLICA_SET: Gvkr = ("apps", "v1", "ReplicaSet", "replicasets");
    let view = federation();
    let replica_set = |controller: Option<bool>| {
        json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {
                "name": "web-5fc9f4bf66", "namespace": "shop",
                "annotations": {keys::PLACEMENT: "mars", keys::OVERRIDES: "not json"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                     "uid": "u-1", "controller": controller}]
            },
            "spec": {"replicas": 2}
        })
    };
    for req in [
        create(REPLICA_SET, replica_set(Some(true))),
        update(REPLICA_SET, replica_set(Some(true)), replica_set(Some(true))),
    ] {
        let response = validate(&view, &req);
        assert_allowed(&response);
        assert!(warnings(&response).is_empty());
        let response = mutate(&view, &req);
        assert_allowed(&response);
        assert!(response.patch.is_none(), "a controlled object is never mutated");
    }
    // An owner that does not control it leaves the object a source like any other.
    for controller in [None, Some(false)] {
        assert_denied(
            &validate(&view, &create(REPLICA_SET, replica_set(controller))),
            "kubefed.io/overrides: not valid JSON",
        );
    }
    // Our own objects are reviewed even when controlled (a source owns its Federated object).
    let mut fed = federated_deployment(json!({"placement": {"clusters": [{"name": "mars"}]}}));
    fed["metadata"]["ownerReferences"] =
        json!([{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "u-1", "controller": true}]);
    assert_denied(&validate(&view, &create(FEDERATED_DEPLOYMENT, fed)), "cluster \"mars\" is not joined");
}

// ---- validate: Federated<Kind> ----

#[test]
fn federated_objects_are_checked_like_sources() {
    let view = with_shop_policy();
    let mut unrestricted = view.clone();
    unrestricted.namespaces.clear();
    let ok = [
        json!({"placement": {"clusters": [{"name": "earth"}]}}),
        json!({"template": {"spec": {"replicas": 1}}, "placement": {"clusterSelector": {"matchLabels": {"region": "us"}}}}),
        json!({}),
    ];
    for spec in ok {
        assert_allowed(&validate(&unrestricted, &create(FEDERATED_DEPLOYMENT, federated_deployment(spec))));
    }
    let cases = [
        (
            &view,
            json!({"placement": {"clusters": [{"name": "mars"}]}}),
            "FederatedDeployment \"shop/web\": spec.placement.clusters: cluster \"mars\" is not joined to the federation (joined: earth, kronos, vulcan)",
        ),
        (
            &view,
            json!({"placement": {"clusters": [{"name": "vulcan"}]}}),
            "cluster \"vulcan\" is outside the placement of FederatedNamespace \"shop/shop\"",
        ),
        (
            &unrestricted,
            json!({"placement": {"clusterSelector": {"matchExpressions": [{"key": "region", "operator": "Gt", "values": ["1"]}]}}}),
            "spec.placement.clusterSelector: matchExpressions[0]: unknown operator \"Gt\"",
        ),
        (
            &unrestricted,
            json!({"placement": {"clusters": [{"name": "vulcan"}]}, "overrides": [{"clusterName": "vulcan", "clusterOverrides": [{"path": "replicas", "value": 1}]}]}),
            "spec.overrides: cluster \"vulcan\": operation 0: path \"replicas\" is not a valid JSON pointer",
        ),
        (
            &unrestricted,
            json!({"placement": {"clusters": [{"name": "vulcan"}]}, "overrides": [{"clusterName": "vulcan", "clusterOverrides": [{"op": "move", "path": "/a"}]}]}),
            "operation 0: op \"move\" is not supported",
        ),
        (
            &unrestricted,
            json!({"placement": {"clusters": [{"name": "vulcan"}]}, "overrides": [{"clusterName": "kronos", "clusterOverrides": []}]}),
            "spec.overrides: cluster \"kronos\" is not in the placement (placed: vulcan)",
        ),
        (
            &unrestricted,
            json!({"placement": {"clusters": [{"name": "vulcan"}]}, "overrides": [{"clusterName": "vulcan"}, {"clusterName": "vulcan"}]}),
            "spec.overrides: cluster \"vulcan\" appears more than once; merge its operations into one entry",
        ),
        (
            &unrestricted,
            json!({"placement": "earth"}),
            "FederatedDeployment \"shop/web\": spec.placement: invalid type: string \"earth\"",
        ),
        (&unrestricted, json!({"overrides": {"vulcan": []}}), "spec.overrides: invalid type: map"),
        (&unrestricted, json!({"template": [1]}), "spec.template must be an object"),
    ];
    for (view, spec, want) in cases {
        assert_denied(&validate(view, &create(FEDERATED_DEPLOYMENT, federated_deployment(spec))), want);
    }
}

#[test]
fn federated_objects_get_warnings() {
    let mut view = federation();
    view.clusters[1].offline = true;
    let spec = json!({"placement": {"clusters": [{"name": "vulcan"}], "clusterSelector": {}}});
    let response = validate(&view, &create(FEDERATED_DEPLOYMENT, federated_deployment(spec)));
    assert_allowed(&response);
    assert_eq!(
        warnings(&response),
        [
            "cluster \"vulcan\" is Offline; the object reaches it once it is back",
            "both spec.placement.clusters and spec.placement.clusterSelector are set; spec.placement.clusters wins and spec.placement.clusterSelector is ignored",
        ]
    );
}

fn federated_namespace(name: &str, clusters: &[&str]) -> Value {
    let clusters: Vec<Value> = clusters.iter().map(|c| json!({"name": c})).collect();
    json!({
        "apiVersion": "types.kubefed.io/v1beta1", "kind": "FederatedNamespace",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"placement": {"clusters": clusters}}
    })
}

#[test]
fn federated_namespaces() {
    let view = with_shop_policy();
    // Widening the policy itself is not limited by the old policy.
    let widen = update(
        FEDERATED_NS,
        federated_namespace("shop", &["earth", "vulcan"]),
        federated_namespace("shop", &["earth"]),
    );
    let response = validate(&view, &widen);
    assert_allowed(&response);
    assert!(warnings(&response).is_empty());

    assert_denied(
        &validate(&view, &create(FEDERATED_NS, federated_namespace("second", &["earth"]))),
        "FederatedNamespace \"shop/second\": namespace \"shop\" already has FederatedNamespace \"shop\"; only one per namespace",
    );
    assert_denied(
        &validate(&view, &create(FEDERATED_NS, federated_namespace("shop", &["mars"]))),
        "cluster \"mars\" is not joined",
    );

    let response = validate(&federation(), &create(FEDERATED_NS, federated_namespace("other", &["earth"])));
    assert_allowed(&response);
    assert_eq!(
        warnings(&response),
        [
            "FederatedNamespace \"other\" is named differently from its namespace; it still governs namespace \"shop\" (name it \"shop\" to avoid confusion)"
        ]
    );
}

// ---- validate: core.kubefed.io ----

fn kubefed_cluster(name: &str, endpoint: &str, secret: &str) -> Value {
    json!({
        "apiVersion": "core.kubefed.io/v1beta1", "kind": "KubeFedCluster",
        "metadata": {"name": name, "namespace": "kube-federation-system"},
        "spec": {"apiEndpoint": endpoint, "secretRef": {"name": secret}}
    })
}

#[test]
fn kubefed_clusters() {
    let view = federation();
    for endpoint in ["https://127.0.0.1:6443", "https://vulcan.example", "https://[::1]:6443/prefix", "https://h:443/"]
    {
        assert_allowed(&validate(&view, &create(KUBEFED_CLUSTER, kubefed_cluster("vulcan", endpoint, "vulcan-token"))));
    }
    let cases = [
        (
            kubefed_cluster("Vulcan", "https://h", "s"),
            "KubeFedCluster \"kube-federation-system/Vulcan\": the name must be a DNS-1123 label: it must consist of lower case",
        ),
        (kubefed_cluster("a.b", "https://h", "s"), "the name must be a DNS-1123 label"),
        (
            kubefed_cluster("vulcan", "http://h:6443", "s"),
            "spec.apiEndpoint \"http://h:6443\" must be an https URL such as https://10.0.0.1:6443",
        ),
        (kubefed_cluster("vulcan", "https://", "s"), "must be an https URL"),
        (kubefed_cluster("vulcan", "https://h:99999", "s"), "must be an https URL"),
        (kubefed_cluster("vulcan", "https://h:", "s"), "must be an https URL"),
        (kubefed_cluster("vulcan", "https://a b", "s"), "must be an https URL"),
        (kubefed_cluster("vulcan", "vulcan:6443", "s"), "must be an https URL"),
        (
            kubefed_cluster("vulcan", "https://h", ""),
            "spec.secretRef.name \"\" must not be empty; name the Secret that holds the member's token",
        ),
        (json!({"metadata": {"name": "vulcan"}}), "KubeFedCluster \"vulcan\": spec is missing"),
        (
            json!({"metadata": {"name": "vulcan"}, "spec": {"apiEndpoint": "https://h"}}),
            "spec: missing field `secretRef`",
        ),
    ];
    for (object, want) in cases {
        assert_denied(&validate(&view, &create(KUBEFED_CLUSTER, object)), want);
    }
}

fn type_config_object(name: &str, spec: &FederatedTypeConfigSpec) -> Value {
    json!({
        "apiVersion": "core.kubefed.io/v1beta1", "kind": "FederatedTypeConfig",
        "metadata": {"name": name, "namespace": "kube-federation-system"},
        "spec": spec
    })
}

#[test]
fn federated_type_configs() {
    let view = federation();
    let good = FederatedTypeConfigSpec::for_target(deployments());
    assert_allowed(&validate(&view, &create(TYPE_CONFIG, type_config_object("deployments.apps", &good))));
    let core =
        FederatedTypeConfigSpec::for_target(ApiResourceRef::v1("", "ConfigMap", "configmaps", Scope::Namespaced));
    assert_allowed(&validate(&view, &create(TYPE_CONFIG, type_config_object("configmaps", &core))));

    let mut no_kind = good.clone();
    no_kind.target_type.kind.clear();
    let mut wrong_federated = good.clone();
    wrong_federated.federated_type.kind = "FederatedDeploy".into();
    let cases = [
        (
            type_config_object("deployments", &good),
            "FederatedTypeConfig \"kube-federation-system/deployments\": the name must be \"deployments.apps\" (<pluralName>.<group> of spec.targetType)",
        ),
        (type_config_object("deployments.apps", &no_kind), "spec.targetType.kind must not be empty"),
        (
            type_config_object("deployments.apps", &wrong_federated),
            "spec.federatedType must be group types.kubefed.io, version v1beta1, kind FederatedDeployment, pluralName federateddeployments, scope Namespaced to match spec.targetType",
        ),
        (json!({"metadata": {"name": "x"}, "spec": {"targetType": {}}}), "spec: missing field `version`"),
    ];
    for (object, want) in cases {
        assert_denied(&validate(&view, &create(TYPE_CONFIG, object)), want);
    }
}

// ---- requests that are always admitted ----

#[test]
fn deletions_subresources_and_missing_objects_are_admitted() {
    let view = federation();
    let delete = request("DELETE", DEPLOYMENT, None, Some(placed("mars")));
    let mut status = update(DEPLOYMENT, placed("mars"), placed("mars"));
    status.sub_resource = Some("status".into());
    let delete_with_object =
        request("DELETE", FEDERATED_DEPLOYMENT, Some(federated_deployment(json!({"placement": "x"}))), None);
    for req in [delete, status, delete_with_object] {
        for endpoint in [Endpoint::Validate, Endpoint::Mutate] {
            let response = review(&view, endpoint, &req);
            assert_allowed(&response);
            assert!(response.patch.is_none() && response.warnings.is_none());
        }
    }
}

#[test]
fn mutate_leaves_federation_api_objects_alone() {
    let view = federation();
    let reqs = [
        create(FEDERATED_DEPLOYMENT, federated_deployment(json!({"placement": {"clusters": [{"name": "mars"}]}}))),
        create(KUBEFED_CLUSTER, kubefed_cluster("Bad", "http://x", "")),
    ];
    for req in reqs {
        let response = mutate(&view, &req);
        assert_allowed(&response);
        assert!(response.patch.is_none());
    }
}

// ---- mutate: sources ----

#[test]
fn mutate_normalises_the_placement_and_labels_the_source() {
    let view = federation();
    let object = mutated(&view, &create(DEPLOYMENT, placed(" vulcan,earth,earth")));
    assert_eq!(annotation(&object, keys::PLACEMENT).as_deref(), Some("earth,vulcan"));
    assert_eq!(object["metadata"]["labels"][keys::FEDERATED_LABEL], "true");
    assert_eq!(object["spec"]["replicas"], 2, "the host is placed: not pinned");
    assert_eq!(annotation(&object, keys::FEDERATED_REPLICAS), None);

    let response = mutate(&view, &create(DEPLOYMENT, placed(" vulcan,earth")));
    let paths: Vec<String> = patch_of(&response).iter().map(|op| op.path().to_string()).collect();
    assert!(paths.contains(&"/metadata/annotations/kubefed.io~1placement".to_string()), "{paths:?}");
    assert!(paths.contains(&"/metadata/labels".to_string()), "labels map created: {paths:?}");
}

#[test]
fn mutate_is_a_no_op_for_canonical_labelled_sources() {
    let view = federation();
    let mut object = placed("earth,vulcan");
    object["metadata"]["labels"] = json!({keys::FEDERATED_LABEL: "true", "app": "web"});
    let response = mutate(&view, &create(DEPLOYMENT, object));
    assert_allowed(&response);
    assert!(response.patch.is_none());
}

#[test]
fn mutate_pins_the_host_copy_when_the_host_is_not_placed() {
    let mut no_host = federation();
    no_host.clusters.retain(|c| !c.is_host);
    let pinned_source = |mut object: Value, recorded: &str| {
        object["metadata"]["annotations"][keys::FEDERATED_REPLICAS] = json!(recorded);
        object["spec"]["replicas"] = json!(0);
        object
    };
    // (view, request, expected spec.replicas, expected kubefed.io/federated-replicas)
    let cases: Vec<(View, AdmissionRequest<DynamicObject>, i64, Option<&str>)> = vec![
        (federation(), create(DEPLOYMENT, placed("vulcan")), 0, Some("2")),
        (federation(), create(DEPLOYMENT, deployment(&[(keys::CLUSTER_SELECTOR, "region=us")], 3)), 0, Some("3")),
        (federation(), create(DEPLOYMENT, deployment(&[(keys::CLUSTER_SELECTOR, "region=eu")], 3)), 3, None),
        (federation(), create(DEPLOYMENT, placed("*")), 2, None),
        (no_host.clone(), create(DEPLOYMENT, placed("*")), 0, Some("2")),
        // Already pinned: an update that keeps 0 keeps the recorded count.
        (
            federation(),
            update(DEPLOYMENT, pinned_source(placed("vulcan"), "2"), pinned_source(placed("vulcan"), "2")),
            0,
            Some("2"),
        ),
        // The user asks for 5 while pinned: 5 becomes the desired count.
        (
            federation(),
            update(
                DEPLOYMENT,
                deployment(&[(keys::PLACEMENT, "vulcan"), (keys::FEDERATED_REPLICAS, "2")], 5),
                pinned_source(placed("vulcan"), "2"),
            ),
            0,
            Some("5"),
        ),
        // The host joins the placement: restored.
        (
            federation(),
            update(DEPLOYMENT, pinned_source(placed("earth,vulcan"), "2"), pinned_source(placed("vulcan"), "2")),
            2,
            None,
        ),
        // The placement is removed: restored.
        (
            federation(),
            update(DEPLOYMENT, pinned_source(deployment(&[], 0), "2"), pinned_source(placed("vulcan"), "2")),
            2,
            None,
        ),
        // Removed while the user also sets a count: the user's count wins.
        (
            federation(),
            update(DEPLOYMENT, deployment(&[(keys::FEDERATED_REPLICAS, "2")], 7), pinned_source(placed("vulcan"), "2")),
            7,
            None,
        ),
        // A garbled record is dropped; the current count stays.
        (
            federation(),
            update(DEPLOYMENT, pinned_source(deployment(&[], 0), "lots"), pinned_source(placed("vulcan"), "2")),
            0,
            None,
        ),
    ];
    for (view, req, replicas, recorded) in cases {
        let object = mutated(&view, &req);
        assert_eq!(object["spec"]["replicas"], replicas, "{}", serde_json::to_string(&req.object).unwrap());
        assert_eq!(annotation(&object, keys::FEDERATED_REPLICAS).as_deref(), recorded);
    }
}

#[test]
fn mutate_unlabels_an_object_that_is_no_longer_a_source() {
    let view = federation();
    let mut object = deployment(&[(keys::FEDERATED_REPLICAS, "2")], 0);
    object["metadata"]["labels"] = json!({keys::FEDERATED_LABEL: "true", "app": "web"});
    let result = mutated(&view, &update(DEPLOYMENT, object, placed("vulcan")));
    assert_eq!(result["metadata"]["labels"], json!({"app": "web"}));
    assert_eq!(result["metadata"]["annotations"], json!({}));
    assert_eq!(result["spec"]["replicas"], 2);
}

#[test]
fn mutate_handles_kinds_without_replicas_and_bad_input() {
    let view = federation();
    let config_map = json!({"metadata": {"name": "cfg", "namespace": "shop", "annotations": {keys::PLACEMENT: "vulcan"}}, "data": {"a": "b"}});
    let object = mutated(&view, &create(CONFIG_MAP, config_map));
    assert_eq!(object["data"], json!({"a": "b"}));
    assert_eq!(annotation(&object, keys::FEDERATED_REPLICAS), None);
    assert_eq!(object["metadata"]["labels"][keys::FEDERATED_LABEL], "true");

    // Unparsable annotations: allowed unchanged (validate denies them).
    for bad in [placed("earth,,mars"), deployment(&[(keys::PLACEMENT, "vulcan"), (keys::OVERRIDES, "{")], 2)] {
        let response = mutate(&view, &create(DEPLOYMENT, bad));
        assert_allowed(&response);
        assert!(response.patch.is_none());
    }
    // Unknown clusters are validate's business; mutate still normalises.
    let object = mutated(&view, &create(DEPLOYMENT, placed("mars,earth")));
    assert_eq!(annotation(&object, keys::PLACEMENT).as_deref(), Some("earth,mars"));
}

// ---- dry run and robustness ----

fn comparable(response: &AdmissionResponse) -> (bool, String, Option<Vec<String>>, Option<Vec<u8>>) {
    (response.allowed, response.result.message.clone(), response.warnings.clone(), response.patch.clone())
}

/// Found with the admission_review fuzz target's one-line invariant: names and values from the
/// request are quoted raw into messages.
#[test]
fn messages_stay_one_line_whatever_the_request_holds() {
    let view = federation();
    let mut object = placed("mars");
    object["metadata"]["namespace"] = json!("sh\nop");
    assert_denied(&validate(&view, &create(DEPLOYMENT, object)), "Deployment \"sh op/web\": kubefed.io/placement");
    let mut spec = FederatedTypeConfigSpec::for_target(deployments());
    spec.target_type.kind = "Deploy\nment".into();
    let response = validate(&view, &create(TYPE_CONFIG, type_config_object("deployments.apps", &spec)));
    assert_denied(&response, "spec.federatedType must be group types.kubefed.io");
}

#[test]
fn dry_run_changes_nothing() {
    let view = with_shop_policy();
    let reqs = [
        create(DEPLOYMENT, placed("earth,mars")),
        create(DEPLOYMENT, placed("vulcn")),
        create(DEPLOYMENT, placed(" earth")),
        create(DEPLOYMENT, placed("vulcan")),
        create(FEDERATED_DEPLOYMENT, federated_deployment(json!({"placement": {"clusters": [{"name": "vulcan"}]}}))),
        update(DEPLOYMENT, deployment(&[(keys::FEDERATED_REPLICAS, "2")], 0), placed("vulcan")),
    ];
    for req in reqs {
        let mut dry = req.clone();
        dry.dry_run = true;
        for endpoint in [Endpoint::Validate, Endpoint::Mutate] {
            assert_eq!(comparable(&review(&view, endpoint, &req)), comparable(&review(&view, endpoint, &dry)));
        }
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-z/*, ~0-9]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                "spec|template|placement|clusters|clusterSelector|matchLabels|matchExpressions|overrides|clusterName|clusterOverrides|op|path|value|name|replicas|apiEndpoint|secretRef|targetType|federatedType|[a-z]{1,3}",
                inner,
                0..5,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn annotation_map() -> impl Strategy<Value = BTreeMap<String, String>> {
    let key = prop_oneof![
        Just(keys::PLACEMENT.to_string()),
        Just(keys::CLUSTER_SELECTOR.to_string()),
        Just(keys::OVERRIDES.to_string()),
        Just(keys::ORPHAN.to_string()),
        Just(keys::FEDERATED_REPLICAS.to_string()),
        "[a-z./]{1,8}",
    ];
    let value = prop_oneof![
        "[ ,*a-z=!()]{0,12}",
        Just(r#"{"vulcan":[{"path":"/spec/replicas","value":1}]}"#.to_string()),
        Just("earth,vulcan".to_string()),
        "-?[0-9]{1,3}",
    ];
    prop::collection::btree_map(key, value, 0..4)
}

fn object(
    data: Value,
    annotations: BTreeMap<String, String>,
    labels: Option<BTreeMap<String, String>>,
) -> DynamicObject {
    let data = match data {
        Value::Object(_) => data,
        other => json!({"spec": other}),
    };
    DynamicObject {
        types: None,
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("shop".into()),
            annotations: Some(annotations),
            labels,
            ..Default::default()
        },
        data,
    }
}

proptest! {
    #[test]
    fn review_never_panics_on_arbitrary_objects(
        data in json_value(),
        annotations in annotation_map(),
        old_annotations in annotation_map(),
        labels in prop::option::of(prop::collection::btree_map("[a-z./]{1,8}", "[a-z]{0,3}", 0..3)),
        gvkr in prop::sample::select(vec![DEPLOYMENT, CONFIG_MAP, NAMESPACE, FEDERATED_DEPLOYMENT, FEDERATED_NS, KUBEFED_CLUSTER, TYPE_CONFIG]),
        operation in prop::sample::select(vec!["CREATE", "UPDATE", "DELETE"]),
    ) {
        let mut req = request(operation, gvkr, None, None);
        let obj = object(data.clone(), annotations, labels);
        req.object = Some(obj.clone());
        req.old_object = Some(object(data, old_annotations, None));
        let view = with_shop_policy();
        for endpoint in [Endpoint::Validate, Endpoint::Mutate] {
            let response = review(&view, endpoint, &req);
            prop_assert!(!response.result.message.contains('\n'));
            if endpoint == Endpoint::Mutate {
                prop_assert!(response.allowed, "mutate never denies: {}", response.result.message);
                // The patch always applies to the object it was computed for.
                let mut doc = serde_json::to_value(&obj).unwrap();
                prop_assert!(json_patch::patch(&mut doc, &patch_of(&response)).is_ok());
            }
        }
    }

    #[test]
    fn review_never_panics_on_arbitrary_json(raw in json_value()) {
        if let Ok(obj) = serde_json::from_value::<DynamicObject>(raw) {
            for gvkr in [DEPLOYMENT, FEDERATED_DEPLOYMENT, KUBEFED_CLUSTER, TYPE_CONFIG] {
                let mut req = request("CREATE", gvkr, None, None);
                req.object = Some(obj.clone());
                let _ = review(&federation(), Endpoint::Validate, &req);
                let _ = review(&federation(), Endpoint::Mutate, &req);
            }
        }
    }

    #[test]
    fn mutation_is_idempotent(placement in "[ ,]{0,2}(earth|vulcan|kronos|\\*)([ ,]{1,2}(earth|vulcan|kronos))?", replicas in 0i64..5) {
        let view = federation();
        let once = mutated(&view, &create(DEPLOYMENT, deployment(&[(keys::PLACEMENT, &placement)], replicas)));
        let req = update(DEPLOYMENT, once.clone(), once.clone());
        prop_assert!(mutate(&view, &req).patch.is_none(), "{}", once);
    }
}

// ---- replica division ----

const RSP: Gvkr = ("scheduling.kubefed.io", "v1alpha1", "ReplicaSchedulingPreference", "replicaschedulingpreferences");

fn rsp(clusters: Value) -> Value {
    json!({
        "apiVersion": "scheduling.kubefed.io/v1alpha1", "kind": "ReplicaSchedulingPreference",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"targetKind": "FederatedDeployment", "totalReplicas": 9, "clusters": clusters}
    })
}

#[test]
fn replica_scheduling_preferences_name_joined_clusters() {
    let view = federation();
    assert_allowed(&validate(&view, &create(RSP, rsp(json!({"vulcan": {"weight": 1}, "kronos": {"weight": 2}})))));
    let denied = validate(&view, &create(RSP, rsp(json!({"vulcn": {"weight": 1}}))));
    assert_denied(
        &denied,
        r#"ReplicaSchedulingPreference "shop/web": spec: cluster "vulcn" is not joined to the federation (joined: earth, kronos, vulcan); did you mean "vulcan"?"#,
    );
    let capped = validate(&view, &create(RSP, rsp(json!({"*": {"weight": 1, "maxReplicas": 2}}))));
    assert_allowed(&capped);
    assert_eq!(
        warnings(&capped),
        [
            "spec: the clusters hold only 6 of the 9 replicas (maxReplicas, and minReplicas where weight is 0); 3 stay unassigned"
        ]
    );
    let mut bad_kind = rsp(json!({}));
    bad_kind["spec"]["targetKind"] = json!("FederatedStatefulSet");
    assert_denied(&validate(&view, &create(RSP, bad_kind)), "targetKind \"FederatedStatefulSet\" must be");
    assert!(patch_of(&mutate(&view, &create(RSP, rsp(json!({}))))).0.is_empty(), "mutate leaves RSPs alone");
}

#[test]
fn the_replica_scheduling_annotation_is_checked_against_the_placement() {
    let view = federation();
    let divided = |value: &str| deployment(&[(keys::PLACEMENT, "vulcan,kronos"), (keys::REPLICA_SCHEDULING, value)], 9);
    assert_allowed(&validate(&view, &create(DEPLOYMENT, divided(r#"{"vulcan":{"weight":1},"kronos":{"weight":2}}"#))));
    let cases = [
        (
            r#"{"earth":{"weight":1}}"#,
            r#"kubefed.io/replica-scheduling: cluster "earth" is not in the placement (placed: kronos, vulcan)"#,
        ),
        (r#"{"mars":{"weight":1}}"#, r#"cluster "mars" is not joined to the federation"#),
        (r#"{"vulcan":{"weight":-1}}"#, r#""vulcan": weight must not be negative (is -1)"#),
        (r#"{"vulcan":{"minReplicas":3,"maxReplicas":2}}"#, r#""vulcan": minReplicas 3 is more than maxReplicas 2"#),
        (r#"{"vulcan":{"weigth":1}}"#, r#"unknown field "weigth"; did you mean "weight"?"#),
    ];
    for (value, want) in cases {
        assert_denied(&validate(&view, &create(DEPLOYMENT, divided(value))), want);
    }
    let warned = validate(&view, &create(DEPLOYMENT, divided(r#"{"*":{"weight":1,"maxReplicas":2}}"#)));
    assert_allowed(&warned);
    assert!(warnings(&warned).iter().any(|w| w.contains("hold only 4 of the 9 replicas")), "{:?}", warnings(&warned));
    let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "shop", "annotations": {
            keys::PLACEMENT: "vulcan", keys::REPLICA_SCHEDULING: "{}"}}});
    assert_denied(&validate(&view, &create(CONFIG_MAP, config_map)), "ConfigMap has no replicas to divide");
}

#[test]
fn a_spill_over_order_and_an_overflow_threshold_are_checked_on_sources_federated_objects_and_rsps() {
    let view = federation();
    let source = |value: &str, after: &str| {
        deployment(
            &[(keys::PLACEMENT, "vulcan,kronos"), (keys::REPLICA_SCHEDULING, value), (keys::OVERFLOW_AFTER, after)],
            4,
        )
    };
    assert_allowed(&validate(&view, &create(DEPLOYMENT, source(r#"{"spillOver":["vulcan","kronos"]}"#, "30s"))));
    let cases = [
        (
            r#"{"spillOver":["vulcn","kronos"]}"#,
            "30s",
            r#"cluster "vulcn" is not joined to the federation (joined: earth, kronos, vulcan); did you mean "vulcan"?"#,
        ),
        (r#"{"spillOver":["earth"]}"#, "30s", r#"cluster "earth" is not in the placement (placed: kronos, vulcan)"#),
        (
            r#"{"spillOver":["vulcan"],"kronos":{"weight":1}}"#,
            "30s",
            "spillOver cannot be combined with per-cluster preferences",
        ),
        (
            r#"{"spillOver":["vulcan"]}"#,
            "soon",
            r#"kubefed.io/overflow-after: "soon" is not a duration such as 30s, 2m or 1m30s"#,
        ),
    ];
    for (value, after, want) in cases {
        assert_denied(&validate(&view, &create(DEPLOYMENT, source(value, after))), want);
    }

    let fed = |value: &str| {
        json!({"apiVersion": "types.kubefed.io/v1beta1", "kind": "FederatedDeployment",
            "metadata": {"name": "web", "namespace": "shop", "annotations": {keys::REPLICA_SCHEDULING: value}},
            "spec": {"template": {"spec": {"replicas": 6}}, "placement": {"clusters": [{"name": "earth"}, {"name": "vulcan"}]}}})
    };
    assert_allowed(&validate(&view, &create(FEDERATED_DEPLOYMENT, fed(r#"{"spillOver":["earth","vulcan"]}"#))));
    assert_denied(
        &validate(&view, &create(FEDERATED_DEPLOYMENT, fed(r#"{"spillOver":["earth","kronos"]}"#))),
        r#"cluster "kronos" is not in the placement (placed: earth, vulcan)"#,
    );
    // An unchanged annotation is not judged again (a cluster it names may have left since).
    let stale = fed(r#"{"spillOver":["earth","mars"]}"#);
    assert_allowed(&validate(&view, &update(FEDERATED_DEPLOYMENT, stale.clone(), stale)));
    let mut services = fed("{}");
    services["kind"] = json!("FederatedService");
    let federated_service: Gvkr = ("types.kubefed.io", "v1beta1", "FederatedService", "federatedservices");
    assert_denied(&validate(&view, &create(federated_service, services)), "FederatedService has no replicas to divide");

    let mut timed = rsp(json!({"vulcan": {"weight": 1}}));
    timed["metadata"]["annotations"] = json!({keys::OVERFLOW_AFTER: "1.5m"});
    assert_denied(&validate(&view, &create(RSP, timed)), r#"kubefed.io/overflow-after: "1.5m" is not a duration"#);
}

#[test]
fn divided_replicas_pin_the_host_copy_even_when_the_host_is_placed() {
    let view = federation();
    let source = deployment(&[(keys::PLACEMENT, "earth,vulcan"), (keys::REPLICA_SCHEDULING, "{}")], 9);
    let object = mutated(&view, &create(DEPLOYMENT, source));
    assert_eq!(object["spec"]["replicas"], 0, "the host's copy is the source; the division is the members'");
    assert_eq!(annotation(&object, keys::FEDERATED_REPLICAS).as_deref(), Some("9"));
    // The total the validation sees is the recorded one.
    let warned = validate(
        &view,
        &create(
            DEPLOYMENT,
            deployment(
                &[
                    (keys::PLACEMENT, "vulcan"),
                    (keys::REPLICA_SCHEDULING, r#"{"vulcan":{"weight":1,"maxReplicas":2}}"#),
                    (keys::FEDERATED_REPLICAS, "9"),
                ],
                0,
            ),
        ),
    );
    assert!(warnings(&warned).iter().any(|w| w.contains("hold only 2 of the 9")), "{:?}", warnings(&warned));
}
