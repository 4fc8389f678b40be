//! Outages of the webhook and of a member cluster. These tests stop shared processes, so this
//! binary holds them (cargo runs test binaries one after another) and a lock runs them in turn.

use std::time::Duration;

use fed_e2e::{TestNamespace, federation, kubectl, kubectl_with_stdin, output_text, repo_root, wait_until};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use tokio::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

fn configmap(name: &str, annotations: serde_json::Value) -> String {
    serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "annotations": annotations}, "data": {"k": "v"}})
    .to_string()
}

fn apply(ns: &str, manifest: &str) -> std::process::Output {
    kubectl_with_stdin(&["--context", "earth", "-n", ns, "apply", "-f", "-"], Some(manifest))
}

fn hack(script: &str, args: &[&str]) {
    let out =
        std::process::Command::new("bash").arg(repo_root().join("hack").join(script)).args(args).output().unwrap();
    assert!(out.status.success(), "{script} {args:?}: {}", output_text(&out));
}

#[tokio::test]
async fn with_the_webhook_down_plain_objects_pass_and_annotated_ones_are_refused() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "out-webhook").await;
    hack("federation-down.sh", &[]);
    let plain = apply(&ns.name, &configmap("plain", serde_json::json!({})));
    let annotated = apply(&ns.name, &configmap("annotated", serde_json::json!({"kubefed.io/placement": "vulcan"})));
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
    let restart = scopeguard_restart();

    wait_until(Duration::from_secs(40), "vulcan to be Offline", || async {
        let out = kubectl(&[
            "--context",
            "earth",
            "-n",
            "kube-federation-system",
            "get",
            "kubefedcluster",
            "vulcan",
            "-o",
            "jsonpath={.status.conditions[?(@.type=='Offline')].status}",
        ]);
        (String::from_utf8_lossy(&out.stdout) == "True").then_some(())
    })
    .await;

    let out = apply(&ns.name, &configmap("during", serde_json::json!({"kubefed.io/placement": "vulcan,kronos"})));
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

/// Restarts vulcan's apiserver when dropped, so a failing assertion never leaves it down.
fn scopeguard_restart() -> impl Drop {
    struct Restart;
    impl Drop for Restart {
        fn drop(&mut self) {
            hack("cluster-ctl.sh", &["start", "kube-apiserver", "vulcan"]);
        }
    }
    Restart
}
