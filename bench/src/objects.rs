//! The objects the benchmarks create, and the AdmissionReview body for the webhook benchmark.

use serde_json::{Value, json};

use crate::ReviewArgs;

/// The placement annotation.
pub const PLACEMENT: &str = "kubefed.io/placement";
const OVERRIDES: &str = "kubefed.io/overrides";
const FEDERATED_LABEL: &str = "kubefed.io/federated";

/// The Deployment every benchmark creates (replicas 0: the test bed has no scheduler or
/// kubelet, so Pods would only sit Pending; kube-controller-manager still makes the ReplicaSet).
pub fn deployment(name: &str, namespace: &str, annotations: Option<Value>) -> Value {
    let mut d = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": name, "namespace": namespace, "labels": { "app": "bench", "bench.kubefed.io/name": name } },
        "spec": {
            "replicas": 0,
            "selector": { "matchLabels": { "app": "bench", "bench.kubefed.io/name": name } },
            "template": {
                "metadata": { "labels": { "app": "bench", "bench.kubefed.io/name": name } },
                "spec": { "containers": [{
                    "name": "web",
                    "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
                    "args": ["netexec", "--http-port=8080"],
                    "ports": [{ "containerPort": 8080, "name": "http" }],
                    "resources": { "requests": { "cpu": "10m", "memory": "16Mi" } }
                }] }
            }
        }
    });
    if let Some(a) = annotations {
        d["metadata"]["annotations"] = a;
    }
    d
}

/// An annotated ConfigMap placed on `placement`.
pub fn configmap(name: &str, namespace: &str, placement: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": { "name": name, "namespace": namespace, "annotations": { PLACEMENT: placement } },
        "data": { "app.properties": format!("name={name}\nlog.level=info\nfeature.x=true\n") }
    })
}

/// The AdmissionReview the API server sends for `kubectl apply` of an annotated Deployment, at
/// the `mutate` or (after mutation) the `validate` stage.
pub fn review(a: &ReviewArgs) -> Value {
    let mutated = a.stage == "validate";
    let placement = if mutated {
        let mut p: Vec<&str> = a.placement.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        p.sort_unstable();
        p.dedup();
        p.join(",")
    } else {
        a.placement.clone()
    };
    let applied = admitted(applied_manifest(&a.placement, &placement), placement, mutated);
    let gvk = json!({ "group": "apps", "version": "v1", "kind": "Deployment" });
    let gvr = json!({ "group": "apps", "version": "v1", "resource": "deployments" });
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "5f3c1b0a-8d4e-4c2a-9b71-2a6d0e8f4c33",
            "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
            "name": NAME, "namespace": NAMESPACE, "operation": "CREATE",
            "userInfo": { "username": "admin", "groups": ["system:masters", "system:authenticated"] },
            "object": applied, "oldObject": null, "dryRun": false,
            "options": { "kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": "kubectl-client-side-apply",
                         "fieldValidation": "Strict" }
        }
    })
}

/// Namespace and name of the reviewed Deployment.
const NAMESPACE: &str = "shop";
const NAME: &str = "checkout";

/// What `kubectl apply` sent: the manifest (which also becomes last-applied-configuration),
/// annotated with `raw_placement` and overrides for the last cluster of `placement`.
fn applied_manifest(raw_placement: &str, placement: &str) -> Value {
    let (ns, name) = (NAMESPACE, NAME);
    let clusters: Vec<&str> = placement.split(',').map(str::trim).collect();
    let last = clusters.last().copied().unwrap_or("vulcan");
    let overrides = json!({ last: [
        { "op": "replace", "path": "/spec/replicas", "value": 3 },
        { "op": "add", "path": "/spec/template/metadata/labels/tier", "value": "edge" }
    ] })
    .to_string();
    let user_annotations = json!({ PLACEMENT: raw_placement, OVERRIDES: overrides });
    // What kubectl apply sent: the manifest, which also becomes last-applied-configuration.
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": name, "namespace": ns, "labels": { "app": name, "team": "payments" },
                      "annotations": user_annotations },
        "spec": {
            "replicas": 2,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name, "team": "payments" } },
                "spec": { "containers": [{
                    "name": "checkout",
                    "image": "registry.example.com/payments/checkout:1.42.0",
                    "args": ["--listen=:8080", "--upstream=http://cart.shop.svc:8080"],
                    "env": [{ "name": "LOG_LEVEL", "value": "info" }, { "name": "REGION", "value": "eu-west" }],
                    "ports": [{ "containerPort": 8080, "name": "http" }],
                    "readinessProbe": { "httpGet": { "path": "/healthz", "port": "http" }, "periodSeconds": 5 },
                    "resources": { "requests": { "cpu": "100m", "memory": "128Mi" },
                                   "limits": { "memory": "256Mi" } }
                }] }
            }
        }
    })
}

/// `applied` as the API server has it at admission: defaults applied, uid and managedFields
/// set, the placement annotation `placement`, and (when `mutated`) the federated label.
fn admitted(mut applied: Value, placement: String, mutated: bool) -> Value {
    let (ns, name) = (NAMESPACE, NAME);
    let last_applied = applied.to_string();
    let mut annotations = applied["metadata"]["annotations"].clone();
    annotations["kubectl.kubernetes.io/last-applied-configuration"] = Value::String(last_applied + "\n");
    annotations[PLACEMENT] = Value::String(placement);
    let mut labels = applied["metadata"]["labels"].clone();
    if mutated {
        labels[FEDERATED_LABEL] = json!("true");
    }
    // The object as the apiserver has it at admission: defaults applied, uid and managedFields set.
    let meta = json!({
        "name": name, "namespace": ns, "uid": "0b7c3f3e-6a0e-4bd8-9f0e-2f4f1b7c9a10",
        "generation": 1, "creationTimestamp": "2026-11-25T10:00:00Z",
        "labels": labels, "annotations": annotations,
        "managedFields": [{
            "manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "apps/v1",
            "time": "2026-11-25T10:00:00Z", "fieldsType": "FieldsV1",
            "fieldsV1": { "f:metadata": { "f:annotations": { ".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {},
                            "f:kubefed.io/overrides": {}, "f:kubefed.io/placement": {} },
                          "f:labels": { ".": {}, "f:app": {}, "f:team": {} } },
                          "f:spec": { "f:progressDeadlineSeconds": {}, "f:replicas": {}, "f:revisionHistoryLimit": {},
                                      "f:selector": {}, "f:strategy": { "f:rollingUpdate": { ".": {}, "f:maxSurge": {}, "f:maxUnavailable": {} }, "f:type": {} },
                                      "f:template": { "f:metadata": { "f:labels": { ".": {}, "f:app": {}, "f:team": {} } },
                                                      "f:spec": { "f:containers": { "k:{\"name\":\"checkout\"}": { ".": {}, "f:args": {}, "f:env": {}, "f:image": {}, "f:name": {} } } } } } }
        }]
    });
    applied["metadata"] = meta;
    let spec = &mut applied["spec"];
    spec["progressDeadlineSeconds"] = json!(600);
    spec["revisionHistoryLimit"] = json!(10);
    spec["strategy"] =
        json!({ "type": "RollingUpdate", "rollingUpdate": { "maxSurge": "25%", "maxUnavailable": "25%" } });
    let pod = &mut spec["template"]["spec"];
    pod["restartPolicy"] = json!("Always");
    pod["terminationGracePeriodSeconds"] = json!(30);
    pod["dnsPolicy"] = json!("ClusterFirst");
    pod["securityContext"] = json!({});
    pod["schedulerName"] = json!("default-scheduler");
    let c = &mut pod["containers"][0];
    c["imagePullPolicy"] = json!("IfNotPresent");
    c["terminationMessagePath"] = json!("/dev/termination-log");
    c["terminationMessagePolicy"] = json!("File");
    c["ports"][0]["protocol"] = json!("TCP");
    applied["status"] = json!({});
    applied
}
