//! Tests that disturb the shared federation: the webhook stopped, a member's apiserver
//! stopped, a member unjoined. Cargo runs test binaries one after another, so keeping them in
//! this binary (and taking a lock) keeps them away from every other test.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fed_core::keys::{FEDERATED_LABEL, FEDERATION_NAMESPACE};
use fed_e2e::{
    TestNamespace, annotated_config_map, apply_on_earth, federation, hack, hack_later, kubectl, kubectl_federation_ns,
    lease_holder, output_text, wait_until, webhook_pods,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
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

/// What became of one create of the load below.
enum Outcome {
    /// Admitted: `true` when its placement was valid.
    Admitted(bool),
    /// Refused by the apiserver with this message (a denial, or the webhook being unreachable).
    Refused(String),
}

/// Creates `count` annotated ConfigMaps at `per_second`, every third with a placement naming a
/// cluster that is not joined, counting those sent in `sent`; returns each create's outcome.
async fn annotated_creates(
    client: kube::Client,
    ns: String,
    count: usize,
    per_second: u64,
    sent: Arc<AtomicUsize>,
) -> Vec<Outcome> {
    let api = Api::<ConfigMap>::namespaced(client, &ns);
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / per_second));
    let mut creates = Vec::new();
    for i in 0..count {
        tick.tick().await;
        let valid = i % 3 != 0;
        let placement = if valid { "vulcan" } else { "vulcan,pluto" };
        let cm: ConfigMap = serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("load-{i}"), "annotations": {"kubefed.io/placement": placement}},
            "data": {"i": i.to_string()},
        }))
        .unwrap();
        let api = api.clone();
        sent.fetch_add(1, Ordering::Relaxed);
        creates.push(tokio::spawn(async move {
            match api.create(&PostParams::default(), &cm).await {
                Ok(_) => Outcome::Admitted(valid),
                Err(kube::Error::Api(status)) => Outcome::Refused(status.message),
                Err(other) => Outcome::Refused(other.to_string()),
            }
        }));
    }
    let mut outcomes = Vec::new();
    for create in creates {
        outcomes.push(create.await.expect("create task"));
    }
    outcomes
}

#[tokio::test]
async fn deleting_the_leading_webhook_pod_under_creates_admits_nothing_unchecked() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "dis-podkill").await;
    let pods = Api::<Pod>::namespaced(bed.earth.clone(), FEDERATION_NAMESPACE);
    let leader = wait_until(Duration::from_secs(60), "a webhook pod holding the Lease", || async {
        let holder = lease_holder(&bed).await?;
        webhook_pods(&bed).await.contains(&holder).then_some(holder)
    })
    .await;

    const CREATES: usize = 300;
    let sent = Arc::new(AtomicUsize::new(0));
    let load = tokio::spawn(annotated_creates(bed.earth.clone(), ns.name.clone(), CREATES, 20, sent.clone()));
    wait_until(Duration::from_secs(30), "60 creates sent", || async {
        (sent.load(Ordering::Relaxed) >= 60).then_some(())
    })
    .await;
    let deleted_at = Instant::now();
    pods.delete(&leader, &DeleteParams::default()).await.expect("the leading pod is deleted");
    let new_leader = wait_until(Duration::from_secs(60), "the Lease to move to another pod", || async {
        let holder = lease_holder(&bed).await?;
        (holder != leader).then_some(holder)
    })
    .await;
    let moved_after = deleted_at.elapsed();
    let outcomes = load.await.unwrap();

    let mut admitted_valid = 0;
    let mut refused = Vec::new();
    for (i, outcome) in outcomes.iter().enumerate() {
        match outcome {
            Outcome::Admitted(true) => admitted_valid += 1,
            Outcome::Admitted(false) => panic!("load-{i} was admitted with a placement naming a cluster not joined"),
            Outcome::Refused(message) => {
                assert!(!message.trim().is_empty(), "load-{i} was refused without a message");
                refused.push(message.clone());
            }
        }
    }
    let invalid = outcomes.iter().enumerate().filter(|(i, _)| i % 3 == 0).count();
    let refused_valid = CREATES - invalid - admitted_valid;
    eprintln!(
        "{CREATES} creates at 20/s, leader {leader} deleted: {admitted_valid} valid admitted, {refused_valid} valid \
         refused while no webhook answered, {invalid} invalid all refused; Lease moved to {new_leader} after {moved_after:?}"
    );
    assert!(admitted_valid > 0, "nothing was admitted: {:?}", refused.first());

    // Every admitted object went through the mutating webhook too (it labels sources).
    let host = Api::<ConfigMap>::namespaced(bed.earth.clone(), &ns.name);
    let loaded = host.list(&ListParams::default()).await.unwrap().items;
    for cm in loaded.into_iter().filter(|cm| cm.metadata.name.as_deref().is_some_and(|n| n.starts_with("load-"))) {
        let labels = cm.metadata.labels.unwrap_or_default();
        assert_eq!(labels.get(FEDERATED_LABEL).map(String::as_str), Some("true"), "{:?} not mutated", cm.metadata.name);
    }
    // Propagation resumes under the new leader: every admitted object reaches vulcan.
    let vulcan = Api::<ConfigMap>::namespaced(bed.vulcan.clone(), &ns.name);
    wait_until(Duration::from_secs(120), "every admitted object on vulcan", || async {
        let copies = vulcan.list(&ListParams::default().labels("kubefed.io/managed=true")).await.ok()?;
        (copies.items.len() == admitted_valid).then_some(())
    })
    .await;
    let deployments = Api::<Deployment>::namespaced(bed.earth.clone(), FEDERATION_NAMESPACE);
    wait_until(Duration::from_secs(120), "the host component back at 2/2 ready", || async {
        let d = deployments.get("kubectl-fed-webhook").await.ok()?;
        (d.status?.ready_replicas == Some(2)).then_some(())
    })
    .await;
    ns.delete().await;
}
