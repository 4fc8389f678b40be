//! The test bed itself: real control planes with garbage collection and the shipped CRDs, and
//! real nodes (containerd, kubelet, kube-scheduler) running the bed's own images.

use std::time::Duration;

use fed_core::api::{Federated, KubeFedCluster, KubeFedClusterSpec, LocalSecretReference};
use fed_core::crd::{federated_crd, well_known_targets};
use fed_e2e::{TestNamespace, bed, images, kubectl, node_clusters, output_text, repo_root, wait_until};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Node, Pod};
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
    // An image the nodes have (never pulled), or any name on a bed without nodes.
    let image = images().map_or("docker.io/kubectl-fed/demo-web:absent".to_string(), |i| i.demo);
    let deploy: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "web", "image": image, "imagePullPolicy": "Never"}]}}
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

#[tokio::test]
async fn every_cluster_with_a_node_has_a_ready_node() {
    let bed = bed().await;
    let clusters = node_clusters();
    for name in &clusters {
        let nodes = Api::<Node>::all(bed.cluster(name).clone());
        let node_name = format!("{name}-node");
        let node = wait_until(Duration::from_secs(60), &format!("node {node_name} Ready"), || async {
            let node = nodes.get(&node_name).await.ok()?;
            let ready =
                node.status.as_ref()?.conditions.as_ref()?.iter().any(|c| c.type_ == "Ready" && c.status == "True");
            ready.then_some(node)
        })
        .await;
        let status = node.status.unwrap();
        let addresses = status.addresses.unwrap_or_default();
        // The node IP is the node's bridge address (kubelet refuses a loopback one): x.y.z.1.
        assert!(
            addresses
                .iter()
                .any(|a| a.type_ == "InternalIP" && a.address.starts_with("10.244.") && a.address.ends_with(".1")),
            "{node_name}: {addresses:?}"
        );
        let images: Vec<String> =
            status.images.unwrap_or_default().into_iter().flat_map(|i| i.names.unwrap_or_default()).collect();
        let refs = fed_e2e::images().expect(".local/images.env is written when the bed has nodes");
        for want in [&refs.pause, &refs.demo, &refs.webhook] {
            assert!(images.iter().any(|i| i == want), "{node_name} lacks image {want}: {images:?}");
        }
    }
    for name in fed_e2e::CLUSTERS.iter().filter(|c| !clusters.iter().any(|n| n == *c)) {
        let nodes = Api::<Node>::all(bed.cluster(name).clone()).list(&ListParams::default()).await.unwrap();
        assert!(nodes.items.is_empty(), "{name} has no node on this bed, yet lists {:?}", nodes.items);
    }
}

/// One HTTP/1.1 GET to `addr`; the status code and body.
fn http_get(addr: std::net::SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

#[tokio::test]
async fn demo_pod_on_vulcan_serves_http_on_its_pod_ip_and_supports_logs_and_exec() {
    if !node_clusters().iter().any(|c| c == "vulcan") {
        eprintln!("skipped: vulcan has no node (FED_TESTBED_NODES)");
        return;
    }
    let bed = bed().await;
    let image = images().expect(".local/images.env").demo;
    let ns = TestNamespace::create(&bed.vulcan, "bed-pod").await;
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "terminationGracePeriodSeconds": 5,
            "containers": [{
                "name": "web", "image": image, "imagePullPolicy": "Never",
                "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                "ports": [{"containerPort": 80}],
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 80}, "periodSeconds": 1}
            }]
        }
    }))
    .unwrap();
    let pods = Api::<Pod>::namespaced(bed.vulcan.clone(), &ns.name);
    pods.create(&PostParams::default(), &pod).await.unwrap();
    // Scheduled by kube-scheduler (no nodeName given), started by the kubelet, ready by its probe.
    let pod_ip = wait_until(Duration::from_secs(90), "pod web Running and Ready with a pod IP", || async {
        let pod = pods.get("web").await.ok()?;
        let status = pod.status?;
        let ready = status.conditions.iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True");
        (status.phase.as_deref() == Some("Running") && ready).then_some(())?;
        assert_eq!(pod.spec?.node_name.as_deref(), Some("vulcan-node"));
        status.pod_ip
    })
    .await;
    assert!(pod_ip.starts_with("10.244."), "pod IP {pod_ip} is not on the bridge's pod CIDR");
    let addr: std::net::SocketAddr = format!("{pod_ip}:80").parse().unwrap();

    let (status, body) =
        tokio::task::spawn_blocking(move || http_get(addr, "/")).await.unwrap().expect("GET / on the pod IP");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("hello from web") && body.contains("on node vulcan-node"), "{body}");
    let (status, _) = tokio::task::spawn_blocking(move || http_get(addr, "/nope")).await.unwrap().unwrap();
    assert_eq!(status, 404);

    let logs = wait_until(Duration::from_secs(30), "kubectl logs showing the GET", || async {
        let out = kubectl(&["--context", "vulcan", "-n", &ns.name, "logs", "web"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.success() && text.contains("GET / from")).then_some(text)
    })
    .await;
    assert!(logs.contains("listening on 0.0.0.0:80"), "{logs}");

    let out = kubectl(&[
        "--context",
        "vulcan",
        "-n",
        &ns.name,
        "exec",
        "web",
        "--",
        "/usr/local/bin/fed-demo-web",
        "--version",
    ]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("fed-demo-web "), "{}", output_text(&out));
    ns.delete().await;
}
