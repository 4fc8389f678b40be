//! The test bed itself: real control planes with garbage collection and the shipped CRDs.

use std::time::Duration;

use fed_core::api::{Federated, KubeFedCluster, KubeFedClusterSpec, LocalSecretReference};
use fed_core::crd::{federated_crd, well_known_targets};
use fed_e2e::{TestNamespace, bed, kubectl, output_text, repo_root, wait_until};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::{Api, ListParams, PostParams};

#[tokio::test]
async fn every_cluster_reports_the_built_kubernetes_version() {
    let bed = bed().await;
    for name in fed_e2e::CLUSTERS {
        let version = bed.cluster(name).apiserver_version().await.unwrap();
        assert_eq!((version.major.as_str(), version.minor.as_str()), ("1", "37"), "{name}: {version:?}");
        assert!(version.git_version.starts_with("v1.37."), "{name}: {}", version.git_version);
    }
}

#[tokio::test]
async fn kube_controller_manager_turns_a_deployment_into_a_replicaset() {
    let bed = bed().await;
    let ns = TestNamespace::create(&bed.vulcan, "bed-rs").await;
    let deploy: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "web", "image": "nginx"}]}}
        }
    }))
    .unwrap();
    Api::<Deployment>::namespaced(bed.vulcan.clone(), &ns.name).create(&PostParams::default(), &deploy).await.unwrap();
    let replicasets = Api::<ReplicaSet>::namespaced(bed.vulcan.clone(), &ns.name);
    let rs = wait_until(Duration::from_secs(30), "a ReplicaSet owned by web", || async {
        let list = replicasets.list(&ListParams::default()).await.ok()?;
        list.items
            .into_iter()
            .find(|rs| rs.metadata.owner_references.iter().flatten().any(|o| o.kind == "Deployment" && o.name == "web"))
    })
    .await;
    assert_eq!(rs.spec.replicas, Some(1));
    ns.delete().await;
}

#[tokio::test]
async fn shipped_crds_serve_kubefedclusters_and_federated_deployments() {
    let bed = bed().await;
    let out = kubectl(&[
        "--context",
        "earth",
        "apply",
        "--server-side",
        "-f",
        &repo_root().join("manifests/crds").display().to_string(),
    ]);
    assert!(out.status.success(), "{}", output_text(&out));
    let out = kubectl(&["--context", "earth", "wait", "--for=condition=Established", "--timeout=60s", "crd", "--all"]);
    assert!(out.status.success(), "{}", output_text(&out));

    let ns = TestNamespace::create(&bed.earth, "bed-crd").await;
    let clusters = Api::<KubeFedCluster>::namespaced(bed.earth.clone(), &ns.name);
    let spec = KubeFedClusterSpec {
        api_endpoint: "https://127.0.0.1:16444".into(),
        ca_bundle: None,
        secret_ref: LocalSecretReference { name: "vulcan-token".into() },
        disabled_tls_validations: vec![],
    };
    clusters.create(&PostParams::default(), &KubeFedCluster::new("vulcan", spec.clone())).await.unwrap();
    assert_eq!(clusters.get("vulcan").await.unwrap().spec, spec);

    let target = well_known_targets().into_iter().find(|t| t.kind == "Deployment").unwrap();
    let ar = target.federated().api_resource();
    let feds = Api::<Federated>::namespaced_with(bed.earth.clone(), &ns.name, &ar);
    let fed: Federated = serde_json::from_value(serde_json::json!({
        "apiVersion": "types.kubefed.io/v1beta1",
        "kind": "FederatedDeployment",
        "metadata": {"name": "fedhttp"},
        "spec": {
            "template": {"spec": {"replicas": 1, "unknownField": {"kept": true}}},
            "placement": {"clusters": [{"name": "earth"}, {"name": "vulcan"}]},
            "overrides": [{"clusterName": "vulcan", "clusterOverrides": [{"path": "/spec/replicas", "value": 3}]}]
        }
    }))
    .unwrap();
    feds.create(&PostParams::default(), &fed).await.unwrap();
    let stored = feds.get("fedhttp").await.unwrap();
    assert_eq!(stored.spec.template.as_ref().unwrap()["spec"]["unknownField"]["kept"], true);
    assert_eq!(stored.spec.overrides[0].cluster_overrides[0].value, Some(serde_json::json!(3)));
    assert_eq!(federated_crd(&target).spec.names.kind, ar.kind);
    ns.delete().await;
}
