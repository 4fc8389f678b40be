//! Follow: objects created later in a followed namespace are federated with it.
//!
//! `kubectl fed federate namespace NS --clusters earth,vulcan --follow`, then plain
//! `kubectl apply` of a Deployment, a Service, a ConfigMap and a bare Pod: each becomes a source
//! placed on earth and vulcan and its copy lands on vulcan (never on kronos). What the host's
//! controllers make (the Deployment's ReplicaSet and Pods) is never federated; an object with its
//! own placement keeps it; `kubefed.io/follow: "false"` opts out; a type that is not enabled is
//! admitted with a warning naming `kubectl fed enable`. `kubectl fed status -A` lists the
//! namespace. After `kubectl fed follow NS --stop` a new object stays on the host and the
//! existing ones are untouched.

use std::time::Duration;

use fed_core::keys;
use fed_e2e::{TestNamespace, apply_on_earth, federation, kubectl, kubectl_fed, output_text, succeeded, wait_until};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Service};
use kube::api::{Api, ListParams};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

const LANDED: Duration = Duration::from_secs(90);

fn deployment(image: &str) -> String {
    serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": image}]}}}})
    .to_string()
}

fn service() -> String {
    serde_json::json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    .to_string()
}

fn config_map(name: &str, annotations: serde_json::Value) -> String {
    serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "annotations": annotations}, "data": {"k": "v"}})
    .to_string()
}

fn pod(image: &str) -> String {
    serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "solo"},
        "spec": {"containers": [{"name": "solo", "image": image}]}})
    .to_string()
}

/// `kubectl apply` of `manifest` in `ns`, retried while fed-webhook has not seen the namespace
/// follow yet (its caches lag behind the label by a watch event); the output of the success.
async fn apply_followed(ns: &str, manifest: &str) -> std::process::Output {
    wait_until(Duration::from_secs(30), "fed-webhook to see the namespace follow", || async {
        let out = apply_on_earth(ns, manifest, &[]);
        let text = output_text(&out);
        match out.status.success() {
            true => Some(out),
            false if text.contains("has not seen it follow yet") => None,
            false => panic!("kubectl apply failed: {text}"),
        }
    })
    .await
}

async fn get<K>(client: &Client, ns: &str, name: &str) -> Option<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope> + Clone + DeserializeOwned + std::fmt::Debug,
    K::DynamicType: Default,
{
    Api::<K>::namespaced(client.clone(), ns).get_opt(name).await.ok().flatten()
}

fn placement_of(obj: &impl ResourceExt) -> Option<String> {
    obj.annotations().get(keys::PLACEMENT).cloned()
}

#[tokio::test]
async fn new_objects_in_a_followed_namespace_land_on_its_clusters_until_follow_stops() {
    let bed = federation().await;
    let image = fed_e2e::images().map_or("registry.invalid/pause:1".to_string(), |i| i.pause);
    let pods_were_enabled =
        kubectl(&["--context", "earth", "-n", "kube-federation-system", "get", "federatedtypeconfig", "pods"])
            .status
            .success();
    succeeded(kubectl_fed(&["enable", "pods"]));
    let ns = TestNamespace::create(&bed.earth, "follow").await;
    let n = ns.name.as_str();

    let out = kubectl_fed(&["federate", "namespace", n, "--clusters", "earth,vulcan", "--follow"]);
    assert!(out.status.success(), "{}", output_text(&out));
    let host_ns = Api::<Namespace>::all(bed.earth.clone()).get(n).await.unwrap();
    assert_eq!(host_ns.labels().get(keys::FOLLOW).map(String::as_str), Some("true"));
    let status = succeeded(kubectl_fed(&["status", "-A"]));
    let following = status.split("FOLLOWING NAMESPACE").nth(1).unwrap_or_else(|| panic!("no follow table:\n{status}"));
    let row = following.lines().find(|l| l.starts_with(&format!("{n} "))).unwrap_or_else(|| panic!("{status}"));
    assert!(row.contains("earth,vulcan"), "status -A shows where new objects go: {row}");

    // Plain kubectl apply: no kubefed.io/ annotation in any of these manifests.
    apply_followed(n, &deployment(&image)).await;
    succeeded(apply_on_earth(n, &service(), &[]));
    succeeded(apply_on_earth(n, &config_map("settings", serde_json::json!({})), &[]));
    succeeded(apply_on_earth(n, &pod(&image), &[]));
    let web: Deployment = get(&bed.earth, n, "web").await.unwrap();
    assert_eq!(placement_of(&web).as_deref(), Some("earth,vulcan"));
    assert_eq!(web.labels().get(keys::FEDERATED_LABEL).map(String::as_str), Some("true"));
    wait_until(LANDED, "the Deployment, Service, ConfigMap and Pod on vulcan", || async {
        let d: Deployment = get(&bed.vulcan, n, "web").await?;
        let s: Service = get(&bed.vulcan, n, "web").await?;
        let c: ConfigMap = get(&bed.vulcan, n, "settings").await?;
        let p: Pod = get(&bed.vulcan, n, "solo").await?;
        Some((d, s, c, p))
    })
    .await;
    assert!(get::<Deployment>(&bed.kronos, n, "web").await.is_none(), "kronos is not in the namespace's placement");

    // What the host's controllers made from the Deployment is never federated.
    let replica_sets = wait_until(LANDED, "web's ReplicaSet and Pod on earth", || async {
        let rs = Api::<ReplicaSet>::namespaced(bed.earth.clone(), n).list(&ListParams::default()).await.ok()?;
        let pods =
            Api::<Pod>::namespaced(bed.earth.clone(), n).list(&ListParams::default().labels("app=web")).await.ok()?;
        (!rs.items.is_empty() && !pods.items.is_empty()).then_some((rs.items, pods.items))
    })
    .await;
    for pod in &replica_sets.1 {
        assert!(
            pod.labels().get(keys::FEDERATED_LABEL).is_none(),
            "a controller's Pod was federated: {:?}",
            pod.metadata
        );
        assert!(get::<Pod>(&bed.vulcan, n, &pod.name_any()).await.is_none(), "{} reached vulcan", pod.name_any());
    }
    let federated_pods = succeeded(kubectl(&["--context", "earth", "-n", n, "get", "federatedpods", "-o", "name"]));
    assert_eq!(federated_pods.trim(), "federatedpod.types.kubefed.io/solo", "only the bare Pod is federated");
    let federated_rs = kubectl(&["--context", "earth", "-n", n, "get", "federatedreplicasets", "-o", "name"]);
    assert!(!federated_rs.status.success() || output_text(&federated_rs).trim().is_empty());

    // Its own placement is kept; follow "false" opts out; a type not enabled gets a warning.
    succeeded(apply_on_earth(n, &config_map("own", serde_json::json!({keys::PLACEMENT: "vulcan"})), &[]));
    succeeded(apply_on_earth(n, &config_map("local", serde_json::json!({keys::FOLLOW: "false"})), &[]));
    let own: ConfigMap = get(&bed.earth, n, "own").await.unwrap();
    assert_eq!(placement_of(&own).as_deref(), Some("vulcan"));
    let local: ConfigMap = get(&bed.earth, n, "local").await.unwrap();
    assert_eq!(placement_of(&local), None, "opted out");
    let secret = serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
        "type": "Opaque", "stringData": {"k": "v"}})
    .to_string();
    let enabled =
        kubectl(&["--context", "earth", "-n", "kube-federation-system", "get", "federatedtypeconfig", "secrets"]);
    if !enabled.status.success() {
        let out = apply_on_earth(n, &secret, &[]);
        let text = output_text(&out);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("kubectl fed enable secrets"), "the warning names the command: {text}");
    }

    // Stop following: existing objects are unchanged, new ones stay on the host.
    let before: Deployment = get(&bed.earth, n, "web").await.unwrap();
    let out = kubectl_fed(&["follow", n, "--stop"]);
    assert!(out.status.success(), "{}", output_text(&out));
    let host_ns = Api::<Namespace>::all(bed.earth.clone()).get(n).await.unwrap();
    assert!(host_ns.labels().get(keys::FOLLOW).is_none());
    let mut tries = 0;
    let after = wait_until(Duration::from_secs(30), "a new object that stays on the host", || {
        tries += 1;
        let name = format!("after-{tries}");
        let client = bed.earth.clone();
        let ns = n.to_string();
        async move {
            succeeded(apply_on_earth(&ns, &config_map(&name, serde_json::json!({})), &[]));
            let cm: ConfigMap = get(&client, &ns, &name).await?;
            placement_of(&cm).is_none().then_some(name)
        }
    })
    .await;
    let federated_after = kubectl(&["--context", "earth", "-n", n, "get", "federatedconfigmap", &after]);
    assert!(!federated_after.status.success(), "{after} was federated: {}", output_text(&federated_after));
    let now: Deployment = get(&bed.earth, n, "web").await.unwrap();
    assert_eq!(now.uid(), before.uid());
    assert_eq!(placement_of(&now).as_deref(), Some("earth,vulcan"), "stopping changed an existing object");
    assert!(get::<Deployment>(&bed.vulcan, n, "web").await.is_some(), "vulcan's copy stays");

    ns.delete().await;
    if !pods_were_enabled {
        fed_e2e::disable_when_unused("pods").await;
    }
}

/// KubeFed YAML: a FederatedNamespace annotated `kubefed.io/follow: "true"` makes its namespace
/// follow (the follow label controller labels it); `"false"` stops it.
#[tokio::test]
async fn a_federated_namespace_annotated_follow_true_means_the_same() {
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "follow-yaml").await;
    let n = ns.name.as_str();
    let fns = |follow: &str| {
        serde_json::json!({"apiVersion": "types.kubefed.io/v1beta1", "kind": "FederatedNamespace",
            "metadata": {"name": n, "namespace": n, "annotations": {keys::FOLLOW: follow}},
            "spec": {"placement": {"clusters": [{"name": "vulcan"}]}}})
        .to_string()
    };
    succeeded(apply_on_earth(n, &fns("true"), &[]));
    let namespaces = Api::<Namespace>::all(bed.earth.clone());
    wait_until(LANDED, "the namespace labelled to follow", || async {
        let ns = namespaces.get(n).await.ok()?;
        (ns.labels().get(keys::FOLLOW).map(String::as_str) == Some("true")).then_some(())
    })
    .await;
    apply_followed(n, &config_map("settings", serde_json::json!({}))).await;
    let cm: ConfigMap = get(&bed.earth, n, "settings").await.unwrap();
    assert_eq!(placement_of(&cm).as_deref(), Some("vulcan"), "the FederatedNamespace's placement");
    wait_until(LANDED, "settings on vulcan", || async { get::<ConfigMap>(&bed.vulcan, n, "settings").await }).await;

    succeeded(apply_on_earth(n, &fns("false"), &[]));
    wait_until(LANDED, "the follow label removed", || async {
        let ns = namespaces.get(n).await.ok()?;
        ns.labels().get(keys::FOLLOW).is_none().then_some(())
    })
    .await;
    ns.delete().await;
}
