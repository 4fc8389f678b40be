//! Admission: the real earth kube-apiserver calls fed-webhook over TLS (issue 3 acceptance).

use std::time::Duration;

use fed_e2e::{
    TestNamespace, apply_on_earth as apply, assert_denied, federation, kubectl, output_text, succeeded, wait_until,
};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;

/// A Deployment manifest with `replicas` and the given annotations (JSON map).
fn deployment(name: &str, replicas: i32, annotations: serde_json::Value) -> String {
    serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}
        }
    })
    .to_string()
}

#[tokio::test]
async fn placement_naming_an_unknown_cluster_is_denied_with_the_joined_list_and_a_suggestion() {
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "adm-unknown").await;
    for dry_run in [&[][..], &["--dry-run=server"][..]] {
        let out =
            apply(&ns.name, &deployment("web", 1, serde_json::json!({"kubefed.io/placement": "earth,mars"})), dry_run);
        assert_denied(&out, &["\"mars\"", "earth, kronos, vulcan"]);
        let out = apply(&ns.name, &deployment("web", 1, serde_json::json!({"kubefed.io/placement": "vulcn"})), dry_run);
        assert_denied(&out, &["\"vulcn\"", "did you mean \"vulcan\""]);
    }
    ns.delete().await;
}

#[tokio::test]
async fn placement_is_normalised_identically_under_server_dry_run() {
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "adm-norm").await;
    let manifest = deployment("web", 1, serde_json::json!({"kubefed.io/placement": " vulcan,earth"}));
    let out = apply(
        &ns.name,
        &manifest,
        &["--dry-run=server", "-o", "jsonpath={.metadata.annotations.kubefed\\.io/placement}"],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "earth,vulcan");
    let deployments = Api::<Deployment>::namespaced(bed.earth.clone(), &ns.name);
    assert!(deployments.get_opt("web").await.unwrap().is_none(), "dry run must not store anything");

    let out = apply(&ns.name, &manifest, &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    let stored = deployments.get("web").await.unwrap();
    let annotations = stored.metadata.annotations.unwrap();
    assert_eq!(annotations["kubefed.io/placement"], "earth,vulcan");
    assert_eq!(stored.metadata.labels.unwrap()["kubefed.io/federated"], "true");
    ns.delete().await;
}

#[tokio::test]
async fn namespace_policy_limits_annotations_and_federated_objects() {
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "adm-policy").await;
    let fedns = serde_json::json!({
        "apiVersion": "types.kubefed.io/v1beta1", "kind": "FederatedNamespace",
        "metadata": {"name": ns.name},
        "spec": {"placement": {"clusters": [{"name": "earth"}]}}
    });
    let out = apply(&ns.name, &fedns.to_string(), &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    // The webhook decides from its caches: wait until it has seen the FederatedNamespace.
    let denied = wait_until(Duration::from_secs(20), "the policy to apply", || async {
        let out = apply(
            &ns.name,
            &deployment("web", 1, serde_json::json!({"kubefed.io/placement": "vulcan"})),
            &["--dry-run=server"],
        );
        (!out.status.success()).then_some(out)
    })
    .await;
    assert_denied(&denied, &["vulcan", &ns.name]);

    let fed_deploy = serde_json::json!({
        "apiVersion": "types.kubefed.io/v1beta1", "kind": "FederatedDeployment",
        "metadata": {"name": "fedweb"},
        "spec": {"template": {"spec": {"replicas": 1}}, "placement": {"clusters": [{"name": "vulcan"}]}}
    });
    assert_denied(&apply(&ns.name, &fed_deploy.to_string(), &[]), &["vulcan"]);
    let allowed = apply(
        &ns.name,
        &deployment("ok", 1, serde_json::json!({"kubefed.io/placement": "earth"})),
        &["--dry-run=server"],
    );
    assert!(allowed.status.success(), "{}", output_text(&allowed));
    ns.delete().await;
}

#[tokio::test]
async fn malformed_overrides_are_denied_with_the_reason() {
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "adm-ovr").await;
    let cases = [
        (r#"{"vulcan":[{"path":"spec/replicas","value":3}]}"#, "spec/replicas"),
        (r#"{"vulcan":[{"op":"move","path":"/spec/replicas","value":3}]}"#, "move"),
        (r#"{"kronos":[{"path":"/spec/replicas","value":3}]}"#, "kronos"),
    ];
    for (overrides, reason) in cases {
        let annotations = serde_json::json!({"kubefed.io/placement": "vulcan", "kubefed.io/overrides": overrides});
        assert_denied(&apply(&ns.name, &deployment("web", 1, annotations), &[]), &[reason]);
    }
    ns.delete().await;
}

#[tokio::test]
async fn host_copy_is_pinned_to_zero_replicas_until_the_placement_is_removed() {
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "adm-pin").await;
    let out = apply(&ns.name, &deployment("web", 2, serde_json::json!({"kubefed.io/placement": "vulcan"})), &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    let deployments = Api::<Deployment>::namespaced(bed.earth.clone(), &ns.name);
    let stored = deployments.get("web").await.unwrap();
    assert_eq!(stored.spec.replicas, Some(0));
    assert_eq!(stored.metadata.annotations.as_ref().unwrap()["kubefed.io/federated-replicas"], "2");

    let out =
        kubectl(&["--context", "earth", "-n", &ns.name, "annotate", "deployment", "web", "kubefed.io/placement-"]);
    assert!(out.status.success(), "{}", output_text(&out));
    let restored = deployments.get("web").await.unwrap();
    assert_eq!(restored.spec.replicas, Some(2));
    assert!(!restored.metadata.annotations.unwrap_or_default().contains_key("kubefed.io/federated-replicas"));
    ns.delete().await;
}

#[tokio::test]
async fn annotating_a_type_that_is_not_enabled_is_denied_with_the_enable_hint() {
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "adm-type").await;
    let secret = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "creds", "annotations": {"kubefed.io/placement": "vulcan"}},
        "stringData": {"k": "v"}
    });
    assert_denied(&apply(&ns.name, &secret.to_string(), &[]), &["kubectl fed enable secrets"]);
    ns.delete().await;
}

#[tokio::test]
async fn a_source_whose_federated_name_is_taken_by_another_object_is_denied() {
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "adm-clash").await;
    let taken = serde_json::json!({
        "apiVersion": "types.kubefed.io/v1beta1", "kind": "FederatedDeployment",
        "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"replicas": 1}}, "placement": {"clusters": []}}
    });
    succeeded(apply(&ns.name, &taken.to_string(), &[]));
    // The webhook's cache of federated objects follows a watch: wait until it has seen this one.
    let source = deployment("web", 1, serde_json::json!({"kubefed.io/placement": "vulcan"}));
    let denied = wait_until(Duration::from_secs(20), "the clash to be refused", || {
        let out = apply(&ns.name, &source, &["--dry-run=server"]);
        std::future::ready((!out.status.success()).then_some(out))
    })
    .await;
    assert_denied(&denied, &["FederatedDeployment", "already exists and is not owned by this Deployment"]);

    // A source's own federated object is no clash: updating the source is admitted.
    succeeded(apply(&ns.name, &deployment("api", 1, serde_json::json!({"kubefed.io/placement": "vulcan"})), &[]));
    let federated = ["--context", "earth", "-n", &ns.name, "get", "federateddeployment", "api", "-o", "name"];
    wait_until(Duration::from_secs(30), "the source's FederatedDeployment", || {
        std::future::ready(kubectl(&federated).status.success().then_some(()))
    })
    .await;
    succeeded(apply(&ns.name, &deployment("api", 3, serde_json::json!({"kubefed.io/placement": "vulcan"})), &[]));
    ns.delete().await;
}
