//! The seed walk-through on real nodes: KubeFed's Listings 2–4 applied unchanged (but for the
//! web server's image, which is the bed's own demo server), pods Running on earth and vulcan and
//! answering HTTP on port 80, the Service resolving to the local pods, vulcan removed from the
//! placement, then `kubectl fed unjoin vulcan` leaving no pod or object of ours behind.
//!
//! One test, one step after the other: it unjoins vulcan, which no other test may see (cargo
//! runs test binaries one at a time; the federation is restored when the test ends).

use std::time::Duration;

use fed_e2e::{
    TestNamespace, federation, hack_later, images, kubectl, kubectl_with_stdin, output_text, succeeded, wait_until,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Client;
use kube::api::{Api, ListParams};

const RUNNING: Duration = Duration::from_secs(120);

/// The seed's Listings 2–4 in namespace `ns`, the web server's image replaced by `image`.
fn listings(ns: &str, image: &str) -> String {
    let text = include_str!("../fixtures/seed-listings.yaml");
    assert!(text.contains("docker.io/kennethreitz/httpbin"), "the fixture is the seed's");
    text.replace("namespace: fedtestns", &format!("namespace: {ns}")).replace("docker.io/kennethreitz/httpbin", image)
}

/// The Running, ready pods of the seed's web server on `client`'s cluster.
async fn web_pods(client: &Client, ns: &str) -> Vec<Pod> {
    let pods = Api::<Pod>::namespaced(client.clone(), ns);
    let list = pods.list(&ListParams::default().labels("app=httpbin")).await.map(|l| l.items).unwrap_or_default();
    list.into_iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .filter(|p| {
            let conditions = p.status.as_ref().and_then(|s| s.conditions.as_ref());
            conditions.into_iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True")
        })
        .collect()
}

/// An HTTP GET of `http://IP:80/` from the test process: the status line and body.
fn http_get(ip: &str) -> (String, String) {
    let out = std::process::Command::new("curl")
        .args(["-s", "--max-time", "5", "-w", "\n%{http_code}", &format!("http://{ip}:80/")])
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.to_string(), body.to_string())
}

#[tokio::test]
async fn the_seed_walkthrough_serves_http_on_both_clusters_and_unjoin_leaves_nothing_behind() {
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "fedtestns").await;
    let image = images().expect("the bed has nodes and images (hack/images.sh)").demo;
    succeeded(kubectl_with_stdin(&["--context", "earth", "apply", "-f", "-"], Some(&listings(&ns.name, &image))));

    // "You will now have a pod and a deployment with the web service on both clusters."
    let mut ips = Vec::new();
    for (name, client) in [("earth", &bed.earth), ("vulcan", &bed.vulcan)] {
        let pods = wait_until(RUNNING, &format!("the web server Running and ready on {name}"), || async {
            let pods = web_pods(client, &ns.name).await;
            (!pods.is_empty()).then_some(pods)
        })
        .await;
        let shown = succeeded(kubectl(&["--context", name, "-n", &ns.name, "get", "pods", "-l", "app=httpbin"]));
        assert!(shown.contains("Running"), "kubectl get pods on {name}:\n{shown}");
        let ip = pods[0].status.as_ref().and_then(|s| s.pod_ip.clone()).expect("a pod IP");
        ips.push((name, ip));
    }
    // "The pods on both clusters can also be accessed on port 80."
    for (name, ip) in &ips {
        let (code, body) = http_get(ip);
        assert_eq!(code, "200", "GET http://{ip}/ on {name}: {body}");
        assert!(!body.is_empty(), "the demo server on {name} answered with an empty body");
    }
    // "fed-service resolves to the cluster IP in the local cluster": each cluster's Service has
    // a cluster IP of its own and its endpoints are that cluster's pod.
    for (name, ip) in &ips {
        let client = bed.cluster(name);
        let slices = Api::<EndpointSlice>::namespaced(client.clone(), &ns.name);
        wait_until(RUNNING, &format!("fed-service's endpoints on {name} to be its own pod"), || async {
            let list =
                slices.list(&ListParams::default().labels("kubernetes.io/service-name=fed-service")).await.ok()?;
            let addresses: Vec<String> = list
                .items
                .iter()
                .flat_map(|s| s.endpoints.iter().flatten().flat_map(|e| e.addresses.clone()))
                .collect();
            (addresses == vec![ip.clone()]).then_some(())
        })
        .await;
        let cluster_ip = succeeded(kubectl(&[
            "--context",
            name,
            "-n",
            &ns.name,
            "get",
            "service",
            "fed-service",
            "-o",
            "jsonpath={.spec.clusterIP}",
        ]));
        assert!(cluster_ip.contains('.'), "fed-service on {name} has no cluster IP: {cluster_ip:?}");
    }

    // Removing vulcan from the placement stops its pods; earth's copy stays the same object.
    let earth_deploys = Api::<Deployment>::namespaced(bed.earth.clone(), &ns.name);
    let earth_uid = earth_deploys.get("fedhttp").await.unwrap().metadata.uid;
    let patch = r#"{"spec":{"placement":{"clusters":[{"name":"earth"}]}}}"#;
    succeeded(fed_e2e::merge_patch_on_earth(&ns.name, "federateddeployment", "fedhttp", patch));
    let vulcan_pods = Api::<Pod>::namespaced(bed.vulcan.clone(), &ns.name);
    wait_until(RUNNING, "vulcan's web server pods to be gone", || async {
        let list = vulcan_pods.list(&ListParams::default().labels("app=httpbin")).await.ok()?;
        list.items.is_empty().then_some(())
    })
    .await;
    assert_eq!(earth_deploys.get("fedhttp").await.unwrap().metadata.uid, earth_uid, "earth's copy was re-created");
    assert_eq!(web_pods(&bed.earth, &ns.name).await.len(), 1, "earth still runs its pod");

    // The seed's last step. FederatedNamespace and FederatedService still name vulcan, so the
    // unjoin has to be forced; it removes what it rolled out there.
    let rejoin = hack_later("federation-up.sh", &[]);
    let out = kubectl(&["fed", "unjoin", "vulcan", "--host-cluster-context", "earth", "--force"]);
    assert!(out.status.success(), "{}", output_text(&out));
    let ours =
        kubectl(&["--context", "vulcan", "get", "all,configmaps,namespaces", "-A", "-l", "kubefed.io/managed=true"]);
    assert_eq!(String::from_utf8_lossy(&ours.stdout).trim(), "", "managed objects left on vulcan");
    wait_until(RUNNING, "no pod of the seed left on vulcan", || async {
        let pods = Api::<Pod>::all(bed.vulcan.clone()).list(&ListParams::default()).await.ok()?;
        let left: Vec<_> =
            pods.items.iter().filter(|p| p.metadata.namespace.as_deref() == Some(ns.name.as_str())).collect();
        left.is_empty().then_some(())
    })
    .await;
    let rbac = succeeded(kubectl(&[
        "--context",
        "vulcan",
        "get",
        "serviceaccounts,clusterroles,clusterrolebindings",
        "-A",
        "-o",
        "name",
    ]));
    assert!(!rbac.contains("kubefed") && !rbac.contains("kubectl-fed"), "federation RBAC left on vulcan:\n{rbac}");
    drop(rejoin);
    ns.delete().await;
}
