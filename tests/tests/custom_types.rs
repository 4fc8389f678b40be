//! A type defined by a CustomResourceDefinition, enabled with `kubectl fed enable plural.group`,
//! propagates like a built-in one; a disabled type's federated objects stay deletable
//! (issue 4 acceptance).
//!
//! Two CRDs of group `example.com`: `widgets` (on every cluster) and `gadgets` (on earth and
//! vulcan only, so kronos does not serve it). Both are enabled once per run, one after the
//! other, before any test starts: `enable` rewrites every member's federation ClusterRole from
//! the list of type configs, so two concurrent enables could each drop the other's type.

use std::time::Duration;

use fed_e2e::{
    Bed, TestNamespace, federation, kubectl, kubectl_fed, kubectl_federation_ns, kubectl_with_stdin, output_text,
    succeeded, wait_until,
};
use kube::api::{Api, DynamicObject};
use kube::core::ApiResource;
use serde_json::json;
use tokio::sync::OnceCell;

const CONVERGE: Duration = Duration::from_secs(60);

/// A namespaced CRD `<plural>.example.com` (kind `Kind`) whose spec has a size and a colour.
fn crd(kind: &str, plural: &str) -> String {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.example.com")},
        "spec": {
            "group": "example.com", "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.to_ascii_lowercase()},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {"spec": {"type": "object", "properties": {
                    "size": {"type": "integer"}, "colour": {"type": "string"}
                }}}
            }}}]
        }
    })
    .to_string()
}

fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: "example.com".into(),
        version: "v1".into(),
        api_version: "example.com/v1".into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

fn apply(context: &str, namespace: Option<&str>, manifest: &str) {
    let mut args = vec!["--context", context, "apply", "-f", "-"];
    if let Some(ns) = namespace {
        args.extend_from_slice(&["-n", ns]);
    }
    succeeded(kubectl_with_stdin(&args, Some(manifest)));
}

static TYPES: OnceCell<()> = OnceCell::const_new();

/// The federation with both CRDs installed and enabled. On a fresh bed `enable` runs right
/// after the CRDs are created, before the host serves them (it waits for that itself).
async fn custom_types() -> Bed {
    let bed = federation().await;
    TYPES
        .get_or_init(|| async {
            for (kind, plural, clusters) in
                [("Widget", "widgets", &["earth", "vulcan", "kronos"][..]), ("Gadget", "gadgets", &["earth", "vulcan"])]
            {
                for cluster in clusters {
                    apply(cluster, None, &crd(kind, plural));
                }
                succeeded(kubectl_fed(&["enable", &format!("{plural}.example.com")]));
            }
        })
        .await;
    bed
}

/// The object `name` in `ns` on `cluster`, once `ready` accepts it.
async fn wait_for(
    bed: &Bed,
    cluster: &str,
    ar: &ApiResource,
    ns: &str,
    name: &str,
    what: &str,
    ready: impl Fn(&DynamicObject) -> bool,
) -> DynamicObject {
    let api = Api::<DynamicObject>::namespaced_with(bed.cluster(cluster).clone(), ns, ar);
    wait_until(CONVERGE, &format!("{what} on {cluster}"), || async {
        api.get_opt(name).await.ok()?.filter(|o| ready(o))
    })
    .await
}

async fn wait_gone(bed: &Bed, cluster: &str, ar: &ApiResource, ns: &str, name: &str) {
    let api = Api::<DynamicObject>::namespaced_with(bed.cluster(cluster).clone(), ns, ar);
    wait_until(CONVERGE, &format!("{} {name} gone from {cluster}", ar.kind), || async {
        matches!(api.get_opt(name).await, Ok(None)).then_some(())
    })
    .await;
}

/// `spec.propagation` of a type config.
fn propagation(type_config: &str) -> String {
    succeeded(kubectl_federation_ns(&["get", "federatedtypeconfig", type_config, "-o", "jsonpath={.spec.propagation}"]))
}

#[tokio::test]
async fn an_annotated_custom_resource_propagates_with_overrides_and_its_deletion_cascades() {
    let bed = custom_types().await;
    let ns = TestNamespace::create(&bed.earth, "crd-widget").await;
    let widget = json!({
        "apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "gizmo", "annotations": {
            "kubefed.io/placement": "vulcan,kronos",
            "kubefed.io/overrides": r#"{"kronos":[{"path":"/spec/size","value":5}]}"#
        }},
        "spec": {"size": 2, "colour": "blue"}
    });
    apply("earth", Some(&ns.name), &widget.to_string());

    let widgets = resource("Widget", "widgets");
    for (cluster, size) in [("vulcan", 2), ("kronos", 5)] {
        let want = json!({"size": size, "colour": "blue"});
        let copy = wait_for(&bed, cluster, &widgets, &ns.name, "gizmo", &format!("gizmo with spec {want}"), |o| {
            o.data["spec"] == want
        })
        .await;
        assert_eq!(copy.metadata.labels.as_ref().unwrap()["kubefed.io/managed"], "true");
    }

    succeeded(kubectl(&["--context", "earth", "-n", &ns.name, "delete", "widget", "gizmo"]));
    for cluster in ["vulcan", "kronos"] {
        wait_gone(&bed, cluster, &widgets, &ns.name, "gizmo").await;
    }
    ns.delete().await;
}

#[tokio::test]
async fn disabling_a_type_in_use_needs_force_and_its_federated_objects_stay_deletable() {
    let bed = custom_types().await;
    let ns = TestNamespace::create(&bed.earth, "crd-disable").await;
    let federated = json!({
        "apiVersion": "types.kubefed.io/v1beta1", "kind": "FederatedGadget",
        "metadata": {"name": "g1"},
        "spec": {"template": {"spec": {"size": 1}}, "placement": {"clusters": [{"name": "vulcan"}, {"name": "kronos"}]}}
    });
    apply("earth", Some(&ns.name), &federated.to_string());

    let gadgets = resource("Gadget", "gadgets");
    wait_for(&bed, "vulcan", &gadgets, &ns.name, "g1", "gadget g1", |_| true).await;
    // kronos has no gadgets CRD: its status says so.
    let fed_gadgets = ApiResource {
        group: "types.kubefed.io".into(),
        version: "v1beta1".into(),
        api_version: "types.kubefed.io/v1beta1".into(),
        kind: "FederatedGadget".into(),
        plural: "federatedgadgets".into(),
    };
    wait_for(&bed, "earth", &fed_gadgets, &ns.name, "g1", "kronos CreationFailed (not served)", |o| {
        o.data["status"]["clusters"].as_array().into_iter().flatten().any(|c| {
            c["name"] == "kronos"
                && c["status"] == "CreationFailed"
                && c["message"].as_str().is_some_and(|m| m.contains("does not serve example.com/v1 gadgets"))
        })
    })
    .await;

    // In use: refused, with the objects listed, and nothing changes.
    let refused = kubectl_fed(&["disable", "gadgets.example.com"]);
    let text = output_text(&refused);
    assert!(!refused.status.success(), "{text}");
    assert!(text.contains(&format!("{}/FederatedGadget/g1", ns.name)) && text.contains("--force"), "{text}");
    assert_eq!(propagation("gadgets.example.com"), "Enabled");

    succeeded(kubectl_fed(&["disable", "gadgets.example.com", "--force"]));
    assert_eq!(propagation("gadgets.example.com"), "Disabled");

    // Deleting it while disabled completes (the controllers release the sync finalizer) and,
    // as nothing propagates, leaves the member copy where it is.
    succeeded(kubectl(&["--context", "earth", "-n", &ns.name, "delete", "federatedgadget", "g1", "--wait=false"]));
    wait_gone(&bed, "earth", &fed_gadgets, &ns.name, "g1").await;
    let copy = Api::<DynamicObject>::namespaced_with(bed.vulcan.clone(), &ns.name, &gadgets).get_opt("g1").await;
    assert!(copy.unwrap().is_some(), "a disabled type's member copies are left alone");

    // With no federated objects left, the type and its CRD can go.
    succeeded(kubectl(&["--context", "vulcan", "-n", &ns.name, "delete", "gadget", "g1"]));
    succeeded(kubectl_fed(&["disable", "gadgets.example.com", "--delete-crd"]));
    let crd = kubectl(&["--context", "earth", "get", "crd", "federatedgadgets.types.kubefed.io", "-o", "name"]);
    assert!(!crd.status.success(), "{}", output_text(&crd));
    ns.delete().await;
}

/// `kubectl fed status` resolves a custom type by its singular name, like kubectl.
#[tokio::test]
async fn status_lists_a_custom_types_federated_objects() {
    let bed = custom_types().await;
    let ns = TestNamespace::create(&bed.earth, "crd-status").await;
    let widget = json!({
        "apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "sprocket", "annotations": {"kubefed.io/placement": "vulcan"}},
        "spec": {"size": 1}
    });
    apply("earth", Some(&ns.name), &widget.to_string());
    wait_for(&bed, "vulcan", &resource("Widget", "widgets"), &ns.name, "sprocket", "sprocket", |_| true).await;
    let status = succeeded(kubectl_fed(&["status", "widget/sprocket", "-n", &ns.name]));
    assert!(status.contains("vulcan"), "{status}");
    ns.delete().await;
}
