//! Replica division across clusters (issue 12): KubeFed's ReplicaSchedulingPreference on a
//! FederatedDeployment, `kubefed.io/replica-scheduling` on an ordinary Deployment written by
//! `kubectl fed place --weights`, failover when a member goes Offline and back, and admission
//! of both forms.
//!
//! The failover test stops vulcan's apiserver, so every test here takes one lock: none runs
//! while vulcan is down.

use std::collections::BTreeMap;
use std::time::Duration;

use fed_e2e::{
    Bed, TestNamespace, apply_on_earth, assert_denied, federation, hack, hack_later, images, kubectl_fed,
    kubectl_federation_ns, output_text, wait_until,
};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;
use serde_json::json;
use tokio::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// Generous: pods start on real nodes of a busy machine.
const CONVERGE: Duration = Duration::from_secs(120);

fn image() -> String {
    images().map_or("docker.io/kubectl-fed/demo-web:absent".to_string(), |i| i.demo)
}

fn pod_template(name: &str) -> serde_json::Value {
    json!({
        "metadata": {"labels": {"app": name}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "web", "image": image()}]
        }
    })
}

fn deployment_spec(name: &str, replicas: i64) -> serde_json::Value {
    json!({"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": pod_template(name)})
}

/// The member Deployment's (uid, spec.replicas, readyReplicas) on vulcan and kronos; absent
/// clusters are left out.
async fn layout(bed: &Bed, ns: &str, name: &str) -> BTreeMap<String, (String, i32, i32)> {
    let mut out = BTreeMap::new();
    for cluster in ["vulcan", "kronos"] {
        let api = Api::<Deployment>::namespaced(bed.cluster(cluster).clone(), ns);
        if let Ok(Some(d)) = api.get_opt(name).await {
            let replicas = d.spec.replicas.unwrap_or(1);
            let ready = d.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0);
            out.insert(cluster.to_string(), (d.metadata.uid.unwrap_or_default(), replicas, ready));
        }
    }
    out
}

/// Waits until the copies of `name` on vulcan and kronos have `want` replicas (spec), and
/// exactly those clusters hold a copy; with `ready`, until that many are ready too. Returns the uids.
async fn wait_for_layout(
    bed: &Bed,
    ns: &str,
    name: &str,
    want: &[(&str, i32)],
    ready: bool,
) -> BTreeMap<String, String> {
    let what = format!("{name} divided as {want:?}{}", if ready { ", pods ready" } else { "" });
    let last = std::cell::RefCell::new(BTreeMap::new());
    let got = fed_e2e::poll_until(CONVERGE, || {
        let last = &last;
        async move {
            let now = layout(bed, ns, name).await;
            *last.borrow_mut() = now.clone();
            let matches = now.len() == want.len()
                && want
                    .iter()
                    .all(|(c, n)| now.get(*c).is_some_and(|(_, replicas, r)| replicas == n && (!ready || r == n)));
            matches.then(|| now.into_iter().map(|(c, (uid, _, _))| (c, uid)).collect())
        }
    })
    .await;
    got.unwrap_or_else(|| panic!("timed out waiting for {what}; last seen (uid, replicas, ready): {:?}", last.borrow()))
}

fn rsp(name: &str, clusters: serde_json::Value) -> String {
    json!({
        "apiVersion": "scheduling.kubefed.io/v1alpha1",
        "kind": "ReplicaSchedulingPreference",
        "metadata": {"name": name},
        "spec": {"targetKind": "FederatedDeployment", "totalReplicas": 9, "clusters": clusters}
    })
    .to_string()
}

fn kubefed_example_weights() -> serde_json::Value {
    json!({"vulcan": {"weight": 1}, "kronos": {"weight": 2}})
}

fn kubefed_example_min_max() -> serde_json::Value {
    json!({
        "vulcan": {"minReplicas": 4, "maxReplicas": 6, "weight": 1},
        "kronos": {"minReplicas": 4, "maxReplicas": 8, "weight": 2}
    })
}

#[tokio::test]
async fn an_rsp_divides_a_federated_deployment_as_kubefed_documents() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "rsp").await;
    // KubeFed's YAML: a FederatedDeployment placed on every cluster, and its RSP.
    let fed = json!({
        "apiVersion": "types.kubefed.io/v1beta1",
        "kind": "FederatedDeployment",
        "metadata": {"name": "web"},
        "spec": {
            "template": {"spec": deployment_spec("web", 1)},
            "placement": {"clusters": [{"name": "earth"}, {"name": "vulcan"}, {"name": "kronos"}]}
        }
    });
    let out = apply_on_earth(&ns.name, &fed.to_string(), &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    let out = apply_on_earth(&ns.name, &rsp("web", kubefed_example_weights()), &[]);
    assert!(out.status.success(), "{}", output_text(&out));

    // 9 replicas, weights vulcan 1, kronos 2: vulcan 3, kronos 6, earth none (not placed).
    let uids = wait_for_layout(&bed, &ns.name, "web", &[("vulcan", 3), ("kronos", 6)], true).await;
    let on_earth = Api::<Deployment>::namespaced(bed.earth.clone(), &ns.name).get_opt("web").await.unwrap();
    assert!(on_earth.is_none(), "the RSP's clusters replace the placement: earth has none");
    let shown = fed_e2e::succeeded(kubectl_fed(&["status", "federateddeployment/web", "-n", &ns.name, "-o", "wide"]));
    assert!(shown.contains("vulcan") && shown.contains("kronos") && !shown.contains("earth"), "{shown}");
    let status = fed_e2e::succeeded(fed_e2e::kubectl(&[
        "--context",
        "earth",
        "-n",
        &ns.name,
        "get",
        "federateddeployment",
        "web",
        "-o",
        "jsonpath={range .status.clusters[*]}{.name}={.replicas} {end}",
    ]));
    assert_eq!(status.trim(), "kronos=6 vulcan=3", "the division is shown in status");

    // KubeFed's min/max example: vulcan 4, kronos 5, on the same member objects.
    let out = apply_on_earth(&ns.name, &rsp("web", kubefed_example_min_max()), &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    let after = wait_for_layout(&bed, &ns.name, "web", &[("vulcan", 4), ("kronos", 5)], true).await;
    assert_eq!(after, uids, "member copies are updated in place, never re-created");
    // READY n/n per cluster once the pods are up, as `kubectl get deploy` shows it.
    wait_until(CONVERGE, "kubectl fed status to show READY 4/4 on vulcan and 5/5 on kronos", || async {
        let out = kubectl_fed(&["status", "federateddeployment/web", "-n", &ns.name]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let row = |cluster: &str, ready: &str| {
            text.lines().any(|l| {
                let cells: Vec<&str> = l.split_whitespace().collect();
                cells.get(2) == Some(&cluster) && cells.get(4) == Some(&ready)
            })
        };
        (text.starts_with("KIND")
            && text.contains("READY")
            && text.contains("UP-TO-DATE")
            && row("vulcan", "4/4")
            && row("kronos", "5/5"))
        .then_some(())
    })
    .await;
    ns.delete().await;
}

fn offline(cluster: &str) -> bool {
    let out = kubectl_federation_ns(&[
        "get",
        "kubefedcluster",
        cluster,
        "-o",
        "jsonpath={.status.conditions[?(@.type=='Offline')].status}",
    ]);
    String::from_utf8_lossy(&out.stdout) == "True"
}

#[tokio::test]
async fn place_weights_divide_a_deployment_and_fail_over_while_a_member_is_offline() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "rsp-failover").await;
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": deployment_spec("web", 9)});
    let out = apply_on_earth(&ns.name, &deploy.to_string(), &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    let out = kubectl_fed(&[
        "place",
        "deployment/web",
        "-n",
        &ns.name,
        "--clusters",
        "vulcan,kronos",
        "--weights",
        "vulcan=1,kronos=2",
        "--max",
        "kronos=8",
    ]);
    assert!(out.status.success(), "{}", output_text(&out));
    let annotation = fed_e2e::succeeded(fed_e2e::kubectl(&[
        "--context",
        "earth",
        "-n",
        &ns.name,
        "get",
        "deployment",
        "web",
        "-o",
        "jsonpath={.metadata.annotations.kubefed\\.io/replica-scheduling}",
    ]));
    assert_eq!(annotation, r#"{"kronos":{"maxReplicas":8,"weight":2},"vulcan":{"weight":1}}"#);
    let members = wait_for_layout(&bed, &ns.name, "web", &[("vulcan", 3), ("kronos", 6)], true).await;
    let source = Api::<Deployment>::namespaced(bed.earth.clone(), &ns.name).get("web").await.unwrap();
    assert_eq!(source.spec.replicas, Some(0), "the host's copy is the source: pinned to 0");

    hack("cluster-ctl.sh", &["stop", "kube-apiserver", "vulcan"]);
    let restart = hack_later("cluster-ctl.sh", &["start", "kube-apiserver", "vulcan"]);
    wait_until(Duration::from_secs(60), "vulcan to be Offline", || async { offline("vulcan").then_some(()) }).await;
    // kronos holds what its max allows; vulcan keeps its place (and its last count).
    let kronos = Api::<Deployment>::namespaced(bed.kronos.clone(), &ns.name);
    wait_until(CONVERGE, "kronos to take vulcan's share up to its max (8)", || async {
        let d = kronos.get_opt("web").await.ok()??;
        let ok = d.spec.replicas == Some(8) && d.status.as_ref()?.ready_replicas == Some(8);
        ok.then_some(())
    })
    .await;

    drop(restart);
    wait_until(Duration::from_secs(90), "vulcan to be Ready again", || async { (!offline("vulcan")).then_some(()) })
        .await;
    let bed = federation().await;
    let back = wait_for_layout(&bed, &ns.name, "web", &[("vulcan", 3), ("kronos", 6)], true).await;
    assert_eq!(back, members, "the same member objects, updated in place");
    ns.delete().await;
}

#[tokio::test]
async fn admission_names_unknown_clusters_and_warns_about_totals_the_maximums_cannot_hold() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "rsp-admission").await;
    let out = apply_on_earth(&ns.name, &rsp("web", json!({"vulcn": {"weight": 1}})), &[]);
    assert_denied(
        &out,
        &[
            r#"cluster "vulcn" is not joined to the federation (joined: earth, kronos, vulcan)"#,
            r#"did you mean "vulcan"?"#,
        ],
    );

    let divided = |scheduling: &str| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "annotations": {
                "kubefed.io/placement": "vulcan,kronos", "kubefed.io/replica-scheduling": scheduling}},
            "spec": deployment_spec("web", 9)})
        .to_string()
    };
    let out = apply_on_earth(&ns.name, &divided(r#"{"earth":{"weight":1}}"#), &[]);
    assert_denied(&out, &[r#"cluster "earth" is not in the placement (placed: kronos, vulcan)"#]);
    let out = apply_on_earth(&ns.name, &divided(r#"{"vulcan":{"minReplicas":5,"maxReplicas":2,"weight":1}}"#), &[]);
    assert_denied(&out, &[r#""vulcan": minReplicas 5 is more than maxReplicas 2"#]);
    let out = apply_on_earth(&ns.name, &divided(r#"{"*":{"weight":1,"maxReplicas":2}}"#), &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("the clusters hold only 4 of the 9 replicas"),
        "expected a capacity warning: {}",
        output_text(&out)
    );
    let out =
        kubectl_fed(&["place", "deployment/web", "-n", &ns.name, "--clusters", "vulcan", "--weights", "vulcan=x"]);
    assert!(!out.status.success());
    let text = output_text(&out);
    assert!(text.contains(r#"--weights "vulcan=x": "x" is not a whole number"#), "{text}");
    assert_eq!(text.trim().lines().count(), 1, "one line: {text}");
    ns.delete().await;
}

fn rollout_status(ns: &str, timeout: &str) -> std::process::Output {
    kubectl_fed(&["rollout", "status", "deployment/web", "-n", ns, "--timeout", timeout])
}

#[tokio::test]
async fn rollout_status_waits_for_every_cluster_and_names_the_one_that_lags() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "rsp-rollout").await;
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": deployment_spec("web", 4)});
    let out = apply_on_earth(&ns.name, &deploy.to_string(), &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    let place = |extra: &[&str]| {
        let mut args = vec!["place", "deployment/web", "-n", &ns.name, "--clusters", "vulcan,kronos", "--divide"];
        args.extend_from_slice(extra);
        let out = kubectl_fed(&args);
        assert!(out.status.success(), "{}", output_text(&out));
    };
    place(&[]);
    let out = rollout_status(&ns.name, "120s");
    assert!(out.status.success(), "the first rollout: {}", output_text(&out));
    let uids = wait_for_layout(&bed, &ns.name, "web", &[("vulcan", 2), ("kronos", 2)], true).await;

    // A change of the pod template rolls out everywhere; rollout status returns 0 after it.
    let out = fed_e2e::kubectl(&["--context", "earth", "-n", &ns.name, "set", "env", "deployment/web", "VERSION=2"]);
    assert!(out.status.success(), "{}", output_text(&out));
    let out = rollout_status(&ns.name, "120s");
    assert!(out.status.success(), "after the change: {}", output_text(&out));
    for cluster in ["vulcan", "kronos"] {
        let d = Api::<Deployment>::namespaced(bed.cluster(cluster).clone(), &ns.name).get("web").await.unwrap();
        let env = d.spec.template.spec.as_ref().and_then(|s| s.containers[0].env.clone()).unwrap_or_default();
        assert!(env.iter().any(|e| e.name == "VERSION" && e.value.as_deref() == Some("2")), "{cluster}: {env:?}");
        let status = d.status.unwrap_or_default();
        assert_eq!((status.updated_replicas, status.available_replicas), (Some(2), Some(2)), "{cluster} rolled out");
    }
    assert_eq!(
        layout(&bed, &ns.name, "web").await.into_iter().map(|(c, (u, _, _))| (c, u)).collect::<BTreeMap<_, _>>(),
        uids
    );

    // kronos gets an image no node has: its rollout never completes, and the timeout names it.
    place(&["--override", "kronos:/spec/template/spec/containers/0/image=docker.io/kubectl-fed/absent:none"]);
    let out = rollout_status(&ns.name, "20s");
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "a timeout exits 1 like kubectl: {text}");
    assert!(text.contains("timed out waiting for the rollout of deployment/web") && text.contains("kronos:"), "{text}");
    assert!(!text.contains("vulcan:"), "vulcan has rolled out: {text}");
    ns.delete().await;
}

/// On a failed test, what the intersect test changed: vulcan's label and the namespace (whose
/// objects would keep naming vulcan, which an unjoin in a later test refuses).
struct Restore {
    namespace: String,
    label: String,
}

impl Drop for Restore {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = kubectl_federation_ns(&["label", "kubefedcluster", "vulcan", &format!("{}-", self.label)]);
            let _ = fed_e2e::kubectl(&["--context", "earth", "delete", "namespace", &self.namespace, "--wait=false"]);
        }
    }
}

/// KubeFed's `intersectWithClusterSelector` reads the target's cluster selector alone: with
/// `clusters: []` and a selector matching vulcan, vulcan gets the whole total, for both
/// target kinds.
#[tokio::test]
async fn intersect_with_cluster_selector_reads_the_selector_alone() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "rsp-intersect").await;
    let label = format!("e2e-intersect-{}", ns.name);
    let propagation = kubectl_federation_ns(&[
        "get",
        "federatedtypeconfig",
        "replicasets.apps",
        "-o",
        "jsonpath={.spec.propagation}",
        "--ignore-not-found",
    ]);
    let replicasets_were_enabled = String::from_utf8_lossy(&propagation.stdout) == "Enabled";
    if !replicasets_were_enabled {
        fed_e2e::succeeded(kubectl_fed(&["enable", "replicasets.apps"]));
    }
    fed_e2e::succeeded(kubectl_federation_ns(&["label", "kubefedcluster", "vulcan", &format!("{label}=yes")]));
    let _restore = Restore { namespace: ns.name.clone(), label: label.clone() };
    for (kind, short) in [("FederatedDeployment", "deploy"), ("FederatedReplicaSet", "rs")] {
        let name = format!("web-{short}");
        let fed = json!({
            "apiVersion": "types.kubefed.io/v1beta1",
            "kind": kind,
            "metadata": {"name": name},
            "spec": {
                "template": {"spec": deployment_spec(&name, 1)},
                "placement": {"clusters": [], "clusterSelector": {"matchLabels": {&label: "yes"}}}
            }
        });
        let out = apply_on_earth(&ns.name, &fed.to_string(), &[]);
        assert!(out.status.success(), "{kind}: {}", output_text(&out));
        let rsp = json!({
            "apiVersion": "scheduling.kubefed.io/v1alpha1",
            "kind": "ReplicaSchedulingPreference",
            "metadata": {"name": name},
            "spec": {"targetKind": kind, "totalReplicas": 5, "intersectWithClusterSelector": true, "clusters": {
                "vulcan": {"minReplicas": 1, "weight": 1},
                "kronos": {"minReplicas": 2, "weight": 3}
            }}
        });
        let out = apply_on_earth(&ns.name, &rsp.to_string(), &[]);
        assert!(out.status.success(), "{kind}: {}", output_text(&out));
        let copy_replicas = |cluster: &'static str| {
            let (ns, name, kind) = (ns.name.clone(), name.clone(), short);
            move || {
                let out = fed_e2e::kubectl(&[
                    "--context",
                    cluster,
                    "-n",
                    &ns,
                    "get",
                    kind,
                    &name,
                    "-o",
                    "jsonpath={.spec.replicas}",
                ]);
                out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
            }
        };
        let vulcan = copy_replicas("vulcan");
        wait_until(CONVERGE, &format!("{kind}: vulcan to hold all 5 replicas"), || {
            let got = vulcan();
            async move { (got.as_deref() == Some("5")).then_some(()) }
        })
        .await;
        assert_eq!(copy_replicas("kronos")(), None, "{kind}: kronos is not selected, so it holds no copy");
    }
    fed_e2e::succeeded(kubectl_federation_ns(&["label", "kubefedcluster", "vulcan", &format!("{label}-")]));
    ns.delete().await;
    if !replicasets_were_enabled {
        fed_e2e::succeeded(kubectl_fed(&["disable", "replicasets.apps", "--force"]));
    }
}
