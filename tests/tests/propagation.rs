//! Controllers: admitted intent becomes objects on member clusters (issue 4 acceptance).

use std::time::Duration;

use fed_e2e::{Bed, TestNamespace, federation, kubectl, kubectl_with_stdin, output_text, repo_root, wait_until};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::Resource;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde::de::DeserializeOwned;

const CONVERGE: Duration = Duration::from_secs(60);

fn apply(ns: &str, manifest: &str) {
    let out = kubectl_with_stdin(&["--context", "earth", "-n", ns, "apply", "-f", "-"], Some(manifest));
    assert!(out.status.success(), "{}", output_text(&out));
}

/// Waits until `name` exists (Some) or is absent (None) in `ns` on every listed cluster.
async fn wait_present<K>(bed: &Bed, clusters: &[&str], ns: &str, name: &str) -> Vec<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let mut found = Vec::new();
    for cluster in clusters {
        let api = Api::<K>::namespaced(bed.cluster(cluster).clone(), ns);
        found.push(
            wait_until(CONVERGE, &format!("{name} on {cluster}"), || async { api.get_opt(name).await.ok()? }).await,
        );
    }
    found
}

async fn wait_absent<K>(bed: &Bed, clusters: &[&str], ns: &str, name: &str)
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    for cluster in clusters {
        let api = Api::<K>::namespaced(bed.cluster(cluster).clone(), ns);
        wait_until(CONVERGE, &format!("{name} gone from {cluster}"), || async {
            matches!(api.get_opt(name).await, Ok(None)).then_some(())
        })
        .await;
    }
}

async fn replicas_on(bed: &Bed, cluster: &str, ns: &str, name: &str) -> Option<i32> {
    let api = Api::<Deployment>::namespaced(bed.cluster(cluster).clone(), ns);
    api.get_opt(name).await.ok()??.spec.replicas
}

async fn wait_replicas(bed: &Bed, cluster: &str, ns: &str, name: &str, want: i32) {
    wait_until(CONVERGE, &format!("{name} on {cluster} with {want} replicas"), || async {
        (replicas_on(bed, cluster, ns, name).await == Some(want)).then_some(())
    })
    .await;
}

/// Listings 2–4 of the seed walk-through as the article gives them, in a namespace of the
/// test's own (the article's `fedtestns` may hold `make demo`'s copy).
#[tokio::test]
async fn seed_walkthrough_listings_land_on_earth_and_vulcan_only() {
    let bed = federation().await;
    let owned = TestNamespace::create(&bed.earth, "fedtestns").await;
    let ns = owned.name.as_str();
    let seed = std::fs::read_to_string(repo_root().join("tests/fixtures/seed-listings.yaml")).unwrap();
    apply(ns, &seed.replace("namespace: fedtestns", &format!("namespace: {ns}")));

    wait_present::<Deployment>(&bed, &["earth", "vulcan"], ns, "fedhttp").await;
    let services = wait_present::<Service>(&bed, &["earth", "vulcan"], ns, "fed-service").await;
    for svc in &services {
        assert_eq!(svc.spec.as_ref().unwrap().type_.as_deref(), Some("NodePort"));
    }
    let kronos = Api::<Deployment>::namespaced(bed.kronos.clone(), ns);
    assert!(kronos.get_opt("fedhttp").await.unwrap().is_none(), "kronos is not in the placement");

    let status = wait_until(CONVERGE, "FederatedDeployment status for both clusters", || async {
        let out = kubectl(&["--context", "earth", "-n", ns, "get", "federateddeployment", "fedhttp", "-o", "json"]);
        let fed: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        let clusters = fed["status"]["clusters"].as_array()?.clone();
        let propagated =
            fed["status"]["conditions"].as_array()?.iter().any(|c| c["type"] == "Propagation" && c["status"] == "True");
        (propagated && clusters.len() == 2).then_some(clusters)
    })
    .await;
    let names: Vec<&str> = status.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["earth", "vulcan"]);

    // Removing vulcan from the placement deletes the copy there.
    let patch = r#"{"spec":{"placement":{"clusters":[{"name":"earth"}]}}}"#;
    let out = fed_e2e::merge_patch_on_earth(ns, "federateddeployment", "fedhttp", patch);
    assert!(out.status.success(), "{}", output_text(&out));
    wait_absent::<Deployment>(&bed, &["vulcan"], ns, "fedhttp").await;

    // Deleting the FederatedDeployment deletes it everywhere.
    let out = kubectl(&["--context", "earth", "-n", ns, "delete", "federateddeployment", "fedhttp", "--wait=true"]);
    assert!(out.status.success(), "{}", output_text(&out));
    wait_absent::<Deployment>(&bed, &["earth", "vulcan"], ns, "fedhttp").await;
    // The namespace's placement names vulcan: leave nothing that would hold up its unjoin later.
    owned.delete().await;
}

#[tokio::test]
async fn orphaned_federated_objects_leave_their_copies_behind() {
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "prop-orphan").await;
    let fed = serde_json::json!({
        "apiVersion": "types.kubefed.io/v1beta1", "kind": "FederatedConfigMap",
        "metadata": {"name": "settings", "annotations": {"kubefed.io/orphan": "true"}},
        "spec": {"template": {"data": {"mode": "blue"}}, "placement": {"clusters": [{"name": "vulcan"}]}}
    });
    apply(&ns.name, &fed.to_string());
    let copy = wait_present::<ConfigMap>(&bed, &["vulcan"], &ns.name, "settings").await;
    assert_eq!(copy[0].data.as_ref().unwrap()["mode"], "blue");
    let out =
        kubectl(&["--context", "earth", "-n", &ns.name, "delete", "federatedconfigmap", "settings", "--wait=true"]);
    assert!(out.status.success(), "{}", output_text(&out));
    let vulcan = Api::<ConfigMap>::namespaced(bed.vulcan.clone(), &ns.name);
    assert!(vulcan.get_opt("settings").await.unwrap().is_some(), "orphaned copy must stay");
    ns.delete().await;
}

#[tokio::test]
async fn annotated_deployment_follows_overrides_source_changes_and_deletion() {
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "prop-annot").await;
    let manifest = |image: &str| {
        serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "annotations": {
                "kubefed.io/placement": "vulcan,kronos",
                "kubefed.io/overrides": r#"{"kronos":[{"path":"/spec/replicas","value":3}]}"#
            }},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "web", "image": image}]}}
            }
        })
        .to_string()
    };
    apply(&ns.name, &manifest("nginx:1.26"));
    wait_replicas(&bed, "vulcan", &ns.name, "web", 2).await;
    wait_replicas(&bed, "kronos", &ns.name, "web", 3).await;
    assert_eq!(replicas_on(&bed, "earth", &ns.name, "web").await, Some(0), "host copy is pinned");
    // The source's own ReplicaSet inherits its kubefed.io annotations; the webhook must still
    // let the host's deployment controller create it.
    let earth_sets = Api::<ReplicaSet>::namespaced(bed.earth.clone(), &ns.name);
    wait_until(CONVERGE, "the source's ReplicaSet on earth", || async {
        let sets = earth_sets.list(&Default::default()).await.ok()?;
        sets.items.into_iter().find(|rs| rs.metadata.owner_references.iter().flatten().any(|o| o.name == "web"))
    })
    .await;

    // A new image on the source reaches both members.
    apply(&ns.name, &manifest("nginx:1.27"));
    for cluster in ["vulcan", "kronos"] {
        let api = Api::<Deployment>::namespaced(bed.cluster(cluster).clone(), &ns.name);
        wait_until(CONVERGE, &format!("new image on {cluster}"), || async {
            let d = api.get_opt("web").await.ok()??;
            (d.spec.template.spec?.containers[0].image.as_deref() == Some("nginx:1.27")).then_some(())
        })
        .await;
    }

    // A hand edit on a member is reverted.
    let vulcan = Api::<Deployment>::namespaced(bed.vulcan.clone(), &ns.name);
    vulcan
        .patch("web", &PatchParams::default(), &Patch::Merge(serde_json::json!({"spec": {"replicas": 7}})))
        .await
        .unwrap();
    wait_replicas(&bed, "vulcan", &ns.name, "web", 2).await;

    // Deleting the source deletes both copies.
    Api::<Deployment>::namespaced(bed.earth.clone(), &ns.name).delete("web", &DeleteParams::default()).await.unwrap();
    wait_absent::<Deployment>(&bed, &["vulcan", "kronos"], &ns.name, "web").await;
    ns.delete().await;
}

#[tokio::test]
async fn annotated_service_gets_each_members_own_cluster_ip() {
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "prop-svc").await;
    let svc = serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "api", "annotations": {"kubefed.io/placement": "vulcan,kronos"}},
        "spec": {"selector": {"app": "api"}, "ports": [{"port": 80}]}
    });
    apply(&ns.name, &svc.to_string());
    let copies = wait_present::<Service>(&bed, &["vulcan", "kronos"], &ns.name, "api").await;
    let ips: Vec<String> = copies.iter().map(|s| s.spec.as_ref().unwrap().cluster_ip.clone().unwrap()).collect();
    assert!(ips[0].starts_with("10.97."), "vulcan allocates from its own range: {ips:?}");
    assert!(ips[1].starts_with("10.98."), "kronos allocates from its own range: {ips:?}");
    ns.delete().await;
}

#[tokio::test]
async fn annotated_configmap_propagates() {
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "prop-cm").await;
    let cm = serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "settings", "annotations": {"kubefed.io/placement": "*"}},
        "data": {"colour": "green"}
    });
    apply(&ns.name, &cm.to_string());
    let copies = wait_present::<ConfigMap>(&bed, &["earth", "vulcan", "kronos"], &ns.name, "settings").await;
    for copy in &copies[1..] {
        assert_eq!(copy.data.as_ref().unwrap()["colour"], "green");
        assert_eq!(copy.metadata.labels.as_ref().unwrap()["kubefed.io/managed"], "true");
    }
    ns.delete().await;
}

/// The FederatedConfigMaps of namespace `ns` on the host.
fn federated_configmaps(bed: &Bed, ns: &str) -> Api<kube::api::DynamicObject> {
    let gvk = kube::core::GroupVersionKind::gvk("types.kubefed.io", "v1beta1", "FederatedConfigMap");
    Api::namespaced_with(
        bed.earth.clone(),
        ns,
        &kube::core::ApiResource::from_gvk_with_plural(&gvk, "federatedconfigmaps"),
    )
}

/// The manager and operation of each main-resource entry in `meta`'s managedFields that is ours.
fn our_operations(meta: &kube::core::ObjectMeta) -> Vec<String> {
    let entries = meta.managed_fields.as_deref().unwrap_or_default();
    entries
        .iter()
        .filter(|e| e.manager.as_deref() == Some("kubectl-fed") && e.subresource.as_deref().is_none_or(str::is_empty))
        .filter_map(|e| e.operation.clone())
        .collect()
}

/// Copies and federated objects that are absent are created with a POST; the first change after
/// that adopts the POST's fields, so what the source drops goes from its copies too.
#[tokio::test]
async fn a_copy_created_by_post_drops_what_its_source_drops() {
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "prop-post").await;
    let cm = |data: serde_json::Value| {
        serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "sizes", "annotations": {"kubefed.io/placement": "vulcan"}},
            "data": data
        })
        .to_string()
    };
    apply(&ns.name, &cm(serde_json::json!({"colour": "green", "size": "large"})));
    let created = wait_present::<ConfigMap>(&bed, &["vulcan"], &ns.name, "sizes").await.remove(0);
    assert_eq!(our_operations(&created.metadata), ["Update"], "the copy was created with a POST");
    let fed_api = federated_configmaps(&bed, &ns.name);
    let fed = fed_api.get("sizes").await.expect("its federated object");
    assert_eq!(our_operations(&fed.metadata), ["Update"], "the federated object was created with a POST");

    apply(&ns.name, &cm(serde_json::json!({"colour": "green"})));
    let vulcan = Api::<ConfigMap>::namespaced(bed.vulcan.clone(), &ns.name);
    let updated = wait_until(CONVERGE, "size dropped from vulcan's copy", || async {
        let c = vulcan.get_opt("sizes").await.ok()??;
        (!c.data.as_ref()?.contains_key("size")).then_some(c)
    })
    .await;
    assert_eq!(updated.data.as_ref().unwrap()["colour"], "green");
    assert_eq!(updated.metadata.uid, created.metadata.uid, "updated in place");
    assert_eq!(our_operations(&updated.metadata), ["Apply"], "the POST's fields were adopted by the apply");
    let fed = fed_api.get("sizes").await.expect("its federated object");
    assert!(fed.data["spec"]["template"]["data"].get("size").is_none(), "{:?}", fed.data["spec"]);
    assert_eq!(our_operations(&fed.metadata), ["Apply"]);
    ns.delete().await;
}

/// The race the fault suite found, step by step: materialize reads a source live, the user
/// deletes it, garbage collection removes its federated object (and sync's cleanup its copies),
/// and only then does materialize's write, decided from its store's entry for that object, reach
/// the API server. That write must not bring the federated object back (its copies would be
/// re-created under new uids, then deleted again at the next collection).
#[tokio::test]
async fn a_write_decided_before_a_delete_does_not_bring_the_object_back() {
    use fed_core::guard::{Attempt, Cleanup, Owner, Seen, Write, decide, pinned};
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "prop-late").await;
    let cm = serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "late", "annotations": {"kubefed.io/placement": "vulcan"}},
        "data": {"v": "0"}
    });
    apply(&ns.name, &cm.to_string());
    wait_present::<ConfigMap>(&bed, &["vulcan"], &ns.name, "late").await;
    let fed_api = federated_configmaps(&bed, &ns.name);
    // What materialize's store holds of the federated object while it reads the source live.
    let stored = fed_api.get("late").await.expect("its federated object");
    let write = decide(Owner::Live, Cleanup::Collected, &Seen::Present(stored.metadata.uid.clone()), Attempt::First);

    Api::<ConfigMap>::namespaced(bed.earth.clone(), &ns.name).delete("late", &DeleteParams::default()).await.unwrap();
    wait_until(CONVERGE, "the federated object collected", || async {
        matches!(fed_api.get_opt("late").await, Ok(None)).then_some(())
    })
    .await;
    wait_absent::<ConfigMap>(&bed, &["vulcan"], &ns.name, "late").await;

    // The write lands now.
    let Write::Apply { uid } = write else { panic!("an apply to the object the store shows: {write:?}") };
    let body = serde_json::json!({
        "apiVersion": "types.kubefed.io/v1beta1", "kind": "FederatedConfigMap",
        "metadata": {"name": "late", "ownerReferences": stored.metadata.owner_references},
        "spec": stored.data["spec"],
    });
    let body = uid.as_deref().map_or(body.clone(), |u| pinned(&body, u));
    let answer = fed_api.patch("late", &PatchParams::apply("kubectl-fed").force(), &Patch::Apply(&body)).await;
    let back = fed_api.get_opt("late").await.unwrap();
    assert!(back.is_none(), "the late write created the federated object again: {:?}", back.map(|b| b.metadata.uid));
    assert!(matches!(answer, Err(kube::Error::Api(ref s)) if s.code == 409), "refused as a conflict: {answer:?}");
    ns.delete().await;
}
