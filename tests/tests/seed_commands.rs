//! Every `kubefedctl` line of the seed walk-through, typed as the article types it with
//! `kubectl fed` in place of `kubefedctl`, exits 0 and does what the article says:
//!
//! - `kubectl fed enable pods`: Pods become a federated type (FederatedTypeConfig `pods`, CRD
//!   `federatedpods.types.kubefed.io` Established);
//! - `kubectl fed federate namespace demo --contents --enable-type`: the namespace and its
//!   objects are federated, the missing type (ServiceAccount) enabled on the way, and the
//!   copies land on the members;
//! - `kubectl fed unjoin vulcan --host-cluster-context earth --v=2`: vulcan leaves, its copies
//!   go, and `--v=2` logs each request (method and URL, no credentials);
//! - and the join the article's set-up implies, as kubefedctl spells it:
//!   `kubectl fed join vulcan --cluster-context vulcan --host-cluster-context earth`.
//!
//! One test, step after step: it unjoins vulcan, which no other test may see (cargo runs test
//! binaries one at a time; `hack/federation-up.sh` restores the federation when it ends).

use std::time::Duration;

use fed_core::api::{FederatedTypeConfig, KubeFedCluster};
use fed_e2e::unnamed::Unnamed;
use fed_e2e::{
    TestNamespace, apply_on_earth, federation, hack_later, kubectl, kubectl_federation_ns, output_text, succeeded,
    wait_until,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::Api;

const LANDED: Duration = Duration::from_secs(90);

/// The seed's command line, `kubefedctl` replaced by `kubectl fed`.
fn seed_line(line: &str) -> std::process::Output {
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words[0], "kubefedctl", "{line}");
    let mut args = vec!["fed"];
    args.extend_from_slice(&words[1..]);
    kubectl(&args)
}

/// A Deployment, a ConfigMap and a ServiceAccount (a type not enabled on the bed).
fn contents(image: &str) -> String {
    serde_json::json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                  "template": {"metadata": {"labels": {"app": "web"}},
                               "spec": {"containers": [{"name": "web", "image": image}]}}}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "b"}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"}},
    ]})
    .to_string()
}

#[tokio::test]
async fn every_kubefedctl_line_of_the_seed_runs_as_typed() {
    let bed = federation().await;
    let restore = hack_later("federation-up.sh", &[]);
    let configs: Api<FederatedTypeConfig> = Api::namespaced(bed.earth.clone(), "kube-federation-system");
    let crds: Api<CustomResourceDefinition> = Api::all(bed.earth.clone());

    // "kubecfedctl enable pods lets you distribute resources of the Pod type."
    let out = seed_line("kubefedctl enable pods");
    assert!(out.status.success(), "{}", output_text(&out));
    let pods = configs.get("pods").await.expect("FederatedTypeConfig pods");
    assert_eq!(pods.spec.federated_type.kind, "FederatedPod");
    let crd = crds.get("federatedpods.types.kubefed.io").await.expect("the FederatedPod CRD");
    let established = crd.status.and_then(|s| s.conditions).unwrap_or_default();
    assert!(established.iter().any(|c| c.type_ == "Established" && c.status == "True"), "{established:?}");

    // "kubefedctl federate namespace demo --contents --enable-type": the article's namespace
    // is `demo`; the bed's is unique per run.
    let ns = TestNamespace::create(&bed.earth, "demo").await;
    let image = fed_e2e::images().map_or("registry.invalid/pause:1".to_string(), |i| i.pause);
    succeeded(apply_on_earth(&ns.name, &contents(&image), &[]));
    let already = configs.get_opt("serviceaccounts").await.unwrap().is_some();
    let out = seed_line(&format!("kubefedctl federate namespace {} --contents --enable-type", ns.name));
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(already || configs.get_opt("serviceaccounts").await.unwrap().is_some(), "--enable-type enabled it");
    for kind in ["federatednamespace", "federateddeployment", "federatedconfigmap", "federatedserviceaccount"] {
        let out = kubectl(&["--context", "earth", "-n", &ns.name, "get", kind, "-o", "name"]);
        assert!(!succeeded(out).trim().is_empty(), "no {kind} in {}", ns.name);
    }
    let vulcan_deploys = Api::<Deployment>::namespaced(bed.vulcan.clone(), &ns.name);
    let vulcan_sas = Api::<ServiceAccount>::namespaced(bed.vulcan.clone(), &ns.name);
    wait_until(LANDED, "web and robot on vulcan", || async {
        let web = vulcan_deploys.get_opt("web").await.ok()??;
        let robot = vulcan_sas.get_opt("robot").await.ok()??;
        Some((web, robot))
    })
    .await;

    // "kubefedctl unjoin vulcan --host-cluster-context earth --v=2". The namespace's placement
    // is every joined cluster, and what else names vulcan (after `make demo`, its Deployment
    // api) is taken off it until vulcan is back, so no --force is needed.
    let unnamed = Unnamed::take("vulcan", &[&ns.name]);
    let out = seed_line("kubefedctl unjoin vulcan --host-cluster-context earth --v=2");
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(log.lines().any(|l| l.starts_with("I] GET https://127.0.0.1:")), "--v=2 logs the requests:\n{log}");
    assert!(log.lines().any(|l| l.starts_with("I] DELETE https://")), "--v=2 logs the deletions:\n{log}");
    assert!(!log.contains("Bearer") && !log.contains("Authorization:"), "credentials logged:\n{log}");
    let clusters: Api<KubeFedCluster> = Api::namespaced(bed.earth.clone(), "kube-federation-system");
    assert!(clusters.get_opt("vulcan").await.unwrap().is_none(), "vulcan is still joined");
    assert!(vulcan_deploys.get_opt("web").await.unwrap().is_none(), "vulcan's copy stayed behind");

    // Without --v nothing is logged.
    let quiet = kubectl(&["fed", "clusters", "--host-cluster-context", "earth"]);
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("I] GET"), "{}", output_text(&quiet));

    // Joining back, as kubefedctl spells it; the namespace's copies come back.
    let out = kubectl(&["fed", "join", "vulcan", "--cluster-context", "vulcan", "--host-cluster-context", "earth"]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(clusters.get_opt("vulcan").await.unwrap().is_some(), "vulcan joined");
    wait_until(LANDED, "web back on vulcan after the join", || async { vulcan_deploys.get_opt("web").await.ok()? })
        .await;
    let shown = succeeded(kubectl_federation_ns(&["get", "kubefedclusters", "-o", "name"]));
    assert!(shown.contains("vulcan"), "{shown}");
    drop(unnamed);

    ns.delete().await;
    if !already {
        fed_e2e::disable_when_unused("serviceaccounts").await;
    }
    fed_e2e::disable_when_unused("pods").await;
    drop(restore);
}
