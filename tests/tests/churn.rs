//! No workload churn (issue 15): a member copy is updated in place, never deleted and
//! re-created, while its cluster stays in the placement. Each test records the uids of the
//! member copies, makes one transition that keeps every cluster placed, waits until sync has
//! handled it, and requires the same uids.

use std::collections::BTreeMap;
use std::time::Duration;

use fed_e2e::{
    Bed, TestNamespace, annotated_config_map, apply_on_earth, federation, hack, hack_later, kubectl, kubectl_fed,
    succeeded, wait_until, webhook_log,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams};
use serde_json::Value;

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
    let out = kubectl(&["--context", "earth", "-n", ns, "get", "federateddeployment", name, "-o", "json"]);
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
