//! No workload churn (issue 15): a member copy is updated in place, never deleted and
//! re-created, while its cluster stays in the placement. Each test records the uids of the
//! member copies, makes one transition that keeps every cluster placed, waits until sync has
//! handled it, and requires the same uids.
//!
//! Transitions that stop the controllers (a restart, a leader hand-over, `disable` and
//! `enable`) take [`BED`] for writing, so no other test of this binary runs meanwhile; the
//! others take it for reading and run side by side.

use std::collections::BTreeMap;
use std::time::Duration;

use fed_e2e::{
    Bed, TestNamespace, annotated_config_map, apply_on_earth, federation, hack, hack_later, host_in_cluster, host_pods,
    kubectl, kubectl_fed, merge_patch_on_earth, succeeded, wait_until, webhook_log, webhook_pods,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams};
use serde_json::Value;
use tokio::sync::RwLock;

/// Shared by the tests that leave the controllers running, exclusive to those that stop them.
static BED: RwLock<()> = RwLock::const_new(());

const CONVERGE: Duration = Duration::from_secs(90);
const MEMBERS: [&str; 2] = ["vulcan", "kronos"];
/// Every joined cluster but the host: vulcan and kronos, by selector.
const NOT_HOST: &str = "!kubefed.io/host";

/// A Deployment `name` in `ns` on earth, with no replicas (nothing to schedule; its uid is what
/// the tests watch).
fn create_deployment(ns: &str, name: &str) {
    succeeded(kubectl(&[
        "--context",
        "earth",
        "-n",
        ns,
        "create",
        "deployment",
        name,
        "--image=busybox",
        "--replicas=0",
    ]));
}

/// `kubectl fed ARGS -n NS`, which must succeed.
fn fed_in(ns: &str, args: &[&str]) {
    let mut all = args.to_vec();
    all.extend_from_slice(&["-n", ns]);
    succeeded(kubectl_fed(&all));
}

/// The FederatedDeployment `name` in `ns` as JSON, if it exists.
fn federated(ns: &str, name: &str) -> Option<Value> {
    federated_of("federateddeployment", ns, name)
}

/// The federated object `resource`/`name` in `ns` as JSON, if it exists.
fn federated_of(resource: &str, ns: &str, name: &str) -> Option<Value> {
    let out = kubectl(&["--context", "earth", "-n", ns, "get", resource, name, "-o", "json"]);
    out.status.success().then(|| serde_json::from_slice(&out.stdout).ok()).flatten()
}

/// True when sync has propagated the current generation of `fed` everywhere, and `fed` is not
/// being deleted.
fn synced(fed: &Value) -> bool {
    let meta = &fed["metadata"];
    let status = &fed["status"];
    let propagated = status["conditions"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Propagation" && c["status"] == "True"));
    meta["deletionTimestamp"].is_null() && status["observedGeneration"] == meta["generation"] && propagated
}

/// True when the materialize controller has written `fed` for its source: a controller
/// ownerReference that blocks the owner's deletion (an adoption by `kubectl fed place` alone
/// does not set that).
fn materialized(fed: &Value) -> bool {
    fed["metadata"]["ownerReferences"].as_array().is_some_and(|refs| {
        refs.iter().any(|o| o["kind"] == "Deployment" && o["controller"] == true && o["blockOwnerDeletion"] == true)
    })
}

/// Waits until the FederatedDeployment `name` is synced and satisfies `done`; returns it.
async fn wait_federated(ns: &str, name: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    wait_until(CONVERGE, what, || async { federated(ns, name).filter(|f| synced(f) && done(f)) }).await
}

/// The uid of the Deployment `name` in `ns` on each member, once it exists on all of them.
async fn member_uids(bed: &Bed, ns: &str, name: &str) -> BTreeMap<&'static str, String> {
    let mut uids = BTreeMap::new();
    for cluster in MEMBERS {
        let api = Api::<Deployment>::namespaced(bed.cluster(cluster).clone(), ns);
        let uid = wait_until(CONVERGE, &format!("{name} on {cluster}"), || async {
            api.get_opt(name).await.ok()??.metadata.uid
        })
        .await;
        uids.insert(cluster, uid);
    }
    uids
}

/// Asserts that the copies on the members are still the incarnations of `before`.
async fn assert_not_recreated(bed: &Bed, ns: &str, name: &str, before: &BTreeMap<&str, String>, step: &str) {
    let now = member_uids(bed, ns, name).await;
    assert_eq!(&now, before, "{step}: a member copy was re-created (uid changed) although its cluster stayed placed");
}

/// The revisionHistoryLimit of the copy `name` on `cluster` (the API server defaults it to 10).
async fn revision_history_limit(bed: &Bed, cluster: &str, ns: &str, name: &str) -> Option<i32> {
    let api = Api::<Deployment>::namespaced(bed.cluster(cluster).clone(), ns);
    api.get_opt(name).await.ok()??.spec.revision_history_limit
}

#[tokio::test]
async fn adopting_a_federated_object_updates_its_copies_in_place() {
    let _shared = BED.read().await;
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "churn-adopt").await;
    create_deployment(&ns.name, "w");
    fed_in(&ns.name, &["federate", "deployment", "w", "--clusters", "vulcan,kronos"]);
    let fed = wait_federated(&ns.name, "w", "the federated copy synced", |_| true).await;
    let before = member_uids(&bed, &ns.name, "w").await;

    fed_in(&ns.name, &["place", "deployment/w", "--clusters", "vulcan,kronos"]);
    let adopted =
        wait_federated(&ns.name, "w", "the FederatedDeployment materialized from its source", materialized).await;
    assert_eq!(
        adopted["metadata"]["uid"], fed["metadata"]["uid"],
        "adoption deleted and re-created the FederatedDeployment"
    );
    assert_not_recreated(&bed, &ns.name, "w", &before, "adoption").await;
    let log = webhook_log();
    let swept = log.lines().find(|l| l.contains(&ns.name) && l.contains("deleting its federated object"));
    assert!(swept.is_none(), "adoption made the controllers delete the federated object: {swept:?}");
    ns.delete().await;
}

#[tokio::test]
async fn placement_form_and_override_changes_update_copies_in_place() {
    let _shared = BED.read().await;
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "churn-place").await;
    create_deployment(&ns.name, "w");
    fed_in(&ns.name, &["place", "deployment/w", "--clusters", "vulcan,kronos"]);
    wait_federated(&ns.name, "w", "placed by list", materialized).await;
    let before = member_uids(&bed, &ns.name, "w").await;

    let by_selector = |f: &Value| !f["spec"]["placement"]["clusterSelector"].is_null();
    fed_in(&ns.name, &["place", "deployment/w", "--selector", NOT_HOST]);
    wait_federated(&ns.name, "w", "placed by selector", by_selector).await;
    assert_not_recreated(&bed, &ns.name, "w", &before, "list → selector").await;

    fed_in(
        &ns.name,
        &["place", "deployment/w", "--selector", NOT_HOST, "--override", "vulcan:/spec/revisionHistoryLimit=3"],
    );
    wait_until(CONVERGE, "the override on vulcan", || async {
        (revision_history_limit(&bed, "vulcan", &ns.name, "w").await == Some(3)).then_some(())
    })
    .await;
    assert_not_recreated(&bed, &ns.name, "w", &before, "adding an override").await;

    fed_in(&ns.name, &["place", "deployment/w", "--selector", NOT_HOST]);
    wait_until(CONVERGE, "the override gone from vulcan", || async {
        (revision_history_limit(&bed, "vulcan", &ns.name, "w").await == Some(10)).then_some(())
    })
    .await;
    assert_not_recreated(&bed, &ns.name, "w", &before, "removing the override").await;

    let by_list = |f: &Value| !f["spec"]["placement"]["clusters"].is_null();
    fed_in(&ns.name, &["place", "deployment/w", "--clusters", "vulcan,kronos"]);
    wait_federated(&ns.name, "w", "placed by list again", by_list).await;
    assert_not_recreated(&bed, &ns.name, "w", &before, "selector → list").await;
    ns.delete().await;
}

/// Annotated ConfigMaps in the federated namespace of the deletion race.
const CONFIG_MAPS: usize = 5;

/// A federated namespace placed on both members, holding [`CONFIG_MAPS`] ConfigMaps placed
/// there too; returns once every copy has landed.
async fn federated_namespace_with_contents(bed: &Bed) -> String {
    let ns = TestNamespace::create(&bed.earth, "churn-nsdel").await.name;
    succeeded(kubectl(&["--context", "earth", "annotate", "namespace", &ns, "kubefed.io/placement=vulcan,kronos"]));
    let names: Vec<String> = (0..CONFIG_MAPS).map(|i| format!("cm{i}")).collect();
    for name in &names {
        let manifest = annotated_config_map(name, serde_json::json!({"kubefed.io/placement": "vulcan,kronos"}));
        succeeded(apply_on_earth(&ns, &manifest, &[]));
    }
    for cluster in MEMBERS {
        let api = Api::<ConfigMap>::namespaced(bed.cluster(cluster).clone(), &ns);
        for name in &names {
            wait_until(CONVERGE, &format!("{ns}/{name} on {cluster}"), || async {
                api.get_opt(name).await.ok()?.map(|_| ())
            })
            .await;
        }
    }
    ns
}

/// Waits until namespace `ns` is gone from `cluster`; fails as soon as it is there and not
/// being deleted (created again after the test deleted it).
async fn wait_namespace_gone(bed: &Bed, cluster: &str, ns: &str) {
    let api = Api::<Namespace>::all(bed.cluster(cluster).clone());
    wait_until(CONVERGE, &format!("namespace {ns} gone from {cluster}"), || async {
        match api.get_opt(ns).await.ok()? {
            None => Some(()),
            Some(n) if n.metadata.deletion_timestamp.is_none() => {
                panic!(
                    "namespace {ns} was created again on {cluster} after it was deleted everywhere: {:?}",
                    n.metadata.labels
                )
            }
            Some(_) => None,
        }
    })
    .await;
}

/// A namespace deleted on the host and on the members at once stays deleted. The host is
/// made slow to delete what the namespace holds, as a busy one is: its
/// kube-controller-manager (whose namespace controller does that) is stopped meanwhile, so
/// every federated object in it stays undeleted in a Terminating namespace while the members
/// remove theirs. Sync sees the member copies go and must not bring the namespace back.
#[tokio::test]
async fn a_namespace_deleted_everywhere_at_once_stays_deleted() {
    let _shared = BED.read().await;
    let bed = federation().await;
    let ns = federated_namespace_with_contents(&bed).await;
    hack("cluster-ctl.sh", &["stop", "kube-controller-manager", "earth"]);
    let restart = hack_later("cluster-ctl.sh", &["start", "kube-controller-manager", "earth"]);
    let delete = |cluster: &'static str| {
        let api = Api::<Namespace>::all(bed.cluster(cluster).clone());
        let ns = ns.clone();
        async move { api.delete(&ns, &DeleteParams::default()).await.map(|_| ()) }
    };
    let (earth, vulcan, kronos) = tokio::join!(delete("earth"), delete("vulcan"), delete("kronos"));
    earth.expect("delete on earth");
    vulcan.expect("delete on vulcan");
    kronos.expect("delete on kronos");
    for cluster in MEMBERS {
        wait_namespace_gone(&bed, cluster, &ns).await;
    }
    // The host deletes the namespace's contents again: the FederatedNamespace, the federated
    // ConfigMaps, and then the namespace itself. Once it is gone, so is every federated object
    // that was in it: nothing writes to the members for them any more, and what the members
    // hold is final.
    drop(restart);
    wait_namespace_gone(&bed, "earth", &ns).await;
    for cluster in MEMBERS {
        wait_namespace_gone(&bed, cluster, &ns).await;
    }
}

/// The uid of namespace `ns` on each member, once it exists on all of them.
async fn member_namespace_uids(bed: &Bed, ns: &str) -> BTreeMap<&'static str, String> {
    let mut uids = BTreeMap::new();
    for cluster in MEMBERS {
        let api = Api::<Namespace>::all(bed.cluster(cluster).clone());
        let uid = wait_until(CONVERGE, &format!("namespace {ns} on {cluster}"), || async {
            api.get_opt(ns).await.ok()??.metadata.uid
        })
        .await;
        uids.insert(cluster, uid);
    }
    uids
}

/// Sets the source's revisionHistoryLimit to `limit` and waits until both members' copies have
/// it (so sync has run since whatever came before), then asserts that they are still the
/// incarnations of `before`.
async fn propagated_in_place(bed: &Bed, ns: &str, name: &str, limit: i32, before: &BTreeMap<&str, String>, step: &str) {
    let patch = format!(r#"{{"spec":{{"revisionHistoryLimit":{limit}}}}}"#);
    wait_until(CONVERGE, &format!("{step}: the source accepts an update"), || async {
        merge_patch_on_earth(ns, "deployment", name, &patch).status.success().then_some(())
    })
    .await;
    for cluster in MEMBERS {
        wait_until(CONVERGE, &format!("{step}: the update on {cluster}"), || async {
            (revision_history_limit(bed, cluster, ns, name).await == Some(limit)).then_some(())
        })
        .await;
    }
    assert_not_recreated(bed, ns, name, before, step).await;
}

/// A Deployment `w` in a fresh namespace, placed on both members by `kubectl fed place`; returns
/// the namespace and the uids of the copies.
async fn placed_deployment(bed: &Bed, prefix: &str) -> (TestNamespace, BTreeMap<&'static str, String>) {
    let ns = TestNamespace::create(&bed.earth, prefix).await;
    create_deployment(&ns.name, "w");
    fed_in(&ns.name, &["place", "deployment/w", "--clusters", "vulcan,kronos"]);
    wait_federated(&ns.name, "w", "placed by list", materialized).await;
    let before = member_uids(bed, &ns.name, "w").await;
    (ns, before)
}

#[tokio::test]
async fn federated_namespace_changes_that_keep_the_clusters_update_in_place() {
    let _shared = BED.read().await;
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "churn-fns").await;
    let annotate = |args: &[&str]| {
        let mut all = vec!["--context", "earth", "annotate", "--overwrite", "namespace", ns.name.as_str()];
        all.extend_from_slice(args);
        succeeded(kubectl(&all));
    };
    annotate(&["kubefed.io/placement=vulcan,kronos"]);
    create_deployment(&ns.name, "w");
    fed_in(&ns.name, &["place", "deployment/w", "--clusters", "vulcan,kronos"]);
    wait_federated(&ns.name, "w", "placed by list", materialized).await;
    let namespaces = member_namespace_uids(&bed, &ns.name).await;
    let before = member_uids(&bed, &ns.name, "w").await;
    let namespace_synced = |what: &'static str, done: fn(&Value) -> bool| {
        let name = ns.name.clone();
        async move {
            wait_until(CONVERGE, what, || async {
                federated_of("federatednamespace", &name, &name).filter(|f| synced(f) && done(f))
            })
            .await
        }
    };

    annotate(&["kubefed.io/placement-", &format!("kubefed.io/cluster-selector={NOT_HOST}")]);
    namespace_synced("the FederatedNamespace placed by selector", |f| {
        f["spec"]["placement"]["clusters"].is_null() && !f["spec"]["placement"]["clusterSelector"].is_null()
    })
    .await;
    assert_eq!(member_namespace_uids(&bed, &ns.name).await, namespaces, "list → selector re-created a namespace");
    propagated_in_place(&bed, &ns.name, "w", 3, &before, "namespace list → selector").await;

    annotate(&["kubefed.io/cluster-selector-", "kubefed.io/placement=earth,vulcan,kronos"]);
    namespace_synced("the FederatedNamespace widened to earth", |f| {
        f["spec"]["placement"]["clusters"].as_array().is_some_and(|c| c.len() == 3)
    })
    .await;
    assert_eq!(member_namespace_uids(&bed, &ns.name).await, namespaces, "widening re-created a namespace");
    propagated_in_place(&bed, &ns.name, "w", 4, &before, "namespace widened").await;
    ns.delete().await;
}

#[tokio::test]
async fn a_leader_hand_over_and_a_restart_of_every_replica_update_copies_in_place() {
    let _alone = BED.write().await;
    let bed = federation().await;
    let (ns, before) = placed_deployment(&bed, "churn-restart").await;
    if !host_in_cluster() {
        hack("federation-down.sh", &[]);
        hack("federation-up.sh", &[]);
        propagated_in_place(&bed, &ns.name, "w", 3, &before, "restart of the local process").await;
        return ns.delete().await;
    }
    let lease = Duration::from_secs(60);
    let leader = wait_until(lease, "a pod holding the Lease", || host_pods::leading_pod(&bed, None)).await;
    host_pods::kill_pods(&bed, std::slice::from_ref(&leader)).await;
    wait_until(lease, "another pod to take the Lease", || host_pods::leading_pod(&bed, Some(&leader))).await;
    propagated_in_place(&bed, &ns.name, "w", 3, &before, "leader hand-over").await;

    let old = webhook_pods(&bed).await;
    host_pods::kill_pods(&bed, &old).await;
    wait_until(CONVERGE, "a new pod to take the Lease", || async {
        host_pods::leading_pod(&bed, None).await.filter(|p| !old.contains(p))
    })
    .await;
    propagated_in_place(&bed, &ns.name, "w", 4, &before, "restart of every replica").await;
    wait_until(CONVERGE, "both replicas serving again", || async {
        (webhook_pods(&bed).await.len() == 2 && kubectl_fed_ready()).then_some(())
    })
    .await;
    ns.delete().await;
}

/// True when the host component's Deployment has all its replicas ready.
fn kubectl_fed_ready() -> bool {
    let out = fed_e2e::kubectl_federation_ns(&[
        "get",
        "deployment",
        "kubectl-fed-webhook",
        "-o",
        "jsonpath={.status.readyReplicas}/{.spec.replicas}",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    out.status.success() && text.split_once('/').is_some_and(|(ready, want)| ready == want)
}

/// Lines of the host component's log saying it `started` or `stopped` the controllers of
/// deployments.apps.
fn controller_switches(verb: &str) -> usize {
    let needle = format!("{verb} controllers for type");
    webhook_log().lines().filter(|l| l.contains(&needle) && l.contains("deployments.apps")).count()
}

#[tokio::test]
async fn disable_and_enable_again_keep_the_copies() {
    let _alone = BED.write().await;
    let bed = federation().await;
    let (ns, before) = placed_deployment(&bed, "churn-disable").await;
    struct Enable;
    impl Drop for Enable {
        fn drop(&mut self) {
            let _ = kubectl_fed(&["enable", "deployments.apps"]);
        }
    }
    let _enable_again = Enable;

    let stopped = controller_switches("stopped");
    succeeded(kubectl_fed(&["disable", "deployments.apps", "--force"]));
    wait_until(CONVERGE, "the controllers of deployments.apps stopped", || async {
        (controller_switches("stopped") > stopped).then_some(())
    })
    .await;
    assert_not_recreated(&bed, &ns.name, "w", &before, "disable").await;

    let started = controller_switches("started");
    succeeded(kubectl_fed(&["enable", "deployments.apps"]));
    wait_until(CONVERGE, "the controllers of deployments.apps started again", || async {
        (controller_switches("started") > started).then_some(())
    })
    .await;
    propagated_in_place(&bed, &ns.name, "w", 3, &before, "disable and enable again").await;
    ns.delete().await;
}
