//! Tests that disturb the shared federation: the webhook stopped, a member's apiserver
//! stopped, a member unjoined. Cargo runs test binaries one after another, so keeping them in
//! this binary (and taking a lock) keeps them away from every other test.

use std::time::Duration;

use fed_e2e::{
    TestNamespace, annotated_config_map, apply_on_earth, federation, hack, hack_later, kubectl, kubectl_federation_ns,
    output_text, wait_until,
};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use tokio::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

fn apply(ns: &str, manifest: &str) -> std::process::Output {
    apply_on_earth(ns, manifest, &[])
}

#[tokio::test]
async fn with_the_webhook_down_plain_objects_pass_and_annotated_ones_are_refused() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "out-webhook").await;
    hack("federation-down.sh", &[]);
    let plain = apply(&ns.name, &annotated_config_map("plain", serde_json::json!({})));
    let annotated =
        apply(&ns.name, &annotated_config_map("annotated", serde_json::json!({"kubefed.io/placement": "vulcan"})));
    hack("federation-up.sh", &[]);
    assert!(plain.status.success(), "unannotated traffic must not depend on the webhook: {}", output_text(&plain));
    assert!(!annotated.status.success(), "an annotated object must not slip past a stopped webhook");
    assert!(output_text(&annotated).contains("kubefed.io"), "{}", output_text(&annotated));
    ns.delete().await;
}

#[tokio::test]
async fn an_offline_member_is_reported_while_the_others_keep_converging() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "out-member").await;
    hack("cluster-ctl.sh", &["stop", "kube-apiserver", "vulcan"]);
    let restart = hack_later("cluster-ctl.sh", &["start", "kube-apiserver", "vulcan"]);

    wait_until(Duration::from_secs(40), "vulcan to be Offline", || async {
        let out = kubectl_federation_ns(&[
            "get",
            "kubefedcluster",
            "vulcan",
            "-o",
            "jsonpath={.status.conditions[?(@.type=='Offline')].status}",
        ]);
        (String::from_utf8_lossy(&out.stdout) == "True").then_some(())
    })
    .await;

    let out =
        apply(&ns.name, &annotated_config_map("during", serde_json::json!({"kubefed.io/placement": "vulcan,kronos"})));
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("Warning") && output_text(&out).contains("vulcan"),
        "expected an Offline warning: {}",
        output_text(&out)
    );

    let kronos = Api::<ConfigMap>::namespaced(bed.kronos.clone(), &ns.name);
    wait_until(Duration::from_secs(30), "the copy on kronos", || async { kronos.get_opt("during").await.ok()? }).await;
    wait_until(Duration::from_secs(30), "ClusterNotReady for vulcan", || async {
        let out = kubectl(&[
            "--context",
            "earth",
            "-n",
            &ns.name,
            "get",
            "federatedconfigmap",
            "during",
            "-o",
            "jsonpath={.status.clusters[?(@.name=='vulcan')].status}",
        ]);
        (String::from_utf8_lossy(&out.stdout) == "ClusterNotReady").then_some(())
    })
    .await;

    drop(restart);
    let vulcan = Api::<ConfigMap>::namespaced(fed_e2e::client_for("vulcan").await.unwrap(), &ns.name);
    wait_until(Duration::from_secs(90), "vulcan to converge after it returns", || async {
        vulcan.get_opt("during").await.ok()?
    })
    .await;
    ns.delete().await;
}

#[tokio::test]
async fn unjoin_removes_everything_it_rolled_out_and_its_credentials() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "dis-unjoin").await;
    let out = apply(&ns.name, &annotated_config_map("everywhere", serde_json::json!({"kubefed.io/placement": "*"})));
    assert!(out.status.success(), "{}", output_text(&out));
    let kronos = Api::<ConfigMap>::namespaced(bed.kronos.clone(), &ns.name);
    wait_until(Duration::from_secs(60), "the copy on kronos", || async { kronos.get_opt("everywhere").await.ok()? })
        .await;

    let out = kubectl(&["fed", "unjoin", "kronos", "--force", "--context", "earth"]);
    let rejoined = hack_later("federation-up.sh", &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    let managed = kubectl(&[
        "--context",
        "kronos",
        "get",
        "all,configmaps,namespaces",
        "-A",
        "-l",
        "kubefed.io/managed=true",
        "-o",
        "name",
    ]);
    assert_eq!(String::from_utf8_lossy(&managed.stdout).trim(), "", "managed objects left on kronos");
    let leftovers = kubectl(&[
        "--context",
        "kronos",
        "get",
        "serviceaccounts,clusterroles,clusterrolebindings",
        "-A",
        "-o",
        "name",
    ]);
    let leftovers = String::from_utf8_lossy(&leftovers.stdout);
    assert!(
        !leftovers.contains("kubefed") && !leftovers.contains("kubectl-fed"),
        "federation RBAC left on kronos:\n{leftovers}"
    );
    let host = kubectl_federation_ns(&["get", "kubefedclusters,secrets", "-o", "name"]);
    let host = String::from_utf8_lossy(&host.stdout);
    assert!(!host.contains("kronos"), "kronos's KubeFedCluster or Secret left on earth:\n{host}");
    drop(rejoined);
    ns.delete().await;
}
