//! Capacity (issue 21): replicas go where they can run. Pods on the bed's real nodes request
//! 700m CPU, so earth's two nodes hold 4 (beside the host component's 100m each), vulcan's and
//! kronos's node 2 each; the real scheduler leaves the rest Pending (Unschedulable) and the
//! overflow moves them. Thresholds are 10 s (`--overflow-after`), KubeFed's 60 s by default.
//!
//! The tests fill the members' nodes, so they take turns (one lock), and each deletes what it
//! made.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use fed_e2e::{
    Bed, TestNamespace, apply_on_earth, federation, images, kubectl, kubectl_fed, output_text, succeeded, wait_until,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::{Value, json};
use tokio::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// The namespaces of a test on every cluster: deleted when it ends, even by a panic, so that
/// a failed test leaves no pods holding the nodes' CPU. [`Owned::finish`] also waits for them.
struct Owned(Vec<String>);

impl Owned {
    /// Deletes the namespaces and waits until none of their pods is left on any cluster.
    async fn finish(self, bed: &Bed) {
        self.delete();
        let names = self.0.clone();
        wait_until(CONVERGE, &format!("the pods of {names:?} to be gone"), || {
            let names = names.clone();
            async move {
                for cluster in ["earth", "vulcan", "kronos"] {
                    for ns in &names {
                        let api = Api::<Pod>::namespaced(bed.cluster(cluster).clone(), ns);
                        if !api.list(&ListParams::default()).await.ok()?.items.is_empty() {
                            return None;
                        }
                    }
                }
                Some(())
            }
        })
        .await;
    }

    fn delete(&self) {
        for cluster in ["earth", "vulcan", "kronos"] {
            for ns in &self.0 {
                let _ =
                    kubectl(&["--context", cluster, "delete", "namespace", ns, "--wait=false", "--ignore-not-found"]);
            }
        }
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.delete();
        }
    }
}

/// Waits until no pod of an earlier capacity test holds a node (one that failed and whose
/// namespaces are still going away).
async fn wait_for_free_nodes(bed: &Bed) {
    wait_until(CONVERGE, "the pods of earlier capacity tests to be gone", || async {
        for cluster in ["earth", "vulcan", "kronos"] {
            let all = Api::<Pod>::all(bed.cluster(cluster).clone()).list(&ListParams::default()).await.ok()?;
            if all.items.iter().any(|p| p.metadata.namespace.as_deref().is_some_and(|n| n.starts_with("cap-"))) {
                return None;
            }
        }
        Some(())
    })
    .await;
}

/// Takes this binary's turn on the bed's nodes: the federation, a free bed, a namespace.
async fn turn(prefix: &str) -> (Bed, TestNamespace, Owned) {
    let bed = federation().await;
    wait_for_free_nodes(&bed).await;
    let ns = TestNamespace::create(&bed.earth, prefix).await;
    let owned = Owned(vec![ns.name.clone()]);
    (bed, ns, owned)
}

/// The threshold the tests set.
const AFTER: Duration = Duration::from_secs(10);
/// Pods start on real nodes of a busy machine.
const CONVERGE: Duration = Duration::from_secs(120);

fn image() -> String {
    images().map_or("docker.io/kubectl-fed/demo-web:absent".to_string(), |i| i.demo)
}

/// A Deployment spec of `replicas` pods labelled app=`name`, each requesting `cpu`.
fn deployment_spec(name: &str, replicas: i64, cpu: &str) -> Value {
    json!({
        "replicas": replicas,
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "web", "image": image(), "resources": {"requests": {"cpu": cpu}}}]
            }
        }
    })
}

/// One pod as the tests look at it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PodState {
    uid: String,
    ready: bool,
    pending: bool,
}

/// The live (not terminating) pods labelled app=`name` in `ns` on `cluster`.
async fn pods(bed: &Bed, cluster: &str, ns: &str, name: &str) -> Vec<PodState> {
    let api = Api::<Pod>::namespaced(bed.cluster(cluster).clone(), ns);
    let list =
        api.list(&ListParams::default().labels(&format!("app={name}"))).await.map(|l| l.items).unwrap_or_default();
    list.into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| {
            let status = p.status.unwrap_or_default();
            let ready = status.conditions.iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True");
            PodState {
                uid: p.metadata.uid.unwrap_or_default(),
                ready,
                pending: status.phase.as_deref() == Some("Pending"),
            }
        })
        .collect()
}

/// (ready, pending) pods of `name` per cluster.
async fn counts(bed: &Bed, ns: &str, name: &str, clusters: &[&str]) -> BTreeMap<String, (usize, usize)> {
    let mut out = BTreeMap::new();
    for c in clusters {
        let p = pods(bed, c, ns, name).await;
        out.insert(c.to_string(), (p.iter().filter(|p| p.ready).count(), p.iter().filter(|p| p.pending).count()));
    }
    out
}

/// Waits until every cluster of `want` runs exactly that many ready pods of `name` and none
/// is Pending anywhere in `want`.
async fn wait_for_running(bed: &Bed, ns: &str, name: &str, want: &[(&str, usize)], deadline: Duration) {
    let clusters: Vec<&str> = want.iter().map(|(c, _)| *c).collect();
    let expected: BTreeMap<String, (usize, usize)> = want.iter().map(|(c, n)| (c.to_string(), (*n, 0))).collect();
    let last = std::cell::RefCell::new(BTreeMap::new());
    let got = fed_e2e::poll_until(deadline, || {
        let (clusters, expected, last) = (&clusters, &expected, &last);
        async move {
            let now = counts(bed, ns, name, clusters).await;
            let done = now == *expected;
            *last.borrow_mut() = now;
            done.then_some(())
        }
    })
    .await;
    assert!(
        got.is_some(),
        "{name}: wanted (ready, pending) {expected:?} within {deadline:?}; last seen {:?}",
        last.borrow()
    );
}

/// The uids of the ready pods of `name` on `cluster`.
async fn ready_uids(bed: &Bed, cluster: &str, ns: &str, name: &str) -> BTreeSet<String> {
    pods(bed, cluster, ns, name).await.into_iter().filter(|p| p.ready).map(|p| p.uid).collect()
}

/// The uids of `name`'s live pods on `cluster`.
async fn live_uids(bed: &Bed, cluster: &str, ns: &str, name: &str) -> BTreeSet<String> {
    pods(bed, cluster, ns, name).await.into_iter().map(|p| p.uid).collect()
}

/// The reasons of the Events on `kind/name` in `ns` on earth.
fn event_notes(ns: &str, kind: &str, name: &str) -> String {
    let out = kubectl(&[
        "--context",
        "earth",
        "-n",
        ns,
        "get",
        "events",
        "--field-selector",
        &format!("involvedObject.kind={kind},involvedObject.name={name}"),
        "-o",
        "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}",
    ]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn federated_deployment(name: &str, replicas: i64, clusters: &[&str]) -> String {
    let clusters: Vec<Value> = clusters.iter().map(|c| json!({"name": c})).collect();
    json!({
        "apiVersion": "types.kubefed.io/v1beta1",
        "kind": "FederatedDeployment",
        "metadata": {"name": name},
        "spec": {"template": {"spec": deployment_spec(name, replicas, "700m")}, "placement": {"clusters": clusters}}
    })
    .to_string()
}

/// The walk-through's story: a shop outgrows its one cluster; a second is joined and added to
/// the placement, and takes what the first cannot run, without touching what runs there.
#[tokio::test]
async fn a_cluster_added_to_the_placement_takes_what_the_first_cannot_run() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (bed, ns, owned) = turn("cap-story").await;
    // A single-member federation for this workload: earth only. Its nodes hold 4 of 6.
    let out = apply_on_earth(&ns.name, &federated_deployment("shop", 6, &["earth"]), &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    wait_until(CONVERGE, "earth to run 4 of shop's 6 pods and hold 2 Pending", || async {
        (counts(&bed, &ns.name, "shop", &["earth"]).await["earth"] == (4, 2)).then_some(())
    })
    .await;
    let running_on_earth = ready_uids(&bed, "earth", &ns.name, "shop").await;

    // Join vulcan (it may be joined already: --overwrite makes the step repeatable) and
    // place the shop on it too, earth first.
    succeeded(kubectl_fed(&["join", "vulcan", "--cluster-context", "vulcan", "--overwrite"]));
    let placed = Instant::now();
    succeeded(kubectl_fed(&[
        "place",
        "federateddeployment/shop",
        "-n",
        &ns.name,
        "--clusters",
        "earth,vulcan",
        "--spill-over",
        "--overflow-after",
        "10s",
    ]));
    wait_for_running(&bed, &ns.name, "shop", &[("earth", 4), ("vulcan", 2)], AFTER + Duration::from_secs(30)).await;
    eprintln!("every replica Running {:.1}s after the placement", placed.elapsed().as_secs_f64());
    assert_eq!(
        ready_uids(&bed, "earth", &ns.name, "shop").await,
        running_on_earth,
        "earth's running pods are untouched"
    );

    let shown = succeeded(kubectl_fed(&["status", "federateddeployment/shop", "-n", &ns.name]));
    let row =
        |cluster: &str| shown.lines().find(|l| l.split_whitespace().nth(2) == Some(cluster)).unwrap_or("").to_string();
    let cells = |cluster: &str| row(cluster).split_whitespace().map(str::to_string).collect::<Vec<_>>();
    assert!(shown.starts_with("KIND") && shown.contains("ASSIGNED") && shown.contains("UNSCHEDULABLE"), "{shown}");
    assert_eq!(cells("earth").get(6).map(String::as_str), Some("4"), "earth is assigned what it runs: {shown}");
    assert_eq!(cells("vulcan").get(6).map(String::as_str), Some("2"), "{shown}");
    assert!(row("earth").contains("full: runs at most 4"), "the status says overflow moved replicas: {shown}");
    let events = event_notes(&ns.name, "FederatedDeployment", "shop");
    assert!(events.contains("Overflow: overflow: earth can run 4"), "an Event with the numbers: {events}");
    assert!(events.contains("earth 6→4") && events.contains("vulcan 0→2"), "{events}");
    owned.finish(&bed).await;
}

/// KubeFed's YAML unchanged: a FederatedDeployment and an RSP preferring vulcan 10:1; vulcan
/// runs what fits, kronos the rest; scaled down, kronos empties first.
#[tokio::test]
async fn an_rsp_overflows_from_a_full_preferred_cluster_and_scales_down_from_the_other() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (bed, ns, owned) = turn("cap-rsp").await;
    let out = apply_on_earth(&ns.name, &federated_deployment("web", 1, &["vulcan", "kronos"]), &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    let rsp = |total: i64| {
        json!({
            "apiVersion": "scheduling.kubefed.io/v1alpha1",
            "kind": "ReplicaSchedulingPreference",
            "metadata": {"name": "web", "annotations": {"kubefed.io/overflow-after": "10s"}},
            "spec": {"targetKind": "FederatedDeployment", "totalReplicas": total,
                "clusters": {"vulcan": {"weight": 10}, "kronos": {"weight": 1}}}
        })
        .to_string()
    };
    let out = apply_on_earth(&ns.name, &rsp(4), &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    // Preferred: all 4 on vulcan, which holds 2.
    wait_for_running(&bed, &ns.name, "web", &[("vulcan", 2), ("kronos", 2)], CONVERGE).await;
    let on_vulcan = live_uids(&bed, "vulcan", &ns.name, "web").await;
    let copy = Api::<Deployment>::namespaced(bed.vulcan.clone(), &ns.name).get("web").await.unwrap();

    let out = apply_on_earth(&ns.name, &rsp(2), &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    wait_until(CONVERGE, "kronos to empty first", || async {
        let kronos = Api::<Deployment>::namespaced(bed.kronos.clone(), &ns.name).get_opt("web").await.ok()??;
        (kronos.spec.replicas == Some(0)).then_some(())
    })
    .await;
    wait_for_running(&bed, &ns.name, "web", &[("vulcan", 2), ("kronos", 0)], CONVERGE).await;
    assert_eq!(live_uids(&bed, "vulcan", &ns.name, "web").await, on_vulcan, "vulcan's pods stay");
    let after = Api::<Deployment>::namespaced(bed.vulcan.clone(), &ns.name).get("web").await.unwrap();
    assert_eq!(after.metadata.uid, copy.metadata.uid, "the member copy is updated in place");
    owned.finish(&bed).await;
}

/// An ordinary Deployment `web` of 2 pods in `ns`, placed with `--spill-over` on vulcan, then
/// kronos.
fn spill_web_over_vulcan_then_kronos(ns: &str) {
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": deployment_spec("web", 2, "700m")});
    let out = apply_on_earth(ns, &deploy.to_string(), &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    let place = ["place", "deployment/web", "-n", ns, "--clusters", "vulcan,kronos", "--spill-over"];
    succeeded(kubectl_fed(&[&place[..], &["--overflow-after", "10s"]].concat()));
}

/// Spill-over vulcan → kronos on an ordinary Deployment, up and down.
#[tokio::test]
async fn spill_over_fills_the_first_cluster_and_empties_the_last_first() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (bed, ns, owned) = turn("cap-spill").await;
    spill_web_over_vulcan_then_kronos(&ns.name);
    // Room on vulcan for both: nothing spills.
    wait_for_running(&bed, &ns.name, "web", &[("vulcan", 2), ("kronos", 0)], CONVERGE).await;
    let first = live_uids(&bed, "vulcan", &ns.name, "web").await;

    // A new total through the Deployment itself (the admission webhook records it; the
    // scale subresource does not reach the webhook).
    let scale = |n: &str| {
        let patch = format!(r#"{{"spec":{{"replicas":{n}}}}}"#);
        succeeded(kubectl(&[
            "--context",
            "earth",
            "-n",
            &ns.name,
            "patch",
            "deployment/web",
            "--type=merge",
            "-p",
            &patch,
        ]));
    };
    scale("4");
    wait_for_running(&bed, &ns.name, "web", &[("vulcan", 2), ("kronos", 2)], CONVERGE).await;
    assert_eq!(live_uids(&bed, "vulcan", &ns.name, "web").await, first, "vulcan keeps its pods");

    scale("2");
    wait_for_running(&bed, &ns.name, "web", &[("vulcan", 2), ("kronos", 0)], CONVERGE).await;
    assert_eq!(live_uids(&bed, "vulcan", &ns.name, "web").await, first, "the last cluster empties first");
    owned.finish(&bed).await;
}

/// Room returns on vulcan (an unrelated workload there is deleted): the replicas move back,
/// each of kronos's stopped only once its replacement runs on vulcan.
#[tokio::test]
async fn room_that_returns_brings_the_replicas_back_make_before_break() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (bed, ns, mut owned) = turn("cap-room").await;
    // An unrelated workload fills vulcan's node (on vulcan only, in a namespace of its own).
    let hog_ns = format!("{}-hog", ns.name);
    owned.0.push(hog_ns.clone());
    let vulcan_ns = k8s_openapi::api::core::v1::Namespace {
        metadata: kube::api::ObjectMeta { name: Some(hog_ns.clone()), ..Default::default() },
        ..Default::default()
    };
    let namespaces = Api::<k8s_openapi::api::core::v1::Namespace>::all(bed.vulcan.clone());
    namespaces.create(&PostParams::default(), &vulcan_ns).await.unwrap();
    let hog: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "hog"}, "spec": deployment_spec("hog", 2, "700m")
    }))
    .unwrap();
    let vulcan_deployments = Api::<Deployment>::namespaced(bed.vulcan.clone(), &hog_ns);
    vulcan_deployments.create(&PostParams::default(), &hog).await.unwrap();
    wait_for_running(&bed, &hog_ns, "hog", &[("vulcan", 2)], CONVERGE).await;

    spill_web_over_vulcan_then_kronos(&ns.name);
    wait_for_running(&bed, &ns.name, "web", &[("vulcan", 0), ("kronos", 2)], CONVERGE).await;

    vulcan_deployments.delete("hog", &DeleteParams::default()).await.unwrap();
    // Back on vulcan within a bounded time; never fewer than 2 ready on the way.
    let started = Instant::now();
    let lowest = std::cell::Cell::new(usize::MAX);
    let last = std::cell::RefCell::new(BTreeMap::new());
    let back = fed_e2e::poll_until(AFTER + CONVERGE, || {
        let (bed, ns, lowest, last) = (&bed, &ns.name, &lowest, &last);
        async move {
            let now = counts(bed, ns, "web", &["vulcan", "kronos"]).await;
            lowest.set(lowest.get().min(now.values().map(|(r, _)| r).sum()));
            let done = now["vulcan"] == (2, 0) && now["kronos"] == (0, 0);
            *last.borrow_mut() = now;
            done.then_some(())
        }
    })
    .await;
    assert!(back.is_some(), "the replicas did not come back to vulcan: last seen {:?}", last.borrow());
    let lowest = lowest.get();
    assert!(lowest >= 2, "a running replica was stopped before its replacement ran: {lowest} ready at the lowest");
    eprintln!("back on vulcan {:.1}s after the room returned", started.elapsed().as_secs_f64());
    owned.finish(&bed).await;
}
