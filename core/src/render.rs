//! Rendering: the object written to one member cluster from a federated object, and the
//! federated template taken from an annotated source object.

use serde_json::{Map, Value};

use crate::api::{ApiResourceRef, Federated, Scope};
use crate::keys;
use crate::overrides::{self, OverrideError};

/// A federated object that cannot be rendered for a member.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// `spec.template` is not a JSON object.
    #[error("spec.template must be an object")]
    TemplateNotObject,
    /// The federated object has no name.
    #[error("the federated object has no metadata.name")]
    MissingName,
    /// A cluster's overrides do not apply to the rendered object.
    #[error("overrides for cluster {cluster:?}: {source}")]
    Override {
        /// The member cluster.
        cluster: String,
        /// What failed.
        source: OverrideError,
    },
}

/// The object to server-side-apply on member `cluster` for federated object `fed` of target
/// type `target`: the template's data fields and its labels/annotations (federation and
/// server-set keys dropped), named after the federated object (a Namespace after the
/// federated object's namespace), with member-assigned Service fields removed and that
/// cluster's overrides applied, then labelled managed and annotated with its origin
/// ([`mark_managed`]; before the overrides too, so they can add to those maps).
pub fn member_object(fed: &Federated, target: &ApiResourceRef, cluster: &str) -> Result<Value, RenderError> {
    let name = fed.metadata.name.as_deref().ok_or(RenderError::MissingName)?;
    let empty = Map::new();
    let template = match &fed.spec.template {
        None => &empty,
        Some(Value::Object(t)) => t,
        Some(_) => return Err(RenderError::TemplateNotObject),
    };
    let fed_namespace = fed.metadata.namespace.as_deref();
    let member_name = if target.is_namespace() { fed_namespace.unwrap_or(name) } else { name };

    let mut metadata = user_metadata(template.get("metadata"));
    metadata.insert("name".into(), member_name.into());
    if let (Scope::Namespaced, Some(ns)) = (target.scope, fed_namespace) {
        metadata.insert("namespace".into(), ns.into());
    }
    insert_entry(&mut metadata, "labels", keys::MANAGED_LABEL, "true");
    let origin = origin_of(fed, target);
    insert_entry(&mut metadata, "annotations", keys::ORIGIN, &origin);

    let mut obj = data_fields(template);
    obj.insert("apiVersion".into(), target.api_version().into());
    obj.insert("kind".into(), target.kind.clone().into());
    obj.insert("metadata".into(), metadata.into());
    if target.group.is_empty() && target.kind == "Service" {
        strip_member_assigned_service_fields(&mut obj);
    }
    if target.group.is_empty() && target.kind == "Pod" {
        strip_host_assigned_pod_fields(&mut obj);
    }
    let mut obj = Value::Object(obj);
    overrides::apply(&mut obj, overrides::for_cluster(&fed.spec.overrides, cluster))
        .map_err(|source| RenderError::Override { cluster: cluster.to_string(), source })?;
    mark_managed(&mut obj, &origin);
    Ok(obj)
}

/// Namespace and name of the member copy of `fed` (of target type `target`): the namespace
/// itself for a FederatedNamespace, else the federated object's own namespace (if the target is
/// namespaced) and name.
pub fn member_key(fed: &Federated, target: &ApiResourceRef) -> (Option<String>, String) {
    let name = fed.metadata.name.clone().unwrap_or_default();
    if target.is_namespace() {
        (None, fed.metadata.namespace.clone().unwrap_or(name))
    } else if target.scope == Scope::Namespaced {
        (fed.metadata.namespace.clone(), name)
    } else {
        (None, name)
    }
}

/// The `kubefed.io/origin` annotation value: `<FederatedKind>/<namespace>/<name>`, or
/// `<FederatedKind>/<name>` for a cluster-scoped federated object.
pub fn origin(federated_kind: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{federated_kind}/{ns}/{name}"),
        None => format!("{federated_kind}/{name}"),
    }
}

/// A parsed `kubefed.io/origin` annotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The federated kind, e.g. `FederatedDeployment`.
    pub kind: String,
    /// Namespace of the federated object (`None` when cluster-scoped).
    pub namespace: Option<String>,
    /// Name of the federated object.
    pub name: String,
}

/// The `kubefed.io/origin` of the member copies of `fed`, of target type `target`.
pub fn origin_of(fed: &Federated, target: &ApiResourceRef) -> String {
    let name = fed.metadata.name.as_deref().unwrap_or_default();
    origin(&target.federated().kind, fed.metadata.namespace.as_deref(), name)
}

/// Parses `<FederatedKind>/<namespace>/<name>` or `<FederatedKind>/<name>` (the format of [`origin`]).
pub fn parse_origin(value: &str) -> Option<Origin> {
    let parts: Vec<&str> = value.split('/').collect();
    let nonempty = |s: &&str| !s.is_empty();
    match parts.as_slice() {
        [kind, ns, name] if [kind, ns, name].iter().all(|s| nonempty(s)) => {
            Some(Origin { kind: kind.to_string(), namespace: Some(ns.to_string()), name: name.to_string() })
        }
        [kind, name] if nonempty(kind) && nonempty(name) => {
            Some(Origin { kind: kind.to_string(), namespace: None, name: name.to_string() })
        }
        _ => None,
    }
}

/// Makes sure a rendered object carries the managed label and the origin annotation, whatever
/// its overrides did to its metadata.
pub fn mark_managed(obj: &mut Value, origin: &str) {
    let Some(root) = obj.as_object_mut() else { return };
    let meta = root.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    let Some(meta) = meta.as_object_mut() else { return };
    for (field, key, value) in [("labels", keys::MANAGED_LABEL, "true"), ("annotations", keys::ORIGIN, origin)] {
        let map = meta.entry(field).or_insert_with(|| Value::Object(Map::new()));
        if !map.is_object() {
            *map = Value::Object(Map::new());
        }
        map[key] = Value::String(value.to_string());
    }
}

/// The federated template for an annotated source object: every top-level field except
/// `apiVersion`, `kind`, `metadata` and `status`, with metadata reduced to labels and
/// annotations (federation and server-set keys removed); `spec.replicas` comes from
/// `kubefed.io/federated-replicas` when the host copy is pinned.
pub fn template_from_source(source: &Value) -> Value {
    let Some(source) = source.as_object() else { return Value::Object(Map::new()) };
    let mut template = data_fields(source);
    let metadata = source.get("metadata");
    let pinned = metadata
        .and_then(|m| m.pointer(&format!("/annotations/{}", keys::FEDERATED_REPLICAS.replace('/', "~1"))))
        .and_then(Value::as_str)
        .and_then(|r| r.parse::<i64>().ok());
    if let (Some(replicas), Some(Value::Object(spec))) = (pinned, template.get_mut("spec")) {
        spec.insert("replicas".into(), replicas.into());
    }
    let metadata = user_metadata(metadata);
    if !metadata.is_empty() {
        template.insert("metadata".into(), metadata.into());
    }
    Value::Object(template)
}

/// Drops from a source what no template is built from, for caches that hold every source:
/// `status`, managed fields and the server-set annotations (kubectl's last-applied copy is as
/// large as the object itself). [`template_from_source`] gives the same result before and after.
pub fn trim_source(source: &mut kube::core::DynamicObject) {
    if let Some(data) = source.data.as_object_mut() {
        data.remove("status");
    }
    source.metadata.managed_fields = None;
    if let Some(annotations) = source.metadata.annotations.as_mut() {
        annotations.retain(|k, _| !SERVER_SET_ANNOTATIONS.contains(&k.as_str()));
    }
}

/// Top-level fields that describe the object rather than carry its data.
const NON_DATA_FIELDS: [&str; 4] = ["apiVersion", "kind", "metadata", "status"];

/// Annotations the API server or a controller writes on the source; copying them to members
/// would be wrong there (and fight the member's own controllers).
const SERVER_SET_ANNOTATIONS: [&str; 2] =
    ["kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision"];

fn data_fields(obj: &Map<String, Value>) -> Map<String, Value> {
    obj.iter().filter(|(k, _)| !NON_DATA_FIELDS.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Only the labels and annotations of `metadata`, without federation keys (`kubefed.io/…`) or
/// server-set annotations; empty maps are left out.
fn user_metadata(metadata: Option<&Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for field in ["labels", "annotations"] {
        let Some(Value::Object(entries)) = metadata.and_then(|m| m.get(field)) else { continue };
        let kept: Map<String, Value> = entries
            .iter()
            .filter(|(k, _)| !k.starts_with(keys::PREFIX) && !SERVER_SET_ANNOTATIONS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !kept.is_empty() {
            out.insert(field.into(), kept.into());
        }
    }
    out
}

fn insert_entry(metadata: &mut Map<String, Value>, field: &str, key: &str, value: &str) {
    let entries = metadata.entry(field).or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(entries) = entries {
        entries.insert(key.into(), value.into());
    }
}

/// Drops Service fields each member assigns itself: the cluster IPs (unless headless, `None`)
/// and the health-check node port.
fn strip_member_assigned_service_fields(obj: &mut Map<String, Value>) {
    let Some(Value::Object(spec)) = obj.get_mut("spec") else { return };
    let headless = spec.get("clusterIP").and_then(Value::as_str) == Some("None");
    if !headless {
        spec.remove("clusterIP");
        spec.remove("clusterIPs");
    }
    spec.remove("healthCheckNodePort");
}

/// A Pod's node is the host scheduler's choice (`spec.nodeName`); each member schedules its copy.
fn strip_host_assigned_pod_fields(obj: &mut Map<String, Value>) {
    if let Some(Value::Object(spec)) = obj.get_mut("spec") {
        spec.remove("nodeName");
    }
}

#[cfg(test)]
mod tests {
    use kube::core::ObjectMeta;
    use serde_json::json;

    use super::*;
    use crate::api::{ClusterOverrides, FederatedSpec, OverrideOp, Placement};

    #[test]
    fn mark_managed_adds_label_and_origin() {
        let mut v =
            json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "a", "labels": { "x": "y" } } });
        mark_managed(&mut v, "FederatedConfigMap/ns/a");
        assert_eq!(v["metadata"]["labels"], json!({ "x": "y", "kubefed.io/managed": "true" }));
        assert_eq!(v["metadata"]["annotations"], json!({ "kubefed.io/origin": "FederatedConfigMap/ns/a" }));
        let mut v = json!({ "kind": "X" });
        mark_managed(&mut v, "o");
        assert_eq!(v["metadata"]["labels"]["kubefed.io/managed"], "true");
        let mut v = json!({ "metadata": { "annotations": null } });
        mark_managed(&mut v, "o");
        assert_eq!(v["metadata"]["annotations"]["kubefed.io/origin"], "o");
    }

    #[test]
    fn origin_round_trips_core_format() {
        let ns = origin("FederatedDeployment", Some("fedtestns"), "fedhttp");
        assert_eq!(
            parse_origin(&ns),
            Some(Origin {
                kind: "FederatedDeployment".into(),
                namespace: Some("fedtestns".into()),
                name: "fedhttp".into()
            })
        );
        let cluster = origin("FederatedClusterRole", None, "reader");
        assert_eq!(
            parse_origin(&cluster),
            Some(Origin { kind: "FederatedClusterRole".into(), namespace: None, name: "reader".into() })
        );
        for bad in ["", "x", "a//b", "/a/b", "a/b/", "a/b/c/d"] {
            assert_eq!(parse_origin(bad), None, "{bad}");
        }
    }

    #[test]
    fn trimming_a_cached_source_keeps_its_template() {
        let source = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {
                "name": "web", "namespace": "shop", "uid": "u1",
                "labels": {"app": "web"},
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": "{\"big\":true}",
                    "deployment.kubernetes.io/revision": "3",
                    "team": "payments",
                    keys::PLACEMENT: "vulcan",
                    keys::FEDERATED_REPLICAS: "4"
                },
                "managedFields": [{"manager": "kubectl", "operation": "Apply"}]
            },
            "spec": {"replicas": 0, "template": {"spec": {"containers": [{"name": "web", "image": "nginx"}]}}},
            "status": {"replicas": 0, "observedGeneration": 1}
        });
        let mut cached: kube::core::DynamicObject = serde_json::from_value(source.clone()).unwrap();
        trim_source(&mut cached);
        let trimmed = serde_json::to_value(&cached).unwrap();
        assert_eq!(template_from_source(&trimmed), template_from_source(&source));
        assert_eq!(template_from_source(&trimmed)["spec"]["replicas"], 4);
        assert!(trimmed.get("status").is_none());
        assert!(trimmed["metadata"].get("managedFields").is_none());
        let annotations = trimmed["metadata"]["annotations"].as_object().unwrap();
        assert_eq!(
            annotations.keys().collect::<Vec<_>>(),
            ["kubefed.io/federated-replicas", "kubefed.io/placement", "team"]
        );
        assert_eq!(trimmed["metadata"]["uid"], "u1");
    }

    fn deployments() -> ApiResourceRef {
        ApiResourceRef::v1("apps", "Deployment", "deployments", Scope::Namespaced)
    }

    fn federated(
        namespace: Option<&str>,
        name: &str,
        template: Option<Value>,
        overrides: Vec<ClusterOverrides>,
    ) -> Federated {
        Federated {
            types: None,
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: namespace.map(Into::into),
                ..Default::default()
            },
            spec: FederatedSpec { template, placement: Placement::clusters(["vulcan"]), overrides },
            status: None,
        }
    }

    fn replicas_override(cluster: &str, n: i64) -> ClusterOverrides {
        ClusterOverrides {
            cluster_name: cluster.into(),
            cluster_overrides: vec![OverrideOp { op: None, path: "/spec/replicas".into(), value: Some(json!(n)) }],
        }
    }

    #[test]
    fn renders_a_member_deployment() {
        let template = json!({
            "apiVersion": "wrong/v9", "kind": "Wrong",
            "metadata": {
                "name": "ignored", "namespace": "ignored", "uid": "u", "resourceVersion": "1", "generation": 3,
                "creationTimestamp": "t", "managedFields": [], "selfLink": "s", "ownerReferences": [],
                "finalizers": ["f"], "deletionTimestamp": "t",
                "labels": {"app": "web", "kubefed.io/federated": "true"},
                "annotations": {"team": "a", "kubefed.io/placement": "vulcan", "kubefed.io/overrides": "{}",
                                "deployment.kubernetes.io/revision": "4"}
            },
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}},
            "status": {"replicas": 2}
        });
        let fed = federated(Some("shop"), "web", Some(template), vec![replicas_override("vulcan", 5)]);
        let want = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {
                "name": "web", "namespace": "shop",
                "labels": {"app": "web", "kubefed.io/managed": "true"},
                "annotations": {"team": "a", "kubefed.io/origin": "FederatedDeployment/shop/web"}
            },
            "spec": {"replicas": 5, "selector": {"matchLabels": {"app": "web"}}}
        });
        assert_eq!(member_object(&fed, &deployments(), "vulcan").unwrap(), want);
        let on_kronos = member_object(&fed, &deployments(), "kronos").unwrap();
        assert_eq!(on_kronos["spec"]["replicas"], 2, "overrides are per cluster");
    }

    #[test]
    fn renders_namespaces_and_cluster_scoped_objects() {
        let namespaces = ApiResourceRef::v1("", "Namespace", "namespaces", Scope::Cluster);
        let fed =
            federated(Some("team-a"), "other-name", Some(json!({"metadata": {"labels": {"env": "prod"}}})), vec![]);
        let want = json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {
                "name": "team-a",
                "labels": {"env": "prod", "kubefed.io/managed": "true"},
                "annotations": {"kubefed.io/origin": "FederatedNamespace/team-a/other-name"}
            }
        });
        assert_eq!(member_object(&fed, &namespaces, "earth").unwrap(), want);

        let roles = ApiResourceRef::v1("rbac.authorization.k8s.io", "ClusterRole", "clusterroles", Scope::Cluster);
        let fed = federated(None, "reader", Some(json!({"rules": []})), vec![]);
        let got = member_object(&fed, &roles, "earth").unwrap();
        assert_eq!(got["apiVersion"], "rbac.authorization.k8s.io/v1");
        assert_eq!(
            got["metadata"],
            json!({
                "name": "reader", "labels": {"kubefed.io/managed": "true"},
                "annotations": {"kubefed.io/origin": "FederatedClusterRole/reader"}
            })
        );
        assert_eq!(got["rules"], json!([]));
    }

    #[test]
    fn strips_member_assigned_service_fields() {
        let services = ApiResourceRef::v1("", "Service", "services", Scope::Namespaced);
        let template = json!({"spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"],
            "healthCheckNodePort": 30001, "ports": [{"port": 80, "nodePort": 30080}]}});
        let fed = federated(Some("ns"), "web", Some(template), vec![]);
        let got = member_object(&fed, &services, "vulcan").unwrap();
        assert_eq!(got["spec"], json!({"type": "LoadBalancer", "ports": [{"port": 80, "nodePort": 30080}]}));

        let headless = json!({"spec": {"clusterIP": "None", "clusterIPs": ["None"]}});
        let fed = federated(Some("ns"), "db", Some(headless.clone()), vec![]);
        assert_eq!(member_object(&fed, &services, "vulcan").unwrap()["spec"], headless["spec"]);
    }

    #[test]
    fn render_errors() {
        let no_template = federated(Some("ns"), "web", None, vec![]);
        assert_eq!(member_object(&no_template, &deployments(), "vulcan").unwrap()["metadata"]["name"], "web");

        let not_object = federated(Some("ns"), "web", Some(json!([1])), vec![]);
        assert_eq!(member_object(&not_object, &deployments(), "vulcan"), Err(RenderError::TemplateNotObject));

        let mut nameless = federated(Some("ns"), "web", None, vec![]);
        nameless.metadata.name = None;
        assert_eq!(member_object(&nameless, &deployments(), "vulcan"), Err(RenderError::MissingName));

        let bad = ClusterOverrides {
            cluster_name: "vulcan".into(),
            cluster_overrides: vec![OverrideOp { op: Some("remove".into()), path: "/spec/nope".into(), value: None }],
        };
        let fed = federated(Some("ns"), "web", Some(json!({"spec": {}})), vec![bad]);
        let err = member_object(&fed, &deployments(), "vulcan").unwrap_err().to_string();
        assert_eq!(
            err,
            "overrides for cluster \"vulcan\": operation 0: cannot remove \"/spec/nope\": no such field or array index in the object"
        );
    }

    #[test]
    fn templates_from_sources() {
        let source = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {
                "name": "web", "namespace": "shop", "uid": "u", "resourceVersion": "9",
                "labels": {"app": "web", "kubefed.io/federated": "true"},
                "annotations": {"team": "a", "kubefed.io/placement": "vulcan", "kubefed.io/federated-replicas": "3",
                                "kubectl.kubernetes.io/last-applied-configuration": "{}"}
            },
            "spec": {"replicas": 0, "paused": false},
            "status": {"replicas": 0}
        });
        let want = json!({
            "metadata": {"labels": {"app": "web"}, "annotations": {"team": "a"}},
            "spec": {"replicas": 3, "paused": false}
        });
        assert_eq!(template_from_source(&source), want);

        let config_map = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cfg", "annotations": {"kubefed.io/placement": "*"}},
            "data": {"a": "b"}, "binaryData": {"c": "ZA=="}, "immutable": true
        });
        assert_eq!(
            template_from_source(&config_map),
            json!({"data": {"a": "b"}, "binaryData": {"c": "ZA=="}, "immutable": true})
        );

        let unpinned =
            json!({"metadata": {"annotations": {"kubefed.io/federated-replicas": "x"}}, "spec": {"replicas": 2}});
        assert_eq!(template_from_source(&unpinned), json!({"spec": {"replicas": 2}}));
        assert_eq!(template_from_source(&json!("nope")), json!({}));
    }

    #[test]
    fn origins() {
        assert_eq!(origin("FederatedDeployment", Some("ns"), "web"), "FederatedDeployment/ns/web");
        assert_eq!(origin("FederatedClusterRole", None, "r"), "FederatedClusterRole/r");
    }

    #[test]
    fn a_pod_copy_leaves_the_node_to_the_member() {
        let pods = ApiResourceRef::v1("", "Pod", "pods", crate::api::Scope::Namespaced);
        let template = json!({"spec": {"nodeName": "earth-node", "containers": [{"name": "c", "image": "i"}]}});
        let mut fed = Federated::new("solo", &pods.federated().api_resource(), FederatedSpec::default());
        fed.metadata.namespace = Some("demo".into());
        fed.spec.template = Some(template);
        let copy = member_object(&fed, &pods, "vulcan").unwrap();
        assert!(copy["spec"].get("nodeName").is_none(), "{copy}");
        assert_eq!(copy["spec"]["containers"][0]["name"], "c");
    }
}
